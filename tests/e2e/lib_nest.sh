# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the tests
#
# Helpers for t_escape_nest.sh, sourced after lib.sh: a second dnsmasq that
# catches DNS which got past the guard, the client scripts the escape cases
# run inside a guarded job, and a block-line finder that looks only at lines
# logged after a mark (the daemon's log holds every case's lines).
#
#   esc_start            the catcher: dnsmasq on ESC:53 (ESC a 127.53.x.y
#                        address no other test uses), answering the suite's
#                        names with addresses of its own (github.com
#                        127.0.0.19 and ::19, allowed.test 127.0.0.13 and
#                        ::13, other.test 127.0.0.18 and ::18), so an answer says who gave it: a guarded
#                        client asking ESC is redirected to the proxy, which
#                        forwards to UPSTREAM (github.com 127.0.0.9, allowed.test
#                        127.0.0.3); an unguarded one reaches the catcher.
#   nest_mark            remember where the daemon's log ends now
#   nest_line ...        a DNS BLOCKED line logged since the mark

# esc_start: the catcher (see above); its query log is ESC_LOG. Tries other
# addresses when one is taken.
esc_start()
{
	local try i addr pid
	ESC_LOG=$T/catcher.log
	for ((try = 0; try < 10; try++)); do
		addr=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
		dnsmasq --no-daemon --no-resolv --no-hosts --port=53 \
			--listen-address="$addr" --bind-interfaces \
			--address=/github.com/127.0.0.19 --address=/github.com/::19 \
			--address=/allowed.test/127.0.0.13 --address=/allowed.test/::13 \
			--address=/other.test/127.0.0.18 --address=/other.test/::18 \
			--log-queries --log-facility="$ESC_LOG" 2>>"$T/catcher.stderr" &
		pid=$!
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break # address taken: next one
			if dig +tries=1 +time=1 @"$addr" probe.invalid >/dev/null 2>&1; then
				ESC=$addr
				E2E_PIDS+=("$pid")
				return 0
			fi
			sleep 0.1
		done
		_stop_pid "$pid"
		wait "$pid" 2>/dev/null
	done
	die "the catcher dnsmasq started on 127.53.x.y:53" "$(_show "$T/catcher.stderr")"
}

# ------------------------------------------------------------ block lines

# nest_mark: the daemon's log is read from here on by nest_line.
nest_mark() { NEST_MARK=$(stat -c %s "$T/daemon.log" 2>/dev/null || echo 0); }

# _nest_lines RUNERR: the DNS BLOCKED lines of the run whose stderr is RUNERR
# (where an embedded proxy logs; an inner run's stderr is the outer's) and
# those of the daemon since the mark.
_nest_lines()
{
	{
		tail -c +$((NEST_MARK + 1)) "$T/daemon.log" 2>/dev/null
		cat "$1" 2>/dev/null
	} | grep -a '^WARN DNS BLOCKED '
}

# nest_line WHAT WAIT DOMAIN POLICY RUNERR [PID]: a DNS BLOCKED line with
# domain=DOMAIN policy=POLICY blocked=true (and pid=PID if given) among
# _nest_lines RUNERR, waiting up to WAIT tenths of a second for it (the
# daemon writes its log asynchronously). On failure shows the lines there
# are: an escape shows as the inner policy's line, or none.
nest_line()
{
	local what=$1 wait=$2 domain=$3 policy=$4 err=$5 pid=${6:-} i line
	for ((i = 0; i <= wait * 2; i++)); do
		while IFS= read -r line; do
			parse_fields "$line"
			if [ "${LF[domain]:-}" != "$domain" ] || [ "${LF[policy]:-}" != "$policy" ] ||
				[ "${LF[blocked]:-}" != true ]; then
				continue
			fi
			[ -z "$pid" ] || [ "${LF[pid]:-}" = "$pid" ] || continue
			pass "$what: DNS BLOCKED line domain=$domain policy=$policy blocked=true${pid:+ pid=$pid}"
			return 0
		done < <(_nest_lines "$err")
		sleep 0.05
	done
	fail "$what: DNS BLOCKED line domain=$domain policy=$policy blocked=true${pid:+ pid=$pid}" \
		"no such line in $err or in the daemon's log since the case began; DNS BLOCKED lines there:" \
		"$(_nest_lines "$err" | tail -n 6)"
}

