// SPDX-License-Identifier: GPL-2.0-only
/*
 * dnsguard: send every DNS query of a guarded cgroup to the depfence proxy.
 *
 * connect4/6 and sendmsg4/6 rewrite a destination port 53 to the proxy
 * listener registered for the nearest guarded ancestor cgroup, and remember
 * the original server and the sending pid in socket storage. recvmsg4/6 put
 * the original server back as the source of replies, so unconnected clients
 * (dig, glibc) accept them. The egress program publishes "local port -> pid"
 * for sockets whose port was not yet bound at connect time (TCP, connected
 * UDP), so the proxy can name the sender of a blocked query.
 *
 * Per packet cost: egress does one socket-storage lookup (a pointer chase)
 * and returns; map writes happen once per socket or per unconnected send.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "dnsguard.h"

#define AF_INET	       DF_AF_INET
#define AF_INET6       DF_AF_INET6
#define SOCK_STREAM    1
#define SOCK_DGRAM     2
#define SOCK_RAW       3
#define SOCK_PACKET    10
#define IPPROTO_ICMP   1
#define IPPROTO_TCP    6
#define IPPROTO_UDP    17
#define IPPROTO_ICMPV6 58
#define DNS_PORT       53
#define DOT_PORT       853
#define ETH_P_IP       0x0800
#define ETH_P_IPV6     0x86DD

char LICENSE[] SEC("license") = "GPL";

/*
 * The local (ephemeral) port range, set by the loader: proxy listeners bind
 * port 0, so only a port in this range can be one. Connects to other loopback
 * ports skip the listeners lookup.
 */
const volatile __u16 eph_lo = 0, eph_hi = 65535;

/*
 * The two kernel fields the events need, relocated against the running
 * kernel's BTF at load (CO-RE), so no vmlinux.h is generated at build time.
 */
struct mm_struct {
	unsigned long arg_start, arg_end;
} __attribute__((preserve_access_index));

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

/* fs/mount.h: the vfsmount is embedded; the dentry it is mounted on is here. */
struct mount {
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path pwd;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct pid_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct upid {
	int nr;
	struct pid_namespace *ns;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level;
	struct upid numbers[1];
} __attribute__((preserve_access_index));

struct task_struct {
	struct mm_struct *mm;
	struct fs_struct *fs;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	__u64 self_exec_id;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DF_MAX_GUARDS);
	__type(key, __u64);
	__type(value, struct df_guard);
} guards SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct df_sock);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DF_MAX_CLIENTS);
	__type(key, struct df_client_key);
	__type(value, struct df_client);
} clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DF_CLIENT_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct df_client_slot);
} client_slots SEC(".maps");

/*
 * meta[0]: a hash of the object that created the pinned maps, written by the
 * loader, so a daemon of another version knows the pins are not its own.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} meta SEC(".maps");

/* cgroup id -> the guard cgroup that covers it, so a sub-cgroup walks its ancestors once. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DF_MAX_CG_CACHE);
	__type(key, __u64);
	__type(value, __u64);
} cg_guard SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, DF_MAX_CIDRS);
	__type(key, struct df_cidr_key);
	__type(value, __u32);
} cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DF_MAX_HANDED);
	__type(key, struct df_addr_key);
	__type(value, struct df_expiry);
} handed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DF_MAX_LEARNED);
	__type(key, struct df_addr_key);
	__type(value, struct df_expiry);
} learned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* Each guard's four listeners and its replicas' two each (proxy/spread.c). */
	__uint(max_entries, DF_MAX_GUARDS *(2 + 2 * DF_SPREAD_MAX));
	__type(key, struct df_client_key);
	__type(value, __u64);
} listeners SEC(".maps");

/*
 * proxy_socks: the proxy's own listener sockets, marked with their guard's
 * cgroup id by the proxy (keyed by fd from user space). The mark lives and
 * dies with the socket, so a port that a dead proxy held and someone else
 * bound is never taken for the proxy.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} proxy_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct df_unix_key);
	__type(value, __u32);
} unix_deny SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DF_EVENTS_BYTES);
} events SEC(".maps");

/*
 * Events per guard and reason (dnsguard.h): entries made here, deleted with the
 * guard. LRU: entries a dead daemon left behind make room rather than fill it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DF_MAX_GUARDS + 1);
	__type(key, __u64);
	__type(value, struct df_ev_limit);
} ev_limit SEC(".maps");

/* A zeroed ev_limit value to create entries from: too large for the stack beside an event. */
static const struct df_ev_limit ev_limit_zero;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		(*v)++;
}

