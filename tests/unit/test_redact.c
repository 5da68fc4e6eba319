// SPDX-License-Identifier: GPL-2.0-only
/*
 * redact.c: every form a secret takes on a command line, as a table of exact
 * cases, plus the edges (cuts at every buffer size, long and hostile input,
 * ancestry separators). The e2e test t_log_fields.sh checks the same on real
 * block lines.
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

#include "redact.h"
#include "util.h"

struct redact_case {
	const char *in, *want;
};

static const struct redact_case cmd_cases[] = {
    {"", ""},
    {"curl github.com", "curl github.com"},
    /* URL userinfo, with and without a password, several per word and per line. */
    {"git clone https://user:s3cret@host/repo", "git clone https://***@host/repo"},
    /* A command line cut before the '@' (ancestry keeps 128 bytes). */
    {"git clone https://x-access-token:ghs_SECRETSECRET", "git clone https://***"},
    {"curl http://host:8080", "curl http://host:8080"},
    {"env PASSWORD=hunter2 API_TOKEN=abc ./deploy", "env PASSWORD=*** API_TOKEN=*** ./deploy"},
    {"docker run -e AWS_SECRET_ACCESS_KEY=x img", "docker run -e AWS_SECRET_ACCESS_KEY=*** img"},
    {"make VERBOSE=1 all", "make VERBOSE=1 all"},
    {"git clone https://ghp_TOKEN@github.com/o/r", "git clone https://***@github.com/o/r"},
    {"curl http://a:b@h1/x?u=ftp://c:d@h2/", "curl http://***@h1/x?u=ftp://***@h2/"},
    {"curl https://h/path@x", "curl https://h/path@x"}, /* '@' past the authority */
    {"curl https://u:p@h", "curl https://***@h"},
    {"curl --url=https://u:p@h/", "curl --url=https://***@h/"},
    {"git@github.com:o/r.git", "git@github.com:o/r.git"}, /* scp form: no userinfo */
    {"x ://u@", "x ://***@"},
    /* Options named like secrets, both forms, any case. */
    {"tool --token=abc --x", "tool --token=*** --x"},
    {"tool --password abc next", "tool --password *** next"},
    {"tool --PASSWORD=abc", "tool --PASSWORD=***"},
    {"tool --db-passwd=a --client-secret b --api-key=c --apikey d --auth e --key=f",
     "tool --db-passwd=*** --client-secret *** --api-key=*** --apikey *** --auth *** "
     "--key=***"},
    {"tool --password --verbose", "tool --password --verbose"}, /* next is an option */
    {"tool --token", "tool --token"},				/* nothing follows */
    {"tool --token=", "tool --token="},				/* nothing to hide */
    {"tool --token==x", "tool --token=***"},
    {"tool -p secret --name=a", "tool -p secret --name=a"}, /* short options stay */
    {"tool --tokens a  --x", "tool --tokens ***  --x"},	    /* blanks kept */
    /* Authorization headers: scheme and credential both go. */
    {"curl -H Authorization: Bearer xyz https://h/", "curl -H Authorization: *** https://h/"},
    {"curl -H authorization: basic dXNlcjpw", "curl -H authorization: ***"},
    {"curl -H Authorization: xyz https://h/", "curl -H Authorization: *** https://h/"},
    {"curl -H Authorization:Bearer xyz -s", "curl -H Authorization:*** -s"},
    {"curl -H Authorization:xyz -s", "curl -H Authorization:*** -s"},
    {"curl --header=Proxy-Authorization: Token t", "curl --header=Proxy-Authorization: ***"},
    {"curl -H Authorization:", "curl -H Authorization:"},
    {"curl -H Authorization: Bearer", "curl -H Authorization: ***"},
    /* All at once, as the e2e test runs it. */
    {"curl https://user:s3cret@h/ --token=abc --password abc -H Authorization: Bearer xyz",
     "curl https://***@h/ --token=*** --password *** -H Authorization: ***"},
    /* Trailing and leading blanks survive. */
    {"  a --token=b  ", "  a --token=***  "},
};

