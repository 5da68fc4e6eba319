// SPDX-License-Identifier: GPL-2.0-only
#include "cgroup_limits.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cgroup.h"

/* cpu.max's and cpu.cfs_period_us's period: 100 ms, the kernel's default. */
#define CPU_PERIOD_US 100000ULL
#define CPU_PCT_MAX   100000ULL	 /* 1,000 CPUs */
#define PIDS_MAX      4194304ULL /* PID_MAX_LIMIT on 64-bit */

static const struct {
	const char *name, *ctrl, *needs;
} limits[CG__COUNT] = {
    [CG_MEMORY] = {CG_MEMORY_WORD, "memory", "a size like 512M, 2G or 1048576, or max"},
    [CG_CPU] = {CG_CPU_WORD, "cpu",
		"a percentage of one CPU from 1% to 100000% (150% = 1.5 "
		"CPUs), or max"},
    [CG_PIDS] = {CG_PIDS_WORD, "pids", "a number of processes from 1 to 4194304, or max"},
};

const char *cg_limit_name(enum cg_limit which)
{
	return limits[which].name;
}

int cg_limit_by_name(const char *word, size_t len)
{
	int i;

	for (i = 0; i < CG__COUNT; i++)
		if (strlen(limits[i].name) == len && !memcmp(word, limits[i].name, len))
			return i;
	return -1;
}

/* Digits at S (LEN bytes) into *RET; the count of digits read (0: none or overflow). */
static size_t parse_u64(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return i;
}

int cg_limit_parse(enum cg_limit which, const char *s, size_t len, uint64_t *ret,
		   const char **ret_needs)
{
	static const char units[] = "KMGT";
	/* Memory: the kernel's own maximum is a signed 64-bit count (and the control
	 * protocol carries it as one). */
	uint64_t v, max = which == CG_CPU ? CPU_PCT_MAX : which == CG_PIDS ? PIDS_MAX : INT64_MAX;
	size_t n;
	const char *u;
	char c;

	*ret_needs = limits[which].needs;
	if (len == 3 && !memcmp(s, "max", 3)) {
		*ret = CG_UNLIMITED;
		return 0;
	}
	n = parse_u64(s, len, &v);
	if (!n || !v)
		return -EINVAL;
	c = n + 1 == len ? (char)(s[n] & ~0x20) : 0;
	if (which == CG_MEMORY && c && (u = strchr(units, c))) {
		unsigned shift = 10 * (unsigned)(u - units + 1);

		if (v > (UINT64_MAX >> shift))
			return -EINVAL;
		v <<= shift;
		n++;
	} else if (which == CG_CPU && n + 1 == len && s[n] == '%') {
		n++;
	}
	if (n != len || v > max || v == CG_UNLIMITED)
		return -EINVAL;
	*ret = v;
	return 0;
}

void cg_limits_merge(struct cg_limits *dst, const struct cg_limits *over)
{
	int i;

	for (i = 0; i < CG__COUNT; i++)
		if (over->set & (1u << i)) {
			dst->set |= 1u << i;
			dst->val[i] = over->val[i];
		}
}

void cg_limits_str(const struct cg_limits *l, char *buf, size_t cap)
{
	static const char *const keys[CG__COUNT] = {"memory_max", "cpu_quota", "pids_max"};
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < CG__COUNT && off < cap; i++) {
		if (!(l->set & (1u << i)))
			continue;
		if (l->val[i] == CG_UNLIMITED)
			off += snprintf(buf + off, cap - off, "%s%s=max", off ? " " : "", keys[i]);
		else
			off +=
			    snprintf(buf + off, cap - off, "%s%s=%llu%s", off ? " " : "", keys[i],
				     (unsigned long long)l->val[i], i == CG_CPU ? "%" : "");
	}
}

/* Is WORD one of the comma- or blank-separated tokens of LIST? */
static bool has_token(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		bool start = p == list || p[-1] == ',' || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\n';

		if (start && end)
			return true;
		p += n;
	}
	return false;
}

/*
 * The controller options of a v1 superblock's options (OPTS, "rw,cpu,cpuacct"),
 * without the flags a mount in a cgroup namespace may not or need not repeat.
 */
static void v1_mount_opts(const char *opts, char *buf, size_t cap)
{
	static const char *const skip[] = {
	    "rw", "ro", "clone_children", "noprefix", "xattr", "cpuset_v2_mode", "favordynmods"};
	char copy[512], *tok, *save = NULL;
	size_t off = 0, i;

	snprintf(copy, sizeof(copy), "%s", opts);
	buf[0] = '\0';
	for (tok = strtok_r(copy, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save)) {
		for (i = 0; i < ARRAY_SIZE(skip) && strcmp(tok, skip[i]); i++)
			;
		if (i < ARRAY_SIZE(skip) || !strncmp(tok, "release_agent=", 14))
			continue;
		off += snprintf(buf + off, off < cap ? cap - off : 0, "%s%s", off ? "," : "", tok);
	}
}

