// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run report's tables (run_report.h): names and processes, each an array
 * of entries allocated on first sight plus an open-addressed index of slot
 * numbers that doubles when half full, so a lookup is one hash and a short
 * probe whatever the size. Packet refusals are few (the BPF side sends one
 * event per refused connection, not per packet): a bounded array, scanned.
 */
#include "run_report.h"

#include <pthread.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "run_report_int.h"
#include "util.h"

uint64_t rr_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rr_time_str(uint64_t ms, char *buf, size_t cap)
{
	time_t s = ms / 1000;
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

int run_report__new(const char *kind, const char *id, const char *policy, const char *mode,
		    struct run_report **ret)
{
	struct run_report *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	copy_str(r->kind, sizeof(r->kind), kind);
	copy_str(r->id, sizeof(r->id), id);
	run_report__set_policy(r, policy, mode);
	r->start_ms = rr_wall_ms();
	r->exit_status = -1;
	*ret = r;
	return 0;
}

void run_report__free(struct run_report *r)
{
	uint32_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_names; i++)
		free(r->names[i]);
	for (i = 0; i < r->n_procs; i++) {
		free(r->procs[i].cmd);
		free(r->procs[i].exe);
		free(r->procs[i].ancestry);
	}
	free(r->names);
	free(r->name_ix.slot);
	free(r->procs);
	free(r->proc_ix.slot);
	free(r->refusals);
	free(r);
}

void run_report__set_policy(struct run_report *r, const char *policy, const char *mode)
{
	copy_str(r->policy, sizeof(r->policy), policy);
	copy_str(r->mode, sizeof(r->mode), mode);
}

void run_report__end(struct run_report *r, uint64_t end_ms, int exit_status)
{
	r->end_ms = end_ms;
	r->exit_status = exit_status;
}

/* Rebuild IX at twice its size; HASH_OF(r, slot) rehashes an entry. */
static int index_grow(struct run_report *r, struct rr_index *ix, uint32_t n,
		      uint64_t (*hash_of)(const struct run_report *, uint32_t))
{
	uint32_t cap = ix->cap ? ix->cap * 2 : 64, i;
	uint32_t *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint32_t at = hash_of(r, i) & (cap - 1);

		while (slot[at])
			at = (at + 1) & (cap - 1);
		slot[at] = i + 1;
	}
	free(ix->slot);
	ix->slot = slot;
	ix->cap = cap;
	return 0;
}

/*
 * Seeded per process from getrandom(): names are a job's choice, and with a
 * fixed seed it could pick 4096 that share one probe chain (90x the CPU per
 * query, measured by a review).
 */
static uint64_t seed;

static void seed_once(void)
{
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || !seed)
		seed = DF_FNV_SEED ^ (uint64_t)now_ms();
}

/* Once per process, whichever engine worker asks first (proxy/workers.c). */
static uint64_t name_hash(const char *name, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, seed_once);
	return df_fnv1a(seed, name, len);
}

static uint64_t name_hash_of(const struct run_report *r, uint32_t i)
{
	return name_hash(r->names[i]->name, r->names[i]->len);
}

static uint64_t pid_hash(uint32_t pid)
{
	return df_fnv1a(DF_FNV_SEED, &pid, sizeof(pid));
}

static uint64_t pid_hash_of(const struct run_report *r, uint32_t i)
{
	return pid_hash(r->procs[i].pid);
}

/* The index slot where NAME is, or the empty one where it would go. */
static uint32_t *name_slot(const struct run_report *r, const char *name, size_t len)
{
	uint32_t mask = r->name_ix.cap - 1, at = name_hash(name, len) & mask;

	for (;; at = (at + 1) & mask) {
		uint32_t *s = &r->name_ix.slot[at];
		const struct rr_name *n = *s ? r->names[*s - 1] : NULL;

		if (!n || (n->len == len && memcmp(n->name, name, len) == 0))
			return s;
	}
}

static struct rr_name *name_find(const struct run_report *r, const char *name, size_t len)
{
	uint32_t *s;

	if (!r->name_ix.cap)
		return NULL;
	s = name_slot(r, name, len);
	return *s ? r->names[*s - 1] : NULL;
}

static struct rr_name *name_add(struct run_report *r, const char *name, size_t len, uint64_t now_ms)
{
	struct rr_name *n;
	uint32_t *s;

	if (r->n_names >= RR_MAX_NAMES) {
		r->truncated = true;
		return NULL;
	}
	if ((r->n_names + 1) * 2 > r->name_ix.cap &&
	    index_grow(r, &r->name_ix, r->n_names, name_hash_of) < 0)
		return NULL;
	if (r->n_names == r->names_cap) {
		uint32_t cap = r->names_cap ? r->names_cap * 2 : 32;
		struct rr_name **a = realloc(r->names, cap * sizeof(*a));

		if (!a)
			return NULL;
		r->names = a;
		r->names_cap = cap;
	}
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	memcpy(n->name, name, len);
	n->len = len;
	n->first_ms = now_ms;
	s = name_slot(r, name, len);
	r->names[r->n_names++] = n;
	*s = r->n_names;
	return n;
}

