# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the tests
#
# Helpers for t_failclosed.sh, sourced after lib.sh and lib_packet.sh
# (docs/design.md, "Failure behaviour: never open" is the spec):
#
#   fc_init                  the programs below in $T, a sink on port 53
#   fc_bg NAME [OPT...] -- STEP...
#                            a long-lived guarded job (fc.py) in the background
#   fc_step NAME WHAT        what the job's step WHAT ended as
#   fc_guard_ports MAP CGID  the listener ports of a guards map entry
#   fc_catch NAME PORT       a UDP socket on 127.0.0.1:PORT that logs what it
#                            gets (an unrelated process that took a freed port)
#
# The sink (SINK, a random 127.x.y.z, port 53 TCP and UDP) stands for a real
# resolver: every guarded query of this test is addressed to it or to
# 127.9.9.9, so a query that escaped the guard (programs detached, rewrite
# skipped) arrives there; a guarded one never does.

# fc_init: after pk_init.
fc_init()
{
	local i
	_fc_write_helpers
	for ((i = 0; i < 10; i++)); do
		SINK=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
		pk_listen sink --port 53 "$SINK" && return 0
	done
	die "a sink listening on some 127.x.y.z:53" "$(_show "$T/listen-sink.err")"
}

# The job: fc.py STEP... runs each step in order in this one process and
# prints one line per step, flushed:
#   dns,SERVER,NAME     "dns SERVER NAME RESULT [ADDR...]": one A query on an
#                       unconnected UDP socket to SERVER:53 (as dig sends it),
#                       1 s for the answer; RESULT is the rcode, TIMEOUT or
#                       the errno of sendto/recv (EPERM, ECONNREFUSED)
#   tcp,HOST,PORT       "tcp HOST PORT RESULT": one connect(), 2 s at most
#   touch,FILE          "touch FILE" ($T/FILE)
#   wait,FILE,SECONDS   "wait FILE OK|TIMEOUT": until $T/FILE exists
_fc_write_helpers()
{
	cat >"$T/fc.py" <<'EOF'
import errno, os, random, socket, struct, sys, time


def err(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def dns(server, name):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        s.sendto(q, (server, 53))
        m = s.recv(4096)
    except socket.timeout:
        return "dns %s %s TIMEOUT" % (server, name)
    except OSError as e:
        return "dns %s %s %s" % (server, name, err(e))
    finally:
        s.close()
    rcode = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(m[3] & 15, str(m[3] & 15))
    out, off = [], len(q)
    an = struct.unpack(">H", m[6:8])[0]
    for _ in range(an):
        while m[off] and m[off] & 0xC0 != 0xC0:
            off += 1 + m[off]
        off += 2 if m[off] else 1
        t, _c, _ttl, ln = struct.unpack(">HHIH", m[off:off + 10])
        off += 10
        if t == 1:
            out.append(socket.inet_ntop(socket.AF_INET, m[off:off + ln]))
        off += ln
    return " ".join(["dns", server, name, rcode] + out)


def tcp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        r = "OK"
    except socket.timeout:
        r = "TIMEOUT"
    except OSError as e:
        r = err(e)
    finally:
        s.close()
    return "tcp %s %s %s" % (host, port, r)


def wait(path, secs):
    end = time.monotonic() + float(secs)
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.02)
    return "wait %s %s" % (os.path.basename(path), "OK" if os.path.exists(path) else "TIMEOUT")


d = os.environ["PK_DIR"]
for step in sys.argv[1:]:
    a = step.split(",")
    if a[0] == "dns":
        line = dns(a[1], a[2])
    elif a[0] == "tcp":
        line = tcp(a[1], a[2])
    elif a[0] == "touch":
        open(os.path.join(d, a[1]), "w").close()
        line = "touch " + a[1]
    elif a[0] == "wait":
        line = wait(os.path.join(d, a[1]), a[2])
    else:
        line = "bad step " + step
    print(line, flush=True)
EOF
	# fc_bpf.py ports MAP-SPEC... CGID: "UDP4 TCP4 UDP6 TCP6 MODE" of the
	# guards entry of CGID (MAP-SPEC: "pinned PATH" or "id N"; struct df_guard
	# of bpf/dnsguard.h: two addresses, then the four ports, flags, policy id,
	# mode), or nothing when there is no entry.
	cat >"$T/fc_bpf.py" <<'EOF'
import json, struct, subprocess, sys

cmd, spec, cgid = sys.argv[1], sys.argv[2:-1], int(sys.argv[-1])
out = subprocess.run(["bpftool", "-j", "map", "dump"] + spec, capture_output=True, text=True)
if out.returncode:
    sys.exit("bpftool map dump %s: %s" % (" ".join(spec), out.stderr.strip()))
for e in json.loads(out.stdout or "[]"):
    k = bytes(int(b, 16) for b in e["key"])
    v = bytes(int(b, 16) for b in e["value"])
    if int.from_bytes(k[:8], "little") == cgid:
        u4, t4, u6, t6, _flags, _pol, mode = struct.unpack("<HHHHIII", v[20:40])
        print(u4, t4, u6, t6, mode)
EOF
	# fc_catch.py PORT: a UDP socket on 127.0.0.1:PORT (no SO_REUSEADDR: the
	# port must really be free), 80 s at most; "bound" on stderr, then one line
	# per datagram on stdout. Runs as nobody, from stdin: it needs no file.
	cat >"$T/fc_catch.py" <<'EOF'
import select, socket, sys, time

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("bound", file=sys.stderr, flush=True)
end = time.monotonic() + 80
while time.monotonic() < end:
    if select.select([s], [], [], 0.5)[0]:
        data, peer = s.recvfrom(4096)
        print("got %d bytes from %s:%d" % (len(data), peer[0], peer[1]), flush=True)
EOF
}

