#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfenced under systemd's Type=notify, with no systemd: a datagram socket
# stands in for $NOTIFY_SOCKET. The daemon sends READY=1 once, and only when
# its control socket exists (the python listener looks the moment it gets the
# datagram); under the seccomp filter, so the socket was connected before it.
# Then SIGTERM: STOPPING=1, exit 0. Once with a path, once with an abstract
# name ("@..."), as systemd uses both. Last, under the unit's
# CapabilityBoundingSet= alone: it starts, says READY=1, and guards a run.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

# notify_listen ADDR OUT: record every datagram to ADDR as "MSG sock=yes|no".
notify_listen()
{
	"$PY" - "$1" "$2" "$T/dstate/depfenced.sock" <<'EOS' &
import os, socket, sys
addr, out, sock = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".bound", "w").close()
s.settimeout(20)
with open(out, "a") as f:
    try:
        while True:
            msg = s.recv(4096).decode()
            f.write("%s sock=%s\n" % (msg, "yes" if os.path.exists(sock) else "no"))
            f.flush()
            if msg.startswith("STOPPING=1"):
                break
    except socket.timeout:
        pass
EOS
	LISTEN_PID=$!
	wait_exists "$2.bound" 5 || die "notify listener bound $1"
}

for addr in "$T/notify.sock" "@depfence-e2e-notify-$$"; do
	kind=path
	[[ $addr == @* ]] && kind=abstract
	out=$T/notify-$kind.txt
	notify_listen "$addr" "$out"
	NOTIFY_SOCKET=$addr daemon_start
	wait_file "$out" 5
	assert_eq "$kind: one READY=1, sent once the control socket exists" \
		"READY=1 sock=yes" "$(grep READY "$out")"
	assert_file_has "$kind: logged ready before telling systemd" 'depfenced ready' "$T/daemon.log"
	daemon_stop
	wait "$LISTEN_PID"
	assert_file_has "$kind: STOPPING=1 on SIGTERM" '^STOPPING=1' "$out"
	assert_eq "$kind: nothing else sent" 2 "$(wc -l <"$out")"
	rm -f "$T/dstate/depfenced.sock"
done
assert_file_lacks "no NOTIFY_SOCKET error logged" 'NOTIFY_SOCKET' "$T/daemon.log"

# As the unit runs it: only deploy/systemd/depfenced.service's CapabilityBoundingSet=
# (capsh drops the rest of the bounding set; exec keeps DAEMON_PID), and it still
# sets up, says READY=1 and guards: a daemon run's github.com is refused.
keep=$(sed -n 's/^CapabilityBoundingSet=//p' "$E2E_DIR/../../deploy/systemd/depfenced.service" |
	tr 'A-Z ' 'a-z\n')
drop=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n' | grep -vxF -f <(echo "$keep") |
	paste -sd, -)
printf '#!/bin/sh\nexec capsh --drop=%s -- -c '"'"'exec "$0" "$@"'"'"' %s "$@"\n' "$drop" \
	"$DEPFENCED" >"$T/bounded-depfenced"
chmod +x "$T/bounded-depfenced"
out=$T/notify-bounded.txt
notify_listen "$T/notify-b.sock" "$out"
DEPFENCED=$T/bounded-depfenced NOTIFY_SOCKET=$T/notify-b.sock daemon_start
wait_file "$out" 5
assert_eq "bounded by the unit's capabilities: READY=1" "READY=1 sock=yes" "$(grep READY "$out")"
bnd=$(capsh --decode="$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$DAEMON_PID/status")" |
	sed 's/^[^=]*=//' | tr ',' '\n' | grep -vxF -f <(echo "$keep") | paste -sd, -)
assert_eq "bounded: no capability outside the unit's set" "" "$bnd"
use_mode daemon
guarded gh -- dig +tries=1 +time=3 @127.0.0.53 github.com
assert_block gh github.com
daemon_stop
wait "$LISTEN_PID"

e2e_done
