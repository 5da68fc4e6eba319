// SPDX-License-Identifier: GPL-2.0-only
/*
 * Forwarding is fair and answers are checked (proxy/upstream.c, upstream_sock.c):
 *  - a guard past its share of pending upstream queries gets SERVFAIL for its
 *    own queries, at once; another guard's queries still go upstream, and a
 *    learning query (a blocked name's addresses) still gets a slot;
 *  - an answer with an id no query waits for, on a socket its query did not
 *    go out on, with another question, or with the question in another case
 *    (DNS 0x20) is dropped and counted; one from another address never gets
 *    in; the real answer then reaches the client, in the client's own case;
 *  - an upstream that loses the case of every question gets 0x20 turned off
 *    after a run of such answers, and its answers reach the client in the
 *    client's case;
 *  - with a share as large as the table, a guard fills every client slot and a
 *    learning query still goes out (the learning reserve);
 *  - a guard past its share of TCP clients has the next one closed at once,
 *    another guard's is accepted;
 *  - queries leave from more source ports than the pool holds (sockets renewed);
 *  - a blocked name is resolved to learn its addresses once, not again on its
 *    next query, for thousands of distinct names (the learning memo).
 *
 * The engine is the real one on a real BPF object with private maps (as in
 * test_reload.c; needs root). A guard's "cgroup" is a plain temporary
 * directory. The upstream is a UDP socket on 127.0.0.1 the test answers by
 * hand, so it sees each query as sent and can answer it right or wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "engine_int.h"
#include "dnsguard_api.h"
#include "log.h"
#include "engine_fixture.h"
#include "upstream_inbox.h"

#define N_GUARDS 2
#define QUOTA	 4
#define WAIT_MS	 10000 /* for the engine's loop; valgrind is slow */
/* Letters enough that 0x20 leaves the case as asked with probability 2^-40. */
#define LONG_NAME "MixedCaseQuestionForTheZeroXTwentyCheck.Example.test"

struct fx {
	bool skip; /* not root: no BPF */
	char dir[64];
	char cg[N_GUARDS][96];
	struct dnsguard *bpf;
	struct loop *loop;
	struct engine *e;
	struct guard *g[N_GUARDS];
	int up_fd, other_fd, client_fd[N_GUARDS];
	struct upstream_inbox inbox; /* what the upstream got */
};

/* ---- the fake upstream ------------------------------------------------------------------ */

/* Wait, running the engine's loop, for the upstream to get NAME (any case)/QTYPE. */
static void fake_take(struct fx *fx, const char *name, uint16_t qtype, struct dgram *ret)
{
	inbox_take(&fx->inbox, fx->up_fd, fx->loop, WAIT_MS, name, qtype, ret);
}

/*
 * The answer to Q (one A record, 192.0.2.1, owner a pointer to the question),
 * with id ID and the question's name as NAME (wire bytes as in Q when NULL),
 * sent from FROM_FD to port TO_PORT of 127.0.0.1 (Q's source port when 0).
 */
static void fake_answer(struct fx *fx, const struct dgram *q, uint16_t id, const char *name,
			int from_fd, uint16_t to_port)
{
	static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1};
	struct sockaddr_in to = q->from;
	uint8_t out[600];
	size_t n = q->m.question_end;

	memcpy(out, q->buf, n);
	if (name) {
		/* Same length as asked: the test changes case or letters only. */
		assert_int_equal(strlen(name) + 2 + 4, n - DNS_HDR_LEN);
		size_t at = DNS_HDR_LEN, i;
		const char *l = name;

		for (;;) {
			const char *dot = strchr(l, '.');
			size_t ll = dot ? (size_t)(dot - l) : strlen(l);

			out[at++] = ll;
			for (i = 0; i < ll; i++)
				out[at++] = l[i];
			if (!dot)
				break;
			l = dot + 1;
		}
		out[at++] = 0;
	}
	dns_set_id(out, id);
	out[2] = 0x81; /* QR, RD */
	out[3] = 0x80; /* RA, NOERROR */
	memcpy(out + 6, "\x00\x01\x00\x00\x00\x00", 6);
	memcpy(out + n, rr, sizeof(rr));
	n += sizeof(rr);
	if (to_port)
		to.sin_port = htons(to_port);
	assert_int_equal(sendto(from_fd, out, n, 0, (const struct sockaddr *)&to, sizeof(to)), n);
}

