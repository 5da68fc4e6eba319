#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""seqlat.py SERVER PORT COUNT NAME [TIMEOUT_S]: COUNT sequential A queries for
NAME (a random id each; "{i}" in NAME becomes the query's index, so each asks a
name of its own), each waiting for its answer (TIMEOUT_S, default 2 s);
prints answered/timeouts/rcodes and p50/p99/max latency in ms. Loopback only:
for tests/bench, a guarded client whose queries the BPF redirect sends on."""
import random, socket, struct, sys, time

server, port, count, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
if not (server.startswith("127.") or server == "::1"):
    sys.exit("seqlat.py: loopback servers only")


def query(qid, qname):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in qname.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


lat, rcodes, timeouts = [], {}, 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(timeout)
for i in range(count):
    qid = random.randrange(65536)
    t0 = time.monotonic()
    s.sendto(query(qid, name.replace("{i}", str(i))), (server, port))
    while True:
        try:
            data, _ = s.recvfrom(4096)
        except socket.timeout:
            timeouts += 1
            break
        if len(data) >= 4 and struct.unpack(">H", data[:2])[0] == qid:
            lat.append((time.monotonic() - t0) * 1000)
            rc = data[3] & 15
            rcodes[rc] = rcodes.get(rc, 0) + 1
            break
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else float("nan")
print(f"answered {len(lat)} timeouts {timeouts} rcodes {rcodes} "
      f"p50 {pct(0.50):.2f} ms p99 {pct(0.99):.2f} ms max {lat[-1] if lat else float('nan'):.2f} ms")
