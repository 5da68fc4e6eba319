#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A stand-in for depfenced's control socket, for the hook's contract tests.

Listens on a unix stream socket, appends every request line it receives to
--log (raw, one per line, flushed at once), and answers each with --reply
(default {"ok":true}). With --close it hangs up instead of answering, as a
daemon that dies mid-request would. Touches --ready once it accepts
connections, so the test never races the listen(). Runs until killed.
"""
import argparse
import os
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--reply", default='{"ok":true}')
    ap.add_argument("--close", action="store_true")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv.bind(args.socket)
    srv.listen(16)
    with open(args.ready + ".tmp", "w"):
        pass
    os.rename(args.ready + ".tmp", args.ready)

    with open(args.log, "ab", buffering=0) as log:
        while True:
            conn, _ = srv.accept()
            with conn, conn.makefile("rb") as rd:
                for line in rd:
                    log.write(line if line.endswith(b"\n") else line + b"\n")
                    if args.close:
                        break
                    conn.sendall(args.reply.encode() + b"\n")


if __name__ == "__main__":
    main()
