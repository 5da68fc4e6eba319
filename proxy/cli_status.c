// SPDX-License-Identifier: GPL-2.0-only
/* depfence status: what depfenced guards right now. */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "ctl_proto.h"

static const char usage[] = "Usage: depfence status [--state-dir DIR] [--json]\n"
			    "\n"
			    "List every cgroup the daemon guards: kind (run or container), id,\n"
			    "policy, mode, since when, queries, blocked, would-block (audit),\n"
			    "packets blocked, the last block, whether the kernel runs its\n"
			    "programs on the cgroup (ENFORCING, read from the kernel) and the\n"
			    "cgroup path.\n";

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

int cli_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *state_dir = DEFAULT_STATE_DIR;
	_cleanup_json_ json_object *req = NULL, *reply = NULL;
	_cleanup_close_ int fd = -1;
	struct df_err err = {0};
	json_object *guards, *okv;
	bool json = false;
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
	if (json)
		printf("%s\n", json_object_to_json_string_ext(guards, JSON_C_TO_STRING_PLAIN));
	else
		print_table(guards);
	return 0;
}
