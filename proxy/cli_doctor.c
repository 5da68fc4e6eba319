// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfence doctor: can depfence guard on this host, and if not, what to fix.
 * This file holds the options, the output and the kernel-side checks (kernel
 * version, privileges, BTF, loading the real BPF object, cgroup v2, bpffs);
 * cli_doctor_deploy.c the checks of the daemon, hooks and resolvers.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "cli.h"
#include "cli_doctor.h"
#include "dnsguard_api.h"
#include "paths.h"

/* The cgroup sock_addr hooks with recvmsg, sk_storage and ringbuf are all there in 5.8. */
#define KERNEL_MIN_MAJOR  5
#define KERNEL_MIN_MINOR  8
#define KERNEL_UNIX_MAJOR 6 /* cgroup/connect_unix */
#define KERNEL_UNIX_MINOR 7

#define CAP_SYS_ADMIN_BIT 21
#define CAP_BPF_BIT	  39

static const char usage[] =
    "Usage: depfence doctor [--state-dir DIR] [--hooks-dir DIR]... [--json]\n"
    "\n"
    "Check whether depfence can guard on this host: kernel and BPF programs, BTF,\n"
    "cgroup v2, bpffs, privileges, the daemon and its state directory, the OCI\n"
    "hooks for podman and CRI-O, local resolver daemons, /etc/resolv.conf. One line\n"
    "per check (ok, WARN or FAIL) with what to fix. Reads only: nothing is mounted,\n"
    "attached or sent over the network.\n"
    "\n"
    "  --state-dir DIR  the daemon's state directory (default /run/depfence)\n"
    "  --hooks-dir DIR  look for the hooks.d files here (repeatable; default\n"
    "                   /usr/share/containers/oci/hooks.d and /etc/containers/oci/hooks.d)\n"
    "  --json           one JSON array, one object per check: name, ok, level, detail, fix\n"
    "\n"
    "Exit status: 0 when depfence can guard on this host (no FAIL), 1 otherwise,\n"
    "2 for a usage error.\n";

static const char *const level_names[] = {"ok", "WARN", "FAIL"};
static const char *const level_json[] = {"ok", "warn", "fail"};

void doctor_report(struct doctor *d, enum doctor_level level, const char *name, const char *fix,
		   const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	d->n_warn += level == DOCTOR_WARN;
	d->n_fail += level == DOCTOR_FAIL;
	if (d->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "ok", json_object_new_boolean(level == DOCTOR_OK));
		json_object_object_add(o, "level", json_object_new_string(level_json[level]));
		json_object_object_add(o, "detail", json_object_new_string(detail));
		json_object_object_add(
		    o, "fix", level != DOCTOR_OK && fix ? json_object_new_string(fix) : NULL);
		json_object_array_add(d->json, o);
		return;
	}
	printf("%-4s %s: %s\n", level_names[level], name, detail);
	if (level != DOCTOR_OK && fix)
		printf("     fix: %s\n", fix);
}

/* Release MAJOR.MINOR of the running kernel; false if uname does not say. */
static bool kernel_version(unsigned *ret_major, unsigned *ret_minor, char *release, size_t cap)
{
	struct utsname u;

	if (uname(&u) < 0)
		return false;
	snprintf(release, cap, "%s", u.release);
	return sscanf(u.release, "%u.%u", ret_major, ret_minor) == 2;
}

static bool version_at_least(unsigned major, unsigned minor, unsigned want_major,
			     unsigned want_minor)
{
	return major > want_major || (major == want_major && minor >= want_minor);
}

static void check_kernel(struct doctor *d)
{
	unsigned major, minor;
	char release[65];

	if (!kernel_version(&major, &minor, release, sizeof(release))) {
		doctor_report(d, DOCTOR_FAIL, "kernel", "run Linux 6.7 or later",
			      "cannot read the kernel release from uname");
		return;
	}
	d->has_unix = version_at_least(major, minor, KERNEL_UNIX_MAJOR, KERNEL_UNIX_MINOR);
	if (!version_at_least(major, minor, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR))
		doctor_report(d, DOCTOR_FAIL, "kernel",
			      "run Linux 5.8 or later (6.7 or later for the unix-socket check)",
			      "Linux %s: older than 5.8, which the cgroup sock_addr hooks, "
			      "sk_storage and ringbuf need",
			      release);
	else if (!d->has_unix)
		doctor_report(d, DOCTOR_WARN, "kernel",
			      "run Linux 6.7 or later, or stop nscd, systemd-resolved and sssd on "
			      "deploy hosts (see their checks below)",
			      "Linux %s: DNS and packets are guarded (5.8+), but there is no "
			      "cgroup/connect_unix (6.7+): lookups a guarded job hands to nscd, "
			      "systemd-resolved or sssd are not refused",
			      release);
	else
		doctor_report(d, DOCTOR_OK, "kernel", NULL,
			      "Linux %s: cgroup sock_addr hooks, sk_storage, ringbuf (5.8+) "
			      "and cgroup/connect_unix (6.7+)",
			      release);
}

