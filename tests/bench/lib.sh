# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # top, bin, tmp are the benchmark's
#
# Sourced by each tests/bench/*.sh after `set -eu`: top (the repository), bin
# (DEPFENCE_BIN, default build/), tmp (a fresh directory), and the EXIT trap
# that stops what the benchmark started (daemon, and every pid in pids) and
# removes tmp, on every path. bench_init NAME makes /tmp/depfence-NAME.XXXXXX.
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DEPFENCE_BIN:-$top/build}
pids=()
daemon=

bench_cleanup()
{
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}

bench_init()
{
	tmp=$(mktemp -d "/tmp/depfence-$1.XXXXXX")
	trap bench_cleanup EXIT
}
