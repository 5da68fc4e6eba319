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

/*
 * guards: cgroup id (inode number of the cgroup v2 directory) -> where the
 * proxy listens for that cgroup. Every guarded cgroup gets listeners of its own,
 * so the listener a query arrives on tells the proxy the policy for free.
 * Ports are in host byte order.
 */
struct df_guard {
	__u32 proxy_ip4;    /* network order, 127.0.0.1 in the guarded netns */
	__u32 proxy_ip6[4]; /* network order, ::1 */
	__u16 udp4_port;
	__u16 tcp4_port;
	__u16 udp6_port;
	__u16 tcp6_port;
	__u32 flags;
};

/* df_guard.flags */
#define DF_GUARD_NO_IP6 0x1 /* no v6 listener: v6 DNS is refused (EPERM) */

/*
 * socks (sk_storage): per-socket memory of a DNS conversation, written at
 * connect/sendmsg time in process context, so the pid is the sender's even
 * when a TCP segment later leaves from softirq.
 */
struct df_sock {
	__u64 guard_cgid;
	__u64 netns_cookie;
	__u32 pid; /* tgid, host pid namespace */
	__u32 orig_ip4;
	__u32 orig_ip6[4];
	__u16 orig_port;  /* network order */
	__u16 proxy_port; /* host order: the guard port this socket was sent to */
	__u16 published_port; /* local port already written to clients, host order */
	__u8 family;
	__u8 proto;
};

/*
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
	__u32 pid;
	__u32 pad;
};

/* counters (per-CPU array), read by `depfence status` and the metrics endpoint. */
enum df_counter {
	DF_CNT_REDIRECT_UDP4 = 0,
	DF_CNT_REDIRECT_UDP6,
	DF_CNT_REDIRECT_TCP4,
	DF_CNT_REDIRECT_TCP6,
	DF_CNT_NO_GUARD, /* a DNS send from a guarded subtree with no registration: refused */
	DF_CNT_NO_IP6,
	DF_CNT_RECV_REWRITE,
	DF_CNT__MAX,
};

#endif
