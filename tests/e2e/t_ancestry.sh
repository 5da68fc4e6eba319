#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A transient dependency, three processes down: deploy.sh runs migrate.sh,
# which runs nslookup codeload.github.com. The block line names the grandchild
# (its pid and argv) and its ancestry lists migrate.sh, then deploy.sh, each
# with its pid and command line.
# Then a process that is refused a resolver daemon's socket and execs the real
# lookup at once (what `bash -c` does without $HOME): its block line names the
# program it exec'd, not the command line it had a moment before.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

cat >"$T/deploy.sh" <<EOS
#!/bin/sh
echo \$\$ >"$T/deploy.pid"
"$T/migrate.sh" --to v2
EOS
cat >"$T/migrate.sh" <<EOS
#!/bin/sh
echo \$\$ >"$T/migrate.pid"
sh -c 'echo \$\$ >"$T/fetch.pid"; exec nslookup codeload.github.com 127.0.0.53'
exit 0
EOS
chmod +x "$T/deploy.sh" "$T/migrate.sh"

scenario()
{
	local deploy migrate fetch t
	t=$(re_quote "$T")
	rm -f "$T"/deploy.pid "$T"/migrate.pid "$T"/fetch.pid
	guarded deploy -- "$T/deploy.sh"
	assert_eq "deploy: exit 0" 0 "$RC"
	assert_file_has "deploy: nslookup saw REFUSED" "codeload.github.com: REFUSED" "$(rf deploy out)"
	deploy=$(cat "$T/deploy.pid") migrate=$(cat "$T/migrate.pid") fetch=$(cat "$T/fetch.pid")
	assert_eq "deploy.sh is the run's command" "$CPID" "$deploy"
	assert_block deploy codeload.github.com pid="$fetch" \
		cmd="nslookup codeload.github.com 127.0.0.53" \
		ancestry="~^$migrate:/bin/sh $t/migrate\.sh --to v2 > $deploy:/bin/sh $t/deploy\.sh( > |$)"
}

cat >"$T/nscd_then_exec.py" <<'EOS'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect("/var/run/nscd/socket")
except OSError:
    pass
s.close()
os.execvp(sys.argv[1], sys.argv[1:])
EOS

exec_after_refusal()
{
	guarded execd -- python3 "$T/nscd_then_exec.py" \
		dig +tries=1 +time=2 @127.0.0.53 exec.github.com
	assert_eq "exec after refusal: exit 0" 0 "$RC"
	assert_block execd exec.github.com pid="$CPID" \
		cmd="dig +tries=1 +time=2 @127.0.0.53 exec.github.com"
}

scenarios()
{
	scenario
	exec_after_refusal
}
for_each_mode scenarios
e2e_done