/*
 * The registration that covers the current task: its own cgroup, else the
 * deepest registered ancestor, so sub-cgroups of a guarded cgroup are guarded
 * by the same policy. A sub-cgroup's walk is remembered in cg_guard, so the
 * usual cost is one or two lookups.
 */
static __always_inline struct df_guard *find_guard(__u64 *ret_cgid)
{
	__u64 self = bpf_get_current_cgroup_id(), cgid;
	struct df_guard *g = bpf_map_lookup_elem(&guards, &self);
	__u64 *cached;
	int lvl;

	if (g) {
		*ret_cgid = self;
		return g;
	}
	cached = bpf_map_lookup_elem(&cg_guard, &self);
	if (cached) {
		cgid = *cached;
		g = bpf_map_lookup_elem(&guards, &cgid);
		if (g) {
			*ret_cgid = cgid;
			return g;
		}
	}
	for (lvl = DF_MAX_CGROUP_LEVEL; lvl >= 1; lvl--) {
		cgid = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!cgid || cgid == self)
			continue;
		g = bpf_map_lookup_elem(&guards, &cgid);
		if (g) {
			bpf_map_update_elem(&cg_guard, &self, &cgid, BPF_ANY);
			*ret_cgid = cgid;
			return g;
		}
	}
	return NULL;
}

#define DF_MAX_PIDNS_LEVEL 8

/* struct upid I of pid P: the number and namespace at that level. */
static __always_inline struct upid *upid_at(struct pid *p, unsigned int i)
{
	return (void *)((char *)p + bpf_core_field_offset(struct pid, numbers) +
			(i & 31) * bpf_core_type_size(struct upid));
}

/*
 * The current process in the host's pid namespace, in its own (the
 * innermost: a container's) and in the proxy's (the level of its struct pid
 * whose namespace is the one the loader wrote to config; 0 where the proxy
 * cannot see it). Read with CO-RE: bpf_get_ns_current_pid_tgid() answers
 * only for the caller's own namespace, not for an ancestor. A global
 * function: the verifier walks its loop once per program, not per call site.
 */
__noinline int who_am_i(struct df_pids *who)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct pid *p = BPF_CORE_READ(t, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level), i;
	struct df_config *cfg;
	__u32 zero = 0;
	int nr = 0;

	if (!who)
		return 0;
	who->pid = bpf_get_current_pid_tgid() >> 32;
	who->exec_id = (__u32)BPF_CORE_READ(t, group_leader, self_exec_id);
	bpf_probe_read_kernel(&nr, sizeof(nr), &upid_at(p, level)->nr);
	who->nspid = nr > 0 ? nr : who->pid;
	who->vpid = who->pid;
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || !cfg->pidns_ino)
		return 0;
	who->vpid = 0;
	for (i = 0; i < DF_MAX_PIDNS_LEVEL; i++) {
		struct upid *u;

		if (i > level)
			break;
		u = upid_at(p, i);
		if (BPF_CORE_READ(u, ns, ns.inum) == cfg->pidns_ino) {
			nr = 0;
			bpf_probe_read_kernel(&nr, sizeof(nr), &u->nr);
			who->vpid = nr;
			break;
		}
	}
	return 0;
}

static __always_inline void publish(struct df_sock *s, __u16 local_port)
{
	struct df_client_key key = {
	    .netns_cookie = s->netns_cookie,
	    .port = local_port,
	    .proto = s->proto,
	};
	struct df_client val = {.guard_cgid = s->guard_cgid, .who = s->who};
	__u32 port = local_port;
	struct df_client_slot *cs;

	bpf_map_update_elem(&clients, &key, &val, BPF_ANY);
	s->published_port = local_port;
	if (s->proto != IPPROTO_UDP || !(cs = bpf_map_lookup_elem(&client_slots, &port)))
		return;
	/* Atomic adds (lock-prefixed on x86: full barriers), so a reader sees seq odd
	 * before the data moves and even only after; the check catches the rest. */
	__sync_fetch_and_add(&cs->seq, 1);
	cs->netns_cookie = key.netns_cookie;
	cs->c = val;
	cs->check = df_slot_check(key.netns_cookie, &val);
	__sync_fetch_and_add(&cs->seq, 1);
}