/* The name of Q in its wire case, as text ("a.b.c"). */
static void wire_name(const struct dgram *q, char *out, size_t cap)
{
	size_t at = DNS_HDR_LEN, o = 0;

	while (q->buf[at] && o + 65 < cap) {
		uint8_t ll = q->buf[at++];

		if (o)
			out[o++] = '.';
		memcpy(out + o, q->buf + at, ll);
		o += ll;
		at += ll;
	}
	out[o] = '\0';
}

/* ---- the clients ------------------------------------------------------------------------ */

static void client_ask(struct fx *fx, int gi, uint16_t id, const char *name)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(fx->g[gi]->ls.udp4_port)};
	uint8_t q[300];
	size_t n = dns_build_query(id, name, strlen(name), DNS_TYPE_A, q, sizeof(q));

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(n > 0);
	assert_int_equal(sendto(fx->client_fd[gi], q, n, 0, (struct sockaddr *)&to, sizeof(to)), n);
}

/*
 * Run the loop up to MS for an answer to guard GI's client: its RCODE (the id
 * must be ID), the answer in RET (may be NULL); -1 when none came.
 */
static int client_answer(struct fx *fx, int gi, uint16_t id, unsigned ms, struct dgram *ret)
{
	uint64_t deadline = now_ms() + ms;
	struct dgram d;
	ssize_t n;

	while ((n = recv(fx->client_fd[gi], d.buf, sizeof(d.buf), MSG_DONTWAIT)) <= 0) {
		if (now_ms() > deadline)
			return -1;
		loop__run_once(fx->loop, 10);
	}
	d.len = n;
	assert_int_equal(dns_parse(d.buf, d.len, &d.m), DNS_OK);
	assert_int_equal(d.m.id, id);
	if (ret)
		*ret = d;
	return DNS_RCODE(d.m.flags);
}

/* ---- the fixture -------------------------------------------------------------------------- */

static void fx_free(struct fx *fx)
{
	int i;

	if (!fx)
		return;
	engine__free(fx->e);
	loop__free(fx->loop);
	dnsguard__destroy(fx->bpf);
	closep(&fx->up_fd);
	closep(&fx->other_fd);
	for (i = 0; i < N_GUARDS; i++)
		closep(&fx->client_fd[i]);
	if (fx->dir[0]) {
		for (i = 0; i < N_GUARDS; i++)
			rmdir(fx->cg[i]);
		rmdir(fx->dir);
	}
	free(fx);
}

static int add_guard(struct fx *fx, int i, struct df_err *err)
{
	return fixture_add_guard(fx->e, fx->cg[i], i ? "run-b" : "run-a", i ? "b" : "a",
				 "block *.blocked.test\n", &fx->g[i], err);
}

/* The fixture's --max-pending-per-guard (setup_whole: the whole table). */
static int fixture_quota = QUOTA;

