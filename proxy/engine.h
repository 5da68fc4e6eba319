/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The DNS proxy engine, shared by the daemon and the embedded proxy of
 * `depfence run`: per-guard listeners, the policy decision, the block line,
 * forwarding to upstreams and their timeouts.
 */
#ifndef DEPFENCE_ENGINE_H
#define DEPFENCE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "loop.h"
#include "policy.h"
#include "util.h"

struct dnsguard;
struct engine;
struct guard;

#define ENGINE_MAX_UPSTREAMS 8

struct engine_opts {
	struct sockaddr_storage upstreams[ENGINE_MAX_UPSTREAMS];
	socklen_t upstream_lens[ENGINE_MAX_UPSTREAMS];
	int n_upstreams;
	int try_timeout_ms;    /* one upstream attempt; default 500 */
	int servfail_after_ms; /* give up and answer SERVFAIL; default 1500 */
	int cache_entries;     /* answers kept; 0: CACHE_DEFAULT_ENT, < 0: no cache */
	int pending_per_guard; /* upstream queries one guard may have waiting; 0: a default */
	struct dnsguard *bpf;  /* maps the guards are written to */
	bool nested;	       /* our upstream is an enclosing guard: its REFUSED is a block */
	bool log_full_cmdline; /* every guard: command lines logged unredacted (redact.h) */
	/* Worker threads serving the guards (proxy/workers.c); 0: this engine serves
	 * them on the caller's loop (depfence run's embedded proxy). */
	int workers;
	/* Workers one guard's UDP queries spread over (engine_int.h: replicas), 1 to
	 * DF_SPREAD_MAX, at most the workers; 0: 1. */
	int spread;
	struct loop *loop;
};

enum guard_kind {
	GUARD_RUN = 0,
	GUARD_CONTAINER,
};

struct guard_spec {
	enum guard_kind kind;
	const char *id;		 /* run id or container id */
	const char *cgroup_path; /* absolute path of the cgroup v2 directory */
	uint64_t cgid;		 /* its id, from an fd the caller opened (registry_add) */
	const char *netns_path;	 /* NULL: the engine's own netns */
	struct policy *policy;	 /* see owns_policy */
	bool owns_policy;	 /* the guard frees it (an inline policy) */
	bool full_cmdline;	 /* its command lines logged unredacted (--log-full-cmdline) */
};

int engine__new(const struct engine_opts *opts, struct engine **ret, struct df_err *err);
void engine__free(struct engine *e);

/*
 * Register a cgroup: listeners in its netns, then the BPF guard entry, in that
 * order, so by the time this returns 0 the cgroup's first query is answered.
 * On error nothing is left behind.
 */
int engine__add_guard(struct engine *e, const struct guard_spec *spec, struct guard **ret,
		      struct df_err *err);
/*
 * Delete the BPF entry, close the listeners, drop in-flight queries. A guard
 * that owns its policy (an inline one) first removes the guards that share
 * it (containers started inside its job), which cannot outlive the job.
 */
void engine__remove_guard(struct engine *e, struct guard *g);
/* The first guard named ID (container ids may repeat across runtimes; run ids do not). */
struct guard *engine__find_guard(struct engine *e, const char *id);
struct guard *engine__first_guard(struct engine *e);
struct guard *engine__next_guard(struct engine *e, struct guard *g);

/* G's inline policy goes back to whoever built it (a registration undone). */
void guard__disown_policy(struct guard *g);
/* Guard accessors, for status output. */
const char *guard__id(const struct guard *g);
enum guard_kind guard__kind(const struct guard *g);
const char *guard__cgroup(const struct guard *g);
const char *guard__policy_name(const struct guard *g);
/* The guard's policy: a guard registered inside it may share it (see engine__remove_guard). */
struct policy *guard__policy(const struct guard *g);
time_t guard__since(const struct guard *g);
uint64_t guard__cgroup_id(const struct guard *g);
/*
 * Delete map entries (CIDR rules, learned addresses) of every policy no guard
 * uses: what a crashed daemon left. Returns how many.
 */
int engine__purge_stale_policies(struct engine *e);
/*
 * SIGHUP reload: every guard that uses OLD moves to NEW_P, in an order that
 * never leaves one without its rules (docs/design.md, Policies). The caller
 * frees OLD afterwards.
 */
void engine__replace_policy(struct engine *e, struct policy *old, struct policy *new_p);

/*
 * Workers: start their threads (after the daemon dropped its privileges and
 * installed its system-call filter, which they inherit). Until then the
 * primary may add guards to them: nothing runs there yet.
 */
int engine__start_workers(struct engine *e, struct df_err *err);
/* How many workers serve one guard's UDP queries (opts.spread, at most the workers). */
unsigned engine__spread(const struct engine *e);
/*
 * Hold every worker between two of its loop turns, so the caller may touch
 * any guard (register, remove, reload, status); resume lets them go on. The
 * daemon holds them for each turn of its control loop. No-ops without workers.
 */
void engine__pause(struct engine *e);
void engine__resume(struct engine *e);
/* Join the workers' threads: from then on every engine is the caller's (shutdown). */
void engine__stop_workers(struct engine *e);

/* Milliseconds until the next timer is due (-1: none), and run the due ones. */
int engine__next_timeout(struct engine *e);
void engine__tick(struct engine *e);

struct engine_stats {
	uint64_t queries, blocked, audited, cached, forwarded, answered, servfail, formerr, dropped;
};
void engine__stats(const struct engine *e, struct engine_stats *ret);

/* What `depfence status` shows of a guard (metrics.h has what each counts). */
struct guard_status {
	uint64_t queries, blocked, would_block, packets_blocked, over_share;
	time_t last_block; /* 0: never */
	unsigned worker;   /* the engine worker that serves it, from 1 (0: the engine itself) */
	unsigned spread;   /* workers its UDP queries go to: that one and its replicas' */
	struct {
		unsigned worker;
		uint64_t queries;
	} served[DF_SPREAD_MAX]; /* spread of them: who decided how many of its queries */
};
void guard__status(const struct guard *g, struct guard_status *ret);
/* The Prometheus text exposition of E's counters into F (metrics.c). Returns 0 or -errno. */
int engine__render_metrics(const struct engine *e, FILE *f);

#endif
