#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence-hook under real `runc run`, against a real depfenced and dnsmasq,
# with the hooks of deploy/hooks.d in the bundle's config.json:
# - annotated io.depfence.policy=deploy, in its own network namespace and in
#   the host's: github.com is REFUSED at once and the daemon's block line names
#   the nslookup's host pid, its command line, its parent in the container,
#   policy=deploy and container=<id>; allowed.test resolves through dnsmasq
#   (which logs the query); evilgithub.com resolves (label boundary).
# - two containers at once, annotated deploy and other: each is answered by
#   its own policy; status lists both (kind container, id, policy, cgroup),
#   their links are pinned and the programs attached to their cgroups.
# - createRuntime instead of prestart, with a pid namespace: guarded the same,
#   and the block line has host pids.
# - unannotated (hooks configured, no annotation): not registered, nothing
#   attached, its DNS goes where it asked.
# - after every container: no status row, no pins, no saved registration.
# - the daemon restarts under two guarded containers: DNS fails closed while
#   it is down, the one that ended meanwhile is forgotten, the other is
#   guarded again.
# - unknown policy, and no daemon: runc refuses to start the container, the
#   error names the reason, and nothing is left (no container, no cgroup, no
#   pins).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_containers.sh
. "$(dirname "$0")/lib_containers.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
printf 'mode blocklist\nblock example.org\n' >"$CONF/policies/other.policy"
daemon_start
ct_init

# queries NAME: the script of a guarded container: a blocked name, an
# allowed one (unique, so dnsmasq's log proves it arrived), one that only
# looks like the blocked one, through resolv.conf, and a name the other
# policy blocks.
queries()
{
	uniq_name allowed.test
	ALLOWED=$UNAME
	uniq_name example.org
	OTHER=$UNAME
	ct_script "$1" <<EOF
q blocked nslookup github.com 127.9.9.9
q allowed nslookup -type=a $ALLOWED 127.9.9.9
q evil nslookup -type=a evilgithub.com
q other nslookup -type=a $OTHER 127.9.9.9
EOF
}

# check_deploy NAME ID: what the queries of a container guarded by deploy saw.
check_deploy()
{
	local name=$1 id=$2
	expect_refused "$name" blocked github.com
	ct_block "$name" blocked github.com policy=deploy container="$id" \
		ancestry="$(cat "$(ct_file "$name" main.pid)"):sh /shared/main.sh"
	expect_answer "$name" allowed "$ALLOWED" 127.0.0.3
	assert_dns_saw A "$ALLOWED"
	ct_no_block "$name" allowed
	expect_answer "$name" evil evilgithub.com 127.0.0.10
	ct_no_block "$name" evil
	assert_dns_saw A "$OTHER"
	ct_no_block "$name" other
}

# Own network namespace (runc's default), host pid namespace.
MODE=netns
queries netns
runc_bundle netns net=own policy=deploy
runc_run netns
assert_ran netns
assert_match "the container has a network namespace of its own" "^net:" \
	"$(grep -v "^$NETNS_HOST\$" "$(ct_file netns netns)")"
check_deploy netns "$CT_LAST_ID"
assert_gone "netns" "$CT_LAST_ID"

# The host's network namespace: listeners in the host namespace.
MODE=hostnet
queries hostnet
runc_bundle hostnet net=host policy=deploy
runc_run hostnet
assert_ran hostnet
assert_eq "the container shares the host's network namespace" "$NETNS_HOST" \
	"$(cat "$(ct_file hostnet netns)")"
check_deploy hostnet "$CT_LAST_ID"
assert_gone "hostnet" "$CT_LAST_ID"

