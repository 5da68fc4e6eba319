/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the dnsguard BPF object and its user side both see: map keys and
 * values. No includes: the BPF side gets the __u types from vmlinux-free uapi
 * headers, the user side from <linux/types.h>.
 */
#ifndef DEPFENCE_DNSGUARD_H
#define DEPFENCE_DNSGUARD_H

/* How far down from the root the guard lookup walks (cgroup nesting depth). */
#define DF_MAX_CGROUP_LEVEL 16
#define DF_MAX_GUARDS	    4096
#define DF_MAX_CLIENTS	    65536
#define DF_MAX_CIDRS	    65536
#define DF_MAX_HANDED	    65536 /* addresses DNS handed to a cgroup */
#define DF_MAX_LEARNED	    16384 /* addresses of blocked names */
#define DF_MAX_CG_CACHE	    16384
#define DF_EVENTS_BYTES	    (256 * 1024)
#define DF_EVENT_ARGS	    256
#define DF_UNIX_KEY	    64 /* the last two components of a unix socket path */
#define DF_SPREAD_MAX	    8  /* UDP listeners of one guard: engine workers serving it */

/*
 * guards: cgroup id (inode number of the cgroup v2 directory) -> where the
 * proxy listens for that cgroup. Every guarded cgroup gets listeners of its own,
 * so the listener a query arrives on tells the proxy the policy for free.
 * Network-order fields are __be32/__be16 (what sparse checks in the kernel);
 * the ports here are in host order.
 */
struct df_guard {
	__be32 proxy_ip4;    /* 127.0.0.1 in the guarded netns */
	__be32 proxy_ip6[4]; /* ::1 */
	__u16 udp4_port;
	__u16 tcp4_port;
	__u16 udp6_port;
	__u16 tcp6_port;
	__u32 flags;
	__u32 policy_id; /* keys the cidrs and learned maps: shared by every guard of a policy */
	__u32 mode;	 /* enum df_mode */
	/*
	 * More UDP listeners of the guard, one on each further engine worker that
	 * serves it (proxy/workers.c): a socket's DNS goes to one of udp4_port and
	 * these, picked by its socket cookie, so one job's lookups spread over the
	 * cores and a socket's replies all come from the port it was sent to.
	 */
	__u32 n_spread; /* entries in use, at most DF_SPREAD_MAX - 1 */
	/* DF_SPREAD_MAX entries, the last never used: the BPF side masks the index. */
	__u16 udp4_spread[DF_SPREAD_MAX];
	__u16 udp6_spread[DF_SPREAD_MAX];
};

/* df_guard.flags */
#define DF_GUARD_NO_IP6 0x1 /* no v6 listener: v6 DNS is refused (EPERM) */

/* A policy's mode: proxy/policy.h's enum policy_mode takes its values from here. */
enum df_mode {
	DF_MODE_BLOCKLIST = 0,
	DF_MODE_ALLOWLIST = 1,
	DF_MODE_AUDIT = 2,
};

/*
 * An address, v4 or v6, as both sides key it: v4 in the first 4 bytes of
 * addr, the rest zero. The family is the kernel's AF_INET or AF_INET6 (the
 * BPF side has no <sys/socket.h>; proxy/policy.h asserts they are the same).
 */
#define DF_AF_INET  2
#define DF_AF_INET6 10

/*
 * cidrs: LPM trie of a policy's block-ip / allow-ip rules. The key's data is
 * policy id, family and address, so prefixlen = 64 + the CIDR's length.
 */
struct df_cidr_key {
	__u32 prefixlen;
	__u32 policy_id;
	__u32 family;
	__u8 addr[16];
};
#define DF_CIDR_KEY_BITS(len) (64 + (len))

enum df_ip_verdict {
	DF_IP_ALLOW = 1,
	DF_IP_BLOCK = 2,
};

/*
 * handed: the addresses the proxy handed to one cgroup in answers to permitted
 * names, until their TTL (with a floor). In allowlist mode they are all the
 * cgroup may reach beyond allow-ip; in blocklist mode they keep a shared
 * address (a CDN) reachable although a blocked name also resolves to it.
 */
struct df_addr_key {
	__u64 id; /* handed: the cgroup id of the guard; learned: the policy id */
	__u32 family;
	__u8 addr[16];
	__u8 pad[4];
};

