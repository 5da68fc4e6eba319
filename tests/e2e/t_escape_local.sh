#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Local ways out of a guarded job that the redirect of port 53 alone does not
# close (docs/design.md, "Packet enforcement"). What is asserted is the
# behaviour expected once they are closed:
#
#  1. nscd (embedded and daemon): a resolver daemon on the same host answers a
#     guarded process over a unix socket, from outside the guard. A guarded
#     `getent hosts github.com` must fail (exit 2) within 2 s, with the usual
#     DNS BLOCKED line naming getent (not nscd), and a PACKET BLOCKED line
#     reason=LocalResolver path=(/var/run/)nscd/socket naming getent; a fresh
#     blocked name never reaches nscd; an allowed name still resolves, through
#     depfence's upstream. A guarded python connect() to nscd's socket fails
#     with EPERM (by absolute path, and by a path relative to /var/run/nscd). Controls: unguarded, getent resolves github.com
#     through nscd (its statistics count the lookup) and the connect works.
#  2. unspecified destinations (daemon, two runs): 0.0.0.0:P, [::]:P and
#     [::ffff:0.0.0.0]:P reach a listener on 127.0.0.1:P / [::1]:P. From a run
#     of policy a (blocklist, github.com blocked), a query for github.com to
#     the listener ports of a run of policy b (audit) must fail with EPERM and
#     log PACKET BLOCKED reason=ProxyOfAnotherGuard, as 127.0.0.1:P already
#     does; TCP connects likewise.
#  3. v4-mapped server (embedded and daemon): an AF_INET6 UDP socket sending to
#     [::ffff:127.0.0.53]:53 gets its reply (REFUSED for github.com, the
#     answer for an allowed name) from exactly [::ffff:127.0.0.53]:53, with
#     sendto/recvfrom and with connect/send/recvfrom.
#  4. raw sockets (embedded and daemon, blocklist): socket(AF_INET, SOCK_RAW,
#     IPPROTO_UDP), (AF_INET6, SOCK_RAW, IPPROTO_UDP) and (AF_PACKET,
#     SOCK_RAW) fail with EPERM at creation, with a reason=RawSocket line
#     naming the python3 process; an ICMP datagram ("ping") socket is not
#     refused by depfence (EACCES from net.ipv4.ping_group_range is fine; in
#     a private netns that lets root's group ping, it must be created).
#     Control: unguarded, all three raw sockets are created.
#  5. the job's seccomp filter (embedded and daemon), where the filter is
#     what stops it (no cgroup hook sees these) and each system call is made
#     whole (ctypes syscall(), 64-bit registers):
#     - socket(AF_INET, SOCK_PACKET, htons(ETH_P_ALL)) (the kernel makes it an
#       AF_PACKET socket) fails with EPERM, with a reason=RawSocket
#       family=packet-compat line on depfence run's stderr (the supervisor of
#       the filter is depfence run, in both modes); socket(1<<32 | AF_PACKET,
#       SOCK_RAW, ...) (the kernel reads the family as an int) fails with
#       EPERM, with a family=packet line;
#     - three AF_PACKET sockets in a row each fail with EPERM (not ENOSYS: the
#       supervisor must go on answering after the first), three RawSocket lines;
#     - setns(a cgroup namespace fd, 1<<32) (the kernel reads the flags as an
#       int: 0, any namespace) fails with EPERM; then a fresh cgroup2 mount
#       (rooted at the job's cgroup namespace) and a write of its pid to that
#       mount's root cgroup.procs leave the process in its run's cgroup;
#     - pidfd_getfd() of the socket fds of its parent, the `depfence` process
#       (an embedded run's proxy: its upstream sockets, outside the guard),
#       fails with EPERM.
#     Control: unguarded, the SOCK_PACKET and 1<<32 | AF_PACKET sockets are
#     created.
#
# Field names that the new lines are expected to carry are set once below.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_escape.sh
. "$E2E_DIR/lib_escape.sh"

LOCAL_REASON=LocalResolver     # reason= of a refused connect to a resolver daemon's socket
LOCAL_PATH_KEY=path            # the field that names the socket's path, and what it
LOCAL_PATH_RE='(^|/)nscd/socket$' # may hold: the whole path or the suffix matched
RAW_REASON=RawSocket           # reason= of a refused raw socket
NSCD_SOCK=/var/run/nscd/socket # glibc's _PATH_NSCDSOCKET: the path getent connects to

