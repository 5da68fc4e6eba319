#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `depfence status [--json]` with the daemon: a run that made 3 allowed and 2
# blocked queries and had 1 connect refused shows exactly those counts (queries
# 5, blocked 2, wouldBlock 0, packetsBlocked 1, a lastBlock time), its mode, and
# enforcing true, which status reads from the kernel (the programs effective on
# its cgroup). An audit run counts wouldBlock, not blocked. Once the links of
# the runs' parent cgroup are unpinned from bpffs (the programs detach, while
# the daemon's tables still list the run), status says enforcing false, in the
# JSON and in the table.
#
# The BPF programs' own counters (enum df_counter) come with the reply:
# `status --kernel --json` is {name: value}, the table ends with a KERNEL line,
# and `status --json` stays the guards array. The run's 5 lookups move
# redirect_udp4 by 5 or more and its refused connect moves ip_blocked by
# exactly 1; the audit run's connect, which goes through, leaves ip_blocked.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.6/32\n' >"$CONF/policies/strict.policy"
use_mode daemon

cat >"$T/job.sh" <<'EOS'
ready=$1 conn=$2
for n in a b c; do dig +tries=1 +time=3 +short @127.0.0.53 "$n-$$.allowed.test"; done
dig +tries=1 +time=3 +short @127.0.0.53 github.com
dig +tries=1 +time=3 +short @127.0.0.53 api.github.com
/usr/bin/python3 "$conn" 127.0.0.6 9
: >"$ready"
exec sleep 30
EOS
chmod +x "$T/job.sh"

# status_get CGROUP: the status --json row of the guard of CGROUP as KEY=VALUE
# lines (JSON values: true, null, 5, "strict"); "missing" if there is none.
status_get()
{
	"$DEPFENCE" status --state-dir "$T/dstate" --json >"$T/status.json" 2>"$T/status.err" ||
		fail "depfence status --json: exit 0" "$(_show "$T/status.err")"
	"$PY" -c 'import json, sys
rows = [g for g in json.load(open(sys.argv[1])) if g.get("cgroup") == sys.argv[2]]
if not rows:
    print("missing")
for k, v in (rows[0].items() if rows else ()):
    print("%s=%s" % (k, json.dumps(v)))' "$T/status.json" "$1" 2>>"$T/status.err"
}

field() { sed -n "s/^$2=//p" <<<"$1"; }

# kernel NAME: the BPF counter NAME from `status --kernel --json`; "missing" if absent.
kernel()
{
	"$DEPFENCE" status --state-dir "$T/dstate" --kernel --json >"$T/kernel.json" \
		2>"$T/kernel.err" || fail "depfence status --kernel --json: exit 0" "$(_show "$T/kernel.err")"
	"$PY" -c 'import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print(v if isinstance(v, int) else "missing")' "$T/kernel.json" "$1" 2>>"$T/kernel.err"
}

# wait_field CGROUP KEY VALUE: status shows it within 3 s (BPF events arrive
# through a ring buffer, a moment after the refusal).
wait_field()
{
	local i row
	for ((i = 0; i < 30; i++)); do
		row=$(status_get "$1")
		[ "$(field "$row" "$2")" = "$3" ] && break
		sleep 0.1
	done
	assert_eq "status: $2 of $1" "$3" "$(field "$row" "$2")"
}

run_cgroup() { sed -n 's/^0:://p' "/proc/$(cat "$(rf "$1" pid)")/cgroup"; }

# ---- a blocklist run: counts and enforcing
redirects0=$(kernel redirect_udp4)
blocked0=$(kernel ip_blocked)
assert_match "kernel counters before the run: redirect_udp4" '^[0-9]+$' "$redirects0"
assert_match "kernel counters before the run: ip_blocked" '^[0-9]+$' "$blocked0"
rm -f "$T/st.ready"
guarded_bg st --policy strict -- "$T/job.sh" "$T/st.ready" "$E2E_DIR/conn.py"
ST_PID=$BG_PID
wait_file "$(rf st pid)" 5 || die "st: the command started"
wait_exists "$T/st.ready" 15 || die "st: the queries ran" "$(_show "$(rf st err)")"
cg=$CG_ROOT$(run_cgroup st)
wait_field "$cg" packetsBlocked 1
row=$(status_get "$cg")
assert_eq "status: kind" '"run"' "$(field "$row" kind)"
assert_eq "status: policy" '"strict"' "$(field "$row" policy)"
assert_eq "status: mode" '"blocklist"' "$(field "$row" mode)"
assert_match "status: id" '^"[^"]+"$' "$(field "$row" id)"
assert_match "status: since" '^[0-9]+$' "$(field "$row" since)"
assert_eq "status: queries (3 allowed + 2 blocked)" 5 "$(field "$row" queries)"
assert_eq "status: blocked" 2 "$(field "$row" blocked)"
assert_eq "status: wouldBlock" 0 "$(field "$row" wouldBlock)"
assert_match "status: lastBlock is a time" '^[0-9]{10}$' "$(field "$row" lastBlock)"
assert_eq "status: enforcing (read from the kernel)" true "$(field "$row" enforcing)"
"$DEPFENCE" status --state-dir "$T/dstate" >"$T/status.txt" 2>"$T/status.err"
assert_file_has "status table: header with the new columns" \
	"^KIND +ID +POLICY +MODE +SINCE +QUERIES +BLOCKED +WOULD +PACKETS +LAST-BLOCK +ENFORCING +CGROUP$" \
	"$T/status.txt"
