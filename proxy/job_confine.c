// SPDX-License-Identifier: GPL-2.0-only
#include "job_confine.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_line.h"
#include "cgroup.h"
#include "log.h"
#include "paths.h"
#include "procinfo.h"
#include "redact.h"

#define MAX_CG2_MOUNTS 8

/*
 * Replace each cgroup2 mount by a fresh one, which in our new cgroup
 * namespace is rooted at the job's cgroup. The old mount is detached first,
 * so no unmount in the job uncovers the host's view under it.
 */
static int remount_cgroup2(struct df_err *err)
{
	char mnts[MAX_CG2_MOUNTS][PATH_MAX];
	int n = cgroup2_mounts(mnts, MAX_CG2_MOUNTS, err), i;

	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (umount2(mnts[i], MNT_DETACH) < 0)
			return df_err_set(err, -errno, "unmount %s: %s", mnts[i], strerror(errno));
		if (mount("cgroup2", mnts[i], "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
		    0)
			return df_err_set(err, -errno, "mount cgroup2 at %s: %s", mnts[i],
					  strerror(errno));
	}
	return 0;
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* Hand the filter's notification fd to the supervisor, then forget it here. */
static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	char byte = 'n';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/*
 * PACKET_ACTION: notify the supervisor, or (nested) refuse outright. Every
 * argument is an int to the kernel, which drops the upper 32 bits: compare
 * only the lower ones, or 1<<32 | AF_PACKET would pass as "not AF_PACKET".
 */
static int build_filter(scmp_filter_ctx ctx, uint32_t packet_action)
{
	/* The job may run setuid programs (sudo, ping): no no_new_privs. We are root. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);

	/* The kernel's own errno from seccomp_load (EBUSY), not libseccomp's ECANCELED. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/*
	 * 32-bit programs (int 0x80) get the same rules instead of being killed.
	 * Their socketcall(SOCKET) carries its arguments in memory, out of
	 * seccomp's reach: it is refused whole (32-bit glibc uses socket(2)).
	 */
	if (r == 0) {
		r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
		if (r == -EEXIST || r == -EINVAL)
			r = 0; /* native already, or not this machine's pair */
	}
	/* Packet sockets send below the cgroup's egress hook and the connect checks;
	 * SOCK_PACKET of any family is one (the kernel turns it into AF_PACKET). */
	if (r == 0)
		r = seccomp_rule_add(ctx, packet_action, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffff, AF_PACKET));
	if (r == 0)
		r = seccomp_rule_add(ctx, packet_action, SCMP_SYS(socket), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET));
	/* setns(fd, 0) joins whatever FD is, a cgroup namespace included. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, CLONE_NEWCGROUP, CLONE_NEWCGROUP));
	/* io_uring creates sockets that seccomp never sees; ENOSYS makes users fall back. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(io_uring_setup), 0);
	/* The proxy's own sockets (its upstreams) are outside the guard: no taking them. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(pidfd_getfd), 0);
	return r;
}

/*
 * Does this process run under a seccomp filter already (a nested run, or a
 * container runtime's)? The kernel allows one supervisor per chain of filters
 * (EBUSY), so then AF_PACKET is refused outright: an enclosing depfence run's
 * filter, if it is one, logs it first.
 */
static bool filtered_already(void)
{
	_cleanup_free_ char *text = NULL;
	const char *p;

	if (read_file("/proc/self/status", &text, NULL, 1 << 16) < 0)
		return true;
	p = strstr(text, "\nSeccomp:");
	return p && strtol(p + 9, NULL, 10) != 0;
}

static int add_filter(int notify_sock, struct df_err *err)
{
	__attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx =
	    seccomp_init(SCMP_ACT_ALLOW);
	bool notify = !filtered_already();
	int r, fd;

	if (!ctx)
		return df_err_set(err, -ENOMEM, "seccomp: out of memory");
	r = build_filter(ctx, notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM));
	if (r == 0)
		r = seccomp_load(ctx);
	if (r < 0)
		return df_err_set(err, r, "seccomp filter: %s", strerror(-r));
	fd = notify ? seccomp_notify_fd(ctx) : -1;
	if (fd >= 0) {
		r = send_fd(notify_sock, fd);
		close(fd);
		if (r < 0)
			return df_err_set(err, r, "hand over the seccomp notification fd: %s",
					  strerror(-r));
	}
	return 0;
}

