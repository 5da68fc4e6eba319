// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfence learn FILE.json: an allowlist policy from a run report, for a
 * reviewer to read: one allow per name (or per parent, policy_learn.h), each
 * under a comment naming the commands that looked it up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl_proto.h"
#include "policy_learn.h"

#define CMDS_SHOWN 3
#define CMD_SHOWN  72

static const char usage[] =
    "Usage: depfence learn FILE.json > NAME.policy\n"
    "\n"
    "Write an allowlist policy (mode allowlist) that allows every name run "
    "report FILE\n"
    "(depfence run --report) looked up, each under a comment naming the "
    "commands that\n"
    "needed it. Names are grouped under a common parent only when it is not "
    "a public\n"
    "suffix and every name seen under it was allowed. Review it before use.\n";

/* A command line as a comment: one line, printable, cut. */
static void put_cmd(FILE *out, const char *cmd)
{
	size_t i;

	for (i = 0; cmd[i] && i < CMD_SHOWN; i++)
		fputc((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f ? '?' : cmd[i], out);
	if (cmd[i])
		fputs("...", out);
}

/* The distinct commands that asked for the names whose rule is RULE. */
static void put_commands(FILE *out, json_object *names, struct learn_name *v, size_t n,
			 const char *rule)
{
	const char *seen[CMDS_SHOWN];
	size_t i, k, shown = 0, more = 0;

	for (i = 0; i < n; i++) {
		json_object *askers, *e = json_object_array_get_idx(names, i);

		if (!v[i].name || strcmp(v[i].rule, rule) != 0 ||
		    !json_object_object_get_ex(e, "asked_by", &askers))
			continue;
		for (k = 0; k < json_object_array_length(askers); k++) {
			const char *cmd = ctl_get_str(json_object_array_get_idx(askers, k), "cmd");
			size_t s;

			if (!cmd)
				continue;
			for (s = 0; s < shown && strcmp(seen[s], cmd) != 0; s++)
				;
			if (s < shown)
				continue;
			if (shown == CMDS_SHOWN) {
				more++;
				continue;
			}
			seen[shown++] = cmd;
		}
	}
	fputs("# needed by: ", out);
	if (!shown)
		fputs("(no process named)", out);
	for (i = 0; i < shown; i++) {
		if (i)
			fputs("; ", out);
		put_cmd(out, seen[i]);
	}
	if (more)
		fprintf(out, "; and %zu more", more);
	fputc('\n', out);
}

/* Names a policy line can hold: the letters dns_parse() leaves bare. */
static bool plain_name(const char *s)
{
	if (!*s || strcmp(s, ".") == 0)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

int cli_learn(int argc, char **argv)
{
	_cleanup_json_ json_object *rep = NULL;
	_cleanup_free_ struct learn_name *v = NULL;
	json_object *names, *run;
	size_t n, i, j;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 2)
		return cli_usage_error("learn", "expected one report file (depfence learn "
						"FILE.json > NAME.policy)");
	rep = json_object_from_file(argv[1]);
	if (!rep || !json_object_object_get_ex(rep, "names", &names) ||
	    !json_object_is_type(names, json_type_array)) {
		fprintf(stderr, "depfence learn: %s: not a run report\n", argv[1]);
		return 1;
	}
	n = json_object_array_length(names);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return 1;
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(names, i);
		const char *name = ctl_get_str(e, "name"), *verdict = ctl_get_str(e, "verdict");

		v[i].allowed = verdict && strcmp(verdict, "allowed") == 0;
		/* A refused name vetoes a group whatever its bytes (it is never written);
		 * an allowed one a policy line cannot hold is left out. */
		v[i].name = name && (plain_name(name) || !v[i].allowed) ? name : "";
	}
	learn_group(v, n);
	json_object_object_get_ex(rep, "run", &run);
	printf("# Learned by depfence learn from %s %s (policy %s, mode %s, started %s).\n"
	       "# Review it: every name below was looked up by that run.\n"
	       "mode allowlist\n",
	       ctl_get_str(run, "kind") ?: "run", ctl_get_str(run, "id") ?: "?",
	       ctl_get_str(run, "policy") ?: "?", ctl_get_str(run, "mode") ?: "?",
	       ctl_get_str(run, "start") ?: "?");
	for (i = 0; i < n; i++) {
		if (!v[i].name[0] || !plain_name(v[i].name))
			continue; /* never written: only names a policy line reads back as such */
		for (j = 0; j < i && !(v[j].name[0] && strcmp(v[j].rule, v[i].rule) == 0); j++)
			;
		if (j < i)
			continue; /* its group is written already */
		putchar('\n');
		if (v[i].rule != v[i].name) {
			printf("# every name seen under %s:", v[i].rule);
			for (j = i; j < n; j++)
				if (v[j].name[0] && plain_name(v[j].name) &&
				    strcmp(v[j].rule, v[i].rule) == 0)
					printf(" %s", v[j].name);
			putchar('\n');
		}
		if (!v[i].allowed)
			printf("# refused (or would be) in that run: %s by %s\n",
			       ctl_get_str(json_object_array_get_idx(names, i), "verdict") ?: "?",
			       ctl_get_str(json_object_array_get_idx(names, i), "rule") ?: "?");
		put_commands(stdout, names, v, n, v[i].rule);
		printf("allow %s\n", v[i].rule);
	}
	for (i = 0; i < n; i++) {
		const char *name = ctl_get_str(json_object_array_get_idx(names, i), "name");

		if ((!v[i].name[0] || !plain_name(v[i].name)) && name)
			printf("\n# not listed (a name a policy line cannot hold): %s\n",
			       plain_name(name) ? "?" : "unusual characters");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
