// SPDX-License-Identifier: GPL-2.0-only
/*
 * DNS wire format: one forward pass over an untrusted message, no allocation.
 * Every read is bounds-checked against the message length before it happens;
 * the only writes are to the caller's struct and output buffers.
 */
#include "dns_wire.h"

#include <errno.h>
#include <string.h>

#define DNS_NAME_MAX_WIRE 255
/*
 * Every hop must land before the last one (see dns_read_name()), so chains
 * end anyway; real ones are a link or two, and the cap keeps a hostile chain of
 * two-byte pointers from costing more than a name's worth of work.
 */
#define DNS_MAX_JUMPS	32
#define DNS_RR_FIXED	10 /* TYPE, CLASS, TTL, RDLENGTH */
#define DNS_OPT_RR_LEN	11 /* root owner + fixed part, no options */
#define DNS_OPCODE_MASK 0x7800
#define DNS_EDNS_DO	0x8000
/* SOA RDATA: two names of at least one byte each, then five 32-bit fields. */
#define DNS_SOA_MIN_RDLEN 22

enum dns_section { SEC_ANSWER, SEC_AUTHORITY, SEC_ADDITIONAL };

/*
 * Presentation byte for each wire byte: the lowercase character when it may
 * appear bare in a name, 0 when it must be written as \DDD. Built at compile
 * time so the hot path is one load per byte.
 */
#define NAME_CH(c)                                                                                 \
	((c) >= 'A' && (c) <= 'Z' ? ((c) | 0x20)                                                   \
	 : (((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || (c) == '-' || (c) == '_')  \
	     ? (c)                                                                                 \
	     : 0)
#define NAME_CH4(c)  NAME_CH(c), NAME_CH((c) + 1), NAME_CH((c) + 2), NAME_CH((c) + 3)
#define NAME_CH16(c) NAME_CH4(c), NAME_CH4((c) + 4), NAME_CH4((c) + 8), NAME_CH4((c) + 12)
#define NAME_CH64(c) NAME_CH16(c), NAME_CH16((c) + 16), NAME_CH16((c) + 32), NAME_CH16((c) + 48)

static const uint8_t name_ch[256] = {NAME_CH64(0), NAME_CH64(64), NAME_CH64(128), NAME_CH64(192)};

static const char *const dns_errstr[DNS_E__COUNT] = {
    [DNS_OK] = "ok",
    [DNS_E_SHORT] = "message shorter than the 12-byte header",
    [DNS_E_TRUNCATED] = "message truncated inside a section",
    [DNS_E_NO_QUESTION] = "no question (QDCOUNT 0)",
    [DNS_E_MULTI_QUESTION] = "more than one question",
    [DNS_E_LABEL_TYPE] = "reserved label type (0x40/0x80)",
    [DNS_E_NAME_TOO_LONG] = "name longer than 255 bytes",
    [DNS_E_POINTER_LOOP] = "compression pointer loop",
    [DNS_E_BAD_OPT] = "bad OPT record (not root, not in additional, or repeated)",
};

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* RFC 2181 section 8: a TTL with the top bit set is to be read as zero. */
static inline uint32_t ttl_value(uint32_t ttl)
{
	return ttl & 0x80000000u ? 0 : ttl;
}

/*
 * A pointer may only point back into names already seen: strictly before the
 * byte holding it, and never into the header. That makes every hop a step back,
 * and it means a question copied with its header stays valid (its pointers can
 * only refer to the question itself).
 */
static inline bool pointer_ok(size_t target, size_t pos)
{
	return target >= DNS_HDR_LEN && target < pos;
}

/*
 * Reading past LIM: the end of the message, or after a jump, the pointer we
 * jumped from. A name that runs into its own pointer is a loop in the making.
 */
static inline int dns_overrun(size_t lim, size_t len)
{
	return lim < len ? DNS_E_POINTER_LOOP : DNS_E_TRUNCATED;
}

/* Append the presentation form of one label's bytes. OUT has room: see dns_read_name(). */
static size_t put_label(char *out, size_t o, const uint8_t *lab, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t c = lab[i];
		char ch = (char)name_ch[c];

		if (ch) {
			out[o++] = ch;
			continue;
		}
		out[o++] = '\\';
		out[o++] = '0' + c / 100;
		out[o++] = '0' + c / 10 % 10;
		out[o++] = '0' + c % 10;
	}
	return o;
}

/*
 * Decode the name at *OFF into OUT (at least DNS_NAME_BUF bytes), following
 * compression pointers, and advance *OFF past the name's bytes at its own
 * position. LEN bounds the bytes read in place: the message's end, or for a
 * name inside RDATA, the RDATA's end. Counting wire bytes before writing
 * bounds the output: at most 254 bytes of labels and length octets, each label
 * byte at most 4 characters, so well inside DNS_NAME_BUF.
 */
static int dns_read_name(const uint8_t *pkt, size_t len, size_t *off, char *out, size_t *ret_len)
{
	size_t pos = *off, lim = len, end = 0, wire = 1, o = 0;
	unsigned int jumps = 0;

	for (;;) {
		uint8_t l;

		if (pos >= lim)
			return dns_overrun(lim, len);
		l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= lim)
				return dns_overrun(lim, len);
			target = (size_t)(l & 0x3f) << 8 | pkt[pos + 1];
			if (!pointer_ok(target, pos) || ++jumps > DNS_MAX_JUMPS)
				return DNS_E_POINTER_LOOP;
			if (!end)
				end = pos + 2;
			/*
			 * What follows the jump must end before this pointer, so every
			 * byte of the name lies in [12, end): cycles stop at once, and
			 * the question can be copied without the rest of the message.
			 */
			lim = pos;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return DNS_E_LABEL_TYPE;
		if (l == 0)
			break;
		wire += l + 1;
		if (wire > DNS_NAME_MAX_WIRE)
			return DNS_E_NAME_TOO_LONG;
		if (lim - pos - 1 < l)
			return dns_overrun(lim, len);
		if (o)
			out[o++] = '.';
		o = put_label(out, o, pkt + pos + 1, l);
		pos += 1 + l;
	}
	out[o] = '\0';
	*ret_len = o;
	*off = end ? end : pos + 1;
	return DNS_OK;
}

