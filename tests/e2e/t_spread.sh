#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# One job's UDP lookups spread over the workers (docs/design.md, Workers:
# replicas). `depfenced --workers 2 --spread 2` gives each guard a UDP listener
# on each worker, and the BPF side sends each client socket to one of them.
# - the ready line says spread=2; --spread takes 1..8 (else exit 2 naming it);
# - a run's 120 lookups, each from a fresh socket, are all answered, its 40
#   blocked names all refused, and both workers decided some of them
#   (`depfence status --json`: servedBy, its sum the guard's queries);
# - the cache is a shard per worker: one name asked 10 times from fresh
#   sockets reaches the upstream once per worker at most;
# - the run's report (--report) has every name it asked, whichever worker
#   decided it, with its count;
# - a SIGHUP reload reaches every worker: 40 lookups of a name the file now
#   blocks, from fresh sockets, all refused;
# - a job cannot reach another guard's listeners, the replicas' included: a
#   send to each of the daemon's loopback UDP ports but its own is refused
#   (EPERM) and logged as PACKET BLOCKED;
# - when the run ends, every listener of its guard goes (the daemon's sockets
#   are back to what they were); without --spread (default 1) a guard is
#   served by one worker.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
FAIRDNS=$E2E_DIR/fairdns.py

assert_bad_number --spread 8

fairdns_upstream honest
mkdir -p "$CONF/policies"
printf 'mode blocklist\nblock *.blocked.test\n' >"$CONF/policies/sp.policy"
RUN=(--policy sp)

DAEMON_ARGS=(--workers 2 --spread 2)
use_mode daemon
wait_ready
assert_file_has "the ready line says spread=2" '^INFO depfenced ready .* workers=2 spread=2 ' \
	"$T/daemon.log"

# udp_ports ADDR: the daemon's UDP ports on ADDR.
udp_ports()
{
	ss -Hlunp | grep "pid=$DAEMON_PID," | awk '{print $4}' | grep -F "$1:" | sed 's/.*://' |
		sort -u
}
# sockets: the daemon's open sockets.
sockets() { find /proc/"$DAEMON_PID"/fd -lname 'socket:*' 2>/dev/null | wc -l; }
# served FILE ID: "SPREAD QUERIES WORKERS-WITH-QUERIES SUM-OF-SERVEDBY" of guard ID.
served()
{
	"$PY" -c 'import json, sys
for g in json.load(open(sys.argv[1])):
    if g["id"] == sys.argv[2]:
        s = g["servedBy"]
        print(g["spread"], g["queries"], sum(1 for w in s if w["queries"] > 0),
              sum(w["queries"] for w in s))' "$1" "$2" 2>>"$1.err"
}

base=$(sockets)
# A: 120 lookups and 40 blocked ones, each from a fresh socket; waits for
# a.reload, then 40 lookups of a name the reloaded file blocks; then waits for
# a.ports and sends a query to each port listed there; then for a.stop.
guarded_bg a "${RUN[@]}" --report "$T/a.json" -- bash -c "\
	'$PY' '$FAIRDNS' seq 127.0.0.53 120 ok.test >'$T/a-ok.out'; \
	'$PY' '$FAIRDNS' seq 127.0.0.53 40 blocked.test >'$T/a-blocked.out'; \
	for i in \$(seq 10); do '$PY' '$E2E_DIR/dnsq.py' 127.0.0.53 again.ok.test; done \
	>'$T/a-again.out'; touch '$T/a.done'; \
	for i in \$(seq 600); do [ -e '$T/a.reload' ] && break; sleep 0.05; done; \
	'$PY' '$FAIRDNS' seq 127.0.0.53 40 later.test >'$T/a-later.out'; touch '$T/a.done2'; \
	for i in \$(seq 600); do [ -e '$T/a.ports' ] && break; sleep 0.05; done; \
	'$PY' -c 'import socket, sys
