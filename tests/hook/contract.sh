#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Contract tests of depfence-hook as runc calls it: the state JSON on stdin,
# the stage as the argument, a real bundle directory, and on the other end of
# STATEDIR/depfenced.sock either nothing or tests/hook/fake_daemon.py, which
# records every request line. Each case asserts the exit code, stderr, and
# exactly what the daemon received. The container is this shell itself ($$),
# moved into a throwaway cgroup under the v2 mount; everything is undone on
# every path.
#
#   tests/hook/contract.sh              uses build/depfence-hook
#   DEPFENCE_BIN=build/san tests/hook/contract.sh
#
# Needs root (cgroup.procs) and a cgroup v2 mount. Ends with
# "hook-contract: N passed, N failed"; non-zero exit on any failure.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DEPFENCE_BIN:-$top/build}
hook=$bin/depfence-hook
fake=$top/tests/hook/fake_daemon.py
case $hook in /*) ;; *) hook=$top/$hook ;; esac

tmp='' cg='' cgorig='' daemon_pid='' host_pid=''
cleanup() {
	set +e
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	[ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		# Back where we came from, with anything else that strayed in, then remove.
		echo $$ >"$cgroot$cgorig/cgroup.procs"
		while read -r p; do
			echo "$p" >"$cgroot$cgorig/cgroup.procs"
		done <"$cg/cgroup.procs"
		rmdir "$cg" || echo "hook-contract: could not remove $cg" >&2
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "hook-contract: $*" >&2
	echo "hook-contract: 0 passed, 1 failed"
	exit 1
}

[ -x "$hook" ] || die "no hook binary at $hook (make, or set DEPFENCE_BIN)"
command -v python3 >/dev/null || die "python3 is needed for the fake daemon"
[ "$(id -u)" = 0 ] || die "must run as root: it moves itself into a cgroup"

# The v2 hierarchy: /sys/fs/cgroup on pure v2 hosts, /sys/fs/cgroup/unified on hybrid ones.
cgroot=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") break; if ($(i + 1) == "cgroup2") { print $5; exit } }' \
	/proc/self/mountinfo)
[ -n "$cgroot" ] || die "no cgroup2 mount in /proc/self/mountinfo"
cgorig=$(sed -n 's/^0:://p' /proc/self/cgroup)
[ "$cgorig" = / ] && cgorig=
tmp=$(mktemp -d /tmp/hook-contract.XXXXXX) || die "mktemp failed"
state=$tmp/state
mkdir -p "$state"
cg=$cgroot$cgorig/depfence-hook-test.$$
mkdir "$cg" || { cg=; die "cannot create a cgroup under $cgroot$cgorig"; }
echo $$ >"$cg/cgroup.procs" || die "cannot move $$ into $cg"
# What the hook must report for this shell.
want_cgroup=$cg
want_netns=/proc/$$/ns/net

# ---- bundles: the way runc lays them out ----

# A runc-generated spec when runc is here, else a minimal one; ANNOTATIONS (a JSON
# object or empty) added.
make_bundle() {
	local dir=$1 annotations=$2
	mkdir -p "$dir/rootfs"
	if command -v runc >/dev/null; then
		runc spec --bundle "$dir" || return 1
	else
		printf '{"ociVersion":"1.0.2-dev","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}\n' \
			>"$dir/config.json"
	fi
	[ -z "$annotations" ] && return 0
	python3 - "$dir/config.json" "$annotations" <<-'EOF'
		import json, sys
		path, ann = sys.argv[1], json.loads(sys.argv[2])
		with open(path) as f:
		    spec = json.load(f)
		spec["annotations"] = ann
		with open(path, "w") as f:
		    json.dump(spec, f, indent="\t")
	EOF
}
make_bundle "$tmp/bundle-plain" "" || die "cannot make a bundle"
make_bundle "$tmp/bundle-policy" '{"org.example.x":"1","io.depfence.policy":"from-bundle"}' ||
	die "cannot make a bundle"
make_bundle "$tmp/bundle-other" '{"org.example.x":"1"}' || die "cannot make a bundle"
mkdir -p "$tmp/bundle-empty"

# The state runc 1.1 writes: ID STATUS PID BUNDLE [ANNOTATIONS]; PID "" leaves it out
# (runc's omitempty at poststop), ANNOTATIONS "" too.
oci_state() {
	local s
	s=$(printf '{"ociVersion":"1.0.2-dev","id":"%s","status":"%s"' "$1" "$2")
	[ -n "$3" ] && s+=$(printf ',"pid":%s' "$3")
	s+=$(printf ',"bundle":"%s"' "$4")
	[ -n "${5:-}" ] && s+=$(printf ',"annotations":%s' "$5")
	printf '%s}' "$s"
}
POLICY='{"io.depfence.policy":"deploy"}'

# ---- the fake daemon ----

log=$tmp/requests
start_daemon() {
	stop_daemon
	: >"$log"
	rm -f "$tmp/ready"
	python3 "$fake" --socket "$state/depfenced.sock" --log "$log" --ready "$tmp/ready" "$@" &
	daemon_pid=$!
	for _ in $(seq 100); do
		[ -e "$tmp/ready" ] && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "    fake daemon did not start" >&2
	return 1
}
# Stop it; its socket file stays behind, as after a crash.
stop_daemon() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
		daemon_pid=
	fi
}
no_daemon() {
	stop_daemon
	rm -f "$state/depfenced.sock"
	: >"$log"
}

# ---- running the hook and asserting ----

rc='' err='' case_failed=''
# run_hook STAGE STATE-TEXT [hook options...]: stdin as runc gives it, stdout ignored.
run_hook() {
	local stage=$1 text=$2
	shift 2
	printf '%s' "$text" >"$tmp/stdin"
	timeout 20 "$hook" --state-dir "$state" "$@" "$stage" <"$tmp/stdin" >"$tmp/stdout" \
		2>"$tmp/stderr"
	rc=$?
	err=$(cat "$tmp/stderr")
}
bad() {
	echo "    $*"
	case_failed=1
}
expect_rc() {
	[ "$rc" = "$1" ] || bad "exit code $rc, want $1"
}
expect_rc_fail() {
	if [ "$rc" = 0 ] || [ "$rc" = 2 ]; then
		bad "exit code $rc, want a failure (not 0, not usage's 2)"
	fi
	[ "$rc" -lt 128 ] || bad "exit code $rc: killed by a signal"
}
expect_no_stderr() {
	[ -z "$err" ] || bad "stderr not empty: $err"
}
expect_stderr() {
	[ "$err" = "$1" ] && return
	bad "stderr: '$err'"
	bad "  want: '$1'"
}
# One line, containing every argument.
expect_stderr_line() {
	local n
	n=$(wc -l <"$tmp/stderr")
	[ "$n" = 1 ] || bad "stderr has $n lines, want 1: $err"
	for s in "$@"; do
		[[ "$err" == *"$s"* ]] || bad "stderr lacks '$s': $err"
	done
}
# Exactly these requests, in order: a JSON array of objects, compared as JSON values.
expect_requests() {
	local out
	out=$(python3 - "$log" "$1" <<-'EOF'
		import json, sys
		lines = open(sys.argv[1], "rb").read().decode(errors="replace").splitlines()
		want = json.loads(sys.argv[2])
		try:
		    got = [json.loads(l) for l in lines]
		except ValueError as e:
		    print("a request is not JSON (%s): %r" % (e, lines))
		    sys.exit(1)
		if got != want:
		    print("daemon got  %s" % json.dumps(got, sort_keys=True))
		    print("        want %s" % json.dumps(want, sort_keys=True))
		    sys.exit(1)
	EOF
	) || bad "$out"
}
expect_no_request() {
	[ ! -s "$log" ] || bad "daemon got a request: $(cat "$log")"
}
register_req() { # ID POLICY
	printf '{"op":"register","kind":"container","id":"%s","policy":"%s","cgroup":"%s","netns":"%s","pid":%d}' \
		"$1" "$2" "$want_cgroup" "$want_netns" $$
}

pass=0 fail=0
t() {
	local name=$1
	case_failed=''
	"$2"
	if [ -z "$case_failed" ]; then
		pass=$((pass + 1))
		echo "ok    $name"
	else
		fail=$((fail + 1))
		echo "FAIL  $name"
	fi
}

# ---- the cases ----

case_unannotated() {
	start_daemon || return
	run_hook prestart "$(oci_state plain creating $$ "$tmp/bundle-plain")"
	expect_rc 0
	expect_no_stderr
	expect_no_request
}
case_other_annotations() {
	start_daemon || return
	run_hook prestart "$(oci_state other creating $$ "$tmp/bundle-policy" '{"org.example.x":"1"}')"
	# Annotations in the state are the whole set: config.json is not consulted.
	expect_rc 0
	expect_no_stderr
	expect_no_request
}
case_bundle_other_annotations() {
	start_daemon || return
	run_hook createRuntime "$(oci_state other creating $$ "$tmp/bundle-other")"
	expect_rc 0
	expect_no_stderr
	expect_no_request
}
case_no_daemon() {
	no_daemon
	run_hook prestart "$(oci_state guarded-1 creating $$ "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr "depfence-hook: guarded-1: no depfenced answering on $state/depfenced.sock (No such file or directory): refusing to start the container unguarded"
	expect_stderr_line guarded-1 "refusing to start"
}
case_stale_socket() {
	start_daemon || return
	stop_daemon
	[ -S "$state/depfenced.sock" ] || bad "the fake daemon left no socket file behind"
	run_hook prestart "$(oci_state guarded-2 creating $$ "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr_line guarded-2 "refusing to start" "Connection refused"
	rm -f "$state/depfenced.sock"
}
case_register_runc() {
	start_daemon || return
	# Byte for byte what runc 1.1 writes, with this shell as the container.
	run_hook prestart "{\"ociVersion\":\"1.0.2-dev\",\"id\":\"t1\",\"status\":\"creating\",\"pid\":$$,\"bundle\":\"$tmp/bundle-plain\",\"annotations\":{\"io.depfence.policy\":\"deploy\"}}"
	expect_rc 0
	expect_no_stderr
	expect_requests "[$(register_req t1 deploy)]"
}
case_register_podman() {
	start_daemon || return
	local id=6e1d4a0c4f8b2a9d3c7e5f1a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c
	run_hook createRuntime "$(oci_state $id created $$ "$tmp/bundle-plain" \
		'{"io.container.manager":"libpod","io.depfence.policy":"web_2.x","io.podman.annotations.autoremove":"FALSE"}')"
	expect_rc 0
	expect_no_stderr
	expect_requests "[$(register_req $id web_2.x)]"
}
case_register_verbose() {
	start_daemon || return
	run_hook prestart "$(oci_state t-verbose creating $$ "$tmp/bundle-plain" "$POLICY")" -v
	expect_rc 0
	expect_stderr "depfence-hook: t-verbose: guarded, policy deploy, cgroup $want_cgroup"
	expect_requests "[$(register_req t-verbose deploy)]"
}
case_daemon_error() {
	start_daemon --reply '{"ok":false,"error":"unknown policy '\''deploy'\'' (no /etc/depfence/policies/deploy.policy)"}' ||
		return
	run_hook prestart "$(oci_state t-err creating $$ "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr "depfence-hook: t-err: unknown policy 'deploy' (no /etc/depfence/policies/deploy.policy)"
	expect_requests "[$(register_req t-err deploy)]"
}
case_daemon_hangs_up() {
	start_daemon --close || return
	run_hook prestart "$(oci_state t-hup creating $$ "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr_line t-hup "depfenced closed the connection" "refusing to start"
	expect_requests "[$(register_req t-hup deploy)]"
}
case_daemon_garbage() {
	start_daemon --reply 'this is not json' || return
	run_hook prestart "$(oci_state t-garbage creating $$ "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr_line t-garbage "malformed reply from depfenced" "refusing to start"
}
case_no_such_pid() {
	start_daemon || return
	# pid_max itself is never a pid.
	local pid
	pid=$(cat /proc/sys/kernel/pid_max)
	run_hook prestart "$(oci_state t-gone creating "$pid" "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr "depfence-hook: t-gone: pid $pid from the OCI state does not exist"
	expect_no_request
}
case_no_pid() {
	start_daemon || return
	run_hook prestart "$(oci_state t-nopid creating "" "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr_line t-nopid '"pid"'
	expect_no_request
}
case_root_cgroup() {
	start_daemon || return
	# A process of the host's root cgroup: guarding it would guard the host.
	sleep 60 &
	host_pid=$!
	echo "$host_pid" >"$cgroot/cgroup.procs"
	run_hook prestart "$(oci_state t-host creating "$host_pid" "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr "depfence-hook: t-host: pid $host_pid is in the root cgroup: refusing to guard the host"
	expect_no_request
	kill "$host_pid"
	wait "$host_pid" 2>/dev/null
	host_pid=
}
case_malformed() {
	start_daemon || return
	run_hook prestart $'{"ociVersion":"1.0.2-dev",\n"id":"t-bad" "status":"creating"}'
	expect_rc_fail
	expect_stderr "depfence-hook: OCI state on stdin: line 2, column 14: object value separator ',' expected"
	expect_no_request
}
case_truncated() {
	start_daemon || return
	run_hook prestart '{"ociVersion":"1.0.2-dev","id":"t-cut","status":"crea'
	expect_rc_fail
	expect_stderr "depfence-hook: OCI state on stdin: line 1, column 54: unexpected end of data"
	expect_no_request
}
case_empty_stdin() {
	start_daemon || return
	run_hook prestart ''
	expect_rc_fail
	expect_stderr "depfence-hook: OCI state on stdin: line 1, column 1: unexpected end of data"
	expect_no_request
}
case_two_states() {
	start_daemon || return
	local one
	one=$(oci_state t-a creating $$ "$tmp/bundle-plain" "$POLICY")
	run_hook prestart "$one$one"
	expect_rc_fail
	expect_stderr_line "OCI state on stdin: line 1, column $((${#one} + 1)): unexpected character"
	expect_no_request
}
case_bad_id() {
	start_daemon || return
	run_hook prestart "$(oci_state ../etc creating $$ "$tmp/bundle-plain" "$POLICY")"
	expect_rc_fail
	expect_stderr 'depfence-hook: OCI state on stdin: field "id" is not a valid container id'
	expect_no_request
}
case_bundle_policy() {
	start_daemon || return
	run_hook prestart "$(oci_state t-bundle creating $$ "$tmp/bundle-policy")"
	expect_rc 0
	expect_no_stderr
	expect_requests "[$(register_req t-bundle from-bundle)]"
}
case_bundle_missing_config() {
	start_daemon || return
	run_hook prestart "$(oci_state t-nocfg creating $$ "$tmp/bundle-empty")"
	expect_rc_fail
	expect_stderr "depfence-hook: t-nocfg: $tmp/bundle-empty/config.json: No such file or directory"
	expect_no_request
}
case_bundle_malformed_config() {
	start_daemon || return
	mkdir -p "$tmp/bundle-broken"
	printf '{\n\t"ociVersion": "1.0.2-dev",\n\t"annotations": {"io.depfence.policy": "x",}\n}\n' \
		>"$tmp/bundle-broken/config.json"
	run_hook prestart "$(oci_state t-brk creating $$ "$tmp/bundle-broken")"
	expect_rc_fail
	expect_stderr "depfence-hook: t-brk: $tmp/bundle-broken/config.json: line 3, column 44: unexpected character"
	expect_no_request
}
case_poststop() {
	start_daemon || return
	run_hook poststop "$(oci_state t1 stopped "" "$tmp/bundle-plain" "$POLICY")"
	expect_rc 0
	expect_no_stderr
	expect_requests '[{"op":"unregister","id":"t1"}]'
}
case_poststop_pid0() {
	start_daemon || return
	run_hook poststop "$(oci_state t2 stopped 0 "$tmp/bundle-plain" "$POLICY")"
	expect_rc 0
	expect_no_stderr
	expect_requests '[{"op":"unregister","id":"t2"}]'
}
case_poststop_unknown() {
	start_daemon --reply '{"ok":true,"unknown":true}' || return
	run_hook poststop "$(oci_state never-registered stopped "" "$tmp/bundle-plain" "$POLICY")"
	expect_rc 0
	expect_no_stderr
	expect_requests '[{"op":"unregister","id":"never-registered"}]'
}
case_poststop_bundle_policy() {
	start_daemon || return
	run_hook poststop "$(oci_state t-bundle stopped "" "$tmp/bundle-policy")"
	expect_rc 0
	expect_requests '[{"op":"unregister","id":"t-bundle"}]'
}
case_poststop_unannotated() {
	start_daemon || return
	run_hook poststop "$(oci_state plain stopped "" "$tmp/bundle-plain")"
	expect_rc 0
	expect_no_stderr
	expect_no_request
}
# poststop is idempotent: the bundle is gone (runc deleted it); the container
# was registered (the daemon saved guards/c-CGROUPID-<id>.json): unregister, exit 0.
case_poststop_bundle_gone() {
	start_daemon || return
	mkdir -p "$state/guards"
	printf '{}' >"$state/guards/c-4242-t-gone.json"
	run_hook poststop "$(oci_state t-gone stopped "" "$tmp/bundle-deleted")"
	rm -f "$state/guards/c-4242-t-gone.json"
	expect_rc 0
	expect_no_stderr
	expect_requests '[{"op":"unregister","id":"t-gone"}]'
}
# ... the same for a record an earlier build saved (guards/<id>.json).
case_poststop_bundle_gone_legacy() {
	start_daemon || return
	mkdir -p "$state/guards"
	printf '{}' >"$state/guards/t-gone.json"
	run_hook poststop "$(oci_state t-gone stopped "" "$tmp/bundle-deleted")"
	rm -f "$state/guards/t-gone.json"
	expect_rc 0
	expect_no_stderr
	expect_requests '[{"op":"unregister","id":"t-gone"}]'
}
# ... and never registered: nothing to say, exit 0.
case_poststop_bundle_gone_unknown() {
	start_daemon || return
	run_hook poststop "$(oci_state t-gone2 stopped "" "$tmp/bundle-deleted")"
	expect_rc 0
	expect_no_stderr
	expect_no_request
}
case_poststop_no_daemon() {
	no_daemon
	run_hook poststop "$(oci_state t1 stopped "" "$tmp/bundle-plain" "$POLICY")"
	expect_rc 0
	expect_stderr_line t1 poststop "no depfenced answering"
}
case_unknown_stage() {
	start_daemon || return
	run_hook poststart "$(oci_state t1 running $$ "$tmp/bundle-plain" "$POLICY")"
	expect_rc 2
	expect_stderr "depfence-hook: unknown stage 'poststart' (prestart, createRuntime, poststop)"
	expect_no_request
}
case_no_stage() {
	start_daemon || return
	printf '%s' "$(oci_state t1 creating $$ "$tmp/bundle-plain" "$POLICY")" |
		"$hook" --state-dir "$state" >/dev/null 2>"$tmp/stderr"
	rc=$?
	err=$(cat "$tmp/stderr")
	expect_rc 2
	[[ "$err" == Usage:* ]] || bad "no usage on stderr: $err"
	expect_no_request
}
case_invalid_policy() {
	start_daemon || return
	run_hook prestart "$(oci_state t-pol creating $$ "$tmp/bundle-plain" '{"io.depfence.policy":"../x"}')"
	expect_rc_fail
	expect_stderr 'depfence-hook: t-pol: annotation io.depfence.policy: invalid policy name "../x"'
	expect_no_request
}
case_policy_newline() {
	start_daemon || return
	# The annotation is the container owner's: it must not add a line to the runtime's log.
	run_hook prestart "$(oci_state t-nl creating $$ "$tmp/bundle-plain" '{"io.depfence.policy":"a\nERROR forged"}')"
	expect_rc_fail
	expect_stderr 'depfence-hook: t-nl: annotation io.depfence.policy: invalid policy name "a\nERROR forged"'
	expect_stderr_line t-nl
	expect_no_request
}
case_policy_nul() {
	start_daemon || return
	run_hook prestart "$(oci_state t-nul creating $$ "$tmp/bundle-plain" '{"io.depfence.policy":"deploy\u0000../x"}')"
	expect_rc_fail
	expect_stderr 'depfence-hook: OCI state on stdin: field "io.depfence.policy" contains a NUL character'
	expect_no_request
}

t "unannotated state: exit 0, nothing sent" case_unannotated
t "other annotations only: exit 0, nothing sent" case_other_annotations
t "bundle with other annotations: exit 0, nothing sent" case_bundle_other_annotations
t "annotated, no daemon: refuses, one line" case_no_daemon
t "annotated, stale socket: refuses, one line" case_stale_socket
t "runc 1.1 state: register request" case_register_runc
t "podman state at createRuntime: register request" case_register_podman
t "-v: one line saying what was guarded" case_register_verbose
t "daemon error: its message, non-zero" case_daemon_error
t "daemon hangs up: refuses" case_daemon_hangs_up
t "daemon answers garbage: refuses" case_daemon_garbage
t "pid that does not exist: named, nothing sent" case_no_such_pid
t "prestart without pid: error, nothing sent" case_no_pid
t "pid in the root cgroup: refuses, nothing sent" case_root_cgroup
t "malformed JSON: line and column" case_malformed
t "truncated JSON: line and column" case_truncated
t "empty stdin: error" case_empty_stdin
t "two states on stdin: error" case_two_states
t "id '../etc': error, nothing sent" case_bad_id
t "policy from BUNDLE/config.json" case_bundle_policy
t "no annotations, no config.json: error names the file" case_bundle_missing_config
t "malformed config.json: file, line, column" case_bundle_malformed_config
t "poststop: unregister by id" case_poststop
t "poststop with pid 0: unregister by id" case_poststop_pid0
t "poststop of an unknown id: exit 0" case_poststop_unknown
t "poststop, policy from config.json: unregister" case_poststop_bundle_policy
t "poststop unannotated: nothing sent" case_poststop_unannotated
t "poststop, bundle gone, registered: unregister, exit 0" case_poststop_bundle_gone
t "poststop, bundle gone, a record of an earlier build: unregister, exit 0" case_poststop_bundle_gone_legacy
t "poststop, bundle gone, not registered: exit 0, nothing sent" case_poststop_bundle_gone_unknown
t "poststop, no daemon: exit 0" case_poststop_no_daemon
t "unknown stage: exit 2" case_unknown_stage
t "no stage: usage, exit 2" case_no_stage
t "policy '../x': error, nothing sent" case_invalid_policy
t "policy with a newline: quoted, one line" case_policy_newline
t "policy with an escaped NUL: error, nothing sent" case_policy_nul

stop_daemon
echo "hook-contract: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
