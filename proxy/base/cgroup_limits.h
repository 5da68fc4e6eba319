/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Resource limits on a guarded job's cgroup: memory, CPU, processes, so a
 * runaway deploy script cannot starve the production workload beside it.
 *
 * On a pure cgroup v2 host the limits go into the job's own v2 cgroup
 * (memory.max, cpu.max, pids.max), with the controllers enabled down the
 * path to it. On a hybrid host, where a controller is bound to a v1
 * hierarchy (memory and cpu usually are), the job gets its own v1 cgroup in
 * that hierarchy, made below the caller's v1 cgroup there, and joins it
 * before exec (cg_job_join); it goes with the run (cg_job_release).
 */
#ifndef DEPFENCE_CGROUP_LIMITS_H
#define DEPFENCE_CGROUP_LIMITS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

enum cg_limit {
	CG_MEMORY, /* bytes: memory.max, memory.limit_in_bytes */
	CG_CPU,	   /* percent of one CPU: cpu.max, cpu.cfs_quota_us */
	CG_PIDS,   /* processes and threads: pids.max */
	CG__COUNT,
};

/* The words, shared by the flags, the policy directives and messages. */
#define CG_MEMORY_WORD "memory-max"
#define CG_CPU_WORD    "cpu-quota"
#define CG_PIDS_WORD   "pids-max"

/* "max": no limit (it overrides a policy's default). */
#define CG_UNLIMITED UINT64_MAX

struct cg_limits {
	unsigned set; /* bit (1 << enum cg_limit) for each limit given */
	uint64_t val[CG__COUNT];
};

/* The flag and policy directive that sets WHICH: "memory-max", "cpu-quota", "pids-max". */
const char *cg_limit_name(enum cg_limit which);
/* The directive named by WORD (LEN bytes), or -1. */
int cg_limit_by_name(const char *word, size_t len);
/*
 * Parse a value for WHICH from S (LEN bytes): a size ("512M", "2G", "1048576";
 * K, M, G, T are powers of 1024), a percentage of one CPU ("150%" or "150",
 * 1 to 100000), a count of processes, or "max" for no limit. On error returns
 * -EINVAL and points *RET_NEEDS at what was expected, for the message.
 */
int cg_limit_parse(enum cg_limit which, const char *s, size_t len, uint64_t *ret,
		   const char **ret_needs);
/* Set in DST every limit OVER sets (the command line over the policy). */
void cg_limits_merge(struct cg_limits *dst, const struct cg_limits *over);
/* "memory_max=536870912 cpu_quota=150% pids_max=64" for the limits set (empty if none). */
void cg_limits_str(const struct cg_limits *l, char *buf, size_t cap);

/*
 * Where the host keeps each controller, read from a mountinfo file and a
 * /proc/PID/cgroup file (the caller's own, in production; a test passes its
 * own files describing a fake tree).
 */
struct cg_host {
	char v2_root[PATH_MAX];
	char v2_controllers[256]; /* the root's cgroup.controllers, one line */
	struct {
		char mnt[PATH_MAX];  /* the v1 hierarchy's mount point; "" if none */
		char opts[128];	     /* its controller options, to mount it again */
		char self[PATH_MAX]; /* the caller's cgroup in it ("/a/b") */
		/* False when the caller's cgroup is not below the mount's root (a cgroup
		 * namespace that sees the host's mount): no path to place a job at. */
		bool visible;
	} v1[CG__COUNT];
};
int cg_host_read(struct cg_host *h, const char *mountinfo, const char *self_cgroup,
		 struct df_err *err);

/* What cg_job_init() and cg_job_limit() set up for one job: what it joins, mounts, reads
 * and removes. */
struct cg_job {
	unsigned v1_set;  /* limits in a v1 hierarchy: bit (1 << enum cg_limit) */
	unsigned mounted; /* v1 hierarchies mounted afresh in the job (cg_job_remount) */
	char v1[CG__COUNT][PATH_MAX]; /* the job's own v1 cgroups */
	char v1_mnt[CG__COUNT][PATH_MAX];
	char v1_opts[CG__COUNT][128];
	char memory_dir[PATH_MAX]; /* the cgroup whose OOM kills count ("" if no memory limit) */
	bool memory_v1;
};

/*
 * A job with no limits yet, which will see every memory, cpu and pids v1
 * hierarchy of H rooted at its own cgroup there (cg_job_remount): so a run
 * nested in it places its own limits below it, whatever this one limited.
 */
void cg_job_init(struct cg_job *j, const struct cg_host *h);
/*
 * Put limits L on the job (cg_job_init first) whose v2 cgroup is V2_CGROUP (already made, below
 * H's v2 root). NAME names its v1 cgroups ("depfence-run-PID"). A limit that
 * neither hierarchy offers is an error, not skipped: a job asked to be
 * limited never runs unlimited. On error what was made is removed.
 */
int cg_job_limit(struct cg_job *j, const struct cg_host *h, const struct cg_limits *l,
		 const char *v2_cgroup, const char *name, struct df_err *err);
/* In the job's first process, before exec: enter its v1 cgroups. 0 or -errno. */
int cg_job_join(const struct cg_job *j, struct df_err *err);
/*
 * In the job's first process, in its own cgroup and mount namespaces: mount
 * the memory, cpu and pids v1 hierarchies afresh, so the job sees its own
 * limits at the usual path and none of the host's tree.
 */
int cg_job_remount(const struct cg_job *j, struct df_err *err);
/* How many processes the OOM killer took in the job's memory cgroup. */
uint64_t cg_job_oom_kills(const struct cg_job *j);
/* Remove the job's v1 cgroups (killing what is left in them). */
void cg_job_release(struct cg_job *j);
/*
 * Remove v1 cgroups named PREFIX-PID left by runs that died (kill -9) in H's
 * hierarchies for the limits in SET.
 */
void cg_job_reap_stale(const struct cg_host *h, unsigned set, const char *prefix);

#endif
