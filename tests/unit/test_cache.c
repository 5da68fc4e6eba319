// SPDX-License-Identifier: GPL-2.0-only
/*
 * The answer cache: what is kept, for how long, what a hit looks like, and
 * that it stays bounded. Time is passed in, so no test sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cache.h"
#include "dns_wire.h"

#define WWW		      "\003www\007example\003com\000"
#define WWW_C		      "\003WwW\007exAMPLE\003com\000" /* the same name in 0x20 case */
#define T_A		      "\x00\x01\x00\x01"
#define T_AAAA		      "\x00\x1c\x00\x01"
#define QUERY(id, name, type) id "\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" name type
#define ANS_A(ttl)	      "\xc0\x0c" T_A ttl "\x00\x04\x5d\xb8\xd8\x22"
/* SOA for a negative answer: TTL 300, MINIMUM 60 (RFC 2308: lives 60 s). */
#define SOA_NEG                                                                                    \
	"\xc0\x10\x00\x06\x00\x01\x00\x00\x01\x2c\x00\x20\002ns\xc0\x10\004host\xc0\x10"           \
	"\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x02\x58\x00\x09\x3a\x80\x00\x00\x00\x3c"
#define RESP_A(id, ttl)	  id "\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" WWW T_A ANS_A(ttl)
#define RESP_NX(id)	  id "\x81\x83\x00\x01\x00\x00\x00\x01\x00\x00" WWW T_A SOA_NEG
#define RESP_SERVFAIL(id) id "\x81\x82\x00\x01\x00\x00\x00\x00\x00\x00" WWW T_A
#define RESP_TC(id)	  id "\x83\x80\x00\x01\x00\x00\x00\x00\x00\x00" WWW T_A
#define RESP_NOTTL(id)	  id "\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00" WWW T_A

#define BUF(s) (const uint8_t *)(s), sizeof(s) - 1

static void parse(const uint8_t *p, size_t len, struct dns_msg *m)
{
	assert_int_equal(dns_parse(p, len, m), DNS_OK);
}

static void store(struct dns_cache *c, const uint8_t *r, size_t len, uint64_t now)
{
	struct dns_msg m;

	parse(r, len, &m);
	cache__store(c, r, len, &m, false, now);
}

static size_t lookup(struct dns_cache *c, const uint8_t *q, size_t len, uint8_t *out, uint64_t now)
{
	struct dns_msg m;

	parse(q, len, &m);
	return cache__lookup(c, q, &m, out, 1500, now);
}

static uint32_t answer_ttl(const uint8_t *p, size_t len)
{
	/* The one A record of RESP_A sits at the end: TTL 10 bytes before its 4-byte RDATA. */
	return (uint32_t)p[len - 10] << 24 | p[len - 9] << 16 | p[len - 8] << 8 | p[len - 7];
}

static void test_hit_rewrites_id_case_and_ttl(void **state)
{
	struct dns_cache *c;
	uint8_t out[1500];
	size_t n;

	assert_int_equal(cache__new(64, &c), 0);
	store(c, BUF(RESP_A("\xaa\xaa", "\x00\x00\x00\x64")), 1000000); /* TTL 100 */
	n = lookup(c, BUF(QUERY("\x12\x34", WWW_C, T_A)), out, 1000000 + 30500);
	assert_int_equal(n, sizeof(RESP_A("\xaa\xaa", "\x00\x00\x00\x64")) - 1);
	assert_memory_equal(out, "\x12\x34", 2);		 /* the client's id */
	assert_memory_equal(out + 12, WWW_C, sizeof(WWW_C) - 1); /* its case, echoed */
	assert_int_equal(answer_ttl(out, n), 70);		 /* 100 s minus 30 s in the cache */
	cache__free(c);
}

static void test_expiry(void **state)
{
	struct dns_cache *c;
	uint8_t out[1500];

	assert_int_equal(cache__new(64, &c), 0);
	store(c, BUF(RESP_A("\xaa\xaa", "\x00\x00\x00\x05")), 1000);
	assert_int_not_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 5999), 0);
	assert_int_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 6000), 0);
	cache__free(c);
}

