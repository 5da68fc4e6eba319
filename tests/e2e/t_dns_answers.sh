#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What the upstream said reaches the client as it said it, in both modes,
# and the reply matches the query (id, question as asked, flags):
# - a mixed-case name is echoed in the question as asked, from the upstream
#   and from the cache (asked with another case); dig accepts the id;
# - RD is echoed: set when the query set it, clear with +nordflag;
# - NXDOMAIN (dnsmasq's own, no SOA; and an authoritative one with its SOA),
#   NODATA (AAAA of a name with only an A: NOERROR, no answer, the SOA),
#   REFUSED and SERVFAIL from the upstream pass through unchanged, at once
#   (not after the proxy's own 1.5 s SERVFAIL), with no block line.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start

DIG=(dig +tries=1 +time=3 @127.0.0.53)

# What dnsmasq says for sf.test (DNSSEC BOGUS), asked directly: the rcode the
# proxy must pass on.
MODE=direct
dig +tries=1 +time=3 -p "$DNS_PORT" @127.0.0.1 sf.test >"$(rf sf out)" 2>&1
printf 'dig -p %s @127.0.0.1 sf.test' "$DNS_PORT" >"$(rf sf cmd)"
SF_RCODE=$(dig_status sf)
expect_dig sf SERVFAIL
dig +tries=1 +time=3 -p "$DNS_PORT" @127.0.0.1 unknown.test >"$(rf unknown out)" 2>&1
printf 'dig -p %s @127.0.0.1 unknown.test' "$DNS_PORT" >"$(rf unknown cmd)"
expect_dig unknown REFUSED
MODE=

no_id_mismatch() { ! grep -q 'ID mismatch' "$(rf "$1" out)"; }
question_is() { [ "$(dig_question "$1")" = "$2" ]; }
flags_are() { [ "$(dig_flags "$1")" = "$2" ]; }
counts_are() { [ "$(dig_section_count "$1" ANSWER)/$(dig_section_count "$1" AUTHORITY)" = "$2" ]; }
has_soa() { grep -Eq '^auth\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+SOA' "$(rf "$1" out)"; }
quick() { [[ $(tq_ms "$1") =~ ^[0-9]+$ ]] && [ "$(tq_ms "$1")" -lt 1000 ]; }

scenario()
{
	local n u

	# The question as asked, from the upstream, then from the cache with
	# another case; RD echoed both ways.
	uniq_name ALLOWED.test; n=Mixed-$UNAME
	u=${n,,}
	u=${u^^}
	uniq_name allowed.test
	guarded case -- bash -c "$(tq case "${DIG[@]}" "$n"); $(tq case-cached "${DIG[@]}" "$u"); \
		$(tq nord "${DIG[@]}" +nordflag "$UNAME")"
	expect_dig case NOERROR 127.0.0.3
	assert_dig case "question echoed as asked ($n)" question_is case "$n. IN A"
	assert_dig case "dig saw no ID mismatch" no_id_mismatch case
	assert_dig case "flags qr rd ra (+aa from dnsmasq)" flags_are case "qr aa rd ra"
	expect_dig case-cached NOERROR 127.0.0.3
	assert_dig case-cached "question echoed as asked ($u), from the cache" question_is case-cached "$u. IN A"
	assert_dig case-cached "dig saw no ID mismatch" no_id_mismatch case-cached
	assert_eq "the names differing in case reached dnsmasq once" 1 "$(dns_count_settled A "$n")"
	expect_dig nord NOERROR 127.0.0.3
	assert_dig nord "+nordflag: no rd in the reply" flags_are nord "qr aa ra"
	guarded nord-cached -- bash -c "$(tq nord-c1 "${DIG[@]}" "$n"); \
		$(tq nord-c2 "${DIG[@]}" +nordflag "$n")"
	expect_dig nord-c2 NOERROR 127.0.0.3
	assert_dig nord-c2 "+nordflag answered from the cache: no rd either" flags_are nord-c2 \
		"qr aa ra"

	guarded refused-nord -- "${DIG[@]}" +nordflag github.com
	expect_dig refused-nord REFUSED
	assert_dig refused-nord "a refusal echoes RD clear" flags_are refused-nord "qr ra"

	# Negative answers and errors, as dnsmasq gave them.
	guarded neg -- bash -c "$(tq nx "${DIG[@]}" nx.test); \
		$(tq nx-soa "${DIG[@]}" none.auth.test); \
		$(tq nodata "${DIG[@]}" h1.auth.test AAAA); \
		$(tq has-a "${DIG[@]}" h1.auth.test A); \
		$(tq up-refused "${DIG[@]}" unknown.test); \
		$(tq servfail "${DIG[@]}" sf.test)"
	expect_dig nx NXDOMAIN
	assert_dig nx "no answer, no authority (as dnsmasq said)" counts_are nx 0/0
	expect_dig nx-soa NXDOMAIN
	assert_dig nx-soa "no answer, the SOA in authority" counts_are nx-soa 0/1
	assert_dig nx-soa "the SOA is there" has_soa nx-soa
	expect_dig nodata NOERROR
	assert_dig nodata "NODATA: no answer, the SOA in authority" counts_are nodata 0/1
	assert_dig nodata "the SOA is there" has_soa nodata
	expect_dig has-a NOERROR 127.0.0.4
	expect_dig up-refused REFUSED
	assert_dig up-refused "the upstream's REFUSED came at once" quick up-refused
	expect_dig servfail "$SF_RCODE"
	assert_dig servfail "the upstream's $SF_RCODE came at once (not the proxy's own, 1.5 s)" quick servfail
	assert_dns_saw A sf.test
	assert_file_lacks "no block line for a name the upstream refused or failed" \
		"DNS BLOCKED .*domain=(unknown|sf)\.test " "$(block_log neg)"
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
