// SPDX-License-Identifier: GPL-2.0-only
/*
 * Attribution: which process sent a query, rendered for the block line.
 *
 * The sender comes from the BPF clients map, keyed by the query's source port
 * in its network namespace; its command line and ancestry from /proc. Both are
 * memoised so a storm of blocked queries costs a formatted line, not a system
 * call and a /proc walk each:
 *  - the map lookup, for the rest of one receive batch (the entry can change
 *    only when the socket sends again, which a batch already read cannot see);
 *  - the quoted command line (redacted unless the guard logs it whole, see
 *    redact.h), binary and ancestry, per pid, exec generation and guard,
 *    for one second (procinfo's own lifetime: a pid is not reused that fast,
 *    but `sh -c 'lookup; exec tool'` execs at once).
 * The line is built in the cache's own buffer and handed to the engine's log
 * fold (log_fold.h): the first of its kind is written at once, repeats within
 * a second become one repeated=N line.
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "dnsguard_api.h"
#include "log.h"
#include "block_line.h"
#include "log_fold.h"
#include "procinfo.h"
#include "redact.h"
#include "report_collect.h"

#define ATTRIB_SLOTS 64
#define ATTRIB_MS    1000

struct attrib {
	struct df_pids who;
	uint64_t guard_serial;
	uint64_t at_ms;
	char cmd[PROCINFO_CMD_MAX * 4 + 8];
	char anc[PROCINFO_ANCESTRY_MAX * 4 + 8];
	char exe[PROCINFO_EXE_MAX * 4 + 8];
};

#define SENDER_MEMO 8 /* a client keeping several sockets busy (dnsperf, a resolver pool) */

struct attrib_cache {
	struct attrib slot[ATTRIB_SLOTS];
	char line[LOG_FOLD_LINE_MAX]; /* where a block line is built, then folded or written */
	struct {
		uint64_t batch, guard_serial;
		uint16_t port;
		uint8_t proto;
		struct df_pids who;
	} memo[SENDER_MEMO];
};

int attrib_cache_new(struct attrib_cache **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void attrib_cache_free(struct attrib_cache *a)
{
	free(a);
}

const char *dns_qtype_name(uint16_t t)
{
	static __thread char buf[16];

	switch (t) {
	case 1:
		return "A";
	case 2:
		return "NS";
	case 5:
		return "CNAME";
	case 6:
		return "SOA";
	case 12:
		return "PTR";
	case 15:
		return "MX";
	case 16:
		return "TXT";
	case 28:
		return "AAAA";
	case 33:
		return "SRV";
	case 65:
		return "HTTPS";
	}
	snprintf(buf, sizeof(buf), "TYPE%u", t);
	return buf;
}

static uint16_t peer_port(const struct client_ref *c)
{
	if (c->peer.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&c->peer)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&c->peer)->sin_port);
}

/* Who sent C's query, in each pid namespace (all 0: no one we can name). */
static struct df_pids sender(struct engine *e, const struct client_ref *c)
{
	uint16_t port = peer_port(c);
	__typeof__(e->attrib->memo[0]) *m = &e->attrib->memo[port % SENDER_MEMO];
	struct df_client rec = {0};

	if (m->batch == e->batch && m->guard_serial == c->g->serial && m->port == port &&
	    m->proto == c->proto)
		return m->who;
	/* A record of another guard's sender (a port reused across guards) names no one. */
	if (dnsguard__lookup_client(e->opts.bpf, c->g->ls.netns_cookie, c->proto, port, &rec) < 0 ||
	    rec.guard_cgid != c->g->cgid)
		memset(&rec.who, 0, sizeof(rec.who));
	m->batch = e->batch;
	m->guard_serial = c->g->serial;
	m->port = port;
	m->proto = c->proto;
	m->who = rec.who;
	return rec.who;
}

struct df_pids engine_sender(struct engine *e, const struct client_ref *c)
{
	return sender(e, c);
}

static const struct attrib *attrib_of(struct engine *e, const struct client_ref *c)
{
	struct df_pids who = sender(e, c);
	struct attrib *at = &e->attrib->slot[who.pid % ATTRIB_SLOTS];
	uint64_t now = now_ms();
	struct procinfo pi;

	if (at->who.pid == who.pid && at->who.exec_id == who.exec_id &&
	    at->guard_serial == c->g->serial && now - at->at_ms < ATTRIB_MS)
		return at;
	at->who = who;
	at->guard_serial = c->g->serial;
	at->at_ms = now;
	if (!who.pid || !who.vpid) {
		/* Not in the map, or not visible in our pid namespace: say so. */
		strcpy(at->cmd, "\"?\"");
		strcpy(at->anc, "\"\"");
		strcpy(at->exe, "\"?\"");
		return at;
	}
	/* /proc is in our pid namespace: the process is vpid there. */
	procinfo_get(who.vpid, who.exec_id, c->g->cgroup_rel, &pi);
	engine_quote_cmd(c->g, at->cmd, sizeof(at->cmd), pi.cmd, pi.cmd_len, false);
	engine_quote_cmd(c->g, at->anc, sizeof(at->anc), pi.ancestry, pi.ancestry_len, true);
	logfmt_quote(at->exe, sizeof(at->exe), pi.exe, pi.exe_len);
	return at;
}

