#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""esc.py STEP...   (tests/e2e/t_escape_local.sh)

Runs each step in order in this one process (so every block line names its pid
and argv) and prints one line per step, flushed:

  dns,HOST,PORT,NAME    one A query on an unconnected UDP socket (sendto, then
                        recvfrom, 2 s): "dns HOST PORT NAME RCODE from=SRC#SPORT
                        [ADDR...]", or "dns HOST PORT NAME ERR" (EPERM, TIMEOUT,
                        ECONNREFUSED, ...). HOST with a ':' is sent from an
                        AF_INET6 socket ([::], ::ffff:a.b.c.d, ...).
  cdns,HOST,PORT,NAME   the same on a connected socket: connect(), send(), then
                        recvfrom() (so the source the kernel reports is seen);
                        adds "peer=ADDR#PORT" (getpeername after connect).
  tcp,HOST,PORT         one connect(), 2 s: "tcp HOST PORT RESULT"
  unix,PATH             connect() of an AF_UNIX stream socket: "unix PATH RESULT"
  cd,DIR                chdir: "cd DIR RESULT"
  sock,FAM,TYPE,PROTO   socket() only: "sock FAM TYPE PROTO RESULT"; FAM inet,
                        inet6 or packet, TYPE raw or dgram, PROTO udp, icmp or
                        all (AF_PACKET's ETH_P_ALL)
  touch,FILE            $ESC_DIR/FILE: "touch FILE"
  wait,FILE,SECONDS     until $ESC_DIR/FILE exists: "wait FILE OK|TIMEOUT"

RESULT is OK or the errno's name. Keep argv short: a PACKET BLOCKED line may
be written from the first 255 bytes of argv that the BPF event carries.

esc.py --guard-ports PINNED-MAP CGID prints "UDP4 TCP4 UDP6 TCP6 MODE" of the
guards map entry of CGID (struct df_guard, bpf/dnsguard.h), nothing if none.
"""
import errno
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def err(e):
    if isinstance(e, socket.timeout):
        return "TIMEOUT"
    return errno.errorcode.get(e.errno, str(e.errno))


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def query(name):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return qid, q + b"\0" + struct.pack(">HH", 1, 1)


def answers(m):
    def skip(off):
        while m[off] and m[off] & 0xC0 != 0xC0:
            off += 1 + m[off]
        return off + (2 if m[off] else 1)

    qd, an = struct.unpack(">HH", m[4:8])
    off, out = 12, []
    for _ in range(qd):
        off = skip(off) + 4
    for _ in range(an):
        off = skip(off)
        t, _c, _ttl, ln = struct.unpack(">HHIH", m[off:off + 10])
        off += 10
        if t in (1, 28):
            out.append(socket.inet_ntop(socket.AF_INET if t == 1 else socket.AF_INET6,
                                        m[off:off + ln]))
        off += ln
    return out


def dns(host, port, name, connected=False):
    head = "%s %s %s %s" % ("cdns" if connected else "dns", host, port, name)
    qid, q = query(name)
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    s.settimeout(2)
    peer = ""
    try:
        if connected:
            s.connect((host, int(port)))
            p = s.getpeername()
            peer = " peer=%s#%d" % (p[0], p[1])
            s.send(q)
        else:
            s.sendto(q, (host, int(port)))
        while True:
            m, src = s.recvfrom(4096)
            if len(m) >= 12 and struct.unpack(">H", m[:2])[0] == qid:
                break
    except OSError as e:
        return "%s %s%s" % (head, err(e), peer)
    finally:
        s.close()
    rcode = RCODES.get(m[3] & 15, str(m[3] & 15))
    return " ".join(["%s %s from=%s#%d%s" % (head, rcode, src[0], src[1], peer)] + answers(m))


def tcp(host, port):
    s = socket.socket(fam(host), socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        r = "OK"
    except OSError as e:
        r = err(e)
    finally:
        s.close()
    return "tcp %s %s %s" % (host, port, r)


def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        r = "OK"
    except OSError as e:
        r = err(e)
    finally:
        s.close()
    return "unix %s %s" % (path, r)


def cd(path):
    try:
        os.chdir(path)
        r = "OK"
    except OSError as e:
        r = err(e)
    return "cd %s %s" % (path, r)


FAMS = {"inet": socket.AF_INET, "inet6": socket.AF_INET6, "packet": getattr(socket, "AF_PACKET", 17)}
TYPES = {"raw": socket.SOCK_RAW, "dgram": socket.SOCK_DGRAM}
PROTOS = {"udp": socket.IPPROTO_UDP, "icmp": socket.IPPROTO_ICMP, "all": socket.htons(3), "0": 0}


def sock(f, t, p):
    try:
        s = socket.socket(FAMS[f], TYPES[t], PROTOS[p])
        s.close()
        r = "OK"
    except OSError as e:
        r = err(e)
    return "sock %s %s %s %s" % (f, t, p, r)


def wait(path, secs):
    end = time.monotonic() + float(secs)
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.02)
    return "wait %s %s" % (os.path.basename(path), "OK" if os.path.exists(path) else "TIMEOUT")


def guard_ports(mappath, cgid):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", mappath],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit("bpftool map dump pinned %s: %s" % (mappath, out.stderr.strip()))
    for e in json.loads(out.stdout or "[]"):
        k = bytes(int(b, 16) for b in e["key"])
        v = bytes(int(b, 16) for b in e["value"])
        if int.from_bytes(k[:8], "little") == cgid:
            u4, t4, u6, t6, _flags, _pol, mode = struct.unpack("<HHHHIII", v[20:40])
            print(u4, t4, u6, t6, mode)


def main():
    if sys.argv[1:2] == ["--guard-ports"]:
        guard_ports(sys.argv[2], int(sys.argv[3]))
        return
    d = os.environ.get("ESC_DIR", ".")
    for step in sys.argv[1:]:
        a = step.split(",")
        if a[0] == "dns":
            line = dns(*a[1:4])
        elif a[0] == "cdns":
            line = dns(*a[1:4], connected=True)
        elif a[0] == "tcp":
            line = tcp(*a[1:3])
        elif a[0] == "unix":
            line = unix(a[1])
        elif a[0] == "cd":
            line = cd(a[1])
        elif a[0] == "sock":
            line = sock(*a[1:4])
        elif a[0] == "touch":
            open(os.path.join(d, a[1]), "w").close()
            line = "touch " + a[1]
        elif a[0] == "wait":
            line = wait(os.path.join(d, a[1]), a[2])
        else:
            line = "bad step " + step
        print(line, flush=True)


main()
