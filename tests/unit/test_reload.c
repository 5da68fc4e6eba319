// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy reload (SIGHUP: daemon_reload_policies()) never leaves a guard
 * without its rules, and a query in flight survives it.
 *
 * The order of operations, as the code does it (docs/design.md, Policies):
 *
 * policy_store__reload() parses every CONFIG_DIR/policies/NAME.policy, in
 * name order, into a new policy object with a new id (reload_one()). Then:
 *  - a file that does not parse: reported, the old policy stays; no map write;
 *  - bytes unchanged (policy__source_hash()): the new object is freed; no map
 *    write; the guards keep their id, CIDR rules and learned addresses;
 *  - a new file: added to the store; no map write (no guard uses it yet);
 *  - changed: the store's slot takes NEW, then engine__replace_policy(OLD, NEW):
 *    1. enforce_policy_swapped(), only if a guard uses OLD:
 *       a. policy_ref(NEW): dnsguard__set_cidr(NEW id) for each block-ip and
 *          allow-ip of NEW (cidrs map); learning queries for NEW's exact block
 *          names go upstream (their answers write learned[NEW id] later); NEW
 *          takes over OLD's reference count;
 *       b. dnsguard__copy_learned(OLD id -> NEW id): one learned-map update
 *          per address OLD had learned; the engine's own record of them (which
 *          the shared-address rule reads) gains the same addresses under NEW.
 *    2. for each guard whose policy is OLD, one guard after another:
 *       a. g->policy = NEW: the DNS path (engine_handle_query, answer_check)
 *          decides that guard's next query and next answer by NEW;
 *       b. guard_publish(): dnsguard__mark_proxy_socket and
 *          dnsguard__set_listener for each listener (the same values again),
 *          then dnsguard__set_guard(): the guard's entry names NEW's id and
 *          mode, same listener ports, in one map update.
 *    3. enforce_policy_retired(OLD): dnsguard__del_cidr(OLD id) per rule,
 *       then dnsguard__purge_addrs(learned, OLD id); OLD leaves the in-use
 *       table.
 *    4. policy__free(OLD).
 *    Listeners, pending upstream queries and the handed map are not touched:
 *    a pending query names its guard, not a policy, so its answer is checked
 *    against NEW when it comes.
 *
 * How the test sees every instant: it is linked with --wrap for
 * bpf_map__update_elem, bpf_map__delete_elem and bpf_map_delete_batch
 * (Makefile: WRAP_test_reload), the calls through which bpf/dnsguard.c
 * writes every map (a batch is checked after the call, each key counted). After each
 * single write made while a reload runs it checks, for every guard:
 *  - its guards entry exists, with the same listener port, and names OLD's id
 *    or the id of the policy the store now holds for the name;
 *  - the CIDR rules of the file that id was parsed from (the test's own table,
 *    not the policy's) answer an LPM lookup as the BPF programs make it, and
 *    the addresses learned before the reload are in learned under that id;
 *  - the engine's policy for the guard blocks the blocked name.
 * The first write after which this fails is reported with the writes so far.
 *
 * The engine is the real one, set up as the daemon sets it up, on a real BPF
 * object loaded with private maps (dnsguard__load(NULL): nothing pinned or
 * attached, gone with the process; needs root). A guard's "cgroup" is a plain
 * temporary directory: its inode keys the guards map, and no program is
 * attached to read it. The upstream is a UDP socket on 127.0.0.1 that the test
 * answers by hand, so it can hold a query across the reloads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "daemon.h"
#include "dns_wire.h"
#include "dnsguard_api.h"
#include "log.h"
#include "upstream_inbox.h"

#define BLOCKED	     "blocked.test"
#define ALSO_BLOCKED "also-blocked.test"
#define HELD	     "held.test"
#define N_GUARDS     2	   /* two guards share the policy: each entry switches on its own */
#define WAIT_MS	     10000 /* for the engine's loop; valgrind is slow */
#define BACKLOG	     32

struct rule {
	int family;
	const char *addr;
	int len;
	enum df_ip_verdict verdict;
};

struct version {
	const char *text;
	const struct rule *rules;
	size_t n_rules;
};

static const struct rule v1_rules[] = {
    {DF_AF_INET, "192.0.2.66", 32, DF_IP_BLOCK},
    {DF_AF_INET, "198.51.100.0", 24, DF_IP_ALLOW},
    {DF_AF_INET6, "2001:db8:bad::", 48, DF_IP_BLOCK},
};
static const struct version v1 = {
    "# live\n"
    "mode blocklist\n"
    "block " BLOCKED "\n"
    "block-ip 192.0.2.66/32\n"
    "allow-ip 198.51.100.0/24\n"
    "block-ip 2001:db8:bad::/48\n",
    v1_rules,
    ARRAY_SIZE(v1_rules),
};

/* One rule kept, one dropped (the v6 one), one added; one more blocked name. */
static const struct rule v2_rules[] = {
    {DF_AF_INET, "192.0.2.66", 32, DF_IP_BLOCK},
    {DF_AF_INET, "198.51.100.0", 24, DF_IP_ALLOW},
    {DF_AF_INET, "203.0.113.0", 24, DF_IP_BLOCK},
};
static const struct version v2 = {
    "# live\n"
    "mode blocklist\n"
    "block " BLOCKED "\n"
    "block " ALSO_BLOCKED "\n"
    "block-ip 192.0.2.66/32\n"
    "allow-ip 198.51.100.0/24\n"
    "block-ip 203.0.113.0/24\n",
    v2_rules,
    ARRAY_SIZE(v2_rules),
};

/* What the fake upstream says BLOCKED resolves to: learned before any reload. */
static const struct {
	int family;
	const char *addr;
} learned_addrs[] = {{DF_AF_INET, "192.0.2.7"}, {DF_AF_INET6, "2001:db8::7"}};

struct fx {
	bool skip; /* not root: no BPF */
	char dir[64];
	char cg[N_GUARDS][96];
	struct dnsguard *bpf;
	struct bpf_map *guards, *cidrs, *learned, *handed;
	struct loop *loop;
	struct daemon *d;
	struct guard *g[N_GUARDS];
	uint64_t cgid[N_GUARDS];
	uint16_t port[N_GUARDS];
	int up_fd, client_fd;
	struct dgram q, held;	     /* a learning query, the query held */
	struct upstream_inbox inbox; /* what the upstream got */
};

/* ---- the watch: the invariant after every map write of a reload ------------------------- */

static struct {
	struct fx *fx; /* set while a reload runs */
	uint32_t old_id;
	const struct version *old_v, *new_v;
	unsigned writes;
	struct {
		unsigned upd, del;
	} cidrs, learned, guards;
	char trace[8192];
	size_t trace_len;
	char broken[512]; /* the first instant without rules; "" if none */
} watch;

static void addr_bytes(int family, const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family == DF_AF_INET6 ? AF_INET6 : AF_INET, text, out), 1);
}

