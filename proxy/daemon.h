/* SPDX-License-Identifier: GPL-2.0-only */
/* depfenced's state, shared by its main (depfenced.c) and its control server (daemon_ctl.c). */
#ifndef DEPFENCE_DAEMON_H
#define DEPFENCE_DAEMON_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "engine.h"
#include "loop.h"
#include "policy_store.h"

struct guard_bpf;

#define CTL_MAX_CLIENTS 256

struct ctl_client;

struct daemon {
	const char *config_dir;
	const char *state_dir;
	char instance[64];
	char cgroup_root[PATH_MAX]; /* the v2 mount */
	char runs_parent[PATH_MAX]; /* <v2>/<instance>/runs: programs attached once here */
	char pin_dir[PATH_MAX];	    /* /sys/fs/bpf/<instance> */
	char sock_path[PATH_MAX];
	struct policy_store policies;
	struct guard_bpf *bpf;
	struct loop *loop;
	struct engine *engine;
	struct ev_source ctl_listen;
	struct ev_source sigfd;
	struct ctl_client *clients[CTL_MAX_CLIENTS];
	unsigned long run_seq;
	bool stop;
};

/* Listen on STATEDIR/depfenced.sock (replacing a stale socket file). */
int daemon_ctl_listen(struct daemon *d, struct df_err *err);
void daemon_ctl_close(struct daemon *d);

/* daemon_containers.c: registrations from depfence-hook, and their recovery. */
/*
 * SCOPE NULL: the request may touch any container (an unguarded process, a
 * restore). Otherwise it comes from inside a guard whose cgroup is SCOPE: it
 * may register and unregister only containers whose cgroup is below SCOPE
 * (those the job started), never another workload's guard.
 */
json_object *daemon_container_register(struct daemon *d, json_object *req, bool restoring,
				       const char *scope);
json_object *daemon_container_unregister(struct daemon *d, json_object *req, const char *scope);
/*
 * Where control requests of process PID may reach: 1 and SCOPE set if PID is
 * inside a guard (the daemon's nearest guard, or its own cgroup if another
 * proxy guards it), 0 if it is unguarded, -errno if PID cannot be placed.
 */
int daemon_peer_scope(struct daemon *d, pid_t pid, char *scope, size_t cap);
/* STATEDIR/guards/<id>.json: what a restarted daemon restores. */
void daemon_registration_save(struct daemon *d, const char *id, json_object *rec);
void daemon_registration_forget(struct daemon *d, const char *id);
/*
 * A run saved by a previous daemon (REC: its run-start request with id and
 * cgroup): guarded again with its policy and listeners in the netns of PID,
 * one of its processes (0: none, the run ended while no daemon ran: cleared),
 * until its `depfence run` adopts it (run-adopt) or its cgroup empties.
 */
void daemon_run_restore(struct daemon *d, json_object *rec, pid_t pid);
/* Runs no client owns whose cgroup has no process left: removed. Called about once a second. */
void daemon_reap_orphan_runs(struct daemon *d);
/*
 * After set-up: no_new_privs, and only the capabilities registrations need
 * (daemon_privs.c), in the effective, permitted and bounding sets.
 */
int daemon_drop_privileges(struct df_err *err);
/*
 * The last step of start-up (daemon_seccomp.c): a seccomp allowlist of the
 * system calls serving needs. Any other call fails with EPERM and is logged
 * once per call ("WARN seccomp refused syscall=NAME nr=N errno=EPERM").
 */
int daemon_seccomp_install(struct df_err *err);
/*
 * After a restart (even kill -9): re-register every container saved in
 * STATEDIR/guards whose cgroup still has processes; forget the rest.
 */
void daemon_restore(struct daemon *d);
/*
 * Close every guard entry in the pinned map that this daemon does not serve
 * (runs of a daemon that died): their listeners' ports are free for anyone to
 * bind, so they must not be redirected there.
 */
void daemon_close_unknown(struct daemon *d);

#endif
