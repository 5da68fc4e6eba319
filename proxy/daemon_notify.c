// SPDX-License-Identifier: GPL-2.0-only
/*
 * Readiness for systemd (Type=notify) without libsystemd: one datagram,
 * "READY=1", to the AF_UNIX socket named by $NOTIFY_SOCKET (sd_notify(3)).
 * The socket is made and connected before the seccomp filter, which allows
 * no AF_UNIX socket; afterwards only send() (sendto) is needed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

int daemon_notify_open(int *ret_fd, struct df_err *err)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int fd, r;

	*ret_fd = -1;
	if (!name || !*name)
		return 0; /* not under systemd: nothing to tell */
	len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || len >= sizeof(sa.sun_path))
		return df_err_set(err, -EINVAL, "NOTIFY_SOCKET: not a socket path: '%s'", name);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return df_err_set(err, -errno, "NOTIFY_SOCKET: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + len) < 0) {
		r = -errno;
		close(fd);
		return df_err_set(err, r, "NOTIFY_SOCKET %s: connect: %s", name, strerror(-r));
	}
	/* Nothing the daemon starts should speak for it. */
	unsetenv("NOTIFY_SOCKET");
	*ret_fd = fd;
	return 0;
}

int daemon_notify(int fd, const char *msg)
{
	ssize_t n;

	if (fd < 0)
		return 0;
	do
		n = send(fd, msg, strlen(msg), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}
