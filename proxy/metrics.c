// SPDX-License-Identifier: GPL-2.0-only
/* The engine's counters, and their Prometheus text exposition (format 0.0.4). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "metrics.h"

static const unsigned lat_bounds_ms[METRICS_LAT_N] = METRICS_LAT_BOUNDS;

struct policy_counters *metrics__policy_row(struct engine_metrics *m, const char *name)
{
	unsigned i;

	for (i = 0; i < m->n_pol; i++)
		if (strcmp(m->pol[i].name, name) == 0)
			return &m->pol[i];
	/* The last row is everyone else's, so the label set stays bounded. */
	if (m->n_pol == METRICS_MAX_POLICIES)
		return &m->pol[i - 1];
	if (m->n_pol == METRICS_MAX_POLICIES - 1)
		name = "other";
	snprintf(m->pol[i].name, METRICS_POLICY_NAME, "%s", name);
	m->n_pol++;
	return &m->pol[i];
}

void metrics__add(struct engine_metrics *dst, const struct engine_metrics *src)
{
	unsigned i, j;

	for (i = 0; i < src->n_pol; i++) {
		struct policy_counters *d = metrics__policy_row(dst, src->pol[i].name);

		for (j = 0; j < MV__N; j++)
			d->queries[j] += src->pol[i].queries[j];
		for (j = 0; j < METRICS_REASONS; j++)
			d->packets[j] += src->pol[i].packets[j];
	}
	dst->cache_hits += src->cache_hits;
	for (j = 0; j < ME__N; j++)
		dst->errors[j] += src->errors[j];
	for (j = 0; j < MD__N; j++)
		dst->dropped[j] += src->dropped[j];
	for (j = 0; j < METRICS_LAT_N; j++)
		dst->lat_bucket[j] += src->lat_bucket[j];
	dst->lat_count += src->lat_count;
	dst->lat_sum_us += src->lat_sum_us;
}

void metrics__latency(struct engine_metrics *m, uint64_t us)
{
	unsigned i;

	for (i = 0; i < METRICS_LAT_N && us > lat_bounds_ms[i] * 1000ull; i++)
		;
	if (i < METRICS_LAT_N)
		m->lat_bucket[i]++;
	m->lat_count++;
	m->lat_sum_us += us;
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f), fputc(*s, f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_queries(const struct metrics_view *v, FILE *f)
{
	static const char *const verdicts[MV__N] = {"allowed", "blocked", "audit"};
	const struct engine_metrics *m = v->m;
	unsigned i, j;

	header(f, "depfence_dns_queries_total", "counter",
	       "DNS queries decided by policy and verdict (audit: would have been blocked).");
	for (i = 0; i < m->n_pol; i++)
		for (j = 0; j < MV__N; j++) {
			fputs("depfence_dns_queries_total{policy=\"", f);
			put_label(f, m->pol[i].name);
			fprintf(f, "\",verdict=\"%s\"} %" PRIu64 "\n", verdicts[j],
				m->pol[i].queries[j]);
		}
	header(f, "depfence_packets_blocked_total", "counter",
	       "Connects and sends the BPF programs refused, by policy and reason.");
	for (i = 0; i < m->n_pol; i++)
		for (j = 0; j < METRICS_REASONS; j++) {
			if (!m->pol[i].packets[j])
				continue; /* nine reasons per policy: only those that happened */
			fputs("depfence_packets_blocked_total{policy=\"", f);
			put_label(f, m->pol[i].name);
			fputs("\",reason=\"", f);
			put_label(f, v->reason_names[j]);
			fprintf(f, "\"} %" PRIu64 "\n", m->pol[i].packets[j]);
		}
}

static void render_latency(const struct engine_metrics *m, FILE *f)
{
	uint64_t cum = 0;
	unsigned i;

	header(f, "depfence_upstream_latency_seconds", "histogram",
	       "Time from sending a query upstream to its answer.");
	for (i = 0; i < METRICS_LAT_N; i++) {
		cum += m->lat_bucket[i];
		fprintf(f, "depfence_upstream_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			lat_bounds_ms[i] / 1000.0, cum);
	}
	fprintf(f, "depfence_upstream_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
		m->lat_count);
	fprintf(f, "depfence_upstream_latency_seconds_sum %.6f\n", m->lat_sum_us / 1e6);
	fprintf(f, "depfence_upstream_latency_seconds_count %" PRIu64 "\n", m->lat_count);
}

int metrics__render(const struct metrics_view *v, FILE *f)
{
	static const char *const errors[ME__N] = {"servfail",  "upstream_timeout",
						  "malformed", "guard_quota",
						  "tcp_quota", "learn_skipped"};
	static const char *const drops[MD__N] = {"unknown_id", "port", "question", "case"};
	const struct engine_metrics *m = v->m;
	unsigned i;

	render_queries(v, f);
	header(f, "depfence_guards", "gauge", "Cgroups guarded now, by kind.");
	fprintf(f, "depfence_guards{kind=\"run\"} %u\n", v->guards_run);
	fprintf(f, "depfence_guards{kind=\"container\"} %u\n", v->guards_container);
	render_latency(m, f);
	header(f, "depfence_cache_hits_total", "counter", "Queries answered from the cache.");
	fprintf(f, "depfence_cache_hits_total %" PRIu64 "\n", m->cache_hits);
	header(f, "depfence_errors_total", "counter", "Errors by what went wrong.");
	for (i = 0; i < ME__N; i++)
		fprintf(f, "depfence_errors_total{what=\"%s\"} %" PRIu64 "\n", errors[i],
			m->errors[i]);
	header(f, "depfence_upstream_answers_dropped_total", "counter",
	       "Upstream answers thrown away, by the check they failed (RFC 5452, DNS 0x20).");
	for (i = 0; i < MD__N; i++)
		fprintf(f, "depfence_upstream_answers_dropped_total{why=\"%s\"} %" PRIu64 "\n",
			drops[i], m->dropped[i]);
	return fflush(f) == EOF || ferror(f) ? -EIO : 0;
}

int metrics__render_kernel(FILE *f, const char *const *names, const uint64_t *vals, unsigned n)
{
	unsigned i;

	header(f, "depfence_kernel_events_total", "counter",
	       "What the BPF programs did, for every guard of the daemon's maps, by counter "
	       "(docs/design.md, BPF maps).");
	for (i = 0; i < n; i++) {
		fputs("depfence_kernel_events_total{counter=\"", f);
		put_label(f, names[i]);
		fprintf(f, "\"} %" PRIu64 "\n", vals[i]);
	}
	return fflush(f) == EOF || ferror(f) ? -EIO : 0;
}