/*
 * Step over an RR owner name without following its pointer: the proxy needs
 * only the offset after it. The bytes in place are still checked (label types,
 * bounds, length, pointer direction).
 */
static int dns_skip_name(const uint8_t *pkt, size_t len, size_t *off)
{
	size_t pos = *off, wire = 1;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return DNS_E_TRUNCATED;
		l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return DNS_E_TRUNCATED;
			if (!pointer_ok((size_t)(l & 0x3f) << 8 | pkt[pos + 1], pos))
				return DNS_E_POINTER_LOOP;
			*off = pos + 2;
			return DNS_OK;
		}
		if (l & 0xc0)
			return DNS_E_LABEL_TYPE;
		if (l == 0) {
			*off = pos + 1;
			return DNS_OK;
		}
		wire += l + 1;
		if (wire > DNS_NAME_MAX_WIRE)
			return DNS_E_NAME_TOO_LONG;
		pos += 1 + l;
	}
}

/* RFC 6891: one OPT, in the additional section, owned by the root. */
static int dns_note_opt(const uint8_t *pkt, size_t owner, enum dns_section sec, uint16_t udp,
			uint32_t ttl, struct dns_msg *msg)
{
	if (sec != SEC_ADDITIONAL || pkt[owner] != 0 || msg->has_edns)
		return DNS_E_BAD_OPT;
	msg->has_edns = true;
	msg->edns_udp_size = udp;
	msg->edns_do = ttl & DNS_EDNS_DO;
	msg->opt_off = owner;
	return DNS_OK;
}

static int dns_parse_rr(const uint8_t *pkt, size_t len, size_t *off, enum dns_section sec,
			struct dns_msg *msg)
{
	size_t owner = *off, pos = *off;
	uint16_t type, class, rdlen;
	uint32_t ttl;
	int err;

	err = dns_skip_name(pkt, len, &pos);
	if (err)
		return err;
	if (len - pos < DNS_RR_FIXED)
		return DNS_E_TRUNCATED;
	type = rd16(pkt + pos);
	class = rd16(pkt + pos + 2);
	ttl = rd32(pkt + pos + 4);
	rdlen = rd16(pkt + pos + 8);
	pos += DNS_RR_FIXED;
	if (len - pos < rdlen)
		return DNS_E_TRUNCATED;
	*off = pos + rdlen;

	if (type == DNS_TYPE_OPT)
		return dns_note_opt(pkt, owner, sec, class, ttl, msg);
	if (sec == SEC_ADDITIONAL)
		return DNS_OK;
	ttl = ttl_value(ttl);
	/* RFC 2308 section 5: a negative answer lives min(SOA TTL, SOA MINIMUM). */
	if (type == DNS_TYPE_SOA && sec == SEC_AUTHORITY && rdlen >= DNS_SOA_MIN_RDLEN) {
		uint32_t minimum = ttl_value(rd32(pkt + pos + rdlen - 4));

		if (minimum < ttl)
			ttl = minimum;
	}
	if (ttl < msg->min_ttl)
		msg->min_ttl = ttl;
	return DNS_OK;
}