/* The verdict of the LPM lookup the BPF programs make for ADDR under policy ID; 0: none. */
static unsigned cidr_verdict(struct fx *fx, uint32_t id, int family, const uint8_t *addr)
{
	struct df_cidr_key k;
	__u32 v = 0;

	memset(&k, 0, sizeof(k));
	k.prefixlen = DF_CIDR_KEY_BITS(family == DF_AF_INET ? 32 : 128);
	k.policy_id = id;
	k.family = family;
	memcpy(k.addr, addr, 16);
	return bpf_map__lookup_elem(fx->cidrs, &k, sizeof(k), &v, sizeof(v), 0) ? 0 : v;
}

static bool addr_in(struct bpf_map *m, uint64_t id, int family, const uint8_t *addr)
{
	struct df_addr_key k;
	struct df_expiry v = {0};

	memset(&k, 0, sizeof(k));
	k.id = id;
	k.family = family;
	memcpy(k.addr, addr, 16);
	return bpf_map__lookup_elem(m, &k, sizeof(k), &v, sizeof(v), 0) == 0;
}

/* Entries of the cidrs (LEARNED false) or learned map keyed by policy ID. */
static unsigned entries_of(struct fx *fx, bool learned, uint32_t id)
{
	struct bpf_map *m = learned ? fx->learned : fx->cidrs;
	size_t ksz = learned ? sizeof(struct df_addr_key) : sizeof(struct df_cidr_key);
	unsigned char k[64], next[64];
	unsigned n = 0;
	int r;

	r = bpf_map__get_next_key(m, NULL, next, ksz);
	while (r == 0) {
		memcpy(k, next, ksz);
		r = bpf_map__get_next_key(m, k, next, ksz);
		if (learned ? ((struct df_addr_key *)k)->id == id
			    : ((struct df_cidr_key *)k)->policy_id == id)
			n++;
	}
	return n;
}

