# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the tests
#
# Helpers for the container tests (t_container_*.sh), sourced after lib.sh:
# a busybox-static rootfs, runc bundles, podman with all of its storage in $T,
# the deploy/hooks.d files pointed at this build's depfence-hook and this
# test's daemon, and the checks the container tests share (status rows, pins,
# programs attached to a cgroup, what a query inside the container saw).
#
# Each container NAME has a directory $T/ct/NAME whose shared/ is bind-mounted
# at /shared. The test writes the container's script there (ct_script); the
# script sources /lib/q.sh from the rootfs and records every query it makes
# (q NAME CMD...: CMD's own pid, output, exit status, wall time) back into
# /shared, where the ct_* checks read it. Container processes are host pids
# (runc bundles without a pid namespace, podman --pid host) unless a test asks
# for a pid namespace, so the pid in NAME.pid is the pid the block line names.
#
# ct_init replaces lib.sh's EXIT trap with ct_cleanup, which removes every
# container this test made (runc delete -f, podman rm -f, the image and the
# podman storage), fails the test if a container cgroup is left behind, and
# then runs lib.sh's e2e_cleanup (daemon, dnsmasq, pins, temp dir).

HOOK_BIN=$DEPFENCE_BIN/depfence-hook
RUNC=()
CT_CG_PARENTS=()
PODMAN=()
PM_IMAGE=
CT_CGS=() # cgroup v2 dirs of containers seen running (must be gone at the end)
CT_LAST_ID=

# ct_init: after e2e_init. Builds the rootfs ($T/rootfs) and
# the hooks.d copy ($T/hooks.d), makes the runc spec template.
ct_init()
{
	[ -x "$HOOK_BIN" ] || die "depfence-hook built ($HOOK_BIN)"
	command -v runc >/dev/null || die "runc installed"
	[ -x /bin/busybox ] || die "busybox-static installed (/bin/busybox)"
	trap ct_cleanup EXIT
	RUNC=(runc --root "$T/runc")
	INSTANCE=$(instance_of "$T/dstate")
	PINS=/sys/fs/bpf/$INSTANCE/links
	NETNS_HOST=$(readlink /proc/self/ns/net)
	ct_rootfs "$T/rootfs"
	ct_hooks_d "$T/hooks.d" "$T/dstate"
	(cd "$T" && runc spec) || die "runc spec"
	mv "$T/config.json" "$T/spec.json"
}

