// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF side's refusals, as the proxy tells them: every refused connect,
 * send or socket of a guarded job is a PACKET BLOCKED line, counted in the
 * metrics and the run report.
 *
 * The programs send an event (the events ring buffer) for at most
 * DF_EV_BURST refusals a second per guard and reason, so one job's connect
 * loop cannot fill the ring that every guard shares; the rest are only
 * counted, in the guard's ev_limit entry (bpf/dnsguard.h). A second after an
 * event, when that event's line closes its window in the log fold
 * (log_fold.h), the entry is read: what it counted since the last read goes
 * into the line's summary (repeated=N), the metrics and the report, counted
 * as that reason's last event was. So the log, the metrics and the report
 * each account for every refusal, and a flood costs a few lines a second.
 */
#include "engine_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "block_line.h"
#include "dnsguard_api.h"
#include "log.h"
#include "log_fold.h"
#include "procinfo.h"
#include "report_collect.h"

/* What a PACKET BLOCKED line says of its event, read from /proc or the event. */
struct pkt_text {
	char ip[INET6_ADDRSTRLEN], cmd[PROCINFO_CMD_MAX * 4 + 8],
	    anc[PROCINFO_ANCESTRY_MAX * 4 + 8], exe[PROCINFO_EXE_MAX * 4 + 8], rule[128 * 4 + 8];
};

/*
 * A guard's refusals over its BPF event budget (dnsguard.h: ev_limit), as
 * this side has accounted them, and the last event of each reason, which
 * the ones without an event are counted as.
 */
struct pkt_fold {
	uint64_t read_at; /* when to read its ev_limit entry; 0: no event since the last read */
	uint64_t seen[DF_EV_REASONS];	/* suppressed counts accounted for */
	uint64_t handle[DF_EV_REASONS]; /* the log fold window of the reason's last line */
	bool have[DF_EV_REASONS];
	struct df_event last[DF_EV_REASONS];
};

struct packet_events {
	struct ev_source src;
	struct engine *e;
	struct ring_buffer *rb;
	uint64_t pkt_read_at; /* the earliest guard's pkt_fold.read_at; 0: none */
	struct pkt_text text; /* the line's parts, and the line: too large for the stack */
	char line[sizeof(struct pkt_text) + 512];
};

const char *enforce_reason_name(uint32_t r)
{
	switch (r) {
	case DF_EV_BLOCK_IP:
		return "FromIPRule";
	case DF_EV_BLOCKED_NAME:
		return "FromBlockedDomain";
	case DF_EV_NOT_ALLOWED:
		return "NotInAllowlist";
	case DF_EV_DOT:
		return "DNSOverTLS";
	case DF_EV_OTHER_PROXY:
		return "ProxyOfAnotherGuard";
	case DF_EV_RAW_SOCKET:
		return "RawSocket";
	case DF_EV_LOCAL_RESOLVER:
		return "LocalResolver";
	}
	return "Unknown";
}

static struct guard *guard_by_cgid(struct engine *e, uint64_t cgid)
{
	struct guard *g;

	for (g = engine__first_guard(e); g; g = engine__next_guard(e, g))
		if (g->cgid == cgid)
			return g;
	return NULL;
}

/* argv as the event carried it (NULs to spaces), else "[comm]". */
static void event_cmd(const struct df_event *ev, struct procinfo *pi)
{
	size_t n = ev->args_len < DF_EVENT_ARGS ? ev->args_len : DF_EVENT_ARGS, i;

	while (n && ev->args[n - 1] == '\0')
		n--;
	if (!n) {
		pi->cmd_len =
		    snprintf(pi->cmd, sizeof(pi->cmd), "[%.*s]", (int)sizeof(ev->comm), ev->comm);
		return;
	}
	for (i = 0; i < n; i++)
		pi->cmd[i] = ev->args[i] ? ev->args[i] : ' ';
	pi->cmd[n] = '\0';
	pi->cmd_len = n;
}

/*
 * rule= of a packet refusal: the block-ip line for FromIPRule, "learned" for an
 * address a blocked name resolved to (which name is not in the event), the
 * mode's "default" for an allowlist's unlisted address, "builtin" for what
 * every guard refuses whatever its policy (DNS over TLS, raw sockets, ...).
 */
