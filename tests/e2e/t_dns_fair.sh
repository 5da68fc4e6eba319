#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fair by construction (docs/design.md, Fairness), with the daemon, against a
# fake upstream (fairdns.py) that never answers names under slow.test:
# - guard A floods slow.test names: past its share of pending upstream
#   queries its own queries get SERVFAIL at once, said in a line at most once
#   a second; meanwhile guard B's 200 sequential lookups of allowed names are
#   all answered with their address, then 200 more sent at once (each needs
#   a slot of its own while A holds all it may), and no quota line names B;
#   `depfence status --json` counts A's refusals (overShare);
# - while A is at its share, A's blocked name is refused and the learning
#   query for it (the proxy resolving the blocked name) reaches the upstream;
# - with the share as large as the table (--max-pending-per-guard 100000), A's
#   flood takes every client slot, and learning still has its reserve.
# Answers are asserted, not timing: tests/bench measures that. B's checks
# alone pass against the shared table this replaced too (A's queries time out
# one by one, so a slot is usually free when B asks): the quota lines, the
# whole-table run and tests/unit/test_upstream.c are what pin the shares down.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
FAIRDNS=$E2E_DIR/fairdns.py

fairdns_upstream honest
RUN=(--block '*.blocked.test')
QUOTA_RE='^WARN upstream queries of a guard at its share, answering SERVFAIL'

# flood_a NAME MAX: guard A floods in the background until $T/NAME.stop; once
# the daemon logged A at its share (max=MAX) the test makes $T/NAME.go, and A
# asks its blocked name LEARN_NAME (dnsq, output in $T/NAME-learn.out).
flood_a()
{
	local i
	LEARN_NAME=learn-$1-$$.blocked.test
	guarded_bg "$1" "${RUN[@]}" -- bash -c "'$PY' '$FAIRDNS' flood 127.0.0.53 30 10000000 \
		'$T/$1.stop' >'$T/$1-flood.out' & \
		for i in \$(seq 600); do [ -e '$T/$1.go' ] && break; sleep 0.05; done; \
		'$PY' '$E2E_DIR/dnsq.py' 127.0.0.53 $LEARN_NAME >'$T/$1-learn.out'; wait"
	A_PID=$BG_PID
	for ((i = 0; i < 300; i++)); do
		grep -qE "$QUOTA_RE guard=[^ ]+ max=$2 " "$T/daemon.log" && break
		sleep 0.05
	done
	assert_file_has "$1: the daemon says A is at its share (max=$2)" \
		"$QUOTA_RE guard=[^ ]+ max=$2 refused=[0-9]+\$" "$T/daemon.log"
	touch "$T/$1.go"
}

# assert_learned DESC NAME: the learning query for LEARN_NAME reached the upstream.
assert_learned()
{
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qxF "$LEARN_NAME 1" "$T/up.log" && break
		sleep 0.05
	done
	assert_file_has "$1" "^$(re_quote "$LEARN_NAME") 1\$" "$T/up.log"
	assert_file_has "$2: A's blocked name refused while at its share" '^status: REFUSED' \
		"$T/$2-learn.out"
}

use_mode daemon
flood_a flood 960
guarded seq "${RUN[@]}" -- bash -c "'$PY' '$FAIRDNS' seq 127.0.0.53 200 fair.test && \
	'$PY' '$FAIRDNS' burst 127.0.0.53 200 burst.test"
assert_eq "B's run exits 0" 0 "$RC"
assert_eq "B: 200 sequential lookups during A's flood, all answered 127.0.0.3" 200 \
	"$(grep -c '\.fair\.test NOERROR 127\.0\.0\.3$' "$(rf seq out)")"
assert_eq "B: 200 lookups at once during A's flood, all answered 127.0.0.3" 200 \
	"$(grep -c '\.burst\.test NOERROR 127\.0\.0\.3$' "$(rf seq out)")"
assert_learned "A's learning query went upstream while A was at its share" flood
"$DEPFENCE" status --state-dir "$T/dstate" --json >"$T/status.json" 2>"$T/status.err"
over=$("$PY" -c 'import json, sys
print(sum(g.get("overShare", 0) for g in json.load(open(sys.argv[1])) if g["kind"] == "run"))' \
	"$T/status.json" 2>>"$T/status.err")
assert_gt "status --json: A's overShare counts its refusals ($over)" 1000 "${over:-0}"
touch "$T/flood.stop"
bg_wait "$A_PID" 40
read -r sent sf _ < <(sed 's/[a-z]*=//g' "$T/flood-flood.out")
assert_gt "A: its flood went out (sent=$sent)" 2000 "${sent:-0}"
assert_gt "A: SERVFAIL past its share (servfail=$sf)" 1000 "${sf:-0}"
A_ID=$(daemon_run_id 1)
B_ID=$(daemon_run_id 2)
assert_file_has "the quota line names A" "$QUOTA_RE guard=$(re_quote "$A_ID") " "$T/daemon.log"
assert_file_lacks "no quota line names B" "$QUOTA_RE guard=$(re_quote "$B_ID") " "$T/daemon.log"
# quota_refused: the refusals A's quota lines count, in all.
quota_refused() { grep -E "$QUOTA_RE" "$T/daemon.log" | sed 's/.*refused=//' | paste -sd+ | bc; }
# The refusals after A's last line are written when that line's second is over,
# after the flood stopped too: what status counted during the flood is all in lines.
for ((i = 0; i < 60; i++)); do
	[ "$(quota_refused)" -ge "${over:-0}" ] && break
	sleep 0.05
done
lines=$(grep -cE "$QUOTA_RE" "$T/daemon.log")
refused=$(quota_refused)
assert_lt "quota lines: at most one a second ($lines lines for $refused refusals)" 35 "$lines"
assert_gt "the lines count the refusals they stand for" "$lines" "${refused:-0}"
assert_gt "the lines count every refusal status counted during the flood ($over), the last second's too" \
	"$((${over:-0} - 1))" "${refused:-0}"

# The whole client table for A alone: learning keeps its reserve.
daemon_stop
DAEMON_ARGS=(--max-pending-per-guard 100000)
: >"$T/daemon.log.1"
cat "$T/daemon.log" >>"$T/daemon.log.1"
: >"$T/daemon.log"
daemon_start
flood_a whole 7680
assert_learned "learning went upstream with every client slot taken" whole
touch "$T/whole.stop"
bg_wait "$A_PID" 40
assert_no_run_cgroups "no run cgroup left"
e2e_done
