# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the tests
#
# Helpers for the DNS engine tests (t_dns_*.sh), sourced after lib.sh and
# e2e_init: a set of real dnsmasq upstreams on loopback that give every kind
# of answer the engine must pass on, silent and dead upstreams, timed
# clients, dig output fields, and dnsprobe.py for what dig cannot do (TCP
# pipelining, idle and stalled connections, malformed packets).

# ------------------------------------------------------------- upstreams

# _dnsmasq_free_port LOG ARGS...: one dnsmasq on 127.0.0.1 at a random free
# port, with ARGS; its port in DM_PORT, its pid in DM_PID (stopped by the trap).
_dnsmasq_free_port()
{
	local log=$1 try i port
	shift
	for ((try = 0; try < 10; try++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
		dnsmasq --no-daemon --no-resolv --no-hosts --port="$port" \
			--listen-address=127.0.0.1 --bind-interfaces \
			--log-queries --log-facility="$log" "$@" 2>>"$T/dnsmasq.stderr" &
		DM_PID=$!
		for ((i = 0; i < 30; i++)); do
			kill -0 "$DM_PID" 2>/dev/null || break # port taken: next one
			if dig +tries=1 +time=1 -p "$port" @127.0.0.1 probe.invalid >/dev/null 2>&1; then
				DM_PORT=$port
				E2E_PIDS+=("$DM_PID")
				return 0
			fi
			sleep 0.1
		done
		_stop_pid "$DM_PID"
		wait "$DM_PID" 2>/dev/null
	done
	die "dnsmasq did not start" "$(_show "$T/dnsmasq.stderr")"
}

# dnsd_start: the upstream of these tests, three dnsmasqs:
#  - AUTH, authoritative for auth.test and sf.test: h1/h2.auth.test have only an
#    A record (AAAA is NODATA with an SOA), other names are NXDOMAIN with an
#    SOA (so a negative answer has a TTL, RFC 2308);
#  - VALID, validating DNSSEC with a made-up trust anchor for sf.test, so that
#    sf.test is BOGUS: a real SERVFAIL (dnsmasq 2.90 forwarding to a dead port
#    answers nothing over UDP and closes over TCP: no rcode to pass on);
#  - the main one, which the proxies forward to (UPSTREAM, DNS_PORT, query log
#    DNS_LOG): allowed.test (127.0.0.3, ::3), github.com (127.0.0.9),
#    example.com (127.0.0.11), nx.test (NXDOMAIN, no SOA), TXT records
#    mid.test (3 x 201 bytes: fits 1232, not 512) and big.test (8 x 201
#    bytes: more than 1232), local TTL 60; auth.test and sf.test forwarded.
#    Anything else is REFUSED (no other servers).
dnsd_start()
{
	local s i txt=()
	s=$(printf '%0200d' 0 | tr 0 x)
	for i in 1 2 3; do txt+=("--txt-record=mid.test,$i$s"); done
	for i in 1 2 3 4 5 6 7 8; do txt+=("--txt-record=big.test,$i$s"); done

	_dnsmasq_free_port "$T/dnsmasq-auth.log" \
		--auth-server=ns.auth.test,127.0.0.1 --auth-zone=auth.test --auth-zone=sf.test \
		--host-record=h1.auth.test,127.0.0.4 --host-record=h2.auth.test,127.0.0.4 \
		--host-record=sf.test,127.0.0.5 --auth-ttl=60
	AUTH_PORT=$DM_PORT
	_dnsmasq_free_port "$T/dnsmasq-valid.log" --server="/sf.test/127.0.0.1#$AUTH_PORT" \
		--dnssec \
		--trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D \
		--trust-anchor=sf.test,12345,8,2,0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
	VALID_PORT=$DM_PORT
	DNS_LOG=$T/dnsmasq.log
	_dnsmasq_free_port "$DNS_LOG" --local-ttl=60 \
		--address=/allowed.test/127.0.0.3 --address=/allowed.test/::3 \
		--address=/github.com/127.0.0.9 --address=/example.com/127.0.0.11 \
		--address=/nx.test/ \
		--server="/auth.test/127.0.0.1#$AUTH_PORT" --server="/sf.test/127.0.0.1#$VALID_PORT" \
		"${txt[@]}"
	DNS_PORT=$DM_PORT
	UPSTREAM=127.0.0.1:$DNS_PORT
	GOOD_UPSTREAM=$UPSTREAM
	dns_tools
}

# dns_count TYPE NAME: how many TYPE queries for NAME reached the main dnsmasq,
# in any case (the proxy sends names in a random case: DNS 0x20).
dns_count() { grep -ciF "query[$1] $2 from" "$DNS_LOG"; }

# dns_count_settled TYPE NAME: dns_count once the log has stopped growing for
# that name (dnsmasq logs as it receives; give a late line 0.3 s).
dns_count_settled()
{
	local a b
	a=$(dns_count "$1" "$2")
	sleep 0.3
	b=$(dns_count "$1" "$2")
	while [ "$a" != "$b" ]; do
		a=$b
		sleep 0.3
		b=$(dns_count "$1" "$2")
	done
	echo "$b"
}

# dead_port: a UDP port on 127.0.0.1 where nothing listens (one the kernel just
# handed out and took back), so a datagram to it gets ICMP port unreachable.
dead_port()
{
	"$PY" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# silent_start N SECONDS: N UDP sockets on 127.0.0.1 that read every query and
# never answer, for at most SECONDS. Their ports in SILENT_PORTS; each query
# they read is a line "PORT QNAME" in $T/silent.log (QNAME in lowercase: the
# proxy sends names in a random case, DNS 0x20).
silent_start()
{
	local i
	rm -f "$T/silent.ports"
	"$PY" "$DNSPROBE" silent "$1" "$2" "$T/silent.ports" "$T/silent.log" \
		2>>"$T/silent.err" &
	E2E_PIDS+=("$!")
	for ((i = 0; i < 50; i++)); do
		[ -s "$T/silent.ports" ] && break
		sleep 0.1
	done
	read -r -a SILENT_PORTS <"$T/silent.ports" || die "silent upstreams started" "$(_show "$T/silent.err")"
}

# silent_saw PORT NAME: did the silent upstream at PORT read a query for NAME?
silent_saw() { grep -qxF "$1 $2" "$T/silent.log" 2>/dev/null; }

# daemon_restart UPSTREAM...: depfenced again (stopped first if running), now
# forwarding to these upstreams, tried in order. As daemon_start otherwise.
daemon_restart()
{
	local i u args=() sock=$T/dstate/depfenced.sock
	[ -z "$DAEMON_PID" ] || daemon_stop
	rm -f "$sock"
	for u in "$@"; do args+=(--upstream "$u"); done
	E2E_INSTANCES+=("$(instance_of "$T/dstate")")
	"$DEPFENCED" --state-dir "$T/dstate" --config-dir "$CONF" "${args[@]}" "${DAEMON_ARGS[@]}" \
		2>>"$T/daemon.log" &
	DAEMON_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	die "depfenced came up (socket $sock)" "daemon.log:" "$(_show "$T/daemon.log")"
}

# with_upstreams UPSTREAM...: the proxy of the current mode forwards to these,
# in order. Embedded: the first is UPSTREAM (dfrun passes it first), the others
# are in UP_OPTS, to give to guarded. Daemon: depfenced is restarted with them.
with_upstreams()
{
	local u
	UPSTREAM=$1
	UP_OPTS=()
	shift
	if [ "$MODE" = daemon ]; then
		daemon_restart "$UPSTREAM" "$@"
		return
	fi
	for u in "$@"; do UP_OPTS+=(--upstream "$u"); done
}
UP_OPTS=()

# ------------------------------------------------------------ timed clients

# tq NAME CMD...: a shell command line that runs CMD with its output in this
# mode's $T/MODE-NAME.out and its wall time in ms in .ms (CMD is noted in
# .cmd), for guarded scripts that make several queries in one run (one
# engine, one cache):
#   guarded two -- bash -c "$(tq a dig x); sleep 1; $(tq b dig y)"
# (bash: printf %q may quote in a way only bash reads)
tq()
{
	local name=$1 IFS=' '
	shift
	rm -f "$(rf "$name" out)" "$(rf "$name" ms)"
	printf '%s' "$*" >"$(rf "$name" cmd)"
	printf '%q ' "$T/tq.sh" "$(rf "$name" out)" "$(rf "$name" ms)" "$@"
}

# tq_ms NAME: the time noted by tq, or "none".
tq_ms()
{
	local ms
	ms=$(cat "$(rf "$1" ms)" 2>/dev/null)
	echo "${ms:-none}"
}

# --------------------------------------------------------------- dig output

_dig_out() { rf "$1" out; }

# dig_flags NAME: the header flags dig printed ("qr aa rd ra"), or "none".
dig_flags()
{
	local f
	f=$(sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' "$(_dig_out "$1")" | head -n 1)
	echo "${f:-none}"
}

# dig_has_flag NAME FLAG
dig_has_flag() { [[ " $(dig_flags "$1") " == *" $2 "* ]]; }

# dig_section_count NAME SECTION: the count dig printed for QUERY, ANSWER,
# AUTHORITY or ADDITIONAL.
dig_section_count()
{
	local c
	c=$(sed -n "s/^;; flags: .* $2: \([0-9]*\).*/\1/p" "$(_dig_out "$1")" | head -n 1)
	echo "${c:-none}"
}

# dig_has_opt NAME: did the answer carry an OPT record (EDNS)?
dig_has_opt() { grep -q '^;; OPT PSEUDOSECTION:' "$(_dig_out "$1")"; }

# dig_size NAME: the size of the message dig received.
dig_size()
{
	local s
	s=$(sed -n 's/^;; MSG SIZE  rcvd: \([0-9]*\).*/\1/p' "$(_dig_out "$1")" | tail -n 1)
	echo "${s:-0}"
}

# dig_rrs NAME TYPE: how many TYPE records the answer section holds.
dig_rrs()
{
	awk -v t="$2" '/^;; ANSWER SECTION:/ { a = 1; next } /^$/ { a = 0 } a && $4 == t { n++ } END { print n + 0 }' \
		"$(_dig_out "$1")"
}

# dig_ttl NAME: the TTL of the first answer record, or "none".
dig_ttl()
{
	local t
	t=$(awk '/^;; ANSWER SECTION:/ { a = 1; next } a && NF >= 5 { print $2; exit }' "$(_dig_out "$1")")
	echo "${t:-none}"
}

# dig_question NAME: the question dig printed from the reply, "name class type".
dig_question()
{
	awk '/^;; QUESTION SECTION:/ { getline; sub(/^;/, ""); print $1, $2, $3; exit }' "$(_dig_out "$1")"
}

# dig_show NAME: what to print when a dig check fails.
dig_show()
{
	printf 'command: %s\n' "$(cat "$(rf "$1" cmd)" 2>/dev/null)"
	_show "$(_dig_out "$1")" 40
}

# assert_dig NAME DESC TEST...: TEST (a command) holds for dig run NAME.
assert_dig()
{
	local name=$1 desc=$2
	shift 2
	if "$@"; then
		pass "$name: $desc"
	else
		fail "$name: $desc" "$(dig_show "$name")"
	fi
}

# ------------------------------------------------------------------ logs

# assert_log_line DESC ERE FILE: FILE gets a line matching ERE within 3 s
# (the daemon's log is written at the end of each loop turn).
assert_log_line()
{
	local i
	for ((i = 0; i < 60; i++)); do
		grep -aEq -- "$2" "$3" 2>/dev/null && break
		sleep 0.05
	done
	assert_file_has "$1" "$2" "$3"
}

# ---------------------------------------------------------- helper programs

# dns_tools: write $T/tq.sh and $T/dnsprobe.py (DNSPROBE).
dns_tools()
{
	DNSPROBE=$T/dnsprobe.py
	cat >"$T/tq.sh" <<'EOF'
#!/bin/sh
# tq.sh OUT MS CMD...: CMD with its stdout and stderr in OUT, its wall time (ms) in MS.
out=$1 ms=$2
shift 2
start=$(date +%s%N)
"$@" >"$out" 2>&1
rc=$?
end=$(date +%s%N)
echo $(((end - start) / 1000000)) >"$ms"
exit $rc
EOF
	chmod +x "$T/tq.sh"
	cat >"$DNSPROBE" <<'EOF'
#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""dnsprobe.py CMD ARGS: the DNS exchanges of the e2e tests that dig cannot make.

  tcp SERVER seq|pipe|half NAME[/TYPE]...  one TCP connection to SERVER:53;
      the queries one at a time (seq), or all in one write (pipe), then
      half-closed (half: 'then: eof' when the proxy closes after the answers);
      one 'reply' line per answer, matched to its query by id, in the order
      they came.
  udp-raw SERVER LABEL=HEX...          each message on one connected UDP socket;
      'reply LABEL ...' or 'reply LABEL none' (nothing within 0.5 s).
  tcp-raw SERVER LABEL=HEX...          the same as frames on one TCP connection.
  slow SERVER NAME                     an idle TCP client and one that announces
      60000 bytes and stalls; meanwhile NAME over UDP and over a new TCP
      connection; then when (if within 15 s) the proxy closed each.
  silent N SECONDS PORTSFILE LOG       N UDP sockets that never answer, for SECONDS.
Every wait is bounded; all sockets go to loopback (SERVER is 127.0.0.53 here,
redirected by the guard).
"""
import os
import random
import select
import socket
import struct
import sys
import time

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
TYPES = {"A": 1, "AAAA": 28, "TXT": 16}


def query(qid, name, qtype="A"):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", TYPES[qtype], 1)


def read_name(msg, off):
    labels, jumps, end = [], 0, None
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = (n & 0x3F) << 8 | msg[off + 1]
            jumps += 1
            if jumps > 20:
                raise ValueError("loop")
            continue
        if n == 0:
            return ".".join(labels), end if end is not None else off + 1
        labels.append(msg[off + 1 : off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def describe(msg):
    """id, rcode, flags, counts, question and addresses of a reply, as key=value."""
    if len(msg) < 12:
        return "short len=%d" % len(msg)
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    out = ["id=%04x" % qid, "rcode=" + RCODES.get(flags & 15, str(flags & 15))]
    out.append("qr=%d tc=%d rd=%d" % (flags >> 15, flags >> 9 & 1, flags >> 8 & 1))
    out.append("qd=%d an=%d len=%d" % (qd, an, len(msg)))
    try:
        off, qname, addrs = 12, "", []
        for _ in range(qd):
            qname, off = read_name(msg, off)
            off += 4
        for _ in range(an):
            _, off = read_name(msg, off)
            rtype, _c, _t, rdlen = struct.unpack(">HHIH", msg[off : off + 10])
            off += 10
            if rtype == 1:
                addrs.append(socket.inet_ntop(socket.AF_INET, msg[off : off + rdlen]))
            elif rtype == 28:
                addrs.append(socket.inet_ntop(socket.AF_INET6, msg[off : off + rdlen]))
            off += rdlen
        out.append("qname=" + (qname or "-"))
        out.append("addrs=" + (",".join(addrs) or "-"))
    except (IndexError, ValueError, struct.error):
        out.append("unparsable")
    return " ".join(out)


def recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def recv_frame(sock, deadline):
    (n,) = struct.unpack(">H", recv_exact(sock, 2, deadline))
    return recv_exact(sock, n, deadline)


def frame(msg):
    return struct.pack(">H", len(msg)) + msg


def cmd_tcp(server, how, specs):
    ids = random.sample(range(1, 65536), len(specs))
    queries = {}
    for qid, spec in zip(ids, specs):
        name, _, qtype = spec.partition("/")
        queries[qid] = (spec, query(qid, name, qtype or "A"))
    sock = socket.create_connection((server, 53), timeout=5)
    deadline = time.monotonic() + 5
    replies = []
    try:
        if how in ("pipe", "half"):
            sock.sendall(b"".join(frame(q) for _, q in queries.values()))
            if how == "half":
                sock.shutdown(socket.SHUT_WR)
            for _ in ids:
                replies.append(recv_frame(sock, deadline))
            if how == "half":
                sock.settimeout(max(deadline - time.monotonic(), 0.1))
                print("then: " + ("eof" if sock.recv(1) == b"" else "more data"))
        else:
            for qid in ids:
                sock.sendall(frame(queries[qid][1]))
                replies.append(recv_frame(sock, deadline))
    except (TimeoutError, socket.timeout, EOFError, OSError) as e:
        print("error after %d replies: %s" % (len(replies), type(e).__name__))
    for r in replies:
        (rid,) = struct.unpack(">H", r[:2])
        spec = queries.get(rid, ("?",))[0]
        print("reply %s %s" % (spec, describe(r)))
    print("replies: %d of %d" % (len(replies), len(ids)))


def parse_raw(args):
    return [(a.partition("=")[0], bytes.fromhex(a.partition("=")[2])) for a in args]


def cmd_udp_raw(server, args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((server, 53))
    for label, msg in parse_raw(args):
        sock.send(msg)
        sock.settimeout(0.5)
        try:
            print("reply %s %s" % (label, describe(sock.recv(4096))))
        except socket.timeout:
            print("reply %s none" % label)


def cmd_tcp_raw(server, args):
    sock = socket.create_connection((server, 53), timeout=5)
    for label, msg in parse_raw(args):
        sock.sendall(frame(msg))
        try:
            print("reply %s %s" % (label, describe(recv_frame(sock, time.monotonic() + 0.5))))
        except (TimeoutError, socket.timeout):
            print("reply %s none" % label)
        except (EOFError, OSError) as e:
            print("reply %s closed %s" % (label, type(e).__name__))
            return


def udp_ask(server, name):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((server, 53))
    sock.settimeout(3)
    t0 = time.monotonic()
    sock.send(query(4242, name))
    try:
        r = sock.recv(4096)
    except socket.timeout:
        return "none"
    return "%s ms=%d" % (describe(r), (time.monotonic() - t0) * 1000)


def tcp_ask(server, name):
    t0 = time.monotonic()
    try:
        sock = socket.create_connection((server, 53), timeout=3)
        sock.sendall(frame(query(4343, name)))
        r = recv_frame(sock, t0 + 3)
    except (TimeoutError, socket.timeout, EOFError, OSError) as e:
        return "error " + type(e).__name__
    sock.close()
    return "%s ms=%d" % (describe(r), (time.monotonic() - t0) * 1000)


def cmd_slow(server, name):
    t0 = time.monotonic()
    idle = socket.create_connection((server, 53), timeout=3)
    stall = socket.create_connection((server, 53), timeout=3)
    stall.sendall(b"\xea\x60" + b"\x00" * 100)  # a 60000-byte frame, 100 bytes of it
    time.sleep(0.5)
    print("during-udp " + udp_ask(server, name))
    print("during-tcp " + tcp_ask(server, name))
    open_ = {idle: "idle", stall: "stall"}
    while open_ and time.monotonic() < t0 + 15:
        ready, _, _ = select.select(list(open_), [], [], t0 + 15 - time.monotonic())
        for s in ready:
            try:
                data = s.recv(4096)
                how = "eof" if not data else None
            except ConnectionResetError:
                how = "reset"
            if how is None:
                print("%s got %d unexpected bytes" % (open_[s], len(data)))
                continue
            print("closed %s ms=%d how=%s" % (open_[s], (time.monotonic() - t0) * 1000, how))
            del open_[s]
    for label in open_.values():
        print("closed %s none" % label)
    print("after-tcp " + tcp_ask(server, name))


def cmd_silent(n, seconds, portsfile, log):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    with open(portsfile + ".tmp", "w") as f:
        f.write(" ".join(str(s.getsockname()[1]) for s in socks) + "\n")
    os.rename(portsfile + ".tmp", portsfile)
    end = time.monotonic() + seconds
    with open(log, "a") as f:
        while time.monotonic() < end:
            ready, _, _ = select.select(socks, [], [], end - time.monotonic())
            for s in ready:
                msg = s.recv(4096)
                try:
                    name = read_name(msg, 12)[0].lower()  # DNS 0x20
                except (IndexError, ValueError):
                    name = "?"
                f.write("%d %s\n" % (s.getsockname()[1], name))
                f.flush()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tcp":
        cmd_tcp(args[0], args[1], args[2:])
    elif cmd == "udp-raw":
        cmd_udp_raw(args[0], args[1:])
    elif cmd == "tcp-raw":
        cmd_tcp_raw(args[0], args[1:])
    elif cmd == "slow":
        cmd_slow(args[0], args[1])
    elif cmd == "silent":
        cmd_silent(int(args[0]), float(args[1]), args[2], args[3])
    else:
        sys.exit("unknown command " + cmd)


main()
EOF
}
