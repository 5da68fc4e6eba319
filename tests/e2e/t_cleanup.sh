#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A run lives in its own cgroup (<v2>/depfence-<hash>/runs/... with the
# daemon, .../embedded/run-PID without) and leaves nothing behind: the cgroup is
# gone after a normal exit and after the command left a background `sleep 100`
# (which is killed rather than left running unguarded). `depfence status`
# lists a daemon run while it runs (kind run, its policy, its cgroup) and not
# after.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/strict.policy"

# status_runs: the daemon's guards of kind run, one "id policy cgroup" line each.
status_runs()
{
	"$DEPFENCE" status --state-dir "$T/dstate" --json >"$T/status.json" 2>"$T/status.err" ||
		fail "depfence status: exit 0" "$(_show "$T/status.err")"
	"$PY" -c 'import json, sys
for g in json.load(open(sys.argv[1])):
    if g.get("kind") == "run":
        print(g.get("id"), g.get("policy"), g.get("cgroup"))' "$T/status.json" 2>>"$T/status.err"
}

# alive PID: PID exists and is not a zombie.
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

scenario()
{
	local inst runs p i cg

	inst=$(re_quote "$(instance_of "$STATE")")
	if [ "$MODE" = daemon ]; then runs="/$inst/runs/[^/]+"; else runs="/$inst/embedded/run-[0-9]+"; fi
	# Seen from the host: the run's cgroup. Seen from the job: the root of its
	# own cgroup namespace, so it has nowhere to move out to.
	rm -f "$T/where.pid"
	guarded_bg where -- sh -c 'cat /proc/self/cgroup; echo $$ >"$0"; sleep 2' "$T/where.pid"
	wait_file "$T/where.pid" 10 || die "the command did not start"
	assert_match "the command runs in a run cgroup of its instance" "^0::$runs\$" \
		"$(grep '^0::' "/proc/$(cat "$T/where.pid")/cgroup")"
	bg_wait "$BG_PID" 10
	assert_eq "the job sees its cgroup as the root of its cgroup namespace" "0::/" \
		"$(grep '^0::' "$(rf where out)")"
	assert_no_run_cgroups "normal exit: no run cgroup left"

	guarded_bg bgsleep -- sh -c 'sleep 100 & echo $! >"$0"' "$T/sleep.pid"
	bg_wait "$BG_PID" 10
	assert_eq "a background sleep left behind does not hold the run open" 0 "$RC"
	p=$(cat "$T/sleep.pid")
	for ((i = 0; i < 30; i++)); do
		alive "$p" || break
		sleep 0.1
	done
	if alive "$p"; then
		fail "the leftover sleep (pid $p) is killed" "$(tr '\0' ' ' <"/proc/$p/cmdline")"
		kill -9 "$p"
	else
		pass "the leftover sleep (pid $p) is killed"
	fi
	assert_no_run_cgroups "after a leftover background process: no run cgroup left"

	[ "$MODE" = daemon ] || return 0
	guarded_bg st --policy strict -- sleep 20
	wait_file "$(rf st pid)" 5 || fail "st: the command started"
	cg=$(sed -n 's/^0:://p' "/proc/$(cat "$(rf st pid)")/cgroup")
	status_runs >"$T/runs.txt"
	assert_eq "status lists one run while it runs" 1 "$(wc -l <"$T/runs.txt")"
	assert_match "status: the run has policy strict and the command's cgroup" \
		"^[^ ]+ strict ([^ ]*)?$(re_quote "$cg")\$" "$(head -n 1 "$T/runs.txt")"
	"$DEPFENCE" status --state-dir "$T/dstate" >"$T/status.txt"
	assert_file_has "status table: a run row with policy strict" "^run +[^ ]+ +strict " \
		"$T/status.txt"
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID" 5
	assert_eq "status lists no run after it ended" "" "$(status_runs)"
	assert_no_run_cgroups "status run: no run cgroup left"
}
for_each_mode scenario

"$DEPFENCE" status --state-dir "$T/estate" >/dev/null 2>"$T/nodaemon.err"
assert_eq "status without a daemon: exit 1" 1 "$?"
assert_file_has "status without a daemon: says so" "no daemon" "$T/nodaemon.err"

# An embedded run whose links cannot be pinned (a directory where its
# connect4 pin goes): a clear error, a non-zero exit, the command never runs,
# and its inline policy freed once (a review found it freed twice: the
# sanitizer check of e2e_cleanup reads pinfail.err).
INST=$(instance_of "$T/estate")
E2E_INSTANCES+=("$INST")
# shellcheck disable=SC2016 # expanded by that shell
sh -c 'mkdir -p "/sys/fs/bpf/$0/embedded/run-$$/connect4/x" && exec "$1" run --state-dir "$2" \
	--config-dir "$3" --upstream "$4" --block evil.test -- touch "$5"' \
	"$INST" "$DEPFENCE" "$T/estate" "$CONF" "$UPSTREAM" "$T/pinfail.ran" 2>"$T/pinfail.err"
assert_match "pin failure: depfence run exits non-zero" '^[1-9][0-9]*$' "$?"
assert_file_has "pin failure: the error names the pin" "(pin|update) link .*connect4" "$T/pinfail.err"
assert_eq "pin failure: the command never ran" "" "$(ls "$T/pinfail.ran" 2>/dev/null)"
assert_no_run_cgroups "pin failure: no run cgroup left"
e2e_done
