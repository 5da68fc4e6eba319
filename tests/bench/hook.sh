#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What depfence-hook adds to a container start: `runc run` of a busybox
# container that exits at once, without and with the prestart/poststop hook
# registering it with a depfenced (hyperfine, side by side). Loopback only.
# Usage: tests/bench/hook.sh [RUNS, default 30]
set -eu
runs=${1:-30}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bench_init hookbench

mkdir -p "$tmp/cfg/policies" "$tmp/plain/rootfs/bin"
printf 'mode blocklist\nblock github.com\n' >"$tmp/cfg/policies/deploy.policy"
cp "$(command -v busybox)" "$tmp/plain/rootfs/bin/busybox"
ln -s busybox "$tmp/plain/rootfs/bin/true"
(cd "$tmp/plain" && runc spec)
python3 - "$tmp" "$bin" <<'PY'
import json, os, sys, shutil
tmp, bin = sys.argv[1], sys.argv[2]
cfg = json.load(open(f"{tmp}/plain/config.json"))
cfg["process"]["terminal"] = False
cfg["process"]["args"] = ["/bin/true"]
json.dump(cfg, open(f"{tmp}/plain/config.json", "w"))
shutil.copytree(f"{tmp}/plain", f"{tmp}/hooked", symlinks=True)
cfg["annotations"] = {"io.depfence.policy": "deploy"}
hook = lambda stage: {"path": f"{bin}/depfence-hook",
                      "args": ["depfence-hook", "--state-dir", f"{tmp}/state", stage]}
cfg["hooks"] = {"prestart": [hook("prestart")], "poststop": [hook("poststop")]}
json.dump(cfg, open(f"{tmp}/hooked/config.json", "w"))
PY
"$bin/depfenced" --state-dir "$tmp/state" --config-dir "$tmp/cfg" --upstream 127.0.0.1:5421 \
	2>"$tmp/daemon.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$tmp/state/depfenced.sock" ] && break; sleep 0.05; done
hyperfine -N -w 3 -r "$runs" \
	-n "runc run (no hook)" "runc run --bundle $tmp/plain bench-plain" \
	-n "runc run (depfence-hook)" "runc run --bundle $tmp/hooked bench-hooked"
grep -c 'container registered' "$tmp/daemon.log" | sed 's/^/registrations seen by the daemon: /'