esc_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/a.policy"
printf 'mode audit\nblock github.com\n' >"$CONF/policies/b.policy"
nscd_start

# refused STATUS...: 1 if the client saw a refusal (then a block line is
# worth waiting for), else 0.
refused()
{
	local s
	for s in "$@"; do
		[ "$s" = EPERM ] && {
			echo 1
			return
		}
	done
	echo 0
}

# ---------------------------------------------------------------- 1. nscd

nscd_controls()
{
	local before after
	MODE=
	before=$(nscd_lookups)
	unguarded u-gent nsenter -m -t "$NSCD_PID" getent hosts github.com
	after=$(nscd_lookups)
	assert_match "u-gent: unguarded getent hosts github.com answers nscd's 127.0.0.77 (exit $RC)" \
		'^127\.0\.0\.77 +github\.com$' "$(cat "$(rf u-gent out)")"
	if [ "$after" -gt "$before" ]; then
		pass "u-gent: nscd answered it (hosts lookups $before -> $after, nscd -g)"
	else
		fail "u-gent: nscd answered it" "hosts lookups $before -> $after (nscd -g)"
	fi
	if nscd_dns_saw github.com; then
		pass "u-gent: nscd asked its own resolver ($NSCD_DNS) for github.com"
	else
		fail "u-gent: nscd asked its own resolver ($NSCD_DNS)" "$(_show "$T/nscd-dnsmasq.log" 20)"
	fi
	unguarded u-unix nsenter -m -t "$NSCD_PID" "$PY" "$ESC" "unix,$NSCD_SOCK"
	expect_esc u-unix "unix $NSCD_SOCK" '^OK$' "an unguarded connect() to nscd's socket works"
}

nscd_case()
{
	local r before after gh ok out
	# a. The blocked name itself (nscd has it cached since the control).
	guarded_timed gent-gh -- nsenter -m -t "$NSCD_PID" getent hosts github.com
	out=$(cat "$(rf gent-gh out)")
	if [ "$RC" = 2 ] && [ -z "$out" ]; then
		pass "gent-gh: guarded getent hosts github.com fails with exit 2"
	else
		fail "gent-gh: guarded getent hosts github.com fails with exit 2" \
			"seen: exit $RC, output '$out' (127.0.0.77 is nscd's answer: the escape)" \
			"stderr: $(_show "$(rf gent-gh err)")"
	fi
	assert_lt "gent-gh: and does so at once (ms)" 2000 "$MS"
	r=$([ "$RC" = 2 ] && echo 1 || echo 0)
	expect_line "DNS BLOCKED domain=github.com with cmd=getent (not nscd)" DNS gent-gh "$r" \
		pid="$CPID" domain=github.com reason=FromDNSRequest blocked=true \
		"cmd=getent hosts github.com" policy=default firewallMethod=blocklist
	expect_line "PACKET BLOCKED reason=$LOCAL_REASON $LOCAL_PATH_KEY=~$LOCAL_PATH_RE cmd=getent..." \
		PACKET gent-gh "$r" pid="$CPID" reason="$LOCAL_REASON" blocked=true \
		"$LOCAL_PATH_KEY=~$LOCAL_PATH_RE" "cmd=~^getent hosts github\.com$"

	# b. A fresh blocked name: nscd must not even be asked.
	uniq_name github.com
	gh=$UNAME
	before=$(nscd_lookups)
	guarded gent-new -- nsenter -m -t "$NSCD_PID" getent hosts "$gh"
	after=$(nscd_lookups)
	out=$(cat "$(rf gent-new out)")
	assert_eq "gent-new: guarded getent hosts $gh: exit 2, no answer" "2 ''" "$RC '$out'"
	assert_eq "gent-new: nscd was not asked (its hosts lookups, nscd -g)" "$before" "$after"
	if nscd_dns_saw "$gh"; then
		fail "gent-new: nscd's resolver never saw $gh" \
			"$(grep -F "$gh" "$T/nscd-dnsmasq.log" | head -n 4)"
	else
		pass "gent-new: nscd's resolver never saw $gh"
	fi
	expect_line "DNS BLOCKED domain=$gh" DNS gent-new "$([ "$RC" = 2 ] && echo 1 || echo 0)" \
		pid="$CPID" domain="$gh" blocked=true "cmd=getent hosts $gh"

	# c. An allowed name resolves, through depfence (::3 / 127.0.0.3), not
	# nscd (127.0.0.78).
	uniq_name allowed.test
	ok=$UNAME
	guarded_timed gent-ok -- nsenter -m -t "$NSCD_PID" getent hosts "$ok"
	assert_match "gent-ok: guarded getent hosts $ok resolves through depfence's upstream (exit $RC)" \
		"^(::3|127\\.0\\.0\\.3) +$(re_quote "$ok")\$" "$(cat "$(rf gent-ok out)")"
	assert_lt "gent-ok: at once (ms)" 2000 "$MS"
	assert_dns_saw AAAA "$ok"

	# d. python3 connect()s to nscd's socket itself.
	guarded py-abs -- nsenter -m -t "$NSCD_PID" "$PY" "$ESC" "unix,$NSCD_SOCK"
	expect_esc py-abs "unix $NSCD_SOCK" '^EPERM$' "a guarded connect() to nscd's socket fails with EPERM"
	expect_line "PACKET BLOCKED reason=$LOCAL_REASON for python3's connect" PACKET py-abs \
		"$(refused "$(esc_step py-abs "unix $NSCD_SOCK")")" pid="$CPID" reason="$LOCAL_REASON" \
		blocked=true "$LOCAL_PATH_KEY=~$LOCAL_PATH_RE" "cmd=$PY $ESC unix,$NSCD_SOCK"
	# Best effort (tell the lead if this one alone fails after the fix): the
	# program sees the path as given, "socket", relative to the cwd.
	guarded py-rel -- nsenter -m -t "$NSCD_PID" "$PY" "$ESC" cd,/var/run/nscd unix,socket
	expect_esc py-rel "cd /var/run/nscd" '^OK$' "chdir /var/run/nscd"
	expect_esc py-rel "unix socket" '^EPERM$' \
		"a guarded connect() to nscd's socket by a relative path (cwd /var/run/nscd) fails with EPERM"
}

