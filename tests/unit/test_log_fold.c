// SPDX-License-Identifier: GPL-2.0-only
/*
 * log_fold.c: the first line of a window is written at once, repeats are
 * counted and written as one summary (repeated=N) when the window closes, a
 * window with repeats goes on and one without ends, lines that differ in any
 * byte (pid, name, type, level) are not folded, counts from elsewhere join a
 * live window only, and a full table (entries or arena) closes the oldest
 * window early rather than growing; the engine's writer puts " repeated=N"
 * after the line, a number in JSON. The e2e test t_log_fold.sh floods a real
 * proxy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine_int.h"
#include "log_fold.h"

#define MAX_OUT 64

/* What the fold wrote, in order. */
struct out {
	unsigned n;
	struct {
		enum log_level level;
		char line[256];
		uint64_t repeated;
	} l[MAX_OUT];
};

static void capture(void *ctx, enum log_level level, const char *line, size_t len,
		    uint64_t repeated)
{
	struct out *o = ctx;

	assert_true(o->n < MAX_OUT);
	assert_true(len < sizeof(o->l[0].line));
	o->l[o->n].level = level;
	memcpy(o->l[o->n].line, line, len);
	o->l[o->n].line[len] = '\0';
	o->l[o->n].repeated = repeated;
	o->n++;
}

static struct log_fold *fold_new(struct out *o, uint32_t entries, uint32_t arena)
{
	struct log_fold_opts opts = {.entries = entries, .arena = arena, .window_ms = 1000};
	struct log_fold *f = NULL;

	memset(o, 0, sizeof(*o));
	assert_int_equal(log_fold__new(&opts, capture, o, &f), 0);
	return f;
}

static bool note(struct log_fold *f, const char *line, uint64_t now)
{
	return log_fold__note(f, LOG_WARN, line, strlen(line), now, NULL);
}

static void expect(const struct out *o, unsigned i, const char *line, uint64_t repeated)
{
	assert_true(i < o->n);
	assert_string_equal(o->l[i].line, line);
	assert_int_equal(o->l[i].repeated, repeated);
}

#define A "DNS BLOCKED domain=github.com pid=10 qtype=A"

static void test_first_at_once_repeats_at_close(void **state)
{
	struct out o;
	struct log_fold *f = fold_new(&o, 0, 0);
	int i;

	assert_true(note(f, A, 5000));
	assert_int_equal(o.n, 1); /* written at once */
	expect(&o, 0, A, 0);
	for (i = 0; i < 99; i++)
		assert_false(note(f, A, 5000 + i * 10));
	assert_int_equal(o.n, 1); /* counted, not written */
	assert_int_equal(log_fold__next_timeout(f, 5500), 500);
	log_fold__tick(f, 5999);
	assert_int_equal(o.n, 1); /* the second is not over */
	log_fold__tick(f, 6000);
	assert_int_equal(o.n, 2);
	expect(&o, 1, A, 99);
	log_fold__free(f);
}

static void test_window_goes_on_then_ends(void **state)
{
	struct out o;
	struct log_fold *f = fold_new(&o, 0, 0);
	struct log_fold_stats st;

	note(f, A, 0);
	note(f, A, 10);
	log_fold__tick(f, 1000); /* summary, and the next window opens */
	assert_int_equal(o.n, 2);
	expect(&o, 1, A, 1);
	/* In the window that went on, the line is counted, not written. */
	assert_false(note(f, A, 1500));
	assert_false(note(f, A, 1600));
	assert_int_equal(log_fold__next_timeout(f, 1600), 400);
	log_fold__tick(f, 2000);
	expect(&o, 2, A, 2);
	/* A second with none: the window ends without a line... */
	log_fold__tick(f, 3000);
	assert_int_equal(o.n, 3);
	assert_int_equal(log_fold__next_timeout(f, 3000), -1);
	/* ...and the next one is written at once again. */
	assert_true(note(f, A, 3500));
	expect(&o, 3, A, 0);
	log_fold__stats(f, &st);
	assert_int_equal(st.written, 2);
	assert_int_equal(st.folded, 3);
	assert_int_equal(st.summaries, 2);
	log_fold__free(f);
}

