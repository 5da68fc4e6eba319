// SPDX-License-Identifier: GPL-2.0-only
/*
 * procinfo against a fake /proc built in a temporary directory, where every
 * odd case (NULs in argv, ')' in comm, missing pids, cgroup boundaries) can be
 * staged exactly, and once against the real /proc for this very process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procinfo.h"
#include "util.h"

static char root[] = "/tmp/test_procinfo.XXXXXX";
static struct procinfo info;

static void put(pid_t pid, const char *name, const char *data, size_t len)
{
	char path[256];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/%d", root, (int)pid);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %m", path);
	snprintf(path, sizeof(path), "%s/%d/%s", root, (int)pid, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, data, len), (ssize_t)len);
}

static void put_str(pid_t pid, const char *name, const char *s)
{
	put(pid, name, s, strlen(s));
}

/* A process: argv as NUL-separated bytes, comm, parent, and its v2 cgroup (NULL: none). */
static void mkproc(pid_t pid, const char *cmdline, size_t cmdlen, const char *comm, pid_t ppid,
		   const char *cgroup)
{
	char buf[512];

	put(pid, "cmdline", cmdline, cmdlen);
	snprintf(buf, sizeof(buf), "%s\n", comm);
	put_str(pid, "comm", buf);
	snprintf(buf, sizeof(buf), "%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0\n",
		 (int)pid, comm, (int)ppid, (int)pid, (int)pid);
	put_str(pid, "stat", buf);
	if (cgroup) {
		snprintf(buf, sizeof(buf), "0::%s\n", cgroup);
		put_str(pid, "cgroup", buf);
	}
}

#define ARGV(s) s, sizeof(s) - 1

/* A job tree: plain argv, a name like "job-301", and a cgroup. */
static void mkjob(pid_t pid, pid_t ppid, const char *cgroup)
{
	char cmd[32];
	int n = snprintf(cmd, sizeof(cmd), "job-%d", (int)pid);

	mkproc(pid, cmd, (size_t)n + 1, cmd, ppid, cgroup);
}

