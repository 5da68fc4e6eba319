#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Allowlist packet enforcement (docs/design.md, "Packet enforcement"):
#  - isolation: two runs under the same allowlist policy at once; run A looks
#    up allowed.test (127.0.0.3) and reaches it, run B, which did not, gets
#    EPERM (NotInAllowlist) for the same address while A still reaches it:
#    another cgroup's lookup does not open an address.
#  - allow-ip: a /32 is reachable with no lookup, its neighbour is not; a /24
#    covers every address in it and nothing outside.
#  - a process that moved into a sub-cgroup of its run is still guarded by the
#    run's registration, and what DNS handed it opens the address for it.
#  - loopback is not exempt: the upstream resolver itself (127.0.0.1) is
#    refused, while DNS through the proxy works.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
pk_init
pk_dns_start

printf 'mode allowlist\nallow allowed.test\n' >"$CONF/policies/al.policy"
printf 'mode allowlist\nallow allowed.test\nallow-ip 127.0.0.4/32\n' >"$CONF/policies/al32.policy"
printf 'mode allowlist\nallow-ip 127.0.0.0/24\n' >"$CONF/policies/al24.policy"
pk_listen al 127.0.0.3 127.0.0.4 127.0.0.5 || die "listeners on 127.0.0.3-5"
P=$LPORT

isolation()
{
	rm -f "$T/a-ready" "$T/b-done"
	pk_client_bg iso-a --policy al -- dns,A,allowed.test "tcp,127.0.0.3,$P" touch,a-ready \
		wait,b-done,20 "tcp,127.0.0.3,$P" "udp,127.0.0.3,$P"
	local a=$BG_PID
	pk_ready iso-a a-ready
	local apid=$CPID

	pk_client iso-b --policy al -- "tcp,127.0.0.3,$P" udp,127.0.0.3,9205
	expect_steps iso-b "tcp 127.0.0.3 $P EPERM" "udp 127.0.0.3 9205 EPERM"
	expect_fast iso-b
	assert_packet iso-b 127.0.0.3 "$P" NotInAllowlist policy=al firewallMethod=allowlist
	assert_packet iso-b 127.0.0.3 9205 NotInAllowlist policy=al firewallMethod=allowlist proto=udp

	touch "$T/b-done"
	pk_bg_done iso-a "$a"
	expect_steps iso-a "dns A allowed.test NOERROR 127.0.0.3" "tcp 127.0.0.3 $P OK" \
		"touch a-ready" "wait b-done OK" "tcp 127.0.0.3 $P OK" "udp 127.0.0.3 $P OK"
	assert_eq "iso-a: no PACKET line" 0 "$(pk_packet_lines iso-a "$apid")"
	if pk_heard al udp 127.0.0.3 "udp-from-$apid" 2; then
		pass "iso-a: its datagram to 127.0.0.3 arrived"
	else
		fail "iso-a: its datagram to 127.0.0.3 arrived" "$(_show "$T/listen-al.log")"
	fi

	# A new run after A is gone: A's lookup left nothing behind for it either.
	pk_client iso-c --policy al -- "tcp,127.0.0.3,$P"
	expect_steps iso-c "tcp 127.0.0.3 $P EPERM"
}

allow_ip()
{
	pk_client ip32 --policy al32 -- "tcp,127.0.0.4,$P" "udp,127.0.0.4,$P" tcp,127.0.0.5,9201 \
		tcp,127.0.0.3,9202 "tcp,127.0.0.1,$DNS_PORT" dns,A,allowed.test "tcp,127.0.0.3,$P"
	expect_steps ip32 "tcp 127.0.0.4 $P OK" "udp 127.0.0.4 $P OK" "tcp 127.0.0.5 9201 EPERM" \
		"tcp 127.0.0.3 9202 EPERM" "tcp 127.0.0.1 $DNS_PORT EPERM" \
		"dns A allowed.test NOERROR 127.0.0.3" "tcp 127.0.0.3 $P OK"
	expect_fast ip32
	assert_packet ip32 127.0.0.5 9201 NotInAllowlist policy=al32 firewallMethod=allowlist
	assert_packet ip32 127.0.0.1 "$DNS_PORT" NotInAllowlist policy=al32 firewallMethod=allowlist
	assert_eq "ip32: 3 PACKET lines, none for allow-ip or handed addresses" 3 \
		"$(pk_packet_lines ip32 "$CPID")"
	if pk_heard al udp 127.0.0.4 "udp-from-$CPID" 2; then
		pass "ip32: the datagram to 127.0.0.4 arrived"
	else
		fail "ip32: the datagram to 127.0.0.4 arrived" "$(_show "$T/listen-al.log")"
	fi

	pk_client ip24 --policy al24 -- "tcp,127.0.0.4,$P" "tcp,127.0.0.5,$P" "tcp,127.0.0.3,$P" \
		tcp,127.0.1.5,9203 tcp,127.1.0.5,9204
	expect_steps ip24 "tcp 127.0.0.4 $P OK" "tcp 127.0.0.5 $P OK" "tcp 127.0.0.3 $P OK" \
		"tcp 127.0.1.5 9203 EPERM" "tcp 127.1.0.5 9204 EPERM"
	assert_packet ip24 127.0.1.5 9203 NotInAllowlist policy=al24 firewallMethod=allowlist
}

subcgroup()
{
	pk_client sub --policy al -- subcg,job tcp,127.0.0.3,9206 dns,A,allowed.test "tcp,127.0.0.3,$P"
	expect_steps sub "subcg job OK" "tcp 127.0.0.3 9206 EPERM" "dns A allowed.test NOERROR 127.0.0.3" \
		"tcp 127.0.0.3 $P OK"
	assert_packet sub 127.0.0.3 9206 NotInAllowlist policy=al firewallMethod=allowlist
}

scenario()
{
	isolation
	allow_ip
	subcgroup
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
