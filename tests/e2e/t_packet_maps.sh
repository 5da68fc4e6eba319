#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The packet-enforcement maps (docs/design.md, "BPF maps" and "Bounds"), read
# with bpftool:
#  - bounded: every map of the daemon's pinned set has a fixed max_entries
#    (socks is socket storage, freed with its socket); handed, learned,
#    clients and cg_guard are LRU.
#  - handed holds what DNS handed to each cgroup, keyed by its cgroup id (the
#    inode of its directory), until the answer's TTL, at least 60 s (dnsmasq's
#    TTL is 0 here, 90 for long.test); learned holds a blocked name's address
#    for its policy.
#  - the programs check the expiry: once a handed entry has expired (moved into
#    the past with bpftool) the address is refused again in allowlist mode, and
#    once a learned one has, the address is reachable again in blocklist mode.
#  - cleanup: when a run ends its handed entries go at once; a policy's cidrs
#    entries stay while another run uses it and go with its last run; learned
#    entries go with the policy's last run, also when the proxy's own lookup
#    of a blocked name is answered only after a short run ended.
#  - embedded: the maps a run's programs used are gone when the run is.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_packet.sh
. "$E2E_DIR/lib_packet.sh"
pk_init
pk_dns_start --host-record=long.test,127.0.0.12,90

# An upstream in front of dnsmasq that answers questions about github.com
# 0.5 s late and everything else at once: the proxy's own lookup of a blocked
# name outlives a short run.
cat >"$T/slow.py" <<'PYEOF'
import socket, sys, threading, time

up = ("127.0.0.1", int(sys.argv[2]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])


def relay(q, peer):
    if b"\x06github" in q.lower():
        time.sleep(0.5)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1)
    try:
        u.sendto(q, up)
        s.sendto(u.recv(4096), peer)
    except OSError:
        pass
    u.close()


s.settimeout(0.5)
end = time.monotonic() + 80
while time.monotonic() < end:
    try:
        q, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    threading.Thread(target=relay, args=(q, peer), daemon=True).start()
PYEOF
"$PY" "$T/slow.py" "$T/slow.port" "$DNS_PORT" 2>"$T/slow.err" &
E2E_PIDS+=("$!")
pk_wait_file "$T/slow.port" 5 || die "slow upstream started" "$(_show "$T/slow.err")"
UPSTREAM=127.0.0.1:$(cat "$T/slow.port")

printf 'mode allowlist\nallow allowed.test\nallow long.test\nallow-ip 127.0.0.4/32\nblock-ip 127.0.0.6/32\nblock-ip fd00::/8\n' \
	>"$CONF/policies/alc.policy"
printf 'mode blocklist\nblock github.com\nblock-ip 127.0.0.7/32\n' >"$CONF/policies/blc.policy"
pk_listen m 127.0.0.3 127.0.0.9 || die "listeners on 127.0.0.3, 127.0.0.9"
P=$LPORT

# mdump MAP: handed/learned as "ID SECONDS-LEFT" lines, cidrs as "POLICY FAMILY
# LEN VERDICT" lines, from the daemon's pinned maps.
mdump()
{
	local how=addr-ids
	[ "$1" = cidrs ] && how=cidr-ids
	"$PY" "$T/pk_bpf.py" "$how" pinned "$M/$1" 2>>"$T/bpftool.err" || echo "bpftool failed"
}

# count MAP ID: entries of MAP whose first field (cgroup or policy id) is ID.
count() { mdump "$1" | awk -v id="$2" '$1 == id' | wc -l; }

bounds()
{
	local m line type max
	for m in guards clients cg_guard cidrs handed learned events counters socks; do
		line=$("$PY" "$T/pk_bpf.py" show pinned "$M/$m" 2>>"$T/bpftool.err")
		type=${line% *}
		max=${line#* }
		case $m in
		socks) assert_eq "map socks is socket storage (bounded by the sockets)" sk_storage "$type" ;;
		*)
			if [[ $max =~ ^[0-9]+$ ]] && [ "$max" -gt 0 ] && [ "$max" -le 1048576 ]; then
				pass "map $m is bounded: $type, max_entries $max"
			else
				fail "map $m is bounded" "seen: '$line'"
			fi
			;;
		esac
		case $m in
		handed | learned | clients | cg_guard) assert_eq "map $m is LRU" lru_hash "$type" ;;
		esac
	done
}