static void build_tree(void)
{
	static char big[5000], mid[300];
	int pid;

	mkproc(100, ARGV("python3\0-c\0print(1)\0"), "python3", 1, "/a");
	mkproc(101, ARGV("nginx: worker\0\0\0\0\0\0"), "nginx", 1, "/a");
	mkproc(2, "", 0, "kthreadd", 0, NULL);
	mkproc(102, "", 0, "kworker/0:1", 2, NULL);
	mkproc(104, ARGV("sh\0-c\0echo \"a b\"\nx\0"), "sh", 1, "/a");
	mkproc(106, ARGV("a\0\0b\0"), "a", 1, "/a");
	memset(big, 'x', sizeof(big));
	mkproc(105, big, sizeof(big), "x", 1, "/a");

	/* stat parsing: a comm that looks like more fields must not move the real ones. */
	mkproc(150, ARGV("parent\0"), "parent", 1, "/a");
	mkproc(200, ARGV("evil\0"), "evil", 150, "/a");
	put_str(200, "stat", "200 (a) S 1 (b) S 150 200 200 0 -1 0\n");
	mkproc(201, ARGV("my prog\0"), "my prog", 150, "/a");
	mkproc(202, ARGV("broken\0"), "broken", 150, "/a");
	put_str(202, "stat", "202 no parens S 150\n");

	/* A job chain inside /depfence/runs/x, leaving it at 303 ("/xy" is a sibling). */
	mkjob(300, 301, "/depfence/runs/x/sub");
	mkjob(301, 302, "/depfence/runs/x");
	mkjob(302, 303, NULL);
	put_str(
	    302, "cgroup",
	    "12:cpu,cpuacct:/depfence/runs/x\n1:name=systemd:/x\n0::/depfence/runs/x/deep/er\n");
	mkjob(303, 304, "/depfence/runs/xy");
	mkjob(304, 1, "/system.slice");
	/* A parent on a v1-only host has no "0::" line. */
	mkjob(310, 305, "/depfence/runs/x");
	mkjob(305, 150, NULL);
	put_str(305, "cgroup", "1:name=systemd:/depfence/runs/x\n");

	/* Depth: 400 -> 401 -> ... -> 420 -> 1. */
	for (pid = 400; pid <= 420; pid++)
		mkjob(pid, pid == 420 ? 1 : pid + 1, "/j");

	/* Ancestors: cmd cut to 128, "[comm]" for an empty cmdline, a parent that is gone. */
	memset(mid, 'y', sizeof(mid));
	mkjob(500, 501, "/j");
	mkproc(501, mid, sizeof(mid), "y", 1, "/j");
	mkjob(502, 503, "/j");
	mkproc(503, "", 0, "bash", 1, "/j");
	mkjob(504, 599, "/j");

	/* Eight parents with long commands overflow the ancestry field. */
	memset(mid, 'z', sizeof(mid));
	mkjob(600, 601, "/j");
	for (pid = 601; pid <= 608; pid++)
		mkproc(pid, mid, sizeof(mid), "z", pid + 1, "/j");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_setup(void **state)
{
	if (!mkdtemp(root))
		return -1;
	build_tree();
	procinfo_set_root(root);
	return 0;
}

static int group_teardown(void **state)
{
	procinfo_set_root(NULL);
	return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int clear_cache(void **state)
{
	procinfo_set_root(root);
	procinfo_cache_clear();
	return 0;
}

struct pi_case {
	const char *name;
	pid_t pid;
	const char *stop;
	int ret;
	const char *cmd;
	const char *ancestry;
};

static const struct pi_case cases[] = {
    {"argv joined", 100, NULL, 0, "python3 -c print(1)", ""},
    {"setproctitle padding", 101, NULL, 0, "nginx: worker", ""},
    {"empty cmdline is [comm]", 102, NULL, 0, "[kworker/0:1]", "2:[kthreadd]"},
    {"pid 0 is no parent", 2, NULL, 0, "[kthreadd]", ""},
    {"missing pid", 103, NULL, -ESRCH, "?", ""},
    {"raw bytes kept", 104, NULL, 0, "sh -c echo \"a b\"\nx", ""},
    {"empty argument", 106, NULL, 0, "a  b", ""},
    {"comm with ') S 1 ('", 200, NULL, 0, "evil", "150:parent"},
    {"comm with a space", 201, NULL, 0, "my prog", "150:parent"},
    {"unparsable stat", 202, NULL, 0, "broken", ""},
    {"stop at cgroup boundary", 300, "/depfence/runs/x", 0, "job-300", "301:job-301 > 302:job-302"},
    {"stop with trailing slash", 300, "/depfence/runs/x/", 0, "job-300",
     "301:job-301 > 302:job-302"},
    {"stop higher up", 300, "/depfence/runs", 0, "job-300",
     "301:job-301 > 302:job-302 > 303:job-303"},
    {"parent outside a deeper stop", 300, "/depfence/runs/x/sub", 0, "job-300", ""},
    {"no stop runs to pid 1", 300, NULL, 0, "job-300",
     "301:job-301 > 302:job-302 > 303:job-303 > 304:job-304"},
    {"root stop holds all", 300, "/", 0, "job-300",
     "301:job-301 > 302:job-302 > 303:job-303 > 304:job-304"},
    {"v1-only parent stops", 310, "/", 0, "job-310", ""},
    {"v1-only parent without stop", 310, NULL, 0, "job-310", "305:job-305 > 150:parent"},
    {"depth limit", 400, NULL, 0, "job-400",
     "401:job-401 > 402:job-402 > 403:job-403 > 404:job-404 > 405:job-405 > 406:job-406 > "
     "407:job-407 > 408:job-408"},
    {"depth limit with stop", 410, "/j", 0, "job-410",
     "411:job-411 > 412:job-412 > 413:job-413 > 414:job-414 > 415:job-415 > 416:job-416 > "
     "417:job-417 > 418:job-418"},
    {"short chain under depth", 417, "/j", 0, "job-417", "418:job-418 > 419:job-419 > 420:job-420"},
    {"ancestor with empty cmdline", 502, NULL, 0, "job-502", "503:[bash]"},
    {"ancestor gone", 504, NULL, 0, "job-504", "599:?"},
    {"ancestor gone, with stop", 504, "/j", 0, "job-504", ""},
};

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct pi_case *c = &cases[i];
		int r;

		procinfo_cache_clear();
		memset(&info, 0xaa, sizeof(info));
		r = procinfo_get(c->pid, 1, c->stop, &info);
		if (r != c->ret || strcmp(info.cmd, c->cmd) != 0 ||
		    strcmp(info.ancestry, c->ancestry) != 0)
			fail_msg("%s: got %d '%s' '%s', want %d '%s' '%s'", c->name, r, info.cmd,
				 info.ancestry, c->ret, c->cmd, c->ancestry);
		assert_int_equal(info.pid, c->pid);
		assert_int_equal(info.cmd_len, strlen(c->cmd));
		assert_int_equal(info.ancestry_len, strlen(c->ancestry));
	}
}

