/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Listeners inside a network namespace. A container with its own netns is
 * served by the host proxy through sockets the proxy creates in that netns:
 * setns() there, socket()+bind(), setns() back. A socket keeps the netns it
 * was created in for life.
 */
#ifndef DEPFENCE_NETNS_H
#define DEPFENCE_NETNS_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct listen_set {
	int udp4, tcp4, udp6, tcp6; /* -1 when absent (udp6/tcp6 without IPv6) */
	uint16_t udp4_port, tcp4_port, udp6_port, tcp6_port;
	uint64_t netns_cookie;
	bool udp_only; /* set before opening: udp4 and udp6 alone (a guard's replicas) */
};

#define LISTEN_SET_INIT                                                                            \
	{                                                                                          \
		.udp4 = -1, .tcp4 = -1, .udp6 = -1, .tcp6 = -1                                     \
	}

/*
 * Open the four loopback listeners (two with udp_only) in the netns at
 * NETNS_PATH (NULL: ours), on ephemeral ports, or on the ports already in RET when they are
 * non-zero (a restarted daemon reclaims the ports its BPF maps still name). Brings `lo` up in that
 * netns if it is down. All fds non-blocking and close-on-exec.
 */
int listen_set_open(const char *netns_path, struct listen_set *ret, struct df_err *err);
void listen_set_close(struct listen_set *ls);

/* The kernel's cookie for the netns a socket lives in (what bpf_get_netns_cookie returns). */
int netns_cookie_of_socket(int fd, uint64_t *ret_cookie);

#endif
