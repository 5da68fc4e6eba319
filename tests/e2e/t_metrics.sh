#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfenced --metrics-listen 127.0.0.1:PORT: GET /metrics answers Prometheus
# text (promparse.py checks the format: HELP/TYPE, samples, histogram buckets
# monotone, +Inf == _count), and its counters move as a run's queries go: 3
# allowed and 2 blocked for policy strict, a refused connect by reason, a
# guard of kind run while it runs, upstream latency observed, a cache hit, a
# malformed query counted; the BPF programs' counters, one family
# depfence_kernel_events_total{counter=NAME}: redirect_udp4 moved by the
# run's 6 sends to port 53, ip_blocked by exactly its refused connect. No
# label value is a queried name. Other paths get
# 404, a request that never ends is dropped, and the endpoint is off unless
# asked (no listener on the port of a daemon started without the flag).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start --local-ttl=60
printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.6/32\n' >"$CONF/policies/strict.policy"

for ((try = 0; try < 10; try++)); do
	MPORT=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
	ss -Hltn "sport = :$MPORT" | grep -q . || break
done
DAEMON_ARGS=(--metrics-listen "127.0.0.1:$MPORT")
use_mode daemon

# scrape NAME: GET /metrics into $T/NAME.prom, parsed samples in $T/NAME.samples.
scrape()
{
	curl -sS --max-time 5 -o "$T/$1.prom" -D "$T/$1.hdr" "http://127.0.0.1:$MPORT/metrics" \
		2>"$T/$1.curl" || fail "$1: curl GET /metrics" "$(_show "$T/$1.curl")"
	"$PY" "$E2E_DIR/promparse.py" "$T/$1.prom" >"$T/$1.samples" 2>"$T/$1.perr" ||
		fail "$1: the scrape parses as Prometheus text" "$(_show "$T/$1.perr")"
}

# val NAME SAMPLE: the value of SAMPLE (name{sorted labels}) in scrape NAME; 0 if absent.
val()
{
	awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' "$T/$1.samples"
}

Q='depfence_dns_queries_total'
scrape before
assert_file_has "HTTP 200" '^HTTP/1.1 200 OK' "$T/before.hdr"
assert_file_has "Content-Type text/plain; version=0.0.4" \
	'^Content-Type: text/plain; version=0.0.4' "$T/before.hdr"
for fam in depfence_dns_queries_total depfence_packets_blocked_total depfence_guards \
	depfence_upstream_latency_seconds depfence_cache_hits_total depfence_errors_total \
	depfence_kernel_events_total; do
	assert_file_has "TYPE line for $fam" "^# TYPE $fam (counter|gauge|histogram)\$" "$T/before.prom"
done
assert_eq "no run guarded yet" 0 "$(val before 'depfence_guards{kind="run"}')"
K='depfence_kernel_events_total'
assert_eq "one HELP line for the kernel family" 1 "$(grep -c "^# HELP $K " "$T/before.prom")"
assert_file_has "a kernel sample per counter, redirect_udp4 among them" \
	"^$K\\{counter=\"redirect_udp4\"\\} [0-9]+\$" "$T/before.prom"

cat >"$T/job.sh" <<'EOS'
ready=$1 conn=$2 name=$3
dig +tries=1 +time=3 +short @127.0.0.53 "$name"
dig +tries=1 +time=3 +short @127.0.0.53 "$name"
dig +tries=1 +time=3 +short @127.0.0.53 "b-$name"
dig +tries=1 +time=3 +short @127.0.0.53 github.com
dig +tries=1 +time=3 +short @127.0.0.53 secret-name.github.com
/usr/bin/python3 "$conn" 127.0.0.6 9
/usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"xx", ("127.0.0.53", 53))'
: >"$ready"
exec sleep 30
EOS
chmod +x "$T/job.sh"
uniq_name allowed.test
rm -f "$T/m.ready"
guarded_bg m --policy strict -- "$T/job.sh" "$T/m.ready" "$E2E_DIR/conn.py" "$UNAME"
wait_exists "$T/m.ready" 15 || die "the queries ran" "$(_show "$(rf m err)")"
for ((i = 0; i < 30; i++)); do
	scrape during
	[ "$(val during 'depfence_packets_blocked_total{policy="strict",reason="FromIPRule"}')" = 1 ] && break
	sleep 0.1
