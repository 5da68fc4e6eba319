// SPDX-License-Identifier: GPL-2.0-only
/*
 * The name table and the matcher. The hash of a name is FNV-1a taken over its
 * bytes from last to first, so one right-to-left pass over a query yields the
 * hash of every suffix just as the scan reaches the suffix's first byte: a
 * query costs one pass plus one probe per label, whatever the number of rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "policy_int.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

#define TABLE_MIN_CAP (1u << 10)
#define ARENA_MIN_CAP (1u << 16)

/* Queries are lowercase already; folding anyway keeps a caller's stray capital
 * from turning a blocked name into an allowed one. */
static inline unsigned char fold(unsigned char c)
{
	return (unsigned char)(c - 'A') < 26 ? c | 0x20 : c;
}

static inline uint64_t hash_prepend(uint64_t h, unsigned char c)
{
	return (h ^ fold(c)) * FNV_PRIME;
}

/* FNV's low bits are weak and the slot index is the low bits: finish with the
 * murmur3 mixer so that similar names spread over the table. */
static inline uint32_t hash_finish(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

uint32_t names_hash(const char *name, size_t len)
{
	uint64_t h = FNV_OFFSET;

	while (len--)
		h = hash_prepend(h, name[len]);
	return hash_finish(h);
}

static bool name_eq(const char *stored, const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (stored[i] != (char)fold(name[i]))
			return false;
	return true;
}

/* The slot holding NAME, or the empty slot where it would go. The load factor
 * stays at or under 1/2, so the probe always ends. */
static struct name_ent *table_slot(const struct name_table *t, uint32_t hash, const char *name,
				   size_t len)
{
	uint32_t mask = t->cap - 1;

	for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
		struct name_ent *e = &t->slots[i];

		if (!e->len)
			return e;
		if (e->hash == hash && e->len == len && name_eq(t->arena + e->off, name, len))
			return e;
	}
}

/* Rehash into CAP slots (a power of two, above twice the names held). */
static int table_resize(struct name_table *t, uint32_t cap)
{
	uint32_t mask = cap - 1;
	struct name_ent *slots = bigmem_alloc((size_t)cap * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++) {
		const struct name_ent *e = &t->slots[i];
		uint32_t j = e->hash & mask;

		if (!e->len)
			continue;
		while (slots[j].len)
			j = (j + 1) & mask;
		slots[j] = *e;
	}
	bigmem_free(t->slots, (size_t)t->cap * sizeof(*t->slots));
	t->slots = slots;
	t->cap = cap;
	return 0;
}

static int table_grow(struct name_table *t)
{
	return table_resize(t, t->cap ? t->cap * 2 : TABLE_MIN_CAP);
}

static int arena_reserve(struct name_table *t, size_t len)
{
	size_t cap = t->arena_cap ? t->arena_cap : ARENA_MIN_CAP;
	char *arena;

	/* Offsets are 32 bits; the name limit keeps the arena below that anyway. */
	if (t->arena_len + len > UINT32_MAX)
		return -E2BIG;
	if (t->arena_len + len <= t->arena_cap)
		return 0;
	while (cap < t->arena_len + len)
		cap *= 2;
	arena = bigmem_grow(t->arena, t->arena_cap, cap);
	if (!arena)
		return -ENOMEM;
	t->arena = arena;
	t->arena_cap = cap;
	return 0;
}

int names_reserve(struct name_table *t, size_t n, size_t bytes)
{
	uint64_t want = ((uint64_t)t->used + n) * 2;
	uint32_t cap = t->cap ? t->cap : TABLE_MIN_CAP;
	int rc;

	if (t->used + n > POLICY_MAX_NAMES)
		return 0; /* the adds will say so, at the line that is one too many */
	while (cap < want)
		cap *= 2;
	if (cap != t->cap) {
		rc = table_resize(t, cap);
		if (rc)
			return rc;
	}
	return arena_reserve(t, bytes + n * RULE_REFS_LEN);
}

/* Rule bits are single bits 0..3: the slot of each one's reference. */
static inline unsigned flag_slot(uint8_t flag)
{
	return (unsigned)__builtin_ctz(flag);
}

static void ref_set(struct name_table *t, const struct name_ent *e, uint8_t flag, uint32_t ref)
{
	memcpy(t->arena + e->off + e->len + flag_slot(flag) * sizeof(ref), &ref, sizeof(ref));
}

static uint32_t ref_get(const struct name_table *t, const struct name_ent *e, uint8_t flag)
{
	uint32_t ref;

	memcpy(&ref, t->arena + e->off + e->len + flag_slot(flag) * sizeof(ref), sizeof(ref));
	return ref;
}

void names_prefetch(const struct name_table *t, uint32_t hash)
{
	if (t->cap)
		__builtin_prefetch(&t->slots[hash & (t->cap - 1)], 1);
}

int names_add(struct name_table *t, uint32_t hash, const char *name, size_t len, uint8_t flag,
	      uint32_t ref)
{
	struct name_ent *e = NULL;
	int rc;

	if (t->cap) {
		e = table_slot(t, hash, name, len);
		if (e->len) {
			rc = !(e->flags & flag);
			if (rc)
				ref_set(t, e, flag, ref);
			e->flags |= flag;
			return rc;
		}
	}
	if (t->used >= POLICY_MAX_NAMES)
		return -E2BIG;
	/* Grow before writing anything, so a failure leaves the table as it was. */
	if ((t->used + 1) * 2 > t->cap) {
		rc = table_grow(t);
		if (rc)
			return rc;
		e = table_slot(t, hash, name, len);
	}
	rc = arena_reserve(t, len + RULE_REFS_LEN);
	if (rc)
		return rc;
	memcpy(t->arena + t->arena_len, name, len);
	memset(t->arena + t->arena_len + len, 0, RULE_REFS_LEN);
	*e = (struct name_ent){
	    .hash = hash,
	    .off = (uint32_t)t->arena_len,
	    .len = (uint8_t)len,
	    .flags = flag,
	};
	ref_set(t, e, flag, ref);
	t->arena_len += len + RULE_REFS_LEN;
	t->used++;
	return 1;
}

