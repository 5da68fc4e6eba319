// SPDX-License-Identifier: GPL-2.0-only
#include "dnsguard_api.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "dnsguard.skel.h"

/*
 * Programs are taken from the skeleton's object in its order; each is pinned
 * and reported under its name without the "df_" every program name starts
 * with ("df_connect4" -> "connect4"), so the pin names stay stable across
 * builds (a restarted daemon finds them) with no second list to keep.
 */
#define MAX_PROGS   16
#define PROG_PREFIX "df_"
/* Not in Debian 12's uapi headers: enum bpf_attach_type's value in 6.7+. */
#define DF_BPF_CGROUP_UNIX_CONNECT 49

struct dnsguard {
	struct dnsguard_bpf *skel;
	int nr_cpus;
	/* PIN_DIR held another build's maps: ours are private until dnsguard__take_over(). */
	bool upgrading;
	bool has_unix; /* the kernel has cgroup/connect_unix (6.7+) */
	int nr_progs;
	/* The programs this kernel loads (connect_unix only with has_unix), their pin
	 * names, and the kernel's ids of them: a link runs ours or not. */
	struct bpf_program *progs[MAX_PROGS];
	const char *pin_names[MAX_PROGS];
	__u32 prog_ids[MAX_PROGS];
	char pin_dir[PATH_MAX];
	/* client_slots, mapped read-only: a sender's record without a bpf() call. */
	const struct df_client_slot *slots;
	size_t slots_len;
};

/* The programs to load and attach, from the skeleton's object, before load. */
static int collect_progs(struct dnsguard *g)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, g->skel->obj)
	{
		const char *name = bpf_program__name(p);

		if (!bpf_program__autoload(p))
			continue; /* connect_unix on a kernel without the hook */
		if (g->nr_progs == MAX_PROGS || strncmp(name, PROG_PREFIX, strlen(PROG_PREFIX)))
			return -EINVAL;
		g->progs[g->nr_progs] = p;
		g->pin_names[g->nr_progs++] = name + strlen(PROG_PREFIX);
	}
	return 0;
}

/*
 * The resolver daemons a guarded job may not hand lookups to, by the last two
 * components of their socket paths: nscd, systemd-resolved (varlink; its D-Bus
 * API through the system bus), sssd's NSS responder.
 */
static const char *const local_resolvers[8] = {
    "nscd/socket",
    "resolve/io.systemd.Resolve",
    "dbus/system_bus_socket",
    "pipes/nss",
};

/*
 * Our pid namespace, so the programs record each sender's pid as our /proc
 * knows it too (a daemon in a container or a CI job's pid namespace).
 */
static int set_pidns(struct dnsguard *g)
{
	struct df_config cfg = {0};
	struct stat st;
	__u32 zero = 0;

	/* Pinned: keep what an earlier daemon reserved (policy_id_next). */
	bpf_map__lookup_elem(g->skel->maps.config, &zero, sizeof(zero), &cfg, sizeof(cfg), 0);
	/* In the host's namespace (PROC_PID_INIT_INO) the host pid is ours: 0 tells the
	 * programs to skip the walk, which runs on every DNS send otherwise. */
	cfg.pidns_dev = cfg.pidns_ino = 0;
	if (stat("/proc/self/ns/pid", &st) == 0 && st.st_ino != 0xEFFFFFFCU) {
		cfg.pidns_dev = st.st_dev;
		cfg.pidns_ino = st.st_ino;
	}
	return bpf_map__update_elem(g->skel->maps.config, &zero, sizeof(zero), &cfg, sizeof(cfg),
				    BPF_ANY);
}

/*
 * connect_unix and the kfuncs the program needs are in 6.7 and later. Asked
 * of uname, not of the kernel's BTF: parsing that twice (libbpf does once for
 * CO-RE) would double a run's start-up.
 */
static bool kernel_has_unix_hooks(void)
{
	struct utsname u;
	unsigned major, minor;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 7);
}

static int set_local_resolvers(struct dnsguard *g)
{
	size_t i;
	__u32 one = 1;
	int r;

	for (i = 0; i < ARRAY_SIZE(local_resolvers) && local_resolvers[i]; i++) {
		struct df_unix_key k = {};

		snprintf(k.path, sizeof(k.path), "%s", local_resolvers[i]);
		r = bpf_map__update_elem(g->skel->maps.unix_deny, &k, sizeof(k), &one, sizeof(one),
					 BPF_ANY);
		if (r < 0)
			return r;
	}
	return 0;
}