# ------------------------------------------------- 2. unspecified destinations

unspec_case()
{
	local b bcg bcgid bu bt bu6 bt6 bmode dest host port ip name st
	use_mode daemon
	guarded_bg b --policy b -- "$PY" "$ESC" touch,b-up wait,b-go,30
	b=$BG_PID
	esc_wait_file "$T/b-up" 10 ||
		die "b: the audit run came up within 10 s" "$(_show "$(rf b err)")"
	CPID=$(cat "$(rf b pid)")
	bcg=$CG_ROOT$(sed -n 's/^0:://p' "/proc/$CPID/cgroup")
	bcgid=$(stat -c %i "$bcg")
	read -r bu bt bu6 bt6 bmode < <(esc_guard_ports "$bcgid")
	[[ ${bu:-} =~ ^[1-9][0-9]*$ && ${bt:-} =~ ^[1-9][0-9]*$ && ${bu6:-} =~ ^[1-9][0-9]*$ &&
		${bt6:-} =~ ^[1-9][0-9]*$ ]] ||
		die "b: its guards entry (cgroup id $bcgid) has v4 and v6 listener ports" \
			"seen: '${bu:-} ${bt:-} ${bu6:-} ${bt6:-}'" "$(_show "$T/bpftool.err")"
	assert_eq "b: its guards entry is in audit mode" 2 "$bmode"

	# Controls: B's proxy answers at the unspecified addresses; A's send to
	# 127.0.0.1:$bu is refused already.
	esc_unguarded u-unspec "dns,0.0.0.0,$bu,github.com" "dns,::,$bu6,github.com"
	expect_esc u-unspec "dns 0.0.0.0 $bu github.com" "^NOERROR from=127\\.0\\.0\\.1#$bu 127\\.0\\.0\\.9\$" \
		"control: unguarded, 0.0.0.0:$bu reaches B's listener (audit: answered)"
	expect_esc u-unspec "dns :: $bu6 github.com" "^NOERROR from=::1#$bu6 127\\.0\\.0\\.9\$" \
		"control: unguarded, [::]:$bu6 reaches B's v6 listener"
	esc_client a-lo --policy a -- "dns,127.0.0.1,$bu,github.com"
	expect_esc a-lo "dns 127.0.0.1 $bu github.com" '^EPERM$' "control: A's query to 127.0.0.1:$bu (B's) fails with EPERM"

	for dest in "0.0.0.0 $bu 0.0.0.0 a-any4" ":: $bu6 :: a-any6" "::ffff:0.0.0.0 $bu 0.0.0.0 a-anym"; do
		read -r host port ip name <<<"$dest"
		esc_client "$name" --policy a -- "dns,$host,$port,github.com"
		st=$(esc_step "$name" "dns $host $port github.com")
		expect_esc "$name" "dns $host $port github.com" '^EPERM$' \
			"A's query for github.com to [$host]:$port (B's listener) fails with EPERM"
		# ip= of a v4-mapped destination: the v4 address (as t_packet_v6 has it).
		expect_line "PACKET BLOCKED reason=ProxyOfAnotherGuard ip=$ip port=$port" PACKET "$name" \
			"$(refused "$st")" pid="$CPID" reason=ProxyOfAnotherGuard blocked=true ip="$ip" \
			port="$port" proto=udp policy=a
	done
	esc_client a-tcp --policy a -- "tcp,0.0.0.0,$bt" "tcp,::,$bt6"
	expect_esc a-tcp "tcp 0.0.0.0 $bt" '^EPERM$' "A's connect to 0.0.0.0:$bt (B's TCP listener) fails with EPERM"
	expect_esc a-tcp "tcp :: $bt6" '^EPERM$' "A's connect to [::]:$bt6 (B's v6 TCP listener) fails with EPERM"
	expect_line "PACKET BLOCKED reason=ProxyOfAnotherGuard for the TCP connect to 0.0.0.0:$bt" \
		PACKET a-tcp "$(refused "$(esc_step a-tcp "tcp 0.0.0.0 $bt")")" pid="$CPID" \
		reason=ProxyOfAnotherGuard blocked=true port="$bt" proto=tcp policy=a

	touch "$T/b-go"
	bg_wait "$b" 10 || fail "b: the audit run ended"
	expect_esc b "wait b-go" '^OK$' "the audit run waited for the end of the test"
}

