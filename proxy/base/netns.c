// SPDX-License-Identifier: GPL-2.0-only
#include "netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int netns_cookie_of_socket(int fd, uint64_t *ret_cookie)
{
	socklen_t len = sizeof(*ret_cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, ret_cookie, &len) < 0)
		return -errno;
	return 0;
}

/* A fresh netns has lo down; 127.0.0.1 is unusable until it is up. */
static int loopback_up(void)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {.ifr_name = "lo"};

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

static int open_one(int family, int type, uint16_t *port)
{
	_cleanup_close_ int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int one = 1, buf = 4 << 20;

	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(*port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(*port);
		len = sizeof(*sin6);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	else if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	if (type == SOCK_STREAM && listen(fd, 128) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return steal_fd(fd);
}

static int open_all(struct listen_set *ls, struct df_err *err)
{
	int r = loopback_up();

	if (r < 0)
		return df_err_set(err, r, "bring up lo: %s", strerror(-r));
	ls->udp4 = open_one(AF_INET, SOCK_DGRAM, &ls->udp4_port);
	if (ls->udp4 < 0)
		return df_err_set(err, ls->udp4, "udp 127.0.0.1:%u: %s", ls->udp4_port,
				  strerror(-ls->udp4));
	ls->tcp4 = ls->udp_only ? -1 : open_one(AF_INET, SOCK_STREAM, &ls->tcp4_port);
	if (ls->tcp4 < 0 && !ls->udp_only)
		return df_err_set(err, ls->tcp4, "tcp 127.0.0.1:%u: %s", ls->tcp4_port,
				  strerror(-ls->tcp4));
	/* No IPv6 in this netns is not an error: v6 DNS is then refused by BPF. */
	ls->udp6 = open_one(AF_INET6, SOCK_DGRAM, &ls->udp6_port);
	ls->tcp6 =
	    ls->udp6 < 0 || ls->udp_only ? -1 : open_one(AF_INET6, SOCK_STREAM, &ls->tcp6_port);
	if (ls->udp6 < 0 || (ls->tcp6 < 0 && !ls->udp_only)) {
		closep(&ls->udp6);
		closep(&ls->tcp6);
		ls->udp6_port = ls->tcp6_port = 0;
	}
	r = netns_cookie_of_socket(ls->udp4, &ls->netns_cookie);
	if (r < 0)
		return df_err_set(err, r, "SO_NETNS_COOKIE: %s", strerror(-r));
	return 0;
}

int listen_set_open(const char *netns_path, struct listen_set *ret, struct df_err *err)
{
	_cleanup_close_ int self = -1, target = -1;
	int r, r2;

	ret->udp4 = ret->tcp4 = ret->udp6 = ret->tcp6 = -1;
	if (!netns_path) {
		r = open_all(ret, err);
		goto out;
	}
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return df_err_set(err, -errno, "open own netns: %s", strerror(errno));
	target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return df_err_set(err, -errno, "open netns %s: %s", netns_path, strerror(errno));
	if (setns(target, CLONE_NEWNET) < 0)
		return df_err_set(err, -errno, "setns %s: %s", netns_path, strerror(errno));
	r = open_all(ret, err);
	/* Back home even if opening failed; staying in the container's netns would
	 * put every later socket of this daemon there. */
	r2 = setns(self, CLONE_NEWNET);
	if (r2 < 0) {
		listen_set_close(ret);
		return df_err_set(err, -errno, "setns back to own netns: %s", strerror(errno));
	}
	if (r < 0)
		df_err_wrap(err, "in netns %s", netns_path);
out:
	if (r < 0)
		listen_set_close(ret);
	return r;
}

void listen_set_close(struct listen_set *ls)
{
	closep(&ls->udp4);
	closep(&ls->tcp4);
	closep(&ls->udp6);
	closep(&ls->tcp6);
}
