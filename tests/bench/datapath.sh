#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Data path cost of a guard, side by side in one run, loopback only, bounded:
#   iperf3 TCP throughput and a TCP connect-rate loop, unguarded and guarded
#   (blocklist policy with a block-ip rule, so every connect runs the verdict).
# Runs alternate (unguarded, guarded) ROUNDS times; the medians are compared.
# Usage: tests/bench/datapath.sh [SECONDS per run, default 5] [ROUNDS, default 3]
set -eu
secs=${1:-5}
rounds=${2:-3}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init datapath

cc -O2 -pthread -o "$tmp/connect_rate" "$top/tests/bench/connect_rate.c"
dnsmasq --no-daemon --no-resolv --no-hosts --port=5411 --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --address=/github.com/127.0.0.9 2>/dev/null &
pids+=($!)
iperf3 -s -B 127.0.0.1 -p 5412 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
guard() {
	"$bin/depfence" run --state-dir "$tmp/nostate" --upstream 127.0.0.1:5411 \
		--block github.com --block ghcr.io -- "$@" 2>>"$tmp/depfence.log"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tput() { iperf3 -c 127.0.0.1 -p 5412 -t "$secs" -J | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))'; }

for r in $(seq "$rounds"); do
	tput >>"$tmp/tput.plain"
	guard bash -c "$(declare -f tput); secs=$secs; tput" >>"$tmp/tput.guarded"
	"$tmp/connect_rate" $((5500 + r)) "$secs" >>"$tmp/conn.plain"
	guard "$tmp/connect_rate" $((5600 + r)) "$secs" >>"$tmp/conn.guarded"
done
tp=$(median <"$tmp/tput.plain") tg=$(median <"$tmp/tput.guarded")
cp=$(median <"$tmp/conn.plain") cg=$(median <"$tmp/conn.guarded")
echo "# $rounds rounds of ${secs}s, medians, loopback, $(nproc) cores, $(uname -r)"
awk -v p="$tp" -v g="$tg" 'BEGIN { printf "iperf3 throughput   unguarded %6.2f Gbit/s  guarded %6.2f Gbit/s  ratio %.1f%%\n", p / 1e9, g / 1e9, 100 * g / p }'
awk -v p="$cp" -v g="$cg" 'BEGIN { printf "TCP connect rate    unguarded %8.0f /s      guarded %8.0f /s      ratio %.1f%%\n", p, g, 100 * g / p }'
