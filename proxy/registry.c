// SPDX-License-Identifier: GPL-2.0-only
/*
 * The registry (see registry.h): one path for every registration, and the
 * saved records a restarted daemon brings back.
 */
#include "registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "config.h"
#include "dnsguard_api.h"
#include "log.h"

static const char *kind_name(enum guard_kind k)
{
	return k == GUARD_CONTAINER ? "container" : "run";
}

json_object *reg_record_encode(const struct reg_record *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(kind_name(r->kind)));
	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "cgroup", json_object_new_string(r->cgroup));
	json_object_object_add(o, "cgroup_id", json_object_new_int64((int64_t)r->cgid));
	if (r->policy)
		json_object_object_add(o, "policy", json_object_new_string(r->policy));
	if (r->inherit)
		json_object_object_add(o, "inherit", json_object_new_boolean(1));
	ctl_rules_put(o, &r->rules);
	if (r->full_cmdline)
		json_object_object_add(o, "log_full_cmdline", json_object_new_boolean(1));
	return o;
}

int reg_record_decode(json_object *o, struct reg_record *r, struct df_err *err)
{
	const char *kind;
	json_object *v;
	int e;

	memset(r, 0, sizeof(*r));
	if (!o || !json_object_is_type(o, json_type_object))
		return df_err_set(err, -EINVAL, "not a JSON object");
	if ((e = ctl_opt_str(o, "kind", &kind, err)) < 0 ||
	    (e = ctl_opt_str(o, "id", &r->id, err)) < 0 ||
	    (e = ctl_opt_str(o, "cgroup", &r->cgroup, err)) < 0 ||
	    (e = ctl_opt_str(o, "policy", &r->policy, err)) < 0 ||
	    (e = ctl_rules_get(o, &r->rules, err)) < 0 ||
	    (e = ctl_opt_bool(o, "log_full_cmdline", &r->full_cmdline, err)) < 0)
		return e;
	if (!r->id || !r->id[0] || !r->cgroup || !r->cgroup[0])
		return df_err_set(err, -EINVAL, "no \"id\" or \"cgroup\"");
	/* Records of earlier builds have no kind for containers and no cgroup id. */
	r->kind = kind && strcmp(kind, "run") == 0 ? GUARD_RUN : GUARD_CONTAINER;
	if (json_object_object_get_ex(o, "cgroup_id", &v))
		r->cgid = (uint64_t)json_object_get_int64(v);
	r->inherit = json_object_object_get_ex(o, "inherit", &v) && json_object_get_boolean(v);
	return 0;
}

struct guard *registry_find_cgroup(struct registry *reg, uint64_t cgid)
{
	struct guard *g;

	for (g = engine__first_guard(reg->engine); g; g = engine__next_guard(reg->engine, g))
		if (guard__cgroup_id(g) == cgid)
			return g;
	return NULL;
}

struct guard *registry_enclosing(struct registry *reg, const char *cg)
{
	struct guard *g, *best = NULL;
	size_t best_len = 0;

	for (g = engine__first_guard(reg->engine); g; g = engine__next_guard(reg->engine, g)) {
		size_t n = strlen(guard__cgroup(g));

		if (!cgroup_path_below(cg, guard__cgroup(g), true))
			continue;
		if (n > best_len) {
			best = g;
			best_len = n;
		}
	}
	return best;
}

static void record_path(struct registry *reg, enum guard_kind k, uint64_t cgid, const char *id,
			char *buf, size_t cap)
{
	df_paths_record(reg->paths, k == GUARD_CONTAINER ? 'c' : 'r', cgid, id, buf, cap);
}

/* Written whole under a temporary name, never through a link, then renamed:
 * a restarted daemon reads the old record or the new one, nothing between. */
