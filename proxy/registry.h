/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The registry: the life of every registration, one path for daemon runs,
 * containers and embedded runs.
 *
 *   registry_add:    resolve the policy -> open the cgroup once (its id, its
 *                    links, from that fd) -> engine guard (listeners, guard
 *                    entry) -> attach and pin -> save the typed record
 *   registry_restore: every saved record through registry_add again
 *   registry_remove: guard gone, pins gone, record gone
 *
 * Registrations are keyed by kind and cgroup id: a container's id (its name in
 * its runtime) is a label, so two runtimes' containers of one name never touch
 * each other's guards, pins or records.
 */
#ifndef DEPFENCE_REGISTRY_H
#define DEPFENCE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "ctl_proto.h"
#include "engine.h"
#include "paths.h"
#include "policy_store.h"

struct dnsguard;

/* A registration as saved and restored: typed, one encoder and one decoder. */
struct reg_record {
	enum guard_kind kind;
	const char *id;
	const char *cgroup; /* absolute cgroup v2 path */
	uint64_t cgid;	    /* its id when registered; 0: not known yet */
	const char *policy; /* NULL: the default, or with INHERIT the enclosing guard's */
	bool inherit;
	struct ctl_rules rules; /* inline rules on top of POLICY (runs) */
	bool full_cmdline;	/* its command lines logged unredacted (runs) */
	/* Not saved: where its links go. Containers: links/c-CGID when NULL; daemon
	 * runs: none (the runs parent's cover them); embedded runs: their own. */
	const char *pins;
	/* Not saved: a policy the caller built (an embedded run), the guard's once
	 * registry_add succeeds, the caller's still if it fails. NULL: resolved. */
	struct policy *built;
};

json_object *reg_record_encode(const struct reg_record *r);
/* Strings point into O. Refuses a record without kind, id, cgroup or cgroup id. */
int reg_record_decode(json_object *o, struct reg_record *r, struct df_err *err);

struct registry {
	struct engine *engine;
	struct dnsguard *bpf;
	struct policy_store *policies; /* NULL: every policy is built from CONFIG_DIR */
	const char *config_dir;
	const struct df_paths *paths; /* NULL: nothing is saved (an embedded run) */
};

enum {
	REG_RESTORING = 1 << 0, /* from a saved record: it is not saved again */
};

/*
 * Register REC, its listeners in the network namespace of NETNS_PID (0: ours).
 * On error nothing of it is left, except when restoring: then the cgroup's
 * guard entry is closed (its old links stay attached and fail closed).
 * REC->cgid is filled in. Containers get their pins at
 * links/c-CGID unless REC->pins names others.
 */
int registry_add(struct registry *reg, struct reg_record *rec, int netns_pid, unsigned flags,
		 struct guard **ret, struct df_err *err);
/* Remove G: its guard entry and listeners, its pins (if its own) and its saved record. */
void registry_remove(struct registry *reg, struct guard *g);
/*
 * Every saved record, runs first (a container a run started is restored inside
 * its guard): registered again with listeners in the netns of one of its
 * processes. A cgroup that is gone is forgotten (pins, record); one that still
 * exists but has no process or cannot be served gets a closed guard entry.
 */
void registry_restore(struct registry *reg);
/* The registered guard of cgroup CGID, or NULL. */
struct guard *registry_find_cgroup(struct registry *reg, uint64_t cgid);
/* The guard of the nearest registered ancestor of cgroup path CG, or NULL. */
struct guard *registry_enclosing(struct registry *reg, const char *cg);

#endif
