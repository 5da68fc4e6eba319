// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfenced's control server. A `depfence run` registration is bound to the
 * connection that made it: when the client goes away, however it goes, the
 * run's guard is removed and its cgroup killed and removed, so nothing is left
 * half-registered.
 */
#include "daemon.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "ctl_proto.h"
#include "dnsguard_api.h"
#include "log.h"
#include "report_collect.h"
#include "run_report.h"

struct ctl_client {
	struct ev_source src;
	struct daemon *d;
	int slot;
	struct guard *run; /* the run this connection registered, removed on close */
	char run_cgroup[PATH_MAX];
	pid_t peer; /* SO_PEERCRED: who is asking */
	/*
	 * Where the peer was when it connected (daemon_peer_scope), worked out once
	 * at accept: a pid read again later may be another process's by then.
	 */
	int scope_rc;
	char scope[PATH_MAX];
	uid_t uid;
	char buf[CTL_MAX_LINE];
	size_t len;
	/* Replies the client has not read yet: the socket is non-blocking, so a client
	 * that reads slowly or not at all never holds the loop; it holds at most
	 * CTL_MAX_QUEUED bytes of its own replies, and is not read from meanwhile. */
	char *out;
	size_t out_len, out_off;
	bool waiting_out; /* polled for EPOLLOUT, not EPOLLIN */
	bool broken;	  /* its replies past CTL_MAX_QUEUED, or a write failed: close */
};

#define CTL_MAX_QUEUED (2 * CTL_MAX_REPLY)

static void run_end(struct ctl_client *c)
{
	struct daemon *d = c->d;

	if (c->run) {
		log_msg(LOG_INFO, "run ended id=%s", guard__id(c->run));
		/* A daemon that stops leaves the job running (its DNS now fails closed,
		 * the next daemon restores it); only a client that went away ends it,
		 * before its guard goes. */
		if (!d->stop) {
			cgroup_kill_and_remove(c->run_cgroup, 1000);
			registry_remove(&d->reg, c->run);
		} else {
			engine__remove_guard(d->engine, c->run);
		}
		c->run = NULL;
	}
}

static void client_close(struct ctl_client *c)
{
	struct daemon *d = c->d;

	run_end(c);
	loop__del(d->loop, &c->src);
	closep(&c->src.fd);
	d->clients[c->slot] = NULL;
	free(c->out);
	free(c);
}

/* Write what is queued for C, as much as the socket takes now. */
static void client_flush(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->src.fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->broken = true;
			return;
		}
		c->out_off += n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	/* Replies waiting: wait for room, read no more requests until they are out. */
	if (c->waiting_out != (c->out_len != 0)) {
		c->waiting_out = c->out_len != 0;
		loop__mod(c->d->loop, &c->src, c->waiting_out ? EPOLLOUT : EPOLLIN);
	}
}

/* Queue REPLY (one line) for C and send what the socket takes now. */
static void client_reply(struct ctl_client *c, json_object *reply)
{
	const char *s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s) + 1;
	char *grown;

	if (n > CTL_MAX_REPLY || c->out_len + n > CTL_MAX_QUEUED) {
		log_msg(LOG_WARN, "control client did not take its replies, closing");
		c->broken = true;
		return;
	}
	if (c->out_off) { /* room at the front: move what is left there */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	grown = realloc(c->out, c->out_len + n);
	if (!grown) {
		c->broken = true;
		return;
	}
	c->out = grown;
	memcpy(c->out + c->out_len, s, n - 1);
	c->out[c->out_len + n - 1] = '\n';
	c->out_len += n;
	client_flush(c);
}

/* A client that owns guard G (the run it started or adopted), or NULL. */
static struct ctl_client *owner_of(struct daemon *d, const struct guard *g)
{
	int i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (d->clients[i] && d->clients[i]->run == g)
			return d->clients[i];
	return NULL;
}

void daemon_reap_orphan_runs(struct daemon *d)
{
	struct guard *g, *next;

	daemon_reap_gone_containers(d);
	for (g = engine__first_guard(d->engine); g; g = next) {
		next = engine__next_guard(d->engine, g);
		if (guard__kind(g) != GUARD_RUN || owner_of(d, g) ||
		    cgroup_populated(guard__cgroup(g)))
			continue;
		log_msg(LOG_INFO, "run ended id=%s (no client came back, no process left)",
			guard__id(g));
		cgroup_kill_and_remove(guard__cgroup(g), 500);
		registry_remove(&d->reg, g);
		/* Its removal takes what was registered inside it: walk again. */
		next = engine__first_guard(d->engine);
	}
}

