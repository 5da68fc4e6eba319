// SPDX-License-Identifier: GPL-2.0-only
/*
 * Packet enforcement, the proxy's half: what DNS decided, written into maps
 * the BPF connect/sendmsg programs read (bpf/dnsguard.bpf.c: enforce()).
 *
 *  - cidrs: a policy's block-ip / allow-ip rules, keyed by policy id, written
 *    while any guard uses the policy.
 *  - handed: addresses in answers to permitted names, keyed by the cgroup that
 *    asked, until their TTL (at least HANDED_FLOOR_S). Allowlist guards get
 *    every one; blocklist guards only those a blocked name also resolves to
 *    (the shared-address rule: what DNS handed this cgroup for a permitted
 *    name stays reachable), which is rare and keeps the map small.
 *  - learned: addresses blocked names resolve to, keyed by policy id. The
 *    proxy resolves a policy's exact block names itself when the policy comes
 *    into use and again as their TTLs run out, and any blocked name when it is
 *    asked.
 *  - events and ev_limit: the refusals, logged by packet_events.c.
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include "guard_bpf.h"
#include "log.h"

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

struct enforce {
	/* One more than registrations may take: a reload holds old and new at once. */
	struct policy_use used[MAX_POLICIES_USED + 1];
	int n_used;
	struct learn_memo {
		uint32_t policy_id;
		uint64_t hash;
		uint64_t until_ms;
	} memo[LEARN_MEMO_SETS][LEARN_MEMO_WAYS];
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

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint32_t clamp_ttl(uint32_t ttl, uint32_t floor, uint32_t max)
{
	return ttl < floor ? floor : ttl > max ? max : ttl;
}

int enforce_init(struct engine *e, struct df_err *err)
{
	struct enforce *en = calloc(1, sizeof(*en));

	if (!en)
		return df_err_set(err, -ENOMEM, "out of memory");
	e->enf = en;
	return packet_events_init(e, err);
}

void enforce_fini(struct engine *e)
{
	packet_events_fini(e);
	free(e->enf);
	e->enf = NULL;
}

/* ---- policies in use: their CIDR rules live in the map while a guard uses them -------- */

static void write_cidrs(struct engine *e, struct policy *p, bool add)
{
	const struct policy_cidr *c;
	size_t i, n;

	c = policy__cidrs(p, &n);
	for (i = 0; i < n; i++) {
		int fam = c[i].family == AF_INET6 ? DF_AF_INET6 : DF_AF_INET;

		if (add)
			guard_bpf__set_cidr(e->opts.bpf, policy__id(p), fam, c[i].addr,
					    c[i].prefix_len,
					    c[i].allow ? DF_IP_ALLOW : DF_IP_BLOCK);
		else
			guard_bpf__del_cidr(e->opts.bpf, policy__id(p), fam, c[i].addr,
					    c[i].prefix_len);
	}
}

static void learn_policy(struct engine *e, struct policy_use *u, uint64_t now);
static void copy_learned_set(struct enforce *en, uint32_t from, uint32_t to);

static struct policy_use *use_of(struct enforce *en, const struct policy *p)
{
	int i;

	for (i = 0; i < en->n_used; i++)
		if (en->used[i].p == p)
			return &en->used[i];
	return NULL;
}

static int policy_ref(struct engine *e, struct policy *p, bool reload)
{
	struct enforce *en = e->enf;
	struct policy_use *u = use_of(en, p);

	if (u) {
		u->refs++;
		return 0;
	}
	if (en->n_used >= MAX_POLICIES_USED + (reload ? 1 : 0))
		return -E2BIG; /* its rules could not be enforced: refuse the registration */
	en->used[en->n_used++] = (struct policy_use){.p = p, .refs = 1};
	write_cidrs(e, p, true);
	/* Start resolving its blocked names now: a job may connect to one first thing. */
	if (policy__mode(p) != POLICY_ALLOWLIST)
		learn_policy(e, &en->used[en->n_used - 1], now_ms());
	return 0;
}

static void policy_drop(struct engine *e, struct policy_use *u)
{
	struct enforce *en = e->enf;

	write_cidrs(e, u->p, false);
	guard_bpf__purge_addrs(e->opts.bpf, true, policy__id(u->p));
	*u = en->used[--en->n_used];
}

static void policy_unref(struct engine *e, struct policy *p)
{
	struct policy_use *u = use_of(e->enf, p);

	if (u && --u->refs == 0)
		policy_drop(e, u);
}

int enforce_guard_added(struct engine *e, struct guard *g)
{
	int r = packet_events_guard_added(e, g);

	if (r < 0)
		return r;
	r = policy_ref(e, g->policy, false);
	if (r < 0) {
		packet_events_guard_removed(e, g);
		return r;
	}
	/* A nearer registration may now cover cgroups whose walk was remembered. */
	guard_bpf__flush_cg_cache(e->opts.bpf);
	return 0;
}

void enforce_guard_removed(struct engine *e, struct guard *g)
{
	/* Its last refusals are counted before purge_guard deletes its ev_limit entry. */
	packet_events_guard_removed(e, g);
	if (g->handed_any)
		guard_bpf__purge_addrs(e->opts.bpf, false, g->cgid);
	/* A finished run or container leaves no entry in any map. */
	guard_bpf__purge_guard(e->opts.bpf, g->cgid);
	policy_unref(e, g->policy);
}