# status_wait STATUS: how long (tenths of a second) nest_line waits: a
# client that saw REFUSED was answered after its line was written; one that
# did not has no line coming.
status_wait() { if [ "$1" = REFUSED ]; then echo 30; else echo 3; fi; }

# ---------------------------------------------------------- client scripts

# nest_scripts: $T/nq.sh and $T/leave.sh (below).
nest_scripts()
{
	# nq.sh PREFIX ESC ALLOWED E2E_DIR: the queries of one nested run. Each
	# query KEY is a process of its own (pid in PREFIX-KEY.pid), its command
	# line in PREFIX-KEY.cmd and its output in PREFIX-KEY.out, so lib.sh's
	# rf/expect_dig/expect_dnsq read them as run "NAME-KEY".
	cat >"$T/nq.sh" <<'EOS'
#!/bin/sh
p=$1 esc=$2 allowed=$3 e2e=$4
q() {
	k=$1
	shift
	printf '%s' "$*" >"$p-$k.cmd"
	sh -c 'echo $$ >"$0"; exec "$@"' "$p-$k.pid" "$@" >"$p-$k.out" 2>&1
}
q gh dig +tries=1 +time=2 @"$esc" github.com
q ghpy /usr/bin/python3 "$e2e/dnsq.py" "$esc" github.com
q ok dig +tries=1 +time=2 @"$esc" "$allowed"
q other dig +tries=1 +time=2 @"$esc" other.test
q ip /usr/bin/python3 "$e2e/conn.py" 127.0.0.6 9
exit 0
EOS
	# leave.sh METHOD PREFIX CG_ROOT ESC E2E_DIR NS HOSTPID: try to move this shell out
	# of its cgroup by METHOD, then look up github.com and connect to
	# 127.0.0.6:9 (a block-ip of the run's policy).
	#   root     write $$ to CG_ROOT/cgroup.procs (the v2 mount the test sees)
	#   walk     write $$ to the cgroup.procs of every ancestor of this
	#            shell's cgroup, under every cgroup2 mount this shell sees
	#            and /sys/fs/cgroup{,/unified} (where they exist)
	#   nsenter  both of the above from a shell in the cgroup namespace NS
	#            (nsenter --cgroup=NS, NS e.g. /proc/1/ns/cgroup); a failing
	#            nsenter counts as a failed write
	#   procroot write $$ to /proc/HOSTPID/root/CG_ROOT/cgroup.procs: the v2
	#            root as a process in the host's mount namespace sees it
	#            (HOSTPID: the test's shell), whatever the job's own mounts
	#            show; a path the job cannot reach counts as a failed write
	# PREFIX.tries: one "STATUS PATH CGROUP" line per write (STATUS 0: the
	# write succeeded; CGROUP: where the shell is after it);
	# PREFIX.before/.after: the 0:: line of /proc/self/cgroup before and
	# after, as the shell that tried sees it; the lookup as PREFIX-gh.*, the
	# connect as PREFIX-ip.out.
	cat >"$T/leave.sh" <<'EOS'
#!/bin/sh
m=$1 p=$2 cgroot=$3 esc=$4 e2e=$5 ns=$6 hostpid=$7
cg() { sed -n 's/^0:://p' /proc/self/cgroup; }
tried=" "
try() {
	case $tried in *" $1 "*) return 0 ;; esac
	tried="$tried$1 "
	[ -e "$1" ] || return 0
	echo $$ 2>>"$p.tries.err" >"$1"
	echo "$? $1 $(cg)" >>"$p.tries"
}
walk() {
	start=$(cg)
	mounts=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo)
	for mnt in $mounts /sys/fs/cgroup/unified /sys/fs/cgroup; do
		dir=$start
		n=0
		while [ $n -lt 32 ]; do
			case $dir in "" | /) dir=/ ;; *) dir=$(dirname "$dir") ;; esac
			try "${mnt%/}${dir%/}/cgroup.procs"
			[ "$dir" = / ] && break
			n=$((n + 1))
		done
	done
}
after() {
	cg >"$p.after"
	printf '%s' "dig +tries=1 +time=2 @$esc github.com" >"$p-gh.cmd"
	sh -c 'echo $$ >"$0"; exec dig +tries=1 +time=2 @"$1" github.com' "$p-gh.pid" "$esc" \
		>"$p-gh.out" 2>&1
	/usr/bin/python3 "$e2e/conn.py" 127.0.0.6 9 >"$p-ip.out" 2>&1
}
case $m in
root)
	cg >"$p.before"
	try "$cgroot/cgroup.procs"
	after
	;;
