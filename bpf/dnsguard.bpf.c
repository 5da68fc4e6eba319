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

#include "dnsguard.h"

#define AF_INET	    2
#define AF_INET6    10
#define SOCK_STREAM 1
#define SOCK_DGRAM  2
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define DNS_PORT    53

char LICENSE[] SEC("license") = "GPL";

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
 * by the same policy.
 */
static __always_inline struct df_guard *find_guard(__u64 *ret_cgid)
{
	__u64 cgid = bpf_get_current_cgroup_id();
	struct df_guard *g = bpf_map_lookup_elem(&guards, &cgid);
	int lvl;

	if (g) {
		*ret_cgid = cgid;
		return g;
	}
	for (lvl = DF_MAX_CGROUP_LEVEL; lvl >= 1; lvl--) {
		cgid = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!cgid)
			continue;
		g = bpf_map_lookup_elem(&guards, &cgid);
		if (g) {
			*ret_cgid = cgid;
			return g;
		}
	}
	return NULL;
}

static __always_inline void publish(struct df_sock *s, __u16 local_port)
{
	struct df_client_key key = {
		.netns_cookie = s->netns_cookie,
		.port = local_port,
		.proto = s->proto,
	};
	struct df_client val = { .guard_cgid = s->guard_cgid, .pid = s->pid };

	bpf_map_update_elem(&clients, &key, &val, BPF_ANY);
	s->published_port = local_port;
}

static __always_inline int is_v4mapped(const __u32 *ip6)
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

/*
 * Rewrite one DNS send or connect. Returns 1 to let it proceed (redirected),
 * 0 to fail it with EPERM: a guarded subtree without a registration never
 * reaches a real resolver.
 */
static __always_inline int redirect(struct bpf_sock_addr *ctx, int v6, int is_send)
{
	struct df_guard *g;
	struct df_sock *s;
	__u64 cgid = 0;
	int tcp = ctx->type == SOCK_STREAM;
	int mapped = v6 && is_v4mapped(ctx->user_ip6);
	__u16 port;

	if (ctx->user_port != bpf_htons(DNS_PORT))
		return 1;
	if (ctx->type != SOCK_STREAM && ctx->type != SOCK_DGRAM)
		return 1;
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
	if (!port)
		return 0;

	s = bpf_sk_storage_get(&socks, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	s->guard_cgid = cgid;
	s->netns_cookie = bpf_get_netns_cookie(ctx);
	s->pid = bpf_get_current_pid_tgid() >> 32;
	s->proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	s->orig_port = ctx->user_port;
	s->proxy_port = port;
	s->family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		s->orig_ip6[0] = ctx->user_ip6[0];
		s->orig_ip6[1] = ctx->user_ip6[1];
		s->orig_ip6[2] = ctx->user_ip6[2];
		s->orig_ip6[3] = ctx->user_ip6[3];
		if (mapped) {
			ctx->user_ip6[3] = g->proxy_ip4;
		} else {
			ctx->user_ip6[0] = g->proxy_ip6[0];
			ctx->user_ip6[1] = g->proxy_ip6[1];
			ctx->user_ip6[2] = g->proxy_ip6[2];
			ctx->user_ip6[3] = g->proxy_ip6[3];
		}
	} else {
		s->orig_ip4 = ctx->user_ip4;
		ctx->user_ip4 = g->proxy_ip4;
	}
	ctx->user_port = bpf_htons(port);

	/* An unconnected send has its local port already (autobind runs before
	 * this hook); a connect does not yet, egress publishes it. */
	if (is_send && ctx->sk->src_port)
		publish(s, ctx->sk->src_port);
	else
		s->published_port = 0;
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

	if (!s || s->family != AF_INET || ctx->user_port != bpf_htons(s->proxy_port))
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

	if (!s || s->family != AF_INET6 || ctx->user_port != bpf_htons(s->proxy_port))
		return 1;
	ctx->user_ip6[0] = s->orig_ip6[0];
	ctx->user_ip6[1] = s->orig_ip6[1];
	ctx->user_ip6[2] = s->orig_ip6[2];
	ctx->user_ip6[3] = s->orig_ip6[3];
	ctx->user_port = s->orig_port;
	count(DF_CNT_RECV_REWRITE);
	return 1;
}

SEC("cgroup_skb/egress")
int df_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct df_sock *s;

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
