// SPDX-License-Identifier: GPL-2.0-only
/*
 * The answer stage's name check. The query path matches the question, but an
 * answer can lead the client further: "docs.vendor.test CNAME
 * vendor.github.com" plus vendor.github.com's address hands the job a blocked
 * name's address under an allowed alias, and in allowlist mode an allowed alias
 * would open any name. So every name of the answer's CNAME/DNAME chain is
 * matched against the asking guard's policy when the answer goes out. That is
 * per guard and at answer time, not when the answer is cached: the cache is
 * shared by guards with different policies.
 *
 * Cost on the allowed path: one walk of the answer section (dns_wire.c), names
 * decoded only for CNAME/DNAME records, no allocation.
 */
#include "answer_check.h"

#include <errno.h>
#include <string.h>

#include "engine_int.h"
#include "log.h"
#include "report_collect.h"

struct chain_ctx {
	const struct policy *p;
	const struct dns_msg *m;
	char *name;
	size_t *name_len;
	enum policy_verdict v;
};

/* 1 (stop the walk) at the first name the policy does not simply allow. */
static int check_name(struct chain_ctx *cc, const char *name, size_t len)
{
	enum policy_verdict v;

	if (len == cc->m->qname_len && memcmp(name, cc->m->qname, len) == 0)
		return 0;
	v = policy__match(cc->p, name, len);
	if (v == VERDICT_ALLOW)
		return 0;
	cc->v = v;
	memcpy(cc->name, name, len + 1);
	*cc->name_len = len;
	return 1;
}

static int on_alias(void *ctx, uint16_t type, const char *owner, size_t owner_len,
		    const char *target, size_t target_len)
{
	int r = check_name(ctx, owner, owner_len);

	return r ? r : check_name(ctx, target, target_len);
}

int answer_chain_verdict(const struct policy *p, const uint8_t *pkt, size_t len,
			 const struct dns_msg *m, char *ret_name, size_t *ret_len)
{
	struct chain_ctx cc = {.p = p, .m = m, .name = ret_name, .name_len = ret_len};
	int r;

	r = dns_for_each_alias(pkt, len, m, on_alias, &cc);
	if (r < 0)
		return r;
	return r ? (int)cc.v : VERDICT_ALLOW;
}

/*
 * Write the reply that replaces the answer over BUF: header and question of the
 * answer (the client's id and question already), RCODE, and an OPT only if the
 * client sent one. It is shorter than the answer it replaces, which holds at
 * least one CNAME/DNAME record (12 bytes or more) beyond the OPT's 11, so LEN
 * is room enough; the bare header is the fallback that still opens nothing.
 */
static size_t reply_instead(uint8_t *buf, size_t len, const struct dns_msg *m, int rcode,
			    bool client_edns, bool client_do)
{
	struct dns_msg q;
	size_t n;

	/* Only the fields dns_build_empty_reply() reads: the name buffer is not copied. */
	q.qdcount = m->qdcount;
	q.question_end = m->question_end;
	q.has_edns = client_edns;
	q.edns_do = client_do;
	n = dns_build_empty_reply(buf, &q, rcode, buf, len);
	if (!n) {
		q.qdcount = 0;
		n = dns_build_empty_reply(buf, &q, rcode, buf, len);
	}
	return n;
}

size_t answer_check(struct engine *e, const struct client_ref *c, uint8_t *buf, size_t len,
		    const struct dns_msg *m, bool client_edns, bool client_do)
{
	const struct policy *p = c->g ? c->g->policy : NULL;
	char name[DNS_NAME_BUF];
	size_t name_len = 0;
	uint32_t rule = 0;
	int v;

	/* Learning queries ask for blocked names on purpose; no answer RR, no chain. */
	if (c->kind == CLIENT_LEARN || !p || !m->ancount)
		return 0;
	/* A blocklist or audit policy without rules refuses no name: no walk to pay for. */
	if (!policy__rule_count(p) && policy__mode(p) != POLICY_ALLOWLIST)
		return 0;
	v = answer_chain_verdict(p, buf, len, m, name, &name_len);
	if (v == VERDICT_ALLOW)
		return 0;
	/* Which rule refused the chain's name: a second match, on the refusal path only. */
	if (v == VERDICT_AUDIT || v == VERDICT_BLOCK)
		policy__match_rule(p, name, name_len, &rule);
	if (v == VERDICT_AUDIT) {
		e->st.audited++;
		metrics__late_refusal(&c->g->cnt, MV_AUDIT);
		engine_log_alias(e, c, m, EV_ALIAS_AUDIT, name, name_len, rule);
		report_late_refusal(c, m, v, rule, false);
		return 0;
	}
	if (v == VERDICT_BLOCK) {
		e->st.blocked++;
		metrics__late_refusal(&c->g->cnt, MV_BLOCKED);
		/* Before the reply: the asking process is still alive to be named. */
		engine_log_alias(e, c, m, EV_ALIAS_BLOCKED, name, name_len, rule);
		report_late_refusal(c, m, v, rule, false);
		/*
		 * The addresses at the chain's end are a blocked name's: learned for
		 * the policy, as an answer to the proxy's own query for that name
		 * would be, so a job that knows them already is refused at connect.
		 */
		enforce_learned_answer(e, policy__id(p), buf, len, m);
		return reply_instead(buf, len, m, policy__refuse_rcode(p), client_edns, client_do);
	}
	/* A chain we cannot read we cannot vouch for: never open, answer SERVFAIL. */
	e->st.servfail++;
	e->met.errors[ME_SERVFAIL]++;
	if (log_enabled(LOG_DEBUG))
		log_msg(LOG_DEBUG, "unreadable answer chain guard=%s domain=%s error=\"%s\"",
			c->g->log_id, m->qname_len ? m->qname : ".", strerror(-v));
	return reply_instead(buf, len, m, DNS_RCODE_SERVFAIL, client_edns, client_do);
}
