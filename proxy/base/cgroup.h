/* SPDX-License-Identifier: GPL-2.0-only */
/* cgroup v2 helpers: where the hierarchy is mounted, ids, creating and removing. */
#ifndef DEPFENCE_CGROUP_H
#define DEPFENCE_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/*
 * The cgroup v2 mount point, found in /proc/self/mountinfo (never hard-coded:
 * /sys/fs/cgroup on pure v2 hosts, /sys/fs/cgroup/unified on hybrid ones).
 */
int cgroup_v2_root(char *buf, size_t cap, struct df_err *err);
/*
 * PATH below the v2 root, as /proc/PID/cgroup spells it ("/a/b", "/" for the
 * root), pointing into PATH; PATH itself if it is not below the root.
 */
const char *cgroup_below_root(const char *path);
/* A cgroup (v1) or cgroup2 line of a mountinfo file. */
struct cgroup_mount {
	char root[PATH_MAX]; /* the cgroup shown at the mount point ("/", "/../.." seen from a
			      * cgroup namespace) */
	char mnt[PATH_MAX];  /* the mount point */
	char fstype[16];     /* "cgroup" or "cgroup2" */
	char sb_opts[512];   /* superblock options: "rw,memory", "rw,nsdelegate" */
};
typedef int (*cgroup_mount_fn)(void *ctx, const struct cgroup_mount *m);
/*
 * FN for every cgroup and cgroup2 mount in MOUNTINFO (/proc/self/mountinfo;
 * a test's file), in mount order, until FN returns non-zero (returned). 0 when
 * FN never stopped, -errno when the file cannot be read.
 */
int cgroup_each_mount(const char *mountinfo, cgroup_mount_fn fn, void *ctx);
/* Every cgroup2 mount point (at most MAX, first the one cgroup_v2_root names): how many. */
int cgroup2_mounts(char mnts[][PATH_MAX], int max, struct df_err *err);
/*
 * The absolute path of PID's v2 cgroup in this process's view (the v2 root
 * for the root cgroup). Returns 1 if it is the root cgroup, 0 otherwise.
 */
int cgroup_path_of_pid(pid_t pid, char *buf, size_t cap, struct df_err *err);
/* The cgroup id the kernel's BPF helpers return: the directory's inode number. */
int cgroup_id_of(const char *path, uint64_t *ret_id);
/* Does cgroup PATH hold a process anywhere in its subtree (cgroup.events)? */
bool cgroup_populated(const char *path);
/* Is cgroup path PATH below PARENT (at a '/' boundary), or PARENT itself unless STRICT? */
bool cgroup_path_below(const char *path, const char *parent, bool strict);
/* PID's v2 cgroup relative to the root ("/a/b"), from the 0:: line of /proc/PID/cgroup. */
int cgroup_of_pid(pid_t pid, char *buf, size_t cap, struct df_err *err);
/* mkdir -p below the v2 root. */
int cgroup_mkdir_p(const char *path);
/*
 * Kill every process in the cgroup and its sub-cgroups (cgroup.kill, falling
 * back to SIGKILL per pid), then remove the directories bottom-up. Waits up to
 * TIMEOUT_MS for the processes to go.
 */
int cgroup_kill_and_remove(const char *path, int timeout_ms);
/*
 * Make cgroup namespaces delegation boundaries on the cgroup2 filesystem at
 * ROOT (the nsdelegate option, as systemd mounts it): a process in a cgroup
 * namespace, root included, can then move processes only within the
 * namespace's subtree, so a guarded job cannot leave its guard. Changes only
 * that superblock option. Returns 1 if it was turned on now, 0 if it was on.
 */
int cgroup_ns_delegate(const char *root, struct df_err *err);
/* Is nsdelegate on for the cgroup2 mount at ROOT? 1 or 0; -ENOENT if ROOT is no cgroup2 mount. */
int cgroup_has_nsdelegate(const char *root);
/* Move PID (0: the caller) into the cgroup at PATH. */
int cgroup_enter(const char *path, pid_t pid);

#endif
