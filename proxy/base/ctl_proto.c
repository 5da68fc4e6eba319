// SPDX-License-Identifier: GPL-2.0-only
#include "ctl_proto.h"

#include <limits.h>
#include <stdint.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int ctl_connect(const char *state_dir, int *ret_fd)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", state_dir, CTL_SOCKET_NAME) >=
	    (int)sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -errno;
	*ret_fd = steal_fd(fd);
	return 0;
}

int ctl_send(int fd, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);
	ssize_t r;

	if (n + 1 > CTL_MAX_REPLY)
		return -EMSGSIZE;
	/* The object's text, then the newline: no copy into a bounded buffer. */
	r = write_full(fd, s, n);
	if (r >= 0)
		r = write_full(fd, "\n", 1);
	return r < 0 ? (int)r : 0;
}

int ctl_call(int fd, json_object *req, int timeout_ms, json_object **ret_reply, struct df_err *err)
{
	unsigned long long deadline = now_ms() + timeout_ms;
	_cleanup_free_ char *buf = malloc(CTL_MAX_REPLY);
	size_t len = 0;
	int r;

	if (!buf)
		return df_err_set(err, -ENOMEM, "out of memory");
	r = ctl_send(fd, req);
	if (r < 0)
		return df_err_set(err, r, "send to depfenced: %s", strerror(-r));
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long left = (long)(deadline - now_ms());
		char *nl;
		ssize_t n;

		if (left <= 0)
			return df_err_set(err, -ETIMEDOUT, "depfenced did not answer within %d ms",
					  timeout_ms);
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(fd, buf + len, CTL_MAX_REPLY - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return df_err_set(err, -ECONNRESET, "depfenced closed the connection");
		len += n;
		buf[len] = '\0';
		nl = memchr(buf, '\n', len);
		if (!nl && len == CTL_MAX_REPLY - 1)
			return df_err_set(err, -EMSGSIZE, "reply from depfenced too long");
		if (!nl)
			continue;
		*nl = '\0';
		*ret_reply = json_tokener_parse(buf);
		if (!*ret_reply || !json_object_is_type(*ret_reply, json_type_object))
			return df_err_set(err, -EPROTO, "malformed reply from depfenced");
		return 0;
	}
}

long ctl_take_lines(char *buf, size_t len, void (*on_line)(void *ctx, char *line), void *ctx)
{
	size_t off = 0;
	char *nl;

	while ((nl = memchr(buf + off, '\n', len - off))) {
		*nl = '\0';
		on_line(ctx, buf + off);
		off = nl - buf + 1;
	}
	memmove(buf, buf + off, len - off);
	len -= off;
	if (len >= CTL_MAX_LINE)
		return -EMSGSIZE;
	return len;
}

json_object *ctl_error(const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

json_object *ctl_ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

const char *ctl_get_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

bool ctl_reply_ok(json_object *o)
{
	json_object *v;

	return o && json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
}

int ctl_opt_str(json_object *o, const char *key, const char **ret, struct df_err *err)
{
	json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return df_err_set(err, -EINVAL, "\"%s\" must be a string", key);
	*ret = json_object_get_string(v);
	return 0;
}

static int req_str(json_object *o, const char *key, const char **ret, struct df_err *err)
{
	int r = ctl_opt_str(o, key, ret, err);

	if (r == 0 && (!*ret || !(*ret)[0]))
		return df_err_set(err, -EINVAL, "\"%s\" is missing", key);
	return r;
}

static json_object *request(const char *op)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "op", json_object_new_string(op));
	return o;
}

static void put_str(json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static void put_array(json_object *o, const char *key, const char *const *v, int n)
{
	json_object *a;
	int i;

	if (!n)
		return;
	a = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	json_object_object_add(o, key, a);
}

static int get_array(json_object *o, const char *key, const char **out, int *ret_n,
		     struct df_err *err)
{
	json_object *arr;
	int i, n;

	*ret_n = 0;
	if (!json_object_object_get_ex(o, key, &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return df_err_set(err, -EINVAL, "\"%s\" must be an array of strings", key);
	n = (int)json_object_array_length(arr);
	if (n > CTL_RULES_MAX)
		return df_err_set(err, -E2BIG, "\"%s\": at most %d entries", key, CTL_RULES_MAX);
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(v, json_type_string))
			return df_err_set(err, -EINVAL, "\"%s\"[%d] must be a string", key, i);
		out[i] = json_object_get_string(v);
	}
	*ret_n = n;
	return 0;
}

void ctl_rules_put(json_object *o, const struct ctl_rules *r)
{
	put_str(o, "mode", r->mode);
	put_array(o, "block", r->block, r->n_block);
	put_array(o, "allow", r->allow, r->n_allow);
}

int ctl_rules_get(json_object *o, struct ctl_rules *r, struct df_err *err)
{
	int e;

	if ((e = ctl_opt_str(o, "mode", &r->mode, err)) < 0 ||
	    (e = get_array(o, "block", r->block, &r->n_block, err)) < 0 ||
	    (e = get_array(o, "allow", r->allow, &r->n_allow, err)) < 0)
		return e;
	return 0;
}

json_object *ctl_run_start_encode(const struct ctl_run_start *m)
{
	json_object *o = request("run-start");

	put_str(o, "policy", m->policy);
	ctl_rules_put(o, &m->rules);
	if (m->full_cmdline)
		json_object_object_add(o, "log_full_cmdline", json_object_new_boolean(1));
	return o;
}

int ctl_opt_bool(json_object *o, const char *key, bool *ret, struct df_err *err)
{
	json_object *v;

	*ret = false;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return df_err_set(err, -EINVAL, "\"%s\" must be true or false", key);
	*ret = json_object_get_boolean(v);
	return 0;
}

int ctl_run_start_decode(json_object *o, struct ctl_run_start *m, struct df_err *err)
{
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = ctl_opt_str(o, "policy", &m->policy, err)) < 0 ||
	    (r = ctl_opt_bool(o, "log_full_cmdline", &m->full_cmdline, err)) < 0)
		return r;
	return ctl_rules_get(o, &m->rules, err);
}