static void test_long_cmdline_cut(void **state)
{
	size_t i;

	assert_int_equal(procinfo_get(105, 1, NULL, &info), 0);
	assert_int_equal(info.cmd_len, PROCINFO_CMD_MAX - 1);
	assert_int_equal(strlen(info.cmd), PROCINFO_CMD_MAX - 1);
	for (i = 0; i < info.cmd_len; i++)
		assert_int_equal(info.cmd[i], 'x');
}

static void test_ancestor_cmd_cut(void **state)
{
	char want[200];

	assert_int_equal(procinfo_get(500, 1, NULL, &info), 0);
	memset(want, 'y', sizeof(want));
	memcpy(want, "501:", 4);
	want[4 + 128] = '\0';
	assert_string_equal(info.ancestry, want);
}

static void test_ancestry_field_full(void **state)
{
	assert_int_equal(procinfo_get(600, 1, "/j", &info), 0);
	assert_int_equal(info.ancestry_len, PROCINFO_ANCESTRY_MAX - 1);
	assert_int_equal(strlen(info.ancestry), PROCINFO_ANCESTRY_MAX - 1);
	assert_memory_equal(info.ancestry, "601:zzz", 7);
	assert_non_null(strstr(info.ancestry, " > 607:zzz"));
}

/* Within a second, the same pid and stop are answered without reading /proc. */
static void test_cache_hit(void **state)
{
	char path[256];

	assert_int_equal(procinfo_get(700, 1, NULL, &info), -ESRCH);
	mkproc(700, ARGV("first\0"), "first", 1, "/c");
	/* A failure is not cached: the pid is found once it exists. */
	assert_int_equal(procinfo_get(700, 1, "/c", &info), 0);
	assert_string_equal(info.cmd, "first");

	mkproc(700, ARGV("second\0"), "second", 1, "/c");
	assert_int_equal(procinfo_get(700, 1, "/c", &info), 0);
	assert_string_equal(info.cmd, "first");

	/* Another stop cgroup is another answer. */
	assert_int_equal(procinfo_get(700, 1, "/d", &info), 0);
	assert_string_equal(info.cmd, "second");
	assert_int_equal(procinfo_get(700, 1, NULL, &info), 0);
	assert_string_equal(info.cmd, "second");

	/* Even a pid gone from /proc is served from the cache: proof that it is not read. */
	snprintf(path, sizeof(path), "%s/700", root);
	assert_int_equal(nftw(path, rm_entry, 4, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(procinfo_get(700, 1, NULL, &info), 0);
	assert_string_equal(info.cmd, "second");

	procinfo_cache_clear();
	assert_int_equal(procinfo_get(700, 1, NULL, &info), -ESRCH);
	assert_string_equal(info.cmd, "?");
}

static void test_cache_expires(void **state)
{
	mkproc(701, ARGV("old\0"), "old", 1, "/c");
	assert_int_equal(procinfo_get(701, 1, NULL, &info), 0);
	assert_string_equal(info.cmd, "old");
	mkproc(701, ARGV("new\0"), "new", 1, "/c");
	assert_int_equal(procinfo_get(701, 1, NULL, &info), 0);
	assert_string_equal(info.cmd, "old");
	usleep(1100 * 1000);
	assert_int_equal(procinfo_get(701, 1, NULL, &info), 0);
	assert_string_equal(info.cmd, "new");
}

/*
 * `sh -c 'lookup; exec tool'`: the pid stays, the exec generation moves on,
 * and the line must name the tool, not the shell (a shell's refused nscd
 * connect once named every process it exec'd into for a second).
 */
static void test_cache_exec_generation(void **state)
{
	mkproc(702, ARGV("sh\0-c\0lookup\0"), "sh", 1, "/c");
	assert_int_equal(procinfo_get(702, 7, NULL, &info), 0);
	assert_string_equal(info.cmd, "sh -c lookup");
	mkproc(702, ARGV("tool\0"), "tool", 1, "/c");
	assert_int_equal(procinfo_get(702, 8, NULL, &info), 0);
	assert_string_equal(info.cmd, "tool");
	/* The new generation is what the cache holds now. */
	mkproc(702, ARGV("later\0"), "later", 1, "/c");
	assert_int_equal(procinfo_get(702, 8, NULL, &info), 0);
	assert_string_equal(info.cmd, "tool");
	/* Unknown: always read, never stored. */
	assert_int_equal(procinfo_get(702, PROCINFO_EXEC_UNKNOWN, NULL, &info), 0);
	assert_string_equal(info.cmd, "later");
	mkproc(702, ARGV("last\0"), "last", 1, "/c");
	assert_int_equal(procinfo_get(702, PROCINFO_EXEC_UNKNOWN, NULL, &info), 0);
	assert_string_equal(info.cmd, "last");
	assert_int_equal(procinfo_get(702, 8, NULL, &info), 0);
	assert_string_equal(info.cmd, "tool");
}

/* More pids than slots: colliding pids must never be mistaken for each other. */
static void test_cache_collisions(void **state)
{
	char cmd[32];
	int pid, round;

	for (pid = 1000; pid < 1300; pid++) {
		int n = snprintf(cmd, sizeof(cmd), "p%d", pid);

		mkproc(pid, cmd, (size_t)n + 1, cmd, 1, "/c");
	}
	for (round = 0; round < 2; round++) {
		for (pid = 1000; pid < 1300; pid++) {
			snprintf(cmd, sizeof(cmd), "p%d", pid);
			assert_int_equal(procinfo_get(pid, 1, "/c", &info), 0);
			assert_int_equal(info.pid, pid);
			assert_string_equal(info.cmd, cmd);
		}
	}
}

static void test_real_proc_self(void **state)
{
	char want[32];

	procinfo_set_root(NULL);
	assert_int_equal(procinfo_get(getpid(), 1, NULL, &info), 0);
	assert_int_equal(info.pid, getpid());
	assert_non_null(strstr(info.cmd, program_invocation_short_name));
	assert_int_equal(info.cmd_len, strlen(info.cmd));
	if (getppid() > 1) {
		snprintf(want, sizeof(want), "%d:", (int)getppid());
		assert_memory_equal(info.ancestry, want, strlen(want));
	}
	/* No parent lives in a cgroup that does not exist. */
	assert_int_equal(procinfo_get(getpid(), 1, "/depfence-test-no-such-cgroup", &info), 0);
	assert_string_equal(info.ancestry, "");
	assert_int_equal(procinfo_get(0, 1, NULL, &info), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_table, clear_cache),
	    cmocka_unit_test_setup(test_long_cmdline_cut, clear_cache),
	    cmocka_unit_test_setup(test_ancestor_cmd_cut, clear_cache),
	    cmocka_unit_test_setup(test_ancestry_field_full, clear_cache),
	    cmocka_unit_test_setup(test_cache_hit, clear_cache),
	    cmocka_unit_test_setup(test_cache_expires, clear_cache),
	    cmocka_unit_test_setup(test_cache_exec_generation, clear_cache),
	    cmocka_unit_test_setup(test_cache_collisions, clear_cache),
	    cmocka_unit_test_setup(test_real_proc_self, clear_cache),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
