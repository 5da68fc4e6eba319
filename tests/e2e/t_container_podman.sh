#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence-hook through podman's hooks.d (the containers/common hooks library
# CRI-O uses too): `podman --runtime runc --hooks-dir DIR run --annotation
# io.depfence.policy=deploy` with the deploy/hooks.d files (pointed at this
# build and this test's daemon), an image imported from a busybox rootfs, and
# podman's storage in the test's temp dir.
# - --network none, --network host and (when installed) slirp4netns: github.com
#   is REFUSED at once, the block line names the nslookup's pid, command line,
#   policy=deploy and container=<podman's full id>; allowed.test resolves
#   through dnsmasq, evilgithub.com resolves.
# - while it runs, status lists it (kind container, full id, policy, its
#   libpod cgroup), its links are pinned and programs attached; afterwards
#   (poststop) nothing is left.
# - an unannotated container is untouched: the hook does not run, nothing is
#   attached, dnsmasq answers it directly, 127.9.9.9 does not answer at all.
# - unknown policy, and no daemon: podman run fails with the hook's reason,
#   the command never runs, nothing is left.
#
# podman's default network (netavark bridge) works here but is not used: it
# sets net.ipv4.ip_forward=1 and installs iptables rules on the host that stay
# after the container is gone; slirp4netns gives the container the same kind
# of namespace (an interface and a default route besides lo) without that.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_containers.sh
. "$(dirname "$0")/lib_containers.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
daemon_start
ct_init
pm_init

ANNOT=(--annotation io.depfence.policy=deploy)

# guarded_net NET: an annotated container with --network NET.
guarded_net()
{
	local net=$1 name=net-$1 id dns=()
	MODE=$net
	[ "$net" = none ] || dns=(--dns 127.0.0.53) # else the host's resolv.conf is copied in
	uniq_name allowed.test
	ct_script "$name" <<EOF
q blocked nslookup github.com 127.9.9.9
q allowed nslookup -type=a $UNAME 127.9.9.9
q evil nslookup -type=a evilgithub.com
EOF
	pm_run "$name" --network "$net" "${dns[@]}" "${ANNOT[@]}"
	assert_ran "$name"
	id=$(pm_id "$name")
	assert_match "the container's cgroup names its full id" '^[0-9a-f]{64}$' "$id"
	if [ "$net" = host ]; then
		assert_eq "the container shares the host's network namespace" "$NETNS_HOST" \
			"$(cat "$(ct_file "$name" netns)")"
	else
		assert_match "the container has a network namespace of its own" "^net:" \
			"$(grep -v "^$NETNS_HOST\$" "$(ct_file "$name" netns)")"
	fi
	expect_refused "$name" blocked github.com
	ct_block "$name" blocked github.com policy=deploy container="$id" \
		ancestry="$(cat "$(ct_file "$name" main.pid)"):sh /shared/main.sh"
	expect_answer "$name" allowed "$UNAME" 127.0.0.3
	assert_dns_saw A "$UNAME"
	ct_no_block "$name" allowed
	expect_answer "$name" evil evilgithub.com 127.0.0.10
	ct_no_block "$name" evil
	assert_gone "$name" "$id"
}
guarded_net none
guarded_net host
if command -v slirp4netns >/dev/null; then
	guarded_net slirp4netns
else
	echo "# slirp4netns is not installed: --network slirp4netns not tried"
fi

# Status while it runs, nothing after.
MODE=status
ct_script st <<'EOF'
wait_go
q blocked nslookup github.com 127.9.9.9
EOF
pm_start st --network none "${ANNOT[@]}"
ID=$(pm_id st)
assert_guarded st "$ID" deploy "$(ct_cgroup st)"
assert_match "st: its cgroup is podman's libpod-<id>" "/libpod-$ID\$" "$(ct_cgroup st)"
ct_go st "$BG_PID"
assert_ran st
expect_refused st blocked github.com
ct_block st blocked github.com policy=deploy container="$ID"
assert_gone st "$ID"

# Unannotated: the hooks.d files do not select it.
MODE=plain
ct_script plain <<EOF
wait_go
q direct nslookup -type=a github.com 127.0.0.1:$DNS_PORT
q gh nslookup github.com 127.9.9.9
EOF
pm_start plain --network host --dns 127.0.0.53
ID=$(pm_id plain)
assert_untouched plain "$ID" "$(ct_cgroup plain)"
ct_go plain "$BG_PID"
assert_ran plain
expect_answer plain direct github.com 127.0.0.9
ct_no_block plain direct
expect_unanswered plain gh
ct_no_block plain gh
assert_gone plain "$ID"

# refused NAME WHY-ERE: podman did not start container NAME, said why, and
# left nothing behind.
refused()
{
	local name=$1
	assert_match "$name: podman run fails" '^[1-9][0-9]*$' "$RC"
	assert_file_has "$name: podman's error has the hook's reason" "$2" "$(ct_dir "$name")/run.err"
	assert_eq "$name: the container's command never ran" "" \
		"$(ls "$(ct_file "$name" main.pid)" 2>/dev/null)"
	assert_eq "$name: no podman container left" "" "$("${PODMAN[@]}" ps -aq)"
	assert_eq "$name: no libpod cgroup left" "" \
		"$(find "$CG_ROOT/libpod_parent" -maxdepth 1 -name 'libpod-*' -newer "$(ct_dir "$name")/shared/main.sh" 2>/dev/null)"
	assert_eq "$name: no c-* pins" "" "$(ls -d "$PINS"/c-* 2>/dev/null)"
}

MODE=unknown-policy
ct_script nosuch <<'EOF'
q gh nslookup github.com 127.9.9.9
EOF
pm_run nosuch --network none --annotation io.depfence.policy=nosuch
refused nosuch "depfence-hook: [0-9a-f]{64}: unknown policy 'nosuch'"
assert_gone nosuch nosuch

MODE=no-daemon
daemon_stop
ct_script down <<'EOF'
q gh nslookup github.com 127.9.9.9
EOF
pm_run down --network none "${ANNOT[@]}"
refused down "depfence-hook: [0-9a-f]{64}: no depfenced answering on $T/dstate/"
assert_eq "down: no saved registration" "" "$(ls "$T/dstate/guards"/*.json 2>/dev/null)"
e2e_done
