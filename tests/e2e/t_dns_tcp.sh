#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# DNS over TCP through the guard (RFC 7766), in both modes, from a python
# client on one connection to 127.0.0.53:53:
# - three queries one after the other on one connection, then three written
#   back to back in one send (pipelining): every answer comes back on that
#   connection, each matched to its query by id with its own question and
#   rcode (a forwarded name, a refused one, an NXDOMAIN);
# - queries followed by a half-close: answered, then the proxy closes;
# - an idle client (connects, sends nothing) is closed by the proxy after
#   about 10 s, and so is one that announces a 60000-byte query and stalls;
#   meanwhile the proxy answers others over UDP and TCP at once, and after.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start

# expect_reply NAME SPEC ERE: run NAME's probe printed a reply to SPEC matching ERE.
expect_reply()
{
	local line
	line=$(grep -F "reply $2 " "$(rf "$1" out)" | head -n 1)
	if [[ $line =~ $3 ]]; then
		pass "$1: reply to $2: ${line#reply "$2" }"
	else
		fail "$1: reply to $2 matching $3" "seen: ${line:-none}" "output:" "$(_show "$(rf "$1" out)" 20)"
	fi
}

# expect_probe NAME KEY ERE: the probe's line "KEY ..." matches ERE.
expect_probe()
{
	local line
	line=$(grep -E "^$2 " "$(rf "$1" out)" | head -n 1)
	if [[ $line =~ $3 ]]; then
		pass "$1: $line"
	else
		fail "$1: $2 matching $3" "seen: ${line:-none}" "output:" "$(_show "$(rf "$1" out)" 20)"
	fi
}

# closed_in NAME WHICH LOW HIGH: the proxy closed connection WHICH between LOW and HIGH ms.
closed_in()
{
	local line ms
	line=$(grep -E "^closed $2 " "$(rf "$1" out)")
	ms=$(sed -n 's/.* ms=\([0-9]*\) .*/\1/p' <<<"$line")
	if [[ $ms =~ ^[0-9]+$ ]] && [ "$ms" -ge "$3" ] && [ "$ms" -lt "$4" ]; then
		pass "$1: the $2 connection was closed after $ms ms (in [$3, $4))"
	else
		fail "$1: the $2 connection is closed within [$3, $4) ms" "seen: ${line:-none}" \
			"output:" "$(_show "$(rf "$1" out)" 20)"
	fi
}

scenario()
{
	local a b c ok

	uniq_name allowed.test; a=$UNAME
	uniq_name allowed.test; b=$UNAME
	ok='rcode=NOERROR qr=1 tc=0 rd=1 qd=1 an=1 len=[0-9]+ qname=QN addrs=127\.0\.0\.3$'

	guarded seq -- "$PY" "$DNSPROBE" tcp 127.0.0.53 seq "$a" github.com nx.test
	expect_probe seq replies: "^replies: 3 of 3$"
	expect_reply seq "$a" "${ok/QN/$(re_quote "$a")}"
	expect_reply seq github.com "rcode=REFUSED qr=1 .* qname=github\.com addrs=-$"
	expect_reply seq nx.test "rcode=NXDOMAIN qr=1 .* qname=nx\.test addrs=-$"
	assert_block seq github.com

	guarded pipe -- "$PY" "$DNSPROBE" tcp 127.0.0.53 pipe "$b" github.com nx.test/AAAA
	expect_probe pipe replies: "^replies: 3 of 3$"
	expect_reply pipe "$b" "${ok/QN/$(re_quote "$b")}"
	expect_reply pipe github.com "rcode=REFUSED qr=1 .* qname=github\.com addrs=-$"
	expect_reply pipe nx.test/AAAA "rcode=NXDOMAIN qr=1 .* qname=nx\.test addrs=-$"
	assert_dns_saw A "$b"

	# Half-closed after the queries (the client sends no more): the answers
	# still come, then the proxy closes.
	uniq_name allowed.test; c=$UNAME
	guarded half -- "$PY" "$DNSPROBE" tcp 127.0.0.53 half "$c" github.com
	expect_probe half replies: "^replies: 2 of 2$"
	expect_reply half "$c" "${ok/QN/$(re_quote "$c")}"
	expect_reply half github.com "rcode=REFUSED qr=1 .* qname=github\.com addrs=-$"
	expect_probe half then: "^then: eof$"
}

# slow_start: the idle and stalled clients of this mode, in the background.
slow_start()
{
	uniq_name allowed.test
	SLOW_NAME[$MODE]=$UNAME
	guarded_bg slow -- "$PY" "$DNSPROBE" slow 127.0.0.53 "$UNAME"
	SLOW_PID[$MODE]=$BG_PID
}

slow_check()
{
	bg_wait "${SLOW_PID[$MODE]}" 25
	assert_eq "slow: the probe ended by itself, status 0" 0 "$RC"
	expect_probe slow during-udp "^during-udp id=.* rcode=NOERROR .* addrs=127\.0\.0\.3 ms=[0-9]+$"
	expect_probe slow during-tcp "^during-tcp id=.* rcode=NOERROR .* addrs=127\.0\.0\.3 ms=[0-9]+$"
	closed_in slow idle 8000 15000
	closed_in slow stall 1 15000
	expect_probe slow after-tcp "^after-tcp id=.* rcode=NOERROR .* addrs=127\.0\.0\.3 ms=[0-9]+$"
	assert_dns_saw A "${SLOW_NAME[$MODE]}"
}
declare -A SLOW_NAME SLOW_PID

for_each_mode scenario
# The ~10 s waits of both modes at once.
for_each_mode slow_start
for_each_mode slow_check
assert_no_run_cgroups "no run cgroup left"
e2e_done
