// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfence-hook: the OCI hook. prestart/createRuntime registers the container's
 * cgroup and network namespace with depfenced, which attaches the filters and
 * opens a listener inside that namespace before answering; only then does the
 * hook exit 0, so the container's first query is guarded. poststop
 * deregisters by container id. No daemon, no start: a guarded container never
 * runs unguarded.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "config.h"
#include "ctl_proto.h"
#include "dnsguard_api.h"
#include "log.h"
#include "oci_state.h"

/* Runtimes kill hooks that pass their own timeout; ours is shorter. */
#define HOOK_TIMEOUT_MS 5000

static const char usage[] =
    "Usage: depfence-hook [--state-dir DIR] [-v] prestart|createRuntime|poststop\n"
    "\n"
    "OCI hook: reads the container state JSON on stdin. Containers annotated\n"
    "io.depfence.policy=NAME are registered with depfenced under policy NAME at\n"
    "prestart/createRuntime and deregistered at poststop; others pass through.\n";

static bool verbose;

static int fail(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char *id, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "depfence-hook: %s%s", id ? id : "", id ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Send REQ to the daemon; returns 0 with the reply's error (if any) in ERRBUF. */
static int call_daemon(const char *state_dir, json_object *req, json_object **ret_reply,
		       struct df_err *err)
{
	_cleanup_close_ int fd = -1;
	int r = ctl_connect(state_dir, &fd);

	if (r < 0)
		return df_err_set(err, r, "no depfenced answering on %s/%s (%s)", state_dir,
				  CTL_SOCKET_NAME, strerror(-r));
	return ctl_call(fd, req, HOOK_TIMEOUT_MS, ret_reply, err);
}

static int do_register(const char *state_dir, struct oci_state *st, const char *policy)
{
	_cleanup_json_ json_object *req = NULL, *reply = NULL;
	char cgroup[PATH_MAX], netns[64];
	struct df_err err = {0};
	struct stat sb;
	int root;

	if (!st->pid)
		return fail(st->id, "OCI state has no \"pid\": cannot find the container");
	if (kill(st->pid, 0) < 0 && errno == ESRCH)
		return fail(st->id, "pid %d from the OCI state does not exist", (int)st->pid);
	root = cgroup_path_of_pid(st->pid, cgroup, sizeof(cgroup), &err);
	if (root < 0)
		return fail(st->id, "%s", err.msg);
	if (stat(cgroup, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return fail(st->id, "cgroup v2 %s of pid %d not found", cgroup, (int)st->pid);
	if (root)
		return fail(st->id, "pid %d is in the root cgroup: refusing to guard the host",
			    (int)st->pid);
	snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)st->pid);

	req = ctl_register_encode(&(struct ctl_register){
	    .id = st->id,
	    .pid = st->pid,
	    .policy = policy,
	    .inherit = !policy,
	    .netns = netns,
	    .cgroup = cgroup,
	});
	if (call_daemon(state_dir, req, &reply, &err) < 0)
		return fail(st->id, "%s: refusing to start the container unguarded", err.msg);
	if (!ctl_reply_ok(reply))
		return fail(st->id, "%s", ctl_get_str(reply, "error") ?: "depfenced refused");
	if (verbose)
		fprintf(stderr, "depfence-hook: %s: guarded, policy %s, cgroup %s\n", st->id,
			policy ?: "of the enclosing guard", cgroup);
	return 0;
}

/* Same network namespace as this hook (and so as the runtime that runs it)? */
static bool same_netns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

/*
 * A container without the annotation. Started by an unguarded process: not
 * ours, pass through. Started inside a guarded job (podman or runc called by
 * a deploy script): its cgroup is inside the job's, so the job's programs
 * already cover it; in the job's network namespace the job's listeners serve
 * it too. In a namespace of its own it needs listeners there: the daemon
 * registers it with the job's policy. Never may it start unguarded.
 */
static int guard_if_inside(const char *state_dir, struct oci_state *st)
{
	char cgroup[PATH_MAX];

	if (!st->pid || cgroup_path_of_pid(st->pid, cgroup, sizeof(cgroup), NULL) < 0)
		return 0;
	if (!dnsguard__cgroup_guarded(cgroup))
		return 0;
	if (same_netns(st->pid)) {
		if (verbose)
			fprintf(stderr, "depfence-hook: %s: inside a guarded job, same network\n",
				st->id);
		return 0;
	}
	return do_register(state_dir, st, NULL);
}

static int do_unregister(const char *state_dir, struct oci_state *st)
{
	_cleanup_json_ json_object *req = ctl_id_encode("unregister", st->id), *reply = NULL;
	struct df_err err = {0};

	if (call_daemon(state_dir, req, &reply, &err) < 0) {
		/* The container is gone already; a restarted daemon reaps what is left. */
		fprintf(stderr, "depfence-hook: %s: poststop: %s\n", st->id, err.msg);
		return 0;
	}
	if (!ctl_reply_ok(reply))
		return fail(st->id, "%s", ctl_get_str(reply, "error") ?: "depfenced refused");
	return 0;
}

/* Is this hook (and so the runtime that runs it) inside a guarded job? */
static bool self_guarded(void)
{
	char cg[PATH_MAX];

	return cgroup_path_of_pid(getpid(), cg, sizeof(cg), NULL) >= 0 &&
	       dnsguard__cgroup_guarded(cg);
}

/*
 * poststop of a container without the annotation: registered only if it was
 * started inside a guard, and then the daemon saved its registration. No
 * file, nothing to say: other containers cost no round trip.
 */
static int unregister_quiet(const char *state_dir, struct oci_state *st)
{
	_cleanup_json_ json_object *req = NULL, *reply = NULL;
	struct df_err err = {0};
	struct df_paths paths;

	/* Inside a guarded job the records are hidden from us (job_confine): ask anyway;
	 * the daemon lets a job unregister only what it started. */
	if (df_paths_init(&paths, state_dir, NULL) == 0 &&
	    !df_paths_has_container_record(&paths, st->id) && !self_guarded())
		return 0;
	req = ctl_id_encode("unregister", st->id);
	call_daemon(state_dir, req, &reply, &err);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *state_dir = DEFAULT_STATE_DIR, *stage;
	_cleanup_free_ char *text = NULL, *bundle_policy = NULL;
	struct oci_state st = {0};
	struct df_err err = {0};
	const char *policy;
	size_t len = 0;
	bool registering;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			state_dir = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "depfence-hook: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	stage = argv[optind];
	registering = !strcmp(stage, "prestart") || !strcmp(stage, "createRuntime");
	if (!registering && strcmp(stage, "poststop") != 0)
		return fail(NULL, "unknown stage '%s' (prestart, createRuntime, poststop)", stage),
		       2;
	signal(SIGPIPE, SIG_IGN);
	r = read_fd_all(STDIN_FILENO, &text, &len, OCI_STATE_MAX);
	if (r < 0)
		return fail(NULL, "OCI state on stdin: %s", strerror(-r));
	if (oci_state_parse(text, len, "OCI state on stdin", &st, &err) < 0)
		return fail(NULL, "%s", err.msg);
	policy = st.policy;
	if (!policy && !st.has_annotations && st.bundle) {
		if (oci_bundle_policy(st.bundle, &bundle_policy, &err) < 0) {
			/* poststop is idempotent: the bundle may be gone already. */
			r = registering ? fail(st.id, "%s", err.msg)
					: unregister_quiet(state_dir, &st);
			goto out;
		}
		policy = bundle_policy;
	}
	if (!policy) {
		/* Not opted in: guarded only if started inside a guarded job. */
		if (registering)
			r = guard_if_inside(state_dir, &st);
		else
			r = unregister_quiet(state_dir, &st);
		goto out;
	}
	if (!policy_name_valid(policy)) {
		/* The annotation is the container owner's: a newline must not forge a line. */
		char quoted[160];

		logfmt_quote(quoted, sizeof(quoted), policy, strlen(policy));
		r = fail(st.id, "annotation %s: invalid policy name %s", OCI_POLICY_ANNOTATION,
			 quoted);
		goto out;
	}
	r = registering ? do_register(state_dir, &st, policy) : do_unregister(state_dir, &st);
out:
	oci_state_free(&st);
	return r;
}