# ------------------------------------------------------ 3. v4-mapped server

mapped_case()
{
	local ok1 ok2 m='::ffff:127.0.0.53' from='from=::ffff:127\.0\.0\.53#53'
	uniq_name allowed.test
	ok1=$UNAME
	uniq_name allowed.test
	ok2=$UNAME
	esc_client mapped -- "dns,$m,53,github.com" "dns,$m,53,$ok1" "cdns,$m,53,github.com" "cdns,$m,53,$ok2"
	expect_esc mapped "dns $m 53 github.com" "^REFUSED $from\$" \
		"sendto [$m]:53, github.com: REFUSED from exactly [$m]:53"
	expect_esc mapped "dns $m 53 $ok1" "^NOERROR $from 127\\.0\\.0\\.3\$" \
		"sendto [$m]:53, an allowed name: answered from exactly [$m]:53"
	expect_esc mapped "cdns $m 53 github.com" "^REFUSED $from( |\$)" \
		"connect [$m]:53, github.com: REFUSED from exactly [$m]:53"
	expect_esc mapped "cdns $m 53 $ok2" "^NOERROR $from( peer=[^ ]*)? 127\\.0\\.0\\.3\$" \
		"connect [$m]:53, an allowed name: answered from exactly [$m]:53"
	assert_dns_saw A "$ok1"
	assert_dns_saw A "$ok2"
	expect_line "DNS BLOCKED domain=github.com for the v4-mapped queries" DNS mapped 1 \
		pid="$CPID" domain=github.com blocked=true "cmd=$PY $ESC dns,$m,53,github.com dns,$m,53,$ok1 cdns,$m,53,github.com cdns,$m,53,$ok2"
}

# ------------------------------------------------------------ 4. raw sockets

