// SPDX-License-Identifier: GPL-2.0-only
#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

int cgroup_each_mount(const char *mountinfo, cgroup_mount_fn fn, void *ctx)
{
	_cleanup_fclose_ FILE *f = fopen(mountinfo, "re");
	_cleanup_free_ char *line = NULL;
	size_t n = 0;
	int r;

	if (!f)
		return -errno;
	while (getline(&line, &n, f) > 0) {
		/* id parent major:minor root mountpoint opts [optional...] - fstype src opts */
		char *sep = strstr(line, " - ");
		struct cgroup_mount m;

		if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", m.root, m.mnt) != 2 ||
		    sscanf(sep + 3, "%15s %*s %511s", m.fstype, m.sb_opts) != 2)
			continue;
		if (strcmp(m.fstype, "cgroup2") && strcmp(m.fstype, "cgroup"))
			continue;
		r = fn(ctx, &m);
		if (r)
			return r;
	}
	return 0;
}

struct cg2_ctx {
	int (*fn)(void *ctx, const char *mnt, const char *sb_opts);
	void *ctx;
};

static int cg2_only(void *ctx, const struct cgroup_mount *m)
{
	struct cg2_ctx *c = ctx;

	return strcmp(m->fstype, "cgroup2") ? 0 : c->fn(c->ctx, m->mnt, m->sb_opts);
}

/* FN for every cgroup2 mount of this process, until it returns non-zero (returned). */
static int each_cgroup2(int (*fn)(void *ctx, const char *mnt, const char *sb_opts), void *ctx)
{
	struct cg2_ctx c = {fn, ctx};

	return cgroup_each_mount("/proc/self/mountinfo", cg2_only, &c);
}

struct mounts_ctx {
	char (*mnts)[PATH_MAX];
	int n, max;
};

static int add_mount(void *ctx, const char *mnt, const char *sb_opts)
{
	struct mounts_ctx *mc = ctx;

	snprintf(mc->mnts[mc->n++], PATH_MAX, "%s", mnt);
	return mc->n == mc->max;
}

int cgroup2_mounts(char mnts[][PATH_MAX], int max, struct df_err *err)
{
	struct mounts_ctx mc = {.mnts = mnts, .max = max};
	int r = max > 0 ? each_cgroup2(add_mount, &mc) : 0;

	if (r < 0)
		return df_err_set(err, r, "read /proc/self/mountinfo: %s", strerror(-r));
	return mc.n;
}

int cgroup_v2_root(char *buf, size_t cap, struct df_err *err)
{
	char mnt[1][PATH_MAX];
	int n = cgroup2_mounts(mnt, 1, err);

	if (n < 0)
		return n;
	if (n == 0)
		return df_err_set(err, -ENOENT, "no cgroup2 filesystem in /proc/self/mountinfo");
	if (strlen(mnt[0]) >= cap)
		return df_err_set(err, -ENAMETOOLONG, "cgroup2 mount path too long");
	strcpy(buf, mnt[0]);
	return 0;
}

int cgroup_path_of_pid(pid_t pid, char *buf, size_t cap, struct df_err *err)
{
	char root[PATH_MAX], rel[PATH_MAX];
	int r = cgroup_v2_root(root, sizeof(root), err);

	if (r == 0)
		r = cgroup_of_pid(pid, rel, sizeof(rel), err);
	if (r < 0)
		return r;
	snprintf(buf, cap, "%s%s", root, strcmp(rel, "/") ? rel : "");
	return strcmp(rel, "/") == 0;
}

const char *cgroup_below_root(const char *path)
{
	static char root[PATH_MAX];
	size_t n;

	if (!root[0] && cgroup_v2_root(root, sizeof(root), NULL) < 0)
		return path;
	n = strlen(root);
	if (strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0'))
		return path[n] ? path + n : "/";
	return path;
}

int cgroup_id_of(const char *path, uint64_t *ret_id)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*ret_id = st.st_ino;
	return 0;
}