# Two containers at once; the annotation's value picks each one's policy.
MODE=policies
uniq_name example.org
EX_A=$UNAME
uniq_name example.org
EX_B=$UNAME
ct_script pa <<EOF
wait_go
q gh nslookup github.com 127.9.9.9
q ex nslookup -type=a $EX_A 127.9.9.9
EOF
ct_script pb <<EOF
wait_go
q gh nslookup -type=a github.com 127.9.9.9
q ex nslookup $EX_B 127.9.9.9
EOF
runc_bundle pa policy=deploy
runc_bundle pb policy=other
runc_start pa
ID_A=$CT_LAST_ID PID_A=$BG_PID
runc_start pb
ID_B=$CT_LAST_ID PID_B=$BG_PID
assert_guarded "pa (deploy)" "$ID_A" deploy "$(ct_cgroup pa)"
assert_guarded "pb (other)" "$ID_B" other "$(ct_cgroup pb)"
assert_eq "status lists exactly the two containers" 2 "$(ct_status | wc -l)"
echo 1 >"$(ct_file pa go)"
ct_go pb "$PID_B"
assert_ran pb
ct_go pa "$PID_A"
assert_ran pa
expect_refused pa gh github.com
ct_block pa gh github.com policy=deploy container="$ID_A"
expect_answer pb gh github.com 127.0.0.9
ct_no_block pb gh
expect_refused pb ex "$EX_B"
ct_block pb ex "$EX_B" policy=other container="$ID_B"
assert_dns_saw A "$EX_A"
ct_no_block pa ex
assert_gone "pa" "$ID_A"
assert_gone "pb" "$ID_B"

# createRuntime, with a pid namespace of its own: the block line has host
# pids (the nslookup's own, and its parent's in ancestry), not the
# container's; nspid= says the container's own.
MODE=createRuntime
ct_script crt <<'EOF'
wait_go
q blocked nslookup github.com 127.9.9.9
EOF
runc_bundle crt pid=own policy=deploy stage=createRuntime
assert_match "crt: config.json has the hook as createRuntime" '"createRuntime"' \
	"$(cat "$(ct_dir crt)/bundle/config.json")"
