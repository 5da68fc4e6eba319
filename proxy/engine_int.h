/* SPDX-License-Identifier: GPL-2.0-only */
/* The engine's private structures, shared by engine.c, serve_udp.c, serve_tcp.c, upstream.c. */
#ifndef DEPFENCE_ENGINE_INT_H
#define DEPFENCE_ENGINE_INT_H

#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cache.h"
#include "dns_wire.h"
#include "dnsguard_api.h"
#include "engine.h"
#include "metrics.h"
#include "log.h"
#include "netns.h"

#define UDP_BATCH    32
#define UDP_BUF	     4096
#define MAX_PENDING  8192
#define PENDING_QMAX 1232 /* the largest query forwarded (and kept for a retry) */
/* Pending slots only learning queries take: a flood of clients cannot starve learning,
 * and a flood of blocked names (each learned once) cannot take the clients' slots. */
#define LEARN_RESERVE  512
#define CLIENT_PENDING (MAX_PENDING - LEARN_RESERVE)
/* The most pending queries one guard may hold (--max-pending-per-guard): a job with a
 * slow or silent upstream fills its own share, never the table. */
#define PENDING_PER_GUARD (CLIENT_PENDING / 8)
/* A fair share never goes below this, however many guards are busy at once. */
#define SHARE_MIN	  16
#define MAX_TCP_CONNS	  512
#define MAX_TCP_PER_GUARD 64 /* one job cannot take every other job's TCP slots */
#define TCP_SHARE_MIN	  4
/* Upstream UDP sockets (RFC 5452): each upstream has UP_POOL connected sockets in use,
 * each on a port the kernel chose at random; a query goes out on one picked at random,
 * and a socket that has carried UP_SOCK_USES queries is replaced by a fresh one (a new
 * port) and closed once its last query is done. */
#define UP_POOL	     16
#define UP_SOCK_USES 64
/* Open at most: the pools, and sockets replaced but still waiting for answers (under a
 * flood to a silent upstream, ~1 s of renewals); past it a socket is kept, not renewed. */
#define UP_SOCKS	 512
#define ATTEMPT_SOCKS	 4 /* the sockets of a query's last attempts: a late answer counts */
#define TCP_IDLE_MS	 10000
#define TCP_WBUF_MAX	 (256 * 1024)
#define TCP_MAX_INFLIGHT 64
#define NIL		 UINT32_MAX

/* A WARN that a flood would repeat: written at most once a second, with how many it stood for. */
struct rate_note {
	uint64_t next_ms;
	uint64_t count; /* since the last line */
};

struct listener {
	struct ev_source src;
	struct guard *g;
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
};

struct guard {
	struct guard *next;
	struct engine *engine;
	uint64_t serial; /* never reused, unlike the address: memos key on it */
	enum guard_kind kind;
	char id[128];
	char log_id[128 * 4 + 8]; /* id as a logfmt value */
	char cgroup_path[PATH_MAX];
	const char *cgroup_rel; /* cgroup_path below the v2 root, for procinfo */
	uint64_t cgid;
	time_t since;
	struct policy *policy;
	bool owns_policy;
	struct listen_set ls;
	struct listener udp4, tcp4, udp6, tcp6;
	bool handed_any;      /* entries in the handed map to purge at removal */
	bool resolver_logged; /* a LocalResolver refusal was logged (the rest: debug) */
	bool full_cmdline;    /* command lines unredacted: its own flag or the engine's */
	unsigned n_conns;     /* TCP clients open */
	unsigned n_pending;   /* its queries waiting for an upstream (learning ones are not) */
	struct rate_note quota_note, tcp_note; /* over its share: logged once a second */
	struct guard_counters cnt;
	struct pkt_fold *pkt; /* packet_events.c: refusals the BPF side counted without an event */
	/* What the job looked up (report_collect.c). */
	struct run_report *report;
	/*
	 * Replicas (spread.c): one guard's UDP queries served by several workers.
	 * The guard a registration made is the owner, on the worker workers_pick()
	 * chose, with every listener; a replica on each further worker has UDP
	 * listeners of its own (the BPF side sends each client socket to one of
	 * them) and its own counters, pending share, rate notes and report, so a
	 * query still takes no lock. Control sees owners only: a status sums the
	 * replicas' counters, a report gathers theirs into the owner's.
	 */
	struct guard *replicas[DF_SPREAD_MAX - 1];
	unsigned n_replicas;
};

