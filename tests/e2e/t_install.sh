#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make install / uninstall / deb, from the binaries in DEPFENCE_BIN (never
# rebuilt: make -o). install into a temp DESTDIR with PREFIX=/usr lays every
# file with its mode, the binaries unchanged, hooks.d JSON naming
# /usr/bin/depfence-hook, the unit naming /usr/sbin/depfenced, man pages that
# render without a warning, policies that load; a second install keeps an
# edited default.policy; uninstall removes all but /etc/depfence. The unit
# passes systemd-analyze verify (installed under a real prefix, so ExecStart=
# and man: exist). The .deb: control fields, Depends that name each library's
# package and are installed here, the same files as install; dpkg -i into a
# temp root (--force-depends, its own empty database), then -P leaves nothing.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
REPO=$(cd "$E2E_DIR/../.." && pwd)
MK=(make -s -C "$REPO" --no-print-directory BUILD="$DEPFENCE_BIN"
	-o "$DEPFENCE_BIN/depfenced" -o "$DEPFENCE_BIN/depfence" -o "$DEPFENCE_BIN/depfence-hook")
D=$T/dest

# The layout, as `find -printf '%m %p'` prints it under DESTDIR.
expected_files()
{
	cat <<EOS
644 etc/depfence/policies/default.policy
755 usr/bin/depfence
755 usr/bin/depfence-hook
644 usr/lib/systemd/system/depfenced.service
755 usr/sbin/depfenced
644 usr/share/containers/oci/hooks.d/depfence-poststop.json
644 usr/share/containers/oci/hooks.d/depfence-prestart.json
644 usr/share/doc/depfence/examples/allowlist.policy
644 usr/share/doc/depfence/examples/audit.policy
644 usr/share/doc/depfence/examples/deploy.policy
644 usr/share/man/man5/depfence.policy.5.gz
644 usr/share/man/man8/depfence-hook.8.gz
644 usr/share/man/man8/depfence.8.gz
644 usr/share/man/man8/depfenced.8.gz
EOS
}
files_under() { (cd "$1" && find . -path ./DEBIAN -prune -o -path ./var -prune -o -type f -printf '%m %P\n' | sort -k2); }

# ------------------------------------------------------------------ install
"${MK[@]}" install DESTDIR="$D" PREFIX=/usr >"$T/install.out" 2>&1 ||
	fail "make install: exit 0" "$(_show "$T/install.out")"
assert_eq "install lays exactly the expected files, with their modes" \
	"$(expected_files)" "$(files_under "$D")"
for b in usr/sbin/depfenced usr/bin/depfence usr/bin/depfence-hook; do
	if cmp -s "$D/$b" "$DEPFENCE_BIN/${b##*/}"; then
		pass "$b is the built binary"
	else
		fail "$b is the built binary"
	fi
done
for j in "$D"/usr/share/containers/oci/hooks.d/*.json; do
	assert_eq "${j##*/}: hook path is PREFIX/bin/depfence-hook" /usr/bin/depfence-hook \
		"$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["hook"]["path"])' "$j" 2>&1)"
	assert_eq "${j##*/}: otherwise as deploy/hooks.d" \
		"$(sed '/"path"/d' "$REPO/deploy/hooks.d/${j##*/}")" "$(sed '/"path"/d' "$j")"
done
unit=$D/usr/lib/systemd/system/depfenced.service
assert_file_has "unit: ExecStart=PREFIX/sbin/depfenced" '^ExecStart=/usr/sbin/depfenced$' "$unit"
assert_file_has "unit: Type=notify" '^Type=notify$' "$unit"
assert_file_lacks "unit: no placeholder left" '@[A-Z]+@' "$unit"
for m in "$D"/usr/share/man/man?/*.gz; do
	out=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >"$T/man.txt")
	assert_eq "man -l ${m##*/}: no warnings" "" "$out"
	assert_file_has "man -l ${m##*/}: has SYNOPSIS, EXIT STATUS or FILES, EXAMPLES" '^EXAMPLES' "$T/man.txt"
