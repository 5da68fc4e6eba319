// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfence run: start a command in a fresh cgroup whose DNS is guarded.
 * With a daemon answering on STATEDIR/depfenced.sock the run is registered
 * there (programs are already attached to the runs parent cgroup); without
 * one, this process loads the BPF programs itself and serves as the proxy
 * until the command exits.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "cgroup_limits.h"
#include "cli.h"
#include "cli_run_report.h"
#include "config.h"
#include "ctl_proto.h"
#include "engine.h"
#include "dnsguard_api.h"
#include "job_confine.h"
#include "log.h"
#include "registry.h"
#include "report_collect.h"

#define MAX_INLINE 256

static const char usage[] =
    "Usage: depfence run [--state-dir DIR] [--config-dir DIR] [--policy NAME]\n"
    "                    [--upstream HOST:PORT]... [--block NAME]... [--allow NAME]...\n"
    "                    [--mode blocklist|allowlist|audit] [--log-format logfmt|json]\n"
    "                    [--log-full-cmdline] [--report FILE] [--fail-on-block]\n"
    "                    [--expect-block NAME]... [--memory-max SIZE] [--cpu-quota PCT]\n"
    "                    [--pids-max N] [-v] -- CMD [ARG...]\n"
    "\n"
    "Run CMD in its own cgroup with every DNS query it (or any descendant) makes sent\n"
    "to the depfence proxy. Blocked names are refused at once and logged with the\n"
    "process that asked. Uses depfenced if one answers on DIR/depfenced.sock, else\n"
    "serves as the proxy itself for CMD's lifetime.\n"
    "\n"
    "  --policy NAME         CONFIG_DIR/policies/NAME.policy (default: default.policy,\n"
    "                        else a built-in policy that blocks github.com and its hosts)\n"
    "  --block NAME          refuse NAME and the names under it (repeatable)\n"
    "  --allow NAME          allow NAME and the names under it (repeatable)\n"
    "  --mode MODE           override the policy's mode\n"
    "  --upstream HOST:PORT  resolver for the embedded proxy (repeatable; default\n"
    "                        /etc/resolv.conf); a daemon uses its own\n"
    "  --state-dir DIR       where the daemon's socket is (default /run/depfence)\n"
    "  --config-dir DIR      where policies are (default /etc/depfence)\n"
    "  --log-format FORMAT   logfmt (default) or json: one JSON object per line, same\n"
    "                        field names; a daemon's lines follow the daemon's flag\n"
    "  --log-full-cmdline    log command lines whole: no *** for URL passwords,\n"
    "                        --token/--password values, Authorization headers\n"
    "                        (with a daemon: for this run's lines there too)\n"
    "  --report FILE         when CMD ends, write FILE: one JSON object with every name\n"
    "                        the run looked up, who asked, the verdict and rule, the\n"
    "                        addresses handed out, packet refusals, the process tree\n"
    "  --fail-on-block       when CMD ends, list every refusal (or would-be refusal in\n"
    "                        audit mode) on stderr and exit 3 if there was one\n"
    "  --expect-block NAME   a refusal of NAME or a name under it is expected: listed,\n"
    "                        but no failure (repeatable)\n"
    "  --memory-max SIZE     limit the job's memory (512M, 2G, bytes; max: none); past\n"
    "                        it the kernel OOM-kills inside the job: oom_kill=N on the\n"
    "                        'run ended' line, exit 137\n"
    "  --cpu-quota PCT       limit the job's CPU time, in percent of one CPU (150% is\n"
    "                        one and a half CPUs)\n"
    "  --pids-max N          limit the job's processes and threads to N\n"
    "                        (the three override the policy's memory-max, cpu-quota,\n"
    "                        pids-max lines)\n"
    "  -v, --verbose         log allowed queries too\n"
    "\n"
    "Exit status: CMD's, 128+N if it died of signal N, 137 if it failed after an\n"
    "OOM kill in the job, 2 for a usage error, 3 when --fail-on-block saw an\n"
    "unexpected refusal and CMD itself succeeded.\n";

