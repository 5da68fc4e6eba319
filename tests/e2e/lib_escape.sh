# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are read by the tests
#
# Helpers for t_escape_local.sh, sourced after lib.sh. The client is esc.py
# (see its header for the steps and what each prints).
#
#   esc_init                                      e2e_init for these tests
#   esc_client NAME [RUN-OPTION...] -- STEP...   esc.py guarded (foreground)
#   esc_unguarded NAME STEP...                    esc.py outside any guard
#   expect_esc NAME WHAT ERE DESC                 what step WHAT of NAME ended as
#   esc_find_line / expect_line                   a block line with given fields
#   nscd_start                                    nscd in a private mount namespace
#   in_nscd_ns CMD...                             CMD in that namespace (nsenter)
#   nscd_lookups                                  its hosts cache hits + misses
#
# nscd runs only inside a mount namespace of its own (unshare -m): tmpfs on
# /var/run/nscd and /var/cache/nscd, and /etc/resolv.conf and
# /etc/nsswitch.conf bound over with files of $T, so it never sees or serves
# the host's resolver. Its resolver is a dnsmasq of this test on a random
# 127.54.x.y, port 53 (glibc takes no port in resolv.conf), which answers
# github.com with 127.0.0.77 and allowed.test with 127.0.0.78: addresses that
# depfence's upstream ($UPSTREAM: github.com 127.0.0.9, allowed.test
# 127.0.0.3 and ::3) never gives, so an answer says which path it took.

ESC=$E2E_DIR/esc.py

# esc_init: e2e_init, and esc.py's hand-shake files in $T.
esc_init()
{
	e2e_init
	export ESC_DIR=$T
}

# esc_client NAME [RUN-OPTION...] -- STEP...: esc.py as a guarded test client.
esc_client()
{
	local name=$1 opts
	shift
	split_opts "$@"
	opts=("${OPTS[@]}")
	set -- "${ARGS[@]}"
	guarded "$name" "${opts[@]}" -- "$PY" "$ESC" "$@"
}

esc_unguarded()
{
	local name=$1
	shift
	unguarded "$name" "$PY" "$ESC" "$@"
}

# esc_step NAME WHAT: what follows WHAT on the last line of NAME's output that
# starts with it (e.g. WHAT "unix /var/run/nscd/socket" -> "EPERM").
esc_step()
{
	local line
	line=$(awk -v p="$2 " 'index($0, p) == 1' "$(rf "$1" out)" 2>/dev/null | tail -n 1)
	printf '%s' "${line#"$2 "}"
}

# expect_esc NAME WHAT ERE DESC: step WHAT of client NAME ended as ERE says.
expect_esc()
{
	local got
	got=$(esc_step "$1" "$2")
	if [[ $got =~ $3 ]]; then
		pass "$1: $4 ($2: $got)"
	else
		fail "$1: $4" "step: $2" "expected to match: $3" "seen: ${got:-(no such step)}" \
			"output:" "$(_show "$(rf "$1" out)" 20)" "stderr:" "$(_show "$(rf "$1" err)")"
	fi
}

# esc_wait_file FILE SECONDS: until FILE exists (esc.py's hand-shake files are
# empty, which lib.sh's wait_file does not count).
esc_wait_file() { wait_exists "$@"; }

