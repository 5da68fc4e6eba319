#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Spoofed upstream answers never reach a client (RFC 5452, DNS 0x20), in both
# modes. The fake upstream (fairdns.py upstream spoof) sends before each real
# answer forged ones saying 192.0.2.99: a wrong id, the right id with the
# question in the other case, the right id with another name, and the right
# id and question from another port. Checked:
# - 20 sequential lookups, and a mixed-case name by dig: every answer is the
#   real one (127.0.0.3), the question in the client's own case; the name
#   asked again (from the cache) is still the real one;
# - a name the upstream answers only with forgeries: SERVFAIL, never the forgery;
# - the names reached the upstream in a case other than the client's (0x20);
# - daemon: the drops are counted by why in /metrics.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init
dns_tools
FAIRDNS=$E2E_DIR/fairdns.py

fairdns_upstream spoof
for ((try = 0; try < 10; try++)); do
	MPORT=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
	ss -Hltn "sport = :$MPORT" | grep -q . || break
done
DAEMON_ARGS=(--metrics-listen "127.0.0.1:$MPORT")
DIG=(dig +tries=1 +time=4 @127.0.0.53)

scenario()
{
	local n=MiXeD-Case-$MODE-$$.Spoof.Test

	guarded seq -- "$PY" "$FAIRDNS" seq 127.0.0.53 20 "spoof-$MODE.test"
	assert_eq "20 lookups: every answer the real one" 20 \
		"$(grep -c ' NOERROR 127\.0\.0\.3$' "$(rf seq out)")"
	assert_file_lacks "no forged address reached the client" '192\.0\.2\.99' "$(rf seq out)"

	guarded case -- bash -c "$(tq case "${DIG[@]}" "$n"); $(tq cached "${DIG[@]}" "$n"); \
		$(tq only "${DIG[@]}" "only-$MODE-$$.spoofonly.test")"
	expect_dig case NOERROR 127.0.0.3
	assert_dig case "question in the client's case ($n)" \
		eval '[ "$(dig_question case)" = "$n. IN A" ]'
	expect_dig cached NOERROR 127.0.0.3
	expect_dig only SERVFAIL
	assert_file_lacks "no forgery in any dig output" '192\.0\.2\.99' "$(rf case out)"
	assert_file_lacks "no forgery from the cache" '192\.0\.2\.99' "$(rf cached out)"
	assert_file_lacks "no forgery for the name answered only by forgeries" '192\.0\.2\.99' \
		"$(rf only out)"
}

use_mode embedded
scenario
use_mode daemon
scenario

# DNS 0x20: the names went upstream, each in a case of its own, not the client's.
for m in embedded daemon; do
	n=MiXeD-Case-$m-$$.Spoof.Test
	assert_file_has "$m: $n reached the upstream" "^$(re_quote "${n,,}") 1\$" "$T/up.log"
	sent=$(grep -ixF "$n" "$T/up.log.raw" | head -n 1)
	if [ -n "$sent" ] && [ "$sent" != "$n" ]; then
		pass "$m: it went upstream in another case ($sent)"
	else
		fail "$m: it went upstream in another case" "sent: '$sent'" "$(_show "$T/up.log.raw" 20)"
	fi
done

curl -sS --max-time 5 -o "$T/m.prom" "http://127.0.0.1:$MPORT/metrics" 2>"$T/m.curl" ||
	fail "curl GET /metrics" "$(_show "$T/m.curl")"
D=depfence_upstream_answers_dropped_total
for why in unknown_id case question; do
	v=$(sed -n "s/^$D{why=\"$why\"} //p" "$T/m.prom")
	assert_gt "daemon: forged answers dropped for $why counted ($v)" 20 "${v:-0}"
done
assert_no_run_cgroups "no run cgroup left"
e2e_done
