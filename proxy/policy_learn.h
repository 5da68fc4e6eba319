/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * depfence learn's grouping: which names of a run report an allowlist lists one
 * by one, and which it lists under a common parent. A parent is used only when
 * it is not a public suffix (a short built-in list of the common ones, not the
 * whole Public Suffix List: see docs/report.md), at least two names under it
 * were seen, and every name seen under it was allowed: grouping never allows a
 * name the run saw refused, nor a whole public suffix.
 */
#ifndef DEPFENCE_POLICY_LEARN_H
#define DEPFENCE_POLICY_LEARN_H

#include <stdbool.h>
#include <stddef.h>

struct learn_name {
	const char *name; /* presentation form, no trailing dot */
	bool allowed;	  /* the run's verdict was "allowed" */
	const char *rule; /* set by learn_group: NAME itself, or its parent (a suffix of it) */
};

/* True if NAME is on the built-in public suffix list, or has one label. */
bool learn_public_suffix(const char *name);
/* Set each entry's rule. O(N^2) string compares: fine for a report's 4096 names. */
void learn_group(struct learn_name *v, size_t n);

#endif
