#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make demo: a guarded deploy script on the embedded default policy (no daemon).
# The upstream is a dnsmasq on loopback; nothing leaves this machine.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/depfence-demo.XXXXXX)
port=53$((RANDOM % 90 + 10))
cleanup() {
	[ -n "${dnsmasq_pid:-}" ] && kill "$dnsmasq_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

dnsmasq --no-daemon --no-resolv --no-hosts --port="$port" --listen-address=127.0.0.1 \
	--bind-interfaces --pid-file= --address=/artifacts.internal.example/127.0.0.7 \
	--address=/github.com/127.0.0.9 >"$tmp/dnsmasq.log" 2>&1 &
dnsmasq_pid=$!
for _ in $(seq 50); do
	dig +short +tries=1 +time=1 -p "$port" @127.0.0.1 artifacts.internal.example >/dev/null 2>&1 && break
	sleep 0.1
done

# The deploy's resolvers read /etc/resolv.conf; give this demo one on loopback so
# that even an unguarded query could not leave the machine.
echo "nameserver 127.0.0.53" >"$tmp/resolv.conf"

cat <<MSG
\$ depfence run --upstream 127.0.0.1:$port -- deploy/demo/deploy.sh
   (no daemon running: depfence serves as the proxy itself, built-in default policy)

MSG
start=$(date +%s%N)
set +e
unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh \
	"$tmp/resolv.conf" "$top/build/depfence" run --upstream "127.0.0.1:$port" -- \
	"$top/deploy/demo/deploy.sh" 2> >(tee "$tmp/stderr.log" >&2)
status=$?
set -e
end=$(date +%s%N)
sleep 0.1 # let tee finish
echo
echo "deploy.sh exited $status; the whole guarded run took $(((end - start) / 1000000)) ms."
echo "Each dependency caught, once (every refused lookup logs its own line):"
grep 'DNS BLOCKED' "$tmp/stderr.log" | awk '!seen[$7]++' | sed 's/^/  /'
grep -q 'domain=github.com ' "$tmp/stderr.log" &&
	grep -q 'domain=api.github.com ' "$tmp/stderr.log" &&
	grep -q 'domain=codeload.github.com ' "$tmp/stderr.log" || {
	echo "demo: expected three block lines, see above" >&2
	exit 1
}