static void dns_msg_reset(struct dns_msg *msg)
{
	/* Field by field: clearing the 1 KiB name buffer would cost more than the parse. */
	msg->id = msg->flags = 0;
	msg->qdcount = msg->ancount = msg->nscount = msg->arcount = 0;
	msg->qtype = msg->qclass = 0;
	msg->qname[0] = '\0';
	msg->qname_len = 0;
	msg->question_end = 0;
	msg->has_edns = false;
	msg->edns_udp_size = 0;
	msg->edns_do = false;
	msg->opt_off = 0;
	msg->min_ttl = UINT32_MAX;
}

int dns_parse(const uint8_t *pkt, size_t len, struct dns_msg *ret_msg)
{
	struct dns_msg *msg = ret_msg;
	size_t off = DNS_HDR_LEN;
	unsigned int counts[3];
	int err;

	dns_msg_reset(msg);
	if (len < DNS_HDR_LEN)
		return DNS_E_SHORT;
	msg->id = rd16(pkt);
	msg->flags = rd16(pkt + 2);
	msg->qdcount = rd16(pkt + 4);
	msg->ancount = rd16(pkt + 6);
	msg->nscount = rd16(pkt + 8);
	msg->arcount = rd16(pkt + 10);
	if (msg->qdcount == 0)
		return DNS_E_NO_QUESTION;
	if (msg->qdcount > 1)
		return DNS_E_MULTI_QUESTION;

	err = dns_read_name(pkt, len, &off, msg->qname, &msg->qname_len);
	if (err) {
		msg->qname[0] = '\0'; /* drop the partial name */
		return err;
	}
	if (len - off < 4)
		return DNS_E_TRUNCATED;
	msg->qtype = rd16(pkt + off);
	msg->qclass = rd16(pkt + off + 2);
	off += 4;
	msg->question_end = off;

	counts[SEC_ANSWER] = msg->ancount;
	counts[SEC_AUTHORITY] = msg->nscount;
	counts[SEC_ADDITIONAL] = msg->arcount;
	/* Each RR takes at least 11 bytes, so a lying count ends at the buffer's end. */
	for (int sec = SEC_ANSWER; sec <= SEC_ADDITIONAL; sec++) {
		for (unsigned int i = 0; i < counts[sec]; i++) {
			err = dns_parse_rr(pkt, len, &off, sec, msg);
			if (err)
				return err;
		}
	}
	return DNS_OK;
}

const char *dns_strerror(int err)
{
	if (err < 0 || err >= DNS_E__COUNT)
		return "unknown DNS error";
	return dns_errstr[err];
}

static void dns_put_opt(uint8_t *p, uint32_t ttl)
{
	p[0] = 0; /* root owner */
	wr16(p + 1, DNS_TYPE_OPT);
	wr16(p + 3, DNS_EDNS_OUR_UDP);
	wr32(p + 5, ttl);
	wr16(p + 9, 0);
}

/*
 * The question is copied byte for byte: dns_parse() only accepts pointers
 * that stay inside it, so it means the same thing after a new header. OUT may
 * be QUERY (an answer written over the query's buffer). Id and flags are read
 * from QUERY itself, so it must hold a whole header: never answer a message
 * that failed with DNS_E_SHORT.
 */
size_t dns_build_empty_reply(const uint8_t *query, const struct dns_msg *msg, int rcode,
			     uint8_t *out, size_t cap)
{
	uint16_t id = rd16(query), qflags = rd16(query + 2), flags;
	size_t qlen = 0, n;
	bool opt;

	if (msg->qdcount && msg->question_end > DNS_HDR_LEN)
		qlen = msg->question_end - DNS_HDR_LEN;
	opt = qlen && msg->has_edns;
	n = DNS_HDR_LEN + qlen + (opt ? DNS_OPT_RR_LEN : 0);
	if (cap < n)
		return 0;

	flags = DNS_FLAG_QR | DNS_FLAG_RA | (rcode & 0xf);
	flags |= qflags & (DNS_FLAG_RD | DNS_OPCODE_MASK);
	wr16(out, id);
	wr16(out + 2, flags);
	wr16(out + 4, qlen ? 1 : 0);
	wr16(out + 6, 0);
	wr16(out + 8, 0);
	wr16(out + 10, opt ? 1 : 0);
	memmove(out + DNS_HDR_LEN, query + DNS_HDR_LEN, qlen);
	if (opt)
		dns_put_opt(out + DNS_HDR_LEN + qlen, msg->edns_do ? DNS_EDNS_DO : 0);
	return n;
}