/*
 * Who waits for an answer: a guarded process over UDP or TCP (the answer goes
 * back through its listener), or the proxy itself learning a blocked name's
 * addresses (the answer goes to LEARNED, the learning code's completion).
 */
enum client_kind {
	CLIENT_UDP = 1, /* 0 is no kind: a client_ref must say what it is */
	CLIENT_TCP,
	CLIENT_LEARN,
};

struct client_ref;
typedef void (*learn_done_fn)(struct engine *e, const struct client_ref *c, const uint8_t *buf,
			      size_t len, const struct dns_msg *m);

/* Where the answer to a query goes. */
struct client_ref {
	enum client_kind kind;
	struct guard *g; /* UDP, TCP: the guard it asked through */
	uint8_t proto;	 /* UDP, TCP: IPPROTO_*, the BPF clients map's key */
	int fd;		 /* the UDP listener it came in on */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint32_t conn_idx, conn_gen; /* TCP: the connection, checked against reuse */
	uint16_t udp_limit;	     /* the most a UDP answer may carry */
	uint32_t learn_policy_id;    /* LEARN: the policy whose blocked name it is */
	learn_done_fn learned;	     /* LEARN: takes the answer */
};

struct pending {
	bool used;
	uint8_t upstream, tries;
	uint16_t client_id, qtype, qlen;
	uint16_t up_id;		     /* the id this query carries upstream */
	bool client_edns, client_do; /* how the client asked: the reply is shaped to match */
	uint16_t qname_wire;	     /* bytes of the question's name, from DNS_HDR_LEN */
	/* DNS 0x20: bit i set when byte DNS_HDR_LEN + i of the name went upstream in the
	 * other case. An answer must echo the question exactly; the client gets its own. */
	uint8_t flip[32];
	/* The sockets this query's last attempts went out on (index + 1; 0: none). */
	uint16_t socks[ATTEMPT_SOCKS];
	uint8_t n_attempt;
	uint64_t deadline, give_up_at;
	uint64_t sent_us;    /* the first attempt: depfence_upstream_latency_seconds */
	uint32_t prev, next; /* deadline FIFO: every attempt gets the same timeout */
	struct client_ref client;
	struct upstream_tcp *tcp; /* the TCP retry of an answer the upstream truncated */
	uint8_t query[PENDING_QMAX];
};

/* One upstream UDP socket: connected, so the kernel takes answers from the upstream only. */
struct up_sock {
	struct ev_source src;
	struct engine *e;
	uint8_t upstream;
	bool draining;	     /* replaced in the pool: closed when its last query is done */
	uint32_t refs, uses; /* attempts of pending queries on it; queries sent since opened */
	uint32_t gen;	     /* bumped when the entry takes a fresh socket */
};

struct upstream {
	struct engine *e;
	struct sockaddr_storage addr;
	socklen_t len;
	/* After a timeout, asked last until then. The primary's is the one used,
	 * shared by the workers (upstream.c: dead_until()). */
	uint64_t dead_until;
	uint16_t pool[UP_POOL]; /* indexes of e->usock in use */
	unsigned n_pool;
	/* Answers that matched but for the question's case, in a row: an upstream that
	 * does not echo the case (rare) has 0x20 turned off, or no answer would ever match. */
	unsigned case_blind_run;
	bool no_0x20;
};

struct tcp_conn {
	struct ev_source src;
	struct engine *e;
	struct guard *g;
	uint32_t gen;
	uint64_t last_active;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t *wbuf;
	size_t wlen, wcap;
	unsigned inflight;
	bool eof; /* the client half-closed: answer what is in flight, then close */
	/* loop__turn() when accepted: events of that turn were fetched for the slot's
	 * previous connection (closed and reused within the turn), not this one. */
	uint64_t opened_turn;
};

struct worker; /* workers.c */
struct learn_memos;

/*
 * One engine per thread. The one engine__new() returns is the primary: it owns
 * control (registrations, reloads, the packet-event ring, status) and, with
 * opts.workers, serves no guard itself: each guard is served by one worker
 * engine (workers.c), on a thread of its own, from its listeners to its
 * answers. A worker shares the primary's enforce, packet events and report
 * shelf; the primary touches a worker's state only while the worker is paused
 * (engine__pause), so a query's path takes no lock but enforce's.
 */