done
d() { echo $(($(val during "$1") - $(val before "$1"))); }
assert_eq "allowed +3 for strict" 3 "$(d "$Q{policy=\"strict\",verdict=\"allowed\"}")"
assert_eq "blocked +2 for strict" 2 "$(d "$Q{policy=\"strict\",verdict=\"blocked\"}")"
assert_eq "audit +0 for strict" 0 "$(d "$Q{policy=\"strict\",verdict=\"audit\"}")"
assert_eq "a refused connect, reason FromIPRule" 1 \
	"$(val during 'depfence_packets_blocked_total{policy="strict",reason="FromIPRule"}')"
assert_eq "one run guarded" 1 "$(val during 'depfence_guards{kind="run"}')"
assert_eq "one cache hit (the repeated name)" 1 "$(d depfence_cache_hits_total{})"
assert_eq "one malformed query" 1 "$(d 'depfence_errors_total{what="malformed"}')"
# 5 digs (each a connect or a send) and the malformed query's sendto, all to port 53.
assert_gt "kernel: redirect_udp4 moved by the run's sends to port 53" 5 \
	"$(d "$K{counter=\"redirect_udp4\"}")"
assert_eq "kernel: ip_blocked moved by the refused connect" 1 "$(d "$K{counter=\"ip_blocked\"}")"
assert_eq "kernel: no escape dropped" 0 "$(d "$K{counter=\"dns_escape_dropped\"}")"
# Two names went upstream, and the proxy's own queries for the blocked ones.
assert_gt "upstream answers timed (histogram count)" 1 \
	"$(d depfence_upstream_latency_seconds_count{})"
if grep -Eq 'allowed\.test|github\.com|secret-name|[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"' "$T/during.prom"; then
	fail "no label value is a domain or an address" "$(grep -E 'test|github' "$T/during.prom")"
else
	pass "no label value is a domain or an address"
fi
kill -TERM "$BG_PID"
bg_wait "$BG_PID" 5
scrape after
assert_eq "no run guarded after it ended" 0 "$(val after 'depfence_guards{kind="run"}')"
assert_eq "counters stay after the guard is gone" 3 \
	"$(($(val after "$Q{policy=\"strict\",verdict=\"allowed\"}") - $(val before "$Q{policy=\"strict\",verdict=\"allowed\"}")))"

code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other")
assert_eq "another path: 404" 404 "$code"
# A request whose headers never end: closed by the daemon (5 s), not held.
start=$(date +%s)
"$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\n")
s.settimeout(10)
print("closed" if s.recv(100) == b"" else "data")' "$MPORT" >"$T/slow.out" 2>&1
assert_eq "a request that never ends is closed" closed "$(cat "$T/slow.out")"
assert_lt "within the deadline (s)" 9 "$(($(date +%s) - start))"
# One that is too long: closed without a reply.
"$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
try:
    s.sendall(b"GET /" + b"a" * 8192)
    s.settimeout(5)
    print("closed" if s.recv(100) == b"" else "data")
except ConnectionResetError:
    print("closed")' "$MPORT" >"$T/long.out" 2>&1
assert_eq "an oversized request is closed" closed "$(cat "$T/long.out")"
scrape last
pass "still answering after those"
daemon_stop

# Off unless asked.
DAEMON_ARGS=()
daemon_start
if curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$MPORT/metrics"; then
	fail "without --metrics-listen nothing answers on 127.0.0.1:$MPORT"
else
	pass "without --metrics-listen nothing answers on 127.0.0.1:$MPORT"
fi
e2e_done
