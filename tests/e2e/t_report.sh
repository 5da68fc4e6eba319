#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence run --report FILE (docs/report.md), embedded and with the daemon:
#  - FILE is one JSON object: run (id, policy, mode, start, end, exit_status),
#    names (verdict, count, first, rule, asked_by with pid/cmd/exe/ancestry,
#    addresses), refusals, processes (pid, ppid, cmd, start);
#  - blocked names carry their policy line, allowed ones "default", audit
#    mode's would-be blocks "would-block"; secrets in argv are ***;
#  - the asking process and its ancestors (the shell that ran it) are in the
#    process tree, with their parent links;
#  - a name refused by its answer's CNAME chain (docs.vendor.test -> a name
#    under github.com) is blocked in the report, counted once.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start --host-record=vendor.github.com,127.0.0.19 \
	--cname=docs.vendor.test,vendor.github.com,60

DIG=(dig +tries=1 +time=2 @127.0.0.53)
cat >"$CONF/policies/deploy.policy" <<'EOP'
# deploy
mode blocklist

block github.com
EOP

# jq-free checks: python reads the report and prints what the test compares.
jr() { "$PY" "$E2E_DIR/report_check.py" "$@"; }

report()
{
	local f
	f=$(rf rep json)
	rm -f "$f"
	guarded rep --policy deploy --report "$f" -- sh -c \
		"${DIG[*]} api.github.com; ${DIG[*]} allowed.test; ${DIG[*]} allowed.test; \
		 ${DIG[*]} allowed.test; exit 7" deploy --token=s3cretTOK
	assert_eq "run exits with the command's status" 7 "$RC"
	[ -s "$f" ] || { fail "report written" "no $f" "$(_show "$(rf rep err)")"; return; }
	assert_eq "report: run fields" "run deploy blocklist exit=7 start end" \
		"$(jr "$f" run)"
	assert_eq "report: blocked name" "api.github.com blocked count=1 rule=deploy.policy:4" \
		"$(jr "$f" name api.github.com)"
	assert_eq "report: allowed name" "allowed.test allowed count=3 rule=default" \
		"$(jr "$f" name allowed.test)"
	assert_eq "report: addresses handed out" "127.0.0.3" "$(jr "$f" addrs allowed.test)"
	assert_match "report: asker named with exe" '^[0-9]+ dig .*api.github.com exe=/usr/bin/dig' \
		"$(jr "$f" asker api.github.com)"
	assert_match "report: ancestry of the asker" 'sh -c' "$(jr "$f" ancestry api.github.com)"
	assert_eq "report: asker and its parent shell in the tree" "ok" "$(jr "$f" tree api.github.com)"
	assert_match "report: the shell's secret is *** in the tree" '--token=\*\*\*' \
		"$(jr "$f" parentcmd api.github.com)"
	if grep -q s3cretTOK "$f"; then
		fail "report: secrets redacted" "$(grep s3cretTOK "$f" | head -n 2)"
	else
		pass "report: secrets redacted"
	fi
	assert_eq "report: not truncated" "False" "$(jr "$f" truncated)"
	guarded repc --policy deploy --report "$(rf repc json)" -- ${DIG[*]} docs.vendor.test
	assert_eq "report: a name refused by its CNAME chain is blocked, counted once" \
		"docs.vendor.test blocked count=1 rule=deploy.policy:4" \
		"$(jr "$(rf repc json)" name docs.vendor.test)"
}

audit()
{
	local f
	f=$(rf audit json)
	guarded audit --policy deploy --mode audit --report "$f" -- "${DIG[@]}" github.com
	assert_eq "audit: command succeeds" 0 "$RC"
	assert_eq "audit: would-be block" "github.com would-block count=1 rule=deploy.policy:4" \
		"$(jr "$f" name github.com)"
}

