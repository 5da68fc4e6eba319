#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Usage errors exit 2 with one line on stderr that names the problem, before
# anything runs; a policy with a syntax error is reported as FILE:LINE, by
# depfence run and by depfenced (which then does not start); --help exits 0.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

# usage_case NAME RC ERE CMD [ARG...]: CMD exits RC with exactly one stderr line
# matching ERE, and did not run the guarded command (which would touch $T/ran).
usage_case()
{
	local name=$1 rc=$2 re=$3 lines
	shift 3
	rm -f "$T/ran"
	"$@" >"$(rf "$name" out)" 2>"$(rf "$name" err)"
	assert_eq "$name: exit $rc" "$rc" "$?"
	lines=$(wc -l <"$(rf "$name" err)")
	if [ "$lines" -eq 1 ] && grep -Eq -- "$re" "$(rf "$name" err)"; then
		pass "$name: one stderr line matching '$re'"
	else
		fail "$name: one stderr line matching '$re'" "seen $lines line(s):" \
			"$(_show "$(rf "$name" err)")"
	fi
	[ ! -e "$T/ran" ] || fail "$name: the command did not run"
}

RUN=("$DEPFENCE" run --upstream "$UPSTREAM" --config-dir "$CONF")
usage_case bad-flag 2 "'?--bogus'?" "${RUN[@]}" --state-dir "$T/estate" --bogus -- touch "$T/ran"
usage_case no-cmd 2 "command" "${RUN[@]}" --state-dir "$T/estate"
usage_case no-cmd2 2 "command" "${RUN[@]}" --state-dir "$T/estate" --
usage_case bad-upstream 2 "not-an-address" "${RUN[@]}" --state-dir "$T/estate" \
	--upstream not-an-address -- touch "$T/ran"
usage_case bad-subcommand 2 "frobnicate" "$DEPFENCE" frobnicate
usage_case status-flag 2 "'?--bogus'?" "$DEPFENCE" status --state-dir "$T/estate" --bogus
usage_case doctor-flag 2 "'?--bogus'?" "$DEPFENCE" doctor --state-dir "$T/estate" --bogus
usage_case doctor-arg 2 "'stray'" "$DEPFENCE" doctor stray
usage_case daemon-flag 2 "'?--bogus'?" "$DEPFENCED" --state-dir "$T/estate" --bogus
usage_case metrics-noport 2 "--metrics-listen '127.0.0.1'.*port" "$DEPFENCED" \
	--state-dir "$T/estate" --metrics-listen 127.0.0.1
usage_case metrics-name 2 "--metrics-listen 'localhost:9153'" "$DEPFENCED" \
	--state-dir "$T/estate" --metrics-listen localhost:9153
usage_case pending-zero 2 "--max-pending-per-guard '0'" "$DEPFENCED" \
	--state-dir "$T/estate" --max-pending-per-guard 0
usage_case pending-word 2 "--max-pending-per-guard '12x'" "$DEPFENCED" \
	--state-dir "$T/estate" --max-pending-per-guard 12x
"$DEPFENCE" >/dev/null 2>&1
assert_eq "depfence without a command: exit 2" 2 "$?"

scenario()
{
	usage_case unknown-policy 2 "nope" "${RUN[@]}" --state-dir "$STATE" --policy nope -- \
		touch "$T/ran"
	usage_case bad-mode 2 "sideways" "${RUN[@]}" --state-dir "$STATE" --mode sideways -- \
		touch "$T/ran"
}
for_each_mode scenario

# A policy with a typo on line 3.
mkdir -p "$T/badconf/policies"
printf 'mode blocklist\n# deploy policy\nblok github.com\n' >"$T/badconf/policies/broken.policy"
broken_re=$(re_quote "$T/badconf/policies/broken.policy"):3
MODE=embedded
usage_case broken-policy 2 "$broken_re" "$DEPFENCE" run --state-dir "$T/estate" --config-dir "$T/badconf" \
	--upstream "$UPSTREAM" --policy broken -- touch "$T/ran"
MODE=daemon
mkdir -p "$T/badstate"
E2E_INSTANCES+=("$(instance_of "$T/badstate")")
timeout 10 "$DEPFENCED" --state-dir "$T/badstate" --config-dir "$T/badconf" \
	--upstream "$UPSTREAM" 2>"$T/broken-daemon.err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then pass "depfenced refuses a broken policy (exit $rc)"; else
	fail "depfenced refuses a broken policy" "exit $rc"; fi
assert_file_has "depfenced names FILE:LINE" "$broken_re" "$T/broken-daemon.err"
[ ! -e "$T/badstate/depfenced.sock" ] || fail "depfenced left no socket behind"
MODE=

for cmd in "depfence" "depfence run" "depfence status" "depfence doctor" "depfenced"; do
	# shellcheck disable=SC2086 # word splitting wanted: binary and subcommand
	"$DEPFENCE_BIN"/$cmd --help >"$T/help.out" 2>"$T/help.err"
	assert_eq "$cmd --help: exit 0" 0 "$?"
	assert_file_has "$cmd --help: usage on stdout" "^Usage: $cmd" "$T/help.out"
done
"$DEPFENCED" --help >"$T/dhelp.out"
assert_file_has "depfenced --help lists --metrics-listen" "--metrics-listen ADDR:PORT" "$T/dhelp.out"
assert_file_has "depfenced --help lists --max-pending-per-guard" "--max-pending-per-guard N" "$T/dhelp.out"
assert_file_has "depfenced --help lists --workers" "--workers N" "$T/dhelp.out"
e2e_done
