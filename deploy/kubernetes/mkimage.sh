#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# mkimage.sh ROOT OUT.tar: the root filesystem of the DaemonSet's image, as a
# tarball for `podman import` (or `docker import`), from ROOT, a
# `make install DESTDIR=ROOT PREFIX=/usr/local` tree. No base image and no
# network: the image holds the three binaries in /usr/local/bin, the shared
# libraries and the loader they were linked with (from ldd, at their paths),
# util-linux's nsenter (the daemon enters the host's cgroup namespace with it:
# busybox's cannot), busybox-static for /bin/sh and the hook installer's
# applets (cp, mv, awk...), an ldd that asks the loader (the installer copies
# the hook's libraries onto the host with it), and the policies.
set -eu
root=$1 out=$2
[ -x "$root/usr/local/bin/depfence" ] || { echo "mkimage: no install tree in $root" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "mkimage: /bin/busybox missing (busybox-static)" >&2; exit 1; }
[ -x /usr/bin/nsenter ] || { echo "mkimage: /usr/bin/nsenter missing (util-linux)" >&2; exit 1; }
img=$(mktemp -d "${TMPDIR:-/tmp}/depfence-image.XXXXXX")
trap 'rm -rf "$img"' EXIT
mkdir -p "$img/usr/local/bin" "$img/bin" "$img/usr/bin" "$img/etc/depfence" \
	"$img/proc" "$img/sys" "$img/dev" "$img/tmp" "$img/run" "$img/host"
chmod 1777 "$img/tmp"
bins=
for b in depfence depfence-hook; do
	cp "$root/usr/local/bin/$b" "$img/usr/local/bin/$b"
	bins="$bins $img/usr/local/bin/$b"
done
# The manifests name /usr/local/bin/depfenced: one directory for all three.
cp "$root/usr/local/sbin/depfenced" "$img/usr/local/bin/depfenced"
bins="$bins $img/usr/local/bin/depfenced"
cp /usr/bin/nsenter "$img/usr/bin/nsenter"
bins="$bins $img/usr/bin/nsenter"
cp -R "$root/etc/depfence/." "$img/etc/depfence/"
interp=
# shellcheck disable=SC2086 # one word per binary
if ldd $bins | grep -q 'not found'; then
	echo "mkimage: a library is missing:" >&2
	ldd $bins | grep 'not found' >&2
	exit 1
fi
for lib in $(ldd $bins | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' | sort -u); do
	mkdir -p "$img$(dirname "$lib")"
	cp -L "$lib" "$img$lib"
	case $lib in */ld-linux*) interp=$lib ;; esac
done
[ -n "$interp" ] || { echo "mkimage: no loader in ldd's output" >&2; exit 1; }
cp /bin/busybox "$img/bin/busybox"
for a in sh awk basename cat chmod cp echo ls mkdir mv printf rm sleep test; do
	ln -s busybox "$img/bin/$a"
done
printf '#!/bin/sh\n# ldd as glibc'"'"'s: the loader lists what a binary loads.\nexec %s --list "$@"\n' \
	"$interp" >"$img/usr/bin/ldd"
chmod 0755 "$img/usr/bin/ldd"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$img/etc/passwd"
printf 'root:x:0:\n' >"$img/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$img" -cf "$out" .
echo "image: $out"
