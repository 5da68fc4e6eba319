#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# depfence run --memory-max/--cpu-quota/--pids-max, and a policy's memory-max,
# cpu-quota, pids-max lines: the job sees its limits from inside, a job past
# its memory is OOM-killed inside its cgroup and the run says so (oom_kill=1,
# exit 137), a fork loop stops at pids-max, the flags override the policy,
# bad values are refused before anything runs, and every cgroup made for the
# limits goes with the run (also one a depfence killed with -9 left).
#
# Where the limits live depends on the host: in the job's v2 cgroup
# (memory.max, cpu.max, pids.max) when the v2 root offers the controller,
# else in the job's own cgroup of the controller's v1 hierarchy. The job sees
# them at the usual paths either way; show_limits prints them from inside.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
dns_start

V2_CTRLS=$(cat "$CG_ROOT/cgroup.controllers")
in_v2() { [[ " $V2_CTRLS " == *" $1 "* ]]; }
# The file that holds CONTROLLER's limit as the job sees it.
limit_file()
{
	case $1 in
	memory) if in_v2 memory; then echo "$CG_ROOT/memory.max"; else echo "$(v1_mount memory)/memory.limit_in_bytes"; fi ;;
	cpu) if in_v2 cpu; then echo "$CG_ROOT/cpu.max"; else echo "$(v1_mount cpu)/cpu.cfs_quota_us"; fi ;;
	pids) if in_v2 pids; then echo "$CG_ROOT/pids.max"; else echo "$(v1_mount pids)/pids.max"; fi ;;
	esac
}
cpu_val() { if in_v2 cpu; then echo "$(($1 * 1000)) 100000"; else echo "$(($1 * 1000))"; fi; }
MEMF=$(limit_file memory)
CPUF=$(limit_file cpu)
PIDSF=$(limit_file pids)
echo "# limits as the job sees them: $MEMF $CPUF $PIDSF"

# Allocates 400 MiB in 1 MiB steps, touching every page.
cat >"$T/hog.py" <<'PY'
b = []
for i in range(400):
    b.append(bytearray(1 << 20))
print("survived")
PY
# Forks children that sleep until it has 40 or fork fails; prints how many.
cat >"$T/forks.py" <<'PY'
import os, time
n = 0
for i in range(40):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    n += 1
print(n)
PY
printf 'mode blocklist\nblock github.com\nmemory-max 48M   # a runaway script stops here\npids-max 30\n' \
	>"$CONF/policies/limited.policy"

scenario()
{
	local v

	dfrun see --memory-max 96M --cpu-quota 150% --pids-max 20 -- \
		sh -c "cat $MEMF $CPUF $PIDSF; cat /proc/self/cgroup; ls $(dirname "$MEMF")"
	assert_eq "see: exit 0" 0 "$RC"
	v=$(sed -n 1,3p "$(rf see out)" | paste -sd '|')
	assert_eq "the job sees its limits (memory, cpu, pids)" \
		"100663296|$(cpu_val 150)|20" "$v"
	assert_file_lacks "the job sees no run's cgroups of the host's hierarchies" \
		'^depfence-run-' "$(rf see out)"
	assert_file_has "the run ended line lists the limits" \
		'run ended id=[^ ]+ exit=0 oom_kill=0 memory_max=100663296 cpu_quota=150% pids_max=20' \
		"$(rf see err)"

	dfrun oom --memory-max 64M -- python3 "$T/hog.py"
	assert_eq "a job past --memory-max is OOM-killed: exit 137" 137 "$RC"
	assert_file_has "the run says so: oom_kill=1" \
		'^WARN run ended id=[^ ]+ exit=137 oom_kill=1 memory_max=67108864' "$(rf oom err)"
	assert_file_lacks "oom: the hog did not survive" survived "$(rf oom out)"

	# The shell turns its child's SIGKILL into exit 1: still an OOM failure.
	dfrun oomsh --memory-max 64M -- sh -c "python3 $T/hog.py; exit 1"
	assert_eq "a job that fails after an OOM kill inside it: exit 137" 137 "$RC"
	# One that recovers and succeeds keeps its status; the line still counts.
	dfrun oomok --memory-max 64M -- sh -c "python3 $T/hog.py; exit 0"
	assert_eq "a job that succeeds after an OOM kill inside it: exit 0" 0 "$RC"
	assert_file_has "oomok: oom_kill=1 on the run ended line" 'exit=0 oom_kill=1' \
		"$(rf oomok err)"

	dfrun forks --pids-max 10 -- python3 "$T/forks.py"
	v=$(tail -n 1 "$(rf forks out)")
	assert_lt "--pids-max 10: the fork loop stops below 10 children" 10 "$v"
	assert_gt "--pids-max 10: the fork loop got some children" 3 "$v"

	dfrun pol --policy limited -- sh -c "cat $MEMF $PIDSF"
	assert_eq "the policy's memory-max and pids-max apply" "50331648|30" \
		"$(paste -sd '|' "$(rf pol out)")"
	dfrun polflag --policy limited --memory-max 80M -- sh -c "cat $MEMF $PIDSF"
	assert_eq "--memory-max overrides the policy's, pids-max stays" "83886080|30" \
		"$(paste -sd '|' "$(rf polflag out)")"
	dfrun polmax --policy limited --memory-max max -- sh -c "cat $MEMF"
	assert_match "--memory-max max lifts the policy's limit" '^(max|9223372036854[0-9]+)$' \
		"$(cat "$(rf polmax out)")"
}
for_each_mode scenario

