// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handing addresses to the cgroup that asked: what DNS answered a guarded job
 * for a permitted name goes into the handed map (keyed by its cgroup) before
 * the answer leaves, so the job's connect right after succeeds. Allowlist
 * guards get every address; blocklist guards only those a blocked name also
 * resolves to (the shared-address rule), recorded until then.
 */
#include "enforce_int.h"

#include <string.h>

#include "dnsguard_api.h"

static struct handed_rec *rec_slot(struct enforce *en, uint64_t cgid, int family,
				   const uint8_t *addr)
{
	uint64_t h = df_fnv1a(cgid * 0x9e3779b97f4a7c15ULL ^ (uint64_t)family, addr,
			      family == DF_AF_INET ? 4 : 16);

	return &en->rec[h % HANDED_REC];
}

static bool rec_match(const struct handed_rec *r, uint64_t cgid, int family, const uint8_t *addr,
		      uint64_t now)
{
	return r->cgid == cgid && r->family == family && r->until_ms > now &&
	       memcmp(r->addr, addr, family == DF_AF_INET ? 4 : 16) == 0;
}

/*
 * ADDR was just learned as a blocked name's address: any guard of the policy
 * that was handed it for a permitted name keeps it for that answer's TTL.
 */
void share_handed(struct engine *e, uint32_t policy_id, int family, const uint8_t *addr,
		  uint64_t now)
{
	struct guard *g;

	/* Every engine's guards: a worker's lists change only while all are paused. */
	for (g = engine__first_guard(e); g; g = engine__next_guard(e, g)) {
		struct handed_rec *r;

		if (policy__id(g->policy) != policy_id)
			continue;
		r = rec_slot(e->enf, g->cgid, family, addr);
		if (!rec_match(r, g->cgid, family, addr, now))
			continue;
		dnsguard__set_addr(e->opts.bpf, false, g->cgid, family, addr, r->until_ns);
		g->handed_any = true;
	}
}

struct hand_ctx {
	struct engine *e;
	struct guard *g;
	bool all;
	uint64_t now_ms, now_ns;
};

static void hand_one(void *ctx, int family, const uint8_t *addr, uint32_t ttl)
{
	struct hand_ctx *hc = ctx;
	uint32_t pid = policy__id(hc->g->policy);
	uint32_t t = clamp_ttl(ttl, HANDED_FLOOR_S, LEARNED_MAX_S);
	uint64_t until_ns = hc->now_ns + (uint64_t)t * 1000000000ULL;

	if (!hc->all) {
		struct learned_addr *s = set_slot(hc->e->enf, pid, family, addr);
		struct handed_rec *r = rec_slot(hc->e->enf, hc->g->cgid, family, addr);

		/* Remember it either way: a blocked name may resolve to it later. */
		r->cgid = hc->g->cgid;
		r->family = family;
		memset(r->addr, 0, sizeof(r->addr));
		memcpy(r->addr, addr, family == DF_AF_INET ? 4 : 16);
		r->until_ms = hc->now_ms + (uint64_t)t * 1000;
		r->until_ns = until_ns;
		if (s->policy_id != pid || s->family != family || s->until_ms <= hc->now_ms ||
		    memcmp(s->addr, addr, family == DF_AF_INET ? 4 : 16) != 0)
			return;
	}
	dnsguard__set_addr(hc->e->opts.bpf, false, hc->g->cgid, family, addr, until_ns);
	hc->g->handed_any = true;
}

bool enforce_wants_answers(struct engine *e, const struct guard *g)
{
	/* Allowlist: every address opens. Otherwise every address is recorded, for the
	 * shared-address rule; a policy without rules has nothing to learn. */
	return g && (policy__mode(g->policy) == POLICY_ALLOWLIST || policy__rule_count(g->policy));
}

/* Before the answer reaches the client: its connect right after must succeed. */
void enforce_answer(struct engine *e, struct guard *g, const uint8_t *buf, size_t len,
		    const struct dns_msg *m)
{
	struct hand_ctx hc = {.e = e, .g = g, .now_ms = now_ms()};

	if (!g || !m->ancount || DNS_RCODE(m->flags) != DNS_RCODE_NOERROR)
		return;
	hc.all = policy__mode(g->policy) == POLICY_ALLOWLIST;
	hc.now_ns = mono_ns();
	pthread_mutex_lock(&e->enf->lock);
	dns_for_each_addr(buf, len, m, hand_one, &hc);
	pthread_mutex_unlock(&e->enf->lock);
}
