// SPDX-License-Identifier: GPL-2.0-only
/*
 * Forwarding to upstream resolvers. Each in-flight query owns a slot of a
 * fixed table; the slot number (xor a per-process salt) is the id sent
 * upstream, so a reply finds its query in O(1). Every attempt gets the same
 * timeout, so a FIFO ordered by send time is also ordered by deadline and
 * expiry is O(1) per query. When an attempt times out the next upstream is
 * tried; when the give-up time passes the client gets SERVFAIL.
 */
#include "engine_int.h"

#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "report_collect.h"

/* An upstream that timed out is asked last for this long. */
#define UPSTREAM_DEAD_MS 5000

/*
 * An answer larger than our buffer (an upstream ignoring the size we offered):
 * keep header and question, set TC, so the client is told to retry over TCP
 * (or a TCP client's retry goes upstream over TCP) instead of timing out.
 */
static size_t cut_to_question(uint8_t *buf, size_t len)
{
	struct dns_msg m;

	dns_parse(buf, len, &m);
	if (m.question_end <= DNS_HDR_LEN)
		return 0;
	buf[2] |= DNS_FLAG_TC >> 8;
	memset(buf + 6, 0, 6); /* AN, NS, AR counts */
	return m.question_end;
}

static void on_upstream_reply(struct ev_source *src, uint32_t events);

/* Microseconds: most answers come back within one millisecond from a local resolver. */
static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int upstreams_open(struct engine *e, struct df_err *err)
{
	int i;

	for (i = 0; i < e->opts.n_upstreams; i++) {
		struct upstream *u = &e->ups[i];
		int fd;

		u->e = e;
		u->addr = e->opts.upstreams[i];
		u->len = e->opts.upstream_lens[i];
		fd = socket(u->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return df_err_set(err, -errno, "upstream socket: %s", strerror(errno));
		u->src.fd = fd;
		e->n_ups++;
		/* Connected: the kernel drops datagrams from anyone but the upstream. */
		if (connect(fd, (struct sockaddr *)&u->addr, u->len) < 0)
			return df_err_set(err, -errno, "upstream %d connect: %s", i + 1,
					  strerror(errno));
		u->src.on_ready = on_upstream_reply;
		if (loop__add(e->opts.loop, &u->src, EPOLLIN) < 0)
			return df_err_set(err, -errno, "epoll: %s", strerror(errno));
	}
	return 0;
}

void upstreams_close(struct engine *e)
{
	int i;

	for (i = 0; i < e->n_ups; i++) {
		loop__del(e->opts.loop, &e->ups[i].src);
		closep(&e->ups[i].src.fd);
	}
	e->n_ups = 0;
}

static void fifo_unlink(struct engine *e, uint32_t i)
{
	struct pending *p = &e->pend[i];

	if (p->prev != NIL)
		e->pend[p->prev].next = p->next;
	else
		e->fifo_head = p->next;
	if (p->next != NIL)
		e->pend[p->next].prev = p->prev;
	else
		e->fifo_tail = p->prev;
	p->prev = p->next = NIL;
}

static void fifo_append(struct engine *e, uint32_t i)
{
	struct pending *p = &e->pend[i];

	p->prev = e->fifo_tail;
	p->next = NIL;
	if (e->fifo_tail != NIL)
		e->pend[e->fifo_tail].next = i;
	else
		e->fifo_head = i;
	e->fifo_tail = i;
}

static void slot_free(struct engine *e, uint32_t i)
{
	if (e->pend[i].tcp)
		utcp_close(e, e->pend[i].tcp);
	fifo_unlink(e, i);
	e->id_slot[e->pend[i].up_id] = 0;
	e->pend[i].used = false;
	e->free_slots[e->n_free++] = i;
	if (e->pend[i].client.proto == IPPROTO_TCP) {
		struct tcp_conn *tc = &e->conns[e->pend[i].client.conn_idx];

		if (tc->gen == e->pend[i].client.conn_gen && tc->inflight)
			tc->inflight--;
	}
}

/* FNV-1a of the question name and type: enough to reject a mismatched reply. */
static uint64_t question_hash(const struct dns_msg *m)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < m->qname_len; i++)
		h = (h ^ (uint8_t)m->qname[i]) * 1099511628211ULL;
	return (h ^ m->qtype) * 1099511628211ULL;
}

/* The live upstream to try next: in order, skipping ones recently dead. */
static int pick_upstream(struct engine *e, int after, uint64_t now)
{
	int i, idx;

	for (i = 1; i <= e->n_ups; i++) {
		idx = (after + i) % e->n_ups;
		if (e->ups[idx].dead_until <= now)
			return idx;
	}
	return (after + 1) % e->n_ups;
}