# ct_rootfs DIR: busybox-static and its applets, /etc/resolv.conf naming
# 127.0.0.53 (never the host's resolver), /lib/q.sh, mount points.
ct_rootfs()
{
	local r=$1 a
	mkdir -p "$r"/{bin,etc,lib,proc,sys,dev,tmp,shared}
	cp /bin/busybox "$r/bin/busybox"
	for a in sh nslookup wget sleep cat echo ls grep readlink touch true; do
		ln -s busybox "$r/bin/$a"
	done
	printf 'nameserver 127.0.0.53\n' >"$r/etc/resolv.conf"
	cat >"$r/lib/q.sh" <<'EOF'
# Sourced by each container's /shared/main.sh (see tests/e2e/lib_containers.sh).
# q NAME CMD [ARG...]: CMD as a process of its own, exec'd by the shell that
# wrote its pid to /shared/NAME.pid, so that pid is CMD's; its output goes to
# NAME.out, its exit status to NAME.rc and its wall time in ms (10 ms ticks
# of /proc/uptime) to NAME.ms.
ticks() { read -r t _ </proc/uptime; echo "${t%.*}${t#*.}"; }
q() {
	n=$1
	shift
	t0=$(ticks)
	sh -c 'echo $$ >"$0"; exec "$@"' "/shared/$n.pid" "$@" >"/shared/$n.out" 2>&1
	echo $? >"/shared/$n.rc"
	echo $((($(ticks) - t0) * 10)) >"/shared/$n.ms"
}
# wait_go: say we run (/shared/started), then wait for the test to create
# /shared/go, 20 s at most.
wait_go() {
	echo 1 >/shared/started
	i=0
	while [ ! -e /shared/go ] && [ $i -lt 400 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
echo $$ >/shared/main.pid
readlink /proc/self/ns/net >/shared/netns
grep '^0::' /proc/self/cgroup >/shared/cgroup
EOF
}

# ct_hooks_d DIR STATE_DIR: deploy/hooks.d/*.json with the hook's path set to
# this build's depfence-hook and --state-dir STATE_DIR before the stage
# argument; everything else (version, when.annotations, stages) as shipped.
# The one addition is the hook's environment: the sanitizer options of lib.sh
# with a log_path in $T, because runc and podman show a hook's stderr only
# when a prestart hook fails (a poststop's not at all with podman), so a
# sanitizer report would otherwise go unseen; ct_cleanup reads those files.
ct_hooks_d()
{
	mkdir -p "$1"
	"$PY" - "$E2E_DIR/../../deploy/hooks.d" "$1" "$HOOK_BIN" "$2" \
		"ASAN_OPTIONS=$ASAN_OPTIONS:log_path=$T/san-hook" \
		"UBSAN_OPTIONS=$UBSAN_OPTIONS:log_path=$T/san-hook" <<'EOF' ||
import glob, json, os, sys
src, dst, path, state = sys.argv[1:5]
env = sys.argv[5:]
files = sorted(glob.glob(src + "/*.json"))
if not files:
    sys.exit("no hooks.d files in " + src)
for f in files:
    h = json.load(open(f))
    args = h["hook"]["args"]
    h["hook"]["path"] = path
    h["hook"]["args"] = args[:1] + ["--state-dir", state] + args[1:]
    h["hook"]["env"] = h["hook"].get("env", []) + env
    json.dump(h, open(os.path.join(dst, os.path.basename(f)), "w"), indent=2)
EOF
		die "hooks.d copy made from deploy/hooks.d"
}

# ct_dir NAME: the directory of container NAME; ct_id NAME: its runc id.
ct_dir() { printf '%s/ct/%s' "$T" "$1"; }
ct_id() { printf 'dfe2e-%s-%s' "$$" "$1"; }

# ct_script NAME: container NAME's /shared/main.sh from stdin, after the
# preamble that sources /lib/q.sh. Makes $T/ct/NAME/shared.
ct_script()
{
	local d
	d=$(ct_dir "$1")
	mkdir -p "$d/shared"
	{
		echo '. /lib/q.sh'
		cat
		echo 'exit 0'
	} >"$d/shared/main.sh"
}

# runc_bundle NAME [net=own|host] [pid=own|host] [policy=P] [stage=S]: the
# bundle $T/ct/NAME/bundle: `runc spec` with the shared rootfs (read-only),
# /shared bound, `sh /shared/main.sh` as the process, the annotation
# io.depfence.policy=P if given, and the hooks of $T/hooks.d put in
# config.json as docs/containers.md shows (prestart as stage S: prestart or
# createRuntime), with or without the annotation: the hook must pass an
# unannotated container through.
runc_bundle()
{
	local name=$1 net=own pid=host policy="" stage=prestart kv d
	shift
	for kv in "$@"; do
		case $kv in
		net=*) net=${kv#*=} ;;
		pid=*) pid=${kv#*=} ;;
		policy=*) policy=${kv#*=} ;;
		stage=*) stage=${kv#*=} ;;
		*) die "runc_bundle: unknown option $kv" ;;
		esac
	done
	d=$(ct_dir "$name")
	mkdir -p "$d/bundle" "$d/shared"
	"$PY" - "$T/spec.json" "$d/bundle/config.json" "$T/rootfs" "$d/shared" "$net" "$pid" \
		"$policy" "$stage" "$T/hooks.d" <<'EOF' || die "$name: bundle made"
import glob, json, sys
spec, out, rootfs, shared, net, pid, policy, stage, hooksd = sys.argv[1:10]
c = json.load(open(spec))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "/shared/main.sh"]
c["root"] = {"path": rootfs, "readonly": True}
drop = {t for t, v in (("network", net), ("pid", pid)) if v == "host"}
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] not in drop]
c["mounts"].append({"destination": "/shared", "type": "bind", "source": shared,
                    "options": ["rbind", "rw"]})