/* An empty read-only tmpfs over DIR in the job's mount namespace. */
static int cover(const char *dir, struct df_err *err)
{
	if (mount("tmpfs", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,mode=0500") < 0)
		return df_err_set(err, -errno, "hide %s: %s", dir, strerror(errno));
	return 0;
}

/*
 * The daemon's saved registrations are what a restarted daemon trusts: in the
 * job's mount namespace an empty read-only tmpfs covers them, so a job
 * running as root cannot plant a record with a laxer policy for itself. The
 * directory is made first (root's, 0700) if no daemon made it yet, so there
 * is always something to cover.
 */
static int hide_records(const char *state_dir, struct df_err *err)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/guards", state_dir);
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return df_err_set(err, -errno, "mkdir %s: %s", state_dir, strerror(errno));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return df_err_set(err, -errno, "mkdir %s: %s", dir, strerror(errno));
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return df_err_set(err, -ENOTDIR, "%s is not a directory", dir);
	return cover(dir, err);
}

/*
 * Every guard's links and maps are pinned under /sys/fs/bpf, and a pin is all
 * that keeps a link attached: a job that is root, even with CAP_SYS_ADMIN and
 * CAP_BPF dropped, could unlink them and detach every run's guard. The job
 * sees an empty read-only tmpfs there instead (a nested depfence run mounts a
 * bpffs of its own on top, which needs CAP_SYS_ADMIN).
 */
static int hide_pins(struct df_err *err)
{
	struct statfs st;

	if (statfs(BPFFS_ROOT, &st) < 0 || st.f_type != BPF_FS_MAGIC)
		return 0;
	return cover(BPFFS_ROOT, err);
}

int job_confine(int notify_sock, const char *state_dir, const struct cg_job *limits,
		struct df_err *err)
{
	int r;

	if (unshare(CLONE_NEWCGROUP | CLONE_NEWNS) < 0)
		return df_err_set(err, -errno, "unshare cgroup and mount namespaces: %s",
				  strerror(errno));
	/* Host mounts still reach the job; the job's own never reach the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return df_err_set(err, -errno, "make mounts private: %s", strerror(errno));
	r = remount_cgroup2(err);
	/* The v1 hierarchies of its limits too: the job sees its own limits, not the host's tree.
	 */
	if (r == 0 && limits)
		r = cg_job_remount(limits, err);
	if (r == 0 && state_dir)
		r = hide_records(state_dir, err);
	if (r == 0)
		r = hide_pins(err);
	if (r == 0)
		r = add_filter(notify_sock, err);
	return r;
}

int job_notify_recv(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1; /* the child failed before, or its filter has no supervisor */
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* As engine_quote_cmd(), for the run's own lines: this process has no guard. */
static void quote_cmd(const struct job_notify_ctx *ctx, char *dst, size_t cap, const char *src,
		      size_t len, bool ancestry)
{
	char clean[PROCINFO_CMD_MAX + 64];
	size_t n;

	if (ctx->full_cmdline) {
		logfmt_quote(dst, cap, src, len);
		return;
	}
	n = ancestry ? redact_ancestry(clean, sizeof(clean), src, len)
		     : redact_cmdline(clean, sizeof(clean), src, len);
	logfmt_quote(dst, cap, clean, n);
}

int job_notify_handle(int fd, const struct job_notify_ctx *ctx)
{
	/* Kernel-sized (SECCOMP_GET_NOTIF_SIZES), made once; this also has
	 * libseccomp check the kernel's support in this process. */
	static struct seccomp_notif *req;
	static struct seccomp_notif_resp *resp;
	struct procinfo pi;
	char cmd[PROCINFO_CMD_MAX * 4 + 8], anc[PROCINFO_ANCESTRY_MAX * 4 + 8],
	    exe[PROCINFO_EXE_MAX * 4 + 8];
	bool audit = ctx->mode && strcmp(ctx->mode, "audit") == 0;
	char what[64], line[sizeof(cmd) + sizeof(anc) + sizeof(exe) + 1024];
	struct block_line b = {
	    .kind = "PACKET BLOCKED",
	    .reason = "RawSocket",
	    .blocked = !audit,
	    .blocked_at = "socket",
	    .cmd = cmd,
	    .ancestry = anc,
	    .exe = exe,
	    .mode = ctx->mode,
	    .policy = ctx->policy,
	    .id_key = ctx->id_key,
	    .id = ctx->id,
	    .rule = "builtin",
	};
	int r, n;

	if (!req && (r = seccomp_notify_alloc(&req, &resp)) < 0)
		return r;
	/* The kernel refuses (EINVAL) a receive buffer that is not zeroed. */
	memset(req, 0, sizeof(*req));
	r = seccomp_notify_receive(fd, req);
	if (r < 0)
		return r == -ENOENT || r == -EINTR ? 0 : r; /* the caller died meanwhile */
	/* The process waits in socket() until we answer: /proc/PID is surely its.
	 * Its exec generation is not in the notification: read afresh. */
	procinfo_get(req->pid, PROCINFO_EXEC_UNKNOWN, ctx->cgroup_rel, &pi);
	quote_cmd(ctx, cmd, sizeof(cmd), pi.cmd, pi.cmd_len, false);
	quote_cmd(ctx, anc, sizeof(anc), pi.ancestry, pi.ancestry_len, true);
	logfmt_quote(exe, sizeof(exe), pi.exe, pi.exe_len);
	/* rule=builtin: every guard refuses raw sockets, whatever its policy says. */
	n = snprintf(what, sizeof(what), "family=%s protocol=%u",
		     req->data.nr == SCMP_SYS(socket) && (uint32_t)req->data.args[0] == AF_PACKET
			 ? "packet"
			 : "packet-compat",
		     (unsigned)ntohs((uint16_t)req->data.args[2]));
	b.what = what;
	b.what_len = n < 0 ? 0 : (size_t)n;
	b.pid = (uint32_t)req->pid;
	if (block_line_format(&b, line, sizeof(line)))
		log_msg(LOG_WARN, "%s", line);
	resp->id = req->id;
	resp->val = 0;
	resp->error = audit ? 0 : -EPERM;
	resp->flags = audit ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
	r = seccomp_notify_respond(fd, resp);
	return r == -ENOENT ? 0 : r;
}

void job_boundary_init(const char *root)
{
	struct df_err err = {0};
	int r = cgroup_ns_delegate(root, &err);

	if (r > 0)
		log_msg(LOG_INFO,
			"cgroup2 at %s: nsdelegate turned on: a guarded job cannot move out of "
			"its cgroup",
			root);
	else if (r < 0)
		log_msg(LOG_WARN,
			"%s: a guarded job running as root could move a process out of its "
			"cgroup through another mount namespace",
			err.msg);
}
