#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A transient dependency, three processes down: deploy.sh runs migrate.sh,
# which runs nslookup codeload.github.com. The block line names the grandchild
# (its pid and argv) and its ancestry lists migrate.sh, then deploy.sh, each
# with its pid and command line.
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
for_each_mode scenario
e2e_done
