#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A CNAME chain must not open a blocked name, in both modes. dnsmasq answers
# NAME.MODE.vendor.test with "CNAME vendor.github.com" and its address
# (127.0.0.19), or with a second hop first; www and ok.MODE.vendor.test are
# CNAMEs of cdn.allowed.test (127.0.0.3):
# - blocklist (the built-in default blocks github.com): REFUSED with the
#   client's EDNS presence respected (OPT only if dig sent one), over UDP and
#   TCP, logged "reason=FromCNAME ... domain=ALIAS cname=vendor.github.com"
#   naming the dig; NXDOMAIN with refuse-with nxdomain; the second hop found;
# - the same answer again from the cache (dnsmasq asked once), in one run;
#   with the daemon, an answer cached for an audit run is refused to a
#   blocklist run (the check is per guard, when the answer goes out);
# - the refused chain's address is learned: a connect to 127.0.0.19 right
#   after is refused (FromBlockedDomain);
# - a CNAME to an allowed name is answered, no line;
# - allowlist (allow vendor.test): the alias is allowed, its target is not:
#   REFUSED, firewallMethod=allowlist; with allowed.test allowed too: answered;
# - audit: answered (127.0.0.19), logged blocked=false firewallMethod=audit;
# - an answer whose CNAME target does not read (a pointer to itself, from a
#   small responder of our own): SERVFAIL, never the answer, no block line.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_dns.sh
. "$E2E_DIR/lib_dns.sh"
e2e_init

# Every alias per mode, so each mode's first query for a name goes upstream
# and dnsmasq's log counts that mode's queries only.
vendor=() allowed=()
for m in embedded daemon; do
	for a in docs tcp noedns nx cache learn al au pa; do
		vendor+=("$a.$m.vendor.test")
	done
	allowed+=("www.$m.vendor.test" "ok.$m.vendor.test")
done
dns_start --local-ttl=60 \
	--host-record=vendor.github.com,127.0.0.19 --host-record=cdn.allowed.test,127.0.0.3 \
	--cname="$(IFS=,; echo "${vendor[*]}"),vendor.github.com,60" \
	--cname="$(IFS=,; echo "${allowed[*]}"),cdn.allowed.test,60" \
	--cname=mid.vendor.test,vendor.github.com,60 \
	--cname=hop.embedded.vendor.test,mid.vendor.test,60 \
	--cname=hop.daemon.vendor.test,mid.vendor.test,60
dns_tools
GOOD_UPSTREAM=$UPSTREAM

# badchain.py PORTFILE SECONDS: answers every query on 127.0.0.1 with one
# CNAME whose target is a compression pointer to itself; its port in PORTFILE.
cat >"$T/badchain.py" <<'EOF'
import os, select, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    if not select.select([s], [], [], end - time.monotonic())[0]:
        break
    q, peer = s.recvfrom(4096)
    off = 12
    while off < len(q) and q[off]:
        off += q[off] + 1
    qend = off + 5
    if len(q) < qend:
        continue
    rd = qend + 12  # the RDATA's offset: owner pointer (2) + fixed part (10)
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, 2) + struct.pack(">H", 0xC000 | rd)
    s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:qend] + rr, peer)
EOF
"$PY" "$T/badchain.py" "$T/badchain.port" 80 2>>"$T/badchain.err" &
E2E_PIDS+=("$!")
wait_file "$T/badchain.port" 5 || die "badchain.py started" "$(_show "$T/badchain.err")"
BAD_UPSTREAM=127.0.0.1:$(cat "$T/badchain.port")

printf 'block github.com\nrefuse-with nxdomain\n' >"$CONF/policies/nx.policy"
printf 'mode allowlist\nallow vendor.test\n' >"$CONF/policies/vendoronly.policy"
printf 'mode allowlist\nallow vendor.test\nallow allowed.test\n' >"$CONF/policies/vendorcdn.policy"

DIG=(dig +tries=1 +time=3 @127.0.0.53)
CONN=("$PY" "$E2E_DIR/conn.py")
GH=vendor.github.com

# What dnsmasq itself answers: the chain, so a refusal below is the proxy's.
MODE=direct
dig +tries=1 +time=3 -p "$DNS_PORT" @127.0.0.1 docs.embedded.vendor.test >"$(rf chain out)" 2>&1
printf 'dig -p %s @127.0.0.1 docs.embedded.vendor.test' "$DNS_PORT" >"$(rf chain cmd)"
expect_dig chain NOERROR 127.0.0.19
assert_dig chain "dnsmasq answers with the CNAME" test "$(dig_rrs chain CNAME)" = 1
MODE=

