// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfenced: the shared host DNS proxy. Loads the dnsguard BPF object with its
 * maps pinned, attaches it once to the parent cgroup of all `depfence run`
 * jobs, and serves a control socket through which runs and containers are
 * registered.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "config.h"
#include "ctl_proto.h"
#include "daemon.h"
#include "dnsguard_api.h"
#include "job_confine.h"
#include "log.h"

static const char usage[] =
    "Usage: depfenced [--config-dir DIR] [--state-dir DIR] [--upstream HOST:PORT]...\n"
    "                 [--log-format logfmt|json] [--log-full-cmdline]\n"
    "                 [--metrics-listen ADDR:PORT] [--max-pending-per-guard N]\n"
    "                 [--workers N] [--spread N] [-v]\n"
    "\n"
    "The depfence DNS proxy. Guarded cgroups (depfence run jobs, containers started\n"
    "through depfence-hook) have their DNS sent here and answered by their policy.\n"
    "\n"
    "  --config-dir DIR      policies are DIR/policies/NAME.policy (default /etc/depfence)\n"
    "  --state-dir DIR       control socket DIR/depfenced.sock (default /run/depfence)\n"
    "  --upstream HOST:PORT  resolver to forward to; repeat to add fallbacks, tried in\n"
    "                        order ([::1]:53 for v6). Default: /etc/resolv.conf's\n"
    "  --log-format FORMAT   logfmt (default) or json: one JSON object per line with\n"
    "                        the same field names (level, msg, reason, domain, ...)\n"
    "  --log-full-cmdline    log command lines whole for every guard: no *** for URL\n"
    "                        passwords, --token/--password values, Authorization\n"
    "                        headers (a run asks for it alone with its own flag)\n"
    "  --metrics-listen ADDR:PORT  serve Prometheus metrics on http://ADDR:PORT/metrics\n"
    "                        (off by default; 127.0.0.1:9153 or [::1]:9153)\n"
    "  --max-pending-per-guard N  upstream queries one guarded job may have waiting\n"
    "                        (default 960; fewer each when many jobs wait at once);\n"
    "                        past it the job's own queries get SERVFAIL\n"
    "  --workers N           threads serving guarded jobs' DNS, each job served by\n"
    "                        one (default: the CPUs it may run on, at most 64)\n"
    "  --spread N            workers one job's UDP queries spread over, 1 to 8\n"
    "                        (default 1): more cores for one busy job\n"
    "  -v, --verbose         debug logging (every allowed query)\n"
    "  -h, --help            this text\n";

#define WORKERS_MAX 64

/* Each engine worker has its own upstream sockets and TCP table: as many fds as
 * the hard limit allows (a shell's soft 1024 is too few for many cores). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_msg(LOG_WARN, "depfenced: raising the open-files limit: %s",
				strerror(errno));
	}
}

/* --metrics-listen; metrics_len 0: off. */
static struct sockaddr_storage metrics_addr;
static socklen_t metrics_len;

/* FLAG's value ARG, a number from 1 to MAX, into *RET; else -EINVAL, said on stderr. */
static int parse_count(const char *flag, const char *arg, long max, int *ret)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg < '0' || *arg > '9' || *end || v < 1 || v > max) {
		fprintf(stderr, "depfenced: %s '%s': expected a number from 1 to %ld\n", flag, arg,
			max);
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct daemon *d, struct engine_opts *eo)
{
	static const struct option opts[] = {
	    {"config-dir", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"upstream", required_argument, NULL, 'u'},
	    {"log-format", required_argument, NULL, 'L'},
	    {"log-full-cmdline", no_argument, NULL, 'F'},
	    {"metrics-listen", required_argument, NULL, 'M'},
	    {"max-pending-per-guard", required_argument, NULL, 'P'},
	    {"workers", required_argument, NULL, 'W'},
	    {"spread", required_argument, NULL, 'S'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct df_err err = {0};
	enum log_format fmt;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d->config_dir = optarg;
			break;
		case 's':
			d->state_dir = optarg;
			break;
		case 'u':
			if (upstream_add(eo, optarg, &err) < 0) {
				fprintf(stderr, "depfenced: %s\n", err.msg);
				return 2;
			}
			break;
		case 'L':
			if (log_format_parse(optarg, &fmt) < 0) {
				fprintf(stderr,
					"depfenced: --log-format '%s': expected logfmt or json\n",
					optarg);
				return 2;
			}
			log_set_format(fmt);
			break;
		case 'F':
			eo->log_full_cmdline = true;
			break;
		case 'M':
			if (metrics_listen_parse(optarg, &metrics_addr, &metrics_len) < 0) {
				fprintf(stderr,
					"depfenced: --metrics-listen '%s': expected an IP address "
					"and a port, like 127.0.0.1:9153 or [::1]:9153\n",
					optarg);
				return 2;
			}
			break;
		case 'P':
			if (parse_count("--max-pending-per-guard", optarg, 1000000,
					&eo->pending_per_guard) < 0)
				return 2;
			break;
		case 'W':
			if (parse_count("--workers", optarg, WORKERS_MAX, &eo->workers) < 0)
				return 2;
			break;
		case 'S':
			if (parse_count("--spread", optarg, DF_SPREAD_MAX, &eo->spread) < 0)
				return 2;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr,
				"depfenced: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "depfenced: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	return -1;
}

static void on_signal(struct ev_source *src, uint32_t events)
{
	struct daemon *d = container_of(src, struct daemon, sigfd);
	struct signalfd_siginfo si;

	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_msg(LOG_INFO, "stopping signal=%s", strsignal(si.ssi_signo));
			d->stop = true;
		} else if (si.ssi_signo == SIGHUP) {
			daemon_reload_policies(d);
		}
	}
}

