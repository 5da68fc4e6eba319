// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy parsing and matching. Each table row becomes its own cmocka test, so a
 * failure names the case, not just the table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns_wire.h"
#include "policy.h"

#define ORIGIN "deploy.policy"

/* 63-byte label, for length limits. */
#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* L63.L63.L63.L61 is 253 bytes, the longest name. */
#define L61  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L253 L63 "." L63 "." L63 "." L61
/* What an error message shows of a long name: 93 bytes, then "...". */
#define L253_QUOTED L63 ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."

struct parse_case {
	const char *desc;
	const char *text;
	size_t len;	 /* 0: strlen(text); set for texts with a NUL */
	const char *err; /* NULL: must parse */
	enum policy_mode mode;
	int rcode;
	size_t rules;
};

/* clang-format off */
#define OK(d, t, m, rc, n) {d, t, 0, NULL, m, rc, n}
#define BAD(d, t, e)       {d, t, 0, ORIGIN ":" e, 0, 0, 0}
/* clang-format on */

static const struct parse_case parse_cases[] = {
    OK("empty text", "", POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 0),
    OK("comments and blanks", "# head\n\n   \n\t# indented\nblock a.com # trailing\n",
       POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 1),
    OK("comment glued to a name", "block a.com#x\n", POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 1),
    OK("no final newline", "block a.com\nblock b.com", POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 2),
    OK("CRLF", "mode allowlist\r\nallow a.com\r\n\r\n", POLICY_ALLOWLIST, DNS_RCODE_REFUSED, 1),
    OK("tabs between tokens", "block\t\ta.com\t\n", POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 1),
    OK("mode blocklist", "mode blocklist\n", POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 0),
    OK("mode allowlist", "mode allowlist\n", POLICY_ALLOWLIST, DNS_RCODE_REFUSED, 0),
    OK("mode audit", "mode audit\n", POLICY_AUDIT, DNS_RCODE_REFUSED, 0),
    OK("refuse-with nxdomain", "refuse-with nxdomain\n", POLICY_BLOCKLIST, DNS_RCODE_NXDOMAIN, 0),
    OK("refuse-with refused", "refuse-with refused\n", POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 0),
    OK("duplicate rules merge", "block a.com\nblock A.COM.\n", POLICY_BLOCKLIST, DNS_RCODE_REFUSED,
       1),
    OK("block and allow of one name are two rules", "block a.com\nallow a.com\n", POLICY_BLOCKLIST,
       DNS_RCODE_REFUSED, 2),
    OK("name and wildcard are two rules", "block a.com\nblock *.a.com\n", POLICY_BLOCKLIST,
       DNS_RCODE_REFUSED, 2),
    OK("CIDRs count as rules", "block-ip 192.0.2.0/24\nallow-ip 2001:db8::/32\n", POLICY_BLOCKLIST,
       DNS_RCODE_REFUSED, 2),
    OK("the whole example",
       "# comment\nmode blocklist          # blocklist | allowlist | audit\n"
       "block github.com\nallow internal.example\nblock-ip 192.0.2.0/24\n"
       "allow-ip 2001:db8::/32\nrefuse-with nxdomain\n",
       POLICY_BLOCKLIST, DNS_RCODE_NXDOMAIN, 4),
    OK("longest name, with and without dot", "block " L253 "\nblock " L253 ".\n", POLICY_BLOCKLIST,
       DNS_RCODE_REFUSED, 1),
    OK("longest wildcard",
       "block *." L63 "." L63 "." L63
       ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
       POLICY_BLOCKLIST, DNS_RCODE_REFUSED, 1),
    BAD("unknown directive", "blok github.com\n", "1: unknown directive 'blok'"),
    BAD("error on line 6", "mode audit\n\n# x\n\nblock a.com\nblok github.com\n",
	"6: unknown directive 'blok'"),
    BAD("directives are case-sensitive", "Block a.com\n", "1: unknown directive 'Block'"),
    BAD("line count with CRLF", "mode audit\r\nblok\r\n", "2: unknown directive 'blok'"),
    BAD("control bytes quoted", "bl'k\x1b[2J x\n", "1: unknown directive 'bl\\x27k\\x1b[2J'"),
    BAD("bad mode", "\n\nmode blacklist\n",
	"3: 'mode' needs one of blocklist, allowlist, audit; got 'blacklist'"),
    BAD("mode without value", "mode\n", "1: 'mode' needs one of blocklist, allowlist, audit"),
    BAD("mode given twice", "mode audit\nmode allowlist\n", "2: 'mode' already given on line 1"),
    BAD("block without name", "block\n", "1: 'block' needs a name"),
    BAD("block with only a comment", "block   # later\n", "1: 'block' needs a name"),
    BAD("allow without name", "allow\n", "1: 'allow' needs a name"),
    BAD("block-ip without CIDR", "block-ip\n", "1: 'block-ip' needs a CIDR"),
    BAD("allow-ip without CIDR", "allow-ip\n", "1: 'allow-ip' needs a CIDR"),
    BAD("refuse-with without value", "refuse-with\n",
	"1: 'refuse-with' needs one of refused, nxdomain"),
    BAD("bad refuse-with", "refuse-with servfail\n",
	"1: 'refuse-with' needs one of refused, nxdomain; got 'servfail'"),
    BAD("refuse-with given twice", "refuse-with nxdomain\n\nrefuse-with refused\n",
	"3: 'refuse-with' already given on line 1"),
    BAD("too many arguments", "block a.com b.com\n", "1: too many arguments to 'block'"),
    BAD("too many arguments to mode", "mode audit now\n", "1: too many arguments to 'mode'"),
    BAD("empty label", "block a..com\n", "1: invalid name 'a..com': empty label"),
    BAD("leading dot", "block .a.com\n", "1: invalid name '.a.com': empty label"),
    BAD("root as a rule", "block .\n", "1: invalid name '.': empty name"),
    BAD("bad character", "block a!b.com\n", "1: invalid name 'a!b.com': character '!' not allowed"),
    BAD("backslash", "block a\\046b.com\n",
	"1: invalid name 'a\\x5c046b.com': character '\\x5c' not allowed"),
    BAD("8-bit byte", "block caf\xc3\xa9.fr\n",
	"1: invalid name 'caf\\xc3\\xa9.fr': character '\\xc3' not allowed"),
    BAD("star inside", "block a.*.com\n",
	"1: invalid name 'a.*.com': '*' is allowed only as a whole first label"),
    BAD("star glued to label", "block *a.com\n",
	"1: invalid name '*a.com': '*' is allowed only as a whole first label"),
    BAD("star alone", "block *\n",
	"1: invalid name '*': '*' is allowed only as a whole first label"),
    BAD("star dot", "block *.\n",
	"1: invalid name '*.': '*' is allowed only as a whole first label"),
    BAD("double star", "block *.*.com\n",
	"1: invalid name '*.*.com': '*' is allowed only as a whole first label"),
    BAD("label of 64", "block a" L63 ".com\n",
	"1: invalid name 'a" L63 ".com': label longer than 63 bytes"),
    BAD("name of 254", "block " L253 "a\n",
	"1: invalid name '" L253_QUOTED "': name longer than 253 bytes"),
    BAD("wildcard of 254", "block *." L253 "\n",
	"1: invalid name '*." L63 ".aaaaaaaaaaaaaaaaaaaaaaaaaaa...': name longer than 253 bytes"),
    BAD("CIDR prefix too long", "block-ip 10.0.0.0/33\n",
	"1: invalid CIDR '10.0.0.0/33': prefix length must be 0 to 32"),
    BAD("CIDR v6 prefix too long", "allow-ip 2001:db8::/129\n",
	"1: invalid CIDR '2001:db8::/129': prefix length must be 0 to 128"),
    BAD("CIDR empty prefix", "block-ip 10.0.0.0/\n",
	"1: invalid CIDR '10.0.0.0/': prefix length must be 0 to 32"),
    BAD("CIDR signed prefix", "block-ip 10.0.0.0/+8\n",
	"1: invalid CIDR '10.0.0.0/+8': prefix length must be 0 to 32"),
    BAD("CIDR two slashes", "block-ip 10.0.0.0/8/8\n",
	"1: invalid CIDR '10.0.0.0/8/8': prefix length must be 0 to 32"),
    BAD("CIDR host bits v4", "block-ip 10.0.0.1/24\n",
	"1: invalid CIDR '10.0.0.1/24': host bits set (the network is 10.0.0.0/24)"),
    BAD("CIDR host bits v6", "allow-ip 2001:db8::1/32\n",
	"1: invalid CIDR '2001:db8::1/32': host bits set (the network is 2001:db8::/32)"),
    BAD("CIDR short v4", "block-ip 10.0.0/8\n",
	"1: invalid CIDR '10.0.0/8': not an IPv4 or IPv6 address"),
    BAD("CIDR no address", "block-ip /8\n", "1: invalid CIDR '/8': not an IPv4 or IPv6 address"),
    BAD("CIDR name", "block-ip github.com\n",
	"1: invalid CIDR 'github.com': not an IPv4 or IPv6 address"),
    BAD("CIDR zone id", "block-ip fe80::1%eth0\n",
	"1: invalid CIDR 'fe80::1%eth0': not an IPv4 or IPv6 address"),
    OK("limits", "memory-max 2G\ncpu-quota 150%\npids-max 64\n", POLICY_BLOCKLIST,
       DNS_RCODE_REFUSED, 0),
    BAD("memory-max without unit digits", "memory-max G\n",
	"1: 'memory-max' needs a size like 512M, 2G or 1048576, or max; got 'G'"),
    BAD("memory-max given twice", "memory-max 1G\nmemory-max 2G\n",
	"2: 'memory-max' already given on line 1"),
    BAD("cpu-quota of 0", "cpu-quota 0%\n",
	"1: 'cpu-quota' needs a percentage of one CPU from 1% to 100000% (150% = 1.5 CPUs), or "
	"max; got '0%'"),
    BAD("pids-max too large", "pids-max 4194305\n",
	"1: 'pids-max' needs a number of processes from 1 to 4194304, or max; got '4194305'"),
    {"NUL byte", "block a.com\nblock b\0.com\n", 25, ORIGIN ":2: NUL byte in line", 0, 0, 0},
    {"NUL in a comment", "# x\0y\n", 6, ORIGIN ":1: NUL byte in line", 0, 0, 0},
};

