/* SPDX-License-Identifier: GPL-2.0-only */
/* The daemon's named policies: every CONFIG_DIR/policies/NAME.policy, loaded at start. */
#ifndef DEPFENCE_POLICY_STORE_H
#define DEPFENCE_POLICY_STORE_H

#include "policy.h"
#include "util.h"

#define POLICY_STORE_MAX 1024

struct policy_store {
	char dir[4096];
	struct policy *p[POLICY_STORE_MAX];
	int n;
};

/* Load every *.policy in CONFIG_DIR/policies (a missing directory is empty). */
int policy_store__load(struct policy_store *s, const char *config_dir, struct df_err *err);
struct policy *policy_store__find(struct policy_store *s, const char *name);
void policy_store__clear(struct policy_store *s);
/*
 * SIGHUP: parse every file again. A file that parses replaces its policy (SWAP
 * is told, so users of the old one move to the new one before it is freed); a
 * file with an error keeps the policy it had and is reported through ON_ERROR
 * ("FILE:LINE: what is wrong"); new files are added; a policy whose file is gone
 * is kept, since guards may still use it. Returns the number of errors.
 */
int policy_store__reload(struct policy_store *s,
			 void (*swap)(void *ctx, struct policy *old, struct policy *new_p),
			 void (*on_error)(void *ctx, const char *msg), void *ctx);

#endif