/* A `depfence run` whose daemon restarted takes its run back: it ends it when it ends. */
static json_object *op_run_adopt(struct ctl_client *c, json_object *req)
{
	struct df_err err = {0};
	struct ctl_id m;
	struct guard *g;
	const char *id;

	if (ctl_id_decode(req, &m, &err) < 0)
		return ctl_error("run-adopt: %s", err.msg);
	id = m.id;
	if (c->run)
		return ctl_error("this connection already has a run");
	if (!(g = engine__find_guard(c->d->engine, id)) || guard__kind(g) != GUARD_RUN)
		return ctl_error("no run '%s' here", id);
	if (owner_of(c->d, g))
		return ctl_error("run '%s' has its client", id);
	/* Its client is outside every guard; a job must not take over a run to end it. */
	if (c->scope_rc != 0)
		return ctl_error("run-adopt from inside a guard");
	c->run = g;
	snprintf(c->run_cgroup, sizeof(c->run_cgroup), "%s", guard__cgroup(g));
	log_msg(LOG_INFO, "run adopted id=%s", id);
	return ctl_ok();
}

static json_object *op_run_start(struct ctl_client *c, json_object *req)
{
	struct daemon *d = c->d;
	struct reg_record rec = {.kind = GUARD_RUN};
	struct ctl_run_start m;
	struct df_err err = {0};
	char id[64];
	int r;

	if (c->run)
		return ctl_error("this connection already started a run");
	/* A job would get a laxer guard beside its own: a nested run guards itself. */
	if (c->scope_rc != 0)
		return ctl_error("run-start from inside a guard (a nested depfence run runs "
				 "embedded, inside it)");
	if (ctl_run_start_decode(req, &m, &err) < 0)
		return ctl_error("run-start: %s", err.msg);
	/* A fresh cgroup: a restored run of an earlier daemon with our pid may hold the name. */
	do {
		snprintf(id, sizeof(id), "run-%lu-%d", ++d->run_seq, (int)getpid());
		snprintf(c->run_cgroup, sizeof(c->run_cgroup), "%s/%s", d->paths.runs_parent, id);
		r = mkdir(c->run_cgroup, 0755) < 0 ? -errno : 0;
	} while (r == -EEXIST && d->run_seq % 1000);
	if (r < 0)
		return ctl_error("create cgroup %s: %s", c->run_cgroup, strerror(-r));
	rec.id = id;
	rec.cgroup = c->run_cgroup;
	rec.policy = m.policy;
	rec.rules = m.rules;
	rec.full_cmdline = m.full_cmdline;
	/* Saved, so a daemon restarted under it guards it again (its rules, not a name). */
	if (registry_add(&d->reg, &rec, 0, 0, &c->run, &err) < 0) {
		rmdir(c->run_cgroup);
		return ctl_error("%s", err.msg);
	}
	log_msg(LOG_INFO, "run started id=%s policy=%s cgroup=%s", id, guard__policy_name(c->run),
		c->run_cgroup);
	return ctl_run_started_encode(&(struct ctl_run_started){
	    .id = id,
	    .cgroup = c->run_cgroup,
	    .policy = guard__policy_name(c->run),
	    .mode = policy_mode_str(policy__mode(guard__policy(c->run))),
	    .limits = *policy__limits(guard__policy(c->run)),
	});
}

/* Mode, counters, and whether the kernel really runs our programs on the cgroup. */
static void status_fields(json_object *o, const struct guard *g)
{
	struct guard_status st;
	json_object *served;
	unsigned i;
	int r;

	guard__status(g, &st);
	json_object_object_add(
	    o, "mode", json_object_new_string(policy_mode_str(policy__mode(guard__policy(g)))));
	json_object_object_add(o, "queries", json_object_new_uint64(st.queries));
	json_object_object_add(o, "blocked", json_object_new_uint64(st.blocked));
	json_object_object_add(o, "wouldBlock", json_object_new_uint64(st.would_block));
	json_object_object_add(o, "packetsBlocked", json_object_new_uint64(st.packets_blocked));
	json_object_object_add(o, "overShare", json_object_new_uint64(st.over_share));
	json_object_object_add(o, "lastBlock",
			       st.last_block ? json_object_new_int64(st.last_block) : NULL);
	json_object_object_add(o, "worker", json_object_new_int(st.worker));
	json_object_object_add(o, "spread", json_object_new_int(st.spread));
	served = json_object_new_array();
	for (i = 0; i < st.spread; i++) {
		json_object *w = json_object_new_object();

		json_object_object_add(w, "worker", json_object_new_int(st.served[i].worker));
		json_object_object_add(w, "queries", json_object_new_uint64(st.served[i].queries));
		json_object_array_add(served, w);
	}
	json_object_object_add(o, "servedBy", served);
	r = dnsguard__cgroup_enforcing(guard__cgroup(g));
	json_object_object_add(o, "enforcing", json_object_new_boolean(r > 0));
	if (r < 0)
		json_object_object_add(o, "enforcingError", json_object_new_string(strerror(-r)));
}

