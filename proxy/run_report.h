/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The run report: what one guard's job looked up, who asked, what the answers
 * handed out and which packets were refused (docs/report.md). One table per
 * guard, filled where the engine decides and written as one JSON object when
 * the job ends (depfence run --report) or when asked (depfence report).
 *
 * Bounded: at most RR_MAX_NAMES names, RR_MAX_PROCS processes, RR_MAX_REFUSALS
 * distinct packet refusals; past a cap the report says "truncated": true.
 * The query path is O(1): a name is hashed into an open-addressed table, and an
 * entry (with its copy of the name) is allocated only when a name is first seen;
 * a known name costs a hash, a probe and a few counters.
 */
#ifndef DEPFENCE_RUN_REPORT_H
#define DEPFENCE_RUN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define RR_MAX_NAMES	4096
#define RR_MAX_PROCS	1024
#define RR_MAX_REFUSALS 256
#define RR_ASKERS	8  /* processes named per name */
#define RR_ADDRS	16 /* addresses kept per name */
#define RR_RULE_MAX	64
#define RR_KEEP		64 /* reports of ended containers kept by the daemon */

enum rr_verdict {
	RR_ALLOWED = 0,
	RR_WOULD_BLOCK, /* audit mode: a block rule matched, the query went on */
	RR_BLOCKED,
};

struct run_report;

/* KIND "run" or "container"; ID, POLICY and MODE are copied. */
int run_report__new(const char *kind, const char *id, const char *policy, const char *mode,
		    struct run_report **ret);
void run_report__free(struct run_report *r);
/* The policy a reload moved the guard to (named in the report from then on). */
void run_report__set_policy(struct run_report *r, const char *policy, const char *mode);
/* The job ended at END_MS (wall clock, ms); EXIT_STATUS < 0: unknown. */
void run_report__end(struct run_report *r, uint64_t end_ms, int exit_status);

/*
 * One query for NAME (LEN bytes, dns_parse() form) decided as V, sent by PID
 * (0: unknown). A stronger verdict replaces a weaker one (a reload may block
 * what was allowed); then, and on a name's first query, *RET_RULE is where the
 * caller writes the deciding rule (policy__rule_str() form, RR_RULE_MAX bytes),
 * else NULL: a known name costs no formatting. Returns true when PID is a
 * process the report has not described yet: the caller then calls
 * run_report__add_proc().
 */
bool run_report__query(struct run_report *r, const char *name, size_t len, enum rr_verdict v,
		       uint32_t pid, uint64_t now_ms, char **ret_rule);
/*
 * NAME, already counted by run_report__query, was refused after all (its
 * answer's CNAME chain, or the enclosing guard of a nested run): the verdict
 * is raised to V without counting the query again; *RET_RULE as above.
 */
void run_report__late_verdict(struct run_report *r, const char *name, size_t len, enum rr_verdict v,
			      char **ret_rule);
/* An address (FAMILY AF_INET/AF_INET6, 4 or 16 bytes) an answer for NAME handed out. */
void run_report__address(struct run_report *r, const char *name, size_t len, int family,
			 const uint8_t *addr);
/* A packet or socket refusal; BLOCKED false: audit mode, logged only. */
struct rr_refusal {
	const char *reason, *rule, *what; /* WHAT: "ip:port/proto", or the socket refused */
	uint32_t pid;
	bool blocked;
	uint64_t count; /* refusals alike (0: one) */
};
/* Returns true when PID wants describing, as run_report__query. */
bool run_report__refusal(struct run_report *r, const struct rr_refusal *f, uint64_t now_ms);
/* True if PID is described already (or the process table is full). */
bool run_report__has_proc(const struct run_report *r, uint32_t pid);
/*
 * Describe PID: its parent, start (wall clock ms, 0: unknown), command line,
 * binary and ancestry (already redacted). ASKED: it looked something up or was
 * refused itself (false: an ancestor of one that did). Strings are copied.
 */
void run_report__add_proc(struct run_report *r, uint32_t pid, uint32_t ppid, uint64_t start_ms,
			  const char *cmd, const char *exe, const char *ancestry, bool asked);

/*
 * SRC's entries into DST: counts added (and SRC's zeroed, so the next merge adds
 * only what came since), verdicts the stronger, askers, addresses and processes
 * joined. SRC keeps its entries: an answer still on its way lands there (an
 * address, a late verdict) and reaches DST with the next merge. A guard's
 * replicas keep reports of their own (engine_int.h), merged into the guard's
 * whenever it is read, and when the guard goes.
 */
void run_report__merge(struct run_report *dst, struct run_report *src);

/* The report as one JSON object (a new reference). */
json_object *run_report__json(const struct run_report *r);
/* Names seen so far, and whether a cap was reached (tests). */
size_t run_report__n_names(const struct run_report *r);
bool run_report__truncated(const struct run_report *r);

/*
 * The shelf: the last RR_KEEP reports of ended containers, for `depfence report
 * --container ID` after the container is gone. Memory only: a daemon restart
 * forgets them.
 */
struct rr_shelf;
int rr_shelf__new(struct rr_shelf **ret);
void rr_shelf__free(struct rr_shelf *s);
/* S takes R (the oldest one kept goes when full). */
void rr_shelf__put(struct rr_shelf *s, struct run_report *r);
/* The newest report kept for container ID, or NULL. */
const struct run_report *rr_shelf__find(const struct rr_shelf *s, const char *id);

/* ISO 8601 UTC with milliseconds ("2026-11-24T10:00:00.123Z") of MS into BUF (>= 32). */
void rr_time_str(uint64_t ms, char *buf, size_t cap);
uint64_t rr_wall_ms(void);

#endif