assert_file_has "status table: the run's row with its counts, enforcing yes" \
	"^run +[^ ]+ +strict +blocklist +[^ ]+ +5 +2 +0 +1 +[0-9T:-]+Z +yes +$(re_quote "$cg")\$" \
	"$T/status.txt"

# ---- the kernel's counters: the redirects and the refused connect
redirects1=$(kernel redirect_udp4)
blocked1=$(kernel ip_blocked)
assert_gt "kernel: redirect_udp4 moved by the run's 5 lookups (+$((redirects1 - redirects0)))" 4 \
	"$((redirects1 - redirects0))"
assert_eq "kernel: ip_blocked moved by the refused connect" 1 "$((blocked1 - blocked0))"
assert_eq "kernel: dns_escape_dropped (nothing dodged the redirect)" 0 "$(kernel dns_escape_dropped)"
"$PY" -c 'import json, sys
g = json.load(open(sys.argv[1]))
sys.exit(0 if isinstance(g, list) and all("cgroup" in x for x in g) else 1)' "$T/status.json" &&
	pass "status --json: still the guards array" || fail "status --json: still the guards array" \
	"$(_show "$T/status.json")"
assert_file_has "status table: a KERNEL footer with every counter" \
	"^KERNEL( [a-z0-9_]+=[0-9]+)+\$" "$T/status.txt"
assert_file_has "status table: the footer's ip_blocked" "^KERNEL .* ip_blocked=$blocked1( |\$)" \
	"$T/status.txt"
assert_file_has "status table: the footer's redirect_udp4" "^KERNEL redirect_udp4=$redirects1 " \
	"$T/status.txt"
"$DEPFENCE" status --state-dir "$T/dstate" --kernel >"$T/kernel.txt" 2>"$T/kernel.err" ||
	fail "depfence status --kernel: exit 0" "$(_show "$T/kernel.err")"
assert_file_has "status --kernel: a row per counter, with what it counts" \
	"^ip_blocked +$blocked1 +connects and sends refused by address\$" "$T/kernel.txt"

# ---- an audit run: would-be blocks, nothing blocked
rm -f "$T/au.ready"
guarded_bg au --policy strict --mode audit -- "$T/job.sh" "$T/au.ready" "$E2E_DIR/conn.py"
AU_PID=$BG_PID
wait_file "$(rf au pid)" 5 || die "au: the command started"
wait_exists "$T/au.ready" 15 || die "au: the queries ran" "$(_show "$(rf au err)")"
acg=$CG_ROOT$(run_cgroup au)
row=$(status_get "$acg")
assert_eq "audit status: mode" '"audit"' "$(field "$row" mode)"
assert_eq "audit status: queries" 5 "$(field "$row" queries)"
assert_eq "audit status: blocked" 0 "$(field "$row" blocked)"
assert_eq "audit status: wouldBlock" 2 "$(field "$row" wouldBlock)"
assert_eq "audit status: packetsBlocked (audit refuses nothing)" 0 "$(field "$row" packetsBlocked)"
assert_eq "audit status: lastBlock" null "$(field "$row" lastBlock)"
assert_eq "kernel: ip_blocked not moved by the audit run's connect" "$blocked1" "$(kernel ip_blocked)"
kill -TERM "$AU_PID"
bg_wait "$AU_PID" 5

# ---- detached behind the daemon's back: the kernel says so
links=/sys/fs/bpf/$(instance_of "$T/dstate")/links/runs
[ -n "$(ls -A "$links" 2>/dev/null)" ] || fail "the runs' links are pinned in $links"
rm -f "$links"/*
row=$(status_get "$cg")
assert_eq "after unpinning: the daemon still lists the run" '"strict"' "$(field "$row" policy)"
assert_eq "after unpinning: enforcing false" false "$(field "$row" enforcing)"
"$DEPFENCE" status --state-dir "$T/dstate" >"$T/status.txt" 2>"$T/status.err"
assert_file_has "status table: enforcing NO" " NO +$(re_quote "$cg")\$" "$T/status.txt"
kill -TERM "$ST_PID"
bg_wait "$ST_PID" 5
e2e_done