static bool guard_entry(struct fx *fx, int i, struct df_guard *ret)
{
	memset(ret, 0, sizeof(*ret));
	return bpf_map__lookup_elem(fx->guards, &fx->cgid[i], sizeof(fx->cgid[i]), ret,
				    sizeof(*ret), 0) == 0;
}

__attribute__((format(printf, 3, 4))) static bool why_not(char *why, size_t cap, const char *fmt,
							  ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return false;
}

/* The file policy ID was parsed from: before the reload, or what the store holds now. */
static const struct version *version_of(struct fx *fx, uint32_t id)
{
	struct policy *now = policy_store__find(&fx->d->policies, "live");

	if (id == watch.old_id)
		return watch.old_v;
	if (now && id == policy__id(now))
		return watch.new_v;
	return NULL;
}

/* False, with WHY, if guard I is without its rules at this instant. */
static bool guard_has_rules(struct fx *fx, int i, char *why, size_t cap)
{
	struct policy *p = guard__policy(fx->g[i]);
	const struct version *v;
	struct df_guard gv;
	uint8_t a[16];
	size_t k;

	if (!guard_entry(fx, i, &gv))
		return why_not(why, cap, "guard %d: no guards entry", i);
	if (gv.udp4_port != fx->port[i] || gv.mode != DF_MODE_BLOCKLIST)
		return why_not(why, cap, "guard %d: entry port %u mode %u", i, gv.udp4_port,
			       gv.mode);
	v = version_of(fx, gv.policy_id);
	if (!v)
		return why_not(why, cap, "guard %d: entry names unknown policy id %u", i,
			       gv.policy_id);
	for (k = 0; k < v->n_rules; k++) {
		const struct rule *r = &v->rules[k];

		addr_bytes(r->family, r->addr, a);
		if (cidr_verdict(fx, gv.policy_id, r->family, a) != r->verdict)
			return why_not(why, cap, "guard %d: policy id %u: rule %s/%d missing", i,
				       gv.policy_id, r->addr, r->len);
	}
	for (k = 0; k < ARRAY_SIZE(learned_addrs); k++) {
		addr_bytes(learned_addrs[k].family, learned_addrs[k].addr, a);
		if (!addr_in(fx->learned, gv.policy_id, learned_addrs[k].family, a))
			return why_not(why, cap, "guard %d: policy id %u: learned %s missing", i,
				       gv.policy_id, learned_addrs[k].addr);
	}
	if (policy__match(p, BLOCKED, strlen(BLOCKED)) != VERDICT_BLOCK)
		return why_not(why, cap, "guard %d: engine policy id %u lets " BLOCKED " through",
			       i, policy__id(p));
	return true;
}

static void check_instant(const char *when)
{
	char why[400];
	int i;

	if (watch.broken[0])
		return; /* the first one is the one that matters */
	for (i = 0; i < N_GUARDS; i++) {
		if (!watch.fx->g[i] || guard_has_rules(watch.fx, i, why, sizeof(why)))
			continue;
		snprintf(watch.broken, sizeof(watch.broken), "%s: %s", when, why);
		return;
	}
}