int bpffs_ensure(const char *path, struct df_err *err)
{
	struct statfs st;
	int r;

	if (statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	r = mkdir_p(path, 0700);
	if (r < 0)
		return df_err_set(err, r, "mkdir %s: %s", path, strerror(-r));
	if (mount("bpf", path, "bpf", 0, "mode=0700") < 0)
		return df_err_set(err, -errno, "mount bpffs at %s: %s", path, strerror(errno));
	return 0;
}

/* Where listeners bound to port 0 land (net.ipv4.ip_local_port_range; v6 shares it). */
static void set_port_range(struct dnsguard_bpf *skel)
{
	_cleanup_free_ char *text = NULL;
	unsigned lo, hi;

	if (read_file("/proc/sys/net/ipv4/ip_local_port_range", &text, NULL, 256) == 0 &&
	    sscanf(text, "%u %u", &lo, &hi) == 2 && lo <= hi && hi <= 65535) {
		skel->rodata->eph_lo = lo;
		skel->rodata->eph_hi = hi;
	}
}

/* FNV-1a of the object as built: any change to programs or maps changes it. */
static __u64 object_version(void)
{
	size_t n;
	const void *b = dnsguard_bpf__elf_bytes(&n);

	return df_fnv1a(DF_FNV_SEED, b, n);
}

static __u64 pinned_version(const char *pin_dir)
{
	char path[PATH_MAX];
	__u32 key = 0;
	__u64 v = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/maps/meta", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &key, &v) < 0)
		v = 0;
	close(fd);
	return v;
}

/* rm -r for bpffs: unlinking a pinned link detaches it. */
static void remove_tree(const char *path)
{
	struct dirent *de;
	char sub[PATH_MAX];
	DIR *d = opendir(path);

	if (!d) {
		unlink(path);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		remove_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

/*
 * Pins of another build of this object (an upgrade): its maps differ, so ours
 * stay private, and its links are switched to our programs in place
 * (bpf_link_update) as each guard is restored; the old maps are replaced by
 * ours only once every guard is ours (dnsguard__take_over). Nothing is
 * detached, ever: a cgroup that had a link keeps one throughout.
 */
static bool foreign_pins(const char *pin_dir, __u64 version)
{
	char path[PATH_MAX];
	__u64 have = pinned_version(pin_dir);

	snprintf(path, sizeof(path), "%s/maps", pin_dir);
	return have != version && (have != 0 || access(path, F_OK) == 0);
}

/*
 * The maps of the same version already pinned: libbpf reuses them at load.
 * The others are created private and pinned by dnsguard__pin_maps() only, so a
 * start that fails before then (a policy error) leaves no new pin.
 */
static void reuse_pinned_maps(struct dnsguard *g)
{
	char path[PATH_MAX];
	struct bpf_map *map;

	bpf_object__for_each_map(map, g->skel->obj)
	{
		if (bpf_map__is_internal(map))
			continue; /* .rodata: set per load, nothing to share */
		snprintf(path, sizeof(path), "%s/maps/%s", g->pin_dir, bpf_map__name(map));
		if (access(path, F_OK) == 0)
			bpf_map__set_pin_path(map, path);
	}
}

int dnsguard__pin_maps(struct dnsguard *g, struct df_err *err)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int r;

	/* Private maps (no PIN_DIR), or an upgrade's: dnsguard__take_over pins those. */
	if (!g->pin_dir[0] || g->upgrading)
		return 0;
	snprintf(path, sizeof(path), "%s/maps", g->pin_dir);
	r = mkdir_p(path, 0700);
	if (r < 0)
		return df_err_set(err, r, "mkdir %s: %s", path, strerror(-r));
	bpf_object__for_each_map(map, g->skel->obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", g->pin_dir, bpf_map__name(map));
		/* A map the load reused is pinned there already: a no-op. */
		r = bpf_map__pin(map, path);
		if (r < 0)
			return df_err_set(err, r, "pin map %s: %s", path, strerror(-r));
	}
	return 0;
}

int dnsguard__load(const char *pin_dir, struct dnsguard **ret, struct df_err *err)
{
	_cleanup_free_ struct dnsguard *g = calloc(1, sizeof(*g));
	__u64 version = object_version();
	__u32 key = 0;
	size_t i;
	int r;

	if (!g)
		return df_err_set(err, -ENOMEM, "out of memory");
	g->nr_cpus = libbpf_num_possible_cpus();
	if (g->nr_cpus <= 0)
		return df_err_set(err, g->nr_cpus ?: -EINVAL, "cannot count possible CPUs");
	g->skel = dnsguard_bpf__open();
	if (!g->skel)
		return df_err_set(err, -errno, "open BPF object: %s", strerror(errno));
	set_port_range(g->skel);
	for (i = 0; i < ARRAY_SIZE(local_resolvers) && local_resolvers[i]; i++)
		g->skel->rodata->unix_suffix_len[i] = strlen(local_resolvers[i]);
	g->has_unix = kernel_has_unix_hooks();
	if (g->has_unix)
		bpf_program__set_expected_attach_type(g->skel->progs.df_connect_unix,
						      DF_BPF_CGROUP_UNIX_CONNECT);
	else
		bpf_program__set_autoload(g->skel->progs.df_connect_unix, false);
	r = collect_progs(g);
	if (r < 0) {
		df_err_set(err, r, "BPF object: more than %d programs, or one not named %s*",
			   MAX_PROGS, PROG_PREFIX);
		goto fail;
	}
	if (pin_dir) {
		snprintf(g->pin_dir, sizeof(g->pin_dir), "%s", pin_dir);
		g->upgrading = foreign_pins(pin_dir, version);
		if (!g->upgrading)
			reuse_pinned_maps(g);
	}
	r = dnsguard_bpf__load(g->skel);
	if (r < 0) {
		df_err_set(err, r, "load BPF programs: %s", strerror(-r));
		goto fail;
	}
	for (i = 0; i < (size_t)g->nr_progs; i++) {
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(g->progs[i]);

		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			g->prog_ids[i] = info.id;
	}
	bpf_map__update_elem(g->skel->maps.meta, &key, sizeof(key), &version, sizeof(version),
			     BPF_ANY);
	r = set_local_resolvers(g);
	if (r < 0) {
		df_err_set(err, r, "write unix_deny map: %s", strerror(-r));
		goto fail;
	}
	r = set_pidns(g);
	if (r < 0) {
		df_err_set(err, r, "write config map: %s", strerror(-r));
		goto fail;
	}
	g->slots_len = sizeof(struct df_client_slot) * DF_CLIENT_SLOTS;
	g->slots = mmap(NULL, g->slots_len, PROT_READ, MAP_SHARED,
			bpf_map__fd(g->skel->maps.client_slots), 0);
	if (g->slots == MAP_FAILED) {
		/* Not fatal: every lookup asks the clients map, as before. */
		g->slots = NULL;
	}
	*ret = steal_ptr(g);
	return 0;
fail:
	dnsguard_bpf__destroy(g->skel);
	return r;
}

int dnsguard__loaded_programs(const struct dnsguard *g, char *buf, size_t cap)
{
	size_t len = 0;
	int i, n = 0;

	if (cap)
		buf[0] = '\0';
	for (i = 0; i < g->nr_progs; i++) {
		if (!g->prog_ids[i])
			continue;
		if (len < cap)
			len +=
			    snprintf(buf + len, cap - len, "%s%s", n ? ", " : "", g->pin_names[i]);
		n++;
	}
	return n;
}

int dnsguard__reserve_policy_ids(struct dnsguard *g, __u32 *ret_base)
{
	struct df_config cfg = {0};
	__u32 zero = 0;
	int r;

	r = bpf_map__lookup_elem(g->skel->maps.config, &zero, sizeof(zero), &cfg, sizeof(cfg), 0);
	if (r < 0)
		return r;
	/* Range 0 is the embedded runs' (private maps); wrap past it. */
	if (cfg.policy_id_next < DF_POLICY_ID_RANGE)
		cfg.policy_id_next = DF_POLICY_ID_RANGE;
	*ret_base = cfg.policy_id_next;
	cfg.policy_id_next += DF_POLICY_ID_RANGE;
	return bpf_map__update_elem(g->skel->maps.config, &zero, sizeof(zero), &cfg, sizeof(cfg),
				    BPF_ANY);
}

/*
 * The one walk over a hash or LPM map: FN(CTX, M, KEY, VALUE) for every entry,
 * VALUE NULL unless WITH_VALUE. The next key is fetched before FN runs, so FN
 * may delete (or update) the entry it is given, as bpftool's map walks do. A
 * key that vanishes under the walk (an LRU eviction, a program's delete) makes
 * the kernel start over from the first key: the walk stops after twice the
 * map's entries, so it always ends. FN returns 1 to count the entry, 0 not to,
 * WALK_DELETE to have the walk delete it (counted if it was there), or a
 * negative errno that ends the walk. Returns the count, or that errno.
 */
#define WALK_DELETE 2
typedef int (*map_walk_fn)(void *ctx, struct bpf_map *m, const void *key, const void *value);

#define MAP_WALK_KEY   64
#define MAP_WALK_VALUE 64

/*
 * The walk in batches (BPF_MAP_LOOKUP_BATCH, hash maps): WALK_BATCH entries
 * per system call instead of two calls per entry, so purging a guard from a
 * full clients map (65,536 entries) holds the DNS loop for a few milliseconds,
 * not a few hundred. FN may delete what it is given: the batch cursor is a
 * bucket, not a key. -ENOTSUPP when the kernel will not (an old one, a bucket
 * larger than a batch): the caller walks key by key, FN seeing entries again.
 */
#define WALK_BATCH 1024
#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's, not in userspace errno.h */
#endif

/* Delete the N keys at KEYS of M in one call (one by one where the kernel will not):
 * how many were there. */
static int delete_keys(struct bpf_map *m, const unsigned char *keys, __u32 n)
{
	size_t ksz = bpf_map__key_size(m);
	__u32 count = n, i;
	int gone = 0;

	if (!n)
		return 0;
	if (bpf_map_delete_batch(bpf_map__fd(m), keys, &count, NULL) == 0)
		return (int)count;
	/* ENOENT: one was gone already (the batch stops there); the rest one by one. */
	for (i = count; i < n; i++)
		gone += bpf_map__delete_elem(m, keys + i * ksz, ksz, 0) == 0;
	return (int)count + gone;
}

static int map_walk_batch(struct bpf_map *m, bool with_value, map_walk_fn fn, void *ctx)
{
	size_t ksz = bpf_map__key_size(m), vsz = bpf_map__value_size(m);
	/* Zeroed: valgrind does not know the batch commands, and would take what the
	 * kernel writes here for uninitialised memory. */
	_cleanup_free_ unsigned char *keys = calloc(WALK_BATCH, ksz),
				     *vals = calloc(WALK_BATCH, vsz),
				     *dels = malloc(WALK_BATCH * ksz);
	__u32 in = 0, out = 0, count, i, nd;
	bool first = true, last = false;
	int n = 0, r, e;

	if (!keys || !vals || !dels)
		return -ENOMEM;
	while (!last) {
		count = WALK_BATCH;
		r = bpf_map_lookup_batch(bpf_map__fd(m), first ? NULL : &in, &out, keys, vals,
					 &count, NULL);
		if (r < 0 && errno != ENOENT)
			return -ENOTSUPP; /* the key walk does it all again (FN is idempotent) */
		last = r < 0;		  /* ENOENT: these are the last ones */
		first = false;
		in = out;
		for (i = 0, nd = 0; i < count; i++) {
			e = fn(ctx, m, keys + i * ksz, with_value ? vals + i * vsz : NULL);
			if (e < 0)
				return e;
			if (e == WALK_DELETE)
				memcpy(dels + nd++ * ksz, keys + i * ksz, ksz);
			else
				n += e;
		}
		n += delete_keys(m, dels, nd);
	}
	return n;
}

static int map_walk(struct bpf_map *m, bool with_value, map_walk_fn fn, void *ctx)
{
	unsigned char k[MAP_WALK_KEY], next[MAP_WALK_KEY], v[MAP_WALK_VALUE];
	size_t ksz = bpf_map__key_size(m), vsz = bpf_map__value_size(m);
	__u64 left = 2ULL * bpf_map__max_entries(m) + 1;
	int n = 0, r, e;

	if (ksz > sizeof(k) || (with_value && vsz > sizeof(v)))
		return -E2BIG;
	if (bpf_map__type(m) == BPF_MAP_TYPE_HASH || bpf_map__type(m) == BPF_MAP_TYPE_LRU_HASH) {
		r = map_walk_batch(m, with_value, fn, ctx);
		if (r != -ENOTSUPP)
			return r;
	}
	r = bpf_map__get_next_key(m, NULL, next, ksz);
	while (r == 0 && left--) {
		memcpy(k, next, ksz);
		r = bpf_map__get_next_key(m, k, next, ksz);
		if (with_value && bpf_map__lookup_elem(m, k, ksz, v, vsz, 0) < 0)
			continue; /* gone since its key was read */
		e = fn(ctx, m, k, with_value ? v : NULL);
		if (e < 0)
			return e;
		if (e == WALK_DELETE)
			e = bpf_map__delete_elem(m, k, ksz, 0) == 0;
		n += e;
	}
	return n;
}

/* FN for map_walk: delete the entry. */
static int walk_delete(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	return WALK_DELETE;
}

struct keep_ids {
	const __u32 *ids;
	int n;
};

static bool kept_id(const struct keep_ids *kp, __u64 id)
{
	int i;

	for (i = 0; i < kp->n; i++)
		if (kp->ids[i] == id)
			return true;
	return false;
}

static int purge_cidr(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	const struct df_cidr_key *k = key;

	return !kept_id(ctx, k->policy_id) ? WALK_DELETE : 0;
}

static int purge_learned(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	const struct df_addr_key *k = key;

	return !kept_id(ctx, k->id) ? WALK_DELETE : 0;
}

int dnsguard__purge_policies(struct dnsguard *g, const __u32 *keep, int n_keep)
{
	struct keep_ids kp = {.ids = keep, .n = n_keep};
	int a = map_walk(g->skel->maps.cidrs, false, purge_cidr, &kp);
	int b = map_walk(g->skel->maps.learned, false, purge_learned, &kp);

	return a < 0 ? a : b < 0 ? b : a + b;
}

struct id_pair {
	__u64 from, to;
};

/* The value is read here, for FROM's entries only, not for every entry of the map. */
static int copy_one(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	const struct id_pair *ids = ctx;
	struct df_addr_key k;
	struct df_expiry v;

	memcpy(&k, key, sizeof(k));
	if (k.id != ids->from || bpf_map__lookup_elem(m, &k, sizeof(k), &v, sizeof(v), 0))
		return 0;
	k.id = ids->to;
	return bpf_map__update_elem(m, &k, sizeof(k), &v, sizeof(v), BPF_ANY) == 0;
}

int dnsguard__copy_learned(struct dnsguard *g, __u32 from_id, __u32 to_id)
{
	struct id_pair ids = {.from = from_id, .to = to_id};

	return map_walk(g->skel->maps.learned, false, copy_one, &ids);
}

void dnsguard__remove_pins(const char *pin_dir)
{
	char path[PATH_MAX];

	/*
	 * The daemon's own pins only: embedded/ holds the links of embedded runs,
	 * which guard their jobs whatever a daemon of the same instance does.
	 */
	snprintf(path, sizeof(path), "%s/maps", pin_dir);
	remove_tree(path);
	snprintf(path, sizeof(path), "%s/links", pin_dir);
	remove_tree(path);
	rmdir(pin_dir); /* only if nothing else is left in it */
}

bool dnsguard__upgrading(const struct dnsguard *g)
{
	return g->upgrading;
}

void dnsguard__destroy(struct dnsguard *g)
{
	if (!g)
		return;
	if (g->slots)
		munmap((void *)g->slots, g->slots_len);
	dnsguard_bpf__destroy(g->skel);
	free(g);
}

/* bpffs refuses names with a dot: one directory per attachment, one file per program. */
static void pin_path(const struct dnsguard *g, char *buf, size_t cap, const char *dir, int i)
{
	snprintf(buf, cap, "%s/%s", dir, g->pin_names[i]);
}

/*
 * The pin at PATH links program I to cgroup CGID: make it run our program
 * (bpf_link_update swaps it atomically; the cgroup is never without one).
 * Returns 1 if it did or already ran ours, 0 if PATH is no link of CGID (none,
 * or an older cgroup that had the same path), or a negative errno.
 */
static int link_adopt(struct dnsguard *g, const char *path, int i, __u64 cgid)
{
	struct bpf_link_info info = {0};
	__u32 len = sizeof(info);
	_cleanup_close_ int fd = bpf_obj_get(path);
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (r < 0)
		return r;
	if (info.type != BPF_LINK_TYPE_CGROUP || (cgid && info.cgroup.cgroup_id != cgid))
		return 0;
	if (info.prog_id == g->prog_ids[i])
		return 1;
	r = bpf_link_update(fd, bpf_program__fd(g->progs[i]), NULL);
	return r < 0 ? r : 1;
}

int dnsguard__attach_pinned(struct dnsguard *g, int cgfd, const char *pin_prefix,
			    struct df_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int i, r;

	if (fstat(cgfd, &st) < 0)
		return df_err_set(err, -errno, "stat cgroup: %s", strerror(errno));
	r = mkdir_p(pin_prefix, 0700);
	if (r < 0)
		return df_err_set(err, r, "mkdir %s: %s", pin_prefix, strerror(-r));
	/*
	 * Program by program: a link this cgroup already has (a restart, an
	 * upgrade) is switched to our program in place; a missing one (first
	 * registration, a program a new build added) is attached and pinned.
	 */
	for (i = 0; i < g->nr_progs; i++) {
		struct bpf_link *link;

		pin_path(g, path, sizeof(path), pin_prefix, i);
		r = link_adopt(g, path, i, st.st_ino);
		if (r < 0)
			return df_err_set(err, r, "update link %s: %s", path, strerror(-r));
		if (r > 0)
			continue;
		link = bpf_program__attach_cgroup(g->progs[i], cgfd);
		if (!link)
			return df_err_set(err, -errno, "attach %s: %s", g->pin_names[i],
					  strerror(errno));
		unlink(path); /* a pin of a dead cgroup that had this path */
		r = bpf_link__pin(link, path);
		bpf_link__destroy(link); /* the pin holds it now, or nothing does */
		if (r < 0)
			return df_err_set(err, r, "pin link %s: %s", path, strerror(-r));
	}
	return 0;
}

/* Every pinned link below DIR (recursively) made to run our programs. */
static int adopt_tree(struct dnsguard *g, const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0, i;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR) {
			r = adopt_tree(g, path) ?: r;
			continue;
		}
		for (i = 0; i < g->nr_progs; i++) {
			if (strcmp(de->d_name, g->pin_names[i]) == 0) {
				int e = link_adopt(g, path, i, 0);

				r = e < 0 ? e : r;
				break;
			}
		}
	}
	closedir(d);
	return r;
}

