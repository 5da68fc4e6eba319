#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence never fails open (docs/design.md, "Failure behaviour: never open",
# "Two ways to run", "The container path"). Every guarded query of this test
# is addressed to a sink on 127.x.y.z:53 (lib_failclosed.sh) or to 127.9.9.9,
# so a query that escaped the guard would arrive at the sink or at dnsmasq;
# each case checks both saw nothing, and that the same step worked while the
# guard was whole (or from an unguarded process).
#  1. other-guard: run A (blocklist) cannot use run B's (audit) proxy: a dig
#     to B's UDP listener and a connect to B's TCP listener (ports from the
#     pinned guards map, held by depfenced per ss) fail with EPERM, logged as
#     PACKET BLOCKED reason=ProxyOfAnotherGuard with A's pid and argv; the same
#     from an unguarded process is answered. A's and B's own redirects work.
#  2. embedded-kill: `depfence run` (embedded) killed with -9: the job runs
#     on, its programs stay attached and pinned, its DNS gets no answer (not
#     from dnsmasq, not from the sink, not at a socket that user nobody bound
#     on the dead proxy's UDP port); the next embedded run kills the job,
#     removes its cgroup and pins, and answers.
#  3. daemon-stop: depfenced stopped with SIGTERM under a run: the job's DNS
#     and its connect to a loopback "host" fail with EPERM (an unguarded
#     connect succeeds), nothing arrives at a socket bound on its old proxy
#     port, `depfence run` warns, and once the job ends no run cgroup and no
#     process is left.
#  4. daemon-kill: depfenced killed with -9 under a run: while none runs the
#     job's DNS fails and a socket user nobody bound on the dead proxy's UDP
#     port receives nothing; a new daemon restores the run from its saved
#     record (new listener ports, its policy), `depfence run` adopts it back,
#     and the job's DNS is answered through the proxy again (never by the
#     server it asked, never at the dead proxy's port); a new run works too.
#  The dead proxy's port checks of 2 and 4 hold because the redirect goes only
#  to a socket the proxy marked as its own (proxy_socks): the mark died with it.
#  5. reregister: runc container X with a prestart hook and no poststop ends
#     (the daemon still lists it); X again (same id, a new cgroup at the same
#     path) is attached and refuses a blocked name.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
# shellcheck source=lib_containers.sh
. "$E2E_DIR/lib_containers.sh"
# shellcheck source=lib_failclosed.sh
. "$E2E_DIR/lib_failclosed.sh"
pk_init
pk_dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/a.policy"
printf 'mode audit\nblock github.com\n' >"$CONF/policies/b.policy"
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"
ct_init
fc_init
GUARDS_MAP=/sys/fs/bpf/$INSTANCE/maps/guards
NO_ANSWER='^(TIMEOUT|ECONNREFUSED|EPERM)$'

# ------------------------------------------------- 1. another guard's listener

