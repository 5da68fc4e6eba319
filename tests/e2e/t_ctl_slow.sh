#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A control client that asks and does not read must not hold depfenced: it
# sends 3,000 status requests in one go (over a megabyte of replies, far past
# the socket's buffer) and reads nothing for 4 s. Meanwhile guarded lookups
# are answered (dig gives up after 1 s), another control client is served,
# and in the end the slow client gets every reply, in order. One that never
# reads and goes away costs nothing either. (Before, replies were written
# blocking with a 1 s timeout: the loop stood still, then the client was cut
# off with its replies lost.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start
use_mode daemon
SOCK=$T/dstate/depfenced.sock

cat >"$T/slow.py" <<'PY'
import json, socket, sys, time
sock, n, wait_s, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
s.sendall(b'{"op":"status"}\n' * n)
open(out + ".sent", "w").write("sent\n")
time.sleep(wait_s)
if wait_s < 0:
    sys.exit(0)
buf, got, ok = b"", 0, 0
s.settimeout(20)
while got < n:
    d = s.recv(1 << 20)
    if not d:
        break
    buf += d
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        got += 1
        ok += json.loads(line).get("ok") is True
open(out, "w").write("%d %d\n" % (got, ok))
PY

"$PY" "$T/slow.py" "$SOCK" 3000 4 "$T/slow.out" 2>"$T/slow.err" &
slow=$!
E2E_PIDS+=("$slow")
wait_file "$T/slow.out.sent" 5 || fail "the slow client sent its requests" "$(_show "$T/slow.err")"
DIG=(dig +tries=1 +time=1 @127.0.0.53)
for i in 1 2 3; do
	guarded "dig$i" -- "${DIG[@]}" allowed.test A
	expect_dig "dig$i" NOERROR 127.0.0.3
done
"$DEPFENCE" status --state-dir "$T/dstate" --json >"$T/status.json" 2>"$T/status.err"
assert_eq "another control client is served meanwhile (depfence status)" 0 "$?"
bg_wait "$slow" 30
assert_eq "the slow client ends" 0 "$RC"
assert_eq "the slow client got all 3000 replies, each ok" "3000 3000" "$(cat "$T/slow.out" 2>/dev/null)"

# One that never reads and goes away.
"$PY" "$T/slow.py" "$SOCK" 3000 -1 "$T/gone.out" 2>"$T/gone.err"
guarded after -- "${DIG[@]}" allowed.test A
expect_dig after NOERROR 127.0.0.3
assert_file_lacks "no reply was cut short" "did not take its replies" "$T/daemon.log"
e2e_done
