#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence doctor: on this host it exits 0 with one line per check; the
# daemon check names the socket of a daemon that answers, warns without one,
# and a state dir others can write fails (exit 1) with its fix; hooks.d files
# are found, and one naming a missing program fails; a resolver daemon's
# socket is seen and said to be refused; --json is one object per check; a bad
# flag exits 2 naming it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

CHECKS=(kernel privileges btf bpf cgroup2 nsdelegate bpffs state-dir daemon hooks.d nscd
	systemd-resolved dbus sssd resolv.conf)
mkdir -p "$T/nohooks"
read -r kmaj kmin < <(uname -r | awk -F. '{ print $1, $2 + 0 }')
has_unix=0
{ [ "$kmaj" -gt 6 ] || { [ "$kmaj" -eq 6 ] && [ "$kmin" -ge 7 ]; }; } && has_unix=1

# doctor NAME [OPTION...]: output in $T/NAME.out/.err, status in RC.
doctor()
{
	local name=$1
	shift
	"$DEPFENCE" doctor "$@" >"$T/$name.out" 2>"$T/$name.err"
	RC=$?
}

# each_check_once NAME: every check has exactly one "LEVEL NAME: " line.
each_check_once()
{
	local c n
	for c in "${CHECKS[@]}"; do
		n=$(grep -cE "^(ok  |WARN|FAIL) $(re_quote "$c"): " "$T/$1.out")
		[ "$n" -eq 1 ] || { fail "$1: one line for check $c" "seen $n:" "$(_show "$T/$1.out" 30)"; return; }
	done
	n=$(grep -cE '^(ok  |WARN|FAIL) ' "$T/$1.out")
	assert_eq "$1: one line per check, no others" "${#CHECKS[@]}" "$n"
}

# The host as it is (default state dir and hooks dirs): depfence can guard here.
doctor host
assert_eq "host: exit 0" 0 "$RC"
each_check_once host
assert_file_has "host: the summary says it can guard" '^depfence can guard on this host' "$T/host.out"
assert_file_lacks "host: nothing on stderr" . "$T/host.err"

# No daemon at an empty state dir: WARN, still exit 0. The BPF object really loaded.
mkdir -m 0700 "$T/empty"
doctor nodaemon --state-dir "$T/empty" --hooks-dir "$T/nohooks"
assert_eq "no daemon: exit 0" 0 "$RC"
each_check_once nodaemon
assert_file_has "no daemon: WARN naming the socket" \
	"^WARN daemon: no depfenced at $(re_quote "$T/empty/depfenced.sock") .*depfence run works embedded" \
	"$T/nodaemon.out"
assert_file_has "no daemon: a fix line follows" '^     fix: start depfenced' "$T/nodaemon.out"
# The programs in the object's order, named as their pins are.
progs=$(sed -n 's/^ok   bpf: .*loads ([0-9]* programs: \([^)]*\)).*/\1/p' "$T/nodaemon.out" |
	tr -d ' ' | tr ',' '\n' | sort | paste -sd ' ')
want="connect4 connect6 egress recvmsg4 recvmsg6 sendmsg4 sendmsg6 sock_create"
if [ "$has_unix" = 1 ]; then
	assert_eq "the BPF object loaded, its programs named" "$(tr ' ' '\n' <<<"$want connect_unix" | sort | paste -sd ' ')" "$progs"
	assert_file_has "kernel 6.7+: ok, connect_unix loaded" '^ok   bpf: .*connect_unix[,)]' "$T/nodaemon.out"
	assert_file_has "kernel 6.7+: kernel ok" '^ok   kernel: Linux ' "$T/nodaemon.out"
else
	assert_eq "the BPF object loaded, its programs named" "$want" "$progs"
	assert_file_has "kernel before 6.7: WARN" '^WARN kernel: .*connect_unix' "$T/nodaemon.out"
fi
assert_file_has "cgroup2 found where mountinfo says" "^ok   cgroup2: mounted at $(re_quote "$CG_ROOT")" \
	"$T/nodaemon.out"
assert_file_has "state dir 0700 is fine" "^ok   state-dir: $(re_quote "$T/empty") root's, mode 0700" \
	"$T/nodaemon.out"
assert_file_has "no hooks: WARN with the install fix" '^WARN hooks.d: no depfence-hook' "$T/nodaemon.out"
assert_file_has "no hooks: the fix names deploy/hooks.d" '^     fix: install .*deploy/hooks.d/depfence-' \
	"$T/nodaemon.out"
assert_file_has "resolv.conf: a note, no query" '^ok   resolv.conf: .*not queried' "$T/nodaemon.out"
assert_eq "doctor wrote nothing into the state dir" "" "$(ls -A "$T/empty")"

# A daemon that answers, guarding one run.
use_mode daemon
doctor daemon --state-dir "$T/dstate" --hooks-dir "$T/nohooks"
assert_eq "daemon: exit 0" 0 "$RC"
each_check_once daemon
assert_file_has "daemon: ok, its pid and socket named" \
	"^ok   daemon: depfenced \(pid $DAEMON_PID\) answers at $(re_quote "$T/dstate/depfenced.sock"): 0 guards" \
	"$T/daemon.out"
guarded_bg hold -- sh -c "while [ ! -e '$T/release' ]; do sleep 0.1; done"
wait_file "$(rf hold pid)" 10 || fail "the held run started" "$(_show "$(rf hold err)")"
doctor daemon1 --state-dir "$T/dstate" --hooks-dir "$T/nohooks"
assert_file_has "daemon: the guarded run is counted" \
	'^ok   daemon: .*: 1 guard \(1 run, 0 containers\)' "$T/daemon1.out"