int dnsguard__take_over(struct dnsguard *g, struct df_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	struct bpf_map *map;
	struct dirent *de;
	DIR *d;
	int r;

	if (!g->upgrading)
		return 0;
	/* Links no registration claimed (their guard is gone): ours too, and closed. */
	snprintf(dir, sizeof(dir), "%s/links", g->pin_dir);
	r = adopt_tree(g, dir);
	if (r < 0)
		return df_err_set(err, r, "update links below %s: %s", dir, strerror(-r));
	/* Our maps replace the old build's under the same names, each by one rename. */
	snprintf(dir, sizeof(dir), "%s/maps", g->pin_dir);
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return df_err_set(err, r, "mkdir %s: %s", dir, strerror(-r));
	bpf_object__for_each_map(map, g->skel->obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		snprintf(tmp, sizeof(tmp), "%s/new_%s", dir, bpf_map__name(map));
		unlink(tmp);
		if (bpf_obj_pin(bpf_map__fd(map), tmp) < 0 || rename(tmp, path) < 0) {
			r = -errno;
			unlink(tmp);
			return df_err_set(err, r, "pin map %s: %s", path, strerror(-r));
		}
	}
	/* Maps the old build had and ours has not. */
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    bpf_object__find_map_by_name(g->skel->obj, de->d_name) != NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	g->upgrading = false;
	return 0;
}