static int fx_build(struct fx *fx, struct df_err *err)
{
	struct sockaddr_in up, other;
	struct engine_opts eo = {
	    .n_upstreams = 1,
	    /* Held queries must not be retried or given up on while the test holds them. */
	    .try_timeout_ms = 600000,
	    .servfail_after_ms = 1200000,
	    .cache_entries = -1,
	    .pending_per_guard = fixture_quota,
	};
	int i, r;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/depfence-upstream.XXXXXX");
	if (!mkdtemp(fx->dir)) {
		fx->dir[0] = '\0';
		return df_err_set(err, -errno, "mkdtemp: %s", strerror(errno));
	}
	for (i = 0; i < N_GUARDS; i++)
		snprintf(fx->cg[i], sizeof(fx->cg[i]), "%s/cg-%d", fx->dir, i);
	r = dnsguard__load(NULL, &fx->bpf, err);
	if (r == -EPERM || r == -EACCES) {
		print_message("skipped: loading a BPF object needs root (%s)\n", err->msg);
		fx->skip = true;
		return 0;
	}
	if (r < 0)
		return r;
	r = fixture_udp_socket(&fx->up_fd, &up);
	if (r == 0)
		r = fixture_udp_socket(&fx->other_fd, &other);
	for (i = 0; i < N_GUARDS && r == 0; i++) {
		fx->client_fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fx->client_fd[i] < 0)
			r = -errno;
	}
	if (r < 0)
		return df_err_set(err, r, "sockets: %s", strerror(-r));
	memcpy(&eo.upstreams[0], &up, sizeof(up));
	eo.upstream_lens[0] = sizeof(up);
	r = loop__new(&fx->loop);
	if (r < 0)
		return df_err_set(err, r, "epoll: %s", strerror(-r));
	eo.bpf = fx->bpf;
	eo.loop = fx->loop;
	r = engine__new(&eo, &fx->e, err);
	for (i = 0; i < N_GUARDS && r == 0; i++)
		r = add_guard(fx, i, err);
	return r;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct df_err err = {0};
	int i;

	if (!fx)
		return -1;
	fx->up_fd = fx->other_fd = -1;
	for (i = 0; i < N_GUARDS; i++)
		fx->client_fd[i] = -1;
	log_set_level(LOG_ERROR); /* block lines and quota warnings: not the test's output */
	if (fx_build(fx, &err) < 0) {
		print_error("setup: %s\n", err.msg);
		fx_free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int setup_whole(void **state)
{
	int r;

	fixture_quota = 100000;
	r = setup(state);
	fixture_quota = QUOTA;
	return r;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* ---- the tests ---------------------------------------------------------------------------- */

/*
 * Guard A fills its share with queries the upstream holds: its next ones get
 * SERVFAIL at once; B's query still goes upstream and is answered; A's
 * blocked name is refused and its learning query still goes upstream; once
 * the upstream answers A's held queries, A forwards again.
 */
static void test_quota_is_per_guard(void **state)
{
	struct fx *fx = *state;
	struct dgram held[QUOTA], q;
	char name[64];
	int i;

	if (fx->skip)
		skip();
	for (i = 0; i < QUOTA; i++) {
		snprintf(name, sizeof(name), "held%d.test", i);
		client_ask(fx, 0, 0x100 + i, name);
		fake_take(fx, name, DNS_TYPE_A, &held[i]);
	}
	assert_int_equal(fx->g[0]->n_pending, QUOTA);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "over%d.test", i);
		client_ask(fx, 0, 0x200 + i, name);
		assert_int_equal(client_answer(fx, 0, 0x200 + i, WAIT_MS, NULL),
				 DNS_RCODE_SERVFAIL);
	}
	assert_int_equal(fx->e->met.errors[ME_GUARD_QUOTA], 3);
	assert_int_equal(fx->g[0]->n_pending, QUOTA);

	/* The other guard is not touched by A's share being full. */
	client_ask(fx, 1, 0x300, "other-guard.test");
	fake_take(fx, "other-guard.test", DNS_TYPE_A, &q);
	fake_answer(fx, &q, q.m.id, NULL, fx->up_fd, 0);
	assert_int_equal(client_answer(fx, 1, 0x300, WAIT_MS, NULL), DNS_RCODE_NOERROR);

	/* Learning is not A's query: it has its own reserve. */
	client_ask(fx, 0, 0x400, "x.blocked.test");
	assert_int_equal(client_answer(fx, 0, 0x400, WAIT_MS, NULL), DNS_RCODE_REFUSED);
	fake_take(fx, "x.blocked.test", DNS_TYPE_A, &q);
	assert_int_equal(fx->e->n_learn_pending, 1);
	assert_int_equal(fx->e->met.errors[ME_LEARN_SKIPPED], 0);

	/* Answers free A's slots: it forwards again. */
	for (i = 0; i < QUOTA; i++) {
		fake_answer(fx, &held[i], held[i].m.id, NULL, fx->up_fd, 0);
		assert_int_equal(client_answer(fx, 0, 0x100 + i, WAIT_MS, NULL), DNS_RCODE_NOERROR);
	}
	assert_int_equal(fx->g[0]->n_pending, 0);
	client_ask(fx, 0, 0x500, "again.test");
	fake_take(fx, "again.test", DNS_TYPE_A, &q);
	fake_answer(fx, &q, q.m.id, NULL, fx->up_fd, 0);
	assert_int_equal(client_answer(fx, 0, 0x500, WAIT_MS, NULL), DNS_RCODE_NOERROR);
	assert_int_equal(fx->e->met.errors[ME_GUARD_QUOTA], 3);
}

