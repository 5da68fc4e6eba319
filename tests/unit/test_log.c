// SPDX-License-Identifier: GPL-2.0-only
/*
 * logfmt_quote is what keeps a hostile argv or domain from forging a log line,
 * so it gets a table of exact cases and a randomized check that decodes every
 * output. The line tests write into a memfd (never blocks, readable with
 * pread) or a pipe (for the EAGAIN and EPIPE paths).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_BUF_SIZE (64 * 1024)
#define SINK_MAX     (256 * 1024)

static int sink = -1;
static char out[SINK_MAX];

/* ---- logfmt_quote: exact cases ---------------------------------------- */

struct quote_case {
	const char *name;
	const char *src;
	size_t len; /* 0: strlen(src) */
	size_t cap;
	const char *want;
};

#define Q(n, s, c, w)                                                                              \
	{                                                                                          \
		n, s, 0, c, w                                                                      \
	}
#define QN(n, s, l, c, w)                                                                          \
	{                                                                                          \
		n, s, l, c, w                                                                      \
	}

static const struct quote_case quote_cases[] = {
    Q("plain", "curl", 64, "\"curl\""),
    Q("empty", "", 64, "\"\""),
    Q("spaces", "pip install -r requirements.txt", 64, "\"pip install -r requirements.txt\""),
    Q("equals", "k=v a=b", 64, "\"k=v a=b\""),
    Q("quotes", "say \"hi\"", 64, "\"say \\\"hi\\\"\""),
    Q("backslash", "a\\b", 64, "\"a\\\\b\""),
    Q("backslash before quote", "\\\"", 64, "\"\\\\\\\"\""),
    Q("newline", "a\nb", 64, "\"a\\nb\""),
    Q("carriage return", "a\rb", 64, "\"a\\rb\""),
    Q("tab", "a\tb", 64, "\"a\\tb\""),
    QN("nul", "a\0b", 3, 64, "\"a\\x00b\""),
    Q("soh", "\x01", 64, "\"\\x01\""),
    Q("escape", "\x1b[31mred", 64, "\"\\x1b[31mred\""),
    Q("unit separator", "\x1f", 64, "\"\\x1f\""),
    Q("vertical tab and form feed", "\v\f", 64, "\"\\x0b\\x0c\""),
    Q("del", "a\x7f", 64, "\"a\\x7f\""),
    Q("printable edges", " ~", 64, "\" ~\""),
    Q("utf-8 passthrough", "caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80", 64,
      "\"caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80\""),
    Q("high bytes passthrough", "\x80\xff", 64, "\"\x80\xff\""),
    /* A process naming itself after a log line must stay inside one quoted value. */
    Q("forged line", "x\" action=allow\nWARN DNS BLOCKED qname=\"evil", 128,
      "\"x\\\" action=allow\\nWARN DNS BLOCKED qname=\\\"evil\""),
    /* Sizes: the whole value plus NUL fits exactly, or it is cut. */
    Q("fits exactly", "abcd", 7, "\"abcd\""),
    Q("one short", "abcd", 6, "\"...\""),
    Q("cut ascii", "abcdef", 8, "\"ab...\""),
    Q("cut keeps max prefix", "abcdefghijklmnop", 12, "\"abcdef...\""),
    Q("cut min cap", "abcdef", 6, "\"...\""),
    Q("cap 5 cut", "abcdef", 5, ""),
    Q("cap 1", "abcdef", 1, ""),
    Q("cap 3 empty fits", "", 3, "\"\""),
    Q("cap 2 empty too small", "", 2, ""),
    Q("cut keeps whole escape", "a\nbcdef", 8, "\"a...\""),
    Q("cut after whole escape", "a\nbcdef", 9, "\"a\\n...\""),
    Q("cut keeps whole hex escape",
      "a\x01"
      "bcdefg",
      9, "\"a...\""),
    Q("cut after whole hex escape",
      "a\x01"
      "bcdefg",
      11, "\"a\\x01...\""),
    Q("cut keeps whole quote escape", "a\"bcdef", 8, "\"a...\""),
    Q("cut keeps whole 2-byte char",
      "a\xc3\xa9"
      "bcdef",
      8, "\"a...\""),
    Q("cut after 2-byte char",
      "a\xc3\xa9"
      "bcdef",
      9, "\"a\xc3\xa9...\""),
    Q("cut keeps whole 4-byte char",
      "a\xf0\x9f\x98\x80"
      "bcdef",
      10, "\"a...\""),
    Q("cut bounded on bad utf-8", "\x80\x80\x80\x80\x80\x80\x80\x80", 10, "\"\x80...\""),
};