int guard_unpin(const char *pin_prefix)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(pin_prefix);
	int r = 0;

	/* The directory holds one attachment's link pins and nothing else: any
	 * build's, so programs an older build had go too. */
	while (d && (de = readdir(d))) {
		if (de->d_type == DT_DIR)
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_prefix, de->d_name);
		if (unlink(path) < 0 && errno != ENOENT)
			r = -errno;
	}
	if (d)
		closedir(d);
	if (rmdir(pin_prefix) < 0 && errno != ENOENT)
		r = r ?: -errno;
	return r;
}

int dnsguard__set_guard(struct dnsguard *g, __u64 cgid, const struct df_guard *val)
{
	return bpf_map__update_elem(g->skel->maps.guards, &cgid, sizeof(cgid), val, sizeof(*val),
				    BPF_ANY);
}

int dnsguard__del_guard(struct dnsguard *g, __u64 cgid)
{
	int r = bpf_map__delete_elem(g->skel->maps.guards, &cgid, sizeof(cgid), 0);

	return r == -ENOENT ? 0 : r;
}

int dnsguard__lookup_client(struct dnsguard *g, __u64 netns_cookie, __u8 proto, __u16 port,
			    struct df_client *ret)
{
	struct df_client_key key = {.netns_cookie = netns_cookie, .port = port, .proto = proto};

