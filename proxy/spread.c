// SPDX-License-Identifier: GPL-2.0-only
/*
 * One guard's UDP queries on several workers (engine_int.h: replicas). A
 * replica is a guard of its own on another worker: the owner's identity and
 * policy, UDP listeners of its own in the same netns, its own counters,
 * pending share, rate notes and report. The BPF side sends each client socket
 * to one of the guard's UDP ports (df_guard.udp4_spread), so a job's lookups
 * spread over the cores and a query's path still stays on one thread. TCP
 * stays with the owner: DNS over TCP is the rare retry of a truncated answer.
 *
 * Everything here runs in control, with every worker paused.
 */
#include "engine_int.h"

#include <string.h>

#include "cgroup.h"
#include "report_collect.h"
#include "run_report.h"

unsigned engine__spread(const struct engine *e)
{
	const struct engine *p = e->primary;
	unsigned n = p->opts.spread > 0 ? (unsigned)p->opts.spread : 1;

	if (n > p->n_workers)
		n = p->n_workers;
	return n > DF_SPREAD_MAX ? DF_SPREAD_MAX : n;
}

static void replica_free(struct guard *r)
{
	listen_set_close(&r->ls);
	run_report__free(r->report);
	free(r);
}

static int replica_new(struct guard *g, struct engine *w, const char *netns_path,
		       struct guard **ret, struct df_err *err)
{
	struct guard *r = malloc(sizeof(*r));
	int ret_code;

	if (!r)
		return df_err_set(err, -ENOMEM, "out of memory");
	/* The owner's identity and policy; nothing of its state. */
	memcpy(r, g, sizeof(*r));
	r->next = NULL;
	r->engine = w;
	/* Into its own copy of the path, not the owner's. */
	r->cgroup_rel = cgroup_below_root(r->cgroup_path);
	r->serial = ++w->guard_serial;
	r->owns_policy = false;
	r->ls = (struct listen_set)LISTEN_SET_INIT;
	r->ls.udp_only = true;
	r->udp4.src.fd = r->udp6.src.fd = r->tcp4.src.fd = r->tcp6.src.fd = -1;
	r->handed_any = false;
	r->n_conns = r->n_pending = 0;
	r->quota_note = r->tcp_note = (struct rate_note){0};
	r->cnt = (struct guard_counters){0};
	r->cnt.pc = metrics__policy_row(&w->met, policy__name(r->policy));
	r->pkt = NULL;
	r->report = NULL;
	memset(r->replicas, 0, sizeof(r->replicas));
	r->n_replicas = 0;
	ret_code = report_guard_added(r);
	if (ret_code < 0) {
		free(r);
		return df_err_set(err, ret_code, "out of memory");
	}
	ret_code = listen_set_open(netns_path, &r->ls, err);
	/* A v6 listener where the owner has one: else its sockets' v6 DNS would go nowhere. */
	if (ret_code == 0 && g->ls.udp6 >= 0 && r->ls.udp6 < 0)
		ret_code = df_err_set(err, -EAFNOSUPPORT, "no udp ::1 listener");
	if (ret_code < 0) {
		replica_free(r);
		return ret_code;
	}
	*ret = r;
	return 0;
}

void spread_open(struct guard *g, const char *netns_path)
{
	struct engine *p = g->engine->primary;
	unsigned want = engine__spread(p), i;

	/* The workers after the owner's, in turn: each guard's replicas start elsewhere,
	 * so no one worker takes a share of every job. */
	for (i = 1; i < p->n_workers && g->n_replicas + 1 < want; i++) {
		struct engine *w = p->workers[(g->engine->idx - 1 + i) % p->n_workers];
		struct df_err err = {0};
		struct guard *r = NULL;

		if (replica_new(g, w, netns_path, &r, &err) < 0) {
			/* Fewer cores for this job's lookups, never fewer guards. */
			log_msg(LOG_WARN, "guard served by fewer workers id=%s worker=%u: %s",
				g->log_id, w->idx, err.msg);
			continue;
		}
		g->replicas[g->n_replicas++] = r;
	}
}

void spread_start(struct guard *g)
{
	unsigned i;

	for (i = 0; i < g->n_replicas; i++) {
		struct guard *r = g->replicas[i];
		struct engine *w = r->engine;

		/* Set after the replicas were opened. */
		r->full_cmdline = g->full_cmdline;
		listener_init(w, r, &r->udp4, r->ls.udp4, IPPROTO_UDP);
		listener_init(w, r, &r->udp6, r->ls.udp6, IPPROTO_UDP);
		r->next = w->replicas;
		w->replicas = r;
	}
}

void spread_gather(struct guard *g)
{
	unsigned i;

	for (i = 0; i < g->n_replicas; i++) {
		struct guard *r = g->replicas[i];

		if (g->report && r->report)
			run_report__merge(g->report, r->report);
		g->handed_any |= r->handed_any;
	}
}

void spread_remove(struct guard *g)
{
	struct guard **pp;
	unsigned i;

	spread_gather(g);
	for (i = 0; i < g->n_replicas; i++) {
		struct guard *r = g->replicas[i];
		struct engine *w = r->engine;

		for (pp = &w->replicas; *pp && *pp != r; pp = &(*pp)->next)
			;
		if (!*pp) {
			/* Opened, never started: a registration that failed, maybe published. */
			listeners_unpublish(w, r);
			replica_free(r);
			continue;
		}
		*pp = r->next;
		if (r->quota_note.count)
			upstream_quota_line(w, r, r->quota_note.count);
		listeners_unpublish(w, r);
		listeners_del(w, r);
		upstream_drop_guard(w, r);
		run_report__free(steal_ptr(r->report));
		/* Events for its fds may sit in the worker's next batch: freed at its tick. */
		r->next = w->graveyard;
		w->graveyard = r;
		workers_kick(w);
	}
	g->n_replicas = 0;
}

void spread_policy(struct guard *g)
{
	unsigned i;

	for (i = 0; i < g->n_replicas; i++) {
		struct guard *r = g->replicas[i];

		r->policy = g->policy;
		r->cnt.pc = metrics__policy_row(&r->engine->met, policy__name(g->policy));
		run_report__set_policy(r->report, policy__name(g->policy),
				       policy_mode_str(policy__mode(g->policy)));
	}
}