done
# Every shipped policy loads (a run with it starts and ends).
mkdir -p "$T/pconf/policies"
cp "$D"/etc/depfence/policies/*.policy "$D"/usr/share/doc/depfence/examples/*.policy "$T/pconf/policies/"
for p in default deploy allowlist audit; do
	"$DEPFENCE" run --state-dir "$T/estate" --config-dir "$T/pconf" --upstream 127.0.0.1:9 \
		--policy "$p" -- true 2>"$T/policy-$p.err"
	assert_eq "policy $p loads" 0 "$?"
done

# An edited default.policy survives a second install.
echo "block edited.example" >>"$D/etc/depfence/policies/default.policy"
"${MK[@]}" install DESTDIR="$D" PREFIX=/usr >"$T/install2.out" 2>&1
assert_file_has "second install keeps the edited default.policy" 'edited\.example' \
	"$D/etc/depfence/policies/default.policy"

# ---------------------------------------------------------------- uninstall
"${MK[@]}" uninstall DESTDIR="$D" PREFIX=/usr >"$T/uninstall.out" 2>&1 ||
	fail "make uninstall: exit 0" "$(_show "$T/uninstall.out")"
assert_eq "uninstall leaves only /etc/depfence" "644 etc/depfence/policies/default.policy" \
	"$(files_under "$D")"
assert_file_has "uninstall says it left /etc/depfence" 'left .*/etc/depfence' "$T/uninstall.out"
assert_eq "uninstall removes the doc directory" no "$([ -e "$D/usr/share/doc/depfence" ] && echo yes || echo no)"

# ------------------------------------------------------ systemd-analyze verify
if command -v systemd-analyze >/dev/null; then
	P=$T/prefix
	"${MK[@]}" install PREFIX="$P/usr" SYSCONFDIR="$P/etc" >"$T/install3.out" 2>&1
	MANPATH=$P/usr/share/man systemd-analyze verify "$P/usr/lib/systemd/system/depfenced.service" \
		>"$T/verify.out" 2>&1
	assert_eq "systemd-analyze verify depfenced.service: exit 0" "0 " "$? $(cat "$T/verify.out")"
	"${MK[@]}" uninstall PREFIX="$P/usr" SYSCONFDIR="$P/etc" >/dev/null 2>&1
else
	echo "# skip: no systemd-analyze (make deps installs package systemd)"
fi

# ---------------------------------------------------------------------- deb
"${MK[@]}" deb DEB_ROOT="$T/debroot" DEB_OUT="$T" >"$T/deb.out" 2>&1 ||
	fail "make deb: exit 0" "$(_show "$T/deb.out")"
deb=$(compgen -G "$T/depfence_*_$(dpkg --print-architecture).deb")
assert_match "make deb: depfence_VERSION_ARCH.deb" "depfence_[0-9.]+_[a-z0-9]+\.deb$" "$deb"
dpkg-deb --field "$deb" Package Architecture >"$T/fields"
assert_eq "control: Package, Architecture" \
	"Package: depfence
Architecture: $(dpkg --print-architecture)" "$(cat "$T/fields")"
depends=$(dpkg-deb --field "$deb" Depends)
for lib in $(ldd "$DEPFENCE_BIN"/depfenced "$DEPFENCE_BIN"/depfence "$DEPFENCE_BIN"/depfence-hook |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do
	pkg=$(dpkg -S "$(realpath "$lib")" 2>/dev/null | head -n 1 | cut -d: -f1)
	[ -n "$pkg" ] || pkg=$(dpkg -S "$lib" 2>/dev/null | head -n 1 | cut -d: -f1)
	case ", $depends" in
	*", $pkg (>= "*) pass "Depends names $pkg (${lib##*/})" ;;
	*) fail "Depends names $pkg (${lib##*/})" "seen: $depends" ;;
	esac
done
unmet=
for dep in ${depends//,/ }; do
	case $dep in \(* | *\)) continue ;; esac
	dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'install ok installed' || unmet+=" $dep"
done
assert_eq "every Depends is installed on this host" "" "$unmet"
assert_eq "conffiles: /etc/depfence/policies/default.policy" /etc/depfence/policies/default.policy \
	"$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)"
dpkg-deb --contents "$deb" | awk '$1 ~ /^-/ { sub(/^\.\//, "", $6); print $6 }' | sort >"$T/deb.files"
assert_eq "the .deb holds the files install lays" "$(expected_files | cut -d' ' -f2)" "$(cat "$T/deb.files")"

# dpkg -i into an empty root with its own database; -P leaves nothing behind.
R=$T/dpkgroot
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
dpkg --root="$R" --force-depends -i "$deb" >"$T/dpkg-i.out" 2>&1
assert_eq "dpkg -i into a temp root: exit 0" 0 "$?"
assert_eq "dpkg -i lays the files with their modes" "$(expected_files)" "$(files_under "$R")"
assert_match "dpkg says installed" "install ok installed" "$(dpkg --root="$R" -s depfence 2>&1)"
dpkg --root="$R" -P depfence >"$T/dpkg-P.out" 2>&1
assert_eq "dpkg -P: exit 0" 0 "$?"
assert_eq "dpkg -P leaves no file or directory" "" \
	"$(cd "$R" && find . -mindepth 1 -path ./var -prune -o -print)"
assert_eq "dpkg -P forgets the package" "" \
	"$(cd "$R/var/lib/dpkg" && find info -type f ! -name format; grep -l depfence status)"

e2e_done
