// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfenced parses untrusted DNS from every guarded job. Once it is set up it
 * keeps only the capabilities its registrations need and can never gain one
 * again (no_new_privs, bounding set trimmed), so a bug in a parser is not a
 * full root on the host.
 */
#include "daemon.h"

#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* What registering, restoring and stopping guards take, and nothing else. */
static const int keep[] = {
    CAP_SYS_ADMIN,	 /* setns into a container's netns, BPF attach, bpffs */
    CAP_BPF,		 /* map and link operations */
    CAP_PERFMON,	 /* loading a program again after an upgrade */
    CAP_NET_ADMIN,	 /* bring a container's lo up */
    CAP_SYS_PTRACE,	 /* /proc/PID/ns/net and cmdline of any job's process */
    CAP_KILL,		 /* kill what a finished run left */
    CAP_DAC_OVERRIDE,	 /* cgroup and state files whatever their mode */
    CAP_DAC_READ_SEARCH, /* /proc of other users' processes */
    CAP_FOWNER,		 /* state files and pins made by an earlier daemon */
    CAP_IPC_LOCK,	 /* BPF memory on kernels that still charge memlock */
    CAP_SYS_RESOURCE,	 /* the same, where the host grants it */
};

static bool kept(int cap)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keep); i++)
		if (keep[i] == cap)
			return true;
	return false;
}

int daemon_drop_privileges(struct df_err *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	_cleanup_free_ char *text = NULL;
	int last = 40, cap;
	size_t i;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return df_err_set(err, -errno, "no_new_privs: %s", strerror(errno));
	if (read_file("/proc/sys/kernel/cap_last_cap", &text, NULL, 64) == 0)
		last = atoi(text);
	/* The bounding set first: dropping needs CAP_SETPCAP, which goes next. */
	for (cap = 0; cap <= last; cap++)
		if (!kept(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return df_err_set(err, -errno, "drop capability %d: %s", cap,
					  strerror(errno));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return df_err_set(err, -errno, "capget: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		__u32 mask = 0;

		for (cap = (int)i * 32; cap < (int)i * 32 + 32; cap++)
			if (kept(cap))
				mask |= 1u << (cap % 32);
		data[i].effective &= mask;
		data[i].permitted &= mask;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return df_err_set(err, -errno, "capset: %s", strerror(errno));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}