struct engine {
	struct engine_opts opts;
	struct engine *primary;	 /* the primary; the primary's is itself */
	struct engine **workers; /* the primary's: opts.workers of them */
	unsigned n_workers;
	unsigned idx;		  /* 0: the primary; i: workers[i - 1] */
	struct worker *w;	  /* a worker's thread, lock and wake-up */
	unsigned n_guards;	  /* on its list: where the next guard goes */
	struct learn_memos *memo; /* learn.c: blocked names resolved lately, per engine */
	struct guard *guards;
	struct guard *replicas;	 /* replicas of other workers' guards this engine serves */
	struct guard *graveyard; /* freed after the current loop turn */
	struct upstream ups[ENGINE_MAX_UPSTREAMS];
	int n_ups;
	struct pending *pend;
	uint32_t *free_slots, n_free;
	uint32_t fifo_head, fifo_tail;
	/* Upstream query ids are random (an off-path spoofer must guess 16 bits):
	 * id_slot maps a live id to its pending slot + 1. */
	uint16_t id_slot[65536];
	uint16_t rnd[2048];
	unsigned rnd_left;
	struct tcp_conn *conns;
	uint32_t n_conns;
	unsigned n_client_pending, n_learn_pending;
	unsigned busy_guards;	  /* guards with a pending query: the fair share divides by it */
	unsigned tcp_busy_guards; /* guards with a TCP client */
	unsigned pending_quota;	  /* opts.pending_per_guard or PENDING_PER_GUARD */
	struct rate_note learn_note, sock_note;
	/* A rate note counted events after its line: written when its second is over
	 * (engine__tick), so a burst's last refusals reach the log too. */
	bool notes_held;
	struct up_sock usock[UP_SOCKS];
	uint16_t usock_free[UP_SOCKS];
	unsigned n_usock_free;
	struct engine_stats st;
	struct engine_metrics met;
	struct dns_cache *cache;
	struct attrib_cache *attrib;
	struct log_fold *fold; /* block lines: repeats within a second folded (log_fold.h) */
	struct upstream_tcp *utcp_dead; /* closed TCP retries, freed at the end of a turn */
	unsigned n_utcp;		/* TCP retries open (upstream_tcp.c) */
	struct enforce *enf;
	struct packet_events *pev; /* packet_events.c */
	struct rr_shelf *reports;  /* ended containers' run reports */
	uint64_t guard_serial;
	uint64_t batch; /* bumped per receive batch: attrib memoises a sender within one */
	/* UDP batch buffers: static per engine, so the hot path never allocates. */
	uint8_t rx[UDP_BATCH][UDP_BUF];
	uint8_t tx[UDP_BATCH][UDP_BUF];
	struct sockaddr_storage rx_addr[UDP_BATCH];
};

/* workers.c */
int workers_new(struct engine *e, struct df_err *err);
void workers_free(struct engine *e);
/* The worker with the fewest guards, or E itself when it has none. */
struct engine *workers_pick(struct engine *e);
/* Control gave worker engine E work with a timer: it is woken at resume. */
void workers_kick(struct engine *e);
/* Engine I of the primary P: P itself for 0, then its workers. */
static inline struct engine *engine_nth(struct engine *p, unsigned i)
{
	return i ? p->workers[i - 1] : p;
}
/* engine.c: the parts of engine__new and engine__free every engine has. */
int engine_new_one(const struct engine_opts *opts, struct engine *primary, unsigned idx,
		   struct engine **ret, struct df_err *err);
void engine_free_one(struct engine *e);

/*
 * Decide one query (and set C's UDP size limit from its EDNS): returns the length of an answer
 * written to OUT (a refusal, FORMERR, ...), or 0 when it was forwarded or dropped.
 */
size_t engine_handle_query(struct engine *e, struct client_ref *c, const uint8_t *q, size_t len,
			   uint8_t *out, size_t cap);

/* Shape an upstream or cached answer for the client: drop an OPT it did not ask
 * for, cut it to LIMIT with TC set. M is BUF parsed. Returns the new length. */
size_t engine_adapt_answer(uint8_t *buf, size_t len, const struct dns_msg *m, bool client_edns,
			   uint16_t limit);

