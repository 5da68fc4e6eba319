/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cmocka setup/teardown for unit tests on the real BPF object with private
 * maps (dnsguard__load(NULL): nothing pinned or attached, gone with the
 * process). *STATE is the struct dnsguard, or NULL when not root: the test
 * then skips.
 */
#ifndef DEPFENCE_TEST_BPF_FIXTURE_H
#define DEPFENCE_TEST_BPF_FIXTURE_H

#include "dnsguard_api.h"

static int bpf_setup(void **state)
{
	struct df_err err = {0};
	struct dnsguard *g = NULL;
	int r;

	r = dnsguard__load(NULL, &g, &err);
	if (r == -EPERM || r == -EACCES) {
		print_message("skipped: loading a BPF object needs root (%s)\n", err.msg);
		*state = NULL;
		return 0;
	}
	if (r < 0) {
		print_message("load: %s\n", err.msg);
		return -1;
	}
	*state = g;
	return 0;
}

static int bpf_teardown(void **state)
{
	dnsguard__destroy(*state);
	return 0;
}

#endif
