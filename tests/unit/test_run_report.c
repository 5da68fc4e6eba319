// SPDX-License-Identifier: GPL-2.0-only
/*
 * run_report.c: the report table. Counting per name (verdicts only get
 * stronger, the deciding rule follows), askers and processes described once,
 * addresses deduplicated, the caps (names, askers, addresses, processes)
 * reached with "truncated" set, lookups still right after the index grew,
 * a replica's report merged into its guard's, and the shelf keeping the
 * newest RR_KEEP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "run_report.h"

static json_object *name_obj(json_object *rep, const char *name)
{
	json_object *names = json_object_object_get(rep, "names");
	size_t i;

	for (i = 0; i < json_object_array_length(names); i++) {
		json_object *n = json_object_array_get_idx(names, i);

		if (strcmp(json_object_get_string(json_object_object_get(n, "name")), name) == 0)
			return n;
	}
	return NULL;
}

static const char *field(json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

static void test_counts_and_verdicts(void **state)
{
	struct run_report *r;
	json_object *rep, *n;
	static const struct {
		const char *name;
		enum rr_verdict v;
		const char *rule;
		uint32_t pid;
		bool want_new;
	} rows[] = {
	    {"a.test", RR_ALLOWED, "default", 10, true},
	    {"a.test", RR_ALLOWED, "default", 10, false}, /* known asker */
	    {"a.test", RR_ALLOWED, "default", 11, true},
	    {"b.test", RR_WOULD_BLOCK, "p.policy:3", 10, false}, /* pid 10 described */
	    {"b.test", RR_ALLOWED, "default", 10, false},	 /* weaker: keeps would-block */
	    {"b.test", RR_BLOCKED, "p.policy:4", 0, false},	 /* stronger: takes over */
	};
	size_t i;

	assert_int_equal(run_report__new("run", "r1", "p", "blocklist", &r), 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *rule;
		bool fresh = run_report__query(r, rows[i].name, strlen(rows[i].name), rows[i].v,
					       rows[i].pid, 1000 + i, &rule);

		assert_int_equal(fresh, rows[i].want_new);
		if (rule)
			snprintf(rule, RR_RULE_MAX, "%s", rows[i].rule);
		if (fresh)
			run_report__add_proc(r, rows[i].pid, 1, 5, "cmd", "/bin/x", "", true);
	}
	run_report__address(r, "a.test", 6, AF_INET, (const uint8_t *)"\x7f\0\0\3");
	run_report__address(r, "a.test", 6, AF_INET, (const uint8_t *)"\x7f\0\0\3");
	run_report__address(r, "zz.test", 7, AF_INET, (const uint8_t *)"\x7f\0\0\4");
	rep = run_report__json(r);
	n = name_obj(rep, "a.test");
	assert_non_null(n);
	assert_string_equal(field(n, "verdict"), "allowed");
	assert_int_equal(json_object_get_int(json_object_object_get(n, "count")), 3);
	assert_int_equal(json_object_array_length(json_object_object_get(n, "asked_by")), 2);
	assert_int_equal(json_object_array_length(json_object_object_get(n, "addresses")), 1);
	n = name_obj(rep, "b.test");
	assert_string_equal(field(n, "verdict"), "blocked");
	assert_string_equal(field(n, "rule"), "p.policy:4");
	assert_int_equal(json_object_array_length(json_object_object_get(rep, "processes")), 2);
	assert_false(json_object_get_boolean(json_object_object_get(rep, "truncated")));
	json_object_put(rep);
	run_report__free(r);
}

static void test_caps(void **state)
{
	struct run_report *r;
	char name[32], *rule;
	unsigned i;

	assert_int_equal(run_report__new("run", "r1", "p", "audit", &r), 0);
	for (i = 0; i < RR_MAX_NAMES + 10; i++) {
		int n = snprintf(name, sizeof(name), "n%u.test", i);

		run_report__query(r, name, n, RR_ALLOWED, 0, 1, &rule);
	}
	assert_int_equal(run_report__n_names(r), RR_MAX_NAMES);
	assert_true(run_report__truncated(r));
	/* Every name is still found after the index grew: counted, not added again. */
	for (i = 0; i < RR_MAX_NAMES; i += 97) {
		int n = snprintf(name, sizeof(name), "n%u.test", i);

		run_report__query(r, name, n, RR_ALLOWED, 0, 1, &rule);
	}
	assert_int_equal(run_report__n_names(r), RR_MAX_NAMES);
	for (i = 1; i <= RR_MAX_PROCS + 5; i++)
		run_report__add_proc(r, i, 0, 0, "c", "e", "", true);
	assert_true(run_report__has_proc(r, RR_MAX_PROCS + 3)); /* full: nothing to describe */
	run_report__free(r);
}