static __always_inline int is_v4mapped(const __u32 *ip6)
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

/* ctx fields are read one 32-bit word at a time: the verifier allows no pointer into ctx. */
static __always_inline void addr_of(struct bpf_sock_addr *ctx, int v6, __be32 *addr)
{
	if (v6 && !is_v4mapped(ctx->user_ip6)) {
		addr[0] = ctx->user_ip6[0];
		addr[1] = ctx->user_ip6[1];
		addr[2] = ctx->user_ip6[2];
		addr[3] = ctx->user_ip6[3];
	} else {
		addr[0] = v6 ? ctx->user_ip6[3] : ctx->user_ip4;
	}
}

static __always_inline int live(struct df_expiry *x)
{
	return x && x->expires_ns > bpf_ktime_get_ns();
}

/*
 * Remember in the socket who sends to the proxy (PORT, guard CGID) and which
 * server it asked, from process context, so the proxy can name the sender and
 * recvmsg can put the server back as the reply's source. Called for every DNS
 * send and connect, redirected or sent straight to the guard's own listener,
 * so the record is never left over from an earlier owner of the socket.
 * Returns 0 if the storage could not be had (the caller refuses).
 */
static __always_inline int remember(struct bpf_sock_addr *ctx, struct df_guard *g, __u64 cgid,
				    __u16 port, int v6, int is_send)
{
	struct df_sock *s = bpf_sk_storage_get(&socks, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (!s)
		return 0;
	s->guard_cgid = cgid;
	s->netns_cookie = bpf_get_netns_cookie(ctx);
	who_am_i(&s->who);
	s->proto = ctx->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
	s->orig_port = ctx->user_port;
	s->proxy_port = port;
	s->family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		s->orig_ip6[0] = ctx->user_ip6[0];
		s->orig_ip6[1] = ctx->user_ip6[1];
		s->orig_ip6[2] = ctx->user_ip6[2];
		s->orig_ip6[3] = ctx->user_ip6[3];
	} else {
		s->orig_ip4 = ctx->user_ip4;
	}
	/* An unconnected send has its local port already (autobind runs before
	 * this hook); a connect does not yet, egress publishes it. */
	if (is_send && ctx->sk->src_port)
		publish(s, ctx->sk->src_port);
	else
		s->published_port = 0;
	return 1;
}

/* Which rule refuses ADDR for guard G, or 0 if it may go. See docs/design.md. */
static __always_inline __u32 ip_reason(struct df_guard *g, __u64 cgid, __u32 family,
				       const __u8 *addr, __u16 port)
{
	struct df_cidr_key ck = {
	    .prefixlen = DF_CIDR_KEY_BITS(128), .policy_id = g->policy_id, .family = family};
	struct df_addr_key ak = {.id = cgid, .family = family};
	__u32 *rule;

	if (port == DOT_PORT)
		return DF_EV_DOT;
	__builtin_memcpy(ck.addr, addr, 16);
	rule = bpf_map_lookup_elem(&cidrs, &ck);
	if (rule)
		return *rule == DF_IP_BLOCK ? DF_EV_BLOCK_IP : 0;
	__builtin_memcpy(ak.addr, addr, 16);
	if (live(bpf_map_lookup_elem(&handed, &ak)))
		return 0;
	ak.id = g->policy_id;
	if (live(bpf_map_lookup_elem(&learned, &ak)))
		return DF_EV_BLOCKED_NAME;
	return g->mode == DF_MODE_ALLOWLIST ? DF_EV_NOT_ALLOWED : 0;
}

/*
 * May guard GUARD_CGID send an event for REASON now? The first DF_EV_BURST of
 * a window may; the rest are counted in suppressed, which the proxy reads. Two
 * CPUs may both open a window: a few more events, never fewer counts. A
 * global function: the verifier walks it once, not at each caller.
 */
