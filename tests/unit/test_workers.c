// SPDX-License-Identifier: GPL-2.0-only
/*
 * The engine workers (proxy/workers.c), on the real engine and a real BPF
 * object with private maps (as in test_upstream.c; needs root), with three
 * worker threads running and this thread as the control thread that never
 * runs a loop of its own:
 *  - guards go to the worker with the fewest (1, 2, 3, then 1 again), and a
 *    freed worker takes the next one; the guard walk sees every engine's
 *    guards once, and find names each;
 *  - each worker answers its guards' queries on its own thread: a blocked
 *    name refused, an allowed one forwarded to the fake upstream (here) and
 *    its answer delivered; the stats are the sum of the workers';
 *  - engine__pause() holds the workers: a query sent meanwhile is answered
 *    only after engine__resume();
 *  - a guard removed while its worker is paused with its query waiting in
 *    the listener is gone cleanly: no answer, and the worker goes on serving
 *    the others (ASan and valgrind watch the freed guard);
 *  - replicas: a guard has a UDP listener on every other worker, each
 *    answered and counted by its own worker (the status sums them, servedBy
 *    says who), and removed with the guard, its port closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "dnsguard_api.h"
#include "engine_fixture.h"
#include "engine_int.h"
#include "log.h"

#define N_WORKERS 3
#define N_GUARDS  5
#define WAIT_MS	  10000 /* valgrind is slow */

struct fx {
	bool skip; /* not root: no BPF */
	char dir[64];
	char cg[N_GUARDS][96];
	struct dnsguard *bpf;
	struct loop *loop; /* the primary's: never run here */
	struct engine *e;
	struct guard *g[N_GUARDS];
	int up_fd, client_fd;
};

static int add_guard(struct fx *fx, int i, struct df_err *err)
{
	char id[16];

	snprintf(id, sizeof(id), "run-%d", i);
	return fixture_add_guard(fx->e, fx->cg[i], id, "w", "block *.blocked.test\n", &fx->g[i],
				 err);
}

static void fx_free(struct fx *fx)
{
	int i;

	if (!fx)
		return;
	engine__free(fx->e);
	loop__free(fx->loop);
	dnsguard__destroy(fx->bpf);
	closep(&fx->up_fd);
	closep(&fx->client_fd);
	if (fx->dir[0]) {
		for (i = 0; i < N_GUARDS; i++)
			rmdir(fx->cg[i]);
		rmdir(fx->dir);
	}
	free(fx);
}

