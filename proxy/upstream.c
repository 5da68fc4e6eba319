// SPDX-License-Identifier: GPL-2.0-only
/*
 * Forwarding to upstream resolvers. Each in-flight query owns a slot of a
 * fixed table and a random id, which finds the slot again in O(1). Every
 * attempt gets the same timeout, so a FIFO ordered by send time is also
 * ordered by deadline and expiry is O(1) per query. When an attempt times out
 * the next upstream is tried; when the give-up time passes the client gets
 * SERVFAIL.
 *
 * Fair by construction: a guard may hold at most its share of the slots
 * (guard_share), and LEARN_RESERVE slots are for learning queries alone, so
 * a job whose names go to a slow or silent upstream fills its own share and
 * gets SERVFAIL for its own queries, never anyone else's.
 *
 * Against spoofed answers (RFC 5452): a random id, a random source port
 * (upstream_sock.c), and DNS 0x20: the letters of the name go upstream in a
 * random case, and an answer must echo the question byte for byte. The client
 * gets its own case back.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "report_collect.h"

/* An upstream that timed out is asked last for this long. */
#define UPSTREAM_DEAD_MS 5000
/* Answers in a row that match but for the 0x20 case: the upstream does not echo it. */
#define CASE_BLIND_RUN 16

size_t upstream_cut_to_question(uint8_t *buf, size_t len)
{
	struct dns_msg m;

	dns_parse(buf, len, &m);
	if (m.question_end <= DNS_HDR_LEN)
		return 0;
	buf[2] |= DNS_FLAG_TC >> 8;
	memset(buf + 6, 0, 6); /* AN, NS, AR counts */
	return m.question_end;
}

/* Microseconds: most answers come back within one millisecond from a local resolver. */
static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t rate_note_take(struct rate_note *note, uint64_t now)
{
	uint64_t n;

	note->count++;
	if (now < note->next_ms)
		return 0;
	note->next_ms = now + 1000;
	n = note->count;
	note->count = 0;
	return n;
}

int upstreams_open(struct engine *e, struct df_err *err)
{
	int i;

	for (i = 0; i < e->opts.n_upstreams; i++) {
		struct upstream *u = &e->ups[i];

		u->e = e;
		u->addr = e->opts.upstreams[i];
		u->len = e->opts.upstream_lens[i];
		e->n_ups++;
	}
	return upsock_open(e, err);
}

void upstreams_close(struct engine *e)
{
	upsock_close(e);
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
	struct pending *p = &e->pend[i];
	unsigned k;

	if (p->tcp)
		utcp_close(e, p->tcp);
	fifo_unlink(e, i);
	e->id_slot[p->up_id] = 0;
	for (k = 0; k < ATTEMPT_SOCKS; k++)
		if (p->socks[k])
			upsock_release(e, p->socks[k] - 1);
	if (p->client.kind == CLIENT_LEARN) {
		e->n_learn_pending--;
	} else {
		e->n_client_pending--;
		if (!--p->client.g->n_pending)
			e->busy_guards--;
	}
	p->used = false;
	e->free_slots[e->n_free++] = i;
	if (p->client.kind == CLIENT_TCP) {
		struct tcp_conn *tc = &e->conns[p->client.conn_idx];

		if (tc->gen == p->client.conn_gen && tc->inflight)
			tc->inflight--;
	}
}

/*
 * Whether upstream IDX is dead is every worker's knowledge, not one engine's: a
 * worker that saw it time out spares the others the wait (a guard's queries go
 * to several workers). The primary's dead_until, read and written atomically;
 * an answer clears it only if set, so the cache line is written when the state
 * changes, not once per answer.
 */
static uint64_t dead_until(const struct engine *e, int idx)
{
	return __atomic_load_n(&e->primary->ups[idx].dead_until, __ATOMIC_RELAXED);
}

static void set_dead_until(struct engine *e, int idx, uint64_t t)
{
	uint64_t cur = dead_until(e, idx);

	/* Cleared when set; moved on by 100 ms or more, not by each timeout of a flood. */
	if (t ? t > cur + 100 : cur != 0)
		__atomic_store_n(&e->primary->ups[idx].dead_until, t, __ATOMIC_RELAXED);
}

