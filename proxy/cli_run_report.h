/* SPDX-License-Identifier: GPL-2.0-only */
/* What `depfence run` does with its run report when the command has ended. */
#ifndef DEPFENCE_CLI_RUN_REPORT_H
#define DEPFENCE_CLI_RUN_REPORT_H

#include <stdbool.h>

#include <json-c/json.h>

#define EXPECT_MAX 256

struct report_opts {
	const char *file;   /* --report FILE */
	bool fail_on_block; /* --fail-on-block */
	const char *expect[EXPECT_MAX];
	int n_expect; /* --expect-block NAME */
};

static inline bool report_wanted(const struct report_opts *o)
{
	return o->file || o->fail_on_block;
}

/*
 * The command exited with CODE: complete REP (the run's end and exit status),
 * write it to --report's file, list refusals for --fail-on-block. REP NULL:
 * no report could be had. Returns the exit status of depfence run: CODE, or 3
 * when --fail-on-block found an unexpected refusal and CODE is 0.
 */
int report_finish(json_object *rep, const struct report_opts *o, int code);

/* True if NAME is EXPECT or a name under it. */
bool name_under(const char *name, const char *expect);

#endif
