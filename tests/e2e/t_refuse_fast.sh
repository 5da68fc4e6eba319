#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A blocked name fails at once, not after a resolver timeout: a guarded
# nslookup and curl of github.com (through resolv.conf's 127.0.0.53) get
# REFUSED in well under a second and curl exits 6. Allowed names (A and AAAA)
# resolve through the real upstream, which logs that the query arrived.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

scenario()
{
	local n

	guarded_timed nslookup -- nslookup github.com 127.0.0.53
	assert_file_has "nslookup: client saw REFUSED" "server can't find github.com: REFUSED" \
		"$(rf nslookup out)"
	assert_lt "nslookup: refused in < 1 s" 1000 "$MS"
	assert_block nslookup github.com

	# curl resolves with getaddrinfo: glibc reads resolv.conf (127.0.0.53 here).
	guarded_timed curl -- curl -sS -o /dev/null --max-time 20 https://github.com/
	assert_eq "curl: exit 6 (could not resolve host)" 6 "$RC"
	assert_lt "curl: failed in < 1 s" 1000 "$MS"
	assert_block curl github.com

	# Exit 7 (connect failed) rather than 6: the name resolved, to 127.0.0.3.
	uniq_name allowed.test
	n=$UNAME
	guarded curl-ok -- curl -4 -sS -v -o /dev/null --max-time 5 "http://$n:9/"
	assert_eq "curl-ok: exit 7 (resolved, then connection refused)" 7 "$RC"
	assert_file_has "curl-ok: curl connected to the address dnsmasq gave" "Trying 127\.0\.0\.3:9" \
		"$(rf curl-ok err)"
	assert_dns_saw A "$n"
	assert_no_block curl-ok

	uniq_name allowed.test
	n=$UNAME
	guarded dig-a -- dig +tries=1 +time=2 @127.0.0.53 "$n" A
	expect_dig dig-a NOERROR 127.0.0.3
	assert_dns_saw A "$n"
	uniq_name allowed.test
	n=$UNAME
	guarded dig-aaaa -- dig +tries=1 +time=2 @127.0.0.53 "$n" AAAA
	expect_dig dig-aaaa NOERROR ::3
	assert_dns_saw AAAA "$n"
}
for_each_mode scenario
e2e_done
