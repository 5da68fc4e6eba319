// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfence run --report / --fail-on-block / --expect-block: the report the
 * proxy collected (embedded, or asked of depfenced before run-stop), finished
 * with the command's end, written out, and gated on.
 */
#include "cli_run_report.h"

#include <stdio.h>
#include <string.h>

#include "ctl_proto.h"
#include "log.h"
#include "run_report.h"

#define FAIL_ON_BLOCK_STATUS 3

bool name_under(const char *name, const char *expect)
{
	size_t n = strlen(name), e = strlen(expect);

	while (e && expect[e - 1] == '.')
		e--;
	if (n < e || strncasecmp(name + n - e, expect, e) != 0)
		return false;
	return n == e || name[n - e - 1] == '.';
}

static bool expected(const struct report_opts *o, const char *name)
{
	int i;

	for (i = 0; i < o->n_expect; i++)
		if (name_under(name, o->expect[i]))
			return true;
	return false;
}

static const char *str_of(json_object *o, const char *key)
{
	return ctl_get_str(o, key) ?: "?";
}

/* The first process that asked for name N: "pid P: CMD". */
static void first_asker(json_object *n, char *buf, size_t cap)
{
	json_object *askers, *a;

	if (!json_object_object_get_ex(n, "asked_by", &askers) ||
	    !(a = json_object_array_get_idx(askers, 0))) {
		snprintf(buf, cap, "no process named");
		return;
	}
	/* The command line is the job's bytes: quoted, so it cannot forge a line
	 * of this listing or steer the terminal. */
	char q[1024];
	const char *cmd = str_of(a, "cmd");

	logfmt_quote(q, sizeof(q), cmd, strlen(cmd));
	snprintf(buf, cap, "pid %s: %s", json_object_get_string(json_object_object_get(a, "pid")),
		 q);
}

/* Print every refusal of REP; how many were not expected. */
static int list_refusals(json_object *rep, const struct report_opts *o)
{
	json_object *names, *refs;
	int bad = 0, all_names_expected = 1;
	size_t i;
	char who[1200];

	if (json_object_object_get_ex(rep, "names", &names))
		for (i = 0; i < json_object_array_length(names); i++) {
			json_object *n = json_object_array_get_idx(names, i);
			const char *v = str_of(n, "verdict"), *name = str_of(n, "name");
			bool exp;

			if (strcmp(v, "allowed") == 0)
				continue;
			exp = expected(o, name);
			bad += !exp;
			all_names_expected &= exp;
			first_asker(n, who, sizeof(who));
			fprintf(stderr, "depfence: %s%s: %s rule=%s count=%s (%s)\n",
				strcmp(v, "blocked") == 0 ? "blocked" : "would block",
				exp ? " (expected)" : "", name, str_of(n, "rule"),
				json_object_get_string(json_object_object_get(n, "count")), who);
		}
	if (json_object_object_get_ex(rep, "refusals", &refs))
		for (i = 0; i < json_object_array_length(refs); i++) {
			json_object *f = json_object_array_get_idx(refs, i);
			/* An address a blocked name handed out: expected when that name was. */
			bool exp = strcmp(str_of(f, "rule"), "learned") == 0 &&
				   all_names_expected && o->n_expect;

			bad += !exp;
			fprintf(stderr, "depfence: %s%s: %s %s rule=%s (pid %s: %s)\n",
				json_object_get_boolean(json_object_object_get(f, "blocked"))
				    ? "packet blocked"
				    : "packet would be blocked",
				exp ? " (expected)" : "", str_of(f, "reason"), str_of(f, "what"),
				str_of(f, "rule"),
				json_object_get_string(json_object_object_get(f, "pid")),
				str_of(f, "cmd"));
		}
	return bad;
}

static int write_report(json_object *rep, const char *file)
{
	const char *s = json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE);
	FILE *f = fopen(file, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fputs(s, f) < 0 || fputc('\n', f) < 0)
		r = -EIO;
	if (fclose(f) != 0 && !r)
		r = -errno;
	return r;
}

int report_finish(json_object *rep, const struct report_opts *o, int code)
{
	json_object *run;
	char end[40];
	int bad, r;

	if (!rep) {
		log_msg(LOG_ERROR, "depfence run: no run report to write");
		return code ? code : o->fail_on_block ? FAIL_ON_BLOCK_STATUS : code;
	}
	if (json_object_object_get_ex(rep, "run", &run)) {
		rr_time_str(rr_wall_ms(), end, sizeof(end));
		json_object_object_add(run, "end", json_object_new_string(end));
		json_object_object_add(run, "exit_status", json_object_new_int(code));
	}
	if (o->file && (r = write_report(rep, o->file)) < 0)
		log_msg(LOG_ERROR, "depfence run: write report %s: %s", o->file, strerror(-r));
	if (!o->fail_on_block)
		return code;
	bad = list_refusals(rep, o);
	if (bad)
		fprintf(stderr, "depfence: %d refusal%s not expected (--fail-on-block)\n", bad,
			bad == 1 ? "" : "s");
	return code ? code : bad ? FAIL_ON_BLOCK_STATUS : 0;
}