static struct rr_proc *proc_find(const struct run_report *r, uint32_t pid)
{
	uint32_t mask = r->proc_ix.cap - 1, at;

	if (!r->proc_ix.cap)
		return NULL;
	for (at = pid_hash(pid) & mask; r->proc_ix.slot[at]; at = (at + 1) & mask)
		if (r->procs[r->proc_ix.slot[at] - 1].pid == pid)
			return &r->procs[r->proc_ix.slot[at] - 1];
	return NULL;
}

bool run_report__has_proc(const struct run_report *r, uint32_t pid)
{
	return !pid || r->n_procs >= RR_MAX_PROCS || proc_find(r, pid);
}

/* A process already described that now asked itself (it was only an ancestor). */
static bool mark_asked(struct run_report *r, uint32_t pid)
{
	struct rr_proc *p;

	if (!pid)
		return false;
	p = proc_find(r, pid);
	if (p) {
		p->asked = true;
		return false;
	}
	return !run_report__has_proc(r, pid);
}

/* PID among N's askers: false when it was already. */
static bool name_asker(struct rr_name *n, uint32_t pid)
{
	unsigned i;

	for (i = 0; i < n->n_askers; i++)
		if (n->askers[i] == pid)
			return false;
	if (n->n_askers < RR_ASKERS)
		n->askers[n->n_askers++] = pid;
	else
		n->askers_cut = true;
	return true;
}

bool run_report__query(struct run_report *r, const char *name, size_t len, enum rr_verdict v,
		       uint32_t pid, uint64_t now_ms, char **ret_rule)
{
	struct rr_name *n = name_find(r, name, len);

	*ret_rule = NULL;
	if (!n && !(n = name_add(r, name, len, now_ms)))
		return false;
	n->count++;
	if (v > n->verdict || !n->rule[0]) {
		n->verdict = v;
		/* "default" until the caller writes it: never an empty rule. */
		copy_str(n->rule, sizeof(n->rule), "default");
		*ret_rule = n->rule;
	}
	if (!pid || !name_asker(n, pid))
		return false; /* known asker of a known name: the common case */
	return mark_asked(r, pid);
}

void run_report__late_verdict(struct run_report *r, const char *name, size_t len, enum rr_verdict v,
			      char **ret_rule)
{
	struct rr_name *n = name_find(r, name, len);

	*ret_rule = NULL;
	if (!n || v <= n->verdict)
		return;
	n->verdict = v;
	copy_str(n->rule, sizeof(n->rule), "default");
	*ret_rule = n->rule;
}

/* ADDR (FAM 4 or 6) among N's addresses, once. */
static void name_address(struct rr_name *n, uint8_t fam, const uint8_t *addr)
{
	size_t alen = fam == 6 ? 16 : 4;
	unsigned i;

	for (i = 0; i < n->n_addrs; i++)
		if (n->addrs[i].family == fam && memcmp(n->addrs[i].a, addr, alen) == 0)
			return;
	if (n->n_addrs == RR_ADDRS) {
		n->addrs_cut = true;
		return;
	}
	n->addrs[n->n_addrs].family = fam;
	memset(n->addrs[n->n_addrs].a, 0, sizeof(n->addrs[0].a));
	memcpy(n->addrs[n->n_addrs].a, addr, alen);
	n->n_addrs++;
}

void run_report__address(struct run_report *r, const char *name, size_t len, int family,
			 const uint8_t *addr)
{
	struct rr_name *n = name_find(r, name, len);

	if (n)
		name_address(n, family == AF_INET6 ? 6 : 4, addr);
}

/* The entry of F's refusals in R (counted), a new one (*FRESH), or NULL: full. */
static struct rr_refusal_ent *refusal_add(struct run_report *r, const struct rr_refusal *f,
					  uint64_t now_ms, bool *fresh)
{
	struct rr_refusal_ent *e;
	uint32_t i;

	*fresh = false;
	for (i = 0; i < r->n_refusals; i++) {
		e = &r->refusals[i];
		if (e->pid == f->pid && e->blocked == f->blocked &&
		    strcmp(e->reason, f->reason) == 0 && strcmp(e->what, f->what) == 0) {
			e->count += f->count ? f->count : 1;
			return e;
		}
	}
	if (r->n_refusals >= RR_MAX_REFUSALS) {
		r->truncated = true;
		return NULL;
	}
	if (!r->refusals && !(r->refusals = calloc(RR_MAX_REFUSALS, sizeof(*r->refusals))))
		return NULL;
	e = &r->refusals[r->n_refusals++];
	e->count = f->count ? f->count : 1;
	e->first_ms = now_ms;
	e->pid = f->pid;
	e->blocked = f->blocked;
	copy_str(e->reason, sizeof(e->reason), f->reason);
	copy_str(e->rule, sizeof(e->rule), f->rule);
	copy_str(e->what, sizeof(e->what), f->what);
	*fresh = true;
	return e;
}

