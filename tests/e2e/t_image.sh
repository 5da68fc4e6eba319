#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The DaemonSet's image (make image: deploy/kubernetes/mkimage.sh), run as the
# DaemonSet runs it, with podman standing in for the kubelet: the three
# binaries load from the image's own libraries; the init container's hook
# installer (from the ConfigMap) lays out a hook that runs on the host; and
# depfenced started with the DaemonSet's command (nsenter into the host's
# cgroup namespace), privileged, host pid and network, bpffs, cgroup, state
# and policy mounts, guards a depfence run on the host: github.com refused
# with the block line in the container's log, an allowed name answered by the
# upstream, the liveness probe (depfence status in the container) passing,
# and SIGTERM (podman stop) ending it with status 0.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=lib_containers.sh
. "$(dirname "$0")/lib_containers.sh"
e2e_init
ct_init
dns_start
REPO=$(cd "$E2E_DIR/../.." && pwd)
command -v podman >/dev/null || die "podman installed"
printf '[containers]\ndefault_ulimits = []\n' >"$T/containers.conf"
export CONTAINERS_CONF=$T/containers.conf
mkdir -p "$T/nohooks"
PODMAN=(podman --root "$T/podman/root" --runroot "$T/podman/run" --tmpdir "$T/podman/tmp"
	--storage-driver vfs --events-backend none --runtime runc --cgroup-manager cgroupfs
	--hooks-dir "$T/nohooks")
IMG=localhost/depfence-image-e2e:$$
DS=depfenced-e2e-$$

make -s -C "$REPO" --no-print-directory BUILD="$DEPFENCE_BIN" IMAGE_ROOT="$T/imgroot" \
	IMAGE_TAR="$T/image.tar" IMAGE= -o "$DEPFENCE_BIN/depfenced" -o "$DEPFENCE_BIN/depfence" \
	-o "$DEPFENCE_BIN/depfence-hook" image >"$T/make.out" 2>&1
assert_eq "make image: exit 0" 0 "$?"
"${PODMAN[@]}" import -q "$T/image.tar" "$IMG" >/dev/null 2>"$T/import.err" ||
	die "podman import of the image" "$(_show "$T/import.err")"
# (The harness greps every file in $T for the daemon's log lines; not binaries.)
rm -f "$T/image.tar"

# The binaries load from the image alone (nothing of the host's /usr in it).
for b in depfenced depfence depfence-hook; do
	timeout 30 "${PODMAN[@]}" run --rm "$IMG" "/usr/local/bin/$b" --help >"$T/$b-help.out" 2>&1
	assert_eq "image: $b --help exits 0" 0 "$?"
	assert_file_has "image: $b prints its usage" "^Usage: $b" "$T/$b-help.out"
done

# The init container: the ConfigMap's installer, in the image, onto a host dir.
"$PY" "$E2E_DIR/k8s_check.py" "$REPO/deploy/kubernetes" "$T/k8s" >/dev/null 2>&1
if [ -s "$T/k8s/install-hook.sh" ]; then
	mkdir -p "$T/hh"
	timeout 30 "${PODMAN[@]}" run --rm -v "$T/k8s:/etc/depfence-installer:ro" -v "$T/hh:$T/hh" \
		-e HOST_ROOT= -e INSTALL_DIR="$T/hh/opt/depfence" -e HOOKS_DIR="$T/hh/hooks.d" \
		-e HOOK_BIN=/usr/local/bin/depfence-hook "$IMG" \
		/bin/sh /etc/depfence-installer/install-hook.sh >"$T/install.out" 2>&1
	assert_eq "the hook installer runs in the image: exit 0" 0 "$?"
	env -i "$T/hh/opt/depfence/bin/depfence-hook" --help >"$T/hh-help.out" 2>&1
	assert_eq "the hook it installed runs on the host with the image's libraries" 0 "$?"
	assert_file_has "the installed hook is depfence-hook" "^Usage: depfence-hook" "$T/hh-help.out"
else
	fail "install-hook.sh extracted from the ConfigMap"
fi

# depfenced as the DaemonSet's container runs it. The DaemonSet enters pid 1's
# cgroup namespace (the node's init); pid 1 of these machines refuses even root
# that (/proc/1/ns is unreadable), so the test names its own shell, which is in
# the host's cgroup namespace too: the same nsenter, the same namespace.
cp "$REPO/deploy/policies/deploy.policy" "$CONF/policies/deploy.policy"
E2E_INSTANCES+=("$(instance_of "$T/dstate")")
timeout 60 "${PODMAN[@]}" run -d --name "$DS" --privileged --pid host --network host \
	-v /sys/fs/bpf:/sys/fs/bpf -v /sys/fs/cgroup:/sys/fs/cgroup -v "$T/dstate:$T/dstate" \
	-v "$CONF/policies:/etc/depfence/policies:ro" "$IMG" \
	nsenter --cgroup=/proc/$$/ns/cgroup -- /usr/local/bin/depfenced --state-dir "$T/dstate" \
	--config-dir /etc/depfence --upstream "$UPSTREAM" >"$T/ds.id" 2>"$T/ds.err"
assert_eq "the DaemonSet's container starts" 0 "$?"
# Without its socket a run would be embedded and prove nothing of the image.
wait_exists "$T/dstate/depfenced.sock" 15 || die "depfenced in the image made its socket" \
	"$(timeout 10 "${PODMAN[@]}" logs "$DS" 2>&1 | tail -n 8)"

# A job on the host, guarded by the daemon in the container.
STATE=$T/dstate
BLOCK_LOG_FILE=$T/image-daemon.log
DIG=(dig +tries=1 +time=3 @127.0.0.53)
guarded blocked --policy deploy -- "${DIG[@]}" github.com A
expect_dig blocked REFUSED
for ((i = 0; i < 20; i++)); do
	timeout 10 "${PODMAN[@]}" logs "$DS" >"$BLOCK_LOG_FILE" 2>&1
	grep -q 'domain=github.com' "$BLOCK_LOG_FILE" && break
	sleep 0.1
done
assert_block blocked github.com policy=deploy \
	rule="deploy.policy:$(grep -n '^block github.com$' "$CONF/policies/deploy.policy" | cut -d: -f1)"
guarded allowed --policy deploy -- "${DIG[@]}" allowed.test A
expect_dig allowed NOERROR 127.0.0.3
assert_file_has "the container's daemon started the runs" "run started id=.* policy=deploy" \
	"$BLOCK_LOG_FILE"
timeout 20 "${PODMAN[@]}" exec "$DS" /usr/local/bin/depfence status --state-dir "$T/dstate" \
	>"$T/probe.out" 2>&1
assert_eq "the liveness probe (depfence status in the container): exit 0" 0 "$?"

timeout 30 "${PODMAN[@]}" stop -t 10 "$DS" >/dev/null 2>&1
st=$(timeout 10 "${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$DS" 2>&1)
assert_eq "SIGTERM (podman stop) ends depfenced with status 0" 0 "$st"
timeout 10 "${PODMAN[@]}" logs "$DS" >"$BLOCK_LOG_FILE" 2>&1
timeout 30 "${PODMAN[@]}" rm -f "$DS" >/dev/null 2>&1
e2e_done
