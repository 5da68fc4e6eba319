#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Packet enforcement (docs/design.md): a guarded connect or send to a port other
# than 53 fails at once with EPERM, and is logged as a PACKET BLOCKED line with
# the client's pid and argv, when a block-ip rule covers the address
# (FromIPRule), when a blocked name resolves to it (FromBlockedDomain), for DNS
# over TLS (DNSOverTLS), and in allowlist mode for an address DNS did not hand
# out (NotInAllowlist). Audit mode lets the connect through and logs
# blocked=false; other addresses, and unguarded processes, are untouched.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.6/32\n' >"$CONF/policies/ipblock.policy"
CONN=("$PY" "$E2E_DIR/conn.py")

# expect_conn NAME RESULT: what conn.py saw.
expect_conn()
{
	assert_eq "$1: connect result" "$2" "$(sed -n 's/^result: //p' "$(rf "$1" out)")"
}

# The allowlist case: a connect before and after the name was resolved, each
# conn.py's pid in PREFIX{before,after}.pid.
cat >"$T/allow.sh" <<'EOS'
#!/bin/sh
prefix=$1 conn=$2
sh -c 'echo $$ >"$0"; exec /usr/bin/python3 "$1" 127.0.0.3 9' "${prefix}before.pid" "$conn"
dig +tries=1 +time=2 +short @127.0.0.53 ok.allowed.test
sh -c 'echo $$ >"$0"; exec /usr/bin/python3 "$1" 127.0.0.3 9' "${prefix}after.pid" "$conn"
EOS
chmod +x "$T/allow.sh"

scenario()
{
	guarded ip --policy ipblock -- "${CONN[@]}" 127.0.0.6 9
	expect_conn ip EPERM
	assert_lt "ip: refused at once (ms)" 1000 "$(sed -n 's/^ms: //p' "$(rf ip out)")"
	assert_packet ip 127.0.0.6 9 FromIPRule policy=ipblock rule=ipblock.policy:3

	guarded ip-udp --policy ipblock -- "${CONN[@]}" 127.0.0.6 9 udp
	expect_conn ip-udp EPERM
	assert_packet ip-udp 127.0.0.6 9 FromIPRule policy=ipblock proto=udp rule=ipblock.policy:3

	guarded other --policy ipblock -- "${CONN[@]}" 127.0.0.7 9
	expect_conn other ECONNREFUSED

	guarded audit --policy ipblock --mode audit -- "${CONN[@]}" 127.0.0.6 9
	expect_conn audit ECONNREFUSED
	assert_packet audit 127.0.0.6 9 FromIPRule policy=ipblock blocked=false firewallMethod=audit

	# github.com is 127.0.0.9 upstream: a hard-coded 127.0.0.9 is refused once learned.
	guarded learned -- "${CONN[@]}" 127.0.0.9 9 3
	expect_conn learned EPERM
	assert_packet learned 127.0.0.9 9 FromBlockedDomain rule=learned

	guarded dot -- "${CONN[@]}" 127.0.0.1 853
	expect_conn dot EPERM
	assert_packet dot 127.0.0.1 853 DNSOverTLS rule=builtin

	guarded allow --mode allowlist --allow allowed.test -- "$T/allow.sh" "$T/$MODE-allow-" \
		"$E2E_DIR/conn.py"
	assert_eq "allow: before the lookup, after the lookup" "EPERM 127.0.0.3 ECONNREFUSED" \
		"$(sed -n 's/^result: //p; /^127/p' "$(rf allow out)" | paste -sd ' ')"
	printf '/usr/bin/python3 %s 127.0.0.3 9' "$E2E_DIR/conn.py" >"$(rf allow cmd)"
	CPID=$(cat "$T/$MODE-allow-before.pid")
	assert_packet allow 127.0.0.3 9 NotInAllowlist policy=inline firewallMethod=allowlist

	unguarded outside "${CONN[@]}" 127.0.0.6 9
	expect_conn outside ECONNREFUSED
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
