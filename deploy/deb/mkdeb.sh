#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# mkdeb.sh ROOT VERSION OUTDIR BINARY...: package ROOT (a `make install
# DESTDIR=ROOT PREFIX=/usr` tree) as OUTDIR/depfence_VERSION_ARCH.deb.
# Depends names the package of every shared library the binaries load (ldd,
# then dpkg -S), at least the version installed here. No maintainer scripts:
# installing starts nothing (systemctl enable --now depfenced is the admin's).
set -eu
root=$1 version=$2 out=$3
shift 3
arch=$(dpkg --print-architecture)

deps=
for lib in $(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do
	pkg=
	for p in "$lib" "$(realpath "$lib")" "/usr$lib"; do
		pkg=$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$pkg" ] && break
	done
	[ -n "$pkg" ] || { echo "mkdeb: no package owns $lib" >&2; exit 1; }
	ver=$(dpkg-query -W -f='${Version}' "$pkg")
	deps="$deps${deps:+, }$pkg (>= ${ver%%-*})"
done
deps=$(printf '%s\n' "$deps" | tr ',' '\n' | sed 's/^ //' | sort -u | paste -sd, - | sed 's/,/, /g')

mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOC
Package: depfence
Version: $version
Architecture: $arch
Maintainer: depfence developers <depfence@localhost>
Installed-Size: $size
Depends: $deps
Section: admin
Priority: optional
Homepage: https://localhost/depfence
Description: eBPF DNS guard for deploy jobs and containers
 Runs a deploy job in its own cgroup and, with eBPF, sends every DNS query it
 makes to a policy-enforcing proxy: blocked names are refused at once and every
 refusal names the process that asked. Includes the daemon (depfenced and its
 systemd unit), the depfence command, and the OCI hook for podman and CRI-O.
EOC
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
	xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
deb=$out/depfence_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "deb: $deb"
