// SPDX-License-Identifier: GPL-2.0-only
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4

struct cache_entry {
	uint64_t h1, h2; /* two independent 64-bit hashes of the key; h1 == 0: empty */
	uint64_t stored_ms, expires_ms;
	uint16_t len, question_end, ancount, nscount, arcount;
};

struct dns_cache {
	size_t nsets;
	struct cache_entry *ent;
	uint8_t *data; /* CACHE_SLOT bytes per entry, touched only when used */
	struct cache_stats st;
};

int cache__new(size_t entries, struct dns_cache **ret)
{
	struct dns_cache *c;
	size_t nsets = 1;

	*ret = NULL;
	if (!entries)
		return 0;
	while (nsets * WAYS < entries)
		nsets <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nsets = nsets;
	c->ent = calloc(nsets * WAYS, sizeof(*c->ent));
	c->data = calloc(nsets * WAYS, CACHE_SLOT);
	if (!c->ent || !c->data) {
		cache__free(c);
		return -ENOMEM;
	}
	c->st.capacity = nsets * WAYS;
	*ret = c;
	return 0;
}

void cache__free(struct dns_cache *c)
{
	if (!c)
		return;
	free(c->ent);
	free(c->data);
	free(c);
}

/* The key: name (already lowercase), type, class, DO. Never 0 for h1. */
static void key_hash(const struct dns_msg *m, bool dnssec_ok, uint64_t *h1, uint64_t *h2)
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
	size_t i;

	for (i = 0; i < m->qname_len; i++) {
		a = (a ^ (uint8_t)m->qname[i]) * 0x100000001b3ULL;
		b = (b + (uint8_t)m->qname[i]) * 0x9e3779b97f4a7c15ULL;
		b ^= b >> 29;
	}
	a = (a ^ ((uint64_t)m->qtype << 17 | (uint64_t)m->qclass << 1 | dnssec_ok)) *
	    0x100000001b3ULL;
	b = (b ^ ((uint64_t)m->qtype << 33 | (uint64_t)m->qclass << 1 | dnssec_ok)) *
	    0xff51afd7ed558ccdULL;
	b ^= b >> 31;
	*h1 = a | 1;
	*h2 = b;
}

static struct cache_entry *set_of(struct dns_cache *c, uint64_t h1)
{
	return &c->ent[((h1 >> 7) & (c->nsets - 1)) * WAYS];
}

size_t cache__lookup(struct dns_cache *c, const uint8_t *q, const struct dns_msg *qm, uint8_t *out,
		     size_t cap, uint64_t now_ms)
{
	struct cache_entry *set, *e = NULL;
	struct dns_msg m;
	uint64_t h1, h2;
	int i;

	if (!c)
		return 0;
	key_hash(qm, qm->edns_do, &h1, &h2);
	set = set_of(c, h1);
	for (i = 0; i < WAYS && !e; i++)
		if (set[i].h1 == h1 && set[i].h2 == h2 && set[i].expires_ms > now_ms)
			e = &set[i];
	if (!e || e->len > cap || e->question_end != qm->question_end) {
		c->st.misses++;
		return 0;
	}
	c->st.hits++;
	memcpy(out, c->data + (e - c->ent) * CACHE_SLOT, e->len);
	memcpy(out, q, 2);
	/* RD and CD as this query asked, not as the one that filled the cache. */
	out[2] = (out[2] & ~0x01) | (q[2] & 0x01);
	out[3] = (out[3] & ~0x10) | (q[3] & 0x10);
	memcpy(out + DNS_HDR_LEN, q + DNS_HDR_LEN, qm->question_end - DNS_HDR_LEN);
	m.question_end = e->question_end;
	m.ancount = e->ancount;
	m.nscount = e->nscount;
	m.arcount = e->arcount;
	dns_age_ttls(out, e->len, &m, (now_ms - e->stored_ms) / 1000);
	return e->len;
}

void cache__store(struct dns_cache *c, const uint8_t *r, size_t len, const struct dns_msg *rm,
		  bool dnssec_ok, uint64_t now_ms)
{
	int rcode = DNS_RCODE(rm->flags);
	struct cache_entry *set, *victim;
	uint32_t ttl = rm->min_ttl;
	uint64_t h1, h2;
	int i;

	if (!c || len > CACHE_SLOT || (rm->flags & DNS_FLAG_TC))
		return;
	if (rcode != DNS_RCODE_NOERROR && rcode != DNS_RCODE_NXDOMAIN)
		return;
	if (ttl == UINT32_MAX || ttl == 0)
		return; /* nothing says how long it may be kept */
	if (ttl > CACHE_MAX_TTL)
		ttl = CACHE_MAX_TTL;
	key_hash(rm, dnssec_ok, &h1, &h2);
	set = set_of(c, h1);
	/* The same key, else an expired way, else the one that expires first. */
	victim = &set[0];
	for (i = 0; i < WAYS; i++) {
		if (set[i].h1 == h1 && set[i].h2 == h2) {
			victim = &set[i];
			break;
		}
		if (set[i].expires_ms < victim->expires_ms)
			victim = &set[i];
	}
	if (victim->h1 && victim->expires_ms > now_ms && !(victim->h1 == h1 && victim->h2 == h2))
		c->st.evictions++;
	if (!victim->h1 || victim->expires_ms <= now_ms)
		c->st.entries += !victim->h1;
	victim->h1 = h1;
	victim->h2 = h2;
	victim->stored_ms = now_ms;
	victim->expires_ms = now_ms + (uint64_t)ttl * 1000;
	victim->len = len;
	victim->question_end = rm->question_end;
	victim->ancount = rm->ancount;
	victim->nscount = rm->nscount;
	victim->arcount = rm->arcount;
	memcpy(c->data + (victim - c->ent) * CACHE_SLOT, r, len);
	c->st.stores++;
}

void cache__stats(const struct dns_cache *c, struct cache_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (c)
		*ret = c->st;
}