void names_free(struct name_table *t)
{
	bigmem_free(t->slots, (size_t)t->cap * sizeof(*t->slots));
	bigmem_free(t->arena, t->arena_cap);
	*t = (struct name_table){0};
}

/*
 * The rule bit that decided, among the bits FLAGS that applied: a block rule
 * beats an allow rule, and NAME beats *.NAME at one name (either would do;
 * the exact one is what a reader looks for first).
 */
static uint8_t rule_bit(int flags)
{
	static const uint8_t order[] = {NAME_BLOCK, NAME_BLOCK_SUB, NAME_ALLOW, NAME_ALLOW_SUB};

	for (size_t i = 0; i < sizeof(order); i++)
		if (flags & order[i])
			return order[i];
	return NAME_ALLOW;
}

static enum policy_verdict verdict(enum policy_mode mode, int flags)
{
	bool block;

	if (flags < 0)
		return mode == POLICY_ALLOWLIST ? VERDICT_BLOCK : VERDICT_ALLOW;
	block = flags & (NAME_BLOCK | NAME_BLOCK_SUB);
	if (!block)
		return VERDICT_ALLOW;
	return mode == POLICY_AUDIT ? VERDICT_AUDIT : VERDICT_BLOCK;
}

/*
 * Every suffix that starts at a label boundary is probed, shortest first, and a
 * longer suffix with an applicable rule overrides a shorter one: the result is
 * the longest match without a per-query array of suffixes or a cap on labels.
 * Suffixes longer than any rule cannot match, which bounds the work for
 * arbitrary input at 253 bytes hashed.
 */
enum policy_verdict policy__match_rule(const struct policy *p, const char *qname, size_t len,
				       uint32_t *ret_rule)
{
	const struct name_table *t = &p->names;
	const struct name_ent *by = NULL;
	uint64_t h = FNV_OFFSET;
	int decided = -1;
	enum policy_verdict v;

	if (len && qname[len - 1] == '.')
		len--;
	if (!t->used)
		goto out;
	for (size_t i = len; i-- > 0;) {
		const struct name_ent *e;
		size_t n = len - i;
		uint8_t applies;

		if (n > POLICY_MAX_NAME_LEN)
			break;
		h = hash_prepend(h, qname[i]);
		if (i && qname[i - 1] != '.')
			continue;
		e = table_slot(t, hash_finish(h), qname + i, n);
		if (!e->len)
			continue;
		/* A *.NAME rule never applies to NAME itself. */
		applies = i ? NAME_BLOCK | NAME_BLOCK_SUB | NAME_ALLOW | NAME_ALLOW_SUB
			    : NAME_BLOCK | NAME_ALLOW;
		if (e->flags & applies) {
			decided = e->flags & applies;
			by = e;
		}
	}
out:
	v = verdict(p->mode, decided);
	if (ret_rule)
		*ret_rule = by ? ref_get(t, by, rule_bit(decided)) : 0;
	return v;
}

enum policy_verdict policy__match(const struct policy *p, const char *qname, size_t len)
{
	return policy__match_rule(p, qname, len, NULL);
}

size_t policy__rule_str(const struct policy *p, uint32_t rule, char *buf, size_t cap)
{
	unsigned idx = rule >> RULE_LINE_BITS, line = rule & RULE_LINE_MAX;
	const char *origin = idx && idx <= p->n_origins ? p->origins[idx - 1] : NULL;
	int n;

	if (!cap)
		return 0;
	if (!rule)
		n = snprintf(buf, cap, "default");
	else if (!line)
		n = snprintf(buf, cap, "inline");
	else
		n = snprintf(buf, cap, "%s:%u", origin ? origin : "?", line);
	if (n < 0)
		n = 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

static bool cidr_has(const struct policy_cidr *c, const uint8_t *addr)
{
	unsigned full = c->prefix_len / 8, rest = c->prefix_len % 8;

	if (memcmp(c->addr, addr, full))
		return false;
	return !rest || !((c->addr[full] ^ addr[full]) & (0xff00 >> rest));
}

uint32_t policy__cidr_rule(const struct policy *p, int family, const uint8_t *addr)
{
	uint32_t rule = 0;
	int best = -1;

	for (size_t i = 0; i < p->n_cidrs && i < POLICY_CIDR_SCAN; i++) {
		const struct policy_cidr *c = &p->cidrs[i];

		if (c->allow || c->family != family || c->prefix_len <= best || !cidr_has(c, addr))
			continue;
		best = c->prefix_len;
		rule = c->rule;
	}
	return rule;
}

size_t policy__block_names(const struct policy *p, const char **ret_names, size_t *ret_lens,
			   size_t max)
{
	const struct name_table *t = &p->names;
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < t->cap && n < max; i++) {
		const struct name_ent *ent = &t->slots[i];

		if (!ent->len || !(ent->flags & NAME_BLOCK))
			continue;
		ret_names[n] = t->arena + ent->off;
		ret_lens[n] = ent->len;
		n++;
	}
	return n;
}