/* A comment line of N bytes, then END. */
static const char *long_line(size_t n, const char *end)
{
	static char buf[8192];

	memset(buf, 'x', n);
	memcpy(buf, "# ", 2);
	strcpy(buf + n, end);
	return buf;
}

static void test_parse_row(void **state)
{
	const struct parse_case *c = *state;
	struct policy *p = policy__new("t");
	size_t len = c->len ? c->len : strlen(c->text);
	struct df_err err = {0};
	int rc;

	assert_non_null(p);
	rc = policy__parse(p, c->text, len, ORIGIN, &err);
	if (c->err) {
		assert_string_equal(err.msg, c->err);
		assert_int_equal(rc, -EINVAL);
		assert_int_equal(err.code, -EINVAL);
	} else {
		assert_string_equal(err.msg, "");
		assert_int_equal(rc, 0);
		assert_int_equal(policy__mode(p), c->mode);
		assert_int_equal(policy__refuse_rcode(p), c->rcode);
		assert_int_equal(policy__rule_count(p), c->rules);
	}
	policy__free(p);
}

static void test_line_length(void **state)
{
	struct policy *p = policy__new("t");
	struct df_err err = {0};
	const char *s;

	(void)state;
	s = long_line(4096, "\n");
	assert_int_equal(policy__parse(p, s, strlen(s), ORIGIN, &err), 0);
	/* The CR of a CRLF line does not count against the limit. */
	s = long_line(4096, "\r\n");
	assert_int_equal(policy__parse(p, s, strlen(s), ORIGIN, &err), 0);
	s = long_line(4097, "");
	assert_int_equal(policy__parse(p, s, strlen(s), ORIGIN, &err), -EINVAL);
	assert_string_equal(err.msg, ORIGIN ":1: line longer than 4096 bytes");
	s = long_line(4097, "\r\n");
	assert_int_equal(policy__parse(p, s, strlen(s), ORIGIN, &err), -EINVAL);
	policy__free(p);
}