other_guard()
{
	local b bu bt bmode gh1 gh2 a_name b_name
	use_mode daemon
	MODE=other-guard
	BLOCK_LOG_FILE=$T/daemon.log
	uniq_name allowed.test
	b_name=$UNAME
	fc_bg b --policy b -- touch,b-up wait,b-go,20 "dns,127.9.9.9,$b_name"
	b=$BG_PID
	fc_ready b b-up
	read -r bu bt _ _ bmode < <(fc_guard_ports pinned "$GUARDS_MAP" "$CGID")
	[[ ${bu:-} =~ ^[1-9][0-9]*$ && ${bt:-} =~ ^[1-9][0-9]*$ ]] ||
		die "B's guards entry (cgroup id $CGID) has its listener ports" \
			"$(_show "$T/bpftool.err")"
	assert_eq "B's guards entry is in audit mode" 2 "$bmode"
	assert_match "B's UDP port $bu is a depfenced listener on 127.0.0.1" \
		"127\.0\.0\.1:$bu .*pid=$DAEMON_PID," "$(ss -Hlunp "sport = :$bu")"
	assert_match "B's TCP port $bt is a depfenced listener on 127.0.0.1" \
		"127\.0\.0\.1:$bt .*pid=$DAEMON_PID," "$(ss -Hltnp "sport = :$bt")"

	# Control: B's proxy answers whoever reaches it.
	uniq_name github.com
	gh1=$UNAME
	unguarded u-bport dig +tries=1 +time=1 -p "$bu" @127.0.0.1 "$gh1"
	expect_dig u-bport NOERROR 127.0.0.9
	assert_dns_saw A "$gh1"
	unguarded u-btcp "$PY" "$T/fc.py" "tcp,127.0.0.1,$bt"
	expect_step u-btcp "tcp 127.0.0.1 $bt" '^OK$' "an unguarded connect to B's TCP listener works"

	uniq_name github.com
	gh2=$UNAME
	guarded a-dig --policy a -- dig +tries=1 +time=1 -p "$bu" @127.0.0.1 "$gh2"
	expect_dig a-dig none
	assert_file_has "a-dig: dig's send failed with EPERM" "permission denied" "$(rf a-dig out)"
	assert_packet a-dig 127.0.0.1 "$bu" ProxyOfAnotherGuard proto=udp policy=a
	assert_not_upstream "$gh2" "a-dig: the query did not reach dnsmasq through B's proxy"
	guarded a-tcp --policy a -- "$PY" "$T/fc.py" "tcp,127.0.0.1,$bt"
	expect_step a-tcp "tcp 127.0.0.1 $bt" '^EPERM$' "A's connect to B's TCP listener fails"
	assert_packet a-tcp 127.0.0.1 "$bt" ProxyOfAnotherGuard policy=a
	uniq_name allowed.test
	a_name=$UNAME
	guarded a-ok --policy a -- dig +tries=1 +time=1 @127.9.9.9 "$a_name"
	expect_dig a-ok NOERROR 127.0.0.3
	assert_dns_saw A "$a_name"

	touch "$T/b-go"
	bg_wait "$b" 10 || fail "b: the run ended"
	expect_step b "dns 127.9.9.9 $b_name" '^NOERROR 127\.0\.0\.3$' "B's own redirect answers"
	assert_dns_saw A "$b_name"
	BLOCK_LOG_FILE=
}

# ----------------------------------------------- 2. embedded depfence kill -9

