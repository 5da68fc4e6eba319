#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The daemon's engine workers (docs/design.md, Workers): `depfenced --workers 2`
# serves guards from two threads, each guard from one.
# - the daemon runs two worker threads (depfenced-w1, -w2) and says workers=2;
# - two runs land on two workers (`depfence status --json`: worker 1 and 2);
# - while run A floods blocked names (its worker busy refusing and folding
#   block lines), run B's 200 sequential lookups are all answered with their
#   address, B's blocked name is refused with a block line naming B's process,
#   and A's block lines name A's;
# - a run removed while its worker is busy with its flood (A ends mid-flood)
#   leaves the daemon serving: B's next lookups are answered, status shows B
#   alone, and a new run C takes the free worker;
# - the counters are every worker's: status counts B's queries (the sum of
#   the workers' metrics is tests/unit/test_metrics.c's);
# - a SIGHUP reload while both workers serve moves both runs' policy: a name
#   the file now blocks is refused for each;
# - a job cannot join a listener's port with SO_REUSEPORT (there is no
#   reuseport group to join: each guard's listeners are one worker's);
# - no system call of the threads is refused by the daemon's filter (every
#   refused call is logged), and SIGTERM stops the daemon with status 0;
# - --workers takes 1..64, anything else exits 2 naming the flag.
# Answers are asserted, not timing: tests/bench/dns.sh measures throughput.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
FAIRDNS=$E2E_DIR/fairdns.py

assert_bad_number --workers 64

fairdns_upstream honest
mkdir -p "$CONF/policies"
printf 'mode blocklist\nblock *.slow.test\nblock *.blocked.test\n' >"$CONF/policies/wk.policy"
RUN=(--policy wk)

DAEMON_ARGS=(--workers 2)
use_mode daemon
wait_ready
assert_file_has "the ready line says workers=2" '^INFO depfenced ready .* workers=2 ' \
	"$T/daemon.log"
assert_eq "the daemon runs 2 worker threads, named depfenced-w1 and -w2" \
	"depfenced-w1 depfenced-w2" "$(cat /proc/"$DAEMON_PID"/task/*/comm | grep '^depfenced-w' |
		sort | paste -sd' ')"

# workers_of FILE: "ID WORKER" per guard.
workers_of()
{
	"$PY" -c 'import json, sys
for g in json.load(open(sys.argv[1])):
    print(g["id"], g.get("worker"))' "$1" 2>>"$1.err"
}

# A: waits for $T/a.go, floods blocked names until $T/a.stop, asks its own
# blocked name meanwhile.
guarded_bg a "${RUN[@]}" -- bash -c "for i in \$(seq 600); do [ -e '$T/a.go' ] && break; \
	sleep 0.05; done; '$PY' '$FAIRDNS' flood 127.0.0.53 10 200000 '$T/a.stop' \
	>'$T/a-flood.out' & '$PY' '$E2E_DIR/dnsq.py' 127.0.0.53 a-own.blocked.test \
	>'$T/a-own.out'; wait"
A_PID=$BG_PID
# B: waits for $T/b.go, then 200 sequential lookups and its blocked name,
# then waits for $T/b.more and asks 50 more.
guarded_bg b "${RUN[@]}" -- bash -c "for i in \$(seq 600); do [ -e '$T/b.go' ] && break; \
	sleep 0.05; done; '$PY' '$FAIRDNS' seq 127.0.0.53 200 fair.test >'$T/b-seq.out'; \
	'$PY' '$E2E_DIR/dnsq.py' 127.0.0.53 b-own.blocked.test >'$T/b-own.out'; \
	touch '$T/b.done'; for i in \$(seq 600); do [ -e '$T/b.more' ] && break; sleep 0.05; done; \
	'$PY' '$FAIRDNS' seq 127.0.0.53 50 more.test >'$T/b-more.out'; \
	'$PY' '$E2E_DIR/dnsq.py' 127.0.0.53 reload.later.test >'$T/b-reload.out'"
B_PID=$BG_PID
wait_runs 2
A_ID=$(daemon_run_id 1)
B_ID=$(daemon_run_id 2)
status_json "$T/st1.json"
workers_of "$T/st1.json" >"$T/st1.workers"
assert_eq "two runs, on two workers" "1 2" \
	"$(cut -d' ' -f2 "$T/st1.workers" | sort | paste -sd' ')"

touch "$T/a.go"
for ((i = 0; i < 100; i++)); do
	grep -q 'DNS BLOCKED .*domain=[^ ]*\.slow\.test' "$T/daemon.log" && break
	sleep 0.05
done
touch "$T/b.go"
wait_exists "$T/b.done" 60
assert_eq "B: 200 sequential lookups during A's flood, all answered 127.0.0.3" 200 \
	"$(grep -c '\.fair\.test NOERROR 127\.0\.0\.3$' "$T/b-seq.out")"