size_t engine_quote_cmd(const struct guard *g, char *dst, size_t cap, const char *src, size_t len,
			bool ancestry)
{
	/* Redaction may lengthen a line ("--token=a" -> "--token=***"); cut like procinfo. */
	char clean[PROCINFO_CMD_MAX > PROCINFO_ANCESTRY_MAX ? PROCINFO_CMD_MAX + 64
							    : PROCINFO_ANCESTRY_MAX + 64];
	size_t n;

	if (g->full_cmdline)
		return logfmt_quote(dst, cap, src, len);
	n = ancestry ? redact_ancestry(clean, sizeof(clean), src, len)
		     : redact_cmdline(clean, sizeof(clean), src, len);
	return logfmt_quote(dst, cap, clean, n);
}

/*
 * The DNS lines (block_line.h has their shape): WHAT is domain=D, and for a
 * name refused in an answer's CNAME/DNAME chain (answer_check.c) also
 * cname=NAME, with reason=FromCNAME; EXTRA is qtype=.
 */
/*
 * rule= of event EV decided by RULE: what policy__rule_str() says, except that
 * a refusal by the enclosing guard is not ours to name. Quoted when the file's
 * name needs it (a built-in policy's origin has blanks).
 */
static size_t rule_value(const struct guard *g, enum log_event ev, uint32_t rule, char *dst,
			 size_t cap)
{
	char raw[128];
	size_t n;

	if (ev == EV_ENCLOSING) {
		n = sizeof("enclosing") - 1;
		memcpy(dst, "enclosing", n + 1);
		return n;
	}
	n = policy__rule_str(g->policy, rule, raw, sizeof(raw));
	return logfmt_value(dst, cap, raw, n);
}

/* ALIAS (ALIAS_LEN bytes, presentation form) is the chain name of EV_ALIAS_*, else NULL. */
static void log_line(struct engine *e, const struct client_ref *c, const struct dns_msg *m,
		     enum log_event ev, const char *alias, size_t alias_len, uint32_t rule)
{
	const struct guard *g = c->g;
	enum log_level lvl = ev == EV_AUDIT_QUERY ? LOG_INFO : LOG_WARN;
	const struct attrib *at;
	const char *dom = m->qname_len ? m->qname : ".", *qt;
	size_t dl = m->qname_len ? m->qname_len : 1;
	/* domain= and cname= in dns_parse()'s presentation form: it escapes every byte
	 * that could break the line, so the names go bare (and compare to each other). */
	char what[2 * DNS_NAME_BUF + 32], qtype[40], rl[128 * 4 + 8], *w = what;
	struct block_line b = {
	    .kind = ev == EV_AUDIT_QUERY ? "DNS QUERY" : "DNS BLOCKED",
	    .reason = ev == EV_ENCLOSING			       ? "FromEnclosingGuard"
		      : ev == EV_ALIAS_BLOCKED || ev == EV_ALIAS_AUDIT ? "FromCNAME"
								       : "FromDNSRequest",
	    .blocked = ev == EV_BLOCKED || ev == EV_ENCLOSING || ev == EV_ALIAS_BLOCKED,
	    .blocked_at = ev == EV_AUDIT_QUERY ? "none" : "dns",
	    .mode = policy_mode_str(policy__mode(g->policy)),
	    .policy = policy__name(g->policy),
	    .extra = qtype,
	    .id_key = g->kind == GUARD_CONTAINER ? "container" : "run",
	    .id = g->log_id,
	    .rule = rl,
	};
	size_t n;

	if (!log_enabled(lvl))
		return;
	at = attrib_of(e, c);
	memcpy(w, "domain=", 7);
	memcpy(w += 7, dom, dl);
	w += dl;
	if (alias) {
		memcpy(w, " cname=", 7);
		memcpy(w += 7, alias_len ? alias : ".", alias_len ? alias_len : 1);
		w += alias_len ? alias_len : 1;
	}
	b.what = what;
	b.what_len = (size_t)(w - what);
	qt = dns_qtype_name(m->qtype);
	n = strnlen(qt, sizeof(qtype) - 8);
	memcpy(qtype, " qtype=", 7);
	memcpy(qtype + 7, qt, n);
	qtype[7 + n] = '\0';
	rule_value(g, ev, rule, rl, sizeof(rl));
	b.pid = at->who.pid;
	b.nspid = at->who.nspid;
	b.cmd = at->cmd;
	b.ancestry = at->anc;
	b.exe = at->exe;
	n = block_line_format(&b, e->attrib->line, sizeof(e->attrib->line));
	if (!n) {
		log_msg(LOG_WARN, "DNS %s domain=%.*s pid=%u (attribution too long to log)",
			ev == EV_AUDIT_QUERY ? "QUERY" : "BLOCKED", (int)dl, dom, at->who.pid);
		return;
	}
	log_fold__note(e->fold, lvl, e->attrib->line, n, now_ms(), NULL);
}

void engine_log_emit(void *ctx, enum log_level level, const char *line, size_t len,
		     uint64_t repeated)
{
	char *p = log_reserve(level, len + 32);

	if (!p)
		return;
	memcpy(p, line, len);
	if (repeated)
		len += snprintf(p + len, 32, " repeated=%" PRIu64, repeated);
	log_commit(len);
}

void engine_log_event(struct engine *e, const struct client_ref *c, const struct dns_msg *m,
		      enum log_event ev, uint32_t rule)
{
	log_line(e, c, m, ev, NULL, 0, rule);
}

void engine_log_alias(struct engine *e, const struct client_ref *c, const struct dns_msg *m,
		      enum log_event ev, const char *alias, size_t alias_len, uint32_t rule)
{
	log_line(e, c, m, ev, alias, alias_len, rule);
}
