// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet verdicts of the dnsguard object, run in the kernel on crafted
 * packets (BPF_PROG_TEST_RUN, as Katran and the kernel's selftests/bpf test
 * their programs), without a cgroup, a proxy or a guarded job.
 *
 * The object is loaded with private maps (dnsguard__load(NULL): nothing
 * pinned or attached, gone with the process; needs root and BPF, which
 * `make check` has; elsewhere the tests skip). df_egress (cgroup_skb/egress)
 * drops a port-53 packet that dodged the redirect (dns_escape() in
 * bpf/dnsguard.bpf.c) and counts it in DF_CNT_DNS_ESCAPE_DROPPED; for a
 * cgroup_skb program data_in is an Ethernet header (its type sets
 * skb->protocol) and the IP packet, which the program sees from the IP header
 * on. One row per packet: what it is, and dropped (retval 0, counted once),
 * passed (retval 1, not counted) or unrunnable: the kernel's test run refuses
 * (EINVAL) a frame whose IP header is cut, as the stack never hands a
 * cgroup_skb program one; a cut transport header is the program's to pass.
 *
 * The redirect itself cannot be run this way: the kernel has no
 * BPF_PROG_TEST_RUN for cgroup/sock_addr programs (connect4/6, sendmsg4/6,
 * recvmsg4/6, connect_unix) nor for cgroup/sock_create, and answers ENOTSUPP
 * (524). test_redirect_not_test_runnable asserts exactly that, so a kernel that
 * gains support fails it and says to add the redirect's cases here. Until then
 * the redirect is covered end to end, by real clients in real guarded cgroups:
 * tests/e2e/t_packet.sh, t_packet_v6.sh, t_packet_escape.sh, t_dns_tcp.sh,
 * t_transport.sh, t_unguarded.sh, t_escape_local.sh, and the kernel counters of
 * t_status.sh and t_metrics.sh (redirect_udp4, ip_blocked).
 *
 * Not under valgrind (tests/valgrind.sh skips it): see the reason there.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "bpf_fixture.h"
#include "dnsguard_api.h"
#include "log.h"

#define ETH_HLEN 14
#define ENOTSUPP 524 /* the kernel's, not in the uapi headers */
#define PKT_MAX	 256

enum l3 { ARP, V4, V6 };

struct pkt_case {
	const char *what;
	enum l3 l3;
	int opt_words; /* v4: 32-bit words of IP options (NOPs) */
	int n_ext;     /* v6: extension headers before the transport header */
	__u8 ext[6];   /* v6: their types (0 hop-by-hop, 43 routing, 44 fragment, 60 dest opts) */
	__u8 proto;    /* IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u16 dport;
	int cut; /* >0: only the first CUT bytes after the Ethernet header */
	enum want { PASSED = 0, DROPPED, UNRUNNABLE } want;
};

