#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfenced under systemd logs to journald with priorities: when JOURNAL_STREAM
# names the very stream its stderr is (systemd sets it for the stream it
# connected), each logfmt line starts with the syslog priority, which journald
# strips into PRIORITY= ("<4>WARN DNS BLOCKED ..." becomes a warning). Here a
# file stands in for the stream. With JOURNAL_STREAM naming something else (a
# redirect of the stream), no prefix: the line shape stays as the contract says.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start
printf 'mode blocklist\nblock github.com\n' >"$CONF/policies/deploy.policy"

# start_journal LOG STREAM: depfenced with stderr to LOG and JOURNAL_STREAM=STREAM.
start_journal()
{
	local i sock=$T/dstate/depfenced.sock
	E2E_INSTANCES+=("$(instance_of "$T/dstate")")
	JOURNAL_STREAM=$2 "$DEPFENCED" --state-dir "$T/dstate" --config-dir "$CONF" \
		--upstream "$UPSTREAM" 2>>"$1" &
	DAEMON_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		sleep 0.1
	done
	die "depfenced came up" "$(_show "$1")"
}

for how in journal redirect; do
	log=$T/$how.log
	: >"$log"
	if [ $how = journal ]; then stream=$(stat -c '%d:%i' "$log"); else stream=1:1; fi
	start_journal "$log" "$stream"
	STATE=$T/dstate MODE=daemon
	BLOCK_LOG_FILE=$log guarded q-$how --policy deploy -- dig +tries=1 +time=2 @127.0.0.53 github.com
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	rm -f "$T/dstate/depfenced.sock"
	if [ $how = journal ]; then
		assert_file_has "journal: the ready line is priority 6 (info)" '^<6>INFO depfenced ready ' "$log"
		assert_file_has "journal: the block line is priority 4 (warning)" \
			'^<4>WARN DNS BLOCKED reason=FromDNSRequest blocked=true blockedAt=dns domain=github.com ' "$log"
		assert_file_lacks "journal: every line has its priority" '^[^<]' "$log"
	else
		assert_file_has "redirect: the block line as the contract says" \
			'^WARN DNS BLOCKED reason=FromDNSRequest blocked=true blockedAt=dns domain=github.com ' "$log"
		assert_file_lacks "redirect: no priority prefix" '^<[0-9]>' "$log"
	fi
done
e2e_done
