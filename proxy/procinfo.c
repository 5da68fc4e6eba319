// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command line and ancestry of a host pid, read from /proc on the block path.
 *
 * Nothing here allocates: every /proc file is read into a fixed buffer, cut
 * where the caller's field would cut it anyway, so a hostile process with a
 * huge argv costs no more than a polite one. Not thread-safe (the cache and
 * the root are static), like the rest of the single-threaded event loop.
 */
#include "procinfo.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#define PROCINFO_ANCESTOR_CMD_MAX 128
#define PROCINFO_CACHE_SLOTS	  256 /* power of two: the slot is a masked hash */
#define PROCINFO_CACHE_TTL_MS	  1000
/* Longer stop cgroups are not cached; depfence's own are far shorter. */
#define PROCINFO_CACHE_STOP_MAX 256
/* stat's fields past ppid are numbers; 1 KiB holds pid, the longest comm and ppid. */
#define STAT_READ_MAX 1024
/* Hybrid hierarchies list a dozen v1 lines before "0::". */
#define CGROUP_READ_MAX 8192

struct cache_entry {
	bool valid;
	bool has_stop;
	uint64_t exec_id;
	unsigned long long at_ms;
	char stop[PROCINFO_CACHE_STOP_MAX];
	struct procinfo info;
};

static char proc_root[PATH_MAX] = "/proc";
/*
 * Per thread: each engine worker (proxy/workers.c) names its own senders. The
 * first thread's is static (its pages are touched as they are used); another
 * thread's is allocated at its first lookup and freed by procinfo_thread_done().
 * Not a __thread array: the C library zeroes a thread's TLS block when the
 * thread starts, which would make 700 KiB per worker resident at once.
 */
static struct cache_entry main_cache[PROCINFO_CACHE_SLOTS];
static __thread struct cache_entry *cache;

void procinfo_set_root(const char *root)
{
	snprintf(proc_root, sizeof(proc_root), "%s", root ? root : "/proc");
	/* Entries read under the old root describe other processes. */
	procinfo_cache_clear();
}

void procinfo_cache_clear(void)
{
	if (cache)
		memset(cache, 0, PROCINFO_CACHE_SLOTS * sizeof(*cache));
}

void procinfo_thread_done(void)
{
	if (cache != main_cache)
		free(cache);
	cache = NULL;
}

/*
 * Read up to CAP - 1 bytes of PROC_ROOT/PID/NAME into BUF and NUL-terminate.
 * A longer file is cut, not refused: the fields it fills are bounded anyway.
 * ENOENT means the pid is gone, and is reported as such.
 */
static int read_proc(pid_t pid, const char *name, char *buf, size_t cap, size_t *ret_len)
{
	char path[PATH_MAX + 32];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int r;

	r = snprintf(path, sizeof(path), "%s/%d/%s", proc_root, (int)pid, name);
	if (r < 0 || (size_t)r >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read_full(fd, buf, cap - 1);
	if (n < 0)
		return (int)n == -ENOENT ? -ESRCH : (int)n;
	buf[n] = '\0';
	*ret_len = (size_t)n;
	return 0;
}

/* "[comm]" for a process whose cmdline is empty: kernel threads, zombies. */
static int read_comm_cmd(pid_t pid, char *buf, size_t cap, size_t *ret_len)
{
	char comm[64];
	size_t len;
	int r;

	r = read_proc(pid, "comm", comm, sizeof(comm), &len);
	if (r < 0)
		return r;
	comm[strcspn(comm, "\n")] = '\0';
	r = snprintf(buf, cap, "[%s]", comm);
	if (r < 0)
		return -EINVAL;
	*ret_len = (size_t)r < cap ? (size_t)r : cap - 1;
	return 0;
}

/*
 * PID's argv joined by spaces into BUF (cut to CAP - 1 bytes), or "[comm]" when
 * the cmdline is empty; "?" and an error when neither can be read.
 */
static int read_cmd(pid_t pid, char *buf, size_t cap, size_t *ret_len)
{
	size_t len, i;
	int r;

	r = read_proc(pid, "cmdline", buf, cap, &len);
	if (r == 0) {
		/* setproctitle() pads with NULs: drop them all, not just the last. */
		while (len > 0 && buf[len - 1] == '\0')
			len--;
		for (i = 0; i < len; i++) {
			if (buf[i] == '\0')
				buf[i] = ' ';
		}
		buf[len] = '\0';
		if (len == 0)
			r = read_comm_cmd(pid, buf, cap, &len);
	}
	if (r < 0)
		len = (size_t)snprintf(buf, cap, "?");
	*ret_len = len;
	return r;
}

/* PID's binary, "?" when the link cannot be read (gone, a kernel thread, no permission). */
static void read_exe(pid_t pid, char *buf, size_t cap, size_t *ret_len)
{
	char path[PATH_MAX + 32];
	ssize_t n = -1;
	int r;

	r = snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)pid);
	if (r > 0 && (size_t)r < sizeof(path))
		n = readlink(path, buf, cap - 1);
	if (n <= 0) {
		memcpy(buf, "?", 2);
		*ret_len = 1;
		return;
	}
	buf[n] = '\0';
	*ret_len = (size_t)n;
}

