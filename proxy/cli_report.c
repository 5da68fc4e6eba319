// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfence report: a run report (docs/report.md) of a container, asked of
 * depfenced while it runs or after it ended, or a report file drawn as one
 * self-contained HTML page.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_report_html.h"
#include "config.h"
#include "ctl_proto.h"

static const char usage[] =
    "Usage: depfence report --container ID [--state-dir DIR]\n"
    "       depfence report --html FILE.json > map.html\n"
    "\n"
    "  --container ID   print the run report of container ID as JSON (the same object as\n"
    "                   depfence run --report): while it runs, or after it ended (depfenced\n"
    "                   keeps the last 64 ended containers' reports in memory; a restart\n"
    "                   forgets them)\n"
    "  --state-dir DIR  where the daemon's socket is (default /run/depfence)\n"
    "  --html FILE      draw report FILE as one HTML page on stdout: the process tree with\n"
    "                   the names each process looked up, blocked and would-be-blocked ones\n"
    "                   marked; no network needed to view it\n";

static int container_report(const char *state_dir, const char *id)
{
	_cleanup_json_ json_object *req = ctl_run_report_encode(id), *reply = NULL;
	struct df_err err = {0};
	_cleanup_close_ int fd = -1;
	json_object *rep;
	int r;

	r = ctl_connect(state_dir, &fd);
	if (r < 0) {
		fprintf(stderr, "depfence report: no depfenced on %s/%s: %s\n", state_dir,
			CTL_SOCKET_NAME, strerror(-r));
		return 1;
	}
	if (ctl_call(fd, req, 5000, &reply, &err) < 0) {
		fprintf(stderr, "depfence report: %s\n", err.msg);
		return 1;
	}
	if (!ctl_reply_ok(reply)) {
		fprintf(stderr, "depfence report: %s\n",
			ctl_get_str(reply, "error") ?: "depfenced refused");
		return 1;
	}
	if (ctl_report_reply_decode(reply, &rep, &err) < 0) {
		fprintf(stderr, "depfence report: depfenced's reply: %s\n", err.msg);
		return 1;
	}
	puts(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

static int html_report(const char *file)
{
	_cleanup_json_ json_object *rep = json_object_from_file(file);
	json_object *names;

	if (!rep || !json_object_is_type(rep, json_type_object) ||
	    !json_object_object_get_ex(rep, "names", &names)) {
		fprintf(stderr, "depfence report: %s: not a run report (%s)\n", file,
			json_util_get_last_err() ?: "no \"names\"");
		return 1;
	}
	return report_html_write(stdout, rep) < 0 ? 1 : 0;
}

int cli_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"container", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"html", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *state_dir = DEFAULT_STATE_DIR, *id = NULL, *html = NULL;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			id = optarg;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'H':
			html = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return cli_usage_error("report", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	if (!!id == !!html)
		return cli_usage_error("report", "give one of --container ID or --html FILE");
	return id ? container_report(state_dir, id) : html_report(html);
}