# fc_bg NAME [RUN-OPTION...] -- STEP...: fc.py guarded in the background
# (BG_PID: depfence run's pid); its pid in $(rf NAME pid), output in
# $(rf NAME out).
fc_bg()
{
	local name=$1 opts
	shift
	split_opts "$@"
	opts=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	guarded_bg "$name" "${opts[@]}" -- "$PY" "$T/fc.py" "$@"
}

# fc_ready NAME FILE: job NAME reached its hand-shake FILE (10 s at most);
# CPID is its pid, CG its cgroup directory, CGID that cgroup's id.
fc_ready()
{
	pk_ready "$1" "$2"
	# shellcheck disable=SC2153 # CPID is set by pk_ready
	CG=$(pk_cg "$CPID")
	CGID=$(stat -c %i "$CG")
}

# fc_step NAME WHAT: the last line of job NAME's output that starts with WHAT
# (e.g. "dns 127.9.9.9 q3-99.allowed.test"), what follows WHAT on it.
fc_step()
{
	local line
	line=$(grep -F -- "$2 " "$(rf "$1" out)" 2>/dev/null | tail -n 1)
	printf '%s' "${line#"$2 "}"
}

# expect_step NAME WHAT ERE DESC: the result of step WHAT matches ERE.
expect_step()
{
	local got
	got=$(fc_step "$1" "$2")
	if [[ $got =~ $3 ]]; then
		pass "$1: $4 ($2: $got)"
	else
		fail "$1: $4" "step: $2" "expected to match: $3" "seen: ${got:-(no such step)}" \
			"output:" "$(_show "$(rf "$1" out)" 20)" "stderr:" "$(_show "$(rf "$1" err)")"
	fi
}

# fc_guard_ports MAP-SPEC... CGID: see fc_bpf.py.
fc_guard_ports()
{
	"$PY" "$T/fc_bpf.py" ports "$@" 2>>"$T/bpftool.err"
}

# fc_catch NAME PORT: fc_catch.py on 127.0.0.1:PORT as the unprivileged user
# nobody (any local user could bind a freed port); its log $T/catch-NAME.log.
fc_catch()
{
	local i
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" - "$2" <"$T/fc_catch.py" \
		>"$T/catch-$1.log" 2>"$T/catch-$1.err" &
	E2E_PIDS+=("$!")
	for ((i = 0; i < 100; i++)); do
		grep -qx bound "$T/catch-$1.err" && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.05
	done
	die "user nobody bound a UDP socket on the freed port 127.0.0.1:$2" \
		"$(_show "$T/catch-$1.err")"
}

# fc_caught NAME: how many datagrams catcher NAME got so far.
fc_caught() { wc -l <"$T/catch-$1.log"; }

# assert_caught_nothing NAME SINCE DESC: catcher NAME got no datagram beyond
# the first SINCE (fc_caught before the step), 1 s after the step.
assert_caught_nothing()
{
	sleep 1
	if [ "$(fc_caught "$1")" -eq "$2" ]; then
		pass "$3"
	else
		fail "$3" "the socket on the dead proxy's port received:" \
			"$(tail -n +$(($2 + 1)) "$T/catch-$1.log" | head -n 4)"
	fi
}

# wait_log ERE FILE SECONDS: a line matching ERE appears in FILE in time (the
# daemon writes its log from its loop, after the socket appears).
wait_log()
{
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -Eq -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# assert_sink_quiet DESC: no query ever reached the sink.
assert_sink_quiet()
{
	if [ -s "$T/listen-sink.log" ]; then
		fail "$1" "the sink $SINK:53 received:" "$(_show "$T/listen-sink.log")"
	else
		pass "$1"
	fi
}

# assert_not_upstream NAME DESC: dnsmasq never saw a query for NAME.
assert_not_upstream()
{
	assert_file_lacks "$2" "query\[[A-Z]+\] $(re_quote "$1") from" "$DNS_LOG"
}

# fc_alive PID: PID exists and is not a zombie.
fc_alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# fc_gone PID SECONDS: PID is gone (or a zombie) within SECONDS.
fc_gone()
{
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		fc_alive "$1" || return 0
		sleep 0.1
	done
	return 1
}

# assert_attached DESC CGROUP: the DNS programs are attached to CGROUP itself.
assert_attached()
{
	local progs
	progs=$(bpftool -j cgroup show "$2" 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4 |
		sort | paste -sd ' ')
	assert_match "$1 (bpftool cgroup show: $progs)" 'df_connect4.*df_recvmsg4.*df_sendmsg4' "$progs"
}
