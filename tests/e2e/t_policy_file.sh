#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Named policy files (--policy NAME is CONFIG_DIR/policies/NAME.policy), in
# both modes: comments, case and a trailing dot in a rule, the longest rule
# winning (allow ok.allowed.test under block allowed.test), refuse-with
# nxdomain, and an allowlist policy refusing everything it does not list.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

cat >"$CONF/policies/deploy.policy" <<'EOP'
# The deploy job: nothing from GitHub, and say NXDOMAIN rather than REFUSED.
mode blocklist
block GitHub.COM.        # case and the trailing dot do not matter
block allowed.test
allow ok.allowed.test    # the longer rule wins
refuse-with nxdomain
EOP
printf 'mode allowlist\nallow allowed.test\n' >"$CONF/policies/only-test.policy"

DIG=(dig +tries=1 +time=2 @127.0.0.53)

scenario()
{
	guarded gh --policy deploy -- "${DIG[@]}" api.github.com
	expect_dig gh NXDOMAIN
	assert_block gh api.github.com policy=deploy

	guarded sub --policy deploy -- "${DIG[@]}" x.allowed.test
	expect_dig sub NXDOMAIN
	assert_block sub x.allowed.test policy=deploy

	uniq_name ok.allowed.test
	guarded ok --policy deploy -- "${DIG[@]}" "$UNAME"
	expect_dig ok NOERROR 127.0.0.3
	assert_dns_saw A "$UNAME"
	assert_no_block ok

	uniq_name allowed.test
	guarded listed --policy only-test -- "${DIG[@]}" "$UNAME"
	expect_dig listed NOERROR 127.0.0.3
	assert_dns_saw A "$UNAME"
	guarded unlisted --policy only-test -- "${DIG[@]}" evilgithub.com
	expect_dig unlisted REFUSED
	assert_block unlisted evilgithub.com policy=only-test firewallMethod=allowlist
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