static int record_save(struct registry *reg, const struct reg_record *rec)
{
	_cleanup_json_ json_object *o = reg_record_encode(rec);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	char path[PATH_MAX + 200], tmp[PATH_MAX + 210];
	_cleanup_close_ int fd = -1;
	int r = 0;

	mkdir(reg->paths->records, 0700);
	record_path(reg, rec->kind, rec->cgid, rec->id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_full(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		r = -errno;
		log_msg(LOG_WARN, "cannot save registration path=%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return r;
}

/*
 * The policy of REC: the enclosing guard's when inherited, the store's copy of
 * a named policy without inline rules, else one built for this guard alone.
 */
static int resolve_policy(struct registry *reg, const struct reg_record *rec, struct guard *outer,
			  struct policy **ret, bool *ret_owned, struct df_err *err)
{
	const struct ctl_rules *cr = &rec->rules;
	struct inline_rules rules = {
	    .block = (const char **)cr->block,
	    .n_block = cr->n_block,
	    .allow = (const char **)cr->allow,
	    .n_allow = cr->n_allow,
	    .mode = cr->mode,
	};
	bool plain = !cr->n_block && !cr->n_allow && !cr->mode;
	const char *name = rec->policy;

	*ret_owned = false;
	if (rec->built) {
		*ret = rec->built;
		*ret_owned = true;
		return 0;
	}
	if (rec->inherit && !outer)
		return df_err_set(err, -ENOENT, "%s %s is not inside a guard this daemon serves",
				  kind_name(rec->kind), rec->id);
	/* Inside a guard the nearest guard decides: only its policy may be named. */
	if (outer && name && strcmp(name, guard__policy_name(outer)) != 0)
		return df_err_set(err, -EPERM,
				  "%s %s is inside guard %s (policy %s): it may not choose policy "
				  "'%s'",
				  kind_name(rec->kind), rec->id, guard__id(outer),
				  guard__policy_name(outer), name);
	/* The nearest guard decides: nothing inside it brings rules of its own. */
	if (outer && !plain)
		return df_err_set(err, -EPERM, "%s %s is inside guard %s: it may not bring rules",
				  kind_name(rec->kind), rec->id, guard__id(outer));
	if (outer && rec->kind == GUARD_CONTAINER) {
		*ret = guard__policy(outer);
		return 0;
	}
	if (plain && reg->policies) {
		*ret = policy_store__find(reg->policies, name ?: BUILTIN_POLICY_NAME);
		if (*ret)
			return 0;
		if (name)
			return df_err_set(err, -ENOENT, "unknown policy '%s' (no %s/%s.policy)",
					  name, reg->policies->dir, name);
	}
	*ret_owned = true;
	return policy_build(reg->config_dir, name, &rules, ret, err);
}

int registry_add(struct registry *reg, struct reg_record *rec, int netns_pid, unsigned flags,
		 struct guard **ret, struct df_err *err)
{
	bool restoring = flags & REG_RESTORING;
	struct guard_spec spec = {.kind = rec->kind,
				  .id = rec->id,
				  .cgroup_path = rec->cgroup,
				  .full_cmdline = rec->full_cmdline};
	char netns[64], pins[PATH_MAX];
	_cleanup_close_ int cgfd = -1;
	struct guard *g = NULL, *outer;
	struct stat st;
	int r;

	/* The cgroup, once: its id and its links come from this fd, never the path again. */
	cgfd = open(rec->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0 || fstat(cgfd, &st) < 0)
		return df_err_set(err, -errno, "cgroup %s: %s", rec->cgroup, strerror(errno));
	/* A record names the cgroup it guarded: a new one at that path is not it. */
	if (rec->cgid && rec->cgid != st.st_ino)
		return df_err_set(
		    err, -ESTALE, "cgroup %s is not the one registered (id %llu, now %llu)",
		    rec->cgroup, (unsigned long long)rec->cgid, (unsigned long long)st.st_ino);
	rec->cgid = st.st_ino;
	g = registry_find_cgroup(reg, rec->cgid);
	if (g) {
		/* prestart and createRuntime both configured: once is enough. */
		if (guard__kind(g) == rec->kind && strcmp(guard__id(g), rec->id) == 0) {
			if (ret)
				*ret = g;
			return 0;
		}
		return df_err_set(err, -EEXIST, "cgroup %s is guarded already (%s)", rec->cgroup,
				  guard__id(g));
	}
	outer = registry_enclosing(reg, rec->cgroup);
	r = resolve_policy(reg, rec, outer, &spec.policy, &spec.owns_policy, err);
	if (r < 0)
		goto closed;
	spec.cgid = rec->cgid;
	if (netns_pid > 0) {
		snprintf(netns, sizeof(netns), "/proc/%d/ns/net", netns_pid);
		spec.netns_path = netns;
	}
	if (rec->kind == GUARD_CONTAINER && !rec->pins && reg->paths) {
		df_paths_container_pins(reg->paths, rec->cgid, pins, sizeof(pins));
		rec->pins = pins;
	}
	/*
	 * The guard entry first, then the links: restored after an upgrade, the
	 * links switch to programs whose maps already hold it (no instant closed).
	 */
	r = engine__add_guard(reg->engine, &spec, &g, err);
	if (r < 0) {
		if (spec.owns_policy && !rec->built)
			policy__free(spec.policy);
		goto closed;
	}
	if (rec->pins) {
		r = dnsguard__attach_pinned(reg->bpf, cgfd, rec->pins, err);
		if (r < 0) {
			df_err_wrap(err, "cgroup %s", rec->cgroup);
			/* A policy the caller built stays the caller's on failure. */
			if (rec->built)
				guard__disown_policy(g);
			engine__remove_guard(reg->engine, g);
			if (!restoring)
				guard_unpin(rec->pins);
			goto closed;
		}
	}
	if (!restoring && reg->paths)
		record_save(reg, rec);
	if (ret)
		*ret = g;
	return 0;
closed:
	/* Restored: its old links stay attached; what they reach must be closed. */
	if (restoring)
		dnsguard__set_closed(reg->bpf, rec->cgid);
	return r;
}

void registry_remove(struct registry *reg, struct guard *g)
{
	char path[PATH_MAX + 200];
	struct guard *o, *next;

	/* What was registered inside it (containers a job started) cannot outlive it:
	 * their guards, pins and records go first. */
	for (o = engine__first_guard(reg->engine); o; o = next) {
		next = engine__next_guard(reg->engine, o);
		if (o != g && cgroup_path_below(guard__cgroup(o), guard__cgroup(g), true)) {
			registry_remove(reg, o);
			next = engine__first_guard(reg->engine);
		}
	}

	if (reg->paths) {
		if (guard__kind(g) == GUARD_CONTAINER) {
			df_paths_container_pins(reg->paths, guard__cgroup_id(g), path,
						sizeof(path));
			guard_unpin(path);
		}
		record_path(reg, guard__kind(g), guard__cgroup_id(g), guard__id(g), path,
			    sizeof(path));
		unlink(path);
	}
	engine__remove_guard(reg->engine, g);
}

/*
 * A process anywhere in CG's subtree (a container may keep its processes in
 * sub-cgroups), so we can reach the registration's netns. 0: none found.
 */
static pid_t live_pid(const char *cg, int depth)
{
	_cleanup_free_ char *procs = NULL;
	char path[PATH_MAX + 16];
	struct dirent *de;
	pid_t pid = 0;
	DIR *dh;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	if (read_file(path, &procs, NULL, 1 << 20) == 0)
		pid = (pid_t)strtol(procs, NULL, 10);
	if (pid > 0 || depth >= 16)
		return pid;
	dh = opendir(cg);
	while (dh && pid <= 0 && (de = readdir(dh))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", cg, de->d_name);
		pid = live_pid(path, depth + 1);
	}
	if (dh)
		closedir(dh);
	return pid;
}

/*
 * Builds before the registry pinned a container's links at links/c-<id>: move
 * them to links/c-<cgroup id> (a rename in bpffs keeps the links attached), so
 * the container keeps one set of links, where registry_remove looks.
 */
static void legacy_pins(struct registry *reg, const char *id, char *buf, size_t cap)
{
	char name[128];

	id_file_name(id, name, sizeof(name));
	snprintf(buf, cap, "%s/links/c-%s", reg->paths->pins, name);
}

static void pins_migrate(struct registry *reg, const struct reg_record *rec)
{
	char old[PATH_MAX], now[PATH_MAX];

	legacy_pins(reg, rec->id, old, sizeof(old));
	df_paths_container_pins(reg->paths, rec->cgid, now, sizeof(now));
	if (access(old, F_OK) < 0)
		return;
	/* Both: the old set duplicates the new one on the same cgroup. */
	if (access(now, F_OK) == 0)
		guard_unpin(old);
	else if (rename(old, now) < 0)
		log_msg(LOG_WARN, "cannot move pins from=%s to=%s: %s", old, now, strerror(errno));
}

static void restore_one(struct registry *reg, const char *file, bool runs)
{
	_cleanup_json_ json_object *o = json_object_from_file(file);
	char pins[PATH_MAX], canon[PATH_MAX + 200];
	struct df_err err = {0};
	struct reg_record rec;
	uint64_t cgid;
	pid_t pid;

	if (reg_record_decode(o, &rec, &err) < 0) {
		log_msg(LOG_WARN, "unreadable registration, removed path=%s: %s", file, err.msg);
		unlink(file);
		return;
	}
	if ((rec.kind == GUARD_RUN) != runs)
		return;
	pins[0] = '\0';
	if (rec.kind == GUARD_CONTAINER) {
		if (!rec.cgid)
			cgroup_id_of(rec.cgroup, &rec.cgid);
		if (rec.cgid) {
			pins_migrate(reg, &rec);
			df_paths_container_pins(reg->paths, rec.cgid, pins, sizeof(pins));
		}
	}
	/* A new cgroup at the recorded path: the registered one is gone as well. */
	if (access(rec.cgroup, F_OK) < 0 ||
	    (rec.cgid && cgroup_id_of(rec.cgroup, &cgid) == 0 && cgid != rec.cgid)) {
		/* It ended while no daemon ran: what it left is ours to clear. */
		if (rec.kind == GUARD_CONTAINER && !rec.cgid)
			legacy_pins(reg, rec.id, pins, sizeof(pins));
		if (pins[0])
			guard_unpin(pins);
		unlink(file);
		log_msg(LOG_INFO, "%s gone while stopped, forgotten id=%s", kind_name(rec.kind),
			rec.id);
		return;
	}
	pid = live_pid(rec.cgroup, 0);
	if (pid <= 0 && rec.kind == GUARD_RUN) {
		/* A run whose job ended while no daemon ran: its empty cgroup goes. */
		cgroup_kill_and_remove(rec.cgroup, 500);
		unlink(file);
		log_msg(LOG_INFO, "run gone while stopped, forgotten id=%s", rec.id);
		return;
	}
	if (pid <= 0) {
		if (cgroup_id_of(rec.cgroup, &cgid) == 0)
			dnsguard__set_closed(reg->bpf, cgid);
		log_msg(LOG_WARN, "container not restored, no process found id=%s (closed)",
			rec.id);
		return;
	}
	if (registry_add(reg, &rec, pid, REG_RESTORING, NULL, &err) < 0) {
		log_msg(LOG_ERROR, "cannot restore %s id=%s: %s (its DNS fails closed)",
			kind_name(rec.kind), rec.id, err.msg);
		return;
	}
	/* A record of an earlier build (named by id alone, no cgroup id) is saved anew. */
	record_path(reg, rec.kind, rec.cgid, rec.id, canon, sizeof(canon));
	if (strcmp(canon, file) != 0 && record_save(reg, &rec) == 0)
		unlink(file);
	log_msg(LOG_INFO, "%s restored id=%s policy=%s cgroup=%s", kind_name(rec.kind), rec.id,
		guard__policy_name(registry_find_cgroup(reg, rec.cgid)), rec.cgroup);
}

void registry_restore(struct registry *reg)
{
	char file[PATH_MAX + 300];
	struct dirent *de;
	DIR *dh;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		dh = opendir(reg->paths->records);
		if (!dh)
			return;
		while ((de = readdir(dh))) {
			size_t n = strlen(de->d_name);

			if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0)
				continue;
			snprintf(file, sizeof(file), "%s/%s", reg->paths->records, de->d_name);
			restore_one(reg, file, pass == 0);
		}
		closedir(dh);
	}
}
