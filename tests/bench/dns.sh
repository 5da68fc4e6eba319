#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# DNS benchmark, side by side in one run, loopback only, bounded in time:
#   (a) a responder that does no work: the limit of this client on this machine
#   (b) dnsmasq and unbound (2 threads) answering 5,000 distinct locally blocked
#       names and forwarding 500 distinct names from their warm caches
#   (c) depfence through the daemon (the path of every container and of runs on
#       a host with depfenced) and embedded (depfence run with no daemon), queried
#       by a guarded dnsperf through the BPF redirect, block lines written
#   (d) fairness through the daemon: one guard floods blocked names (dnsperf, no
#       rate limit) while another makes 200 sequential lookups of an allowed
#       name; its answers and latency, and how many log lines the flood wrote
# Prints each figure and depfence's ratios to unbound and dnsmasq, and the server
# CPU each spent a query (utime + stime over the run): on a small machine, where
# dnsperf takes a core, qps ratios move from run to run and the CPU a query is
# the steadier comparison.
# The daemon runs with its default workers (one per CPU it may run on), each
# job spread over all of them; DEPFENCED_ARGS adds options (--spread 1: one
# worker a job).
# Usage: [DEPFENCED_ARGS=...] tests/bench/dns.sh [SECONDS per run, default 10]   (as root, after make)
set -eu -o pipefail
secs=${1:-10}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init bench

P_ORIGIN=5401 P_NULL=5402 P_DNSMASQ=5403 P_UNBOUND=5404
N_BLOCKED=5000 N_CACHED=500
cc -O2 -o "$tmp/null_responder" "$top/tests/bench/null_responder.c"
"$tmp/null_responder" $P_NULL $((secs * 20 + 180)) &
pids+=($!)
# The origin: authoritative answers with a long TTL, so every peer can cache them.
dnsmasq --no-daemon --no-resolv --no-hosts --port=$P_ORIGIN --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --local-ttl=3600 --address=/cached.test/127.0.0.5 &
pids+=($!)
dnsmasq --no-daemon --no-resolv --no-hosts --port=$P_DNSMASQ --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --cache-size=10000 --server=127.0.0.1#$P_ORIGIN \
	--address=/blocked.test/ &
pids+=($!)
pid_dnsmasq=$!
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
pid_unbound=$!
for ((i = 0; i < N_BLOCKED; i++)); do echo "n$i.blocked.test A"; done >"$tmp/blocked.txt"
for ((i = 0; i < N_CACHED; i++)); do echo "c$i.cached.test A"; done >"$tmp/cached.txt"
mkdir -p "$tmp/conf/policies"
printf 'mode blocklist\nblock blocked.test\n' >"$tmp/conf/policies/default.policy"
# shellcheck disable=SC2086 # DEPFENCED_ARGS: words, e.g. "--spread 1"
"$bin/depfenced" --state-dir "$tmp/dstate" --config-dir "$tmp/conf" \
	--upstream 127.0.0.1:$P_ORIGIN ${DEPFENCED_ARGS:-} 2>"$tmp/daemon.log" &
daemon=$!
for ((i = 0; i < 100; i++)); do [ -S "$tmp/dstate/depfenced.sock" ] && break; sleep 0.1; done
# Without the daemon, depfence run would serve embedded and the "daemon" figures would lie.
[ -S "$tmp/dstate/depfenced.sock" ] || { echo "dns.sh: depfenced did not start" >&2; cat "$tmp/daemon.log" >&2; exit 1; }
sleep 0.5
# Warm every cache with each cached name once.
warm="dnsperf -n 1 -q 50 -d $tmp/cached.txt"
$warm -s 127.0.0.1 -p $P_DNSMASQ >/dev/null
$warm -s 127.0.0.1 -p $P_UNBOUND >/dev/null

# dnsperf: one client thread, enough queries outstanding to keep the server busy.
PERF="dnsperf -l $secs -q 200 -c 4 -T 1"
declare -A QPS
summary() {
	awk -v name="$1" '
		/Queries sent:/ { sent = $3 }
		/Queries lost:/ { lost = $3 }
		/Queries per second:/ { qps = $4 }
		/Average Latency/ { lat = $4 * 1e6 }
		END { printf "%-40s %10.0f qps %8.0f us avg %8d lost of %d\n", name, qps, lat, lost, sent }' |
		tee -a "$tmp/summary"
}
qps() { awk -v n="$1" 'index($0, n) == 1 { print $(NF - 8) }' "$tmp/summary" | tail -n 1; }
# Server CPU per answered query: what each costs, whatever the client's rate.
# cpu_begin PID, then the run, then cpu_end PID NAME (the run's output in $tmp/last).
tck=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
cpu_begin() { cpu0=$(cpu "$1"); }
cpu_end()
{
	local done_q
	done_q=$(awk '/Queries completed:/ { print $3 }' "$tmp/last")
	awk -v n="$2" -v t=$(($(cpu "$1") - cpu0)) -v hz="$tck" -v q="$done_q" \
		'BEGIN { printf "%-40s %10.2f us server CPU a query\n", n, q ? t * 1e6 / hz / q : 0 }' |
		tee -a "$tmp/cpu"
}