static const struct pkt_case cases[] = {
    {"v4 UDP to port 53", V4, .proto = IPPROTO_UDP, .dport = 53, .want = DROPPED},
    {"v4 TCP to port 53", V4, .proto = IPPROTO_TCP, .dport = 53, .want = DROPPED},
    {"v4 UDP to port 443", V4, .proto = IPPROTO_UDP, .dport = 443},
    {"v4 TCP to port 443", V4, .proto = IPPROTO_TCP, .dport = 443},
    {"v4 UDP to port 5353", V4, .proto = IPPROTO_UDP, .dport = 5353},
    {"v4 ICMP echo", V4, .proto = IPPROTO_ICMP},
    {"v4 with 4 bytes of options, UDP 53", V4, .opt_words = 1, .proto = IPPROTO_UDP, .dport = 53,
     .want = DROPPED},
    {"v4 with 40 bytes of options, TCP 53", V4, .opt_words = 10, .proto = IPPROTO_TCP, .dport = 53,
     .want = DROPPED},
    {"v4 with options, UDP 443", V4, .opt_words = 2, .proto = IPPROTO_UDP, .dport = 443},
    {"v4 header cut at 19 bytes", V4, .proto = IPPROTO_UDP, .dport = 53, .cut = 19,
     .want = UNRUNNABLE},
    {"v4 UDP header cut before the port", V4, .proto = IPPROTO_UDP, .dport = 53, .cut = 22},
    {"v6 UDP to port 53", V6, .proto = IPPROTO_UDP, .dport = 53, .want = DROPPED},
    {"v6 TCP to port 53", V6, .proto = IPPROTO_TCP, .dport = 53, .want = DROPPED},
    {"v6 UDP to port 443", V6, .proto = IPPROTO_UDP, .dport = 443},
    {"v6 ICMPv6 echo", V6, .proto = IPPROTO_ICMPV6},
    {"v6 UDP header cut before the port", V6, .proto = IPPROTO_UDP, .dport = 53, .cut = 42},
    {"v6 header cut at 39 bytes", V6, .proto = IPPROTO_UDP, .dport = 53, .cut = 39,
     .want = UNRUNNABLE},
    {"v6 hop-by-hop, then UDP 53", V6, .n_ext = 1, .ext = {0}, .proto = IPPROTO_UDP, .dport = 53,
     .want = DROPPED},
    {"v6 hop-by-hop, then UDP 443", V6, .n_ext = 1, .ext = {0}, .proto = IPPROTO_UDP, .dport = 443},
    {"v6 fragment header, then TCP 53", V6, .n_ext = 1, .ext = {44}, .proto = IPPROTO_TCP,
     .dport = 53, .want = DROPPED},
    {"v6 four extension headers, then UDP 53", V6, .n_ext = 4, .ext = {0, 43, 44, 60},
     .proto = IPPROTO_UDP, .dport = 53, .want = DROPPED},
    {"v6 five extension headers (unparseable chain), UDP 443", V6, .n_ext = 5,
     .ext = {0, 60, 60, 60, 60}, .proto = IPPROTO_UDP, .dport = 443, .want = DROPPED},
    {"v6 extension header cut short", V6, .n_ext = 1, .ext = {60}, .proto = IPPROTO_UDP,
     .dport = 53, .cut = 44, .want = DROPPED},
    {"not IP (ARP)", ARP, .want = PASSED},
};