__noinline int ev_admit(__u64 guard_cgid, __u32 reason)
{
	struct df_ev_limit *l = bpf_map_lookup_elem(&ev_limit, &guard_cgid);
	__u64 now = bpf_ktime_get_ns();
	__u32 r = reason & (DF_EV_REASONS - 1);

	if (!l) {
		bpf_map_update_elem(&ev_limit, &guard_cgid, &ev_limit_zero, BPF_NOEXIST);
		l = bpf_map_lookup_elem(&ev_limit, &guard_cgid);
		if (!l)
			return 1; /* no entry could be made: unlimited rather than uncounted */
	}
	if (now - l->window_ns[r] >= DF_EV_WINDOW_NS) {
		l->window_ns[r] = now;
		l->sent[r] = 0;
	}
	if (l->sent[r] >= DF_EV_BURST) {
		__sync_fetch_and_add(&l->suppressed[r], 1);
		count(DF_CNT_EVENTS_LIMITED);
		return 0;
	}
	l->sent[r]++;
	return 1;
}

/*
 * An event record with who and why filled in, or NULL: over the guard's
 * budget (counted in ev_limit), or the ring is full (counted as lost).
 */
static __always_inline struct df_event *report_start(__u64 guard_cgid, __u32 reason, __u32 family,
						     const __u8 *addr, __u16 port, __u8 proto,
						     __u8 audit)
{
	struct df_event *ev;

	if (!ev_admit(guard_cgid, reason))
		return NULL;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(DF_CNT_EVENTS_LOST);
		return NULL;
	}
	ev->cgid = bpf_get_current_cgroup_id();
	ev->guard_cgid = guard_cgid;
	who_am_i(&ev->who);
	ev->reason = reason;
	ev->family = family;
	__builtin_memcpy(ev->addr, addr, 16);
	ev->port = port;
	ev->proto = proto;
	ev->audit = audit;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->args_len = 0;
	{
		struct task_struct *t = (void *)bpf_get_current_task();
		struct mm_struct *mm = BPF_CORE_READ(t, mm);
		unsigned long start = BPF_CORE_READ(mm, arg_start),
			      end = BPF_CORE_READ(mm, arg_end);
		__u32 len = end > start ? end - start : 0;

		if (len > DF_EVENT_ARGS - 1)
			len = DF_EVENT_ARGS - 1;
		/* A bound the verifier can see on the register itself (clang may not keep it). */
		asm volatile("%0 &= 255" : "+r"(len));
		/* Not sleepable: a page not in memory just leaves args empty. */
		if (len && bpf_probe_read_user(ev->args, len, (void *)start) == 0)
			ev->args_len = len;
	}
	ev->path[0] = '\0';
	return ev;
}

static __always_inline void report(__u64 guard_cgid, __u32 reason, __u32 family, const __u8 *addr,
				   __u16 port, __u8 proto, __u8 audit)
{
	struct df_event *ev = report_start(guard_cgid, reason, family, addr, port, proto, audit);

	if (ev)
		bpf_ringbuf_submit(ev, 0);
}

/*
 * A connect or send to anything but port 53: refused with EPERM (return 0)
 * when the policy says so, at once, so the client fails fast. Audit mode
 * reports and lets it go; DNS over TLS is refused in every mode.
 */