/* Nothing reaches the client within 200 ms. */
static void assert_no_answer(struct fx *fx, int gi, uint16_t id)
{
	assert_int_equal(client_answer(fx, gi, id, 200, NULL), -1);
}

/*
 * Wrong id, wrong socket, wrong question, wrong case, wrong source address:
 * dropped (the first four counted by why); then the real answer is delivered
 * with the client's own case.
 */
static void test_spoofed_answers_dropped(void **state)
{
	struct fx *fx = *state;
	const uint64_t *dropped;
	struct dgram q, q2, ans;
	char sent[300], wrong[sizeof(LONG_NAME)];
	uint16_t id2 = 0x0601;
	size_t i;

	if (fx->skip)
		skip();
	dropped = fx->e->met.dropped;
	client_ask(fx, 0, 0x600, LONG_NAME);
	fake_take(fx, LONG_NAME, DNS_TYPE_A, &q);
	wire_name(&q, sent, sizeof(sent));
	/* 0x20: the same name, not the case the client asked in. */
	assert_int_equal(strcasecmp(sent, LONG_NAME), 0);
	assert_string_not_equal(sent, LONG_NAME);
	assert_int_not_equal(q.m.id, 0x600);

	fake_answer(fx, &q, q.m.id ^ 0x5a5a, NULL, fx->up_fd, 0);
	assert_no_answer(fx, 0, 0x600);
	assert_int_equal(dropped[MD_UNKNOWN_ID], 1);

	fake_answer(fx, &q, q.m.id, LONG_NAME, fx->up_fd, 0); /* the client's case */
	assert_no_answer(fx, 0, 0x600);
	assert_int_equal(dropped[MD_CASE], 1);

	snprintf(wrong, sizeof(wrong), "%s", sent);
	wrong[0] = wrong[0] == 'x' || wrong[0] == 'X' ? 'y' : 'x';
	fake_answer(fx, &q, q.m.id, wrong, fx->up_fd, 0);
	assert_no_answer(fx, 0, 0x600);
	assert_int_equal(dropped[MD_QUESTION], 1);

	/* From another address: the socket is connected, the kernel never hands it over. */
	fake_answer(fx, &q, q.m.id, NULL, fx->other_fd, 0);
	assert_no_answer(fx, 0, 0x600);

	/* Another query, until one leaves from another socket (1 in 16 share one). */
	for (i = 0; i < 32; i++, id2++) {
		char n2[32];

		snprintf(n2, sizeof(n2), "second%zu.test", i);
		client_ask(fx, 0, id2, n2);
		fake_take(fx, n2, DNS_TYPE_A, &q2);
		if (q2.from.sin_port != q.from.sin_port)
			break;
		fake_answer(fx, &q2, q2.m.id, NULL, fx->up_fd, 0);
		assert_int_equal(client_answer(fx, 0, id2, WAIT_MS, NULL), DNS_RCODE_NOERROR);
	}
	assert_int_not_equal(q2.from.sin_port, q.from.sin_port);
	/* The right answer on the other query's socket: a spoofer who hit the wrong port. */
	fake_answer(fx, &q, q.m.id, NULL, fx->up_fd, ntohs(q2.from.sin_port));
	assert_no_answer(fx, 0, 0x600);
	assert_int_equal(dropped[MD_PORT], 1);
	assert_int_equal(fx->e->st.answered, i);

	/* The real one: delivered, the question as the client asked it. */
	fake_answer(fx, &q, q.m.id, NULL, fx->up_fd, 0);
	assert_int_equal(client_answer(fx, 0, 0x600, WAIT_MS, &ans), DNS_RCODE_NOERROR);
	wire_name(&ans, sent, sizeof(sent));
	assert_string_equal(sent, LONG_NAME);
	assert_int_equal(ans.m.ancount, 1);
	fake_answer(fx, &q2, q2.m.id, NULL, fx->up_fd, 0);
	assert_int_equal(client_answer(fx, 0, id2, WAIT_MS, NULL), DNS_RCODE_NOERROR);
	/* A late copy of an answer already delivered: no query waits for it. */
	fake_answer(fx, &q, q.m.id, NULL, fx->up_fd, 0);
	assert_no_answer(fx, 0, 0x600);
	assert_int_equal(dropped[MD_UNKNOWN_ID], 2);
	assert_int_equal(dropped[MD_CASE], 1);
	assert_int_equal(dropped[MD_QUESTION], 1);
	assert_int_equal(dropped[MD_PORT], 1);
}

