// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfenced's system-call allowlist, the last step of start-up (after
 * daemon_drop_privileges()). What a bug in a parser of untrusted DNS could
 * still reach is then what serving needs: the event loop, sockets, BPF map
 * and link operations, cgroup, /proc and state files, setns into a
 * container's network namespace. The list was taken from strace of the daemon
 * through the whole e2e suite (runs, containers by runc and podman, restarts,
 * reloads), in the plain and the ASan/UBSan build. Everything else (execve,
 * fork: a clone without CLONE_THREAD, ptrace, mount, module loading, loading
 * BPF programs, ...) fails with EPERM; the ASan/UBSan build allows its
 * runtime a few more (allowed_san). The engine workers' threads start after
 * the filter is loaded and inherit it.
 *
 * A refused call traps (SIGSYS) instead of failing in the filter: the handler
 * makes it return -EPERM and logs it once per system call, so a call missing
 * from the list shows in the log instead of as an unexplained failure, and
 * the daemon keeps serving.
 */
#include "daemon.h"

#include <linux/bpf.h>
#include <linux/sockios.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <ucontext.h>

#include "log.h"
#include "util.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__x86_64__)
#define SIGSYS_SET_RETURN(uc, v) ((uc)->uc_mcontext.gregs[REG_RAX] = (v))
#elif defined(__aarch64__)
#define SIGSYS_SET_RETURN(uc, v) ((uc)->uc_mcontext.regs[0] = (v))
#else
#error "daemon_seccomp.c: say where the SIGSYS handler sets a system call's return value"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define DF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DF_ASAN 1
#endif
#endif

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DF_TSAN 1
#endif
#endif
#ifndef DF_TSAN
#define DF_TSAN 0
#endif

/* Every CLONE_NEW* flag: a thread of ours never makes a namespace. */
#define CLONE_NEW_ANY                                                                              \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* SIGSYS's si_code for a filter's trap (the kernel's siginfo.h) */
#endif

/* Above every system call number of x86_64 and aarch64 (the highest is below 512). */
#define NR_MAX	 1024
#define NAME_CAP 32

/*
 * Allowed whatever their arguments: what the daemon calls while serving, and
 * a few harmless ones it may call on paths the tests do not take (stat and
 * directory reads of any flavour, time, restarting a call after a signal).
 * Names missing on an architecture (rmdir on aarch64) are skipped.
 */
/* clang-format off */
static const char *const allowed[] = {
    /* the event loop, the signalfd, every fd's reads and writes */
    "epoll_wait", "epoll_pwait", "read", "write", "close", "epoll_ctl",
    /* listeners (in a container's netns too), upstreams, the control socket */
    "bind", "listen", "connect", "accept4", "getsockname", "getsockopt", "setsockopt",
    "recvfrom", "recvmmsg", "sendto", "sendmmsg",
    /* cgroup, /proc and bpffs walks (libbpf statfs()s a pin's directory),
     * saved registrations; fcntl: libbpf moves a new fd that landed on 0-2 */
    "openat", "newfstatat", "fstat", "stat", "lstat", "statx", "statfs", "fstatfs", "lseek",
    "getdents64", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "mkdir",
    "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "fsync",
    "fcntl",
    /* malloc (mmap below: never executable) */
    "brk", "munmap", "mremap",
    /* time, query ids, the wait for a killed cgroup to empty */
    "clock_gettime", "gettimeofday", "time", "clock_nanosleep", "nanosleep", "getrandom",
    /* the engine workers' threads (proxy/workers.c): started after the filter,
     * they inherit it; their stacks, locks and exit (clone and mprotect below);
     * madvise also asks huge pages for a reloaded big policy (base/bigmem.c) */
    "futex", "set_robust_list", "rseq", "madvise", "sched_getaffinity",
    /* returning from the SIGSYS handler, abort() */
    "rt_sigreturn", "restart_syscall", "rt_sigprocmask", "getpid", "gettid", "exit",
    "exit_group",
};
/* clang-format on */

#ifdef DF_ASAN
/*
 * The ASan/UBSan test build only: its runtime's own calls. At exit
 * LeakSanitizer clone()s a helper sharing our memory that ptrace()s us to
 * stop us while it scans; it uses the legacy open and getdents, and dies
 * (SIGSYS is blocked there) at the first call refused, leaving us to wait
 * for it forever. Never in the daemon that ships.
 */