static __always_inline int enforce(struct bpf_sock_addr *ctx, int v6, int is_send)
{
	__be32 addr[4] = {};
	struct df_guard *g;
	__u64 cgid = 0;
	__u32 family = DF_AF_INET, reason;
	__u16 port = bpf_ntohs(ctx->user_port);
	__u8 audit;

	addr_of(ctx, v6, addr);
	if (v6 && !is_v4mapped(ctx->user_ip6))
		family = DF_AF_INET6;
	g = find_guard(&cgid);
	if (!g) {
		/* Attached but unregistered (the daemon stopped): closed, not open. */
		report(0, DF_EV_NO_GUARD, family, (__u8 *)addr, port,
		       ctx->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP, 0);
		count(DF_CNT_NO_GUARD);
		return 0;
	}
	/*
	 * Loopback may hold proxy listeners: ours stay reachable, another guard's
	 * not. The unspecified address (0.0.0.0, ::, ::ffff:0.0.0.0) is delivered
	 * to loopback listeners too, so it counts as loopback here.
	 */
	if (port >= eph_lo && port <= eph_hi &&
	    ((family == DF_AF_INET && ((bpf_ntohl(addr[0]) >> 24) == 127 || addr[0] == 0)) ||
	     (family == DF_AF_INET6 && !addr[0] && !addr[1] && !addr[2] &&
	      (addr[3] == bpf_htonl(1) || addr[3] == 0)))) {
		struct df_client_key lk = {.netns_cookie = bpf_get_netns_cookie(ctx),
					   .port = port,
					   .proto = ctx->type == SOCK_STREAM ? IPPROTO_TCP
									     : IPPROTO_UDP};
		__u64 *owner = bpf_map_lookup_elem(&listeners, &lk);

		if (owner && *owner == cgid) {
			struct df_sock *s = bpf_sk_storage_get(&socks, ctx->sk, 0, 0);

			/*
			 * Straight to our own listener: the sender is named like a
			 * redirect's. A socket we redirected before (a connected v6
			 * socket to a v4-mapped server sends through here again)
			 * keeps its original server; only the sender is refreshed.
			 */
			if (s && s->guard_cgid == cgid && s->proxy_port == port) {
				who_am_i(&s->who);
				if (is_send && ctx->sk->src_port)
					publish(s, ctx->sk->src_port);
			} else {
				remember(ctx, g, cgid, port, v6, is_send);
			}
			return 1;
		}
		if (owner) {
			report(cgid, DF_EV_OTHER_PROXY, family, (__u8 *)addr, port, lk.proto, 0);
			count(DF_CNT_IP_BLOCKED);
			return 0;
		}
	}
	reason = ip_reason(g, cgid, family, (__u8 *)addr, port);
	if (!reason)
		return 1;
	audit = g->mode == DF_MODE_AUDIT && reason != DF_EV_DOT;
	report(cgid, reason, family, (__u8 *)addr, port,
	       ctx->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP, audit);
	if (audit)
		return 1;
	count(DF_CNT_IP_BLOCKED);
	return 0;
}

/*
 * Is the socket bound at the proxy address and PORT in the caller's netns the
 * proxy's own listener for guard CGID? If the proxy died, its port may belong
 * to anyone now: then the query must not go there.
 */
static __always_inline int proxy_is_listening(struct bpf_sock_addr *ctx, struct df_guard *g,
					      __u64 cgid, __u16 port, int tcp, int v6)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u64 *mark;
	int ok = 0;

	if (v6) {
		t.ipv6.daddr[0] = g->proxy_ip6[0];
		t.ipv6.daddr[1] = g->proxy_ip6[1];
		t.ipv6.daddr[2] = g->proxy_ip6[2];
		t.ipv6.daddr[3] = g->proxy_ip6[3];
		t.ipv6.dport = bpf_htons(port);
		sk = tcp ? bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0)
			 : bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	} else {
		t.ipv4.daddr = g->proxy_ip4;
		t.ipv4.dport = bpf_htons(port);
		sk = tcp ? bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0)
			 : bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	if (!sk)
		return 0;
	mark = bpf_sk_storage_get(&proxy_socks, sk, 0, 0);
	ok = mark && *mark == cgid;
	bpf_sk_release(sk);
	return ok;
}

/*
 * Rewrite one DNS send or connect. Returns 1 to let it proceed (redirected),
 * 0 to fail it with EPERM: a guarded subtree without a registration never
 * reaches a real resolver.
 */