/* CapEff of this process, from /proc/self/status; 0 if unreadable. */
static uint64_t effective_caps(void)
{
	_cleanup_free_ char *text = NULL;
	unsigned long long caps;
	const char *p;

	if (read_file("/proc/self/status", &text, NULL, 1 << 16) < 0)
		return 0;
	p = strstr(text, "\nCapEff:");
	if (!p || sscanf(p + 8, "%llx", &caps) != 1)
		return 0;
	return caps;
}

static void check_privileges(struct doctor *d)
{
	uint64_t caps = effective_caps();
	bool admin = caps & (1ULL << CAP_SYS_ADMIN_BIT), bpf = caps & (1ULL << CAP_BPF_BIT);

	if (admin && bpf)
		doctor_report(d, DOCTOR_OK, "privileges", NULL,
			      "uid %u with CAP_SYS_ADMIN and CAP_BPF", (unsigned)geteuid());
	else
		doctor_report(d, DOCTOR_FAIL, "privileges",
			      "run depfence, depfenced and depfence-hook as root",
			      "uid %u without %s%s%s: BPF programs cannot be loaded or attached",
			      (unsigned)geteuid(), admin ? "" : "CAP_SYS_ADMIN",
			      !admin && !bpf ? " and " : "", bpf ? "" : "CAP_BPF");
}

static void check_btf(struct doctor *d)
{
	static const char vmlinux[] = "/sys/kernel/btf/vmlinux";

	if (access(vmlinux, R_OK) == 0)
		doctor_report(d, DOCTOR_OK, "btf", NULL,
			      "%s present: the programs' CO-RE reads of task_struct resolve "
			      "against it",
			      vmlinux);
	else
		/* libbpf also looks in /boot and /lib/modules: the bpf check says if it found one.
		 */
		doctor_report(d, DOCTOR_WARN, "btf",
			      "run a kernel built with CONFIG_DEBUG_INFO_BTF=y, or install its "
			      "vmlinux as /boot/vmlinux-$(uname -r)",
			      "no %s (%s): the BPF object's CO-RE reads need the kernel's BTF; "
			      "the bpf check shows whether libbpf found it elsewhere",
			      vmlinux, strerror(errno));
}

/*
 * libbpf's warnings during the load: the first that says what failed. The
 * RLIMIT_MEMLOCK notice comes before it and the "failed to load" summaries
 * after it; they are kept only when nothing else was said.
 */
static char libbpf_first[256], libbpf_cause[256];

static bool libbpf_noise(const char *line)
{
	return strstr(line, "Failed to bump RLIMIT_MEMLOCK") ||
	       strstr(line, "failed to load object") || strstr(line, "failed to load BPF skeleton");
}

static int keep_libbpf_warning(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[256];

	if (level != LIBBPF_WARN || libbpf_cause[0])
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (!libbpf_first[0])
		snprintf(libbpf_first, sizeof(libbpf_first), "%s", line);
	if (!libbpf_noise(line))
		snprintf(libbpf_cause, sizeof(libbpf_cause), "%s", line);
	return 0;
}

/*
 * The honest test of program and attach types: load the very object the
 * daemon loads, with private maps and nothing attached, and close it again.
 */
static void check_bpf(struct doctor *d)
{
	struct dnsguard *g = NULL;
	struct df_err err = {0};
	libbpf_print_fn_t old = libbpf_set_print(keep_libbpf_warning);
	char progs[256];
	int n;

	libbpf_first[0] = libbpf_cause[0] = '\0';
	if (dnsguard__load(NULL, &g, &err) < 0) {
		const char *said = libbpf_cause[0] ? libbpf_cause : libbpf_first;

		libbpf_set_print(old);
		doctor_report(d, DOCTOR_FAIL, "bpf",
			      "run as root on a kernel with CONFIG_BPF_SYSCALL, CONFIG_CGROUP_BPF "
			      "and BTF (see the kernel, privileges and btf checks)",
			      "the guard's BPF object does not load: %s%s%s", err.msg,
			      said[0] ? "; " : "", said);
		return;
	}
	libbpf_set_print(old);
	n = dnsguard__loaded_programs(g, progs, sizeof(progs));
	d->has_unix = strstr(progs, "connect_unix") != NULL;
	dnsguard__destroy(g);
	doctor_report(d, DOCTOR_OK, "bpf", NULL,
		      "the guard's BPF object loads (%d programs: %s), checked without "
		      "attaching",
		      n, progs);
}

static void check_cgroup2(struct doctor *d, char *root, size_t cap)
{
	struct df_err err = {0};

	if (cgroup_v2_root(root, cap, &err) < 0) {
		root[0] = '\0';
		doctor_report(d, DOCTOR_FAIL, "cgroup2",
			      "mount it (mount -t cgroup2 none /sys/fs/cgroup/unified), or boot "
			      "with systemd.unified_cgroup_hierarchy=1",
			      "%s: depfence guards cgroup v2 cgroups", err.msg);
		return;
	}
	doctor_report(d, DOCTOR_OK, "cgroup2", NULL, "mounted at %s%s", root,
		      strcmp(root, "/sys/fs/cgroup") ? " (hybrid: v1 controllers beside it, fine)"
						     : "");
}

