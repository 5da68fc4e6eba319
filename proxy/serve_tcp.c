// SPDX-License-Identifier: GPL-2.0-only
/*
 * DNS over TCP (RFC 7766): length-prefixed messages, several per connection,
 * pipelined and answered out of order. Connections live in a fixed table;
 * a generation number stops a late upstream answer from reaching whoever
 * reuses the slot. Bounded: connections, bytes queued per connection, queries
 * in flight per connection, and idle time.
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"

#define TCP_RBUF_MIN 1024
#define TCP_RBUF_MAX (2 + 65535)

static void tcp_on_ready(struct ev_source *src, uint32_t events);

/* TCP clients guard G may have open: MAX_TCP_PER_GUARD, or less when many guards have some. */
static unsigned tcp_share(const struct engine *e, const struct guard *g)
{
	unsigned busy = e->tcp_busy_guards + !g->n_conns;
	unsigned share = MAX_TCP_CONNS / busy;

	if (share < TCP_SHARE_MIN)
		share = TCP_SHARE_MIN;
	return share < MAX_TCP_PER_GUARD ? share : MAX_TCP_PER_GUARD;
}

static void conn_close(struct engine *e, struct tcp_conn *tc)
{
	if (tc->src.fd < 0)
		return;
	loop__del(e->opts.loop, &tc->src);
	closep(&tc->src.fd);
	free(tc->rbuf);
	free(tc->wbuf);
	tc->rbuf = tc->wbuf = NULL;
	tc->rlen = tc->rcap = tc->wlen = tc->wcap = 0;
	tc->inflight = 0;
	if (tc->g && !--tc->g->n_conns)
		e->tcp_busy_guards--;
	tc->g = NULL;
	tc->gen++;
	e->n_conns--;
}

void tcp_quota_line(struct engine *e, struct guard *g, uint64_t n)
{
	unsigned share = tcp_share(e, g);

	log_msg(LOG_WARN, "tcp client limit reached guard=%s max=%u open=%u refused=%" PRIu64,
		g->log_id, g->n_conns < share ? MAX_TCP_CONNS : share, g->n_conns, n);
}

