#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Block log folding (docs/design.md, "Folding"), embedded and through the
# daemon:
#  - dnsperf floods 20 blocked (name, type) pairs for 2 s: its block lines are
#    at most 20% of its refused queries, yet the lines account for every
#    refusal (each line 1, each summary its repeated=N) and that sum is what
#    the run report (and, through the daemon, the Prometheus counter) counted;
#    every repeated= line is a line written before it, plus repeated=N;
#  - 300 refused connects to 300 ports of a block-ip address in well under a
#    second: the BPF side sends at most DF_EV_BURST events, the lines account
#    for all 300, as do the report and the metrics;
#  - audit mode: 100 lookups of one name, logged blocked=false, fold the same;
#  - --log-format json: the summary carries "repeated" as a number.
# Loopback only: dnsperf and the connects target 127.0.0.53 / 127.0.0.6.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock blocked.test\nblock-ip 127.0.0.6/32\n' >"$CONF/policies/flood.policy"
for i in $(seq 10); do printf 'n%d.blocked.test A\nn%d.blocked.test AAAA\n' "$i" "$i"; done >"$T/names"
DNSPERF=$(readlink -f "$(command -v dnsperf)")
BURST=$(awk '$2 == "DF_EV_BURST" { print $3 }' "$E2E_DIR/../../bpf/dnsguard.h")

for ((try = 0; try < 10; try++)); do
	MPORT=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
	ss -Hltn "sport = :$MPORT" | grep -q . || break
done
DAEMON_ARGS=(--metrics-listen "127.0.0.1:$MPORT")

# acct FILE KIND PID: "LINES TOTAL SUMMARIES BAD" for the KIND BLOCKED lines
# (logfmt or JSON) of PID in FILE: how many lines, the refusals they account
# for (1 a line, N a repeated=N line), how many summaries, and how many
# summaries are not a line written before them plus " repeated=N".
acct()
{
	"$PY" - "$@" <<'EOP'
import json, re, sys
path, kind, pid = sys.argv[1:]
lines = total = summaries = bad = 0
seen = set()
for raw in open(path, encoding="utf-8", errors="replace"):
    raw = raw.rstrip("\n")
    if raw.startswith("{"):
        o = json.loads(raw)
        if o.get("msg") != kind + " BLOCKED" or o.get("pid") != int(pid):
            continue
        rep = o.pop("repeated", None)
        key = json.dumps(o)
        if rep is not None and not isinstance(rep, int):
            bad += 1
    else:
        if not raw.startswith("WARN " + kind + " BLOCKED ") or f" pid={pid} " not in raw:
            continue
        m = re.search(r" repeated=(\d+)$", raw)
        rep = int(m.group(1)) if m else None
        key = raw[: m.start()] if m else raw
    lines += 1
    if rep is None:
        total += 1
        seen.add(key)
    else:
        summaries += 1
        total += rep
        if key not in seen or rep < 1:
            bad += 1
print(lines, total, summaries, bad)
EOP
}

# report_sum FILE WHAT: the run report's count of blocked names (WHAT names) or
# of packet refusals (WHAT refusals).
report_sum()
{
	"$PY" -c 'import json, sys
rep = json.load(open(sys.argv[1]))
if sys.argv[2] == "names":
    print(sum(e["count"] for e in rep["names"] if e["verdict"] == "blocked"))
else:
    print(sum(e["count"] for e in rep["refusals"] if e["reason"] == "FromIPRule"))' "$1" "$2" 2>/dev/null
}

# metric SAMPLE: its value in the daemon's /metrics, 0 if absent.
metric()
{
	curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" 2>/dev/null |
		awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'
}
BLOCKED_Q='depfence_dns_queries_total{policy="flood",verdict="blocked"}'
PKT_Q='depfence_packets_blocked_total{policy="flood",reason="FromIPRule"}'

