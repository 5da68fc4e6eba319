// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control operations for containers (depfence-hook's register and
 * unregister): who may ask for what, checked here; the registration itself is
 * the registry's (registry.c): the container's cgroup gets the programs with
 * pinned links, so they outlive this process, and its record is saved, so a
 * daemon restarted after a crash re-opens its listeners. Until it does, the
 * container's DNS fails closed.
 */
#include "daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "config.h"
#include "ctl_proto.h"
#include "dnsguard_api.h"
#include "log.h"

/* Is cgroup path CG at or below SCOPE? */
static bool below(const char *cg, const char *scope)
{
	return cgroup_path_below(cg, scope, false);
}

/* The guard registered on cgroup path CG itself, or NULL. */
static struct guard *guard_at(struct daemon *d, const char *cg)
{
	struct guard *g;

	for (g = engine__first_guard(d->engine); g; g = engine__next_guard(d->engine, g))
		if (strcmp(guard__cgroup(g), cg) == 0)
			return g;
	return NULL;
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
	g = guard_at(d, cg) ?: registry_enclosing(&d->reg, cg);
	if (g) {
		snprintf(scope, cap, "%s", guard__cgroup(g));
		return 1;
	}
	/* Guarded by another proxy (an embedded run): none of our guards is its. */
	if (dnsguard__cgroup_guarded(cg)) {
		snprintf(scope, cap, "%s", cg);
		return 2;
	}
	return 0;
}

/* G's cgroup is gone, or another cgroup has its path now. */
static bool cgroup_gone(struct guard *g)
{
	uint64_t now;

	return cgroup_id_of(guard__cgroup(g), &now) < 0 || now != guard__cgroup_id(g);
}

/* G's container is gone, or has no process left in the cgroup it registered. */
static bool stale(struct guard *g)
{
	return cgroup_gone(g) || !cgroup_populated(guard__cgroup(g));
}

void daemon_reap_gone_containers(struct daemon *d)
{
	struct guard *g, *next;

	for (g = engine__first_guard(d->engine); g; g = next) {
		next = engine__next_guard(d->engine, g);
		if (guard__kind(g) != GUARD_CONTAINER || !cgroup_gone(g))
			continue;
		log_msg(LOG_INFO, "container gone, forgotten id=%s cgroup=%s", guard__id(g),
			guard__cgroup(g));
		registry_remove(&d->reg, g);
		next = engine__first_guard(d->engine); /* a removal may take others with it */
	}
}

/* How many registrations a guarded job may make: each holds four sockets and a map entry. */
#define SCOPE_MAX_REGISTRATIONS 64

static int registrations_below(struct daemon *d, const char *scope)
{
	struct guard *g;
	int n = 0;

	for (g = engine__first_guard(d->engine); g; g = engine__next_guard(d->engine, g))
		n += cgroup_path_below(guard__cgroup(g), scope, true);
	return n;
}

