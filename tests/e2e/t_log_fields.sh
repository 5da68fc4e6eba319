#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The block line's own fields and formats (docs/design.md, "The block line"):
#  - exe= is the querying binary (/proc/PID/exe: dig's real path), rule= the
#    policy line that decided (deploy.policy:N), "inline" for --block, "default"
#    for an allowlist refusing a name no rule lists;
#  - secrets in a command line (URL userinfo, --token=, --password VALUE, an
#    Authorization header) are logged as *** and appear nowhere in the log,
#    unless the run says --log-full-cmdline (sent to the daemon in run-start);
#  - --log-format json: every line of the run's log (embedded) or the daemon's
#    (depfenced --log-format json) is one JSON object with the same fields.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

DIG=(dig +tries=1 +time=2 @127.0.0.53)
DIG_EXE=$(readlink -f "$(command -v dig)")
PY_EXE=$(readlink -f "$PY") # lib.sh's PY: the system python by path, no shim
cat >"$CONF/policies/deploy.policy" <<'EOP'
# deploy: what the deploy script may not reach
mode blocklist

block registry.example
block github.com # line 5
EOP
# The querying process carries the secrets in its own argv.
LOOKUP='import socket
try:
    socket.getaddrinfo("secret.github.com", 80, socket.AF_INET)
except OSError:
    pass'
SECRETS=(https://user:s3cretPW@host.test/x --token=tok3nVAL --password pw0rdVAL
	-H 'Authorization: Bearer b34rerVAL')
SECRET_RE='s3cretPW|tok3nVAL|pw0rdVAL|b34rerVAL'

fields()
{
	guarded file --policy deploy -- "${DIG[@]}" github.com
	expect_dig file REFUSED
	assert_block file github.com policy=deploy exe="$DIG_EXE" rule=deploy.policy:5
	guarded inline --block example.org -- "${DIG[@]}" example.org
	expect_dig inline REFUSED
	assert_block inline example.org policy=inline exe="$DIG_EXE" rule=inline
	guarded unlisted --mode allowlist --allow allowed.test -- "${DIG[@]}" evil.test
	expect_dig unlisted REFUSED
	assert_block unlisted evil.test policy=inline firewallMethod=allowlist rule=default
}

secrets()
{
	local log
	guarded secret -- "$PY" -c "$LOOKUP" "${SECRETS[@]}"
	assert_block secret secret.github.com exe="$PY_EXE" \
		rule='~^(default\.policy|<built-in default>):[0-9]+$' \
		cmd="$PY -c $(logq "$LOOKUP") https://***@host.test/x --token=*** --password *** -H Authorization: ***"
	log=$(block_log secret)
	if grep -aEq "$SECRET_RE" "$log"; then
		fail "secret: no secret in the log" "$(grep -aE "$SECRET_RE" "$log" | head -n 3)"
	else
		pass "secret: no secret anywhere in $(basename "$log")"
	fi
	guarded full --log-full-cmdline -- "$PY" -c "$LOOKUP" "${SECRETS[@]}"
	assert_block full secret.github.com \
		cmd="$PY -c $(logq "$LOOKUP") ${SECRETS[*]}"
}

# json_check FILE NAME: FILE's lines all parse, and a DNS BLOCKED line for
# NAME carries the fields with these values.
json_check()
{
	local out
	if out=$(python3 - "$1" "$2" "$3" "$DIG_EXE" <<'EOP'
import json, sys
path, name, pid, exe = sys.argv[1:]
seen = None
for n, line in enumerate(open(path, encoding="utf-8", errors="strict"), 1):
    if not line.startswith("{"):
        continue  # lines of other processes (dig's own stderr, a daemon before json)
    o = json.loads(line)
    assert "level" in o and "msg" in o, f"line {n}: no level/msg: {line}"
    if o.get("msg") == "DNS BLOCKED" and o.get("domain") == name and o.get("pid") == int(pid):
        seen = o
assert seen, f"no DNS BLOCKED line for {name} pid {pid}"
want = {"level": "WARN", "reason": "FromDNSRequest", "blocked": True, "blockedAt": "dns",
        "domain": name, "exe": exe, "rule": "deploy.policy:5", "policy": "deploy",
        "firewallMethod": "blocklist", "qtype": "A", "ancestry": ""}
bad = {k: (v, seen.get(k)) for k, v in want.items() if seen.get(k) != v}
assert not bad, f"fields: {bad} in {seen}"
assert seen["cmd"].startswith("dig "), seen
assert "run" in seen, seen
print(f"{len(seen)} fields")
EOP
	); then
		pass "json: $(basename "$1") parses; block line: $out"
	else
		fail "json: $(basename "$1")" "$out"
	fi
}

use_mode embedded
fields
secrets
guarded json --policy deploy --log-format json -- "${DIG[@]}" github.com
expect_dig json REFUSED
json_check "$(rf json err)" github.com "$CPID"

use_mode daemon
fields
secrets
daemon_stop
DAEMON_ARGS=(--log-format json)
: >"$T/daemon.log"
daemon_start
guarded json --policy deploy -- "${DIG[@]}" github.com
expect_dig json REFUSED
sleep 0.3
json_check "$T/daemon.log" github.com "$CPID"
MODE=
e2e_done
