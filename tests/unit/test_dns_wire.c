// SPDX-License-Identifier: GPL-2.0-only
/*
 * dns_wire: every case is a row; each row runs as its own cmocka test so a
 * failure names the case.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dns_wire.h"
#include "util.h"

/* Messages are written as concatenated literals: escapes end at each quote. */
#define HDR(flags, qd, an, ns, ar) "\x12\x34" flags "\x00" qd "\x00" an "\x00" ns "\x00" ar
#define QRY			   "\x01\x00" /* RD */
#define RSP			   "\x81\x80" /* QR RD RA */
#define RSP_NX			   "\x81\x83" /* QR RD RA NXDOMAIN */
#define N0			   "\x00"
#define N1			   "\x01"
#define N2			   "\x02"
#define N3			   "\x03"
/* Label lengths in octal: an octal escape stops after three digits, a hex one does not. */
#define WWW    "\003www\007example\003com\000"
#define T_A    "\x00\x01\x00\x01"
#define T_AAAA "\x00\x1c\x00\x01"
#define T_SOA  "\x00\x06\x00\x01"
/* OPT RR: root owner, TYPE 41, CLASS = UDP size, TTL = ext-rcode, version, flags. */
#define OPT(udp, flags) "\x00\x00\x29" udp "\x00\x00" flags "\x00\x00"
/* The same with a 12-byte RDATA: one COOKIE option (code 10) of 8 bytes. */
#define OPT_COOKIE(udp, flags)                                                                     \
	"\x00\x00\x29" udp "\x00\x00" flags "\x00\x0c\x00\x0a\x00\x08"                             \
	"CCCCCCCC"
/* A record owned by a pointer to the question name at offset 12. */
#define ANS_A(ttl) "\xc0\x0c" T_A ttl "\x00\x04\x5d\xb8\xd8\x22"
/*
 * SOA of example.com (offset 16 in a WWW question): MNAME, RNAME, then
 * SERIAL, REFRESH, RETRY, EXPIRE and MINIMUM.
 */
#define SOA(ttl, minimum)                                                                          \
	"\xc0\x10" T_SOA ttl "\x00\x20\002ns\xc0\x10\004host\xc0\x10"                              \
	"\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x02\x58\x00\x09\x3a\x80" minimum

#define PKT(s) .pkt = (const uint8_t *)(s), .len = sizeof(s) - 1

/* ---- generated messages: long names ---------------------------------------------------- */

