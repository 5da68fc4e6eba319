#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""fairdns.py CMD ARGS: the upstream and the clients of t_dns_fair.sh and t_dns_spoof.sh.

  upstream honest|spoof SECONDS PORTFILE LOG
      A fake upstream on 127.0.0.1 (its port written to PORTFILE), for at most
      SECONDS. Names under slow.test are never answered; under blocked.test
      the answer is 192.0.2.66; any other name is 127.0.0.3, TTL 60. Every
      question is a line "NAME TYPE" (lowercase) in LOG. In spoof mode each
      answer is preceded by forged ones, all saying 192.0.2.99: a wrong id;
      the right id with the question in the other case (DNS 0x20); the right
      id with another name; the right id and question from another port. Names
      under spoofonly.test get the forged answers alone, never the real one.
  flood SERVER SECONDS MAXQ STOPFILE
      Queries for N.slow.test as fast as the socket takes them, until SECONDS
      passed, MAXQ were sent or STOPFILE exists. Prints
      "sent=N servfail=N other=N".
  seq SERVER COUNT SUFFIX
      COUNT queries, one after the other, for unique names under SUFFIX, each
      waited for up to 3 s (no retry). One line per query: "NAME RCODE ADDRS".
  burst SERVER COUNT SUFFIX
      COUNT queries for unique names under SUFFIX sent at once on one socket,
      then their answers collected for up to 5 s. Output as seq.
Every socket is on loopback; every wait is bounded.
"""
import os
import random
import select
import socket
import struct
import sys
import time

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def question(msg):
    """(wire bytes of the question, name as text) of MSG, or (None, None)."""
    off, labels = 12, []
    try:
        while msg[off]:
            n = msg[off]
            if n & 0xC0:
                return None, None
            labels.append(msg[off + 1 : off + 1 + n].decode("ascii", "replace"))
            off += 1 + n
        return msg[12 : off + 5], ".".join(labels)
    except IndexError:
        return None, None


def answer(qid, qwire, addr):
    hdr = struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
    return hdr + qwire + rr


def swapcase_name(qwire):
    return bytes(b ^ 0x20 if chr(b).isalpha() else b for b in qwire[:-4]) + qwire[-4:]


def cmd_upstream(mode, seconds, portfile, log):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % sock.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    end = time.monotonic() + seconds
    with open(log, "a") as f, open(log + ".raw", "a") as raw:
        while time.monotonic() < end:
            ready, _, _ = select.select([sock], [], [], min(0.5, end - time.monotonic()))
            if not ready:
                continue
            msg, peer = sock.recvfrom(4096)
            qwire, name = question(msg)
            if qwire is None or len(msg) < 12:
                continue
            (qid,) = struct.unpack(">H", msg[:2])
            lname = name.lower()
            f.write("%s %d\n" % (lname, struct.unpack(">H", qwire[-4:-2])[0]))
            raw.write(name + "\n")
            f.flush()
            raw.flush()
            if lname.endswith("slow.test"):
                continue
            if mode == "spoof":
                bad = "192.0.2.99"
                sock.sendto(answer(qid ^ 0x5A5A, qwire, bad), peer)
                if any(chr(b).isalpha() for b in qwire[:-4]):
                    sock.sendto(answer(qid, swapcase_name(qwire), bad), peer)
                wrong = bytearray(qwire)
                wrong[1] = ord("z") if wrong[1] != ord("z") else ord("y")
                sock.sendto(answer(qid, bytes(wrong), bad), peer)
                other.sendto(answer(qid, qwire, bad), peer)
                if lname.endswith("spoofonly.test"):
                    continue
            addr = "192.0.2.66" if lname.endswith("blocked.test") else "127.0.0.3"
            sock.sendto(answer(qid, qwire, addr), peer)


def cmd_flood(server, seconds, maxq, stopfile):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((server, 53))
    sock.setblocking(False)
    end = time.monotonic() + seconds
    sent = servfail = other = 0
    base = random.randrange(1 << 20)
    while sent < maxq and time.monotonic() < end:
        try:
            sock.send(query(sent & 0xFFFF, "f%d-%d.slow.test" % (base, sent)))
            sent += 1
        except BlockingIOError:
            select.select([sock], [sock], [], 0.01)
        except ConnectionRefusedError:
            pass
        if sent % 512 == 0 and os.path.exists(stopfile):
            break
        while True:
            try:
                r = sock.recv(4096)
            except (BlockingIOError, ConnectionRefusedError):
                break
            if len(r) >= 4 and r[3] & 15 == 2:
                servfail += 1
            else:
                other += 1
    print("sent=%d servfail=%d other=%d" % (sent, servfail, other))


def addrs_of(r):
    _, an = struct.unpack(">HH", r[4:8])
    addrs = []
    off = 12 + len(question(r)[0] or b"")
    for _ in range(an):
        if off + 12 > len(r):
            break
        rtype, _c, _t, rdlen = struct.unpack(">HHIH", r[off + 2 : off + 12])
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(r[off + 12 : off + 16]))
        off += 12 + rdlen
    return ",".join(addrs) or "-"


def cmd_burst(server, count, suffix):
    base = random.randrange(1 << 20)
    names = {1000 + i: "b%d-%d.%s" % (base, i, suffix) for i in range(count)}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.connect((server, 53))
    for qid, name in names.items():
        sock.send(query(qid, name))
    got = {}
    end = time.monotonic() + 5
    while len(got) < count and time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.01))
        try:
            r = sock.recv(4096)
        except socket.timeout:
            break
        (qid,) = struct.unpack(">H", r[:2])
        if qid in names and qid not in got:
            got[qid] = "%s %s" % (RCODES.get(r[3] & 15, str(r[3] & 15)), addrs_of(r))
    for qid, name in names.items():
        print("%s %s" % (name, got.get(qid, "none -")))


def cmd_seq(server, count, suffix):
    base = random.randrange(1 << 20)
    for i in range(count):
        name = "s%d-%d.%s" % (base, i, suffix)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((server, 53))
        sock.settimeout(3)
        qid = random.randrange(65536)
        sock.send(query(qid, name))
        try:
            while True:
                r = sock.recv(4096)
                if len(r) >= 12 and struct.unpack(">H", r[:2])[0] == qid:
                    break
        except socket.timeout:
            print("%s none -" % name)
            continue
        finally:
            sock.close()
        print("%s %s %s" % (name, RCODES.get(r[3] & 15, str(r[3] & 15)), addrs_of(r)))
        sys.stdout.flush()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "upstream":
        cmd_upstream(args[0], float(args[1]), args[2], args[3])
    elif cmd == "flood":
        cmd_flood(args[0], float(args[1]), int(args[2]), args[3])
    elif cmd == "burst":
        cmd_burst(args[0], int(args[1]), args[2])
    elif cmd == "seq":
        cmd_seq(args[0], int(args[1]), args[2])
    else:
        sys.exit("unknown command " + cmd)


main()