/* A replica's report gathered into its guard's: counts add, the stronger verdict and its
 * rule win, askers, addresses, processes and refusals join. The source keeps its entries
 * with its counts zeroed: merged again, nothing is counted twice, and an address that
 * came since (an answer in flight at the first merge) reaches the guard's. */
static void test_merge(void **state)
{
	struct run_report *dst, *src;
	json_object *rep, *n, *refs;
	char *rule;

	assert_int_equal(run_report__new("run", "r1", "p", "blocklist", &dst), 0);
	assert_int_equal(run_report__new("run", "r1", "p", "blocklist", &src), 0);
	run_report__query(dst, "a.test", 6, RR_ALLOWED, 10, 5, &rule);
	run_report__add_proc(dst, 10, 1, 5, "cmd10", "/bin/x", "", true);
	run_report__address(dst, "a.test", 6, AF_INET, (const uint8_t *)"\x7f\0\0\3");
	run_report__refusal(
	    dst,
	    &(struct rr_refusal){
		.reason = "r", .rule = "x", .what = "1.2.3.4:443/tcp", .pid = 10, .blocked = true},
	    7);
	run_report__query(src, "a.test", 6, RR_ALLOWED, 11, 3, &rule);
	run_report__query(src, "a.test", 6, RR_ALLOWED, 11, 4, &rule);
	run_report__address(src, "a.test", 6, AF_INET, (const uint8_t *)"\x7f\0\0\3");
	run_report__address(src, "a.test", 6, AF_INET, (const uint8_t *)"\x7f\0\0\4");
	run_report__query(src, "b.test", 6, RR_BLOCKED, 10, 6, &rule);
	snprintf(rule, RR_RULE_MAX, "p.policy:2");
	run_report__add_proc(src, 11, 1, 6, "cmd11", "/bin/y", "", true);
	run_report__add_proc(src, 10, 1, 5, "cmd10", "/bin/x", "", true);
	run_report__refusal(src,
			    &(struct rr_refusal){.reason = "r",
						 .rule = "x",
						 .what = "1.2.3.4:443/tcp",
						 .pid = 10,
						 .blocked = true,
						 .count = 4},
			    2);
	run_report__merge(dst, src);

	assert_int_equal(run_report__n_names(src), 2);
	assert_int_equal(run_report__n_names(dst), 2);
	rep = run_report__json(dst);
	n = name_obj(rep, "a.test");
	assert_int_equal(json_object_get_int(json_object_object_get(n, "count")), 3);
	assert_int_equal(json_object_array_length(json_object_object_get(n, "asked_by")), 2);
	assert_int_equal(json_object_array_length(json_object_object_get(n, "addresses")), 2);
	n = name_obj(rep, "b.test");
	assert_string_equal(field(n, "verdict"), "blocked");
	assert_string_equal(field(n, "rule"), "p.policy:2");
	assert_int_equal(json_object_array_length(json_object_object_get(rep, "processes")), 2);
	refs = json_object_object_get(rep, "refusals");
	assert_int_equal(json_object_array_length(refs), 1);
	assert_int_equal(json_object_get_int(
			     json_object_object_get(json_object_array_get_idx(refs, 0), "count")),
			 5);
	json_object_put(rep);
	run_report__address(src, "a.test", 6, AF_INET, (const uint8_t *)"\x7f\0\0\5");
	run_report__merge(dst, src);
	rep = run_report__json(dst);
	n = name_obj(rep, "a.test");
	assert_int_equal(json_object_get_int(json_object_object_get(n, "count")), 3);
	assert_int_equal(json_object_array_length(json_object_object_get(n, "addresses")), 3);
	refs = json_object_object_get(rep, "refusals");
	assert_int_equal(json_object_get_int(
			     json_object_object_get(json_object_array_get_idx(refs, 0), "count")),
			 5);
	json_object_put(rep);
	run_report__free(src);
	run_report__free(dst);
}

static void test_shelf(void **state)
{
	struct rr_shelf *s;
	struct run_report *r;
	char id[32];
	unsigned i;

	assert_int_equal(rr_shelf__new(&s), 0);
	for (i = 0; i < RR_KEEP + 3; i++) {
		snprintf(id, sizeof(id), "c%u", i);
		assert_int_equal(run_report__new("container", id, "p", "blocklist", &r), 0);
		rr_shelf__put(s, r);
	}
	assert_null(rr_shelf__find(s, "c0"));
	assert_null(rr_shelf__find(s, "c2"));
	assert_non_null(rr_shelf__find(s, "c3"));
	snprintf(id, sizeof(id), "c%u", RR_KEEP + 2);
	assert_non_null(rr_shelf__find(s, id));
	rr_shelf__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts_and_verdicts),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_shelf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
