// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfence doctor, the checks of how depfence is deployed: the state
 * directory, the daemon, the OCI hooks podman and CRI-O read, the local
 * resolver daemons a guarded job could hand its lookups to, and the
 * nameservers depfenced would forward to. Nothing here queries a resolver.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cli_doctor.h"
#include "config.h"
#include "ctl_proto.h"

#define DAEMON_TIMEOUT_MS 2000

void doctor_state_dir(struct doctor *d)
{
	char fix[PATH_MAX * 2 + 64];
	struct stat st;
	unsigned mode;

	if (lstat(d->state_dir, &st) < 0) {
		if (errno == ENOENT)
			doctor_report(d, DOCTOR_OK, "state-dir", NULL,
				      "%s absent: depfenced creates it, root's and 0700",
				      d->state_dir);
		else
			doctor_report(d, DOCTOR_FAIL, "state-dir", "run as root", "%s: %s",
				      d->state_dir, strerror(errno));
		return;
	}
	mode = st.st_mode & 07777;
	snprintf(fix, sizeof(fix), "chown root:root %s && chmod 0700 %s", d->state_dir,
		 d->state_dir);
	if (!S_ISDIR(st.st_mode))
		doctor_report(d, DOCTOR_FAIL, "state-dir", fix,
			      "%s is not a directory (a symlink?): depfenced refuses it",
			      d->state_dir);
	else if (st.st_uid != 0 || (mode & 022))
		/* Others could plant registrations a restarted daemon would trust. */
		doctor_report(d, DOCTOR_FAIL, "state-dir", fix,
			      "%s owned by uid %u, mode %04o: writable by others than root, so "
			      "depfenced refuses it",
			      d->state_dir, (unsigned)st.st_uid, mode);
	else if (mode != 0700)
		doctor_report(d, DOCTOR_OK, "state-dir", NULL,
			      "%s root's, mode %04o: depfenced makes it 0700 at start",
			      d->state_dir, mode);
	else
		doctor_report(d, DOCTOR_OK, "state-dir", NULL, "%s root's, mode 0700",
			      d->state_dir);
}

/* Send {"op": OP} and take the reply; ok reply or -errno with ERR filled. */
static int daemon_op(int fd, const char *op, json_object **ret_reply, struct df_err *err)
{
	_cleanup_json_ json_object *req = json_object_new_object();
	int r;

	json_object_object_add(req, "op", json_object_new_string(op));
	r = ctl_call(fd, req, DAEMON_TIMEOUT_MS, ret_reply, err);
	if (r < 0)
		return r;
	if (!ctl_reply_ok(*ret_reply))
		return df_err_set(err, -EPROTO, "%s: %s", op,
				  ctl_get_str(*ret_reply, "error") ?: "refused");
	return 0;
}

/* "N guards (R runs, C containers)" from a status reply. */
static void count_guards(json_object *status, char *buf, size_t cap)
{
	json_object *guards;
	size_t i, n, runs = 0;

	if (!json_object_object_get_ex(status, "guards", &guards) ||
	    !json_object_is_type(guards, json_type_array)) {
		snprintf(buf, cap, "guards unknown");
		return;
	}
	n = json_object_array_length(guards);
	for (i = 0; i < n; i++) {
		const char *kind = ctl_get_str(json_object_array_get_idx(guards, i), "kind");

		runs += kind && strcmp(kind, "run") == 0;
	}
	snprintf(buf, cap, "%zu guard%s (%zu run%s, %zu container%s)", n, n == 1 ? "" : "s", runs,
		 runs == 1 ? "" : "s", n - runs, n - runs == 1 ? "" : "s");
}

void doctor_daemon(struct doctor *d)
{
	_cleanup_json_ json_object *ping = NULL, *status = NULL;
	_cleanup_close_ int fd = -1;
	struct ucred peer = {0};
	socklen_t len = sizeof(peer);
	struct df_err err = {0};
	char sock[PATH_MAX + 32], guards[96];
	int r;

	snprintf(sock, sizeof(sock), "%s/%s", d->state_dir, CTL_SOCKET_NAME);
	r = ctl_connect(d->state_dir, &fd);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		doctor_report(
		    d, DOCTOR_WARN, "daemon",
		    "start depfenced (as root) for containers; depfence run needs nothing",
		    "no depfenced at %s (%s): depfence run works embedded; containers "
		    "need depfenced (annotated ones do not start without it)",
		    sock, strerror(-r));
		return;
	}
	if (r < 0) {
		doctor_report(d, DOCTOR_FAIL, "daemon", "run as root; see the state-dir check",
			      "cannot connect to %s: %s", sock, strerror(-r));
		return;
	}
	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len);
	if (daemon_op(fd, "ping", &ping, &err) < 0) {
		doctor_report(d, DOCTOR_FAIL, "daemon",
			      "see depfenced's log; restart it (guards are kept across restarts)",
			      "depfenced (pid %d) at %s does not answer ping: %s", (int)peer.pid,
			      sock, err.msg);
		return;
	}
	if (daemon_op(fd, "status", &status, &err) < 0)
		snprintf(guards, sizeof(guards), "status failed: %s", err.msg);
	else
		count_guards(status, guards, sizeof(guards));
	doctor_report(d, DOCTOR_OK, "daemon", NULL, "depfenced (pid %d) answers at %s: %s",
		      (int)peer.pid, sock, guards);
}