static void after_write(const struct bpf_map *m, bool update, const void *key, const void *val)
{
	const char *name = bpf_map__name(m);
	char when[96], id_text[24] = "";
	__typeof__(watch.cidrs) *count = NULL;
	long long id = -1;

	watch.writes++;
	if (!strcmp(name, "cidrs")) {
		id = ((const struct df_cidr_key *)key)->policy_id;
		count = &watch.cidrs;
	} else if (!strcmp(name, "learned") || !strcmp(name, "handed")) {
		id = ((const struct df_addr_key *)key)->id;
		count = name[0] == 'l' ? &watch.learned : NULL;
	} else if (!strcmp(name, "guards")) {
		if (update)
			id = ((const struct df_guard *)val)->policy_id;
		count = &watch.guards;
	}
	if (count && update)
		count->upd++;
	else if (count)
		count->del++;
	if (id >= 0)
		snprintf(id_text, sizeof(id_text), " id=%lld", id);
	snprintf(when, sizeof(when), "after write %u (%s %s%s)", watch.writes,
		 update ? "update" : "delete", name, id_text);
	if (watch.trace_len < sizeof(watch.trace))
		watch.trace_len += snprintf(watch.trace + watch.trace_len,
					    sizeof(watch.trace) - watch.trace_len, "  %s\n", when);
	check_instant(when);
}

int __real_bpf_map__update_elem(const struct bpf_map *map, const void *key, size_t key_sz,
				const void *value, size_t value_sz, __u64 flags);
int __real_bpf_map__delete_elem(const struct bpf_map *map, const void *key, size_t key_sz,
				__u64 flags);

int __wrap_bpf_map__update_elem(const struct bpf_map *map, const void *key, size_t key_sz,
				const void *value, size_t value_sz, __u64 flags)
{
	int r = __real_bpf_map__update_elem(map, key, key_sz, value, value_sz, flags);

	if (watch.fx)
		after_write(map, true, key, value);
	return r;
}

int __wrap_bpf_map__delete_elem(const struct bpf_map *map, const void *key, size_t key_sz,
				__u64 flags)
{
	int r = __real_bpf_map__delete_elem(map, key, key_sz, flags);

	if (watch.fx)
		after_write(map, false, key, NULL);
	return r;
}

/* The map of the fixture's object whose fd is FD (a batch call names the map by its fd). */
static const struct bpf_map *map_of_fd(int fd)
{
	static const char *const names[] = {"cidrs",   "learned",  "handed",   "guards",
					    "clients", "cg_guard", "listeners"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		const struct bpf_map *m = dnsguard__map(watch.fx->bpf, names[i]);

		if (m && bpf_map__fd(m) == fd)
			return m;
	}
	return NULL;
}

int __real_bpf_map_delete_batch(int fd, const void *keys, __u32 *count,
				const struct bpf_map_batch_opts *opts);

/* A batch of deletes (dnsguard.c's map walks): each key deleted counts as a write. */
int __wrap_bpf_map_delete_batch(int fd, const void *keys, __u32 *count,
				const struct bpf_map_batch_opts *opts)
{
	int r = __real_bpf_map_delete_batch(fd, keys, count, opts);
	const struct bpf_map *m = watch.fx ? map_of_fd(fd) : NULL;
	__u32 i;

	for (i = 0; m && i < *count; i++)
		after_write(m, false, (const char *)keys + i * bpf_map__key_size(m), NULL);
	return r;
}

/* SIGHUP's own function, watched; FROM and TO are the file before and after. */
static int watched_reload(struct fx *fx, const struct version *from, const struct version *to)
{
	int errors;

	memset(&watch, 0, sizeof(watch));
	watch.fx = fx;
	watch.old_id = policy__id(guard__policy(fx->g[0]));
	watch.old_v = from;
	watch.new_v = to;
	check_instant("before the reload");
	errors = daemon_reload_policies(fx->d);
	check_instant("after the reload");
	watch.fx = NULL;
	if (watch.broken[0]) {
		fprintf(stderr, "writes of the reload:\n%s", watch.trace);
		fail_msg("a guard was without its rules %s", watch.broken);
	}
	return errors;
}