/* One row per line that must not fold with A. */
static const char *const distinct[] = {
    "DNS BLOCKED domain=github.com pid=11 qtype=A",	/* another process */
    "DNS BLOCKED domain=api.github.com pid=10 qtype=A", /* another name */
    "DNS BLOCKED domain=github.com pid=10 qtype=AAAA",	/* another type */
    "DNS BLOCKED domain=github.com pid=10 qtype=A ",	/* one byte more */
};

static void test_distinct_not_folded(void **state)
{
	struct out o;
	struct log_fold *f = fold_new(&o, 0, 0);
	size_t i;

	assert_true(note(f, A, 0));
	for (i = 0; i < sizeof(distinct) / sizeof(distinct[0]); i++) {
		assert_true(note(f, distinct[i], 1));
		assert_false(note(f, distinct[i], 2));
	}
	/* The same text at another level is another line. */
	assert_true(log_fold__note(f, LOG_INFO, A, strlen(A), 3, NULL));
	assert_false(note(f, A, 4));
	assert_int_equal(o.n, 6);
	log_fold__tick(f, 1004);
	assert_int_equal(o.n, 11);
	expect(&o, 6, A, 1);
	for (i = 0; i < sizeof(distinct) / sizeof(distinct[0]); i++)
		expect(&o, 7 + i, distinct[i], 1);
	log_fold__free(f);
}

static void test_add_joins_live_window_only(void **state)
{
	struct out o;
	struct log_fold *f = fold_new(&o, 0, 0);
	uint64_t h, h2;

	assert_true(log_fold__note(f, LOG_WARN, A, strlen(A), 0, &h));
	assert_true(log_fold__add(f, h, 500));
	assert_false(log_fold__note(f, LOG_WARN, A, strlen(A), 5, &h2));
	assert_true(h == h2);
	log_fold__tick(f, 1000);
	expect(&o, 1, A, 501);
	log_fold__tick(f, 2000); /* nothing in the window that went on: it ends */
	assert_false(log_fold__add(f, h, 7));
	assert_int_equal(o.n, 2);
	assert_false(log_fold__add(f, UINT64_MAX, 1));
	log_fold__free(f);
}

static void test_full_table_closes_oldest_early(void **state)
{
	struct out o;
	struct log_fold *f = fold_new(&o, 4, 0);
	char line[64];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(line, sizeof(line), "DNS BLOCKED domain=n%d.test", i);
		assert_true(note(f, line, i));
		assert_false(note(f, line, i));
	}
	assert_int_equal(o.n, 4);
	/* A fifth window: the oldest (n0) closes now, with its count. */
	assert_true(note(f, "DNS BLOCKED domain=n4.test", 10));
	assert_int_equal(o.n, 6);
	expect(&o, 4, "DNS BLOCKED domain=n0.test", 1);
	expect(&o, 5, "DNS BLOCKED domain=n4.test", 0);
	/* n0 is written at once again: its window is gone (n1 closes for it). */
	assert_true(note(f, "DNS BLOCKED domain=n0.test", 11));
	expect(&o, 6, "DNS BLOCKED domain=n1.test", 1);
	expect(&o, 7, "DNS BLOCKED domain=n0.test", 0);
	log_fold__flush(f);
	/* What was open: n2 and n3 with a repeat each, n4 and n0 with none. */
	assert_int_equal(o.n, 10);
	expect(&o, 8, "DNS BLOCKED domain=n2.test", 1);
	expect(&o, 9, "DNS BLOCKED domain=n3.test", 1);
	assert_int_equal(log_fold__next_timeout(f, 12), -1);
	log_fold__free(f);
}