if policy:
    c["annotations"] = {"io.depfence.policy": policy}
hooks = {}
for f in sorted(glob.glob(hooksd + "/*.json")):
    h = json.load(open(f))
    for st in h["stages"]:
        hook = dict(h["hook"])
        if st == "prestart" and stage != "prestart":
            st = stage
            hook["args"] = hook["args"][:-1] + [stage]
        hooks.setdefault(st, []).append(hook)
c["hooks"] = hooks
json.dump(c, open(out, "w"), indent=1)
EOF
}

# runc_run NAME: `runc run` of NAME's bundle in the foreground (30 s at
# most); its status in RC, its output in $T/ct/NAME/run.{out,err}.
runc_run()
{
	local d id
	d=$(ct_dir "$1")
	id=$(ct_id "$1")
	CT_LAST_ID=$id
	timeout -k 5 30 "${RUNC[@]}" run --bundle "$d/bundle" "$id" </dev/null \
		>"$d/run.out" 2>"$d/run.err"
	RC=$?
	_ct_ran "$1"
}

# _ct_ran NAME: remember the cgroup of a container that ran in the foreground.
_ct_ran()
{
	[ -s "$(ct_dir "$1")/shared/cgroup" ] && CT_CGS+=("$(ct_cgroup "$1")")
	return 0
}

# runc_start NAME: `runc run` in the background; waits until the container
# script called wait_go. BG_PID is runc's pid (see ct_go).
runc_start()
{
	local d id
	d=$(ct_dir "$1")
	id=$(ct_id "$1")
	CT_LAST_ID=$id
	timeout -k 5 30 "${RUNC[@]}" run --bundle "$d/bundle" "$id" </dev/null \
		>"$d/run.out" 2>"$d/run.err" &
	BG_PID=$!
	E2E_PIDS+=("$BG_PID")
	ct_wait_started "$1"
}

# ct_wait_started NAME: the container's script reached wait_go (5 s at most).
# Remembers its cgroup in CT_CGS.
ct_wait_started()
{
	local d
	d=$(ct_dir "$1")
	if wait_file "$d/shared/started" 5; then
		CT_CGS+=("$(ct_cgroup "$1")")
		return 0
	fi
	die "$1: the container started" "stderr:" "$(_show "$d/run.err")"
}

# ct_go NAME PID: let NAME's script go on past wait_go, wait for PID (its
# runc run / podman run) to end; RC is its status.
ct_go()
{
	echo 1 >"$(ct_dir "$1")/shared/go"
	bg_wait "$2" 20 || fail "$1: the container ended within 20 s of go"
}

# assert_ran NAME: container NAME's runc run / podman run exited 0, and no
# hook failed (runc only logs a failed poststop hook, and exits 0).
assert_ran()
{
	local err
	err=$(ct_dir "$1")/run.err
	if [ "$RC" = 0 ] && ! grep -q 'error running hook' "$err"; then
		pass "$1: the runtime exits 0, every hook succeeded"
	else
		fail "$1: the runtime exits 0, every hook succeeded" "exit $RC; stderr:" "$(_show "$err")"
	fi
}

# ct_cgroup NAME: the container's cgroup v2 directory (what its script read
# from /proc/self/cgroup).
ct_cgroup()
{
	local rel
	rel=$(sed -n 's/^0:://p' "$(ct_dir "$1")/shared/cgroup" 2>/dev/null)
	printf '%s%s' "$CG_ROOT" "$rel"
}

# ct_file NAME FILE: a file the container wrote into /shared.
ct_file() { printf '%s/shared/%s' "$(ct_dir "$1")" "$2"; }

