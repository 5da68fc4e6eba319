#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# No event per allowed packet (docs/design.md, "Packet enforcement"): a guarded
# run that makes 200 allowed TCP connects (blocklist: to an address no rule
# names; allowlist: 200 to a handed address and 100 to an allow-ip one) logs
# no PACKET line, and DF_CNT_IP_BLOCKED and DF_CNT_EVENTS_LOST do not move.
# The control: one refused connect afterwards moves IP_BLOCKED by exactly one
# and logs exactly one line.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
pk_init
pk_dns_start

printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.6/32\n' >"$CONF/policies/qb.policy"
printf 'mode allowlist\nallow allowed.test\nallow-ip 127.0.0.4/32\n' >"$CONF/policies/qa.policy"
pk_listen q 127.0.0.2 127.0.0.3 127.0.0.4 || die "listeners on 127.0.0.2-4"
P=$LPORT

# quiet NAME POLICY STEP...: run the STEPs between two counter readings, then
# one refused connect (127.0.0.6:9501, or not allowed) and a third reading.
# The hand-shake files are $T/QTAG-0..5.
quiet()
{
	local name=$1 policy=$2 run cnt b0 b1 b2 l0 l1 tag
	tag=${MODE:0:1}${1:1:1}
	QTAG=$tag
	shift 2
	rm -f "$T/$tag"-?
	pk_client_bg "$name" --policy "$policy" -- "touch,$tag-0" "wait,$tag-1,10" "$@" \
		"touch,$tag-2" "wait,$tag-3,10" tcp,127.0.0.6,9501 "touch,$tag-4" "wait,$tag-5,10"
	run=$BG_PID
	pk_ready "$name" "$tag-0"
	cnt=$(pk_map counters "$CPID")
	b0=$(pk_counter "$cnt" IP_BLOCKED)
	l0=$(pk_counter "$cnt" EVENTS_LOST)
	touch "$T/$tag-1"
	pk_wait_file "$T/$tag-2" 20 || fail "$name: the allowed connects ended within 20 s"
	b1=$(pk_counter "$cnt" IP_BLOCKED)
	assert_eq "$name: PACKET lines after the allowed connects" 0 "$(pk_packet_lines "$name" "$CPID")"
	touch "$T/$tag-3"
	pk_wait_file "$T/$tag-4" 10 || fail "$name: the refused connect returned"
	b2=$(pk_counter "$cnt" IP_BLOCKED)
	l1=$(pk_counter "$cnt" EVENTS_LOST)
	touch "$T/$tag-5"
	pk_bg_done "$name" "$run"
	assert_eq "$name: IP_BLOCKED before, after the allowed connects, after one refused (map $cnt)" \
		"$b0 $b0 $((b0 + 1))" "$b0 $b1 $b2"
	assert_eq "$name: EVENTS_LOST did not move" "$l0" "$l1"
	assert_eq "$name: exactly one PACKET line, for the refused connect" 1 \
		"$(pk_packet_lines "$name" "$CPID")"
}

scenario()
{
	quiet qblock qb "many,127.0.0.2,$P,200" "udp,127.0.0.2,$P"
	local t
	t=$QTAG
	expect_steps qblock "touch $t-0" "wait $t-1 OK" "many 127.0.0.2 $P 200 0" "udp 127.0.0.2 $P OK" \
		"touch $t-2" "wait $t-3 OK" "tcp 127.0.0.6 9501 EPERM" "touch $t-4" "wait $t-5 OK"
	assert_packet qblock 127.0.0.6 9501 FromIPRule policy=qb

	quiet qallow qa dns,A,allowed.test "many,127.0.0.3,$P,200" "many,127.0.0.4,$P,100"
	t=$QTAG
	expect_steps qallow "touch $t-0" "wait $t-1 OK" "dns A allowed.test NOERROR 127.0.0.3" \
		"many 127.0.0.3 $P 200 0" "many 127.0.0.4 $P 100 0" "touch $t-2" "wait $t-3 OK" \
		"tcp 127.0.0.6 9501 EPERM" "touch $t-4" "wait $t-5 OK"
	assert_packet qallow 127.0.0.6 9501 NotInAllowlist policy=qa firewallMethod=allowlist
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
