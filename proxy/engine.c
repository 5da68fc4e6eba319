// SPDX-License-Identifier: GPL-2.0-only
/*
 * The engine: guards (one per registered cgroup) and the per-query decision.
 * A query arrives on a listener that belongs to exactly one guard, so the
 * policy is known without any lookup; the sender is looked up in the BPF
 * clients map only when a line must name it.
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <string.h>

#include "cgroup.h"
#include "dnsguard_api.h"
#include "log.h"
#include "log_fold.h"
#include "report_collect.h"
#include "run_report.h"

/* What NOTE counted since its last line, taken. */
static uint64_t steal_count(struct rate_note *note)
{
	uint64_t n = note->count;

	note->count = 0;
	return n;
}

int engine_new_one(const struct engine_opts *opts, struct engine *primary, unsigned idx,
		   struct engine **ret, struct df_err *err)
{
	struct engine *e = calloc(1, sizeof(*e));
	uint32_t i;
	int r;

	if (!e)
		return df_err_set(err, -ENOMEM, "out of memory");
	e->opts = *opts;
	e->primary = primary ? primary : e;
	e->idx = idx;
	if (!e->opts.try_timeout_ms)
		e->opts.try_timeout_ms = 500;
	if (!e->opts.servfail_after_ms)
		e->opts.servfail_after_ms = 1500;
	e->pending_quota = PENDING_PER_GUARD;
	if (opts->pending_per_guard > 0 && opts->pending_per_guard < CLIENT_PENDING)
		e->pending_quota = (unsigned)opts->pending_per_guard;
	else if (opts->pending_per_guard > 0)
		e->pending_quota = CLIENT_PENDING;
	e->pend = calloc(MAX_PENDING, sizeof(*e->pend));
	e->free_slots = calloc(MAX_PENDING, sizeof(*e->free_slots));
	e->conns = calloc(MAX_TCP_CONNS, sizeof(*e->conns));
	if (!e->pend || !e->free_slots || !e->conns) {
		engine_free_one(e);
		return df_err_set(err, -ENOMEM, "out of memory");
	}
	for (i = 0; i < MAX_PENDING; i++)
		e->free_slots[e->n_free++] = MAX_PENDING - 1 - i;
	for (i = 0; i < MAX_TCP_CONNS; i++)
		e->conns[i].src.fd = -1;
	upsock_init(e);
	e->fifo_head = e->fifo_tail = NIL;
	r = attrib_cache_new(&e->attrib);
	if (r == 0)
		r = log_fold__new(NULL, engine_log_emit, e, &e->fold);
	if (r == 0 && !primary)
		r = rr_shelf__new(&e->reports);
	if (r < 0) {
		engine_free_one(e);
		return df_err_set(err, r, "out of memory");
	}
	r = cache__new(opts->cache_entries < 0 ? 0
		       : opts->cache_entries   ? (size_t)opts->cache_entries
					       : CACHE_DEFAULT_ENT,
		       &e->cache);
	if (r < 0) {
		engine_free_one(e);
		return df_err_set(err, r, "cache: %s", strerror(-r));
	}
	r = upstreams_open(e, err);
	if (r == 0)
		r = enforce_init(e, err);
	if (r < 0) {
		engine_free_one(e);
		return r;
	}
	if (primary)
		e->reports = primary->reports;
	*ret = e;
	return 0;
}

int engine__new(const struct engine_opts *opts, struct engine **ret, struct df_err *err)
{
	struct engine_opts o = *opts;
	struct engine *e;
	int r;

	/* With workers the primary serves no guard: its cache would stay empty. */
	if (o.workers > 0)
		o.cache_entries = -1;
	r = engine_new_one(&o, NULL, 0, &e, err);
	if (r < 0)
		return r;
	e->opts.cache_entries = opts->cache_entries;
	if (opts->workers > 0) {
		r = workers_new(e, err);
		if (r < 0) {
			engine__free(e);
			return r;
		}
	}
	*ret = e;
	return 0;
}

static void guard_free(struct guard *g)
{
	if (g->owns_policy)
		policy__free(g->policy);
	free(g);
}

void engine_free_one(struct engine *e)
{
	/* The last second's counts are not lost with the process. */
	log_fold__flush(e->fold);
	log_fold__free(e->fold);
	enforce_fini(e);
	upstreams_close(e);
	cache__free(e->cache);
	attrib_cache_free(e->attrib);
	if (e->primary == e)
		rr_shelf__free(e->reports);
	free(e->pend);
	free(e->free_slots);
	free(e->conns);
	free(e);
}