static void packet_rule(const struct guard *g, const struct df_event *ev, char *dst, size_t cap)
{
	char raw[128];
	size_t n;

	switch (ev->reason) {
	case DF_EV_BLOCK_IP:
		n = policy__rule_str(
		    g->policy,
		    policy__cidr_rule(g->policy, ev->family == DF_AF_INET6 ? AF_INET6 : AF_INET,
				      ev->addr),
		    raw, sizeof(raw));
		logfmt_value(dst, cap, raw, n);
		return;
	case DF_EV_BLOCKED_NAME:
		snprintf(dst, cap, "learned");
		return;
	case DF_EV_NOT_ALLOWED:
		snprintf(dst, cap, "default");
		return;
	}
	snprintf(dst, cap, "builtin");
}

static void packet_text(const struct guard *g, const struct df_event *ev, struct pkt_text *t)
{
	struct procinfo pi;

	inet_ntop(ev->family == DF_AF_INET6 ? AF_INET6 : AF_INET, ev->addr, t->ip, sizeof(t->ip));
	/* /proc is in our pid namespace (vpid); gone, invisible to us, or a zombie with no
	 * cmdline left: use what the kernel sent along. */
	memcpy(pi.exe, "?", 2);
	pi.exe_len = 1;
	pi.ancestry_len = 0;
	if (!ev->who.vpid || procinfo_get(ev->who.vpid, ev->who.exec_id, g->cgroup_rel, &pi) < 0 ||
	    (pi.cmd[0] == '[' && ev->args_len))
		event_cmd(ev, &pi);
	engine_quote_cmd(g, t->cmd, sizeof(t->cmd), pi.cmd, pi.cmd_len, false);
	engine_quote_cmd(g, t->anc, sizeof(t->anc), pi.ancestry, pi.ancestry_len, true);
	logfmt_quote(t->exe, sizeof(t->exe), pi.exe, pi.exe_len);
	packet_rule(g, ev, t->rule, sizeof(t->rule));
}

/*
 * The PACKET BLOCKED line of EV into BUF (no level, no newline): its length.
 * Refused at a packet, WHAT is ip= and port= and EXTRA proto=; refused at the
 * socket (raw sockets, resolver daemons), WHAT is what was refused.
 */
static size_t packet_line(const struct guard *g, const struct df_event *ev,
			  const struct pkt_text *t, char *buf, size_t cap)
{
	char what[DF_UNIX_KEY * 4 + INET6_ADDRSTRLEN + 32];
	bool at_socket = ev->reason == DF_EV_RAW_SOCKET || ev->reason == DF_EV_LOCAL_RESOLVER;
	struct block_line b = {
	    .kind = "PACKET BLOCKED",
	    .reason = enforce_reason_name(ev->reason),
	    .blocked = !ev->audit,
	    .blocked_at = at_socket ? "socket" : "packet",
	    .what = what,
	    .pid = ev->who.pid,
	    .nspid = ev->who.nspid,
	    .cmd = t->cmd,
	    .ancestry = t->anc,
	    .exe = t->exe,
	    .mode = policy_mode_str(policy__mode(g->policy)),
	    .policy = policy__name(g->policy),
	    .extra = at_socket			? NULL
		     : ev->proto == IPPROTO_TCP ? " proto=tcp"
						: " proto=udp",
	    .id_key = g->kind == GUARD_CONTAINER ? "container" : "run",
	    .id = g->log_id,
	    .rule = t->rule,
	};
	int n;

	if (ev->reason == DF_EV_LOCAL_RESOLVER) {
		memcpy(what, "path=", 5);
		n = 5 + (int)logfmt_quote(what + 5, sizeof(what) - 5, ev->path,
					  strnlen(ev->path, DF_UNIX_KEY));
	} else if (at_socket) {
		n = snprintf(what, sizeof(what), "family=%s protocol=%u",
			     ev->family == DF_AF_INET6 ? "inet6" : "inet", ev->proto);
	} else {
		n = snprintf(what, sizeof(what), "ip=%s port=%u", t->ip, ev->port);
	}
	b.what_len = n < 0 ? 0 : (size_t)n;
	return block_line_format(&b, buf, cap);
}

/*
 * Write LEN bytes of pe->line at LVL, with REPEATED as the fold writes a
 * summary (REPEATED 0: a line of its own, folded; RET_HANDLE its window).
 * A line too long for the fold's writer goes out whole, unfolded.
 */
