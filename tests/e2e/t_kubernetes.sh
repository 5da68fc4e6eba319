#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# deploy/kubernetes/ without a cluster: every manifest parses (PyYAML, strict)
# and has what its kind requires, and they agree with each other (k8s_check.py);
# every policy of the ConfigMap loads with the real parser (depfence run
# --config-dir with the ConfigMap's files); the init container's installer lays
# out a hook that runs and hooks.d files that point at it; the sample Job's
# script, run under the policy it names, is refused github.com.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start
MANIFESTS=$E2E_DIR/../../deploy/kubernetes
OUT=$T/k8s
mkdir -p "$OUT"

"$PY" "$E2E_DIR/k8s_check.py" "$MANIFESTS" "$OUT" >"$T/check.out" 2>"$T/check.err"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) pass "${line#ok }" ;;
	"FAIL "*) fail "${line#FAIL }" ;;
	esac
done <"$T/check.out"
assert_eq "k8s_check.py: exit 0" 0 "$rc"
[ ! -s "$T/check.err" ] || fail "k8s_check.py: nothing on stderr" "$(_show "$T/check.err")"

# Each policy of the ConfigMap, loaded by the real parser.
n=0
for f in "$OUT"/conf/policies/*.policy; do
	[ -e "$f" ] || break
	name=$(basename "$f" .policy)
	"$DEPFENCE" run --state-dir "$T/estate" --config-dir "$OUT/conf" --upstream "$UPSTREAM" \
		--policy "$name" -- true >"$T/pol-$name.out" 2>"$T/pol-$name.err"
	assert_eq "ConfigMap policy $name loads (depfence run --policy $name -- true)" 0 "$?"
	n=$((n + 1))
done
assert_eq "two policies in the ConfigMap" 2 "$n"

# The init container's script, with the host at / and the paths under $T.
if [ -s "$OUT/install-hook.sh" ]; then
	HOST_ROOT='' INSTALL_DIR=$T/opt/depfence HOOKS_DIR=$T/hooks.d HOOK_BIN=$DEPFENCE_BIN/depfence-hook \
		sh "$OUT/install-hook.sh" >"$T/install.out" 2>"$T/install.err"
	assert_eq "install-hook.sh: exit 0" 0 "$?"
	# Again: a second run (pod restart) replaces what is there.
	HOST_ROOT='' INSTALL_DIR=$T/opt/depfence HOOKS_DIR=$T/hooks.d HOOK_BIN=$DEPFENCE_BIN/depfence-hook \
		sh "$OUT/install-hook.sh" >>"$T/install.out" 2>>"$T/install.err"
	assert_eq "install-hook.sh again: exit 0" 0 "$?"
	env -i "$T/opt/depfence/bin/depfence-hook" --help >"$T/hook-help.out" 2>&1
	assert_eq "installed hook runs with its own libraries: --help exit 0" 0 "$?"
	assert_file_has "installed hook is depfence-hook" "^Usage: depfence-hook" "$T/hook-help.out"
	# An unannotated container's state passes through; a malformed one fails closed.
	printf '{"ociVersion":"1.0.2","id":"k8s-probe","status":"creating","pid":%d,"bundle":"%s"}' \
		$$ "$T" >"$T/state.json"
	printf '{"ociVersion":"1.0.2"}' >"$T/config.json"
	env -i "$T/opt/depfence/bin/depfence-hook" --state-dir "$T/dstate" prestart \
		<"$T/state.json" >"$T/hook-pass.out" 2>&1
	assert_eq "installed hook: an unannotated container passes (exit 0)" 0 "$?"
	echo '{}' | env -i "$T/opt/depfence/bin/depfence-hook" prestart >/dev/null 2>&1
	assert_eq "installed hook: malformed state fails closed (exit 1)" 1 "$?"
	for stage in prestart poststop; do
		j=$T/hooks.d/depfence-$stage.json
		got=$("$PY" -c 'import json,sys; h=json.load(open(sys.argv[1])); print(h["version"], h["hook"]["path"], " ".join(h["hook"]["args"]), h["when"], " ".join(h["stages"]))' "$j" 2>&1)
		assert_eq "hooks.d/depfence-$stage.json names the installed hook" \
			"1.0.0 $T/opt/depfence/bin/depfence-hook depfence-hook $stage {'always': True} $stage" "$got"
	done
	leftover=$(find "$T/opt" "$T/hooks.d" -name '.*' | head -n 3)
	assert_eq "install-hook.sh leaves no temporary file" "" "$leftover"
else
	fail "install-hook.sh extracted from the ConfigMap"
fi

# The Job's script under the policy it names: github.com is refused.
if [ -s "$OUT/job.sh" ]; then
	policy=$(cat "$OUT/job.policy")
	cp -r "$OUT/conf/policies/." "$CONF/policies/"
	BLOCK_LOG_FILE=
	MODE=embedded
	STATE=$T/estate
	guarded job --policy "$policy" -- sh "$OUT/job.sh"
	assert_eq "Job script under policy $policy: exit 0 (the fetch failed)" 0 "$RC"
	assert_file_has "Job script: github.com refused" "github.com refused" "$(rf job out)"
	# The asker is wget, a child of the script: the line names it and the script.
	assert_file_has "Job script: block line for github.com, policy $policy, asked by wget" \
		"^WARN DNS BLOCKED .*domain=github\\.com .*cmd=\"wget .*policy=$policy .*ancestry=\"[0-9]+:sh $(re_quote "$OUT/job.sh")" \
		"$(rf job err)"
	MODE=
else
	fail "Job script extracted from the Job"
fi
assert_no_run_cgroups "no run cgroup left"
e2e_done