/*
 * A reload, in the order that leaves no instant without rules: NEW_P's CIDRs
 * go in and OLD's learned addresses are copied to it, in the map and in our
 * own record (enforce_policy_swapped), the guards switch their entries to
 * NEW_P (the caller), and only then are OLD's entries deleted
 * (enforce_policy_retired). tests/unit/test_reload.c checks every instant.
 */
void enforce_policy_swapped(struct engine *e, struct policy *old, struct policy *new_p)
{
	struct policy_use *u = use_of(e->enf, old);
	unsigned refs;

	if (!u)
		return;
	refs = u->refs;
	/* The spare slot: never full here, as OLD leaves right after the switch. */
	if (policy_ref(e, new_p, true) < 0)
		return;
	use_of(e->enf, new_p)->refs += refs - 1;
	guard_bpf__copy_learned(e->opts.bpf, policy__id(old), policy__id(new_p));
	copy_learned_set(e->enf, policy__id(old), policy__id(new_p));
}

void enforce_policy_retired(struct engine *e, struct policy *old)
{
	struct policy_use *u = use_of(e->enf, old);

	if (u)
		policy_drop(e, u);
}

int enforce_purge_stale(struct engine *e)
{
	struct enforce *en = e->enf;
	__u32 keep[MAX_POLICIES_USED + 1];
	int i;

	for (i = 0; i < en->n_used; i++)
		keep[i] = policy__id(en->used[i].p);
	return guard_bpf__purge_policies(e->opts.bpf, keep, en->n_used);
}

/* ---- learning the addresses of blocked names ------------------------------------------ */

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
static bool memo_fresh(struct enforce *en, uint32_t policy_id, const struct dns_msg *m,
		       uint64_t now)
{
	uint64_t h =
	    df_fnv1a(df_fnv1a(DF_FNV_SEED, m->qname, m->qname_len), &m->qtype, sizeof(m->qtype));
	struct learn_memo *set = en->memo[(h ^ policy_id) % LEARN_MEMO_SETS], *victim = set;
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
	if (memo_fresh(e->enf, policy__id(g->policy), m, now_ms()))
		return;
	learn_query(e, policy__id(g->policy), q, len);
}

/* Resolve the policy's exact block names (A and AAAA), at most LEARN_AT_LOAD. */
static void learn_policy(struct engine *e, struct policy_use *u, uint64_t now)
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

int enforce_next_timeout(struct engine *e, uint64_t now)
{
	struct enforce *en = e->enf;
	uint64_t next = UINT64_MAX;
	int i, t, p;

	for (i = 0; i < en->n_used; i++)
		if (policy__mode(en->used[i].p) != POLICY_ALLOWLIST &&
		    en->used[i].next_learn_ms < next)
			next = en->used[i].next_learn_ms;
	t = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
	p = packet_events_next_timeout(e, now);
	return p >= 0 && (t < 0 || p < t) ? p : t;
}

void enforce_tick(struct engine *e, uint64_t now)
{
	struct enforce *en = e->enf;
	int i;

	packet_events_tick(e, now);
	for (i = 0; i < en->n_used; i++)
		if (en->used[i].p && policy__mode(en->used[i].p) != POLICY_ALLOWLIST &&
		    en->used[i].next_learn_ms <= now)
			learn_policy(e, &en->used[i], now);
}

struct learn_ctx {
	struct engine *e;
	uint32_t policy_id;
	uint64_t now_ms, now_ns;
};

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
static void share_handed(struct engine *e, uint32_t policy_id, int family, const uint8_t *addr,
			 uint64_t now)
{
	struct guard *g;

	for (g = e->guards; g; g = g->next) {
		struct handed_rec *r;

		if (policy__id(g->policy) != policy_id)
			continue;
		r = rec_slot(e->enf, g->cgid, family, addr);
		if (!rec_match(r, g->cgid, family, addr, now))
			continue;
		guard_bpf__set_addr(e->opts.bpf, false, g->cgid, family, addr, r->until_ns);
		g->handed_any = true;
	}
}

static struct learned_addr *set_slot(struct enforce *en, uint32_t policy_id, int family,
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
static void copy_learned_set(struct enforce *en, uint32_t from, uint32_t to)
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
	guard_bpf__set_addr(lc->e->opts.bpf, true, lc->policy_id, family, addr,
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
	int i;

	/* The policy's last guard may have gone while we asked: write nothing then. */
	for (i = 0; i < e->enf->n_used; i++)
		if (policy__id(e->enf->used[i].p) == policy_id)
			break;
	if (i == e->enf->n_used)
		return;
	dns_for_each_addr(buf, len, m, learn_one, &lc);
}

/* ---- handing addresses to the cgroup that asked ---------------------------------------- */

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
	guard_bpf__set_addr(hc->e->opts.bpf, false, hc->g->cgid, family, addr, until_ns);
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
	dns_for_each_addr(buf, len, m, hand_one, &hc);
}
