#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# DNS benchmark, side by side in one run, loopback only, bounded in time:
#   (a) a responder that does no work: the limit of this client on this machine
#   (b) dnsmasq and unbound answering a locally blocked name and cached forwards
#   (c) depfence, queried by a guarded dnsperf through the BPF redirect
# Usage: tests/bench/dns.sh [SECONDS per run, default 10]   (as root, after make)
set -eu
secs=${1:-10}
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DEPFENCE_BIN:-$top/build}
tmp=$(mktemp -d /tmp/depfence-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

P_ORIGIN=5401 P_NULL=5402 P_DNSMASQ=5403 P_UNBOUND=5404
cc -O2 -o "$tmp/null_responder" "$top/tests/bench/null_responder.c"
"$tmp/null_responder" $P_NULL $((secs * 10 + 120)) &
pids+=($!)
# The origin: an authoritative answer with a long TTL, so every peer can cache it.
dnsmasq --no-daemon --no-resolv --no-hosts --port=$P_ORIGIN --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --local-ttl=3600 --address=/cached.test/127.0.0.5 &
pids+=($!)
dnsmasq --no-daemon --no-resolv --no-hosts --port=$P_DNSMASQ --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --cache-size=10000 --server=127.0.0.1#$P_ORIGIN \
	--address=/blocked.test/ &
pids+=($!)
cat >"$tmp/unbound.conf" <<CONF
server:
	interface: 127.0.0.1
	port: $P_UNBOUND
	num-threads: 2
	do-daemonize: no
	use-syslog: no
	chroot: ""
	username: ""
	pidfile: ""
	directory: "$tmp"
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	local-zone: "blocked.test." always_refuse
	verbosity: 0
forward-zone:
	name: "."
	forward-addr: 127.0.0.1@$P_ORIGIN
CONF
unbound -c "$tmp/unbound.conf" &
pids+=($!)
printf 'blocked.test A\n' >"$tmp/blocked.txt"
printf 'cached.test A\n' >"$tmp/cached.txt"
sleep 1
for p in $P_DNSMASQ $P_UNBOUND; do
	dig +short +tries=1 +time=1 -p $p @127.0.0.1 cached.test >/dev/null # warm the caches
done

# dnsperf: one client thread, enough queries outstanding to keep the server busy.
perf() { dnsperf -l "$secs" -q 200 -c 4 -T 1 "$@" 2>&1; }
summary() {
	awk -v name="$1" '
		/Queries sent:/ { sent = $3 }
		/Queries lost:/ { lost = $3 }
		/Queries per second:/ { qps = $4 }
		/Average Latency/ { lat = $4 * 1e6 }
		END { printf "%-34s %10.0f qps %8.0f us avg %8d lost of %d\n", name, qps, lat, lost, sent }'
}

echo "# dnsperf -l $secs -q 200 -c 4 -T 1, loopback, $(nproc) cores, $(uname -r)"
perf -s 127.0.0.1 -p $P_NULL -d "$tmp/blocked.txt" | summary "null responder (limit)"
perf -s 127.0.0.1 -p $P_DNSMASQ -d "$tmp/blocked.txt" | summary "dnsmasq blocked"
perf -s 127.0.0.1 -p $P_DNSMASQ -d "$tmp/cached.txt" | summary "dnsmasq cached forward"
perf -s 127.0.0.1 -p $P_UNBOUND -d "$tmp/blocked.txt" | summary "unbound blocked"
perf -s 127.0.0.1 -p $P_UNBOUND -d "$tmp/cached.txt" | summary "unbound cached forward"
# depfence: the guarded dnsperf sends to a made-up server; BPF redirects it to
# the embedded proxy. Block lines (one per blocked query) go to a file.
guard() {
	"$bin/depfence" run --state-dir "$tmp/nostate" --upstream 127.0.0.1:$P_ORIGIN \
		--block blocked.test -- "$@" 2>>"$tmp/depfence.log"
}
guard dnsperf -l 1 -s 127.9.9.9 -d "$tmp/cached.txt" >/dev/null # nothing; warms nothing across runs
guard sh -c "dig +short +tries=1 @127.9.9.9 cached.test >/dev/null; exec dnsperf -l $secs -q 200 -c 4 -T 1 -s 127.9.9.9 -d $tmp/cached.txt" |
	summary "depfence cached forward (guarded)"
guard dnsperf -l "$secs" -q 200 -c 4 -T 1 -s 127.9.9.9 -d "$tmp/blocked.txt" |
	summary "depfence blocked (guarded)"
echo "# depfence wrote $(grep -c 'DNS BLOCKED' "$tmp/depfence.log") block lines"