static void test_full_arena_wraps_and_evicts(void **state)
{
	struct out o;
	/* 100 bytes: three 30-byte lines fit, the fourth closes the first. */
	struct log_fold *f = fold_new(&o, 64, 100);
	char line[64];
	struct log_fold_stats st;
	int i, round;

	for (round = 0; round < 5; round++) {
		for (i = 0; i < 4; i++) {
			snprintf(line, sizeof(line), "DNS BLOCKED domain=r%d-n%d.test.", round, i);
			assert_int_equal(strlen(line), 30);
			assert_true(note(f, line, round * 10000 + i));
			assert_false(note(f, line, round * 10000 + i));
		}
		/* Every line is whole in the arena: a summary reads its own text. */
		log_fold__tick(f, round * 10000 + 5000);
	}
	log_fold__flush(f);
	log_fold__stats(f, &st);
	assert_int_equal(st.written, 20);
	assert_int_equal(st.folded, 20);
	assert_int_equal(st.summaries, 20);
	assert_true(st.early >= 5);
	for (i = 0; i < (int)o.n; i++)
		assert_non_null(strstr(o.l[i].line, ".test."));
	/* Longer than the arena: written, never folded. */
	memset(line, 'x', 63);
	line[63] = '\0';
	{
		struct log_fold *small = NULL;
		struct log_fold_opts opts = {.entries = 4, .arena = 32};
		struct out o2 = {0};

		assert_int_equal(log_fold__new(&opts, capture, &o2, &small), 0);
		assert_true(log_fold__note(small, LOG_WARN, line, 63, 0, NULL));
		assert_true(log_fold__note(small, LOG_WARN, line, 63, 0, NULL));
		assert_int_equal(o2.n, 2);
		log_fold__free(small);
	}
	log_fold__free(f);
}

/* Windows that go on keep their lines readable as the arena turns over. */
static void test_reopen_moves_lines(void **state)
{
	struct out o;
	struct log_fold *f = fold_new(&o, 8, 128);
	const char *ln[3] = {"DNS BLOCKED domain=aaaaaa.test", "DNS BLOCKED domain=bbbbbb.test",
			     "DNS BLOCKED domain=cccccc.test"};
	int s, i;

	for (i = 0; i < 3; i++)
		note(f, ln[i], i);
	for (s = 1; s <= 20; s++) {
		for (i = 0; i < 3; i++)
			assert_false(note(f, ln[i], s * 1000 - 10 + i));
		o.n = 0;
		log_fold__tick(f, s * 1000 + 2);
		assert_int_equal(o.n, 3);
		for (i = 0; i < 3; i++)
			expect(&o, i, ln[i], 1);
	}
	log_fold__free(f);
}

/* The engine's writer through the real log: the line, then the line with repeated=N. */
static void test_engine_writer(void **state)
{
	static const struct {
		enum log_format fmt;
		const char *want;
	} rows[] = {
	    {LOG_FORMAT_LOGFMT, "WARN DNS BLOCKED domain=a.test pid=3 rule=inline\n"
				"WARN DNS BLOCKED domain=a.test pid=3 rule=inline repeated=2\n"},
	    {LOG_FORMAT_JSON,
	     "{\"level\":\"WARN\",\"msg\":\"DNS BLOCKED\",\"domain\":\"a.test\",\"pid\":3,"
	     "\"rule\":\"inline\"}\n"
	     "{\"level\":\"WARN\",\"msg\":\"DNS BLOCKED\",\"domain\":\"a.test\",\"pid\":3,"
	     "\"rule\":\"inline\",\"repeated\":2}\n"},
	};
	const char *line = "DNS BLOCKED domain=a.test pid=3 rule=inline";
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int fd = memfd_create("log", MFD_CLOEXEC);
		struct log_fold *f = NULL;
		char buf[1024];
		ssize_t n;

		assert_true(fd >= 0);
		log_set_fd(fd);
		log_set_format(rows[i].fmt);
		assert_int_equal(log_fold__new(NULL, engine_log_emit, NULL, &f), 0);
		log_fold__note(f, LOG_WARN, line, strlen(line), 0, NULL);
		log_fold__note(f, LOG_WARN, line, strlen(line), 1, NULL);
		log_fold__note(f, LOG_WARN, line, strlen(line), 2, NULL);
		log_fold__tick(f, 1000);
		log_flush();
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_string_equal(buf, rows[i].want);
		log_fold__free(f);
		close(fd);
	}
	log_set_fd(2);
	log_set_format(LOG_FORMAT_LOGFMT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_at_once_repeats_at_close),
	    cmocka_unit_test(test_window_goes_on_then_ends),
	    cmocka_unit_test(test_distinct_not_folded),
	    cmocka_unit_test(test_add_joins_live_window_only),
	    cmocka_unit_test(test_full_table_closes_oldest_early),
	    cmocka_unit_test(test_full_arena_wraps_and_evicts),
	    cmocka_unit_test(test_reopen_moves_lines),
	    cmocka_unit_test(test_engine_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
