// SPDX-License-Identifier: GPL-2.0-only
/* depfence: the command line. `depfence run`, `depfence status`, `depfence doctor`. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: depfence COMMAND [OPTIONS]\n"
    "\n"
    "Make a deploy job's dependencies on the platform it repairs visible and blockable.\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] -- CMD [ARG...]   run CMD with its DNS guarded by a policy\n"
    "  status [--state-dir DIR] [--json]  list the cgroups depfenced guards\n"
    "  doctor [--state-dir DIR] [--json]  check whether depfence can guard on this host\n"
    "  report --container ID | --html FILE.json  a run report, or its dependency map\n"
    "  learn FILE.json                 an allowlist policy from a run report\n"
    "\n"
    "`depfence COMMAND --help` describes each.\n";

int cli_usage_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "depfence %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cli_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return cli_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "doctor") == 0)
		return cli_doctor(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return cli_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "learn") == 0)
		return cli_learn(argc - 1, argv + 1);
	fprintf(stderr, "depfence: unknown command '%s' (see depfence --help)\n", argv[1]);
	return 2;
}
