/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket protocol between depfenced and its clients (depfence,
 * depfence-hook): one JSON object per line over a unix stream socket at
 * STATEDIR/depfenced.sock. Every request has "op"; every reply has "ok" and,
 * when ok is false, "error". See docs/design.md for the operations.
 */
#ifndef DEPFENCE_CTL_PROTO_H
#define DEPFENCE_CTL_PROTO_H

#include <json-c/json.h>

#include "util.h"

#define CTL_SOCKET_NAME "depfenced.sock"
#define CTL_MAX_LINE	(64 * 1024)	  /* a request */
#define CTL_MAX_REPLY	(8 * 1024 * 1024) /* a reply: status of every guard fits */

static inline void json_putp(json_object **j)
{
	if (*j)
		json_object_put(*j);
	*j = NULL;
}
#define _cleanup_json_ _cleanup_(json_putp)

/*
 * Connect to STATE_DIR's control socket. -ENOENT / -ECONNREFUSED mean no
 * daemon is there; anything else is an error worth reporting.
 */
int ctl_connect(const char *state_dir, int *ret_fd);
/* Send REQ and wait up to TIMEOUT_MS for the one-line reply. */
int ctl_call(int fd, json_object *req, int timeout_ms, json_object **ret_reply, struct df_err *err);
/* Write one object as a line. */
int ctl_send(int fd, json_object *obj);
/*
 * Take complete lines out of BUF (LEN bytes used): calls ON_LINE for each and
 * shifts the rest to the front. Returns the new length, or -EMSGSIZE when a
 * line passes CTL_MAX_LINE.
 */
long ctl_take_lines(char *buf, size_t len, void (*on_line)(void *ctx, char *line), void *ctx);

/* Helpers for replies. */
json_object *ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_object *ctl_ok(void);
const char *ctl_get_str(json_object *obj, const char *key);

#endif
