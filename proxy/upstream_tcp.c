// SPDX-License-Identifier: GPL-2.0-only
/*
 * DNS over TCP to the upstream, for the rare answer that did not fit in UDP
 * (TC set) when the client asked over TCP and can take all of it. One
 * connection per such query; it lives no longer than the query's pending slot.
 */
#include "engine_int.h"

#include <string.h>

#define UTCP_MAX 64
#define UTCP_BUF (2 + 65535)

struct upstream_tcp {
	struct ev_source src;
	struct upstream_tcp *next_dead; /* freed after the loop turn, like guards */
	struct engine *e;
	uint32_t slot;
	bool connected;
	size_t off, len; /* write progress, then bytes read */
	uint8_t buf[UTCP_BUF];
};

void utcp_close(struct engine *e, struct upstream_tcp *t)
{
	loop__del(e->opts.loop, &t->src);
	closep(&t->src.fd);
	if (e->pend[t->slot].tcp == t)
		e->pend[t->slot].tcp = NULL;
	e->n_utcp--;
	/* Its event may still sit in this loop turn's batch: free it after. */
	t->next_dead = e->utcp_dead;
	e->utcp_dead = t;
}

void utcp_reap(struct engine *e)
{
	struct upstream_tcp *t;

	while ((t = e->utcp_dead)) {
		e->utcp_dead = t->next_dead;
		free(t);
	}
}

static void utcp_read(struct engine *e, struct upstream_tcp *t)
{
	struct dns_msg m;
	size_t need;
	ssize_t n;

	n = recv(t->src.fd, t->buf + t->len, UTCP_BUF - t->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		utcp_close(e, t); /* the slot's timeout answers the client */
		return;
	}
	t->len += n;
	if (t->len < 2)
		return;
	need = 2 + ((size_t)t->buf[0] << 8 | t->buf[1]);
	if (t->len < need)
		return;
	if (dns_parse(t->buf + 2, need - 2, &m) != DNS_OK ||
	    upstream_match(e, t->buf + 2, need - 2, &m, NIL) != t->slot) {
		utcp_close(e, t);
		return;
	}
	/* Delivering frees the slot, which closes this connection. */
	upstream_deliver(e, t->slot, t->buf + 2, need - 2, &m);
}

static void utcp_ready(struct ev_source *src, uint32_t events)
{
	struct upstream_tcp *t = container_of(src, struct upstream_tcp, src);
	struct engine *e = t->e;
	ssize_t n;

	if (src->fd < 0)
		return;
	if (!t->connected) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(src->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			utcp_close(e, t);
			return;
		}
		t->connected = true;
	}
	if (t->off < t->len) {
		n = send(src->fd, t->buf + t->off, t->len - t->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			utcp_close(e, t);
			return;
		}
		if (n > 0)
			t->off += n;
		if (t->off == t->len) {
			t->off = t->len = 0;
			loop__mod(e->opts.loop, src, EPOLLIN);
		}
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		utcp_read(e, t);
}

int utcp_start(struct engine *e, uint32_t slot)
{
	struct pending *p = &e->pend[slot];
	struct upstream *u = &e->ups[p->upstream];
	struct upstream_tcp *t;

	if (e->n_utcp >= UTCP_MAX)
		return -EBUSY;
	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->e = e;
	t->slot = slot;
	t->connected = false;
	t->off = 0;
	t->buf[0] = p->qlen >> 8;
	t->buf[1] = p->qlen & 0xff;
	memcpy(t->buf + 2, p->query, p->qlen);
	t->len = 2 + p->qlen;
	t->src.on_ready = utcp_ready;
	t->src.fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->src.fd < 0 ||
	    (connect(t->src.fd, (struct sockaddr *)&u->addr, u->len) < 0 && errno != EINPROGRESS) ||
	    loop__add(e->opts.loop, &t->src, EPOLLOUT) < 0) {
		closep(&t->src.fd);
		free(t);
		return -EIO;
	}
	p->tcp = t;
	e->n_utcp++;
	return 0;
}
