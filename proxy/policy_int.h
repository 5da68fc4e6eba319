/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to policy_parse.c and policy_match.c: the layout of struct policy and
 * the name table both halves share.
 *
 * A million rules must fit in tens of MiB, so there is no allocation per rule:
 * names live back to back in one arena, and the open-addressing table holds
 * 12-byte entries that point into it.
 */
#ifndef DEPFENCE_POLICY_INT_H
#define DEPFENCE_POLICY_INT_H

#include <stdint.h>

#include "policy.h"

/* Per-name rule bits. A name's rules merge into one entry. */
enum {
	NAME_BLOCK = 1 << 0,	 /* block NAME: the name and every name under it */
	NAME_BLOCK_SUB = 1 << 1, /* block *.NAME: only names under it */
	NAME_ALLOW = 1 << 2,
	NAME_ALLOW_SUB = 1 << 3,
};

/*
 * Where a rule came from, for rule= on the block line: a 32-bit reference,
 * origin index in the top bits (an index into policy.origins, 1-based; 0 is
 * "no rule") and the line below. Line 0 is an inline rule (--block/--allow).
 * Each name keeps one reference per rule bit, stored in the arena right after
 * the name (RULE_REFS_LEN bytes, unaligned: read with memcpy), so a match finds
 * its rule with one copy and a million rules cost 16 bytes each, no pointer.
 */
#define RULE_LINE_BITS	   28
#define RULE_LINE_MAX	   ((1u << RULE_LINE_BITS) - 1)
#define POLICY_MAX_ORIGINS 15
#define RULE_REFS_LEN	   (4 * sizeof(uint32_t))

/* Resource limits: a policy file is user input. */
#define POLICY_MAX_NAMES    (1u << 24)
#define POLICY_MAX_CIDRS    (1u << 20)
#define POLICY_MAX_FILE	    (256u << 20)
#define POLICY_MAX_LINE	    4096
#define POLICY_MAX_NAME_LEN 253

/*
 * One slot of the name table. len == 0 marks an empty slot (a rule name is never
 * empty). hash is the full 32-bit hash: the slot index is its low bits, so a
 * rehash needs no access to the arena.
 */
struct name_ent {
	uint32_t hash;
	uint32_t off; /* into names.arena */
	uint8_t len;
	uint8_t flags;
};

struct name_table {
	struct name_ent *slots;
	uint32_t cap; /* a power of two, or 0 before the first insert */
	uint32_t used;
	char *arena;
	size_t arena_len, arena_cap;
};

struct policy {
	char *name;
	/* Origins of rules, as rule= shows them: a file's base name or "inline". */
	char *origins[POLICY_MAX_ORIGINS];
	unsigned n_origins;
	uint32_t id; /* unique for the process's life: keys the BPF cidrs and learned maps */
	uint64_t source_hash; /* FNV-1a of the file it was loaded from (0: not from a file) */
	enum policy_mode mode;
	int refuse_rcode;
	struct cg_limits limits; /* memory-max, cpu-quota, pids-max: defaults for runs */
	size_t rule_count;
	struct name_table names;
	struct policy_cidr *cidrs;
	size_t n_cidrs, cidrs_cap;
};

/*
 * Add FLAG for NAME (canonical form, 1..253 bytes, no "*." prefix), from rule
 * REF; HASH is names_hash(NAME, LEN). Returns 1 if the rule is new, 0 if it
 * was already there (the first line that said it stays its reference),
 * -ENOMEM or -E2BIG (table full); on error the table is unchanged.
 */
int names_add(struct name_table *t, uint32_t hash, const char *name, size_t len, uint8_t flag,
	      uint32_t ref);
uint32_t names_hash(const char *name, size_t len);
/*
 * Start loading the slot of HASH into the cache: a parser that calls this a
 * few names before names_add(HASH) has a big table's cache misses overlap
 * instead of waiting for each in turn.
 */
void names_prefetch(const struct name_table *t, uint32_t hash);
void names_free(struct name_table *t);
/*
 * Room for N more names of BYTES in all, at once: a big policy file is hashed
 * into its final table instead of through every doubling. Only a hint: on
 * -ENOMEM nothing changed, and the adds grow as they need.
 */
int names_reserve(struct name_table *t, size_t n, size_t bytes);

#endif