/* S in lowercase, into OUT. */
static void lower(char *out, const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i];
	out[i] = '\0';
}

/*
 * An upstream that answers every question in lowercase: 16 answers dropped
 * for their case, then 0x20 is off for it; the next query goes out in the
 * client's case, and its lowercase answer reaches the client in that case.
 */
static void test_case_blind_upstream(void **state)
{
	struct fx *fx = *state;
	struct dgram q, ans;
	char name[64], low[64], sent[300];
	int i;

	if (fx->skip)
		skip();
	for (i = 0; i < 16; i++) {
		assert_false(fx->e->ups[0].no_0x20);
		snprintf(name, sizeof(name), "Blind%d.Example.Test", i);
		client_ask(fx, 1, 0x800 + i, name);
		fake_take(fx, name, DNS_TYPE_A, &q);
		lower(low, name);
		fake_answer(fx, &q, q.m.id, low, fx->up_fd, 0);
		assert_int_equal(client_answer(fx, 1, 0x800 + i, 200, NULL), -1);
	}
	assert_int_equal(fx->e->met.dropped[MD_CASE], 16);
	assert_true(fx->e->ups[0].no_0x20);
	client_ask(fx, 1, 0x900, "After.Blind.Test");
	fake_take(fx, "After.Blind.Test", DNS_TYPE_A, &q);
	wire_name(&q, sent, sizeof(sent));
	assert_string_equal(sent, "After.Blind.Test");
	fake_answer(fx, &q, q.m.id, "after.blind.test", fx->up_fd, 0);
	assert_int_equal(client_answer(fx, 1, 0x900, WAIT_MS, &ans), DNS_RCODE_NOERROR);
	wire_name(&ans, sent, sizeof(sent));
	assert_string_equal(sent, "After.Blind.Test");
	assert_int_equal(fx->e->met.dropped[MD_CASE], 16);
}

