// SPDX-License-Identifier: GPL-2.0-only
#include "ctl_proto.h"

#include <limits.h>
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