/*
 * The state directory holds what a restarted daemon trusts (registrations)
 * and the control socket: root's alone. Made 0700 if missing; one that
 * another user owns, that is a symlink, or that others may write to, is
 * refused (they could have planted records); a readable one is made 0700.
 */
static int state_dir_check(const char *dir, struct df_err *err)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return df_err_set(err, -errno, "state dir %s: %s", dir, strerror(errno));
	if (lstat(dir, &st) < 0)
		return df_err_set(err, -errno, "state dir %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return df_err_set(err, -ENOTDIR, "state dir %s: not a directory (a symlink?)", dir);
	if (st.st_uid != 0 || (st.st_mode & 022))
		return df_err_set(err, -EPERM,
				  "state dir %s: owned by uid %u, mode %04o: must be root's and "
				  "writable by root alone",
				  dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
		return df_err_set(err, -errno, "state dir %s: chmod 0700: %s", dir,
				  strerror(errno));
	return 0;
}

/* policy_store__load on a thread of its own: its arguments and its result. */
struct policies_job {
	struct policy_store *store;
	const char *config_dir;
	struct df_err err;
	int r;
};

static void *policies_parse(void *arg)
{
	struct policies_job *job = arg;

	job->r = policy_store__load(job->store, job->config_dir, &job->err);
	return NULL;
}

/*
 * The state dir, the cgroup root, this instance's paths, bpffs, and the BPF
 * object, its maps not pinned yet. The state dir first: the instance is named
 * after its real path, so it must exist by then.
 */
static int bpf_load(struct daemon *d, struct df_err *err)
{
	char root[PATH_MAX];
	int r;

	r = state_dir_check(d->state_dir, err);
	if (r < 0)
		return r;
	r = cgroup_v2_root(root, sizeof(root), err);
	if (r < 0)
		return r;
	job_boundary_init(root);
	r = df_paths_init(&d->paths, d->state_dir, root);
	if (r < 0)
		return df_err_set(err, r, "state dir %s: path too long", d->state_dir);
	r = bpffs_ensure(BPFFS_ROOT, err);
	if (r < 0)
		return r;
	return dnsguard__load(d->paths.pins, &d->bpf, err);
}

/*
 * The policies and the BPF object, side by side: parsing a million rules and
 * the kernel's verifier each take a few hundred ms, and neither needs the
 * other, so a second core does the parse. The thread is joined here, before
 * any policy id is set and long before the seccomp filter. A policy error
 * wins over a BPF one, as when the policies were parsed first; the object,
 * destroyed on the way out, was loaded but not pinned (dnsguard__pin_maps
 * comes after), so a broken policy leaves no new pin in bpffs.
 */
static int load_policies_and_bpf(struct daemon *d, struct df_err *err)
{
	struct policies_job job = {.store = &d->policies, .config_dir = d->config_dir};
	pthread_t tid;
	int r;

	r = -pthread_create(&tid, NULL, policies_parse, &job);
	if (r < 0)
		return df_err_set(err, r, "start the policy parse thread: %s", strerror(-r));
	r = bpf_load(d, err);
	pthread_join(tid, NULL);
	if (job.r < 0) {
		*err = job.err;
		return job.r;
	}
	return r;
}

/* Everything up to serving: policies, BPF object, pins, runs parent cgroup, engine, socket. */
static int setup(struct daemon *d, struct engine_opts *eo, struct df_err *err)
{
	_cleanup_close_ int runs_fd = -1;
	sigset_t mask;
	int r;

	r = load_policies_and_bpf(d, err);
	if (r < 0)
		return r;
	r = dnsguard__pin_maps(d->bpf, err);
	if (r < 0)
		return r;
	if (dnsguard__upgrading(d->bpf))
		log_msg(LOG_WARN,
			"upgrading BPF pins of another depfence build pins=%s: each guarded "
			"cgroup's links switch to this build's programs in place",
			d->paths.pins);
	/* Policy ids no earlier daemon used: its leftovers never apply to our policies. */
	{
		__u32 base;

		r = dnsguard__reserve_policy_ids(d->bpf, &base);
		if (r < 0)
			return df_err_set(err, r, "reserve policy ids: %s", strerror(-r));
		policy__set_id_base(base);
	}
	r = cgroup_mkdir_p(d->paths.runs_parent);
	if (r < 0)
		return df_err_set(err, r, "create %s: %s", d->paths.runs_parent, strerror(-r));
	r = loop__new(&d->loop);
	if (r < 0)
		return df_err_set(err, r, "epoll: %s", strerror(-r));
	eo->bpf = d->bpf;
	eo->loop = d->loop;
	r = engine__new(eo, &d->engine, err);
	if (r < 0)
		return r;
	d->reg = (struct registry){
	    .engine = d->engine,
	    .bpf = d->bpf,
	    .policies = &d->policies,
	    .config_dir = d->config_dir,
	    .paths = &d->paths,
	};
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd.fd < 0)
		return df_err_set(err, -errno, "signalfd: %s", strerror(errno));
	d->sigfd.on_ready = on_signal;
	loop__add(d->loop, &d->sigfd, EPOLLIN);
	/* Containers guarded before a restart answer again before the socket appears;
	 * anything else a previous daemon left registered is closed, not served. */
	registry_restore(&d->reg);
	daemon_close_unknown(d);
	/*
	 * Attached once, pinned: every run below is covered from its first
	 * instruction. After the restore, so that an upgrade switches the
	 * parent's links to programs whose maps already hold every run's guard.
	 */
	runs_fd = open(d->paths.runs_parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (runs_fd < 0)
		return df_err_set(err, -errno, "open %s: %s", d->paths.runs_parent,
				  strerror(errno));
	r = dnsguard__attach_pinned(d->bpf, runs_fd, d->paths.runs_pins, err);
	if (r < 0)
		return df_err_wrap(err, "cgroup %s", d->paths.runs_parent);
	r = dnsguard__take_over(d->bpf, err);
	if (r < 0)
		return r;
	r = engine__purge_stale_policies(d->engine);
	if (r > 0)
		log_msg(LOG_INFO, "deleted %d map entries of policies a previous daemon used", r);
	if (metrics_len) {
		r = daemon_metrics_listen(d, &metrics_addr, metrics_len, err);
		if (r < 0)
			return r;
	}
	return daemon_ctl_listen(d, err);
}

/* A directory with no entries but "." and ".." (and cgroup's own files for cgroups). */
static bool has_subdirs(const char *path)
{
	struct dirent *de;
	bool any = false;
	DIR *dh = opendir(path);

	if (!dh)
		return false;
	while (!any && (de = readdir(dh)))
		any = de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(dh);
	return any;
}

/*
 * A clean stop leaves nothing that guards nothing: with no run left under
 * the runs parent, its links are unpinned and the cgroups removed; with no
 * container registered, the maps go too. Whatever still guards something
 * stays pinned, so those jobs keep failing closed until a daemon returns.
 */
static void teardown(struct daemon *d)
{
	char path[PATH_MAX + 32];
	DIR *dh;
	struct dirent *de;
	bool containers = false;

	if (!d->paths.runs_parent[0] || !d->paths.pins[0])
		return;
	dh = opendir(d->paths.runs_parent);
	while (dh && (de = readdir(dh))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->paths.runs_parent, de->d_name);
		rmdir(path); /* an empty leftover; one with processes stays */
	}
	if (dh)
		closedir(dh);
	if (has_subdirs(d->paths.runs_parent))
		return;
	guard_unpin(d->paths.runs_pins);
	rmdir(d->paths.runs_parent);
	snprintf(path, sizeof(path), "%s", d->paths.runs_parent);
	*strrchr(path, '/') = '\0';
	rmdir(path); /* the instance's cgroup, if nothing else is in it */
	dh = opendir(d->paths.records);
	while (dh && (de = readdir(dh)))
		containers |= de->d_name[0] != '.';
	if (dh)
		closedir(dh);
	if (!containers)
		dnsguard__remove_pins(d->paths.pins);
}