struct host_ctx {
	struct cg_host *h;
	char v1_root[CG__COUNT][PATH_MAX];
};

static int host_mount(void *ctx, const struct cgroup_mount *m)
{
	struct host_ctx *hc = ctx;
	struct cg_host *h = hc->h;
	int i;

	if (!strcmp(m->fstype, "cgroup2")) {
		if (!h->v2_root[0])
			snprintf(h->v2_root, sizeof(h->v2_root), "%s", m->mnt);
		return 0;
	}
	for (i = 0; i < CG__COUNT; i++) {
		/* The last mount of a hierarchy is the one on top (a job mounts its own over). */
		if (!has_token(m->sb_opts, limits[i].ctrl))
			continue;
		snprintf(h->v1[i].mnt, sizeof(h->v1[i].mnt), "%s", m->mnt);
		snprintf(hc->v1_root[i], sizeof(hc->v1_root[i]), "%s", m->root);
		v1_mount_opts(m->sb_opts, h->v1[i].opts, sizeof(h->v1[i].opts));
	}
	return 0;
}

int cg_host_read(struct cg_host *h, const char *mountinfo, const char *self_cgroup,
		 struct df_err *err)
{
	_cleanup_free_ struct host_ctx *hc = calloc(1, sizeof(*hc));
	char(*v1_root)[PATH_MAX], path[PATH_MAX + 32];
	_cleanup_free_ char *text = NULL;
	int i, r;

	memset(h, 0, sizeof(*h));
	if (!hc)
		return df_err_set(err, -ENOMEM, "out of memory");
	hc->h = h;
	v1_root = hc->v1_root;
	r = cgroup_each_mount(mountinfo, host_mount, hc);
	if (r < 0)
		return df_err_set(err, r, "read %s: %s", mountinfo, strerror(-r));
	if (h->v2_root[0]) {
		snprintf(path, sizeof(path), "%s/cgroup.controllers", h->v2_root);
		if (read_file(path, &text, NULL, 4096) == 0)
			snprintf(h->v2_controllers, sizeof(h->v2_controllers), "%s", text);
	}
	free(text);
	text = NULL;
	r = read_file(self_cgroup, &text, NULL, 1 << 16);
	if (r < 0)
		return df_err_set(err, r, "read %s: %s", self_cgroup, strerror(-r));
	/* "4:memory:/a/b": the caller's cgroup in each v1 hierarchy, below the mount's root. */
	for (char *l = text, *next; l && *l; l = next) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		if (!c2)
			continue;
		*c2 = '\0';
		for (i = 0; i < CG__COUNT; i++) {
			size_t rl = strlen(v1_root[i]);
			const char *rel = c2 + 1;

			if (!h->v1[i].mnt[0] || !has_token(c1 + 1, limits[i].ctrl))
				continue;
			/* The mount shows the hierarchy from ROOT down: our cgroup must be below it
			 * ("/../.." in a cgroup namespace over the host's mount is not). */
			if (strcmp(v1_root[i], "/")) {
				if (strncmp(rel, v1_root[i], rl) || (rel[rl] && rel[rl] != '/'))
					continue;
				rel += rl;
			}
			h->v1[i].visible = true;
			snprintf(h->v1[i].self, sizeof(h->v1[i].self), "%s",
				 strcmp(rel, "/") ? rel : "");
		}
	}
	return 0;
}