static void test_quote_table(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(quote_cases); i++) {
		const struct quote_case *c = &quote_cases[i];
		size_t len = c->len ? c->len : strlen(c->src);
		char dst[256];
		size_t n;

		memset(dst, 0xaa, sizeof(dst));
		n = logfmt_quote(dst, c->cap, c->src, len);
		if (strcmp(dst, c->want) != 0 || n != strlen(c->want))
			fail_msg("%s: got '%s' (%zu), want '%s'", c->name, dst, n, c->want);
		/* Nothing written past CAP. */
		assert_true(n < c->cap);
		assert_int_equal((unsigned char)dst[c->cap], 0xaa);
	}
}

static void test_quote_cap_zero(void **state)
{
	char dst[4] = "xyz";

	assert_int_equal(logfmt_quote(dst, 0, "abc", 3), 0);
	assert_string_equal(dst, "xyz");
}

/* ---- logfmt_quote: every output decodes back to (a prefix of) its input ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Strict logfmt value decoder: raw control bytes, DEL, an unknown escape or an
 * unescaped '"' before the end are all failures. Returns the decoded length.
 */
static size_t unquote(const char *q, size_t qlen, char *dst)
{
	size_t i, o = 0;

	assert_true(qlen >= 2);
	assert_int_equal(q[0], '"');
	assert_int_equal(q[qlen - 1], '"');
	for (i = 1; i < qlen - 1; i++) {
		unsigned char c = (unsigned char)q[i];

		assert_true(c >= 0x20 && c != 0x7f && c != '"');
		if (c != '\\') {
			dst[o++] = (char)c;
			continue;
		}
		assert_true(i + 1 < qlen - 1);
		switch (q[++i]) {
		case '"':
		case '\\':
			dst[o++] = q[i];
			break;
		case 'n':
			dst[o++] = '\n';
			break;
		case 'r':
			dst[o++] = '\r';
			break;
		case 't':
			dst[o++] = '\t';
			break;
		case 'x':
			assert_true(i + 2 < qlen - 1);
			assert_true(hexval(q[i + 1]) >= 0 && hexval(q[i + 2]) >= 0);
			dst[o++] = (char)(hexval(q[i + 1]) << 4 | hexval(q[i + 2]));
			/* \x is only for bytes with no shorter form. */
			assert_true((unsigned char)dst[o - 1] < 0x20 || dst[o - 1] == 0x7f);
			i += 2;
			break;
		default:
			fail_msg("unknown escape \\%c", q[i]);
		}
	}
	return o;
}

static uint32_t rng = 2463534242u;

static uint32_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void check_roundtrip(const char *src, size_t len, size_t cap)
{
	char dst[128], dec[128];
	size_t n, d, need = 2, i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		need += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 2
			: c < 0x20 || c == 0x7f					     ? 4
										     : 1;
	}
	memset(dst, 0xaa, sizeof(dst));
	n = logfmt_quote(dst, cap, src, len);
	assert_int_equal((unsigned char)dst[cap], 0xaa);
	if (cap == 0)
		return;
	assert_int_equal(n, strlen(dst));
	assert_true(n < cap);
	if (need < cap) {
		/* It fits: the value is whole. */
		assert_int_equal(n, need);
		d = unquote(dst, n, dec);
		assert_int_equal(d, len);
		assert_memory_equal(dec, src, len);
	} else if (cap < 6) {
		assert_int_equal(n, 0);
	} else {
		/* Cut: '..."' at the end, a true prefix before it, and little room wasted. */
		assert_true(n >= 5 && n + 11 > cap);
		assert_memory_equal(dst + n - 4, "...\"", 4);
		d = unquote(dst, n, dec);
		assert_true(d >= 3 && d - 3 < len);
		assert_memory_equal(dec, src, d - 3);
	}
}

static void test_quote_roundtrip_random(void **state)
{
	/* Bytes that matter to the escaper, plus UTF-8 pieces. */
	static const char alphabet[] = "a Z=\"\\\n\r\t\x01\x1f\x7f\x80\xc3\xa9\xf0\x9f";
	char src[48];
	size_t iter, i, len, cap;

	for (iter = 0; iter < 20000; iter++) {
		len = xorshift() % sizeof(src);
		for (i = 0; i < len; i++) {
			if (xorshift() % 8 == 0)
				src[i] = (char)(xorshift() & 0xff);
			else
				src[i] = alphabet[xorshift() % (sizeof(alphabet) - 1)];
		}
		cap = xorshift() % 100;
		check_roundtrip(src, len, cap);
	}
}