raw_case()
{
	local s r n
	esc_client raw -- sock,inet,raw,udp sock,inet6,raw,udp sock,packet,raw,all sock,inet,dgram,icmp
	expect_esc raw "sock inet raw udp" '^EPERM$' "socket(AF_INET, SOCK_RAW, IPPROTO_UDP) fails with EPERM"
	expect_esc raw "sock inet6 raw udp" '^EPERM$' "socket(AF_INET6, SOCK_RAW, IPPROTO_UDP) fails with EPERM"
	expect_esc raw "sock packet raw all" '^EPERM$' "socket(AF_PACKET, SOCK_RAW) fails with EPERM"
	expect_esc raw "sock inet dgram icmp" '^(OK|EACCES)$' \
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) is not refused by depfence (EACCES: ping_group_range $(tr '\t' ' ' </proc/sys/net/ipv4/ping_group_range))"
	r=$(refused "$(esc_step raw "sock inet raw udp")" "$(esc_step raw "sock inet6 raw udp")" \
		"$(esc_step raw "sock packet raw all")")
	expect_line "PACKET BLOCKED reason=$RAW_REASON naming the python3 process" PACKET raw "$r" \
		pid="$CPID" reason="$RAW_REASON" blocked=true "cmd=$(logq "$(cat "$(rf raw cmd)")")"
	n=$(grep -a "^WARN PACKET BLOCKED " "$(block_log raw)" 2>/dev/null | grep -F " pid=$CPID " |
		grep -c " reason=$RAW_REASON ")
	echo "# [$MODE] raw: $n reason=$RAW_REASON line(s) for pid $CPID (three sockets refused)"

	# In a network namespace of its own where root's group may ping, the
	# ping socket must be created (ping_group_range is per netns: the
	# host's stays as it is).
	# shellcheck disable=SC2016 # expanded by that shell
	guarded ping -- unshare -n sh -c \
		'echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range && exec "$0" "$1" sock,inet,dgram,icmp' \
		"$PY" "$ESC"
	expect_esc ping "sock inet dgram icmp" '^OK$' \
		"socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) is created where ping_group_range allows it"
	# (nscd's socket is refused whenever $HOME or $SHELL is unset: not this check's business)
	s=$(grep -a "^WARN PACKET BLOCKED " "$(block_log ping)" 2>/dev/null | grep -F " pid=$CPID " |
		grep -v ' reason=LocalResolver ')
	assert_eq "ping: no PACKET BLOCKED line for the ping socket" "" "$s"
}

raw_control()
{
	MODE=
	esc_unguarded u-raw sock,inet,raw,udp sock,inet6,raw,udp sock,packet,raw,all
	expect_esc u-raw "sock inet raw udp" '^OK$' "control: unguarded, a raw AF_INET socket is created"
	expect_esc u-raw "sock inet6 raw udp" '^OK$' "control: unguarded, a raw AF_INET6 socket is created"
	expect_esc u-raw "sock packet raw all" '^OK$' "control: unguarded, an AF_PACKET socket is created"
}

# ------------------------------------------------- 5. the job's seccomp filter

# The cgroup namespace setns() is tried with: PID 1's, or where that cannot
# be opened (a sandbox's PID 1), this test's own (the one the job left).
CG_NS=/proc/1/ns/cgroup
readlink "$CG_NS" >/dev/null 2>&1 || CG_NS=/proc/$$/ns/cgroup

# seccomp_lines NAME: the PACKET BLOCKED reason=RawSocket lines of NAME's
# client on depfence run's stderr, where the filter's supervisor logs.
seccomp_lines()
{
	grep -a "^WARN PACKET BLOCKED reason=$RAW_REASON " "$(rf "$1" err)" 2>/dev/null |
		grep -F " pid=$CPID "
}

