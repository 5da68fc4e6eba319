#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The answer cache, in both modes (dnsmasq gives TTL 60): two guarded queries
# for a name 1.1 s apart reach dnsmasq once (its query log), and the second
# answer's TTL is lower (aged by the time it spent in the cache); the same for
# a negative answer (NXDOMAIN with an SOA) and a NODATA one (AAAA of a name
# with only an A). With the daemon, a later run is answered from its cache.
# An NXDOMAIN without an SOA has no TTL to keep it for: it is asked again.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start

DIG=(dig +tries=1 +time=3 @127.0.0.53)

soa_ttl()
{
	awk '/^;; AUTHORITY SECTION:/ { a = 1; next } a && $4 == "SOA" { print $2; exit }' "$(rf "$1" out)"
}

# assert_ttl_lower DESC FIRST SECOND: both numbers, SECOND < FIRST.
assert_ttl_lower()
{
	if [[ $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] && [ "$3" -lt "$2" ]; then
		pass "$1 ($3 < $2)"
	else
		fail "$1" "first TTL: $2" "second TTL: $3"
	fi
}

scenario()
{
	local n x nodata0 nx0

	uniq_name allowed.test; n=$UNAME
	uniq_name auth.test; x=$UNAME
	nodata0=$(dns_count AAAA h2.auth.test)
	nx0=$(dns_count A nx.test)
	guarded cache -- bash -c "$(tq pos1 "${DIG[@]}" "$n"); $(tq neg1 "${DIG[@]}" "$x"); \
		$(tq nodata1 "${DIG[@]}" h2.auth.test AAAA); $(tq nosoa1 "${DIG[@]}" nx.test); \
		sleep 1.1; \
		$(tq pos2 "${DIG[@]}" "$n"); $(tq neg2 "${DIG[@]}" "$x"); \
		$(tq nodata2 "${DIG[@]}" h2.auth.test AAAA); $(tq nosoa2 "${DIG[@]}" nx.test)"

	expect_dig pos1 NOERROR 127.0.0.3
	expect_dig pos2 NOERROR 127.0.0.3
	assert_eq "$n reached dnsmasq once" 1 "$(dns_count_settled A "$n")"
	assert_eq "pos1: TTL 60 from dnsmasq" 60 "$(dig_ttl pos1)"
	assert_ttl_lower "pos2: the cached answer's TTL is lower" "$(dig_ttl pos1)" "$(dig_ttl pos2)"

	expect_dig neg1 NXDOMAIN
	expect_dig neg2 NXDOMAIN
	assert_eq "$x (NXDOMAIN) reached dnsmasq once" 1 "$(dns_count_settled A "$x")"
	assert_ttl_lower "neg2: the cached SOA's TTL is lower" "$(soa_ttl neg1)" "$(soa_ttl neg2)"

	expect_dig nodata1 NOERROR
	expect_dig nodata2 NOERROR
	assert_eq "nodata2: still no answer" 0 "$(dig_section_count nodata2 ANSWER)"
	assert_eq "h2.auth.test AAAA (NODATA) reached dnsmasq once" 1 \
		"$(($(dns_count_settled AAAA h2.auth.test) - nodata0))"

	expect_dig nosoa1 NXDOMAIN
	expect_dig nosoa2 NXDOMAIN
	assert_eq "nx.test (NXDOMAIN without SOA) reached dnsmasq twice" 2 \
		"$(($(dns_count_settled A nx.test) - nx0))"

	if [ "$MODE" = daemon ]; then
		guarded later -- "${DIG[@]}" "$n"
		expect_dig later NOERROR 127.0.0.3
		assert_eq "another run: $n still reached dnsmasq only once" 1 "$(dns_count_settled A "$n")"
	fi
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