static __always_inline int redirect(struct bpf_sock_addr *ctx, int v6, int is_send)
{
	struct df_guard *g;
	__u64 cgid = 0;
	int tcp = ctx->type == SOCK_STREAM;
	int mapped = v6 && is_v4mapped(ctx->user_ip6);
	__u16 port;

	if (ctx->type != SOCK_STREAM && ctx->type != SOCK_DGRAM)
		return 1;
	if (ctx->user_port != bpf_htons(DNS_PORT))
		return enforce(ctx, v6, is_send);
	g = find_guard(&cgid);
	if (!g) {
		count(DF_CNT_NO_GUARD);
		return 0;
	}
	if (v6 && !mapped && (g->flags & DF_GUARD_NO_IP6)) {
		count(DF_CNT_NO_IP6);
		return 0;
	}
	if (!v6 || mapped)
		port = tcp ? g->tcp4_port : g->udp4_port;
	else
		port = tcp ? g->tcp6_port : g->udp6_port;
	if (!tcp && g->n_spread) {
		/* One of the guard's UDP listeners, the same for every send of this socket. */
		__u32 i = bpf_get_socket_cookie(ctx) % (g->n_spread + 1);

		if (i) {
			i = (i - 1) & (DF_SPREAD_MAX - 1);
			port = !v6 || mapped ? g->udp4_spread[i] : g->udp6_spread[i];
		}
	}
	if (!port)
		return 0;
	if (!proxy_is_listening(ctx, g, cgid, port, tcp, v6 && !mapped)) {
		count(DF_CNT_STALE_LISTENER);
		return 0;
	}

	if (!remember(ctx, g, cgid, port, v6, is_send))
		return 0;
	if (v6) {
		if (mapped) {
			ctx->user_ip6[3] = g->proxy_ip4;
		} else {
			ctx->user_ip6[0] = g->proxy_ip6[0];
			ctx->user_ip6[1] = g->proxy_ip6[1];
			ctx->user_ip6[2] = g->proxy_ip6[2];
			ctx->user_ip6[3] = g->proxy_ip6[3];
		}
	} else {
		ctx->user_ip4 = g->proxy_ip4;
	}
	ctx->user_port = bpf_htons(port);
	count(v6 ? (tcp ? DF_CNT_REDIRECT_TCP6 : DF_CNT_REDIRECT_UDP6)
		 : (tcp ? DF_CNT_REDIRECT_TCP4 : DF_CNT_REDIRECT_UDP4));
	return 1;
}

SEC("cgroup/connect4")
int df_connect4(struct bpf_sock_addr *ctx)
{
	return redirect(ctx, 0, 0);
}

SEC("cgroup/connect6")
int df_connect6(struct bpf_sock_addr *ctx)
{
	return redirect(ctx, 1, 0);
}

SEC("cgroup/sendmsg4")
int df_sendmsg4(struct bpf_sock_addr *ctx)
{
	return redirect(ctx, 0, 1);
}

SEC("cgroup/sendmsg6")
int df_sendmsg6(struct bpf_sock_addr *ctx)
{
	return redirect(ctx, 1, 1);
}

/* Replies from the proxy appear to come from the server the client asked. */
SEC("cgroup/recvmsg4")
int df_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct df_sock *s = bpf_sk_storage_get(&socks, ctx->sk, 0, 0);

	if (!s || s->family != AF_INET || ctx->user_port != bpf_htons(s->proxy_port) ||
	    ctx->user_ip4 != bpf_htonl(0x7f000001))
		return 1;
	ctx->user_ip4 = s->orig_ip4;
	ctx->user_port = s->orig_port;
	count(DF_CNT_RECV_REWRITE);
	return 1;
}

SEC("cgroup/recvmsg6")
int df_recvmsg6(struct bpf_sock_addr *ctx)
{
	struct df_sock *s = bpf_sk_storage_get(&socks, ctx->sk, 0, 0);

	if (!s || ctx->user_port != bpf_htons(s->proxy_port))
		return 1;
	/* From the proxy only: [::1] or ::ffff:127.0.0.1. */
	if (ctx->user_ip6[0] || ctx->user_ip6[1] ||
	    !((ctx->user_ip6[2] == 0 && ctx->user_ip6[3] == bpf_htonl(1)) ||
	      (ctx->user_ip6[2] == bpf_htonl(0xffff) && ctx->user_ip6[3] == bpf_htonl(0x7f000001))))
		return 1;
	/*
	 * A v6 socket's unconnected send to ::ffff:A.B.C.D takes the kernel's v4
	 * path (sendmsg4 saw it, as AF_INET): the reply comes from ::ffff:A.B.C.D.
	 */
	if (s->family == AF_INET) {
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = s->orig_ip4;
		ctx->user_port = s->orig_port;
		count(DF_CNT_RECV_REWRITE);
		return 1;
	}
	if (s->family != AF_INET6)
		return 1;
	ctx->user_ip6[0] = s->orig_ip6[0];
	ctx->user_ip6[1] = s->orig_ip6[1];
	ctx->user_ip6[2] = s->orig_ip6[2];
	ctx->user_ip6[3] = s->orig_ip6[3];
	ctx->user_port = s->orig_port;
	count(DF_CNT_RECV_REWRITE);
	return 1;
}