/* attrib.c: the event lines, naming the process that sent the query. */
enum log_event {
	EV_BLOCKED,	  /* refused */
	EV_AUDIT_MATCH,	  /* a block rule matched in audit mode: forwarded */
	EV_AUDIT_QUERY,	  /* audit trail: every other name the job contacted */
	EV_ALIAS_BLOCKED, /* an answer's CNAME/DNAME chain named a blocked name: refused */
	EV_ALIAS_AUDIT,	  /* the same in audit mode: delivered */
	EV_ENCLOSING,	  /* a nested run: the enclosing guard refused what ours allowed */
};
int attrib_cache_new(struct attrib_cache **ret);
void attrib_cache_free(struct attrib_cache *a);
/* RULE: the policy rule that decided (policy__match_rule), shown as rule=. */
void engine_log_event(struct engine *e, const struct client_ref *c, const struct dns_msg *m,
		      enum log_event ev, uint32_t rule);
/* The line of an EV_ALIAS_* event: the question's name, then cname=ALIAS. */
void engine_log_alias(struct engine *e, const struct client_ref *c, const struct dns_msg *m,
		      enum log_event ev, const char *alias, size_t alias_len, uint32_t rule);
/*
 * The fold's writer (log_fold_emit_fn, CTX the engine): LINE at LEVEL, with
 * " repeated=N" after it when REPEATED is not 0.
 */
void engine_log_emit(void *ctx, enum log_level level, const char *line, size_t len,
		     uint64_t repeated);
/*
 * Quote a command line (or an ancestry, ANCESTRY true) of guard G for the log:
 * redacted (redact.h) unless G logs full command lines. Returns the length.
 */
size_t engine_quote_cmd(const struct guard *g, char *dst, size_t cap, const char *src, size_t len,
			bool ancestry);
const char *dns_qtype_name(uint16_t t);

/*
 * answer_check.c: before an upstream or cached answer reaches client C (not a
 * learning query), every name of its CNAME/DNAME chain is matched against C's
 * policy. Returns 0 when BUF (LEN bytes, parsed as M) may go as it is, else the
 * length of the reply written over BUF instead: the policy's refusal (the line
 * logged, the chain's addresses learned), or SERVFAIL when the chain does not
 * read. CLIENT_EDNS/CLIENT_DO: how the client asked, for the reply's OPT.
 */
size_t answer_check(struct engine *e, const struct client_ref *c, uint8_t *buf, size_t len,
		    const struct dns_msg *m, bool client_edns, bool client_do);

/* enforce.c: what DNS decided, written to the maps the BPF programs enforce. */
int enforce_init(struct engine *e, struct df_err *err);
void enforce_fini(struct engine *e);
/* -E2BIG when too many policies are in use: the guard must not be registered. */
int enforce_guard_added(struct engine *e, struct guard *g);
void enforce_guard_removed(struct engine *e, struct guard *g);
void enforce_policy_swapped(struct engine *e, struct policy *old, struct policy *new_p);
void enforce_policy_retired(struct engine *e, struct policy *old);
int enforce_purge_stale(struct engine *e);
void enforce_blocked_query(struct engine *e, struct guard *g, const uint8_t *q, size_t len,
			   const struct dns_msg *m);
void enforce_learned_answer(struct engine *e, uint32_t policy_id, const uint8_t *buf, size_t len,
			    const struct dns_msg *m);
/* True when answers to G must be looked at (allowlist, or shared addresses are known). */
bool enforce_wants_answers(struct engine *e, const struct guard *g);
void enforce_answer(struct engine *e, struct guard *g, const uint8_t *buf, size_t len,
		    const struct dns_msg *m);
void enforce_tick(struct engine *e, uint64_t now);
int enforce_next_timeout(struct engine *e, uint64_t now);
/*
 * packet_events.c: the BPF side's refusals (events ring buffer, ev_limit
 * counts) as PACKET BLOCKED lines, metrics and report entries; set up and
 * driven by enforce.c.
 */
int packet_events_init(struct engine *e, struct df_err *err);
void packet_events_fini(struct engine *e);
int packet_events_guard_added(struct engine *e, struct guard *g);
/* Counts G's last refusals: before its ev_limit entry is deleted. */
void packet_events_guard_removed(struct engine *e, struct guard *g);
void packet_events_tick(struct engine *e, uint64_t now);
int packet_events_next_timeout(struct engine *e, uint64_t now);
/* Count G's refusals that had no event (the BPF rate limit) now, not at the next read. */
void packet_events_account(struct engine *e, struct guard *g);
/* The reason= of a PACKET BLOCKED line (enum df_event_reason). */
const char *enforce_reason_name(uint32_t r);

/* upstream.c */
int upstreams_open(struct engine *e, struct df_err *err);
void upstreams_close(struct engine *e);
int upstream_forward(struct engine *e, const struct client_ref *c, const uint8_t *q, size_t len,
		     const struct dns_msg *m);