void engine__free(struct engine *e)
{
	struct guard *g;
	unsigned i;

	if (!e)
		return;
	/* Threads first: from here on every engine is this thread's. */
	engine__stop_workers(e);
	while ((g = engine__first_guard(e)))
		engine__remove_guard(e, g);
	for (i = 0; i <= e->n_workers; i++)
		engine__tick(engine_nth(e, i));
	workers_free(e);
	engine_free_one(e);
}

void listener_init(struct engine *e, struct guard *g, struct listener *l, int fd, uint8_t proto)
{
	l->src.fd = fd;
	l->g = g;
	l->proto = proto;
	if (fd < 0)
		return;
	l->src.on_ready = proto == IPPROTO_UDP ? udp_on_ready : tcp_on_accept;
	loop__add(e->opts.loop, &l->src, EPOLLIN);
}

void listeners_del(struct engine *e, struct guard *g)
{
	struct listener *all[] = {&g->udp4, &g->tcp4, &g->udp6, &g->tcp6};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		loop__del(e->opts.loop, &all[i]->src);
		all[i]->src.fd = -1;
	}
	listen_set_close(&g->ls);
}

/* Which listener belongs to which guard: the BPF side redirects only to a live one. */
int listeners_publish(struct engine *e, struct guard *g)
{
	const struct {
		uint8_t proto;
		uint16_t port;
		int fd;
	} all[] = {
	    {IPPROTO_UDP, g->ls.udp4_port, g->ls.udp4},
	    {IPPROTO_TCP, g->ls.tcp4_port, g->ls.tcp4},
	    {IPPROTO_UDP, g->ls.udp6_port, g->ls.udp6},
	    {IPPROTO_TCP, g->ls.tcp6_port, g->ls.tcp6},
	};
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		if (!all[i].port || all[i].fd < 0)
			continue;
		r = dnsguard__mark_proxy_socket(e->opts.bpf, all[i].fd, g->cgid);
		if (r == 0)
			r = dnsguard__set_listener(e->opts.bpf, g->ls.netns_cookie, all[i].proto,
						   all[i].port, g->cgid);
		if (r < 0)
			return r;
	}
	return 0;
}

void listeners_unpublish(struct engine *e, struct guard *g)
{
	dnsguard__del_listener(e->opts.bpf, g->ls.netns_cookie, IPPROTO_UDP, g->ls.udp4_port);
	if (g->ls.tcp4_port)
		dnsguard__del_listener(e->opts.bpf, g->ls.netns_cookie, IPPROTO_TCP,
				       g->ls.tcp4_port);
	if (g->ls.udp6_port)
		dnsguard__del_listener(e->opts.bpf, g->ls.netns_cookie, IPPROTO_UDP,
				       g->ls.udp6_port);
	if (g->ls.tcp6_port)
		dnsguard__del_listener(e->opts.bpf, g->ls.netns_cookie, IPPROTO_TCP,
				       g->ls.tcp6_port);
}

static int guard_publish(struct engine *e, struct guard *g, struct df_err *err)
{
	struct df_guard val = {
	    .proxy_ip4 = htonl(INADDR_LOOPBACK),
	    .udp4_port = g->ls.udp4_port,
	    .tcp4_port = g->ls.tcp4_port,
	    .udp6_port = g->ls.udp6_port,
	    .tcp6_port = g->ls.tcp6_port,
	    .flags = g->ls.udp6 < 0 ? DF_GUARD_NO_IP6 : 0,
	    .policy_id = policy__id(g->policy),
	    .mode = policy__mode(g->policy) == POLICY_ALLOWLIST ? DF_MODE_ALLOWLIST
		    : policy__mode(g->policy) == POLICY_AUDIT	? DF_MODE_AUDIT
								: DF_MODE_BLOCKLIST,
	};
	unsigned i;
	int r;

	memcpy(val.proxy_ip6, &in6addr_loopback, sizeof(val.proxy_ip6));
	r = listeners_publish(e, g);
	/* The replicas' listeners are marked and named before the entry sends anyone
	 * there; one that cannot be is left out of the entry: fewer cores for the job's
	 * lookups, never a guard refused. */
	for (i = 0; i < g->n_replicas && r == 0; i++) {
		const struct guard *rep = g->replicas[i];

		if (listeners_publish(e, g->replicas[i]) < 0) {
			listeners_unpublish(e, g->replicas[i]);
			log_msg(LOG_WARN,
				"guard served by fewer workers id=%s worker=%u: listeners map",
				g->log_id, rep->engine->idx);
			continue;
		}
		val.udp4_spread[val.n_spread] = rep->ls.udp4_port;
		val.udp6_spread[val.n_spread] = rep->ls.udp6_port;
		val.n_spread++;
	}
	if (r == 0)
		r = dnsguard__set_guard(e->opts.bpf, g->cgid, &val);
	if (r < 0)
		return df_err_set(err, r, "write guard map: %s", strerror(-r));
	return 0;
}