static void packet_write(struct packet_events *pe, enum log_level lvl, size_t len,
			 uint64_t repeated, uint64_t now, uint64_t *ret_handle)
{
	*ret_handle = UINT64_MAX;
	if (len > LOG_FOLD_LINE_MAX) {
		if (repeated)
			log_msg(lvl, "%.*s repeated=%" PRIu64, (int)len, pe->line, repeated);
		else
			log_msg(lvl, "%.*s", (int)len, pe->line);
	} else if (repeated) {
		engine_log_emit(pe->e, lvl, pe->line, len, repeated);
	} else {
		log_fold__note(pe->e->fold, lvl, pe->line, len, now, ret_handle);
	}
}

/*
 * G's refusals of reason R that the BPF side counted without an event (its
 * budget, dnsguard.h: ev_limit): N more, counted as the reason's last event
 * was, in the metrics, the report and the log. In the log they join that
 * event's window, whose summary says repeated=; when that window has ended
 * a summary line of that event is written now.
 */
static void pkt_suppressed(struct engine *e, struct guard *g, uint32_t r, uint64_t n, uint64_t now)
{
	struct packet_events *pe = e->pev;
	struct pkt_fold *pf = g->pkt;
	const struct df_event *ev = &pf->last[r];
	/* Resolver-daemon refusals past a guard's first are debug lines (see on_event). */
	enum log_level lvl = r == DF_EV_LOCAL_RESOLVER ? LOG_DEBUG : LOG_WARN;
	struct pkt_text *t = &pe->text;
	uint64_t h;

	if (!pf->have[r]) {
		/* Every event of the reason was lost (ring full): counted, nothing to name. */
		metrics__packets(&g->cnt, r, n);
		return;
	}
	if (!ev->audit)
		metrics__packets(&g->cnt, r, n);
	packet_rule(g, ev, t->rule, sizeof(t->rule));
	report_refusal(g, ev, enforce_reason_name(r), t->rule, n);
	/* The handle is of the fold the event's line went to: the primary's (packet_write). */
	if (lvl == LOG_WARN && log_fold__add(pe->e->fold, pf->handle[r], n))
		return;
	if (!log_enabled(lvl))
		return;
	packet_text(g, ev, t);
	packet_write(pe, lvl, packet_line(g, ev, t, pe->line, sizeof(pe->line)), n, now, &h);
}

/* Read G's ev_limit entry: what its programs counted without an event since the last read. */
static void pkt_account(struct engine *e, struct guard *g, uint64_t now)
{
	struct pkt_fold *pf = g->pkt;
	struct df_ev_limit l;
	bool any = false;
	uint32_t r;

	pf->read_at = 0;
	if (dnsguard__ev_limit(e->opts.bpf, g->cgid, &l) < 0)
		return;
	for (r = 0; r < DF_EV_REASONS; r++) {
		/* Less than before: the entry was made again (evicted, or a restart). */
		uint64_t d = l.suppressed[r] >= pf->seen[r] ? l.suppressed[r] - pf->seen[r]
							    : l.suppressed[r];

		if (!d)
			continue;
		pf->seen[r] = l.suppressed[r];
		any = true;
		pkt_suppressed(e, g, r, d, now);
	}
	/* Still refusing: read again in a second, to close the summaries that go on. */
	if (any)
		pf->read_at = now + LOG_FOLD_WINDOW_MS;
}

/* EV is G's newest event of its reason: suppressed ones count as it; read in a second. */
static void pkt_remember(struct packet_events *pe, struct guard *g, const struct df_event *ev,
			 uint64_t now)
{
	struct pkt_fold *pf = g->pkt;
	uint32_t r = ev->reason & (DF_EV_REASONS - 1);

	if (!pf)
		return;
	pf->last[r] = *ev;
	pf->have[r] = true;
	pf->handle[r] = UINT64_MAX;
	if (pf->read_at)
		return;
	/* When its window in the fold ends too: the counts land in its summary. */
	pf->read_at = now + LOG_FOLD_WINDOW_MS;
	if (!pe->pkt_read_at || pf->read_at < pe->pkt_read_at)
		pe->pkt_read_at = pf->read_at;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct packet_events *pe = ctx;
	const struct df_event *ev = data;
	enum log_level lvl = LOG_WARN;
	uint64_t now = now_ms();
	struct guard *g;

	if (size < sizeof(*ev))
		return 0;
	g = guard_by_cgid(pe->e, ev->guard_cgid);
	if (!g)
		return 0; /* the guard went away meanwhile */
	/* Counted before any line is skipped; audit mode refused nothing. */
	if (!ev->audit)
		metrics__packet(&g->cnt, ev->reason);
	pkt_remember(pe, g, ev, now);
	/* Only the first LocalResolver refusal of a guard is a warning (below): skip /proc. */
	if (ev->reason == DF_EV_LOCAL_RESOLVER && g->resolver_logged && !log_enabled(LOG_DEBUG))
		return 0;
	packet_text(g, ev, &pe->text);
	report_refusal(g, ev, enforce_reason_name(ev->reason), pe->text.rule, 1);
	/*
	 * The C library tries nscd on every lookup of every process, where a
	 * socket exists or not; the lookup then goes to DNS and gets its own
	 * line. One line per guard says resolver daemons are bypassed; the
	 * rest would drown the block lines (they are counted, and -v shows them).
	 */
	if (ev->reason == DF_EV_LOCAL_RESOLVER) {
		if (g->resolver_logged)
			lvl = LOG_DEBUG;
		g->resolver_logged = true;
	}
	if (!log_enabled(lvl))
		return 0;
	packet_write(pe, lvl, packet_line(g, ev, &pe->text, pe->line, sizeof(pe->line)), 0, now,
		     g->pkt ? &g->pkt->handle[ev->reason & (DF_EV_REASONS - 1)] : &(uint64_t){0});
	return 0;
}