int main(int argc, char **argv)
{
	struct daemon d = {
	    .config_dir = DEFAULT_CONFIG_DIR,
	    .state_dir = DEFAULT_STATE_DIR,
	    .ctl_listen.fd = -1,
	    .sigfd.fd = -1,
	    .notify_fd = -1,
	};
	struct engine_opts eo = {0};
	struct df_err err = {0};
	int r;

	r = parse_args(argc, argv, &d, &eo);
	if (r >= 0)
		return r;
	if (!eo.workers) {
		/* The CPUs it may run on (a cpuset, taskset), not all the node's. */
		cpu_set_t set;
		long n = sched_getaffinity(0, sizeof(set), &set) == 0
			     ? CPU_COUNT(&set)
			     : sysconf(_SC_NPROCESSORS_ONLN);

		eo.workers = n < 1 ? 1 : n > WORKERS_MAX ? WORKERS_MAX : (int)n;
	}
	log_detect_journal();
	libbpf_set_print(log_libbpf_print);
	raise_fd_limit();
	if (!eo.n_upstreams && upstreams_from_resolv_conf(&eo, "/etc/resolv.conf", &err) < 0) {
		fprintf(stderr, "depfenced: %s\n", err.msg);
		return 1;
	}
	r = setup(&d, &eo, &err);
	if (r < 0) {
		log_msg(LOG_ERROR, "depfenced: %s", err.msg);
		r = 1;
		goto out;
	}
	r = daemon_notify_open(&d.notify_fd, &err);
	if (r == 0)
		r = daemon_drop_privileges(&err);
	if (r == 0)
		r = daemon_seccomp_install(&err);
	/* Last: the threads inherit the dropped privileges and the filter. */
	if (r == 0)
		r = engine__start_workers(d.engine, &err);
	if (r < 0) {
		log_msg(LOG_ERROR, "depfenced: %s", err.msg);
		r = 1;
		goto out;
	}
	log_msg(LOG_INFO,
		"depfenced ready socket=%s policies=%d upstreams=%d workers=%d spread=%u cgroup=%s",
		d.paths.sock, d.policies.n, eo.n_upstreams, eo.workers, engine__spread(d.engine),
		d.paths.runs_parent);
	log_flush();
	/* Type=notify: the control socket exists, so systemd may start what needs it. */
	r = daemon_notify(d.notify_fd, "READY=1");
	if (r < 0)
		log_msg(LOG_WARN, "depfenced: NOTIFY_SOCKET: send: %s", strerror(-r));
	uint64_t reaped_at = now_ms();

	while (!d.stop) {
		int t = engine__next_timeout(d.engine);
		uint64_t now;

		/* Restored runs whose client never came back are reaped about once a second. */
		if (t < 0 || t > 1000)
			t = 1000;
		loop__wait(d.loop, t);
		/* Control touches any guard: the workers wait between turns meanwhile. */
		engine__pause(d.engine);
		loop__dispatch(d.loop);
		engine__tick(d.engine);
		now = now_ms();
		daemon_metrics_tick(&d, now);
		if (now - reaped_at >= 1000) {
			daemon_reap_orphan_runs(&d);
			reaped_at = now;
		}
		log_flush();
		engine__resume(d.engine);
	}
	r = 0;
out:
	/* The workers first: closing the control clients ends runs, removing guards. */
	if (d.engine)
		engine__stop_workers(d.engine);
	daemon_ctl_close(&d);
	daemon_metrics_close(&d);
	engine__free(d.engine);
	closep(&d.sigfd.fd);
	if (d.stop)
		daemon_notify(d.notify_fd, "STOPPING=1");
	closep(&d.notify_fd);
	loop__free(d.loop);
	dnsguard__destroy(d.bpf);
	if (d.stop)
		teardown(&d);
	policy_store__clear(&d.policies);
	log_flush();
	return r;
}