struct df_expiry {
	__u64 expires_ns; /* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
};

/*
 * events (ring buffer): one record per refused connect or send, never one per
 * allowed packet, so the proxy can log who was stopped.
 */
enum df_event_reason {
	DF_EV_BLOCK_IP = 1,	  /* a block-ip rule */
	DF_EV_BLOCKED_NAME = 2,	  /* an address a blocked name resolves to */
	DF_EV_NOT_ALLOWED = 3,	  /* allowlist: not handed out, not in allow-ip */
	DF_EV_DOT = 4,		  /* DNS over TLS (port 853) */
	DF_EV_OTHER_PROXY = 5,	  /* another guard's proxy listener: its policy is not ours */
	DF_EV_NO_GUARD = 6,	  /* programs attached, registration gone: closed */
	DF_EV_RAW_SOCKET = 7,	  /* a raw IP socket: it would send around every check */
	DF_EV_LOCAL_RESOLVER = 8, /* a resolver daemon's unix socket (nscd, resolved, sssd) */
};

/*
 * ev_limit: guard cgroup id (0: no registration) -> its event budget, per
 * enum df_event_reason. The first DF_EV_BURST refusals of a reason in a
 * DF_EV_WINDOW_NS window are sent as events; the rest only count in
 * suppressed, which never goes back: the proxy reads it (a second after an
 * event) and counts the difference, so no refusal goes uncounted and one job's
 * connect loop cannot fill the ring buffer that every guard shares.
 */
#define DF_EV_REASONS	16 /* slots, a power of two above the largest reason */
#define DF_EV_BURST	16
#define DF_EV_WINDOW_NS 1000000000ULL

struct df_ev_limit {
	__u64 window_ns[DF_EV_REASONS]; /* when the reason's current window began */
	__u32 sent[DF_EV_REASONS];	/* events sent in it */
	__u64 suppressed[DF_EV_REASONS];
};

/*
 * Who a process is, in each pid namespace that matters: the host's (what the
 * logs say), its own (a container's or a pid-namespaced job's, logged as
 * nspid= where it differs) and the proxy's (where the proxy finds it in
 * /proc; 0 if it cannot see the process). exec_id is the low half of the
 * thread group leader's self_exec_id, which every execve() bumps: the proxy
 * memoises command lines per pid, and `sh -c 'lookup; exec tool'` keeps the pid
 * but changes the command line.
 */
struct df_pids {
	__u32 pid;
	__u32 nspid;
	__u32 vpid;
	__u32 exec_id;
};

/* config[0]: the proxy's pid namespace (st_dev, st_ino of /proc/self/ns/pid), set by the loader. */
struct df_config {
	__u64 pidns_dev;
	__u64 pidns_ino;
	__u32 policy_id_next; /* the first policy id no daemon of these maps used yet */
	__u32 pad;
};

/* Policy ids each daemon reserves (dnsguard__reserve_policy_ids). */
#define DF_POLICY_ID_RANGE (1u << 20)

struct df_event {
	__u64 cgid;	  /* the task's own cgroup */
	__u64 guard_cgid; /* the registration that covers it */
	struct df_pids who;
	__u32 reason; /* enum df_event_reason */
	__u32 family;
	__u8 addr[16];
	__u16 port; /* host order */
	__u8 proto;
	__u8 audit;    /* audit mode: logged, not refused */
	char comm[16]; /* the process may be gone before the proxy reads /proc: */
	__u32 args_len;
	char args[DF_EVENT_ARGS]; /* so the start of its argv (NUL-separated) travels along */
	char path[DF_UNIX_KEY];	  /* DF_EV_LOCAL_RESOLVER: the matched path suffix */
};

/*
 * unix_deny: the last two components of the socket paths of local resolver
 * daemons ("nscd/socket") -> 1. A guarded job's connect to one is refused, so
 * the C library falls back to DNS, which the guard sees. Matched on the
 * suffix, so /var/run/..., /run/... and /proc/1/root/run/... are all caught.
 */
struct df_unix_key {
	char path[DF_UNIX_KEY];
};

/*
 * socks (sk_storage): per-socket memory of a DNS conversation, written at
 * connect/sendmsg time in process context, so the pid is the sender's even
 * when a TCP segment later leaves from softirq.
 */
struct df_sock {
	__u64 guard_cgid;
	__u64 netns_cookie;
	struct df_pids who; /* the sender, from process context */
	__be32 orig_ip4;
	__be32 orig_ip6[4];
	__be16 orig_port;
	__u16 proxy_port;     /* host order: the guard port this socket was sent to */
	__u16 published_port; /* local port already written to clients, host order */
	__u8 family;
	__u8 proto;
};

/*
 * listeners: (netns, protocol, port of a proxy listener) -> the guard cgroup
 * it belongs to. A guarded job may reach only its own guard's listeners, and a
 * redirect goes only to a listener its guard still owns (after a crash, a port
 * the dead proxy held may be bound by someone else). Same key layout as clients.
 *
 * clients: (netns, protocol, local port of the client socket) -> who sent.
 * The proxy sees the client's port as the peer port of the query and looks it
 * up only when it must name the sender (a block or an audit line).
 */
struct df_client_key {
	__u64 netns_cookie;
	__u16 port; /* host order */
	__u8 proto; /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad[5];
};

struct df_client {
	__u64 guard_cgid;
	struct df_pids who;
};

/*
 * client_slots (array, BPF_F_MMAPABLE, one slot a UDP port): the clients map's
 * UDP records again, so the proxy names a query's sender with a read of its
 * own memory, not a bpf() call a query (a quarter of the daemon's CPU on a
 * flood of refused names). A slot is the last record written for its port,
 * whatever the netns: the proxy takes it only for its own netns, else asks
 * the clients map. seq is odd while the BPF side writes the slot; the proxy
 * copies it between two equal, even reads of seq and takes the copy only if
 * its check is the record's (df_slot_check): two writers of one port at once
 * (two netns), or adds a JIT leaves unordered, can tear a copy that seq alone
 * would pass (dnsguard__lookup_client).
 */
struct df_client_slot {
	__u32 seq;
	__u32 pad;
	__u64 netns_cookie;
	struct df_client c;
	__u64 check;
};

/* The check of a slot's record: a mix of every word of it, never 0. */
static inline __u64 df_slot_check(__u64 netns_cookie, const struct df_client *c)
{
	__u64 h = netns_cookie * 0x9e3779b97f4a7c15ULL;

	h = (h ^ c->guard_cgid) * 0xff51afd7ed558ccdULL;
	h = (h ^ ((__u64)c->who.pid << 32 | c->who.nspid)) * 0xc4ceb9fe1a85ec53ULL;
	h = (h ^ ((__u64)c->who.vpid << 32 | c->who.exec_id)) * 0xff51afd7ed558ccdULL;
	return (h ^ (h >> 31)) | 1;
}
#define DF_CLIENT_SLOTS 65536

/*
 * counters (per-CPU array): what the programs did, summed over CPUs by
 * dnsguard__counters() for `depfence status` (its "kernel" object) and the
 * metrics endpoint (depfence_kernel_events_total{counter="NAME"}). The one
 * list of them: X(ENUM, name, help) makes DF_CNT_ENUM, the snake_case name
 * both show and the help text. New counters go at the end (the map is pinned:
 * a counter's index is what an older daemon's map holds under it).
 */
#define DF_COUNTERS(X)                                                                             \
	X(REDIRECT_UDP4, redirect_udp4, "UDP DNS connects and sends over IPv4 redirected")         \
	X(REDIRECT_UDP6, redirect_udp6, "UDP DNS connects and sends over IPv6 redirected")         \
	X(REDIRECT_TCP4, redirect_tcp4, "TCP DNS connects over IPv4 redirected")                   \
	X(REDIRECT_TCP6, redirect_tcp6, "TCP DNS connects over IPv6 redirected")                   \
	X(NO_GUARD, no_guard, "connects and sends refused: programs attached, no registration")    \
	X(NO_IP6, no_ip6, "IPv6 DNS refused: the guard has no IPv6 listener")                      \
	X(RECV_REWRITE, recv_rewrite, "proxy replies given the asked server as their source")      \
	X(IP_BLOCKED, ip_blocked, "connects and sends refused by address")                         \
	X(DNS_ESCAPE_DROPPED, dns_escape_dropped,                                                  \
	  "port-53 packets that dodged the redirect, dropped")                                     \
	X(EVENTS_LOST, events_lost, "refusal events lost: the ring buffer was full")               \
	X(STALE_LISTENER, stale_listener, "DNS refused: the listener is no longer its guard's")    \
	X(RAW_REFUSED, raw_refused, "raw IP sockets refused at creation")                          \
	X(UNIX_REFUSED, unix_refused, "connects to local resolver daemons refused")                \
	X(EVENTS_LIMITED, events_limited, "refusals over their guard's event budget (ev_limit)")

#define DF_CNT_ENUM(ENUM, name, help) DF_CNT_##ENUM,
enum df_counter { DF_COUNTERS(DF_CNT_ENUM) DF_CNT__MAX };
#undef DF_CNT_ENUM

#endif
