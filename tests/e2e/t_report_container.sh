#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence report --container ID against a real depfenced and `runc run`:
#  - while the container runs: the report names what it looked up so far
#    (blocked github.com with its rule, allowed.test with its address), the
#    process that asked, and no end;
#  - after it ended (poststop unregistered it): the same report, with an end;
#  - an unknown id: exit 1, the error says the daemon keeps only recent ones.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_containers.sh
. "$(dirname "$0")/lib_containers.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
daemon_start
ct_init

jr() { "$PY" "$E2E_DIR/report_check.py" "$@"; }

ct_script rep <<'EOF2'
q blocked nslookup github.com 127.9.9.9
q allowed nslookup -type=a allowed.test 127.9.9.9
wait_go
EOF2
runc_bundle rep net=own policy=deploy
runc_start rep
id=$CT_LAST_ID
f=$T/live.json
"$DEPFENCE" report --container "$id" --state-dir "$T/dstate" >"$f" 2>"$T/live.err"
assert_eq "report --container while it runs: exit 0" 0 "$?"
assert_eq "live: the container's run fields" "container deploy blocklist exit=None start -" \
	"$(jr "$f" run)"
assert_eq "live: blocked name with its rule" "github.com blocked count=2 rule=deploy.policy:2" \
	"$(jr "$f" name github.com)"
assert_eq "live: allowed name's address" "127.0.0.3" "$(jr "$f" addrs allowed.test)"
assert_match "live: the asker is nslookup" '^[0-9]+ nslookup github.com' \
	"$(jr "$f" asker github.com)"
ct_go rep "$BG_PID"
f=$T/after.json
for ((i = 0; i < 50; i++)); do
	"$DEPFENCE" report --container "$id" --state-dir "$T/dstate" >"$f" 2>"$T/after.err"
	[ "$(jr "$f" run | awk '{print $NF}')" = end ] && break
	sleep 0.1
done
assert_eq "report --container after it ended: end set" \
	"container deploy blocklist exit=None start end" "$(jr "$f" run)"
assert_eq "after: the names kept" "allowed.test github.com" "$(jr "$f" names)"
"$DEPFENCE" report --container nosuch --state-dir "$T/dstate" >/dev/null 2>"$T/none.err"
assert_eq "unknown container: exit 1" 1 "$?"
assert_file_has "unknown container: says what is kept" 'last 64 containers' "$T/none.err"
e2e_done