seccomp_case()
{
	local n ps cg run s
	# a. SOCK_PACKET of AF_INET; AF_PACKET with bit 32 of the family set.
	esc_client pktc -- rsock,inet,packet,all rsock,0x100000011,raw,all
	expect_esc pktc "rsock inet packet all" '^EPERM$' \
		"socket(AF_INET, SOCK_PACKET, htons(ETH_P_ALL)) fails with EPERM"
	expect_esc pktc "rsock 0x100000011 raw all" '^EPERM$' \
		"socket(1<<32 | AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) by syscall() fails with EPERM"
	BLOCK_LOG_FILE=$(rf pktc err) expect_line \
		"PACKET BLOCKED reason=$RAW_REASON family=packet-compat on depfence run's stderr" PACKET \
		pktc "$(refused "$(esc_step pktc "rsock inet packet all")")" pid="$CPID" \
		reason="$RAW_REASON" blocked=true blockedAt=socket family=packet-compat protocol=3 \
		"cmd=$(logq "$(cat "$(rf pktc cmd)")")"
	BLOCK_LOG_FILE=$(rf pktc err) expect_line \
		"PACKET BLOCKED reason=$RAW_REASON family=packet for the 1<<32 | AF_PACKET socket" PACKET \
		pktc "$(refused "$(esc_step pktc "rsock 0x100000011 raw all")")" pid="$CPID" \
		reason="$RAW_REASON" blocked=true family=packet

	# b. Three AF_PACKET sockets in a row: the supervisor answers each.
	esc_client pkt3 -- sock,packet,raw,all sock,packet,dgram,all rsock,packet,raw,all
	expect_esc pkt3 "sock packet raw all" '^EPERM$' "1st AF_PACKET socket fails with EPERM"
	expect_esc pkt3 "sock packet dgram all" '^EPERM$' "2nd AF_PACKET socket fails with EPERM (not ENOSYS)"
	expect_esc pkt3 "rsock packet raw all" '^EPERM$' "3rd AF_PACKET socket fails with EPERM (not ENOSYS)"
	n=$(seccomp_lines pkt3 | grep -c ' family=packet ')
	assert_eq "pkt3: three reason=$RAW_REASON family=packet lines on depfence run's stderr" 3 "$n"

	# c. setns() into a cgroup namespace with bit 32 of the flags set, then
	# a move to the root of a fresh cgroup2 mount. The process waits so its
	# cgroup is read from here, in the namespace the test (and depfence) sees.
	rm -f "$T/$MODE-cgns-done" "$T/$MODE-cgns-go"
	guarded_bg cgns -- "$PY" "$ESC" "setns,$CG_NS,0x100000000" "cgleave,$MODE-cgmnt" \
		"touch,$MODE-cgns-done" "wait,$MODE-cgns-go,10"
	ps=$BG_PID
	if esc_wait_file "$T/$MODE-cgns-done" 10; then
		CPID=$(cat "$(rf cgns pid)")
		cg=$CG_ROOT$(sed -n 's/^0:://p' "/proc/$CPID/cgroup" 2>/dev/null)
		run=$(run_cgroups "$STATE")
		if [ "$(wc -l <<<"$run")" = 1 ] && [ -n "$run" ] &&
			{ [ "$cg" = "$run" ] || [[ $cg == "$run"/* ]]; }; then
			pass "cgns: still in its run's cgroup after setns and the move ($cg)"
		else
			fail "cgns: still in its run's cgroup after setns and the move" \
				"its cgroup: $cg" "run cgroups: ${run:-(none)}"
		fi
	else
		fail "cgns: the client got to its check point" "$(_show "$(rf cgns err)")"
	fi
	touch "$T/$MODE-cgns-go"
	bg_wait "$ps" 10 || fail "cgns: the run ended"
	expect_esc cgns "setns $CG_NS 0x100000000" '^EPERM$' \
		"setns(a cgroup namespace, 1<<32) by syscall() fails with EPERM"
	# (The mount itself must work, or the move was never tried.)
	expect_esc cgns "cgleave $MODE-cgmnt" '^[A-Z]+$' \
		"a fresh cgroup2 mount was made and its root cgroup.procs written"

	# d. pidfd_getfd() on the depfence process (the proxy's upstream sockets
	# when embedded). A query first, so the proxy has asked upstream.
	uniq_name allowed.test
	esc_client getfd -- "dns,127.0.0.53,53,$UNAME" "getfd,$DNS_PORT"
	expect_esc getfd "dns 127.0.0.53 53 $UNAME" '^NOERROR ' "the client's query is answered"
	expect_esc getfd getfd '^parent=depfence tried=[1-9][0-9]* EPERM$' \
		"pidfd_getfd() of every socket of its parent, depfence, fails with EPERM"
}

seccomp_control()
{
	MODE=
	esc_unguarded u-pkt rsock,inet,packet,all rsock,0x100000011,raw,all
	expect_esc u-pkt "rsock inet packet all" '^OK$' \
		"control: unguarded, socket(AF_INET, SOCK_PACKET, htons(ETH_P_ALL)) is created"
	expect_esc u-pkt "rsock 0x100000011 raw all" '^OK$' \
		"control: unguarded, socket(1<<32 | AF_PACKET, SOCK_RAW) is created"
}

per_mode()
{
	raw_case
	seccomp_case
	mapped_case
	nscd_case
}

nscd_controls
raw_control
seccomp_control
for_each_mode per_mode
unspec_case
MODE=
assert_no_run_cgroups "no run cgroup left"
e2e_done