echo "# $PERF, $N_BLOCKED blocked names, $N_CACHED cached, loopback, $(nproc) cores, $(uname -r)"
grep -o 'workers=[0-9]* spread=[0-9]*' "$tmp/daemon.log" | sed 's/^/# depfenced /' || true
$PERF -s 127.0.0.1 -p $P_NULL -d "$tmp/blocked.txt" | summary "null responder (limit)"
# measure PID NAME PORT FILE: a dnsperf run on PORT, its summary and PID's CPU a query.
measure()
{
	cpu_begin "$1"
	$PERF -s 127.0.0.1 -p "$3" -d "$4" | tee "$tmp/last" | summary "$2"
	cpu_end "$1" "$2" >/dev/null
}
measure "$pid_dnsmasq" "dnsmasq blocked" $P_DNSMASQ "$tmp/blocked.txt"
measure "$pid_dnsmasq" "dnsmasq cached forward" $P_DNSMASQ "$tmp/cached.txt"
measure "$pid_unbound" "unbound blocked" $P_UNBOUND "$tmp/blocked.txt"
measure "$pid_unbound" "unbound cached forward" $P_UNBOUND "$tmp/cached.txt"

# depfence: the guarded dnsperf sends to a made-up server; BPF redirects it to the
# proxy. The cached run warms the proxy's cache first, in the same guarded run.
# --upstream: should the daemon be gone, an embedded fallback still asks only loopback.
daemon_run() {
	kill -0 "$daemon" 2>/dev/null || { echo "dns.sh: depfenced died" >&2; exit 1; }
	"$bin/depfence" run --state-dir "$tmp/dstate" --upstream 127.0.0.1:$P_ORIGIN -- "$@" \
		2>>"$tmp/client.log"
}
embedded_run() {
	"$bin/depfence" run --state-dir "$tmp/nostate" --upstream 127.0.0.1:$P_ORIGIN \
		--block blocked.test -- "$@" 2>>"$tmp/embedded.log"
}
for how in daemon embedded; do
	# The daemon's CPU is measured (the embedded proxy is a process per run).
	[ "$how" = daemon ] && cpu_begin "$daemon"
	"${how}_run" sh -c "dnsperf -n 1 -q 50 -s 127.9.9.9 -d $tmp/cached.txt >/dev/null; exec $PERF -s 127.9.9.9 -d $tmp/cached.txt" |
		tee "$tmp/last" | summary "depfence $how cached forward"
	[ "$how" = daemon ] && cpu_end "$daemon" "depfence daemon cached forward" >/dev/null
	[ "$how" = daemon ] && cpu_begin "$daemon"
	"${how}_run" $PERF -s 127.9.9.9 -d "$tmp/blocked.txt" | tee "$tmp/last" |
		summary "depfence $how blocked"
	[ "$how" = daemon ] && cpu_end "$daemon" "depfence daemon blocked" >/dev/null
done
lines_d=$(grep -c 'DNS BLOCKED' "$tmp/daemon.log" || true)
lines_e=$(grep -c 'DNS BLOCKED' "$tmp/embedded.log" || true)
echo "# block lines written: daemon $lines_d, embedded $lines_e"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }
cat "$tmp/cpu"
for what in blocked "cached forward"; do
	c=$(awk -v n="depfence daemon $what" 'index($0, n) == 1 { print $(NF - 5) }' "$tmp/cpu")
	u=$(awk -v n="unbound $what" 'index($0, n) == 1 { print $(NF - 5) }' "$tmp/cpu")
	printf '# depfence daemon   %-14s server CPU a query %s of unbound'"'"'s\n' "$what" \
		"$(awk -v a="$c" -v b="$u" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }')"
done
for how in daemon embedded; do
	for what in blocked "cached forward"; do
		d=$(qps "depfence $how $what")
		printf '# depfence %-8s %-14s %s unbound, %s dnsmasq\n' "$how" "$what" \
			"$(ratio "$d" "$(qps "unbound $what")")" "$(ratio "$d" "$(qps "dnsmasq $what")")"
	done
done

# Fairness: guard A floods blocked names; guard B asks 200 allowed names, each new (not
# cached: every one goes upstream, through B's own share of the pending table).
before=$(grep -c 'DNS BLOCKED' "$tmp/daemon.log" || true)
daemon_run dnsperf -l "$secs" -q 500 -c 4 -T 1 -s 127.9.9.9 -d "$tmp/blocked.txt" \
	>"$tmp/flood.out" &
flood=$!
sleep 1
daemon_run python3 "$top/tests/bench/seqlat.py" 127.9.9.9 53 200 'f{i}.fair.cached.test' |
	sed 's/^/# other guard during the flood: /'
wait "$flood"
summary "depfence daemon blocked (flood)" <"$tmp/flood.out" >/dev/null
refused=$(awk '/Queries completed:/ { print $3 }' "$tmp/flood.out")
after=$(grep -c 'DNS BLOCKED' "$tmp/daemon.log" || true)
echo "# flood: $refused refused, $((after - before)) log lines ($(awk -v l=$((after - before)) -v r="$refused" 'BEGIN { printf "%.1f", r ? 100 * l / r : 0 }')% of refusals)"