struct match_case {
	const char *desc;
	const char *policy;
	const char *qname;
	enum policy_verdict want;
};

#define GH	  "block github.com\n"
#define LONGEST	  "block github.com\nallow api.github.com\n"
#define ALLOWLIST "mode allowlist\nallow internal.example\nblock secret.internal.example\n"
#define AUDIT	  "mode audit\nblock github.com\nallow ok.github.com\n"

static const struct match_case match_cases[] = {
    {"exact name", GH, "github.com", VERDICT_BLOCK},
    {"subdomain", GH, "api.github.com", VERDICT_BLOCK},
    {"deep subdomain", GH, "a.b.c.api.github.com", VERDICT_BLOCK},
    {"not at a label boundary", GH, "evilgithub.com", VERDICT_ALLOW},
    {"rule as a prefix", GH, "github.com.evil", VERDICT_ALLOW},
    {"parent of the rule", GH, "com", VERDICT_ALLOW},
    {"shorter last label", GH, "github.co", VERDICT_ALLOW},
    {"suffix inside the first label", GH, "ithub.com", VERDICT_ALLOW},
    {"query case folded", GH, "API.GitHub.COM", VERDICT_BLOCK},
    {"query trailing dot", GH, "api.github.com.", VERDICT_BLOCK},
    {"root query", GH, "", VERDICT_ALLOW},
    {"root query with dot", GH, ".", VERDICT_ALLOW},
    {"empty label in query", GH, "a..github.com", VERDICT_BLOCK},
    {"rule case and trailing dot", "block GitHub.COM.\n", "api.github.com", VERDICT_BLOCK},
    {"wildcard skips the name", "block *.example.com\n", "example.com", VERDICT_ALLOW},
    {"wildcard subdomain", "block *.example.com\n", "www.example.com", VERDICT_BLOCK},
    {"wildcard deep subdomain", "block *.example.com\n", "a.b.example.com", VERDICT_BLOCK},
    {"wildcard boundary", "block *.example.com\n", "badexample.com", VERDICT_ALLOW},
    {"longest: allowed child", LONGEST, "api.github.com", VERDICT_ALLOW},
    {"longest: under allowed child", LONGEST, "v2.api.github.com", VERDICT_ALLOW},
    {"longest: the parent", LONGEST, "github.com", VERDICT_BLOCK},
    {"longest: sibling", LONGEST, "www.github.com", VERDICT_BLOCK},
    {"longest: blocked child", "allow github.com\nblock api.github.com\n", "x.api.github.com",
     VERDICT_BLOCK},
    {"longest: allowed parent", "allow github.com\nblock api.github.com\n", "github.com",
     VERDICT_ALLOW},
    {"block beats allow", "allow a.com\nblock a.com\n", "a.com", VERDICT_BLOCK},
    {"block beats allow, other order", "block a.com\nallow a.com\n", "x.a.com", VERDICT_BLOCK},
    {"allow name, block wildcard: name", "allow a.com\nblock *.a.com\n", "a.com", VERDICT_ALLOW},
    {"allow name, block wildcard: sub", "allow a.com\nblock *.a.com\n", "x.a.com", VERDICT_BLOCK},
    {"block beats allow wildcard", "block a.com\nallow *.a.com\n", "x.a.com", VERDICT_BLOCK},
    {"wildcard allow not for its name", "block a.com\nallow *.x.a.com\n", "x.a.com", VERDICT_BLOCK},
    {"wildcard allow below", "block a.com\nallow *.x.a.com\n", "y.x.a.com", VERDICT_ALLOW},
    {"allowlist: allowed", ALLOWLIST, "internal.example", VERDICT_ALLOW},
    {"allowlist: allowed sub", ALLOWLIST, "git.internal.example", VERDICT_ALLOW},
    {"allowlist: default deny", ALLOWLIST, "github.com", VERDICT_BLOCK},
    {"allowlist: root denied", ALLOWLIST, "", VERDICT_BLOCK},
    {"allowlist: block inside allow", ALLOWLIST, "x.secret.internal.example", VERDICT_BLOCK},
    {"allowlist: no rules", "mode allowlist\n", "a.com", VERDICT_BLOCK},
    {"blocklist: no rules", "", "a.com", VERDICT_ALLOW},
    {"audit: block match", AUDIT, "github.com", VERDICT_AUDIT},
    {"audit: block match sub", AUDIT, "x.github.com", VERDICT_AUDIT},
    {"audit: allow match", AUDIT, "ok.github.com", VERDICT_ALLOW},
    {"audit: no match", AUDIT, "example.org", VERDICT_ALLOW},
    {"escaped dot is no boundary", GH, "foo\\046github.com", VERDICT_ALLOW},
    {"escaped dot, shorter rule", "block com\n", "foo\\046github.com", VERDICT_BLOCK},
    {"escaped bytes in a label", GH, "a\\032b\\255.github.com", VERDICT_BLOCK},
    {"escaped bytes in the last label", GH, "github.com\\000", VERDICT_ALLOW},
    {"underscore and hyphen", "block _dmarc.my-host.example\n", "_dmarc.my-host.example",
     VERDICT_BLOCK},
    {"longest rule name", "block " L253 "\n", L253, VERDICT_BLOCK},
    {"under the longest rule name", "block " L253 "\n", "x." L253, VERDICT_BLOCK},
    {"longest rule name, one byte less", "block " L253 "\n", &L253[1], VERDICT_ALLOW},
};

