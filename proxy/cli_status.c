// SPDX-License-Identifier: GPL-2.0-only
/* depfence status: what depfenced guards right now. */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "ctl_proto.h"
#include "dnsguard_api.h"

static const char usage[] =
    "Usage: depfence status [--state-dir DIR] [--json] [--kernel]\n"
    "\n"
    "List every cgroup the daemon guards: kind (run or container), id,\n"
    "policy, mode, since when, queries, blocked, would-block (audit),\n"
    "packets blocked, the last block, whether the kernel runs its\n"
    "programs on the cgroup (ENFORCING, read from the kernel) and the\n"
    "cgroup path; then a KERNEL line with the BPF programs' counters\n"
    "(all guards together). --json prints the guards as a JSON array.\n"
    "\n"
    "  --kernel   only the BPF programs' counters, one a line with what it\n"
    "             counts (with --json: one object, {name: value})\n";

static void fmt_time(json_object *g, const char *key, char *buf, size_t cap)
{
	json_object *v;
	time_t t;

	if (!json_object_object_get_ex(g, key, &v) || !json_object_is_type(v, json_type_int)) {
		snprintf(buf, cap, "-");
		return;
	}
	t = json_object_get_int64(v);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

static long long get_num(json_object *g, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(g, key, &v) ? json_object_get_int64(v) : 0;
}

static void print_table(json_object *guards)
{
	size_t i, n = json_object_array_length(guards);

	printf("%-10s %-40s %-16s %-9s %-20s %8s %8s %8s %8s %-20s %-9s %s\n", "KIND", "ID",
	       "POLICY", "MODE", "SINCE", "QUERIES", "BLOCKED", "WOULD", "PACKETS", "LAST-BLOCK",
	       "ENFORCING", "CGROUP");
	for (i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(guards, i), *enf;
		char since[32], last[32];
		bool enforcing =
		    json_object_object_get_ex(g, "enforcing", &enf) && json_object_get_boolean(enf);

		fmt_time(g, "since", since, sizeof(since));
		fmt_time(g, "lastBlock", last, sizeof(last));
		printf("%-10s %-40s %-16s %-9s %-20s %8lld %8lld %8lld %8lld %-20s %-9s %s\n",
		       ctl_get_str(g, "kind") ?: "?", ctl_get_str(g, "id") ?: "?",
		       ctl_get_str(g, "policy") ?: "?", ctl_get_str(g, "mode") ?: "?", since,
		       get_num(g, "queries"), get_num(g, "blocked"), get_num(g, "wouldBlock"),
		       get_num(g, "packetsBlocked"), last, enforcing ? "yes" : "NO",
		       ctl_get_str(g, "cgroup") ?: "?");
	}
}

/* What kernel counter NAME counts; "" for one this build does not know (another daemon's). */
static const char *counter_help(const char *name)
{
	int i;

	for (i = 0; i < DF_CNT__MAX; i++)
		if (strcmp(dnsguard__counter_name(i), name) == 0)
			return dnsguard__counter_help(i);
	return "";
}

/* The table's footer: every counter as NAME=VALUE, in the daemon's order. */
static void print_kernel_footer(json_object *kernel)
{
	fputs("KERNEL", stdout);
	json_object_object_foreach(kernel, name, v)
	{
		printf(" %s=%llu", name, (unsigned long long)json_object_get_uint64(v));
	}
	putchar('\n');
}

static void print_kernel(json_object *kernel)
{
	printf("%-20s %12s  %s\n", "COUNTER", "VALUE", "COUNTS");
	json_object_object_foreach(kernel, name, v)
	{
		printf("%-20s %12llu  %s\n", name, (unsigned long long)json_object_get_uint64(v),
		       counter_help(name));
	}
}

int cli_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"kernel", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *state_dir = DEFAULT_STATE_DIR;
	_cleanup_json_ json_object *req = NULL, *reply = NULL;
	_cleanup_close_ int fd = -1;
	struct df_err err = {0};
	json_object *guards, *okv, *kernel = NULL;
	bool json = false, kernel_only = false;
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			state_dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'k':
			kernel_only = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_usage_error("status", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
	r = ctl_connect(state_dir, &fd);
	if (r < 0) {
		fprintf(stderr, "depfence status: no daemon at %s/%s: %s\n", state_dir,
			CTL_SOCKET_NAME, strerror(-r));
		return 1;
	}
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("status"));
	if (ctl_call(fd, req, 5000, &reply, &err) < 0) {
		fprintf(stderr, "depfence status: %s\n", err.msg);
		return 1;
	}
	if (!json_object_object_get_ex(reply, "ok", &okv) || !json_object_get_boolean(okv) ||
	    !json_object_object_get_ex(reply, "guards", &guards)) {
		fprintf(stderr, "depfence status: %s\n",
			ctl_get_str(reply, "error") ?: "bad reply");
		return 1;
	}
	if (!json_object_object_get_ex(reply, "kernel", &kernel) ||
	    !json_object_is_type(kernel, json_type_object))
		kernel = NULL; /* a daemon of an older build */
	if (kernel_only && !kernel) {
		fprintf(stderr, "depfence status: the daemon reports no kernel counters (an older "
				"build: restart it)\n");
		return 1;
	}
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(kernel_only ? kernel : guards,
							      JSON_C_TO_STRING_PLAIN));
	} else if (kernel_only) {
		print_kernel(kernel);
	} else {
		print_table(guards);
		if (kernel)
			print_kernel_footer(kernel);
	}
	return 0;
}