/*
 * The BPF programs' counters (enum df_counter), {name: value}: what the kernel
 * side did for every guard of this daemon's maps, since the maps were made
 * (they are pinned: a restart keeps them, an upgrade to another build starts
 * them again).
 */
static json_object *kernel_counters(struct daemon *d)
{
	json_object *o = json_object_new_object();
	__u64 v[DF_CNT__MAX];
	int i;

	dnsguard__counters(d->bpf, v);
	for (i = 0; i < DF_CNT__MAX; i++)
		json_object_object_add(o, dnsguard__counter_name(i), json_object_new_uint64(v[i]));
	return o;
}

static json_object *op_status(struct daemon *d)
{
	json_object *reply = ctl_ok(), *arr = json_object_new_array();
	struct guard *g;

	for (g = engine__first_guard(d->engine); g; g = engine__next_guard(d->engine, g)) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "kind",
				       json_object_new_string(guard__kind(g) == GUARD_CONTAINER
								  ? "container"
								  : "run"));
		json_object_object_add(o, "id", json_object_new_string(guard__id(g)));
		json_object_object_add(o, "policy", json_object_new_string(guard__policy_name(g)));
		json_object_object_add(o, "cgroup", json_object_new_string(guard__cgroup(g)));
		json_object_object_add(o, "since", json_object_new_int64(guard__since(g)));
		status_fields(o, g);
		json_object_array_add(arr, o);
	}
	json_object_object_add(reply, "guards", arr);
	json_object_object_add(reply, "kernel", kernel_counters(d));
	return reply;
}

/*
 * The run report of this connection's run, or of the guard named in the
 * request. A client inside a guard sees only its own run's: another job's
 * report names that job's processes.
 */
static json_object *op_run_report(struct ctl_client *c, json_object *req)
{
	struct df_err err = {0};
	json_object *rep;
	struct ctl_id m;

	if (ctl_run_report_decode(req, &m, &err) < 0)
		return ctl_error("run-report: %s", err.msg);
	if (!m.id && !c->run)
		return ctl_error("run-report: this connection has no run (name one with \"id\")");
	if (!m.id)
		m.id = guard__id(c->run);
	else if (c->scope_rc != 0 && (!c->run || strcmp(m.id, guard__id(c->run)) != 0))
		return ctl_error("run-report from inside a guard: only its own run's");
	rep = engine__report_json(c->d->engine, m.id);
	if (!rep)
		return ctl_error("no report for '%s' (none running, and not among the last %d "
				 "containers that ended since depfenced started)",
				 m.id, RR_KEEP);
	return ctl_report_reply_encode(rep);
}

static void on_line(void *ctx, char *line)
{
	struct ctl_client *c = ctx;
	_cleanup_json_ json_object *req = NULL, *reply = NULL;
	const char *op;

	/* Closed after this read: the rest of its requests are not carried out. */
	if (!line[0] || c->broken)
		return;
	req = json_tokener_parse(line);
	if (!req || !json_object_is_type(req, json_type_object))
		reply = ctl_error("request is not a JSON object");
	else if (!(op = ctl_get_str(req, "op")))
		reply = ctl_error("request has no \"op\"");
	else if (c->uid != 0)
		reply = ctl_error("only root may use depfenced's control socket");
	else if (strcmp(op, "ping") == 0)
		reply = ctl_ok();
	else if (strcmp(op, "run-start") == 0)
		reply = op_run_start(c, req);
	else if (strcmp(op, "run-stop") == 0)
		run_end(c), reply = ctl_ok();
	else if (strcmp(op, "run-report") == 0)
		reply = op_run_report(c, req);
	else if (strcmp(op, "run-adopt") == 0)
		reply = op_run_adopt(c, req);
	else if (strcmp(op, "register") == 0 || strcmp(op, "unregister") == 0) {
		const char *scope = c->scope_rc ? c->scope : NULL;

		if (c->scope_rc < 0)
			reply = ctl_error("cannot tell where the requesting process is: %s",
					  strerror(-c->scope_rc));
		else if (c->scope_rc == 2)
			reply = ctl_error("%s from inside a guard this daemon does not serve", op);
		else if (op[0] == 'r')
			reply = daemon_container_register(c->d, req, scope);
		else
			reply = daemon_container_unregister(c->d, req, scope);
	} else if (strcmp(op, "status") == 0)
		reply = op_status(c->d);
	else
		reply = ctl_error("unknown op '%s'", op);
	client_reply(c, reply);
}

