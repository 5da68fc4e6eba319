// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for policy text, which comes from users (files, --block).
 * Failing input must give a one-line "fuzz:LINE: ..." message and leave the
 * policy usable. Input that parses is matched against names cut from it, and
 * each verdict is checked against a naive matcher that compares every rule with
 * every suffix: the hash table and the one-pass suffix hashing must agree with it.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"
#include "policy.h"

#define MAX_RULES 512
#define MAX_Q	  1100

struct ref_rule {
	char name[DNS_NAME_BUF];
	size_t len;
	bool block, sub;
};

struct ref {
	enum policy_mode mode;
	bool overflow; /* more rules than the reference holds: skip the comparison */
	size_t n;
	struct ref_rule r[MAX_RULES];
};

static struct ref ref;

/* The same line grammar as policy_parse.c; only called on text that parsed. */
static void ref_line(const char *s, size_t len)
{
	const char *tok[3];
	size_t tlen[3], n = 0, i = 0;
	char in[4097];
	struct ref_rule *r;
	int c;

	while (i < len && s[i] != '#') {
		size_t start = i;

		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
			i++;
		if (n < 3) {
			tok[n] = s + start;
			tlen[n] = i - start;
		}
		n++;
	}
	if (n != 2 || tlen[1] >= sizeof(in))
		return;
	memcpy(in, tok[1], tlen[1]);
	in[tlen[1]] = '\0';
	if (tlen[0] == 4 && !memcmp(tok[0], "mode", 4))
		policy_mode_parse(in, &ref.mode);
	if (!(tlen[0] == 5 && (!memcmp(tok[0], "block", 5) || !memcmp(tok[0], "allow", 5))))
		return;
	if (ref.n == MAX_RULES) {
		ref.overflow = true;
		return;
	}
	r = &ref.r[ref.n];
	c = dns_name_canon(in, r->name, sizeof(r->name));
	if (c <= 0)
		__builtin_trap(); /* the parser accepted it */
	r->block = tok[0][0] == 'b';
	r->sub = r->name[0] == '*';
	r->len = c - (r->sub ? 2 : 0);
	memmove(r->name, r->name + (r->sub ? 2 : 0), r->len);
	ref.n++;
}

static enum policy_verdict ref_match(const char *q, size_t len)
{
	char low[MAX_Q];

	if (len && q[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len; i++)
		low[i] = tolower((unsigned char)q[i]);
	for (size_t i = 0; i < len; i++) {
		bool block = false, allow = false;

		if (i && low[i - 1] != '.')
			continue;
		for (size_t k = 0; k < ref.n; k++) {
			const struct ref_rule *r = &ref.r[k];

			if (r->len != len - i || memcmp(r->name, low + i, r->len) || (r->sub && !i))
				continue;
			block |= r->block;
			allow |= !r->block;
		}
		if (block)
			return ref.mode == POLICY_AUDIT ? VERDICT_AUDIT : VERDICT_BLOCK;
		if (allow)
			return VERDICT_ALLOW;
	}
	return ref.mode == POLICY_ALLOWLIST ? VERDICT_BLOCK : VERDICT_ALLOW;
}

static void check(const struct policy *p, const char *q, size_t len)
{
	if (len >= MAX_Q || ref.overflow)
		return;
	if (policy__match(p, q, len) != ref_match(q, len))
		__builtin_trap();
}

/* Every token as a query, also with a label in front and with its first byte cut,
 * which is where label-boundary mistakes show. */
static void check_tokens(const struct policy *p, const char *s, size_t len)
{
	char q[MAX_Q];

	for (size_t i = 0; i < len;) {
		size_t start = i, n;

		while (i < len && !isspace((unsigned char)s[i]) && s[i] != '#')
			i++;
		n = i - start;
		if (n && n + 2 < MAX_Q) {
			check(p, s + start, n);
			check(p, s + start + 1, n - 1);
			memcpy(q, "x.", 2);
			memcpy(q + 2, s + start, n);
			check(p, q, n + 2);
		}
		i += i < len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct policy *p = policy__new("fuzz");
	struct df_err err = {0};

	if (!p)
		return 0;
	if (policy__parse(p, text, size, "fuzz", &err)) {
		if (err.code != -EINVAL || strncmp(err.msg, "fuzz:", 5))
			__builtin_trap();
		for (const char *c = err.msg; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				__builtin_trap(); /* a message must stay one log line */
		policy__match(p, "example.com", 11);
		policy__free(p);
		return 0;
	}
	memset(&ref, 0, sizeof(ref));
	for (size_t i = 0; i < size;) {
		const char *nl = memchr(text + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - text) : size;

		ref_line(text + i, end - i);
		i = end + 1;
	}
	if (policy__mode(p) != ref.mode)
		__builtin_trap();
	check_tokens(p, text, size);
	check(p, text, size < 300 ? size : 300);
	policy__free(p);
	return 0;
}
