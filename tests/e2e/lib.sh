# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the tests
#
# Helpers for the end-to-end tests, sourced by every tests/e2e/t_*.sh (the
# assertions and log parsing are in lib_check.sh).
#
# A test calls e2e_init, starts what it needs (dns_start, daemon_start or
# for_each_mode), runs guarded clients, asserts on what they saw and on the
# block line, and ends with e2e_done. The EXIT trap set by e2e_init runs on
# every path (failure, timeout, ^C): it stops everything the test started,
# fails the test if a run cgroup is left behind, a sanitizer reported or
# depfenced's seccomp filter refused a call, and removes the temp dir (kept
# when E2E_KEEP=1).
#
# Network rules: every client targets loopback, and every client runs in a
# mount namespace where /etc/resolv.conf is $T/resolv.conf (127.0.0.53),
# never the host's.

set -u
set -o pipefail
export LC_ALL=C

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${DEPFENCE_BIN:=$(cd "$E2E_DIR/../.." && pwd)/build}"
DEPFENCE=$DEPFENCE_BIN/depfence
DEPFENCED=$DEPFENCE_BIN/depfenced
# Sanitizer builds: any report aborts the process and leaves its text in a
# *.err / *.log file under $T, which e2e_cleanup scans.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SAN_RE='ERROR: (Address|Leak)Sanitizer|Sanitizer has encountered a fatal error|runtime error:'
# depfenced's seccomp allowlist logs a call it refuses (proxy/daemon_seccomp.c):
# in any test, one is a call the daemon needs and the list lacks.
SECCOMP_RE='^WARN seccomp refused syscall='
PY=/usr/bin/python3

E2E_FAILS=0
E2E_PIDS=()      # background processes this test started
E2E_INSTANCES=() # depfence-<hash> names whose cgroups and pins are ours
MODE=
DAEMON_PID=
DNS_PID=

# shellcheck source=lib_check.sh
. "$E2E_DIR/lib_check.sh"

# -------------------------------------------------------------- setup, trap

e2e_init()
{
	if [ ! -x "$DEPFENCE" ] || [ ! -x "$DEPFENCED" ]; then
		echo "FAIL no binaries in DEPFENCE_BIN=$DEPFENCE_BIN (make first)"
		exit 1
	fi
	# The v2 mount: the mount point ($5) of the line whose fstype, after the
	# optional fields and their "-" separator, is cgroup2.
	CG_ROOT=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)
	[ -n "$CG_ROOT" ] || die "cgroup v2 mount not found in /proc/self/mountinfo"
	T=$(mktemp -d /tmp/depfence-e2e.XXXXXX) || exit 1
	T=$(realpath "$T")
	trap e2e_cleanup EXIT
	trap 'exit 143' TERM INT HUP
	CONF=$T/conf
	mkdir -p "$CONF/policies" "$T/estate" "$T/dstate"
	printf 'nameserver 127.0.0.53\n' >"$T/resolv.conf"
	ulimit -c 0
	echo "# $(basename "$0") bin=$DEPFENCE_BIN tmp=$T"
}

# instance_of STATE_DIR: depfence-<FNV-1a of the real path>, as the binaries name
# the cgroup (and bpffs) directory of the instance that STATE_DIR belongs to.
instance_of()
{
	local s h=2166136261 i c
	s=$(realpath "$1")
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$((((h ^ c) * 16777619) & 0xffffffff))
	done
	printf 'depfence-%08x' "$h"
}

# run_cgroups STATE_DIR: the run cgroups (daemon and embedded) that exist now.
run_cgroups()
{
	local base
	base=$CG_ROOT/$(instance_of "$1")
	find "$base/runs" "$base/embedded" -mindepth 1 -maxdepth 1 -type d 2>/dev/null
}

# assert_no_run_cgroups DESC: no run cgroup of this test's state dirs remains.
assert_no_run_cgroups()
{
	local left
	left=$(run_cgroups "$T/estate"; run_cgroups "$T/dstate")
	if [ -z "$left" ]; then pass "$1"; else fail "$1" "left behind:" "$left"; fi
}