static void test_cmd_table(void **state)
{
	char out[512];

	for (size_t i = 0; i < ARRAY_SIZE(cmd_cases); i++) {
		const struct redact_case *c = &cmd_cases[i];
		size_t n = redact_cmdline(out, sizeof(out), c->in, strlen(c->in));

		assert_int_equal(n, strlen(out));
		if (strcmp(out, c->want))
			fail_msg("case %zu: '%s'\n got  '%s'\n want '%s'", i, c->in, out, c->want);
	}
}

static const struct redact_case anc_cases[] = {
    {"", ""},
    {"12:bash > 1:init", "12:bash > 1:init"},
    /* A trailing option of one command never hides the next one's pid. */
    {"12:sh deploy --password > 11:bash", "12:sh deploy --password > 11:bash"},
    {"12:sh --token t > 11:curl https://a:b@h/", "12:sh --token *** > 11:curl https://***@h/"},
};

static void test_ancestry_table(void **state)
{
	char out[512];

	for (size_t i = 0; i < ARRAY_SIZE(anc_cases); i++) {
		const struct redact_case *c = &anc_cases[i];

		redact_ancestry(out, sizeof(out), c->in, strlen(c->in));
		if (strcmp(out, c->want))
			fail_msg("case %zu:\n got  '%s'\n want '%s'", i, out, c->want);
	}
}

/* Every cap from 1 up: never past it, always NUL-terminated, a prefix of the whole. */
static void test_every_cap(void **state)
{
	const char *in =
	    "curl https://u:p@h/ --token=abc --password abc -H Authorization: Bearer x";
	char whole[256], out[256];
	size_t wn = redact_cmdline(whole, sizeof(whole), in, strlen(in));

	assert_int_equal(redact_cmdline(out, 0, in, strlen(in)), 0);
	for (size_t cap = 1; cap <= wn + 1; cap++) {
		size_t n;

		memset(out, 'Z', sizeof(out));
		n = redact_cmdline(out, cap, in, strlen(in));
		assert_true(n < cap);
		assert_int_equal(out[n], '\0');
		assert_int_equal(out[cap], 'Z');
		assert_memory_equal(out, whole, n);
	}
}

/* Long hostile input: bounded output, a secret never leaks past a cut. */
static void test_long_input(void **state)
{
	static char in[64 * 1024], out[1100];
	size_t len = 0, n;

	while (len + 40 < sizeof(in)) {
		memcpy(in + len, "--token=SECRET https://a:SECRET@h ", 34);
		len += 34;
	}
	n = redact_cmdline(out, sizeof(out), in, len);
	assert_int_equal(n, sizeof(out) - 1);
	assert_null(strstr(out, "SECRET"));
	/* A word with no blank at all, and one of only ':' '/' '@'. */
	memset(in, 'a', sizeof(in));
	n = redact_cmdline(out, sizeof(out), in, sizeof(in));
	assert_int_equal(n, sizeof(out) - 1);
	memset(in, '@', sizeof(in));
	memcpy(in, "x://", 4);
	n = redact_cmdline(out, sizeof(out), in, sizeof(in));
	assert_string_equal(out, "x://***@");
	/* Random bytes: terminated, bounded. */
	srand(3);
	for (int r = 0; r < 2000; r++) {
		size_t l = (size_t)rand() % 2048;

		for (size_t i = 0; i < l; i++)
			in[i] = " :/@=-aAtT"[rand() % 10];
		n = redact_cmdline(out, sizeof(out), in, l);
		assert_true(n < sizeof(out));
		assert_int_equal(strlen(out), n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmd_table),
	    cmocka_unit_test(test_ancestry_table),
	    cmocka_unit_test(test_every_cap),
	    cmocka_unit_test(test_long_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