struct run_opts {
	const char *state_dir, *config_dir, *policy;
	const char *block[MAX_INLINE], *allow[MAX_INLINE];
	struct inline_rules rules;
	bool full_cmdline; /* --log-full-cmdline */
	struct report_opts rep;
	struct engine_opts eo;
	struct cg_limits limits; /* --memory-max, --cpu-quota, --pids-max */
	char **cmd;
};

/* Returns -1 to go on, else the exit status. */
static int parse_run_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"config-dir", required_argument, NULL, 'c'},
	    {"policy", required_argument, NULL, 'p'},
	    {"upstream", required_argument, NULL, 'u'},
	    {"block", required_argument, NULL, 'b'},
	    {"allow", required_argument, NULL, 'a'},
	    {"mode", required_argument, NULL, 'm'},
	    {"log-format", required_argument, NULL, 'L'},
	    {"log-full-cmdline", no_argument, NULL, 'F'},
	    {"report", required_argument, NULL, 'R'},
	    {"fail-on-block", no_argument, NULL, 'X'},
	    {"expect-block", required_argument, NULL, 'E'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {CG_MEMORY_WORD, required_argument, NULL, 0x100 + CG_MEMORY},
	    {CG_CPU_WORD, required_argument, NULL, 0x100 + CG_CPU},
	    {CG_PIDS_WORD, required_argument, NULL, 0x100 + CG_PIDS},
	    {},
	};
	const char *needs;
	struct df_err err = {0};
	enum log_format fmt;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->state_dir = optarg;
			break;
		case 'c':
			o->config_dir = optarg;
			break;
		case 'p':
			if (!policy_name_valid(optarg))
				return cli_usage_error("run", "invalid policy name '%s'", optarg);
			o->policy = optarg;
			break;
		case 'u':
			if (upstream_add(&o->eo, optarg, &err) < 0)
				return cli_usage_error("run", "%s", err.msg);
			break;
		case 'b':
		case 'a':
			if (o->rules.n_block + o->rules.n_allow >= MAX_INLINE)
				return cli_usage_error("run", "at most %d --block/--allow rules",
						       MAX_INLINE);
			if (c == 'b')
				o->block[o->rules.n_block++] = optarg;
			else
				o->allow[o->rules.n_allow++] = optarg;
			break;
		case 'm':
			o->rules.mode = optarg;
			break;
		case 'L':
			if (log_format_parse(optarg, &fmt) < 0)
				return cli_usage_error(
				    "run", "--log-format '%s': expected logfmt or json", optarg);
			log_set_format(fmt);
			break;
		case 'F':
			o->full_cmdline = true;
			break;
		case 'R':
			o->rep.file = optarg;
			break;
		case 'X':
			o->rep.fail_on_block = true;
			break;
		case 'E':
			if (o->rep.n_expect >= EXPECT_MAX)
				return cli_usage_error("run", "at most %d --expect-block names",
						       EXPECT_MAX);
			o->rep.expect[o->rep.n_expect++] = optarg;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 0x100 + CG_MEMORY:
		case 0x100 + CG_CPU:
		case 0x100 + CG_PIDS:
			c -= 0x100;
			if (cg_limit_parse(c, optarg, strlen(optarg), &o->limits.val[c], &needs) <
			    0)
				return cli_usage_error("run", "--%s '%s': expected %s",
						       cg_limit_name(c), optarg, needs);
			o->limits.set |= 1u << c;
			break;
		default:
			return cli_usage_error("run", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("run", "no command given (depfence run [OPTIONS] -- CMD)");
	if (o->rep.n_expect && !o->rep.fail_on_block)
		return cli_usage_error("run", "--expect-block goes with --fail-on-block");
	o->cmd = argv + optind;
	return -1;
}

struct runner {
	struct loop *loop;
	struct ev_source sigfd;
	struct ev_source ctl;	 /* daemon mode: EOF means the daemon went away */
	struct ev_source notify; /* the job's seccomp notifications (AF_PACKET sockets) */
	struct job_notify_ctx nctx;
	const char *state_dir; /* daemon mode: where to find depfenced again */
	char run_id[128];
	bool lost;	/* daemon mode: depfenced went away; adopt the run again */
	bool ctl_owned; /* ctl.fd is an adoption's (ours to close), not the caller's */
	pid_t child;
	int status;
	bool done;
	struct cg_job job; /* the job's resource limits (job.v1: its own v1 cgroups) */
	struct cg_limits limits;
};

