// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run report as JSON (docs/report.md names every field), and the shelf of
 * ended containers' reports. Written once per report, off the query path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run_report_int.h"
#include "util.h"

static const char *const verdict_names[] = {
    [RR_ALLOWED] = "allowed",
    [RR_WOULD_BLOCK] = "would-block",
    [RR_BLOCKED] = "blocked",
};

/*
 * Command lines and exe paths are a job's bytes: whatever is not UTF-8 becomes
 * U+FFFD, so the report is JSON a strict reader takes (json-c passes bytes
 * through as they are).
 */
static void put_str(json_object *o, const char *key, const char *v)
{
	size_t len = strlen(v), i = 0, n = 0, k;
	char *clean = malloc(len * 3 + 1);

	if (!clean) {
		json_object_object_add(o, key, json_object_new_string("?"));
		return;
	}
	while (i < len) {
		k = utf8_seq_len((const unsigned char *)v + i, len - i);
		if (k) {
			memcpy(clean + n, v + i, k);
			n += k;
			i += k;
		} else {
			memcpy(clean + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	json_object_object_add(o, key, json_object_new_string_len(clean, (int)n));
	free(clean);
}

static void put_time(json_object *o, const char *key, uint64_t ms)
{
	char buf[40];

	if (!ms) {
		json_object_object_add(o, key, NULL);
		return;
	}
	rr_time_str(ms, buf, sizeof(buf));
	put_str(o, key, buf);
}

static const struct rr_proc *proc_of(const struct run_report *r, uint32_t pid)
{
	uint32_t i;

	/* Written once per report: a scan keeps the lookup code in one place. */
	for (i = 0; i < r->n_procs; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	return NULL;
}

/*
 * Askers written whole per report: past this, an asker is its pid alone (its
 * cmd, exe and ancestry are in "processes"), so a job that asks 4096 names
 * from 8 processes each with long hostile command lines cannot make the
 * report hundreds of megabytes (the daemon renders it on its loop).
 */
#define RR_ASKERS_WHOLE 1024
static unsigned askers_whole;

/* {pid, cmd, exe, ancestry} of PID, as described (or "?" if it never was). */
static json_object *asker_json(const struct run_report *r, uint32_t pid)
{
	const struct rr_proc *p;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int64(pid));
	if (askers_whole >= RR_ASKERS_WHOLE)
		return o;
	askers_whole++;
	p = proc_of(r, pid);
	put_str(o, "cmd", p ? p->cmd : "?");
	put_str(o, "exe", p ? p->exe : "?");
	put_str(o, "ancestry", p ? p->ancestry : "");
	return o;
}

static json_object *name_json(const struct run_report *r, const struct rr_name *n)
{
	json_object *o = json_object_new_object(), *askers = json_object_new_array(),
		    *addrs = json_object_new_array();
	char ip[INET6_ADDRSTRLEN];
	unsigned i;

	put_str(o, "name", n->len ? n->name : ".");
	put_str(o, "verdict", verdict_names[n->verdict]);
	json_object_object_add(o, "count", json_object_new_int64(n->count));
	put_time(o, "first", n->first_ms);
	put_str(o, "rule", n->rule);
	for (i = 0; i < n->n_askers; i++)
		json_object_array_add(askers, asker_json(r, n->askers[i]));
	json_object_object_add(o, "asked_by", askers);
	for (i = 0; i < n->n_addrs; i++) {
		inet_ntop(n->addrs[i].family == 6 ? AF_INET6 : AF_INET, n->addrs[i].a, ip,
			  sizeof(ip));
		json_object_array_add(addrs, json_object_new_string(ip));
	}
	json_object_object_add(o, "addresses", addrs);
	if (n->askers_cut || n->addrs_cut)
		json_object_object_add(o, "truncated", json_object_new_boolean(1));
	return o;
}

static json_object *refusal_json(const struct run_report *r, const struct rr_refusal_ent *e)
{
	json_object *o = json_object_new_object();
	const struct rr_proc *p = proc_of(r, e->pid);

	put_str(o, "reason", e->reason);
	json_object_object_add(o, "blocked", json_object_new_boolean(e->blocked));
	put_str(o, "what", e->what);
	put_str(o, "rule", e->rule);
	json_object_object_add(o, "count", json_object_new_int64(e->count));
	put_time(o, "first", e->first_ms);
	json_object_object_add(o, "pid", json_object_new_int64(e->pid));
	put_str(o, "cmd", p ? p->cmd : "?");
	put_str(o, "exe", p ? p->exe : "?");
	return o;
}

static json_object *proc_json(const struct rr_proc *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int64(p->pid));
	json_object_object_add(o, "ppid", json_object_new_int64(p->ppid));
	put_str(o, "cmd", p->cmd);
	put_str(o, "exe", p->exe);
	put_time(o, "start", p->start_ms);
	json_object_object_add(o, "asked", json_object_new_boolean(p->asked));
	return o;
}

json_object *run_report__json(const struct run_report *r)
{
	json_object *o = json_object_new_object(), *run = json_object_new_object(),
		    *names = json_object_new_array(), *refs = json_object_new_array(),
		    *procs = json_object_new_array();
	uint32_t i;

	askers_whole = 0;
	put_str(run, "kind", r->kind);
	put_str(run, "id", r->id);
	put_str(run, "policy", r->policy);
	put_str(run, "mode", r->mode);
	put_time(run, "start", r->start_ms);
	put_time(run, "end", r->end_ms);
	json_object_object_add(run, "exit_status",
			       r->exit_status >= 0 ? json_object_new_int(r->exit_status) : NULL);
	json_object_object_add(o, "run", run);
	json_object_object_add(o, "truncated", json_object_new_boolean(r->truncated));
	for (i = 0; i < r->n_names; i++)
		json_object_array_add(names, name_json(r, r->names[i]));
	json_object_object_add(o, "names", names);
	for (i = 0; i < r->n_refusals; i++)
		json_object_array_add(refs, refusal_json(r, &r->refusals[i]));
	json_object_object_add(o, "refusals", refs);
	for (i = 0; i < r->n_procs; i++)
		json_object_array_add(procs, proc_json(&r->procs[i]));
	json_object_object_add(o, "processes", procs);
	return o;
}

struct rr_shelf {
	struct run_report *r[RR_KEEP];
	unsigned next; /* where the next one goes: the oldest when full */
};

int rr_shelf__new(struct rr_shelf **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void rr_shelf__free(struct rr_shelf *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < RR_KEEP; i++)
		run_report__free(s->r[i]);
	free(s);
}

void rr_shelf__put(struct rr_shelf *s, struct run_report *r)
{
	run_report__free(s->r[s->next]);
	s->r[s->next] = r;
	s->next = (s->next + 1) % RR_KEEP;
}

const struct run_report *rr_shelf__find(const struct rr_shelf *s, const char *id)
{
	unsigned i, at;

	for (i = 1; i <= RR_KEEP; i++) {
		at = (s->next + RR_KEEP - i) % RR_KEEP;
		if (s->r[at] && strcmp(s->r[at]->id, id) == 0)
			return s->r[at];
	}
	return NULL;
}