/* Header for one A question, then labels of the given sizes filled with FILL. */
static size_t gen_labels(uint8_t *buf, const int *sizes, int n, uint8_t fill)
{
	static const uint8_t hdr[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t off = sizeof(hdr);

	memcpy(buf, hdr, sizeof(hdr));
	for (int i = 0; i < n; i++) {
		buf[off++] = sizes[i];
		memset(buf + off, fill, sizes[i]);
		off += sizes[i];
	}
	buf[off++] = 0;
	memcpy(buf + off, "\x00\x01\x00\x01", 4);
	return off + 4;
}

/* 64+64+64+62+1 = 255 wire bytes: the longest legal name. */
static size_t gen_name_255(uint8_t *buf)
{
	static const int sizes[] = {63, 63, 63, 61};

	return gen_labels(buf, sizes, 4, 'a');
}

static size_t gen_name_256(uint8_t *buf)
{
	static const int sizes[] = {63, 63, 63, 62};

	return gen_labels(buf, sizes, 4, 'a');
}

/* Worst case for the presentation buffer: every byte escaped. */
static size_t gen_name_255_binary(uint8_t *buf)
{
	static const int sizes[] = {63, 63, 63, 61};

	return gen_labels(buf, sizes, 4, 0xff);
}

/* 127 one-byte labels: 255 wire bytes, the most labels (and dots) a name can have. */
static size_t gen_name_127_labels(uint8_t *buf)
{
	int sizes[127];

	for (int i = 0; i < 127; i++)
		sizes[i] = 1;
	return gen_labels(buf, sizes, 127, 'A');
}

/* ---- dns_parse --------------------------------------------------------------------------- */

struct parse_case {
	const char *name;
	const uint8_t *pkt;
	size_t len;
	size_t (*gen)(uint8_t *buf);
	int err;
	/* Checked only when err is DNS_OK. qname NULL: check qname_len only. */
	const char *qname;
	size_t qname_len;
	uint16_t qtype;
	bool edns;
	uint16_t udp;
	bool do_bit;
	bool check_ttl;
	uint32_t min_ttl;
};

#define TTL(x) .check_ttl = true, .min_ttl = (x)

static const struct parse_case parse_cases[] = {
    /* Ordinary queries */
    {"A query", PKT(HDR(QRY, N1, N0, N0, N0) WWW T_A), .qname = "www.example.com",
     .qtype = DNS_TYPE_A, TTL(UINT32_MAX)},
    {"AAAA query", PKT(HDR(QRY, N1, N0, N0, N0) WWW T_AAAA), .qname = "www.example.com",
     .qtype = DNS_TYPE_AAAA},
    {"mixed case is lowered", PKT(HDR(QRY, N1, N0, N0, N0) "\003WwW\007ExAmPlE\003COM\000" T_A),
     .qname = "www.example.com", .qtype = DNS_TYPE_A},
    {"root name", PKT(HDR(QRY, N1, N0, N0, N0) "\x00\x00\x02\x00\x01"), .qname = "", .qtype = 2},
    {"hyphen, underscore, digits kept", PKT(HDR(QRY, N1, N0, N0, N0) "\006_dmarc\005a-b-9\000" T_A),
     .qname = "_dmarc.a-b-9", .qtype = DNS_TYPE_A},
    /* Escaping */
    {"dot inside a label", PKT(HDR(QRY, N1, N0, N0, N0) "\003a.b\003com\000" T_A),
     .qname = "a\\046b.com", .qtype = DNS_TYPE_A},
    {"binary bytes inside a label", PKT(HDR(QRY, N1, N0, N0, N0) "\x06\x00\xff \\*\x7f\x00" T_A),
     .qname = "\\000\\255\\032\\092\\042\\127", .qtype = DNS_TYPE_A},
    /* EDNS */
    {"EDNS absent", PKT(HDR(QRY, N1, N0, N0, N0) WWW T_A), .qname = "www.example.com",
     .qtype = DNS_TYPE_A, .edns = false},
    {"EDNS present, DO clear", PKT(HDR(QRY, N1, N0, N0, N1) WWW T_A OPT("\x04\xd0", "\x00\x00")),
     .qname = "www.example.com", .qtype = DNS_TYPE_A, .edns = true, .udp = 1232},
    {"EDNS present, DO set", PKT(HDR(QRY, N1, N0, N0, N1) WWW T_A OPT("\x10\x00", "\x80\x00")),
     .qname = "www.example.com", .qtype = DNS_TYPE_A, .edns = true, .udp = 4096, .do_bit = true,
     TTL(UINT32_MAX)},
    {"EDNS with options (cookie)",
     PKT(HDR(QRY, N1, N0, N0, N1) WWW T_A OPT_COOKIE("\x02\x00", "\x00\x00")),
     .qname = "www.example.com", .qtype = DNS_TYPE_A, .edns = true, .udp = 512},
    {"bad OPT: owner not root",
     PKT(HDR(QRY, N1, N0, N0, N1) WWW T_A "\xc0\x0c\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"),
     .err = DNS_E_BAD_OPT},
    {"bad OPT: two OPT records",
     PKT(HDR(QRY, N1, N0, N0, N2) WWW T_A OPT("\x10\x00", "\x00\x00") OPT("\x10\x00", "\x00\x00")),
     .err = DNS_E_BAD_OPT},
    {"bad OPT: in the answer section",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A OPT("\x10\x00", "\x00\x00")), .err = DNS_E_BAD_OPT},
    /* Question count */
    {"zero questions", PKT(HDR(QRY, N0, N0, N0, N0)), .err = DNS_E_NO_QUESTION},
    {"two questions", PKT(HDR(QRY, N2, N0, N0, N0) WWW T_A WWW T_A), .err = DNS_E_MULTI_QUESTION},
    /* Truncation */
    {"empty", .pkt = (const uint8_t *)"", .len = 0, .err = DNS_E_SHORT},
    {"11-byte header", PKT("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00"), .err = DNS_E_SHORT},
    {"header only, QDCOUNT 1", PKT(HDR(QRY, N1, N0, N0, N0)), .err = DNS_E_TRUNCATED},
    {"cut inside a label", PKT(HDR(QRY, N1, N0, N0, N0) "\003www\007exa"), .err = DNS_E_TRUNCATED},
    {"name without its root label", PKT(HDR(QRY, N1, N0, N0, N0) "\003www"),
     .err = DNS_E_TRUNCATED},
    {"cut inside a pointer", PKT(HDR(QRY, N1, N0, N0, N0) "\001a\xc0"), .err = DNS_E_TRUNCATED},
    {"cut inside QTYPE/QCLASS", PKT(HDR(QRY, N1, N0, N0, N0) WWW "\x00\x01\x00"),
     .err = DNS_E_TRUNCATED},
    {"ANCOUNT 1, no RR", PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A), .err = DNS_E_TRUNCATED},
    {"cut inside RR fixed part", PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A "\xc0\x0c" T_A "\x00"),
     .err = DNS_E_TRUNCATED},
    {"cut inside RDATA",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A "\xc0\x0c" T_A "\x00\x00\x00\x3c\x00\x04\x5d"),
     .err = DNS_E_TRUNCATED},
    {"RDLENGTH past the end",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A "\xc0\x0c" T_A
					  "\x00\x00\x00\x3c\xff\xff\x5d\xb8\xd8\x22"),
     .err = DNS_E_TRUNCATED},
    {"ARCOUNT 2, one OPT", PKT(HDR(QRY, N1, N0, N0, N2) WWW T_A OPT("\x10\x00", "\x00\x00")),
     .err = DNS_E_TRUNCATED},
    {"cut inside OPT", PKT(HDR(QRY, N1, N0, N0, N1) WWW T_A "\x00\x00\x29\x10"),
     .err = DNS_E_TRUNCATED},
    /* Long names */
    {"name of 255 wire bytes", .gen = gen_name_255, .qname_len = 253, .qtype = DNS_TYPE_A},
    {"name of 256 wire bytes", .gen = gen_name_256, .err = DNS_E_NAME_TOO_LONG},
    {"255 wire bytes, all escaped", .gen = gen_name_255_binary, .qname_len = 250 * 4 + 3,
     .qtype = DNS_TYPE_A},
    {"127 labels", .gen = gen_name_127_labels, .qname_len = 127 * 2 - 1, .qtype = DNS_TYPE_A},
    {"label length 64 (type 0x40)", PKT(HDR(QRY, N1, N0, N0, N0) "\100a\000" T_A),
     .err = DNS_E_LABEL_TYPE},
    {"label type 0x80", PKT(HDR(QRY, N1, N0, N0, N0) "\200a\000" T_A), .err = DNS_E_LABEL_TYPE},
    {"label type 0x40 in an RR owner",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A "\x41\x00" T_A "\x00\x00\x00\x3c\x00\x00"),
     .err = DNS_E_LABEL_TYPE},
    /* Compression */
    {"pointer in the question (into its own label)",
     PKT(HDR(QRY, N1, N0, N0, N0) "\003a\000b\xc0\x0e" T_A), .qname = "a\\000b",
     .qtype = DNS_TYPE_A},
    {"self pointer", PKT(HDR(QRY, N1, N0, N0, N0) "\xc0\x0c" T_A), .err = DNS_E_POINTER_LOOP},
    {"forward pointer", PKT(HDR(QRY, N1, N0, N0, N0) "\xc0\x0e\x00" T_A),
     .err = DNS_E_POINTER_LOOP},
    {"two-pointer cycle", PKT(HDR(QRY, N1, N0, N0, N0) "\xc0\x0e\xc0\x0c" T_A),
     .err = DNS_E_POINTER_LOOP},
    {"backward cycle through a label", PKT(HDR(QRY, N1, N0, N0, N0) "\001a\xc0\x0c" T_A),
     .err = DNS_E_POINTER_LOOP},
    {"name runs on past its own pointer", PKT(HDR(QRY, N1, N0, N0, N0) "\003a\005b\xc0\x0e" T_A),
     .err = DNS_E_POINTER_LOOP},
    {"pointer into the header", PKT(HDR(QRY, N1, N0, N0, N0) "\xc0\x02" T_A),
     .err = DNS_E_POINTER_LOOP},
    {"self pointer in an RR owner",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A "\xc0\x21" T_A "\x00\x00\x00\x3c\x00\x00"),
     .err = DNS_E_POINTER_LOOP},
    /* Responses and TTLs */
    {"response, two answers: min TTL",
     PKT(HDR(RSP, N1, N2, N0, N0) WWW T_A ANS_A("\x00\x00\x01\x2c") ANS_A("\x00\x00\x00\x3c")),
     .qname = "www.example.com", .qtype = DNS_TYPE_A, TTL(60)},
    {"OPT TTL does not count",
     PKT(HDR(RSP, N1, N1, N0, N1) WWW T_A ANS_A("\x00\x00\x01\x2c") OPT("\x04\xd0", "\x80\x00")),
     .qname = "www.example.com", .qtype = DNS_TYPE_A, .edns = true, .udp = 1232, .do_bit = true,
     TTL(300)},
    {"additional TTL does not count",
     PKT(HDR(RSP, N1, N1, N0, N1) WWW T_A ANS_A("\x00\x00\x01\x2c") ANS_A("\x00\x00\x00\x05")),
     .qname = "www.example.com", .qtype = DNS_TYPE_A, TTL(300)},
    {"NXDOMAIN: SOA MINIMUM below TTL",
     PKT(HDR(RSP_NX, N1, N0, N1, N0) WWW T_A SOA("\x00\x00\x0e\x10", "\x00\x00\x03\x84")),
     .qname = "www.example.com", .qtype = DNS_TYPE_A, TTL(900)},
    {"NODATA: SOA TTL below MINIMUM",
     PKT(HDR(RSP, N1, N0, N1, N0) WWW T_AAAA SOA("\x00\x00\x00\x64", "\x00\x00\x03\x84")),
     .qname = "www.example.com", .qtype = DNS_TYPE_AAAA, TTL(100)},
    {"TTL with the top bit set reads as 0",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A ANS_A("\x80\x00\x00\x01")), .qname = "www.example.com",
     .qtype = DNS_TYPE_A, TTL(0)},
};

