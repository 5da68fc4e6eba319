// SPDX-License-Identifier: GPL-2.0-only
#include "paths.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void instance_name(const char *state_dir, char *buf, size_t cap)
{
	char real[PATH_MAX];
	const char *s = realpath(state_dir, real) ? real : state_dir;
	uint32_t h = 2166136261u;

	if (strcmp(s, DEFAULT_STATE_DIR) == 0) {
		snprintf(buf, cap, "depfence");
		return;
	}
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	snprintf(buf, cap, "depfence-%08x", h);
}

void id_file_name(const char *id, char *buf, size_t cap)
{
	uint32_t h = 2166136261u;
	bool changed = false;
	size_t i, n = 0;

	for (i = 0; id[i]; i++) {
		unsigned char ch = id[i];

		h = (h ^ ch) * 16777619u;
		if (n + 10 >= cap) {
			changed = true;
			continue;
		}
		if (isalnum(ch) || ch == '_' || ch == '-') {
			buf[n++] = ch;
		} else {
			buf[n++] = '_';
			changed = true;
		}
	}
	buf[n] = '\0';
	if (changed)
		snprintf(buf + n, cap - n, "-%08x", h);
}

/* snprintf that says whether it fit. */
static bool put(char *buf, size_t cap, const char *fmt, const char *a, const char *b)
{
	int r = snprintf(buf, cap, fmt, a, b);

	return r >= 0 && (size_t)r < cap;
}

int df_paths_init(struct df_paths *p, const char *state_dir, const char *cgroup_root)
{
	bool ok;

	memset(p, 0, sizeof(*p));
	instance_name(state_dir, p->instance, sizeof(p->instance));
	ok = put(p->state_dir, sizeof(p->state_dir), "%s%s", state_dir, "") &&
	     put(p->sock, sizeof(p->sock), "%s/%s", state_dir, CTL_SOCKET_NAME) &&
	     put(p->records, sizeof(p->records), "%s/%s", state_dir, "guards") &&
	     put(p->pins, sizeof(p->pins), BPFFS_ROOT "/%s%s", p->instance, "") &&
	     put(p->runs_pins, sizeof(p->runs_pins), "%s/%s", p->pins, "links/runs") &&
	     put(p->embedded_pins, sizeof(p->embedded_pins), "%s/%s", p->pins, "embedded");
	if (ok && cgroup_root)
		ok = put(p->cgroup_root, sizeof(p->cgroup_root), "%s%s", cgroup_root, "") &&
		     put(p->runs_parent, sizeof(p->runs_parent), "%s/%s/runs", cgroup_root,
			 p->instance) &&
		     put(p->embedded_cgroups, sizeof(p->embedded_cgroups), "%s/%s/embedded",
			 cgroup_root, p->instance);
	return ok ? 0 : -ENAMETOOLONG;
}

void df_paths_record(const struct df_paths *p, char kind, uint64_t cgid, const char *id, char *buf,
		     size_t cap)
{
	char name[128];

	id_file_name(id, name, sizeof(name));
	snprintf(buf, cap, "%s/%c-%llu-%s.json", p->records, kind, (unsigned long long)cgid, name);
}

int df_paths_has_container_record(const struct df_paths *p, const char *id)
{
	char name[128], pattern[PATH_MAX + 160];
	glob_t g;
	int r;

	id_file_name(id, name, sizeof(name));
	/* An id that ends like another's matches too: one round trip more, never one less. */
	snprintf(pattern, sizeof(pattern), "%s/c-*-%s.json", p->records, name);
	r = glob(pattern, GLOB_NOSORT, NULL, &g);
	globfree(&g);
	if (r == 0)
		return 1;
	/* Saved by a build before records were keyed by cgroup. */
	snprintf(pattern, sizeof(pattern), "%s/%s.json", p->records, name);
	return access(pattern, F_OK) == 0;
}

void df_paths_container_pins(const struct df_paths *p, uint64_t cgid, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/links/c-%llu", p->pins, (unsigned long long)cgid);
}

void df_paths_embedded_run(const struct df_paths *p, int pid, char *pins, size_t pins_cap,
			   char *cgroup, size_t cgroup_cap)
{
	snprintf(pins, pins_cap, "%s/run-%d", p->embedded_pins, pid);
	snprintf(cgroup, cgroup_cap, "%s/run-%d", p->embedded_cgroups, pid);
}