	if (proto == IPPROTO_UDP && g->slots) {
		const struct df_client_slot *s = &g->slots[port];
		__u32 seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		struct df_client_slot copy;

		if (!(seq & 1)) {
			memcpy(&copy, s, sizeof(copy));
			/* The copy's loads before the second load of seq: the compiler's
			 * order is ours, and x86 keeps loads in order; elsewhere the check
			 * refuses a copy torn by reordering. (A fence here would be
			 * smp_rmb(); ThreadSanitizer builds reject atomic_thread_fence.) */
			__asm__ __volatile__("" ::: "memory");
			if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq &&
			    copy.netns_cookie == netns_cookie && copy.c.guard_cgid &&
			    copy.check == df_slot_check(copy.netns_cookie, &copy.c)) {
				*ret = copy.c;
				return 0;
			}
		}
	}
	return bpf_map__lookup_elem(g->skel->maps.clients, &key, sizeof(key), ret, sizeof(*ret), 0);
}

struct bpf_map *dnsguard__map(struct dnsguard *g, const char *name)
{
	return bpf_object__find_map_by_name(g->skel->obj, name);
}

static const struct {
	const char *name, *help;
} counter_info[DF_CNT__MAX] = {
#define DF_CNT_INFO(ENUM, name, help) [DF_CNT_##ENUM] = {#name, help},
    DF_COUNTERS(DF_CNT_INFO)
#undef DF_CNT_INFO
};

