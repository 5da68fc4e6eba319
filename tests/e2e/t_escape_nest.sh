#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A guarded job must not get out from under its policy by starting something
# that makes a guard of its own, by moving itself to another cgroup, or by
# starting a container. Policy deploy blocks github.com and 127.0.0.6/32.
# Every DNS target is ESC:53, a catcher dnsmasq that answers github.com with
# 127.0.0.19 (lib_nest.sh): a guarded query is redirected to the proxy (and
# upstream says 127.0.0.9), so 127.0.0.19 in an answer is a query that got past
# every guard.
#
# 1. Nested runs: depfence run --policy deploy -- depfence run --policy INNER
#    -- client, both with the test's --upstream, the inner run with the outer's
#    state dir (it finds the daemon when the outer did) or the other one; outer
#    embedded and daemon. INNER is watch (mode audit) or watchbl (a blocklist
#    of other.test only). github.com is REFUSED (dig and a connected UDP
#    client), with a DNS BLOCKED line policy=deploy blocked=true; other.test is
#    REFUSED under watchbl (the inner policy still applies); a fresh
#    allowed.test name resolves through upstream (127.0.0.3); a connect to the
#    outer policy's block-ip address fails with EPERM.
# 2. Leaving the cgroup: inside depfence run --policy deploy, a shell writes
#    its pid to CG_ROOT/cgroup.procs, to the cgroup.procs of every ancestor
#    of its cgroup under every cgroup2 mount it sees, does both from PID 1's
#    cgroup namespace (nsenter; the test's own where PID 1's cannot be opened),
#    or writes to the v2 root's cgroup.procs through /proc/PID/root of the
#    test's shell (the host's mount namespace). Every write that would move it
#    fails (one that leaves it where it was, into its own cgroup.procs as a
#    cgroup namespace's root shows it, moves nothing), the shell's cgroup is
#    still the one it started in (or below it), github.com is REFUSED with a
#    block line naming the dig (policy=deploy), and 127.0.0.6 is EPERM.
# 3. Containers: inside depfence run --policy deploy, podman --runtime runc run
#    --network host of an image with no annotation, and runc run of a
#    host-network bundle with no annotation: nslookup github.com is REFUSED
#    with a block line policy=deploy (naming the nslookup's host pid), and a
#    fresh allowed.test name resolves through upstream. A podman container
#    that an unguarded process starts stays untouched: the catcher answers it.
# 4. Containers with a network namespace of their own (podman --network none,
#    runc with a new netns), through the shipped hooks.d files (always run):
#    - unannotated, inside a daemon-mode job (--policy deploy): registered
#      with "inherit": true and the job's policy (status, pins, programs on
#      its cgroup below the job's, saved registration, depfenced listening
#      in its netns); nslookup github.com 127.0.0.53 is REFUSED with a block
#      line policy=deploy container=<id>, a fresh allowed.test name resolves
#      through upstream; after poststop nothing of it is left.
#    - unannotated, inside an embedded job: the runtime fails, its error
#      names depfenced, the command never ran, nothing resolved; likewise
#      when its hooks name the daemon, which serves no guard around it.
#    - annotated, inside a daemon-mode job: policy watchbl is refused ("may
#      not choose policy"), deploy (the job's) is guarded as above.
#    - unannotated, started by an unguarded process: it starts, the daemon
#      never registers it, nothing answers it at 127.0.0.53.
# 5. The control socket, from inside a guarded job (raw requests, esc.py):
#    - daemon-mode job (--policy deploy): a "register" of a container whose
#      id is the job's own run id, on a sub-cgroup of the job (the client
#      moved itself there) with "policy": "observe" (audit) is refused; the
#      client's github.com is still REFUSED with a line policy=deploy, before
#      and after it moved back; a "register" of a cgroup the test made outside
#      every guard (policy observe) is refused, "outside the requester's
#      guard"; depfence run exits 0, depfenced still runs (a SAN build
#      reports the use of a run guard freed under its connection), and
#      neither id is left registered; the outside cgroup is untouched.
#    - embedded job: the same outside "register" is refused likewise.
# 6. Forged poststop: a runc container annotated io.depfence.policy=deploy,
#    started by the test (unguarded), is registered. From inside a daemon-mode
#    job, then an embedded one, `depfence-hook poststop` is fed the OCI state
#    of that container (status stopped): the hook fails ("outside the
#    requester's guard"), the container stays registered (status, pins,
#    programs, saved registration), and its nslookup github.com is REFUSED
#    with a line policy=deploy container=<id>. Its own poststop (runc, at its
#    end) still unregisters it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_containers.sh
. "$E2E_DIR/lib_containers.sh"
# shellcheck source=lib_nest.sh
. "$E2E_DIR/lib_nest.sh"
e2e_init
dns_start --address=/other.test/127.0.0.8
esc_start
printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.6/32\n' >"$CONF/policies/deploy.policy"
printf 'mode audit\nblock github.com\nblock other.test\n' >"$CONF/policies/watch.policy"
printf 'mode blocklist\nblock other.test\n' >"$CONF/policies/watchbl.policy"
printf 'mode audit\nblock github.com\n' >"$CONF/policies/observe.policy"
use_mode embedded # registers the embedded instance for cleanup
daemon_start
nest_scripts
ct_init
pm_init
ct_hooks_d "$T/hooks-e.d" "$T/estate"

