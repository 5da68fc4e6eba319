#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Policy modes and rule forms as a client sees them, in both modes:
# - allowlist (allow allowed.test): a name under it resolves, github.com is
#   refused, logged with firewallMethod=allowlist;
# - audit (--mode audit over the built-in default): github.com is answered
#   (127.0.0.9, from dnsmasq) and logged blocked=false firewallMethod=audit;
#   an unlisted name is answered and logged as "INFO DNS QUERY" (the trail);
# - block *.example.com: a.example.com and b.a.example.com are refused,
#   example.com itself is answered (127.0.0.11);
# - refuse-with nxdomain: a blocked name gets NXDOMAIN, logged.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start

printf 'mode allowlist\nallow allowed.test\n' >"$CONF/policies/only.policy"
printf 'block *.example.com\n' >"$CONF/policies/wild.policy"
printf 'block github.com\nrefuse-with nxdomain\n' >"$CONF/policies/nx.policy"

DIG=(dig +tries=1 +time=3 @127.0.0.53)

scenario()
{
	local n

	uniq_name allowed.test; n=$UNAME
	guarded allow-ok --policy only -- "${DIG[@]}" "$n"
	expect_dig allow-ok NOERROR 127.0.0.3
	assert_dns_saw A "$n"
	assert_no_block allow-ok
	guarded allow-no --policy only -- "${DIG[@]}" github.com
	expect_dig allow-no REFUSED
	assert_block allow-no github.com policy=only firewallMethod=allowlist

	guarded audit-gh --mode audit -- "${DIG[@]}" github.com
	expect_dig audit-gh NOERROR 127.0.0.9
	assert_block audit-gh github.com blocked=false firewallMethod=audit policy=default
	uniq_name allowed.test; n=$UNAME
	guarded audit-other --mode audit -- "${DIG[@]}" "$n"
	expect_dig audit-other NOERROR 127.0.0.3
	assert_log_line "audit-other: logged INFO DNS QUERY domain=$n pid=$CPID" \
		"^INFO DNS QUERY .*blocked=false .*domain=$(re_quote "$n") pid=$CPID .*firewallMethod=audit " \
		"$(block_log audit-other)"
	assert_no_block audit-other

	guarded wild-a --policy wild -- "${DIG[@]}" a.example.com
	expect_dig wild-a REFUSED
	assert_block wild-a a.example.com policy=wild
	guarded wild-ba --policy wild -- "${DIG[@]}" b.a.example.com
	expect_dig wild-ba REFUSED
	assert_block wild-ba b.a.example.com policy=wild
	guarded wild-apex --policy wild -- "${DIG[@]}" example.com
	expect_dig wild-apex NOERROR 127.0.0.11
	assert_no_block wild-apex

	guarded nx --policy nx -- "${DIG[@]}" api.github.com
	expect_dig nx NXDOMAIN
	assert_block nx api.github.com policy=nx
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
