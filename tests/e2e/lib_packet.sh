# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the tests
#
# Helpers for the packet-enforcement tests (tests/e2e/t_packet_*.sh), sourced
# after lib.sh. docs/design.md, "Packet enforcement", is the spec.
#
#   pk_init                 e2e_init, the helper programs below in $T, and a
#                           trap that also removes addresses added to lo
#   pk_dns_start            dnsmasq on loopback with the names these tests use
#   pk_listen NAME ADDR...  TCP and UDP listeners on ADDR...:LPORT (one port)
#   pk_client ...           one guarded (or unguarded) python process that runs
#                           steps in order: connects, sends, DNS lookups, waits
#   pk_run_cg / pk_maps_of  the run's cgroup, and the BPF maps its programs use
#
# Every listener and client is bounded in time and stops by itself; every
# address is a loopback one (127.0.0.0/8, ::1, or a ULA added to lo here and
# removed on every path).

PK_ADDRS=() # addresses pk_addr_add put on lo

# ---------------------------------------------------------------- setup

pk_init()
{
	e2e_init
	trap _pk_exit EXIT
	export PK_DIR=$T
	_pk_write_helpers
}

# The EXIT trap: lib.sh's, after taking the addresses off lo. e2e_cleanup
# reads the exit status first: hand it on.
_pk_exit()
{
	local rc=$?
	pk_addrs_remove
	(exit "$rc")
	e2e_cleanup
}

# pk_addr_add ADDR/LEN: put an address on lo for this test (removed by the trap).
pk_addr_add()
{
	ip addr add "$1" dev lo nodad 2>"$T/ip.err" || ip addr add "$1" dev lo 2>"$T/ip.err" ||
		die "ip addr add $1 dev lo" "$(_show "$T/ip.err")"
	PK_ADDRS+=("$1")
}

pk_addrs_remove()
{
	local a
	for a in "${PK_ADDRS[@]}"; do
		ip addr del "$a" dev lo 2>/dev/null
	done
	PK_ADDRS=()
}

# pk_ula: a fd00::/8 prefix (a /64) no other concurrent test picks, in PK_ULA,
# e.g. fd00:df:1a2b:3c42 (append ::N for an address). No group is 0, so the
# address as written here is also how inet_ntop (the log) writes it, and so is
# the /64 with the last group xor 1.
pk_ula()
{
	printf -v PK_ULA 'fd00:df:%x:%x' $((RANDOM | 1)) $((($$ & 0xfff0) | 2))
}

# pk_dns_start [DNSMASQ-OPTION]...: lib.sh's dns_start with the names these
# tests use as well (DNS_PID, DNS_PORT, UPSTREAM, DNS_LOG).
# shellcheck disable=SC2120 # the options are optional
pk_dns_start()
{
	dns_start --address=/cdn.test/127.0.0.9 --address=/v6.test/::1 \
		--address=/other.test/127.0.0.8 "$@"
}

# ------------------------------------------------------------- listeners

# pk_listen NAME [--port N] ADDR...: TCP and UDP listeners on every ADDR at one
# port (LPORT; random unless given), for 80 s at most. Each accepted connection
# and datagram is a line "tcp|udp LOCAL-ADDR PAYLOAD" in $T/listen-NAME.log.
pk_listen()
{
	local name=$1 port=0 i
	shift
	if [ "$1" = --port ]; then
		port=$2
		shift 2
	fi
	rm -f "$T/listen-$name.port"
	"$PY" "$T/pk_listen.py" "$T/listen-$name.port" "$port" "$@" \
		>"$T/listen-$name.log" 2>"$T/listen-$name.err" &
	E2E_PIDS+=("$!")
	for ((i = 0; i < 50; i++)); do
		if [ -s "$T/listen-$name.port" ]; then
			LPORT=$(cat "$T/listen-$name.port")
			return 0
		fi
		kill -0 "$!" 2>/dev/null || break
		sleep 0.05
	done
	LPORT=
	return 1
}

