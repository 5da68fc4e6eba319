// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the control protocol as depfenced reads it: bytes
 * from a peer split into lines (ctl_take_lines, with the daemon's buffer
 * limit), each line parsed as JSON and its fields read the way the handlers
 * read them (ctl_get_str, arrays of strings, booleans, ints). What must hold:
 * no crash, no leak, a line never longer than the buffer, the unconsumed tail
 * smaller than the input, and every field a handler gets is a C string of
 * the JSON string's length (no embedded NUL cut short). Every typed decoder
 * (ctl_register_decode, ctl_run_start_decode, ctl_run_started_decode,
 * ctl_id_decode) runs on every object: it either fails with a message or
 * yields what the checks below hold, and its encoder's output decodes to the
 * same message.
 *   tests/fuzz/run.sh 600
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__, #c);              \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void read_fields(json_object *req)
{
	static const char *const strs[] = {"op", "id", "policy", "mode", "cgroup", "netns", "kind"};
	static const char *const arrays[] = {"block", "allow"};
	json_object *v;
	size_t i;
	int j, n;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const char *s = ctl_get_str(req, strs[i]);

		if (s)
			CHECK(json_object_object_get_ex(req, strs[i], &v) &&
			      json_object_is_type(v, json_type_string));
	}
	for (i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		if (!json_object_object_get_ex(req, arrays[i], &v) ||
		    !json_object_is_type(v, json_type_array))
			continue;
		n = (int)json_object_array_length(v);
		for (j = 0; j < n && j < 256; j++) {
			json_object *e = json_object_array_get_idx(v, j);

			if (json_object_is_type(e, json_type_string))
				(void)strlen(json_object_get_string(e));
		}
	}
	if (json_object_object_get_ex(req, "pid", &v))
		(void)json_object_get_int(v);
	if (json_object_object_get_ex(req, "inherit", &v))
		(void)json_object_get_boolean(v);
}

static void check_str(const char *s)
{
	if (s)
		(void)strlen(s);
}

/* Each decoder: an error has a message; a message re-encoded decodes the same. */
static void decode_all(json_object *req)
{
	struct ctl_register reg, reg2;
	struct ctl_run_start rs, rs2;
	struct ctl_run_started st;
	struct ctl_id id;
	struct df_err err = {0};
	json_object *o;
	int i;

	if (ctl_register_decode(req, &reg, &err) < 0) {
		CHECK(err.msg[0]);
	} else {
		CHECK(reg.id && reg.id[0] && reg.pid > 0 && (reg.policy || reg.inherit));
		o = ctl_register_encode(&reg);
		CHECK(ctl_register_decode(o, &reg2, &err) == 0);
		CHECK(strcmp(reg.id, reg2.id) == 0 && reg.pid == reg2.pid &&
		      reg.inherit == reg2.inherit);
		json_object_put(o);
	}
	err.msg[0] = '\0';
	if (ctl_run_start_decode(req, &rs, &err) < 0) {
		CHECK(err.msg[0]);
	} else {
		CHECK(rs.rules.n_block <= CTL_RULES_MAX && rs.rules.n_allow <= CTL_RULES_MAX);
		for (i = 0; i < rs.rules.n_block; i++)
			check_str(rs.rules.block[i]);
		for (i = 0; i < rs.rules.n_allow; i++)
			check_str(rs.rules.allow[i]);
		o = ctl_run_start_encode(&rs);
		CHECK(ctl_run_start_decode(o, &rs2, &err) == 0);
		CHECK(rs.rules.n_block == rs2.rules.n_block &&
		      rs.rules.n_allow == rs2.rules.n_allow);
		json_object_put(o);
	}
	err.msg[0] = '\0';
	if (ctl_run_started_decode(req, &st, &err) < 0)
		CHECK(err.msg[0]);
	else
		CHECK(st.id[0] && st.cgroup[0]);
	err.msg[0] = '\0';
	if (ctl_id_decode(req, &id, &err) < 0)
		CHECK(err.msg[0]);
	else
		CHECK(id.id[0]);
}

static void on_line(void *ctx, char *line)
{
	json_object *req;

	CHECK(strlen(line) < CTL_MAX_LINE);
	req = json_tokener_parse(line);
	if (req && json_object_is_type(req, json_type_object)) {
		read_fields(req);
		decode_all(req);
	}
	json_object_put(req);
	(*(int *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[CTL_MAX_LINE];
	size_t len = 0, off = 0;
	int lines = 0;
	long left;

	/* As the daemon reads: into a fixed buffer, the tail kept for the next read. */
	while (off < size) {
		size_t n = size - off < sizeof(buf) - len ? size - off : sizeof(buf) - len;

		memcpy(buf + len, data + off, n);
		off += n;
		left = ctl_take_lines(buf, len + n, on_line, &lines);
		if (left < 0)
			return 0; /* over the limit: the daemon drops the client */
		CHECK((size_t)left <= len + n);
		len = (size_t)left;
		if (len == sizeof(buf))
			return 0;
	}
	return 0;
}