daemon_maps()
{
	use_mode daemon
	M=/sys/fs/bpf/$(instance_of "$T/dstate")/maps
	bounds
	assert_eq "no cidrs, handed or learned entries before any run" "" \
		"$(mdump cidrs; mdump handed; mdump learned)"

	rm -f "$T"/m?-ready "$T"/m?-go
	pk_client_bg ma --policy alc -- dns,A,allowed.test dns,AAAA,allowed.test dns,A,other.test \
		dns,A,long.test "tcp,127.0.0.3,$P" touch,ma-ready wait,ma-go,20 "tcp,127.0.0.3,$P"
	local a=$BG_PID apid cga
	pk_ready ma ma-ready
	apid=$CPID cga=$(pk_cgid "$CPID")
	pk_client_bg mb --policy alc -- subcg,job dns,A,allowed.test touch,mb-ready wait,mb-go,20
	local b=$BG_PID cgb
	pk_ready mb mb-ready
	cgb=$(pk_cgid "$CPID")
	cgb=$(stat -c %i "$(dirname "$(pk_cg "$CPID")")") # mb moved into a child "job"
	pk_client_bg mc --policy blc -- tcp,127.0.0.9,9401,EPERM,3 touch,mc-ready wait,mc-go,20 \
		"tcp,127.0.0.9,$P"
	local c=$BG_PID cgc
	pk_ready mc mc-ready
	cgc=$(pk_cgid "$CPID")

	# Policy ids as the cidrs map has them: alc's is the one with an allow rule.
	local alc blc
	alc=$(mdump cidrs | awk '$4 == 1 { print $1; exit }')
	blc=$(mdump cidrs | awk -v a="$alc" '$1 != a { print $1; exit }')
	assert_match "cidrs holds the rules of both policies in use (alc=$alc blc=$blc)" \
		'^[0-9]+ [0-9]+$' "$alc $blc"
	assert_eq "cidrs: alc's 3 rules (v4 allow and block, v6 block)" \
		"$alc 2 32 1|$alc 2 32 2|$alc 10 8 2" \
		"$(mdump cidrs | awk -v a="$alc" '$1 == a' | sort -k2,2n -k4,4n | paste -sd '|')"
	assert_eq "cidrs: blc's rule" "$blc 2 32 2" "$(mdump cidrs | awk -v b="$blc" '$1 == b')"
	assert_eq "handed: run ma ($cga) got allowed.test's A and AAAA and long.test's, not other.test's" \
		"127.0.0.12 127.0.0.3 ::3" "$(mdump handed | awk -v id="$cga" '$1 == id { print $3 }' | sort | paste -sd ' ')"
	assert_eq "handed: run mb ($cgb) got one" 1 "$(count handed "$cgb")"
	assert_eq "handed: blocklist run mc ($cgc) got none (nothing shared)" 0 "$(count handed "$cgc")"
	local bad
	bad=$(mdump handed | awk '$3 != "127.0.0.12" && ($2 < 50 || $2 > 60)')
	assert_eq "handed entries expire in 50-60 s (TTL 0, floor 60 s)" "" "$bad"
	assert_eq "handed: long.test's entry expires in 80-90 s (its TTL, 90 s)" 1 \
		"$(mdump handed | awk '$3 == "127.0.0.12" && $2 >= 80 && $2 <= 90' | wc -l)"
	assert_match "learned: github.com's address for blc, expiring in 50-60 s" '^[1-9]' \
		"$(mdump learned | awk -v b="$blc" '$1 == b && $2 >= 50 && $2 <= 60' | wc -l)"

	"$PY" "$T/pk_bpf.py" expire pinned "$M/handed" "$cga" 2>>"$T/bpftool.err"
	touch "$T/ma-go"
	pk_bg_done ma "$a"
	expect_steps ma "dns A allowed.test NOERROR 127.0.0.3" "dns AAAA allowed.test NOERROR ::3" \
		"dns A other.test REFUSED" "dns A long.test NOERROR 127.0.0.12" "tcp 127.0.0.3 $P OK" \
		"touch ma-ready" "wait ma-go OK" "tcp 127.0.0.3 $P EPERM"
	CPID=$apid
	assert_packet ma 127.0.0.3 "$P" NotInAllowlist policy=alc firewallMethod=allowlist
	assert_eq "run ma ended: its handed entries are gone" 0 "$(count handed "$cga")"
	assert_eq "run ma ended: mb's handed entry stays" 1 "$(count handed "$cgb")"
	assert_eq "run ma ended: alc's cidrs stay (mb uses alc)" 3 "$(count cidrs "$alc")"

	touch "$T/mb-go"
	pk_bg_done mb "$b"
	assert_eq "run mb ended: its handed entries are gone" 0 "$(count handed "$cgb")"
	assert_eq "alc's last run ended: its cidrs are gone" 0 "$(count cidrs "$alc")"
	assert_eq "blc's cidrs stay (mc uses it)" 1 "$(count cidrs "$blc")"

	"$PY" "$T/pk_bpf.py" expire pinned "$M/learned" "$blc" 2>>"$T/bpftool.err"
	touch "$T/mc-go"
	pk_bg_done mc "$c"
	expect_steps mc "tcp 127.0.0.9 9401 EPERM" "touch mc-ready" "wait mc-go OK" \
		"tcp 127.0.0.9 $P OK"
	assert_eq "blc's last run ended: no cidrs, handed or learned entries left" "" \
		"$(mdump cidrs; mdump handed; mdump learned)"
	assert_eq "every run ended: guards is empty" "" "$("$PY" "$T/pk_bpf.py" u64s pinned "$M/guards")"
	local stale
	stale=$(for m in clients cg_guard; do
		"$PY" "$T/pk_bpf.py" u64s pinned "$M/$m" 2>>"$T/bpftool.err" |
			awk -v m="$m" -v ids=" $cga $cgb $cgc " 'index(ids, " " $2 " ") { print m ": " $0 }'
	done)
	if [ -z "$stale" ]; then
		pass "every run ended: no clients or cg_guard entry points at their cgroups"
	else
		fail "every run ended: no clients or cg_guard entry points at their cgroups" \
			"left (key, guard cgroup id):" "$stale"
	fi

	# A run shorter than the proxy's lookup of github.com (0.5 s here): the
	# answer comes back after blc's last guard went.
	local left
	dfrun quick --policy blc -- true
	assert_eq "quick: exit 0" 0 "$RC"
	sleep 1
	left=$(mdump learned | sed 's/^/learned: /'; mdump cidrs | sed 's/^/cidrs: /')
	if [ -z "$left" ]; then
		pass "a short blc run ended before its lookup came back: no entries left"
	else
		fail "a short blc run ended before its lookup came back: no entries left" \
			"left (policy id, seconds to expiry, address):" "$left"
	fi
}

embedded_maps()
{
	use_mode embedded
	rm -f "$T/me-ready" "$T/me-go"
	pk_client_bg me --policy alc -- dns,A,allowed.test touch,me-ready wait,me-go,20
	local e=$BG_PID ids id left=
	pk_ready me me-ready
	ids=$("$PY" "$T/pk_bpf.py" maps-of-cgroup "$(pk_cg "$CPID")" 2>>"$T/bpftool.err" |
		awk '{ print $2 }')
	# All of dnsguard.bpf.c's but meta and unix_deny (only connect_unix uses it, and
	# Debian 12's bpftool does not list that attach type), and .rodata.
	assert_match "me: its programs use 15 maps" '^15$' "$(echo "$ids" | grep -c .)"
	touch "$T/me-go"
	pk_bg_done me "$e"
	for id in $ids; do
		bpftool map show id "$id" >/dev/null 2>&1 && left+=" $id"
	done
	assert_eq "me: after the run none of its maps exists" "" "$left"
}

daemon_maps
embedded_maps
assert_no_run_cgroups "no run cgroup left"
e2e_done