static void test_quote_every_byte(void **state)
{
	size_t cap;
	int c;

	for (c = 0; c < 256; c++) {
		char b = (char)c;

		for (cap = 0; cap < 12; cap++)
			check_roundtrip(&b, 1, cap);
	}
}

/* ---- log lines ---------------------------------------------------------- */

static int sink_setup(void **state)
{
	sink = memfd_create("test_log", MFD_CLOEXEC);
	if (sink < 0)
		return -1;
	log_set_fd(sink);
	log_set_level(LOG_INFO);
	log_set_timestamps(false);
	return 0;
}

static int sink_teardown(void **state)
{
	log_flush();
	log_set_fd(2);
	log_set_level(LOG_INFO);
	log_set_timestamps(false);
	close(sink);
	sink = -1;
	return 0;
}

/* What reached the sink since the last call, NUL-terminated in OUT. */
static size_t sink_take(void)
{
	ssize_t n = pread(sink, out, sizeof(out) - 1, 0);

	assert_true(n >= 0);
	out[n] = '\0';
	assert_int_equal(ftruncate(sink, 0), 0);
	assert_int_equal(lseek(sink, 0, SEEK_SET), 0);
	return (size_t)n;
}

struct line_case {
	enum log_level threshold;
	enum log_level level;
	const char *text;
	const char *want;
};

static const struct line_case line_cases[] = {
    {LOG_INFO, LOG_INFO, "hello", "INFO hello\n"},
    {LOG_INFO, LOG_WARN, "DNS BLOCKED qname=evil.example", "WARN DNS BLOCKED qname=evil.example\n"},
    {LOG_INFO, LOG_ERROR, "boom err=-13", "ERROR boom err=-13\n"},
    {LOG_INFO, LOG_DEBUG, "hidden", ""},
    {LOG_DEBUG, LOG_DEBUG, "shown", "DEBUG shown\n"},
    {LOG_WARN, LOG_INFO, "hidden", ""},
    {LOG_WARN, LOG_WARN, "w", "WARN w\n"},
    {LOG_ERROR, LOG_WARN, "hidden", ""},
    {LOG_ERROR, LOG_ERROR, "e", "ERROR e\n"},
    {LOG_INFO, LOG_INFO, "", "INFO \n"},
    /* An unquoted line break from a careless caller still cannot start a new line. */
    {LOG_INFO, LOG_INFO, "a\nWARN forged\r", "INFO a WARN forged \n"},
};

static void test_lines_table(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(line_cases); i++) {
		const struct line_case *c = &line_cases[i];

		log_set_level(c->threshold);
		log_msg(c->level, "%s", c->text);
		log_flush();
		sink_take();
		if (strcmp(out, c->want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out, c->want);
	}
}

static void test_enabled(void **state)
{
	int t, l;

	for (t = LOG_DEBUG; t <= LOG_ERROR; t++) {
		log_set_level((enum log_level)t);
		for (l = LOG_DEBUG; l <= LOG_ERROR; l++)
			assert_int_equal(log_enabled((enum log_level)l), l >= t);
	}
}

static void test_format_args(void **state)
{
	char q[64];

	logfmt_quote(q, sizeof(q), "curl -s", 7);
	log_msg(LOG_WARN, "DNS BLOCKED pid=%d cmd=%s n=%zu", 42, q, (size_t)3);
	log_flush();
	sink_take();
	assert_string_equal(out, "WARN DNS BLOCKED pid=42 cmd=\"curl -s\" n=3\n");
}

/* The in-place line of the hot path: same shape as log_msg, mixed with it in order. */
static void test_reserve_commit(void **state)
{
	char *b;

	log_msg(LOG_INFO, "first");
	b = log_reserve(LOG_WARN, 64);
	assert_non_null(b);
	memcpy(b, "DNS BLOCKED domain=x", 20);
	log_commit(20);
	log_set_level(LOG_ERROR);
	assert_null(log_reserve(LOG_WARN, 64)); /* level off: nothing to write */
	log_set_level(LOG_INFO);
	assert_null(log_reserve(LOG_WARN, 1 << 20)); /* more than fits in place */
	log_flush();
	sink_take();
	assert_string_equal(out, "INFO first\nWARN DNS BLOCKED domain=x\n");
}

