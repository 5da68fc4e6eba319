// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for oci_state_parse(), which reads what a runtime writes to
 * the hook's stdin. Rejected input must give one "fuzz: ..." line and hand
 * nothing out; accepted input must satisfy what the hook relies on (an id that
 * is a safe file name, pid in range), and must survive a round trip: the fields
 * written back as JSON parse to the same fields. Everything is freed on every
 * path, so LeakSanitizer reports any leak as a crash.
 *   tests/fuzz/run.sh 600
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci_state.h"

/* Not assert(): it must also hold in a build with NDEBUG. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_accepted(const struct oci_state *s)
{
	size_t n;

	CHECK(s->id);
	n = strlen(s->id);
	CHECK(n > 0 && n <= OCI_ID_MAX);
	CHECK(strcmp(s->id, ".") && strcmp(s->id, ".."));
	for (const char *p = s->id; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '/');
	CHECK(s->pid >= 0 && s->pid <= INT_MAX);
	CHECK(!s->policy || s->has_annotations);
}

static void add_str(json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

/* Write S back as a runtime would and parse that: the same fields must come out. */
static void round_trip(const struct oci_state *s)
{
	json_object *o = json_object_new_object(), *ann;
	struct oci_state t = {0};
	struct df_err err = {0};
	const char *text;

	CHECK(o);
	add_str(o, "ociVersion", s->oci_version);
	add_str(o, "id", s->id);
	add_str(o, "status", s->status);
	add_str(o, "bundle", s->bundle);
	if (s->pid)
		json_object_object_add(o, "pid", json_object_new_int(s->pid));
	if (s->has_annotations) {
		ann = json_object_new_object();
		add_str(ann, OCI_POLICY_ANNOTATION, s->policy);
		json_object_object_add(o, "annotations", ann);
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (oci_state_parse(text, strlen(text), "again", &t, &err)) {
		fprintf(stderr, "round trip of %s failed: %s\n", text, err.msg);
		abort();
	}
	CHECK(same(t.oci_version, s->oci_version) && same(t.id, s->id));
	CHECK(same(t.status, s->status) && same(t.bundle, s->bundle));
	CHECK(same(t.policy, s->policy) && t.has_annotations == s->has_annotations);
	CHECK(t.pid == s->pid);
	oci_state_free(&t);
	json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_state s = {0};
	struct df_err err = {0};

	if (oci_state_parse((const char *)data, size, "fuzz", &s, &err)) {
		CHECK(err.code == -EINVAL || err.code == -ENOMEM);
		CHECK(!strncmp(err.msg, "fuzz: ", 6));
		for (const char *c = err.msg; *c; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f); /* one log line */
		CHECK(!s.id && !s.oci_version && !s.status && !s.bundle && !s.policy && !s.pid);
		return 0;
	}
	check_accepted(&s);
	round_trip(&s);
	oci_state_free(&s);
	return 0;
}