/*
 * A port-53 packet leaving a guarded cgroup that is not going to the proxy
 * dodged the rewrite (a raw socket, a socket connected before the guard): drop
 * it. Checked on the packet, with direct reads of its headers.
 */
static __always_inline int dns_escape(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 proto;
	__u32 l4;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u8 *ip = data;

		if ((void *)(ip + 20) > end)
			return 0;
		proto = ip[9];
		l4 = (ip[0] & 0xf) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u8 *ip6 = data;
		int i;

		if ((void *)(ip6 + 40) > end)
			return 0;
		proto = ip6[6];
		l4 = 40;
		/* Skip extension headers (hop-by-hop, routing, fragment, destination
		 * options): hiding the UDP header behind one must not get it past us. */
		for (i = 0; i < 4; i++) {
			__u8 *h = data + l4;

			if (proto != 0 && proto != 43 && proto != 44 && proto != 60)
				break;
			if ((void *)(h + 8) > end || l4 > 512)
				return 1; /* unparseable chain from a guarded cgroup: drop */
			l4 += proto == 44 ? 8 : ((__u32)h[1] + 1) * 8;
			proto = h[0];
		}
		if (proto == 0 || proto == 43 || proto == 44 || proto == 60)
			return 1;
	} else {
		return 0;
	}
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return 0;
	if (l4 < 20)
		return 0;
	if (l4 > 600)
		return 1; /* only a crafted extension-header chain gets here: drop */
	l4 &= 1023;	  /* a bound the verifier can see */
	if (data + l4 + 4 > end)
		return 0;
	return *(__u16 *)(data + l4 + 2) == bpf_htons(DNS_PORT);
}

SEC("cgroup_skb/egress")
int df_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct df_sock *s;

	if (dns_escape(skb)) {
		count(DF_CNT_DNS_ESCAPE_DROPPED);
		return 0;
	}
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	s = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!s || !sk->src_port || s->published_port == sk->src_port)
		return 1;
	publish(s, sk->src_port);
	return 1;
}

/*
 * Raw IP sockets send packets the connect/sendmsg checks never see (a DNS
 * query built by hand, a connect to a blocked address): a guarded job may not
 * create one. Refused at creation (EPERM) and reported, so the job fails at
 * once and the line names it. Audit mode reports and lets it be. ICMP
 * datagram ("ping") sockets carry only ICMP echo: allowed but in allowlist mode.
 */
SEC("cgroup/sock_create")
int df_sock_create(struct bpf_sock *ctx)
{
	__u8 none[16] = {};
	struct df_guard *g;
	__u64 cgid = 0;
	int ping = ctx->type == SOCK_DGRAM &&
		   (ctx->protocol == IPPROTO_ICMP || ctx->protocol == IPPROTO_ICMPV6);
	__u8 audit;

	/* SOCK_PACKET never gets here: the kernel makes it an AF_PACKET socket, which
	 * no cgroup hook sees (the run's seccomp filter refuses those). */
	if (ctx->type != SOCK_RAW && !ping)
		return 1;
	g = find_guard(&cgid);
	if (ping && g && g->mode != DF_MODE_ALLOWLIST)
		return 1;
	audit = g && g->mode == DF_MODE_AUDIT;
	report(cgid, DF_EV_RAW_SOCKET, ctx->family == AF_INET6 ? DF_AF_INET6 : DF_AF_INET, none, 0,
	       ctx->protocol, audit);
	if (audit)
		return 1;
	count(DF_CNT_RAW_REFUSED);
	return 0;
}

/*
 * Local resolver daemons (nscd, systemd-resolved's varlink socket and its
 * D-Bus API on the system bus, sssd) answer lookups over unix sockets, as
 * unguarded processes: a guarded job's connect to one is refused, so the C
 * library falls back to DNS, which the guard answers and logs. Attached as
 * cgroup/connect_unix (the loader sets the attach type by number: libbpf 1.1
 * has no section name for it). The path is the caller's, read through the
 * kernel context (bpf_cast_to_kern_ctx); it is matched on its last two
 * components, so /var/run/nscd/socket, /run/nscd/socket and
 * /proc/1/root/run/nscd/socket are the same to it.
 */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

struct sockaddr;
struct bpf_sock_addr_kern {
	struct sockaddr *uaddr;
	__u32 uaddrlen;
} __attribute__((preserve_access_index));