const char *dnsguard__counter_name(enum df_counter which)
{
	return (unsigned)which < DF_CNT__MAX ? counter_info[which].name : NULL;
}

const char *dnsguard__counter_help(enum df_counter which)
{
	return (unsigned)which < DF_CNT__MAX ? counter_info[which].help : NULL;
}

__u64 dnsguard__counter(struct dnsguard *g, enum df_counter which)
{
	__u64 vals[g->nr_cpus], sum = 0;
	__u32 key = which;
	int i;

	/* The kernel writes every CPU's value; valgrind believes it writes the first only. */
	memset(vals, 0, sizeof(vals));
	if (bpf_map__lookup_elem(g->skel->maps.counters, &key, sizeof(key), vals, sizeof(vals), 0))
		return 0;
	for (i = 0; i < g->nr_cpus; i++)
		sum += vals[i];
	return sum;
}

void dnsguard__counters(struct dnsguard *g, __u64 ret[DF_CNT__MAX])
{
	int i;

	for (i = 0; i < DF_CNT__MAX; i++)
		ret[i] = dnsguard__counter(g, i);
}

int dnsguard__prog_fd(const struct dnsguard *g, const char *pin_name)
{
	int i;

	for (i = 0; i < g->nr_progs; i++)
		if (strcmp(g->pin_names[i], pin_name) == 0)
			return bpf_program__fd(g->progs[i]);
	return -ENOENT;
}