int engine__add_guard(struct engine *e, const struct guard_spec *spec, struct guard **ret,
		      struct df_err *err)
{
	struct guard *g;
	int r;

	for (g = engine__first_guard(e); g; g = engine__next_guard(e, g))
		if (g->cgid == spec->cgid)
			return df_err_set(err, -EEXIST, "cgroup %s is registered already (%s)",
					  spec->cgroup_path, g->id);
	/* The engine that serves it, from its listeners to its answers. */
	e = workers_pick(e->primary);
	g = calloc(1, sizeof(*g));
	if (!g)
		return df_err_set(err, -ENOMEM, "out of memory");
	g->ls = (struct listen_set)LISTEN_SET_INIT;
	g->engine = e;
	g->kind = spec->kind;
	snprintf(g->id, sizeof(g->id), "%s", spec->id);
	logfmt_value(g->log_id, sizeof(g->log_id), g->id, strlen(g->id));
	snprintf(g->cgroup_path, sizeof(g->cgroup_path), "%s", spec->cgroup_path);
	g->cgroup_rel = cgroup_below_root(g->cgroup_path);
	g->policy = spec->policy;
	/* The primary's rows first: the metrics' sum keeps their order (metrics__add). */
	metrics__policy_row(&e->primary->met, policy__name(g->policy));
	g->cnt.pc = metrics__policy_row(&e->met, policy__name(g->policy));
	g->since = time(NULL);
	g->serial = ++e->guard_serial;
	g->cgid = spec->cgid;
	r = report_guard_added(g);
	if (r < 0) {
		df_err_set(err, r, "out of memory");
		goto fail;
	}
	r = listen_set_open(spec->netns_path, &g->ls, err);
	if (r < 0)
		goto fail;
	spread_open(g, spec->netns_path);
	/* Address rules first: the guard entry is what turns enforcement on. */
	r = enforce_guard_added(e, g);
	if (r < 0) {
		if (r == -E2BIG)
			df_err_set(err, r, "more than %d policies in use", 1024);
		else
			df_err_set(err, r, "out of memory");
		goto fail;
	}
	r = guard_publish(e, g, err);
	if (r < 0) {
		spread_remove(g);
		listeners_unpublish(e, g);
		enforce_guard_removed(e, g);
		goto fail;
	}
	/* Only now does the guard own an inline policy: on failure the caller keeps it. */
	g->owns_policy = spec->owns_policy;
	g->full_cmdline = spec->full_cmdline || e->opts.log_full_cmdline;
	listener_init(e, g, &g->udp4, g->ls.udp4, IPPROTO_UDP);
	listener_init(e, g, &g->tcp4, g->ls.tcp4, IPPROTO_TCP);
	listener_init(e, g, &g->udp6, g->ls.udp6, IPPROTO_UDP);
	listener_init(e, g, &g->tcp6, g->ls.tcp6, IPPROTO_TCP);
	spread_start(g);
	g->next = e->guards;
	e->guards = g;
	e->n_guards++;
	/* Learning its policy's names may have put queries on the worker's upstreams. */
	workers_kick(e);
	if (ret)
		*ret = g;
	return 0;
fail:
	spread_remove(g);
	listen_set_close(&g->ls);
	run_report__free(g->report);
	free(g);
	return r;
}