# --fail-on-block: the command runs to its end; refusals listed; exit 3, or
# the command's own status; --expect-block NAME spares NAME and names under it.
gate()
{
	guarded gate --policy deploy --mode audit --fail-on-block -- sh -c \
		"${DIG[*]} api.github.com >/dev/null; ${DIG[*]} allowed.test >/dev/null; echo done"
	assert_eq "fail-on-block: exit 3" 3 "$RC"
	assert_file_has "fail-on-block: the command ran to its end" '^done$' "$(rf gate out)"
	assert_file_has "fail-on-block: the would-be block listed" 'would block: api.github.com rule=deploy.policy:4' \
		"$(rf gate err)"
	guarded gate2 --policy deploy --mode audit --fail-on-block -- sh -c \
		"${DIG[*]} api.github.com >/dev/null; exit 5"
	assert_eq "fail-on-block: the command's own status first" 5 "$RC"
	guarded gate3 --policy deploy --mode audit --fail-on-block --expect-block github.com \
		-- "${DIG[@]}" api.github.com
	assert_eq "expect-block: expected blocks pass" 0 "$RC"
	assert_file_has "expect-block: listed as expected" 'would block \(expected\): api.github.com' \
		"$(rf gate3 err)"
	guarded gate4 --policy deploy --fail-on-block -- "${DIG[@]}" allowed.test
	assert_eq "fail-on-block: nothing refused, exit 0" 0 "$RC"
}

# learn: an allowlist from an audit run's report, which loads as is and
# allows what the run needed (and nothing else).
learn()
{
	local f pol
	f=$(rf learn json)
	pol=$CONF/policies/learned-$MODE.policy
	guarded learnrun --mode audit --report "$f" -- sh -c \
		"${DIG[*]} a.allowed.test; ${DIG[*]} b.allowed.test; ${DIG[*]} github.com"
	"$DEPFENCE" learn "$f" >"$pol" 2>"$(rf learn err)"
	assert_eq "learn: exit 0" 0 "$?"
	assert_file_has "learn: mode allowlist" '^mode allowlist$' "$pol"
	assert_file_has "learn: grouped under a non-public parent" '^allow allowed\.test$' "$pol"
	assert_file_has "learn: commands named" '^# needed by: dig .*a\.allowed\.test' "$pol"
	assert_file_has "learn: github.com on its own line" '^allow github\.com$' "$pol"
	# The daemon reads policies at start and on SIGHUP: the loaded file as is.
	if [ "$MODE" = daemon ]; then
		local before i
		before=$(grep -c 'policies reloaded' "$T/daemon.log")
		kill -HUP "$DAEMON_PID"
		for ((i = 0; i < 50; i++)); do
			[ "$(grep -c 'policies reloaded' "$T/daemon.log")" -gt "$before" ] && break
			sleep 0.1
		done
		assert_file_has "learn: the daemon loads the learned policy" \
			'policies reloaded count=[0-9]+ errors=0' "$T/daemon.log"
	fi
	guarded learned --policy "learned-$MODE" -- "${DIG[@]}" c.allowed.test
	expect_dig learned NOERROR
	guarded learned2 --policy "learned-$MODE" -- "${DIG[@]}" example.org
	expect_dig learned2 REFUSED
}

# report --html: one page, nothing fetched; headless Chromium's DOM holds the
# names and the commands; its screenshot is not one colour.
html()
{
	local f page dom png
	f=$(rf html json)
	page=$(rf html html)
	dom=$(rf html dom)
	png=$(rf html png)
	guarded html --policy deploy --mode audit --report "$f" -- sh -c \
		"${DIG[*]} github.com; ${DIG[*]} allowed.test; ${DIG[*]} api.github.com"
	"$DEPFENCE" report --html "$f" >"$page"
	assert_eq "report --html: exit 0" 0 "$?"
	assert_file_lacks "html: nothing fetched from the network" \
		'(src|href)="?(https?:)?//' "$page"
	if ! command -v chromium >/dev/null; then
		fail "chromium installed (make deps)"
		return
	fi
	timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$page" \
		>"$dom" 2>/dev/null
	assert_file_has "html: the DOM names a would-be-blocked name" '>api\.github\.com<' "$dom"
	assert_file_has "html: the DOM names an allowed name" '>allowed\.test<' "$dom"
	assert_file_has "html: the DOM holds the commands" 'dig \+tries=1' "$dom"
	assert_file_has "html: would-be blocks marked" 'stroke-dasharray' "$dom"
	(cd "$T" && timeout 60 chromium --headless --no-sandbox --disable-gpu \
		--window-size=1200,800 --screenshot="$png" "file://$page" >/dev/null 2>&1)
	assert_match "html: the screenshot is not blank" '^colours ([3-9]|[1-9][0-9]+)' \
		"$("$PY" "$E2E_DIR/png_check.py" "$png" 2>&1)"
}

for_each_mode report
for_each_mode audit
use_mode embedded
html
for_each_mode gate
for_each_mode learn
e2e_done
