// SPDX-License-Identifier: GPL-2.0-only
/*
 * answer_chain_verdict(): which name of an answer's CNAME/DNAME chain a policy
 * refuses. One cmocka test per row: a policy, an answer, the verdict and name.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "answer_check.h"
#include "dns_wire.h"
#include "policy.h"

/* Messages as concatenated literals, as in test_dns_wire.c. */
#define RSP_HDR(an) "\x12\x34\x81\x80\x00\x01\x00" an "\x00\x00\x00\x00"
/* docs.vendor.test A: vendor.test is at 17 (0x11), the question ends at 34, so
 * the first answer RR's RDATA starts at 46 (0x2e). */
#define QDOCS	"\004docs\006vendor\004test\000\x00\x01\x00\x01"
#define T_CNAME "\x00\x05\x00\x01"
#define T_DNAME "\x00\x27\x00\x01"
#define T_A	"\x00\x01\x00\x01"
#define TTL60	"\x00\x00\x00\x3c"
#define ADDR	"\x00\x04\x7f\x00\x00\x13"

/* docs.vendor.test CNAME vendor.github.com; vendor.github.com A 127.0.0.19 */
#define CHAIN_GH                                                                                   \
	RSP_HDR("\x02")                                                                            \
	QDOCS "\xc0\x0c" T_CNAME TTL60 "\x00\x13\006vendor\006github\003com\000"                   \
	      "\xc0\x2e" T_A TTL60 ADDR
/* vendor.test DNAME github.com; docs.vendor.test CNAME docs.github.com; its A */
#define DNAME_GH                                                                                   \
	RSP_HDR("\x03")                                                                            \
	QDOCS "\xc0\x11" T_DNAME TTL60 "\x00\x0c\006github\003com\000"                             \
	      "\xc0\x0c" T_CNAME TTL60 "\x00\x07\004docs\xc0\x2e"                                  \
	      "\xc0\x46" T_A TTL60 ADDR
/* docs.vendor.test CNAME mid.vendor.test CNAME vendor.github.com; its A */
#define TWO_HOPS                                                                                   \
	RSP_HDR("\x03")                                                                            \
	QDOCS "\xc0\x0c" T_CNAME TTL60 "\x00\x06\003mid\xc0\x11"                                   \
	      "\xc0\x2e" T_CNAME TTL60 "\x00\x13\006vendor\006github\003com\000"                   \
	      "\xc0\x40" T_A TTL60 ADDR
/* only an A: no chain */
#define ONLY_A RSP_HDR("\x01") QDOCS "\xc0\x0c" T_A TTL60 ADDR
/* a CNAME whose target points at itself */
#define LOOP RSP_HDR("\x01") QDOCS "\xc0\x0c" T_CNAME TTL60 "\x00\x02\xc0\x2e"

#define PKT(s) .pkt = (const uint8_t *)(s), .len = sizeof(s) - 1

struct verdict_case {
	const char *desc;
	const char *policy;
	const uint8_t *pkt;
	size_t len;
	int verdict;	  /* enum policy_verdict, or a negative errno */
	const char *name; /* the name reported, for BLOCK and AUDIT */
};

static const struct verdict_case verdict_cases[] = {
    {"blocklist: target blocked", "block github.com\n", PKT(CHAIN_GH), VERDICT_BLOCK,
     "vendor.github.com"},
    {"blocklist: *.NAME covers the target", "block *.github.com\n", PKT(CHAIN_GH), VERDICT_BLOCK,
     "vendor.github.com"},
    {"blocklist: other names blocked", "block example.com\n", PKT(CHAIN_GH), VERDICT_ALLOW},
    {"blocklist: no rules", "", PKT(CHAIN_GH), VERDICT_ALLOW},
    {"blocklist: the second hop", "block github.com\n", PKT(TWO_HOPS), VERDICT_BLOCK,
     "vendor.github.com"},
    {"blocklist: a blocked middle hop", "block mid.vendor.test\n", PKT(TWO_HOPS), VERDICT_BLOCK,
     "mid.vendor.test"},
    {"blocklist: DNAME target", "block github.com\n", PKT(DNAME_GH), VERDICT_BLOCK, "github.com"},
    {"blocklist: DNAME owner", "block vendor.test\nallow docs.vendor.test\n", PKT(DNAME_GH),
     VERDICT_BLOCK, "vendor.test"},
    {"blocklist: no chain, nothing to refuse", "block github.com\n", PKT(ONLY_A), VERDICT_ALLOW},
    {"allowlist: alias allowed, target not", "mode allowlist\nallow vendor.test\n", PKT(CHAIN_GH),
     VERDICT_BLOCK, "vendor.github.com"},
    {"allowlist: both allowed", "mode allowlist\nallow vendor.test\nallow vendor.github.com\n",
     PKT(CHAIN_GH), VERDICT_ALLOW},
    {"allowlist: DNAME to an unlisted name", "mode allowlist\nallow vendor.test\n", PKT(DNAME_GH),
     VERDICT_BLOCK, "github.com"},
    {"audit: a block rule matches the target", "mode audit\nblock github.com\n", PKT(CHAIN_GH),
     VERDICT_AUDIT, "vendor.github.com"},
    {"audit: the question itself is the query path's", "mode audit\nblock docs.vendor.test\n",
     PKT(CHAIN_GH), VERDICT_ALLOW},
    {"unreadable chain", "block github.com\n", PKT(LOOP), -ELOOP},
};

static void test_verdict(void **state)
{
	const struct verdict_case *c = *state;
	struct policy *p = policy__new("t");
	char name[DNS_NAME_BUF] = "untouched";
	struct df_err err = {0};
	struct dns_msg m;
	size_t len = 0;

	assert_non_null(p);
	assert_int_equal(policy__parse(p, c->policy, strlen(c->policy), "t.policy", &err), 0);
	assert_int_equal(dns_parse(c->pkt, c->len, &m), DNS_OK);
	assert_int_equal(answer_chain_verdict(p, c->pkt, c->len, &m, name, &len), c->verdict);
	if (c->name) {
		assert_string_equal(name, c->name);
		assert_int_equal(len, strlen(c->name));
	} else {
		assert_string_equal(name, "untouched");
	}
	policy__free(p);
}

#define MAX_TESTS 64

static struct CMUnitTest tests[MAX_TESTS];

int main(void)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(verdict_cases) / sizeof(verdict_cases[0]); i++)
		tests[n++] = (struct CMUnitTest){
		    .name = verdict_cases[i].desc,
		    .test_func = test_verdict,
		    .initial_state = (void *)&verdict_cases[i],
		};
	return _cmocka_run_group_tests("answer_check", tests, n, NULL, NULL);
}