static void test_parse(void **state)
{
	const struct parse_case *c = *state;
	uint8_t buf[1024];
	const uint8_t *pkt = c->pkt;
	size_t len = c->len;
	struct dns_msg m;
	int err;

	if (c->gen) {
		len = c->gen(buf);
		pkt = buf;
	}
	err = dns_parse(pkt, len, &m);
	if (err != c->err)
		fail_msg("%s: got '%s', want '%s'", c->name, dns_strerror(err),
			 dns_strerror(c->err));
	assert_true(m.qname_len < DNS_NAME_BUF);
	assert_int_equal(strlen(m.qname), m.qname_len);
	if (err)
		return;
	assert_int_equal(m.id, 0x1234);
	assert_int_equal(m.qdcount, 1);
	if (c->qname)
		assert_string_equal(m.qname, c->qname);
	else
		assert_int_equal(m.qname_len, c->qname_len);
	assert_int_equal(m.qtype, c->qtype);
	assert_int_equal(m.qclass, 1);
	assert_true(m.question_end > DNS_HDR_LEN && m.question_end <= len);
	assert_int_equal(m.has_edns, c->edns);
	assert_int_equal(m.edns_udp_size, c->udp);
	assert_int_equal(m.edns_do, c->do_bit);
	if (c->edns)
		assert_int_equal(pkt[m.opt_off + 2], DNS_TYPE_OPT);
	else
		assert_int_equal(m.opt_off, 0);
	if (c->check_ttl)
		assert_int_equal(m.min_ttl, c->min_ttl);
}

