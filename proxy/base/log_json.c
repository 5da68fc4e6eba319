// SPDX-License-Identifier: GPL-2.0-only
/*
 * --log-format json: every line is built as logfmt first (so producers write
 * one shape) and rendered here as one JSON object, in the log layer, so every
 * producer gets it. The mapping (docs/design.md, "The block line"):
 *
 *   [ts=T] LEVEL word word key=value word key="quoted value" ...
 *   -> {"ts":"T","level":"LEVEL","msg":"word word word","key":value,...}
 *
 * Words that are not key=value (key: [A-Za-z0-9_.-]+) make "msg", joined by
 * single spaces, in order; key=value pairs become fields in order. A quoted
 * value is logfmt-unquoted (\" \\ \n \r \t \xHH) and always a string; a bare
 * value is a number when it is a plain decimal integer (pid=, port=, count=),
 * true/false a boolean, else a string. Strings are JSON-escaped: control bytes
 * as \u00XX, and bytes that are not valid UTF-8 as U+FFFD, so every line is
 * valid JSON whatever a process put in its argv.
 *
 * No allocation: two passes over the line, output cut at CAP with the object
 * still closed (and "truncated":true) when a line does not fit.
 */
#include "log.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

/* Room kept for closing a cut value and the object: "...\",\"truncated\":true}". */
#define JSON_CLOSE_ROOM 32
/* A bare integer longer than this may not survive a double: keep it a string. */
#define JSON_INT_DIGITS 15

struct jw {
	char *d;
	size_t limit, n; /* content stops at LIMIT; the rest is for closing */
	bool cut;
};

static bool put(struct jw *w, const char *s, size_t len)
{
	if (w->cut || w->n + len > w->limit) {
		w->cut = true;
		return false;
	}
	memcpy(w->d + w->n, s, len);
	w->n += len;
	return true;
}

#define PUT_LIT(w, lit) put(w, lit, sizeof(lit) - 1)

/* One byte (or a UTF-8 sequence starting at S) as JSON string content. Returns bytes used. */
static size_t put_char(struct jw *w, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = {'\\', 'u', '0', '0'};
	size_t n;

	switch (s[0]) {
	case '"':
		put(w, "\\\"", 2);
		return 1;
	case '\\':
		put(w, "\\\\", 2);
		return 1;
	case '\n':
		put(w, "\\n", 2);
		return 1;
	case '\r':
		put(w, "\\r", 2);
		return 1;
	case '\t':
		put(w, "\\t", 2);
		return 1;
	}
	if (s[0] < 0x20 || s[0] == 0x7f) {
		esc[4] = hex[s[0] >> 4];
		esc[5] = hex[s[0] & 15];
		put(w, esc, 6);
		return 1;
	}
	n = utf8_seq_len(s, len);
	if (!n) {
		put(w, "\\ufffd", 6);
		return 1;
	}
	put(w, (const char *)s, n);
	return n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * S (LEN bytes) as JSON string content; QUOTED: S is the inside of a logfmt
 * quoted value, unescaped first. Stops (w->cut) when the limit is reached.
 */
static void put_content(struct jw *w, const char *s, size_t len, bool quoted)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len && !w->cut) {
		unsigned char c;

		if (!quoted || u[i] != '\\' || i + 1 == len) {
			i += put_char(w, u + i, len - i);
			continue;
		}
		switch (u[i + 1]) {
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'x':
			if (i + 3 < len && hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
				c = (unsigned char)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
				put_char(w, &c, 1);
				i += 4;
				continue;
			}
			c = 'x';
			break;
		default:
			c = u[i + 1]; /* \" and \\ */
		}
		put_char(w, &c, 1);
		i += 2;
	}
}

/* The end of a whole string: from the reserve when the limit is just reached. */
static void close_quote(struct jw *w)
{
	if (!put(w, "\"", 1))
		w->d[w->n++] = '"';
}

