# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Checks for the end-to-end tests, sourced by lib.sh: generic assertions, what
# a client saw (dig and dnsq.py output), and the block line (logfmt parsing,
# field by field comparison).

# ---------------------------------------------------------------- assertions

# Every message names the mode it ran in, so a failure says which path broke.
_what() { printf '%s%s' "${MODE:+[$MODE] }" "$1"; }

pass() { printf 'ok   %s\n' "$(_what "$1")"; }

# fail DESC [DETAIL...]: one FAIL line, then each detail indented.
fail()
{
	E2E_FAILS=$((E2E_FAILS + 1))
	printf 'FAIL %s\n' "$(_what "$1")"
	shift
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/       /'
	done
}

assert_eq()
{
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "seen:     $3"; fi
}

# assert_match DESC ERE VALUE
assert_match()
{
	if [[ $3 =~ $2 ]]; then pass "$1"; else fail "$1" "expected to match: $2" "seen: $3"; fi
}

# assert_lt DESC LIMIT VALUE (integers)
assert_lt()
{
	if [[ $3 =~ ^[0-9]+$ ]] && [ "$3" -lt "$2" ]; then
		pass "$1 ($3 < $2)"
	else
		fail "$1" "expected: < $2" "seen:     $3"
	fi
}

# assert_gt DESC MIN VALUE: VALUE is a number above MIN.
assert_gt()
{
	if [[ $3 =~ ^[0-9]+$ ]] && [ "$3" -gt "$2" ]; then
		pass "$1 ($3 > $2)"
	else
		fail "$1" "expected: > $2" "seen:     $3"
	fi
}

