// SPDX-License-Identifier: GPL-2.0-only
/*
 * metrics.c: the Prometheus exposition of the engine's counters. Label values
 * escaped as the format wants (backslash, quote, newline), policy rows bounded
 * ("other" past the limit), the latency histogram cumulative with +Inf equal
 * to _count; engine workers' counters summed by policy name; the BPF programs' counters one family,
 * a sample per counter named as dnsguard__counter_name() (DF_COUNTERS in bpf/dnsguard.h) names it.
 * The e2e test t_metrics.sh scrapes a real daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsguard_api.h"
#include "metrics.h"

static const char *const reasons[METRICS_REASONS] = {
    "Unknown",	      "FromIPRule", "FromBlockedDomain",
    "NotInAllowlist", "DNSOverTLS", "ProxyOfAnotherGuard",
    "NoGuard",	      "RawSocket",  "LocalResolver",
};

/* The exposition of M, NUL-terminated; the caller frees it. */
static char *render(const struct engine_metrics *m)
{
	struct metrics_view v = {.m = m, .guards_run = 2, .reason_names = reasons};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics__render(&v, f), 0);
	fclose(f);
	return buf;
}

struct esc_case {
	const char *name, *want;
};

static const struct esc_case esc_cases[] = {
    {"deploy", "policy=\"deploy\""},	  {"a\"b", "policy=\"a\\\"b\""},
    {"a\\b", "policy=\"a\\\\b\""},	  {"a\nb", "policy=\"a\\nb\""},
    {"\\\"\n", "policy=\"\\\\\\\"\\n\""},
};

static void test_label_escaping(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		struct engine_metrics *m = calloc(1, sizeof(*m));
		struct guard_counters gc = {.pc = metrics__policy_row(m, esc_cases[i].name)};
		char want[128], *out;

		metrics__query(&gc, MV_BLOCKED);
		metrics__packet(&gc, 1);
		out = render(m);
		snprintf(want, sizeof(want),
			 "depfence_dns_queries_total{%s,verdict=\"blocked\"} 1\n",
			 esc_cases[i].want);
		assert_non_null(strstr(out, want));
		snprintf(want, sizeof(want),
			 "depfence_packets_blocked_total{%s,reason=\"FromIPRule\"} 1\n",
			 esc_cases[i].want);
		assert_non_null(strstr(out, want));
		free(out);
		free(m);
	}
}

static void test_counts_and_guards(void **state)
{
	struct engine_metrics *m = calloc(1, sizeof(*m));
	struct guard_counters gc = {.pc = metrics__policy_row(m, "p")};
	char *out;

	metrics__query(&gc, MV_ALLOWED);
	metrics__query(&gc, MV_ALLOWED);
	metrics__late_refusal(&gc, MV_BLOCKED);
	metrics__query(&gc, MV_AUDIT);
	assert_int_equal(gc.queries, 3);
	assert_int_equal(gc.blocked, 1);
	assert_int_equal(gc.would_block, 1);
	assert_true(gc.last_block > 0);
	m->cache_hits = 4;
	m->errors[ME_UPSTREAM_TIMEOUT] = 5;
	out = render(m);
	assert_non_null(
	    strstr(out, "depfence_dns_queries_total{policy=\"p\",verdict=\"allowed\"} 2\n"));
	assert_non_null(
	    strstr(out, "depfence_dns_queries_total{policy=\"p\",verdict=\"audit\"} 1\n"));
	assert_non_null(strstr(out, "depfence_guards{kind=\"run\"} 2\n"));
	assert_non_null(strstr(out, "depfence_guards{kind=\"container\"} 0\n"));
	assert_non_null(strstr(out, "depfence_cache_hits_total 4\n"));
	assert_non_null(strstr(out, "depfence_errors_total{what=\"upstream_timeout\"} 5\n"));
	assert_non_null(strstr(out, "# TYPE depfence_dns_queries_total counter\n"));
	/* A reason that never happened is not a series. */
	assert_null(strstr(out, "reason=\"DNSOverTLS\""));
	free(out);
	free(m);
}

static void test_histogram(void **state)
{
	static const uint64_t us[] = {300, 1000, 1001, 7000, 6000000};
	struct engine_metrics *m = calloc(1, sizeof(*m));
	char *out;
	size_t i;

	for (i = 0; i < sizeof(us) / sizeof(us[0]); i++)
		metrics__latency(m, us[i]);
	out = render(m);
	/* Cumulative: 1 ms holds 300 us and 1000 us; 2 ms adds 1001 us; 10 ms adds 7 ms. */
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_bucket{le=\"0.001\"} 2\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_bucket{le=\"0.002\"} 3\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_bucket{le=\"0.01\"} 4\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_bucket{le=\"5\"} 4\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_bucket{le=\"+Inf\"} 5\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_count 5\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_sum 6.009301\n"));
	free(out);
	free(m);
}