walk)
	cg >"$p.before"
	walk
	after
	;;
all)
	echo 1 >"$p.entered"
	cg >"$p.before"
	try "$cgroot/cgroup.procs"
	walk
	after
	;;
procroot)
	cg >"$p.before"
	f=/proc/$hostpid/root$cgroot/cgroup.procs
	[ -e "$f" ] || echo "1 $f(unreachable) $(cg)" >>"$p.tries"
	try "$f"
	after
	;;
nsenter)
	nsenter --cgroup="$ns" sh "$0" all "$p" "$cgroot" "$esc" "$e2e" 2>"$p.nsenter.err"
	st=$?
	if [ ! -e "$p.entered" ]; then
		echo "$st nsenter:--cgroup=$ns $(cg)" >>"$p.tries"
		cg >"$p.before"
		after
	fi
	;;
esac
exit 0
EOS
	chmod +x "$T/nq.sh" "$T/leave.sh"
}

# ------------------------------------- containers with a netns of their own
#
# Case 4 of t_escape_nest.sh (after ct_init and pm_init): containers without
# the annotation (or with one) that a guarded job starts in a network
# namespace of their own, through the shipped hooks.d files.
#
#   inh_cmd RT NAME STATE [POLICY]   INH_CMD: the command a job runs to start
#                                    container NAME
#   inh_host_cg PID                  PID's cgroup v2 dir as the test sees it
#   inh_ct_id RT NAME CGROUP         the container's id (runc's, podman's)
#   inh_wait_unregistered ID         poststop had its effect (3 s at most)

# inh_cmd RT NAME STATE [POLICY]: in INH_CMD, what starts container NAME
# (sh /shared/main.sh) in a network namespace of its own, host pids: RT pm
# is podman run --rm --pid host --network none, RT runc is runc run of a
# bundle with its own network namespace (runc_bundle net=own). The hooks are
# the shipped hooks.d files naming STATE ($T/dstate or $T/estate) as the
# hook's state dir; the annotation io.depfence.policy=POLICY if given.
inh_cmd()
{
	local rt=$1 name=$2 state=$3 policy=${4:-} d hooks=$T/hooks.d
	d=$(ct_dir "$name")
	[ "$state" = "$T/estate" ] && hooks=$T/hooks-e.d
	case $rt in
	pm)
		mkdir -p "$d/shared"
		INH_CMD=(timeout -k 5 40 "${PODMAN[@]/#$T\/hooks.d/$hooks}" run --rm --pid host
			--network none -v "$d/shared:/shared")
		[ -z "$policy" ] || INH_CMD+=(--annotation "io.depfence.policy=$policy")
		INH_CMD+=("$PM_IMAGE" sh /shared/main.sh)
		;;
	runc)
		runc_bundle "$name" net=own ${policy:+"policy=$policy"}
		[ "$state" = "$T/estate" ] && sed -i "s|$T/dstate|$T/estate|g" "$d/bundle/config.json"
		INH_CMD=(timeout -k 5 30 "${RUNC[@]}" run --bundle "$d/bundle" "$(ct_id "$name")")
		;;
	*) die "inh_cmd: unknown runtime $rt" ;;
	esac
}

# inh_host_cg PID: PID's cgroup v2 directory as this test (the cgroup
# namespace the daemon runs in) sees it; empty if PID is gone.
inh_host_cg()
{
	local rel
	rel=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
	[ -n "$rel" ] && printf '%s%s' "$CG_ROOT" "${rel%/}"
}

