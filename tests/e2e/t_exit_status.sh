#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence run is transparent to the command it wraps: its exit status
# (128+N for signal N, 127 when it does not exist), stdin, stdout and
# environment pass through, and a SIGTERM to depfence reaches the command.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

scenario()
{
	dfrun exit3 -- sh -c 'exit 3'
	assert_eq "exit 3 -> 3" 3 "$RC"

	dfrun kill9 -- sh -c 'kill -9 $$'
	assert_eq "kill -9 -> 137" 137 "$RC"

	dfrun missing -- /nonexistent/depfence-e2e-cmd
	assert_eq "missing command -> 127" 127 "$RC"
	assert_file_has "missing command: stderr names it" "/nonexistent/depfence-e2e-cmd" \
		"$(rf missing err)"

	dfrun cat -- cat < <(echo hi)
	assert_eq "stdin -> stdout through 'cat'" hi "$(cat "$(rf cat out)")"
	assert_eq "cat: exit 0" 0 "$RC"

	export FOO=bar
	dfrun env -- sh -c 'printf "%s" "$FOO"'
	unset FOO
	assert_eq "environment passes (FOO=bar)" bar "$(cat "$(rf env out)")"

	# A signal to depfence goes to the command, which decides how to stop.
	guarded_bg term -- sleep 30
	if wait_file "$(rf term pid)" 5; then
		kill -TERM "$BG_PID"
		bg_wait "$BG_PID" 5
		assert_eq "SIGTERM to depfence run -> the command dies of it -> 143" 143 "$RC"
	else
		fail "term: the command started" "$(_show "$(rf term err)")"
	fi
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