static void test_match_row(void **state)
{
	const struct match_case *c = *state;
	struct policy *p = policy__new("t");
	struct df_err err = {0};

	assert_int_equal(policy__parse(p, c->policy, strlen(c->policy), ORIGIN, &err), 0);
	assert_int_equal(policy__match(p, c->qname, strlen(c->qname)), c->want);
	policy__free(p);
}

struct cidr_case {
	const char *text;
	uint8_t family, prefix_len;
	const char *addr;
	bool allow;
};

static const struct cidr_case cidr_cases[] = {
    {"block-ip 192.0.2.0/24", AF_INET, 24, "192.0.2.0", false},
    {"allow-ip 10.1.2.3", AF_INET, 32, "10.1.2.3", true},
    {"block-ip 0.0.0.0/0", AF_INET, 0, "0.0.0.0", false},
    {"block-ip 10.0.0.0/08", AF_INET, 8, "10.0.0.0", false},
    {"allow-ip 2001:db8::/32", AF_INET6, 32, "2001:db8::", true},
    {"block-ip 2001:DB8::1", AF_INET6, 128, "2001:db8::1", false},
    {"block-ip ::/0", AF_INET6, 0, "::", false},
    {"block-ip ::ffff:192.0.2.0/120", AF_INET6, 120, "::ffff:192.0.2.0", false},
    {"block-ip fe80::/10", AF_INET6, 10, "fe80::", false},
};

static void test_cidr_row(void **state)
{
	const struct cidr_case *c = *state;
	struct policy *p = policy__new("t");
	struct df_err err = {0};
	const struct policy_cidr *v;
	uint8_t want[16] = {0};
	size_t n = 99;

	assert_int_equal(policy__parse(p, c->text, strlen(c->text), ORIGIN, &err), 0);
	v = policy__cidrs(p, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].family, c->family);
	assert_int_equal(v[0].prefix_len, c->prefix_len);
	assert_int_equal(v[0].allow, c->allow);
	assert_int_equal(inet_pton(c->family, c->addr, want), 1);
	assert_memory_equal(v[0].addr, want, c->family == AF_INET ? 4 : 16);
	assert_int_equal(policy__rule_count(p), 1);
	policy__free(p);
}

struct rule_case {
	const char *kind, *name;
	const char *err; /* NULL: accepted */
};

static const struct rule_case rule_cases[] = {
    {"block", "github.com", NULL},
    {"allow", "*.Internal.Example.", NULL},
    {"block-ip", "192.0.2.0/24", NULL},
    {"allow-ip", "2001:db8::/32", NULL},
    {"block", "git hub..com", "--block: invalid name 'git hub..com': empty label"},
    {"block", "git hub.com", "--block: invalid name 'git hub.com': character ' ' not allowed"},
    {"allow", "", "--allow: invalid name '': empty name"},
    {"block-ip", "10.0.0.1/8",
     "--block-ip: invalid CIDR '10.0.0.1/8': host bits set (the network is 10.0.0.0/8)"},
    {"deny", "x.com", "unknown rule kind 'deny'"},
    {"mode", "audit", "unknown rule kind 'mode'"},
};

