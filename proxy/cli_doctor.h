/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * depfence doctor: what one check reports, and the checks, split by what they
 * look at: the kernel and its filesystems (cli_doctor.c), and how depfence is
 * deployed on the host (cli_doctor_deploy.c). Every check only reads: nothing
 * is mounted, attached, written or sent over the network.
 */
#ifndef DEPFENCE_CLI_DOCTOR_H
#define DEPFENCE_CLI_DOCTOR_H

#include <stdbool.h>

#include <json-c/json.h>

#define DOCTOR_MAX_HOOK_DIRS 8

enum doctor_level {
	DOCTOR_OK,
	DOCTOR_WARN, /* depfence guards, with a gap or a step it takes itself */
	DOCTOR_FAIL, /* depfence cannot guard here until this is fixed */
};

struct doctor {
	const char *state_dir;
	const char *hook_dirs[DOCTOR_MAX_HOOK_DIRS];
	int n_hook_dirs;
	/* The kernel refuses local resolver sockets to guarded jobs (connect_unix). */
	bool has_unix;
	json_object *json; /* the array --json prints; NULL for text */
	int n_warn, n_fail;
};

/*
 * One line, "LEVEL NAME: DETAIL", and "  fix: FIX" when not ok (FIX may be NULL
 * only for ok), or one object in the --json array.
 */
void doctor_report(struct doctor *d, enum doctor_level level, const char *name, const char *fix,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void doctor_state_dir(struct doctor *d);
void doctor_daemon(struct doctor *d);
void doctor_hooks(struct doctor *d);
void doctor_resolvers(struct doctor *d);
void doctor_resolv_conf(struct doctor *d);

#endif
