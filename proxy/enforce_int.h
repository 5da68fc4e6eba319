/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to the three files of packet enforcement's proxy half (the maps the
 * BPF connect/sendmsg programs read, bpf/dnsguard.bpf.c: enforce()):
 *   enforce.c  policies in use: their CIDR rules in the map while a guard uses
 *              them, the engine's hooks (guard added/removed, reload, tick);
 *   learn.c    learning the addresses of blocked names (the learned map);
 *   handed.c   handing addresses to the cgroup that asked (the handed map).
 * packet_events.c, the fourth job, reads the refusals. State is the engine's
 * (struct engine: enf), one struct enforce.
 */
#ifndef DEPFENCE_ENFORCE_INT_H
#define DEPFENCE_ENFORCE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine_int.h"

#define HANDED_FLOOR_S	60
#define LEARNED_FLOOR_S 60
#define LEARNED_MAX_S	86400
#define LEARN_AT_LOAD	64 /* exact block names resolved when a policy comes into use */
/* Blocked (name, type) asked recently: not resolved again. 4-way sets, so a job
 * asking thousands of distinct blocked names (a flood, a crawler) does not evict
 * its own entries and resolve each name again on every query. */
#define LEARN_MEMO_SETS	  4096
#define LEARN_MEMO_WAYS	  4
#define LEARNED_SET	  4096 /* userspace copy of learned addresses, for the shared rule */
#define MAX_POLICIES_USED 1024
#define HANDED_REC	  16384 /* blocklist: what was handed to whom, in case it is learned later */

struct policy_use {
	struct policy *p;
	unsigned refs;
	uint64_t next_learn_ms;
};

struct learned_addr {
	uint32_t policy_id;
	uint8_t family;
	uint8_t addr[16];
	uint64_t until_ms;
};

/* Per engine (struct engine: memo): a worker's blocked names are its own to resolve. */
struct learn_memos {
	struct learn_memo {
		uint32_t policy_id;
		uint64_t hash;
		uint64_t until_ms;
	} m[LEARN_MEMO_SETS][LEARN_MEMO_WAYS];
};

/*
 * One, the primary engine's, shared by its workers. LOCK is taken where a
 * worker's answer writes it (learn.c: enforce_learned_answer, handed.c:
 * enforce_answer), each a BPF map write anyway; the primary changes the rest
 * only while the workers are paused.
 */
struct enforce {
	pthread_mutex_t lock;
	/* One more than registrations may take: a reload holds old and new at once. */
	struct policy_use used[MAX_POLICIES_USED + 1];
	int n_used;
	struct learned_addr set[LEARNED_SET];
	/* In blocklist mode an address goes into the BPF handed map only once it is also
	 * learned (rare); until then this records it, keyed by (cgroup, address). */
	struct handed_rec {
		uint64_t cgid;
		uint8_t family;
		uint8_t addr[16];
		uint64_t until_ms, until_ns;
	} rec[HANDED_REC];
};

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline uint32_t clamp_ttl(uint32_t ttl, uint32_t floor, uint32_t max)
{
	return ttl < floor ? floor : ttl > max ? max : ttl;
}

/* learn.c */
/* Resolve U's exact block names (A and AAAA) now, at most LEARN_AT_LOAD; again in 60 s. */
void learn_policy(struct engine *e, struct policy_use *u, uint64_t now);
/* A reload: FROM's learned addresses in the engine's record under TO too. */
void copy_learned_set(struct enforce *en, uint32_t from, uint32_t to);
/* The slot of the engine's record of learned addresses where (POLICY_ID, ADDR) goes. */
struct learned_addr *set_slot(struct enforce *en, uint32_t policy_id, int family,
			      const uint8_t *addr);
/* handed.c */
/* ADDR was just learned as POLICY_ID's: guards that were handed it for a permitted name keep it. */
void share_handed(struct engine *e, uint32_t policy_id, int family, const uint8_t *addr,
		  uint64_t now);

#endif