touch "$T/release"
bg_wait "$BG_PID" 10
assert_eq "the held run ended" 0 "$RC"
MODE=

# A state dir others can write: FAIL with the fix, exit 1.
mkdir "$T/open" && chmod 0777 "$T/open"
doctor open --state-dir "$T/open" --hooks-dir "$T/nohooks"
assert_eq "state dir 0777: exit 1" 1 "$RC"
assert_file_has "state dir 0777: FAIL" "^FAIL state-dir: $(re_quote "$T/open") owned by uid 0, mode 0777" \
	"$T/open.out"
assert_file_has "state dir 0777: the fix line" \
	"^     fix: chown root:root $(re_quote "$T/open") && chmod 0700 $(re_quote "$T/open")\$" "$T/open.out"
assert_file_has "state dir 0777: the summary says it cannot guard" \
	'^depfence cannot guard on this host: 1 check failed' "$T/open.out"

# hooks.d: the shipped files, pointing at our hook, are found; a missing program fails.
mkdir -p "$T/hooks" "$T/brokenhooks"
for f in "$E2E_DIR"/../../deploy/hooks.d/depfence-*.json; do
	sed "s|/usr/local/bin/depfence-hook|$DEPFENCE_BIN/depfence-hook|" "$f" >"$T/hooks/$(basename "$f")"
	sed "s|/usr/local/bin/depfence-hook|$T/gone/depfence-hook|" "$f" >"$T/brokenhooks/$(basename "$f")"
done
doctor hooks --state-dir "$T/empty" --hooks-dir "$T/nohooks" --hooks-dir "$T/hooks"
assert_eq "hooks installed: exit 0" 0 "$RC"
assert_file_has "hooks installed: ok, both files and the program named" \
	"^ok   hooks.d: $(re_quote "$T/hooks/depfence-prestart.json") and $(re_quote "$T/hooks/depfence-poststop.json") run $(re_quote "$DEPFENCE_BIN/depfence-hook")\$" \
	"$T/hooks.out"
rm "$T/hooks/depfence-poststop.json"
doctor prestartonly --state-dir "$T/empty" --hooks-dir "$T/hooks"
assert_file_has "prestart only: WARN, no poststop" '^WARN hooks.d: .*no poststop hook' "$T/prestartonly.out"
doctor brokenhooks --state-dir "$T/empty" --hooks-dir "$T/brokenhooks"
assert_eq "hook program missing: exit 1" 1 "$RC"
assert_file_has "hook program missing: FAIL naming it" \
	"^FAIL hooks.d: .* runs $(re_quote "$T/gone/depfence-hook"), which is missing" "$T/brokenhooks.out"

# A resolver daemon's socket (in a private mount namespace, never the host's /run).
unshare -m --propagation private sh -c '
	mount -t tmpfs tmpfs /run && mkdir /run/nscd &&
	'"$PY"' -c "import socket; socket.socket(socket.AF_UNIX).bind(\"/run/nscd/socket\")" &&
	exec "$1" doctor --state-dir "$2" --hooks-dir "$3"' sh "$DEPFENCE" "$T/empty" "$T/nohooks" \
	>"$T/nscd.out" 2>"$T/nscd.err"
RC=$?
if [ "$has_unix" = 1 ]; then
	assert_eq "nscd running, kernel 6.7+: exit 0" 0 "$RC"
	assert_file_has "nscd running: refused by connect_unix" \
		'^ok   nscd: nscd.s cache at /var/run/nscd/socket: refused to guarded jobs' "$T/nscd.out"
else
	assert_file_has "nscd running, old kernel: WARN, stop it" '^WARN nscd: ' "$T/nscd.out"
fi
assert_file_has "systemd-resolved absent: not running" '^ok   systemd-resolved: not running' "$T/nscd.out"

# --json: one object per check, same names, the fields of the contract.
doctor json --state-dir "$T/open" --hooks-dir "$T/nohooks" --json
assert_eq "--json with a failing check: exit 1" 1 "$RC"
if "$PY" - "$T/json.out" "${CHECKS[@]}" >"$T/json.check" 2>&1 <<'EOF'; then
import json, sys
objs = json.load(open(sys.argv[1]))
names = [o["name"] for o in objs]
assert names == sys.argv[2:], f"names {names}"
for o in objs:
    assert set(o) >= {"name", "ok", "detail", "fix"}, f"fields of {o}"
    assert isinstance(o["ok"], bool) and isinstance(o["detail"], str) and o["detail"], o
    assert o["ok"] == (o["level"] == "ok"), o
    assert (o["fix"] is None) == o["ok"], o
by = {o["name"]: o for o in objs}
assert by["state-dir"]["level"] == "fail" and "chmod 0700" in by["state-dir"]["fix"], by["state-dir"]
assert by["daemon"]["level"] == "warn", by["daemon"]
assert by["bpf"]["ok"], by["bpf"]
EOF
	pass "--json: one object per check with name, ok, detail, fix"
else
	fail "--json: one object per check with name, ok, detail, fix" "$(cat "$T/json.check")" \
		"$(_show "$T/json.out" 20)"
fi

# Usage errors: exit 2, one line naming the flag; nothing checked.
doctor badflag --bogus
assert_eq "bad flag: exit 2" 2 "$RC"
assert_file_has "bad flag: named on stderr" "^depfence doctor: .*'--bogus'" "$T/badflag.err"
assert_file_lacks "bad flag: no checks ran" . "$T/badflag.out"
doctor extra stray
assert_eq "stray argument: exit 2" 2 "$RC"
assert_file_has "stray argument: named" "'stray'" "$T/extra.err"
"$DEPFENCE" --help >"$T/help.out"
assert_file_has "depfence --help lists doctor" '^  doctor ' "$T/help.out"
e2e_done
