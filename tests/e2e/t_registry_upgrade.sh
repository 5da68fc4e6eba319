#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# An upgrade under load (issue 9): a runc container and a host `depfence run`
# are guarded, each asking for github.com and for an allowed name every 100 ms
# (the container at 127.9.9.9, the run at a real resolver on port 53, the
# catcher). The daemon stops (SIGTERM, as a package upgrade does) and a daemon
# of "another build" starts: the pinned meta map is made to name another
# object, which is all that tells builds apart. The new daemon must switch
# every pinned link to its programs in place (bpf_link_update: the same link
# ids before and after, now running its programs), pin its own maps over the
# old ones, and serve both guards again within 5 s; github.com is never
# answered by anyone, in any phase. Before the fix the new build removed every
# pin first (each cgroup lost its programs) and attached again afterwards.
# Then an upgrade that fails to start (its control socket cannot be made): the
# links stay attached and lookups fail closed until a good daemon starts.
# DEPFENCE_OLD_BIN=DIR: the first daemon is DIR/depfenced, a real older build
# (by hand: the suite has one build), and its meta map is left as it is.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_containers.sh
. "$E2E_DIR/lib_containers.sh"
# shellcheck source=lib_nest.sh
. "$E2E_DIR/lib_nest.sh"
command -v bpftool >/dev/null || die "bpftool installed"
e2e_init
dns_start
esc_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
NEW_DEPFENCED=$DEPFENCED
DEPFENCED=${DEPFENCE_OLD_BIN:+$DEPFENCE_OLD_BIN/depfenced}
DEPFENCED=${DEPFENCED:-$NEW_DEPFENCED}
use_mode daemon # starts depfenced
DEPFENCED=$NEW_DEPFENCED
ct_init
BPF_DIR=/sys/fs/bpf/$INSTANCE

# The container: until /shared/stop, one line per try: "PHASE allowed github",
# PHASE read before both queries (so both were asked in it).
ct_script up <<'EOF'
echo 1 >/shared/started
i=0
while [ ! -e /shared/stop ] && [ $i -lt 600 ]; do
	ph=$(cat /shared/phase)
	a=$(nslookup -type=a allowed.test 127.9.9.9 2>&1 | sed -n '/^Name:/,$ s/^Address: //p' | head -n 1)
	g=$(nslookup github.com 127.9.9.9 2>&1 | grep -o 'REFUSED\|^Address: [0-9.]*' | head -n 1)
	echo "$ph ${a:-none} $(echo "${g:-none}" | tr ' ' _)" >>/shared/log
	sleep 0.1
	i=$((i + 1))
done
EOF
# The host run: the same, at the catcher.
cat >"$T/job.sh" <<EOF
#!/bin/sh
for i in \$(seq 600); do
	[ -e "$T/stop" ] && break
	ph=\$(cat "$T/phase")
	a=\$(dig +short +tries=1 +time=1 @$ESC allowed.test 2>&1 | grep -E '^[0-9.]+\$' | head -n 1)
	g=\$(dig +tries=1 +time=1 @$ESC github.com | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
	echo "\$ph \${a:-none} \${g:-none}"
	sleep 0.1
done
EOF
chmod +x "$T/job.sh"
phase() { echo "$1" >"$T/phase" && echo "$1" >"$(ct_file up phase)"; }

# link_ids DIR: "program:link-id:prog-id" of every link pinned in DIR, sorted.
link_ids()
{
	local f
	for f in "$1"/*; do
		bpftool link show pinned "$f" 2>/dev/null |
			sed -n "1s/^\([0-9]*\): .*prog \([0-9]*\).*/$(basename "$f"):\1:\2/p"
	done | sort
}
map_id() { bpftool map show pinned "$BPF_DIR/maps/$1" 2>/dev/null | sed -n '1s/:.*//p'; }
# meta: the pinned meta map's value (the object hash), as a number; empty if unreadable.
meta()
{
	bpftool -j map lookup pinned "$BPF_DIR/maps/meta" key 0 0 0 0 2>/dev/null |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin)["formatted"]["value"])' 2>/dev/null
}
fake_old_build()
{
	bpftool map update pinned "$BPF_DIR/maps/meta" key 0 0 0 0 value 1 0 0 0 0 0 0 0 \
		2>>"$T/bpftool.err" || fail "the meta map made to name another build" "$(_show "$T/bpftool.err")"
}
# resolves_in_phase FILE PHASE: how many tries of PHASE in FILE resolved allowed.test.
resolves_in_phase() { awk -v p="$2" '$1 == p && $2 == "127.0.0.3" { n++ } END { print n + 0 }' "$1"; }

phase before
runc_bundle up policy=deploy
runc_start up
CT_PID=$BG_PID CT_ID=$CT_LAST_ID
guarded_bg job --policy deploy -- "$T/job.sh"
JOB_PID=$BG_PID
for ((n = 0; n < 100; n++)); do
	[ "$(resolves_in_phase "$(rf job out)" before)" -gt 0 ] &&
		[ "$(resolves_in_phase "$(ct_file up log)" before)" -gt 0 ] && break
	sleep 0.05
done
assert_gt "the run resolves the allowed name before the upgrade" 0 \
	"$(resolves_in_phase "$(rf job out)" before)"
assert_gt "the container resolves the allowed name before the upgrade" 0 \
	"$(resolves_in_phase "$(ct_file up log)" before)"