/* Read and forget every query the fake upstream has been sent. */
static void fake_drain(struct fx *fx)
{
	uint8_t buf[1500];

	while (recv(fx->up_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	fx->inbox.n_backlog = 0;
}

/*
 * A share as large as the table: guard A takes every client slot (its next
 * query gets SERVFAIL), and a learning query still goes upstream.
 */
static void test_learning_reserve(void **state)
{
	struct fx *fx = *state;
	unsigned i, sent = 0;
	struct dgram q;
	char name[32];

	if (fx->skip)
		skip();
	assert_int_equal(fx->e->pending_quota, CLIENT_PENDING);
	while (fx->e->n_client_pending < CLIENT_PENDING) {
		/* In bursts the listener's buffer holds, the loop run between them. */
		for (i = 0; i < 64 && sent < CLIENT_PENDING; i++, sent++) {
			snprintf(name, sizeof(name), "fill%u.test", sent);
			client_ask(fx, 0, (uint16_t)sent, name);
		}
		loop__run_once(fx->loop, 10);
		fake_drain(fx);
		if (sent == CLIENT_PENDING && fx->e->n_client_pending < CLIENT_PENDING)
			fail_msg("only %u of %u queries pending", fx->e->n_client_pending, sent);
	}
	assert_int_equal(fx->e->st.servfail, 0);
	/* The reserve is not the clients': the next query has no slot. */
	client_ask(fx, 0, 0x7001, "one-more.test");
	assert_int_equal(client_answer(fx, 0, 0x7001, WAIT_MS, NULL), DNS_RCODE_SERVFAIL);
	fake_drain(fx);
	client_ask(fx, 0, 0x7002, "y.blocked.test");
	assert_int_equal(client_answer(fx, 0, 0x7002, WAIT_MS, NULL), DNS_RCODE_REFUSED);
	fake_take(fx, "y.blocked.test", DNS_TYPE_A, &q);
	assert_int_equal(fx->e->n_learn_pending, 1);
	assert_int_equal(fx->e->met.errors[ME_LEARN_SKIPPED], 0);
	assert_int_equal(fx->e->n_client_pending, CLIENT_PENDING);
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	return fd;
}

/* Guard A past its share of TCP clients: the next is closed at once; B's is accepted. */
static void test_tcp_share(void **state)
{
	struct fx *fx = *state;
	int fds[MAX_TCP_PER_GUARD + 2], extra, b, i;
	uint64_t deadline = now_ms() + WAIT_MS;
	char c;

	if (fx->skip)
		skip();
	for (i = 0; i < MAX_TCP_PER_GUARD; i++)
		fds[i] = tcp_connect(fx->g[0]->ls.tcp4_port);
	while (fx->g[0]->n_conns < MAX_TCP_PER_GUARD && now_ms() < deadline)
		loop__run_once(fx->loop, 10);
	assert_int_equal(fx->g[0]->n_conns, MAX_TCP_PER_GUARD);
	extra = tcp_connect(fx->g[0]->ls.tcp4_port);
	while (!fx->e->met.errors[ME_TCP_QUOTA] && now_ms() < deadline)
		loop__run_once(fx->loop, 10);
	assert_int_equal(fx->e->met.errors[ME_TCP_QUOTA], 1);
	assert_int_equal(recv(extra, &c, 1, 0), 0); /* closed by the proxy */
	b = tcp_connect(fx->g[1]->ls.tcp4_port);
	while (!fx->g[1]->n_conns && now_ms() < deadline)
		loop__run_once(fx->loop, 10);
	assert_int_equal(fx->g[1]->n_conns, 1);
	assert_int_equal(fx->e->met.errors[ME_TCP_QUOTA], 1);
	assert_int_equal(fx->e->tcp_busy_guards, 2);
	for (i = 0; i < MAX_TCP_PER_GUARD; i++)
		close(fds[i]);
	close(extra);
	close(b);
}

/*
 * A TCP slot closed and reused within one loop turn gets the events the turn's
 * wait fetched for its old connection: an EPOLLHUP of the old one must not
 * close the new one. Here: a connection accepted this turn (no wait since) is
 * handed a stale EPOLLHUP and stays open and served; one turn later a real one
 * closes it.
 */
static void test_tcp_stale_event(void **state)
{
	struct fx *fx = *state;
	uint64_t deadline = now_ms() + WAIT_MS;
	struct tcp_conn *tc = NULL;
	uint32_t i;
	int fd;

	if (fx->skip)
		skip();
	fd = tcp_connect(fx->g[0]->ls.tcp4_port);
	while (!fx->g[0]->n_conns && now_ms() < deadline)
		loop__run_once(fx->loop, 10);
	assert_int_equal(fx->g[0]->n_conns, 1);
	for (i = 0; i < MAX_TCP_CONNS && !tc; i++)
		if (fx->e->conns[i].src.fd >= 0)
			tc = &fx->e->conns[i];
	assert_non_null(tc);
	/* The turn it was accepted in: what the wait fetched was for the slot's past. */
	tc->src.on_ready(&tc->src, EPOLLHUP);
	assert_true(tc->src.fd >= 0);
	assert_int_equal(fx->g[0]->n_conns, 1);
	/* A later turn: an EPOLLHUP is its own. */
	loop__run_once(fx->loop, 0);
	tc->src.on_ready(&tc->src, EPOLLHUP);
	assert_true(tc->src.fd < 0);
	assert_int_equal(fx->g[0]->n_conns, 0);
	close(fd);
}

/* Sockets are renewed: more source ports than the pool holds, and none kept open idle. */
static void test_source_ports_rotate(void **state)
{
	const unsigned n = UP_POOL * UP_SOCK_USES * 2;
	struct fx *fx = *state;
	uint16_t ports[UP_POOL * UP_SOCK_USES * 2];
	unsigned i, j, distinct = 0, open = 0;
	struct dgram q;
	char name[32];

	if (fx->skip)
		skip();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "rot%u.test", i);
		client_ask(fx, 1, (uint16_t)i, name);
		fake_take(fx, name, DNS_TYPE_A, &q);
		ports[i] = ntohs(q.from.sin_port);
		fake_answer(fx, &q, q.m.id, NULL, fx->up_fd, 0);
		assert_int_equal(client_answer(fx, 1, (uint16_t)i, WAIT_MS, NULL),
				 DNS_RCODE_NOERROR);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && ports[j] != ports[i]; j++)
			;
		distinct += j == i;
	}
	/* No socket carries more than UP_SOCK_USES: at least 17 were renewed. */
	assert_true(distinct >= UP_POOL + 12);
	for (i = 0; i < UP_SOCKS; i++)
		open += fx->e->usock[i].src.fd >= 0;
	assert_int_equal(open, UP_POOL);
}