# pk_heard NAME PROTO ADDR PAYLOAD SECONDS: did listener NAME get it in time?
pk_heard()
{
	local i
	for ((i = 0; i < $5 * 20; i++)); do
		grep -qxF "$2 $3 $4" "$T/listen-$1.log" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- clients

# The client: pk.py STEP... runs each step in order in this one process (so
# every PACKET line names its pid and argv) and prints one line per step:
#   tcp,HOST,PORT / udp,HOST,PORT   "tcp HOST PORT RESULT MS" (OK, EPERM, ...)
#   tcp,HOST,PORT,WANT,SECONDS      the same, retried until RESULT is WANT
#   tfo,HOST,PORT                   a TCP fast open sendto(): "tfo HOST PORT RESULT MS"
#   dns,TYPE,NAME / dns6,TYPE,NAME  "dns TYPE NAME RCODE ADDR..." asked of
#                                   127.0.0.53:53 / [::1]:53 (so redirected)
#   many,HOST,PORT,N                "many HOST PORT N-OK N-OTHER" N TCP connects
#   raw,HOST,PAYLOAD[,dstopts]      a UDP datagram to HOST:53 built by hand on a
#                                   raw socket (v4 or v6; dstopts: after an IPv6
#                                   destination-options header): "raw HOST RESULT"
#   touch,FILE / wait,FILE,SECONDS  FILE relative to $PK_DIR: hand-shakes
#   subcg,NAME                      moves itself into a new child NAME of its
#                                   own cgroup: "subcg NAME OK"
# 'expect_steps' reads the output.
_pk_write_helpers()
{
	cat >"$T/pk.py" <<'EOF'
import errno, os, random, socket, struct, sys, time


def err(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def conn(kind, host, port, want=None, secs=0):
    # With WANT and SECONDS: again every 0.1 s until the result is WANT (the
    # proxy learns the addresses of blocked names a round trip after it starts).
    end = time.monotonic() + float(secs)
    while True:
        line, r = conn1(kind, host, port)
        if r == want or time.monotonic() >= end:
            return line
        time.sleep(0.1)


def conn1(kind, host, port):
    s = socket.socket(fam(host), socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    s.settimeout(2)
    t = time.monotonic()
    try:
        if kind == "tcp":
            s.connect((host, int(port)))
        elif kind == "tfo":  # TCP fast open: the connect happens inside sendto()
            s.sendto(b"tfo", socket.MSG_FASTOPEN, (host, int(port)))
        else:
            s.sendto(b"udp-from-%d" % os.getpid(), (host, int(port)))
        r = "OK"
    except socket.timeout:
        r = "TIMEOUT"
    except OSError as e:
        r = err(e)
    finally:
        s.close()
    return "%s %s %s %s %d" % (kind, host, port, r, (time.monotonic() - t) * 1000), r


def dns(kind, qtype, name):
    server = "::1" if kind == "dns6" else "127.0.0.53"
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", {"A": 1, "AAAA": 28}[qtype], 1)
    s = socket.socket(fam(server), socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(q, (server, 53))
        m = s.recv(4096)
    except OSError as e:
        return "dns %s %s %s" % (qtype, name, "TIMEOUT" if isinstance(e, socket.timeout) else err(e))
    rcode = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(m[3] & 15, str(m[3] & 15))
    qd, an = struct.unpack(">HH", m[4:8])
    off, out = 12, []

    def skip(off):
        while m[off] and m[off] & 0xC0 != 0xC0:
            off += 1 + m[off]
        return off + (2 if m[off] else 1)

    for _ in range(qd):
        off = skip(off) + 4
    for _ in range(an):
        off = skip(off)
        t, _c, _ttl, ln = struct.unpack(">HHIH", m[off:off + 10])
        off += 10
        if t in (1, 28):
            out.append(socket.inet_ntop(socket.AF_INET if t == 1 else socket.AF_INET6, m[off:off + ln]))
        off += ln
    return " ".join(["dns", qtype, name, rcode] + out)


def many(host, port, n):
    ok = bad = 0
    for _ in range(int(n)):
        s = socket.socket(fam(host), socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((host, int(port)))
            ok += 1
        except OSError:
            bad += 1
        s.close()
    return "many %s %s %d %d" % (host, port, ok, bad)


def raw(host, payload, opt=""):
    # No IP_HDRINCL: the kernel adds the IP header, we write the UDP one, so
    # no UDP socket and no connect/sendmsg hook ever sees this datagram.
    # 'dstopts' (v6): with an empty destination-options extension header
    # between the IPv6 and the UDP header.
    data = payload.encode()
    hdr = struct.pack(">HHHH", 40000 + os.getpid() % 20000, 53, 8 + len(data), 0)
    try:
        s = socket.socket(fam(host), socket.SOCK_RAW, socket.IPPROTO_UDP)
        if fam(host) == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, 7, 6)  # IPV6_CHECKSUM: the kernel fills it in
            if opt == "dstopts":  # IPV6_DSTOPTS: next header (filled in), length 0, PadN of 4
                s.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
        s.sendto(hdr + data, (host, 0))
        r = "SENT"
    except OSError as e:
        r = err(e)
    return "raw %s %s" % (host, r)


def subcg(name):
    # Move this process into a new child of its own cgroup (v2).
    mnt = next(l.split()[4] for l in open("/proc/self/mountinfo")
               if l.split(" - ")[1].split()[0] == "cgroup2")
    own = next(l[3:].strip() for l in open("/proc/self/cgroup") if l.startswith("0::"))
    path = mnt + own.rstrip("/") + "/" + name
    try:
        os.mkdir(path)
        with open(path + "/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
        r = "OK"
    except OSError as e:
        r = err(e)
    return "subcg %s %s" % (name, r)


def wait(path, secs):
    end = time.monotonic() + float(secs)
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.02)
    return "wait %s %s" % (os.path.basename(path), "OK" if os.path.exists(path) else "TIMEOUT")


def main():
    d = os.environ.get("PK_DIR", ".")
    for step in sys.argv[1:]:
        a = step.split(",")
        if a[0] in ("tcp", "udp", "tfo"):
            line = conn(*a)
        elif a[0] in ("dns", "dns6"):
            line = dns(*a)
        elif a[0] == "many":
            line = many(*a[1:])
        elif a[0] == "raw":
            line = raw(*a[1:])
        elif a[0] == "subcg":
            line = subcg(a[1])
        elif a[0] == "touch":
            open(os.path.join(d, a[1]), "w").close()
            line = "touch " + a[1]
        elif a[0] == "wait":
            line = wait(os.path.join(d, a[1]), a[2])
        else:
            line = "bad step " + step
        print(line, flush=True)


main()
EOF
	cat >"$T/pk_listen.py" <<'EOF'
import os, random, select, socket, sys, time

portfile, want, addrs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for _ in range(50):
    port = want or random.randrange(20000, 60000)
    socks = []
    try:
        for a in addrs:
            f = socket.AF_INET6 if ":" in a else socket.AF_INET
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(f, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((a, port))
                if kind == socket.SOCK_STREAM:
                    s.listen(512)
                socks.append((s, kind, a))
        break
    except OSError:
        for s, _k, _a in socks:
            s.close()
        socks = []
        if want:
            sys.exit("cannot bind port %d" % want)
if not socks:
    sys.exit("no free port")
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(portfile + ".tmp", portfile)
by_fd = {s.fileno(): (s, k, a) for s, k, a in socks}
end = time.monotonic() + 80
while time.monotonic() < end:
    ready, _, _ = select.select(list(by_fd), [], [], 0.5)
    for fd in ready:
        s, kind, a = by_fd[fd]
        if kind == socket.SOCK_STREAM:
            c, _peer = s.accept()
            c.close()
            print("tcp %s -" % a, flush=True)
        else:
            data, _peer = s.recvfrom(4096)
            print("udp %s %s" % (a, data.decode(errors="replace")), flush=True)
EOF
	cat >"$T/pk_bpf.py" <<'EOF'
import json, socket, subprocess, sys, time


def bpftool(*a):
    out = subprocess.run(["bpftool", "-j"] + list(a), capture_output=True, text=True)
    if out.returncode:
        raise SystemExit("bpftool %s: %s" % (" ".join(a), out.stderr.strip()))
    return json.loads(out.stdout or "null")


def key_bytes(e):
    return bytes(int(b, 16) for b in e["key"])


def main():
    cmd = sys.argv[1]
    if cmd == "maps-of-cgroup":
        # name id for every map the programs attached to (or inherited by) CG use.
        ids = set()
        for p in bpftool("cgroup", "show", sys.argv[2], "effective"):
            ids.update(bpftool("prog", "show", "id", str(p["id"])).get("map_ids", []))
        for i in sorted(ids):
            print(bpftool("map", "show", "id", str(i))["name"], i)
    elif cmd == "show":
        # type max_entries of one map (MAP is "id N" or "pinned PATH")
        m = bpftool("map", "show", *sys.argv[2:4])
        print(m["type"], m["max_entries"])
    elif cmd == "counter":
        # the sum over CPUs of counters[INDEX]
        idx = int(sys.argv[4])
        e = bpftool("map", "lookup", *sys.argv[2:4], "key", *["%d" % b for b in idx.to_bytes(4, "little")])
        print(sum(int.from_bytes(bytes(int(b, 16) for b in v["value"]), "little") for v in e["values"]))
    elif cmd == "addr-ids":
        # handed/learned: "ID EXPIRES-IN-SECONDS ADDR" per entry (negative: expired)
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        for e in bpftool("map", "dump", *sys.argv[2:4]):
            k, v = key_bytes(e), bytes(int(b, 16) for b in e["value"])
            fam = int.from_bytes(k[8:12], "little")
            addr = socket.inet_ntop(socket.AF_INET6, k[12:28]) if fam == 10 else \
                socket.inet_ntop(socket.AF_INET, k[12:16])
            print(int.from_bytes(k[:8], "little"), (int.from_bytes(v[:8], "little") - now) // 10**9, addr)
    elif cmd == "u64s":
        # "KEY-U64 VALUE-U64" per entry, from the first 8 bytes of each (guards:
        # cgroup id; cg_guard: sub-cgroup -> guard cgroup; clients: -> guard_cgid)
        for e in bpftool("map", "dump", *sys.argv[2:4]):
            k, v = key_bytes(e), bytes(int(b, 16) for b in e["value"])
            print(int.from_bytes(k[:8], "little"), int.from_bytes(v[:8], "little"))
    elif cmd == "expire":
        # handed/learned: every entry of ID (cgroup or policy) expired a second ago
        past = time.clock_gettime_ns(time.CLOCK_MONOTONIC) - 10**9
        for e in bpftool("map", "dump", *sys.argv[2:4]):
            k = key_bytes(e)
            if int.from_bytes(k[:8], "little") == int(sys.argv[4]):
                bpftool("map", "update", *sys.argv[2:4], "key", "hex", *["%02x" % b for b in k],
                        "value", "hex", *["%02x" % b for b in past.to_bytes(8, "little")])
    elif cmd == "cidr-ids":
        # cidrs: "POLICY-ID FAMILY PREFIXLEN VERDICT" per entry
        for e in bpftool("map", "dump", *sys.argv[2:4]):
            k = key_bytes(e)
            print(int.from_bytes(k[4:8], "little"), int.from_bytes(k[8:12], "little"),
                  int.from_bytes(k[:4], "little") - 64, int(e["value"][0], 16))
    else:
        raise SystemExit("pk_bpf.py: unknown " + cmd)


main()
EOF
}

# pk_wait_file FILE SECONDS: until FILE exists (the clients' hand-shake files
# are empty, which lib.sh's wait_file does not count).
pk_wait_file() { wait_exists "$@"; }

# pk_steps NAME: what run NAME's client printed, times left out, one string
# "STEP | STEP | ...".
pk_steps()
{
	awk '$1 == "tcp" || $1 == "udp" || $1 == "tfo" { NF = 4 } { printf "%s%s", s, $0; s = " | " }' \
		"$(rf "$1" out)" 2>/dev/null
}

# expect_steps NAME STEP...: the client's steps ended as given (see pk.py).
expect_steps()
{
	local name=$1 want seen
	shift
	want=$(printf '%s | ' "$@")
	want=${want% | }
	seen=$(pk_steps "$name")
	if [ "$seen" = "$want" ]; then
		pass "$name: $want"
	else
		fail "$name: client steps" "expected: $want" "seen:     $seen" \
			"depfence exit ${RC:-?}; stderr:" "$(_show "$(rf "$name" err)")"
	fi
}

# expect_fast NAME: every refused step of run NAME failed in under a second
# (refused at connect/send, not after a timeout).
expect_fast()
{
	local slow
	slow=$(awk '$1 ~ /^(tcp|udp|tfo)$/ && $4 == "EPERM" && $5 >= 1000' "$(rf "$1" out)")
	if [ -z "$slow" ]; then pass "$1: every EPERM at once (< 1000 ms)"; else fail "$1: every EPERM at once" "$slow"; fi
}

# pk_client_bg NAME [RUN-OPTION...] -- STEP...: pk.py guarded, in the
# background (BG_PID); pk_client NAME ... the same in the foreground.
# A PACKET line may be written after the client exited, from the start of its
# argv that the BPF event carries (255 bytes): a client's whole command line
# stays shorter, so the cmd= field can be compared whole.
_pk_argv_fits()
{
	local IFS=' ' argv="$PY $T/pk.py $*"
	[ ${#argv} -lt 255 ] || die "test bug: pk.py command line of ${#argv} bytes: $argv"
}

pk_client_bg()
{
	local name=$1 opts
	shift
	split_opts "$@"
	opts=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	_pk_argv_fits "$@"
	guarded_bg "$name" "${opts[@]}" -- "$PY" "$T/pk.py" "$@"
}

pk_client()
{
	local name=$1 opts
	shift
	split_opts "$@"
	opts=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	_pk_argv_fits "$@"
	guarded "$name" "${opts[@]}" -- "$PY" "$T/pk.py" "$@"
}

# pk_unguarded NAME STEP...: pk.py outside any guard.
pk_unguarded()
{
	local name=$1
	shift
	unguarded "$name" "$PY" "$T/pk.py" "$@"
}

# pk_ready NAME FILE: a background client reached its hand-shake FILE; sets
# CPID to its pid. Dies if it did not within 10 s.
pk_ready()
{
	pk_wait_file "$T/$2" 10 ||
		die "$1: client reached '$2' within 10 s" "output:" "$(_show "$(rf "$1" out)")" \
			"stderr:" "$(_show "$(rf "$1" err)")"
	CPID=$(cat "$(rf "$1" pid)")
}

# pk_bg_done NAME PID: wait for background run NAME (its depfence pid) to end.
pk_bg_done()
{
	bg_wait "$2" 20 || fail "$1: the run ended within 20 s"
}

# pk_packet_lines NAME PID: how many PACKET BLOCKED lines run NAME logged for
# PID (after a moment: the daemon writes its log from its own loop), leaving
# out reason=LocalResolver: the C library tries nscd's socket
# whenever $HOME or $SHELL is unset (bash, python), which depends on the
# caller's environment, not on what the test checks.
pk_packet_lines()
{
	sleep 0.2
	grep -a '^WARN PACKET BLOCKED ' "$(block_log "$1")" 2>/dev/null |
		grep -v ' reason=LocalResolver ' | grep -c " pid=$2 "
}

# ------------------------------------------------------- cgroups and maps

# pk_cg PID: the v2 cgroup directory of PID.
pk_cg()
{
	printf '%s%s' "$CG_ROOT" "$(sed -n 's/^0:://p' "/proc/$1/cgroup")"
}

# pk_cgid PID: its cgroup id (the inode of the directory), as the maps key it.
pk_cgid()
{
	stat -c %i "$(pk_cg "$1")"
}

# pk_map NAME PID: the id of map NAME that the programs guarding PID use.
pk_map()
{
	"$PY" "$T/pk_bpf.py" maps-of-cgroup "$(pk_cg "$2")" 2>>"$T/bpftool.err" |
		awk -v n="$1" '$1 == n { print $2; exit }'
}

# pk_cnt NAME: the index of DF_CNT_NAME in enum df_counter, which is the order
# of the X(NAME, name, help) lines of DF_COUNTERS in bpf/dnsguard.h, so that
# this file keeps no copy of the list.
pk_cnt()
{
	awk -v n="$1" '
		/^#define DF_COUNTERS\(X\)/ { e = 1; i = 0; next }
		e && /^[ \t]*X\(/ {
			s = $0; sub(/^[ \t]*X\(/, "", s); sub(/[ \t]*,.*/, "", s)
			if (s == n) { print i; exit }
			i++
		}
		e && !/\\$/ { exit }
	' "$E2E_DIR/../../bpf/dnsguard.h"
}

# pk_counter MAP-ID NAME: counters[DF_CNT_NAME], summed over CPUs.
pk_counter()
{
	"$PY" "$T/pk_bpf.py" counter id "$1" "$(pk_cnt "$2")" 2>>"$T/bpftool.err"
}

