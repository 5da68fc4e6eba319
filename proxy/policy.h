/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Policies: the parsed form of a NAME.policy file and the name matcher.
 * Matching is O(name length): the names of all rules live in one open-addressing
 * hash table keyed by the name, and a query hashes all its suffixes in one
 * right-to-left pass; the longest suffix that has an applicable rule decides.
 */
#ifndef DEPFENCE_POLICY_H
#define DEPFENCE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "cgroup_limits.h"
#include "dnsguard.h"
#include "util.h"

/* The modes the BPF programs enforce (enum df_mode): a guard's mode is written as it is. */
enum policy_mode {
	POLICY_BLOCKLIST = DF_MODE_BLOCKLIST,
	POLICY_ALLOWLIST = DF_MODE_ALLOWLIST,
	POLICY_AUDIT = DF_MODE_AUDIT,
};

/* Address families: the maps' DF_AF_* are the kernel's, so policy_cidr.family goes as it is. */
_Static_assert(DF_AF_INET == AF_INET && DF_AF_INET6 == AF_INET6,
	       "dnsguard.h's address families are not the kernel's");

enum policy_verdict {
	VERDICT_ALLOW = 0, /* no rule said block: forward */
	VERDICT_BLOCK,	   /* refuse (blocklist/allowlist) */
	VERDICT_AUDIT,	   /* a block rule matched in audit mode: forward, log blocked=false */
};

struct policy_cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix_len;
	uint8_t addr[16]; /* network order, host bits zero */
	bool allow;	  /* allow-ip (true) or block-ip (false) */
	uint32_t rule;	  /* where it was written: policy__rule_str() */
};

struct policy; /* opaque */

/* An empty policy in blocklist mode, NAME copied. */
struct policy *policy__new(const char *name);
void policy__free(struct policy *p);

/*
 * Parse policy text. ORIGIN names the source in errors ("deploy.policy" or
 * "--block"); errors read "ORIGIN:LINE: what is wrong" and return -EINVAL.
 * Directives: mode blocklist|allowlist|audit, block NAME, allow NAME, block-ip CIDR,
 * allow-ip CIDR, refuse-with refused|nxdomain, and the limits of a run's cgroup:
 * memory-max SIZE, cpu-quota PCT, pids-max N. NAME may be *.NAME (subdomains only).
 * '#' starts a comment anywhere on a line. Rules accumulate across calls, so inline
 * --block/--allow can be added to a file's rules.
 */
int policy__parse(struct policy *p, const char *text, size_t len, const char *origin,
		  struct df_err *err);
/* Read and parse PATH (the error names PATH). */
int policy__load_file(struct policy *p, const char *path, struct df_err *err);
/* Add one rule, as from the command line: KIND is "block" or "allow". */
int policy__add_rule(struct policy *p, const char *kind, const char *name, struct df_err *err);

void policy__set_mode(struct policy *p, enum policy_mode mode);
enum policy_mode policy__mode(const struct policy *p);
const char *policy__name(const struct policy *p);
const char *policy_mode_str(enum policy_mode mode);
int policy_mode_parse(const char *s, enum policy_mode *ret_mode);
/* The RCODE for refusals: DNS_RCODE_REFUSED (default) or DNS_RCODE_NXDOMAIN. */
int policy__refuse_rcode(const struct policy *p);
size_t policy__rule_count(const struct policy *p);
/* Unique per policy object for the life of the process (a reloaded file gets a new one). */
uint32_t policy__id(const struct policy *p);
/*
 * Offset every id by BASE: a daemon reserves a range no earlier daemon used
 * (dnsguard__reserve_policy_ids), so entries a crashed one left in the pinned
 * maps never apply to another policy. Set before any id is written to a map.
 */
void policy__set_id_base(uint32_t base);
/* The policy's default limits for runs (containers get theirs from the runtime). */
const struct cg_limits *policy__limits(const struct policy *p);
/* FNV-1a of the file the policy was loaded from: a reload skips unchanged files. */
uint64_t policy__source_hash(const struct policy *p);
/*
 * Up to MAX names of exact `block NAME` rules (not `*.NAME`), pointers into the
 * policy (not NUL-terminated: see RET_LENS). The proxy resolves them to learn
 * the addresses to refuse.
 */
size_t policy__block_names(const struct policy *p, const char **ret_names, size_t *ret_lens,
			   size_t max);
const struct policy_cidr *policy__cidrs(const struct policy *p, size_t *ret_n);

/*
 * Decide for QNAME in dns_parse() presentation form (lowercase, no trailing dot).
 * The longest matching rule wins; at the same name a block rule beats an allow
 * rule. A "NAME" rule matches NAME and names under it at a label boundary, a
 * "*.NAME" rule only names under it. No match: allow in blocklist and audit mode,
 * block in allowlist mode. In audit mode a block match gives VERDICT_AUDIT.
 */
enum policy_verdict policy__match(const struct policy *p, const char *qname, size_t len);
/*
 * policy__match, and in *RET_RULE the rule that decided: a reference that
 * policy__rule_str() renders. 0 when no rule matched (the mode decided). One
 * copy out of the matched entry, no allocation.
 */
enum policy_verdict policy__match_rule(const struct policy *p, const char *qname, size_t len,
				       uint32_t *ret_rule);
/*
 * The block-ip rule that refuses ADDR (FAMILY AF_INET/AF_INET6, network order):
 * the longest prefix, for rule= on a packet refusal (not the DNS path: a scan
 * of the CIDR rules, at most POLICY_CIDR_SCAN of them; past that 0). 0: none.
 */
#define POLICY_CIDR_SCAN 65536
uint32_t policy__cidr_rule(const struct policy *p, int family, const uint8_t *addr);
/*
 * RULE as the block line's rule= shows it, into BUF: "FILE:LINE" (FILE the
 * base name, "deploy.policy:3"), "inline" for --block/--allow rules, "default"
 * for 0 (no rule matched: the mode's default decided, as an allowlist refusing
 * an unlisted name). Returns the length (cut to CAP - 1).
 */
size_t policy__rule_str(const struct policy *p, uint32_t rule, char *buf, size_t cap);

#endif
