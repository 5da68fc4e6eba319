#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A deploy script with the three dependencies of docs/scenarios: each must fail
# fast under depfence, and the block line must name the process that asked.
here=$(dirname "$0")

echo "== 1. direct: the script downloads a release from github.com"
if curl -fsSL -m 10 -o /dev/null https://github.com/acme/tool/releases/download/v1.2/tool.tgz; then
	echo "   downloaded (unexpected)"
else
	echo "   curl failed with status $? (resolver refused github.com)"
fi

echo "== 2. hidden: a local tool checks github.com for updates on its own"
"$here/acme-tool" --version

echo "== 3. transient: a migration tool runs a helper that fetches a binary"
"$here/migrate" up

echo "== a permitted name still resolves"
nslookup artifacts.internal.example | sed -n 's/^Address: /   artifacts.internal.example -> /p'
