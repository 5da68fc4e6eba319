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
#   FILE:LINE on stderr, no control socket and nothing pinned in bpffs (the
#   error in a small file, and at the end of a big one).
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

# At start: a broken file stops the daemon before it serves, and before it pins
# anything. The policies are parsed on a thread while the BPF object loads, and
# the maps are pinned only once both are done (proxy/depfenced.c): a fresh
# instance must find no directory of its own in bpffs afterwards. NAME LINE:
# $T/NAME.conf holds the broken policy, its error on line LINE; NAME.err is
# the daemon's stderr.
bad_start()
{
	local name=$1 line=$2 inst rc
	inst=$(instance_of "$T/$name.state")
	E2E_INSTANCES+=("$inst")
	timeout 10 "$DEPFENCED" --state-dir "$T/$name.state" --config-dir "$T/$name.conf" \
		--upstream "$UPSTREAM" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
		pass "$name: depfenced with a broken policy exits non-zero ($rc)"
	else
		fail "$name: depfenced with a broken policy exits non-zero" "exit status $rc" \
			"$(_show "$T/$name.err")"
	fi
	assert_file_has "$name: its stderr names FILE:LINE" \
		"$(re_quote "$T/$name.conf/policies/$name.policy"):$line: " "$T/$name.err"
	assert_eq "$name: said once" 1 "$(grep -c "$name.policy:$line: " "$T/$name.err")"
	if [ -e "$T/$name.state/depfenced.sock" ]; then
		fail "$name: no control socket left" "$(ls -l "$T/$name.state")"
	else
		pass "$name: no control socket left"
	fi
	if [ -e "/sys/fs/bpf/$inst" ]; then
		fail "$name: nothing pinned in bpffs" "$(find "/sys/fs/bpf/$inst" | head)"
	else
		pass "$name: nothing pinned in bpffs"
	fi
}
mkdir -p "$T/bad.conf/policies" "$T/badbig.conf/policies" "$T/bad.state" "$T/badbig.state"
printf 'mode blocklist\nblock github.com\n\nrefuse-with maybe\n' >"$T/bad.conf/policies/bad.policy"
bad_start bad 4
# The error at the end of 200k rules: found after the BPF object has loaded.
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "block h%d.example.com\n", i; print "blok x.test" }' \
	>"$T/badbig.conf/policies/badbig.policy"
bad_start badbig 200001

assert_no_run_cgroups "no run cgroup left"
e2e_done
