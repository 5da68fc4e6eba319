// SPDX-License-Identifier: GPL-2.0-only
/*
 * --log-format json: the logfmt -> JSON mapping (log_json.c) as a table of
 * exact lines, the hot path's reserve/commit and log_msg in JSON mode, and a
 * randomized check that whatever bytes a process puts in its argv, the line is
 * one valid JSON object (no raw control byte, valid UTF-8, closed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct json_case {
	const char *line;
	const char *want;
};

static const struct json_case cases[] = {
    {"INFO hello", "{\"level\":\"INFO\",\"msg\":\"hello\"}"},
    {"INFO ", "{\"level\":\"INFO\",\"msg\":\"\"}"},
    /* The block line: words are msg, pairs are fields, numbers and booleans typed. */
    {"WARN DNS BLOCKED reason=FromDNSRequest blocked=true blockedAt=dns domain=github.com "
     "pid=266767 cmd=\"curl github.com\" firewallMethod=blocklist policy=default qtype=A "
     "ancestry=\"\" run=run-1-2 exe=\"/usr/bin/curl\" rule=deploy.policy:3",
     "{\"level\":\"WARN\",\"msg\":\"DNS BLOCKED\",\"reason\":\"FromDNSRequest\","
     "\"blocked\":true,\"blockedAt\":\"dns\",\"domain\":\"github.com\",\"pid\":266767,"
     "\"cmd\":\"curl github.com\",\"firewallMethod\":\"blocklist\",\"policy\":\"default\","
     "\"qtype\":\"A\",\"ancestry\":\"\",\"run\":\"run-1-2\",\"exe\":\"/usr/bin/curl\","
     "\"rule\":\"deploy.policy:3\"}"},
    /* A folded summary (log_fold.h): repeated= is a number, last. */
    {"WARN PACKET BLOCKED reason=FromIPRule blocked=true blockedAt=packet ip=127.0.0.6 "
     "port=9 pid=7 rule=bl.policy:3 repeated=299",
     "{\"level\":\"WARN\",\"msg\":\"PACKET BLOCKED\",\"reason\":\"FromIPRule\","
     "\"blocked\":true,\"blockedAt\":\"packet\",\"ip\":\"127.0.0.6\",\"port\":9,"
     "\"pid\":7,\"rule\":\"bl.policy:3\",\"repeated\":299}"},
    /* logfmt_quote's escapes become JSON's. */
    {"WARN x cmd=\"a \\\"b\\\" c\\\\d\\ne\\tf\\x01\\x7f\"",
     "{\"level\":\"WARN\",\"msg\":\"x\",\"cmd\":\"a \\\"b\\\" c\\\\d\\ne\\tf\\u0001\\u007f\"}"},
    /* A quoted number stays a string; leading zeros and long digits are strings. */
    {"INFO n a=\"12\" b=007 c=0 d=1234567890123456 e=-1",
     "{\"level\":\"INFO\",\"msg\":\"n\",\"a\":\"12\",\"b\":\"007\",\"c\":0,"
     "\"d\":\"1234567890123456\",\"e\":\"-1\"}"},
    /* Free words after the pairs join msg; a word with '=' but a bad key is a word. */
    {"INFO run ended id=run-1 (no client came back)",
     "{\"level\":\"INFO\",\"msg\":\"run ended (no client came back)\",\"id\":\"run-1\"}"},
    {"ERROR policy reload: p:3: got 'a=b' x=",
     "{\"level\":\"ERROR\",\"msg\":\"policy reload: p:3: got 'a=b'\",\"x\":\"\"}"},
    {"ts=2026-01-02T03:04:05.678Z INFO up n=1",
     "{\"ts\":\"2026-01-02T03:04:05.678Z\",\"level\":\"INFO\",\"msg\":\"up\",\"n\":1}"},
    /* UTF-8 passes; broken bytes become U+FFFD; a bare '"' in a word is escaped. */
    {"INFO caf\xc3\xa9 k=\"\xff\xc3\" w=a\"b",
     "{\"level\":\"INFO\",\"msg\":\"caf\xc3\xa9\",\"k\":\"\\ufffd\\ufffd\",\"w\":\"a\\\"b\"}"},
    /* A quoted value cut before its closing quote still ends the object. */
    {"INFO m k=\"abc", "{\"level\":\"INFO\",\"msg\":\"m\",\"k\":\"abc\"}"},
};

static void test_table(void **state)
{
	char out[1024];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n =
		    log_json_from_logfmt(out, sizeof(out), cases[i].line, strlen(cases[i].line));

		out[n] = '\0';
		if (strcmp(out, cases[i].want))
			fail_msg("case %zu:\n got  %s\n want %s", i, out, cases[i].want);
	}
}