# esc_find_line KIND FILE TRIES KEY=VALUE...: the first "WARN KIND BLOCKED"
# line of FILE whose fields are all as given (a VALUE ~ERE is matched instead of
# compared), in BLOCK_LINE (its fields in LF). Looks TRIES times, 50 ms apart
# (the daemon writes its log from its own loop).
esc_find_line()
{
	local kind=$1 file=$2 tries=$3 i line kv k v ok
	shift 3
	BLOCK_LINE=
	for ((i = 0; i < tries; i++)); do
		while IFS= read -r line; do
			parse_fields "$line"
			ok=1
			for kv in "$@"; do
				k=${kv%%=*} v=${kv#*=}
				if [ "${v:0:1}" = "~" ]; then
					[[ ${LF[$k]-} =~ ${v:1} ]] || ok=0
				elif [ "${LF[$k]-<absent>}" != "$v" ]; then
					ok=0
				fi
				[ $ok = 1 ] || break
			done
			if [ $ok = 1 ]; then
				BLOCK_LINE=$line
				return 0
			fi
		done < <(grep -a "^WARN $kind BLOCKED " "$file" 2>/dev/null)
		[ $((i + 1)) -lt "$tries" ] && sleep 0.05
	done
	return 1
}

# expect_line DESC KIND NAME REFUSED pid=PID KEY=VALUE...: run NAME logged a
# KIND BLOCKED line with these fields (the first one must be pid=). REFUSED is
# 1 when the client saw its refusal (then the line gets 3 s to appear), 0 when
# it did not (the escape happened: no point waiting for a line).
expect_line()
{
	local desc=$1 kind=$2 name=$3 tries=1 file pid
	shift 3
	[ "$1" = 1 ] && tries=60
	shift
	pid=${1#pid=}
	file=$(block_log "$name")
	if esc_find_line "$kind" "$file" "$tries" "$@"; then
		pass "$name: $desc"
	else
		fail "$name: $desc" "expected a 'WARN $kind BLOCKED' line with: $*" \
			"$kind BLOCKED lines of pid $pid in $file:" \
			"$(grep -a "^WARN $kind BLOCKED " "$file" 2>/dev/null | grep -F " pid=$pid " | head -n 6)" \
			"(all $kind BLOCKED lines there: $(grep -ac "^WARN $kind BLOCKED " "$file" 2>/dev/null))"
	fi
}

# esc_guard_ports CGID: "UDP4 TCP4 UDP6 TCP6 MODE" of the daemon's guards entry.
esc_guard_ports()
{
	"$PY" "$ESC" --guard-ports "/sys/fs/bpf/$(instance_of "$T/dstate")/maps/guards" "$1" \
		2>>"$T/bpftool.err"
}

# -------------------------------------------------------------------- nscd

NSCD_PID=
# nscd_start: its dnsmasq (NSCD_DNS:53, log $T/nscd-dnsmasq.log), then nscd -F
# in its own mount namespace (NSCD_PID, log $T/nscd.log); waits until nscd
# answers `nscd -g` there.
nscd_start()
{
	local try i pid
	command -v nscd >/dev/null || die "nscd is installed (make deps)"
	NSCD_DNS=
	for ((try = 0; try < 10; try++)); do
		NSCD_DNS=127.54.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
		dnsmasq --no-daemon --no-resolv --no-hosts --port=53 --listen-address="$NSCD_DNS" \
			--bind-interfaces --address=/github.com/127.0.0.77 --address=/allowed.test/127.0.0.78 \
			--log-queries --log-facility="$T/nscd-dnsmasq.log" 2>>"$T/nscd-dnsmasq.stderr" &
		pid=$!
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			if dig +tries=1 +time=1 @"$NSCD_DNS" probe.invalid >/dev/null 2>&1; then
				E2E_PIDS+=("$pid")
				break 2
			fi
			sleep 0.1
		done
		_stop_pid "$pid"
		wait "$pid" 2>/dev/null
		NSCD_DNS=
	done
	[ -n "$NSCD_DNS" ] || die "a dnsmasq for nscd on some 127.54.x.y:53" "$(_show "$T/nscd-dnsmasq.stderr")"

	# One attempt, 1 s: a lookup that is not answered at once fails in
	# about 2 s (AAAA, then A) instead of 20.
	printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$NSCD_DNS" >"$T/nscd-resolv.conf"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$T/nscd-nsswitch.conf"
	# Hosts only, shared (clients map the cache through the socket, as by
	# default), not persistent (no file outside the tmpfs).
	cat >"$T/nscd.conf" <<'EOF'
	debug-level		0
	paranoia		no
	enable-cache		hosts		yes
	positive-time-to-live	hosts		600
	negative-time-to-live	hosts		5
	check-files		hosts		yes
	persistent		hosts		no
	shared			hosts		yes
	enable-cache		passwd		no
	enable-cache		group		no
	enable-cache		services	no
	enable-cache		netgroup	no
EOF
	# shellcheck disable=SC2016 # expanded by that shell
	unshare -m --propagation private sh -c '
		set -e
		mkdir -p /var/run/nscd /var/cache/nscd
		mount -t tmpfs -o mode=0755 depfence-nscd /var/run/nscd
		mount -t tmpfs -o mode=0755 depfence-nscd /var/cache/nscd
		mount --bind "$1/nscd-resolv.conf" /etc/resolv.conf
		mount --bind "$1/nscd-nsswitch.conf" /etc/nsswitch.conf
		exec nscd -F -f "$1/nscd.conf"' nscd-ns "$T" >>"$T/nscd.log" 2>&1 &
	NSCD_PID=$!
	E2E_PIDS+=("$NSCD_PID")
	for ((i = 0; i < 50; i++)); do
		kill -0 "$NSCD_PID" 2>/dev/null || break
		if [ "$(cat "/proc/$NSCD_PID/comm" 2>/dev/null)" = nscd ] &&
			in_nscd_ns nscd -g >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	die "nscd -F came up in its own mount namespace" "$(_show "$T/nscd.log")"
}

# in_nscd_ns CMD...: CMD in nscd's mount namespace (exec'd: same pid).
in_nscd_ns() { nsenter -m -t "$NSCD_PID" "$@"; }

# nscd_lookups: how many hosts lookups nscd answered (cache hits and misses,
# positive and negative; `nscd -g`). A client that maps nscd's shared cache
# finds a cached name without asking nscd, so only a fresh name counts.
nscd_lookups()
{
	in_nscd_ns nscd -g 2>/dev/null |
		awk '/^hosts cache:/ { h = 1; next } /cache:$/ { h = 0 } h && /cache (hits|misses) on/ { s += $1 } END { print s + 0 }'
}

# nscd_dns_saw NAME: did nscd's dnsmasq get a query for NAME (nscd asked it)?
nscd_dns_saw() { grep -qiF "] $1 from" "$T/nscd-dnsmasq.log" 2>/dev/null; }
