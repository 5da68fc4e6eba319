// SPDX-License-Identifier: GPL-2.0-only
/*
 * The map walks of bpf/dnsguard.c (map_walk(): the next key is fetched
 * before the callback, which may delete or update its entry), on a real BPF
 * object loaded with private maps (dnsguard__load(NULL); needs root, skips
 * otherwise). Each function that walks a map is given a map holding entries
 * it must touch, interleaved with entries it must leave, and the test counts
 * both afterwards: a walk that lost its place after a delete, or stopped
 * early, leaves some of the first kind; one that touched too much loses some
 * of the second. Then the sender lookup: the mapped client_slots first, the
 * clients map where a slot is not whole or of another netns.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "bpf_fixture.h"
#include "dnsguard_api.h"
#include "log.h"

#define N 300 /* entries per kind: more than one batch of a hash bucket walk */

/* How many entries of map NAME satisfy PRED (NULL: all). */
static int count(struct dnsguard *g, const char *name,
		 bool (*pred)(const void *key, const void *value, __u64 arg), __u64 arg)
{
	struct bpf_map *m = dnsguard__map(g, name);
	unsigned char k[64], next[64], v[256];
	size_t ksz, vsz;
	int n = 0, r;

	assert_non_null(m);
	ksz = bpf_map__key_size(m);
	vsz = bpf_map__value_size(m);
	assert_true(ksz <= sizeof(k) && vsz <= sizeof(v));
	r = bpf_map__get_next_key(m, NULL, next, ksz);
	while (r == 0) {
		memcpy(k, next, ksz);
		r = bpf_map__get_next_key(m, k, next, ksz);
		if (bpf_map__lookup_elem(m, k, ksz, v, vsz, 0) == 0 && (!pred || pred(k, v, arg)))
			n++;
	}
	return n;
}

static bool addr_id_is(const void *key, const void *value, __u64 id)
{
	return ((const struct df_addr_key *)key)->id == id;
}

static bool cidr_policy_is(const void *key, const void *value, __u64 id)
{
	return ((const struct df_cidr_key *)key)->policy_id == id;
}

static bool client_guard_is(const void *key, const void *value, __u64 cgid)
{
	return ((const struct df_client *)value)->guard_cgid == cgid;
}

static bool value_u64_is(const void *key, const void *value, __u64 cgid)
{
	return *(const __u64 *)value == cgid;
}

static void addr_of(int i, __u8 *addr)
{
	__u32 a = htonl(0xc0000200u + i); /* 192.0.2.0 + I, past .255 into 192.0.3.x */

	memcpy(addr, &a, 4);
}

/* handed: a guard's addresses go, another guard's (interleaved) stay. */
static void test_purge_addrs(void **state)
{
	struct dnsguard *g = *state;
	__u8 addr[4];
	int i;

	if (!g)
		skip();
	for (i = 0; i < 2 * N; i++) {
		addr_of(i / 2, addr);
		assert_int_equal(dnsguard__set_addr(g, false, 1 + i % 2, DF_AF_INET, addr, ~0ULL),
				 0);
	}
	assert_int_equal(dnsguard__purge_addrs(g, false, 1), N);
	assert_int_equal(count(g, "handed", addr_id_is, 1), 0);
	assert_int_equal(count(g, "handed", addr_id_is, 2), N);
}

/* A reload's copy of learned addresses, then the purge of policies no guard uses. */
static void test_copy_learned_and_purge_policies(void **state)
{
	struct dnsguard *g = *state;
	__u32 keep[] = {12};
	__u8 addr[4];
	int i;

	if (!g)
		skip();
	for (i = 0; i < N; i++) {
		addr_of(i, addr);
		assert_int_equal(dnsguard__set_addr(g, true, 10, DF_AF_INET, addr, ~0ULL), 0);
		assert_int_equal(
		    dnsguard__set_cidr(g, 10 + i % 3, DF_AF_INET, addr, 32, DF_IP_BLOCK), 0);
	}
	assert_int_equal(dnsguard__copy_learned(g, 10, 12), N);
	assert_int_equal(count(g, "learned", addr_id_is, 10), N);
	assert_int_equal(count(g, "learned", addr_id_is, 12), N);
	/* Gone: every learned entry of 10, the cidrs of 10 and 11; kept: those of 12. */
	assert_int_equal(dnsguard__purge_policies(g, keep, 1), N + N / 3 * 2);
	assert_int_equal(count(g, "learned", NULL, 0), N);
	assert_int_equal(count(g, "learned", addr_id_is, 12), N);
	assert_int_equal(count(g, "cidrs", NULL, 0), N / 3);
	assert_int_equal(count(g, "cidrs", cidr_policy_is, 12), N / 3);
}

/* A guard's removal: its clients and cg_guard entries go, another guard's stay. */
static void test_purge_guard(void **state)
{
	struct dnsguard *g = *state;
	struct bpf_map *cl, *cg;
	int i;

	if (!g)
		skip();
	cl = dnsguard__map(g, "clients");
	cg = dnsguard__map(g, "cg_guard");
	for (i = 0; i < 2 * N; i++) {
		struct df_client_key k = {
		    .netns_cookie = 1, .port = 1024 + i, .proto = IPPROTO_UDP};
		struct df_client v = {.guard_cgid = 7 + i % 2};
		__u64 sub = 5000 + i, guard = 7 + i % 2;

		assert_int_equal(bpf_map__update_elem(cl, &k, sizeof(k), &v, sizeof(v), BPF_ANY),
				 0);
		assert_int_equal(
		    bpf_map__update_elem(cg, &sub, sizeof(sub), &guard, sizeof(guard), BPF_ANY), 0);
	}
	dnsguard__purge_guard(g, 7);
	assert_int_equal(count(g, "clients", client_guard_is, 7), 0);
	assert_int_equal(count(g, "clients", client_guard_is, 8), N);
	assert_int_equal(count(g, "cg_guard", value_u64_is, 7), 0);
	assert_int_equal(count(g, "cg_guard", value_u64_is, 8), N);
	dnsguard__flush_cg_cache(g);
	assert_int_equal(count(g, "cg_guard", NULL, 0), 0);
}