embedded_kill()
{
	local df jpid cg cgid pins gmap port n1 n2 n3 n4
	use_mode embedded
	MODE=embedded-kill
	uniq_name allowed.test
	n1=$UNAME
	uniq_name allowed.test
	n2=$UNAME
	uniq_name allowed.test
	n3=$UNAME
	uniq_name allowed.test
	n4=$UNAME
	fc_bg job -- "dns,$SINK,$n1" touch,e-up wait,e-go1,20 "dns,$SINK,$n2" touch,e-a1 \
		wait,e-go2,20 "dns,127.9.9.9,$n3" touch,e-a2 wait,e-never,40
	df=$BG_PID
	fc_ready job e-up
	jpid=$CPID cg=$CG cgid=$CGID
	pins=/sys/fs/bpf/$(instance_of "$STATE")/embedded/run-$df
	expect_step job "dns $SINK $n1" '^NOERROR 127\.0\.0\.3$' "guarded: answered through the proxy"
	assert_dns_saw A "$n1"
	gmap=$(pk_map guards "$jpid")
	read -r port _ < <(fc_guard_ports id "$gmap" "$cgid")
	[[ ${port:-} =~ ^[1-9][0-9]*$ ]] ||
		die "the run's UDP listener port from its guards map (id ${gmap:-?})" \
			"$(_show "$T/bpftool.err")"

	kill -KILL "$df"
	wait "$df" 2>/dev/null
	if fc_alive "$jpid"; then
		pass "the job (pid $jpid) keeps running after depfence was killed with -9"
	else
		fail "the job (pid $jpid) keeps running after depfence was killed with -9"
	fi
	assert_attached "its programs stay attached to its cgroup" "$cg"
	if [ -n "$(ls -A "$pins" 2>/dev/null)" ]; then
		pass "its links stay pinned in $pins"
	else
		fail "its links stay pinned in $pins" "$(ls -la "${pins%/*}" 2>&1)"
	fi
	touch "$T/e-go1"
	pk_wait_file "$T/e-a1" 5 || fail "job: asked again within 5 s" "$(_show "$(rf job out)")"
	expect_step job "dns $SINK $n2" "$NO_ANSWER" "orphan: its query gets no answer"
	assert_not_upstream "$n2" "orphan: dnsmasq never saw its query"
	assert_sink_quiet "orphan: its query did not reach the server it asked ($SINK)"

	# Someone else takes the port the dead proxy listened on.
	fc_catch e "$port"
	touch "$T/e-go2"
	pk_wait_file "$T/e-a2" 5 || fail "job: asked a third time within 5 s" "$(_show "$(rf job out)")"
	expect_step job "dns 127.9.9.9 $n3" "$NO_ANSWER" "orphan: no answer with the old port taken"
	assert_caught_nothing e 0 \
		"orphan: a socket user nobody bound on the dead proxy's port 127.0.0.1:$port got nothing"
	assert_not_upstream "$n3" "orphan: dnsmasq never saw its query with the old port taken"

	guarded next -- dig +tries=1 +time=1 @127.9.9.9 "$n4"
	expect_dig next NOERROR 127.0.0.3
	if fc_gone "$jpid" 3; then
		pass "the next embedded run killed the orphan job"
	else
		fail "the next embedded run killed the orphan job (pid $jpid)"
		kill -KILL "$jpid"
	fi
	assert_eq "the orphan's cgroup is removed" "" "$(ls -d "$cg" 2>/dev/null)"
	assert_eq "the orphan's pins are removed" "" "$(ls -d "$pins" 2>/dev/null)"
	assert_no_run_cgroups "no run cgroup left"
}

# ------------------------------------------------------- 3. daemon SIGTERM

daemon_stop_case()
{
	local df jpid cg p port n1 n2 n3 inst left
	use_mode daemon
	MODE=daemon-stop
	pk_listen host 127.0.0.2 || die "a TCP listener on 127.0.0.2" "$(_show "$T/listen-host.err")"
	p=$LPORT
	uniq_name allowed.test
	n1=$UNAME
	uniq_name allowed.test
	n2=$UNAME
	uniq_name allowed.test
	n3=$UNAME
	fc_bg job -- "dns,$SINK,$n1" "tcp,127.0.0.2,$p" touch,s-up wait,s-go,20 "dns,$SINK,$n2" \
		"tcp,127.0.0.2,$p" "dns,127.9.9.9,$n3" touch,s-a wait,s-end,20
	df=$BG_PID
	fc_ready job s-up
	jpid=$CPID cg=$CG
	expect_step job "dns $SINK $n1" '^NOERROR 127\.0\.0\.3$' "guarded: answered through the proxy"
	expect_step job "tcp 127.0.0.2 $p" '^OK$' "guarded: the host 127.0.0.2 is reachable"
	read -r port _ < <(fc_guard_ports pinned "$GUARDS_MAP" "$CGID")
	[[ ${port:-} =~ ^[1-9][0-9]*$ ]] ||
		die "the run's UDP listener port from the guards map" "$(_show "$T/bpftool.err")"

	daemon_stop
	fc_catch s "$port"
	touch "$T/s-go"
	pk_wait_file "$T/s-a" 5 || fail "job: asked again within 5 s" "$(_show "$(rf job out)")"
	expect_step job "dns $SINK $n2" '^EPERM$' "daemon stopped: the query fails with EPERM"
	expect_step job "tcp 127.0.0.2 $p" '^EPERM$' "daemon stopped: the connect fails with EPERM"
	expect_step job "dns 127.9.9.9 $n3" '^EPERM$' "daemon stopped: the query fails with EPERM, the old port taken"
	assert_caught_nothing s 0 \
		"daemon stopped: a socket user nobody bound on the old port 127.0.0.1:$port got nothing"
	assert_not_upstream "$n3" "daemon stopped: dnsmasq never saw the query with the old port taken"
	unguarded u-host "$PY" "$T/fc.py" "tcp,127.0.0.2,$p"
	expect_step u-host "tcp 127.0.0.2 $p" '^OK$' "an unguarded connect to the host works"
	assert_not_upstream "$n2" "daemon stopped: dnsmasq never saw the query"
	assert_sink_quiet "daemon stopped: the query did not reach the server it asked ($SINK)"
	assert_file_has "depfence run warns that depfenced went away" \
		"^WARN depfenced went away: DNS of this run fails closed until it is back" "$(rf job err)"

	touch "$T/s-end"
	bg_wait "$df" 10
	assert_eq "the run ends with the job's status" 0 "$RC"
	fc_gone "$jpid" 2 || fail "the job is gone"
	assert_eq "the run's cgroup is removed" "" "$(ls -d "$cg" 2>/dev/null)"
	assert_no_run_cgroups "no run cgroup left"
	# The instance's runs parent and pins stay (no daemon is left to remove
	# them; the next one reuses them): they guard no process.
	inst=$INSTANCE
	left=$(find "$CG_ROOT/$inst" -name cgroup.procs -exec cat {} + 2>/dev/null)
	assert_eq "no process left in the instance's cgroups" "" "$left"
	if [ -d "$CG_ROOT/$inst/runs" ]; then
		echo "# note: after the stop and the run's end, $CG_ROOT/$inst/runs stays with" \
			"$(find "/sys/fs/bpf/$inst/links" -mindepth 2 | wc -l) pinned links and" \
			"$(find "/sys/fs/bpf/$inst/maps" -mindepth 1 | wc -l) pinned maps"
	fi
}

# ------------------------------------------------------- 4. daemon kill -9

daemon_kill_case()
{
	local df jpid cg p port nport seen n1 n2 n3 n4 n5
	use_mode daemon
	MODE=daemon-kill
	p=$(cat "$T/listen-host.port")
	uniq_name allowed.test
	n1=$UNAME
	uniq_name allowed.test
	n2=$UNAME
	uniq_name allowed.test
	n3=$UNAME
	uniq_name allowed.test
	n4=$UNAME
	uniq_name allowed.test
	n5=$UNAME
	fc_bg job -- "dns,$SINK,$n1" touch,k-up wait,k-go1,20 "dns,127.9.9.9,$n2" touch,k-a1 \
		wait,k-go2,20 "dns,$SINK,$n3" "tcp,127.0.0.2,$p" "dns,127.9.9.9,$n4" touch,k-a2 \
		wait,k-end,20
	df=$BG_PID
	fc_ready job k-up
	jpid=$CPID cg=$CG
	expect_step job "dns $SINK $n1" '^NOERROR 127\.0\.0\.3$' "guarded: answered through the proxy"
	read -r port _ < <(fc_guard_ports pinned "$GUARDS_MAP" "$CGID")
	[[ ${port:-} =~ ^[1-9][0-9]*$ ]] ||
		die "the run's UDP listener port from the guards map" "$(_show "$T/bpftool.err")"

	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	fc_catch k "$port"
	touch "$T/k-go1"
	pk_wait_file "$T/k-a1" 5 || fail "job: asked again within 5 s" "$(_show "$(rf job out)")"
	expect_step job "dns 127.9.9.9 $n2" "$NO_ANSWER" "no daemon: the query gets no answer"
	assert_caught_nothing k 0 \
		"no daemon: a socket user nobody bound on the dead proxy's port 127.0.0.1:$port got nothing"
	assert_not_upstream "$n2" "no daemon: dnsmasq never saw the query"

	seen=$(fc_caught k)
	daemon_start
	if wait_log "run restored id=" "$T/daemon.log" 3; then
		pass "the new daemon restores the run from its saved record"
	else
		fail "the new daemon restores the run from its saved record" \
			"$(tail -n 5 "$T/daemon.log")"
	fi
	wait_log "run adopted id=" "$T/daemon.log" 5 ||
		fail "depfence run adopts its run back" "$(tail -n 5 "$T/daemon.log")"
	read -r nport _ < <(fc_guard_ports pinned "$GUARDS_MAP" "$CGID")
	if [[ ${nport:-} =~ ^[1-9][0-9]*$ ]] && [ "$nport" != "$port" ]; then
		pass "the job's guards entry points at the new daemon's listener ($nport, was $port)"
	else
		fail "the job's guards entry points at a new listener" "now ${nport:-none}, was $port"
	fi
	touch "$T/k-go2"
	pk_wait_file "$T/k-a2" 5 || fail "job: asked a third time within 5 s" "$(_show "$(rf job out)")"
	expect_step job "dns $SINK $n3" '^NOERROR 127\.0\.0\.3$' "new daemon: answered through the proxy again"
	expect_step job "tcp 127.0.0.2 $p" '^OK$' "new daemon: the host 127.0.0.2 is reachable again"
	expect_step job "dns 127.9.9.9 $n4" '^NOERROR 127\.0\.0\.3$' "new daemon: a query to 127.9.9.9 too"
	assert_caught_nothing k "$seen" \
		"new daemon: the socket on the dead proxy's port 127.0.0.1:$port got nothing"
	assert_dns_saw A "$n3"
	assert_sink_quiet "the job's queries did not reach the server they asked ($SINK)"
	assert_file_has "depfence run warns that depfenced went away" \
		"^WARN depfenced went away: DNS of this run fails closed until it is back" "$(rf job err)"
	assert_file_has "depfence run says the run is guarded again" \
		"^INFO depfenced is back: run .* guarded again" "$(rf job err)"

	# Controls: the catcher hears what is sent to it; the new daemon serves.
	seen=$(fc_caught k)
	pk_unguarded u-catch "udp,127.0.0.1,$port"
	sleep 0.3
	if [ "$(fc_caught k)" -gt "$seen" ]; then
		pass "control: an unguarded datagram to 127.0.0.1:$port reaches the socket there"
	else
		fail "control: an unguarded datagram to 127.0.0.1:$port reaches the socket there" \
			"$(_show "$(rf u-catch out)")"
	fi
	guarded new -- dig +tries=1 +time=1 @127.9.9.9 "$n5"
	expect_dig new NOERROR 127.0.0.3
	assert_dns_saw A "$n5"
	guarded new-gh -- dig +tries=1 +time=1 @127.9.9.9 github.com
	expect_dig new-gh REFUSED
	CPID=$(cat "$(rf new-gh pid)") BLOCK_LOG_FILE=$T/daemon.log assert_block new-gh github.com

	touch "$T/k-end"
	bg_wait "$df" 10
	assert_eq "the orphan's run ends with the job's status" 0 "$RC"
	fc_gone "$jpid" 2 || fail "the orphan job is gone"
	assert_eq "the orphan's cgroup is removed" "" "$(ls -d "$cg" 2>/dev/null)"
	assert_no_run_cgroups "no run cgroup left"
}

# ----------------------------------------- 5. container, poststop never ran

reregister()
{
	local id cg1 cg2 cgid1 cgid2 rows ok1 ok2 d
	use_mode daemon
	MODE=reregister
	d=$(ct_dir rr)
	uniq_name allowed.test
	ok1=$UNAME
	ct_script rr <<EOF
wait_go
q gh nslookup github.com $SINK
q ok nslookup -type=a $ok1 $SINK
EOF
	runc_bundle rr net=host policy=deploy
	"$PY" - "$d/bundle/config.json" <<'EOF' || die "rr: poststop hook taken out of config.json"
import json, sys
c = json.load(open(sys.argv[1]))
del c["hooks"]["poststop"]
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
	assert_eq "rr: config.json has a prestart hook and no poststop" prestart \
		"$("$PY" -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["hooks"]))' \
			"$d/bundle/config.json")"
	runc_start rr
	id=$CT_LAST_ID
	cg1=$(ct_cgroup rr)
	cgid1=$(stat -c %i "$cg1")
	assert_attached "rr, first: programs attached to its cgroup" "$cg1"
	ct_go rr "$BG_PID"
	assert_ran rr
	expect_refused rr gh github.com
	expect_answer rr ok "$ok1" 127.0.0.3
	# Listed until the daemon's reaper sees its cgroup gone (about a second; sooner
	# under load): either way, not unregistered, as no poststop reached the daemon.
	rows=$(ct_status | grep -cF "$id ")
	[ "$rows" = 1 ] || ! grep -qF "container gone, forgotten id=$id " "$T/daemon.log" || rows=1
	assert_eq "rr: still registered after it ended, or reaped as gone (no poststop reached the daemon)" \
		1 "$rows"
	assert_file_lacks "rr: never unregistered" "container unregistered id=$(re_quote "$id") " \
		"$T/daemon.log"
	"${RUNC[@]}" delete "$id" >/dev/null 2>&1

	rm -rf "$d/shared"
	uniq_name allowed.test
	ok2=$UNAME
	ct_script rr <<EOF
wait_go
q gh nslookup github.com $SINK
q ok nslookup -type=a $ok2 $SINK
EOF
	runc_bundle rr net=host policy=deploy
	runc_start rr
	assert_eq "rr, second: the same id" "$id" "$CT_LAST_ID"
	cg2=$(ct_cgroup rr)
	cgid2=$(stat -c %i "$cg2")
	if [ "$cgid2" != "$cgid1" ]; then
		pass "rr, second: a new cgroup ($cg2, id $cgid2, was $cgid1)"
	else
		fail "rr, second: a new cgroup" "the same cgroup id $cgid1 at $cg2"
	fi
	assert_attached "rr, second: programs attached to the new cgroup" "$cg2"
	if wait_log "container gone, forgotten id=$(re_quote "$id") " "$T/daemon.log" 3; then
		pass "rr: the daemon logs that it dropped the old registration"
	else
		fail "rr: the daemon logs that it dropped the old registration" \
			"$(tail -n 5 "$T/daemon.log")"
	fi
	ct_go rr "$BG_PID"
	assert_ran rr
	expect_refused rr gh github.com
	ct_block rr gh github.com policy=deploy container="$id"
	expect_answer rr ok "$ok2" 127.0.0.3
	assert_dns_saw A "$ok2"
	assert_sink_quiet "rr: no query of the container reached the server it asked ($SINK)"
	assert_gone rr "$id"
}

embedded_kill
other_guard
reregister
daemon_stop_case
daemon_kill_case

# Control for every assert_sink_quiet above: the sink hears an unguarded query.
MODE=
uniq_name allowed.test
unguarded u-sink "$PY" "$T/fc.py" "dns,$SINK,$UNAME"
if pk_wait_file "$T/listen-sink.log" 1 && sleep 0.3 && grep -qaF "${UNAME%%.*}" "$T/listen-sink.log"; then
	pass "control: an unguarded query to $SINK:53 reaches the sink"
else
	fail "control: an unguarded query to $SINK:53 reaches the sink" "$(_show "$T/listen-sink.log")"
fi
e2e_done