static void on_client(struct ev_source *src, uint32_t events)
{
	struct ctl_client *c = container_of(src, struct ctl_client, src);
	ssize_t n;
	long left;

	if (events & EPOLLOUT) {
		client_flush(c);
		if (c->broken)
			client_close(c);
		return;
	}
	n = read(src->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	left = ctl_take_lines(c->buf, c->len + n, on_line, c);
	if (c->broken) {
		client_close(c);
		return;
	}
	if (left < 0) {
		log_msg(LOG_WARN, "control request over %d bytes, closing", CTL_MAX_LINE);
		client_close(c);
		return;
	}
	c->len = left;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; not in Debian 12's headers */
#endif

/* Is the process behind PIDFD still alive? Its fdinfo says "Pid: -1" once it is gone. */
static bool pidfd_alive(int pidfd)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	const char *p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (read_file(path, &text, NULL, 4096) < 0 || !(p = strstr(text, "\nPid:")))
		return true; /* cannot tell: the pid stands */
	return atoi(p + 5) > 0;
}

/*
 * daemon_peer_scope() of the process at the other end of FD. The peer's pidfd
 * (SO_PEERPIDFD) pins its identity: if the process is gone once /proc was read,
 * PID may already name another process, and the answer is "cannot tell".
 */
static int peer_scope(struct daemon *d, int fd, pid_t pid, char *scope, size_t cap)
{
	_cleanup_close_ int pidfd = -1;
	socklen_t len = sizeof(pidfd);
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1; /* before 6.5: the pid alone, read at once */
	r = daemon_peer_scope(d, pid, scope, cap);
	if (r >= 0 && pidfd >= 0 && !pidfd_alive(pidfd))
		return -ESRCH;
	return r;
}

static void on_accept(struct ev_source *src, uint32_t events)
{
	struct daemon *d = container_of(src, struct daemon, ctl_listen);
	struct ctl_client *c;
	int fd, i;

	/* Non-blocking: replies a client does not read wait in its queue (client_reply). */
	fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (i = 0; i < CTL_MAX_CLIENTS && d->clients[i]; i++)
		;
	c = i < CTL_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		log_msg(LOG_WARN, "control client limit reached max=%d", CTL_MAX_CLIENTS);
		close(fd);
		return;
	}
	{
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			c->peer = cred.pid;
			c->uid = cred.uid;
		} else {
			c->uid = (uid_t)-1;
		}
	}
	c->scope_rc = peer_scope(d, fd, c->peer, c->scope, sizeof(c->scope));
	c->src.fd = fd;
	c->src.on_ready = on_client;
	c->d = d;
	c->slot = i;
	d->clients[i] = c;
	if (loop__add(d->loop, &c->src, EPOLLIN) < 0)
		client_close(c);
}

int daemon_ctl_listen(struct daemon *d, struct df_err *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d->paths.sock) >=
	    (int)sizeof(sun.sun_path))
		return df_err_set(err, -ENAMETOOLONG, "%s: path too long for a socket",
				  d->paths.sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return df_err_set(err, -errno, "socket: %s", strerror(errno));
	/* Bind a temporary name and rename it into place: the socket appears only
	 * once it is ready to serve, and a stale file of a dead daemon is replaced. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s.%d", d->paths.sock, (int)getpid());
	unlink(sun.sun_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return df_err_set(err, -errno, "bind %s: %s", sun.sun_path, strerror(errno));
	chmod(sun.sun_path, 0600);
	if (listen(fd, 64) < 0)
		return df_err_set(err, -errno, "listen: %s", strerror(errno));
	d->ctl_listen.fd = fd;
	d->ctl_listen.on_ready = on_accept;
	if (loop__add(d->loop, &d->ctl_listen, EPOLLIN) < 0)
		return df_err_set(err, -errno, "epoll: %s", strerror(errno));
	if (rename(sun.sun_path, d->paths.sock) < 0) {
		unlink(sun.sun_path);
		return df_err_set(err, -errno, "rename to %s: %s", d->paths.sock, strerror(errno));
	}
	fd = -1;
	return 0;
}

void daemon_ctl_close(struct daemon *d)
{
	int i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (d->clients[i])
			client_close(d->clients[i]);
	if (d->ctl_listen.fd >= 0) {
		loop__del(d->loop, &d->ctl_listen);
		closep(&d->ctl_listen.fd);
		unlink(d->paths.sock);
	}
}