# inh_ct_id RT NAME CGROUP: the id the runtime gave container NAME: runc's
# is ct_id NAME; podman's is in its cgroup's name (libpod-<id>[.scope]).
inh_ct_id()
{
	local cg
	if [ "$1" = runc ]; then
		ct_id "$2"
		return
	fi
	cg=${3##*/libpod-}
	printf '%s' "${cg%.scope}"
}

# inh_wait_unregistered ID: until the daemon's saved registration of ID is
# gone (poststop ran), 3 s at most. The checks come after (assert_gone).
inh_wait_unregistered()
{
	local i
	for ((i = 0; i < 30; i++)); do
		rec_any c "$1" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# --------------------------------------- control socket and forged hooks
#
# Cases 5 and 6 of t_escape_nest.sh: what a guarded job may ask of
# depfenced's control socket (docs/design.md, "Control protocol").
#
#   ESC_PY                 esc.py (its ctl, cgsub and cgback steps); not
#                          lib_escape.sh's ESC, which here is the catcher
#                          (the test exports ESC_DIR=$T for its files)
#   nest_step NAME WHAT    what follows WHAT on NAME's last output line
#                          starting with it (esc.py prints one per step)
#   expect_step NAME WHAT ERE DESC
#   ctl_json FILE KEY=VALUE...   a request line in $T/FILE (VALUE a number
#                          stays one); esc.py's ctl step sends it
#   victim_start           VCG: a cgroup outside every guard made by the
#                          test, with one process (VPID, in a network
#                          namespace of its own); victim_stop removes both
#   run_id_of CGROUP       the id of the daemon's run guard on CGROUP

ESC_PY=$E2E_DIR/esc.py

nest_step()
{
	local line
	line=$(awk -v p="$2 " 'index($0, p) == 1' "$(rf "$1" out)" 2>/dev/null | tail -n 1)
	printf '%s' "${line#"$2 "}"
}

expect_step()
{
	local got
	got=$(nest_step "$1" "$2")
	if [[ $got =~ $3 ]]; then
		pass "$1: $4 ($2: $got)"
	else
		fail "$1: $4" "step: $2" "expected to match: $3" "seen: ${got:-(no such step)}" \
			"output:" "$(_show "$(rf "$1" out)" 20)" "stderr:" "$(_show "$(rf "$1" err)")"
	fi
}

ctl_json()
{
	local f=$1
	shift
	"$PY" -c 'import json, sys
r = {}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    r[k] = int(v) if v.isdigit() else v
open(sys.argv[1], "w").write(json.dumps(r) + "\n")' "$T/$f" "$@"
}

victim_start()
{
	local i
	VICTIM=dfe2e-victim-$$
	VCG=$CG_ROOT/$VICTIM
	# e2e_cleanup kills what is left in an instance's cgroup and removes it.
	E2E_INSTANCES+=("$VICTIM")
	mkdir -p "$VCG" || die "victim cgroup $VCG made"
	# shellcheck disable=SC2016 # expanded by that shell
	sh -c 'echo $$ >"$0/cgroup.procs" && exec unshare -n sleep 60' "$VCG" &
	VPID=$!
	E2E_PIDS+=("$VPID")
	for ((i = 0; i < 50; i++)); do
		[ "$(sed -n 's/^0:://p' "/proc/$VPID/cgroup" 2>/dev/null)" = "/$VICTIM" ] &&
			[ "$(readlink "/proc/$VPID/ns/net")" != "$(readlink /proc/self/ns/net)" ] &&
			return 0
		sleep 0.05
	done
	die "the victim process runs in $VCG with a network namespace of its own"
}

victim_stop()
{
	_stop_pid "$VPID"
	wait "$VPID" 2>/dev/null
	_remove_cgroup "$VCG"
}

run_id_of()
{
	"$DEPFENCE" status --state-dir "$T/dstate" --json 2>>"$T/status.err" | "$PY" -c 'import json, sys
for g in json.load(sys.stdin):
    if g.get("kind") == "run" and g.get("cgroup") == sys.argv[1]:
        print(g.get("id"))' "$1"
}
