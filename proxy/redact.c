// SPDX-License-Identifier: GPL-2.0-only
/*
 * Redaction of logged command lines (rules in redact.h). Runs on the block
 * path, after procinfo and before logfmt_quote: one pass over at most a few
 * KiB, words scanned once, no allocation.
 */
#include "redact.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

struct out {
	char *d;
	size_t cap, n;
};

static void emit(struct out *o, const char *s, size_t len)
{
	size_t room = o->cap - 1 - o->n;

	if (len > room)
		len = room;
	memcpy(o->d + o->n, s, len);
	o->n += len;
}

#define EMIT_LIT(o, lit) emit(o, lit, sizeof(lit) - 1)

/* Case-insensitive search for NEEDLE (lowercase) in S (LEN bytes). */
static const char *find_ci(const char *s, size_t len, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= len; i++)
		if (!strncasecmp(s + i, needle, nl))
			return s + i;
	return NULL;
}

/* Does an option name (LEN bytes, after "--", before '=') name a secret? */
static bool secret_name(const char *name, size_t len)
{
	static const char *const words[] = {"password", "passwd", "token",   "secret",
					    "key",	"apikey", "api-key", "auth"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (find_ci(name, len, words[i]))
			return true;
	return false;
}

/* An HTTP auth scheme: the word after "Authorization:" that the credential follows. */
static bool auth_scheme(const char *w, size_t len)
{
	static const char *const schemes[] = {
	    "bearer", "basic",	"digest", "token",  "negotiate",       "ntlm",
	    "bot",    "apikey", "hoba",	  "mutual", "aws4-hmac-sha256"};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strlen(schemes[i]) == len && !strncasecmp(w, schemes[i], len))
			return true;
	return false;
}

/* "user:secret" with no host after it; "host:8080" (a port) is not. */
static bool cut_userinfo(const char *a, size_t len)
{
	const char *colon = memchr(a, ':', len);
	size_t i;

	if (!colon)
		return false;
	for (i = (size_t)(colon + 1 - a); i < len; i++)
		if (a[i] < '0' || a[i] > '9')
			return true;
	return false;
}

/* Word W (LEN bytes) with URL userinfo hidden; every "://" in it is looked at. */
static void emit_urls(struct out *o, const char *w, size_t len)
{
	const char *end = w + len, *p = w;

	while (p < end) {
		const char *sep = memmem(p, (size_t)(end - p), "://", 3);
		const char *host, *auth_end, *at = NULL;

		if (!sep)
			break;
		host = sep + 3;
		for (auth_end = host; auth_end < end && !strchr("/?#", *auth_end); auth_end++)
			if (*auth_end == '@')
				at = auth_end;
		emit(o, p, (size_t)(host - p));
		if (at) {
			EMIT_LIT(o, REDACTED);
			host = at;
		} else if (auth_end == end && cut_userinfo(host, (size_t)(end - host))) {
			/* The word ends inside its authority: a command line cut before
			 * the '@' of "user:TOKEN@host". Over-hiding is the safe error. */
			EMIT_LIT(o, REDACTED);
			host = end;
		}
		emit(o, host, (size_t)(auth_end - host));
		p = auth_end;
	}
	emit(o, p, (size_t)(end - p));
}

enum state {
	ST_WORD,       /* an ordinary word */
	ST_OPT_VALUE,  /* after "--password": this word is its value */
	ST_AUTH_VALUE, /* after "Authorization:": a scheme or the credential */
	ST_AUTH_CRED,  /* after "Authorization: Bearer": the credential, dropped */
};

/*
 * One word, with the state the previous one left. Returns the next state.
 * SEP (SEP_LEN bytes) is the blank run before the word: dropped with a word
 * that disappears into an earlier "***".
 */
static enum state one_word(struct out *o, enum state st, const char *sep, size_t sep_len,
			   const char *w, size_t len)
{
	const char *hdr, *eq;

	if (st == ST_AUTH_CRED && w[0] != '-')
		return ST_WORD;
	emit(o, sep, sep_len);
	if (st == ST_OPT_VALUE && w[0] != '-') {
		EMIT_LIT(o, REDACTED);
		return ST_WORD;
	}
	if (st == ST_AUTH_VALUE) {
		EMIT_LIT(o, REDACTED);
		return auth_scheme(w, len) ? ST_AUTH_CRED : ST_WORD;
	}
	hdr = find_ci(w, len, "authorization:");
	if (hdr) {
		const char *val = hdr + strlen("authorization:");

		emit(o, w, (size_t)(val - w));
		if (val == w + len)
			return ST_AUTH_VALUE;
		EMIT_LIT(o, REDACTED);
		return auth_scheme(val, (size_t)(w + len - val)) ? ST_AUTH_CRED : ST_WORD;
	}
	if (len > 2 && w[0] == '-' && w[1] == '-') {
		eq = memchr(w, '=', len);
		if (secret_name(w + 2, (size_t)((eq ? eq : w + len) - w - 2))) {
			if (!eq)
				emit(o, w, len);
			else if (eq + 1 == w + len)
				emit(o, w, len); /* "--token=": nothing to hide */
			else {
				emit(o, w, (size_t)(eq + 1 - w));
				EMIT_LIT(o, REDACTED);
			}
			return eq ? ST_WORD : ST_OPT_VALUE;
		}
	}
	/* NAME=VALUE (an environment assignment, `env PASSWORD=x`, `-e API_TOKEN=x`). */
	eq = memchr(w, '=', len);
	if (w[0] != '-' && eq && eq > w && eq + 1 < w + len && !memmem(w, len, "://", 3) &&
	    secret_name(w, (size_t)(eq - w))) {
		emit(o, w, (size_t)(eq + 1 - w));
		EMIT_LIT(o, REDACTED);
		return ST_WORD;
	}
	emit_urls(o, w, len);
	return ST_WORD;
}

static void redact_into(struct out *o, const char *src, size_t len)
{
	enum state st = ST_WORD;
	size_t i = 0;

	while (i < len) {
		size_t sep = i, w;

		while (i < len && src[i] == ' ')
			i++;
		if (i == len) {
			emit(o, src + sep, i - sep);
			break;
		}
		for (w = i; i < len && src[i] != ' '; i++)
			;
		st = one_word(o, st, src + sep, w - sep, src + w, i - w);
	}
}

size_t redact_cmdline(char *dst, size_t cap, const char *src, size_t len)
{
	struct out o = {.d = dst, .cap = cap};

	if (!cap)
		return 0;
	redact_into(&o, src, len);
	dst[o.n] = '\0';
	return o.n;
}

size_t redact_ancestry(char *dst, size_t cap, const char *src, size_t len)
{
	struct out o = {.d = dst, .cap = cap};
	const char *p = src, *end = src + len;

	if (!cap)
		return 0;
	while (p < end) {
		const char *sep = memmem(p, (size_t)(end - p), " > ", 3);
		const char *stop = sep ? sep : end;

		redact_into(&o, p, (size_t)(stop - p));
		if (!sep)
			break;
		EMIT_LIT(&o, " > ");
		p = sep + 3;
	}
	dst[o.n] = '\0';
	return o.n;
}