assert_file_has "B: its blocked name refused" '^status: REFUSED' "$T/b-own.out"
assert_file_has "A: its blocked name refused" '^status: REFUSED' "$T/a-own.out"
b_cpid=$(cat "$(rf b pid)")
a_cpid=$(cat "$(rf a pid)")
assert_file_has "B's block line names B's run and a process of it" \
	"domain=b-own\\.blocked\\.test .*run=$(re_quote "$B_ID")" "$T/daemon.log"
assert_file_has "A's flood's block lines name A's run" \
	"domain=[^ ]+\\.slow\\.test .*run=$(re_quote "$A_ID")" "$T/daemon.log"
assert_file_lacks "no flood line names B's run" \
	"domain=[^ ]+\\.slow\\.test .*run=$(re_quote "$B_ID")" "$T/daemon.log"

# A ends in the middle of its flood: its worker is busy when the guard goes.
status_json "$T/st2.json"
queries_b=$("$PY" -c 'import json, sys
print(sum(g["queries"] for g in json.load(open(sys.argv[1])) if g["id"] == sys.argv[2]))' \
	"$T/st2.json" "$B_ID" 2>>"$T/st2.json.err")
assert_gt "status: B's queries counted by its worker ($queries_b)" 200 "${queries_b:-0}"
_stop_pid "$A_PID"
touch "$T/a.stop"
wait "$A_PID" 2>/dev/null
for ((i = 0; i < 50; i++)); do
	status_json "$T/st3.json"
	[ "$(workers_of "$T/st3.json" | wc -l)" = 1 ] && break
	sleep 0.1
done
assert_eq "status: B alone once A ended" "$B_ID" "$(workers_of "$T/st3.json" | cut -d' ' -f1)"

# A reload while both workers serve: C on the free worker, B on its own.
guarded_bg c "${RUN[@]}" -- bash -c "for i in \$(seq 600); do [ -e '$T/c.go' ] && break; \
	sleep 0.05; done; '$PY' '$E2E_DIR/dnsq.py' 127.0.0.53 reload.later.test >'$T/c-reload.out'"
C_PID=$BG_PID
wait_runs 3
C_ID=$(daemon_run_id 3)
status_json "$T/st4.json"
assert_eq "C takes the worker A left" "1 2" \
	"$(workers_of "$T/st4.json" | cut -d' ' -f2 | sort | paste -sd' ')"
printf 'block *.later.test\n' >>"$CONF/policies/wk.policy"
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 100; i++)); do
	grep -q 'policies reloaded' "$T/daemon.log" && break
	sleep 0.05
done
touch "$T/b.more" "$T/c.go"
bg_wait "$B_PID" 60
assert_eq "B's run exits 0" 0 "$RC"
bg_wait "$C_PID" 30
assert_eq "C's run exits 0" 0 "$RC"
assert_eq "B: 50 more lookups after A went, all answered" 50 \
	"$(grep -c '\.more\.test NOERROR 127\.0\.0\.3$' "$T/b-more.out")"
assert_file_has "reload: B's worker refuses the name the file now blocks" '^status: REFUSED' \
	"$T/b-reload.out"
assert_file_has "reload: C's worker refuses it too" '^status: REFUSED' "$T/c-reload.out"
assert_file_has "C's block line names C's run" \
	"domain=reload\\.later\\.test .*run=$(re_quote "$C_ID")" "$T/daemon.log"


# The listeners are never in a SO_REUSEPORT group: a job that binds another
# guard's listener port with SO_REUSEPORT (to take a share of its queries and
# answer them itself) gets EADDRINUSE. B's run is over; C's too: the daemon
# still listens for none, so keep one run (D) open and try from another (E).
guarded_bg d "${RUN[@]}" -- bash -c "for i in \$(seq 600); do [ -e '$T/d.stop' ] && break; \
	sleep 0.05; done"
D_PID=$BG_PID
wait_runs 4
ss -Hlunp | grep "pid=$DAEMON_PID," | awk '{print $4}' | grep '^127\.0\.0\.1:' |
	cut -d: -f2 >"$T/ports"
assert_gt "the daemon listens on loopback UDP ports ($(wc -l <"$T/ports"))" 0 "$(wc -l <"$T/ports")"
guarded e "${RUN[@]}" -- "$PY" -c 'import socket, sys
for p in open(sys.argv[1]).read().split():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind(("127.0.0.1", int(p)))
        print("bound", p)
    except OSError as e:
        print("refused", p, e.errno)' "$T/ports"
assert_eq "E: no listener port bound with SO_REUSEPORT" 0 "$(grep -c '^bound' "$(rf e out)")"
assert_eq "E: each refused EADDRINUSE" "$(wc -l <"$T/ports")" \
	"$(grep -c '^refused [0-9]* 98$' "$(rf e out)")"
touch "$T/d.stop"
bg_wait "$D_PID" 30

assert_file_lacks "no system call of the workers refused" 'seccomp refused' "$T/daemon.log"
daemon_stop
assert_no_run_cgroups "no run cgroup left"
e2e_done
