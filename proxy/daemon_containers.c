// SPDX-License-Identifier: GPL-2.0-only
/*
 * Containers registered by depfence-hook. Each registration attaches the
 * programs to the container's cgroup with pinned links, so they outlive this
 * process, and is saved in STATEDIR/guards/<id>.json, so a daemon restarted
 * after a crash or kill -9 re-opens the container's listeners and answers
 * again (its BPF maps are pinned too). Until it does, the container's DNS
 * fails closed: the guard entry still points at listeners that are gone.
 */
#include "daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "config.h"
#include "ctl_proto.h"
#include "guard_bpf.h"
#include "log.h"

static void container_pin_dir(struct daemon *d, const char *id, char *buf, size_t cap)
{
	char name[128];

	id_file_name(id, name, sizeof(name));
	snprintf(buf, cap, "%s/links/c-%s", d->pin_dir, name);
}

static void registration_path(struct daemon *d, const char *id, char *buf, size_t cap)
{
	char name[128];

	id_file_name(id, name, sizeof(name));
	snprintf(buf, cap, "%s/guards/%s.json", d->state_dir, name);
}

void daemon_registration_save(struct daemon *d, const char *id, json_object *req)
{
	char dir[PATH_MAX], path[PATH_MAX + 160];

	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	char tmp[PATH_MAX + 200];
	int fd;

	snprintf(dir, sizeof(dir), "%s/guards", d->state_dir);
	mkdir(dir, 0700);
	registration_path(d, id, path, sizeof(path));
	/* Written whole under a temporary name, never through a link, then renamed:
	 * a restarted daemon reads the old record or the new one, nothing between. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_full(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_msg(LOG_WARN, "cannot save registration path=%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
}

void daemon_registration_forget(struct daemon *d, const char *id)
{
	char path[PATH_MAX + 160];

	registration_path(d, id, path, sizeof(path));
	unlink(path);
}

/*
 * A container from depfence-hook: attach the programs to its cgroup, open
 * listeners in its netns, write the guard entry. Any failure undoes what was
 * done: the hook then fails and the runtime does not start the container.
 * When restoring after a restart the programs are attached first, and a
 * container that cannot be served again gets a closed guard entry.
 */
/*
 * The guard of the nearest registered ancestor of cgroup CG (a run or a
 * container that started this container), or NULL.
 */
static struct guard *enclosing_guard(struct daemon *d, const char *cg, const char *id)
{
	struct guard *g, *best = NULL;
	size_t best_len = 0;

	for (g = engine__first_guard(d->engine); g; g = engine__next_guard(d->engine, g)) {
		const char *gp = guard__cgroup(g);
		size_t n = strlen(gp);

		if (!strcmp(guard__id(g), id) || strncmp(cg, gp, n) != 0 || cg[n] != '/')
			continue;
		if (n > best_len) {
			best = g;
			best_len = n;
		}
	}
	return best;
}

/*
 * The container's cgroup as this daemon sees it, from its pid: a hook run
 * inside a guarded job sees the job's cgroup namespace, where paths differ.
 * The request keeps the result, so a restore uses it.
 */
static int cgroup_from_pid(struct daemon *d, json_object *req, char *buf, size_t cap)
{
	json_object *v;
	int pid, root;

	if (!json_object_object_get_ex(req, "pid", &v) || (pid = json_object_get_int(v)) <= 0)
		return 0;
	root = cgroup_path_of_pid(pid, buf, cap, NULL);
	if (root < 0)
		return -ESRCH;
	if (root)
		return -EPERM;
	json_object_object_add(req, "cgroup", json_object_new_string(buf));
	return 1;
}

/* Is cgroup path CG at or below SCOPE (at a '/' boundary)? */
static bool below(const char *cg, const char *scope)
{
	size_t n = strlen(scope);

	return strncmp(cg, scope, n) == 0 && (cg[n] == '/' || cg[n] == '\0');
}

int daemon_peer_scope(struct daemon *d, pid_t pid, char *scope, size_t cap)
{
	char cg[PATH_MAX];
	struct guard *g;
	int r;

	if (pid <= 0)
		return -ESRCH;
	r = cgroup_path_of_pid(pid, cg, sizeof(cg), NULL);
	if (r < 0)
		return r;
	g = enclosing_guard(d, cg, "");
	if (g) {
		snprintf(scope, cap, "%s", guard__cgroup(g));
		return 1;
	}
	/* Guarded by another proxy (an embedded run): only its own subtree. */
	if (guard_bpf__cgroup_guarded(cg)) {
		snprintf(scope, cap, "%s", cg);
		return 1;
	}
	return 0;
}

json_object *daemon_container_register(struct daemon *d, json_object *req, bool restoring,
				       const char *scope)
{
	const char *id = ctl_get_str(req, "id"), *cg;
	const char *netns = ctl_get_str(req, "netns"), *pname = ctl_get_str(req, "policy");
	struct guard_spec spec = {.kind = GUARD_CONTAINER, .netns_path = netns};
	struct df_err err = {0};
	char pins[PATH_MAX], pid_cg[PATH_MAX];
	struct guard *g, *outer;
	json_object *inh;
	bool inherit =
	    json_object_object_get_ex(req, "inherit", &inh) && json_object_get_boolean(inh);
	uint64_t cgid;
	int r;

	if (!restoring) {
		r = cgroup_from_pid(d, req, pid_cg, sizeof(pid_cg));
		if (r < 0)
			return ctl_error("pid of container %s: %s", id ? id : "?",
					 r == -EPERM ? "in the root cgroup" : "no such process");
	}
	cg = ctl_get_str(req, "cgroup");
	if (!id || !id[0] || !cg || (!pname && !inherit))
		return ctl_error("register needs \"id\", \"cgroup\" and \"policy\"");
	if (strncmp(cg, d->cgroup_root, strlen(d->cgroup_root)) != 0 ||
	    cg[strlen(d->cgroup_root)] != '/' || strstr(cg, "/../"))
		return ctl_error("cgroup %s is not below the cgroup v2 mount %s", cg,
				 d->cgroup_root);
	/* Never the daemon's own cgroup or one above it: that would guard the guard. */
	{
		char own[PATH_MAX];

		if (cgroup_path_of_pid(getpid(), own, sizeof(own), NULL) >= 0 && below(own, cg))
			return ctl_error("cgroup %s holds depfenced itself", cg);
	}
	/* A guarded job may guard what it starts (strictly below it), nothing else. */
	if (scope && (!below(cg, scope) || strcmp(cg, scope) == 0))
		return ctl_error("cgroup %s is outside the requester's guard %s", cg, scope);
	if (!restoring && strncmp(id, "run-", 4) == 0)
		return ctl_error("container id '%s': run-* ids are the daemon's", id);
	/* What is saved is a container record, whatever the request said it was. */
	json_object_object_add(req, "kind", json_object_new_string("container"));
	r = cgroup_id_of(cg, &cgid);
	if (r < 0)
		return ctl_error("cgroup %s: %s", cg, strerror(-r));
	g = engine__find_guard(d->engine, id);
	if (g && guard__kind(g) != GUARD_CONTAINER)
		return ctl_error("id '%s' belongs to a run, not a container", id);
	/* One guard per cgroup: a second registration would replace its policy. */
	{
		struct guard *o;

		for (o = engine__first_guard(d->engine); o; o = engine__next_guard(d->engine, o))
			if (o != g && guard__cgroup_id(o) == cgid)
				return ctl_error("cgroup %s is guarded already (%s)", cg,
						 guard__id(o));
	}
	if (g && guard__cgroup_id(g) == cgid)
		return ctl_ok(); /* prestart and createRuntime both configured: once is enough */
	if (g) {
		/* The same id on a new cgroup: its poststop never reached us. */
		log_msg(LOG_WARN, "container re-registered on a new cgroup, old one dropped id=%s",
			id);
		engine__remove_guard(d->engine, g);
	}
	container_pin_dir(d, id, pins, sizeof(pins));
	/*
	 * Started inside a guarded job: the job's policy goes with it. A policy of
	 * its own would replace the job's for it (the nearest guard decides), so
	 * only the same one may be named.
	 */
	outer = enclosing_guard(d, cg, id);
	if (inherit && !outer) {
		if (restoring)
			guard_bpf__set_closed(d->bpf, cgid);
		return ctl_error("container %s is not inside a guard this daemon serves", id);
	}
	if (outer && pname && strcmp(pname, guard__policy_name(outer)) != 0)
		return ctl_error("container %s is inside guard %s (policy %s): it may not choose "
				 "policy '%s'",
				 id, guard__id(outer), guard__policy_name(outer), pname);
	if (inherit)
		pname = guard__policy_name(outer);
	spec.policy = outer ? guard__policy(outer) : policy_store__find(&d->policies, pname);
	if (!spec.policy) {
		if (restoring)
			guard_bpf__set_closed(d->bpf, cgid);
		return ctl_error("unknown policy '%s' (no %s/%s.policy)", pname, d->policies.dir,
				 pname);
	}
	spec.id = id;
	spec.cgroup_path = cg;
	/*
	 * The guard's entry first, then the links: restored after an upgrade, the
	 * links switch to programs whose maps already hold it (no instant closed).
	 */
	r = engine__add_guard(d->engine, &spec, &g, &err);
	if (r == 0 && guard_bpf__attach_pinned(d->bpf, cg, pins, &err) < 0) {
		engine__remove_guard(d->engine, g);
		r = -1;
	}
	if (r < 0) {
		if (restoring)
			guard_bpf__set_closed(d->bpf, cgid);
		else
			guard_unpin(pins);
		return ctl_error("register %s: %s", id, err.msg);
	}
	if (!restoring)
		daemon_registration_save(d, id, req);
	log_msg(LOG_INFO, "container %s id=%s policy=%s cgroup=%s",
		restoring ? "restored" : "registered", id, pname, cg);
	return ctl_ok();
}

json_object *daemon_container_unregister(struct daemon *d, json_object *req, const char *scope)
{
	const char *id = ctl_get_str(req, "id");
	struct guard *g;
	char pins[PATH_MAX];
	json_object *reply;

	if (!id || !id[0])
		return ctl_error("unregister needs \"id\"");
	g = engine__find_guard(d->engine, id);
	/* From inside a guard: only a container that job started, and nothing unknown. */
	if (scope && (!g || guard__kind(g) != GUARD_CONTAINER)) {
		reply = ctl_ok();
		json_object_object_add(reply, "unknown", json_object_new_boolean(1));
		return reply;
	}
	if (scope && !below(guard__cgroup(g), scope))
		return ctl_error("container %s is outside the requester's guard %s", id, scope);
	container_pin_dir(d, id, pins, sizeof(pins));
	guard_unpin(pins);
	daemon_registration_forget(d, id);
	reply = ctl_ok();
	if (!g || guard__kind(g) != GUARD_CONTAINER) {
		json_object_object_add(reply, "unknown", json_object_new_boolean(1));
		return reply;
	}
	log_msg(LOG_INFO, "container unregistered id=%s", id);
	engine__remove_guard(d->engine, g);
	return reply;
}

/*
 * A process anywhere in CG's subtree (a container may keep its processes in
 * sub-cgroups), so we can reach the container's netns. 0: none found.
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

static void restore_one(struct daemon *d, const char *file, bool runs)
{
	json_object *req = json_object_from_file(file), *reply;
	const char *id, *cg;
	char netns[64], pins[PATH_MAX];
	pid_t pid;

	if (!req || !(id = ctl_get_str(req, "id")) || !(cg = ctl_get_str(req, "cgroup"))) {
		log_msg(LOG_WARN, "unreadable registration, removed path=%s", file);
		unlink(file);
		json_object_put(req);
		return;
	}
	/* Runs first, then containers: a container inside a run finds its guard. */
	if ((ctl_get_str(req, "kind") && strcmp(ctl_get_str(req, "kind"), "run") == 0) != runs) {
		json_object_put(req);
		return;
	}
	pid = live_pid(cg, 0);
	/* A run of a previous daemon: its `depfence run` adopts it again (run-adopt). */
	if (runs) {
		daemon_run_restore(d, req, pid);
		json_object_put(req);
		return;
	}
	if (pid <= 0 && access(cg, F_OK) == 0) {
		/* Its cgroup is still there but we found no process: keep it closed. */
		uint64_t cgid;

		if (cgroup_id_of(cg, &cgid) == 0)
			guard_bpf__set_closed(d->bpf, cgid);
		log_msg(LOG_WARN, "container not restored, no process found id=%s (closed)", id);
		json_object_put(req);
		return;
	}
	if (pid <= 0) {
		/* The container ended while no daemon ran: what it left is ours to clear. */
		container_pin_dir(d, id, pins, sizeof(pins));
		guard_unpin(pins);
		unlink(file);
		log_msg(LOG_INFO, "container gone while stopped, forgotten id=%s", id);
		json_object_put(req);
		return;
	}
	snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)pid);
	json_object_object_add(req, "netns", json_object_new_string(netns));
	reply = daemon_container_register(d, req, true, NULL);
	if (!json_object_get_boolean(json_object_object_get(reply, "ok")))
		log_msg(LOG_ERROR, "cannot restore container id=%s: %s (its DNS fails closed)", id,
			ctl_get_str(reply, "error"));
	json_object_put(reply);
	json_object_put(req);
}

void daemon_restore(struct daemon *d)
{
	char dir[PATH_MAX], file[PATH_MAX + 300];
	struct dirent *de;
	DIR *dh;

	int pass;

	snprintf(dir, sizeof(dir), "%s/guards", d->state_dir);
	/* Runs first: a container a run started is restored inside its guard. */
	for (pass = 0; pass < 2; pass++) {
		dh = opendir(dir);
		if (!dh)
			return;
		while ((de = readdir(dh))) {
			size_t n = strlen(de->d_name);

			if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0)
				continue;
			snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
			restore_one(d, file, pass == 0);
		}
		closedir(dh);
	}
}

void daemon_close_unknown(struct daemon *d)
{
	__u64 keep[DF_MAX_GUARDS];
	struct guard *g;
	int n = 0, closed;

	for (g = engine__first_guard(d->engine); g && n < DF_MAX_GUARDS;
	     g = engine__next_guard(d->engine, g))
		keep[n++] = guard__cgroup_id(g);
	closed = guard_bpf__close_others(d->bpf, keep, n);
	if (closed)
		log_msg(LOG_WARN,
			"closed guard entries left by a previous daemon count=%d (their "
			"DNS and connections now fail)",
			closed);
}