# v1_dir CONTROLLER: where this shell's cgroup is in the v1 hierarchy of
# CONTROLLER ("" if none is mounted): depfence run makes its job's own v1
# cgroups there, named depfence-run-PID (docs/design.md, resource limits).
# v1_mount CONTROLLER: the mount point of CONTROLLER's v1 hierarchy ("" if none).
v1_mount() { awk -v c="$1" '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" && ("," $(i + 3) ",") ~ ("," c ",")) { print $5; exit } break } }' /proc/self/mountinfo; }

v1_dir()
{
	local mnt rel
	mnt=$(v1_mount "$1")
	[ -n "$mnt" ] || return 0
	rel=$(awk -F: -v c="$1" '("," $2 ",") ~ ("," c ",") { print $3; exit }' /proc/self/cgroup)
	printf '%s%s' "$mnt" "${rel%/}"
}

# limit_cgroups: v1 cgroups of runs (of any depfence run started by this
# shell's children) whose process is gone.
limit_cgroups()
{
	local c d pid
	for c in memory cpu pids; do
		d=$(v1_dir "$c")
		[ -n "$d" ] || continue
		for d in "$d"/depfence-run-*; do
			[ -d "$d" ] || continue
			pid=${d##*-}
			kill -0 "$pid" 2>/dev/null || echo "$d"
		done
	done
}

_stop_pid()
{
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

_remove_cgroup()
{
	echo 1 >"$1/cgroup.kill" 2>/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		rmdir "$1" 2>/dev/null && return 0
		[ -d "$1" ] || return 0
		sleep 0.1
	done
	echo "could not remove $1" >&2
}

e2e_cleanup()
{
	local rc=$? pid inst dir left hits
	trap - EXIT TERM INT HUP
	MODE=cleanup
	for pid in "${E2E_PIDS[@]}"; do
		_stop_pid "$pid"
	done
	# A leftover run cgroup is a failure, whatever stopped the test.
	left=$(run_cgroups "$T/estate"; run_cgroups "$T/dstate")
	if [ -n "$left" ]; then
		fail "no run cgroup left behind" "$left"
		for dir in $left; do _remove_cgroup "$dir"; done
	fi
	[ -n "$DAEMON_PID" ] && daemon_stop
	[ -n "$DNS_PID" ] && _stop_pid "$DNS_PID"
	# The v1 cgroups of runs' limits (hybrid hosts) go with their run.
	left=$(limit_cgroups)
	if [ -n "$left" ]; then
		fail "no v1 cgroup of a run's limits left behind" "$left"
		for dir in $left; do _remove_cgroup "$dir"; done
	fi
	for inst in "${E2E_INSTANCES[@]}"; do
		for dir in "$CG_ROOT/$inst"/*/ "$CG_ROOT/$inst"; do
			[ -d "$dir" ] && _remove_cgroup "${dir%/}"
		done
		rm -rf "/sys/fs/bpf/${inst:?}"
	done
	hits=$(grep -lE "$SAN_RE" "$T"/*.err "$T"/*.log 2>/dev/null)
	if [ -n "$hits" ]; then
		local f
		for f in $hits; do
			fail "sanitizer report in $f" "$(grep -E -A 3 "$SAN_RE" "$f" | head -n 4)"
		done
	fi
	# Every daemon's stderr lands in a file at the top of $T (daemon.log, bad.err, ...).
	hits=$(grep -lsE -d skip -D skip "$SECCOMP_RE" "$T"/*)
	if [ -n "$hits" ]; then
		local f
		for f in $hits; do
			fail "no system call refused by depfenced's seccomp filter in $f" \
				"$(grep -E "$SECCOMP_RE" "$f" | sort -u | head -n 8)"
		done
	fi
	wait 2>/dev/null
	if [ "$E2E_FAILS" -gt 0 ] || [ "$rc" -ne 0 ]; then
		echo "# $E2E_FAILS failed check(s), exit $rc; files kept in $T"
		exit 1
	fi
	[ "${E2E_KEEP:-0}" = 1 ] || rm -rf "$T"
	exit 0
}

e2e_done() { exit 0; }

# ---------------------------------------------------------------- upstream

# dns_start [DNSMASQ-OPTION]...: dnsmasq on 127.0.0.1 at a free random port
# (DNS_PORT) with the suite's names plus the caller's options; its query log is
# DNS_LOG and UPSTREAM is what the proxies forward to. Tries other ports when
# one is taken, so concurrent suites do not clash.
# shellcheck disable=SC2120 # the options are optional
dns_start()
{
	local try i port
	DNS_LOG=$T/dnsmasq.log
	for ((try = 0; try < 10; try++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
		dnsmasq --no-daemon --no-resolv --no-hosts --port="$port" \
			--listen-address=127.0.0.1 --bind-interfaces \
			--address=/allowed.test/127.0.0.3 --address=/allowed.test/::3 \
			--address=/github.com/127.0.0.9 --address=/evilgithub.com/127.0.0.10 \
			"$@" --log-queries --log-facility="$DNS_LOG" 2>>"$T/dnsmasq.stderr" &
		DNS_PID=$!
		for ((i = 0; i < 30; i++)); do
			kill -0 "$DNS_PID" 2>/dev/null || break # port taken: next one
			if dig +tries=1 +time=1 -p "$port" @127.0.0.1 probe.invalid >/dev/null 2>&1; then
				DNS_PORT=$port
				UPSTREAM=127.0.0.1:$port
				return 0
			fi
			sleep 0.1
		done
		_stop_pid "$DNS_PID"
		wait "$DNS_PID" 2>/dev/null
		DNS_PID=
	done
	die "dnsmasq did not start" "$(_show "$T/dnsmasq.stderr")"
}

# dns_saw TYPE NAME: did the query reach dnsmasq? (waits up to 2 s for its log)
# Names reach the upstream in a random case (DNS 0x20): compared without case.
dns_saw()
{
	local i
	for ((i = 0; i < 40; i++)); do
		grep -qiF "query[$1] $2 from" "$DNS_LOG" && return 0
		sleep 0.05
	done
	return 1
}

assert_dns_saw()
{
	if dns_saw "$1" "$2"; then
		pass "dnsmasq received the $1 query for $2"
	else
		fail "dnsmasq received the $1 query for $2" "no 'query[$1] $2' in $DNS_LOG:" \
			"$(grep -F 'query[' "$DNS_LOG" | tail -n 10)"
	fi
}

# uniq_name SUFFIX: sets UNAME to a name no other query of this test used, so
# that dnsmasq's log proves this very query arrived.
E2E_SEQ=0
uniq_name()
{
	E2E_SEQ=$((E2E_SEQ + 1))
	UNAME=q$E2E_SEQ-$$.$1
}

# ------------------------------------------------------------------ daemon

# daemon_start: depfenced on $T/dstate and $CONF, waits for its socket.
# DAEMON_ARGS (an array) adds options (--log-format json, ...).
DAEMON_ARGS=()
daemon_start()
{
	local i sock=$T/dstate/depfenced.sock
	E2E_INSTANCES+=("$(instance_of "$T/dstate")")
	"$DEPFENCED" --state-dir "$T/dstate" --config-dir "$CONF" --upstream "$UPSTREAM" \
		"${DAEMON_ARGS[@]}" 2>>"$T/daemon.log" &
	DAEMON_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	die "depfenced came up (socket $sock)" "daemon.log:" "$(_show "$T/daemon.log")"
}

# daemon_stop: SIGTERM must stop it, with status 0.
daemon_stop()
{
	local i st
	kill -TERM "$DAEMON_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID"
		fail "depfenced stops on SIGTERM within 5 s"
	fi
	wait "$DAEMON_PID"
	st=$?
	[ "$st" -eq 0 ] || fail "depfenced exits 0 on SIGTERM" "exit status $st" "$(tail -n 20 "$T/daemon.log")"
	DAEMON_PID=
}

# wait_ready: until the daemon logged its ready line (the worker threads start
# after the socket appears), 5 s at most.
wait_ready()
{
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q '^INFO depfenced ready ' "$T/daemon.log" && return
		sleep 0.05
	done
}

# daemon_run_id N: the id of the Nth run the daemon logged as started.
daemon_run_id() { grep -o 'run started id=[^ ]*' "$T/daemon.log" | sed -n "$1p" | cut -d= -f2; }

# wait_runs N: until the daemon logged N runs started (10 s at most).
wait_runs()
{
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c 'run started id=' "$T/daemon.log")" -ge "$1" ] && return
		sleep 0.1
	done
}

# status_json FILE: `depfence status --json` of the daemon into FILE.
status_json() { "$DEPFENCE" status --state-dir "$T/dstate" --json >"$1" 2>"$1.err"; }

# fairdns_upstream honest|spoof: fairdns.py's fake upstream for 120 s (its
# questions in $T/up.log); UPSTREAM names it.
fairdns_upstream()
{
	"$PY" "$E2E_DIR/fairdns.py" upstream "$1" 120 "$T/up.port" "$T/up.log" 2>>"$T/up.err" &
	E2E_PIDS+=("$!")
	wait_file "$T/up.port" 5 || die "fake upstream started" "$(_show "$T/up.err")"
	UPSTREAM=127.0.0.1:$(cat "$T/up.port")
}

# assert_bad_number FLAG MAX: depfenced FLAG with values out of 1..MAX (and not
# numbers) exits 2, its error naming the flag.
assert_bad_number()
{
	local bad
	for bad in 0 $(($2 + 1)) two ''; do
		"$DEPFENCED" --state-dir "$T/bad" "$1" "$bad" >"$T/bad.out" 2>"$T/bad.err"
		assert_eq "$1 '$bad': exit 2" 2 "$?"
		assert_file_has "$1 '$bad': the error names the flag" \
			"^depfenced: $1 '$bad': expected a number from 1 to $2\$" "$T/bad.err"
	done
}

# ------------------------------------------------------------------- modes

# use_mode embedded|daemon: where `depfence run` is served from. Embedded runs
# use their own state dir ($T/estate), where no daemon listens; daemon runs use
# $T/dstate and start the daemon the first time.
use_mode()
{
	MODE=$1
	case $MODE in
	embedded)
		STATE=$T/estate
		E2E_INSTANCES+=("$(instance_of "$STATE")")
		;;
	daemon)
		STATE=$T/dstate
		[ -n "$DAEMON_PID" ] || daemon_start
		;;
	*) die "unknown mode $MODE" ;;
	esac
}

# for_each_mode FUNC: FUNC once embedded, once with the daemon.
for_each_mode()
{
	use_mode embedded
	"$1"
	use_mode daemon
	"$1"
	MODE=
}

# rf NAME EXT: a file of run NAME in this mode, $T/MODE-NAME.EXT (out, err,
# pid, cmd, ms), so that the files of both modes are there after a failure.
rf() { printf '%s/%s%s.%s' "$T" "${MODE:+$MODE-}" "$1" "$2"; }

# block_log NAME: the file that holds the block lines of run NAME: its own
# stderr when embedded, the daemon's log otherwise.
# BLOCK_LOG_FILE, when set, overrides both.
block_log()
{
	if [ -n "${BLOCK_LOG_FILE:-}" ]; then
		echo "$BLOCK_LOG_FILE"
	elif [ "$MODE" = daemon ]; then echo "$T/daemon.log"; else rf "$1" err; fi
}

# rec_file K ID CGROUP: the daemon's saved record of registration ID of kind K
# (c container, r run) on CGROUP (docs/design.md: STATE/guards/K-CGROUPID-ID.json).
rec_file() { printf '%s/dstate/guards/%s-%s-%s.json' "$T" "$1" "$(stat -c %i "$3" 2>/dev/null)" "$2"; }
# rec_any K ID: the saved records of ID of kind K, whatever their cgroup.
rec_any() { compgen -G "$T/dstate/guards/$1-*-$2.json"; }
# pin_dir CGROUP: where the daemon pins the links of the container on CGROUP.
pin_dir() { printf '%s/c-%s' "$PINS" "$(stat -c %i "$1" 2>/dev/null)"; }

# ---------------------------------------------------------------- running

# split_opts [RUN-OPTION...] -- CMD [ARG...]: OPTS gets the options before
# "--", ARGS what follows it (callers copy them before calling again).
split_opts()
{
	OPTS=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		OPTS+=("$1")
		shift
	done
	shift
	ARGS=("$@")
}

# dfrun NAME [RUN-OPTION...] -- CMD [ARG...]: `depfence run` for this mode, CMD
# as given. Output in $T/NAME.out and $T/NAME.err, exit status in RC.
# --upstream always: with no daemon the embedded proxy must never fall back to
# the host's resolv.conf.
dfrun()
{
	local name=$1 opts
	shift
	split_opts "$@"
	opts=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	_daemon_check
	"$DEPFENCE" run --state-dir "$STATE" --config-dir "$CONF" --upstream "$UPSTREAM" \
		"${opts[@]}" -- "$@" >"$(rf "$name" out)" 2>"$(rf "$name" err)"
	RC=$?
}

# A daemon that died would turn every later daemon-mode run into an embedded
# one without a word: say so, and start a new one for the rest of the test.
_daemon_check()
{
	[ "$MODE" = daemon ] || return 0
	kill -0 "$DAEMON_PID" 2>/dev/null && return 0
	fail "depfenced is still running" "daemon.log ends with:" "$(tail -n 8 "$T/daemon.log")"
	wait "$DAEMON_PID" 2>/dev/null
	rm -f "$T/dstate/depfenced.sock"
	echo "# restarting depfenced for the rest of the test"
	daemon_start
}

# guarded NAME [RUN-OPTION...] -- CMD [ARG...]: CMD as a test client (see
# client.sh): loopback resolv.conf, pid in CPID, command line in $T/NAME.cmd.
guarded()
{
	local name=$1 opts
	shift
	split_opts "$@"
	opts=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	_client_prep "$name" "$@"
	dfrun "$name" "${opts[@]}" -- unshare -m "$E2E_DIR/client.sh" "$T/resolv.conf" \
		"$(rf "$name" pid)" "$@"
	CPID=$(cat "$(rf "$name" pid)" 2>/dev/null)
}

# unguarded NAME CMD [ARG...]: CMD as a test client, outside any guard.
unguarded()
{
	local name=$1
	shift
	_client_prep "$name" "$@"
	unshare -m "$E2E_DIR/client.sh" "$T/resolv.conf" "$(rf "$name" pid)" "$@" \
		>"$(rf "$name" out)" 2>"$(rf "$name" err)"
	RC=$?
	CPID=$(cat "$(rf "$name" pid)" 2>/dev/null)
}

# guarded_timed NAME [RUN-OPTION...] -- CMD...: as guarded, and MS is CMD's own
# wall time in milliseconds (measured inside the run, around CMD only).
guarded_timed()
{
	local name=$1 args
	shift
	split_opts "$@"
	args=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	guarded "$name" "${args[@]}" -- --time "$(rf "$name" ms)" "$@"
	printf '%s' "${*}" >"$(rf "$name" cmd)"
	MS=$(cat "$(rf "$name" ms)" 2>/dev/null)
}

_client_prep()
{
	local name=$1
	shift
	rm -f "$(rf "$name" pid)" "$(rf "$name" ms)"
	local IFS=' '
	printf '%s' "$*" >"$(rf "$name" cmd)"
}

# guarded_bg NAME [RUN-OPTION...] -- CMD...: as guarded, in the background;
# BG_PID is depfence run's pid (stopped by the trap if the test does not).
guarded_bg()
{
	local name=$1 opts
	shift
	split_opts "$@"
	opts=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	_client_prep "$name" "$@"
	_daemon_check
	"$DEPFENCE" run --state-dir "$STATE" --config-dir "$CONF" --upstream "$UPSTREAM" \
		"${opts[@]}" -- unshare -m "$E2E_DIR/client.sh" "$T/resolv.conf" "$(rf "$name" pid)" \
		"$@" >"$(rf "$name" out)" 2>"$(rf "$name" err)" &
	BG_PID=$!
	E2E_PIDS+=("$BG_PID")
}

# bg_wait PID SECONDS: wait for a background run to end; RC is its status, 999
# if it was still running after SECONDS (then it is killed).
bg_wait()
{
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		_stop_pid "$1"
		wait "$1" 2>/dev/null
		RC=999
		return 1
	fi
	wait "$1"
	RC=$?
}

# wait_file FILE SECONDS: until FILE exists and is not empty.
# wait_exists FILE SECONDS: until FILE exists (hand-shake files are empty).
_wait_test()
{
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		test "$1" "$2" && return 0
		sleep 0.05
	done
	return 1
}
wait_file() { _wait_test -s "$@"; }
wait_exists() { _wait_test -e "$@"; }