void engine__remove_guard(struct engine *e, struct guard *g)
{
	struct guard **pp;

	/* Its own engine's work: a worker's guard is removed while the worker is paused. */
	e = g->engine;
	for (pp = &e->guards; *pp && *pp != g; pp = &(*pp)->next)
		;
	if (!*pp)
		return;
	if (g->owns_policy) {
		struct guard *o, *next;

		for (o = engine__first_guard(e); o; o = next) {
			next = engine__next_guard(e, o);
			if (o != g && o->policy == g->policy) {
				engine__remove_guard(e, o);
				/* NEXT may have gone with it (a guard sharing the policy too). */
				next = engine__first_guard(e);
			}
		}
		for (pp = &e->guards; *pp != g; pp = &(*pp)->next)
			;
	}
	*pp = g->next;
	e->n_guards--;
	/* Its held rate-note counts go with a line of their own, not with the guard. */
	if (g->quota_note.count)
		upstream_quota_line(e, g, steal_count(&g->quota_note));
	if (g->tcp_note.count)
		tcp_quota_line(e, g, steal_count(&g->tcp_note));
	dnsguard__del_guard(e->opts.bpf, g->cgid);
	/* Its replicas' handed addresses and report are its own from here. */
	spread_remove(g);
	enforce_guard_removed(e, g);
	report_guard_removed(g);
	listeners_unpublish(e, g);
	listeners_del(e, g);
	upstream_drop_guard(e, g);
	tcp_drop_guard(e, g);
	/* Events for its fds may still sit in this loop turn's batch. */
	g->next = e->graveyard;
	e->graveyard = g;
	workers_kick(e);
}

struct guard *engine__find_guard(struct engine *e, const char *id)
{
	struct guard *g;

	for (g = engine__first_guard(e); g; g = engine__next_guard(e, g))
		if (strcmp(g->id, id) == 0)
			return g;
	return NULL;
}

/* The first guard of engine I of primary P or of one after it. */
static struct guard *first_from(struct engine *p, unsigned i)
{
	for (; i <= p->n_workers; i++)
		if (engine_nth(p, i)->guards)
			return engine_nth(p, i)->guards;
	return NULL;
}

/* Every engine's guards, the primary's first: what control sees as one list. */
struct guard *engine__first_guard(struct engine *e)
{
	return first_from(e->primary, 0);
}

struct guard *engine__next_guard(struct engine *e, struct guard *g)
{
	return g->next ? g->next : first_from(e->primary, g->engine->idx + 1);
}

void guard__disown_policy(struct guard *g)
{
	g->owns_policy = false;
}

const char *guard__id(const struct guard *g)
{
	return g->id;
}

enum guard_kind guard__kind(const struct guard *g)
{
	return g->kind;
}

const char *guard__cgroup(const struct guard *g)
{
	return g->cgroup_path;
}

struct policy *guard__policy(const struct guard *g)
{
	return g->policy;
}

const char *guard__policy_name(const struct guard *g)
{
	return policy__name(g->policy);
}

time_t guard__since(const struct guard *g)
{
	return g->since;
}

uint64_t guard__cgroup_id(const struct guard *g)
{
	return g->cgid;
}

void engine__replace_policy(struct engine *e, struct policy *old, struct policy *new_p)
{
	struct guard *g;

	e = e->primary;
	enforce_policy_swapped(e, old, new_p);
	for (g = engine__first_guard(e); g; g = engine__next_guard(e, g)) {
		if (g->policy != old)
			continue;
		struct df_err err = {0};

		g->policy = new_p;
		metrics__policy_row(&e->met, policy__name(new_p));
		g->cnt.pc = metrics__policy_row(&g->engine->met, policy__name(new_p));
		run_report__set_policy(g->report, policy__name(new_p),
				       policy_mode_str(policy__mode(new_p)));
		spread_policy(g);
		/* New policy id and mode for the BPF side. Should that write fail the
		 * entry still names OLD, whose rules go next: closed, never open. */
		if (guard_publish(e, g, &err) < 0) {
			dnsguard__set_closed(e->opts.bpf, g->cgid);
			log_msg(LOG_ERROR, "reload: guard closed id=%s: %s", g->id, err.msg);
		}
	}
	enforce_policy_retired(e, old);
}

int engine__purge_stale_policies(struct engine *e)
{
	return enforce_purge_stale(e);
}

int engine__next_timeout(struct engine *e)
{
	uint64_t now = now_ms();
	/* Learning policies' names and the packet events are the primary's. */
	int t = upstream_next_timeout(e, now),
	    l = e->primary == e ? enforce_next_timeout(e, now) : -1,
	    f = log_fold__next_timeout(e->fold, now);

	if (l >= 0 && (t < 0 || l < t))
		t = l;
	if (f >= 0 && (t < 0 || f < t))
		t = f;

	/* TCP idle timeouts and held rate notes are coarse: a check a second is enough. */
	if ((e->n_conns || e->notes_held) && (t < 0 || t > 1000))
		t = 1000;
	return t;
}

