#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Rules on the command line: `--block example.org` makes a policy named
# "inline" that refuses example.org (and only it: github.com resolves); with
# `--mode audit` a name of the default policy is forwarded and answered, and
# logged with blocked=false; `--mode allowlist --allow` refuses everything else.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

DIG=(dig +tries=1 +time=2 @127.0.0.53)

scenario()
{
	local n

	guarded block --block example.org -- "${DIG[@]}" example.org
	expect_dig block REFUSED
	assert_block block example.org policy=inline
	uniq_name github.com
	n=$UNAME
	guarded block-other --block example.org -- "${DIG[@]}" "$n"
	expect_dig block-other NOERROR 127.0.0.9
	assert_dns_saw A "$n"
	assert_no_block block-other

	uniq_name github.com
	n=$UNAME
	guarded audit --mode audit -- "${DIG[@]}" "$n"
	expect_dig audit NOERROR 127.0.0.9
	assert_dns_saw A "$n"
	assert_block audit "$n" blocked=false firewallMethod=audit

	uniq_name allowed.test
	n=$UNAME
	guarded allow --mode allowlist --allow allowed.test -- "${DIG[@]}" "$n"
	expect_dig allow NOERROR 127.0.0.3
	assert_dns_saw A "$n"
	guarded allow-other --mode allowlist --allow allowed.test -- "${DIG[@]}" evilgithub.com
	expect_dig allow-other REFUSED
	assert_block allow-other evilgithub.com policy=inline firewallMethod=allowlist
}
for_each_mode scenario
e2e_done
