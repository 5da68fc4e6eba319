/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket protocol between depfenced and its clients (depfence,
 * depfence-hook): one JSON object per line over a unix stream socket at
 * STATEDIR/depfenced.sock. Every request has "op"; every reply has "ok" and,
 * when ok is false, "error". See docs/design.md for the operations.
 */
#ifndef DEPFENCE_CTL_PROTO_H
#define DEPFENCE_CTL_PROTO_H

#include <stdbool.h>

#include "cgroup_limits.h"

#include <json-c/json.h>

#include "paths.h"
#include "util.h"

#define CTL_MAX_LINE  (64 * 1024)	/* a request */
#define CTL_MAX_REPLY (8 * 1024 * 1024) /* a reply: status of every guard fits */

static inline void json_putp(json_object **j)
{
	if (*j)
		json_object_put(*j);
	*j = NULL;
}
#define _cleanup_json_ _cleanup_(json_putp)

/*
 * Connect to STATE_DIR's control socket. -ENOENT / -ECONNREFUSED mean no
 * daemon is there; anything else is an error worth reporting.
 */
int ctl_connect(const char *state_dir, int *ret_fd);
/* Send REQ and wait up to TIMEOUT_MS for the one-line reply. */
int ctl_call(int fd, json_object *req, int timeout_ms, json_object **ret_reply, struct df_err *err);
/* Write one object as a line. */
int ctl_send(int fd, json_object *obj);
/*
 * Take complete lines out of BUF (LEN bytes used): calls ON_LINE for each and
 * shifts the rest to the front. Returns the new length, or -EMSGSIZE when a
 * line passes CTL_MAX_LINE.
 */
long ctl_take_lines(char *buf, size_t len, void (*on_line)(void *ctx, char *line), void *ctx);

/*
 * One typed message per operation, with one encoder (clients: depfence,
 * depfence-hook) and one decoder (depfenced) each. Decoded strings point into
 * the JSON object, which the caller keeps until it is done with the message.
 * A decoder refuses a field of the wrong type, naming it; missing optional
 * fields are NULL/0.
 */
#define CTL_RULES_MAX 256

/* Inline rules on top of a policy (depfence run --block/--allow/--mode). */
struct ctl_rules {
	const char *mode;
	const char *block[CTL_RULES_MAX];
	int n_block;
	const char *allow[CTL_RULES_MAX];
	int n_allow;
};

/* "run-start": a host run under POLICY (NULL: the default) and inline rules. */
struct ctl_run_start {
	const char *policy;
	struct ctl_rules rules;
	/* "log_full_cmdline": log this run's command lines unredacted (--log-full-cmdline). */
	bool full_cmdline;
};

/* The reply to "run-start". */
struct ctl_run_started {
	const char *id, *cgroup, *policy, *mode;
	/* "limits": {"memory-max": N|"max", ...}: the policy's defaults for the run's cgroup. */
	struct cg_limits limits;
};

/* "register": a container, found by the pid of its first process. */
struct ctl_register {
	const char *id;
	int pid;
	const char *policy; /* NULL with INHERIT: the enclosing guard's */
	bool inherit;
	/* As the hook saw them; the daemon goes by the pid (a hook in a guarded job
	 * sees the job's cgroup namespace), these are for the record and the logs. */
	const char *netns;
	const char *cgroup;
};

/* "unregister", "run-adopt": a registration by its id. */
struct ctl_id {
	const char *id;
};

json_object *ctl_run_start_encode(const struct ctl_run_start *m);
int ctl_run_start_decode(json_object *o, struct ctl_run_start *m, struct df_err *err);
json_object *ctl_run_started_encode(const struct ctl_run_started *m);
int ctl_run_started_decode(json_object *o, struct ctl_run_started *m, struct df_err *err);
json_object *ctl_register_encode(const struct ctl_register *m);
int ctl_register_decode(json_object *o, struct ctl_register *m, struct df_err *err);
/* OP is "unregister" or "run-adopt". */
json_object *ctl_id_encode(const char *op, const char *id);
int ctl_id_decode(json_object *o, struct ctl_id *m, struct df_err *err);
/*
 * "run-report": the run report (docs/report.md) of the guard named ID, or with
 * ID NULL of this connection's own run. The reply carries it as "report".
 */
json_object *ctl_run_report_encode(const char *id);
int ctl_run_report_decode(json_object *o, struct ctl_id *m, struct df_err *err);
/* The reply: takes REPORT. */
json_object *ctl_report_reply_encode(json_object *report);
/* *RET_REPORT points into O. */
int ctl_report_reply_decode(json_object *o, json_object **ret_report, struct df_err *err);
/* The rules fields of any object (requests, saved records). */
void ctl_rules_put(json_object *o, const struct ctl_rules *r);
int ctl_rules_get(json_object *o, struct ctl_rules *r, struct df_err *err);
/* An optional boolean field: 0 and *RET false if absent, -EINVAL if not a boolean. */
int ctl_opt_bool(json_object *o, const char *key, bool *ret, struct df_err *err);
/* An optional string field: 0 and *RET NULL if absent, -EINVAL if not a string. */
int ctl_opt_str(json_object *o, const char *key, const char **ret, struct df_err *err);
/* True if reply O says "ok": true. */
bool ctl_reply_ok(json_object *o);

/* Helpers for replies. */
json_object *ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_object *ctl_ok(void);
const char *ctl_get_str(json_object *obj, const char *key);

#endif