void upstream_expire(struct engine *e, uint64_t now);
/*
 * The pending slot answer BUF (LEN bytes, parsed as M) belongs to, or NIL (counted, by
 * why): its id names a waiting query, the query went out on socket SOCK (NIL: over
 * the query's own TCP connection), and the question is the one sent, byte for byte.
 */
uint32_t upstream_match(struct engine *e, const uint8_t *buf, size_t len, const struct dns_msg *m,
			uint32_t sock);
/* Count one event of NOTE: how many to write in one line now (0: not yet, a line went
 * out less than a second ago: the caller sets notes_held). */
uint64_t rate_note_take(struct rate_note *note, uint64_t now);
/* The lines of the notes, N events each: the learning reserve full, a guard at its
 * share of pending queries, of TCP clients. */
void upstream_learn_line(struct engine *e, uint64_t n);
void upstream_quota_line(struct engine *e, struct guard *g, uint64_t n);
void tcp_quota_line(struct engine *e, struct guard *g, uint64_t n);
/* Answer the client of SLOT with BUF (the upstream's answer) and free the slot. */
void upstream_deliver(struct engine *e, uint32_t slot, uint8_t *buf, size_t len,
		      const struct dns_msg *m);
/* The next of the engine's random numbers (getrandom() in bulk). */
uint16_t engine_rand16(struct engine *e);
/* An answer on upstream socket SOCK: matched, checked, delivered or dropped. */
void upstream_on_answer(struct engine *e, uint32_t sock, uint8_t *buf, size_t len);
/* Nobody listens at upstream IDX (ICMP port unreachable): its queries move on now. */
void upstream_failover(struct engine *e, int idx);
/* An answer larger than our buffer: header and question with TC set (0: unreadable). */
size_t upstream_cut_to_question(uint8_t *buf, size_t len);
/* upstream_sock.c: the pools of upstream UDP sockets (random source ports). */
void upsock_init(struct engine *e); /* the empty table, before anything can fail */
int upsock_open(struct engine *e, struct df_err *err);
void upsock_close(struct engine *e);
/* A socket of upstream U for one attempt (a reference taken), or NIL. */
uint32_t upsock_take(struct engine *e, int u);
void upsock_release(struct engine *e, uint32_t sock);
int upsock_fd(const struct engine *e, uint32_t sock);
/* upstream_tcp.c: ask SLOT's upstream again over TCP. */
int utcp_start(struct engine *e, uint32_t slot);
void utcp_close(struct engine *e, struct upstream_tcp *t);
void utcp_reap(struct engine *e);
void upstream_drop_guard(struct engine *e, const struct guard *g);
int upstream_next_timeout(struct engine *e, uint64_t now);

/* engine.c: a guard's listeners, in its engine's loop and in the BPF listeners map. */
void listener_init(struct engine *e, struct guard *g, struct listener *l, int fd, uint8_t proto);
void listeners_del(struct engine *e, struct guard *g);
int listeners_publish(struct engine *e, struct guard *g);
void listeners_unpublish(struct engine *e, struct guard *g);

/*
 * spread.c: the replicas of owner G, on the workers but its own (engine_opts.spread).
 * Open: guards made and their listeners opened in the netns at NETNS_PATH, not yet
 * served or published (a worker that cannot have one goes without, with a WARN).
 * Start: into their workers' loops. Remove: from everywhere, their reports and
 * held counts gathered into G's first. Policy: G's policy, now theirs too.
 */
void spread_open(struct guard *g, const char *netns_path);
void spread_start(struct guard *g);
void spread_remove(struct guard *g);
void spread_policy(struct guard *g);
/* Their reports into G's (control reads G's report), and G's handed_any. */
void spread_gather(struct guard *g);

/* serve_udp.c / serve_tcp.c */
void udp_on_ready(struct ev_source *src, uint32_t events);
void tcp_on_accept(struct ev_source *src, uint32_t events);
/* Queue one length-prefixed answer on C's connection, if it is still open. */
void tcp_send_frame(struct engine *e, const struct client_ref *c, const uint8_t *msg, size_t len);
void tcp_drop_guard(struct engine *e, const struct guard *g);
void tcp_expire(struct engine *e, uint64_t now);
/* Send an answer to C (UDP sendto or a TCP frame). */
void engine_reply(struct engine *e, const struct client_ref *c, uint8_t *msg, size_t len);

#endif