/* V at P in network order, byte by byte (no __be16 from htons(): glibc is not sparse's). */
static void put16(__u8 *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* C as a frame: the Ethernet header, then the IP packet. Returns its length. */
static size_t build(const struct pkt_case *c, __u8 *buf)
{
	size_t ip = ETH_HLEN, l4, end;
	__u8 next;
	int i;

	memset(buf, 0, PKT_MAX);
	memset(buf, 0x02, 12); /* locally administered MACs */
	if (c->l3 == ARP) {
		buf[12] = 0x08, buf[13] = 0x06;
		return ETH_HLEN + 28;
	}
	if (c->l3 == V4) {
		buf[12] = 0x08, buf[13] = 0x00;
		buf[ip] = 0x40 | (5 + c->opt_words);
		buf[ip + 8] = 64;
		buf[ip + 9] = c->proto;
		memcpy(buf + ip + 12, (__u8[]){10, 0, 0, 1, 192, 0, 2, 53}, 8);
		memset(buf + ip + 20, 1, c->opt_words * 4); /* NOP options */
		l4 = ip + 20 + c->opt_words * 4;
	} else {
		buf[12] = 0x86, buf[13] = 0xdd;
		buf[ip] = 0x60;
		buf[ip + 6] = c->n_ext ? c->ext[0] : c->proto;
		buf[ip + 7] = 64;
		buf[ip + 23] = 1; /* 2001:db8::1 -> 2001:db8::53 */
		buf[ip + 39] = 0x53;
		memcpy(buf + ip + 8, (__u8[]){0x20, 0x01, 0x0d, 0xb8}, 4);
		memcpy(buf + ip + 24, (__u8[]){0x20, 0x01, 0x0d, 0xb8}, 4);
		l4 = ip + 40;
		/* 8 bytes each: hdr ext len 0 (the fragment header's byte is reserved). */
		for (i = 0; i < c->n_ext; i++, l4 += 8) {
			next = i + 1 < c->n_ext ? c->ext[i + 1] : c->proto;
			buf[l4] = next;
		}
	}
	put16(buf + l4, 40000);
	put16(buf + l4 + 2, c->dport);
	if (c->proto == IPPROTO_TCP) {
		buf[l4 + 12] = 5 << 4;
		end = l4 + 20;
	} else {
		end = l4 + 8;
	}
	if (c->proto == IPPROTO_UDP)
		put16(buf + l4 + 4, 8 + 4);
	end += 4; /* a payload */
	if (c->l3 == V4)
		put16(buf + ip + 2, end - ip);
	else
		put16(buf + ip + 4, end - ip - 40);
	return c->cut ? ETH_HLEN + (size_t)c->cut : end;
}

static void test_egress_verdicts(void **state)
{
	struct dnsguard *g = *state;
	__u8 pkt[PKT_MAX], out[PKT_MAX];
	size_t i;
	int fd;

	if (!g)
		skip();
	fd = dnsguard__prog_fd(g, "egress");
	assert_true(fd >= 0);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct pkt_case *c = &cases[i];
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);
		__u64 before = dnsguard__counter(g, DF_CNT_DNS_ESCAPE_DROPPED), counted;
		int r;

		opts.data_size_in = build(c, pkt);
		r = bpf_prog_test_run_opts(fd, &opts);
		if (c->want == UNRUNNABLE) {
			if (r != -EINVAL)
				fail_msg("%s: BPF_PROG_TEST_RUN gave %d, not -EINVAL", c->what, r);
			continue;
		}
		if (r < 0)
			fail_msg("%s: BPF_PROG_TEST_RUN: %s", c->what, strerror(-r));
		counted = dnsguard__counter(g, DF_CNT_DNS_ESCAPE_DROPPED) - before;
		if (opts.retval != (c->want == DROPPED ? 0u : 1u) ||
		    counted != (c->want == DROPPED ? 1u : 0u))
			fail_msg("%s: retval %u, dns_escape_dropped +%llu; want %s", c->what,
				 opts.retval, (unsigned long long)counted,
				 c->want == DROPPED ? "dropped (0, +1)" : "passed (1, +0)");
	}
}

/*
 * The kernel runs no cgroup/sock_addr or cgroup/sock_create program on demand
 * (ENOTSUPP). If this fails, it can: test the redirect here (connect4's
 * rewrite to the guard's listener, recvmsg4's rewrite back, no_guard, no_ip6).
 */
static void test_redirect_not_test_runnable(void **state)
{
	static const char *const progs[] = {"connect4", "connect6", "sendmsg4",	   "sendmsg6",
					    "recvmsg4", "recvmsg6", "sock_create", "connect_unix"};
	struct dnsguard *g = *state;
	__u8 in[64] = {0}, out[64];
	size_t i;

	if (!g)
		skip();
	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = sizeof(in),
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		int fd = dnsguard__prog_fd(g, progs[i]), r;

		if (fd == -ENOENT && strcmp(progs[i], "connect_unix") == 0)
			continue; /* not loaded: a kernel before 6.7 */
		if (fd < 0)
			fail_msg("%s: no such program loaded", progs[i]);
		r = bpf_prog_test_run_opts(fd, &opts);
		if (r != -ENOTSUPP)
			fail_msg("%s: BPF_PROG_TEST_RUN gave %d, not -ENOTSUPP: this kernel can "
				 "test-run it; add the redirect's cases to this test",
				 progs[i], r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_egress_verdicts),
	    cmocka_unit_test(test_redirect_not_test_runnable),
	};

	libbpf_set_print(log_libbpf_print);
	return cmocka_run_group_tests(tests, bpf_setup, bpf_teardown);
}
