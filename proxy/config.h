/* SPDX-License-Identifier: GPL-2.0-only */
/* Settings shared by depfenced and depfence: upstreams, policy lookup, instance paths. */
#ifndef DEPFENCE_CONFIG_H
#define DEPFENCE_CONFIG_H

#include <limits.h>
#include <sys/socket.h>

#include "engine.h"
#include "paths.h"
#include "policy.h"
#include "util.h"

/* The policy used when a run names none and CONFIG_DIR has no default.policy. */
#define BUILTIN_POLICY_NAME "default"

/* "1.2.3.4", "1.2.3.4:5301", "[::1]:53", "::1": port 53 when absent. */
int addr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
/* Add S to OPTS' upstreams; -EINVAL with a message naming S. */
int upstream_add(struct engine_opts *opts, const char *s, struct df_err *err);
/* The nameservers of /etc/resolv.conf (read once, at start). */
int upstreams_from_resolv_conf(struct engine_opts *opts, const char *path, struct df_err *err);

/* A policy name is a file name: [A-Za-z0-9._-], not starting with '.'. */
bool policy_name_valid(const char *name);
/*
 * Build the policy of a run or registration: CONFIG_DIR/policies/NAME.policy
 * when NAME is given (-ENOENT: "unknown policy"), else the built-in default
 * (default.policy in CONFIG_DIR when present), then inline rules on top. With
 * inline rules and no NAME the policy is called "inline". MODE, if not NULL,
 * overrides the file's mode.
 */
struct inline_rules {
	const char **block;
	int n_block;
	const char **allow;
	int n_allow;
	const char *mode;
};
int policy_build(const char *config_dir, const char *name, const struct inline_rules *rules,
		 struct policy **ret, struct df_err *err);

#endif