/*
 * Cut to header and question, the reply a client retries over TCP. The OPT
 * keeps its TTL field (extended RCODE, version, DO) but not its options, and
 * advertises our size. A limit too small for the question (callers never go
 * below 512) leaves the bare header.
 */
size_t dns_truncate(uint8_t *pkt, size_t len, const struct dns_msg *msg, size_t limit)
{
	size_t n = msg->question_end;
	uint16_t flags;
	bool opt;

	if (len <= limit || len < DNS_HDR_LEN)
		return len;
	if (n < DNS_HDR_LEN || n > limit || n > len) {
		n = DNS_HDR_LEN;
		wr16(pkt + 4, 0);
	}
	opt = msg->has_edns && n > DNS_HDR_LEN && n + DNS_OPT_RR_LEN <= limit &&
	      msg->opt_off + DNS_OPT_RR_LEN <= len;
	if (opt) {
		/* Read before writing: the new OPT may overlap the old one. */
		uint32_t ttl = rd32(pkt + msg->opt_off + 5);

		dns_put_opt(pkt + n, ttl);
		n += DNS_OPT_RR_LEN;
	}
	flags = rd16(pkt + 2) | DNS_FLAG_TC;
	wr16(pkt + 2, flags);
	wr16(pkt + 6, 0);
	wr16(pkt + 8, 0);
	wr16(pkt + 10, opt ? 1 : 0);
	return n;
}

int dns_age_ttls(uint8_t *pkt, size_t len, const struct dns_msg *msg, uint32_t age)
{
	unsigned int i, n = (unsigned int)msg->ancount + msg->nscount + msg->arcount;
	size_t off = msg->question_end;

	for (i = 0; i < n; i++) {
		uint32_t ttl;

		if (dns_skip_name(pkt, len, &off) || len - off < DNS_RR_FIXED)
			return -1;
		if (rd16(pkt + off) != DNS_TYPE_OPT) {
			ttl = ttl_value(rd32(pkt + off + 4));
			wr32(pkt + off + 4, ttl > age ? ttl - age : 0);
		}
		off += DNS_RR_FIXED + rd16(pkt + off + 8);
		if (off > len)
			return -1;
	}
	return 0;
}

size_t dns_add_opt(uint8_t *pkt, size_t len, size_t cap)
{
	if (len < DNS_HDR_LEN || cap - len < DNS_OPT_RR_LEN || rd16(pkt + 10) == UINT16_MAX)
		return len;
	dns_put_opt(pkt + len, 0);
	wr16(pkt + 10, rd16(pkt + 10) + 1);
	return len + DNS_OPT_RR_LEN;
}

size_t dns_strip_opt(uint8_t *pkt, size_t len, const struct dns_msg *msg)
{
	size_t start = msg->opt_off, end;

	if (!msg->has_edns || start < DNS_HDR_LEN || len - start < DNS_OPT_RR_LEN)
		return len;
	end = start + DNS_OPT_RR_LEN + rd16(pkt + start + 9);
	if (end > len)
		return len;
	memmove(pkt + start, pkt + end, len - end);
	wr16(pkt + 10, rd16(pkt + 10) - 1);
	return len - (end - start);
}

int dns_for_each_addr(const uint8_t *pkt, size_t len, const struct dns_msg *msg,
		      void (*fn)(void *ctx, int family, const uint8_t *addr, uint32_t ttl),
		      void *ctx)
{
	size_t off = msg->question_end;
	unsigned int i;
	int seen = 0;

	for (i = 0; i < msg->ancount; i++) {
		uint16_t type, rdlen;

		if (dns_skip_name(pkt, len, &off) || len - off < DNS_RR_FIXED)
			return -1;
		type = rd16(pkt + off);
		rdlen = rd16(pkt + off + 8);
		if (len - off - DNS_RR_FIXED < rdlen)
			return -1;
		if (rd16(pkt + off + 2) == 1 /* IN */ && ((type == DNS_TYPE_A && rdlen == 4) ||
							  (type == DNS_TYPE_AAAA && rdlen == 16))) {
			fn(ctx, type == DNS_TYPE_A ? 2 : 10, pkt + off + DNS_RR_FIXED,
			   ttl_value(rd32(pkt + off + 4)));
			seen++;
		}
		off += DNS_RR_FIXED + rdlen;
	}
	return seen;
}

