/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a guarded job's first process does between entering its cgroup and
 * exec: close the host's other ways around the guard for it and every
 * process it starts. See docs/threat-model.md for what each step closes.
 */
#ifndef DEPFENCE_JOB_CONFINE_H
#define DEPFENCE_JOB_CONFINE_H

#include <stdbool.h>

#include "cgroup_limits.h"
#include "util.h"

/*
 * Call in the child, already in the guarded cgroup, before exec:
 *  - a cgroup namespace rooted at that cgroup, and a private mount namespace
 *    in which every cgroup2 mount shows only the job's subtree (so tools that
 *    make cgroups, podman and runc included, make them inside the guard),
 *    and the same for the v1 hierarchies LIMITS placed the job in (if any);
 *  - a seccomp filter: no setns() into a cgroup namespace (back out of ours),
 *    no io_uring (it creates sockets unseen), and AF_PACKET sockets go to the
 *    supervisor: the filter's notification fd is sent over the unix socket
 *    NOTIFY_SOCK (SCM_RIGHTS) for job_notify_*() in the parent. Under a
 *    filter already (a nested run, a container runtime's), AF_PACKET just
 *    fails with EPERM: the kernel allows one supervisor per chain.
 * With nsdelegate on the host's cgroup2 (cgroup_ns_delegate()), even root in
 * the job cannot move a process out of the subtree. Returns 0 or -errno.
 */
int job_confine(int notify_sock, const char *state_dir, const struct cg_job *limits,
		struct df_err *err);

/* Receive the notification fd job_confine() sent on SOCK: the fd, or -1 if none came. */
int job_notify_recv(int sock);

/* What a refusal's line says about the job, for job_notify_handle(). */
struct job_notify_ctx {
	const char *policy, *mode; /* mode: "blocklist", "allowlist", "audit" */
	const char *id_key, *id;   /* "run", run id */
	const char *cgroup_rel;	   /* the job's cgroup below the v2 root (ancestry stops there) */
	bool full_cmdline;	   /* --log-full-cmdline: no redaction (redact.h) */
};

/*
 * One AF_PACKET socket() of the job, waiting on notification fd FD: logged
 * (PACKET BLOCKED reason=RawSocket family=packet) and refused with EPERM, or
 * in audit mode let through. Returns -errno when FD is done for (the job is
 * gone), 0 otherwise.
 */
int job_notify_handle(int fd, const struct job_notify_ctx *ctx);

/*
 * Before the first job starts, by the process that guards it (the daemon or
 * an embedded run, both in the host's cgroup namespace): turn on nsdelegate on
 * the cgroup2 mount at ROOT. Logs what it did; a failure is a warning (the
 * job's own cgroup2 mount still hides the host's tree), not fatal.
 */
void job_boundary_init(const char *root);

#endif
