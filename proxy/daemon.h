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
