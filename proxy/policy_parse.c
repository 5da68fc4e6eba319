// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy text: one directive per line, parsed in a single pass with a small
 * tokenizer (a million-rule file must load in well under a second). Every
 * error names ORIGIN:LINE and what is wrong, because the person reading it is
 * editing the file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns_wire.h"
#include "policy_int.h"

#define QUOTE_MAX 100
/* Read size for policy files; must exceed the longest line. */
#define LOAD_CHUNK     (1u << 20)
#define STAR_MISPLACED "'*' is allowed only as a whole first label"

enum directive {
	DIR_MODE,
	DIR_BLOCK,
	DIR_ALLOW,
	DIR_BLOCK_IP,
	DIR_ALLOW_IP,
	DIR_REFUSE_WITH,
	DIR_MEMORY_MAX, /* the job's resource limits: enum cg_limit order */
	DIR_CPU_QUOTA,
	DIR_PIDS_MAX,
	DIR__COUNT,
};

static const struct {
	const char *word;
	const char *needs; /* what the single argument must be, for messages */
} directives[DIR__COUNT] = {
    [DIR_MODE] = {"mode", "one of blocklist, allowlist, audit"},
    [DIR_BLOCK] = {"block", "a name"},
    [DIR_ALLOW] = {"allow", "a name"},
    [DIR_BLOCK_IP] = {"block-ip", "a CIDR"},
    [DIR_ALLOW_IP] = {"allow-ip", "a CIDR"},
    [DIR_REFUSE_WITH] = {"refuse-with", "one of refused, nxdomain"},
    [DIR_MEMORY_MAX] = {CG_MEMORY_WORD, "a size"},
    [DIR_CPU_QUOTA] = {CG_CPU_WORD, "a percentage"},
    [DIR_PIDS_MAX] = {CG_PIDS_WORD, "a number"},
};
_Static_assert(DIR_CPU_QUOTA - DIR_MEMORY_MAX == CG_CPU && DIR_PIDS_MAX - DIR_MEMORY_MAX == CG_PIDS,
	       "limit directives follow enum cg_limit");

static const char *const mode_names[] = {
    [POLICY_BLOCKLIST] = "blocklist",
    [POLICY_ALLOWLIST] = "allowlist",
    [POLICY_AUDIT] = "audit",
};

struct tok {
	const char *s;
	size_t len;
};

/*
 * A name rule parsed but not yet in the table: its slot is prefetched when it
 * is parsed and written ADD_AHEAD rules later, so a big policy's adds do not
 * wait for memory one after the other (names_prefetch).
 */
#define ADD_AHEAD 8
struct pending_name {
	uint32_t hash, ref;
	size_t line;
	uint8_t len, flag;
	char name[POLICY_MAX_NAME_LEN];
};

struct parse_ctx {
	struct policy *p;
	const char *origin;
	size_t line; /* 0 for a rule from the command line */
	size_t mode_line, refuse_line, limit_line[CG__COUNT];
	uint32_t origin_bits; /* the origin's index, shifted: OR the line in for a rule's ref */
	struct df_err *err;
	/* Name rules not added yet (add_ahead): a ring, its oldest at FIRST. */
	unsigned n_pending, first;
	struct pending_name pending[ADD_AHEAD];
};

static bool tok_is(struct tok t, const char *word)
{
	return t.len == strlen(word) && !memcmp(t.s, word, t.len);
}

/* User text goes into messages that end up in logs: escape anything that could
 * forge a line or break the quoting, and cut it short. */
static const char *quote(char *buf, struct tok t)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < t.len; i++) {
		unsigned char c = t.s[i];

		if (o + 8 > QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = c;
		}
	}
	buf[o] = '\0';
	return buf;
}

__attribute__((format(printf, 3, 4))) static int fail(struct parse_ctx *c, int code,
						      const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->line)
		return df_err_set(c->err, code, "%s:%zu: %s", c->origin, c->line, what);
	return df_err_set(c->err, code, "%s: %s", c->origin, what);
}

