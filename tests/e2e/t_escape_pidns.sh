#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Attribution in pid namespaces (docs/threat-model.md, "a wrong name on a
# block line"): depfenced running in a pid namespace of its own (a privileged
# CI container, `unshare --pid`), with the deploy job started there too. The
# BPF programs see host pids; the daemon's /proc numbers processes in its own
# namespace, where the host pid is another process or none. The block line
# must still name the process that asked: pid= its host pid, nspid= its pid
# in its own namespace (what `echo $$` printed inside), cmd= its command line.
# Before the fix, the daemon read /proc/<host pid> in its namespace: cmd="?"
# (or another process's), and no nspid=.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
STATE=$T/pstate
mkdir -p "$STATE"
E2E_INSTANCES+=("$(instance_of "$STATE")")

# Inside the namespace: the daemon, then one guarded client that prints its
# own pid there and execs dig (same process: the pid the line must name).
cat >"$T/inside.sh" <<EOF
#!/bin/bash
"$DEPFENCED" --state-dir "$STATE" --config-dir "$CONF" --upstream "$UPSTREAM" \
	2>>"$T/pdaemon.log" &
d=\$!
for ((i = 0; i < 100; i++)); do [ -S "$STATE/depfenced.sock" ] && break; sleep 0.1; done
"$DEPFENCE" run --state-dir "$STATE" --config-dir "$CONF" --policy deploy -- \
	unshare -m "$E2E_DIR/client.sh" "$T/resolv.conf" "$T/ns.pid" \
	sh -c 'dig +tries=1 +time=2 @127.0.0.53 github.com; sleep 0.2' >"$T/pclient.out" 2>&1
echo \$? >"$T/pclient.rc"
kill -TERM \$d
wait \$d
EOF
chmod +x "$T/inside.sh"
timeout -k 5 40 unshare --pid --fork --mount-proc "$T/inside.sh"

assert_eq "the guarded client in the namespace ran (depfence run exit 0)" 0 \
	"$(cat "$T/pclient.rc" 2>/dev/null)"
assert_match "dig was refused" 'status: REFUSED' "$(cat "$T/pclient.out")"
NSPID=$(cat "$T/ns.pid" 2>/dev/null)
LINE=$(grep -a 'DNS BLOCKED' "$T/pdaemon.log" | grep -a 'domain=github.com' | head -n 1)
if [ -z "$LINE" ]; then
	fail "a DNS BLOCKED line for github.com" "$(_show "$T/pdaemon.log")"
else
	parse_fields "$LINE"
	# The client.sh process is sh: it execs `sh -c ...`, which forks dig.
	assert_eq "the line names dig by its command line, read from the daemon's /proc" \
		"dig +tries=1 +time=2 @127.0.0.53 github.com" "${LF[cmd]:-}"
	assert_match "nspid= is a pid in the namespace" '^[0-9]+$' "${LF[nspid]:-}"
	if [[ ${LF[pid]:-} =~ ^[0-9]+$ ]] && [ "${LF[pid]}" != "${LF[nspid]:-}" ]; then
		pass "pid= (${LF[pid]}) is the host pid, not the namespace's (${LF[nspid]:-})"
	else
		fail "pid= is the host pid, not the namespace's" "$LINE"
	fi
	# dig is a child of the sh that client.sh exec'd: its namespace pid is above it.
	if [[ ${LF[nspid]:-} =~ ^[0-9]+$ ]] && [ -n "$NSPID" ] && [ "${LF[nspid]}" -gt "$NSPID" ]; then
		pass "nspid= ${LF[nspid]} is dig's, a child of the client sh ($NSPID in the namespace)"
	else
		fail "nspid= is dig's pid in the namespace (client sh was $NSPID)" "$LINE"
	fi
	assert_match "the ancestry names the client sh (pids as the daemon's namespace numbers them)" \
		'^[0-9]+:sh -c dig' "${LF[ancestry]:-}"
	assert_eq "policy" deploy "${LF[policy]:-}"
fi
assert_no_run_cgroups "no run cgroup left"
e2e_done