/* The live upstream to try next: in order, skipping ones recently dead. */
static int pick_upstream(struct engine *e, int after, uint64_t now)
{
	int i, idx;

	for (i = 1; i <= e->n_ups; i++) {
		idx = (after + i) % e->n_ups;
		if (dead_until(e, idx) <= now)
			return idx;
	}
	return (after + 1) % e->n_ups;
}

static bool is_letter(uint8_t c)
{
	c |= 0x20;
	return c >= 'a' && c <= 'z';
}

/*
 * DNS 0x20: flip the case of each letter of the name with probability 1/2. The
 * name's length bytes are below 64 and its pointers' bytes are not letters, so
 * a walk over the raw bytes touches letters only.
 */
static void case_scramble(struct engine *e, struct pending *p)
{
	unsigned i, have = 0;
	uint16_t bits = 0;

	memset(p->flip, 0, sizeof(p->flip));
	for (i = 0; i < p->qname_wire; i++) {
		uint8_t *c = &p->query[DNS_HDR_LEN + i];

		if (!is_letter(*c))
			continue;
		if (!have) {
			bits = engine_rand16(e);
			have = 16;
		}
		if (bits & 1) {
			*c ^= 0x20;
			p->flip[i / 8] |= 1 << (i % 8);
		}
		bits >>= 1;
		have--;
	}
}

/* Undo the flips of P in the name of BUF: the client's own case. */
static void case_restore(const struct pending *p, uint8_t *buf)
{
	unsigned i;

	for (i = 0; i < p->qname_wire; i++)
		if (p->flip[i / 8] & (1 << (i % 8)))
			buf[DNS_HDR_LEN + i] ^= 0x20;
}

/* Equal but for the case of letters (0x20 not echoed). */
static bool same_but_case(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i] && !((a[i] ^ b[i]) == 0x20 && is_letter(a[i])))
			return false;
	return true;
}

static int send_attempt(struct engine *e, uint32_t slot)
{
	struct pending *p = &e->pend[slot];
	unsigned k = p->n_attempt++ % ATTEMPT_SOCKS;
	uint32_t s;
	ssize_t n;

	if (e->ups[p->upstream].no_0x20) {
		case_restore(p, p->query);
		memset(p->flip, 0, sizeof(p->flip));
	}
	s = upsock_take(e, p->upstream);
	if (s == NIL)
		return -EMFILE;
	if (p->socks[k])
		upsock_release(e, p->socks[k] - 1);
	p->socks[k] = (uint16_t)(s + 1);
	n = send(upsock_fd(e, s), p->query, p->qlen, 0);
	/* An ICMP error an earlier datagram earned was reported instead: once more. */
	if (n < 0 && errno == ECONNREFUSED)
		n = send(upsock_fd(e, s), p->query, p->qlen, 0);
	if (n < 0 && errno != EAGAIN && errno != ECONNREFUSED)
		return -errno;
	return 0;
}

uint16_t engine_rand16(struct engine *e)
{
	if (!e->rnd_left) {
		if (getrandom(e->rnd, sizeof(e->rnd), 0) != sizeof(e->rnd))
			for (unsigned i = 0; i < ARRAY_SIZE(e->rnd); i++)
				e->rnd[i] = (uint16_t)(now_ms() * 2654435761u + i * 40503u);
		e->rnd_left = ARRAY_SIZE(e->rnd);
	}
	return e->rnd[--e->rnd_left];
}

/* A random id not in use. */
static uint16_t fresh_id(struct engine *e)
{
	int tries;

	for (tries = 0;; tries++) {
		uint16_t id = engine_rand16(e);

		/* At most 8192 of 65536 ids are live: a free one comes within a few draws. */
		if (!e->id_slot[id] || tries > 64)
			return id;
	}
}

/*
 * How many pending queries guard G may hold: the configured quota, or less when
 * many guards wait at once, so that the busy ones together fit the table.
 */