# expect_conn NAME RESULT: what conn.py of NAME saw.
expect_conn()
{
	assert_eq "$1: connect to 127.0.0.6:9 (block-ip of deploy)" "$2" \
		"$(sed -n 's/^result: //p' "$(rf "$1" out)")"
}

# ------------------------------------------------------------ 1. nested runs

# nested NAME OUTER_STATE INNER_STATE INNER_POLICY: depfence run --policy
# deploy -- (client.sh's mount namespace) depfence run --policy INNER_POLICY
# -- nq.sh. The inner depfence's pid in NAME.pid.
nested()
{
	local name=$1 ostate=$2 istate=$3 ipol=$4 p st
	p=$T/$MODE-$name
	uniq_name allowed.test
	rm -f "$p"-* "$(rf "$name" pid)"
	printf 'depfence run --policy deploy -- depfence run --policy %s -- nq.sh' "$ipol" \
		>"$(rf "$name" cmd)"
	nest_mark
	timeout -k 5 30 "$DEPFENCE" run --state-dir "$ostate" --config-dir "$CONF" \
		--upstream "$UPSTREAM" --policy deploy -- \
		unshare -m "$E2E_DIR/client.sh" "$T/resolv.conf" "$(rf "$name" pid)" \
		"$DEPFENCE" run --state-dir "$istate" --config-dir "$CONF" --upstream "$UPSTREAM" \
		--policy "$ipol" -- "$T/nq.sh" "$p" "$ESC" "$UNAME" "$E2E_DIR" \
		>"$(rf "$name" out)" 2>"$(rf "$name" err)"
	RC=$?
	assert_eq "$name: both runs exit 0" 0 "$RC"
	expect_dig "$name-gh" REFUSED
	expect_dnsq "$name-ghpy" REFUSED
	st=$(dig_status "$name-gh")
	nest_line "$name" "$(status_wait "$st")" github.com deploy "$(rf "$name" err)"
	expect_dig "$name-ok" NOERROR 127.0.0.3
	[ "$ipol" = watchbl ] && expect_dig "$name-other" REFUSED
	expect_conn "$name-ip" EPERM
	# The inner run names the dig itself: the enclosing line names its forwarder.
	assert_file_has "$name: the inner run logs reason=FromEnclosingGuard for github.com" \
		'DNS BLOCKED reason=FromEnclosingGuard blocked=true blockedAt=dns domain=github\.com pid=[0-9]+ cmd="dig ' \
		"$(rf "$name" err)"
}

