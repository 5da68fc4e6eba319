// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for dns_wire.c: whatever dns_parse() accepts, the answers
 * we build from it must parse again and say the same thing. Buffers handed to
 * the code under test are heap blocks of exactly the size it may touch, so
 * ASan sees the first byte out of bounds.
 *   tests/fuzz/run.sh 600
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dns_wire.h"

/* Not assert(): it must also hold in a build with NDEBUG. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_msg(const uint8_t *pkt, size_t len, const struct dns_msg *m)
{
	char canon[DNS_NAME_BUF];

	CHECK(m->qname_len < DNS_NAME_BUF);
	CHECK(strlen(m->qname) == m->qname_len);
	CHECK(m->question_end > DNS_HDR_LEN && m->question_end <= len);
	CHECK(!m->has_edns ||
	      (m->opt_off >= m->question_end && m->opt_off + 11 <= len && pkt[m->opt_off] == 0));
	CHECK(m->has_edns || (m->opt_off == 0 && m->edns_udp_size == 0 && !m->edns_do));
	/* A parsed name without escapes is one a policy could name: same string both ways. */
	if (m->qname_len && !strchr(m->qname, '\\')) {
		CHECK(dns_name_canon(m->qname, canon, sizeof(canon)) == (int)m->qname_len);
		CHECK(strcmp(canon, m->qname) == 0);
	}
}

static void check_reply(const uint8_t *query, const struct dns_msg *m, int rcode)
{
	size_t need = m->question_end + (m->has_edns ? 11 : 0), n;
	uint8_t *out = malloc(need);
	struct dns_msg r;

	CHECK(out);
	CHECK(dns_build_empty_reply(query, m, rcode, out, need - 1) == 0);
	n = dns_build_empty_reply(query, m, rcode, out, need);
	CHECK(n == need);
	CHECK(dns_parse(out, n, &r) == DNS_OK);
	CHECK(r.id == m->id);
	CHECK(r.qname_len == m->qname_len && strcmp(r.qname, m->qname) == 0);
	CHECK(r.qtype == m->qtype && r.qclass == m->qclass);
	CHECK(DNS_RCODE(r.flags) == rcode);
	CHECK((r.flags & DNS_FLAG_QR) && !(r.flags & DNS_FLAG_TC));
	CHECK((r.flags & DNS_FLAG_RD) == (m->flags & DNS_FLAG_RD));
	CHECK(DNS_OPCODE(r.flags) == DNS_OPCODE(m->flags));
	CHECK(r.ancount == 0 && r.nscount == 0);
	CHECK(r.has_edns == m->has_edns && r.edns_do == m->edns_do);
	CHECK(!r.has_edns || r.edns_udp_size == DNS_EDNS_OUR_UDP);
	free(out);
}

static void check_truncate(const uint8_t *data, size_t size, const struct dns_msg *m, size_t limit)
{
	uint8_t *pkt = malloc(size);
	struct dns_msg r;
	size_t n;
	int err;

	CHECK(pkt);
	memcpy(pkt, data, size);
	n = dns_truncate(pkt, size, m, limit);
	if (size <= limit) {
		CHECK(n == size && memcmp(pkt, data, size) == 0);
		free(pkt);
		return;
	}
	CHECK(n <= limit || n == DNS_HDR_LEN);
	err = dns_parse(pkt, n, &r);
	CHECK(r.id == m->id && (r.flags & DNS_FLAG_TC));
	CHECK(r.ancount == 0 && r.nscount == 0);
	if (n == DNS_HDR_LEN) {
		CHECK(err == DNS_E_NO_QUESTION);
	} else {
		CHECK(err == DNS_OK);
		CHECK(strcmp(r.qname, m->qname) == 0 && r.qtype == m->qtype);
		CHECK(!r.has_edns || (m->has_edns && r.edns_udp_size == DNS_EDNS_OUR_UDP &&
				      r.edns_do == m->edns_do));
	}
	free(pkt);
}

/* Every chain name reads as a NUL-terminated presentation name of the length given. */
static int check_alias(void *ctx, uint16_t type, const char *owner, size_t owner_len,
		       const char *target, size_t target_len)
{
	CHECK(type == DNS_TYPE_CNAME || type == DNS_TYPE_DNAME);
	CHECK(owner_len < DNS_NAME_BUF && strlen(owner) == owner_len);
	CHECK(target_len < DNS_NAME_BUF && strlen(target) == target_len);
	++*(unsigned int *)ctx;
	return 0;
}

static void check_aliases(const uint8_t *data, size_t size, const struct dns_msg *m)
{
	unsigned int n = 0;
	int r = dns_for_each_alias(data, size, m, check_alias, &n);

	CHECK(r == 0 || r == -EBADMSG || r == -ELOOP);
	CHECK(n <= m->ancount);
}

/*
 * The answer cache: the input stored as an answer, then asked for with itself
 * as the query, now and later (aged TTLs). A hit must be no bigger than the
 * buffer, parse, and carry the query's id; a lookup never reads past either.
 */
static void check_cache(const uint8_t *data, size_t size, const struct dns_msg *m)
{
	static struct dns_cache *c;
	static uint8_t out[CACHE_SLOT];
	static uint64_t now = 1000000;
	struct dns_msg om;
	size_t n;

	if (!c)
		CHECK(cache__new(64, &c) == 0);
	now += 1 + data[0];
	cache__store(c, data, size, m, data[size / 2] & 1, now);
	n = cache__lookup(c, data, m, out, sizeof(out), now + (data[size - 1] << 10));
	if (!n)
		return;
	CHECK(n <= sizeof(out));
	CHECK(dns_parse(out, n, &om) == DNS_OK);
	CHECK(dns_get_id(out) == dns_get_id(data));
	CHECK(om.qtype == m->qtype && om.qname_len == m->qname_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m;
	uint8_t hdr[DNS_HDR_LEN];
	int rcode;

	if (dns_parse(data, size, &m) != DNS_OK) {
		/* What the proxy sends back for garbage: FORMERR, header only. */
		if (size >= DNS_HDR_LEN) {
			m.qdcount = 0;
			CHECK(dns_build_empty_reply(data, &m, DNS_RCODE_FORMERR, hdr,
						    sizeof(hdr)) == DNS_HDR_LEN);
			CHECK(dns_parse(hdr, sizeof(hdr), &m) == DNS_E_NO_QUESTION);
			CHECK(dns_get_id(hdr) == dns_get_id(data));
		}
		return 0;
	}
	check_msg(data, size, &m);
	/* Let the input pick the RCODE so every value goes through the flags. */
	rcode = data[size - 1] & 0xf;
	check_reply(data, &m, rcode);
	check_aliases(data, size, &m);
	check_cache(data, size, &m);

	check_truncate(data, size, &m, DNS_EDNS_MIN_UDP);
	check_truncate(data, size, &m, size - 1);
	check_truncate(data, size, &m, m.question_end + 11);
	check_truncate(data, size, &m, m.question_end + 10);
	check_truncate(data, size, &m, m.question_end - 1);
	return 0;
}