static void test_rule_row(void **state)
{
	const struct rule_case *c = *state;
	struct policy *p = policy__new("t");
	struct df_err err = {0};
	int rc = policy__add_rule(p, c->kind, c->name, &err);

	if (c->err) {
		assert_string_equal(err.msg, c->err);
		assert_int_equal(rc, -EINVAL);
		assert_int_equal(policy__rule_count(p), 0);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(policy__rule_count(p), 1);
	}
	policy__free(p);
}

static void test_add_rule_matches(void **state)
{
	struct policy *p = policy__new("t");
	struct df_err err = {0};

	(void)state;
	assert_int_equal(policy__add_rule(p, "block", "GitHub.com.", &err), 0);
	assert_int_equal(policy__add_rule(p, "allow", "*.ok.github.com", &err), 0);
	assert_int_equal(policy__match(p, "api.github.com", 14), VERDICT_BLOCK);
	assert_int_equal(policy__match(p, "ok.github.com", 13), VERDICT_BLOCK);
	assert_int_equal(policy__match(p, "x.ok.github.com", 15), VERDICT_ALLOW);
	policy__free(p);
}

/* Rules accumulate across calls: a file, then inline rules. */
static void test_accumulate(void **state)
{
	struct policy *p = policy__new("t");
	struct df_err err = {0};

	(void)state;
	assert_int_equal(policy__parse(p, "mode audit\nblock a.com\n", 23, "f.policy", &err), 0);
	assert_int_equal(policy__add_rule(p, "allow", "b.com", &err), 0);
	/* "mode" once per text, not once per policy. */
	assert_int_equal(policy__parse(p, "mode blocklist\nblock c.com\n", 27, "--block", &err), 0);
	assert_int_equal(policy__rule_count(p), 3);
	assert_int_equal(policy__mode(p), POLICY_BLOCKLIST);
	assert_int_equal(policy__match(p, "a.com", 5), VERDICT_BLOCK);
	assert_int_equal(policy__match(p, "b.com", 5), VERDICT_ALLOW);
	assert_int_equal(policy__match(p, "x.c.com", 7), VERDICT_BLOCK);
	policy__free(p);
}

/* After an error the caller discards the policy, but it must still be sound. */
static void test_usable_after_error(void **state)
{
	static const char text[] = "block a.com\nblock-ip 10.0.0.0/8\nblok b.com\nblock c.com\n";
	struct policy *p = policy__new("t");
	struct df_err err = {0};
	size_t n;

	(void)state;
	assert_int_equal(policy__parse(p, text, strlen(text), ORIGIN, &err), -EINVAL);
	assert_string_equal(err.msg, ORIGIN ":3: unknown directive 'blok'");
	assert_int_equal(policy__match(p, "a.com", 5), VERDICT_BLOCK);
	assert_int_equal(policy__match(p, "c.com", 5), VERDICT_ALLOW);
	assert_non_null(policy__cidrs(p, &n));
	assert_int_equal(n, 1);
	assert_int_equal(policy__add_rule(p, "block", "d.com", &err), 0);
	assert_int_equal(policy__match(p, "d.com", 5), VERDICT_BLOCK);
	policy__free(p);
}

/*
 * Name rules reach the table a few lines after they are parsed (a prefetch
 * queue): an error still leaves every rule before it in, and none after it, a
 * repeated name keeps the line that said it first, and each rule its line.
 */
static void test_rules_before_error(void **state)
{
	struct policy *p = policy__new("t");
	struct df_err err = {0};
	char text[1024], q[32], want[64], buf[64];
	size_t len = 0;
	uint32_t rule;
	int n;

	(void)state;
	/* Lines 1-20: n0..n14, then n0..n4 again; line 21 is wrong. */
	for (int i = 0; i < 20; i++)
		len += snprintf(text + len, sizeof(text) - len, "block n%d.test\n", i % 15);
	len += snprintf(text + len, sizeof(text) - len, "blok x.test\nblock after.test\n");
	assert_int_equal(policy__parse(p, text, len, ORIGIN, &err), -EINVAL);
	assert_string_equal(err.msg, ORIGIN ":21: unknown directive 'blok'");
	assert_int_equal(policy__rule_count(p), 15);
	for (int i = 0; i < 15; i++) {
		n = snprintf(q, sizeof(q), "n%d.test", i);
		assert_int_equal(policy__match_rule(p, q, n, &rule), VERDICT_BLOCK);
		policy__rule_str(p, rule, buf, sizeof(buf));
		snprintf(want, sizeof(want), ORIGIN ":%d", i + 1);
		assert_string_equal(buf, want);
	}
	assert_int_equal(policy__match(p, "after.test", 10), VERDICT_ALLOW);
	assert_int_equal(policy__match(p, "x.test", 6), VERDICT_ALLOW);
	policy__free(p);
}

/*
 * Files are read in 1 MiB chunks: these put lines across chunk boundaries. Each
 * generator writes its text to BUF and returns the number of rules, or for a
 * case that must fail, the line the error is on.
 */
#define CHUNK (1u << 20)