const char *policy_mode_str(enum policy_mode mode)
{
	if ((unsigned)mode < ARRAY_SIZE(mode_names))
		return mode_names[mode];
	return "unknown";
}

static int mode_from_tok(struct tok t, enum policy_mode *ret_mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (tok_is(t, mode_names[i])) {
			*ret_mode = (enum policy_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int policy_mode_parse(const char *s, enum policy_mode *ret_mode)
{
	return mode_from_tok((struct tok){s, strlen(s)}, ret_mode);
}

/*
 * Why dns_name_canon() refused a name, for the message only. The checks run in
 * order of how likely each is to be the real mistake, not in byte order.
 */
static const char *name_problem(struct tok t, char *buf, size_t cap)
{
	size_t len = t.len, label = 0, max_label = 0;
	bool empty_label = false;

	if (len && t.s[len - 1] == '.')
		len--;
	if (!len)
		return "empty name";
	for (size_t i = 0; i <= len; i++) {
		if (i < len && t.s[i] != '.') {
			label++;
			continue;
		}
		empty_label |= !label;
		max_label = label > max_label ? label : max_label;
		label = 0;
	}
	if (empty_label)
		return "empty label";
	if (max_label > 63)
		return "label longer than 63 bytes";
	if (len > POLICY_MAX_NAME_LEN)
		return "name longer than 253 bytes";
	for (size_t i = 0; i < len; i++) {
		char c = t.s[i], q[QUOTE_MAX + 1];

		if (c == '*' && (i || len < 2 || t.s[1] != '.'))
			return STAR_MISPLACED;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '*')
			continue;
		snprintf(buf, cap, "character '%s' not allowed",
			 quote(q, (struct tok){&t.s[i], 1}));
		return buf;
	}
	return "not a domain name";
}

/* This line's rule reference (policy_int.h); a line past RULE_LINE_MAX shows as that. */
static uint32_t rule_ref(const struct parse_ctx *c)
{
	return c->origin_bits | (uint32_t)(c->line < RULE_LINE_MAX ? c->line : RULE_LINE_MAX);
}

/*
 * The index bits of ORIGIN (a path: its base name is what rule= shows),
 * added once. Past POLICY_MAX_ORIGINS every origin shares the last index:
 * policies are built from one file and inline rules, so that is never reached.
 */
static int origin_bits(struct policy *p, const char *origin, uint32_t *ret)
{
	const char *base = strrchr(origin, '/');
	unsigned i;

	base = base && base[1] ? base + 1 : origin;
	for (i = 0; i < p->n_origins; i++)
		if (!strcmp(p->origins[i], base))
			goto out;
	if (p->n_origins == POLICY_MAX_ORIGINS) {
		i = POLICY_MAX_ORIGINS - 1;
		goto out;
	}
	p->origins[i] = strdup(base);
	if (!p->origins[i])
		return -ENOMEM;
	p->n_origins++;
out:
	*ret = (uint32_t)(i + 1) << RULE_LINE_BITS;
	return 0;
}

/*
 * Add the oldest pending name. An error names its line, not the current one,
 * and drops the names after it: as without the queue, the rules before the
 * first error are in the policy and none after it.
 */
static int add_pending(struct parse_ctx *c)
{
	struct pending_name *e = &c->pending[c->first];
	size_t line = c->line;
	int rc;

	c->first = (c->first + 1) % ADD_AHEAD;
	c->n_pending--;
	rc = names_add(&c->p->names, e->hash, e->name, e->len, e->flag, e->ref);
	if (rc >= 0) {
		c->p->rule_count += rc;
		return 0;
	}
	c->n_pending = 0;
	c->line = e->line;
	if (rc == -E2BIG)
		rc = fail(c, rc, "too many rules (the limit is %u names)", POLICY_MAX_NAMES);
	else
		rc = fail(c, rc, "out of memory");
	c->line = line;
	return rc;
}

/* Every pending name, in the order of their lines. */
static int add_all_pending(struct parse_ctx *c)
{
	int rc = 0;

	while (c->n_pending && !rc)
		rc = add_pending(c);
	return rc;
}

static int add_ahead(struct parse_ctx *c, const char *name, size_t len, uint8_t flag)
{
	struct pending_name *e;
	int rc = 0;

	if (c->n_pending == ADD_AHEAD)
		rc = add_pending(c);
	if (rc)
		return rc;
	e = &c->pending[(c->first + c->n_pending++) % ADD_AHEAD];
	e->hash = names_hash(name, len);
	e->ref = rule_ref(c);
	e->line = c->line;
	e->len = (uint8_t)len;
	e->flag = flag;
	memcpy(e->name, name, len);
	names_prefetch(&c->p->names, e->hash);
	return 0;
}

static int add_name(struct parse_ctx *c, struct tok arg, bool block)
{
	char in[POLICY_MAX_LINE + 1], out[DNS_NAME_BUF], q[QUOTE_MAX + 1], why[QUOTE_MAX + 40];
	const char *name = out;
	uint8_t flag;
	int n = -1;

	if (arg.len < sizeof(in)) {
		memcpy(in, arg.s, arg.len);
		in[arg.len] = '\0';
		n = dns_name_canon(in, out, sizeof(out));
	}
	if (n <= 0 || n > POLICY_MAX_NAME_LEN + 2)
		return fail(c, -EINVAL, "invalid name '%s': %s", quote(q, arg),
			    name_problem(arg, why, sizeof(why)));
	/* "*.NAME" is stored as NAME with the subdomains-only bit. */
	if (n > 2 && out[0] == '*' && out[1] == '.') {
		name += 2;
		n -= 2;
		flag = block ? NAME_BLOCK_SUB : NAME_ALLOW_SUB;
	} else {
		flag = block ? NAME_BLOCK : NAME_ALLOW;
	}
	if (memchr(name, '*', n))
		return fail(c, -EINVAL, "invalid name '%s': %s", quote(q, arg), STAR_MISPLACED);
	if (n > POLICY_MAX_NAME_LEN)
		return fail(c, -EINVAL, "invalid name '%s': name longer than 253 bytes",
			    quote(q, arg));
	return add_ahead(c, name, n, flag);
}

/* A prefix length: decimal digits only, so "/+8" or "/ 8" are not quietly taken. */
static int parse_prefix(const char *s, size_t len, unsigned max)
{
	unsigned v = 0;

	if (!len || len > 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

static int push_cidr(struct parse_ctx *c, const struct policy_cidr *r)
{
	struct policy *p = c->p;

	if (p->n_cidrs >= POLICY_MAX_CIDRS)
		return fail(c, -E2BIG, "too many CIDR rules (the limit is %u)", POLICY_MAX_CIDRS);
	if (p->n_cidrs == p->cidrs_cap) {
		size_t cap = p->cidrs_cap ? p->cidrs_cap * 2 : 16;
		struct policy_cidr *v = realloc(p->cidrs, cap * sizeof(*v));

		if (!v)
			return fail(c, -ENOMEM, "out of memory");
		p->cidrs = v;
		p->cidrs_cap = cap;
	}
	p->cidrs[p->n_cidrs++] = *r;
	p->rule_count++;
	return 0;
}

static int add_cidr(struct parse_ctx *c, struct tok arg, bool allow)
{
	const char *slash = memchr(arg.s, '/', arg.len);
	size_t alen = slash ? (size_t)(slash - arg.s) : arg.len;
	char addr[INET6_ADDRSTRLEN + 1], q[QUOTE_MAX + 1];
	struct policy_cidr r = {.allow = allow, .rule = rule_ref(c)};
	bool v6 = memchr(arg.s, ':', alen);
	unsigned max = v6 ? 128 : 32;
	bool host_bits = false;
	int plen = max;

	r.family = v6 ? AF_INET6 : AF_INET;
	if (!alen || alen >= sizeof(addr))
		return fail(c, -EINVAL, "invalid CIDR '%s': not an IPv4 or IPv6 address",
			    quote(q, arg));
	memcpy(addr, arg.s, alen);
	addr[alen] = '\0';
	if (inet_pton(r.family, addr, r.addr) != 1)
		return fail(c, -EINVAL, "invalid CIDR '%s': not an IPv4 or IPv6 address",
			    quote(q, arg));
	if (slash)
		plen = parse_prefix(slash + 1, arg.len - alen - 1, max);
	if (plen < 0)
		return fail(c, -EINVAL, "invalid CIDR '%s': prefix length must be 0 to %u",
			    quote(q, arg), max);
	r.prefix_len = plen;
	/* Host bits set usually mean a typo in the address or the length; say so
	 * rather than guess which. */
	for (unsigned bit = plen; bit < max; bit++) {
		uint8_t m = 0x80 >> (bit & 7);

		host_bits |= r.addr[bit / 8] & m;
		r.addr[bit / 8] &= ~m;
	}
	if (host_bits) {
		inet_ntop(r.family, r.addr, addr, sizeof(addr));
		return fail(c, -EINVAL, "invalid CIDR '%s': host bits set (the network is %s/%d)",
			    quote(q, arg), addr, plen);
	}
	return push_cidr(c, &r);
}

static int set_once(struct parse_ctx *c, enum directive d, size_t *seen_line)
{
	if (*seen_line && c->line)
		return fail(c, -EINVAL, "'%s' already given on line %zu", directives[d].word,
			    *seen_line);
	*seen_line = c->line;
	return 0;
}

/* A default limit for the runs this policy guards (the command line's flags override it). */
static int set_limit(struct parse_ctx *c, enum directive d, struct tok arg)
{
	enum cg_limit which = (enum cg_limit)(d - DIR_MEMORY_MAX);
	char q[QUOTE_MAX + 1];
	const char *needs;
	uint64_t v;
	int rc;

	if (cg_limit_parse(which, arg.s, arg.len, &v, &needs) < 0)
		return fail(c, -EINVAL, "'%s' needs %s; got '%s'", directives[d].word, needs,
			    quote(q, arg));
	rc = set_once(c, d, &c->limit_line[which]);
	if (!rc) {
		c->p->limits.set |= 1u << which;
		c->p->limits.val[which] = v;
	}
	return rc;
}

static int apply(struct parse_ctx *c, enum directive d, struct tok arg)
{
	char q[QUOTE_MAX + 1];
	enum policy_mode mode;
	int rc;

	switch (d) {
	case DIR_BLOCK:
	case DIR_ALLOW:
		return add_name(c, arg, d == DIR_BLOCK);
	case DIR_BLOCK_IP:
	case DIR_ALLOW_IP:
		return add_cidr(c, arg, d == DIR_ALLOW_IP);
	case DIR_MODE:
		if (mode_from_tok(arg, &mode))
			break;
		rc = set_once(c, d, &c->mode_line);
		if (!rc)
			c->p->mode = mode;
		return rc;
	case DIR_REFUSE_WITH:
		if (!tok_is(arg, "refused") && !tok_is(arg, "nxdomain"))
			break;
		rc = set_once(c, d, &c->refuse_line);
		if (!rc)
			c->p->refuse_rcode =
			    tok_is(arg, "refused") ? DNS_RCODE_REFUSED : DNS_RCODE_NXDOMAIN;
		return rc;
	case DIR_MEMORY_MAX:
	case DIR_CPU_QUOTA:
	case DIR_PIDS_MAX:
		return set_limit(c, d, arg);
	default:
		return fail(c, -EINVAL, "internal error: directive %d", d);
	}
	return fail(c, -EINVAL, "'%s' needs %s; got '%s'", directives[d].word, directives[d].needs,
		    quote(q, arg));
}

static inline bool is_space(char c)
{
	/* '\r' counts as a blank so CRLF files parse like LF files. */
	return c == ' ' || c == '\t' || c == '\r';
}

static int parse_line(struct parse_ctx *c, const char *s, size_t len)
{
	char q[QUOTE_MAX + 1];
	struct tok tok[3];
	size_t ntok = 0, i = 0;
	int d;

	if (len && s[len - 1] == '\r')
		len--;
	if (len > POLICY_MAX_LINE)
		return fail(c, -EINVAL, "line longer than %d bytes", POLICY_MAX_LINE);
	while (i < len && s[i] != '#') {
		size_t start;

		if (is_space(s[i])) {
			i++;
			continue;
		}
		for (start = i; i < len && !is_space(s[i]) && s[i] != '#'; i++)
			;
		if (ntok < ARRAY_SIZE(tok))
			tok[ntok] = (struct tok){s + start, i - start};
		ntok++;
	}
	if (!ntok)
		return 0;
	for (d = 0; d < DIR__COUNT; d++)
		if (tok_is(tok[0], directives[d].word))
			break;
	if (d == DIR__COUNT)
		return fail(c, -EINVAL, "unknown directive '%s'", quote(q, tok[0]));
	if (ntok == 1)
		return fail(c, -EINVAL, "'%s' needs %s", directives[d].word, directives[d].needs);
	if (ntok > 2)
		return fail(c, -EINVAL, "too many arguments to '%s'", directives[d].word);
	return apply(c, d, tok[1]);
}

/*
 * The lines of TEXT; the last one may lack its newline. Name rules are added
 * a few lines behind the parse (add_ahead), all of them before this returns;
 * on an error in a line, those before it are added first, so the error of the
 * first line that has one is the one reported.
 */
static int parse_text(struct parse_ctx *c, const char *text, size_t len)
{
	const char *pos = text, *end = text + len;
	/* One scan for NUL over the whole text instead of one per line. */
	const char *nul = len ? memchr(text, '\0', len) : NULL;
	int rc = 0;

	while (pos < end && !rc) {
		const char *nl = memchr(pos, '\n', end - pos);
		const char *eol = nl ? nl : end;

		c->line++;
		if (nul && nul < eol)
			rc = fail(c, -EINVAL, "NUL byte in line");
		else
			rc = parse_line(c, pos, eol - pos);
		pos = nl ? nl + 1 : end;
	}
	return add_all_pending(c) ?: rc;
}

int policy__parse(struct policy *p, const char *text, size_t len, const char *origin,
		  struct df_err *err)
{
	struct parse_ctx c = {.p = p, .origin = origin ? origin : "policy", .err = err};

	if (origin_bits(p, c.origin, &c.origin_bits) < 0)
		return df_err_set(err, -ENOMEM, "%s: out of memory", c.origin);
	return parse_text(&c, text, len);
}

/*
 * Read in chunks and parse the whole lines of each, so that loading a large
 * file costs the memory of its rules, not of the rules plus its text.
 */
/*
 * A file of more than RESERVE_FROM bytes: count its lines (a rule a line at
 * most) with one read through the page cache, and reserve the name table for
 * them, so a million-rule policy is hashed once, not through twenty doublings.
 * BUF is LOAD_CHUNK bytes of scratch; FD's offset is not moved.
 */
#define RESERVE_FROM (1u << 20)
static void reserve_for_file(struct policy *p, int fd, char *buf)
{
	size_t lines = 0, bytes = 0;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0 || st.st_size < RESERVE_FROM || st.st_size > POLICY_MAX_FILE)
		return;
	/* pread: the parse's reads start at 0 whatever happens here. */
	while ((n = pread(fd, buf, LOAD_CHUNK, (off_t)bytes)) > 0) {
		const char *q = buf, *end = buf + n;

		while ((q = memchr(q, '\n', end - q))) {
			lines++;
			q++;
		}
		bytes += n;
	}
	names_reserve(&p->names, lines + 1, bytes);
}

int policy__load_file(struct policy *p, const char *path, struct df_err *err)
{
	struct parse_ctx c = {.p = p, .origin = path, .err = err};
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t have = 0, total = 0;
	uint64_t h = DF_FNV_SEED;
	bool eof = false;

	if (fd < 0)
		return df_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (origin_bits(p, path, &c.origin_bits) < 0)
		return df_err_set(err, -ENOMEM, "%s: out of memory", path);
	buf = malloc(LOAD_CHUNK);
	if (!buf)
		return df_err_set(err, -ENOMEM, "%s: out of memory", path);
	reserve_for_file(p, fd, buf);
	while (!eof) {
		/* read_full() comes back short only at end of file. */
		ssize_t n = read_full(fd, buf + have, LOAD_CHUNK - have);
		const char *last;
		size_t done;
		int rc;

		if (n < 0)
			return df_err_set(err, n, "%s: %s", path, strerror(-n));
		eof = (size_t)n < LOAD_CHUNK - have;
		have += n;
		total += n;
		if (total > POLICY_MAX_FILE)
			return df_err_set(err, -EFBIG, "%s: larger than %u MiB", path,
					  POLICY_MAX_FILE >> 20);
		/* A full chunk with no newline is one overlong line: parsing it reports that. */
		last = memrchr(buf, '\n', have);
		done = eof || !last ? have : (size_t)(last + 1 - buf);
		rc = parse_text(&c, buf, done);
		if (rc)
			return rc;
		h = df_fnv1a(h, buf, done);
		memmove(buf, buf + done, have - done);
		have -= done;
	}
	p->source_hash = h;
	return 0;
}

const struct cg_limits *policy__limits(const struct policy *p)
{
	return &p->limits;
}

uint64_t policy__source_hash(const struct policy *p)
{
	return p->source_hash;
}

int policy__add_rule(struct policy *p, const char *kind, const char *name, struct df_err *err)
{
	char origin[32];
	struct parse_ctx c = {.p = p, .origin = origin, .err = err};
	int d, rc;

	for (d = 0; d < DIR__COUNT; d++)
		if ((d == DIR_BLOCK || d == DIR_ALLOW || d == DIR_BLOCK_IP || d == DIR_ALLOW_IP) &&
		    !strcmp(kind, directives[d].word))
			break;
	if (d == DIR__COUNT)
		return df_err_set(err, -EINVAL, "unknown rule kind '%s'", kind);
	snprintf(origin, sizeof(origin), "--%s", kind);
	/* Line 0 of origin "inline": rule=inline. */
	if (origin_bits(p, "inline", &c.origin_bits) < 0)
		return df_err_set(err, -ENOMEM, "%s: out of memory", origin);
	rc = apply(&c, d, (struct tok){name, strlen(name)});
	return add_all_pending(&c) ?: rc;
}

static uint32_t next_id, id_base;

void policy__set_id_base(uint32_t base)
{
	id_base = base;
}

struct policy *policy__new(const char *name)
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->name = strdup(name ? name : "");
	if (!p->name) {
		free(p);
		return NULL;
	}
	p->mode = POLICY_BLOCKLIST;
	p->refuse_rcode = DNS_RCODE_REFUSED;
	p->id = ++next_id;
	return p;
}

uint32_t policy__id(const struct policy *p)
{
	return id_base + p->id;
}

void policy__free(struct policy *p)
{
	if (!p)
		return;
	names_free(&p->names);
	for (unsigned i = 0; i < p->n_origins; i++)
		free(p->origins[i]);
	free(p->cidrs);
	free(p->name);
	free(p);
}

void policy__set_mode(struct policy *p, enum policy_mode mode)
{
	p->mode = mode;
}

enum policy_mode policy__mode(const struct policy *p)
{
	return p->mode;
}

const char *policy__name(const struct policy *p)
{
	return p->name;
}

int policy__refuse_rcode(const struct policy *p)
{
	return p->refuse_rcode;
}

size_t policy__rule_count(const struct policy *p)
{
	return p->rule_count;
}

const struct policy_cidr *policy__cidrs(const struct policy *p, size_t *ret_n)
{
	*ret_n = p->n_cidrs;
	return p->cidrs;
}