# Bad flags and policy lines fail before anything starts. (A daemon refuses to
# start with a bad policy file: t_dns_modes covers that.)
use_mode embedded
printf 'block github.com\nmemory-max lots\n' >"$CONF/policies/badlimit.policy"

	dfrun badpol --policy badlimit -- sh -c 'echo ran'
	assert_eq "a policy with a bad memory-max: exit 2" 2 "$RC"
	assert_file_has "the error names file:line and what is wrong" \
		"badlimit.policy:2: 'memory-max' needs a size like 512M" "$(rf badpol err)"
	assert_file_lacks "badpol: the command did not run" ran "$(rf badpol out)"
for bad in "--memory-max 12Q" "--memory-max 0" "--cpu-quota 0%" "--cpu-quota 1.5" \
	"--pids-max -1" "--pids-max 99999999"; do
	# shellcheck disable=SC2086 # the flag and its value
	dfrun badflag $bad -- sh -c 'echo ran'
	assert_eq "$bad: exit 2" 2 "$RC"
	assert_file_has "$bad: the message names the flag and what it expects" \
		"${bad%% *} '[^']*': expected " "$(rf badflag err)"
	assert_file_lacks "$bad: the command did not run" ran "$(rf badflag out)"
done

# depfence killed with -9 leaves its job's cgroups; the next run clears them.
if [ -n "$(v1_dir memory)" ] && ! in_v2 memory; then
	guarded_bg killed --memory-max 64M -- sleep 30
	if wait_file "$(rf killed pid)" 5; then
		dir=$(v1_dir memory)/depfence-run-$BG_PID
		assert_match "the job is in its own v1 memory cgroup" "^$(cat "$(rf killed pid)")\$" \
			"$(cat "$dir/cgroup.procs" 2>/dev/null)"
		kill -KILL "$BG_PID"
		wait "$BG_PID" 2>/dev/null
		dfrun next --memory-max 64M -- true
		assert_eq "the next run starts" 0 "$RC"
		if [ -d "$dir" ]; then fail "the next run removed $dir"; else pass "the next run removed the killed run's v1 cgroup"; fi
	else
		fail "killed: the job started" "$(_show "$(rf killed err)")"
	fi
fi
# A run nested in a job that set no memory limit places its job's memory cgroup
# below the caller's, not at the hierarchy's root (the outer job sees the v1
# hierarchies from its own cgroup down).
if [ -n "$(v1_dir memory)" ] && ! in_v2 memory; then
	use_mode embedded
	"$DEPFENCE" run --state-dir "$T/estate" --upstream "$UPSTREAM" --pids-max 50 -- \
		"$DEPFENCE" run --state-dir "$T/nstate" --upstream "$UPSTREAM" --memory-max 64M -- \
		sh -c "echo \$\$ >$T/nested.pid; cat $MEMF; sleep 30" >"$T/nested.out" 2>"$T/nested.err" &
	nested=$!
	E2E_PIDS+=("$nested")
	E2E_INSTANCES+=("$(instance_of "$T/nstate" 2>/dev/null || true)")
	if wait_file "$T/nested.pid" 10 && wait_file "$T/nested.out" 5; then
		cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$(cat "$T/nested.pid")/cgroup")
		mine=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
		assert_match "the nested job's memory cgroup is below the caller's" \
			"^${mine%/}/depfence-run-[0-9]+$" "$cg"
		assert_eq "the nested job sees its limit" 67108864 "$(head -n 1 "$T/nested.out")"
	else
		fail "nested: the job started" "$(_show "$T/nested.err")"
	fi
	kill -TERM "$nested" 2>/dev/null
	bg_wait "$nested" 10
fi
assert_no_run_cgroups "no run cgroup left"
e2e_done