# ct_cleanup: the EXIT trap (see the top of this file).
ct_cleanup()
{
	local rc=$? id cg i f left=()
	trap - EXIT
	MODE=cleanup
	if [ ${#RUNC[@]} -gt 0 ]; then
		for id in $("${RUNC[@]}" list -q 2>/dev/null); do
			fail "container $id was removed by the test" "(runc list still had it)"
			"${RUNC[@]}" delete -f "$id" >/dev/null 2>&1
		done
	fi
	if [ ${#PODMAN[@]} -gt 0 ]; then
		if [ -n "$("${PODMAN[@]}" ps -aq 2>/dev/null)" ]; then
			fail "every podman container was removed by the test" \
				"$("${PODMAN[@]}" ps -a 2>&1)"
			timeout 30 "${PODMAN[@]}" rm -fa -t 0 >/dev/null 2>&1
		fi
		timeout 30 "${PODMAN[@]}" rmi -af >/dev/null 2>&1
	fi
	# The runtime removes a container's cgroup when the container goes.
	for cg in "${CT_CGS[@]}"; do
		[ "$cg" != "$CG_ROOT" ] || continue
		for ((i = 0; i < 20; i++)); do
			[ -d "$cg" ] || break
			sleep 0.1
		done
		[ -d "$cg" ] && left+=("$cg") && _remove_cgroup "$cg"
	done
	[ ${#left[@]} -eq 0 ] || fail "no container cgroup left behind" "${left[@]}"
	# Parents a test made its containers' cgroups in (cgroupsPath): empty by now.
	for cg in "${CT_CG_PARENTS[@]}"; do
		rmdir "$cg" 2>/dev/null
	done
	for f in "$T"/san-hook.*; do
		[ -e "$f" ] && fail "sanitizer report of depfence-hook in $f" "$(head -n 4 "$f")"
	done
	# podman's storage is under $T; nothing of it may stay mounted.
	if [ -n "${T:-}" ]; then
		awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m"; done
	fi
	(exit "$rc")
	e2e_cleanup
}

# --------------------------------------------------------------- podman

# pm_init: podman with runc, the cgroupfs manager, storage (vfs), run and temp
# dirs under $T/podman, no events log, the hooks.d copy as its hooks dir, and
# a containers.conf of its own (no default ulimits: CAP_SYS_RESOURCE is
# missing here). Imports the rootfs as PM_IMAGE.
pm_init()
{
	command -v podman >/dev/null || die "podman installed"
	printf '[containers]\ndefault_ulimits = []\n' >"$T/containers.conf"
	export CONTAINERS_CONF=$T/containers.conf
	PODMAN=(podman --root "$T/podman/root" --runroot "$T/podman/run" --tmpdir "$T/podman/tmp"
		--storage-driver vfs --events-backend none --runtime runc --cgroup-manager cgroupfs
		--hooks-dir "$T/hooks.d")
	PM_IMAGE=localhost/depfence-e2e:$$
	tar -C "$T/rootfs" -cf "$T/rootfs.tar" . || die "rootfs tarball made"
	"${PODMAN[@]}" import -q "$T/rootfs.tar" "$PM_IMAGE" >/dev/null 2>"$T/podman-import.err" ||
		die "podman import of the busybox rootfs" "$(_show "$T/podman-import.err")"
}

# pm_run NAME [PODMAN-RUN-OPTION...]: `podman run --rm --pid host` of
# NAME's script in PM_IMAGE, /shared bound, in the foreground; RC, and the
# output in $T/ct/NAME/run.{out,err}.
pm_run()
{
	local name=$1 d
	shift
	d=$(ct_dir "$name")
	timeout -k 5 40 "${PODMAN[@]}" run --rm --pid host -v "$d/shared:/shared" "$@" \
		"$PM_IMAGE" sh /shared/main.sh </dev/null >"$d/run.out" 2>"$d/run.err"
	RC=$?
	_ct_ran "$name"
}

# pm_start NAME [PODMAN-RUN-OPTION...]: as pm_run, in the background, until
# the script calls wait_go; BG_PID is podman's pid (see ct_go).
pm_start()
{
	local name=$1 d
	shift
	d=$(ct_dir "$name")
	timeout -k 5 40 "${PODMAN[@]}" run --rm --pid host -v "$d/shared:/shared" "$@" \
		"$PM_IMAGE" sh /shared/main.sh </dev/null >"$d/run.out" 2>"$d/run.err" &
	BG_PID=$!
	E2E_PIDS+=("$BG_PID")
	ct_wait_started "$name"
}

# pm_id NAME: podman's full container id, from the cgroup the container was
# in (/libpod_parent/libpod-<id> with the cgroupfs manager).
pm_id()
{
	local cg
	cg=$(ct_cgroup "$1")
	cg=${cg##*/libpod-}
	printf '%s' "${cg%.scope}"
}

# ------------------------------------------------------------ daemon side

# ct_status: the daemon's container guards, one "id policy cgroup" line each
# (from `depfence status --json`); fails the test if status does not answer.
ct_status()
{
	"$DEPFENCE" status --state-dir "$T/dstate" --json >"$T/status.json" 2>"$T/status.err" || {
		fail "depfence status --json answers" "$(_show "$T/status.err")"
		return 1
	}
	"$PY" -c 'import json, sys
for g in json.load(open(sys.argv[1])):
    if g.get("kind") == "container":
        print(g.get("id"), g.get("policy"), g.get("cgroup"), "since" in g)' "$T/status.json"
}

# ct_progs CGROUP: the names of the BPF programs attached to CGROUP itself,
# sorted, space-separated.
ct_progs()
{
	bpftool -j cgroup show "$1" 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4 |
		sort | paste -sd ' '
}

# assert_guarded WHAT ID POLICY CGROUP: while the container runs, the daemon
# lists it (kind container, its id, POLICY, CGROUP, a since), its links are
# pinned in c-CGROUPID, the DNS programs are attached to its cgroup, and its
# registration is saved as c-CGROUPID-ID.json.
assert_guarded()
{
	local what=$1 id=$2 policy=$3 cg=$4 rows progs
	# Its row: the one with its id on its cgroup (names may repeat across runtimes).
	rows=$(ct_status | awk -v id="$id" -v cg="$cg" '$1 == id && $3 == cg')
	assert_eq "$what: depfence status lists it (kind container, id, policy, cgroup, since)" \
		"$id $policy $cg True" "$rows"
	if [ -d "$(pin_dir "$cg")" ] && [ -n "$(ls -A "$(pin_dir "$cg")")" ]; then
		pass "$what: its links are pinned in $(pin_dir "$cg")"
	else
		fail "$what: its links are pinned in $(pin_dir "$cg")" "$(ls -la "$PINS" 2>&1)"
	fi
	progs=$(ct_progs "$cg")
	assert_match "$what: connect4, sendmsg4 and recvmsg4 programs attached to its cgroup" \
		'df_connect4.*df_recvmsg4.*df_sendmsg4' "$progs"
	if [ -f "$(rec_file c "$id" "$cg")" ]; then
		pass "$what: its registration is saved in the state dir"
	else
		fail "$what: its registration is saved in the state dir" \
			"$(ls -la "$T/dstate/guards" 2>&1)"
	fi
}

# assert_untouched WHAT ID CGROUP: while the container runs, the daemon does
# not know it and no program is attached to its cgroup.
assert_untouched()
{
	local what=$1 id=$2 cg=$3
	assert_eq "$what: not in depfence status" "" "$(ct_status | grep -F "$id ")"
	assert_eq "$what: no pinned links" "" "$(ls -d "$(pin_dir "$cg")" 2>/dev/null)"
	assert_eq "$what: no program attached to its cgroup $cg" "" "$(ct_progs "$cg")"
}

# assert_gone WHAT ID: after the container ended, nothing of its guard is
# left (no status row, no c-* pins, no saved registration) and the daemon
# still serves.
assert_gone()
{
	local what=$1 id=$2 rows
	rows=$(ct_status) || return
	assert_eq "$what: not in depfence status after it ended" "" "$(grep -F "$id " <<<"$rows")"
	assert_eq "$what: no c-* pins left" "" "$(ls -d "$PINS"/c-* 2>/dev/null)"
	assert_eq "$what: no saved registration left" "" "$(ls "$T/dstate/guards"/*.json 2>/dev/null)"
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		pass "$what: depfenced still serving"
	else
		fail "$what: depfenced still serving" "$(tail -n 8 "$T/daemon.log")"
	fi
}

# --------------------------------------------------------- what queries saw

# ct_q NAME Q: sets QPID, QRC, QMS and QOUT (the file) of query Q of NAME.
ct_q()
{
	QOUT=$(ct_file "$1" "$2.out")
	QPID=$(cat "$(ct_file "$1" "$2.pid")" 2>/dev/null)
	QRC=$(cat "$(ct_file "$1" "$2.rc")" 2>/dev/null)
	QMS=$(cat "$(ct_file "$1" "$2.ms")" 2>/dev/null)
}

# expect_refused NAME Q DOMAIN: busybox nslookup of query Q got REFUSED, fast.
expect_refused()
{
	ct_q "$1" "$2"
	assert_file_has "$1/$2: nslookup $3 got REFUSED" "server can't find $(re_quote "$3"): REFUSED" \
		"$QOUT"
	assert_lt "$1/$2: refused in < 1 s" 1000 "$QMS"
}

# expect_answer NAME Q DOMAIN ADDR: query Q resolved DOMAIN to ADDR (exit 0).
expect_answer()
{
	local got
	ct_q "$1" "$2"
	got=$(sed -n '/^Name:/,$ s/^Address: //p' "$QOUT" | paste -sd ' ')
	if [ "$QRC" = 0 ] && [ "$got" = "$4" ]; then
		pass "$1/$2: $3 resolved to $4"
	else
		fail "$1/$2: $3 resolved to $4" "exit $QRC, addresses '$got'; output:" "$(_show "$QOUT")"
	fi
}

# expect_unanswered NAME Q: query Q failed and got no DNS answer at all (no
# REFUSED either: nothing answered for depfence).
expect_unanswered()
{
	ct_q "$1" "$2"
	if [ "$QRC" != 0 ] && ! grep -qE "REFUSED|^Address: " "$QOUT"; then
		pass "$1/$2: no answer, not even REFUSED ($(grep -m1 -E 'unreachable|refused|not permitted|timed out|no servers' "$QOUT"))"
	else
		fail "$1/$2: no answer, not even REFUSED" "exit $QRC; output:" "$(_show "$QOUT")"
	fi
}

# ct_block NAME Q DOMAIN KEY=VALUE...: the daemon logged the DNS BLOCKED line
# of query Q (its pid, its command line) for DOMAIN with these fields (see
# assert_block in lib_check.sh).
ct_block()
{
	local name=$1 q=$2 domain=$3 label
	shift 3
	ct_q "$name" "$q"
	label=$name-$q
	_ct_cmd "$name" "$q" >"$(rf "$label" cmd)"
	CPID=$QPID BLOCK_LOG_FILE=$T/daemon.log assert_block "$label" "$domain" "$@"
}

# wait_line ERE: the first DNS BLOCKED line of the daemon's log matching ERE
# in BLOCK_LINE, its fields in LF (waits up to 3 s: the log is written async).
wait_line()
{
	local i
	for ((i = 0; i < 60; i++)); do
		BLOCK_LINE=$(grep -a '^WARN DNS BLOCKED ' "$T/daemon.log" | grep -E -m 1 -- "$1")
		if [ -n "$BLOCK_LINE" ]; then
			parse_fields "$BLOCK_LINE"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# ct_no_block NAME Q: no block line for query Q's pid.
ct_no_block()
{
	ct_q "$1" "$2"
	CPID=$QPID BLOCK_LOG_FILE=$T/daemon.log assert_no_block "$1-$2"
}

# _ct_cmd NAME Q: the command line query Q ran (the arguments of its q line).
_ct_cmd()
{
	sed -n "s/^q $2 //p" "$(ct_dir "$1")/shared/main.sh" | head -n 1
}