static int write_str(const char *dir, const char *file, const char *val, struct df_err *err)
{
	char path[PATH_MAX + 64];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	/* O_TRUNC as a shell's '>' does: cgroupfs ignores it, a plain file needs it. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write_full(fd, val, strlen(val)) < 0)
		return df_err_set(err, -errno, "write '%s' to %s: %s", val, path, strerror(errno));
	return 0;
}

/*
 * Turn on controller CTRL for every cgroup on the way from ROOT down to
 * CGROUP (not in CGROUP itself: its own subtree may stay closed). A
 * cgroup holding processes refuses (EBUSY: v2's no-internal-process rule).
 */
static int v2_enable(const char *root, const char *cgroup, const char *ctrl, struct df_err *err)
{
	char dir[PATH_MAX], plus[32], path[PATH_MAX + 32];
	size_t n = strlen(root);
	const char *p = cgroup + n;

	snprintf(plus, sizeof(plus), "+%s", ctrl);
	for (;;) {
		_cleanup_free_ char *cur = NULL;

		snprintf(dir, sizeof(dir), "%.*s", (int)(p - cgroup), cgroup);
		if (!*p)
			return 0; /* DIR is CGROUP */
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
		if (read_file(path, &cur, NULL, 4096) < 0 || !has_token(cur, ctrl)) {
			int r = write_str(dir, "cgroup.subtree_control", plus, err);

			if (r < 0)
				return df_err_wrap(err, "enable the %s controller below %s", ctrl,
						   dir);
		}
		p = strchr(p + 1, '/');
		if (!p)
			p = cgroup + strlen(cgroup);
	}
}

static void v2_value(enum cg_limit which, uint64_t v, char *buf, size_t cap)
{
	if (which == CG_CPU)
		v == CG_UNLIMITED
		    ? snprintf(buf, cap, "max %llu", CPU_PERIOD_US)
		    : snprintf(buf, cap, "%llu %llu", (unsigned long long)v * 1000, CPU_PERIOD_US);
	else if (v == CG_UNLIMITED)
		snprintf(buf, cap, "max");
	else
		snprintf(buf, cap, "%llu", (unsigned long long)v);
}

static int v1_limit(const char *dir, enum cg_limit which, uint64_t v, struct df_err *err)
{
	char num[32];
	int r;

	if (which == CG_CPU) {
		r = write_str(dir, "cpu.cfs_period_us", "100000", err);
		snprintf(num, sizeof(num), "%lld",
			 v == CG_UNLIMITED ? -1LL : (long long)(v * 1000));
		return r ?: write_str(dir, "cpu.cfs_quota_us", num, err);
	}
	if (v == CG_UNLIMITED)
		snprintf(num, sizeof(num), which == CG_PIDS ? "max" : "-1");
	else
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return write_str(dir, which == CG_PIDS ? "pids.max" : "memory.limit_in_bytes", num, err);
}

static const char *const v2_files[CG__COUNT] = {"memory.max", "cpu.max", "pids.max"};

void cg_job_init(struct cg_job *j, const struct cg_host *h)
{
	int i, k;

	memset(j, 0, sizeof(*j));
	for (i = 0; i < CG__COUNT; i++) {
		if (!h->v1[i].mnt[0])
			continue;
		snprintf(j->v1_mnt[i], sizeof(j->v1_mnt[i]), "%s", h->v1[i].mnt);
		snprintf(j->v1_opts[i], sizeof(j->v1_opts[i]), "%s", h->v1[i].opts);
		for (k = 0; k < i && strcmp(j->v1_mnt[k], j->v1_mnt[i]); k++)
			;
		if (k == i) /* one mount per hierarchy, whatever controllers it has */
			j->mounted |= 1u << i;
	}
}

/*
 * Make DIR, the job's own. One a run killed with -9 left under this name (its
 * pid reused since) is removed first: it holds that run's OOM count, maybe its
 * processes. One that cannot be removed (processes that will not die) is
 * used as it is.
 */
static int v1_mkdir(const char *dir, struct df_err *err)
{
	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno == EEXIST &&
	    (cgroup_kill_and_remove(dir, 500) < 0 || mkdir(dir, 0755) == 0 || errno == EEXIST))
		return 0;
	return df_err_set(err, -errno, "create cgroup %s: %s", dir, strerror(errno));
}

int cg_job_limit(struct cg_job *j, const struct cg_host *h, const struct cg_limits *l,
		 const char *v2_cgroup, const char *name, struct df_err *err)
{
	char val[64];
	int i, r = 0;
	for (i = 0; i < CG__COUNT && r == 0; i++) {
		const char *ctrl = limits[i].ctrl;
		const char *dir = v2_cgroup;

		if (!(l->set & (1u << i)))
			continue;
		if (has_token(h->v2_controllers, ctrl)) {
			r = v2_enable(h->v2_root, v2_cgroup, ctrl, err);
			v2_value(i, l->val[i], val, sizeof(val));
			if (r == 0)
				r = write_str(v2_cgroup, v2_files[i], val, err);
		} else if (h->v1[i].mnt[0] && !h->v1[i].visible) {
			r = df_err_set(
			    err, -EOPNOTSUPP,
			    "%s: this process's %s cgroup is not below %s (a cgroup "
			    "namespace that sees the host's mount): no place for the job's "
			    "own cgroup",
			    limits[i].name, ctrl, h->v1[i].mnt);
		} else if (h->v1[i].mnt[0]) {
			dir = j->v1[i];
			snprintf(j->v1[i], sizeof(j->v1[i]), "%s%s/%s", h->v1[i].mnt, h->v1[i].self,
				 name);
			r = v1_mkdir(j->v1[i], err);
			if (r < 0)
				break;
			j->v1_set |= 1u << i;
			r = v1_limit(j->v1[i], i, l->val[i], err);
		} else {
			r = df_err_set(err, -EOPNOTSUPP,
				       "%s: no %s controller on this host: neither in cgroup v2 "
				       "(%s/cgroup.controllers) nor mounted as cgroup v1",
				       limits[i].name, ctrl, h->v2_root);
		}
		if (r == 0 && i == CG_MEMORY) {
			snprintf(j->memory_dir, sizeof(j->memory_dir), "%s", dir);
			j->memory_v1 = dir != v2_cgroup;
		}
	}
	if (r < 0)
		cg_job_release(j);
	return r;
}

