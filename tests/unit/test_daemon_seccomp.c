// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfenced's seccomp allowlist, installed for real in a forked child (a
 * filter cannot be removed): allowed calls work, refused ones return EPERM
 * and the process lives on, each refused call is logged once, in the
 * logger's shape, and the kernel reports the filter. The child checks each
 * step and exits with the number of the first that failed; its stderr comes
 * back through a pipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "util.h"

/* -1 with EPERM, as a refused call must fail. */
static bool refused(long r)
{
	return r == -1 && errno == EPERM;
}

static int child(void)
{
	char *const argv[] = {"true", NULL};
	union bpf_attr attr = {0};
	_cleanup_free_ char *status = NULL;
	struct df_err err = {0};
	int fd;

	if (daemon_seccomp_install(&err) < 0) {
		fprintf(stderr, "install: %s\n", err.msg);
		return 1;
	}
	/* Allowed. */
	if (syscall(SYS_getpid) != getpid())
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 3;
	close(fd);
	/* Refused, twice: the second is not logged again. A path that does not
	 * exist, so that a filter that let execve through would not run anything. */
	if (!refused(syscall(SYS_execve, "/nonexistent/true", argv, argv + 1)))
		return 4;
	if (!refused(syscall(SYS_execve, "/nonexistent/true", argv, argv + 1)))
		return 5;
	if (!refused(syscall(SYS_personality, 0xffffffffUL)))
		return 6;
	/* Allowed calls with arguments out of bounds. */
	if (!refused(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)))
		return 7;
	if (!refused(syscall(SYS_setns, -1, CLONE_NEWNS)))
		return 8;
	if (!refused(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr))))
		return 9;
#ifdef __x86_64__
	/* An x32 call (the other table): refused, not logged. */
	if (!refused(syscall(0x40000000 | SYS_getpid)))
		return 10;
#endif
	if (read_file("/proc/self/status", &status, NULL, 1 << 16) < 0)
		return 11;
	if (!strstr(status, "\nSeccomp:\t2\n"))
		return 12;
	return 0;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (; (text = strstr(text, needle)); text++)
		n++;
	return n;
}

static void test_allowlist(void **state)
{
	char out[4096];
	size_t len = 0;
	ssize_t n;
	int p[2], st;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		_exit(child());
	}
	close(p[1]);
	while (len < sizeof(out) - 1 && (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("child status %#x (exit %d: the step that failed); stderr:\n%s", st,
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
	/* One line per refused call, the first time only, in the logger's shape. */
	{
		char line[128];

		snprintf(line, sizeof(line),
			 "WARN seccomp refused syscall=execve nr=%d errno=EPERM\n", SYS_execve);
		assert_int_equal(count(out, line), 1);
		snprintf(line, sizeof(line),
			 "WARN seccomp refused syscall=personality nr=%d errno=EPERM\n",
			 SYS_personality);
		assert_int_equal(count(out, line), 1);
	}
	assert_int_equal(count(out, "seccomp refused syscall=socket "), 1);
	assert_int_equal(count(out, "seccomp refused syscall=setns "), 1);
	assert_int_equal(count(out, "seccomp refused syscall=bpf "), 1);
	assert_int_equal(count(out, "\n"), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allowlist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
