/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The engine's side of the run report (report_collect.c): called at the few
 * places the engine decides, each a no-op for a guard without a report.
 */
#ifndef DEPFENCE_REPORT_COLLECT_H
#define DEPFENCE_REPORT_COLLECT_H

#include <json-c/json.h>

#include "dns_wire.h"
#include "dnsguard_api.h"
#include "policy.h"

struct engine;
struct guard;
struct client_ref;

/* The query M of C was decided V by RULE (engine_handle_query). */
void report_query(struct engine *e, const struct client_ref *c, const struct dns_msg *m,
		  enum policy_verdict v, uint32_t rule);
/*
 * The query M of C, allowed when asked, was refused by its answer: V by RULE
 * (a CNAME chain, answer_check.c), or by the enclosing guard (RULE 0, a nested
 * run's forward refused: "enclosing").
 */
void report_late_refusal(const struct client_ref *c, const struct dns_msg *m, enum policy_verdict v,
			 uint32_t rule, bool enclosing);
/* The answer BUF (parsed as M) goes to C as it is: the addresses it hands out. */
void report_answer(const struct client_ref *c, const uint8_t *buf, size_t len,
		   const struct dns_msg *m);
/*
 * COUNT packet or socket refusals like EV of G (enforce.c), REASON and RULE as
 * the line names them: the event itself (1), or refusals the BPF side counted
 * without an event after it (its rate limit).
 */
void report_refusal(struct guard *g, const struct df_event *ev, const char *reason,
		    const char *rule, uint64_t count);
/* G's report, made when it is added; when it is removed kept (a container) or freed. */
int report_guard_added(struct guard *g);
void report_guard_removed(struct guard *g);
/*
 * The report of the guard named ID as JSON (a new reference): a live guard, or
 * a container that ended lately (the last RR_KEEP). NULL: none.
 */
json_object *engine__report_json(struct engine *e, const char *id);

/* attrib.c: who sent C's query (all 0: no one we can name), memoised per batch. */
struct df_pids engine_sender(struct engine *e, const struct client_ref *c);

#endif
