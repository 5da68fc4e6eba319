#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A daemon restart with a host `depfence run` in flight (issue 9): kill -9,
# then SIGTERM. The run's record is saved at run-start; the next daemon guards
# it again (its policy, listeners in its netns) and the run's client adopts it
# back (run-adopt), so the run still ends with its command. Throughout, the
# job asks for github.com and for an allowed name every 100 ms at a real
# resolver on port 53 (the catcher): github.com is never answered by anyone,
# during the gap lookups fail, and within 5 s of the new daemon being ready the
# allowed name resolves through the proxy again. Before the fix the run's guard
# stayed closed for the rest of its life (every lookup failed).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_nest.sh
. "$E2E_DIR/lib_nest.sh"
e2e_init
dns_start
esc_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
use_mode daemon # starts depfenced

# The daemon parses every job's DNS: once set up it cannot gain privileges,
# keeps only the capabilities registrations need (proxy/daemon_privs.c) and
# makes only the system calls serving needs (proxy/daemon_seccomp.c; a refused
# one in any test's daemon log fails that test, lib.sh: e2e_cleanup).
assert_eq "depfenced runs with no_new_privs" 1 \
	"$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$DAEMON_PID/status")"
assert_eq "depfenced runs under a seccomp filter (mode 2)" 2 \
	"$(awk '/^Seccomp:/ { print $2 }' "/proc/$DAEMON_PID/status")"
eff=$((16#$(awk '/^CapEff:/ { print $2 }' "/proc/$DAEMON_PID/status")))
bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' "/proc/$DAEMON_PID/status")))
for cap in 7:setuid 16:sys_module 22:sys_boot 25:sys_time 27:mknod; do
	assert_eq "depfenced has no cap_${cap#*:} (effective or bounding)" 0 \
		$(((eff | bnd) >> ${cap%%:*} & 1))
done
assert_eq "depfenced keeps cap_sys_admin (setns into a container's netns)" 1 $((eff >> 21 & 1))
assert_eq "the state dir is root's alone (made 0700)" "700 0" "$(stat -c '%a %u' "$T/dstate")"

# A state dir others may write to could hold planted records: refused.
mkdir -p "$T/bad"
chmod 0777 "$T/bad"
timeout 10 "$DEPFENCED" --state-dir "$T/bad" --config-dir "$CONF" --upstream "$UPSTREAM" \
	>"$T/bad.out" 2>&1
assert_eq "depfenced refuses a world-writable state dir (exit 1)" 1 "$?"
assert_file_has "and says why" "state dir $T/bad: owned by uid 0, mode 0777: must be root's" \
	"$T/bad.out"

# The job: until stop-N exists, one line per try: "T allowed-answer gh-status".
cat >"$T/job.sh" <<EOF
#!/bin/sh
for i in \$(seq 600); do
	[ -e "$T/stop" ] && break
	a=\$(dig +short +tries=1 +time=1 @$ESC allowed.test 2>&1 | grep -E '^[0-9.]+\$' | head -n 1)
	g=\$(dig +tries=1 +time=1 @$ESC github.com | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
	echo "\$(date +%s%N) \${a:-none} \${g:-none}"
	sleep 0.1
done
EOF
chmod +x "$T/job.sh"

# restart HOW: stop the daemon HOW (KILL or TERM), start a new one, check.
restart()
{
	local how=$1 t_ready n bad first
	rm -f "$T/stop"
	guarded_bg job-$how --policy deploy -- "$T/job.sh"
	for ((n = 0; n < 100; n++)); do
		grep -q ' 127.0.0.3 ' "$(rf job-$how out)" 2>/dev/null && break
		sleep 0.05
	done
	kill -"$how" "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	rm -f "$T/dstate/depfenced.sock"
	sleep 1 # a gap: lookups go on meanwhile
	daemon_start
	t_ready=$(date +%s%N)
	sleep 6
	touch "$T/stop"
	bg_wait "$BG_PID" 20
	assert_eq "$how: the run ends with its command's status" 0 "$RC"
	bad=$(awk '$3 != "REFUSED" && $3 != "none"' "$(rf job-$how out)")
	assert_eq "$how: github.com is never answered (REFUSED, or no answer in the gap)" "" "$bad"
	first=$(awk -v t="$t_ready" '$1 > t && $2 == "127.0.0.3" { print $1; exit }' "$(rf job-$how out)")
	if [ -n "$first" ] && [ $(((first - t_ready) / 1000000)) -lt 5000 ]; then
		pass "$how: the allowed name resolves through the proxy $(((first - t_ready) / 1000000)) ms after the new daemon is ready"
	else
		fail "$how: the allowed name resolves within 5 s of the new daemon" "$(tail -n 20 "$(rf job-$how out)")"
	fi
	assert_eq "$how: the catcher never answered (every query went to the proxy)" 0 \
		"$(grep -c 'query\[.*\(github.com\|allowed.test\)' "$ESC_LOG" 2>/dev/null)"
	assert_file_has "$how: the new daemon restored the run" "run restored id=" "$T/daemon.log"
	assert_file_has "$how: its client adopted it" "run adopted id=" "$T/daemon.log"
}

# While a run is registered its record is a 0600 file, written whole (no .tmp left).
record_mode()
{
	rm -f "$T/stop"
	guarded_bg rec --policy deploy -- "$T/job.sh"
	for ((n = 0; n < 100; n++)); do
		ls "$T/dstate/guards/"r-*-run-*.json >/dev/null 2>&1 && break
		sleep 0.05
	done
	assert_eq "the run's record is a 0600 file" 600 \
		"$(stat -c %a "$T"/dstate/guards/r-*-run-*.json 2>/dev/null | head -n 1)"
	assert_eq "no temporary record left" "" "$(ls "$T/dstate/guards/" | grep '\.tmp$')"
	touch "$T/stop"
	bg_wait "$BG_PID" 20
}

record_mode
restart KILL
restart TERM
daemon_stop
assert_eq "no run record left" "" "$(ls "$T/dstate/guards" 2>/dev/null)"
assert_no_run_cgroups "no run cgroup left"
e2e_done
