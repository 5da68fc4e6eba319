#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Two depfence instances at once, each with its own policy of the same name:
# a run through the daemon of one state dir and an embedded run of another
# state dir, active together, each refuse their own blocked name, resolve the
# other's, and log to their own log.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

mkdir -p "$T/conf2/policies"
printf 'mode blocklist\nblock a.allowed.test\n' >"$CONF/policies/p.policy"
printf 'mode blocklist\nblock b.allowed.test\n' >"$T/conf2/policies/p.policy"

# both.sh PREFIX ME OTHER: wait until OTHER's run is up too, query a. and
# b.allowed.test (each dig's pid and output in PREFIX{a,b}.{pid,out}), then hold
# the run open until OTHER has queried as well.
cat >"$T/both.sh" <<'EOS'
#!/bin/sh
prefix=$1 me=$2 other=$3 dir=${1%/*}
barrier() {
	touch "$dir/$1.$me"
	i=0
	while [ ! -e "$dir/$1.$other" ]; do
		[ $i -lt 200 ] || exit 1 # the runs did not overlap
		sleep 0.05
		i=$((i + 1))
	done
}
barrier ready
for x in a b; do
	sh -c 'echo $$ >"$0"; exec dig +tries=1 +time=2 @127.0.0.53 "$1"' \
		"$prefix$x.pid" "$x.allowed.test" >"$prefix$x.out"
done
barrier done
EOS
chmod +x "$T/both.sh"

use_mode daemon
guarded_bg run --policy p -- "$T/both.sh" "$T/daemon-" daemon embedded
daemon_run=$BG_PID
use_mode embedded
CONF=$T/conf2 guarded_bg run --policy p -- "$T/both.sh" "$T/embedded-" embedded daemon
embedded_run=$BG_PID
MODE=
bg_wait "$daemon_run" 20
assert_eq "daemon run: exit 0 (the runs overlapped)" 0 "$RC"
bg_wait "$embedded_run" 20
assert_eq "embedded run: exit 0 (the runs overlapped)" 0 "$RC"

# check MODE BLOCKED ALLOWED
check()
{
	MODE=$1
	BLOCK_LOG_FILE=$(if [ "$1" = daemon ]; then echo "$T/daemon.log"; else rf run err; fi)
	printf 'dig +tries=1 +time=2 @127.0.0.53 %s.allowed.test' "$2" >"$(rf "$2" cmd)"
	printf 'dig +tries=1 +time=2 @127.0.0.53 %s.allowed.test' "$3" >"$(rf "$3" cmd)"
	expect_dig "$2" REFUSED
	CPID=$(cat "$(rf "$2" pid)")
	assert_block "$2" "$2.allowed.test" policy=p
	expect_dig "$3" NOERROR 127.0.0.3
	CPID=$(cat "$(rf "$3" pid)")
	assert_no_block "$3"
}
check daemon a b
check embedded b a
MODE=
assert_dns_saw A a.allowed.test
assert_dns_saw A b.allowed.test
assert_no_run_cgroups "no run cgroup left"
e2e_done
