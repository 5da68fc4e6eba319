#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""dnsq.py SERVER NAME [TYPE [IGNORED...]]

One DNS query over a *connected* UDP socket (connect() then send(), as glibc's
resolver and nslookup do), where dig sends with sendto() on an unconnected one.
SERVER may be IPv4, IPv6 or v4-mapped IPv6 (::ffff:127.0.0.53). Prints
'status: RCODE' then one 'answer: ADDR' line per A/AAAA record. Arguments past
TYPE are ignored: they let a test put hostile bytes into this process's argv.
"""
import random
import socket
import struct
import sys

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
TYPES = {"A": 1, "AAAA": 28}


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def main():
    server, name = sys.argv[1], sys.argv[2]
    qtype = TYPES[sys.argv[3] if len(sys.argv) > 3 else "A"]
    qid = random.randrange(65536)
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        query += bytes([len(label)]) + label.encode()
    query += b"\0" + struct.pack(">HH", qtype, 1)

    sock = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    sock.connect((server, 53))
    sock.send(query)
    try:
        reply = sock.recv(4096)
    except socket.timeout:
        print("status: TIMEOUT")
        return 9
    except ConnectionRefusedError:
        print("status: CONNREFUSED")
        return 9
    rid, flags, qdcount, ancount = struct.unpack(">HHHH", reply[:8])
    if rid != qid:
        print("status: BADID")
        return 1
    print("status: " + RCODES.get(flags & 15, str(flags & 15)))
    off = 12
    for _ in range(qdcount):
        off = skip_name(reply, off) + 4
    for _ in range(ancount):
        off = skip_name(reply, off)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", reply[off : off + 10])
        off += 10
        rdata = reply[off : off + rdlen]
        off += rdlen
        if rtype == 1:
            print("answer: " + socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            print("answer: " + socket.inet_ntop(socket.AF_INET6, rdata))
    return 0


sys.exit(main())