static void test_buffered_until_flush(void **state)
{
	log_msg(LOG_INFO, "one");
	log_msg(LOG_WARN, "two");
	sink_take();
	assert_string_equal(out, "");
	log_flush();
	sink_take();
	assert_string_equal(out, "INFO one\nWARN two\n");
	/* A second flush writes nothing again. */
	log_flush();
	sink_take();
	assert_string_equal(out, "");
}

static void test_error_flushes_at_once(void **state)
{
	log_msg(LOG_INFO, "before");
	log_msg(LOG_ERROR, "fatal");
	sink_take();
	assert_string_equal(out, "INFO before\nERROR fatal\n");
}

static void test_full_buffer_flushes(void **state)
{
	static char want[SINK_MAX];
	size_t wlen = 0, before, after;
	int i;

	/* 1000 lines of 100 bytes: more than the 64 KiB buffer holds. */
	for (i = 0; i < 1000; i++) {
		wlen += (size_t)sprintf(want + wlen, "INFO line=%04d %084d\n", i, 0);
		log_msg(LOG_INFO, "line=%04d %084d", i, 0);
	}
	assert_int_equal(wlen, 100000);
	before = sink_take();
	assert_true(before > 0 && before < wlen);
	assert_int_equal(out[before - 1], '\n');
	log_flush();
	after = sink_take();
	assert_int_equal(before + after, wlen);
	assert_string_equal(out, want + before);
}

static void test_long_line_cut(void **state)
{
	static char big[100001];
	size_t n;

	memset(big, 'a', sizeof(big) - 1);
	log_msg(LOG_INFO, "%s", big);
	log_msg(LOG_INFO, "next");
	log_flush();
	n = sink_take();
	/* One cut line that fits the buffer, then the next line intact. */
	assert_true(n > LOG_BUF_SIZE - 1024 && n <= LOG_BUF_SIZE + 16);
	assert_memory_equal(out, "INFO aaaa", 9);
	assert_string_equal(strchr(out, '\n'), "\nINFO next\n");
}

static void test_timestamps(void **state)
{
	regex_t re;

	assert_int_equal(
	    regcomp(&re,
		    "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
		    "WARN DNS BLOCKED\n$",
		    REG_EXTENDED | REG_NOSUB),
	    0);
	log_set_timestamps(true);
	log_msg(LOG_WARN, "DNS BLOCKED");
	log_flush();
	sink_take();
	assert_int_equal(regexec(&re, out, 0, NULL, 0), 0);
	regfree(&re);

	log_set_timestamps(false);
	log_msg(LOG_WARN, "DNS BLOCKED");
	log_flush();
	sink_take();
	assert_string_equal(out, "WARN DNS BLOCKED\n");
}

static size_t drain(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	return len;
}

/* A full non-blocking sink drops lines instead of waiting, then says how many. */
static void test_eagain_drops_and_reports(void **state)
{
	static char fill[4096], got[256 * 1024];
	int p[2];
	size_t n;

	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	memset(fill, 'f', sizeof(fill));
	while (write(p[1], fill, sizeof(fill)) > 0)
		;
	log_set_fd(p[1]);
	log_msg(LOG_INFO, "lost 1");
	log_msg(LOG_INFO, "lost 2");
	log_msg(LOG_WARN, "lost 3");
	log_flush();

	n = drain(p[0], got, sizeof(got));
	assert_true(memchr(got, 'I', n) == NULL);
	log_msg(LOG_INFO, "next");
	log_flush();
	n = drain(p[0], got, sizeof(got) - 1);
	got[n] = '\0';
	assert_string_equal(got, "WARN log lines dropped count=3\nINFO next\n");

	/* Reported once: the count starts again from zero. */
	log_msg(LOG_INFO, "again");
	log_flush();
	n = drain(p[0], got, sizeof(got) - 1);
	got[n] = '\0';
	assert_string_equal(got, "INFO again\n");
	log_set_fd(sink);
	close(p[0]);
	close(p[1]);
}