/* Why a name did not read, as the errno dns_for_each_alias() documents. */
static int name_errno(int err)
{
	return err == DNS_E_POINTER_LOOP ? -ELOOP : -EBADMSG;
}

/*
 * dns_parse() only steps over RDATA, so the names inside a CNAME or DNAME are
 * read here for the first time, with the same rules as the question (bounds,
 * label types, length, pointers strictly backwards). A target is bounded by its
 * own RDATA: it may point back into the message but not run into the next RR.
 */
int dns_for_each_alias(const uint8_t *pkt, size_t len, const struct dns_msg *msg, dns_alias_fn fn,
		       void *ctx)
{
	char owner[DNS_NAME_BUF], target[DNS_NAME_BUF];
	size_t off = msg->question_end;
	unsigned int i;

	if (off < DNS_HDR_LEN || off > len)
		return -EBADMSG;
	for (i = 0; i < msg->ancount; i++) {
		size_t start = off, rd, rd_end, olen, tlen;
		uint16_t type, rdlen;
		int err;

		err = dns_skip_name(pkt, len, &off);
		if (err)
			return name_errno(err);
		if (len - off < DNS_RR_FIXED)
			return -EBADMSG;
		type = rd16(pkt + off);
		rdlen = rd16(pkt + off + 8);
		rd = off + DNS_RR_FIXED;
		if (len - rd < rdlen)
			return -EBADMSG;
		rd_end = rd + rdlen;
		off = rd_end;
		if (type != DNS_TYPE_CNAME && type != DNS_TYPE_DNAME)
			continue;
		/* Decoded only here: an answer of addresses costs the skip above and no more. */
		err = dns_read_name(pkt, len, &start, owner, &olen);
		if (!err)
			err = dns_read_name(pkt, rd_end, &rd, target, &tlen);
		if (err)
			return name_errno(err);
		/* The RDATA is the name and nothing else; trailing bytes mean a malformed RR. */
		if (rd != rd_end)
			return -EBADMSG;
		err = fn(ctx, type, owner, olen, target, tlen);
		if (err)
			return err;
	}
	return 0;
}

size_t dns_build_query(uint16_t id, const char *name, size_t name_len, uint16_t qtype, uint8_t *out,
		       size_t cap)
{
	size_t o = DNS_HDR_LEN, i = 0;

	if (cap < DNS_HDR_LEN + name_len + 2 + 4 + DNS_OPT_RR_LEN || name_len > 253)
		return 0;
	wr16(out, id);
	wr16(out + 2, DNS_FLAG_RD);
	wr16(out + 4, 1);
	wr16(out + 6, 0);
	wr16(out + 8, 0);
	wr16(out + 10, 1);
	while (i < name_len) {
		size_t j = i;

		while (j < name_len && name[j] != '.')
			j++;
		if (j == i || j - i > 63)
			return 0;
		out[o++] = j - i;
		memcpy(out + o, name + i, j - i);
		o += j - i;
		i = j + 1;
	}
	out[o++] = 0;
	wr16(out + o, qtype);
	wr16(out + o + 2, 1);
	o += 4;
	dns_put_opt(out + o, 0);
	return o + DNS_OPT_RR_LEN;
}

uint16_t dns_get_id(const uint8_t *pkt)
{
	return rd16(pkt);
}

void dns_set_id(uint8_t *pkt, uint16_t id)
{
	wr16(pkt, id);
}

/*
 * Policy names go through the same table as parsed names, so a rule and a
 * query for the same name compare equal as strings. A leading "*." is the
 * policy's wildcard and is kept; '*' anywhere else is refused.
 */
int dns_name_canon(const char *in, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0, lab = 0;

	if (!in || !out || cap == 0)
		return -1;
	if (p[0] == '*' && p[1] == '.') {
		if (cap < 3)
			goto fail;
		out[o++] = '*';
		out[o++] = '.';
		p += 2;
	}
	for (; *p; p++) {
		char ch;

		if (*p == '.') {
			if (lab == 0)
				goto fail;
			if (p[1] == '\0')
				break; /* trailing dot: absolute name, same thing */
			ch = '.';
			lab = 0;
		} else {
			ch = (char)name_ch[*p];
			if (!ch || ++lab > 63)
				goto fail;
		}
		if (o + 1 >= cap || o >= 253)
			goto fail;
		out[o++] = ch;
	}
	if (lab == 0)
		goto fail;
	out[o] = '\0';
	return (int)o;
fail:
	out[0] = '\0';
	return -1;
}