json_object *daemon_container_register(struct daemon *d, json_object *req, const char *scope)
{
	struct reg_record rec = {.kind = GUARD_CONTAINER};
	struct ctl_register m;
	struct df_err err = {0};
	char cg[PATH_MAX], own[PATH_MAX];
	struct guard *g;
	int r;

	if (ctl_register_decode(req, &m, &err) < 0)
		return ctl_error("register: %s", err.msg);
	/* The cgroup as this daemon sees it, from the pid: a hook inside a guarded
	 * job sees the job's cgroup namespace, where paths differ. */
	r = cgroup_path_of_pid(m.pid, cg, sizeof(cg), NULL);
	if (r != 0)
		return ctl_error("pid %d of container %s: %s", m.pid, m.id,
				 r > 0 ? "in the root cgroup" : "no such process");
	if (!below(cg, d->paths.cgroup_root) || strcmp(cg, d->paths.cgroup_root) == 0)
		return ctl_error("cgroup %s is not below the cgroup v2 mount %s", cg,
				 d->paths.cgroup_root);
	/* Never the daemon's own cgroup or one above it: that would guard the guard. */
	if (cgroup_path_of_pid(getpid(), own, sizeof(own), NULL) >= 0 && below(own, cg))
		return ctl_error("cgroup %s holds depfenced itself", cg);
	/* A guarded job may guard what it starts (strictly below it), nothing else. */
	if (scope && (!below(cg, scope) || strcmp(cg, scope) == 0))
		return ctl_error("cgroup %s is outside the requester's guard %s", cg, scope);
	if (strncmp(m.id, "run-", 4) == 0)
		return ctl_error("container id '%s': run-* ids are the daemon's", m.id);
	if (scope && registrations_below(d, scope) >= SCOPE_MAX_REGISTRATIONS)
		return ctl_error("guard %s has %d registrations inside it already", scope,
				 SCOPE_MAX_REGISTRATIONS);
	rec.id = m.id;
	rec.cgroup = cg;
	rec.policy = m.policy;
	rec.inherit = m.inherit;
	/* A container whose poststop never came may hold this name still. */
	daemon_reap_gone_containers(d);
	if (registry_add(&d->reg, &rec, m.pid, 0, &g, &err) < 0)
		return ctl_error("%s", err.msg);
	log_msg(LOG_INFO, "container registered id=%s policy=%s cgroup=%s", m.id,
		guard__policy_name(g), cg);
	return ctl_ok();
}

/*
 * poststop: the container's processes are gone. Registrations are keyed by
 * cgroup, so a name two runtimes both use names two guards: the one whose
 * cgroup is empty or gone is this container's; the other still runs.
 */
json_object *daemon_container_unregister(struct daemon *d, json_object *req, const char *scope)
{
	struct guard *g, *next, *match[8];
	struct df_err err = {0};
	struct ctl_id m;
	int n = 0, done = 0, outside = 0, i;
	json_object *reply;

	if (ctl_id_decode(req, &m, &err) < 0)
		return ctl_error("unregister: %s", err.msg);
	for (g = engine__first_guard(d->engine); g && n < 8; g = next) {
		next = engine__next_guard(d->engine, g);
		if (guard__kind(g) != GUARD_CONTAINER || strcmp(guard__id(g), m.id) != 0)
			continue;
		/* From inside a guard: only a container that job started. */
		if (scope && !below(guard__cgroup(g), scope)) {
			outside++;
			continue;
		}
		match[n++] = g;
	}
	if (!n && outside)
		return ctl_error("container %s is outside the requester's guard %s", m.id, scope);
	for (i = 0; i < n; i++) {
		/* Still running in the cgroup it registered: another runtime's container
		 * of that name (an unannotated namesake's poststop asks too), not this. */
		if (!stale(match[i]))
			continue;
		log_msg(LOG_INFO, "container unregistered id=%s cgroup=%s", m.id,
			guard__cgroup(match[i]));
		registry_remove(&d->reg, match[i]);
		done++;
	}
	reply = ctl_ok();
	if (!done)
		json_object_object_add(reply, "unknown", json_object_new_boolean(1));
	if (n && !done)
		log_msg(LOG_INFO, "unregister of a running container's name, kept id=%s count=%d",
			m.id, n);
	return reply;
}

void daemon_close_unknown(struct daemon *d)
{
	__u64 keep[DF_MAX_GUARDS];
	struct guard *g;
	int n = 0, closed;

	for (g = engine__first_guard(d->engine); g && n < DF_MAX_GUARDS;
	     g = engine__next_guard(d->engine, g))
		keep[n++] = guard__cgroup_id(g);
	closed = dnsguard__close_others(d->bpf, keep, n);
	if (closed)
		log_msg(LOG_WARN,
			"closed guard entries left by a previous daemon count=%d (their "
			"DNS and connections now fail)",
			closed);
}
