// SPDX-License-Identifier: GPL-2.0-only
/*
 * UDP listeners: recvmmsg a batch, decide each query, sendmmsg the answers
 * the engine wrote itself (refusals, FORMERR) in one call. Forwarded queries
 * are answered later from upstream.c.
 */
#include "engine_int.h"

#include <string.h>

void udp_on_ready(struct ev_source *src, uint32_t events)
{
	struct listener *l = container_of(src, struct listener, src);
	struct guard *g = l->g;
	struct engine *e = g->engine;
	struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
	struct iovec iov_in[UDP_BATCH], iov_out[UDP_BATCH];
	struct client_ref c = {.kind = CLIENT_UDP, .g = g, .proto = IPPROTO_UDP, .fd = src->fd};
	int i, n, nout, rounds;

	for (rounds = 0; rounds < 8 && src->fd >= 0; rounds++) {
		for (i = 0; i < UDP_BATCH; i++) {
			iov_in[i] = (struct iovec){.iov_base = e->rx[i], .iov_len = UDP_BUF};
			in[i] = (struct mmsghdr){.msg_hdr = {
						     .msg_name = &e->rx_addr[i],
						     .msg_namelen = sizeof(e->rx_addr[i]),
						     .msg_iov = &iov_in[i],
						     .msg_iovlen = 1,
						 }};
		}
		n = recvmmsg(src->fd, in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		e->batch++;
		nout = 0;
		for (i = 0; i < n; i++) {
			size_t len;

			c.peer_len = in[i].msg_hdr.msg_namelen;
			memcpy(&c.peer, &e->rx_addr[i], c.peer_len);
			len = engine_handle_query(e, &c, e->rx[i], in[i].msg_len, e->tx[nout],
						  UDP_BUF);
			if (!len)
				continue;
			iov_out[nout] = (struct iovec){.iov_base = e->tx[nout], .iov_len = len};
			out[nout] = (struct mmsghdr){.msg_hdr = {
							 .msg_name = &e->rx_addr[i],
							 .msg_namelen = c.peer_len,
							 .msg_iov = &iov_out[nout],
							 .msg_iovlen = 1,
						     }};
			nout++;
		}
		if (nout)
			sendmmsg(src->fd, out, nout, MSG_DONTWAIT);
		if (n < UDP_BATCH)
			return;
	}
}

void engine_reply(struct engine *e, const struct client_ref *c, uint8_t *msg, size_t len)
{
	if (c->kind == CLIENT_UDP) {
		if (c->fd >= 0)
			sendto(c->fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&c->peer,
			       c->peer_len);
	} else if (c->kind == CLIENT_TCP) {
		tcp_send_frame(e, c, msg, len);
	} /* a learning query's answer is its completion's, never a reply */
}
