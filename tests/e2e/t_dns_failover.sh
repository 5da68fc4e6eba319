#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Upstream failover, in both modes, timed by the guarded client itself:
# - first upstream dead (nothing listens: ICMP port unreachable): the answer
#   comes from the second at once (< 400 ms: no 500 ms timeout waited);
# - first upstream silent (reads, never answers): the answer comes from the
#   second within 1 s, the silent one did get the query, and the next query
#   is quick and never goes to it (remembered as dead);
# - every upstream silent: the client gets SERVFAIL in < 2.5 s, after both
#   upstreams were asked; meanwhile a blocked name is refused in < 200 ms.
# The runs block only *.blocked.test, so that no learning query (the proxy
# resolving a policy's exact block names) reaches the upstreams first.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dnsd_start
silent_start 2 80
DEAD=$(dead_port)

RUN=(--block '*.blocked.test')
DIG=(dig +tries=1 +time=5 @127.0.0.53)

# assert_ms NAME LIMIT: the query of tq NAME took less than LIMIT ms.
assert_ms() { assert_lt "$1: answered in < $2 ms" "$2" "$(tq_ms "$1")"; }

assert_silent_saw()
{
	if silent_saw "$1" "$2"; then
		pass "$3"
	else
		fail "$3" "silent.log:" "$(_show "$T/silent.log" 20)"
	fi
}

scenario()
{
	local n1 n2 n3 n4 n5 s1=${SILENT_PORTS[0]} s2=${SILENT_PORTS[1]}

	uniq_name allowed.test; n1=$UNAME
	uniq_name allowed.test; n2=$UNAME
	with_upstreams "127.0.0.1:$DEAD" "$GOOD_UPSTREAM"
	guarded dead "${UP_OPTS[@]}" "${RUN[@]}" -- \
		bash -c "$(tq dead1 "${DIG[@]}" "$n1"); $(tq dead2 "${DIG[@]}" "$n2")"
	expect_dig dead1 NOERROR 127.0.0.3
	assert_ms dead1 400
	expect_dig dead2 NOERROR 127.0.0.3
	assert_ms dead2 400

	uniq_name allowed.test; n3=$UNAME
	uniq_name allowed.test; n4=$UNAME
	with_upstreams "127.0.0.1:$s1" "$GOOD_UPSTREAM"
	guarded silent "${UP_OPTS[@]}" "${RUN[@]}" -- \
		bash -c "$(tq silent1 "${DIG[@]}" "$n3"); $(tq silent2 "${DIG[@]}" "$n4")"
	expect_dig silent1 NOERROR 127.0.0.3
	assert_ms silent1 1000
	assert_silent_saw "$s1" "$n3" "the silent upstream was asked $n3 first"
	assert_dns_saw A "$n3"
	expect_dig silent2 NOERROR 127.0.0.3
	assert_ms silent2 300
	if silent_saw "$s1" "$n4"; then
		fail "the silent upstream, remembered as dead, is not asked $n4" "$(_show "$T/silent.log" 20)"
	else
		pass "the silent upstream, remembered as dead, is not asked $n4"
	fi

	uniq_name allowed.test; n5=$UNAME
	with_upstreams "127.0.0.1:$s1" "127.0.0.1:$s2"
	guarded alldead "${UP_OPTS[@]}" "${RUN[@]}" -- \
		bash -c "$(tq alldead "${DIG[@]}" "$n5") & sleep 0.2; \
			$(tq blocked "${DIG[@]}" x.blocked.test); wait"
	expect_dig alldead SERVFAIL
	assert_lt "alldead: SERVFAIL in < 2500 ms" 2500 "$(tq_ms alldead)"
	assert_silent_saw "$s1" "$n5" "the first silent upstream was asked $n5"
	assert_silent_saw "$s2" "$n5" "then the second"
	expect_dig blocked REFUSED
	assert_ms blocked 200
	assert_file_lacks "no query reached dnsmasq" "query\[A\] $(re_quote "$n5") " "$DNS_LOG"
	UPSTREAM=$GOOD_UPSTREAM
	UP_OPTS=()
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
