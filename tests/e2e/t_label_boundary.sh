#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `block github.com` matches at a label boundary: evilgithub.com resolves
# (and is not logged), api.github.com is refused, and so is GitHub.COM. (case
# and the trailing dot do not matter; the log names the normalized domain).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

DIG=(dig +tries=1 +time=2 @127.0.0.53)

scenario()
{
	guarded evil -- "${DIG[@]}" evilgithub.com
	expect_dig evil NOERROR 127.0.0.10
	assert_dns_saw A evilgithub.com
	assert_no_block evil

	guarded sub -- "${DIG[@]}" api.github.com
	expect_dig sub REFUSED
	assert_block sub api.github.com

	guarded case -- "${DIG[@]}" GitHub.COM.
	expect_dig case REFUSED
	assert_block case github.com
}
for_each_mode scenario
e2e_done