runc_start crt
ID=$CT_LAST_ID
HOSTPID=$("${RUNC[@]}" state "$ID" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
assert_eq "crt: pid 1 in its own pid namespace" 1 "$(cat "$(ct_file crt main.pid)")"
assert_guarded crt "$ID" deploy "$(ct_cgroup crt)"
ct_go crt "$BG_PID"
assert_ran crt
expect_refused crt blocked github.com
NSPID=$(cat "$(ct_file crt blocked.pid)")
if wait_line "container=$ID"; then
	assert_eq "crt: ancestry is the container's sh, by its host pid" \
		"$HOSTPID:sh /shared/main.sh" "${LF[ancestry]}"
	assert_eq "crt: block line cmd" "nslookup github.com 127.9.9.9" "${LF[cmd]}"
	assert_eq "crt: block line policy" deploy "${LF[policy]}"
	if [[ ${LF[pid]} =~ ^[0-9]+$ ]] && [ "${LF[pid]}" != "$NSPID" ]; then
		pass "crt: block line pid ${LF[pid]} is a host pid, not the container's $NSPID"
	else
		fail "crt: block line pid is a host pid, not the container's $NSPID" "$BLOCK_LINE"
	fi
	assert_eq "crt: nspid= is the pid in the container's own namespace" "$NSPID" \
		"${LF[nspid]:-}"
else
	fail "crt: a block line with container=$ID" "$(grep -a 'DNS BLOCKED' "$T/daemon.log" | tail -n 4)"
fi
assert_gone crt "$ID"

# Unannotated, own network namespace: the hook passes it through; with no
# guard, its loopback is down and 127.9.9.9 is unreachable.
MODE=plain-netns
ct_script plain <<'EOF'
wait_go
q gh nslookup github.com 127.9.9.9
EOF
runc_bundle plain net=own
runc_start plain
ID=$CT_LAST_ID
assert_untouched plain "$ID" "$(ct_cgroup plain)"
ct_go plain "$BG_PID"
assert_ran plain
expect_unanswered plain gh
ct_no_block plain gh
assert_gone plain "$ID"

# Unannotated, host network namespace: its queries reach what they ask:
# dnsmasq answers github.com, and nothing answers at 127.9.9.9.
MODE=plain-hostnet
ct_script plainh <<EOF
q direct nslookup -type=a github.com 127.0.0.1:$DNS_PORT
q gh nslookup github.com 127.9.9.9
EOF
runc_bundle plainh net=host
runc_run plainh
assert_ran plainh
expect_answer plainh direct github.com 127.0.0.9
ct_no_block plainh direct
expect_unanswered plainh gh
ct_no_block plainh gh
assert_gone plainh "$CT_LAST_ID"

# The daemon restarts while two guarded containers run: while it is down
# their DNS fails closed (nothing reaches dnsmasq); one ends meanwhile (its
# poststop finds no daemon); the restarted daemon forgets that one and guards
# the other again (pins, listener in its namespace, status).
MODE=restart
uniq_name allowed.test
DOWN_NAME=$UNAME
ct_script r1 <<'EOF'
wait_go
q blocked nslookup github.com 127.9.9.9
q allowed nslookup -type=a allowed.test 127.9.9.9
EOF
ct_script r2 <<EOF
wait_go
q down nslookup -type=a $DOWN_NAME 127.9.9.9
EOF
runc_bundle r1 policy=deploy
runc_bundle r2 policy=deploy
runc_start r1
ID_1=$CT_LAST_ID PID_1=$BG_PID
runc_start r2
ID_2=$CT_LAST_ID PINS_2=$(pin_dir "$(ct_cgroup r2)")
daemon_stop
ct_go r2 "$BG_PID"
assert_ran r2
expect_unanswered r2 down
assert_file_lacks "r2: its query did not leave while the daemon was down" \
	"query\[A\] $(re_quote "$DOWN_NAME")" "$DNS_LOG"
daemon_start
assert_guarded "r1 after the restart" "$ID_1" deploy "$(ct_cgroup r1)"
assert_eq "r2: the restarted daemon forgot it" "" "$(ct_status | grep -F "$ID_2 ")"
assert_eq "r2: its pins are gone" "" "$(ls -d "$PINS_2" 2>/dev/null)"
assert_eq "r2: its saved registration is gone" "" "$(rec_any c "$ID_2")"
ct_go r1 "$PID_1"
assert_ran r1
expect_refused r1 blocked github.com
ct_block r1 blocked github.com policy=deploy container="$ID_1"
expect_answer r1 allowed allowed.test 127.0.0.3
assert_gone r1 "$ID_1"

# refused NAME WHY-ERE: runc did not start container NAME (its script never
# ran), said why, and left nothing behind.
refused()
{
	local name=$1 id=$CT_LAST_ID
	CT_CGS+=("$CG_ROOT/$id")
	assert_match "$name: runc run fails" '^[1-9][0-9]*$' "$RC"
	assert_file_has "$name: runc's error has the hook's reason" "$2" "$(ct_dir "$name")/run.err"
	assert_eq "$name: the container's command never ran" "" \
		"$(ls "$(ct_dir "$name")/shared/main.pid" 2>/dev/null)"
	assert_eq "$name: no runc container left" "" "$("${RUNC[@]}" list -q)"
	assert_eq "$name: no cgroup left" "" "$(ls -d "$CG_ROOT/$id" 2>/dev/null)"
	assert_eq "$name: no c-* pins" "" "$(ls -d "$PINS"/c-* 2>/dev/null)"
}

MODE=unknown-policy
ct_script nosuch <<'EOF'
q gh nslookup github.com 127.9.9.9
EOF
runc_bundle nosuch policy=nosuch
runc_run nosuch
refused nosuch "depfence-hook: $CT_LAST_ID: unknown policy 'nosuch'"
assert_gone nosuch "$CT_LAST_ID"

MODE=no-daemon
daemon_stop
ct_script down <<'EOF'
q gh nslookup github.com 127.9.9.9
EOF
runc_bundle down policy=deploy
runc_run down
refused down "depfence-hook: $CT_LAST_ID: no depfenced answering on $T/dstate/"
assert_eq "down: no saved registration" "" "$(ls "$T/dstate/guards"/*.json 2>/dev/null)"
e2e_done