static int send_attempt(struct engine *e, uint32_t slot)
{
	struct pending *p = &e->pend[slot];
	struct upstream *u = &e->ups[p->upstream];
	ssize_t n;

	n = send(u->src.fd, p->query, p->qlen, 0);
	if (n < 0 && errno != EAGAIN && errno != ECONNREFUSED)
		return -errno;
	return 0;
}

/* A random id not in use: drawn from getrandom() in bulk, so a draw costs no syscall. */
static uint16_t fresh_id(struct engine *e)
{
	int tries;

	for (tries = 0;; tries++) {
		uint16_t id;

		if (!e->rnd_left) {
			if (getrandom(e->rnd, sizeof(e->rnd), 0) != sizeof(e->rnd))
				for (unsigned i = 0; i < ARRAY_SIZE(e->rnd); i++)
					e->rnd[i] = (uint16_t)(now_ms() * 2654435761u + i * 40503u);
			e->rnd_left = ARRAY_SIZE(e->rnd);
		}
		id = e->rnd[--e->rnd_left];
		/* At most 8192 of 65536 ids are live: a free one comes within a few draws. */
		if (!e->id_slot[id] || tries > 64)
			return id;
	}
}

int upstream_forward(struct engine *e, const struct client_ref *c, const uint8_t *q, size_t len,
		     const struct dns_msg *m)
{
	uint64_t now = now_ms();
	struct pending *p;
	uint32_t slot;

	if (!e->n_ups || !e->n_free || len > PENDING_QMAX)
		return -ENOBUFS;
	slot = e->free_slots[--e->n_free];
	p = &e->pend[slot];
	p->used = true;
	p->client = *c;
	p->client_id = m->id;
	p->qtype = m->qtype;
	p->qhash = question_hash(m);
	p->client_edns = m->has_edns;
	p->client_do = m->edns_do;
	p->tries = 1;
	p->upstream = pick_upstream(e, e->n_ups - 1, now);
	p->deadline = now + e->opts.try_timeout_ms;
	p->give_up_at = now + e->opts.servfail_after_ms;
	p->sent_us = now_us();
	memcpy(p->query, q, len);
	/* With EDNS the upstream may send up to 1232 bytes, not 512: large answers
	 * survive over UDP and can be cached; a client without EDNS gets them cut
	 * with TC and retries over TCP. */
	p->qlen = m->has_edns ? len : dns_add_opt(p->query, len, PENDING_QMAX);
	/* Never offer the upstream more than we can take in one datagram. */
	if (m->has_edns && m->edns_udp_size > DNS_EDNS_OUR_UDP) {
		p->query[m->opt_off + 3] = DNS_EDNS_OUR_UDP >> 8;
		p->query[m->opt_off + 4] = DNS_EDNS_OUR_UDP & 0xff;
	}
	p->up_id = fresh_id(e);
	e->id_slot[p->up_id] = slot + 1;
	dns_set_id(p->query, p->up_id);
	fifo_append(e, slot);
	if (c->proto == IPPROTO_TCP)
		e->conns[c->conn_idx].inflight++;
	if (send_attempt(e, slot) < 0) {
		slot_free(e, slot);
		return -EIO;
	}
	return 0;
}

static void answer_servfail(struct engine *e, uint32_t slot)
{
	struct pending *p = &e->pend[slot];
	uint8_t out[PENDING_QMAX + 16];
	struct dns_msg m;
	size_t n;

	dns_set_id(p->query, p->client_id);
	if (dns_parse(p->query, p->qlen, &m) != DNS_OK)
		return;
	m.has_edns = p->client_edns; /* not the OPT we added for the upstream */
	n = dns_build_empty_reply(p->query, &m, DNS_RCODE_SERVFAIL, out, sizeof(out));
	if (n && p->client.proto)
		engine_reply(e, &p->client, out, n);
	e->st.servfail++;
	e->met.errors[ME_SERVFAIL]++;
}

void upstream_expire(struct engine *e, uint64_t now)
{
	while (e->fifo_head != NIL && e->pend[e->fifo_head].deadline <= now) {
		uint32_t slot = e->fifo_head;
		struct pending *p = &e->pend[slot];

		e->ups[p->upstream].dead_until = now + UPSTREAM_DEAD_MS;
		e->met.errors[ME_UPSTREAM_TIMEOUT]++;
		if (now + 1 >= p->give_up_at) {
			log_msg(LOG_DEBUG, "upstream timeout, answering SERVFAIL");
			answer_servfail(e, slot);
			slot_free(e, slot);
			continue;
		}
		fifo_unlink(e, slot);
		if (p->tcp)
			utcp_close(e, p->tcp);
		p->upstream = pick_upstream(e, p->upstream, now);
		p->tries++;
		p->deadline = now + e->opts.try_timeout_ms;
		if (p->deadline > p->give_up_at)
			p->deadline = p->give_up_at;
		fifo_append(e, slot);
		send_attempt(e, slot);
	}
}

