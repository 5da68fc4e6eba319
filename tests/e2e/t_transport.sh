#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every way a query can leave a guarded process reaches the proxy: unconnected
# UDP (dig's sendto), connected UDP (connect+send), TCP, IPv6 over UDP and TCP,
# and a v4-mapped server on an IPv6 socket. Each blocked query is refused and
# logged with the client's pid and command line; each allowed one is answered
# by the real upstream.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

DIG=(dig +tries=1 +time=2)

scenario()
{
	local n

	# UDP to a made-up server: the redirect must also make the reply look as if
	# that server sent it, or dig drops it.
	guarded udp -- "${DIG[@]}" @127.9.9.9 github.com
	expect_dig udp REFUSED
	assert_block udp github.com
	uniq_name allowed.test; n=$UNAME
	guarded udp-ok -- "${DIG[@]}" @127.9.9.9 "$n"
	expect_dig udp-ok NOERROR 127.0.0.3
	assert_dns_saw A "$n"

	guarded cudp -- "$PY" "$E2E_DIR/dnsq.py" 127.0.0.53 github.com A
	expect_dnsq cudp REFUSED
	assert_block cudp github.com
	uniq_name allowed.test; n=$UNAME
	guarded cudp-ok -- "$PY" "$E2E_DIR/dnsq.py" 127.0.0.53 "$n" A
	expect_dnsq cudp-ok NOERROR 127.0.0.3
	assert_dns_saw A "$n"

	guarded tcp -- "${DIG[@]}" +tcp @127.9.9.9 github.com
	expect_dig tcp REFUSED
	assert_block tcp github.com
	uniq_name allowed.test; n=$UNAME
	guarded tcp-ok -- "${DIG[@]}" +tcp @127.9.9.9 "$n"
	expect_dig tcp-ok NOERROR 127.0.0.3
	assert_dns_saw A "$n"

	guarded udp6 -- "${DIG[@]}" @::1 github.com AAAA
	expect_dig udp6 REFUSED
	assert_block udp6 github.com qtype=AAAA
	uniq_name allowed.test; n=$UNAME
	guarded udp6-ok -- "${DIG[@]}" @::1 "$n" AAAA
	expect_dig udp6-ok NOERROR ::3
	assert_dns_saw AAAA "$n"

	guarded tcp6 -- "${DIG[@]}" +tcp @::1 github.com
	expect_dig tcp6 REFUSED
	assert_block tcp6 github.com
	uniq_name allowed.test; n=$UNAME
	guarded tcp6-ok -- "${DIG[@]}" +tcp @::1 "$n"
	expect_dig tcp6-ok NOERROR 127.0.0.3
	assert_dns_saw A "$n"

	guarded cudp6 -- "$PY" "$E2E_DIR/dnsq.py" ::1 github.com A
	expect_dnsq cudp6 REFUSED
	assert_block cudp6 github.com

	# dig refuses v4-mapped servers; a connected AF_INET6 socket does not.
	guarded mapped -- "$PY" "$E2E_DIR/dnsq.py" ::ffff:127.0.0.53 github.com A
	expect_dnsq mapped REFUSED
	assert_block mapped github.com
	uniq_name allowed.test; n=$UNAME
	guarded mapped-ok -- "$PY" "$E2E_DIR/dnsq.py" ::ffff:127.0.0.53 "$n" A
	expect_dnsq mapped-ok NOERROR 127.0.0.3
	assert_dns_saw A "$n"
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
