#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Unguarded processes are untouched by packet enforcement (docs/design.md):
# while two guarded runs are active, one under a blocklist policy with
# block-ip rules (v4 and ::1) and one under an allowlist policy that looked
# nothing up, and each has just been refused (EPERM) the very addresses below,
# an unguarded process reaches them all (TCP and UDP, v4 and v6), including
# port 853 (DoT, refused to both guarded runs), and no PACKET line names it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
pk_init
pk_dns_start

printf 'mode blocklist\nblock-ip 127.0.0.6/32\nblock-ip ::1/128\n' >"$CONF/policies/ub.policy"
printf 'mode allowlist\nallow allowed.test\n' >"$CONF/policies/ua.policy"
pk_listen u 127.0.0.3 127.0.0.6 ::1 || die "listeners on 127.0.0.3, 127.0.0.6, ::1"
P=$LPORT
pk_listen dot --port 853 127.0.0.3 || die "listener on 127.0.0.3:853" "$(_show "$T/listen-dot.err")"

scenario()
{
	local t=${MODE:0:1} gb ga bpid apid
	rm -f "$T/$t"-?
	pk_client_bg ug-b --policy ub -- "tcp,127.0.0.6,$P" "udp,::1,$P" "touch,$t-b" "wait,$t-go,20"
	gb=$BG_PID
	pk_client_bg ug-a --policy ua -- "tcp,127.0.0.3,$P" "tcp,127.0.0.6,$P" "tcp,127.0.0.3,853" \
		"touch,$t-a" "wait,$t-go,20"
	ga=$BG_PID
	pk_ready ug-b "$t-b"
	bpid=$CPID
	pk_ready ug-a "$t-a"
	apid=$CPID

	pk_unguarded outside "tcp,127.0.0.6,$P" "udp,127.0.0.6,$P" "tcp,127.0.0.3,$P" "tcp,::1,$P" \
		"udp,::1,$P" tcp,127.0.0.3,853
	expect_steps outside "tcp 127.0.0.6 $P OK" "udp 127.0.0.6 $P OK" "tcp 127.0.0.3 $P OK" \
		"tcp ::1 $P OK" "udp ::1 $P OK" "tcp 127.0.0.3 853 OK"
	if pk_heard u udp 127.0.0.6 "udp-from-$CPID" 2 && pk_heard u udp ::1 "udp-from-$CPID" 2; then
		pass "outside: its datagrams to 127.0.0.6 and ::1 arrived"
	else
		fail "outside: its datagrams to 127.0.0.6 and ::1 arrived" "$(_show "$T/listen-u.log" 20)"
	fi
	if [ "$MODE" = daemon ]; then
		assert_eq "outside: no PACKET line" 0 "$(pk_packet_lines outside "$CPID")"
	else
		sleep 0.2
		assert_eq "outside: no PACKET line from either embedded proxy" 0 \
			"$(cat "$(rf ug-a err)" "$(rf ug-b err)" | grep -c " pid=$CPID ")"
	fi

	touch "$T/$t-go"
	pk_bg_done ug-b "$gb"
	pk_bg_done ug-a "$ga"
	expect_steps ug-b "tcp 127.0.0.6 $P EPERM" "udp ::1 $P EPERM" "touch $t-b" "wait $t-go OK"
	expect_steps ug-a "tcp 127.0.0.3 $P EPERM" "tcp 127.0.0.6 $P EPERM" "tcp 127.0.0.3 853 EPERM" \
		"touch $t-a" "wait $t-go OK"
	CPID=$bpid
	assert_packet ug-b 127.0.0.6 "$P" FromIPRule policy=ub
	CPID=$apid
	assert_packet ug-a 127.0.0.3 853 DNSOverTLS policy=ua firewallMethod=allowlist
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
