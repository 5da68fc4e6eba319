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
  rsock,FAM,TYPE,PROTO  the socket system call itself (ctypes syscall(SYS_socket)),
                        every argument a full 64-bit register: FAM, TYPE and
                        PROTO a name as for sock (TYPE also packet: SOCK_PACKET)
                        or a number (0x100000011: AF_PACKET with bit 32 set):
                        "rsock FAM TYPE PROTO RESULT"
  setns,PATH,FLAGS      setns(open(PATH), FLAGS) by syscall(SYS_setns), FLAGS a
                        64-bit number (0x100000000): "setns PATH FLAGS RESULT"
  cgleave,DIR           mount a fresh cgroup2 at $ESC_DIR/DIR (rooted where this
                        process's cgroup namespace is) and write our pid into
                        its root's cgroup.procs, then unmount: "cgleave DIR
                        RESULT" (RESULT of the mount, or of the write)
  getfd[,PORT]          pidfd_getfd(2) (syscall(SYS_pidfd_getfd)) of every socket
                        fd of our parent: "getfd parent=COMM tried=N RESULT",
                        RESULT OK (one was taken), or the errno every try got;
                        with PORT, a taken UDP socket connected to port PORT is
                        used to ask for github.com: " stolen=RCODE [ADDR...]"
  cgsub,NAME            move into cgroup NAME below ours (made if needed), in the
                        first cgroup2 mount we see: "cgsub NAME RESULT"
  cgback,NAME           back into the parent of NAME, and remove NAME: "cgback
                        NAME RESULT"
  ctl,SOCK,FILE         one control request: the line in $ESC_DIR/FILE sent on
                        the unix socket SOCK (depfenced's), one reply line read:
                        "ctl FILE ok=true|false error=MESSAGE", or "ctl FILE ERR"
  touch,FILE            $ESC_DIR/FILE: "touch FILE"
  wait,FILE,SECONDS     until $ESC_DIR/FILE exists: "wait FILE OK|TIMEOUT"

RESULT is OK or the errno's name. Keep argv short: a PACKET BLOCKED line may
be written from the first 255 bytes of argv that the BPF event carries.

esc.py --guard-ports PINNED-MAP CGID prints "UDP4 TCP4 UDP6 TCP6 MODE" of the
guards map entry of CGID (struct df_guard, bpf/dnsguard.h), nothing if none.
"""
import errno
import ctypes
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
TYPES = {"raw": socket.SOCK_RAW, "dgram": socket.SOCK_DGRAM, "packet": 10}
PROTOS = {"udp": socket.IPPROTO_UDP, "icmp": socket.IPPROTO_ICMP, "all": socket.htons(3), "0": 0}


def sock(f, t, p):
    try:
        s = socket.socket(FAMS[f], TYPES[t], PROTOS[p])
        s.close()
        r = "OK"
    except OSError as e:
        r = err(e)
    return "sock %s %s %s %s" % (f, t, p, r)


LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
NR = {"x86_64": {"socket": 41, "setns": 308, "pidfd_getfd": 438},
      "aarch64": {"socket": 198, "setns": 268, "pidfd_getfd": 438}}[os.uname().machine]


def syscall(name, *args):
    """(result, errno name or "OK") of a system call, every argument a 64-bit long."""
    ctypes.set_errno(0)
    r = LIBC.syscall(ctypes.c_long(NR[name]), *(ctypes.c_long(a) for a in args))
    if r < 0:
        e = ctypes.get_errno()
        return r, errno.errorcode.get(e, str(e))
    return r, "OK"


def num(x, names):
    return names[x] if x in names else int(x, 0)


def rsock(f, t, p):
    fd, r = syscall("socket", num(f, FAMS), num(t, TYPES), num(p, PROTOS))
    if fd >= 0:
        os.close(fd)
    return "rsock %s %s %s %s" % (f, t, p, r)


def setns(path, flags):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        return "setns %s %s open:%s" % (path, flags, err(e))
    try:
        _, r = syscall("setns", fd, int(flags, 0))
    finally:
        os.close(fd)
    return "setns %s %s %s" % (path, flags, r)


def cgleave(d, name):
    mnt = os.path.join(d, name)
    os.makedirs(mnt, exist_ok=True)
    if LIBC.mount(b"cgroup2", mnt.encode(), b"cgroup2", 0, None) < 0:
        e = ctypes.get_errno()
        return "cgleave %s mount:%s" % (name, errno.errorcode.get(e, str(e)))
    try:
        with open(os.path.join(mnt, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        r = "OK"
    except OSError as e:
        r = err(e)
    finally:
        LIBC.umount2(mnt.encode(), 2)  # MNT_DETACH
        os.rmdir(mnt)
    return "cgleave %s %s" % (name, r)


def getfd(port=None):
    ppid = os.getppid()
    with open("/proc/%d/comm" % ppid) as f:
        comm = f.read().strip()
    pfd = os.pidfd_open(ppid)
    tried, got, res, extra = 0, [], set(), ""
    for name in sorted(os.listdir("/proc/%d/fd" % ppid), key=int):
        try:
            if not os.readlink("/proc/%d/fd/%s" % (ppid, name)).startswith("socket:"):
                continue
        except OSError:
            continue
        tried += 1
        fd, r = syscall("pidfd_getfd", pfd, int(name), 0)
        res.add(r)
        if fd >= 0:
            got.append(fd)
    os.close(pfd)
    for fd in got:
        s = socket.socket(fileno=fd)
        try:
            peer = s.getpeername() if s.type == socket.SOCK_DGRAM else None
        except OSError:
            peer = None
        if port and not extra and peer and peer[1] == int(port):
            qid, q = query("github.com")
            s.settimeout(0.3)
            for _ in range(10):  # the proxy reads this socket too: ask until we win a reply
                try:
                    s.send(q)
                    m = s.recv(4096)
                except OSError:
                    continue
                if len(m) >= 12 and struct.unpack(">H", m[:2])[0] == qid:
                    extra = " stolen=" + " ".join([RCODES.get(m[3] & 15, "?")] + answers(m))
                    break
        s.detach()
        os.close(fd)
    r = "OK" if got else "/".join(sorted(res)) or "NONE"
    return "getfd parent=%s tried=%d %s%s" % (comm, tried, r, extra)


def cg_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            a = line.split()
            if a[a.index("-") + 1] == "cgroup2":
                return a[4]
    return None


def cg_self():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return "/"


def cgsub(name):
    d = os.path.join(cg_mount(), cg_self().lstrip("/"), name)
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        r = "OK"
    except OSError as e:
        r = err(e)
    return "cgsub %s %s" % (name, r)


def cgback(name):
    d = os.path.join(cg_mount(), cg_self().lstrip("/"))
    try:
        if os.path.basename(d.rstrip("/")) != name:
            raise OSError(errno.ENOENT, "not in " + name)
        with open(os.path.join(os.path.dirname(d.rstrip("/")), "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        os.rmdir(d)
        r = "OK"
    except OSError as e:
        r = err(e)
    return "cgback %s %s" % (name, r)


def ctl(sock, d, name):
    try:
        with open(os.path.join(d, name)) as f:
            req = f.read().strip() + "\n"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(sock)
        s.sendall(req.encode())
        rep = s.makefile().readline()
        s.close()
    except OSError as e:
        return "ctl %s %s" % (name, err(e))
    try:
        r = json.loads(rep)
    except ValueError:
        return "ctl %s bad reply %r" % (name, rep[:200])
    return "ctl %s ok=%s error=%s" % (name, "true" if r.get("ok") else "false",
                                      r.get("error", ""))


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
        elif a[0] == "rsock":
            line = rsock(*a[1:4])
        elif a[0] == "setns":
            line = setns(*a[1:3])
        elif a[0] == "cgleave":
            line = cgleave(d, a[1])
        elif a[0] == "getfd":
            line = getfd(*a[1:2])
        elif a[0] == "cgsub":
            line = cgsub(a[1])
        elif a[0] == "cgback":
            line = cgback(a[1])
        elif a[0] == "ctl":
            line = ctl(a[1], d, a[2])
        elif a[0] == "touch":
            open(os.path.join(d, a[1]), "w").close()
            line = "touch " + a[1]
        elif a[0] == "wait":
            line = wait(os.path.join(d, a[1]), a[2])
        else:
            line = "bad step " + step
        print(line, flush=True)


main()