static void on_notify(struct ev_source *src, uint32_t events)
{
	struct runner *rn = container_of(src, struct runner, notify);

	/* Every process of the job that could ask is gone: stop listening. */
	if ((events & (EPOLLHUP | EPOLLERR)) || job_notify_handle(src->fd, &rn->nctx) < 0) {
		loop__del(rn->loop, src);
		closep(&src->fd);
	}
}

static void on_signal(struct ev_source *src, uint32_t events)
{
	struct runner *rn = container_of(src, struct runner, sigfd);
	struct signalfd_siginfo si;

	while (read(src->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGCHLD) {
			kill(rn->child, si.ssi_signo); /* the command decides how to stop */
			continue;
		}
		if (!rn->done && waitpid(rn->child, &rn->status, WNOHANG) == rn->child)
			rn->done = true;
	}
}

static void on_ctl_hup(struct ev_source *src, uint32_t events)
{
	struct runner *rn = container_of(src, struct runner, ctl);
	char buf[256];

	if (read(src->fd, buf, sizeof(buf)) > 0)
		return;
	log_msg(LOG_WARN, "depfenced went away: DNS of this run fails closed until it is back");
	loop__del(rn->loop, src);
	if (rn->ctl_owned)
		close(src->fd);
	src->fd = -1;
	rn->lost = true;
}

/*
 * A restarted depfenced restores the run from its saved record; this client
 * takes it back (run-adopt), so the run still ends with its command. Until
 * then the job's DNS fails closed, never open.
 */
static void try_adopt(struct runner *rn)
{
	_cleanup_json_ json_object *req = ctl_id_encode("run-adopt", rn->run_id), *reply = NULL;
	struct df_err err = {0};
	int fd = -1;

	if (ctl_connect(rn->state_dir, &fd) < 0)
		return;
	if (ctl_call(fd, req, 2000, &reply, &err) < 0 || !ctl_reply_ok(reply)) {
		close(fd); /* not restored (yet): try again */
		return;
	}
	rn->ctl.fd = fd;
	rn->ctl_owned = true;
	loop__add(rn->loop, &rn->ctl, EPOLLIN);
	rn->lost = false;
	log_msg(LOG_INFO, "depfenced is back: run %s guarded again", rn->run_id);
}

