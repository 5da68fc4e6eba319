#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Build each libFuzzer target (tests/fuzz/fuzz_*.c) with clang and run it for
# SECONDS (default 20) from its seed corpus. A longer run: tests/fuzz/run.sh 600
set -eu
secs=${1:-20}
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
mkdir -p "$out"
# Parsers of untrusted input and what they need: no BPF, no event loop.
srcs=$(ls "$top"/proxy/base/util.c "$top"/proxy/dns_wire.c "$top"/proxy/policy_parse.c "$top"/proxy/policy_match.c "$top"/proxy/base/bigmem.c "$top"/proxy/base/log.c "$top"/proxy/base/log_json.c "$top"/proxy/cache.c "$top"/proxy/base/cgroup_limits.c "$top"/proxy/base/cgroup.c)
for f in "$top"/tests/fuzz/fuzz_*.c; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .c)
	# What a target needs beyond the proxy parsers.
	extra= libs=
	case $name in
	fuzz_oci_state) extra=$top/oci/oci_state.c libs=-ljson-c ;;
	fuzz_ctl) extra=$top/proxy/base/ctl_proto.c libs=-ljson-c ;;
	esac
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-I"$top/proxy" -I"$top/proxy/base" -I"$top/bpf" -I"$top/oci" -I"$top/build" "$f" $srcs $extra $libs -o "$out/$name"
	corpus=$out/corpus-$name
	mkdir -p "$corpus"
	seeds=$top/tests/fuzz/seeds/${name#fuzz_}
	[ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
	echo "fuzz: $name for ${secs}s"
	"$out/$name" -max_total_time="$secs" -max_len=4096 -print_final_stats=0 "$corpus" \
		>"$out/$name.log" 2>&1 || { tail -n 40 "$out/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
	grep -aE '^Done|#[0-9]+.*DONE' "$out/$name.log" | tail -n 1 || true
done