void tcp_on_accept(struct ev_source *src, uint32_t events)
{
	struct listener *l = container_of(src, struct listener, src);
	struct engine *e = l->g->engine;
	struct tcp_conn *tc = NULL;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	unsigned share;
	uint32_t i;
	int fd;

	/* Its guard was removed after this event was fetched (workers.c). */
	if (src->fd < 0)
		return;
	fd = accept4(src->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	share = tcp_share(e, l->g);
	if (l->g->n_conns < share)
		for (i = 0; i < MAX_TCP_CONNS && !tc; i++)
			if (e->conns[i].src.fd < 0)
				tc = &e->conns[i];
	if (!tc) {
		/* Over its share, or the table full: close at once rather than let the
		 * backlog hold clients forever. */
		uint64_t n = rate_note_take(&l->g->tcp_note, now_ms());

		e->met.errors[ME_TCP_QUOTA]++;
		if (n)
			tcp_quota_line(e, l->g, n);
		else
			e->notes_held = true;
		close(fd);
		return;
	}
	tc->src.fd = fd;
	tc->src.on_ready = tcp_on_ready;
	tc->opened_turn = loop__turn(e->opts.loop);
	tc->e = e;
	tc->g = l->g;
	if (!tc->g->n_conns++)
		e->tcp_busy_guards++;
	tc->peer = peer;
	tc->peer_len = plen;
	tc->last_active = now_ms();
	tc->eof = false;
	e->n_conns++;
	if (loop__add(e->opts.loop, &tc->src, EPOLLIN) < 0)
		conn_close(e, tc);
}

static void conn_events(struct engine *e, struct tcp_conn *tc)
{
	uint32_t ev = 0;

	if (tc->eof && !tc->inflight && !tc->wlen) {
		conn_close(e, tc);
		return;
	}
	if (tc->inflight < TCP_MAX_INFLIGHT && !tc->eof)
		ev |= EPOLLIN;
	if (tc->wlen)
		ev |= EPOLLOUT;
	loop__mod(e->opts.loop, &tc->src, ev);
}

static void conn_flush(struct engine *e, struct tcp_conn *tc)
{
	while (tc->wlen) {
		ssize_t n = send(tc->src.fd, tc->wbuf, tc->wlen, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_close(e, tc);
			return;
		}
		memmove(tc->wbuf, tc->wbuf + n, tc->wlen - n);
		tc->wlen -= n;
		tc->last_active = now_ms();
	}
}

void tcp_send_frame(struct engine *e, const struct client_ref *c, const uint8_t *msg, size_t len)
{
	struct tcp_conn *tc = &e->conns[c->conn_idx];
	size_t need;

	if (tc->src.fd < 0 || tc->gen != c->conn_gen)
		return;
	need = tc->wlen + 2 + len;
	if (need > TCP_WBUF_MAX) {
		/* The client is not reading its answers: it may not hold our memory. */
		conn_close(e, tc);
		return;
	}
	if (need > tc->wcap) {
		size_t cap = tc->wcap ? tc->wcap * 2 : 4096;
		uint8_t *nb;

		while (cap < need)
			cap *= 2;
		nb = realloc(tc->wbuf, cap);
		if (!nb) {
			conn_close(e, tc);
			return;
		}
		tc->wbuf = nb;
		tc->wcap = cap;
	}
	tc->wbuf[tc->wlen] = len >> 8;
	tc->wbuf[tc->wlen + 1] = len & 0xff;
	memcpy(tc->wbuf + tc->wlen + 2, msg, len);
	tc->wlen += 2 + len;
	conn_flush(e, tc);
	if (tc->src.fd >= 0)
		conn_events(e, tc);
}

/* Answer every complete frame in the read buffer while in-flight room remains. */
static void conn_process(struct engine *e, struct tcp_conn *tc)
{
	struct client_ref c = {
	    .kind = CLIENT_TCP,
	    .g = tc->g,
	    .proto = IPPROTO_TCP,
	    .fd = -1,
	    .peer = tc->peer,
	    .peer_len = tc->peer_len,
	    .conn_idx = tc - e->conns,
	    .conn_gen = tc->gen,
	    .udp_limit = UINT16_MAX,
	};
	size_t off = 0;

	e->batch++;
	while (tc->src.fd >= 0 && tc->rlen - off >= 2 && tc->inflight < TCP_MAX_INFLIGHT) {
		size_t flen = (tc->rbuf[off] << 8) | tc->rbuf[off + 1];
		size_t n;

		if (tc->rlen - off - 2 < flen)
			break;
		tc->last_active = now_ms();
		n = engine_handle_query(e, &c, tc->rbuf + off + 2, flen, e->tx[0], UDP_BUF);
		c.udp_limit = UINT16_MAX;
		off += 2 + flen;
		if (n)
			tcp_send_frame(e, &c, e->tx[0], n);
	}
	if (tc->src.fd < 0)
		return;
	if (off) {
		memmove(tc->rbuf, tc->rbuf + off, tc->rlen - off);
		tc->rlen -= off;
	}
	conn_events(e, tc);
}

static int conn_read(struct engine *e, struct tcp_conn *tc)
{
	for (;;) {
		ssize_t n;

		if (tc->rlen == tc->rcap) {
			size_t cap = tc->rcap ? tc->rcap * 2 : TCP_RBUF_MIN;
			uint8_t *nb;

			if (tc->rcap >= TCP_RBUF_MAX)
				return 0; /* a full frame is buffered: process it first */
			if (cap > TCP_RBUF_MAX)
				cap = TCP_RBUF_MAX;
			nb = realloc(tc->rbuf, cap);
			if (!nb)
				return -ENOMEM;
			tc->rbuf = nb;
			tc->rcap = cap;
		}
		n = recv(tc->src.fd, tc->rbuf + tc->rlen, tc->rcap - tc->rlen, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -ECONNRESET;
		/* Bytes alone do not count as activity (a trickle would hold the slot
		 * forever): only whole queries and written answers do. */
		tc->rlen += n;
		if (tc->rlen < tc->rcap)
			return 0;
	}
}

static void tcp_on_ready(struct ev_source *src, uint32_t events)
{
	struct tcp_conn *tc = container_of(src, struct tcp_conn, src);
	struct engine *e = tc->e;

	/* Closed, or a new connection in the slot since the wait: not its events (an
	 * EPOLLHUP of the old one would close it). Its own come with the next wait. */
	if (src->fd < 0 || tc->opened_turn == loop__turn(e->opts.loop))
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* Reset or gone both ways: nothing can be delivered, and a zero event
		 * mask would still report this on every turn. */
		conn_close(e, tc);
		return;
	}
	if (events & EPOLLOUT)
		conn_flush(e, tc);
	if (src->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		if (conn_read(e, tc) < 0)
			tc->eof = true;
		conn_process(e, tc);
	}
}

void tcp_drop_guard(struct engine *e, const struct guard *g)
{
	uint32_t i;

	for (i = 0; i < MAX_TCP_CONNS && e->n_conns; i++)
		if (e->conns[i].src.fd >= 0 && e->conns[i].g == g)
			conn_close(e, &e->conns[i]);
}

void tcp_expire(struct engine *e, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < MAX_TCP_CONNS && e->n_conns; i++) {
		struct tcp_conn *tc = &e->conns[i];

		if (tc->src.fd < 0)
			continue;
		if (now - tc->last_active > TCP_IDLE_MS)
			conn_close(e, tc);
		else if (tc->inflight < TCP_MAX_INFLIGHT)
			conn_process(e, tc); /* resume a paused connection, close a finished one */
	}
}
