#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# DNS escapes at egress (docs/design.md, "Packet enforcement", DNS escapes): a
# port-53 datagram that no UDP socket sent (a raw socket writing its own UDP
# header, v4 and v6, so no connect/sendmsg program ever sees it) cannot leave a
# guarded cgroup. In blocklist mode the raw socket is refused at creation
# (reason=RawSocket); in audit mode it is allowed and logged, and its datagram
# is dropped at egress and counted in
# DF_CNT_DNS_ESCAPE_DROPPED, in every mode; the listener at ADDR:53 hears
# nothing within 1 s, and the sender's sendto() fails with EPERM (a cgroup
# egress drop). The same datagram from an unguarded process arrives
# (the control that proves the packet and the listener work). DoT (853) is
# refused in audit mode too (blocked=true there). The v6 datagram behind a destination-options
# extension header must be dropped as well (a known bug while it is not).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
pk_init
pk_ula
V6=$PK_ULA::53
pk_addr_add "$V6/128"
pk_dns_start

# A listener on port 53 of an address no one else uses (127.53.x.y).
for ((try = 0; try < 10; try++)); do
	V4=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
	pk_listen esc --port 53 "$V4" "$V6" && break
done
[ -n "$LPORT" ] || die "a listener on port 53" "$(_show "$T/listen-esc.err")"

# expect_heard NAME ADDR PAYLOAD: listener esc got it within 1 s.
# expect_dropped NAME ADDR PAYLOAD: it did not get it (after the caller's wait).
expect_heard()
{
	if pk_heard esc udp "$2" "$3" 1; then
		pass "$1: the raw datagram to [$2]:53 arrived"
	else
		fail "$1: the raw datagram to [$2]:53 arrived" "$(_show "$T/listen-esc.log")"
	fi
}

expect_dropped()
{
	if grep -qxF "udp $2 $3" "$T/listen-esc.log"; then
		fail "$1: the raw datagram to [$2]:53 never arrives" "$(_show "$T/listen-esc.log")"
	else
		pass "$1: the raw datagram to [$2]:53 never arrives"
	fi
}

# One guarded run per mode: raw v4 and v6 datagrams, then it waits while the
# test reads the counters of the programs that guard it.
escape()
{
	local mode=$1 name=esc-$1 run cnt before after tag=${MODE:0:1}${1:0:1}
	rm -f "$T/$tag"-?
	# The baseline is read while the run waits (daemon: shared counters;
	# embedded: this run's own, 0).
	pk_client_bg "$name" --mode "$mode" -- "touch,$tag-0" "wait,$tag-1,10" "raw,$V4,$tag-v4" \
		"raw,$V6,$tag-v6" tcp,127.0.0.1,853 "touch,$tag-2" "wait,$tag-3,20"
	run=$BG_PID
	pk_ready "$name" "$tag-0"
	cnt=$(pk_map counters "$CPID")
	before=$(pk_counter "$cnt" DNS_ESCAPE_DROPPED)
	touch "$T/$tag-1"
	pk_ready "$name" "$tag-2"
	after=$(pk_counter "$cnt" DNS_ESCAPE_DROPPED)
	sleep 1
	expect_dropped "$name" "$V4" "$tag-v4"
	expect_dropped "$name" "$V6" "$tag-v6"
	# Blocklist: the raw socket is refused at creation (RawSocket), nothing is
	# sent. Audit lets the socket be (and logs it): egress drops both datagrams.
	if [ "$mode" = audit ]; then
		assert_eq "$name: DNS_ESCAPE_DROPPED counted both (map $cnt, before ${before:-?})" \
			"$((before + 2))" "${after:-?}"
		assert_file_has "$name: the raw socket is logged, not refused, in audit mode" \
			"reason=RawSocket blocked=false" "$(block_log "$name")"
	else
		assert_eq "$name: nothing reached egress (map $cnt, before ${before:-?})" \
			"${before:-?}" "${after:-?}"
		assert_file_has "$name: the raw socket is refused at creation" \
			"reason=RawSocket blocked=true" "$(block_log "$name")"
	fi
	touch "$T/$tag-3"
	pk_bg_done "$name" "$run"
	expect_steps "$name" "touch $tag-0" "wait $tag-1 OK" "raw $V4 EPERM" "raw $V6 EPERM" \
		"tcp 127.0.0.1 853 EPERM" "touch $tag-2" "wait $tag-3 OK"
	assert_packet "$name" 127.0.0.1 853 DNSOverTLS policy=default \
		firewallMethod="$mode"
}

scenario()
{
	pk_unguarded esc-out "raw,$V4,$MODE-out-v4" "raw,$V6,$MODE-out-v6"
	expect_steps esc-out "raw $V4 SENT" "raw $V6 SENT"
	expect_heard esc-out "$V4" "$MODE-out-v4"
	expect_heard esc-out "$V6" "$MODE-out-v6"
	escape blocklist
	escape audit

	# The same v6 datagram behind an (empty) destination-options header.
	pk_unguarded escx-out "raw,$V6,${MODE:0:1}-out-x,dstopts"
	expect_heard escx-out "$V6" "${MODE:0:1}-out-x"
	pk_client escx -- "raw,$V6,${MODE:0:1}-x,dstopts"
	sleep 1
	if [ "$(pk_steps escx)" = "raw $V6 EPERM" ] &&
		! grep -qxF "udp $V6 ${MODE:0:1}-x" "$T/listen-esc.log"; then
		pass "escx: the raw datagram to [$V6]:53 after a v6 extension header never arrives"
	else
		fail "escx: the raw datagram to [$V6]:53 after a v6 extension header never arrives" \
			"client: $(pk_steps escx)" "listener: $(grep -F "${MODE:0:1}-x" "$T/listen-esc.log")"
	fi
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