int cgroup_of_pid(pid_t pid, char *buf, size_t cap, struct df_err *err)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	r = read_file(path, &text, NULL, 1 << 16);
	if (r < 0)
		return df_err_set(err, r, "read %s: %s", path, strerror(-r));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (strlen(line + 3) >= cap)
			return df_err_set(err, -ENAMETOOLONG, "%s: cgroup path too long", path);
		strcpy(buf, line + 3);
		return 0;
	}
	return df_err_set(err, -ENOENT, "%s: no cgroup v2 (0::) line", path);
}

/* 1 + nsdelegate: the options of the cgroup2 mount at ROOT (CTX) say whether it is on. */
static int nsdelegate_of(void *ctx, const char *mnt, const char *sb_opts)
{
	return strcmp(mnt, ctx) ? 0 : 1 + (strstr(sb_opts, "nsdelegate") != NULL);
}

int cgroup_has_nsdelegate(const char *root)
{
	int r = each_cgroup2(nsdelegate_of, (void *)root);

	return r <= 0 ? (r ?: -ENOENT) : r - 1;
}

int cgroup_ns_delegate(const char *root, struct df_err *err)
{
	_cleanup_close_ int fd = -1;
	int r = cgroup_has_nsdelegate(root);

	if (r != 0)
		return r < 0 ? df_err_set(err, r, "cgroup2 at %s: %s", root, strerror(-r)) : 0;
	/* fspick + reconfigure: unlike MS_REMOUNT, leaves the mount's own flags alone. */
	fd = fspick(AT_FDCWD, root, FSPICK_CLOEXEC);
	if (fd < 0)
		return df_err_set(err, -errno, "fspick %s: %s", root, strerror(errno));
	if (fsconfig(fd, FSCONFIG_SET_FLAG, "nsdelegate", NULL, 0) < 0 ||
	    fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return df_err_set(err, -errno, "cgroup2 at %s: turn on nsdelegate: %s", root,
				  strerror(errno));
	return 1;
}

int cgroup_mkdir_p(const char *path)
{
	return mkdir_p(path, 0755);
}

int cgroup_enter(const char *path, pid_t pid)
{
	char file[PATH_MAX], num[32];
	_cleanup_close_ int fd = -1;
	int len;

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(num, sizeof(num), "%d", (int)pid);
	if (write_full(fd, num, len) < 0)
		return -errno;
	return 0;
}

/* Signal every pid listed in PATH/cgroup.procs and below; true if any was found. */
static bool kill_tree(const char *path)
{
	char file[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	DIR *d;
	struct dirent *de;
	bool any = false;
	char *p;

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	if (read_file(file, &text, NULL, 1 << 22) == 0) {
		for (p = text; *p;) {
			long pid = strtol(p, &p, 10);

			if (pid > 0) {
				kill(pid, SIGKILL);
				any = true;
			}
			while (*p == '\n')
				p++;
		}
	}
	d = opendir(path);
	if (!d)
		return any;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		any |= kill_tree(file);
	}
	closedir(d);
	return any;
}

static int rmdir_tree(const char *path)
{
	char sub[PATH_MAX];
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		rmdir_tree(sub);
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int cgroup_kill_and_remove(const char *path, int timeout_ms)
{
	char file[PATH_MAX];
	unsigned long long deadline = now_ms() + timeout_ms;
	_cleanup_close_ int fd = -1;
	int r;

	/* cgroup.kill (5.14+) kills the whole subtree at once, racing no forks. */
	snprintf(file, sizeof(file), "%s/cgroup.kill", path);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		(void)!write(fd, "1", 1);
	for (;;) {
		r = rmdir_tree(path);
		if (r != -EBUSY || now_ms() >= deadline)
			return r;
		if (fd < 0)
			kill_tree(path);
		nanosleep(&(struct timespec){.tv_nsec = 2 * 1000 * 1000}, NULL);
	}
}

bool cgroup_populated(const char *path)
{
	_cleanup_free_ char *text = NULL;
	char file[PATH_MAX + 16];

	snprintf(file, sizeof(file), "%s/cgroup.events", path);
	return read_file(file, &text, NULL, 4096) == 0 && strstr(text, "populated 1");
}

bool cgroup_path_below(const char *path, const char *parent, bool strict)
{
	size_t n = strlen(parent);

	if (strncmp(path, parent, n) != 0)
		return false;
	return path[n] == '/' || (!strict && path[n] == '\0');
}
