#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Malformed queries from a guarded process, in both modes, over UDP (one
# connected socket to 127.0.0.53:53) and TCP (frames on one connection):
# - 3 bytes (no header) and an empty frame: no answer;
# - a header with QDCOUNT 0, a name that is a pointer to itself, and a name
#   whose pointer leads back to its own first label (a compression loop):
#   FORMERR with the query's id, QR set, no question;
# - a message with QR set (a response, not a query): no answer;
# - opcode STATUS: NOTIMP;
# then a normal query on the same socket or connection is answered, the
# daemon is still running, and a new run resolves.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start

# Messages in hex: id, flags, then QDCOUNT ANCOUNT NSCOUNT ARCOUNT, then the question.
RD=0100                            # flags: a query (opcode 0) with RD
QD1=0001000000000000               # one question
QD0=0000000000000000               # none
ALLOWED=07616c6c6f7765640474657374 # allowed.test
QTAIL=00010001                     # type A, class IN
MSGS=(
	short=be0001
	"qd0=be01$RD$QD0"
	"self=be02$RD${QD1}c00c$QTAIL"
	"loop=be03$RD${QD1}0161c00c$QTAIL"
	"response=be048180$QD1${ALLOWED}00$QTAIL"
	"status=be051100$QD1${ALLOWED}00$QTAIL"
	"normal=be06$RD$QD1${ALLOWED}00$QTAIL"
)

# expect_raw NAME LABEL ERE: the probe's reply to message LABEL matches ERE.
expect_raw()
{
	local line
	line=$(grep -E "^reply $2 " "$(rf "$1" out)" | head -n 1)
	if [[ $line =~ $3 ]]; then
		pass "$1: $2: ${line#reply "$2" }"
	else
		fail "$1: $2: reply matching $3" "seen: ${line:-none}" "output:" "$(_show "$(rf "$1" out)" 20)"
	fi
}

scenario()
{
	local p extra
	for p in udp tcp; do
		extra=()
		[ "$p" = tcp ] && extra=(empty=)
		guarded "$p" -- "$PY" "$DNSPROBE" "$p-raw" 127.0.0.53 "${MSGS[0]}" "${extra[@]}" \
			"${MSGS[@]:1}"
		expect_raw "$p" short '^reply short none$'
		[ "$p" = tcp ] && expect_raw "$p" empty '^reply empty none$'
		expect_raw "$p" qd0 '^reply qd0 id=be01 rcode=FORMERR qr=1 tc=0 rd=1 qd=0 an=0 len=12 '
		expect_raw "$p" self '^reply self id=be02 rcode=FORMERR qr=1 tc=0 rd=1 qd=0 an=0 len=12 '
		expect_raw "$p" loop '^reply loop id=be03 rcode=FORMERR qr=1 tc=0 rd=1 qd=0 an=0 len=12 '
		expect_raw "$p" response '^reply response none$'
		expect_raw "$p" status '^reply status id=be05 rcode=NOTIMP qr=1 .* qd=1 an=0 .*qname=allowed\.test '
		expect_raw "$p" normal '^reply normal id=be06 rcode=NOERROR qr=1 .* an=1 .*addrs=127\.0\.0\.3$'
	done
	if [ "$MODE" = daemon ]; then
		if kill -0 "$DAEMON_PID" 2>/dev/null; then pass "depfenced still runs"; else fail "depfenced still runs"; fi
	fi
	uniq_name allowed.test
	guarded after -- dig +tries=1 +time=3 @127.0.0.53 "$UNAME"
	expect_dig after NOERROR 127.0.0.3
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