/* ---- dns_build_empty_reply --------------------------------------------------------------- */

struct reply_case {
	const char *name;
	const uint8_t *pkt;
	size_t len;
	int rcode;
	bool in_place; /* write the reply over the query buffer */
};

static const struct reply_case reply_cases[] = {
    {"REFUSED, no EDNS", PKT(HDR(QRY, N1, N0, N0, N0) WWW T_A), DNS_RCODE_REFUSED},
    {"NXDOMAIN, EDNS", PKT(HDR(QRY, N1, N0, N0, N1) WWW T_AAAA OPT("\x10\x00", "\x00\x00")),
     DNS_RCODE_NXDOMAIN},
    {"SERVFAIL, EDNS with DO", PKT(HDR(QRY, N1, N0, N0, N1) WWW T_A OPT("\x02\x00", "\x80\x00")),
     DNS_RCODE_SERVFAIL},
    {"RD clear, opcode 2 (status)", PKT("\xab\xcd\x10\x00\x00\x01\x00\x00\x00\x00\x00\x00" WWW T_A),
     DNS_RCODE_NOTIMP},
    {"in place, EDNS with DO and a cookie",
     PKT(HDR(QRY, N1, N0, N0, N1) WWW T_A OPT_COOKIE("\x10\x00", "\x80\x00")), DNS_RCODE_REFUSED,
     .in_place = true},
    {"in place, compressed question", PKT(HDR(QRY, N1, N0, N0, N0) "\003a\000b\xc0\x0e" T_A),
     DNS_RCODE_NXDOMAIN, .in_place = true},
    {"query that is a response (QR set)",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A ANS_A("\x00\x00\x01\x2c")), DNS_RCODE_SERVFAIL},
};

