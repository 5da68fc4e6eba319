// SPDX-License-Identifier: GPL-2.0-only
/*
 * cgroup_limits.c: the values (a table of what parses and what does not),
 * where the host keeps each controller (mountinfo and /proc/self/cgroup of a
 * hybrid and a pure v2 host), and what lands in which file of a fake cgroup
 * tree in a temporary directory. The real kernel side (the job sees its
 * limits, OOM kills, pids) is tests/e2e/t_limits.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_limits.h"
#include "util.h"

struct value_case {
	enum cg_limit which;
	const char *text;
	int rc;
	uint64_t want;
};

static const struct value_case value_cases[] = {
    {CG_MEMORY, "1048576", 0, 1048576},
    {CG_MEMORY, "512M", 0, 512ull << 20},
    {CG_MEMORY, "512m", 0, 512ull << 20},
    {CG_MEMORY, "2G", 0, 2ull << 30},
    {CG_MEMORY, "4k", 0, 4096},
    {CG_MEMORY, "1T", 0, 1ull << 40},
    {CG_MEMORY, "max", 0, CG_UNLIMITED},
    {CG_MEMORY, "0", -EINVAL, 0},
    {CG_MEMORY, "", -EINVAL, 0},
    {CG_MEMORY, "M", -EINVAL, 0},
    {CG_MEMORY, "12Q", -EINVAL, 0},
    {CG_MEMORY, "1.5G", -EINVAL, 0},
    {CG_MEMORY, "-1", -EINVAL, 0},
    {CG_MEMORY, "2GB", -EINVAL, 0},
    {CG_MEMORY, "1 G", -EINVAL, 0},
    {CG_MEMORY, "16777216T", -EINVAL, 0},	     /* 2^64: overflows */
    {CG_MEMORY, "99999999999999999999", -EINVAL, 0}, /* past 2^64 */
    {CG_MEMORY, "MAX", -EINVAL, 0},
    {CG_CPU, "150%", 0, 150},
    {CG_CPU, "150", 0, 150},
    {CG_CPU, "1%", 0, 1},
    {CG_CPU, "100000%", 0, 100000},
    {CG_CPU, "max", 0, CG_UNLIMITED},
    {CG_CPU, "0%", -EINVAL, 0},
    {CG_CPU, "100001%", -EINVAL, 0},
    {CG_CPU, "1.5", -EINVAL, 0},
    {CG_CPU, "50%%", -EINVAL, 0},
    {CG_CPU, "2G", -EINVAL, 0},
    {CG_PIDS, "64", 0, 64},
    {CG_PIDS, "4194304", 0, 4194304},
    {CG_PIDS, "max", 0, CG_UNLIMITED},
    {CG_PIDS, "4194305", -EINVAL, 0},
    {CG_PIDS, "0", -EINVAL, 0},
    {CG_PIDS, "10%", -EINVAL, 0},
    {CG_PIDS, "1k", -EINVAL, 0},
};

static void test_value_row(void **state)
{
	const struct value_case *c = *state;
	const char *needs = NULL;
	uint64_t v = 7;
	int rc = cg_limit_parse(c->which, c->text, strlen(c->text), &v, &needs);

	assert_int_equal(rc, c->rc);
	assert_non_null(needs);
	if (rc == 0)
		assert_true(v == c->want);
}

static void test_names_merge_str(void **state)
{
	struct cg_limits pol = {.set = 1u << CG_MEMORY | 1u << CG_PIDS,
				.val = {[CG_MEMORY] = 2ull << 30, [CG_PIDS] = 30}};
	struct cg_limits flags = {.set = 1u << CG_MEMORY | 1u << CG_CPU,
				  .val = {[CG_MEMORY] = CG_UNLIMITED, [CG_CPU] = 150}};
	char buf[128];

	assert_string_equal(cg_limit_name(CG_MEMORY), "memory-max");
	assert_int_equal(cg_limit_by_name("cpu-quota", 9), CG_CPU);
	assert_int_equal(cg_limit_by_name("pids-max", 8), CG_PIDS);
	assert_int_equal(cg_limit_by_name("pids-max", 4), -1);
	assert_int_equal(cg_limit_by_name("memory", 6), -1);
	cg_limits_str(&pol, buf, sizeof(buf));
	assert_string_equal(buf, "memory_max=2147483648 pids_max=30");
	cg_limits_merge(&pol, &flags);
	cg_limits_str(&pol, buf, sizeof(buf));
	assert_string_equal(buf, "memory_max=max cpu_quota=150% pids_max=30");
	cg_limits_str(&(struct cg_limits){0}, buf, sizeof(buf));
	assert_string_equal(buf, "");
	cg_limits_str(&pol, buf, 12); /* cut, terminated */
	assert_string_equal(buf, "memory_max=");
}

