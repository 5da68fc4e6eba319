#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Packet enforcement over IPv6 (docs/design.md, "Packet enforcement"):
#  - block-ip of a v6 address (::1/128) and of a v6 CIDR (a /64 of fd00::/8
#    addresses this test puts on lo): a guarded TCP connect and UDP send fail
#    at once with EPERM (a TCP fast open sendto() too), logged with ip= the v6
#    address (FromIPRule); an address just outside the CIDR, and v4, stay
#    reachable; audit mode lets it through and logs blocked=false.
#  - allowlist with AAAA: [::1]:port and a ULA are unreachable before the
#    guarded process looks up a name resolving to them (NotInAllowlist), and
#    reachable after, DNS asked over v6 ([::1]:53) as well as v4.
#  - v4-mapped destinations on a v6 socket (::ffff:127.0.0.6) obey the v4
#    rules and are logged as the v4 address.
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

printf 'mode blocklist\nblock-ip ::1/128\nblock-ip %s::/64\nblock-ip 127.0.0.6/32\n' "$PK_ULA" >"$CONF/policies/v6block.policy"
printf 'mode allowlist\nallow v6.test\nallow ula.test\nallow allowed.test\n' >"$CONF/policies/v6allow.policy"
pk_listen v6 ::1 "$IN" "$OUT" 127.0.0.2 127.0.0.3 || die "listeners on ::1, $IN, $OUT, 127.0.0.2-3"
P=$LPORT

scenario()
{
	# Blocked ports have no listener: without the block the client would see
	# ECONNREFUSED, not EPERM. Each gets its own port, so each line is found.
	pk_client v6ip --policy v6block -- tcp,::1,9101 udp,::1,9102 "tcp,$IN,9103" "udp,$IN,9104" \
		tcp,::ffff:127.0.0.6,9108 "tfo,$IN,9110"
	expect_steps v6ip "tcp ::1 9101 EPERM" "udp ::1 9102 EPERM" "tcp $IN 9103 EPERM" \
		"udp $IN 9104 EPERM" "tcp ::ffff:127.0.0.6 9108 EPERM" "tfo $IN 9110 EPERM"
	expect_fast v6ip
	assert_packet v6ip ::1 9101 FromIPRule policy=v6block
	assert_packet v6ip ::1 9102 FromIPRule policy=v6block proto=udp
	assert_packet v6ip "$IN" 9103 FromIPRule policy=v6block
	assert_packet v6ip "$IN" 9104 FromIPRule policy=v6block proto=udp
	assert_packet v6ip 127.0.0.6 9108 FromIPRule policy=v6block
	assert_packet v6ip "$IN" 9110 FromIPRule policy=v6block

	pk_client v6ok --policy v6block -- "tcp,$OUT,$P" "udp,$OUT,$P" "tcp,127.0.0.2,$P" \
		"tcp,::ffff:127.0.0.2,$P"
	expect_steps v6ok "tcp $OUT $P OK" "udp $OUT $P OK" "tcp 127.0.0.2 $P OK" \
		"tcp ::ffff:127.0.0.2 $P OK"
	assert_eq "v6ok: no PACKET line" 0 "$(pk_packet_lines v6ok "$CPID")"
	if pk_heard v6 udp "$OUT" "udp-from-$CPID" 2; then
		pass "v6ok: the datagram to $OUT arrived"
	else
		fail "v6ok: the datagram to $OUT arrived" "$(_show "$T/listen-v6.log")"
	fi

	# (no one but this test listens on $IN: ECONNREFUSED is certain there)
	pk_client v6audit --policy v6block --mode audit -- "tcp,::1,$P" "tcp,$IN,9105"
	expect_steps v6audit "tcp ::1 $P OK" "tcp $IN 9105 ECONNREFUSED"
	assert_packet v6audit ::1 "$P" FromIPRule policy=v6block blocked=false firewallMethod=audit
	assert_packet v6audit "$IN" 9105 FromIPRule policy=v6block blocked=false firewallMethod=audit

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
	assert_eq "v6allow: 4 PACKET lines, none after the lookups" 4 "$(pk_packet_lines v6allow "$CPID")"
	if pk_heard v6 udp ::1 "udp-from-$CPID" 2; then
		pass "v6allow: the datagram to ::1 after the lookup arrived"
	else
		fail "v6allow: the datagram to ::1 after the lookup arrived" "$(_show "$T/listen-v6.log")"
	fi

	pk_client v6mapped --policy v6allow -- tcp,::ffff:127.0.0.3,9109 dns,A,allowed.test \
		"tcp,::ffff:127.0.0.3,$P"
	expect_steps v6mapped "tcp ::ffff:127.0.0.3 9109 EPERM" "dns A allowed.test NOERROR 127.0.0.3" \
		"tcp ::ffff:127.0.0.3 $P OK"
	assert_packet v6mapped 127.0.0.3 9109 NotInAllowlist policy=v6allow firewallMethod=allowlist
}
for_each_mode scenario
pk_addrs_remove
assert_eq "the ULA addresses are off lo again" "" "$(ip -6 addr show dev lo | grep -F "${PK_ULA%:*}:")"
assert_no_run_cgroups "no run cgroup left"
e2e_done
