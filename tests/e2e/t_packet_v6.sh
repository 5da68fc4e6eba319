#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Packet enforcement over IPv6 (docs/design.md, "Packet enforcement"):
#  - block-ip of a v6 address (::1/128) and of a v6 CIDR (a /64 of fd00::/8
#    addresses this test puts on lo): a guarded TCP connect and UDP send fail
#    at once with EPERM, logged with ip= the v6 address (FromIPRule); an address
#    just outside the CIDR, and v4, stay reachable; audit mode lets it through
#    and logs blocked=false.
#  - allowlist with AAAA: [::1]:port and a ULA are unreachable before the
#    guarded process looks up a name resolving to them (NotInAllowlist), and
#    reachable after, DNS asked over v6 ([::1]:53) as well as v4.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
pk_init
pk_ula
IN=$PK_ULA::5                                             # inside the blocked /64
OUT=$(printf '%s:%x::5' "${PK_ULA%:*}" $((0x${PK_ULA##*:} ^ 1))) # the /64 next to it
pk_addr_add "$IN/128"
pk_addr_add "$OUT/128"
pk_dns_start --address=/ula.test/"$OUT"

printf 'mode blocklist\nblock-ip ::1/128\nblock-ip %s::/64\n' "$PK_ULA" >"$CONF/policies/v6block.policy"
printf 'mode allowlist\nallow v6.test\nallow ula.test\n' >"$CONF/policies/v6allow.policy"
pk_listen v6 ::1 "$IN" "$OUT" 127.0.0.2 || die "listener on ::1, $IN, $OUT, 127.0.0.2"
P=$LPORT

scenario()
{
	# Blocked ports have no listener: without the block the client would see
	# ECONNREFUSED, not EPERM. Each gets its own port, so each line is found.
	pk_client v6ip --policy v6block -- tcp,::1,9101 udp,::1,9102 "tcp,$IN,9103" "udp,$IN,9104" \
		"tcp,$OUT,$P" "udp,$OUT,$P" "tcp,127.0.0.2,$P"
	expect_steps v6ip "tcp ::1 9101 EPERM" "udp ::1 9102 EPERM" "tcp $IN 9103 EPERM" \
		"udp $IN 9104 EPERM" "tcp $OUT $P OK" "udp $OUT $P OK" "tcp 127.0.0.2 $P OK"
	expect_fast v6ip
	assert_packet v6ip ::1 9101 FromIPRule policy=v6block
	assert_packet v6ip ::1 9102 FromIPRule policy=v6block proto=udp
	assert_packet v6ip "$IN" 9103 FromIPRule policy=v6block
	assert_packet v6ip "$IN" 9104 FromIPRule policy=v6block proto=udp
	assert_eq "v6ip: 4 PACKET lines, none for the allowed address" 4 "$(pk_packet_lines v6ip "$CPID")"
	if pk_heard v6 udp "$OUT" "udp-from-$CPID" 2; then
		pass "v6ip: the datagram to $OUT arrived"
	else
		fail "v6ip: the datagram to $OUT arrived" "$(_show "$T/listen-v6.log")"
	fi

	pk_client v6audit --policy v6block --mode audit -- tcp,::1,9105 "tcp,$IN,$P"
	expect_steps v6audit "tcp ::1 9105 ECONNREFUSED" "tcp $IN $P OK"
	assert_packet v6audit ::1 9105 FromIPRule policy=v6block blocked=false firewallMethod=audit

	pk_client v6allow --policy v6allow -- "tcp,::1,$P" "udp,::1,9106" "tcp,$OUT,$P" \
		dns6,AAAA,v6.test "tcp,::1,$P" "udp,::1,$P" dns,AAAA,ula.test "tcp,$OUT,$P" \
		"tcp,$IN,9107"
	expect_steps v6allow "tcp ::1 $P EPERM" "udp ::1 9106 EPERM" "tcp $OUT $P EPERM" \
		"dns AAAA v6.test NOERROR ::1" "tcp ::1 $P OK" "udp ::1 $P OK" \
		"dns AAAA ula.test NOERROR $OUT" "tcp $OUT $P OK" "tcp $IN 9107 EPERM"
	expect_fast v6allow
	assert_packet v6allow ::1 "$P" NotInAllowlist policy=v6allow firewallMethod=allowlist
	assert_packet v6allow ::1 9106 NotInAllowlist policy=v6allow firewallMethod=allowlist proto=udp
	assert_packet v6allow "$IN" 9107 NotInAllowlist policy=v6allow firewallMethod=allowlist
	if pk_heard v6 udp ::1 "udp-from-$CPID" 2; then
		pass "v6allow: the datagram to ::1 after the lookup arrived"
	else
		fail "v6allow: the datagram to ::1 after the lookup arrived" "$(_show "$T/listen-v6.log")"
	fi
}
for_each_mode scenario
pk_addrs_remove
assert_eq "the ULA addresses are off lo again" "" "$(ip -6 addr show dev lo | grep -F "${PK_ULA%:*}:")"
assert_no_run_cgroups "no run cgroup left"
e2e_done
