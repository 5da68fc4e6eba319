#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# EDNS and truncation, in both modes, as dig sees them through the guard:
# - an EDNS query gets an OPT back and a +noedns one none, whether the answer
#   came from the upstream (the proxy added an OPT of its own: it must go), the
#   cache or a refusal;
# - the UDP size the client offers is honoured: mid.test (about 650 bytes)
#   fits +bufsize=1232 whole and comes with TC at +bufsize=512, from the
#   upstream and from the cache;
# - an answer larger than 512 to a query without EDNS comes with TC and no
#   records; dig then retries over TCP and gets all of big.test's 8 TXT
#   records (1700+ bytes: more than the 1232 the proxy asks upstreams for
#   over UDP, so only its TCP retry to the upstream can fetch them).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start

DIG=(dig +tries=1 +time=3 @127.0.0.53)

has_tc() { dig_has_flag "$1" tc; }
no_tc() { ! dig_has_flag "$1" tc; }
has_opt() { dig_has_opt "$1"; }
no_opt() { ! dig_has_opt "$1"; }
no_rrs() { [ "$(dig_section_count "$1" ANSWER)" = 0 ]; }
txt_rrs() { [ "$(dig_rrs "$1" TXT)" = "$2" ]; }
bigger() { [ "$(dig_size "$1")" -gt "$2" ]; }
no_bigger() { [ "$(dig_size "$1")" -le "$2" ]; }
retried_tcp() { grep -q '^;; Truncated, retrying in TCP mode' "$(rf "$1" out)"; }

scenario()
{
	local n

	# EDNS in, OPT out; none in, none out: forwarded (the proxy added an OPT
	# upstream: it must go), from the cache, refused.
	uniq_name allowed.test; n=$UNAME
	guarded edns -- bash -c "$(tq edns "${DIG[@]}" "$n"); $(tq noedns-cached "${DIG[@]}" +noedns "$n")"
	expect_dig edns NOERROR 127.0.0.3
	assert_dig edns "the answer carries an OPT" has_opt edns
	expect_dig noedns-cached NOERROR 127.0.0.3
	assert_dig noedns-cached "no OPT in an answer from the cache" no_opt noedns-cached
	assert_eq "$n reached dnsmasq once (the second answer came from the cache)" 1 \
		"$(dns_count_settled A "$n")"
	uniq_name allowed.test; n=$UNAME
	guarded noedns -- "${DIG[@]}" +noedns "$n"
	expect_dig noedns NOERROR 127.0.0.3
	assert_dns_saw A "$n"
	assert_dig noedns "no OPT in a forwarded answer" no_opt noedns
	guarded refused-edns -- "${DIG[@]}" github.com
	expect_dig refused-edns REFUSED
	assert_dig refused-edns "a refusal to an EDNS query carries an OPT" has_opt refused-edns
	guarded refused-noedns -- "${DIG[@]}" +noedns github.com
	expect_dig refused-noedns REFUSED
	assert_dig refused-noedns "a refusal to a query without EDNS has no OPT" no_opt refused-noedns

	# The client's UDP size: 512 first (from the upstream), then 1232, then
	# 512 again (from the cache, cut by the proxy), in one run.
	guarded bufsize -- bash -c "$(tq b512 "${DIG[@]}" +ignore +bufsize=512 mid.test TXT); \
		$(tq b1232 "${DIG[@]}" +ignore +bufsize=1232 mid.test TXT); \
		$(tq b512-again "${DIG[@]}" +ignore +bufsize=512 mid.test TXT)"
	expect_dig b512 NOERROR
	assert_dig b512 "TC set: 650 bytes do not fit the 512 offered" has_tc b512
	assert_dig b512 "at most 512 bytes over UDP" no_bigger b512 512
	expect_dig b1232 NOERROR
	assert_dig b1232 "no TC: the answer fits the 1232 offered" no_tc b1232
	assert_dig b1232 "all 3 TXT records" txt_rrs b1232 3
	assert_dig b1232 "more than 512 bytes over UDP" bigger b1232 512
	expect_dig b512-again NOERROR
	assert_dig b512-again "TC set again (the cached answer is cut to 512)" has_tc b512-again
	assert_dig b512-again "at most 512 bytes" no_bigger b512-again 512

	# Without EDNS: 512 at most, TC and no records; dig retries over TCP.
	guarded big-udp -- "${DIG[@]}" +noedns +ignore big.test TXT
	expect_dig big-udp NOERROR
	assert_dig big-udp "TC set" has_tc big-udp
	assert_dig big-udp "no records in the truncated answer" no_rrs big-udp
	assert_dig big-udp "no OPT (none was asked for)" no_opt big-udp
	guarded big -- "${DIG[@]}" +noedns big.test TXT
	expect_dig big NOERROR
	assert_dig big "dig retried over TCP" retried_tcp big
	assert_dig big "all 8 TXT records over TCP" txt_rrs big 8
	assert_dig big "more than 1232 bytes (the proxy's TCP retry upstream)" bigger big 1232
	assert_dig big "no TC in the TCP answer" no_tc big
	assert_dig big "no OPT" no_opt big

	# With EDNS, straight over TCP and after a TC over UDP.
	guarded big-tcp -- "${DIG[@]}" +tcp big.test TXT
	expect_dig big-tcp NOERROR
	assert_dig big-tcp "all 8 TXT records" txt_rrs big-tcp 8
	assert_dig big-tcp "with its OPT" has_opt big-tcp
	guarded big-edns -- "${DIG[@]}" big.test TXT
	expect_dig big-edns NOERROR
	assert_dig big-edns "retried over TCP after a TC at 1232" retried_tcp big-edns
	assert_dig big-edns "all 8 TXT records" txt_rrs big-edns 8
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
