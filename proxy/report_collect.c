// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where the engine feeds its guards' run reports (run_report.h): the query
 * decision, the answer handed to the client, the packet refusal. The table does
 * the counting; this file names the process, once per process: /proc is read
 * the first time a pid shows up in a report, never for a known one.
 */
#include "engine_int.h"

#include <pthread.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "dnsguard_api.h"
#include "procinfo.h"
#include "redact.h"
#include "report_collect.h"
#include "run_report.h"

static uint64_t boot;

static void boot_once(void)
{
	_cleanup_free_ char *text = NULL;
	const char *p;

	if (read_file("/proc/stat", &text, NULL, 1 << 20) < 0)
		return;
	p = strstr(text, "\nbtime ");
	if (p)
		boot = strtoull(p + 7, NULL, 10) * 1000;
}

/* The boot time, wall clock ms (0: unknown), read once whichever engine worker asks first. */
static uint64_t boot_ms(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, boot_once);
	return boot;
}

/* Parent and start time (wall clock ms) of PID, from /proc/PID/stat. */
static int proc_stat(uint32_t pid, uint32_t *ret_ppid, uint64_t *ret_start)
{
	_cleanup_free_ char *text = NULL;
	unsigned long long start = 0;
	char path[64];
	const char *p;
	unsigned ppid = 0;
	long hz = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_file(path, &text, NULL, 4096) < 0)
		return -ESRCH;
	/* The command name may hold anything, ')' too: the fields start after the last. */
	p = strrchr(text, ')');
	if (!p || sscanf(p + 1,
			 " %*c %u %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &ppid, &start) != 2)
		return -EINVAL;
	*ret_ppid = ppid;
	*ret_start = boot_ms() && hz > 0 ? boot_ms() + start * 1000 / hz : 0;
	return 0;
}

static void clean_cmd(const struct guard *g, char *dst, size_t cap, const char *src, size_t len,
		      bool ancestry)
{
	if (g->full_cmdline)
		snprintf(dst, cap, "%.*s", (int)len, src);
	else if (ancestry)
		redact_ancestry(dst, cap, src, len);
	else
		redact_cmdline(dst, cap, src, len);
}

/* How many "PID:CMD" entries ANCESTRY (procinfo.h) has: the depth of the job's own chain. */
static unsigned ancestry_depth(const char *anc, size_t len)
{
	unsigned n = len ? 1 : 0;
	const char *p = anc, *end = anc + len;

	while ((p = memmem(p, end - p, " > ", 3))) {
		n++;
		p += 3;
	}
	return n;
}

/* Describe PID (our pid namespace) and the ancestors procinfo names, in G's report. */
static void describe(struct guard *g, uint32_t pid, uint64_t exec_id)
{
	char cmd[PROCINFO_CMD_MAX + 64], anc[PROCINFO_ANCESTRY_MAX + 64];
	struct procinfo pi;
	uint32_t ppid = 0, up;
	uint64_t start = 0;
	unsigned depth, i;

	procinfo_get(pid, exec_id, g->cgroup_rel, &pi);
	proc_stat(pid, &ppid, &start);
	clean_cmd(g, cmd, sizeof(cmd), pi.cmd, pi.cmd_len, false);
	clean_cmd(g, anc, sizeof(anc), pi.ancestry, pi.ancestry_len, true);
	run_report__add_proc(g->report, pid, ppid, start, cmd, pi.exe, anc, true);
	/* The chain itself comes from /proc (a command line may hold " > "); the
	 * ancestry only says how far up the job's own processes go. */
	depth = ancestry_depth(pi.ancestry, pi.ancestry_len);
	for (i = 0; i < depth && ppid > 1; i++, ppid = up) {
		up = 0;
		if (run_report__has_proc(g->report, ppid))
			break; /* known, and so is its chain */
		proc_stat(ppid, &up, &start);
		procinfo_get(ppid, PROCINFO_EXEC_UNKNOWN, g->cgroup_rel, &pi);
		clean_cmd(g, cmd, sizeof(cmd), pi.cmd, pi.cmd_len, false);
		clean_cmd(g, anc, sizeof(anc), pi.ancestry, pi.ancestry_len, true);
		run_report__add_proc(g->report, ppid, up, start, cmd, pi.exe, anc, false);
	}
}

void report_query(struct engine *e, const struct client_ref *c, const struct dns_msg *m,
		  enum policy_verdict v, uint32_t rule)
{
	struct guard *g = c->g;
	struct df_pids who;
	char *rs;
	bool fresh;

	if (!g->report)
		return;
	who = engine_sender(e, c);
	fresh = run_report__query(g->report, m->qname, m->qname_len,
				  v == VERDICT_BLOCK   ? RR_BLOCKED
				  : v == VERDICT_AUDIT ? RR_WOULD_BLOCK
						       : RR_ALLOWED,
				  who.vpid, rr_wall_ms(), &rs);
	if (rs)
		policy__rule_str(g->policy, rule, rs, RR_RULE_MAX);
	if (fresh)
		describe(g, who.vpid, who.exec_id);
}

void report_late_refusal(const struct client_ref *c, const struct dns_msg *m, enum policy_verdict v,
			 uint32_t rule, bool enclosing)
{
	struct guard *g = c->g;
	char *rs;

	if (!g->report)
		return;
	run_report__late_verdict(g->report, m->qname, m->qname_len,
				 v == VERDICT_AUDIT ? RR_WOULD_BLOCK : RR_BLOCKED, &rs);
	if (rs && enclosing)
		snprintf(rs, RR_RULE_MAX, "enclosing");
	else if (rs)
		policy__rule_str(g->policy, rule, rs, RR_RULE_MAX);
}

struct addr_ctx {
	struct run_report *r;
	const struct dns_msg *m;
};

static void one_addr(void *ctx, int family, const uint8_t *addr, uint32_t ttl)
{
	struct addr_ctx *ac = ctx;

	run_report__address(ac->r, ac->m->qname, ac->m->qname_len,
			    family == DF_AF_INET6 ? AF_INET6 : AF_INET, addr);
}

void report_answer(const struct client_ref *c, const uint8_t *buf, size_t len,
		   const struct dns_msg *m)
{
	struct addr_ctx ac = {.r = c->g ? c->g->report : NULL, .m = m};

	if (ac.r && m->ancount && DNS_RCODE(m->flags) == DNS_RCODE_NOERROR)
		dns_for_each_addr(buf, len, m, one_addr, &ac);
}

void report_refusal(struct guard *g, const struct df_event *ev, const char *reason,
		    const char *rule, uint64_t count)
{
	char what[DF_UNIX_KEY + 64], ip[INET6_ADDRSTRLEN];

	/* The C library tries a resolver daemon before every lookup, which then goes
	 * to DNS and is reported there: not a refusal the job should hear about. */
	if (!g->report || ev->reason == DF_EV_LOCAL_RESOLVER)
		return;
	if (ev->reason == DF_EV_RAW_SOCKET) {
		snprintf(what, sizeof(what), "socket:%s/%u",
			 ev->family == DF_AF_INET6 ? "inet6" : "inet", ev->proto);
	} else {
		inet_ntop(ev->family == DF_AF_INET6 ? AF_INET6 : AF_INET, ev->addr, ip, sizeof(ip));
		snprintf(what, sizeof(what), ev->family == DF_AF_INET6 ? "[%s]:%u/%s" : "%s:%u/%s",
			 ip, ev->port, ev->proto == IPPROTO_TCP ? "tcp" : "udp");
	}
	if (run_report__refusal(g->report,
				&(struct rr_refusal){.reason = reason,
						     .rule = rule,
						     .what = what,
						     .pid = ev->who.vpid,
						     .blocked = !ev->audit,
						     .count = count},
				rr_wall_ms()))
		describe(g, ev->who.vpid, ev->who.exec_id);
}

int report_guard_added(struct guard *g)
{
	return run_report__new(g->kind == GUARD_CONTAINER ? "container" : "run", g->id,
			       policy__name(g->policy), policy_mode_str(policy__mode(g->policy)),
			       &g->report);
}

void report_guard_removed(struct guard *g)
{
	struct run_report *r = steal_ptr(g->report);
	struct rr_shelf *shelf = g->engine->primary->reports;

	if (!r)
		return;
	/* A run's report went to its client before the run ended; a container's is kept. */
	if (g->kind == GUARD_CONTAINER && shelf) {
		run_report__end(r, rr_wall_ms(), -1);
		rr_shelf__put(shelf, r);
		return;
	}
	run_report__free(r);
}

json_object *engine__report_json(struct engine *e, const char *id)
{
	struct guard *g = engine__find_guard(e, id);
	const struct run_report *r = g ? g->report : NULL;

	/* Refusals the BPF side counted without an event since the last read, and
	 * what its replicas' workers saw. */
	if (g) {
		packet_events_account(e, g);
		spread_gather(g);
	}
	if (!r && e->reports)
		r = rr_shelf__find(e->reports, id);
	return r ? run_report__json(r) : NULL;
}
