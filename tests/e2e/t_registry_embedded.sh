#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# An embedded run keeps its guard whatever a daemon of the same instance does
# (issue 9): `depfence run` starts with no daemon (embedded proxy, links pinned
# under /sys/fs/bpf/<instance>/embedded/), then depfenced starts on the same
# state dir and stops again (SIGTERM, a clean stop that removes what guards
# nothing), then starts as another build would (it upgrades the pins in place). After
# each, the job's lookup of github.com at a real resolver on port 53 (the
# catcher) must still be refused by the embedded proxy, never answered by the
# catcher. Before the fix the clean stop removed the whole pin tree, the
# embedded links with it, and the job was unguarded.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_nest.sh
. "$E2E_DIR/lib_nest.sh"
e2e_init
dns_start
esc_start
use_mode embedded
PINS=/sys/fs/bpf/$(instance_of "$STATE")

# The job: wait for go-N, ask github.com at the catcher, write the status to
# q-N, for N in 1..3; then exit.
cat >"$T/job.sh" <<EOF
#!/bin/sh
for n in 1 2 3; do
	for i in \$(seq 300); do [ -e "$T/go-\$n" ] && break; sleep 0.05; done
	dig +tries=1 +time=2 @$ESC github.com >"$T/q-\$n.out" 2>&1
	touch "$T/q-\$n.done"
done
EOF
chmod +x "$T/job.sh"
guarded_bg job -- "$T/job.sh"
wait_file "$(rf job pid)" 10 || die "the embedded run started"
for ((i = 0; i < 100; i++)); do [ -d "$PINS/embedded" ] && break; sleep 0.05; done
assert_eq "the run is embedded: its links are pinned under $PINS/embedded" yes \
	"$([ -n "$(ls -A "$PINS/embedded" 2>/dev/null)" ] && echo yes)"

# ask N WHAT: let the job ask, then the answer must be REFUSED (never the catcher's).
ask()
{
	touch "$T/go-$1"
	wait_file "$T/q-$1.done" 10 || true
	assert_match "$2: github.com is still refused (the catcher never answers)" \
		'status: REFUSED' "$(cat "$T/q-$1.out" 2>/dev/null)"
}
ask 1 "before any daemon"

start_daemon_here()
{
	"$DEPFENCED" --state-dir "$STATE" --config-dir "$CONF" --upstream "$UPSTREAM" \
		2>>"$T/daemon.log" &
	DAEMON_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$STATE/depfenced.sock" ] && return 0
		sleep 0.1
	done
	die "depfenced came up on $STATE" "$(_show "$T/daemon.log")"
}

start_daemon_here
daemon_stop
ask 2 "after depfenced started and stopped on the same state dir"

# A daemon of another build upgrades the pins it finds: not the embedded ones.
# Another build's pins: a daemon killed with -9 (its pins stay) whose meta map
# says another object made them.
start_daemon_here
bpftool map update pinned "$PINS/maps/meta" key 0 0 0 0 value 1 0 0 0 0 0 0 0 2>>"$T/bpftool.err"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
rm -f "$STATE/depfenced.sock"
start_daemon_here
assert_file_has "the next daemon saw another build's pins" "upgrading BPF pins" "$T/daemon.log"
daemon_stop
ask 3 "after a daemon of another build upgraded the pins"

bg_wait "$BG_PID" 10
assert_eq "the embedded run ends normally" 0 "$RC"
assert_eq "no catcher answer at all" 0 "$(grep -c 'query\[A\] github.com' "$ESC_LOG" 2>/dev/null)"
assert_no_run_cgroups "no run cgroup left"
e2e_done
