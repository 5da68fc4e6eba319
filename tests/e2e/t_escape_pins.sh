#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A root job that drops CAP_SYS_ADMIN and CAP_BPF (so it looks harmless) must
# not detach guards by unlinking their pins: a pin is all that keeps a link
# attached, and uid 0 may unlink in bpffs whatever its capabilities. The job
# removes every pin it can see under /sys/fs/bpf, then asks for github.com at
# a real resolver on port 53 (the catcher): it must be REFUSED, and the pins
# must still be there on the host. Before the fix (found by a review acting
# as an attacker) the runs parent's links went and github.com was answered,
# for every daemon run on the host, not just the attacker's.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_nest.sh
. "$E2E_DIR/lib_nest.sh"
command -v capsh >/dev/null || die "capsh installed (libcap2-bin)"
e2e_init
dns_start
esc_start

scenario()
{
	local pins
	pins=/sys/fs/bpf/$(instance_of "$STATE")
	# shellcheck disable=SC2016 # expanded by the job's shell
	guarded unpin -- capsh --drop=cap_sys_admin,cap_bpf -- -c '
		find /sys/fs/bpf -mindepth 1 -depth -exec rm -rf {} + 2>/dev/null
		echo "left: $(find /sys/fs/bpf -mindepth 1 | wc -l)"
		exec dig +tries=1 +time=2 @"$0" github.com' "$ESC"
	assert_match "unpin: github.com is REFUSED after the job unlinked what it could" \
		'status: REFUSED' "$(cat "$(rf unpin out)")"
	assert_eq "unpin: the catcher never answered" 0 \
		"$(grep -c 'query\[A\] github.com' "$ESC_LOG" 2>/dev/null)"
	if [ "$MODE" = daemon ]; then
		assert_gt "unpin: the runs parent's links are still pinned on the host" 7 \
			"$(find "$pins/links/runs" -mindepth 1 2>/dev/null | wc -l)"
	fi
}
for_each_mode scenario
e2e_done