/* A fake host in a temporary directory: D/mountinfo, D/cgroup, D/v2, D/v1-*. */
struct fake {
	char dir[64];
};

/* F->dir/REL; takes turns among four buffers: two may be in one call's arguments. */
static const char *fpath(struct fake *f, const char *rel)
{
	static char paths[4][PATH_MAX];
	static unsigned turn;
	char *p = paths[turn++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", f->dir, rel);
	return p;
}

static void put(struct fake *f, const char *rel, const char *text)
{
	FILE *fp = fopen(fpath(f, rel), "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static char *get(struct fake *f, const char *rel)
{
	static char buf[256];
	FILE *fp = fopen(fpath(f, rel), "r");
	size_t n;

	if (!fp)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void mk(struct fake *f, const char *rel)
{
	assert_int_equal(mkdir(fpath(f, rel), 0755), 0);
}

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/df-cglim.XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/*
 * mountinfo of a hybrid host (as on this CI's machines): cpu, memory and pids
 * bound to v1, v2 with none of them; the caller in /ci/job in memory only.
 */
static void hybrid(struct fake *f)
{
	char mi[4096];

	snprintf(mi, sizeof(mi),
		 "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		 "31 30 0:28 / %s/v1-cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
		 "34 30 0:31 / %s/v1-memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
		 "38 30 0:35 / %s/v1-pids rw,relatime - cgroup cgroup rw,pids,clone_children\n"
		 "39 30 0:36 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
		 "40 30 0:37 / %s/v2 rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n",
		 f->dir, f->dir, f->dir, f->dir);
	put(f, "mountinfo", mi);
	put(f, "cgroup", "9:name=systemd:/\n8:pids:/\n4:memory:/ci/job\n1:cpu,cpuacct:/\n0::/\n");
	mk(f, "v2");
	put(f, "v2/cgroup.controllers", "hugetlb\n");
	mk(f, "v1-cpu");
	mk(f, "v1-memory");
	mk(f, "v1-memory/ci");
	mk(f, "v1-memory/ci/job");
	mk(f, "v1-pids");
}

static void test_host_hybrid(void **state)
{
	struct fake *f = *state;
	struct df_err err = {0};
	struct cg_host h;
	char want[PATH_MAX];

	hybrid(f);
	assert_int_equal(cg_host_read(&h, fpath(f, "mountinfo"), fpath(f, "cgroup"), &err), 0);
	snprintf(want, sizeof(want), "%s/v2", f->dir);
	assert_string_equal(h.v2_root, want);
	assert_string_equal(h.v2_controllers, "hugetlb\n");
	snprintf(want, sizeof(want), "%s/v1-memory", f->dir);
	assert_string_equal(h.v1[CG_MEMORY].mnt, want);
	assert_string_equal(h.v1[CG_MEMORY].opts, "memory");
	assert_string_equal(h.v1[CG_MEMORY].self, "/ci/job");
	/* cpu shares its hierarchy with cpuacct: both are named to mount it again. */
	assert_string_equal(h.v1[CG_CPU].opts, "cpu,cpuacct");
	assert_string_equal(h.v1[CG_CPU].self, "");
	assert_string_equal(h.v1[CG_PIDS].opts, "pids");
	/* A missing file is an error that names it. */
	assert_int_equal(cg_host_read(&h, fpath(f, "nope"), "/proc/self/cgroup", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nope"));
}

static void test_limit_hybrid(void **state)
{
	struct fake *f = *state;
	struct cg_limits l = {.set = 7,
			      .val = {[CG_MEMORY] = 64ull << 20, [CG_CPU] = 150, [CG_PIDS] = 20}};
	struct df_err err = {0};
	struct cg_host h;
	struct cg_job j;

	hybrid(f);
	mk(f, "v2/job");
	assert_int_equal(cg_host_read(&h, fpath(f, "mountinfo"), fpath(f, "cgroup"), &err), 0);
	cg_job_init(&j, &h);
	/* Every v1 hierarchy of the three is the job's to mount afresh, limited or not. */
	assert_int_equal(j.mounted, 7);
	assert_int_equal(j.v1_set, 0);
	/* A fake tree has no kernel to make a cgroup's files: make them first. */
	mk(f, "v1-memory/ci/job/depfence-run-1");
	put(f, "v1-memory/ci/job/depfence-run-1/memory.limit_in_bytes", "");
	put(f, "v1-memory/ci/job/depfence-run-1/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	mk(f, "v1-cpu/depfence-run-1");
	put(f, "v1-cpu/depfence-run-1/cpu.cfs_period_us", "");
	put(f, "v1-cpu/depfence-run-1/cpu.cfs_quota_us", "");
	mk(f, "v1-pids/depfence-run-1");
	put(f, "v1-pids/depfence-run-1/pids.max", "");
	assert_int_equal(cg_job_limit(&j, &h, &l, fpath(f, "v2/job"), "depfence-run-1", &err), 0);
	assert_string_equal(err.msg, "");
	assert_int_equal(j.v1_set, 7);
	assert_string_equal(get(f, "v1-memory/ci/job/depfence-run-1/memory.limit_in_bytes"),
			    "67108864");
	assert_string_equal(get(f, "v1-cpu/depfence-run-1/cpu.cfs_period_us"), "100000");
	assert_string_equal(get(f, "v1-cpu/depfence-run-1/cpu.cfs_quota_us"), "150000");
	assert_string_equal(get(f, "v1-pids/depfence-run-1/pids.max"), "20");
	assert_true(j.memory_v1);
	assert_int_equal(cg_job_oom_kills(&j), 2);
	/* Nothing went to the v2 cgroup. */
	assert_null(get(f, "v2/job/memory.max"));
	assert_null(get(f, "v2/cgroup.subtree_control"));

	/* "max" in v1's words. */
	l = (struct cg_limits){.set = 7, .val = {CG_UNLIMITED, CG_UNLIMITED, CG_UNLIMITED}};
	cg_job_init(&j, &h);
	assert_int_equal(cg_job_limit(&j, &h, &l, fpath(f, "v2/job"), "depfence-run-1", &err), 0);
	assert_string_equal(get(f, "v1-memory/ci/job/depfence-run-1/memory.limit_in_bytes"), "-1");
	assert_string_equal(get(f, "v1-cpu/depfence-run-1/cpu.cfs_quota_us"), "-1");
	assert_string_equal(get(f, "v1-pids/depfence-run-1/pids.max"), "max");
}

/* A pure v2 host: the limits go into the job's v2 cgroup, controllers enabled on the way. */
static void test_limit_v2(void **state)
{
	struct fake *f = *state;
	struct cg_limits l = {
	    .set = 7, .val = {[CG_MEMORY] = 2ull << 30, [CG_CPU] = 250, [CG_PIDS] = CG_UNLIMITED}};
	struct df_err err = {0};
	struct cg_host h;
	struct cg_job j;
	char mi[512];

	snprintf(mi, sizeof(mi), "40 30 0:37 / %s/v2 rw,relatime - cgroup2 cgroup2 rw\n", f->dir);
	put(f, "mountinfo", mi);
	put(f, "cgroup", "0::/system.slice/depfenced.service\n");
	mk(f, "v2");
	put(f, "v2/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	put(f, "v2/cgroup.subtree_control", "cpu memory\n");
	mk(f, "v2/depfence");
	put(f, "v2/depfence/cgroup.subtree_control", "");
	mk(f, "v2/depfence/runs");
	put(f, "v2/depfence/runs/cgroup.subtree_control", "");
	mk(f, "v2/depfence/runs/run-1-2");
	put(f, "v2/depfence/runs/run-1-2/memory.max", "");
	put(f, "v2/depfence/runs/run-1-2/cpu.max", "");
	put(f, "v2/depfence/runs/run-1-2/pids.max", "");
	put(f, "v2/depfence/runs/run-1-2/memory.events",
	    "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n");
	assert_int_equal(cg_host_read(&h, fpath(f, "mountinfo"), fpath(f, "cgroup"), &err), 0);
	assert_string_equal(h.v1[CG_MEMORY].mnt, "");
	cg_job_init(&j, &h);
	assert_int_equal(j.mounted, 0);
	assert_int_equal(
	    cg_job_limit(&j, &h, &l, fpath(f, "v2/depfence/runs/run-1-2"), "depfence-run-2", &err),
	    0);
	assert_string_equal(err.msg, "");
	assert_int_equal(j.v1_set, 0);
	assert_string_equal(get(f, "v2/depfence/runs/run-1-2/memory.max"), "2147483648");
	assert_string_equal(get(f, "v2/depfence/runs/run-1-2/cpu.max"), "250000 100000");
	assert_string_equal(get(f, "v2/depfence/runs/run-1-2/pids.max"), "max");
	/* The root had cpu and memory on already: only pids written there. */
	assert_string_equal(get(f, "v2/cgroup.subtree_control"), "+pids");
	/* A plain file keeps the last write: each level below got all three, pids last. */
	assert_string_equal(get(f, "v2/depfence/cgroup.subtree_control"), "+pids");
	assert_string_equal(get(f, "v2/depfence/runs/cgroup.subtree_control"), "+pids");
	assert_false(j.memory_v1);
	assert_int_equal(cg_job_oom_kills(&j), 1);
}

/* No hierarchy offers the controller: an error, never a job run unlimited. */
static void test_limit_missing(void **state)
{
	struct fake *f = *state;
	struct cg_limits l = {.set = 1u << CG_PIDS, .val = {[CG_PIDS] = 5}};
	struct df_err err = {0};
	struct cg_host h;
	struct cg_job j;
	char mi[512];

	snprintf(mi, sizeof(mi), "40 30 0:37 / %s/v2 rw - cgroup2 cgroup2 rw\n", f->dir);
	put(f, "mountinfo", mi);
	put(f, "cgroup", "0::/\n");
	mk(f, "v2");
	put(f, "v2/cgroup.controllers", "cpu memory\n");
	mk(f, "v2/job");
	assert_int_equal(cg_host_read(&h, fpath(f, "mountinfo"), fpath(f, "cgroup"), &err), 0);
	cg_job_init(&j, &h);
	assert_int_equal(cg_job_limit(&j, &h, &l, fpath(f, "v2/job"), "x", &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "pids-max: no pids controller on this host"));
	/* A v2 file that cannot be written: the error names it. */
	l = (struct cg_limits){.set = 1u << CG_MEMORY, .val = {[CG_MEMORY] = 1 << 20}};
	put(f, "v2/cgroup.subtree_control", "memory\n");
	cg_job_init(&j, &h);
	assert_int_equal(cg_job_limit(&j, &h, &l, fpath(f, "v2/job"), "x", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "v2/job/memory.max"));
}

/*
 * In a cgroup namespace that sees the host's v1 mount (root "/../.."), the
 * caller's own cgroup is not on that mount: a limit there is an error (a job
 * at the hierarchy's root would escape the caller's own limits), and the
 * reaper leaves the hierarchy alone.
 */
static void test_host_cgroupns(void **state)
{
	struct fake *f = *state;
	struct cg_limits l = {.set = 1u << CG_MEMORY, .val = {[CG_MEMORY] = 64ull << 20}};
	struct df_err err = {0};
	struct cg_host h;
	struct cg_job j;
	char mi[1024];

	snprintf(mi, sizeof(mi),
		 "55 51 0:31 /../.. %s/v1-memory rw - cgroup cgroup rw,memory\n"
		 "56 51 0:35 / %s/v1-pids rw - cgroup cgroup rw,pids\n"
		 "40 30 0:37 / %s/v2 rw - cgroup2 cgroup2 rw\n",
		 f->dir, f->dir, f->dir);
	put(f, "mountinfo", mi);
	put(f, "cgroup", "8:pids:/\n4:memory:/\n0::/\n");
	mk(f, "v2");
	put(f, "v2/cgroup.controllers", "\n");
	mk(f, "v2/job");
	mk(f, "v1-memory");
	assert_int_equal(cg_host_read(&h, fpath(f, "mountinfo"), fpath(f, "cgroup"), &err), 0);
	assert_false(h.v1[CG_MEMORY].visible);
	assert_true(h.v1[CG_PIDS].visible);
	cg_job_init(&j, &h);
	assert_int_equal(cg_job_limit(&j, &h, &l, fpath(f, "v2/job"), "depfence-run-9", &err),
			 -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "memory-max: this process's memory cgroup is not below"));
	assert_null(get(f, "v1-memory/depfence-run-9/memory.limit_in_bytes"));
	/* A later mount of the same hierarchy (the job's own, on top) is the one used. */
	snprintf(mi, sizeof(mi),
		 "55 51 0:31 /../.. %s/v1-memory rw - cgroup cgroup rw,memory\n"
		 "60 55 0:31 / %s/v1-memory rw - cgroup cgroup rw,memory\n",
		 f->dir, f->dir);
	put(f, "mountinfo", mi);
	assert_int_equal(cg_host_read(&h, fpath(f, "mountinfo"), fpath(f, "cgroup"), &err), 0);
	assert_true(h.v1[CG_MEMORY].visible);
	assert_string_equal(h.v1[CG_MEMORY].self, "");
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(value_cases) + 8];
	char names[ARRAY_SIZE(value_cases)][64];
	size_t n = 0, i;

	for (i = 0; i < ARRAY_SIZE(value_cases); i++) {
		snprintf(names[i], sizeof(names[i]), "%s %s", cg_limit_name(value_cases[i].which),
			 value_cases[i].text);
		tests[n++] = (struct CMUnitTest){names[i], test_value_row, NULL, NULL,
						 (void *)&value_cases[i]};
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_names_merge_str);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_host_hybrid,
									fake_setup, fake_teardown);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_limit_hybrid,
									fake_setup, fake_teardown);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_limit_v2, fake_setup,
									fake_teardown);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_host_cgroupns,
									fake_setup, fake_teardown);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test_setup_teardown(test_limit_missing,
									fake_setup, fake_teardown);
	return _cmocka_run_group_tests("cgroup_limits", tests, n, NULL, NULL);
}
