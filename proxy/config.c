// SPDX-License-Identifier: GPL-2.0-only
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>

/*
 * The embedded default: the platform a deploy must not depend on when it is
 * the thing being repaired. Operators replace it with CONFIG_DIR/policies/default.policy.
 */
static const char builtin_policy[] = "mode blocklist\n"
				     "block github.com\n"
				     "block githubusercontent.com\n"
				     "block githubassets.com\n"
				     "block github.io\n"
				     "block ghcr.io\n";

int addr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s = NULL, *end;
	unsigned long port = 53;
	size_t hl;

	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		hl = end - s - 1;
		if (end[1] == ':')
			port_s = end + 2;
		else if (end[1])
			return -EINVAL;
		s++;
	} else {
		end = strrchr(s, ':');
		/* One colon: v4 with a port. Several: a bare v6 address. */
		if (end && strchr(s, ':') == end) {
			hl = end - s;
			port_s = end + 1;
		} else {
			hl = strlen(s);
		}
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (port_s) {
		char *e;

		if (!isdigit((unsigned char)*port_s))
			return -EINVAL;
		port = strtoul(port_s, &e, 10);
		if (*e || port == 0 || port > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ret)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ret;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*ret_len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ret)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*ret_len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

int upstream_add(struct engine_opts *opts, const char *s, struct df_err *err)
{
	int i = opts->n_upstreams;

	if (i >= ENGINE_MAX_UPSTREAMS)
		return df_err_set(err, -E2BIG, "--upstream: at most %d upstreams",
				  ENGINE_MAX_UPSTREAMS);
	if (addr_parse(s, &opts->upstreams[i], &opts->upstream_lens[i]) < 0)
		return df_err_set(err, -EINVAL,
				  "--upstream '%s': expected an IP address with an optional "
				  "port, like 127.0.0.1:5301 or [::1]:53",
				  s);
	opts->n_upstreams++;
	return 0;
}

int upstreams_from_resolv_conf(struct engine_opts *opts, const char *path, struct df_err *err)
{
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL;
	int r;

	r = read_file(path, &text, NULL, 1 << 20);
	if (r < 0)
		return df_err_set(err, r, "%s: %s", path, strerror(-r));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char ns[128];

		if (sscanf(line, " nameserver %127s", ns) != 1)
			continue;
		if (opts->n_upstreams >= ENGINE_MAX_UPSTREAMS)
			break;
		/* A bare v6 address must not have its last group read as a port. */
		if (strchr(ns, ':')) {
			char v6[140];

			snprintf(v6, sizeof(v6), "[%s]", ns);
			r = upstream_add(opts, v6, NULL);
		} else {
			r = upstream_add(opts, ns, NULL);
		}
		(void)r; /* a scoped v6 (fe80::1%eth0) is skipped */
	}
	if (!opts->n_upstreams)
		return df_err_set(err, -ENOENT, "%s: no usable nameserver; pass --upstream", path);
	return 0;
}

bool policy_name_valid(const char *name)
{
	const char *p;

	if (!name[0] || name[0] == '.' || strlen(name) > 64)
		return false;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

static int load_named(const char *config_dir, const char *name, struct policy *p,
		      struct df_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/policies/%s.policy", config_dir, name);
	if (access(path, F_OK) < 0)
		return df_err_set(err, -ENOENT, "unknown policy '%s' (no %s)", name, path);
	return policy__load_file(p, path, err);
}

int policy_build(const char *config_dir, const char *name, const struct inline_rules *rules,
		 struct policy **ret, struct df_err *err)
{
	bool has_inline = rules && (rules->n_block || rules->n_allow);
	const char *pname = name ? name : has_inline ? "inline" : BUILTIN_POLICY_NAME;
	struct policy *p;
	char path[PATH_MAX];
	int i, r = 0;

	if (name && !policy_name_valid(name))
		return df_err_set(err, -EINVAL, "invalid policy name '%s'", name);
	p = policy__new(pname);
	if (!p)
		return df_err_set(err, -ENOMEM, "out of memory");
	if (name) {
		r = load_named(config_dir, name, p, err);
	} else if (!has_inline) {
		snprintf(path, sizeof(path), "%s/policies/%s.policy", config_dir,
			 BUILTIN_POLICY_NAME);
		if (access(path, F_OK) == 0)
			r = policy__load_file(p, path, err);
		else
			r = policy__parse(p, builtin_policy, sizeof(builtin_policy) - 1,
					  "<built-in default>", err);
	}
	for (i = 0; r == 0 && rules && i < rules->n_block; i++)
		r = policy__add_rule(p, "block", rules->block[i], err);
	for (i = 0; r == 0 && rules && i < rules->n_allow; i++)
		r = policy__add_rule(p, "allow", rules->allow[i], err);
	if (r == 0 && rules && rules->mode) {
		enum policy_mode m;

		if (policy_mode_parse(rules->mode, &m) < 0)
			r = df_err_set(err, -EINVAL,
				       "--mode '%s': expected blocklist, allowlist or audit",
				       rules->mode);
		else
			policy__set_mode(p, m);
	}
	if (r < 0) {
		policy__free(p);
		return r;
	}
	*ret = p;
	return 0;
}