static unsigned guard_share(const struct engine *e, const struct guard *g)
{
	unsigned busy = e->busy_guards + !g->n_pending;
	unsigned share = CLIENT_PENDING / busy;

	if (share < SHARE_MIN)
		share = SHARE_MIN;
	return share < e->pending_quota ? share : e->pending_quota;
}

void upstream_learn_line(struct engine *e, uint64_t n)
{
	log_msg(LOG_WARN, "learning queries at their reserve max=%d skipped=%" PRIu64,
		LEARN_RESERVE, n);
}

void upstream_quota_line(struct engine *e, struct guard *g, uint64_t n)
{
	log_msg(LOG_WARN,
		"upstream queries of a guard at its share, answering SERVFAIL guard=%s max=%u "
		"refused=%" PRIu64,
		g->log_id, guard_share(e, g), n);
}

/* Room for C's query? 0, or -EDQUOT (its guard's share is full) or -ENOBUFS. */
static int admit(struct engine *e, const struct client_ref *c)
{
	uint64_t n;

	if (c->kind == CLIENT_LEARN) {
		if (e->n_learn_pending < LEARN_RESERVE)
			return 0;
		e->met.errors[ME_LEARN_SKIPPED]++;
		n = rate_note_take(&e->learn_note, now_ms());
		if (n)
			upstream_learn_line(e, n);
		else
			e->notes_held = true;
		return -ENOBUFS;
	}
	if (c->g->n_pending >= guard_share(e, c->g)) {
		e->met.errors[ME_GUARD_QUOTA]++;
		c->g->cnt.over_share++;
		n = rate_note_take(&c->g->quota_note, now_ms());
		if (n)
			upstream_quota_line(e, c->g, n);
		else
			e->notes_held = true;
		return -EDQUOT;
	}
	return e->n_client_pending < CLIENT_PENDING ? 0 : -ENOBUFS;
}

int upstream_forward(struct engine *e, const struct client_ref *c, const uint8_t *q, size_t len,
		     const struct dns_msg *m)
{
	uint64_t now = now_ms();
	struct pending *p;
	uint32_t slot;
	int r;

	if (!e->n_ups || len > PENDING_QMAX)
		return -ENOBUFS;
	r = admit(e, c);
	if (r < 0)
		return r;
	slot = e->free_slots[--e->n_free]; /* the reserve and the shares add up to the table */
	p = &e->pend[slot];
	p->used = true;
	p->client = *c;
	if (c->kind == CLIENT_LEARN) {
		e->n_learn_pending++;
	} else {
		e->n_client_pending++;
		if (!c->g->n_pending++)
			e->busy_guards++;
	}
	p->client_id = m->id;
	p->qtype = m->qtype;
	p->qname_wire = (uint16_t)(m->question_end - 4 - DNS_HDR_LEN);
	p->client_edns = m->has_edns;
	p->client_do = m->edns_do;
	p->tries = 1;
	p->n_attempt = 0;
	memset(p->socks, 0, sizeof(p->socks));
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
	case_scramble(e, p);
	p->up_id = fresh_id(e);
	e->id_slot[p->up_id] = slot + 1;
	dns_set_id(p->query, p->up_id);
	fifo_append(e, slot);
	if (c->kind == CLIENT_TCP)
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
	case_restore(p, p->query);
	memset(p->flip, 0, sizeof(p->flip));
	if (dns_parse(p->query, p->qlen, &m) != DNS_OK)
		return;
	m.has_edns = p->client_edns; /* not the OPT we added for the upstream */
	n = dns_build_empty_reply(p->query, &m, DNS_RCODE_SERVFAIL, out, sizeof(out));
	if (n && p->client.kind != CLIENT_LEARN)
		engine_reply(e, &p->client, out, n);
	e->st.servfail++;
	e->met.errors[ME_SERVFAIL]++;
}