static void test_reply(void **state)
{
	const struct reply_case *c = *state;
	uint8_t query[512], out[512], *dst;
	struct dns_msg q, r;
	uint16_t qflags;
	size_t n, want;

	memcpy(query, c->pkt, c->len);
	assert_int_equal(dns_parse(query, c->len, &q), DNS_OK);
	qflags = q.flags;
	want = q.question_end + (q.has_edns ? 11 : 0);
	dst = c->in_place ? query : out;

	/* One byte short of room: nothing written. */
	assert_int_equal(dns_build_empty_reply(query, &q, c->rcode, dst, want - 1), 0);
	n = dns_build_empty_reply(query, &q, c->rcode, dst, sizeof(out));
	assert_int_equal(n, want);

	assert_int_equal(dns_parse(dst, n, &r), DNS_OK);
	assert_int_equal(r.id, q.id);
	assert_string_equal(r.qname, q.qname);
	assert_int_equal(r.qtype, q.qtype);
	assert_int_equal(r.qclass, q.qclass);
	assert_int_equal(DNS_RCODE(r.flags), c->rcode);
	assert_int_equal(DNS_OPCODE(r.flags), DNS_OPCODE(qflags));
	assert_true(r.flags & DNS_FLAG_QR);
	assert_true(r.flags & DNS_FLAG_RA);
	assert_false(r.flags & (DNS_FLAG_AA | DNS_FLAG_TC));
	assert_int_equal(r.flags & DNS_FLAG_RD, qflags & DNS_FLAG_RD);
	assert_int_equal(r.ancount, 0);
	assert_int_equal(r.nscount, 0);
	assert_int_equal(r.arcount, q.has_edns ? 1 : 0);
	assert_int_equal(r.has_edns, q.has_edns);
	assert_int_equal(r.edns_udp_size, q.has_edns ? DNS_EDNS_OUR_UDP : 0);
	assert_int_equal(r.edns_do, q.edns_do);
	assert_int_equal(r.min_ttl, UINT32_MAX);
}

/* A message that did not parse gets a bare header back. */
static void test_reply_unparsed(void **state)
{
	static const uint8_t query[] =
	    HDR(QRY, N2, N0, N0, N1) WWW T_A WWW T_A OPT("\x10\x00", "\x80\x00");
	uint8_t out[512];
	struct dns_msg q, r;
	size_t n;

	(void)state;
	assert_int_equal(dns_parse(query, sizeof(query) - 1, &q), DNS_E_MULTI_QUESTION);
	q.qdcount = 0;
	assert_int_equal(dns_build_empty_reply(query, &q, DNS_RCODE_FORMERR, out, 11), 0);
	n = dns_build_empty_reply(query, &q, DNS_RCODE_FORMERR, out, sizeof(out));
	assert_int_equal(n, DNS_HDR_LEN);
	assert_int_equal(dns_parse(out, n, &r), DNS_E_NO_QUESTION);
	assert_int_equal(r.id, 0x1234);
	assert_int_equal(r.flags, DNS_FLAG_QR | DNS_FLAG_RA | DNS_FLAG_RD | DNS_RCODE_FORMERR);
	assert_int_equal(r.ancount + r.nscount + r.arcount, 0);
}

/* ---- dns_truncate ------------------------------------------------------------------------ */

/* A response for www.example.com A with N answers and, if EDNS, an OPT carrying a cookie. */
static size_t gen_big_response(uint8_t *buf, int answers, bool edns, bool do_bit)
{
	static const uint8_t q[] = WWW T_A;
	static const uint8_t a[] = ANS_A("\x00\x00\x01\x2c");
	static const uint8_t opt[] = OPT_COOKIE("\x10\x00", "\x00\x00");
	size_t off = DNS_HDR_LEN;

	memset(buf, 0, DNS_HDR_LEN);
	dns_set_id(buf, 0x1234);
	buf[2] = 0x81;
	buf[3] = 0x80;
	buf[5] = 1;
	buf[6] = answers >> 8;
	buf[7] = answers & 0xff;
	buf[11] = edns;
	memcpy(buf + off, q, sizeof(q) - 1);
	off += sizeof(q) - 1;
	for (int i = 0; i < answers; i++, off += sizeof(a) - 1)
		memcpy(buf + off, a, sizeof(a) - 1);
	if (edns) {
		memcpy(buf + off, opt, sizeof(opt) - 1);
		buf[off + 7] = do_bit ? 0x80 : 0;
		off += sizeof(opt) - 1;
	}
	return off;
}

#define QEND (DNS_HDR_LEN + 17 + 4) /* end of the www.example.com question */

struct trunc_case {
	const char *name;
	int answers;
	bool edns, do_bit;
	size_t limit;
	size_t want_len; /* 0: unchanged */
	bool want_opt;
};