/* What the hooks.d files that run depfence-hook say. */
struct hooks_seen {
	char prestart[PATH_MAX], poststop[PATH_MAX]; /* the file of each stage, "" if none */
	char program[PATH_MAX];			     /* the hook's path */
	char broken[PATH_MAX];			     /* a file whose program is missing */
	char broken_program[PATH_MAX];
};

static bool is_depfence_hook(const char *path)
{
	const char *base = strrchr(path, '/');

	return strcmp(base ? base + 1 : path, "depfence-hook") == 0;
}

static void read_hook_file(const char *file, struct hooks_seen *seen)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_object *o = NULL;
	json_object *hook, *stages;
	const char *program;
	struct stat st;
	size_t i;

	if (read_file(file, &text, NULL, 1 << 16) < 0 || !(o = json_tokener_parse(text)) ||
	    !json_object_object_get_ex(o, "hook", &hook) ||
	    !(program = ctl_get_str(hook, "path")) || !is_depfence_hook(program))
		return;
	if (stat(program, &st) < 0 || !S_ISREG(st.st_mode) || access(program, X_OK) < 0) {
		snprintf(seen->broken, sizeof(seen->broken), "%s", file);
		snprintf(seen->broken_program, sizeof(seen->broken_program), "%s", program);
		return;
	}
	snprintf(seen->program, sizeof(seen->program), "%s", program);
	if (!json_object_object_get_ex(o, "stages", &stages) ||
	    !json_object_is_type(stages, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(stages); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(stages, i));

		if (s && (strcmp(s, "prestart") == 0 || strcmp(s, "createRuntime") == 0))
			snprintf(seen->prestart, sizeof(seen->prestart), "%s", file);
		else if (s && strcmp(s, "poststop") == 0)
			snprintf(seen->poststop, sizeof(seen->poststop), "%s", file);
	}
}

static void scan_hook_dir(const char *dir, struct hooks_seen *seen)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char file[PATH_MAX];
	size_t n;

	if (!dh)
		return;
	while ((de = readdir(dh))) {
		n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
		read_hook_file(file, seen);
	}
	closedir(dh);
}

void doctor_hooks(struct doctor *d)
{
	static const char install[] =
	    "install -m 0755 build/depfence-hook /usr/local/bin/ && install -m 0644 "
	    "deploy/hooks.d/depfence-*.json /etc/containers/oci/hooks.d/";
	struct hooks_seen seen = {0};
	char dirs[2048] = "", fix[PATH_MAX + 64];
	size_t len = 0;
	int i;

	for (i = 0; i < d->n_hook_dirs; i++) {
		scan_hook_dir(d->hook_dirs[i], &seen);
		if (len < sizeof(dirs))
			len += snprintf(dirs + len, sizeof(dirs) - len, "%s%s", i ? " or " : "",
					d->hook_dirs[i]);
	}
	if (seen.broken[0]) {
		/*
		 * podman (4.3, tried) skips such a hook without a word: annotated
		 * containers would start unguarded, which the hook exists to prevent.
		 */
		snprintf(fix, sizeof(fix), "install -m 0755 build/depfence-hook %s",
			 seen.broken_program);
		doctor_report(d, DOCTOR_FAIL, "hooks.d", fix,
			      "%s runs %s, which is missing or not executable: podman and CRI-O "
			      "skip the hook silently, so containers, annotated ones included, "
			      "start unguarded",
			      seen.broken, seen.broken_program);
	} else if (seen.prestart[0] && seen.poststop[0]) {
		doctor_report(d, DOCTOR_OK, "hooks.d", NULL, "%s and %s run %s", seen.prestart,
			      seen.poststop, seen.program);
	} else if (seen.prestart[0]) {
		doctor_report(d, DOCTOR_WARN, "hooks.d",
			      "install -m 0644 deploy/hooks.d/depfence-poststop.json "
			      "/etc/containers/oci/hooks.d/",
			      "%s runs %s, but no poststop hook: stopped containers stay "
			      "registered until depfenced restarts",
			      seen.prestart, seen.program);
	} else {
		doctor_report(d, DOCTOR_WARN, "hooks.d", install,
			      "no depfence-hook prestart hook in %s: containers podman and CRI-O "
			      "start are not guarded (depfence run jobs are)",
			      dirs);
	}
}

