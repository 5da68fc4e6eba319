/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Counters for `depfence status` and the Prometheus endpoint. The engine bumps
 * them where it decides (engine.c, answer_check.c, upstream.c, enforce.c): plain
 * increments, no lookup, no allocation. Labels are bounded: policy names (files
 * in the config dir, "inline", "builtin"), fixed reasons and kinds; never a
 * domain or a pid.
 */
#ifndef DEPFENCE_METRICS_H
#define DEPFENCE_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Rows of per-policy counters; policies past this share the last row, "other". */
#define METRICS_MAX_POLICIES 64
#define METRICS_POLICY_NAME  64
/* enum df_event_reason values are 1..8; 0 is an unknown one. */
#define METRICS_REASONS 9
/* Upstream latency bucket bounds, in milliseconds (the le= labels are seconds). */
#define METRICS_LAT_BOUNDS                                                                         \
	{                                                                                          \
		1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000                               \
	}
#define METRICS_LAT_N 12

enum metrics_verdict {
	MV_ALLOWED = 0,
	MV_BLOCKED,
	MV_AUDIT, /* would have been blocked: audit mode or an audit rule */
	MV__N,
};

enum metrics_error {
	ME_SERVFAIL = 0,     /* SERVFAIL answered: no upstream answered in time, unreadable chain */
	ME_UPSTREAM_TIMEOUT, /* one upstream attempt that timed out (retries count again) */
	ME_MALFORMED,	     /* a query that did not parse */
	ME_GUARD_QUOTA,	     /* SERVFAIL: the guard held its share of pending upstream queries */
	ME_TCP_QUOTA,	  /* a TCP client closed at once: its guard's share, or the table, full */
	ME_LEARN_SKIPPED, /* a learning query not sent: the learning reserve was full */
	ME__N,
};

/* Why an upstream answer was thrown away (RFC 5452 checks), each counted. */
enum metrics_drop {
	MD_UNKNOWN_ID = 0, /* no query waits with that id: a late answer, or a guess */
	MD_PORT,	   /* its query went out on another socket (source port) */
	MD_QUESTION,	   /* the question is not the one asked */
	MD_CASE,	   /* the question matches but for its 0x20 case */
	MD__N,
};

/* What one policy's guards saw, alive or gone: Prometheus counters never go back. */
struct policy_counters {
	char name[METRICS_POLICY_NAME];
	uint64_t queries[MV__N];
	uint64_t packets[METRICS_REASONS]; /* refused connects and sends, by reason */
};

/* One guard's counters (struct guard's cnt), for `depfence status`. */
struct guard_counters {
	uint64_t queries;	    /* every query its proxy decided */
	uint64_t blocked;	    /* refused: by name, or by its answer's CNAME chain */
	uint64_t would_block;	    /* audit: a block rule matched, the answer went out */
	uint64_t packets_blocked;   /* connects and sends the BPF programs refused */
	uint64_t over_share;	    /* SERVFAIL: it held its share of pending upstream queries */
	time_t last_block;	    /* the last refusal of either kind; 0: none */
	struct policy_counters *pc; /* its policy's row (metrics__policy_row) */
};

struct engine_metrics {
	struct policy_counters pol[METRICS_MAX_POLICIES];
	unsigned n_pol;
	uint64_t cache_hits;
	uint64_t errors[ME__N];
	uint64_t dropped[MD__N];
	uint64_t lat_bucket[METRICS_LAT_N]; /* not cumulative: the renderer sums them */
	uint64_t lat_count, lat_sum_us;
};

/* The row of policy NAME, made on first use (at guard registration, never per query). */
struct policy_counters *metrics__policy_row(struct engine_metrics *m, const char *name);
/* SRC's counts added to DST's (each engine worker counts its own; status shows the sum). */
void metrics__add(struct engine_metrics *dst, const struct engine_metrics *src);

static inline void metrics__query(struct guard_counters *gc, enum metrics_verdict v)
{
	gc->queries++;
	gc->pc->queries[v]++;
	if (v == MV_BLOCKED) {
		gc->blocked++;
		gc->last_block = time(NULL);
	} else if (v == MV_AUDIT) {
		gc->would_block++;
	}
}

/*
 * A refusal after the question was counted allowed (its answer's CNAME chain
 * names a blocked name): no second query for the guard; per policy it counts
 * under both verdicts, since a counter that went back would read as a reset.
 */
static inline void metrics__late_refusal(struct guard_counters *gc, enum metrics_verdict v)
{
	gc->queries--;
	metrics__query(gc, v);
}

static inline void metrics__packet(struct guard_counters *gc, unsigned reason)
{
	gc->packets_blocked++;
	gc->last_block = time(NULL);
	gc->pc->packets[reason < METRICS_REASONS ? reason : 0]++;
}

/* N refusals of REASON the BPF side counted without an event (its rate limit). */
static inline void metrics__packets(struct guard_counters *gc, unsigned reason, uint64_t n)
{
	gc->packets_blocked += n;
	gc->last_block = time(NULL);
	gc->pc->packets[reason < METRICS_REASONS ? reason : 0] += n;
}

void metrics__latency(struct engine_metrics *m, uint64_t us);

/* What the renderer needs besides the engine's counters: gathered at scrape time. */
struct metrics_view {
	const struct engine_metrics *m;
	unsigned guards_run, guards_container;
	const char *const *reason_names; /* METRICS_REASONS entries */
};

/* Prometheus text exposition format 0.0.4 of V into F. Returns 0 or -errno. */
int metrics__render(const struct metrics_view *v, FILE *f);
/*
 * The BPF programs' counters as one family, depfence_kernel_events_total
 * {counter="NAMES[i]"} VALS[i], for i < N (dnsguard__counters: the daemon
 * appends it to metrics__render's). Returns 0 or -errno.
 */
int metrics__render_kernel(FILE *f, const char *const *names, const uint64_t *vals, unsigned n);

#endif
