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
		return errno == ENOENT ? 0
				       : df_err_set(err, -errno, "%s: %s", s->dir, strerror(errno));
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

static int reload_one(struct policy_store *s, const char *file,
		      void (*swap)(void *ctx, struct policy *old, struct policy *new_p),
		      void (*on_error)(void *ctx, const char *msg), void *ctx)
{
	size_t len = strlen(file);
	char name[256], path[8192];
	struct df_err err = {0};
	struct policy *p, *old;
	int i;

	if (len <= 7 || strcmp(file + len - 7, ".policy") != 0)
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)(len - 7), file);
	snprintf(path, sizeof(path), "%s/%s", s->dir, file);
	if (!policy_name_valid(name)) {
		snprintf(err.msg, sizeof(err.msg), "%s: invalid policy name", path);
		on_error(ctx, err.msg);
		return 1;
	}
	p = policy__new(name);
	if (!p || policy__load_file(p, path, &err) < 0) {
		on_error(ctx, p ? err.msg : "out of memory");
		policy__free(p);
		return 1;
	}
	old = policy_store__find(s, name);
	/* Unchanged: keep the policy in place (its id, rules and learned addresses). */
	if (old && policy__source_hash(old) == policy__source_hash(p)) {
		policy__free(p);
		return 0;
	}
	if (!old) {
		if (s->n >= POLICY_STORE_MAX) {
			on_error(ctx, "too many policies");
			policy__free(p);
			return 1;
		}
		s->p[s->n++] = p;
		return 0;
	}
	for (i = 0; i < s->n; i++)
		if (s->p[i] == old)
			s->p[i] = p;
	swap(ctx, old, p);
	policy__free(old);
	return 0;
}

int policy_store__reload(struct policy_store *s,
			 void (*swap)(void *ctx, struct policy *old, struct policy *new_p),
			 void (*on_error)(void *ctx, const char *msg), void *ctx)
{
	struct dirent **ents = NULL;
	int i, n, errors = 0;
	char msg[4200];

	n = scandir(s->dir, &ents, NULL, alphasort);
	if (n < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", s->dir, strerror(errno));
		on_error(ctx, msg);
		return 1;
	}
	for (i = 0; i < n; i++) {
		errors += reload_one(s, ents[i]->d_name, swap, on_error, ctx);
		free(ents[i]);
	}
	free(ents);
	return errors;
}
