// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_learn.c: depfence learn's grouping, one row per case: which rule
 * (the name itself or a parent) each name of a report gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "policy_learn.h"

#define MAXN 6

struct learn_case {
	const char *what;
	struct {
		const char *name;
		bool allowed;
		const char *want;
	} n[MAXN];
};

static const struct learn_case cases[] = {
    {"two children of a private parent: grouped",
     {{"a.corp.example.net", true, "corp.example.net"},
      {"b.corp.example.net", true, "corp.example.net"}}},
    {"the parent seen itself joins the group",
     {{"a.x.dev.local.lan", true, "x.dev.local.lan"},
      {"x.dev.local.lan", true, "x.dev.local.lan"},
      {"b.x.dev.local.lan", true, "x.dev.local.lan"}}},
    {"one child only: kept apart", {{"a.corp.example.net", true, "a.corp.example.net"}}},
    {"a public suffix is never a group", {{"a.com", true, "a.com"}, {"b.com", true, "b.com"}}},
    {"two-label public suffixes neither",
     {{"x.co.uk", true, "x.co.uk"}, {"y.co.uk", true, "y.co.uk"}}},
    {"hosting suffixes neither",
     {{"alice.github.io", true, "alice.github.io"}, {"bob.github.io", true, "bob.github.io"}}},
    {"a refused child keeps its siblings apart",
     {{"a.corp.example.net", true, "a.corp.example.net"},
      {"b.corp.example.net", true, "b.corp.example.net"},
      {"evil.corp.example.net", false, "evil.corp.example.net"}}},
    {"a refused name deeper down too",
     {{"a.corp.example.net", true, "a.corp.example.net"},
      {"b.corp.example.net", true, "b.corp.example.net"},
      {"x.y.corp.example.net", false, "x.y.corp.example.net"}}},
    {"a deeper allowed name is covered by the group",
     {{"a.corp.example.net", true, "corp.example.net"},
      {"b.corp.example.net", true, "corp.example.net"},
      {"x.y.corp.example.net", true, "corp.example.net"}}},
    {"label boundary: notcorp is not under corp",
     {{"a.corp.example.net", true, "a.corp.example.net"},
      {"a.notcorp.example.net", true, "a.notcorp.example.net"}}},
};

static void test_groups(void **state)
{
	size_t c, i, n;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct learn_name v[MAXN] = {0};

		for (n = 0; n < MAXN && cases[c].n[n].name; n++) {
			v[n].name = cases[c].n[n].name;
			v[n].allowed = cases[c].n[n].allowed;
		}
		learn_group(v, n);
		for (i = 0; i < n; i++) {
			if (strcmp(v[i].rule, cases[c].n[i].want) != 0)
				fail_msg("%s: %s got %s, want %s", cases[c].what, v[i].name,
					 v[i].rule, cases[c].n[i].want);
		}
	}
}

static void test_public_suffix(void **state)
{
	assert_true(learn_public_suffix("com"));
	assert_true(learn_public_suffix("co.uk"));
	assert_true(learn_public_suffix("github.io"));
	assert_true(learn_public_suffix("lan")); /* one label: a TLD */
	assert_false(learn_public_suffix("example.net"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_public_suffix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