static const struct trunc_case trunc_cases[] = {
    {"fits: untouched", 10, true, false, 512, 0, true},
    {"exactly the limit: untouched", 2, false, false, QEND + 2 * 16, 0, false},
    {"EDNS, 512", 100, true, false, 512, QEND + 11, true},
    {"EDNS with DO kept, 1232", 100, true, true, 1232, QEND + 11, true},
    {"no EDNS, 512", 100, false, false, 512, QEND, false},
    {"room for the question, not the OPT", 100, true, false, QEND + 10, QEND, false},
    {"room for the question and OPT exactly", 100, true, false, QEND + 11, QEND + 11, true},
    {"no room for the question: bare header", 100, true, false, QEND - 1, DNS_HDR_LEN, false},
};

static void test_truncate(void **state)
{
	const struct trunc_case *c = *state;
	uint8_t buf[4096];
	struct dns_msg m, r;
	size_t len, n;
	int err;

	len = gen_big_response(buf, c->answers, c->edns, c->do_bit);
	assert_true(len <= sizeof(buf));
	assert_int_equal(dns_parse(buf, len, &m), DNS_OK);
	assert_int_equal(m.question_end, QEND);
	n = dns_truncate(buf, len, &m, c->limit);
	if (!c->want_len) {
		assert_int_equal(n, len);
		assert_false(buf[2] & (DNS_FLAG_TC >> 8));
		return;
	}
	assert_int_equal(n, c->want_len);
	assert_true(n <= c->limit);
	err = dns_parse(buf, n, &r);
	assert_int_equal(err, n == DNS_HDR_LEN ? DNS_E_NO_QUESTION : DNS_OK);
	assert_true(r.flags & DNS_FLAG_TC);
	assert_int_equal(r.id, 0x1234);
	assert_int_equal(r.ancount, 0);
	assert_int_equal(r.nscount, 0);
	assert_int_equal(r.arcount, c->want_opt ? 1 : 0);
	if (err)
		return;
	assert_string_equal(r.qname, "www.example.com");
	assert_int_equal(r.has_edns, c->want_opt);
	if (c->want_opt) {
		assert_int_equal(r.edns_udp_size, DNS_EDNS_OUR_UDP);
		assert_int_equal(r.edns_do, c->do_bit);
	}
}

/* ---- dns_for_each_alias ------------------------------------------------------------------ */

/*
 * Answers to www.example.com A: the question ends at 33, so the first answer RR's
 * RDATA starts at 45 (0x2d). "example.com" is at 16 (0x10) in the question.
 */
#define T_CNAME			   "\x00\x05\x00\x01"
#define T_DNAME			   "\x00\x27\x00\x01"
#define T_CNAME_CH		   "\x00\x05\x00\x03"
#define TTL60			   "\x00\x00\x00\x3c"
#define CNAME(owner, rdlen, rdata) owner T_CNAME TTL60 "\x00" rdlen rdata
#define A_OF(owner)		   owner T_A TTL60 "\x00\x04\x7f\x00\x00\x13"

struct alias_case {
	const char *name;
	const uint8_t *pkt;
	size_t len;
	int ret;	   /* what dns_for_each_alias() returns */
	int stop_at;	   /* > 0: the callback returns 7 at this call */
	const char *calls; /* "TYPE OWNER>TARGET;" per call, in order */
};