#define UNIX_PATH_MAX 108

/* Scratch room for a relative path with its directory in front (helpers may write
 * at a variable offset into a map value, not into the stack). */
struct unix_scratch {
	char buf[2 * DF_UNIX_KEY];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unix_scratch);
} unix_scratch SEC(".maps");

/* The lengths of the unix_deny suffixes, set by the loader (0 ends the list). */
const volatile __u32 unix_suffix_len[8] = {};

SEC("cgroup/connect4")
int df_connect_unix(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
	struct df_unix_key key;
	char path[128] = {}, *str = path;
	struct unix_scratch *sc;
	struct df_event *ev;
	__u32 len = sa->uaddrlen, j, n, found = 0, zero = 0;
	__u64 cgid = 0;
	__u8 none[16] = {};

	if (len <= 2)
		return 1; /* unnamed */
	len -= 2;	  /* sun_family */
	if (len > UNIX_PATH_MAX)
		len = UNIX_PATH_MAX;
	/* The string's length as a range, not one verifier state per possible end. */
	n = bpf_probe_read_kernel_str(path, UNIX_PATH_MAX + 1, (char *)sa->uaddr + 2);
	if ((long)n <= 1)
		return 1; /* abstract (leading NUL) or unreadable: no resolver daemon there */
	if (n - 1 < len)
		len = n - 1;
	/*
	 * A short relative path ("socket" from cwd /var/run/nscd): the name of the
	 * working directory, '/', then the path, so its last two components are
	 * matched too. ("../nscd/socket" needs nothing: its suffix is whole.)
	 * Copies go through bpf_probe_read_kernel() with bounded sizes, not
	 * byte loops, so the verifier walks this once (a loop costs it 100 ms).
	 */
	sc = bpf_map_lookup_elem(&unix_scratch, &zero);
	if (path[0] != '/' && sc) {
		struct task_struct *t = (void *)bpf_get_current_task();
		struct dentry *d = BPF_CORE_READ(t, fs, pwd.dentry);
		struct vfsmount *vm = BPF_CORE_READ(t, fs, pwd.mnt);
		__u32 skip = path[0] == '.' && path[1] == '/' ? 2 : 0, rl = len - skip;
		long k;

		/* The root of a mount is named "/": its name is the mountpoint's. */
		if (d == BPF_CORE_READ(vm, mnt_root)) {
			struct mount *m =
			    (void *)((char *)vm - bpf_core_field_offset(struct mount, mnt));

			d = BPF_CORE_READ(m, mnt_mountpoint);
		}
		k = bpf_probe_read_kernel_str(sc->buf, DF_UNIX_KEY, BPF_CORE_READ(d, d_name.name)) -
		    1;
		if (k > 0 && k < DF_UNIX_KEY && len > skip && rl < DF_UNIX_KEY) {
			/* Bounds the verifier can see on the registers (clang may drop the tests).
			 */
			asm volatile("%0 &= 63" : "+r"(rl));
			asm volatile("%0 &= 63" : "+r"(k));
			sc->buf[k] = '/';
			bpf_probe_read_kernel(sc->buf + k + 1, rl, path + skip);
			len = k + 1 + rl;
			str = sc->buf;
		}
	}
	/* Each suffix length the map holds: the string's last N bytes, after a '/', are a key. */
	for (j = 0; j < 8 && !found; j++) {
		n = unix_suffix_len[j];
		if (!n || n >= DF_UNIX_KEY)
			break;
		if (len < n || (len > n && str[(len - n - 1) & 127] != '/'))
			continue;
		__builtin_memset(&key, 0, sizeof(key));
		asm volatile("%0 &= 63" : "+r"(n));
		bpf_probe_read_kernel(key.path, n, str + ((len - n) & 127));
		found = bpf_map_lookup_elem(&unix_deny, &key) != NULL;
	}
	if (!found)
		return 1;
	find_guard(&cgid); /* refused with or without a registration: names the guard if any */
	count(DF_CNT_UNIX_REFUSED);
	ev = report_start(cgid, DF_EV_LOCAL_RESOLVER, DF_AF_INET, none, 0, 0, 0);
	if (ev) {
		__builtin_memcpy(ev->path, key.path, sizeof(ev->path));
		bpf_ringbuf_submit(ev, 0);
	}
	return 0;
}