# check_summary KIND NAME DESC: the first repeated= line of NAME's client has
# the fields of EXP (set by the caller, repeated= aside).
check_summary()
{
	local line
	line=$(grep -a "^WARN $1 BLOCKED " "$(block_log "$2")" | grep -F " pid=$CPID " |
		grep -m1 -E ' repeated=[0-9]+$')
	EXP[repeated]=${line##* repeated=}
	[ -n "$line" ] || EXP[repeated]='<none>'
	_check_line "$1" "$2" "$3" repeated
}

# settle FILE KIND PID WANT: wait (up to 4 s) until the lines account for WANT
# refusals: the last windows close a second after their last line.
settle()
{
	local i
	for ((i = 0; i < 40; i++)); do
		read -r -a ACCT < <(acct "$1" "$2" "$3")
		[ "${ACCT[1]}" = "$4" ] && return 0
		sleep 0.1
	done
}

dns_flood()
{
	local m0=0 log sum done_q
	[ "$MODE" = daemon ] && m0=$(metric "$BLOCKED_Q")
	guarded flood --policy flood --report "$(rf flood json)" -- \
		dnsperf -s 127.0.0.53 -p 53 -d "$T/names" -l 2 -c 4 -q 256
	assert_eq "flood: dnsperf ran" 0 "$RC"
	done_q=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' "$(rf flood out)")
	sum=$(report_sum "$(rf flood json)" names)
	assert_gt "flood: a flood (refusals in the report)" 5000 "${sum:-0}"
	assert_gt "flood: dnsperf got answers" 0 "${done_q:-0}"
	if [ "${done_q:-0}" -le "${sum:-0}" ]; then
		pass "flood: the report counts every answered query ($done_q <= $sum)"
	else
		fail "flood: the report counts every answered query" "dnsperf: $done_q, report: $sum"
	fi
	log=$(block_log flood)
	settle "$log" DNS "$CPID" "$sum"
	assert_eq "flood: the lines account for every refusal the report counts" "$sum" "${ACCT[1]}"
	assert_lt "flood: lines x 5 <= refusals (${ACCT[0]} lines, $sum refused)" $((sum + 1)) $((ACCT[0] * 5))
	assert_gt "flood: repeated= summaries written" 0 "${ACCT[2]}"
	assert_eq "flood: every summary repeats a line written before it" 0 "${ACCT[3]}"
	echo "# [$MODE] flood: ${ACCT[0]} lines (${ACCT[2]} summaries) for $sum refused queries"
	if [ "$MODE" = daemon ]; then
		assert_eq "flood: the metrics count every refusal" "$sum" $(($(metric "$BLOCKED_Q") - m0))
	fi
	# A summary's own fields, as a block line's.
	EXP=([reason]=FromDNSRequest [blockedAt]=dns [qtype]='~^(A|AAAA)$'
		[domain]='~^n[0-9]+\.blocked\.test$' [rule]=flood.policy:2
		[exe]="$DNSPERF" [run]='~^run-')
	_exp_common flood policy=flood
	check_summary DNS flood "a repeated= summary"
}

packet_flood()
{
	local m0=0 log sum
	[ "$MODE" = daemon ] && m0=$(metric "$PKT_Q")
	guarded pk --policy flood --report "$(rf pk json)" -- "$PY" -c 'import errno, socket
n = 0
for port in range(20000, 20300):
    s = socket.socket()
    try:
        s.connect(("127.0.0.6", port))
    except OSError as e:
        n += e.errno == errno.EPERM
    s.close()
print("eperm", n)'
	assert_eq "pk: 300 connects refused with EPERM" "eperm 300" "$(cat "$(rf pk out)")"
	sum=$(report_sum "$(rf pk json)" refusals)
	assert_eq "pk: the report counts 300 refusals" 300 "$sum"
	log=$(block_log pk)
	settle "$log" PACKET "$CPID" 300
	assert_eq "pk: the lines account for 300 refusals" 300 "${ACCT[1]}"
	assert_lt "pk: at most DF_EV_BURST lines of their own (+ summaries)" $((2 * BURST + 1)) \
		$((ACCT[0] - ACCT[2]))
	assert_gt "pk: a repeated= summary" 0 "${ACCT[2]}"
	assert_eq "pk: every summary repeats a line written before it" 0 "${ACCT[3]}"
	if [ "$MODE" = daemon ]; then
		assert_eq "pk: the metrics count 300 refusals" 300 $(($(metric "$PKT_Q") - m0))
	fi
	EXP=([reason]=FromIPRule [blockedAt]=packet [ip]=127.0.0.6 [port]='~^20[0-9]{3}$' [proto]=tcp
		[rule]=flood.policy:3)
	_exp_common pk policy=flood
	check_summary PACKET pk "a repeated= summary"
}

audit_fold()
{
	guarded audit --mode audit --block blocked.test -- "$PY" -c 'import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
q = struct.pack(">HHHHHH", 7, 0x100, 1, 0, 0, 0) + b"\x05audit\x07blocked\x04test\x00\x00\x01\x00\x01"
n = 0
for i in range(100):
    s.sendto(q, ("127.0.0.53", 53))
    n += len(s.recv(512)) > 0
print("answered", n)'
	assert_eq "audit: 100 lookups answered" "answered 100" "$(cat "$(rf audit out)")"
	settle "$(block_log audit)" DNS "$CPID" 100
	assert_eq "audit: the lines account for 100 lookups" 100 "${ACCT[1]}"
	assert_lt "audit: folded (at most 4 lines)" 5 "${ACCT[0]}"
	EXP=([reason]=FromDNSRequest [blockedAt]=dns [domain]=audit.blocked.test [qtype]=A)
	_exp_common audit policy=inline firewallMethod=audit blocked=false
	check_summary DNS audit "a blocked=false summary"
}

scenario()
{
	dns_flood
	packet_flood
	audit_fold
}
for_each_mode scenario

# JSON lines carry repeated as a number (embedded: the run's own log).
use_mode embedded
guarded json --log-format json --policy flood -- dnsperf -s 127.0.0.53 -p 53 -d "$T/names" -l 1 -c 2 -q 64
assert_eq "json: dnsperf ran" 0 "$RC"
read -r -a ACCT < <(acct "$(rf json err)" DNS "$CPID")
assert_gt "json: repeated summaries" 0 "${ACCT[2]}"
assert_eq "json: each summary is a line before it, repeated a number" 0 "${ACCT[3]}"
assert_lt "json: lines x 5 <= refusals" $((ACCT[1] + 1)) $((ACCT[0] * 5))
MODE=
assert_no_run_cgroups "no run cgroup left"
e2e_done
