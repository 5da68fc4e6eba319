#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""conn.py HOST PORT [udp] [RETRY_SECONDS]

One TCP connect() (or, with 'udp', one sendto() on an unconnected socket) to
HOST:PORT. Prints 'result: ERRNAME' (EPERM, ECONNREFUSED, ...) or 'result: OK',
then 'ms: N', the time the attempt took. With RETRY_SECONDS, tries again every
0.1 s until the result is EPERM or that time has passed (the proxy learns the
addresses of blocked names a round trip after a guard starts).
"""
import errno
import socket
import sys
import time


def attempt(host, port, udp):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        if udp:
            sock.sendto(b"x", (host, port))
        else:
            sock.connect((host, port))
        return "OK"
    except socket.timeout:
        return "TIMEOUT"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        sock.close()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[3:]
    udp = "udp" in rest
    retry = float(next((a for a in rest if a != "udp"), 0))
    deadline = time.monotonic() + retry
    while True:
        start = time.monotonic()
        result = attempt(host, port, udp)
        ms = int((time.monotonic() - start) * 1000)
        if result == "EPERM" or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    print("result: " + result)
    print("ms: %d" % ms)


main()