static const struct alias_case alias_cases[] = {
    {"addresses only: no call", PKT(HDR(RSP, N1, N2, N0, N0) WWW T_A ANS_A(TTL60) ANS_A(TTL60)), 0,
     .calls = ""},
    {"no answer RR", PKT(HDR(RSP_NX, N1, N0, N0, N0) WWW T_A), 0, .calls = ""},
    {"CNAME, then the target's A",
     PKT(HDR(RSP, N1, N2, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x11", "\003cdn\007example\003net\000")
	     A_OF("\xc0\x2d")),
     0, .calls = "5 www.example.com>cdn.example.net;"},
    {"two hops, targets compressed into the question and the first RDATA",
     PKT(HDR(RSP, N1, N3, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x04", "\001a\xc0\x10")
	     CNAME("\xc0\x2d", "\x04", "\001b\xc0\x10") A_OF("\xc0\x3d")),
     0, .calls = "5 www.example.com>a.example.com;5 a.example.com>b.example.com;"},
    {"DNAME and its synthesised CNAME",
     PKT(HDR(RSP, N1, N2, N0, N0) WWW T_A
	 "\xc0\x10" T_DNAME TTL60
	 "\x00\x0d\007example\003org\000" CNAME("\xc0\x0c", "\x06", "\003www\xc0\x2d")),
     0, .calls = "39 example.com>example.org;5 www.example.com>www.example.org;"},
    {"case lowered, a dot inside a label escaped",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x09", "\003C.N\003NET\000")), 0,
     .calls = "5 www.example.com>c\\046n.net;"},
    {"root target", PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x01", "\000")), 0,
     .calls = "5 www.example.com>;"},
    {"any class (CH)",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A "\xc0\x0c" T_CNAME_CH TTL60 "\x00\x03\001x\000"), 0,
     .calls = "5 www.example.com>x;"},
    {"callback stops the walk",
     PKT(HDR(RSP, N1, N3, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x04", "\001a\xc0\x10")
	     CNAME("\xc0\x2d", "\x04", "\001b\xc0\x10") A_OF("\xc0\x3d")),
     7, .stop_at = 1, .calls = "5 www.example.com>a.example.com;"},
    /* RDATA that dns_parse() steps over but does not read. */
    {"target runs past its RDATA",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x05", "\003cdn\001x") "\000"),
     -EBADMSG, .calls = ""},
    {"RDATA cut inside a label",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x03", "\007ex")), -EBADMSG,
     .calls = ""},
    {"empty RDATA", PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x00", "")), -EBADMSG,
     .calls = ""},
    {"stray bytes after the target",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x04", "\001x\000\xff")), -EBADMSG,
     .calls = ""},
    {"reserved label type in the target",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x03", "\101x\000")), -EBADMSG,
     .calls = ""},
    {"target points at itself",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x02", "\xc0\x2d")), -ELOOP,
     .calls = ""},
    {"target points forward",
     PKT(HDR(RSP, N1, N2, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x02", "\xc0\x2f") A_OF("\xc0\x0c")),
     -ELOOP, .calls = ""},
    {"target loops back through its own label",
     PKT(HDR(RSP, N1, N1, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x04", "\001a\xc0\x2d")), -ELOOP,
     .calls = ""},
    {"a bad chain after a good record: the good one was seen",
     PKT(HDR(RSP, N1, N2, N0, N0) WWW T_A CNAME("\xc0\x0c", "\x02", "\xc0\x10")
	     CNAME("\xc0\x0c", "\x02", "\xc0\x3b")),
     -ELOOP, .calls = "5 www.example.com>example.com;"},
};

struct alias_seen {
	char calls[1024];
	int n, stop_at;
};

static int note_alias(void *ctx, uint16_t type, const char *owner, size_t owner_len,
		      const char *target, size_t target_len)
{
	struct alias_seen *s = ctx;
	size_t o = strlen(s->calls);

	assert_int_equal(strlen(owner), owner_len);
	assert_int_equal(strlen(target), target_len);
	snprintf(s->calls + o, sizeof(s->calls) - o, "%u %s>%s;", type, owner, target);
	return ++s->n == s->stop_at ? 7 : 0;
}

static void test_alias(void **state)
{
	const struct alias_case *c = *state;
	struct alias_seen seen = {.stop_at = c->stop_at};
	struct dns_msg m;

	assert_int_equal(dns_parse(c->pkt, c->len, &m), DNS_OK);
	assert_int_equal(dns_for_each_alias(c->pkt, c->len, &m, note_alias, &seen), c->ret);
	assert_string_equal(seen.calls, c->calls);
}

/* ---- dns_name_canon ---------------------------------------------------------------------- */

struct canon_case {
	const char *in;
	const char *out; /* NULL: rejected */
	size_t cap;	 /* 0: DNS_NAME_BUF */
};

#define L63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"
/* 4 * 63 + 3 dots = 255; trimmed below to hit 253 and 254. */
#define N253                                                                                       \
	L63 "." L63 "." L63 "."                                                                    \
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi"
#define N254                                                                                       \
	L63 "." L63 "." L63 "."                                                                    \
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij"

static const struct canon_case canon_cases[] = {
    {.in = "example.com", .out = "example.com"},
    {.in = "Example.COM", .out = "example.com"},
    {.in = "example.com.", .out = "example.com"},
    {.in = "_dmarc.A-B.c0m", .out = "_dmarc.a-b.c0m"},
    {.in = "com", .out = "com"},
    {.in = "*.example.com", .out = "*.example.com"},
    {.in = "*.Example.Com.", .out = "*.example.com"},
    {.in = L63 ".com", .out = L63 ".com"},
    {.in = N253, .out = N253},
    {.in = N253 ".", .out = N253},
    {.in = "example.com", .out = "example.com", .cap = 12},
    {.in = "example.com", .out = NULL, .cap = 11},
    {.in = "*.a", .out = "*.a", .cap = 4},
    {.in = "*.a", .out = NULL, .cap = 3},
    {.in = "", .out = NULL},
    {.in = ".", .out = NULL},
    {.in = "..", .out = NULL},
    {.in = ".example.com", .out = NULL},
    {.in = "example..com", .out = NULL},
    {.in = "example.com..", .out = NULL},
    {.in = "*", .out = NULL},
    {.in = "*.", .out = NULL},
    {.in = "**.example.com", .out = NULL},
    {.in = "*.*.example.com", .out = NULL},
    {.in = "a.*.example.com", .out = NULL},
    {.in = "a*.example.com", .out = NULL},
    {.in = "exa mple.com", .out = NULL},
    {.in = "exa\\046mple.com", .out = NULL},
    {.in = "caf\xc3\xa9.fr", .out = NULL},
    {.in = "ex/ample.com", .out = NULL},
    {.in = L63 "x.com", .out = NULL},
    {.in = N254, .out = NULL},
};

static void test_canon(void **state)
{
	const struct canon_case *c = *state;
	char out[DNS_NAME_BUF];
	size_t cap = c->cap ? c->cap : sizeof(out);
	int n;

	n = dns_name_canon(c->in, out, cap);
	if (!c->out) {
		if (n != -1)
			fail_msg("'%s' accepted as '%s'", c->in, out);
		return;
	}
	if (n < 0)
		fail_msg("'%s' rejected", c->in);
	assert_string_equal(out, c->out);
	assert_int_equal(n, strlen(c->out));
}

/* A rule and a query for the same name must compare equal as strings. */
static void test_canon_matches_parse(void **state)
{
	static const uint8_t pkt[] = HDR(QRY, N1, N0, N0, N0) "\004MaiL\006_Tcp-X\000" T_A;
	char out[DNS_NAME_BUF];
	struct dns_msg m;

	(void)state;
	assert_int_equal(dns_parse(pkt, sizeof(pkt) - 1, &m), DNS_OK);
	assert_int_equal(dns_name_canon("mail._TCP-x.", out, sizeof(out)), (int)m.qname_len);
	assert_string_equal(out, m.qname);
}

/* ---- small things ------------------------------------------------------------------------ */

static void test_strerror(void **state)
{
	(void)state;
	for (int i = 0; i < DNS_E__COUNT; i++) {
		const char *s = dns_strerror(i);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(s, dns_strerror(j));
	}
	assert_string_equal(dns_strerror(DNS_E_SHORT), "message shorter than the 12-byte header");
	assert_string_equal(dns_strerror(DNS_E_POINTER_LOOP), "compression pointer loop");
	assert_non_null(dns_strerror(DNS_E__COUNT));
	assert_non_null(dns_strerror(-1));
}

static void test_id(void **state)
{
	uint8_t pkt[DNS_HDR_LEN] = {0xab, 0xcd, 0x01};

	(void)state;
	assert_int_equal(dns_get_id(pkt), 0xabcd);
	dns_set_id(pkt, 0x0102);
	assert_int_equal(pkt[0], 0x01);
	assert_int_equal(pkt[1], 0x02);
	assert_int_equal(pkt[2], 0x01);
	assert_int_equal(dns_get_id(pkt), 0x0102);
}

/* ---- runner: one cmocka test per row ----------------------------------------------------- */

#define MAX_TESTS 256

static struct CMUnitTest tests[MAX_TESTS];
static char test_names[MAX_TESTS][96];
static size_t n_tests;

static void add_test(const char *group, const char *name, CMUnitTestFunction fn, const void *row)
{
	if (n_tests == MAX_TESTS) {
		fprintf(stderr, "test_dns_wire: raise MAX_TESTS\n");
		exit(1);
	}
	snprintf(test_names[n_tests], sizeof(test_names[0]), "%s: %.80s", group, name);
	tests[n_tests] = (struct CMUnitTest){
	    .name = test_names[n_tests],
	    .test_func = fn,
	    .initial_state = (void *)row,
	};
	n_tests++;
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++)
		add_test("parse", parse_cases[i].name, test_parse, &parse_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(reply_cases); i++)
		add_test("reply", reply_cases[i].name, test_reply, &reply_cases[i]);
	add_test("reply", "unparsed message: bare header", test_reply_unparsed, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(trunc_cases); i++)
		add_test("truncate", trunc_cases[i].name, test_truncate, &trunc_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(alias_cases); i++)
		add_test("alias", alias_cases[i].name, test_alias, &alias_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(canon_cases); i++)
		add_test("canon", canon_cases[i].in, test_canon, &canon_cases[i]);
	add_test("canon", "same form as dns_parse", test_canon_matches_parse, NULL);
	add_test("strerror", "every error named", test_strerror, NULL);
	add_test("id", "get and set", test_id, NULL);
	/* The cmocka_run_group_tests() macro needs an array of static size; this is what it calls.
	 */
	return _cmocka_run_group_tests("dns_wire", tests, n_tests, NULL, NULL);
}
