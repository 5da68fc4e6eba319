#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Policy reload in depfenced (SIGHUP), and a broken policy at start:
# - a run registered before the reload (its client waits for a file between
#   two queries) gets the new rule for its second query without registering
#   again: NOERROR before, REFUSED and a block line after;
# - a reload with a broken file logs FILE:LINE and what is wrong, the old
#   rules still apply (the name stays refused, others still resolve), and the
#   daemon keeps serving;
# - depfenced started with a broken policy file exits non-zero at once, with
#   FILE:LINE on stderr and no control socket.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start

POL=$CONF/policies/live.policy
printf '# live policy\nblock github.com\n' >"$POL"
DIG=(dig +tries=1 +time=3 @127.0.0.53)

# reload DESC ERE: SIGHUP the daemon, wait for its log to say ERE.
reload()
{
	local before i
	before=$(grep -ac 'policies reloaded' "$T/daemon.log")
	kill -HUP "$DAEMON_PID"
	for ((i = 0; i < 60; i++)); do
		[ "$(grep -ac 'policies reloaded' "$T/daemon.log")" -gt "$before" ] && break
		sleep 0.05
	done
	assert_file_has "$1" "$2" "$T/daemon.log"
}

use_mode daemon
uniq_name allowed.test; n=late-$UNAME

# One run, two queries, the reload in between.
guarded_bg live --policy live -- bash -c "$(tq before "${DIG[@]}" "$n"); \
	for i in \$(seq 100); do [ -e $(printf %q "$T/go") ] && break; sleep 0.1; done; \
	$(tq after "${DIG[@]}" "$n")"
live_pid=$BG_PID
wait_file "$(rf before ms)" 10 || fail "the first query of the live run was made"
expect_dig before NOERROR 127.0.0.3
printf '# live policy\nblock github.com\nblock %s\n' "$n" >"$POL"
reload "SIGHUP with a good file: reloaded without errors" "policies reloaded count=[0-9]+ errors=0"
touch "$T/go"
bg_wait "$live_pid" 10
assert_eq "the live run ended by itself, status 0" 0 "$RC"
expect_dig after REFUSED
run_id=$(grep -a 'run started .*policy=live' "$T/daemon.log" | sed -n 's/.* id=\([^ ]*\) .*/\1/p' | head -n 1)
assert_log_line "the second query of the same run ($run_id) was blocked by the new rule" \
	"^WARN DNS BLOCKED .*domain=$(re_quote "$n") .*policy=live .*run=\"?$(re_quote "$run_id")\"?( |\$)" \
	"$T/daemon.log"
assert_eq "the run registered once" 1 "$(grep -ac 'run started .*policy=live' "$T/daemon.log")"

# A broken file: FILE:LINE in the log, old rules kept.
printf '# live policy\nblock github.com\nblok %s\n' "$n" >"$POL"
reload "SIGHUP with a broken file: FILE:LINE and what is wrong in the log" \
	"policy reload: $(re_quote "$POL"):3: .*blok"
assert_file_has "the reload says it had an error" "policies reloaded count=[0-9]+ errors=1" "$T/daemon.log"
if kill -0 "$DAEMON_PID" 2>/dev/null; then pass "depfenced still runs"; else fail "depfenced still runs"; fi
guarded kept --policy live -- "${DIG[@]}" "$n"
expect_dig kept REFUSED
assert_block kept "$n" policy=live
uniq_name allowed.test
guarded serving --policy live -- "${DIG[@]}" "$UNAME"
expect_dig serving NOERROR 127.0.0.3
assert_dns_saw A "$UNAME"

# At start: a broken file stops the daemon before it serves.
mkdir -p "$T/badconf/policies" "$T/badstate"
printf 'mode blocklist\nblock github.com\n\nrefuse-with maybe\n' >"$T/badconf/policies/bad.policy"
E2E_INSTANCES+=("$(instance_of "$T/badstate")")
timeout 10 "$DEPFENCED" --state-dir "$T/badstate" --config-dir "$T/badconf" \
	--upstream "$UPSTREAM" >"$T/bad.out" 2>"$T/bad.err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
	pass "depfenced with a broken policy exits non-zero ($rc)"
else
	fail "depfenced with a broken policy exits non-zero" "exit status $rc" "$(_show "$T/bad.err")"
fi
assert_file_has "its stderr names FILE:LINE" "$(re_quote "$T/badconf/policies/bad.policy"):4: " "$T/bad.err"
if [ -e "$T/badstate/depfenced.sock" ]; then
	fail "no control socket left" "$(ls -l "$T/badstate")"
else
	pass "no control socket left"
fi

assert_no_run_cgroups "no run cgroup left"
e2e_done