static void test_negative_answer_lives_soa_minimum(void **state)
{
	struct dns_cache *c;
	uint8_t out[1500];

	assert_int_equal(cache__new(64, &c), 0);
	store(c, BUF(RESP_NX("\xaa\xaa")), 0);
	assert_int_not_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 59999), 0);
	assert_int_equal(out[3] & 0xf, 3); /* still NXDOMAIN */
	assert_int_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 60000), 0);
	cache__free(c);
}

static void test_not_kept(void **state)
{
	struct dns_cache *c;
	struct cache_stats st;
	uint8_t out[1500];

	assert_int_equal(cache__new(64, &c), 0);
	store(c, BUF(RESP_SERVFAIL("\xaa\xaa")), 0);
	store(c, BUF(RESP_TC("\xaa\xaa")), 0);
	store(c, BUF(RESP_NOTTL("\xaa\xaa")), 0);		  /* no record says how long */
	store(c, BUF(RESP_A("\xaa\xaa", "\x00\x00\x00\x00")), 0); /* TTL 0 */
	assert_int_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 1), 0);
	cache__stats(c, &st);
	assert_int_equal(st.stores, 0);
	cache__free(c);
}

static void test_key_is_type_and_do_bit(void **state)
{
	struct dns_cache *c;
	struct dns_msg m;
	uint8_t out[1500];
	static const uint8_t r[] = RESP_A("\xaa\xaa", "\x00\x00\x00\x64");

	assert_int_equal(cache__new(64, &c), 0);
	parse(r, sizeof(r) - 1, &m);
	cache__store(c, r, sizeof(r) - 1, &m, true, 0); /* asked with DO */
	assert_int_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 1), 0);
	cache__store(c, r, sizeof(r) - 1, &m, false, 0);
	assert_int_not_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 1), 0);
	assert_int_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_AAAA)), out, 1), 0);
	cache__free(c);
}

static void test_bounded(void **state)
{
	struct dns_cache *c;
	struct cache_stats st;
	uint8_t r[64], q[64];
	uint8_t out[1500];
	int i, hits = 0;

	/* 1000 distinct names through an 8-entry cache: it never holds more than 8. */
	assert_int_equal(cache__new(8, &c), 0);
	for (i = 0; i < 1000; i++) {
		static const uint8_t tmpl[] = RESP_A("\xaa\xaa", "\x00\x00\x00\x64");

		memcpy(r, tmpl, sizeof(tmpl) - 1);
		r[13] = 'a' + i % 26;
		r[14] = 'a' + i / 26 % 26;
		r[15] = 'a' + i / 676;
		store(c, r, sizeof(tmpl) - 1, 0);
	}
	cache__stats(c, &st);
	assert_int_equal(st.capacity, 8);
	assert_true(st.entries <= 8);
	assert_true(st.evictions >= 1000 - 8);
	for (i = 0; i < 1000; i++) {
		static const uint8_t tmpl[] = QUERY("\x00\x01", WWW, T_A);

		memcpy(q, tmpl, sizeof(tmpl) - 1);
		q[13] = 'a' + i % 26;
		q[14] = 'a' + i / 26 % 26;
		q[15] = 'a' + i / 676;
		hits += lookup(c, q, sizeof(tmpl) - 1, out, 1) != 0;
	}
	assert_true(hits > 0 && hits <= 8);
	cache__free(c);
}

static void test_disabled(void **state)
{
	struct dns_cache *c = (struct dns_cache *)1;
	uint8_t out[1500];

	assert_int_equal(cache__new(0, &c), 0);
	assert_null(c);
	store(c, BUF(RESP_A("\xaa\xaa", "\x00\x00\x00\x64")), 0);
	assert_int_equal(lookup(c, BUF(QUERY("\x00\x01", WWW, T_A)), out, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hit_rewrites_id_case_and_ttl),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_negative_answer_lives_soa_minimum),
	    cmocka_unit_test(test_not_kept),
	    cmocka_unit_test(test_key_is_type_and_do_bit),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_disabled),
	};

	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