static int fx_build(struct fx *fx, struct df_err *err)
{
	struct sockaddr_in up;
	struct engine_opts eo = {.n_upstreams = 1,
				 .try_timeout_ms = 600000,
				 .servfail_after_ms = 1200000,
				 .workers = N_WORKERS,
				 .spread = N_WORKERS};
	int i, r;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/depfence-workers.XXXXXX");
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
	if (r == 0) {
		fx->client_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fx->client_fd < 0)
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
	/* Three guards before the threads start (a restored registry), the rest after. */
	for (i = 0; i < 3 && r == 0; i++)
		r = add_guard(fx, i, err);
	if (r == 0)
		r = engine__start_workers(fx->e, err);
	return r;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct df_err err = {0};

	if (!fx)
		return -1;
	fx->up_fd = fx->client_fd = -1;
	log_set_level(LOG_ERROR); /* block lines: not the test's output */
	if (fx_build(fx, &err) < 0) {
		print_error("setup: %s\n", err.msg);
		fx_free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

static unsigned worker_of(const struct guard *g)
{
	struct guard_status st;

	guard__status(g, &st);
	return st.worker;
}

/* A query for NAME to UDP PORT on loopback. */
static void ask_port(struct fx *fx, uint16_t port, uint16_t id, const char *name)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	uint8_t q[300];
	size_t n = dns_build_query(id, name, strlen(name), DNS_TYPE_A, q, sizeof(q));

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(n > 0);
	assert_int_equal(sendto(fx->client_fd, q, n, 0, (struct sockaddr *)&to, sizeof(to)), n);
}

/* A query for NAME to guard GI's (first) UDP listener. */
static void ask(struct fx *fx, int gi, uint16_t id, const char *name)
{
	ask_port(fx, fx->g[gi]->ls.udp4_port, id, name);
}

/* The RCODE of the next answer (its id must be ID) within MS: the workers answer, not us. */
static int answer(struct fx *fx, uint16_t id, unsigned ms)
{
	uint64_t deadline = now_ms() + ms;
	uint8_t buf[1500];
	struct dns_msg m;
	ssize_t n;

	while ((n = recv(fx->client_fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0) {
		if (now_ms() > deadline)
			return -1;
		usleep(2000);
	}
	assert_int_equal(dns_parse(buf, n, &m), DNS_OK);
	assert_int_equal(m.id, id);
	return DNS_RCODE(m.flags);
}

/* Play the upstream: take one query (within WAIT_MS) and answer it NOERROR, no records. */
static void upstream_answer_one(struct fx *fx)
{
	uint64_t deadline = now_ms() + WAIT_MS;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	uint8_t buf[1500];
	ssize_t n;

	while ((n = recvfrom(fx->up_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &fl)) <= 0) {
		assert_true(now_ms() < deadline);
		usleep(2000);
	}
	buf[2] |= 0x80; /* QR */
	buf[3] = 0x80;	/* RA, NOERROR */
	assert_int_equal(sendto(fx->up_fd, buf, n, 0, (struct sockaddr *)&from, fl), n);
}

static void test_placement_and_walk(void **state)
{
	struct fx *fx = *state;
	struct df_err err = {0};
	struct guard *g;
	unsigned seen = 0, i;
	char id[16];

	if (fx->skip)
		skip();
	assert_int_equal(worker_of(fx->g[0]), 1);
	assert_int_equal(worker_of(fx->g[1]), 2);
	assert_int_equal(worker_of(fx->g[2]), 3);
	/* From here the threads run: control holds them while it changes their lists. */
	engine__pause(fx->e);
	assert_int_equal(add_guard(fx, 3, &err), 0);
	assert_int_equal(worker_of(fx->g[3]), 1);
	engine__remove_guard(fx->e, fx->g[1]);
	fx->g[1] = NULL;
	assert_int_equal(add_guard(fx, 4, &err), 0);
	assert_int_equal(worker_of(fx->g[4]), 2);
	for (g = engine__first_guard(fx->e); g; g = engine__next_guard(fx->e, g))
		for (i = 0; i < N_GUARDS; i++)
			if (fx->g[i] == g)
				seen |= 1u << i;
	assert_int_equal(seen, 0x1d); /* 0, 2, 3, 4 */
	for (i = 0; i < N_GUARDS; i++) {
		if (!fx->g[i])
			continue;
		snprintf(id, sizeof(id), "run-%u", i);
		assert_ptr_equal(engine__find_guard(fx->e, id), fx->g[i]);
	}
	assert_null(engine__find_guard(fx->e, "run-1"));
	engine__resume(fx->e);
}

static void test_workers_answer(void **state)
{
	struct fx *fx = *state;
	struct engine_stats st;
	int i;

	if (fx->skip)
		skip();
	for (i = 0; i < 3; i++) {
		ask(fx, i, 0x100 + i, "x.blocked.test");
		assert_int_equal(answer(fx, 0x100 + i, WAIT_MS), DNS_RCODE_REFUSED);
		ask(fx, i, 0x200 + i, "allowed.test");
		/* The learning query of the blocked name may come first: answer both. */
		upstream_answer_one(fx);
		upstream_answer_one(fx);
		assert_int_equal(answer(fx, 0x200 + i, WAIT_MS), DNS_RCODE_NOERROR);
	}
	engine__pause(fx->e);
	engine__stats(fx->e, &st);
	assert_int_equal(st.queries, 6);
	assert_int_equal(st.blocked, 3);
	/* Each worker counted its own guard's. */
	for (i = 1; i <= N_WORKERS; i++)
		assert_int_equal(fx->e->workers[i - 1]->st.queries, 2);
	engine__resume(fx->e);
}

static void test_pause_holds(void **state)
{
	struct fx *fx = *state;

	if (fx->skip)
		skip();
	engine__pause(fx->e);
	ask(fx, 0, 0x300, "held.blocked.test");
	assert_int_equal(answer(fx, 0x300, 200), -1);
	engine__resume(fx->e);
	assert_int_equal(answer(fx, 0x300, WAIT_MS), DNS_RCODE_REFUSED);
}

static void test_remove_while_paused(void **state)
{
	struct fx *fx = *state;

	if (fx->skip)
		skip();
	engine__pause(fx->e);
	ask(fx, 1, 0x400, "gone.blocked.test");
	usleep(20000); /* in the listener's queue, maybe fetched by the worker's epoll_wait */
	engine__remove_guard(fx->e, fx->g[1]);
	fx->g[1] = NULL;
	engine__resume(fx->e);
	assert_int_equal(answer(fx, 0x400, 300), -1);
	/* Its worker goes on: another guard is answered. */
	ask(fx, 2, 0x401, "still.blocked.test");
	assert_int_equal(answer(fx, 0x401, WAIT_MS), DNS_RCODE_REFUSED);
}

static void test_replicas(void **state)
{
	struct fx *fx = *state;
	struct guard_status st;
	struct guard *g = fx->g[0], *r;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	uint16_t port;
	unsigned i;
	int fd;

	if (fx->skip)
		skip();
	engine__pause(fx->e);
	/* On every other worker, one each. */
	assert_int_equal(g->n_replicas, N_WORKERS - 1);
	assert_int_not_equal(g->replicas[0]->engine, g->engine);
	assert_int_not_equal(g->replicas[1]->engine, g->engine);
	assert_int_not_equal(g->replicas[0]->engine, g->replicas[1]->engine);
	engine__resume(fx->e);
	/* A replica's worker answers on its own listener and counts it there. */
	for (i = 0; i < g->n_replicas; i++) {
		ask_port(fx, g->replicas[i]->ls.udp4_port, 0x500 + i, "r.blocked.test");
		assert_int_equal(answer(fx, 0x500 + i, WAIT_MS), DNS_RCODE_REFUSED);
	}
	engine__pause(fx->e);
	guard__status(g, &st);
	assert_int_equal(st.spread, N_WORKERS);
	assert_int_equal(st.queries, 2);
	assert_int_equal(st.blocked, 2);
	assert_int_equal(st.served[0].queries, 0);
	assert_int_equal(st.served[1].queries, 1);
	assert_int_equal(st.served[2].queries, 1);
	assert_int_equal(st.served[1].worker, g->replicas[0]->engine->idx);
	/* Removed while paused with a query in a replica's listener: no answer, and its
	 * worker goes on serving (ASan and valgrind watch the freed replica). */
	r = g->replicas[0];
	port = r->ls.udp4_port;
	ask_port(fx, port, 0x510, "gone.blocked.test");
	usleep(20000);
	engine__remove_guard(fx->e, g);
	fx->g[0] = NULL;
	engine__resume(fx->e);
	assert_int_equal(answer(fx, 0x510, 300), -1);
	ask(fx, 1, 0x511, "still.blocked.test");
	assert_int_equal(answer(fx, 0x511, WAIT_MS), DNS_RCODE_REFUSED);
	/* Its port is closed: free to bind. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_placement_and_walk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_workers_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pause_holds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_while_paused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replicas, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
