// SPDX-License-Identifier: GPL-2.0-only
/*
 * Learning the addresses of blocked names: the proxy resolves a policy's exact
 * block names itself when the policy comes into use and again as their TTLs
 * run out, and any blocked name a job asks (once a minute per name and type:
 * the memo). Each is a CLIENT_LEARN query whose completion writes the answer's
 * addresses to the learned map, which the BPF programs refuse.
 */
#include "enforce_int.h"

#include <string.h>

#include "dnsguard_api.h"
#include "log.h"

/* The completion of a learning query: its answer's addresses are the policy's to refuse. */
static void learn_done(struct engine *e, const struct client_ref *c, const uint8_t *buf, size_t len,
		       const struct dns_msg *m)
{
	enforce_learned_answer(e, c->learn_policy_id, buf, len, m);
}

static void learn_query(struct engine *e, uint32_t policy_id, const uint8_t *q, size_t len)
{
	struct client_ref c = {
	    .kind = CLIENT_LEARN, .fd = -1, .learn_policy_id = policy_id, .learned = learn_done};
	struct dns_msg m;

	if (dns_parse(q, len, &m) != DNS_OK)
		return;
	upstream_forward(e, &c, q, len, &m);
}

/*
 * Was (name, type) of M resolved for POLICY_ID in the last LEARNED_FLOOR_S?
 * If not, it is remembered now (the caller resolves it): the way it takes is
 * an expired one, else the one closest to expiring.
 */
static bool memo_fresh(struct learn_memos *memo, uint32_t policy_id, const struct dns_msg *m,
		       uint64_t now)
{
	uint64_t h =
	    df_fnv1a(df_fnv1a(DF_FNV_SEED, m->qname, m->qname_len), &m->qtype, sizeof(m->qtype));
	struct learn_memo *set = memo->m[(h ^ policy_id) % LEARN_MEMO_SETS], *victim = set;
	int w;

	for (w = 0; w < LEARN_MEMO_WAYS; w++) {
		if (set[w].policy_id == policy_id && set[w].hash == h && set[w].until_ms > now)
			return true;
		if (set[w].until_ms < victim->until_ms)
			victim = &set[w];
	}
	victim->policy_id = policy_id;
	victim->hash = h;
	victim->until_ms = now + LEARNED_FLOOR_S * 1000ULL; /* until an answer says longer */
	return false;
}

void enforce_blocked_query(struct engine *e, struct guard *g, const uint8_t *q, size_t len,
			   const struct dns_msg *m)
{
	if (m->qtype != DNS_TYPE_A && m->qtype != DNS_TYPE_AAAA)
		return;
	if (memo_fresh(e->memo, policy__id(g->policy), m, now_ms()))
		return;
	learn_query(e, policy__id(g->policy), q, len);
}

/* Resolve the policy's exact block names (A and AAAA), at most LEARN_AT_LOAD. */
void learn_policy(struct engine *e, struct policy_use *u, uint64_t now)
{
	const char *names[LEARN_AT_LOAD];
	size_t lens[LEARN_AT_LOAD], i, n;
	uint8_t q[300];

	/*
	 * A nested run asks through the enclosing guard, which refuses and logs what
	 * its own policy blocks: resolving the policy's names ahead would log a
	 * refusal per name at every nested start (and fail an enclosing
	 * --fail-on-block) for lookups no process made. The names its job asks are
	 * still learned (enforce_blocked_query).
	 */
	n = e->opts.nested ? 0 : policy__block_names(u->p, names, lens, LEARN_AT_LOAD);
	for (i = 0; i < n; i++) {
		static const uint16_t types[] = {DNS_TYPE_A, DNS_TYPE_AAAA};
		size_t t;

		for (t = 0; t < 2; t++) {
			size_t ql = dns_build_query(0, names[i], lens[i], types[t], q, sizeof(q));

			if (ql)
				learn_query(e, policy__id(u->p), q, ql);
		}
	}
	u->next_learn_ms = now + LEARNED_FLOOR_S * 1000ULL;
}

struct learn_ctx {
	struct engine *e;
	uint32_t policy_id;
	uint64_t now_ms, now_ns;
};

struct learned_addr *set_slot(struct enforce *en, uint32_t policy_id, int family,
			      const uint8_t *addr)
{
	uint64_t h = df_fnv1a(policy_id * 2654435761u ^ (uint64_t)family, addr,
			      family == DF_AF_INET ? 4 : 16);

	return &en->set[h % LEARNED_SET];
}

/*
 * A reload: OLD's learned addresses under NEW's id in our record too. The
 * shared-address rule (hand_one) asks the record, not the map, and NEW's own
 * learning answers are a round trip away (or, for names learned when a job
 * asked, never come): without this, an address handed for a permitted name
 * would stay refused as a blocked name's. Copied from a snapshot, so a copy
 * never lands on an entry still to be copied. Out of memory: the map copy
 * still refuses; only the exception waits for learning.
 */
void copy_learned_set(struct enforce *en, uint32_t from, uint32_t to)
{
	_cleanup_free_ struct learned_addr *old = malloc(sizeof(en->set));
	uint64_t now = now_ms();
	int i;

	if (!old)
		return;
	memcpy(old, en->set, sizeof(en->set));
	for (i = 0; i < LEARNED_SET; i++) {
		if (old[i].policy_id != from || old[i].until_ms <= now)
			continue;
		old[i].policy_id = to;
		*set_slot(en, to, old[i].family, old[i].addr) = old[i];
	}
}

static void learn_one(void *ctx, int family, const uint8_t *addr, uint32_t ttl)
{
	struct learn_ctx *lc = ctx;
	struct learned_addr *s = set_slot(lc->e->enf, lc->policy_id, family, addr);
	uint32_t t = clamp_ttl(ttl, LEARNED_FLOOR_S, LEARNED_MAX_S);

	/* The cgroups it was handed to keep it first: a connect between the two
	 * writes must not see it learned and not yet shared. */
	share_handed(lc->e, lc->policy_id, family, addr, lc->now_ms);
	dnsguard__set_addr(lc->e->opts.bpf, true, lc->policy_id, family, addr,
			   lc->now_ns + (uint64_t)t * 1000000000ULL);
	s->policy_id = lc->policy_id;
	s->family = family;
	memset(s->addr, 0, sizeof(s->addr));
	memcpy(s->addr, addr, family == DF_AF_INET ? 4 : 16);
	s->until_ms = lc->now_ms + (uint64_t)t * 1000;
}

void enforce_learned_answer(struct engine *e, uint32_t policy_id, const uint8_t *buf, size_t len,
			    const struct dns_msg *m)
{
	struct learn_ctx lc = {
	    .e = e, .policy_id = policy_id, .now_ms = now_ms(), .now_ns = mono_ns()};
	struct enforce *en = e->enf;
	int i;

	pthread_mutex_lock(&en->lock);
	/* The policy's last guard may have gone while we asked: write nothing then. */
	for (i = 0; i < en->n_used; i++)
		if (policy__id(en->used[i].p) == policy_id)
			break;
	if (i < en->n_used)
		dns_for_each_addr(buf, len, m, learn_one, &lc);
	pthread_mutex_unlock(&en->lock);
}