/* NOTE's held events, if its second is over: how many to write now. Else 0, and *HELD set. */
static uint64_t note_due(struct rate_note *note, uint64_t now, bool *held)
{
	uint64_t n = note->count;

	if (!n)
		return 0;
	if (now < note->next_ms) {
		*held = true;
		return 0;
	}
	note->count = 0;
	note->next_ms = now + 1000;
	return n;
}

/* The rate notes' counts that no line has said yet, once their second is over. */
static void flush_notes(struct engine *e, uint64_t now)
{
	struct guard *lists[] = {e->guards, e->replicas}, *g;
	bool held = false;
	uint64_t n;
	size_t i;

	if ((n = note_due(&e->learn_note, now, &held)))
		upstream_learn_line(e, n);
	for (i = 0; i < ARRAY_SIZE(lists); i++) {
		for (g = lists[i]; g; g = g->next) {
			if ((n = note_due(&g->quota_note, now, &held)))
				upstream_quota_line(e, g, n);
			if ((n = note_due(&g->tcp_note, now, &held)))
				tcp_quota_line(e, g, n);
		}
	}
	e->notes_held = held;
}

void engine__tick(struct engine *e)
{
	uint64_t now = now_ms();
	struct guard *g;

	if (e->notes_held)
		flush_notes(e, now);
	upstream_expire(e, now);
	tcp_expire(e, now);
	/* Packet counts first: they belong in the summaries the fold writes now. */
	if (e->primary == e)
		enforce_tick(e, now);
	log_fold__tick(e->fold, now);
	while ((g = e->graveyard)) {
		e->graveyard = g->next;
		guard_free(g);
	}
	utcp_reap(e);
}

void guard__status(const struct guard *g, struct guard_status *ret)
{
	*ret = (struct guard_status){
	    .queries = g->cnt.queries,
	    .blocked = g->cnt.blocked,
	    .would_block = g->cnt.would_block,
	    .packets_blocked = g->cnt.packets_blocked,
	    .over_share = g->cnt.over_share,
	    .last_block = g->cnt.last_block,
	    .worker = g->engine->idx,
	    .spread = g->n_replicas + 1,
	};
	unsigned i;

	ret->served[0].worker = g->engine->idx;
	ret->served[0].queries = g->cnt.queries;
	for (i = 0; i < g->n_replicas; i++) {
		const struct guard_counters *c = &g->replicas[i]->cnt;

		ret->served[i + 1].worker = g->replicas[i]->engine->idx;
		ret->served[i + 1].queries = c->queries;
		ret->queries += c->queries;
		ret->blocked += c->blocked;
		ret->would_block += c->would_block;
		ret->over_share += c->over_share;
		if (c->last_block > ret->last_block)
			ret->last_block = c->last_block;
	}
}

int engine__render_metrics(const struct engine *e, FILE *f)
{
	_cleanup_free_ struct engine_metrics *sum = NULL;
	const char *reasons[METRICS_REASONS];
	struct metrics_view v = {.reason_names = reasons};
	struct engine *p = e->primary;
	const struct guard *g;
	unsigned i;

	for (i = 0; i < METRICS_REASONS; i++)
		reasons[i] = enforce_reason_name(i);
	v.m = &p->met;
	if (p->n_workers) {
		/* Every engine's counts, as one. */
		sum = calloc(1, sizeof(*sum));
		if (!sum)
			return -ENOMEM;
		for (i = 0; i <= p->n_workers; i++)
			metrics__add(sum, &engine_nth(p, i)->met);
		v.m = sum;
	}
	for (g = engine__first_guard(p); g; g = engine__next_guard(p, (struct guard *)g)) {
		if (g->kind == GUARD_CONTAINER)
			v.guards_container++;
		else
			v.guards_run++;
	}
	return metrics__render(&v, f);
}

void engine__stats(const struct engine *e, struct engine_stats *ret)
{
	unsigned i;

	e = e->primary;
	*ret = e->st;
	for (i = 0; i < e->n_workers; i++) {
		const struct engine_stats *w = &e->workers[i]->st;

		ret->queries += w->queries;
		ret->blocked += w->blocked;
		ret->audited += w->audited;
		ret->cached += w->cached;
		ret->forwarded += w->forwarded;
		ret->answered += w->answered;
		ret->servfail += w->servfail;
		ret->formerr += w->formerr;
		ret->dropped += w->dropped;
	}
}

