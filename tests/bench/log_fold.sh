#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Block log folding under a flood (docs/design.md, Folding), loopback only,
# bounded in time: a guarded dnsperf asks NAMES distinct blocked names (A)
# with no rate limit, through depfenced and through the embedded proxy, and
# the block lines are counted against the refused queries. Also: the lines
# account for every refusal (1 a line, N a repeated=N line).
# Usage: tests/bench/log_fold.sh [SECONDS per run, default 8] [NAMES, default 5000]
#        (as root, after make)
set -eu
secs=${1:-8}
names=${2:-5000}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init bench

P_ORIGIN=5411
dnsmasq --no-daemon --no-resolv --no-hosts --port=$P_ORIGIN --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --address=/allowed.test/127.0.0.3 &
pids+=($!)
for i in $(seq "$names"); do echo "n$i.blocked.test A"; done >"$tmp/names"
mkdir -p "$tmp/conf/policies"
printf 'mode blocklist\nblock blocked.test\n' >"$tmp/conf/policies/flood.policy"

# count LOG: "LINES ACCOUNTED" of the DNS BLOCKED lines in LOG.
count() {
	awk '/^WARN DNS BLOCKED / { n++; if (match($0, / repeated=[0-9]+$/)) t += substr($0, RSTART + 10); else t++ }
		END { printf "%d %d\n", n, t }' "$1"
}
flood() {
	"$bin/depfence" run --state-dir "$1" --config-dir "$tmp/conf" --upstream 127.0.0.1:$P_ORIGIN \
		--policy flood -- dnsperf -l "$secs" -q 200 -c 4 -T 1 -s 127.9.9.9 -d "$tmp/names" \
		2>>"$2" | awk '/Queries completed:/ { print $3 }'
}
report() {
	local refused=$1 lines acc
	read -r lines acc < <(count "$3")
	awk -v w="$2" -v r="$refused" -v l="$lines" -v a="$acc" 'BEGIN {
		printf "%-22s %9d refused %7d lines (%.2f%%), the lines account for %d\n", w, r, l, 100 * l / r, a }'
}

echo "# dnsperf -l $secs -q 200 -c 4 -T 1, $names blocked names, loopback, $(nproc) cores"
"$bin/depfenced" --state-dir "$tmp/dstate" --config-dir "$tmp/conf" \
	--upstream 127.0.0.1:$P_ORIGIN 2>"$tmp/daemon.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$tmp/dstate/depfenced.sock" ] && break; sleep 0.1; done
refused=$(flood "$tmp/dstate" "$tmp/run.log")
sleep 2 # the last windows close a second after their last line
report "$refused" "through depfenced" "$tmp/daemon.log"
kill "$daemon"
wait "$daemon" || true
daemon=
refused=$(flood "$tmp/estate" "$tmp/embedded.log")
report "$refused" "embedded" "$tmp/embedded.log"