# The refusal's shape, checked only on a refusal (an answer has its own OPT or none).
refused_opt() { [ "$(dig_status "$1")" = REFUSED ] && dig_has_opt "$1"; }
refused_no_opt() { [ "$(dig_status "$1")" = REFUSED ] && ! dig_has_opt "$1"; }
cname_count_is() { [ "$(dig_rrs "$1" CNAME)" = "$2" ]; }

scenario()
{
	local v=$MODE.vendor.test

	# Blocklist, from the upstream: UDP with EDNS, TCP, UDP without EDNS.
	guarded docs -- "${DIG[@]}" "docs.$v"
	expect_dig docs REFUSED
	assert_dig docs "the refusal carries an OPT (dig sent one)" refused_opt docs
	assert_block docs "docs.$v" reason=FromCNAME cname="$GH"
	assert_dns_saw A "docs.$v"
	guarded tcp -- "${DIG[@]}" +tcp "tcp.$v"
	expect_dig tcp REFUSED
	assert_block tcp "tcp.$v" reason=FromCNAME cname="$GH"
	guarded noedns -- "${DIG[@]}" +noedns "noedns.$v"
	expect_dig noedns REFUSED
	assert_dig noedns "no OPT in the refusal (dig sent none)" refused_no_opt noedns
	assert_block noedns "noedns.$v" reason=FromCNAME cname="$GH"
	guarded nx --policy nx -- "${DIG[@]}" "nx.$v"
	expect_dig nx NXDOMAIN
	assert_block nx "nx.$v" reason=FromCNAME cname="$GH" policy=nx
	# Two hops: mid.vendor.test is allowed, the name after it is not.
	guarded hop -- "${DIG[@]}" "hop.$v"
	expect_dig hop REFUSED
	assert_block hop "hop.$v" reason=FromCNAME cname="$GH"

	# From the cache: the first dig fills it (and is refused), the second
	# (exec'd: its pid is the run's client pid) is answered from it.
	guarded cache -- bash -c "$(tq warm "${DIG[@]}" "cache.$v"); exec ${DIG[*]} cache.$v"
	expect_dig warm REFUSED
	expect_dig cache REFUSED
	assert_block cache "cache.$v" reason=FromCNAME cname="$GH" cmd="${DIG[*]} cache.$v"
	assert_eq "cache.$v reached dnsmasq once" 1 "$(dns_count_settled A "cache.$v")"

	# The refused chain's address is learned: a connect to it is refused.
	guarded learn -- bash -c "${DIG[*]} learn.$v >/dev/null; exec ${CONN[*]} 127.0.0.19 9"
	assert_eq "learn: connect to the chain's address" EPERM \
		"$(sed -n 's/^result: //p' "$(rf learn out)")"
	assert_packet learn 127.0.0.19 9 FromBlockedDomain cmd="${CONN[*]} 127.0.0.19 9"

	# A CNAME to an allowed name: answered, nothing logged.
	guarded www -- "${DIG[@]}" "www.$v"
	expect_dig www NOERROR 127.0.0.3
	assert_dig www "the CNAME is passed on" cname_count_is www 1
	assert_no_block www

	# Allowlist: an allowed alias does not open its unlisted target.
	guarded al --policy vendoronly -- "${DIG[@]}" "al.$v"
	expect_dig al REFUSED
	assert_block al "al.$v" reason=FromCNAME cname="$GH" policy=vendoronly \
		firewallMethod=allowlist
	guarded al-ok --policy vendorcdn -- "${DIG[@]}" "ok.$v"
	expect_dig al-ok NOERROR 127.0.0.3
	assert_no_block al-ok

	# Audit: answered, the would-be refusal logged.
	guarded au --mode audit -- "${DIG[@]}" "au.$v"
	expect_dig au NOERROR 127.0.0.19
	assert_block au "au.$v" reason=FromCNAME cname="$GH" blocked=false firewallMethod=audit

	# A chain that does not read is not passed on (the daemon is restarted
	# with the responder as its upstream, and back).
	with_upstreams "$BAD_UPSTREAM"
	guarded bad -- "${DIG[@]}" "bad.$v"
	expect_dig bad SERVFAIL
	assert_no_block bad
	with_upstreams "$GOOD_UPSTREAM"

	# One daemon, one cache for every guard: what an audit run was given is
	# still refused to a blocklist run.
	if [ "$MODE" = daemon ]; then
		guarded pa-audit --mode audit -- "${DIG[@]}" "pa.$v"
		expect_dig pa-audit NOERROR 127.0.0.19
		guarded pa -- "${DIG[@]}" "pa.$v"
		expect_dig pa REFUSED
		assert_block pa "pa.$v" reason=FromCNAME cname="$GH"
		assert_eq "pa.$v reached dnsmasq once (the second from the cache)" 1 \
			"$(dns_count_settled A "pa.$v")"
	fi
}
for_each_mode scenario
assert_no_run_cgroups "no run cgroup left"
e2e_done