int cg_job_join(const struct cg_job *j, struct df_err *err)
{
	int i, r;

	for (i = 0; i < CG__COUNT; i++) {
		if (!(j->v1_set & (1u << i)))
			continue;
		r = cgroup_enter(j->v1[i], getpid());
		if (r < 0)
			return df_err_set(err, r, "enter cgroup %s: %s", j->v1[i], strerror(-r));
	}
	return 0;
}

int cg_job_remount(const struct cg_job *j, struct df_err *err)
{
	int i;

	for (i = 0; i < CG__COUNT; i++) {
		bool limited = j->v1_set & (1u << i);
		_cleanup_close_ int old = -1;

		if (!(j->mounted & (1u << i)))
			continue;
		/*
		 * The old mount is detached first (the kernel refuses the same hierarchy
		 * twice on one mount point), so no unmount in the job uncovers the host's
		 * tree. In a hierarchy the job is limited in, a failure stops the job. In
		 * another it is best effort: where mounting v1 is not allowed, a clone of
		 * the old mount goes back and the job keeps the host's view.
		 */
		if (!limited)
			old =
			    open_tree(AT_FDCWD, j->v1_mnt[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (umount2(j->v1_mnt[i], MNT_DETACH) < 0) {
			if (!limited)
				continue;
			return df_err_set(err, -errno, "unmount %s: %s", j->v1_mnt[i],
					  strerror(errno));
		}
		if (mount("cgroup", j->v1_mnt[i], "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  j->v1_opts[i]) == 0)
			continue;
		if (limited)
			return df_err_set(err, -errno, "mount cgroup (%s) at %s: %s", j->v1_opts[i],
					  j->v1_mnt[i], strerror(errno));
		if (old >= 0)
			move_mount(old, "", AT_FDCWD, j->v1_mnt[i], MOVE_MOUNT_F_EMPTY_PATH);
	}
	return 0;
}

uint64_t cg_job_oom_kills(const struct cg_job *j)
{
	char path[PATH_MAX + 32];
	_cleanup_free_ char *text = NULL;
	const char *p;

	if (!j->memory_dir[0])
		return 0;
	/* v1: "oom_kill N" in memory.oom_control (4.13+); v2: the same key in memory.events. */
	snprintf(path, sizeof(path), "%s/%s", j->memory_dir,
		 j->memory_v1 ? "memory.oom_control" : "memory.events");
	if (read_file(path, &text, NULL, 4096) < 0)
		return 0;
	for (p = text; (p = strstr(p, "oom_kill ")); p++)
		if (p == text || p[-1] == '\n')
			return strtoull(p + 9, NULL, 10);
	return 0;
}

void cg_job_release(struct cg_job *j)
{
	int i;

	for (i = 0; i < CG__COUNT; i++)
		if (j->v1_set & (1u << i))
			cgroup_kill_and_remove(j->v1[i], 2000);
	j->v1_set = 0;
}

void cg_job_reap_stale(const struct cg_host *h, unsigned set, const char *prefix)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	size_t plen = strlen(prefix);
	struct dirent *de;
	int i, pid;
	DIR *d;

	for (i = 0; i < CG__COUNT; i++) {
		if (!(set & (1u << i)) || !h->v1[i].mnt[0] || !h->v1[i].visible)
			continue;
		snprintf(dir, sizeof(dir), "%s%s", h->v1[i].mnt, h->v1[i].self);
		d = opendir(dir);
		while (d && (de = readdir(d))) {
			if (strncmp(de->d_name, prefix, plen) || de->d_name[plen] != '-' ||
			    sscanf(de->d_name + plen + 1, "%d", &pid) != 1 || pid <= 0)
				continue;
			if (kill(pid, 0) == 0 || errno != ESRCH)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			cgroup_kill_and_remove(path, 500);
		}
		if (d)
			closedir(d);
	}
}