/* Parent of PID from its stat line; comm may hold spaces and ')' so parse after the last ')'. */
static int read_ppid(pid_t pid, pid_t *ret_ppid)
{
	char buf[STAT_READ_MAX], state;
	size_t len;
	char *p;
	int ppid, r;

	r = read_proc(pid, "stat", buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
		return -EINVAL;
	*ret_ppid = ppid;
	return 0;
}

/* Is cgroup v2 path PATH (LEN bytes) STOP or below it? Compared at '/' boundaries. */
static bool cgroup_under(const char *path, size_t len, const char *stop)
{
	size_t n = strlen(stop);

	/* "/a/" means "/a", and "/" (n becomes 0) holds everything. */
	while (n > 0 && stop[n - 1] == '/')
		n--;
	if (len < n || memcmp(path, stop, n) != 0)
		return false;
	return len == n || path[n] == '/';
}

/* Does PID live in STOP's subtree? Unreadable or v1-only means no: stop the walk. */
static bool pid_in_cgroup(pid_t pid, const char *stop)
{
	char buf[CGROUP_READ_MAX];
	const char *line, *end;
	size_t len;

	if (read_proc(pid, "cgroup", buf, sizeof(buf), &len) < 0)
		return false;
	for (line = buf; *line; line = end + 1) {
		end = strchrnul(line, '\n');
		if (strncmp(line, "0::", 3) == 0)
			return cgroup_under(line + 3, (size_t)(end - line - 3), stop);
		if (!*end)
			break;
	}
	return false;
}

/* Append "SEP PID:CMD" to INFO's ancestry, cut at its end. Returns false once it is full. */
static bool ancestry_append(struct procinfo *info, pid_t pid, const char *cmd)
{
	size_t cap = sizeof(info->ancestry) - info->ancestry_len;
	int r;

	r = snprintf(info->ancestry + info->ancestry_len, cap, "%s%d:%s",
		     info->ancestry_len ? " > " : "", (int)pid, cmd);
	if (r < 0)
		return false;
	if ((size_t)r >= cap) {
		info->ancestry_len = sizeof(info->ancestry) - 1;
		return false;
	}
	info->ancestry_len += (size_t)r;
	return true;
}

static void read_ancestry(pid_t pid, const char *stop_cgroup, struct procinfo *info)
{
	char cmd[PROCINFO_ANCESTOR_CMD_MAX + 1];
	pid_t cur = pid, ppid;
	size_t len;
	int depth;

	for (depth = 0; depth < PROCINFO_MAX_DEPTH; depth++) {
		if (read_ppid(cur, &ppid) < 0 || ppid <= 1)
			break;
		/* Past the guarded job's subtree the chain is the host's, not the job's. */
		if (stop_cgroup && !pid_in_cgroup(ppid, stop_cgroup))
			break;
		read_cmd(ppid, cmd, sizeof(cmd), &len);
		if (!ancestry_append(info, ppid, cmd))
			break;
		cur = ppid;
	}
}

static struct cache_entry *cache_slot(pid_t pid)
{
	/* Fibonacci hashing: consecutive pids (a fork storm) spread over the slots. */
	unsigned int h = (unsigned int)pid * 2654435761u;

	/* Out of memory: read /proc every time, as if nothing were cached. */
	if (!cache)
		cache = gettid() == getpid() ? main_cache
					     : calloc(PROCINFO_CACHE_SLOTS, sizeof(*cache));
	if (!cache)
		return NULL;
	return &cache[(h >> 24) & (PROCINFO_CACHE_SLOTS - 1)];
}

static bool cache_matches(const struct cache_entry *e, pid_t pid, uint64_t exec_id,
			  const char *stop, unsigned long long now)
{
	if (!e || !e->valid || e->info.pid != pid || e->exec_id != exec_id ||
	    now - e->at_ms >= PROCINFO_CACHE_TTL_MS)
		return false;
	if (!stop)
		return !e->has_stop;
	return e->has_stop && strcmp(e->stop, stop) == 0;
}

static void cache_store(struct cache_entry *e, uint64_t exec_id, const char *stop,
			const struct procinfo *info, unsigned long long now)
{
	if (!e || exec_id == PROCINFO_EXEC_UNKNOWN || (stop && strlen(stop) >= sizeof(e->stop)))
		return;
	e->exec_id = exec_id;
	e->has_stop = stop != NULL;
	if (stop)
		strcpy(e->stop, stop);
	e->info = *info;
	e->at_ms = now;
	e->valid = true;
}

int procinfo_get(pid_t pid, uint64_t exec_id, const char *stop_cgroup, struct procinfo *ret_info)
{
	struct cache_entry *e = cache_slot(pid);
	unsigned long long now = now_ms();
	int r;

	if (exec_id != PROCINFO_EXEC_UNKNOWN && cache_matches(e, pid, exec_id, stop_cgroup, now)) {
		*ret_info = e->info;
		return 0;
	}
	ret_info->pid = pid;
	ret_info->ancestry[0] = '\0';
	ret_info->ancestry_len = 0;
	r = read_cmd(pid, ret_info->cmd, sizeof(ret_info->cmd), &ret_info->cmd_len);
	/* Read with the command line, so a logged pair names one program. */
	read_exe(pid, ret_info->exe, sizeof(ret_info->exe), &ret_info->exe_len);
	if (r < 0)
		return r;
	read_ancestry(pid, stop_cgroup, ret_info);
	cache_store(e, exec_id, stop_cgroup, ret_info, now);
	return 0;
}
