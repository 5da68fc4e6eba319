/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The answer cache: upstream answers kept for their TTL (negative answers for
 * their SOA-bounded TTL, RFC 2308), in a fixed, set-associative table, so
 * memory is bounded and a lookup is O(1) with no allocation. An entry's slot
 * is a fixed 1232-byte buffer, the largest UDP answer we ask upstreams for.
 */
#ifndef DEPFENCE_CACHE_H
#define DEPFENCE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

#define CACHE_SLOT	  DNS_EDNS_OUR_UDP
#define CACHE_MAX_TTL	  86400
#define CACHE_DEFAULT_ENT 16384

struct dns_cache;

/* ENTRIES is rounded up to a multiple of the associativity; 0 disables the cache. */
int cache__new(size_t entries, struct dns_cache **ret);
void cache__free(struct dns_cache *c);

/*
 * The cached answer to the query Q (parsed as QM), written to OUT with the
 * query's id and question bytes (so 0x20 case is echoed) and TTLs aged by the
 * time it spent in the cache. The answer still carries the upstream's OPT
 * record; the caller adapts it to the client. Returns its length, or 0.
 */
size_t cache__lookup(struct dns_cache *c, const uint8_t *q, const struct dns_msg *qm, uint8_t *out,
		     size_t cap, uint64_t now_ms);
/*
 * Keep answer R (parsed as RM) for the question it answers, if it is worth
 * keeping: NOERROR or NXDOMAIN, not truncated, with a TTL, and small enough.
 * DO is the DNSSEC-OK bit the query was sent with (part of the key).
 */
void cache__store(struct dns_cache *c, const uint8_t *r, size_t len, const struct dns_msg *rm,
		  bool dnssec_ok, uint64_t now_ms);

struct cache_stats {
	uint64_t hits, misses, stores, evictions;
	size_t entries, capacity;
};
void cache__stats(const struct dns_cache *c, struct cache_stats *ret);

#endif