bool run_report__refusal(struct run_report *r, const struct rr_refusal *f, uint64_t now_ms)
{
	bool fresh;

	refusal_add(r, f, now_ms, &fresh);
	return fresh && mark_asked(r, f->pid);
}

void run_report__add_proc(struct run_report *r, uint32_t pid, uint32_t ppid, uint64_t start_ms,
			  const char *cmd, const char *exe, const char *ancestry, bool asked)
{
	struct rr_proc *p;
	uint32_t at, mask;

	if (!pid || proc_find(r, pid))
		return;
	if (r->n_procs >= RR_MAX_PROCS) {
		r->truncated = true;
		return;
	}
	if ((r->n_procs + 1) * 2 > r->proc_ix.cap &&
	    index_grow(r, &r->proc_ix, r->n_procs, pid_hash_of) < 0)
		return;
	if (r->n_procs == r->procs_cap) {
		uint32_t cap = r->procs_cap ? r->procs_cap * 2 : 16;
		struct rr_proc *a = realloc(r->procs, cap * sizeof(*a));

		if (!a)
			return;
		r->procs = a;
		r->procs_cap = cap;
	}
	p = &r->procs[r->n_procs];
	*p = (struct rr_proc){.pid = pid, .ppid = ppid, .start_ms = start_ms, .asked = asked};
	p->cmd = strdup(cmd ? cmd : "?");
	p->exe = strdup(exe ? exe : "?");
	p->ancestry = strdup(ancestry ? ancestry : "");
	if (!p->cmd || !p->exe || !p->ancestry) {
		free(p->cmd);
		free(p->exe);
		free(p->ancestry);
		return;
	}
	mask = r->proc_ix.cap - 1;
	for (at = pid_hash(pid) & mask; r->proc_ix.slot[at]; at = (at + 1) & mask)
		;
	r->proc_ix.slot[at] = ++r->n_procs;
}

size_t run_report__n_names(const struct run_report *r)
{
	return r->n_names;
}

bool run_report__truncated(const struct run_report *r)
{
	return r->truncated;
}

void run_report__merge(struct run_report *dst, struct run_report *src)
{
	struct rr_refusal_ent *e;
	struct rr_name *n;
	uint32_t i, j;
	bool fresh;

	for (i = 0; i < src->n_names; i++) {
		struct rr_name *s = src->names[i];

		if (!(n = name_find(dst, s->name, s->len)) &&
		    (!s->count || !(n = name_add(dst, s->name, s->len, s->first_ms))))
			continue;
		n->count += s->count;
		s->count = 0;
		if (s->first_ms < n->first_ms)
			n->first_ms = s->first_ms;
		if (s->verdict > n->verdict || !n->rule[0]) {
			n->verdict = s->verdict;
			copy_str(n->rule, sizeof(n->rule), s->rule);
		}
		for (j = 0; j < s->n_askers; j++)
			if (name_asker(n, s->askers[j]))
				mark_asked(dst, s->askers[j]);
		for (j = 0; j < s->n_addrs; j++)
			name_address(n, s->addrs[j].family, s->addrs[j].a);
		n->askers_cut |= s->askers_cut;
		n->addrs_cut |= s->addrs_cut;
	}
	for (i = 0; i < src->n_procs; i++) {
		const struct rr_proc *p = &src->procs[i];

		if (p->asked)
			mark_asked(dst, p->pid);
		run_report__add_proc(dst, p->pid, p->ppid, p->start_ms, p->cmd, p->exe, p->ancestry,
				     p->asked);
	}
	for (i = 0; i < src->n_refusals; i++) {
		struct rr_refusal_ent *s = &src->refusals[i];

		if (!s->count)
			continue; /* gathered before, nothing since */
		e = refusal_add(dst,
				&(struct rr_refusal){.reason = s->reason,
						     .rule = s->rule,
						     .what = s->what,
						     .pid = s->pid,
						     .blocked = s->blocked,
						     .count = s->count},
				s->first_ms, &fresh);
		if (e && !fresh && s->first_ms < e->first_ms)
			e->first_ms = s->first_ms;
		s->count = 0;
	}
	dst->truncated |= src->truncated;
}
