#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The daemon's engine workers (proxy/workers.c) under ThreadSanitizer: the
# workers' unit test (tests/unit/test_workers.c), then the e2e tests that
# drive a daemon with its workers hardest (two jobs on two workers, one job
# spread over both, floods, guards removed mid-flood, reloads, packet events, TCP,
# containers, status and metrics) against build/tsan. A race the runtime sees
# fails the test that made it (the daemon exits 66, and every test asserts
# exit 0 on SIGTERM), and its report is printed here. The TSan build runs
# without the seccomp filter (its runtime's own calls, proxy/daemon_seccomp.c),
# so the tests that check the filter are not among these.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logs=$(mktemp -d /tmp/depfence-tsan.XXXXXX)
trap 'rm -rf "$logs"' EXIT
tests=(t_workers.sh t_dns_fair.sh t_dns_reload.sh t_status.sh t_metrics.sh t_log_fold.sh
	t_packet.sh t_packet_shared.sh t_dns_tcp.sh t_container_runc.sh t_report_container.sh
	t_spread.sh t_dns_failover.sh)
rc=0
if TSAN_OPTIONS="exitcode=66 log_path=$logs/tsan" "$top/build/tsan/tests/test_workers" \
	>"$logs/unit.out" 2>&1; then
	echo "PASS test_workers (ThreadSanitizer)"
else
	echo "FAIL test_workers (ThreadSanitizer)"
	cat "$logs/unit.out"
	rc=1
fi
TSAN_OPTIONS="exitcode=66 log_path=$logs/tsan" DEPFENCE_BIN=$top/build/tsan \
	"$top/tests/e2e/run.sh" "${tests[@]}" || rc=1
if compgen -G "$logs/tsan*" >/dev/null; then
	echo "FAIL ThreadSanitizer reports:"
	cat "$logs"/tsan*
	rc=1
else
	echo "tsan: no race reported in ${#tests[@]} tests"
fi
exit "$rc"