/* clang-format off */
static const char *const allowed_san[] = {
    "ptrace", "wait4", "sched_yield", "sigaltstack", "rt_sigaction", "getppid", "futex",
    "open", "getdents", "mprotect", "madvise",
};
/* clang-format on */
#endif

static char names[NR_MAX][NAME_CAP];
static unsigned long logged[NR_MAX / (8 * sizeof(unsigned long))];

static size_t put_str(char *dst, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		dst[at++] = *s++;
	return at;
}

static size_t put_uint(char *dst, size_t at, size_t cap, unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(digits));
	while (n && at < cap)
		dst[at++] = digits[--n];
	return at;
}

/*
 * A refused call: it returns -EPERM. The first of each number is logged in the
 * logger's shape, with write(2) and a line built here: nothing in a signal
 * handler may allocate or take a lock (the logger's buffer may be mid-update).
 */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	unsigned long nr = (unsigned int)si->si_syscall, bit;
	char line[128];
	size_t n = 0;
	int saved = errno;

	/* SIGSYS from kill() carries no call to fail: leave the registers alone. */
	if (si->si_code != SYS_SECCOMP)
		return;
	SIGSYS_SET_RETURN((ucontext_t *)ctx, -EPERM);
	if (nr >= NR_MAX)
		nr = NR_MAX - 1; /* no such call: all share one "logged" bit */
	bit = 1UL << (nr % (8 * sizeof(unsigned long)));
	if (__atomic_fetch_or(&logged[nr / (8 * sizeof(unsigned long))], bit, __ATOMIC_RELAXED) &
	    bit)
		return;
	n = put_str(line, n, sizeof(line), "WARN seccomp refused syscall=");
	n = put_str(line, n, sizeof(line), names[nr][0] ? names[nr] : "unknown");
	n = put_str(line, n, sizeof(line), " nr=");
	n = put_uint(line, n, sizeof(line), (unsigned int)si->si_syscall);
	n = put_str(line, n, sizeof(line), " errno=EPERM\n");
	(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

static int allow_names(scmp_filter_ctx ctx, const char *const *list, size_t n)
{
	size_t i;
	int nr, r;

	for (i = 0; i < n; i++) {
		nr = seccomp_syscall_resolve_name(list[i]);
		if (nr < 0)
			continue; /* not a call of this architecture (access on aarch64) */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Allowed when argument ARG's low 32 bits (the kernel reads an int) are one of VALS. */
static int allow_values(scmp_filter_ctx ctx, int nr, unsigned int arg, const unsigned int *vals,
			size_t n)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				     SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, 0xffffffff, vals[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Calls allowed only with some arguments: each is needed, and each could do
 * far more than the daemon asks of it.
 */
static int allow_narrow(scmp_filter_ctx ctx)
{
	/* IP sockets only: no AF_PACKET or AF_NETLINK (the control socket exists already). */
	static const unsigned int families[] = {AF_INET, AF_INET6};
	/* Bring a container's lo up (netns.c); nothing else of ioctl's surface. */
	static const unsigned int ioctls[] = {SIOCGIFFLAGS, SIOCSIFFLAGS};
	/* Back and forth between our netns and a container's, no other namespace. */
	static const unsigned int nstypes[] = {CLONE_NEWNET};
	/* What a finished run left is killed (cgroup.c); nothing else is signalled. */
	static const unsigned int signals[] = {SIGKILL};
	/*
	 * Maps, pins and links of registrations, and the walks of the pinned
	 * maps (in batches: dnsguard.c map_walk); a link left pinned for a cgroup is switched to
	 * our program in place (dnsguard__attach_pinned). No program, map or BTF is loaded after
	 * start-up.
	 */
	static const unsigned int bpf_cmds[] = {
	    BPF_MAP_LOOKUP_ELEM,  BPF_MAP_UPDATE_ELEM,	 BPF_MAP_DELETE_ELEM,
	    BPF_MAP_GET_NEXT_KEY, BPF_OBJ_PIN,		 BPF_OBJ_GET,
	    BPF_PROG_QUERY,	  BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD,
	    BPF_LINK_CREATE,	  BPF_LINK_UPDATE,	 BPF_MAP_LOOKUP_BATCH,
	    BPF_MAP_DELETE_BATCH,
	};
#ifdef DF_ASAN
	/* LeakSanitizer's helper: dumpable, its ptrace of us allowed, dies with us. */
	static const unsigned int prctls[] = {PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_SET_PTRACER,
					      PR_SET_PDEATHSIG};
#endif
	unsigned int self = (unsigned int)getpid();
	int r;

	r = allow_values(ctx, SCMP_SYS(socket), 0, families, ARRAY_SIZE(families));
	if (r == 0)
		r = allow_values(ctx, SCMP_SYS(ioctl), 1, ioctls, ARRAY_SIZE(ioctls));
	if (r == 0)
		r = allow_values(ctx, SCMP_SYS(setns), 1, nstypes, ARRAY_SIZE(nstypes));
	if (r == 0)
		r = allow_values(ctx, SCMP_SYS(kill), 1, signals, ARRAY_SIZE(signals));
	if (r == 0)
		r = allow_values(ctx, SCMP_SYS(bpf), 0, bpf_cmds, ARRAY_SIZE(bpf_cmds));
	/* abort() signals this process alone. */
	if (r == 0)
		r = allow_values(ctx, SCMP_SYS(tgkill), 0, &self, 1);

	/* Memory that is never executable: no mapping code in. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* A thread stack's guard page; never making memory executable. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* Threads only (the engine workers): a clone without CLONE_THREAD, a new
	 * process, is refused, and so is one with a new namespace (the daemon keeps
	 * CAP_SYS_ADMIN for setns; it never makes a namespace). clone3's flags are in memory the
	 * filter cannot read: ENOSYS, and the C library falls back to clone. */
	if (r == 0)
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_NEW_ANY, CLONE_THREAD));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
#ifdef DF_ASAN
	if (r == 0)
		r = allow_values(ctx, SCMP_SYS(prctl), 0, prctls, ARRAY_SIZE(prctls));
	/* Threads (sharing our memory) only: nothing is forked. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM, CLONE_VM));
#endif
	return r;
}

static int build_filter(scmp_filter_ctx ctx)
{
	int r;

	/* The kernel's errno from seccomp_load, not libseccomp's ECANCELED. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/* Every thread, should a library have started one. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/*
	 * The filter describes native calls only. Nothing the daemon runs makes
	 * an i386 (int 0x80) or x32 call: one is code that took the daemon over
	 * reaching for the other table, where the native numbers mean other
	 * calls. It fails with EPERM like any refused call, unlogged (the log
	 * names native calls); killing the daemon instead would stop DNS for
	 * every guarded job and stop nothing that code could not do anyway.
	 */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
	if (r == 0)
		r = allow_names(ctx, allowed, ARRAY_SIZE(allowed));
#ifdef DF_ASAN
	if (r == 0)
		r = allow_names(ctx, allowed_san, ARRAY_SIZE(allowed_san));
#endif
	if (r == 0)
		r = allow_narrow(ctx);
	return r;
}

/* The handler may not call libseccomp (it allocates): names are looked up now. */
static void name_calls(void)
{
	int nr;

	for (nr = 0; nr < NR_MAX; nr++) {
		_cleanup_free_ char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name)
			snprintf(names[nr], NAME_CAP, "%s", name);
	}
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

int daemon_seccomp_install(struct df_err *err)
{
	__attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx = NULL;
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigset_t sys;
	int r;

	/*
	 * valgrind runs our calls as its own, cannot load a filter (it knows no
	 * seccomp(2)) and would be held to ours: under it (tests/valgrind.sh,
	 * memory checks) the daemon runs without one, and says so.
	 */
	if (RUNNING_ON_VALGRIND) {
		log_msg(LOG_WARN, "seccomp allowlist not installed: running under valgrind");
		return 0;
	}
#if defined(__SANITIZE_THREAD__) || DF_TSAN
	/* ThreadSanitizer's build (the workers' race check, make tsan): its runtime
	 * makes calls of its own from threads it starts, and handles SIGSYS itself. */
	log_msg(LOG_WARN, "seccomp allowlist not installed: ThreadSanitizer build");
	return 0;
#endif
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return df_err_set(err, -ENOMEM, "seccomp: out of memory");
	name_calls();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return df_err_set(err, -errno, "seccomp: SIGSYS handler: %s", strerror(errno));
	/* A blocked SIGSYS would make the kernel kill us at the first refused call. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &sys, NULL);
	r = build_filter(ctx);
	if (r < 0)
		return df_err_set(err, r, "seccomp: build the allowlist: %s", strerror(-r));
	r = seccomp_load(ctx);
	if (r < 0)
		return df_err_set(err, r, "seccomp: load the allowlist: %s", strerror(-r));
	return 0;
}
