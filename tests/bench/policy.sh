#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Start-up with a big policy, side by side: depfenced with N `block` rules (time
# from exec to its control socket, RSS then) and dnsmasq with the same N names
# as `address=/NAME/` lines (time until it answers, RSS then). Loopback only.
# Usage: tests/bench/policy.sh [N, default 1000000]
set -eu
n=${1:-1000000}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init policybench
mkdir -p "$tmp/conf/policies"
awk -v n="$n" 'BEGIN { print "mode blocklist"; for (i = 0; i < n; i++) printf "block h%d.example%d.com\n", i, i % 1000 }' \
	>"$tmp/conf/policies/big.policy"
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "address=/h%d.example%d.com/\n", i, i % 1000 }' \
	>"$tmp/dnsmasq.conf"
cat "$tmp/conf/policies/big.policy" "$tmp/dnsmasq.conf" >/dev/null # both in the page cache
ms() { date +%s%3N; }
rss() { awk '/^VmRSS/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"; }

t0=$(ms)
"$bin/depfenced" --state-dir "$tmp/state" --config-dir "$tmp/conf" --upstream 127.0.0.1:5499 \
	2>"$tmp/daemon.log" &
pids+=($!)
for ((i = 0; i < 3000; i++)); do [ -S "$tmp/state/depfenced.sock" ] && break; sleep 0.005; done
t1=$(ms)
if [ ! -S "$tmp/state/depfenced.sock" ] || ! kill -0 "${pids[-1]}" 2>/dev/null; then
	echo "policy.sh: depfenced did not come up" >&2
	cat "$tmp/daemon.log" >&2
	exit 1
fi
echo "depfenced, $n rules: start to control socket $((t1 - t0)) ms, RSS $(rss "${pids[-1]}")"

t0=$(ms)
dnsmasq --no-daemon --no-resolv --no-hosts --port=5498 --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --conf-file="$tmp/dnsmasq.conf" 2>/dev/null &
pids+=($!)
for ((i = 0; i < 3000; i++)); do
	dig +tries=1 +time=1 -p 5498 @127.0.0.1 h1.example1.com >/dev/null 2>&1 && break
	sleep 0.005
done
t1=$(ms)
echo "dnsmasq, $n address= lines: start to first answer $((t1 - t0)) ms, RSS $(rss "${pids[-1]}")"
