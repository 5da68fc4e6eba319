// SPDX-License-Identifier: GPL-2.0-only
/*
 * SIGHUP: the daemon's policies read again. Its own file so that the unit test
 * (tests/unit/test_reload.c) drives the very function the signal handler calls.
 */
#include "daemon.h"
#include "log.h"

static void swap_policy(void *ctx, struct policy *old, struct policy *new_p)
{
	struct daemon *d = ctx;

	engine__replace_policy(d->engine, old, new_p);
}

static void reload_error(void *ctx, const char *msg)
{
	log_msg(LOG_ERROR, "policy reload: %s (keeping the previous version)", msg);
}

int daemon_reload_policies(struct daemon *d)
{
	int errors = policy_store__reload(&d->policies, swap_policy, reload_error, d);

	log_msg(errors ? LOG_WARN : LOG_INFO, "policies reloaded count=%d errors=%d", d->policies.n,
		errors);
	return errors;
}
