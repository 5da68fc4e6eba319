/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who sent a query: command line and ancestry of a host pid, from /proc.
 * Called on the block/audit path only, before the refusal is sent, so the
 * querying process is still alive. A small cache keyed by pid and exec
 * generation (entries live one second) keeps a storm of blocked queries from one
 * process cheap without naming a process by what it ran before its last execve().
 */
#ifndef DEPFENCE_PROCINFO_H
#define DEPFENCE_PROCINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCINFO_CMD_MAX      1024
#define PROCINFO_ANCESTRY_MAX 1024
#define PROCINFO_MAX_DEPTH    8
#define PROCINFO_EXE_MAX      512

struct procinfo {
	pid_t pid;
	/* argv joined by single spaces, raw bytes (quote with logfmt_quote before logging);
	 * "[comm]" for kernel threads or a process with an empty cmdline, "?" if gone. */
	char cmd[PROCINFO_CMD_MAX];
	size_t cmd_len;
	/* Parents, nearest first: "PID:CMD > PID:CMD", CMD as above but cut to 128 bytes.
	 * Stops at pid 1, after PROCINFO_MAX_DEPTH, or at the first parent outside the
	 * cgroup subtree STOP_CGROUP (a path relative to the v2 root, like "/depfence/runs/x"),
	 * so it names the guarded job's own chain, not the host's. */
	char ancestry[PROCINFO_ANCESTRY_MAX];
	size_t ancestry_len;
	/* The binary it runs (the /proc/PID/exe link, as the process's mount namespace
	 * names it; cut to PROCINFO_EXE_MAX - 1 bytes), "?" when unreadable. Raw bytes. */
	char exe[PROCINFO_EXE_MAX];
	size_t exe_len;
};

/* A thread other than the first is done looking processes up: its cache is freed. */
void procinfo_thread_done(void);

/* PROC_ROOT is "/proc" except in tests. */
void procinfo_set_root(const char *proc_root);
/* An exec generation nobody knows: read /proc afresh and cache nothing. */
#define PROCINFO_EXEC_UNKNOWN UINT64_MAX

/*
 * Fill INFO for PID, whose exec generation (df_pids.exec_id, or
 * PROCINFO_EXEC_UNKNOWN) tells a cached entry of the same process from one
 * written before it exec'd. Returns 0, or -ESRCH if the process is gone (cmd is
 * then "?").
 */
int procinfo_get(pid_t pid, uint64_t exec_id, const char *stop_cgroup, struct procinfo *ret_info);
/* Drop the cache (tests). */
void procinfo_cache_clear(void);

#endif