RUNS_BEFORE=$(link_ids "$BPF_DIR/links/runs")
CT_PINS=$(PINS=$BPF_DIR/links pin_dir "$(ct_cgroup up)")
CT_BEFORE=$(link_ids "$CT_PINS")
GUARDS_MAP_BEFORE=$(map_id guards)
assert_gt "the runs parent has its links pinned" 6 "$(echo "$RUNS_BEFORE" | wc -l)"
assert_gt "the container has its links pinned" 6 "$(echo "$CT_BEFORE" | wc -l)"

# ---- a good upgrade
[ -n "${DEPFENCE_OLD_BIN:-}" ] || fake_old_build
phase gap
daemon_stop
rm -f "$T/dstate/depfenced.sock"
sleep 0.5
daemon_start
phase new
assert_file_has "the new daemon upgrades in place" "upgrading BPF pins of another depfence build" \
	"$T/daemon.log"
RUNS_AFTER=$(link_ids "$BPF_DIR/links/runs")
CT_AFTER=$(link_ids "$CT_PINS")
assert_eq "runs parent: the same links (never detached)" \
	"$(echo "$RUNS_BEFORE" | cut -d: -f1,2)" "$(echo "$RUNS_AFTER" | cut -d: -f1,2)"
assert_eq "container: the same links (never detached)" \
	"$(echo "$CT_BEFORE" | cut -d: -f1,2)" "$(echo "$CT_AFTER" | cut -d: -f1,2)"
assert_eq "runs parent: every link runs another program now" "" \
	"$(comm -12 <(echo "$RUNS_BEFORE") <(echo "$RUNS_AFTER"))"
assert_eq "container: every link runs another program now" "" \
	"$(comm -12 <(echo "$CT_BEFORE") <(echo "$CT_AFTER"))"
assert_eq "the container's and the parent's links run the same programs" \
	"$(echo "$RUNS_AFTER" | cut -d: -f1,3)" "$(echo "$CT_AFTER" | cut -d: -f1,3)"
if [ -n "$(map_id guards)" ] && [ "$(map_id guards)" != "$GUARDS_MAP_BEFORE" ]; then
	pass "the new build's maps are pinned in place of the old ones"
else
	fail "the new build's maps are pinned in place of the old ones" \
		"guards map id before $GUARDS_MAP_BEFORE, after $(map_id guards)"
fi
# (the fake build wrote 1; an unreadable map prints nothing and fails too)
assert_match "the meta map names this build, not the fake one" '^([02-9]|[0-9]{2,})$' "$(meta)"
assert_eq "no temporary pin left" "" "$(ls "$BPF_DIR/maps" | grep '^new_')"
sleep 5
for who in job ct; do
	if [ $who = job ]; then f=$(rf job out); else f=$(ct_file up log); fi
	first=$(awk '$1 == "new" && $2 == "127.0.0.3" { print NR; exit }' "$f")
	if [ -n "$first" ]; then
		pass "$who: the allowed name resolves again after the upgrade"
	else
		fail "$who: the allowed name resolves again after the upgrade" "$(tail -n 20 "$f")"
	fi
done

# ---- an upgrade that fails to start: nothing detached, lookups fail closed
fake_old_build
daemon_stop
phase failing
rm -f "$T/dstate/depfenced.sock"
mkdir -p "$T/dstate/depfenced.sock/blocker"
timeout 20 "$DEPFENCED" --state-dir "$T/dstate" --config-dir "$CONF" --upstream "$UPSTREAM" \
	2>>"$T/failed.log"
assert_eq "the failing daemon exits 1" 1 "$?"
assert_file_has "and says why" "depfenced.sock" "$T/failed.log"
assert_eq "runs parent: still the same links" \
	"$(echo "$RUNS_BEFORE" | cut -d: -f1,2)" "$(link_ids "$BPF_DIR/links/runs" | cut -d: -f1,2)"
assert_eq "container: still the same links" \
	"$(echo "$CT_BEFORE" | cut -d: -f1,2)" "$(link_ids "$CT_PINS" | cut -d: -f1,2)"
# Both guards tried at least once with no daemon of either build serving.
for ((n = 0; n < 200; n++)); do
	grep -q '^failing ' "$(rf job out)" && grep -q '^failing ' "$(ct_file up log)" && break
	sleep 0.1
done
phase recovered
rm -rf "$T/dstate/depfenced.sock"
daemon_start
sleep 5
touch "$T/stop" "$(ct_file up stop)"
bg_wait "$JOB_PID" 20
assert_eq "the run ends with its command's status" 0 "$RC"
bg_wait "$CT_PID" 20
assert_eq "the container ends with status 0" 0 "$RC"

for who in job ct; do
	if [ $who = job ]; then f=$(rf job out); else f=$(ct_file up log); fi
	bad=$(awk '$3 != "REFUSED" && $3 != "none"' "$f")
	assert_eq "$who: github.com is never answered (REFUSED, or no answer)" "" "$bad"
	assert_gt "$who: tries while only the failed upgrade was there" 0 \
		"$(awk '$1 == "failing"' "$f" | wc -l)"
	assert_eq "$who: none of them resolved the allowed name (closed)" "" \
		"$(awk '$1 == "failing" && $2 != "none"' "$f")"
	assert_gt "$who: the allowed name resolves once a good daemon is back" 0 \
		"$(resolves_in_phase "$f" recovered)"
done
assert_eq "the catcher never answered (every query went to the proxy)" 0 \
	"$(grep -c 'query\[.*\(github.com\|allowed.test\)' "$ESC_LOG" 2>/dev/null)"
daemon_stop
e2e_done