static void check_nsdelegate(struct doctor *d, const char *root)
{
	char fix[PATH_MAX + 128];
	int r;

	if (!root[0]) {
		doctor_report(d, DOCTOR_FAIL, "nsdelegate", "see the cgroup2 check",
			      "no cgroup v2 mount to look at");
		return;
	}
	r = cgroup_has_nsdelegate(root);
	snprintf(fix, sizeof(fix),
		 "nothing to do: depfenced and depfence run turn it on at start; by hand: "
		 "mount -o remount,nsdelegate %s",
		 root);
	if (r > 0)
		doctor_report(d, DOCTOR_OK, "nsdelegate", NULL,
			      "on at %s: a guarded job cannot move out of its cgroup, even as root",
			      root);
	else if (r == 0)
		doctor_report(d, DOCTOR_WARN, "nsdelegate", fix,
			      "off at %s: until it is on, a guarded job running as root could move "
			      "a process out of its cgroup",
			      root);
	else
		doctor_report(d, DOCTOR_WARN, "nsdelegate", fix, "cannot tell at %s: %s", root,
			      strerror(-r));
}

/* Does the kernel know the bpf filesystem at all (/proc/filesystems)? */
static bool kernel_has_bpffs(void)
{
	_cleanup_free_ char *text = NULL;

	return read_file("/proc/filesystems", &text, NULL, 1 << 16) == 0 &&
	       strstr(text, "\tbpf\n") != NULL;
}

static void check_bpffs(struct doctor *d)
{
	struct statfs st;

	if (statfs(BPFFS_ROOT, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		doctor_report(d, DOCTOR_OK, "bpffs", NULL, "mounted at %s", BPFFS_ROOT);
	else if (kernel_has_bpffs())
		doctor_report(d, DOCTOR_WARN, "bpffs",
			      "nothing to do: depfenced and depfence run mount it when missing; "
			      "by hand: mount -t bpf -o mode=0700 bpf " BPFFS_ROOT,
			      "not mounted at %s: the daemon pins its links there", BPFFS_ROOT);
	else
		doctor_report(d, DOCTOR_FAIL, "bpffs",
			      "run a kernel with CONFIG_BPF_SYSCALL (bpf in /proc/filesystems)",
			      "not mounted at %s, and this kernel has no bpf filesystem",
			      BPFFS_ROOT);
}

static int parse_args(int argc, char **argv, struct doctor *d, bool *ret_json)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"hooks-dir", required_argument, NULL, 'H'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			d->state_dir = optarg;
			break;
		case 'H':
			if (d->n_hook_dirs == DOCTOR_MAX_HOOK_DIRS)
				return cli_usage_error("doctor", "--hooks-dir: at most %d",
						       DOCTOR_MAX_HOOK_DIRS);
			d->hook_dirs[d->n_hook_dirs++] = optarg;
			break;
		case 'j':
			*ret_json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_usage_error("doctor", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("doctor", "unexpected argument '%s'", argv[optind]);
	return -1;
}

/* One object per line: a reader can grep the array and json.load it alike. */
static void print_json(json_object *arr)
{
	const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	size_t i, n = json_object_array_length(arr);

	fputs("[\n", stdout);
	for (i = 0; i < n; i++)
		printf("%s%s\n",
		       json_object_to_json_string_ext(json_object_array_get_idx(arr, i), flags),
		       i + 1 < n ? "," : "");
	fputs("]\n", stdout);
}

int cli_doctor(int argc, char **argv)
{
	struct doctor d = {.state_dir = DEFAULT_STATE_DIR};
	char root[PATH_MAX];
	bool json = false;
	int r;

	r = parse_args(argc, argv, &d, &json);
	if (r >= 0)
		return r;
	if (!d.n_hook_dirs) {
		/* Where podman and CRI-O look by default (CRI-O's hooks_dir, podman's). */
		d.hook_dirs[d.n_hook_dirs++] = "/usr/share/containers/oci/hooks.d";
		d.hook_dirs[d.n_hook_dirs++] = "/etc/containers/oci/hooks.d";
	}
	if (json)
		d.json = json_object_new_array();
	check_kernel(&d);
	check_privileges(&d);
	check_btf(&d);
	check_bpf(&d);
	check_cgroup2(&d, root, sizeof(root));
	check_nsdelegate(&d, root);
	check_bpffs(&d);
	doctor_state_dir(&d);
	doctor_daemon(&d);
	doctor_hooks(&d);
	doctor_resolvers(&d);
	doctor_resolv_conf(&d);
	if (json) {
		print_json(d.json);
		json_object_put(d.json);
	} else if (d.n_fail) {
		printf("depfence cannot guard on this host: %d check%s failed, %d warning%s\n",
		       d.n_fail, d.n_fail == 1 ? "" : "s", d.n_warn, d.n_warn == 1 ? "" : "s");
	} else {
		printf("depfence can guard on this host (%d warning%s)\n", d.n_warn,
		       d.n_warn == 1 ? "" : "s");
	}
	return d.n_fail ? 1 : 0;
}