void upstream_expire(struct engine *e, uint64_t now)
{
	while (e->fifo_head != NIL && e->pend[e->fifo_head].deadline <= now) {
		uint32_t slot = e->fifo_head;
		struct pending *p = &e->pend[slot];

		set_dead_until(e, p->upstream, now + UPSTREAM_DEAD_MS);
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

	/* The table is megabytes: a guard with nothing in flight (most) skips the walk. */
	if (!g->n_pending)
		return;
	for (i = 0; i < MAX_PENDING && g->n_pending; i++)
		if (e->pend[i].used && e->pend[i].client.g == g)
			slot_free(e, i);
}

/* Did P's last attempts go out on socket SOCK? */
static bool sent_on(const struct pending *p, uint32_t sock)
{
	unsigned k;

	for (k = 0; k < ATTEMPT_SOCKS; k++)
		if (p->socks[k] == sock + 1)
			return true;
	return false;
}

static uint32_t drop(struct engine *e, enum metrics_drop why)
{
	e->met.dropped[why]++;
	return NIL;
}

uint32_t upstream_match(struct engine *e, const uint8_t *buf, size_t len, const struct dns_msg *m,
			uint32_t sock)
{
	uint32_t slot = (uint32_t)e->id_slot[m->id] - 1;
	struct upstream *u;
	struct pending *p;
	size_t qlen;

	if (!(m->flags & DNS_FLAG_QR) || slot >= MAX_PENDING || !e->pend[slot].used)
		return drop(e, MD_UNKNOWN_ID);
	p = &e->pend[slot];
	if (sock != NIL && !sent_on(p, sock))
		return drop(e, MD_PORT);
	/* Name, type and class as sent: the name's bytes in the case we chose. */
	qlen = (size_t)p->qname_wire + 4;
	if (m->question_end != DNS_HDR_LEN + qlen || len < m->question_end)
		return drop(e, MD_QUESTION);
	u = &e->ups[sock != NIL ? e->usock[sock].upstream : p->upstream];
	if (memcmp(buf + DNS_HDR_LEN, p->query + DNS_HDR_LEN, qlen) == 0) {
		u->case_blind_run = 0;
		return slot;
	}
	if (!same_but_case(buf + DNS_HDR_LEN, p->query + DNS_HDR_LEN, qlen))
		return drop(e, MD_QUESTION);
	if (u->no_0x20)
		return slot; /* the client gets its own case back all the same */
	/*
	 * Right id, right port, the case lost. A spoofer who guessed id and port
	 * would have won already; an upstream that lowercases every question
	 * does this to every answer: after a run of them 0x20 is off for it.
	 */
	if (++u->case_blind_run >= CASE_BLIND_RUN) {
		u->no_0x20 = true;
		log_msg(LOG_WARN,
			"upstream does not echo the question's case: DNS 0x20 off for it "
			"upstream=%d",
			(int)(u - e->ups) + 1);
	}
	return drop(e, MD_CASE);
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
	/* The question as the client asked it (BUF's matches it but for case). */
	case_restore(p, p->query);
	memset(p->flip, 0, sizeof(p->flip));
	memcpy(buf + DNS_HDR_LEN, p->query + DNS_HDR_LEN, p->qname_wire);
	metrics__latency(&e->met, now_us() - p->sent_us);
	/* Free first: a TCP connection's in-flight count must drop before it is resumed. */
	slot_free(e, slot);
	cache__store(e->cache, buf, len, m, client_do, now_ms());
	if (client.kind == CLIENT_LEARN) {
		client.learned(e, &client, buf, len, m);
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

void upstream_on_answer(struct engine *e, uint32_t sock, uint8_t *buf, size_t len)
{
	struct dns_msg m;
	uint32_t slot;

	if (dns_parse(buf, len, &m) != DNS_OK)
		return;
	slot = upstream_match(e, buf, len, &m, sock);
	if (slot == NIL)
		return;
	set_dead_until(e, e->usock[sock].upstream, 0);
	if (e->pend[slot].tcp)
		return; /* already asked again over TCP: that answer is the one */
	/* Cut by the upstream, for a client that can take it all: ask again over TCP. */
	if ((m.flags & DNS_FLAG_TC) && e->pend[slot].client.kind == CLIENT_TCP &&
	    utcp_start(e, slot) == 0)
		return;
	upstream_deliver(e, slot, buf, len, &m);
}

void upstream_failover(struct engine *e, int idx)
{
	uint64_t now = now_ms();
	uint32_t i;

	set_dead_until(e, idx, now + UPSTREAM_DEAD_MS);
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
