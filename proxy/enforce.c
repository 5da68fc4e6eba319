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
#include "enforce_int.h"

#include <string.h>

#include "dnsguard_api.h"
#include "log.h"

int enforce_init(struct engine *e, struct df_err *err)
{
	struct enforce *en;

	e->memo = calloc(1, sizeof(*e->memo));
	if (!e->memo)
		return df_err_set(err, -ENOMEM, "out of memory");
	/* A worker: the primary's (struct enforce's comment). */
	if (e->primary != e) {
		e->enf = e->primary->enf;
		e->pev = e->primary->pev;
		return 0;
	}
	en = calloc(1, sizeof(*en));
	if (!en)
		return df_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&en->lock, NULL);
	e->enf = en;
	return packet_events_init(e, err);
}

void enforce_fini(struct engine *e)
{
	free(steal_ptr(e->memo));
	if (e->primary != e) {
		e->enf = NULL;
		e->pev = NULL;
		return;
	}
	packet_events_fini(e);
	if (e->enf)
		pthread_mutex_destroy(&e->enf->lock);
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
			dnsguard__set_cidr(e->opts.bpf, policy__id(p), fam, c[i].addr,
					   c[i].prefix_len, c[i].allow ? DF_IP_ALLOW : DF_IP_BLOCK);
		else
			dnsguard__del_cidr(e->opts.bpf, policy__id(p), fam, c[i].addr,
					   c[i].prefix_len);
	}
}

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
	dnsguard__purge_addrs(e->opts.bpf, true, policy__id(u->p));
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
	dnsguard__flush_cg_cache(e->opts.bpf);
	return 0;
}

void enforce_guard_removed(struct engine *e, struct guard *g)
{
	/* Its last refusals are counted before purge_guard deletes its ev_limit entry. */
	packet_events_guard_removed(e, g);
	if (g->handed_any)
		dnsguard__purge_addrs(e->opts.bpf, false, g->cgid);
	/* A finished run or container leaves no entry in any map. */
	dnsguard__purge_guard(e->opts.bpf, g->cgid);
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
	dnsguard__copy_learned(e->opts.bpf, policy__id(old), policy__id(new_p));
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
	return dnsguard__purge_policies(e->opts.bpf, keep, en->n_used);
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