/*
 * A JSON object as log_json.c writes it: no raw byte < 0x20, UTF-8 valid
 * (checked loosely: lead and continuation bytes), strings closed, '{' ... '}'.
 */
static bool json_ok(const char *s, size_t n)
{
	bool in_str = false;

	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			size_t k = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;

			if (!k || i + k >= n)
				return false;
			for (size_t j = 1; j <= k; j++)
				if (((unsigned char)s[i + j] & 0xc0) != 0x80)
					return false;
			i += k;
			continue;
		}
		if (in_str && c == '\\') {
			i++;
			continue;
		}
		if (c == '"')
			in_str = !in_str;
	}
	return !in_str;
}

/* Random argv bytes, quoted as the block line quotes them, at every output size. */
static void test_random_bytes(void **state)
{
	char src[300], q[1300], line[1500], out[4096];

	srand(7);
	for (int round = 0; round < 3000; round++) {
		size_t len = (size_t)rand() % sizeof(src), cap = 64 + (size_t)rand() % 3000;
		size_t qn, ln, n;

		for (size_t i = 0; i < len; i++)
			src[i] = (char)(rand() & 0xff);
		qn = logfmt_quote(q, sizeof(q), src, len);
		ln = (size_t)snprintf(line, sizeof(line), "WARN DNS BLOCKED pid=1 cmd=%.*s rule=x",
				      (int)qn, q);
		n = log_json_from_logfmt(out, cap, line, ln);
		assert_true(n <= cap);
		if (!json_ok(out, n))
			fail_msg("round %d: not JSON: %.*s", round, (int)n, out);
	}
}

/* Too small a buffer: cut at a field boundary, marked, still one object. */
static void test_cut(void **state)
{
	char out[96];
	const char *line = "WARN DNS BLOCKED domain=github.com cmd=\"a very long command line "
			   "that does not fit in the buffer at all\" rule=inline";
	size_t n = log_json_from_logfmt(out, sizeof(out), line, strlen(line));

	out[n] = '\0';
	assert_true(n <= sizeof(out));
	assert_true(json_ok(out, n));
	assert_non_null(strstr(out, "\"truncated\":true}"));
	assert_int_equal(log_json_from_logfmt(out, 10, line, strlen(line)), 0);
}

static int sink = -1;

static int sink_setup(void **state)
{
	sink = memfd_create("test_log_json", MFD_CLOEXEC);
	if (sink < 0)
		return -1;
	log_set_fd(sink);
	log_set_format(LOG_FORMAT_JSON);
	return 0;
}

static int sink_teardown(void **state)
{
	log_flush();
	log_set_format(LOG_FORMAT_LOGFMT);
	log_set_fd(2);
	close(sink);
	return 0;
}

/* Both producers (log_msg and the hot path's reserve/commit) write JSON lines. */
static void test_lines(void **state)
{
	enum log_format f;
	char out[4096], *b;
	ssize_t n;

	assert_int_equal(log_format_parse("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("xml", &f), -EINVAL);
	log_msg(LOG_INFO, "run started id=%s policy=%s", "run-1", "default");
	b = log_reserve(LOG_WARN, 128);
	assert_non_null(b);
	memcpy(b, "DNS BLOCKED domain=x cmd=\"a b\"", 30);
	log_commit(30);
	/* Many reserved lines: the JSON copy never runs past the buffer. */
	for (int i = 0; i < 2000; i++) {
		b = log_reserve(LOG_WARN, 8000);
		assert_non_null(b);
		memset(b, 'x', 7000);
		log_commit(7000);
	}
	log_flush();
	n = pread(sink, out, sizeof(out) - 1, 0);
	assert_true(n > 0);
	out[n] = '\0';
	assert_memory_equal(out,
			    "{\"level\":\"INFO\",\"msg\":\"run started\",\"id\":\"run-1\","
			    "\"policy\":\"default\"}\n"
			    "{\"level\":\"WARN\",\"msg\":\"DNS BLOCKED\",\"domain\":\"x\","
			    "\"cmd\":\"a b\"}\n{\"level\":\"WARN\",\"msg\":\"xxx",
			    strlen("{\"level\":\"INFO\",\"msg\":\"run started\",\"id\":\"run-1\","
				   "\"policy\":\"default\"}\n"
				   "{\"level\":\"WARN\",\"msg\":\"DNS BLOCKED\",\"domain\":\"x\","
				   "\"cmd\":\"a b\"}\n{\"level\":\"WARN\",\"msg\":\"xxx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_random_bytes),
	    cmocka_unit_test(test_cut),
	    cmocka_unit_test_setup_teardown(test_lines, sink_setup, sink_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