static void on_ring(struct ev_source *src, uint32_t events)
{
	struct packet_events *pe = container_of(src, struct packet_events, src);

	ring_buffer__consume(pe->rb);
}

int packet_events_init(struct engine *e, struct df_err *err)
{
	struct packet_events *pe = calloc(1, sizeof(*pe));

	if (!pe)
		return df_err_set(err, -ENOMEM, "out of memory");
	pe->e = e;
	pe->src.fd = -1;
	e->pev = pe;
	pe->rb = dnsguard__events(e->opts.bpf, on_event, pe);
	if (!pe->rb)
		return df_err_set(err, -errno, "events ring buffer: %s", strerror(errno));
	pe->src.fd = ring_buffer__epoll_fd(pe->rb);
	pe->src.on_ready = on_ring;
	if (loop__add(e->opts.loop, &pe->src, EPOLLIN) < 0)
		return df_err_set(err, -errno, "epoll: %s", strerror(errno));
	return 0;
}

void packet_events_fini(struct engine *e)
{
	struct packet_events *pe = e->pev;

	if (!pe)
		return;
	if (pe->src.fd >= 0)
		loop__del(e->opts.loop, &pe->src);
	ring_buffer__free(pe->rb);
	free(pe);
	e->pev = NULL;
}

int packet_events_guard_added(struct engine *e, struct guard *g)
{
	struct df_ev_limit l;
	uint32_t i;

	g->pkt = calloc(1, sizeof(*g->pkt));
	if (!g->pkt)
		return -ENOMEM;
	/* A restarted daemon's pinned entry: what it counted before is not ours to count. */
	if (dnsguard__ev_limit(e->opts.bpf, g->cgid, &l) == 0)
		for (i = 0; i < DF_EV_REASONS; i++)
			g->pkt->seen[i] = l.suppressed[i];
	return 0;
}

void packet_events_guard_removed(struct engine *e, struct guard *g)
{
	if (!g->pkt)
		return;
	pkt_account(e, g, now_ms());
	free(steal_ptr(g->pkt));
}

int packet_events_next_timeout(struct engine *e, uint64_t now)
{
	uint64_t t = e->pev ? e->pev->pkt_read_at : 0;

	return !t ? -1 : t <= now ? 0 : (int)(t - now);
}

void packet_events_account(struct engine *e, struct guard *g)
{
	/* Nothing was refused since the last read: nothing can have been held back. */
	if (g->pkt && g->pkt->read_at)
		pkt_account(e, g, now_ms());
}

/* The guards whose ev_limit entry is due to be read. */
void packet_events_tick(struct engine *e, uint64_t now)
{
	struct packet_events *pe = e->pev;
	uint64_t next = 0;
	struct guard *g;

	if (!pe || !pe->pkt_read_at || pe->pkt_read_at > now)
		return;
	for (g = engine__first_guard(e); g; g = engine__next_guard(e, g)) {
		if (!g->pkt || !g->pkt->read_at)
			continue;
		if (g->pkt->read_at <= now)
			pkt_account(e, g, now);
		if (g->pkt->read_at && (!next || g->pkt->read_at < next))
			next = g->pkt->read_at;
	}
	pe->pkt_read_at = next;
}