static size_t fill_rules(char *buf, size_t *len, size_t upto)
{
	size_t lines = 0;

	while (*len + 32 < upto)
		*len += sprintf(buf + *len, "block h%06zu.example\n", lines++);
	return lines;
}

static size_t gen_many(char *buf, size_t *len)
{
	return fill_rules(buf, len, 2 * CHUNK + 5000);
}

static size_t gen_error_late(char *buf, size_t *len)
{
	size_t n = fill_rules(buf, len, 2 * CHUNK + 5000);

	*len += sprintf(buf + *len, "blok x\n");
	return n + 1;
}

static size_t gen_line_across(char *buf, size_t *len)
{
	size_t n = fill_rules(buf, len, CHUNK - 2000);

	memcpy(buf + *len, long_line(4096, "\r\nblock last.example"), 4096 + 20);
	*len += 4096 + 20;
	return n + 1;
}

static size_t gen_long_across(char *buf, size_t *len)
{
	size_t n = fill_rules(buf, len, CHUNK - 2000);

	memcpy(buf + *len, long_line(5000, "\n"), 5001);
	*len += 5001;
	return n + 1;
}

static size_t gen_huge_line(char *buf, size_t *len)
{
	memset(buf, 'x', 2 * CHUNK);
	*len = 2 * CHUNK;
	return 1;
}

static size_t gen_nul_late(char *buf, size_t *len)
{
	size_t n = fill_rules(buf, len, CHUNK + CHUNK / 2);

	memcpy(buf + *len, "# \0\n", 4);
	*len += 4;
	return n + 1;
}

struct file_case {
	const char *desc;
	const char *text; /* or: */
	size_t (*gen)(char *buf, size_t *len);
	const char *err; /* after "PATH:LINE: "; NULL: must load */
	size_t n;	 /* rules to expect, or the line of the error */
};

static const struct file_case file_cases[] = {
    {"file: CRLF", "mode allowlist\r\nallow internal.example\r\n", NULL, NULL, 1},
    {"file: no final newline", "block a.com\nblock b.com", NULL, NULL, 2},
    {"file: error names the path", "mode allowlist\nallow a.com\nblok x\n", NULL,
     "unknown directive 'blok'", 3},
    {"file: lines over three chunks", NULL, gen_many, NULL, 0},
    {"file: error line after chunks", NULL, gen_error_late, "unknown directive 'blok'", 0},
    {"file: 4096-byte line across a chunk", NULL, gen_line_across, NULL, 0},
    {"file: long line across a chunk", NULL, gen_long_across, "line longer than 4096 bytes", 0},
    {"file: chunk without newline", NULL, gen_huge_line, "line longer than 4096 bytes", 0},
    {"file: NUL after a chunk", NULL, gen_nul_late, "NUL byte in line", 0},
};

static void test_file_row(void **state)
{
	const struct file_case *c = *state;
	char path[] = "/tmp/test_policy.XXXXXX", want[256];
	struct policy *p = policy__new("t");
	char *buf = malloc(3 * CHUNK);
	struct df_err err = {0};
	size_t len = 0, n = c->n;
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_non_null(buf);
	if (c->gen) {
		n = c->gen(buf, &len);
	} else {
		len = strlen(c->text);
		memcpy(buf, c->text, len);
	}
	assert_int_equal(write(fd, buf, len), len);
	close(fd);
	rc = policy__load_file(p, path, &err);
	unlink(path);
	if (c->err) {
		snprintf(want, sizeof(want), "%s:%zu: %s", path, n, c->err);
		assert_string_equal(err.msg, want);
		assert_int_equal(rc, -EINVAL);
	} else {
		assert_string_equal(err.msg, "");
		assert_int_equal(rc, 0);
		assert_int_equal(policy__rule_count(p), n);
	}
	free(buf);
	policy__free(p);
}

static void test_file_missing(void **state)
{
	struct policy *p = policy__new("t");
	struct df_err err = {0};

	(void)state;
	assert_int_equal(policy__load_file(p, "/nonexistent/x.policy", &err), -ENOENT);
	assert_string_equal(err.msg, "/nonexistent/x.policy: No such file or directory");
	assert_int_equal(policy__load_file(p, "/tmp", &err), -EISDIR);
	assert_string_equal(err.msg, "/tmp: Is a directory");
	policy__free(p);
}

static void test_modes_and_names(void **state)
{
	struct policy *p = policy__new("build-42");
	enum policy_mode m = POLICY_BLOCKLIST;
	size_t n = 99;

	(void)state;
	assert_string_equal(policy__name(p), "build-42");
	assert_int_equal(policy__mode(p), POLICY_BLOCKLIST);
	assert_int_equal(policy__refuse_rcode(p), DNS_RCODE_REFUSED);
	assert_null(policy__cidrs(p, &n));
	assert_int_equal(n, 0);
	policy__set_mode(p, POLICY_AUDIT);
	assert_int_equal(policy__mode(p), POLICY_AUDIT);
	assert_string_equal(policy_mode_str(POLICY_BLOCKLIST), "blocklist");
	assert_string_equal(policy_mode_str(POLICY_ALLOWLIST), "allowlist");
	assert_string_equal(policy_mode_str(POLICY_AUDIT), "audit");
	assert_string_equal(policy_mode_str((enum policy_mode)7), "unknown");
	assert_int_equal(policy_mode_parse("allowlist", &m), 0);
	assert_int_equal(m, POLICY_ALLOWLIST);
	assert_int_equal(policy_mode_parse("audit", &m), 0);
	assert_int_equal(m, POLICY_AUDIT);
	assert_int_equal(policy_mode_parse("Audit", &m), -EINVAL);
	assert_int_equal(policy_mode_parse("", &m), -EINVAL);
	assert_int_equal(m, POLICY_AUDIT);
	policy__free(p);
	policy__free(NULL);
}