/* Each engine worker counts its own (proxy/workers.c): the exposition is their sum. */
static void test_workers_summed(void **state)
{
	struct engine_metrics *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)),
			      *sum = calloc(1, sizeof(*sum));
	struct guard_counters ga = {.pc = metrics__policy_row(a, "deploy")},
			      ga2 = {.pc = metrics__policy_row(a, "audit")},
			      gb = {.pc = metrics__policy_row(b, "audit")},
			      gb2 = {.pc = metrics__policy_row(b, "deploy")};
	char *out;

	metrics__query(&ga, MV_BLOCKED);
	metrics__query(&ga, MV_ALLOWED);
	metrics__query(&ga2, MV_AUDIT);
	metrics__query(&gb, MV_AUDIT);
	metrics__query(&gb2, MV_BLOCKED);
	metrics__query(&gb2, MV_BLOCKED);
	metrics__packets(&gb2, 1, 7);
	a->errors[ME_GUARD_QUOTA] = 3;
	b->errors[ME_GUARD_QUOTA] = 4;
	a->dropped[MD_CASE] = 1;
	b->cache_hits = 9;
	metrics__latency(a, 300);
	metrics__latency(b, 7000);
	metrics__add(sum, a);
	metrics__add(sum, b);
	/* Rows met by name, whatever order each worker made them in. */
	assert_int_equal(sum->n_pol, 2);
	out = render(sum);
	assert_non_null(
	    strstr(out, "depfence_dns_queries_total{policy=\"deploy\",verdict=\"blocked\"} 3\n"));
	assert_non_null(
	    strstr(out, "depfence_dns_queries_total{policy=\"deploy\",verdict=\"allowed\"} 1\n"));
	assert_non_null(
	    strstr(out, "depfence_dns_queries_total{policy=\"audit\",verdict=\"audit\"} 2\n"));
	assert_non_null(strstr(out, "policy=\"deploy\",reason=\"FromIPRule\"} 7\n"));
	assert_non_null(strstr(out, "depfence_errors_total{what=\"guard_quota\"} 7\n"));
	assert_non_null(strstr(out, "depfence_cache_hits_total 9\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_count 2\n"));
	assert_non_null(strstr(out, "depfence_upstream_latency_seconds_bucket{le=\"0.001\"} 1\n"));
	free(out);
	free(a);
	free(b);
	free(sum);
}

static void test_policy_rows_bounded(void **state)
{
	struct engine_metrics *m = calloc(1, sizeof(*m));
	struct policy_counters *a, *last;
	char name[32];
	int i;

	a = metrics__policy_row(m, "p0");
	assert_ptr_equal(metrics__policy_row(m, "p0"), a);
	for (i = 1; i < METRICS_MAX_POLICIES + 10; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		last = metrics__policy_row(m, name);
	}
	assert_int_equal(m->n_pol, METRICS_MAX_POLICIES);
	assert_string_equal(last->name, "other");
	assert_ptr_equal(last, &m->pol[METRICS_MAX_POLICIES - 1]);
	free(m);
}

static void test_kernel_counters_are_one_family(void **state)
{
	const char *names[DF_CNT__MAX];
	uint64_t vals[DF_CNT__MAX];
	char *buf = NULL, want[128], *p;
	size_t len = 0, k;
	FILE *f = open_memstream(&buf, &len);
	int i, j, n;

	for (i = 0; i < DF_CNT__MAX; i++) {
		names[i] = dnsguard__counter_name(i);
		vals[i] = 1000 + i;
		assert_non_null(names[i]);
		assert_non_null(dnsguard__counter_help(i));
		/* snake_case: a label value that needs no escaping */
		k = strspn(names[i], "abcdefghijklmnopqrstuvwxyz0123456789_");
		assert_int_equal(names[i][k], '\0');
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	assert_null(dnsguard__counter_name(DF_CNT__MAX));
	assert_string_equal(dnsguard__counter_name(DF_CNT_REDIRECT_UDP4), "redirect_udp4");
	assert_string_equal(dnsguard__counter_name(DF_CNT_IP_BLOCKED), "ip_blocked");
	assert_non_null(f);
	assert_int_equal(metrics__render_kernel(f, names, vals, DF_CNT__MAX), 0);
	fclose(f);
	for (n = 0, p = buf; (p = strstr(p, "# TYPE ")); p++, n++)
		;
	assert_int_equal(n, 1);
	assert_non_null(strstr(buf, "# TYPE depfence_kernel_events_total counter\n"));
	assert_non_null(strstr(buf, "# HELP depfence_kernel_events_total "));
	for (i = 0; i < DF_CNT__MAX; i++) {
		snprintf(want, sizeof(want), "\ndepfence_kernel_events_total{counter=\"%s\"} %d\n",
			 names[i], 1000 + i);
		assert_non_null(strstr(buf, want));
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test(test_counts_and_guards),
	    cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_policy_rows_bounded),
	    cmocka_unit_test(test_workers_summed),
	    cmocka_unit_test(test_kernel_counters_are_one_family),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
