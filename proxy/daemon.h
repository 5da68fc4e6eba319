/* SPDX-License-Identifier: GPL-2.0-only */
/* depfenced's state, shared by its main (depfenced.c) and its control server (daemon_ctl.c). */
#ifndef DEPFENCE_DAEMON_H
#define DEPFENCE_DAEMON_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "engine.h"
#include "loop.h"
#include "paths.h"
#include "policy_store.h"
#include "registry.h"

struct dnsguard;

#define CTL_MAX_CLIENTS 256

struct ctl_client;
struct metrics_http;

struct daemon {
	const char *config_dir;
	const char *state_dir;
	struct df_paths paths; /* runs_parent: programs attached once there for every run */
	struct policy_store policies;
	struct registry reg;
	struct dnsguard *bpf;
	struct loop *loop;
	struct engine *engine;
	struct ev_source ctl_listen;
	struct ev_source sigfd;
	struct ctl_client *clients[CTL_MAX_CLIENTS];
	unsigned long run_seq;
	struct metrics_http *metrics; /* --metrics-listen; NULL: off */
	int notify_fd;		      /* $NOTIFY_SOCKET, connected; -1: not under systemd */
	bool stop;
};

/*
 * SIGHUP: read every policy file again (policy_store__reload); a changed one
 * replaces its policy in every guard that uses it (engine__replace_policy),
 * in an order that never leaves a guard without its rules. Logs the outcome;
 * returns the number of files with errors.
 */
int daemon_reload_policies(struct daemon *d);

/*
 * daemon_notify.c: sd_notify(3) by hand. _open connects to $NOTIFY_SOCKET
 * (*ret_fd -1 when unset) and must run before the seccomp filter, which
 * allows no AF_UNIX socket; daemon_notify(fd, "READY=1") only sends.
 */
int daemon_notify_open(int *ret_fd, struct df_err *err);
int daemon_notify(int fd, const char *msg);

/* Listen on STATEDIR/depfenced.sock (replacing a stale socket file). */
int daemon_ctl_listen(struct daemon *d, struct df_err *err);
void daemon_ctl_close(struct daemon *d);

/* daemon_metrics.c: --metrics-listen ADDR:PORT; -EINVAL unless an IP address and a port. */
int metrics_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
/* Serve GET /metrics on ADDR (the Prometheus text of engine__render_metrics). */
int daemon_metrics_listen(struct daemon *d, const struct sockaddr_storage *addr, socklen_t len,
			  struct df_err *err);
/* Close scrapers past their deadline. */
void daemon_metrics_tick(struct daemon *d, uint64_t now);
void daemon_metrics_close(struct daemon *d);

/* daemon_containers.c: registrations from depfence-hook, and their recovery. */
/*
 * SCOPE NULL: the request may touch any container (an unguarded process, a
 * restore). Otherwise it comes from inside a guard whose cgroup is SCOPE: it
 * may register and unregister only containers whose cgroup is below SCOPE
 * (those the job started), never another workload's guard.
 */
json_object *daemon_container_register(struct daemon *d, json_object *req, const char *scope);
json_object *daemon_container_unregister(struct daemon *d, json_object *req, const char *scope);
/*
 * Where control requests of process PID may reach: 1 and SCOPE set to the
 * guard's cgroup if PID is in or below one of our guards; 2 (SCOPE its own
 * cgroup) if another proxy guards it (an embedded run), whose policy we do not
 * know: it may not register or unregister anything; 0 if it is unguarded;
 * -errno if PID cannot be placed.
 */
int daemon_peer_scope(struct daemon *d, pid_t pid, char *scope, size_t cap);
/* Containers whose cgroup is gone or replaced (a poststop that never came): removed. */
void daemon_reap_gone_containers(struct daemon *d);
/*
 * Runs no client owns whose cgroup has no process left, and gone containers:
 * removed. About once a second.
 */
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
 * Close every guard entry in the pinned map that this daemon does not serve
 * (runs of a daemon that died): their listeners' ports are free for anyone to
 * bind, so they must not be redirected there.
 */
void daemon_close_unknown(struct daemon *d);

#endif