json_object *ctl_run_started_encode(const struct ctl_run_started *m)
{
	json_object *o = ctl_ok(), *lim;
	int i;

	put_str(o, "id", m->id);
	put_str(o, "cgroup", m->cgroup);
	put_str(o, "policy", m->policy);
	put_str(o, "mode", m->mode);
	if (!m->limits.set)
		return o;
	lim = json_object_new_object();
	for (i = 0; i < CG__COUNT; i++) {
		if (!(m->limits.set & (1u << i)))
			continue;
		json_object_object_add(lim, cg_limit_name(i),
				       m->limits.val[i] == CG_UNLIMITED
					   ? json_object_new_string("max")
					   : json_object_new_int64((int64_t)m->limits.val[i]));
	}
	json_object_object_add(o, "limits", lim);
	return o;
}

/* "limits" of a run-started reply: each value a positive integer or "max"; unknown keys skipped. */
static int get_limits(json_object *o, struct cg_limits *l, struct df_err *err)
{
	json_object *lim;
	const char *needs;
	uint64_t v;
	int which;

	if (!json_object_object_get_ex(o, "limits", &lim) ||
	    json_object_is_type(lim, json_type_null))
		return 0;
	if (!json_object_is_type(lim, json_type_object))
		return df_err_set(err, -EINVAL, "\"limits\" must be an object");
	json_object_object_foreach(lim, key, val)
	{
		char num[32];

		which = cg_limit_by_name(key, strlen(key));
		if (which < 0)
			continue;
		if (json_object_is_type(val, json_type_int) && json_object_get_int64(val) > 0)
			snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(val));
		else if (json_object_is_type(val, json_type_string))
			snprintf(num, sizeof(num), "%s", json_object_get_string(val));
		else
			num[0] = '\0';
		if (cg_limit_parse(which, num, strlen(num), &v, &needs) < 0)
			return df_err_set(err, -EINVAL, "\"limits\": \"%s\" needs %s", key, needs);
		l->set |= 1u << which;
		l->val[which] = v;
	}
	return 0;
}

int ctl_run_started_decode(json_object *o, struct ctl_run_started *m, struct df_err *err)
{
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = req_str(o, "id", &m->id, err)) < 0 ||
	    (r = req_str(o, "cgroup", &m->cgroup, err)) < 0 ||
	    (r = ctl_opt_str(o, "policy", &m->policy, err)) < 0 ||
	    (r = ctl_opt_str(o, "mode", &m->mode, err)) < 0 ||
	    (r = get_limits(o, &m->limits, err)) < 0)
		return r;
	return 0;
}

json_object *ctl_register_encode(const struct ctl_register *m)
{
	json_object *o = request("register");

	put_str(o, "kind", "container");
	put_str(o, "id", m->id);
	put_str(o, "policy", m->policy);
	if (m->inherit)
		json_object_object_add(o, "inherit", json_object_new_boolean(1));
	put_str(o, "cgroup", m->cgroup);
	put_str(o, "netns", m->netns);
	json_object_object_add(o, "pid", json_object_new_int(m->pid));
	return o;
}

int ctl_register_decode(json_object *o, struct ctl_register *m, struct df_err *err)
{
	json_object *v;
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = req_str(o, "id", &m->id, err)) < 0 ||
	    (r = ctl_opt_str(o, "policy", &m->policy, err)) < 0 ||
	    (r = ctl_opt_str(o, "netns", &m->netns, err)) < 0 ||
	    (r = ctl_opt_str(o, "cgroup", &m->cgroup, err)) < 0)
		return r;
	if (json_object_object_get_ex(o, "inherit", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return df_err_set(err, -EINVAL, "\"inherit\" must be true or false");
		m->inherit = json_object_get_boolean(v);
	}
	if (!json_object_object_get_ex(o, "pid", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0 || json_object_get_int64(v) > INT32_MAX)
		return df_err_set(err, -EINVAL, "\"pid\" must be a positive process id");
	m->pid = (int)json_object_get_int64(v);
	if (!m->policy && !m->inherit)
		return df_err_set(err, -EINVAL, "register needs \"policy\" (or \"inherit\")");
	return 0;
}

json_object *ctl_id_encode(const char *op, const char *id)
{
	json_object *o = request(op);

	put_str(o, "id", id);
	return o;
}

int ctl_id_decode(json_object *o, struct ctl_id *m, struct df_err *err)
{
	memset(m, 0, sizeof(*m));
	return req_str(o, "id", &m->id, err);
}

json_object *ctl_run_report_encode(const char *id)
{
	json_object *o = request("run-report");

	put_str(o, "id", id);
	return o;
}

int ctl_run_report_decode(json_object *o, struct ctl_id *m, struct df_err *err)
{
	memset(m, 0, sizeof(*m));
	return ctl_opt_str(o, "id", &m->id, err);
}

json_object *ctl_report_reply_encode(json_object *report)
{
	json_object *o = ctl_ok();

	json_object_object_add(o, "report", report);
	return o;
}

int ctl_report_reply_decode(json_object *o, json_object **ret_report, struct df_err *err)
{
	json_object *v;

	*ret_report = NULL;
	if (!json_object_object_get_ex(o, "report", &v) ||
	    !json_object_is_type(v, json_type_object))
		return df_err_set(err, -EINVAL, "\"report\" must be an object");
	*ret_report = v;
	return 0;
}
