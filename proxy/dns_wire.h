/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * DNS wire format (RFC 1035, RFC 6891): parsing of untrusted messages and the
 * few answers the proxy writes itself. Pure functions, no allocation: they run
 * on the per-query hot path.
 */
#ifndef DEPFENCE_DNS_WIRE_H
#define DEPFENCE_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN 12
#define DNS_MAX_MSG 65535
/* Presentation form: 255 wire bytes, each possibly escaped as \DDD. */
#define DNS_NAME_BUF	 (255 * 4 + 1)
#define DNS_EDNS_MIN_UDP 512
/* The buffer size we advertise to clients and upstreams (DNS flag day 2020). */
#define DNS_EDNS_OUR_UDP 1232

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

#define DNS_FLAG_QR	  0x8000
#define DNS_FLAG_AA	  0x0400
#define DNS_FLAG_TC	  0x0200
#define DNS_FLAG_RD	  0x0100
#define DNS_FLAG_RA	  0x0080
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags)  ((flags)&0xf)

#define DNS_TYPE_A     1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA   6
#define DNS_TYPE_AAAA  28
#define DNS_TYPE_DNAME 39
#define DNS_TYPE_OPT   41

/* Why a message was rejected; dns_strerror() names it for logs and tests. */
enum dns_err {
	DNS_OK = 0,
	DNS_E_SHORT,	      /* shorter than the 12-byte header */
	DNS_E_TRUNCATED,      /* a section runs past the end of the message */
	DNS_E_NO_QUESTION,    /* QDCOUNT is 0 */
	DNS_E_MULTI_QUESTION, /* QDCOUNT > 1: no server answers those */
	DNS_E_LABEL_TYPE,     /* label type 0x40/0x80 (reserved, EDNS0 bitstring) */
	DNS_E_NAME_TOO_LONG,  /* more than 255 wire bytes */
	DNS_E_POINTER_LOOP,   /* compression pointer that does not point strictly backwards */
	DNS_E_BAD_OPT,	      /* OPT record not in the root, or more than one */
	DNS_E__COUNT,
};

struct dns_msg {
	uint16_t id;
	uint16_t flags;
	uint16_t qdcount, ancount, nscount, arcount;
	uint16_t qtype, qclass;
	/* QNAME in presentation form: lowercase ASCII, no trailing dot ("" for the root),
	 * labels separated by '.', any byte outside [a-z0-9-_] escaped as \DDD (so '.'
	 * inside a label is "\046"). */
	char qname[DNS_NAME_BUF];
	size_t qname_len;
	size_t question_end; /* offset just past QTYPE/QCLASS of the question */
	bool has_edns;
	uint16_t edns_udp_size; /* as offered, 0 without EDNS */
	bool edns_do;
	size_t opt_off; /* offset of the OPT RR (its owner name byte), 0 if none */
	/* Smallest TTL over answer and authority RRs (RFC 2308: the SOA's MINIMUM and
	 * TTL bound a negative answer's TTL); UINT32_MAX when there are none. */
	uint32_t min_ttl;
};

/*
 * Parse header, the single question and every RR (to find OPT and the TTLs).
 * Returns DNS_OK or an enum dns_err. Never reads outside [pkt, pkt+len).
 */
int dns_parse(const uint8_t *pkt, size_t len, struct dns_msg *ret_msg);
const char *dns_strerror(int err);

/*
 * Write an answer with no records to QUERY: same id, RD copied, QR and RA set,
 * the question copied, RCODE as given, and an OPT record (our UDP size) when the
 * query had one. Returns the length written, or 0 if CAP is too small.
 * Used for REFUSED/NXDOMAIN of blocked names, SERVFAIL and FORMERR. For FORMERR
 * of a message that did not parse, pass msg with qdcount = 0: only the header is
 * echoed.
 */
size_t dns_build_empty_reply(const uint8_t *query, const struct dns_msg *msg, int rcode,
			     uint8_t *out, size_t cap);

/*
 * Make a response fit a client limit: if LEN > LIMIT, cut it to the header and
 * question, set TC, zero the other counts (keeping an OPT record if it fits).
 * Returns the new length.
 */
size_t dns_truncate(uint8_t *pkt, size_t len, const struct dns_msg *msg, size_t limit);

/*
 * Subtract AGE seconds from the TTL of every record but OPT (not below 0): a
 * cached answer tells the client how long it really has left. MSG must come
 * from dns_parse() of PKT. Returns 0, or -1 if PKT does not walk.
 */
int dns_age_ttls(uint8_t *pkt, size_t len, const struct dns_msg *msg, uint32_t age);
/*
 * Append an OPT record (our UDP size) to a query that has none, so the upstream
 * may answer with more than 512 bytes. Returns the new length, or LEN if CAP
 * leaves no room.
 */
size_t dns_add_opt(uint8_t *pkt, size_t len, size_t cap);
/*
 * Remove the OPT record MSG found (a client that sent none must not get one).
 * Returns the new length.
 */
size_t dns_strip_opt(uint8_t *pkt, size_t len, const struct dns_msg *msg);

/*
 * Call FN for every A and AAAA record in the answer section of PKT (parsed as
 * MSG), whatever its owner (so the addresses at the end of a CNAME chain count).
 * ADDR is 4 or 16 bytes. Returns the number of records seen, or -1 if PKT does
 * not walk.
 */
int dns_for_each_addr(const uint8_t *pkt, size_t len, const struct dns_msg *msg,
		      void (*fn)(void *ctx, int family, const uint8_t *addr, uint32_t ttl),
		      void *ctx);
/*
 * Called for each CNAME or DNAME record: OWNER and TARGET (OWNER_LEN and
 * TARGET_LEN bytes, NUL-terminated) in the form dns_parse() gives QNAME:
 * lowercase, escaped, no trailing dot, "" for the root. Return 0 to go on, or a
 * positive value to stop the walk (dns_for_each_alias() returns it).
 */
typedef int (*dns_alias_fn)(void *ctx, uint16_t type, const char *owner, size_t owner_len,
			    const char *target, size_t target_len);
/*
 * Call FN for every CNAME and DNAME record in the answer section of PKT
 * (parsed as MSG), in order, whatever its class: the names a chain leads the
 * client to, which the question does not show. One pass, no allocation.
 * Returns 0 after the last record, FN's positive value if it stopped the walk,
 * -ELOOP for a compression pointer that does not point strictly backwards, or
 * -EBADMSG for any other record that does not read (a name or RDATA cut short,
 * a target running past its RDATA or followed by stray bytes, a reserved
 * label type, a name over 255 bytes).
 */
int dns_for_each_alias(const uint8_t *pkt, size_t len, const struct dns_msg *msg, dns_alias_fn fn,
		       void *ctx);
/*
 * Write a query for NAME (presentation form, no escapes, no trailing dot) of
 * type QTYPE, class IN, RD set, with an OPT record. Returns its length or 0.
 */
size_t dns_build_query(uint16_t id, const char *name, size_t name_len, uint16_t qtype, uint8_t *out,
		       size_t cap);

/* Read/write the 16-bit id in place (byte order handled here). */
uint16_t dns_get_id(const uint8_t *pkt);
void dns_set_id(uint8_t *pkt, uint16_t id);

/*
 * Canonicalise a name from a policy file or the command line into the same
 * presentation form dns_parse() produces (lowercase, trailing dot dropped).
 * Returns the length, or -1 if the name is empty, has an empty label, a label
 * over 63 bytes, a total over 253, or a byte that is not [A-Za-z0-9-_.*].
 */
int dns_name_canon(const char *in, char *out, size_t cap);

#endif