/* ---- the fake upstream and the client ----------------------------------------------- */

/* Wait, running the engine's loop, for the upstream to get NAME/QTYPE. */
static void fake_take(struct fx *fx, const char *name, uint16_t qtype, struct dgram *ret)
{
	inbox_take(&fx->inbox, fx->up_fd, fx->loop, WAIT_MS, name, qtype, ret);
}

/* Answer Q with one address record (ADDR's family: A or AAAA), TTL 300. */
static void fake_answer(struct fx *fx, const struct dgram *q, int family, const char *addr)
{
	/* Owner: a pointer to the question's name; type (set below), IN, TTL 300, RDLENGTH. */
	static const uint8_t rr[] = {0xc0, 0x0c, 0, 0, 0, 1, 0, 0, 1, 0x2c, 0};
	size_t alen = family == DF_AF_INET ? 4 : 16, n = q->m.question_end;
	uint8_t out[600], a[16];

	addr_bytes(family, addr, a);
	memcpy(out, q->buf, n);
	out[2] = 0x81; /* QR, RD */
	out[3] = 0x80; /* RA, NOERROR */
	memcpy(out + 6, "\x00\x01\x00\x00\x00\x00", 6);
	memcpy(out + n, rr, sizeof(rr));
	out[n + 3] = family == DF_AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
	out[n + sizeof(rr)] = alen;
	memcpy(out + n + sizeof(rr) + 1, a, alen);
	n += sizeof(rr) + 1 + alen;
	assert_int_equal(
	    sendto(fx->up_fd, out, n, 0, (const struct sockaddr *)&q->from, sizeof(q->from)), n);
}

static void client_ask(struct fx *fx, int gi, uint16_t id, const char *name)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(fx->port[gi])};
	uint8_t q[300];
	size_t n = dns_build_query(id, name, strlen(name), DNS_TYPE_A, q, sizeof(q));

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(n > 0);
	assert_int_equal(sendto(fx->client_fd, q, n, 0, (struct sockaddr *)&to, sizeof(to)), n);
}

static void first_a(void *ctx, int family, const uint8_t *addr, uint32_t ttl)
{
	if (family == DF_AF_INET && !*(char *)ctx)
		inet_ntop(AF_INET, addr, ctx, INET_ADDRSTRLEN);
}