static const int fwd_signals[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* fork; the child enters CGROUP before exec, so its first instruction is guarded. */
static int spawn(struct runner *rn, const char *cgroup, char **cmd, const sigset_t *old)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		struct df_err err = {0};
		int r = cgroup_enter(cgroup, 0);

		if (r < 0) {
			fprintf(stderr, "depfence: enter cgroup %s: %s\n", cgroup, strerror(-r));
			_exit(126);
		}
		/* Never run the command half-confined: it could leave the guard. */
		close(sv[0]);
		if (cg_job_join(&rn->job, &err) < 0 ||
		    job_confine(sv[1], rn->state_dir, &rn->job, &err) < 0) {
			fprintf(stderr, "depfence: %s\n", err.msg);
			_exit(126);
		}
		sigprocmask(SIG_SETMASK, old, NULL);
		signal(SIGPIPE, SIG_DFL);
		execvp(cmd[0], cmd);
		fprintf(stderr, "depfence: %s: %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	rn->child = pid;
	close(sv[1]);
	/* Sent before exec, or the child's end closes (exec, exit): never blocks long. */
	rn->notify.fd = job_notify_recv(sv[0]);
	close(sv[0]);
	if (rn->notify.fd >= 0) {
		rn->notify.on_ready = on_notify;
		loop__add(rn->loop, &rn->notify, EPOLLIN);
	}
	return 0;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

#define LIMITS_PREFIX "depfence-run"

/*
 * Before the job starts: the v1 hierarchies it will mount afresh (every run,
 * so a run nested in it can place limits below it), and the run's limits (the
 * policy's defaults under the command line's) on its cgroups, if any.
 */
static int runner_limit(struct runner *rn, const struct cg_limits *policy,
			const struct cg_limits *flags, const char *cgroup, struct df_err *err)
{
	struct cg_host host;
	char name[64];
	int r;

	rn->limits = *policy;
	cg_limits_merge(&rn->limits, flags);
	r = cg_host_read(&host, "/proc/self/mountinfo", "/proc/self/cgroup", err);
	if (r < 0)
		return rn->limits.set ? r : 0; /* no limits: nothing to place */
	/* Every job sees the v1 hierarchies from its own cgroup down, limited or not. */
	cg_job_init(&rn->job, &host);
	if (!rn->limits.set)
		return 0;
	cg_job_reap_stale(&host, rn->limits.set, LIMITS_PREFIX);
	snprintf(name, sizeof(name), "%s-%d", LIMITS_PREFIX, (int)getpid());
	return cg_job_limit(&rn->job, &host, &rn->limits, cgroup, name, err);
}

/*
 * The command is done: say what the limits did (the caller removes the job's
 * v1 cgroups with cg_job_release once its v2 cgroup is emptied). A job that
 * failed after the kernel OOM-killed a process in it exits 137, whatever the
 * shell made of it.
 */
static int runner_unlimit(struct runner *rn, const char *id, int code)
{
	char lim[160];
	uint64_t ooms;

	if (!rn->limits.set)
		return code;
	ooms = cg_job_oom_kills(&rn->job);
	if (ooms && code != 0)
		code = 137;
	cg_limits_str(&rn->limits, lim, sizeof(lim));
	log_msg(ooms ? LOG_WARN : LOG_INFO, "run ended id=%s exit=%d oom_kill=%llu %s", id, code,
		(unsigned long long)ooms, lim);
	return code;
}

static int runner_start(struct runner *rn, const char *cgroup, char **cmd, struct engine *engine)
{
	sigset_t mask, old;
	size_t i;
	int r;

	sigemptyset(&mask);
	for (i = 0; i < ARRAY_SIZE(fwd_signals); i++)
		sigaddset(&mask, fwd_signals[i]);
	sigprocmask(SIG_BLOCK, &mask, &old);
	rn->sigfd.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (rn->sigfd.fd < 0)
		return -errno;
	rn->sigfd.on_ready = on_signal;
	loop__add(rn->loop, &rn->sigfd, EPOLLIN);
	r = spawn(rn, cgroup, cmd, &old);
	if (r < 0)
		return r;
	while (!rn->done) {
		loop__run_once(rn->loop, engine	    ? engine__next_timeout(engine)
					 : rn->lost ? 200
						    : -1);
		if (engine)
			engine__tick(engine);
		else if (rn->lost && !rn->done)
			try_adopt(rn);
		log_flush();
	}
	return 0;
}

/*
 * Embedded runs pin their links, so a depfence killed with -9 leaves its job
 * guarded (DNS failing closed) rather than open. The next embedded run of the
 * same instance clears what a dead one left: the job is killed, the cgroup and
 * pins removed.
 */
struct embedded_paths {
	char cg_parent[PATH_MAX], cgroup[PATH_MAX];
	char pin_parent[PATH_MAX], pins[PATH_MAX];
};

static void reap_stale(const struct embedded_paths *p)
{
	const char *dirs[] = {p->cg_parent, p->pin_parent};
	char path[PATH_MAX + 300];
	struct dirent *de;
	size_t i;
	DIR *d;
	int pid;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		d = opendir(dirs[i]);
		while (d && (de = readdir(d))) {
			if (sscanf(de->d_name, "run-%d", &pid) != 1 || pid <= 0 || pid == getpid())
				continue;
			if (kill(pid, 0) == 0 || errno != ESRCH)
				continue;
			snprintf(path, sizeof(path), "%s/%s", p->cg_parent, de->d_name);
			cgroup_kill_and_remove(path, 500);
			snprintf(path, sizeof(path), "%s/%s", p->pin_parent, de->d_name);
			guard_unpin(path);
		}
		if (d)
			closedir(d);
	}
}

/* BASE: where the instance's cgroups go (the v2 root, or a nested run's own cgroup). */
static int embedded_paths(const char *state_dir, const char *base, struct embedded_paths *p,
			  struct df_err *err)
{
	struct df_paths paths;
	char root[PATH_MAX];
	int r;

	r = cgroup_v2_root(root, sizeof(root), err);
	if (r < 0)
		return r;
	job_boundary_init(root);
	r = bpffs_ensure(BPFFS_ROOT, err);
	if (r < 0)
		return r;
	if (df_paths_init(&paths, state_dir, base ?: root) < 0)
		return df_err_set(err, -ENAMETOOLONG, "state dir %s: path too long", state_dir);
	snprintf(p->cg_parent, sizeof(p->cg_parent), "%s", paths.embedded_cgroups);
	snprintf(p->pin_parent, sizeof(p->pin_parent), "%s", paths.embedded_pins);
	df_paths_embedded_run(&paths, (int)getpid(), p->pins, sizeof(p->pins), p->cgroup,
			      sizeof(p->cgroup));
	return 0;
}

/* Remove the run's cgroup (killing what it left) and pins, and empty parents. */
static void embedded_cleanup(struct embedded_paths *p)
{
	cgroup_kill_and_remove(p->cgroup, 2000);
	guard_unpin(p->pins);
	rmdir(p->cg_parent);
	*strrchr(p->cg_parent, '/') = '\0';
	rmdir(p->cg_parent);
	rmdir(p->pin_parent);
	*strrchr(p->pin_parent, '/') = '\0';
	rmdir(p->pin_parent);
}

static int run_embedded(struct run_opts *o, const char *nested_in)
{
	struct runner rn = {.sigfd.fd = -1, .notify.fd = -1};
	struct embedded_paths ep;
	struct dnsguard *bpf = NULL;
	struct engine *engine = NULL;
	struct policy *policy = NULL;
	struct df_err err = {0};
	struct reg_record rec = {.kind = GUARD_RUN};
	struct registry reg;
	int r, code = 1;

	r = policy_build(o->config_dir, o->policy, &o->rules, &policy, &err);
	if (r < 0)
		return cli_usage_error("run", "%s", err.msg);
	if (!o->eo.n_upstreams && upstreams_from_resolv_conf(&o->eo, "/etc/resolv.conf", &err) < 0)
		goto fail;
	if (embedded_paths(o->state_dir, nested_in, &ep, &err) < 0)
		goto fail;
	reap_stale(&ep);
	r = cgroup_mkdir_p(ep.cgroup);
	if (r < 0) {
		df_err_set(&err, r, "create cgroup %s: %s", ep.cgroup, strerror(-r));
		goto fail;
	}
	if (dnsguard__load(NULL, &bpf, &err) < 0)
		goto fail_cg;
	r = loop__new(&rn.loop);
	if (r < 0) {
		df_err_set(&err, r, "epoll: %s", strerror(-r));
		goto fail_cg;
	}
	o->eo.bpf = bpf;
	o->eo.loop = rn.loop;
	if (engine__new(&o->eo, &engine, &err) < 0)
		goto fail_cg;
	/* The registry's one path, with nothing saved: this process is the run's owner. */
	reg = (struct registry){.engine = engine, .bpf = bpf, .config_dir = o->config_dir};
	rec.id = strrchr(ep.cgroup, '/') + 1;
	rec.cgroup = ep.cgroup;
	rec.pins = ep.pins;
	rec.built = policy;
	rec.full_cmdline = o->full_cmdline;
	if (registry_add(&reg, &rec, 0, 0, NULL, &err) < 0)
		goto fail_cg;
	rn.state_dir = o->state_dir;
	rn.nctx = (struct job_notify_ctx){
	    .policy = policy__name(policy),
	    .mode = policy_mode_str(policy__mode(policy)),
	    .id_key = "run",
	    .id = rec.id,
	    .cgroup_rel = cgroup_below_root(ep.cgroup),
	    .full_cmdline = o->full_cmdline,
	};
	r = runner_limit(&rn, policy__limits(policy), &o->limits, ep.cgroup, &err);
	policy = NULL; /* the guard owns it now */
	if (r < 0)
		goto fail_cg;
	r = runner_start(&rn, ep.cgroup, o->cmd, engine);
	if (r < 0) {
		df_err_set(&err, r, "start %s: %s", o->cmd[0], strerror(-r));
	} else {
		code = runner_unlimit(&rn, rec.id, exit_code(rn.status));
		if (report_wanted(&o->rep)) {
			_cleanup_json_ json_object *rep = engine__report_json(engine, rec.id);

			code = report_finish(rep, &o->rep, code);
		}
	}
fail_cg:
	/* Leftover background processes would run unguarded once the links go: kill them. */
	embedded_cleanup(&ep);
	cg_job_release(&rn.job);
fail:
	if (err.msg[0])
		log_msg(LOG_ERROR, "depfence run: %s", err.msg);
	engine__free(engine);
	dnsguard__destroy(bpf);
	policy__free(policy);
	closep(&rn.sigfd.fd);
	closep(&rn.notify.fd);
	loop__free(rn.loop);
	log_flush();
	return code;
}

static json_object *run_request(const struct run_opts *o)
{
	struct ctl_run_start m = {
	    .policy = o->policy, .rules.mode = o->rules.mode, .full_cmdline = o->full_cmdline};
	int i;

	for (i = 0; i < o->rules.n_block && i < CTL_RULES_MAX; i++)
		m.rules.block[m.rules.n_block++] = o->rules.block[i];
	for (i = 0; i < o->rules.n_allow && i < CTL_RULES_MAX; i++)
		m.rules.allow[m.rules.n_allow++] = o->rules.allow[i];
	return ctl_run_start_encode(&m);
}

/* The run's report, asked before run-stop (which drops the guard); it points into *RET_REPLY. */
static json_object *daemon_report(struct runner *rn, json_object **ret_reply)
{
	_cleanup_json_ json_object *req = ctl_run_report_encode(NULL);
	struct df_err err = {0};
	json_object *rep;

	if (rn->ctl.fd < 0) {
		log_msg(LOG_ERROR, "depfence run: depfenced is gone: no run report");
		return NULL;
	}
	if (ctl_call(rn->ctl.fd, req, 5000, ret_reply, &err) < 0) {
		log_msg(LOG_ERROR, "depfence run: run report: %s", err.msg);
		return NULL;
	}
	if (!ctl_reply_ok(*ret_reply)) {
		log_msg(LOG_ERROR, "depfence run: run report: %s",
			ctl_get_str(*ret_reply, "error") ?: "refused");
		return NULL;
	}
	if (ctl_report_reply_decode(*ret_reply, &rep, &err) < 0) {
		log_msg(LOG_ERROR, "depfence run: run report: %s", err.msg);
		return NULL;
	}
	return rep;
}

static int run_with_daemon(struct run_opts *o, int fd)
{
	_cleanup_json_ json_object *req = run_request(o), *reply = NULL, *stop = NULL;
	_cleanup_json_ json_object *stop_reply = NULL, *rep_reply = NULL;
	struct runner rn = {.sigfd.fd = -1, .notify.fd = -1};
	struct ctl_run_started started;
	struct df_err err = {0};
	char cg[PATH_MAX];
	int r, code = 1;

	r = ctl_call(fd, req, 5000, &reply, &err);
	if (r < 0) {
		log_msg(LOG_ERROR, "depfence run: %s", err.msg);
		return 1;
	}
	if (!ctl_reply_ok(reply))
		return cli_usage_error("run", "%s",
				       ctl_get_str(reply, "error") ?: "depfenced refused the run");
	if (ctl_run_started_decode(reply, &started, &err) < 0)
		return cli_usage_error("run", "depfenced's reply: %s", err.msg);
	snprintf(cg, sizeof(cg), "%s", started.cgroup);
	r = loop__new(&rn.loop);
	if (r < 0)
		return 1;
	rn.ctl.fd = fd;
	rn.ctl.on_ready = on_ctl_hup;
	loop__add(rn.loop, &rn.ctl, EPOLLIN);
	rn.state_dir = o->state_dir;
	snprintf(rn.run_id, sizeof(rn.run_id), "%s", started.id);
	rn.nctx = (struct job_notify_ctx){
	    .policy = started.policy,
	    .mode = started.mode,
	    .id_key = "run",
	    .id = started.id,
	    .cgroup_rel = cgroup_below_root(cg),
	    .full_cmdline = o->full_cmdline,
	};
	r = runner_limit(&rn, &started.limits, &o->limits, cg, &err);
	if (r < 0)
		log_msg(LOG_ERROR, "depfence run: %s", err.msg);
	else if ((r = runner_start(&rn, cg, o->cmd, NULL)) < 0)
		log_msg(LOG_ERROR, "depfence run: start %s: %s", o->cmd[0], strerror(-r));
	else
		code = runner_unlimit(&rn, rn.run_id, exit_code(rn.status));
	/* Ours to clean up now; the daemon also would once this connection closes. */
	cgroup_kill_and_remove(cg, 2000);
	cg_job_release(&rn.job);
	if (r >= 0 && report_wanted(&o->rep))
		code = report_finish(daemon_report(&rn, &rep_reply), &o->rep, code);
	stop = json_object_new_object();
	json_object_object_add(stop, "op", json_object_new_string("run-stop"));
	/* The connection that holds the run now: the first, or an adoption's. */
	if (rn.ctl.fd >= 0)
		ctl_call(rn.ctl.fd, stop, 2000, &stop_reply, &err);
	if (rn.ctl_owned)
		closep(&rn.ctl.fd);
	closep(&rn.sigfd.fd);
	closep(&rn.notify.fd);
	loop__free(rn.loop);
	log_flush();
	return code;
}

/*
 * A run started inside a guarded job (a deploy script that calls depfence run
 * again) must not get a guard that replaces the enclosing one. Is our own
 * cgroup guarded? Then RET_CG is it: the nested run's cgroup goes below it.
 */
static bool nested_guard(char *ret_cg, size_t cap)
{
	return cgroup_path_of_pid(getpid(), ret_cg, cap, NULL) >= 0 &&
	       dnsguard__cgroup_guarded(ret_cg);
}

/*
 * A nested run is its own embedded proxy (its policy), and it forwards what
 * its policy allows to port 53, where the enclosing guard's programs send it
 * to the enclosing proxy: every enclosing policy still decides, whatever the
 * inner one allows. An upstream on another port would skip the enclosing
 * proxy, so every upstream is asked on port 53.
 */
static void nest_upstreams(struct run_opts *o)
{
	struct df_err err = {0};
	int i;

	if (!o->eo.n_upstreams && upstreams_from_resolv_conf(&o->eo, "/etc/resolv.conf", &err) < 0)
		upstream_add(&o->eo, "127.0.0.53:53", &err);
	for (i = 0; i < o->eo.n_upstreams; i++) {
		struct sockaddr_storage *ss = &o->eo.upstreams[i];

		if (ss->ss_family == AF_INET6)
			((struct sockaddr_in6 *)ss)->sin6_port = htons(53);
		else
			((struct sockaddr_in *)ss)->sin_port = htons(53);
	}
	log_msg(LOG_INFO, "nested run: inside a guarded job, forwarding through its guard");
}

int cli_run(int argc, char **argv)
{
	struct run_opts o = {.state_dir = DEFAULT_STATE_DIR, .config_dir = DEFAULT_CONFIG_DIR};
	char own_cg[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int r;

	o.rules.block = o.block;
	o.rules.allow = o.allow;
	r = parse_run_args(argc, argv, &o);
	if (r >= 0)
		return r;
	libbpf_set_print(log_libbpf_print);
	signal(SIGPIPE, SIG_IGN);
	if (nested_guard(own_cg, sizeof(own_cg))) {
		nest_upstreams(&o);
		o.eo.nested = true;
		return run_embedded(&o, own_cg);
	}
	r = ctl_connect(o.state_dir, &fd);
	if (r == 0)
		return run_with_daemon(&o, fd);
	if (r != -ENOENT && r != -ECONNREFUSED) {
		log_msg(LOG_ERROR, "depfence run: connect to %s/%s: %s", o.state_dir,
			CTL_SOCKET_NAME, strerror(-r));
		log_flush();
		return 1;
	}
	return run_embedded(&o, NULL);
}
