#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make bench: every benchmark in this directory, one after the other, each
# side by side with its peers (see docs/benchmarks.md). Loopback only, bounded.
# Usage: tests/bench/run.sh [SECONDS per dns.sh run, default 10]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
echo "## dns.sh $secs"
"$here/dns.sh" "$secs"
echo "## datapath.sh 5 3"
"$here/datapath.sh" 5 3
echo "## hook.sh 30"
"$here/hook.sh" 30
echo "## policy.sh 1000000"
"$here/policy.sh" 1000000
