#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Run the end-to-end tests: every tests/e2e/t_*.sh (or the ones named), each
# in its own bash, against the binaries in $DEPFENCE_BIN (default: build/).
# Prints one result line per test (a failed test's output follows it) and ends
# with the one summary line CI reads: "e2e: N passed, N failed".
#   tests/e2e/run.sh                       all, against build/
#   DEPFENCE_BIN=$PWD/build/san tests/e2e/run.sh t_transport.sh
#   E2E_VERBOSE=1 / E2E_KEEP=1             show every check / keep temp dirs
set -u
here=$(cd "$(dirname "$0")" && pwd)
DEPFENCE_BIN=$(cd "${DEPFENCE_BIN:-$here/../../build}" 2>/dev/null && pwd) || {
	echo "run.sh: no directory ${DEPFENCE_BIN:-build} (make first)"
	echo "e2e: 0 passed, 1 failed"
	exit 1
}
export DEPFENCE_BIN
for b in depfence depfenced; do
	if [ ! -x "$DEPFENCE_BIN/$b" ]; then
		echo "run.sh: no $DEPFENCE_BIN/$b (make first)"
		echo "e2e: 0 passed, 1 failed"
		exit 1
	fi
done
per_test_timeout=${E2E_TIMEOUT:-90}

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (BPF programs and cgroups)"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi

tests=()
if [ $# -gt 0 ]; then
	for t in "$@"; do tests+=("$here/$(basename "$t")"); done
else
	tests=("$here"/t_*.sh)
fi

pass=0 fail=0
start=$SECONDS
log=$(mktemp /tmp/depfence-e2e-run.XXXXXX)
trap 'rm -f "$log"' EXIT
echo "# ${#tests[@]} end-to-end tests, binaries in $DEPFENCE_BIN"
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	t0=$SECONDS
	timeout -k 10 "$per_test_timeout" bash "$t" >"$log" 2>&1
	rc=$?
	checks=$(grep -c '^ok ' "$log")
	if [ "$rc" -eq 0 ] && ! grep -q '^FAIL ' "$log"; then
		pass=$((pass + 1))
		printf 'PASS %-22s %3d checks %4ds\n' "$name" "$checks" $((SECONDS - t0))
		[ "${E2E_VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$log"
	else
		fail=$((fail + 1))
		why="exit $rc"
		[ "$rc" -eq 124 ] && why="timed out after ${per_test_timeout}s"
		printf 'FAIL %-22s %3d checks %4ds (%s)\n' "$name" "$checks" $((SECONDS - t0)) "$why"
		if [ "${E2E_VERBOSE:-0}" = 1 ]; then
			sed 's/^/    /' "$log"
		else
			grep -v '^ok ' "$log" | sed 's/^/    /'
		fi
	fi
done
echo "# wall time $((SECONDS - start))s"
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
