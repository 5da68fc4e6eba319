// SPDX-License-Identifier: GPL-2.0-only
#include "policy_store.h"

#include <dirent.h>
#include <string.h>

#include "config.h"

int policy_store__load(struct policy_store *s, const char *config_dir, struct df_err *err)
{
	struct dirent **ents = NULL;
	int i, n, r = 0;

	snprintf(s->dir, sizeof(s->dir), "%s/policies", config_dir);
	n = scandir(s->dir, &ents, NULL, alphasort);
	if (n < 0)
		return errno == ENOENT ? 0 : df_err_set(err, -errno, "%s: %s", s->dir,
							 strerror(errno));
	for (i = 0; i < n; i++) {
		char name[256], path[8192];
		size_t len = strlen(ents[i]->d_name);
		struct policy *p;

		if (r < 0 || len <= 7 || strcmp(ents[i]->d_name + len - 7, ".policy") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 7), ents[i]->d_name);
		if (!policy_name_valid(name)) {
			r = df_err_set(err, -EINVAL, "%s/%s: invalid policy name", s->dir,
				       ents[i]->d_name);
			continue;
		}
		if (s->n >= POLICY_STORE_MAX) {
			r = df_err_set(err, -E2BIG, "%s: more than %d policies", s->dir,
				       POLICY_STORE_MAX);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", s->dir, ents[i]->d_name);
		p = policy__new(name);
		if (!p) {
			r = df_err_set(err, -ENOMEM, "out of memory");
			continue;
		}
		r = policy__load_file(p, path, err);
		if (r < 0) {
			policy__free(p);
			continue;
		}
		s->p[s->n++] = p;
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return r;
}

struct policy *policy_store__find(struct policy_store *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(policy__name(s->p[i]), name) == 0)
			return s->p[i];
	return NULL;
}

void policy_store__clear(struct policy_store *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		policy__free(s->p[i]);
	s->n = 0;
}