# A dnsmasq query log (*dnsmasq*.log) names what the proxy forwarded, in the
# random case of DNS 0x20: the asserts below match it without case.
_ere_opt() { case ${1##*/} in *dnsmasq*.log) printf %s -Ei ;; *) printf %s -E ;; esac; }

# assert_file_has DESC ERE FILE
assert_file_has()
{
	if grep "$(_ere_opt "$3")" -q -e "$2" "$3" 2>/dev/null; then
		pass "$1"
	else
		fail "$1" "expected a line matching: $2" "in $3, which holds:" "$(_show "$3")"
	fi
}

# assert_file_lacks DESC ERE FILE
assert_file_lacks()
{
	if ! grep "$(_ere_opt "$3")" -q -e "$2" "$3" 2>/dev/null; then
		pass "$1"
	else
		fail "$1" "expected no line matching: $2" "seen:" \
			"$(grep "$(_ere_opt "$3")" -e "$2" "$3" | head -n 5)"
	fi
}

_show() { if [ -s "$1" ]; then head -n "${2:-8}" "$1"; else echo "(empty)"; fi; }

die()
{
	fail "$1" "${@:2}"
	exit 1
}

# ------------------------------------------------------------ client output

# dig_status NAME: the rcode in dig's header line of $T/NAME.out, or "none".
dig_status()
{
	local s
	s=$(sed -n 's/.*->>HEADER<<-.* status: \([A-Z]*\),.*/\1/p' "$(rf "$1" out)" | head -n 1)
	echo "${s:-none}"
}

# dig_answers NAME: the addresses of dig's answer section, space-separated.
dig_answers()
{
	awk '/^;; ANSWER SECTION:/ { a = 1; next } /^$/ { a = 0 } a && ($4 == "A" || $4 == "AAAA") { printf "%s%s", s, $5; s = " " }' \
		"$(rf "$1" out)"
}

# dnsq_status / dnsq_answers NAME: the same for dnsq.py's output.
dnsq_status() { sed -n 's/^status: //p' "$(rf "$1" out)" | head -n 1; }
dnsq_answers() { sed -n 's/^answer: //p' "$(rf "$1" out)" | paste -sd ' '; }

# expect_dig NAME RCODE [ANSWERS]: what a dig client saw.
expect_dig()
{
	local st
	st=$(dig_status "$1")
	if [ "$st" = "$2" ] && { [ $# -lt 3 ] || [ "$(dig_answers "$1")" = "$3" ]; }; then
		pass "$1: client got $2${3:+ $3}"
	else
		fail "$1: client got $2${3:+ $3}" "command: $(cat "$(rf "$1" cmd)")" \
			"seen: status $st, answers '$(dig_answers "$1")', depfence exit $RC" \
			"output:" "$(_show "$(rf "$1" out)")" "stderr:" "$(_show "$(rf "$1" err)")"
	fi
}

expect_dnsq()
{
	local st
	st=$(dnsq_status "$1")
	if [ "$st" = "$2" ] && { [ $# -lt 3 ] || [ "$(dnsq_answers "$1")" = "$3" ]; }; then
		pass "$1: client got $2${3:+ $3}"
	else
		fail "$1: client got $2${3:+ $3}" "command: $(cat "$(rf "$1" cmd)")" \
			"seen: status '$st', answers '$(dnsq_answers "$1")', depfence exit $RC" \
			"output:" "$(_show "$(rf "$1" out)")" "stderr:" "$(_show "$(rf "$1" err)")"
	fi
}

# --------------------------------------------------------------- block line

# re_quote STRING: an ERE that matches STRING literally.
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }

# logq STRING: STRING as the block line quotes it (without the outer quotes).
logq()
{
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\r'/\\r}
	s=${s//$'\t'/\\t}
	printf '%s' "$s"
}

# parse_fields LINE: the key=value pairs of a logfmt line into the assoc array
# LF, values unquoted but escapes kept. Read left to right, so a key=value
# inside a quoted value cannot pose as a field.
parse_fields()
{
	local s=$1
	local re_q='^([A-Za-z_]+)="(([^"\\]|\\.)*)"(.*)$'
	local re_b='^([A-Za-z_]+)=([^ ]*)(.*)$'
	local re_w='^[^ ]+(.*)$'
	LF=()
	while :; do
		s=${s#"${s%%[! ]*}"}
		[ -n "$s" ] || break
		if [[ $s =~ $re_q ]]; then
			LF[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
			s=${BASH_REMATCH[4]}
		elif [[ $s =~ $re_b ]]; then
			LF[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
			s=${BASH_REMATCH[3]}
		elif [[ $s =~ $re_w ]]; then
			s=${BASH_REMATCH[1]}
		else
			break
		fi
	done
}
declare -A LF

# find_line KIND FILE PID [KEY VALUE]: the first "WARN KIND BLOCKED" line (KIND
# is DNS or PACKET) for PID, and with KEY=VALUE if given, in FILE; in BLOCK_LINE,
# its fields in LF. Waits up to 3 s for it (the daemon's log is written async).
find_line()
{
	local i line
	BLOCK_LINE=
	for ((i = 0; i < 60; i++)); do
		while IFS= read -r line; do
			parse_fields "$line"
			[ "${LF[pid]:-}" = "$3" ] || continue
			[ $# -lt 5 ] || [ "${LF[$4]:-}" = "$5" ] || continue
			BLOCK_LINE=$line
			return 0
		done < <(grep -a "^WARN $1 BLOCKED " "$2" 2>/dev/null)
		sleep 0.05
	done
	return 1
}

# _check_line KIND NAME WHAT KEY: run NAME logged a KIND line whose fields are
# those of the global EXP (EXP[pid] and EXP[KEY] select the line). A value of
# the form ~ERE is matched instead of compared.
declare -A EXP
_check_line()
{
	local kind=$1 name=$2 what=$3 sel=$4 file key want bad=()
	file=$(block_log "$name")
	if ! find_line "$kind" "$file" "${EXP[pid]}" "$sel" "${EXP[$sel]}"; then
		fail "$name: $kind BLOCKED line for $what (pid ${EXP[pid]}, $sel ${EXP[$sel]})" \
			"no such line in $file; $kind BLOCKED lines there:" \
			"$(grep -a "$kind BLOCKED" "$file" | tail -n 8)"
		return
	fi
	for key in "${!EXP[@]}"; do
		want=${EXP[$key]}
		if [ "${want:0:1}" = "~" ]; then
			[[ ${LF[$key]-<absent>} =~ ${want:1} ]] ||
				bad+=("$key: expected to match ${want:1}, seen ${LF[$key]-<absent>}")
		elif [ "${LF[$key]-<absent>}" != "$want" ]; then
			bad+=("$key: expected $want, seen ${LF[$key]-<absent>}")
		fi
	done
	if [ ${#bad[@]} -eq 0 ]; then
		pass "$name: $kind BLOCKED $what pid=${EXP[pid]} policy=${EXP[policy]} firewallMethod=${EXP[firewallMethod]} blocked=${EXP[blocked]}"
	else
		fail "$name: $kind BLOCKED line for $what" "${bad[@]}" "line: $BLOCK_LINE"
	fi
}

# _exp_common NAME KEY=VALUE...: the fields every block line has, for NAME's
# client, then the caller's overrides.
_exp_common()
{
	local kv
	EXP[pid]=${CPID:-?}
	EXP[cmd]=$(logq "$(cat "$(rf "$1" cmd)")")
	EXP[blocked]=true
	EXP[firewallMethod]=blocklist
	EXP[policy]=default
	shift
	for kv in "$@"; do
		EXP[${kv%%=*}]=${kv#*=}
	done
}

# assert_block NAME DOMAIN [KEY=VALUE...]: run NAME logged a DNS BLOCKED line
# for DOMAIN from its client, with these fields. Defaults: pid=the client's
# pid, cmd=its command line, blocked=true, firewallMethod=blocklist,
# policy=default, qtype=A.
assert_block()
{
	local name=$1 domain=$2
	shift 2
	EXP=([domain]=$domain [qtype]=A [reason]=FromDNSRequest [blockedAt]=dns)
	_exp_common "$name" "$@"
	_check_line DNS "$name" "domain=${EXP[domain]}" qtype
}

# assert_packet NAME IP PORT REASON [KEY=VALUE...]: run NAME logged a PACKET
# BLOCKED line for its client's connect to IP:PORT. Defaults as assert_block,
# and proto=tcp.
assert_packet()
{
	local name=$1
	EXP=([ip]=$2 [port]=$3 [reason]=$4 [proto]=tcp [blockedAt]=packet)
	shift 4
	_exp_common "$name" "$@"
	_check_line PACKET "$name" "ip=${EXP[ip]} port=${EXP[port]} reason=${EXP[reason]}" port
}

# assert_no_block NAME: run NAME's client logged no block line.
assert_no_block()
{
	local file
	file=$(block_log "$1")
	if [ -z "${CPID:-}" ]; then
		fail "$1: no block line" "the client never started (no pid file)" "$(_show "$(rf "$1" err)")"
		return
	fi
	sleep 0.1
	if grep -a '^WARN DNS BLOCKED ' "$file" 2>/dev/null | grep -q " pid=$CPID "; then
		fail "$1: no block line" "seen: $(grep -a " pid=$CPID " "$file")"
	else
		pass "$1: no block line"
	fi
}