/* A write cut short mid-line: the torn line is ended before the notice, the count is exact. */
static void test_partial_write_torn_line(void **state)
{
	static char fill[60000], got[128 * 1024], want[16 * 1024];
	size_t wlen = 0, n, part, whole;
	int p[2], i;
	char notice[64];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
	memset(fill, 'f', sizeof(fill));
	assert_int_equal(write(p[1], fill, sizeof(fill)), sizeof(fill));
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);

	log_set_fd(p[1]);
	for (i = 0; i < 20; i++) {
		wlen += (size_t)sprintf(want + wlen, "INFO n=%02d %489d\n", i, 0);
		log_msg(LOG_INFO, "n=%02d %489d", i, 0);
	}
	assert_int_equal(wlen, 20 * 500);
	log_flush();

	n = drain(p[0], got, sizeof(got));
	assert_true(n > sizeof(fill));
	part = n - sizeof(fill);
	assert_true(part > 0 && part < wlen);
	assert_memory_equal(got + sizeof(fill), want, part);
	whole = part / 500;

	log_msg(LOG_INFO, "next");
	log_flush();
	n = drain(p[0], got, sizeof(got) - 1);
	got[n] = '\0';
	/* The torn line counts as dropped: its end never arrived. */
	snprintf(notice, sizeof(notice), "%sWARN log lines dropped count=%zu\nINFO next\n",
		 part % 500 ? "\n" : "", 20 - whole);
	assert_string_equal(got, notice);
	log_set_fd(sink);
	close(p[0]);
	close(p[1]);
}

static void test_epipe_drops(void **state)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	log_set_fd(p[1]);
	log_msg(LOG_INFO, "nobody reads 1");
	log_msg(LOG_INFO, "nobody reads 2");
	log_flush();
	log_set_fd(sink);
	close(p[1]);
	log_msg(LOG_INFO, "after");
	log_flush();
	sink_take();
	assert_string_equal(out, "WARN log lines dropped count=2\nINFO after\n");
}

/* ---- libbpf print callback ---------------------------------------------- */

static int call_libbpf_print(enum libbpf_print_level level, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_libbpf_print(level, fmt, ap);
	va_end(ap);
	return r;
}

struct libbpf_case {
	enum log_level threshold;
	enum libbpf_print_level level;
	const char *msg;
	const char *want;
};

static const struct libbpf_case libbpf_cases[] = {
    {LOG_INFO, LIBBPF_WARN, "libbpf: failed to open x.o: -2\n",
     "WARN libbpf: failed to open x.o: -2\n"},
    {LOG_INFO, LIBBPF_WARN, "no prefix, no newline", "WARN libbpf: no prefix, no newline\n"},
    {LOG_INFO, LIBBPF_INFO, "libbpf: loaded map\n", ""},
    {LOG_DEBUG, LIBBPF_INFO, "libbpf: loaded map\n", "DEBUG libbpf: loaded map\n"},
    {LOG_INFO, LIBBPF_DEBUG, "libbpf: detail\n", ""},
    {LOG_DEBUG, LIBBPF_DEBUG, "libbpf: detail\n", "DEBUG libbpf: detail\n"},
    {LOG_ERROR, LIBBPF_WARN, "libbpf: hidden\n", ""},
    {LOG_INFO, LIBBPF_WARN, "libbpf: prog 'x': BEGIN LOG\n0: R1=ctx\n\ninvalid mem\nEND LOG\n",
     "WARN libbpf: prog 'x': BEGIN LOG\nWARN libbpf: 0: R1=ctx\nWARN libbpf: invalid mem\n"
     "WARN libbpf: END LOG\n"},
    {LOG_INFO, LIBBPF_WARN, "\n", ""},
};

static void test_libbpf_print(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(libbpf_cases); i++) {
		const struct libbpf_case *c = &libbpf_cases[i];

		log_set_level(c->threshold);
		assert_int_equal(call_libbpf_print(c->level, "%s", c->msg), 0);
		log_flush();
		sink_take();
		if (strcmp(out, c->want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out, c->want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quote_table),
	    cmocka_unit_test(test_quote_cap_zero),
	    cmocka_unit_test(test_quote_roundtrip_random),
	    cmocka_unit_test(test_quote_every_byte),
	    cmocka_unit_test_setup_teardown(test_lines_table, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_enabled, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_format_args, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_reserve_commit, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_buffered_until_flush, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_error_flushes_at_once, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_full_buffer_flushes, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_long_line_cut, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_timestamps, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_eagain_drops_and_reports, sink_setup,
					    sink_teardown),
	    cmocka_unit_test_setup_teardown(test_partial_write_torn_line, sink_setup,
					    sink_teardown),
	    cmocka_unit_test_setup_teardown(test_epipe_drops, sink_setup, sink_teardown),
	    cmocka_unit_test_setup_teardown(test_libbpf_print, sink_setup, sink_teardown),
	};

	/* A closed pipe must give EPIPE, not kill the test (the daemon ignores SIGPIPE too). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