/* Answer every query the upstream has now with REFUSED (the question echoed as sent). */
static int upstream_drain(struct fx *fx)
{
	struct dgram d;
	socklen_t fl;
	ssize_t n;
	int got = 0;

	for (;;) {
		fl = sizeof(d.from);
		n = recvfrom(fx->up_fd, d.buf, sizeof(d.buf), MSG_DONTWAIT,
			     (struct sockaddr *)&d.from, &fl);
		if (n <= 0)
			return got;
		if (n < DNS_HDR_LEN)
			continue;
		d.buf[2] |= 0x80;		     /* QR */
		d.buf[3] = (d.buf[3] & 0xf0) | 0x85; /* RA, REFUSED: never cached */
		sendto(fx->up_fd, d.buf, n, 0, (struct sockaddr *)&d.from, fl);
		got++;
	}
}

/*
 * A job asks 3,000 distinct blocked names: each is refused and resolved once
 * upstream to learn its addresses. Asked again, none is resolved again: the
 * memo keeps them all (a small direct-mapped one evicted its own entries and
 * resolved every name on every query, a learning storm under a flood).
 */
static void test_learning_memo(void **state)
{
	struct fx *fx = *state;
	char name[64];
	int round, i, learned[2] = {0};

	if (fx->skip)
		skip();
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 3000; i++) {
			snprintf(name, sizeof(name), "n%d.blocked.test", i);
			client_ask(fx, 0, (uint16_t)i, name);
			assert_int_equal(client_answer(fx, 0, (uint16_t)i, WAIT_MS, NULL),
					 DNS_RCODE_REFUSED);
			learned[round] += upstream_drain(fx);
		}
		/* The last learning queries, still on their way. */
		for (i = 0; i < 20; i++) {
			loop__run_once(fx->loop, 5);
			learned[round] += upstream_drain(fx);
		}
	}
	assert_int_equal(learned[0], 3000);
	assert_int_equal(learned[1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_quota_is_per_guard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spoofed_answers_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_blind_upstream, setup_whole, teardown),
	    cmocka_unit_test_setup_teardown(test_learning_reserve, setup_whole, teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_share, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tcp_stale_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source_ports_rotate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_learning_memo, setup, teardown),
	};

	libbpf_set_print(log_libbpf_print);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
