#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Everything outside the guarded job keeps working exactly as before: while a
# guarded run is active, an unguarded dig to the real upstream gets dnsmasq's
# answer for github.com, and an unguarded query to port 53 of a made-up
# server is not redirected (no reply, no REFUSED, no block line).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

DIG=(dig +tries=1 +time=1)

scenario()
{
	local blocks

	guarded_bg job -- sleep 20
	wait_file "$(rf job pid)" 5 || fail "job: the guarded command started"
	blocks=$(grep -c 'DNS BLOCKED' "$(block_log job)" 2>/dev/null)

	unguarded direct "${DIG[@]}" -p "$DNS_PORT" @127.0.0.1 github.com
	expect_dig direct NOERROR 127.0.0.9

	unguarded madeup "${DIG[@]}" @127.9.9.9 github.com
	assert_eq "madeup: unguarded query to 127.9.9.9:53 gets no reply" "none 9" \
		"$(dig_status madeup) $RC"
	unguarded cudp "$PY" "$E2E_DIR/dnsq.py" 127.0.0.53 github.com A
	assert_match "cudp: unguarded connected UDP to 127.0.0.53 is not answered" \
		'^(CONNREFUSED|TIMEOUT)$' "$(dnsq_status cudp)"
	assert_eq "no block line from unguarded clients" "$blocks" \
		"$(grep -c 'DNS BLOCKED' "$(block_log job)" 2>/dev/null)"

	# The guard was live all along: the same query from inside is refused.
	guarded inside -- "${DIG[@]}" @127.9.9.9 github.com
	expect_dig inside REFUSED
	kill -0 "$BG_PID" 2>/dev/null || fail "job: the guarded run was still active"
	kill -TERM "$BG_PID"
	bg_wait "$BG_PID" 5
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
