// SPDX-License-Identifier: GPL-2.0-only
/*
 * The upstream UDP sockets (RFC 5452). An off-path spoofer of an answer must
 * guess the query's id and its source port, and the 0x20 case of its name
 * (upstream.c). Ports: each upstream has UP_POOL sockets in use, each bound to
 * port 0 so the kernel picks a random ephemeral port, and connected, so the
 * kernel delivers datagrams from the upstream's address and port only. A
 * query goes out on a socket picked at random, and its answer must come back
 * on that socket. A socket that has carried UP_SOCK_USES queries is replaced
 * by a fresh one (a new random port); it keeps receiving until its last query
 * is done, then closes. Every socket lives in a fixed table and is added to
 * the loop once: sending costs no allocation and no extra system call.
 */
#include "engine_int.h"

#include <string.h>

#include "log.h"

static void on_sock_ready(struct ev_source *src, uint32_t events);

static uint32_t sock_index(struct engine *e, const struct up_sock *s)
{
	return (uint32_t)(s - e->usock);
}

/* A fresh socket for upstream U into a free table entry: its index, or NIL. */
static uint32_t sock_open(struct engine *e, int u)
{
	const struct upstream *up = &e->ups[u];
	struct sockaddr_storage any = {.ss_family = up->addr.ss_family};
	socklen_t any_len = up->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							   : sizeof(struct sockaddr_in);
	struct up_sock *s;
	uint32_t i;
	int fd;

	if (!e->n_usock_free) {
		errno = ENFILE; /* UP_SOCKS open */
		return NIL;
	}
	fd = socket(up->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NIL;
	/* Port 0: the kernel's random choice among the ephemeral ports. */
	if (bind(fd, (struct sockaddr *)&any, any_len) < 0 ||
	    connect(fd, (const struct sockaddr *)&up->addr, up->len) < 0) {
		close(fd);
		return NIL;
	}
	i = e->usock_free[--e->n_usock_free];
	s = &e->usock[i];
	*s = (struct up_sock){.e = e, .upstream = (uint8_t)u, .gen = s->gen + 1};
	s->src.fd = fd;
	s->src.on_ready = on_sock_ready;
	if (loop__add(e->opts.loop, &s->src, EPOLLIN) < 0) {
		closep(&s->src.fd);
		e->usock_free[e->n_usock_free++] = i;
		return NIL;
	}
	return i;
}

static void sock_close(struct engine *e, uint32_t i)
{
	struct up_sock *s = &e->usock[i];

	if (s->src.fd < 0)
		return;
	loop__del(e->opts.loop, &s->src);
	closep(&s->src.fd);
	e->usock_free[e->n_usock_free++] = i;
}

void upsock_init(struct engine *e)
{
	uint32_t i;

	for (i = 0; i < UP_SOCKS; i++) {
		e->usock[i].src.fd = -1;
		e->usock_free[e->n_usock_free++] = UP_SOCKS - 1 - i;
	}
}

int upsock_open(struct engine *e, struct df_err *err)
{
	uint32_t i;
	int u;

	for (u = 0; u < e->n_ups; u++) {
		struct upstream *up = &e->ups[u];

		while (up->n_pool < UP_POOL) {
			i = sock_open(e, u);
			if (i == NIL)
				return df_err_set(err, -errno, "upstream %d socket: %s", u + 1,
						  strerror(errno));
			up->pool[up->n_pool++] = (uint16_t)i;
		}
	}
	return 0;
}

void upsock_close(struct engine *e)
{
	uint32_t i;

	for (i = 0; i < UP_SOCKS; i++)
		sock_close(e, i);
	for (i = 0; i < (uint32_t)e->n_ups; i++)
		e->ups[i].n_pool = 0;
}

/* Pool entry K of upstream U has done its share: a fresh socket takes its place. */
static void sock_rotate(struct engine *e, int u, unsigned k)
{
	struct upstream *up = &e->ups[u];
	uint32_t old = up->pool[k], fresh = sock_open(e, u);

	if (fresh == NIL) {
		/* Out of fds or table entries: keep the old port rather than fail queries. */
		e->usock[old].uses = 0;
		if (rate_note_take(&e->sock_note, now_ms()))
			log_msg(LOG_WARN, "upstream socket not renewed upstream=%d error=\"%s\"",
				u + 1, strerror(errno));
		return;
	}
	up->pool[k] = (uint16_t)fresh;
	e->usock[old].draining = true;
	if (!e->usock[old].refs)
		sock_close(e, old);
}

uint32_t upsock_take(struct engine *e, int u)
{
	struct upstream *up = &e->ups[u];
	unsigned k;
	uint32_t i;

	if (!up->n_pool)
		return NIL;
	k = engine_rand16(e) % up->n_pool;
	i = up->pool[k];
	e->usock[i].refs++;
	if (++e->usock[i].uses >= UP_SOCK_USES)
		sock_rotate(e, u, k);
	return i;
}

void upsock_release(struct engine *e, uint32_t i)
{
	struct up_sock *s = &e->usock[i];

	if (s->refs)
		s->refs--;
	if (s->draining && !s->refs)
		sock_close(e, i);
}

int upsock_fd(const struct engine *e, uint32_t i)
{
	return e->usock[i].src.fd;
}

static void on_sock_ready(struct ev_source *src, uint32_t events)
{
	struct up_sock *s = container_of(src, struct up_sock, src);
	struct engine *e = s->e;
	uint32_t idx = sock_index(e, s), gen = s->gen;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int i, n, rounds;

	for (rounds = 0; rounds < 8; rounds++) {
		for (i = 0; i < UDP_BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = e->rx[i], .iov_len = UDP_BUF};
			msgs[i] =
			    (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		n = recvmmsg(src->fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ECONNREFUSED) {
			upstream_failover(e, s->upstream);
			continue;
		}
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;

			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = upstream_cut_to_question(e->rx[i], len);
			if (len)
				upstream_on_answer(e, idx, e->rx[i], len);
			/* Delivering may have closed this socket (its last query done), and
			 * its entry may hold a fresh one: the rest were for no query. */
			if (s->gen != gen || src->fd < 0)
				return;
		}
		if (n < UDP_BATCH)
			return;
	}
}