size_t engine_adapt_answer(uint8_t *buf, size_t len, const struct dns_msg *m, bool client_edns,
			   uint16_t limit)
{
	struct dns_msg cut;

	if (client_edns || !m->has_edns)
		return len > limit ? dns_truncate(buf, len, m, limit) : len;
	len = dns_strip_opt(buf, len, m);
	if (len <= limit)
		return len;
	/* Only the fields dns_truncate reads: the OPT is gone now. */
	cut.question_end = m->question_end;
	cut.has_edns = false;
	cut.opt_off = 0;
	return dns_truncate(buf, len, &cut, limit);
}

size_t engine_handle_query(struct engine *e, struct client_ref *c, const uint8_t *q, size_t len,
			   uint8_t *out, size_t cap)
{
	struct dns_msg m;
	enum policy_verdict v;
	uint32_t rule;
	size_t n;
	int r;

	e->st.queries++;
	r = dns_parse(q, len, &m);
	if (r != DNS_OK) {
		e->st.formerr++;
		e->met.errors[ME_MALFORMED]++;
		if (log_enabled(LOG_DEBUG))
			log_msg(LOG_DEBUG, "malformed query guard=%s len=%zu error=\"%s\"",
				c->g->id, len, dns_strerror(r));
		if (len < DNS_HDR_LEN || (q[2] & 0x80))
			return 0;
		m.qdcount = 0;
		m.has_edns = false;
		return dns_build_empty_reply(q, &m, DNS_RCODE_FORMERR, out, cap);
	}
	if (m.flags & DNS_FLAG_QR) {
		e->st.dropped++;
		return 0;
	}
	if (c->kind == CLIENT_UDP) {
		c->udp_limit = DNS_EDNS_MIN_UDP;
		if (m.has_edns && m.edns_udp_size > DNS_EDNS_MIN_UDP)
			c->udp_limit = m.edns_udp_size > UDP_BUF ? UDP_BUF : m.edns_udp_size;
	}
	if (DNS_OPCODE(m.flags) != 0)
		return dns_build_empty_reply(q, &m, DNS_RCODE_NOTIMP, out, cap);

	v = policy__match_rule(c->g->policy, m.qname, m.qname_len, &rule);
	if (v == VERDICT_BLOCK) {
		e->st.blocked++;
		metrics__query(&c->g->cnt, MV_BLOCKED);
		/* Before the answer: the asking process is still alive to be named. */
		engine_log_event(e, c, &m, EV_BLOCKED, rule);
		enforce_blocked_query(e, c->g, q, len, &m);
		report_query(e, c, &m, v, rule);
		return dns_build_empty_reply(q, &m, policy__refuse_rcode(c->g->policy), out, cap);
	}
	metrics__query(&c->g->cnt, v == VERDICT_AUDIT ? MV_AUDIT : MV_ALLOWED);
	if (v == VERDICT_AUDIT) {
		e->st.audited++;
		engine_log_event(e, c, &m, EV_AUDIT_MATCH, rule);
		enforce_blocked_query(e, c->g, q, len, &m);
	} else if (policy__mode(c->g->policy) == POLICY_AUDIT) {
		engine_log_event(e, c, &m, EV_AUDIT_QUERY, rule);
	} else if (log_enabled(LOG_DEBUG)) {
		log_msg(LOG_DEBUG, "DNS ALLOWED domain=%s qtype=%s policy=%s",
			m.qname_len ? m.qname : ".", dns_qtype_name(m.qtype),
			policy__name(c->g->policy));
	}
	report_query(e, c, &m, v, rule);
	n = cache__lookup(e->cache, q, &m, out, cap, now_ms());
	if (n) {
		e->st.cached++;
		e->met.cache_hits++;
		/* One parse of the cached answer serves both its uses. */
		struct dns_msg am;

		if (dns_parse(out, n, &am) != DNS_OK)
			return n;
		/* Per guard, now: the cache is shared by guards with other policies. */
		size_t refusal = answer_check(e, c, out, n, &am, m.has_edns, m.edns_do);
		if (refusal)
			return refusal;
		if (enforce_wants_answers(e, c->g))
			enforce_answer(e, c->g, out, n, &am);
		report_answer(c, out, n, &am);
		return engine_adapt_answer(out, n, &am, m.has_edns, c->udp_limit);
	}
	/* No room (its guard's share, counted and logged there, or the table): SERVFAIL
	 * at once, for this guard's query alone. */
	if (upstream_forward(e, c, q, len, &m) < 0) {
		e->st.servfail++;
		e->met.errors[ME_SERVFAIL]++;
		return dns_build_empty_reply(q, &m, DNS_RCODE_SERVFAIL, out, cap);
	}
	e->st.forwarded++;
	return 0;
}
