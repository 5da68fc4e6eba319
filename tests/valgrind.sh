#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# valgrind over the plain build: every unit test (but the seccomp and the
# BPF_PROG_TEST_RUN ones), depfenced serving real guarded queries (UDP, TCP,
# blocked, forwarded) until SIGTERM, without its seccomp filter
# (proxy/daemon_seccomp.c), and depfence doctor asking that daemon. Any error or definite leak fails. Loopback only,
# bounded in time.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build
tmp=$(mktemp -d /tmp/depfence-valgrind.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
vg=(valgrind -q --suppressions="$top/tests/valgrind.supp" --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }

for t in "$bin"/tests/test_*; do
	# The seccomp filter cannot be loaded under valgrind (it knows no
	# seccomp(2), and the filter would hold valgrind's own calls to the
	# daemon's list): that test runs natively in `make unit` only.
	[ "$(basename "$t")" = test_daemon_seccomp ] && continue
	# valgrind 3.19 does not know that BPF_PROG_TEST_RUN writes test.retval
	# (every verdict would read as uninitialised) and wants test.data_out
	# even when no data comes back: false errors only. The test runs
	# natively in `make unit`; the object it loads is the daemon's, which
	# the daemon run below loads under valgrind.
	[ "$(basename "$t")" = test_bpf_verdicts ] && continue
	if "${vg[@]}" "$t" >"$tmp/unit.log" 2>&1; then ok "valgrind $(basename "$t")"; else
		tail -n 30 "$tmp/unit.log"; ko "valgrind $(basename "$t")"; fi
done

port=$((5700 + RANDOM % 200))
dnsmasq --no-daemon --no-resolv --no-hosts --port=$port --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --address=/allowed.test/127.0.0.3 2>/dev/null &
pids+=($!)
mkdir -p "$tmp/cfg/policies"
printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.6/32\n' >"$tmp/cfg/policies/deploy.policy"
"${vg[@]}" --log-file="$tmp/daemon.vg" "$bin/depfenced" --state-dir "$tmp/state" \
	--config-dir "$tmp/cfg" --upstream 127.0.0.1:$port 2>"$tmp/daemon.log" &
daemon=$!
for _ in $(seq 200); do [ -S "$tmp/state/depfenced.sock" ] && break; sleep 0.05; done
[ -S "$tmp/state/depfenced.sock" ] || { cat "$tmp/daemon.log" "$tmp/daemon.vg"; }
"$bin/depfence" run --state-dir "$tmp/state" --policy deploy -- sh -c '
	dig +short +tries=1 +time=3 @127.9.9.9 allowed.test github.com
	dig +tcp +short +tries=1 +time=3 @127.9.9.9 allowed.test
	dig +short +tries=1 +time=3 @127.9.9.9 allowed.test' >"$tmp/client.out" 2>&1
# depfence doctor too: it loads the BPF object and asks the daemon (0 or 1 by host; 99 is valgrind).
"${vg[@]}" --log-file="$tmp/doctor.vg" "$bin/depfence" doctor --state-dir "$tmp/state" \
	>"$tmp/doctor.out" 2>&1
rc=$?
if [ $rc -le 1 ] && grep -q '^ok   daemon: ' "$tmp/doctor.out" && grep -q '^ok   bpf: ' "$tmp/doctor.out" &&
	! grep -v 'WARNING: unhandled eBPF command' "$tmp/doctor.vg" | grep -q .; then
	ok "valgrind depfence doctor"
else
	cat "$tmp/doctor.vg" "$tmp/doctor.out"
	ko "valgrind depfence doctor (exit $rc)"
fi
kill -TERM $daemon
wait $daemon
rc=$?
if [ $rc -eq 0 ] && grep -q 127.0.0.3 "$tmp/client.out" && grep -q 'DNS BLOCKED' "$tmp/daemon.log" &&
	! grep -v 'WARNING: unhandled eBPF command' "$tmp/daemon.vg" | grep -q .; then
	ok "valgrind depfenced (served, blocked, stopped clean)"
else
	cat "$tmp/daemon.vg" "$tmp/client.out"
	ko "valgrind depfenced (exit $rc)"
fi
echo "valgrind: $pass passed, $fail failed"
[ $fail -eq 0 ]
