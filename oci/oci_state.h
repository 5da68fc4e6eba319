/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The OCI runtime state a hook reads on stdin (runtime-spec "state"):
 * {"ociVersion","id","status","pid","bundle","annotations"}, as runc, crun,
 * podman and CRI-O write it; and the annotations of BUNDLE/config.json for
 * runtimes that leave them out of the state.
 */
#ifndef DEPFENCE_OCI_STATE_H
#define DEPFENCE_OCI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

#define OCI_POLICY_ANNOTATION "io.depfence.policy"
#define OCI_STATE_MAX	      (1 << 20)
#define OCI_ID_MAX	      1024

struct oci_state {
	char *oci_version;
	char *id;
	char *status;
	pid_t pid;    /* 0 when absent (poststop) */
	char *bundle; /* NULL when absent */
	char *policy; /* the io.depfence.policy annotation, NULL when absent */
	bool has_annotations;
};

/*
 * Parse TEXT. ORIGIN names it in errors: "OCI state on stdin: line 1, column 2:
 * expected '\"'". Requires a non-empty "id" without '/' or control characters;
 * "pid" must be a positive integer when present; every field must have its
 * JSON type. -EINVAL with ERR filled on any problem.
 */
int oci_state_parse(const char *text, size_t len, const char *origin, struct oci_state *ret,
		    struct df_err *err);
/* The io.depfence.policy annotation of BUNDLE/config.json; *RET NULL if none. */
int oci_bundle_policy(const char *bundle, char **ret_policy, struct df_err *err);
void oci_state_free(struct oci_state *s);

#endif