/* A query at the presentation-form limit: 255 wire bytes, every byte escaped. */
static void test_long_query(void **state)
{
	struct policy *p = policy__new("t");
	struct df_err err = {0};
	char q[DNS_NAME_BUF];
	size_t o = 0;

	(void)state;
	assert_int_equal(policy__parse(p, GH, strlen(GH), ORIGIN, &err), 0);
	for (int lab = 0; lab < 3; lab++) {
		for (int i = 0; i < 63; i++)
			o += sprintf(q + o, "\\255");
		q[o++] = '.';
	}
	o += sprintf(q + o, "github.com");
	assert_true(o < sizeof(q));
	assert_int_equal(policy__match(p, q, o), VERDICT_BLOCK);
	q[o - 4] = 'x';
	assert_int_equal(policy__match(p, q, o), VERDICT_ALLOW);
	policy__free(p);
}

#define MANY 200000

/* Enough rules to force many rehashes; checks hits and near misses, not time. */
static void test_many_rules(void **state)
{
	size_t cap = (size_t)MANY * 48, len = 0;
	char *text = malloc(cap), q[128];
	struct policy *p = policy__new("many");
	struct df_err err = {0};
	int n;

	(void)state;
	assert_non_null(text);
	for (unsigned i = 0; i < MANY; i++)
		len += snprintf(text + len, cap - len, "%s host%u.zone%u.example\n",
				i % 10 == 9 ? "allow" : "block", i, i % 97);
	len += snprintf(text + len, cap - len, "block *.wild.example\n");
	assert_int_equal(policy__parse(p, text, len, "many.policy", &err), 0);
	assert_int_equal(policy__rule_count(p), MANY + 1);
	for (unsigned i = 0; i < MANY; i += 7919) {
		enum policy_verdict want = i % 10 == 9 ? VERDICT_ALLOW : VERDICT_BLOCK;

		n = snprintf(q, sizeof(q), "host%u.zone%u.example", i, i % 97);
		assert_int_equal(policy__match(p, q, n), want);
		n = snprintf(q, sizeof(q), "www.host%u.zone%u.example", i, i % 97);
		assert_int_equal(policy__match(p, q, n), want);
		n = snprintf(q, sizeof(q), "host%u.zone%u.example", i, i % 97 + 1);
		assert_int_equal(policy__match(p, q, n), VERDICT_ALLOW);
		n = snprintf(q, sizeof(q), "xhost%u.zone%u.example", i, i % 97);
		assert_int_equal(policy__match(p, q, n), VERDICT_ALLOW);
	}
	n = snprintf(q, sizeof(q), "host%u.zone0.example", MANY);
	assert_int_equal(policy__match(p, q, n), VERDICT_ALLOW);
	assert_int_equal(policy__match(p, "a.wild.example", 14), VERDICT_BLOCK);
	assert_int_equal(policy__match(p, "wild.example", 12), VERDICT_ALLOW);
	policy__free(p);

	/* The same as a file (over 1 MiB: its lines are counted and the table reserved
	 * once, on huge pages, proxy/base/bigmem.c): the same rules, the same verdicts. */
	char path[] = "/tmp/test_policy_many.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_true(len > (1u << 20));
	assert_int_equal(write(fd, text, len), len);
	close(fd);
	p = policy__new("many");
	assert_int_equal(policy__load_file(p, path, &err), 0);
	unlink(path);
	assert_int_equal(policy__rule_count(p), MANY + 1);
	for (unsigned i = 0; i < MANY; i += 7919) {
		n = snprintf(q, sizeof(q), "www.host%u.zone%u.example", i, i % 97);
		assert_int_equal(policy__match(p, q, n),
				 i % 10 == 9 ? VERDICT_ALLOW : VERDICT_BLOCK);
	}
	assert_int_equal(policy__match(p, "a.wild.example", 14), VERDICT_BLOCK);
	policy__free(p);
	free(text);
}

static struct CMUnitTest *tests;
static size_t n_tests;

static void add(const char *name, CMUnitTestFunction fn, const void *state)
{
	tests[n_tests++] = (struct CMUnitTest){
	    .name = name,
	    .test_func = fn,
	    .initial_state = (void *)state,
	};
}