static void cidr_key(struct df_cidr_key *k, __u32 policy_id, int family, const void *addr,
		     int prefix_len)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = DF_CIDR_KEY_BITS(prefix_len);
	k->policy_id = policy_id;
	k->family = family;
	memcpy(k->addr, addr, family == DF_AF_INET ? 4 : 16);
}

int dnsguard__set_cidr(struct dnsguard *g, __u32 policy_id, int family, const void *addr,
		       int prefix_len, enum df_ip_verdict verdict)
{
	struct df_cidr_key k;
	__u32 v = verdict;

	cidr_key(&k, policy_id, family, addr, prefix_len);
	return bpf_map__update_elem(g->skel->maps.cidrs, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

int dnsguard__del_cidr(struct dnsguard *g, __u32 policy_id, int family, const void *addr,
		       int prefix_len)
{
	struct df_cidr_key k;

	cidr_key(&k, policy_id, family, addr, prefix_len);
	return bpf_map__delete_elem(g->skel->maps.cidrs, &k, sizeof(k), 0);
}

int dnsguard__set_addr(struct dnsguard *g, bool learned, __u64 id, int family, const void *addr,
		       __u64 expires_ns)
{
	struct df_addr_key k = {.id = id, .family = family};
	struct df_expiry v = {.expires_ns = expires_ns};
	struct bpf_map *m = learned ? g->skel->maps.learned : g->skel->maps.handed;

	memcpy(k.addr, addr, family == DF_AF_INET ? 4 : 16);
	return bpf_map__update_elem(m, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

static int purge_id(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	const struct df_addr_key *k = key;

	return k->id == *(const __u64 *)ctx ? WALK_DELETE : 0;
}

int dnsguard__purge_addrs(struct dnsguard *g, bool learned, __u64 id)
{
	return map_walk(learned ? g->skel->maps.learned : g->skel->maps.handed, false, purge_id,
			&id);
}

int dnsguard__ev_limit(struct dnsguard *g, __u64 cgid, struct df_ev_limit *ret)
{
	return bpf_map__lookup_elem(g->skel->maps.ev_limit, &cgid, sizeof(cgid), ret, sizeof(*ret),
				    0);
}

/* FN for map_walk: delete a clients entry whose guard is *CTX. */
static int purge_client(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	const struct df_client *v = value;

	return v->guard_cgid == *(const __u64 *)ctx ? WALK_DELETE : 0;
}

/* FN for map_walk: delete a cg_guard entry whose guard (its value) is *CTX. */
static int purge_owned(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	return *(const __u64 *)value == *(const __u64 *)ctx ? WALK_DELETE : 0;
}

void dnsguard__purge_guard(struct dnsguard *g, __u64 cgid)
{
	map_walk(g->skel->maps.clients, true, purge_client, &cgid);
	map_walk(g->skel->maps.cg_guard, true, purge_owned, &cgid);
	bpf_map__delete_elem(g->skel->maps.ev_limit, &cgid, sizeof(cgid), 0);
}

int dnsguard__set_listener(struct dnsguard *g, __u64 netns_cookie, __u8 proto, __u16 port,
			   __u64 cgid)
{
	struct df_client_key k = {.netns_cookie = netns_cookie, .port = port, .proto = proto};

	return bpf_map__update_elem(g->skel->maps.listeners, &k, sizeof(k), &cgid, sizeof(cgid),
				    BPF_ANY);
}

int dnsguard__mark_proxy_socket(struct dnsguard *g, int fd, __u64 cgid)
{
	return bpf_map__update_elem(g->skel->maps.proxy_socks, &fd, sizeof(fd), &cgid, sizeof(cgid),
				    BPF_ANY);
}

void dnsguard__del_listener(struct dnsguard *g, __u64 netns_cookie, __u8 proto, __u16 port)
{
	struct df_client_key k = {.netns_cookie = netns_cookie, .port = port, .proto = proto};

	bpf_map__delete_elem(g->skel->maps.listeners, &k, sizeof(k), 0);
}

struct keep_cgids {
	const __u64 *ids;
	int n;
};

static bool kept_cgid(const struct keep_cgids *kp, __u64 id)
{
	int i;

	for (i = 0; i < kp->n; i++)
		if (kp->ids[i] == id)
			return true;
	return false;
}

/* FN for map_walk: forget a listener of a guard not kept (its socket died with a proxy). */
static int purge_listener(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	return !kept_cgid(ctx, *(const __u64 *)value) ? WALK_DELETE : 0;
}

/* FN for map_walk: a guards entry not kept is closed. */
static int close_guard(void *ctx, struct bpf_map *m, const void *key, const void *value)
{
	struct df_guard closed = {.mode = DF_MODE_ALLOWLIST};

	return !kept_cgid(ctx, *(const __u64 *)key) &&
	       bpf_map__update_elem(m, key, sizeof(__u64), &closed, sizeof(closed), BPF_EXIST) == 0;
}

int dnsguard__close_others(struct dnsguard *g, const __u64 *keep, int n_keep)
{
	struct keep_cgids kp = {.ids = keep, .n = n_keep};
	int n = map_walk(g->skel->maps.guards, false, close_guard, &kp);

	map_walk(g->skel->maps.listeners, true, purge_listener, &kp);
	return n;
}

int dnsguard__set_closed(struct dnsguard *g, __u64 cgid)
{
	struct df_guard closed = {.mode = DF_MODE_ALLOWLIST};

	return dnsguard__set_guard(g, cgid, &closed);
}

void dnsguard__flush_cg_cache(struct dnsguard *g)
{
	map_walk(g->skel->maps.cg_guard, false, walk_delete, NULL);
}

struct ring_buffer *dnsguard__events(struct dnsguard *g,
				     int (*fn)(void *ctx, void *data, size_t size), void *ctx)
{
	return ring_buffer__new(bpf_map__fd(g->skel->maps.events), fn, ctx, NULL);
}

/* 1 if our program NAME is among the effective ones of TYPE on cgroup CGFD, 0 if not, or -errno. */
static int prog_effective(int cgfd, enum bpf_attach_type type, const char *name)
{
	__u32 ids[64], n = ARRAY_SIZE(ids), i;
	int found = 0;

	if (bpf_prog_query(cgfd, type, BPF_F_QUERY_EFFECTIVE, NULL, ids, &n) < 0)
		return -errno;
	for (i = 0; i < n && !found; i++) {
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		/* Kernel program names keep 15 characters: ours fit whole. */
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && strcmp(info.name, name) == 0)
			found = 1;
		close(fd);
	}
	return found;
}

bool dnsguard__cgroup_guarded(const char *cgroup_path)
{
	_cleanup_close_ int cgfd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return cgfd >= 0 && prog_effective(cgfd, BPF_CGROUP_INET4_CONNECT, "df_connect4") > 0;
}

int dnsguard__cgroup_enforcing(const char *cgroup_path)
{
	/* What DNS redirection and address refusal need, for IPv4 at least. */
	static const struct {
		enum bpf_attach_type type;
		const char *name;
	} need[] = {
	    {BPF_CGROUP_INET4_CONNECT, "df_connect4"},
	    {BPF_CGROUP_UDP4_SENDMSG, "df_sendmsg4"},
	    {BPF_CGROUP_UDP4_RECVMSG, "df_recvmsg4"},
	};
	_cleanup_close_ int cgfd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t i;
	int r = 1;

	if (cgfd < 0)
		return -errno;
	for (i = 0; i < ARRAY_SIZE(need) && r > 0; i++)
		r = prog_effective(cgfd, need[i].type, need[i].name);
	return r;
}
