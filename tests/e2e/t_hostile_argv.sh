#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A process controls its argv and the name it asks for; neither may forge or
# split a log line. A blocked query from a command line holding a quote, a
# backslash, a tab and a newline yields exactly one block line whose cmd is
# the argv with those escaped; so does a query whose name holds such bytes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

EVIL=$'a"b\nWARN DNS BLOCKED forged=1 c\\d\te'

# assert_one_line NAME: the block lines of NAME's client: exactly one, and no
# line of the log starts with the text after the newline.
assert_one_line()
{
	local file
	file=$(block_log "$1")
	assert_eq "$1: exactly one block line for pid $CPID" 1 \
		"$(grep -a '^WARN DNS BLOCKED ' "$file" | grep -c " pid=$CPID ")"
	assert_file_lacks "$1: no forged line" '^WARN DNS BLOCKED forged' "$file"
}

scenario()
{
	# The extra arguments are ignored by dnsq.py but are part of its argv.
	guarded argv -- "$PY" "$E2E_DIR/dnsq.py" 127.0.0.53 github.com A "$EVIL"
	expect_dnsq argv REFUSED
	assert_block argv github.com
	assert_one_line argv

	# argv[0] itself.
	guarded argv0 -- bash -c 'exec -a "$0" dig +tries=1 +time=2 @127.0.0.53 github.com' "$EVIL"
	expect_dig argv0 REFUSED
	assert_block argv0 github.com cmd="$(logq "$EVIL +tries=1 +time=2 @127.0.0.53 github.com")"
	assert_one_line argv0

	# The name: its label bytes must come out escaped, as one token.
	guarded qname -- "$PY" "$E2E_DIR/dnsq.py" 127.0.0.53 "x y\"z"$'\n'"WARN DNS BLOCKED forged=2.github.com" A
	expect_dnsq qname REFUSED
	assert_block qname '~' domain='~^[^ "]+\.github\.com$'
	assert_one_line qname
}
for_each_mode scenario
e2e_done