/* Run the loop until the client gets an answer to ID: its RCODE, and its first A in RET_A. */
static int client_answer(struct fx *fx, uint16_t id, char ret_a[INET_ADDRSTRLEN])
{
	uint64_t deadline = now_ms() + WAIT_MS;
	uint8_t buf[1500];
	struct dns_msg m;
	ssize_t n;

	ret_a[0] = '\0';
	while ((n = recv(fx->client_fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0) {
		if (now_ms() > deadline)
			fail_msg("no answer to query %#x", id);
		loop__run_once(fx->loop, 10);
	}
	assert_int_equal(dns_parse(buf, n, &m), DNS_OK);
	assert_int_equal(m.id, id);
	dns_for_each_addr(buf, n, &m, first_a, ret_a);
	return DNS_RCODE(m.flags);
}

/* ---- the fixture: the daemon's engine, two guards of policy "live" ------------------------- */

static int write_policy(struct fx *fx, const struct version *v)
{
	char path[128];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(v->text);

	snprintf(path, sizeof(path), "%s/policies/live.policy", fx->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	return write_full(fd, v->text, len) == (ssize_t)len ? 0 : -EIO;
}

static void fx_free(struct fx *fx)
{
	char path[128];
	int i;

	if (!fx)
		return;
	if (fx->d) {
		engine__free(fx->d->engine);
		policy_store__clear(&fx->d->policies);
		free(fx->d);
	}
	loop__free(fx->loop);
	dnsguard__destroy(fx->bpf);
	closep(&fx->up_fd);
	closep(&fx->client_fd);
	if (fx->dir[0]) {
		snprintf(path, sizeof(path), "%s/policies/live.policy", fx->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/policies", fx->dir);
		rmdir(path);
		for (i = 0; i < N_GUARDS; i++)
			rmdir(fx->cg[i]);
		rmdir(fx->dir);
	}
	free(fx);
}

static int add_guard(struct fx *fx, int i, struct df_err *err)
{
	struct guard_spec spec = {
	    .kind = GUARD_RUN,
	    .id = i ? "run-b" : "run-a",
	    .cgroup_path = fx->cg[i],
	    .policy = policy_store__find(&fx->d->policies, "live"),
	};
	struct df_guard gv;
	struct stat st;
	int r;

	if (mkdir(fx->cg[i], 0700) < 0 || stat(fx->cg[i], &st) < 0)
		return df_err_set(err, -errno, "%s: %s", fx->cg[i], strerror(errno));
	fx->cgid[i] = st.st_ino;
	spec.cgid = st.st_ino;
	r = engine__add_guard(fx->d->engine, &spec, &fx->g[i], err);
	if (r < 0)
		return r;
	if (!guard_entry(fx, i, &gv))
		return df_err_set(err, -ENOENT, "guard %d: no guards entry", i);
	fx->port[i] = gv.udp4_port;
	return 0;
}

static int fx_build(struct fx *fx, struct df_err *err)
{
	struct sockaddr_in up = {.sin_family = AF_INET};
	socklen_t len = sizeof(up);
	struct engine_opts eo = {
	    .n_upstreams = 1,
	    /* The held query must not be retried or given up on while the test holds it. */
	    .try_timeout_ms = 600000,
	    .servfail_after_ms = 1200000,
	    .cache_entries = -1,
	};
	char path[128];
	int i, r;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/depfence-reload.XXXXXX");
	if (!mkdtemp(fx->dir)) {
		fx->dir[0] = '\0';
		return df_err_set(err, -errno, "mkdtemp: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/policies", fx->dir);
	if (mkdir(path, 0700) < 0)
		return df_err_set(err, -errno, "%s: %s", path, strerror(errno));
	for (i = 0; i < N_GUARDS; i++)
		snprintf(fx->cg[i], sizeof(fx->cg[i]), "%s/cg-%d", fx->dir, i);
	r = write_policy(fx, &v1);
	if (r < 0)
		return df_err_set(err, r, "write policy: %s", strerror(-r));

	r = dnsguard__load(NULL, &fx->bpf, err);
	if (r == -EPERM || r == -EACCES) {
		print_message("skipped: loading a BPF object needs root (%s)\n", err->msg);
		fx->skip = true;
		return 0;
	}
	if (r < 0)
		return r;
	fx->guards = dnsguard__map(fx->bpf, "guards");
	fx->cidrs = dnsguard__map(fx->bpf, "cidrs");
	fx->learned = dnsguard__map(fx->bpf, "learned");
	fx->handed = dnsguard__map(fx->bpf, "handed");
	if (!fx->guards || !fx->cidrs || !fx->learned || !fx->handed)
		return df_err_set(err, -ENOENT, "a map is missing from the object");

	fx->up_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fx->client_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fx->up_fd < 0 || fx->client_fd < 0 ||
	    bind(fx->up_fd, (struct sockaddr *)&up, sizeof(up)) < 0 ||
	    getsockname(fx->up_fd, (struct sockaddr *)&up, &len) < 0)
		return df_err_set(err, -errno, "fake upstream: %s", strerror(errno));
	memcpy(&eo.upstreams[0], &up, sizeof(up));
	eo.upstream_lens[0] = sizeof(up);

	/* As depfenced's setup() does: loop, engine on the loaded object, the store. */
	r = loop__new(&fx->loop);
	if (r < 0)
		return df_err_set(err, r, "epoll: %s", strerror(-r));
	eo.bpf = fx->bpf;
	eo.loop = fx->loop;
	fx->d = calloc(1, sizeof(*fx->d));
	if (!fx->d)
		return df_err_set(err, -ENOMEM, "out of memory");
	r = policy_store__load(&fx->d->policies, fx->dir, err);
	if (r < 0)
		return r;
	r = engine__new(&eo, &fx->d->engine, err);
	if (r < 0)
		return r;
	for (i = 0; i < N_GUARDS; i++) {
		r = add_guard(fx, i, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct df_err err = {0};

	if (!fx)
		return -1;
	fx->up_fd = fx->client_fd = -1;
	log_set_level(LOG_ERROR); /* block lines and "policies reloaded": not the test's output */
	if (fx_build(fx, &err) < 0) {
		print_error("setup: %s\n", err.msg);
		fx_free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/*
 * The policy's first guard made the engine resolve BLOCKED: answer it, so
 * the learned map holds its addresses under the policy's id before a reload.
 */
static uint32_t learn_blocked(struct fx *fx)
{
	uint32_t id = policy__id(guard__policy(fx->g[0]));
	uint64_t deadline = now_ms() + WAIT_MS;
	uint8_t a[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(learned_addrs); i++) {
		int fam = learned_addrs[i].family;

		fake_take(fx, BLOCKED, fam == DF_AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA, &fx->q);
		fake_answer(fx, &fx->q, fam, learned_addrs[i].addr);
	}
	for (i = 0; i < ARRAY_SIZE(learned_addrs); i++) {
		addr_bytes(learned_addrs[i].family, learned_addrs[i].addr, a);
		while (!addr_in(fx->learned, id, learned_addrs[i].family, a)) {
			if (now_ms() > deadline)
				fail_msg("%s was never learned", learned_addrs[i].addr);
			loop__run_once(fx->loop, 10);
		}
	}
	return id;
}

/* ---- the tests ------------------------------------------------------------------------ */

/*
 * A query held at the upstream across a reload with no change and one with a
 * change; after every write of both, every guard has its rules; then the held
 * query is answered and delivered, and blocked names are still refused.
 */
static void test_reload_never_without_rules(void **state)
{
	struct fx *fx = *state;
	char a[INET_ADDRSTRLEN];
	uint32_t old_id, new_id;
	uint8_t addr[16];
	int i;

	if (fx->skip)
		skip();
	old_id = learn_blocked(fx);
	client_ask(fx, 0, 0x4242, HELD);
	fake_take(fx, HELD, DNS_TYPE_A, &fx->held);

	/* No change: nothing written, the same id, learned addresses kept. */
	assert_int_equal(watched_reload(fx, &v1, &v1), 0);
	assert_int_equal(watch.writes, 0);
	for (i = 0; i < N_GUARDS; i++) {
		struct df_guard gv;

		assert_true(guard_entry(fx, i, &gv));
		assert_int_equal(gv.policy_id, old_id);
		assert_int_equal(policy__id(guard__policy(fx->g[i])), old_id);
	}
	assert_int_equal(entries_of(fx, false, old_id), ARRAY_SIZE(v1_rules));
	assert_int_equal(entries_of(fx, true, old_id), ARRAY_SIZE(learned_addrs));

	/* A change: a new id with its rules and the learned addresses, then the old goes. */
	assert_int_equal(write_policy(fx, &v2), 0);
	assert_int_equal(watched_reload(fx, &v1, &v2), 0);
	new_id = policy__id(guard__policy(fx->g[0]));
	assert_int_not_equal(new_id, old_id);
	for (i = 0; i < N_GUARDS; i++) {
		struct df_guard gv;

		assert_true(guard_entry(fx, i, &gv));
		assert_int_equal(gv.policy_id, new_id);
		assert_int_equal(policy__id(guard__policy(fx->g[i])), new_id);
	}
	/* The watch saw the reload's writes: it did not pass by seeing none. */
	assert_int_equal(watch.cidrs.upd, ARRAY_SIZE(v2_rules));
	assert_int_equal(watch.cidrs.del, ARRAY_SIZE(v1_rules));
	assert_int_equal(watch.learned.upd, ARRAY_SIZE(learned_addrs));
	assert_int_equal(watch.learned.del, ARRAY_SIZE(learned_addrs));
	assert_int_equal(watch.guards.upd, N_GUARDS);
	assert_int_equal(watch.guards.del, 0);
	/* No leftovers of the old id; the new id has exactly the new file's rules. */
	assert_int_equal(entries_of(fx, false, old_id), 0);
	assert_int_equal(entries_of(fx, true, old_id), 0);
	assert_int_equal(entries_of(fx, false, new_id), ARRAY_SIZE(v2_rules));
	assert_int_equal(entries_of(fx, true, new_id), ARRAY_SIZE(learned_addrs));
	addr_bytes(DF_AF_INET6, "2001:db8:bad::1", addr);
	assert_int_equal(cidr_verdict(fx, new_id, DF_AF_INET6, addr), 0);

	/*
	 * The held query comes home through the same listener. Its answer is a
	 * blocked name's address (a CDN both share), and the engine's learning
	 * queries for the new id are left unanswered: the shared-address rule must
	 * already know the copied addresses, or a connect the answer permits is
	 * refused as FromBlockedDomain.
	 */
	fake_answer(fx, &fx->held, DF_AF_INET, "192.0.2.7");
	assert_int_equal(client_answer(fx, 0x4242, a), DNS_RCODE_NOERROR);
	assert_string_equal(a, "192.0.2.7");
	addr_bytes(DF_AF_INET, "192.0.2.7", addr);
	assert_true(addr_in(fx->handed, fx->cgid[0], DF_AF_INET, addr));

	/* The DNS path decides by the new policy: old and new blocked names refused. */
	client_ask(fx, 0, 0x4343, BLOCKED);
	assert_int_equal(client_answer(fx, 0x4343, a), DNS_RCODE_REFUSED);
	client_ask(fx, 1, 0x4444, ALSO_BLOCKED);
	assert_int_equal(client_answer(fx, 0x4444, a), DNS_RCODE_REFUSED);

	/* The new policy took both references: one guard going leaves the other's rules. */
	engine__remove_guard(fx->d->engine, fx->g[1]);
	fx->g[1] = NULL;
	engine__tick(fx->d->engine);
	assert_int_equal(entries_of(fx, false, new_id), ARRAY_SIZE(v2_rules));
	assert_int_equal(entries_of(fx, true, new_id), ARRAY_SIZE(learned_addrs));
}

/* A file that does not parse: reported, nothing written, the old policy stays. */
static void test_reload_broken_file_keeps_rules(void **state)
{
	static const struct version broken = {"block " BLOCKED "\nblok x.test\n", NULL, 0};
	struct fx *fx = *state;
	char a[INET_ADDRSTRLEN];
	uint32_t old_id;

	if (fx->skip)
		skip();
	old_id = learn_blocked(fx);
	assert_int_equal(write_policy(fx, &broken), 0);
	assert_int_equal(watched_reload(fx, &v1, &v1), 1);
	assert_int_equal(watch.writes, 0);
	assert_int_equal(policy__id(guard__policy(fx->g[0])), old_id);
	assert_int_equal(entries_of(fx, false, old_id), ARRAY_SIZE(v1_rules));
	client_ask(fx, 1, 0x4545, BLOCKED);
	assert_int_equal(client_answer(fx, 0x4545, a), DNS_RCODE_REFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reload_never_without_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_broken_file_keeps_rules, setup, teardown),
	};

	libbpf_set_print(log_libbpf_print); /* as depfenced: libbpf's warnings through our log */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