struct resolver {
	const char *name;
	const char *what;
	const char *paths[2]; /* where its socket is: the first that exists counts */
	const char *fix;
};

static const struct resolver resolvers[] = {
    {"nscd",
     "nscd's cache",
     {"/var/run/nscd/socket", "/run/nscd/socket"},
     "stop nscd on deploy hosts (systemctl stop nscd; or remove it), or run Linux 6.7+"},
    {"systemd-resolved",
     "systemd-resolved's varlink API",
     {"/run/systemd/resolve/io.systemd.Resolve"},
     "stop systemd-resolved on deploy hosts (point /etc/resolv.conf at a nameserver first), "
     "or run Linux 6.7+"},
    {"dbus",
     "the D-Bus system bus (systemd-resolved's D-Bus API is on it)",
     {"/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket"},
     "stop systemd-resolved on deploy hosts, or run Linux 6.7+"},
    {"sssd",
     "sssd's NSS responder",
     {"/var/lib/sss/pipes/nss"},
     "stop sssd on deploy hosts (systemctl stop sssd), or run Linux 6.7+"},
};

/* The first of R's socket paths that exists, or NULL. */
static const char *resolver_socket(const struct resolver *r)
{
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(r->paths) && r->paths[i]; i++)
		if (stat(r->paths[i], &st) == 0 && S_ISSOCK(st.st_mode))
			return r->paths[i];
	return NULL;
}

void doctor_resolvers(struct doctor *d)
{
	bool resolved = false;
	size_t i;

	/* Without connect_unix, the bus matters only when systemd-resolved answers on it. */
	for (i = 0; i < ARRAY_SIZE(resolvers); i++)
		if (strcmp(resolvers[i].name, "systemd-resolved") == 0)
			resolved = resolver_socket(&resolvers[i]) != NULL;

	for (i = 0; i < ARRAY_SIZE(resolvers); i++) {
		const struct resolver *r = &resolvers[i];
		const char *sock = resolver_socket(r);

		if (!sock)
			doctor_report(d, DOCTOR_OK, r->name, NULL, "not running (no socket at %s)",
				      r->paths[0]);
		else if (d->has_unix)
			doctor_report(d, DOCTOR_OK, r->name, NULL,
				      "%s at %s: refused to guarded jobs by the connect_unix "
				      "program, so their lookups go to DNS, which the guard sees",
				      r->what, sock);
		else if (strcmp(r->name, "dbus") == 0 && !resolved)
			doctor_report(d, DOCTOR_OK, r->name, NULL,
				      "%s at %s: not refused on this kernel, but no "
				      "systemd-resolved answers lookups on it",
				      r->what, sock);
		else
			doctor_report(d, DOCTOR_WARN, r->name, r->fix,
				      "%s at %s: this kernel has no cgroup/connect_unix (6.7+), so "
				      "a guarded job's lookups through it are not refused",
				      r->what, sock);
	}
}

void doctor_resolv_conf(struct doctor *d)
{
	static const char path[] = "/etc/resolv.conf";
	struct engine_opts eo = {0};
	struct df_err err = {0};
	char list[ENGINE_MAX_UPSTREAMS * (NI_MAXHOST + 12)] = "";
	size_t len = 0;
	int i;

	/* The daemon's own parser: what it would pick, never a query. */
	if (upstreams_from_resolv_conf(&eo, path, &err) < 0) {
		doctor_report(d, DOCTOR_WARN, "resolv.conf",
			      "pass --upstream HOST:PORT to depfenced and depfence run",
			      "%s: without --upstream, depfenced has nowhere to forward", err.msg);
		return;
	}
	for (i = 0; i < eo.n_upstreams; i++) {
		char host[NI_MAXHOST], port[NI_MAXSERV];
		bool v6 = eo.upstreams[i].ss_family == AF_INET6;

		if (getnameinfo((struct sockaddr *)&eo.upstreams[i], eo.upstream_lens[i], host,
				sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV))
			continue;
		if (len < sizeof(list))
			len += snprintf(list + len, sizeof(list) - len, "%s%s%s%s:%s",
					i ? ", " : "", v6 ? "[" : "", host, v6 ? "]" : "", port);
	}
	doctor_report(d, DOCTOR_OK, "resolv.conf", NULL,
		      "without --upstream, depfenced and embedded runs forward to %s (read at "
		      "start; not queried here)",
		      list);
}