static bool guard_closed(const void *key, const void *value, __u64 unused)
{
	const struct df_guard *v = value;

	return v->mode == DF_MODE_ALLOWLIST && !v->udp4_port;
}

/* A restart: every guard entry but the kept ones closed, their listeners forgotten. */
static void test_close_others(void **state)
{
	struct dnsguard *g = *state;
	__u64 keep[N / 2];
	struct df_guard v;
	int i, n = 0;

	if (!g)
		skip();
	for (i = 0; i < N; i++) {
		__u64 cgid = 100 + i;
		struct df_guard gv = {.udp4_port = 2000 + i, .mode = DF_MODE_BLOCKLIST};

		assert_int_equal(dnsguard__set_guard(g, cgid, &gv), 0);
		assert_int_equal(dnsguard__set_listener(g, 1, IPPROTO_UDP, 2000 + i, cgid), 0);
		if (i % 2)
			keep[n++] = cgid;
	}
	assert_int_equal(dnsguard__close_others(g, keep, n), N - n);
	assert_int_equal(count(g, "guards", guard_closed, 0), N - n);
	assert_int_equal(count(g, "listeners", NULL, 0), n);
	for (i = 0; i < n; i++) {
		assert_int_equal(bpf_map__lookup_elem(dnsguard__map(g, "guards"), &keep[i],
						      sizeof(keep[i]), &v, sizeof(v), 0),
				 0);
		assert_int_equal(v.udp4_port, 2000 + (keep[i] - 100));
		assert_int_equal(v.mode, DF_MODE_BLOCKLIST);
	}
}

/*
 * A sender's record: from the mapped client_slots when the slot is whole (seq
 * even) and of the asking netns; else from the clients map (a slot of another
 * netns, or one a writer is in the middle of, is never taken).
 */
static void test_client_slots(void **state)
{
	struct dnsguard *g = *state;
	struct bpf_map *slots = g ? dnsguard__map(g, "client_slots") : NULL,
		       *clients = g ? dnsguard__map(g, "clients") : NULL;
	struct df_client_slot cs = {.netns_cookie = 7, .c = {.guard_cgid = 42, .who = {.pid = 11}}};
	struct df_client_slot torn;
	struct df_client_key key = {.netns_cookie = 8, .port = 5353, .proto = IPPROTO_UDP};
	struct df_client rec = {.guard_cgid = 43, .who = {.pid = 12}}, got;
	__u32 port = 5353;

	if (!g)
		skip();
	cs.check = df_slot_check(cs.netns_cookie, &cs.c);
	assert_int_equal(bpf_map__update_elem(slots, &port, sizeof(port), &cs, sizeof(cs), 0), 0);
	assert_int_equal(dnsguard__lookup_client(g, 7, IPPROTO_UDP, 5353, &got), 0);
	assert_int_equal(got.guard_cgid, 42);
	assert_int_equal(got.who.pid, 11);
	/* Another netns on the same port: the clients map, here without a record. */
	assert_int_not_equal(dnsguard__lookup_client(g, 8, IPPROTO_UDP, 5353, &got), 0);
	assert_int_equal(bpf_map__update_elem(clients, &key, sizeof(key), &rec, sizeof(rec), 0), 0);
	assert_int_equal(dnsguard__lookup_client(g, 8, IPPROTO_UDP, 5353, &got), 0);
	assert_int_equal(got.guard_cgid, 43);
	/* A slot being written (seq odd) is not read: the map answers, here nothing. */
	cs.seq = 1;
	assert_int_equal(bpf_map__update_elem(slots, &port, sizeof(port), &cs, sizeof(cs), 0), 0);
	assert_int_not_equal(dnsguard__lookup_client(g, 7, IPPROTO_UDP, 5353, &got), 0);
	/* Torn (two writers at once: seq even, one field of another record): not taken. */
	torn = cs;
	torn.seq = 2;
	torn.c.who.pid = 99;
	assert_int_equal(bpf_map__update_elem(slots, &port, sizeof(port), &torn, sizeof(torn), 0),
			 0);
	assert_int_not_equal(dnsguard__lookup_client(g, 7, IPPROTO_UDP, 5353, &got), 0);
	/* TCP records are the clients map's alone. */
	cs.seq = 2;
	assert_int_equal(bpf_map__update_elem(slots, &port, sizeof(port), &cs, sizeof(cs), 0), 0);
	assert_int_not_equal(dnsguard__lookup_client(g, 7, IPPROTO_TCP, 5353, &got), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_purge_addrs),
	    cmocka_unit_test(test_copy_learned_and_purge_policies),
	    cmocka_unit_test(test_purge_guard),
	    cmocka_unit_test(test_close_others),
	    cmocka_unit_test(test_client_slots),
	};

	libbpf_set_print(log_libbpf_print);
	return cmocka_run_group_tests(tests, bpf_setup, bpf_teardown);
}