int upstream_next_timeout(struct engine *e, uint64_t now)
{
	uint64_t d;

	if (e->fifo_head == NIL)
		return -1;
	d = e->pend[e->fifo_head].deadline;
	return d <= now ? 0 : (int)(d - now);
}

void upstream_drop_guard(struct engine *e, const struct guard *g)
{
	uint32_t i;

	for (i = 0; i < MAX_PENDING; i++)
		if (e->pend[i].used && e->pend[i].client.g == g)
			slot_free(e, i);
}

/* The pending slot an upstream answer belongs to, or NIL for a stray or late one. */
uint32_t upstream_match(struct engine *e, const struct dns_msg *m)
{
	uint32_t slot = (uint32_t)e->id_slot[m->id] - 1;
	struct pending *p;

	if (!(m->flags & DNS_FLAG_QR) || slot >= MAX_PENDING)
		return NIL;
	p = &e->pend[slot];
	if (!p->used || p->qhash != question_hash(m) || p->qtype != m->qtype)
		return NIL;
	return slot;
}

void upstream_deliver(struct engine *e, uint32_t slot, uint8_t *buf, size_t len,
		      const struct dns_msg *m)
{
	struct pending *p = &e->pend[slot];
	struct client_ref client = p->client;
	bool client_edns = p->client_edns, client_do = p->client_do;
	/* BUF may live in the TCP retry's buffer: keep that open until we are done. */
	struct upstream_tcp *tcp = steal_ptr(p->tcp);
	size_t n;

	dns_set_id(buf, p->client_id);
	metrics__latency(&e->met, now_us() - p->sent_us);
	/* Free first: a TCP connection's in-flight count must drop before it is resumed. */
	slot_free(e, slot);
	cache__store(e->cache, buf, len, m, client_do, now_ms());
	if (!client.proto) {
		enforce_learned_answer(e, client.learn_policy_id, buf, len, m);
		goto out;
	}
	/* A chain to a blocked name: the refusal goes instead, and nothing is handed. */
	n = answer_check(e, &client, buf, len, m, client_edns, client_do);
	if (n) {
		engine_reply(e, &client, buf, n);
		goto out;
	}
	/*
	 * A nested run forwards through the enclosing guard: a REFUSED from it is
	 * that guard's block (its own line names our forwarder), so ours names the
	 * process that asked.
	 */
	if (e->opts.nested && DNS_RCODE(m->flags) == DNS_RCODE_REFUSED) {
		engine_log_event(e, &client, m, EV_ENCLOSING, 0);
		report_late_refusal(&client, m, VERDICT_BLOCK, 0, true);
	}
	if (enforce_wants_answers(e, client.g))
		enforce_answer(e, client.g, buf, len, m);
	report_answer(&client, buf, len, m);
	len = engine_adapt_answer(buf, len, m, client_edns, client.udp_limit);
	engine_reply(e, &client, buf, len);
	e->st.answered++;
out:
	if (tcp)
		utcp_close(e, tcp);
}

static void handle_reply(struct engine *e, struct upstream *u, uint8_t *buf, size_t len)
{
	struct dns_msg m;
	uint32_t slot;

	if (dns_parse(buf, len, &m) != DNS_OK)
		return;
	slot = upstream_match(e, &m);
	if (slot == NIL)
		return;
	u->dead_until = 0;
	if (e->pend[slot].tcp)
		return; /* already asked again over TCP: that answer is the one */
	/* Cut by the upstream, for a client that can take it all: ask again over TCP. */
	if ((m.flags & DNS_FLAG_TC) && e->pend[slot].client.proto == IPPROTO_TCP &&
	    !e->pend[slot].tcp && utcp_start(e, slot) == 0)
		return;
	upstream_deliver(e, slot, buf, len, &m);
}

/*
 * The kernel says nobody listens at upstream IDX (ICMP port unreachable): do
 * not wait for the timeout, move its queries to the next upstream now.
 */
static void failover(struct engine *e, int idx)
{
	uint64_t now = now_ms();
	uint32_t i;

	e->ups[idx].dead_until = now + UPSTREAM_DEAD_MS;
	if (e->n_ups < 2)
		return;
	for (i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &e->pend[i];

		if (!p->used || p->upstream != idx || p->tcp)
			continue;
		p->upstream = pick_upstream(e, idx, now);
		p->tries++;
		send_attempt(e, i);
	}
}

static void on_upstream_reply(struct ev_source *src, uint32_t events)
{
	struct upstream *u = container_of(src, struct upstream, src);
	struct engine *e = u->e;
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
			failover(e, u - e->ups);
			continue;
		}
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;

			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = cut_to_question(e->rx[i], len);
			if (len)
				handle_reply(e, u, e->rx[i], len);
		}
		if (n < UDP_BATCH)
			return;
	}
}