/* A string value: cut ones are closed from the reserve with "...". */
static void put_string(struct jw *w, const char *s, size_t len, bool quoted)
{
	if (w->cut)
		return;
	if (!PUT_LIT(w, "\"")) {
		/* A key is out already: give it a value from the reserve. */
		memcpy(w->d + w->n, "\"...\"", 5);
		w->n += 5;
		return;
	}
	put_content(w, s, len, quoted);
	if (w->cut) {
		memcpy(w->d + w->n, "...\"", 4);
		w->n += 4;
		return;
	}
	close_quote(w);
}

struct token {
	const char *key, *val;
	size_t key_len, val_len;
	bool quoted; /* VAL is the inside of "..." */
};

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* The token at *POS (blanks skipped); false at the end. KEY NULL: a msg word in VAL. */
static bool next_token(const char *line, size_t len, size_t *pos, struct token *t)
{
	size_t i = *pos, k;

	while (i < len && line[i] == ' ')
		i++;
	if (i == len)
		return false;
	memset(t, 0, sizeof(*t));
	for (k = i; k < len && key_char(line[k]); k++)
		;
	if (k > i && k < len && line[k] == '=') {
		t->key = line + i;
		t->key_len = k - i;
		i = k + 1;
		if (i < len && line[i] == '"') {
			size_t j = ++i;

			/* logfmt_quote escapes every '"' inside: the first bare one ends it. */
			while (j < len && line[j] != '"')
				j += line[j] == '\\' && j + 1 < len ? 2 : 1;
			t->val = line + i;
			t->val_len = j - i;
			t->quoted = true;
			*pos = j < len ? j + 1 : j;
			return true;
		}
	}
	t->val = line + i;
	while (i < len && line[i] != ' ')
		i++;
	t->val_len = (size_t)(line + i - t->val);
	*pos = i;
	return true;
}

static bool plain_int(const char *s, size_t len)
{
	if (!len || len > JSON_INT_DIGITS || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void put_field(struct jw *w, const struct token *t)
{
	size_t mark = w->n;

	PUT_LIT(w, ",\"");
	put_content(w, t->key, t->key_len, false);
	PUT_LIT(w, "\":");
	if (w->cut) {
		w->n = mark; /* never half a key */
		return;
	}
	if (!t->quoted &&
	    (plain_int(t->val, t->val_len) || (t->val_len == 4 && !memcmp(t->val, "true", 4)) ||
	     (t->val_len == 5 && !memcmp(t->val, "false", 5)))) {
		if (!put(w, t->val, t->val_len))
			w->n = mark;
		return;
	}
	put_string(w, t->val, t->val_len, t->quoted);
}

size_t log_json_from_logfmt(char *dst, size_t cap, const char *line, size_t len)
{
	struct jw w = {.d = dst};
	struct token t;
	size_t pos = 0, body, p;
	bool first = true;

	if (cap < JSON_CLOSE_ROOM * 2)
		return 0;
	w.limit = cap - JSON_CLOSE_ROOM;
	PUT_LIT(&w, "{");
	/* "ts=T " first when timestamps are on, then the level word. */
	if (next_token(line, len, &pos, &t) && t.key && t.key_len == 2 && !memcmp(t.key, "ts", 2)) {
		PUT_LIT(&w, "\"ts\":");
		put_string(&w, t.val, t.val_len, t.quoted);
		PUT_LIT(&w, ",");
		if (!next_token(line, len, &pos, &t))
			t.val_len = 0;
	}
	PUT_LIT(&w, "\"level\":");
	put_string(&w, t.val, t.val_len, false);
	body = pos;
	PUT_LIT(&w, ",\"msg\":\"");
	for (p = body; !w.cut && next_token(line, len, &p, &t);) {
		if (t.key)
			continue;
		if (!first)
			PUT_LIT(&w, " ");
		first = false;
		put_content(&w, t.val, t.val_len, false);
	}
	if (w.cut) {
		memcpy(w.d + w.n, "...\"", 4);
		w.n += 4;
	} else {
		close_quote(&w);
	}
	for (p = body; !w.cut && next_token(line, len, &p, &t);)
		if (t.key)
			put_field(&w, &t);
	if (w.cut) {
		memcpy(w.d + w.n, ",\"truncated\":true", 17);
		w.n += 17;
	}
	w.d[w.n++] = '}';
	return w.n;
}
