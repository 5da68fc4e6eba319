// SPDX-License-Identifier: GPL-2.0-only
#include "oci_state.h"

#include <json-c/json.h>
#include <limits.h>
#include <string.h>

/* Line and column (1-based) of byte OFF, for error messages. */
static void position(const char *text, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parse_json(const char *text, size_t len, const char *origin, json_object **ret,
		      struct df_err *err)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error jerr;
	json_object *obj;
	size_t end;
	int line, col;

	if (!tok)
		return df_err_set(err, -ENOMEM, "out of memory");
	if (memchr(text, '\0', len)) {
		json_tokener_free(tok);
		return df_err_set(err, -EINVAL, "%s: contains a NUL byte", origin);
	}
	/*
	 * Strict: runtimes write RFC 8259 JSON, and the lenient mode would take
	 * comments, single quotes and, worse, a second object after the first.
	 */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A top-level scalar ("1", "null") ends only at a terminator: give it one. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	while (jerr == json_tokener_success && end < len && strchr(" \t\r\n", text[end]))
		end++;
	if (jerr == json_tokener_success && end < len)
		jerr = json_tokener_error_parse_unexpected;
	if (jerr != json_tokener_success) {
		json_object_put(obj);
		position(text, end, &line, &col);
		return df_err_set(err, -EINVAL, "%s: line %d, column %d: %s", origin, line, col,
				  json_tokener_error_desc(jerr));
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return df_err_set(err, -EINVAL, "%s: expected a JSON object", origin);
	}
	*ret = obj;
	return 0;
}

/* A string member: absent is fine unless REQUIRED; present must be a string. */
static int get_string(json_object *obj, const char *key, bool required, const char *origin,
		      char **ret, struct df_err *err)
{
	json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return df_err_set(err, -EINVAL, "%s: missing field \"%s\"", origin, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return df_err_set(err, -EINVAL, "%s: field \"%s\" must be a string", origin, key);
	/* "a\u0000b" would be read back as "a": another container's id, another policy. */
	if ((size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)))
		return df_err_set(err, -EINVAL, "%s: field \"%s\" contains a NUL character", origin,
				  key);
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : df_err_set(err, -ENOMEM, "out of memory");
}

static int get_policy(json_object *obj, const char *origin, char **ret, bool *ret_has,
		      struct df_err *err)
{
	json_object *ann;

	*ret = NULL;
	*ret_has = false;
	if (!json_object_object_get_ex(obj, "annotations", &ann) ||
	    json_object_is_type(ann, json_type_null))
		return 0;
	if (!json_object_is_type(ann, json_type_object))
		return df_err_set(err, -EINVAL, "%s: field \"annotations\" must be an object",
				  origin);
	*ret_has = true;
	return get_string(ann, OCI_POLICY_ANNOTATION, false, origin, ret, err);
}

static bool id_valid(const char *id)
{
	const unsigned char *p;

	if (!id[0] || strlen(id) > OCI_ID_MAX)
		return false;
	for (p = (const unsigned char *)id; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

int oci_state_parse(const char *text, size_t len, const char *origin, struct oci_state *ret,
		    struct df_err *err)
{
	json_object *obj = NULL, *pid;
	struct oci_state s = {0};
	int r;

	r = parse_json(text, len, origin, &obj, err);
	if (r < 0)
		return r;
	r = get_string(obj, "ociVersion", false, origin, &s.oci_version, err);
	if (!r)
		r = get_string(obj, "id", true, origin, &s.id, err);
	if (!r && !id_valid(s.id))
		r = df_err_set(err, -EINVAL, "%s: field \"id\" is not a valid container id",
			       origin);
	if (!r)
		r = get_string(obj, "status", false, origin, &s.status, err);
	if (!r)
		r = get_string(obj, "bundle", false, origin, &s.bundle, err);
	if (!r)
		r = get_policy(obj, origin, &s.policy, &s.has_annotations, err);
	if (!r && json_object_object_get_ex(obj, "pid", &pid)) {
		int64_t v = json_object_get_int64(pid);

		if (!json_object_is_type(pid, json_type_int) || v < 0 || v > INT_MAX)
			r = df_err_set(err, -EINVAL, "%s: field \"pid\" must be a positive integer",
				       origin);
		else
			s.pid = v;
	}
	json_object_put(obj);
	if (r < 0) {
		oci_state_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

int oci_bundle_policy(const char *bundle, char **ret_policy, struct df_err *err)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	json_object *obj = NULL;
	size_t len;
	bool has;
	int r;

	*ret_policy = NULL;
	/* The runtime-spec makes it absolute; a relative one would follow the hook's cwd. */
	if (bundle[0] != '/')
		return df_err_set(err, -EINVAL, "bundle '%s': not an absolute path", bundle);
	if (snprintf(path, sizeof(path), "%s/config.json", bundle) >= (int)sizeof(path))
		return df_err_set(err, -ENAMETOOLONG, "bundle path too long");
	r = read_file(path, &text, &len, 16 << 20);
	if (r < 0)
		return df_err_set(err, r, "%s: %s", path, strerror(-r));
	r = parse_json(text, len, path, &obj, err);
	if (r < 0)
		return r;
	r = get_policy(obj, path, ret_policy, &has, err);
	json_object_put(obj);
	return r;
}

void oci_state_free(struct oci_state *s)
{
	free(s->oci_version);
	free(s->id);
	free(s->status);
	free(s->bundle);
	free(s->policy);
	memset(s, 0, sizeof(*s));
}