# nest_pair OUTER INNER: both inner policies, outer in state dir OUTER, inner
# in INNER (e: $T/estate, where no daemon listens; d: $T/dstate).
nest_pair()
{
	local o=$T/${1}state i=$T/${2}state
	MODE="outer=$1,inner=$2"
	kill -0 "${DAEMON_PID:-0}" 2>/dev/null || die "depfenced is running"
	nested audit "$o" "$i" watch
	nested bl "$o" "$i" watchbl
}
nest_pair e e
nest_pair e d
nest_pair d d
nest_pair d e

# ------------------------------------------------------- 2. leaving the cgroup

# inside CG START: cgroup path CG is START or below it (START not empty).
inside() { [ -n "$2" ] && { [ "$1" = "$2" ] || [[ $1 == "${2%/}"/* ]]; }; }

# leave METHOD: see leave.sh in lib_nest.sh.
leave()
{
	local m=$1 name=leave-$1 p tries moved before after st
	p=$T/$MODE-$name
	rm -f "$p".* "$p"-*
	nest_mark
	guarded "$name" --policy deploy -- "$T/leave.sh" "$m" "$p" "$CG_ROOT" "$ESC" "$E2E_DIR" "$CG_NS" "$$"
	before=$(cat "$p.before" 2>/dev/null) after=$(cat "$p.after" 2>/dev/null)
	tries=$(cat "$p.tries" 2>/dev/null)
	# A write that succeeded and left the shell where it was (its own
	# cgroup.procs, as a cgroup namespace's root may be) moved nothing.
	moved=$(while read -r st path cg; do
		[ "$st" = 0 ] && ! inside "$cg" "$before" && echo "$st $path $cg"
	done <"$p.tries")
	if [ -n "$tries" ] && [ -z "$moved" ]; then
		pass "$name: every write to a cgroup.procs outside its cgroup fails ($(wc -l <"$p.tries") tried)"
	else
		fail "$name: every write to a cgroup.procs outside its cgroup fails" \
			"writes that succeeded (status path, the shell's cgroup after it):" "${moved:-(none)}" \
			"all tries:" "${tries:-(none: nothing was tried)}"
	fi
	if inside "$after" "$before"; then
		pass "$name: still in its cgroup afterwards ($after)"
	else
		fail "$name: still in its cgroup afterwards" "before: $before" "after:  $after"
	fi
	expect_dig "$name-gh" REFUSED
	st=$(dig_status "$name-gh")
	nest_line "$name-gh" "$(status_wait "$st")" github.com deploy "$(rf "$name" err)" \
		"$(cat "$(rf "$name-gh" pid)" 2>/dev/null)"
	expect_conn "$name-ip" EPERM
}

# The cgroup namespace nsenter goes to: PID 1's, or where that cannot be
# opened (a sandbox's PID 1), this test's own (the one the job started in,
# unless depfence gives the job another).
CG_NS=/proc/1/ns/cgroup
readlink "$CG_NS" >/dev/null 2>&1 || CG_NS=/proc/$$/ns/cgroup
echo "# nsenter --cgroup=$CG_NS"
leave_all()
{
	leave root
	leave walk
	leave nsenter
	leave procroot
}
for_each_mode leave_all

# --------------------------------------------------------------- 3. containers

# ct_queries NAME: the container's script: github.com and a fresh allowed.test
# name, both asked of ESC.
ct_queries()
{
	uniq_name allowed.test
	ALLOWED=$UNAME
	ct_script "$1" <<EOF
q gh nslookup -type=a github.com $ESC
q ok nslookup -type=a $ALLOWED $ESC
EOF
}

# ct_checks NAME: what the guarded container's queries saw and logged.
ct_checks()
{
	local name=$1 st=none
	expect_refused "$name" gh github.com
	grep -q REFUSED "$QOUT" 2>/dev/null && st=REFUSED
	nest_line "$name/gh" "$(status_wait "$st")" github.com deploy "$(rf "$name" err)"
	nest_line "$name/gh (the nslookup's host pid)" 0 github.com deploy \
		"$(rf "$name" err)" "$QPID"
	expect_answer "$name" ok "$ALLOWED" 127.0.0.3
}

# pm_nested: podman run --network host (no annotation) from a guarded job.
pm_nested()
{
	local name=pm-$MODE d hooks=$T/hooks.d pm
	[ "$MODE" = embedded ] && hooks=$T/hooks-e.d
	pm=("${PODMAN[@]/#$T\/hooks.d/$hooks}")
	d=$(ct_dir "$name")
	ct_queries "$name"
	nest_mark
	guarded "$name" --policy deploy -- timeout -k 5 40 "${pm[@]}" run --rm --pid host \
		--network host --dns 127.0.0.53 -v "$d/shared:/shared" "$PM_IMAGE" sh /shared/main.sh \
		</dev/null
	_ct_ran "$name"
	assert_eq "$name: podman run inside the job exits 0" 0 "$RC"
	ct_checks "$name"
}

# runc_nested: runc run of a host-network bundle (no annotation) from a
# guarded job; the bundle's hooks name this mode's state dir.
runc_nested()
{
	local name=runc-$MODE b
	b=$(ct_dir "$name")/bundle
	ct_queries "$name"
	runc_bundle "$name" net=host
	[ "$MODE" = embedded ] && sed -i "s|$T/dstate|$T/estate|g" "$b/config.json"
	nest_mark
	guarded "$name" --policy deploy -- timeout -k 5 30 "${RUNC[@]}" run --bundle "$b" \
		"$(ct_id "$name")" </dev/null
	_ct_ran "$name"
	assert_eq "$name: runc run inside the job exits 0" 0 "$RC"
	ct_checks "$name"
}

ct_all()
{
	pm_nested
	runc_nested
}
for_each_mode ct_all

# The control: a container no guarded process started is untouched.
MODE=unguarded
ct_script plain <<EOF
q gh nslookup -type=a github.com $ESC
EOF
pm_run plain --network host --dns 127.0.0.53
assert_ran plain
expect_answer plain gh github.com 127.0.0.19
ct_no_block plain gh

# ------------------------------------ 4. containers with a netns of their own

# inh_queries NAME [go]: the container's script: (with go: wait_go first)
# github.com and a fresh allowed.test name, asked of 127.0.0.53, which only
# a guard makes answer inside a network namespace of its own. (No -type=a
# for github.com: busybox rewrites that argument in place, and the block
# line's cmd is read from /proc after it did.)
inh_queries()
{
	uniq_name allowed.test
	ALLOWED=$UNAME
	ct_script "$1" <<EOF2
${2:+wait_go}
q gh nslookup github.com 127.0.0.53
q ok nslookup -type=a $ALLOWED 127.0.0.53
EOF2
}

# inh_guarded RT [POLICY]: inside a daemon-mode job (--policy deploy), RT
# (pm or runc, see inh_cmd) starts a container with a network namespace of
# its own, unannotated (or annotated POLICY, the job's). While it runs: the
# daemon lists it with the job's policy, its links are pinned, programs are
# attached to its cgroup (below the job's), its registration is saved (with
# "inherit": true when unannotated), the daemon logged "container registered
# ... policy=deploy" and depfenced listens inside its namespace. Then:
# github.com is REFUSED with a block line policy=deploy container=<id> (the
# nslookup's host pid), the allowed name resolves with upstream's answer,
# and after it ended (poststop) nothing of its guard is left.
inh_guarded()
{
	local rt=$1 pol=${2:-} name job mpid cg id jcg
	name=inh-$rt${pol:+-$pol}
	inh_queries "$name" go
	inh_cmd "$rt" "$name" "$T/dstate" "$pol"
	STATE=$T/dstate
	guarded_bg "$name" --policy deploy -- "${INH_CMD[@]}"
	job=$BG_PID
	if ! wait_file "$(ct_file "$name" started)" 15; then
		fail "$name: the container started inside the job" "depfence run's stderr:" \
			"$(_show "$(rf "$name" err)" 20)" "daemon.log ends with:" "$(tail -n 5 "$T/daemon.log")"
		bg_wait "$job" 1
		return
	fi
	mpid=$(cat "$(ct_file "$name" main.pid)")
	cg=$(inh_host_cg "$mpid")
	jcg=$(inh_host_cg "$(cat "$(rf "$name" pid)" 2>/dev/null)")
	CT_CGS+=("$cg")
	id=$(inh_ct_id "$rt" "$name" "$cg")
	assert_match "$name: the container has a network namespace of its own" '^net:' \
		"$(grep -v "^$NETNS_HOST\$" "$(ct_file "$name" netns)")"
	if [ -n "$jcg" ] && [[ $cg == "$jcg"/* ]]; then
		pass "$name: its cgroup is below the job's"
	else
		fail "$name: its cgroup is below the job's" "job: $jcg" "container: $cg"
	fi
	assert_guarded "$name" "$id" deploy "$cg"
	if [ -z "$pol" ]; then
		assert_file_has "$name: its saved registration says inherit" '"inherit":true' \
			"$(rec_file c "$id" "$cg")"
	fi
	assert_file_has "$name: the daemon registered it with the job's policy" \
		"container registered id=$(re_quote "$id") policy=deploy " "$T/daemon.log"
	assert_match "$name: depfenced listens on 127.0.0.1 inside its network namespace" \
		'127\.0\.0\.1:[0-9]+ .*"depfenced"' "$(nsenter -t "$mpid" -n ss -Hlnup 2>&1)"
	echo 1 >"$(ct_file "$name" go)"
	bg_wait "$job" 30
	assert_eq "$name: the job (and the runtime in it) exits 0" 0 "$RC"
	expect_refused "$name" gh github.com
	ct_block "$name" gh github.com policy=deploy container="$id"
	expect_answer "$name" ok "$ALLOWED" 127.0.0.3
	assert_dns_saw A "$ALLOWED"
	ct_no_block "$name" ok
	inh_wait_unregistered "$id"
	assert_gone "$name" "$id"
	# The poststop's unregister, or the reaper's (within a second of the cgroup
	# going): whichever comes first removes it, and says so.
	assert_file_has "$name: the daemon logged its unregistration" \
		"container (unregistered|gone, forgotten) id=$(re_quote "$id")" "$T/daemon.log"
}

# inh_refused RT NAME STATE HOOK_STATE WHY-ERE [POLICY]: inside a job
# (--policy deploy) on STATE, RT starts container NAME (see inh_cmd; its
# hooks name HOOK_STATE): the runtime fails with
# the hook's reason (WHY-ERE) in its error, the container's command never
# ran, nothing resolved from it, nothing is registered and no container is
# left.
inh_refused()
{
	local rt=$1 name=$2 state=$3 why=$5 pol=${6:-} err hits
	inh_queries "$name"
	inh_cmd "$rt" "$name" "$4" "$pol"
	STATE=$state
	guarded "$name" --policy deploy -- "${INH_CMD[@]}" </dev/null
	assert_match "$name: the runtime (and the job) exits non-zero" '^[1-9][0-9]*$' "$RC"
	assert_file_has "$name: the error has the hook's reason" "$why" "$(rf "$name" err)"
	assert_eq "$name: the container's command never ran" "" \
		"$(ls "$(ct_file "$name" main.pid)" 2>/dev/null)"
	assert_file_lacks "$name: nothing resolved from it" "query\[A\] $(re_quote "$ALLOWED")" \
		"$DNS_LOG"
	assert_eq "$name: no saved registration" "" "$(ls "$T/dstate/guards"/*.json 2>/dev/null)"
	assert_eq "$name: depfence status lists no container" "" "$(ct_status)"
	assert_eq "$name: no c-* pins" "" "$(ls -d "$PINS"/c-* 2>/dev/null)"
	if [ "$rt" = runc ]; then
		assert_eq "$name: no runc container left" "" "$("${RUNC[@]}" list -q 2>&1)"
	else
		assert_eq "$name: no podman container left" "" "$("${PODMAN[@]}" ps -aq 2>&1)"
	fi
	# podman's "OCI runtime error:" matches lib.sh's UBSan pattern: scan the
	# file here without that line, and keep it out of lib.sh's *.err scan.
	err=$(rf "$name" err)
	hits=$(grep -E "$SAN_RE" "$err" | grep -v 'OCI runtime error: ')
	[ -z "$hits" ] || fail "sanitizer report in $err" "$(head -n 4 <<<"$hits")"
	mv "$err" "$err.runtime"
}

# Daemon-mode job, unannotated: registered with the job's policy.
MODE=inherit
inh_guarded pm
inh_guarded runc

# Embedded job: no daemon to register with, so the container does not start.
MODE=inherit-embedded
inh_refused pm inh-e-pm "$T/estate" "$T/estate" "depfence-hook: .*no depfenced answering on $T/estate/"
inh_refused runc inh-e-runc "$T/estate" "$T/estate" "depfence-hook: .*no depfenced answering on $T/estate/"
# Its hooks name the daemon's state dir: the daemon answers, but serves no
# guard around the container (the embedded run's is not its own).
inh_refused runc inh-e-d-runc "$T/estate" "$T/dstate" \
	"depfence-hook: .*register from inside a guard this daemon does not serve"

# Annotated, inside a daemon-mode job: another policy is refused, the job's
# own is guarded.
MODE=annotated-in-job
inh_refused pm inh-other-pm "$T/dstate" "$T/dstate" \
	"depfence-hook: .*inside guard .*\(policy deploy\): it may not choose policy 'watchbl'" watchbl
inh_refused runc inh-other-runc "$T/dstate" "$T/dstate" \
	"depfence-hook: .*inside guard .*\(policy deploy\): it may not choose policy 'watchbl'" watchbl
inh_guarded pm deploy
inh_guarded runc deploy

# The control: an unannotated container with --network none that no guarded
# process started starts (the hook runs for it too), is not registered, and
# nothing answers it at 127.0.0.53.
MODE=unguarded-netns
inh_queries ctl go
pm_start ctl --network none
CTL_PID=$BG_PID
CTL_CG=$(inh_host_cg "$(cat "$(ct_file ctl main.pid)")")
CTL_ID=$(inh_ct_id pm ctl "$CTL_CG")
CT_CGS+=("$CTL_CG")
assert_match "ctl: the container has a network namespace of its own" '^net:' \
	"$(grep -v "^$NETNS_HOST\$" "$(ct_file ctl netns)")"
assert_untouched ctl "$CTL_ID" "$CTL_CG"
assert_eq "ctl: no saved registration" "" "$(ls "$T/dstate/guards"/*.json 2>/dev/null)"
ct_go ctl "$CTL_PID"
assert_ran ctl
expect_unanswered ctl gh
ct_no_block ctl gh
assert_file_lacks "ctl: the daemon never registered it" "container registered id=$(re_quote "$CTL_ID")" \
	"$T/daemon.log"
assert_gone ctl "$CTL_ID"

# ---------------------------------------------------- 5. the control socket

SOCK=$T/dstate/depfenced.sock
export ESC_DIR=$T
victim_start
ctl_json reg-out.json op=register kind=container id="$VICTIM" policy=observe pid="$VPID" \
	cgroup="$VCG" netns="/proc/$VPID/ns/net"

# ctl_daemon: inside a daemon-mode job, the client waits until the test
# wrote its request (its run id and pid are known only then), moves to a
# sub-cgroup, asks, looks up github.com, asks for the outside cgroup, moves
# back, looks up github.com again.
ctl_daemon()
{
	local job jcg rid i
	use_mode daemon
	rm -f "$T/reg-up" "$T/reg-go" "$T/reg-self.json" "$T/reg-kinded" "$T/reg-go2"
	nest_mark
	guarded_bg reg --policy deploy -- "$PY" "$ESC_PY" touch,reg-up wait,reg-go,20 \
		"ctl,$SOCK,reg-own.json" cgsub,esc \
		"ctl,$SOCK,reg-self.json" "dns,$ESC,53,github.com" "ctl,$SOCK,reg-out.json" \
		"ctl,$SOCK,reg-kind.json" touch,reg-kinded wait,reg-go2,20 \
		cgback,esc "cdns,$ESC,53,github.com"
	job=$BG_PID
	for ((i = 0; i < 200; i++)); do
		[ -e "$T/reg-up" ] && break
		sleep 0.05
	done
	[ -e "$T/reg-up" ] || fail "reg: the client came up within 10 s" "$(_show "$(rf reg err)")"
	CPID=$(cat "$(rf reg pid)" 2>/dev/null)
	jcg=$(inh_host_cg "${CPID:-0}")
	rid=$(run_id_of "$jcg")
	assert_match "reg: the daemon lists the job's run (cgroup $jcg)" '^run-' "$rid"
	ctl_json reg-self.json op=register kind=container id="$rid" policy=observe \
		pid="${CPID:-0}" cgroup="$jcg/esc" netns="/proc/${CPID:-0}/ns/net"
	# Its own run cgroup again, under a container id and a laxer policy.
	ctl_json reg-own.json op=register kind=container id=own-x policy=observe \
		pid="$(cat "$(rf reg pid)" 2>/dev/null || echo 0)" cgroup="$jcg" netns="/proc/${CPID:-0}/ns/net"
	# A record that says it is a run (a restarted daemon would rebuild its mode).
	ctl_json reg-kind.json op=register kind=run id=kind-x policy=deploy mode=audit \
		pid="${CPID:-0}" cgroup="$jcg/esc" netns="/proc/${CPID:-0}/ns/net"
	touch "$T/reg-go"
	# While the job runs: what the daemon saved for the kind=run request.
	wait_exists "$T/reg-kinded" 10
	assert_match "reg: what it saved is a container record, not a run's" '"kind":"container"' \
		"$(cat $(rec_any c kind-x) 2>&1)"
	touch "$T/reg-go2"
	bg_wait "$job" 20
	assert_eq "reg: depfence run ends normally (exit 0)" 0 "$RC"
	# What a run registered inside itself ends with it: guard, pins and record.
	assert_eq "reg: the container it registered went with the run" "" "$(rec_any c kind-x)"
	expect_step reg "cgsub esc" '^OK$' "the client moved to a sub-cgroup of the job"
	expect_step reg "ctl reg-self.json" '^ok=false ' \
		"a register of its own run id ($rid) on that sub-cgroup with policy observe is refused"
	expect_step reg "dns $ESC 53 github.com" "^REFUSED from=$(re_quote "$ESC")#53\$" \
		"github.com is still REFUSED for it afterwards"
	nest_line "reg" "$(status_wait "$(nest_step reg "dns $ESC 53 github.com" | cut -d' ' -f1)")" \
		github.com deploy "$(rf reg err)" "${CPID:-0}"
	expect_step reg "ctl reg-out.json" "^ok=false error=.*outside the requester's guard" \
		"a register of a cgroup outside the job is refused"
	expect_step reg "ctl reg-own.json" "^ok=false error=.*outside the requester's guard" \
		"a register of the job's own run cgroup (another policy for itself) is refused"
	# Same policy as its guard, strictly below it: registered, and saved as what it is.
	expect_step reg "ctl reg-kind.json" '^ok=true ' "a register that says kind=run is taken as a container's"
	ctl_json unreg-k.json op=unregister id=kind-x
	"$PY" "$ESC_PY" "ctl,$SOCK,unreg-k.json" >/dev/null 2>&1
	expect_step reg "cgback esc" '^OK$' "the client moved back"
	expect_step reg "cdns $ESC 53 github.com" "^REFUSED " "github.com is REFUSED once back"
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		pass "reg: depfenced still running"
	else
		fail "reg: depfenced still running" "$(tail -n 12 "$T/daemon.log")"
	fi
	assert_eq "reg: neither id is registered" "" \
		"$(ct_status | grep -F -e "$rid " -e "$VICTIM ")"
	assert_eq "reg: no saved registration" "" "$(ls "$T/dstate/guards"/*.json 2>/dev/null)"
	# Whatever a regression registered goes, so later cases start clean.
	ctl_json unreg-1.json op=unregister id="$rid"
	"$PY" "$ESC_PY" "ctl,$SOCK,unreg-1.json" >/dev/null 2>&1
}

ctl_embedded()
{
	use_mode embedded
	guarded reg-e --policy deploy -- "$PY" "$ESC_PY" "ctl,$SOCK,reg-out.json" \
		"dns,$ESC,53,github.com"
	expect_step reg-e "ctl reg-out.json" "^ok=false error=register from inside a guard this daemon does not serve" \
		"from an embedded run, a register of a cgroup outside the job is refused"
	expect_step reg-e "dns $ESC 53 github.com" '^REFUSED ' "github.com is REFUSED"
}

ctl_daemon
ctl_embedded
MODE=ctl-victim
assert_untouched victim "$VICTIM" "$VCG"
ctl_json unreg-2.json op=unregister id="$VICTIM"
"$PY" "$ESC_PY" "ctl,$SOCK,unreg-2.json" >/dev/null 2>&1
victim_stop

# -------------------------------------------------- 6. forged poststop

forged_poststop()
{
	local ct id cg m
	# A daemon that case 5 brought down is said so, and started again.
	use_mode daemon
	_daemon_check
	MODE=forged-poststop
	ct_script fp <<'EOF2'
wait_go
q gh nslookup github.com 127.0.0.53
EOF2
	runc_bundle fp net=own policy=deploy
	runc_start fp
	ct=$BG_PID
	id=$CT_LAST_ID
	cg=$(ct_cgroup fp)
	assert_guarded "fp (registered)" "$id" deploy "$cg"
	printf '{"ociVersion":"1.0.2","id":"%s","status":"stopped","pid":0,"bundle":"%s"}\n' \
		"$id" "$(ct_dir fp)/bundle" >"$T/fp-state.json"
	for m in daemon embedded; do
		use_mode "$m"
		# shellcheck disable=SC2016 # expanded by that shell
		guarded fp-hook --policy deploy -- sh -c 'exec "$0" --state-dir "$1" poststop <"$2"' \
			"$HOOK_BIN" "$T/dstate" "$T/fp-state.json"
		assert_match "fp-hook: the forged poststop fails" '^[1-9][0-9]*$' "$RC"
		assert_file_has "fp-hook: the hook says why" \
			"depfence-hook: $(re_quote "$id"): .*(outside the requester's guard|from inside a guard this daemon does not serve)" \
			"$(rf fp-hook err)"
		assert_guarded "fp (after it)" "$id" deploy "$cg"
	done
	MODE=forged-poststop
	ct_go fp "$ct"
	assert_ran fp
	expect_refused fp gh github.com
	ct_block fp gh github.com policy=deploy container="$id"
	inh_wait_unregistered "$id"
	assert_gone fp "$id"
}
forged_poststop
e2e_done
