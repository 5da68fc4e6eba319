#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Two runc roots, one container name (issue 9): registrations are keyed by
# cgroup, the name is a label. Container A (root 1) and container B (root 2)
# are both called X, in cgroups of their own, both guarded. A asks for
# github.com (REFUSED) and an allowed name (answered), then ends: its poststop
# unregisters X, which must remove A's guard only. B, still running, is still
# listed, still pinned and still refuses github.com. Before the fix B's
# register replaced A's ("re-registered on a new cgroup, old one dropped") and
# re-pinned the links of the shared pin directory c-X onto B's cgroup: A ran
# unguarded, its lookups went to the server it named.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_containers.sh
. "$E2E_DIR/lib_containers.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
use_mode daemon # starts depfenced
ct_init
MODE=namesake
NAME=dfe2e-$$-same

# bundle WHO ROOT: container WHO's bundle, its cgroup at /dfe2e-$$-WHO/NAME.
bundle()
{
	ct_script "$1" <<'EOF'
wait_go
q gh nslookup github.com 127.9.9.9
q ok nslookup -type=a allowed.test 127.9.9.9
EOF
	runc_bundle "$1" policy=deploy
	"$PY" - "$(ct_dir "$1")/bundle/config.json" "/dfe2e-$$-$1/$NAME" <<'EOF' ||
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["cgroupsPath"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
		die "$1: cgroupsPath set"
}
# start WHO ROOT: `runc --root ROOT run` of WHO's bundle as NAME, in the background.
start()
{
	local d
	d=$(ct_dir "$1")
	timeout -k 5 30 runc --root "$2" run --bundle "$d/bundle" "$NAME" </dev/null \
		>"$d/run.out" 2>"$d/run.err" &
	BG_PID=$!
	E2E_PIDS+=("$BG_PID")
	CT_CG_PARENTS+=("$CG_ROOT/dfe2e-$$-$1")
	ct_wait_started "$1"
}

bundle a
bundle b
start a "$T/runc"
PID_A=$BG_PID CG_A=$(ct_cgroup a)
PINS_A=$(pin_dir "$CG_A") # while its cgroup exists: the pin directory is named by its id
start b "$T/runc2"
PID_B=$BG_PID CG_B=$(ct_cgroup b)
if [ "$CG_A" != "$CG_B" ]; then
	pass "two containers named $NAME in cgroups of their own"
else
	fail "two containers named $NAME in cgroups of their own" "both in $CG_A"
fi
assert_eq "depfence status lists both" 2 "$(ct_status | grep -cF "$NAME ")"
assert_guarded "a" "$NAME" deploy "$CG_A"
assert_guarded "b" "$NAME" deploy "$CG_B"
assert_file_lacks "neither registration dropped the other" "old one dropped" "$T/daemon.log"

# A runs its lookups and ends; its poststop names X.
ct_go a "$PID_A"
assert_ran a
expect_refused a gh github.com
expect_answer a ok allowed.test 127.0.0.3
assert_eq "after A's poststop, one guard named $NAME is left" 1 \
	"$(ct_status | grep -cF "$NAME ")"
assert_eq "it is B's" "$CG_B" "$(ct_status | grep -F "$NAME " | awk '{ print $3 }')"
assert_match "A's pins were where they are looked for" '/c-[0-9]+$' "$PINS_A"
assert_eq "A's pins are gone" "" "$(ls -d "$PINS_A" 2>/dev/null)"
assert_guarded "b, after A ended" "$NAME" deploy "$CG_B"

# A third runtime's container of that name, unannotated, ends: its poststop
# finds a record of the name (B's) and asks to unregister it. B still runs in
# the cgroup it registered: it stays guarded. Before the fix the only
# namesake was removed whatever its state.
printf '{"ociVersion":"1.0.2","id":"%s","status":"stopped","pid":0,"bundle":"%s"}\n' \
	"$NAME" "$T/no-such-bundle" >"$T/c-state.json"
"$HOOK_BIN" --state-dir "$T/dstate" poststop <"$T/c-state.json" >"$T/c-hook.out" 2>&1
assert_eq "an unannotated namesake's poststop exits 0" 0 "$?"
assert_guarded "b, after a namesake's poststop" "$NAME" deploy "$CG_B"

ct_go b "$PID_B"
assert_ran b
expect_refused b gh github.com
expect_answer b ok allowed.test 127.0.0.3
assert_gone b "$NAME"
runc --root "$T/runc2" delete -f "$NAME" >/dev/null 2>&1
e2e_done