for p in open(sys.argv[1]).read().split():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b\"\\0\" * 12, (\"127.0.0.1\", int(p)))
        print(\"sent\", p)
    except OSError as e:
        print(\"refused\", p, e.errno)' '$T/a.ports' >'$T/a-ports.out'; touch '$T/a.done3'; \
	for i in \$(seq 600); do [ -e '$T/a.stop' ] && break; sleep 0.05; done"
A_PID=$BG_PID
wait_exists "$T/a.done" 60
wait_runs 1
A_ID=$(daemon_run_id 1)
assert_eq "A: 120 lookups from fresh sockets, all answered 127.0.0.3" 120 \
	"$(grep -c '\.ok\.test NOERROR 127\.0\.0\.3$' "$T/a-ok.out")"
assert_eq "A: 40 blocked names, all refused" 40 \
	"$(grep -c '\.blocked\.test REFUSED' "$T/a-blocked.out")"
assert_eq "A: one name asked 10 times from fresh sockets, answered each time" 10 \
	"$(grep -c '^answer: 127\.0\.0\.3$' "$T/a-again.out")"
n=$(grep -c '^again\.ok\.test ' "$T/up.log")
assert_eq "the upstream was asked for it once or twice: once per worker at most (a cache each)" \
	ok "$([ "$n" -ge 1 ] && [ "$n" -le 2 ] && echo ok || echo "$n times")"
status_json "$T/st1.json"
read -r spread queries busy sum <<<"$(served "$T/st1.json" "$A_ID")"
assert_eq "status: A's guard is spread over 2 workers" 2 "${spread:-}"
assert_eq "status: both workers decided some of A's queries" 2 "${busy:-}"
assert_eq "status: servedBy sums to A's queries ($queries)" "${queries:-x}" "${sum:-y}"
assert_gt "status: A's queries counted on every worker ($queries)" 159 "${queries:-0}"
assert_eq "A's UDP listeners: one on each worker, v4 and v6" "2 2" \
	"$(udp_ports 127.0.0.1 | wc -l) $(udp_ports '[::1]' | wc -l)"

printf 'block *.later.test\n' >>"$CONF/policies/sp.policy"
kill -HUP "$DAEMON_PID"
for ((i = 0; i < 100; i++)); do
	grep -q 'policies reloaded' "$T/daemon.log" && break
	sleep 0.05
done
touch "$T/a.reload"
wait_exists "$T/a.done2" 60
assert_eq "reload: 40 lookups of a newly blocked name, from fresh sockets, all refused" 40 \
	"$(grep -c '\.later\.test REFUSED' "$T/a-later.out")"

# B: a second run; A sends to B's listeners (its replica's among them).
guarded_bg b "${RUN[@]}" -- bash -c "for i in \$(seq 600); do [ -e '$T/b.stop' ] && break; \
	sleep 0.05; done"
B_PID=$BG_PID
wait_runs 2
for ((i = 0; i < 50; i++)); do
	[ "$(udp_ports 127.0.0.1 | wc -l)" -ge 4 ] && break
	sleep 0.1
done
udp_ports 127.0.0.1 >"$T/all.ports"
assert_eq "the daemon listens on 4 loopback UDP ports (2 runs, 2 workers)" 4 \
	"$(wc -l <"$T/all.ports")"
# Renamed into place: A reads it the moment it exists.
cp "$T/all.ports" "$T/a.ports.tmp" && mv "$T/a.ports.tmp" "$T/a.ports"
wait_exists "$T/a.done3" 30
assert_eq "A reaches its own 2 UDP listeners, no other" 2 "$(grep -c '^sent ' "$T/a-ports.out")"
assert_eq "A: B's 2 UDP listeners (owner and replica) refused EPERM" 2 \
	"$(grep -c '^refused [0-9]* 1$' "$T/a-ports.out")"
assert_file_has "the refusal is logged as a send to another guard's listener" \
	"PACKET BLOCKED .*reason=ProxyOfAnotherGuard .*run=$(re_quote "$A_ID")" "$T/daemon.log"

touch "$T/a.stop" "$T/b.stop"
bg_wait "$A_PID" 30
assert_eq "A's run exits 0" 0 "$RC"
bg_wait "$B_PID" 30
for ((i = 0; i < 50; i++)); do
	[ "$(sockets)" -le "$base" ] && break
	sleep 0.1
done
assert_eq "both runs over: every listener of their guards closed" "$base" "$(sockets)"

# The report: every name A asked, from both workers, counted once each.
"$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
names = {e["name"]: e for e in r["names"]}
ok = [n for n in names if n.endswith(".ok.test") and n != "again.ok.test"]
bl = [n for n in names if n.endswith(".blocked.test") and names[n]["verdict"] == "blocked"]
later = [n for n in names if n.endswith(".later.test") and names[n]["verdict"] == "blocked"]
print(len(ok), len(bl), len(later), sum(names[n]["count"] for n in ok),
      all(names[n]["addresses"] == ["127.0.0.3"] for n in ok), names["again.ok.test"]["count"])' \
	"$T/a.json" >"$T/a-report.txt" 2>&1
assert_eq "report: 120 allowed names with their address, 40 + 40 blocked, each asked once; \
the name asked 10 times from both workers counted 10" "120 40 40 120 True 10" \
	"$(cat "$T/a-report.txt")"

daemon_stop
DAEMON_ARGS=(--workers 2)
daemon_start
guarded_bg c "${RUN[@]}" -- bash -c "'$PY' '$FAIRDNS' seq 127.0.0.53 20 one.test >'$T/c.out'; \
	touch '$T/c.done'; for i in \$(seq 600); do [ -e '$T/c.stop' ] && break; sleep 0.05; done"
C_PID=$BG_PID
wait_exists "$T/c.done" 30
status_json "$T/st2.json"
touch "$T/c.stop"
bg_wait "$C_PID" 30
assert_eq "default spread: 20 lookups answered" 20 "$(grep -c 'NOERROR 127\.0\.0\.3$' "$T/c.out")"
assert_eq "default spread: the guard is served by one worker, which decided all 20" "1 20 1 20" \
	"$(served "$T/st2.json" "$("$PY" -c 'import json, sys
print(json.load(open(sys.argv[1]))[0]["id"])' "$T/st2.json" 2>&1)")"
assert_file_has "default spread: the ready line says spread=1" '^INFO depfenced ready .* spread=1 ' \
	"$T/daemon.log"

assert_file_lacks "no system call of the workers refused" 'seccomp refused' "$T/daemon.log"
daemon_stop
assert_no_run_cgroups "no run cgroup left"
e2e_done