/* rule=: the line that decided, per origin; "inline" for --block/--allow; "default" for none. */
static void test_rule_origins(void **state)
{
	static const char text[] = "# header\n"
				   "mode blocklist\n"
				   "block github.com\n"
				   "allow ok.github.com\n"
				   "block *.sub.test\n"
				   "\n"
				   "block sub.test # line 7\n"
				   "block-ip 10.0.0.0/8\n"
				   "block-ip 10.1.0.0/16\n"
				   "block github.com\n";
	static const struct {
		const char *q, *rule;
		enum policy_verdict v;
	} rows[] = {
	    {"github.com", "deploy.policy:3", VERDICT_BLOCK},
	    {"api.github.com", "deploy.policy:3", VERDICT_BLOCK},
	    {"ok.github.com", "deploy.policy:4", VERDICT_ALLOW},
	    {"x.ok.github.com", "deploy.policy:4", VERDICT_ALLOW},
	    {"a.sub.test", "deploy.policy:7", VERDICT_BLOCK}, /* NAME beats *.NAME */
	    {"sub.test", "deploy.policy:7", VERDICT_BLOCK},
	    {"inline.test", "inline", VERDICT_BLOCK},
	    {"other.test", "default", VERDICT_ALLOW},
	};
	struct policy *p = policy__new("deploy");
	struct df_err err = {0};
	uint8_t a[16] = {10, 1, 2, 3}, b[16] = {10, 9, 9, 9}, c[16] = {11};
	char buf[64];
	uint32_t rule = 1;

	assert_int_equal(
	    policy__parse(p, text, strlen(text), "/etc/depfence/policies/deploy.policy", &err), 0);
	assert_int_equal(policy__add_rule(p, "block", "inline.test", &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		assert_int_equal(policy__match_rule(p, rows[i].q, strlen(rows[i].q), &rule),
				 rows[i].v);
		policy__rule_str(p, rule, buf, sizeof(buf));
		if (strcmp(buf, rows[i].rule))
			fail_msg("%s: rule %s, want %s", rows[i].q, buf, rows[i].rule);
	}
	policy__rule_str(p, policy__cidr_rule(p, AF_INET, a), buf, sizeof(buf));
	assert_string_equal(buf, "deploy.policy:9"); /* the longest prefix */
	policy__rule_str(p, policy__cidr_rule(p, AF_INET, b), buf, sizeof(buf));
	assert_string_equal(buf, "deploy.policy:8");
	assert_int_equal(policy__cidr_rule(p, AF_INET, c), 0);
	/* Cut to the buffer, always terminated. */
	policy__match_rule(p, "github.com", 10, &rule);
	assert_int_equal(policy__rule_str(p, rule, buf, 7), 6);
	assert_string_equal(buf, "deploy");
	/* Allowlist: an unlisted name is refused by the mode, rule 0. */
	policy__set_mode(p, POLICY_ALLOWLIST);
	assert_int_equal(policy__match_rule(p, "other.test", 10, &rule), VERDICT_BLOCK);
	assert_int_equal(rule, 0);
	policy__free(p);
}

static void test_limits(void **state)
{
	struct policy *p = policy__new("t");
	const char text[] = "memory-max 512m\ncpu-quota 150\npids-max max\n";
	struct df_err err = {0};
	const struct cg_limits *l;

	assert_int_equal(policy__parse(p, text, sizeof(text) - 1, ORIGIN, &err), 0);
	l = policy__limits(p);
	assert_int_equal(l->set, 7);
	assert_int_equal(l->val[CG_MEMORY], 512ull << 20);
	assert_int_equal(l->val[CG_CPU], 150);
	assert_true(l->val[CG_PIDS] == CG_UNLIMITED);
	/* Limits are no rules, and --block/--allow cannot set them. */
	assert_int_equal(policy__rule_count(p), 0);
	assert_int_equal(policy__add_rule(p, "memory-max", "1G", &err), -EINVAL);
	assert_string_equal(err.msg, "unknown rule kind 'memory-max'");
	policy__free(p);
}

int main(void)
{
	size_t max = ARRAY_SIZE(parse_cases) + ARRAY_SIZE(match_cases) + ARRAY_SIZE(cidr_cases) +
		     ARRAY_SIZE(rule_cases) + ARRAY_SIZE(file_cases) + 16;
	int rc;

	tests = calloc(max, sizeof(*tests));
	if (!tests)
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++)
		add(parse_cases[i].desc, test_parse_row, &parse_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(match_cases); i++)
		add(match_cases[i].desc, test_match_row, &match_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(cidr_cases); i++)
		add(cidr_cases[i].text, test_cidr_row, &cidr_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(rule_cases); i++)
		add(rule_cases[i].err ? rule_cases[i].err : rule_cases[i].name, test_rule_row,
		    &rule_cases[i]);
	for (size_t i = 0; i < ARRAY_SIZE(file_cases); i++)
		add(file_cases[i].desc, test_file_row, &file_cases[i]);
	add("line length limit", test_line_length, NULL);
	add("add_rule then match", test_add_rule_matches, NULL);
	add("rules accumulate across calls", test_accumulate, NULL);
	add("usable after an error", test_usable_after_error, NULL);
	add("rules before an error, each with its line", test_rules_before_error, NULL);
	add("file: missing, directory", test_file_missing, NULL);
	add("modes, names, getters", test_modes_and_names, NULL);
	add("query of 255 wire bytes", test_long_query, NULL);
	add("200k rules", test_many_rules, NULL);
	add("rule origins", test_rule_origins, NULL);
	add("resource limits", test_limits, NULL);
	rc = _cmocka_run_group_tests("policy", tests, n_tests, NULL, NULL);
	free(tests);
	return rc;
}
