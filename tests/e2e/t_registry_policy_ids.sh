#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Policy ids across a crash (issue 9): the BPF cidrs and learned maps are
# pinned and keyed by policy id. A daemon killed with -9 leaves its entries;
# the next one must never let them apply to another policy. Policy a
# (block-ip 127.0.0.6/32) is in use when the daemon is killed; a.policy is
# then removed and the daemon restarted: a run of policy b (no address rules)
# must reach 127.0.0.6 (connection refused, not EPERM) and log no FromIPRule
# line. Before the fix, ids were handed out in file order from 1 again, b got
# a's old id and inherited its block-ip.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
pk_init
pk_dns_start
printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.6/32\n' >"$CONF/policies/a.policy"
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/b.policy"
use_mode daemon # starts depfenced

# A run of policy a holds its rules in the maps while the daemon is killed.
rm -f "$T/a-ready" "$T/a-go"
pk_client_bg hold --policy a -- touch,a-ready wait,a-go,20
pk_ready hold a-ready
pk_client a-before --policy a -- tcp,127.0.0.6,9
expect_steps a-before "tcp 127.0.0.6 9 EPERM"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
touch "$T/a-go"
wait "$BG_PID" 2>/dev/null
rm -f "$T/dstate/depfenced.sock" "$CONF/policies/a.policy"
daemon_start

pk_client b-after --policy b -- tcp,127.0.0.6,9
expect_steps b-after "tcp 127.0.0.6 9 ECONNREFUSED"
assert_file_lacks "no FromIPRule line for policy b" 'reason=FromIPRule.*policy=b ' "$T/daemon.log"
assert_file_has "the new daemon deleted the old policy's entries" \
	'deleted [0-9]+ map entries of policies a previous daemon used' "$T/daemon.log"
daemon_stop
assert_no_run_cgroups "no run cgroup left"
e2e_done
