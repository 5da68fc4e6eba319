#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence run --report FILE (docs/report.md), embedded and with the daemon:
#  - FILE is one JSON object: run (id, policy, mode, start, end, exit_status),
#    names (verdict, count, first, rule, asked_by with pid/cmd/exe/ancestry,
#    addresses), refusals, processes (pid, ppid, cmd, start);
#  - blocked names carry their policy line, allowed ones "default", audit
#    mode's would-be blocks "would-block"; secrets in argv are ***;
#  - the asking process and its ancestors (the shell that ran it) are in the
#    process tree, with their parent links.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

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

for_each_mode report
for_each_mode audit
e2e_done
