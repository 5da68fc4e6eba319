// SPDX-License-Identifier: GPL-2.0-only
/*
 * OCI state parsing: the exact documents runc, podman (crun) and CRI-O hand a
 * hook on stdin, and every way such a document can be wrong, each with the
 * message the hook prints. Then the annotation lookup in BUNDLE/config.json
 * against real files in a temporary bundle. Each table row is its own cmocka
 * test, so a failure names the case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci_state.h"
#include "util.h"

#define ORIGIN "OCI state on stdin"

/* What runc 1.1 writes for a createRuntime/prestart hook, byte for byte. */
#define RUNC_STATE                                                                                 \
	"{\"ociVersion\":\"1.0.2-dev\",\"id\":\"t1\",\"status\":\"creating\",\"pid\":1234,"        \
	"\"bundle\":\"/tmp/b\",\"annotations\":{\"io.depfence.policy\":\"deploy\"}}"

/* podman 4 via crun: 64-hex id, libpod's own annotations around ours. */
#define PODMAN_ID     "6e1d4a0c4f8b2a9d3c7e5f1a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c"
#define PODMAN_BUNDLE "/var/lib/containers/storage/overlay-containers/" PODMAN_ID "/userdata"
#define PODMAN_STATE                                                                               \
	"{\"ociVersion\":\"1.0.0\",\"id\":\"" PODMAN_ID "\",\"status\":\"created\","               \
	"\"pid\":48213,\"bundle\":\"" PODMAN_BUNDLE "\",\"annotations\":{"                         \
	"\"io.container.manager\":\"libpod\",\"io.depfence.policy\":\"deploy\","                   \
	"\"io.podman.annotations.autoremove\":\"FALSE\",\"io.podman.annotations.init\":\"FALSE\"," \
	"\"io.podman.annotations.privileged\":\"FALSE\","                                          \
	"\"org.opencontainers.image.stopSignal\":\"15\"}}\n"

/* CRI-O, pretty-printed with tabs and CRLF, annotations holding escaped JSON. */
#define CRIO_STATE                                                                                 \
	"{\r\n\t\"ociVersion\": \"1.0.2-dev\",\r\n\t\"id\": \"k8s-web-0\",\r\n"                    \
	"\t\"status\": \"created\",\r\n\t\"pid\": 777,\r\n"                                        \
	"\t\"bundle\": \"/run/containers/storage/overlay-containers/k8s-web-0/userdata\",\r\n"     \
	"\t\"annotations\": {\r\n"                                                                 \
	"\t\t\"io.kubernetes.cri-o.ContainerType\": \"container\",\r\n"                            \
	"\t\t\"io.kubernetes.cri-o.Labels\": \"{\\\"app\\\":\\\"web\\\"}\",\r\n"                   \
	"\t\t\"io.kubernetes.pod.name\": \"web-0\",\r\n"                                           \
	"\t\t\"io.depfence.policy\": \"k8s-web\"\r\n\t}\r\n}\r\n"

/* runc at poststop: the container is gone, so "pid" is left out (omitempty). */
#define RUNC_POSTSTOP                                                                              \
	"{\"ociVersion\":\"1.0.2-dev\",\"id\":\"t1\",\"status\":\"stopped\","                      \
	"\"bundle\":\"/tmp/b\",\"annotations\":{\"io.depfence.policy\":\"deploy\"}}"

/* A valid document with KV in front of its "id" and "pid". */
#define WITH(kv) "{" kv ",\"id\":\"t1\",\"pid\":1}"
/* An "id" of VALUE alone. */
#define ID(v) "{\"id\":" v ",\"pid\":1}"
/* A "pid" of VALUE. */
#define PID(v) "{\"id\":\"t1\",\"pid\":" v "}"

struct parse_case {
	const char *desc;
	const char *text;
	size_t len;	 /* 0: strlen(text); set for texts with a NUL */
	const char *err; /* NULL: must parse; else the whole message */
	const char *version, *id, *status, *bundle, *policy;
	pid_t pid;
	bool has_annotations;
};

/* clang-format off */
#define OK(d, t, ver, id, st, pid, bundle, pol, has) {d, t, 0, NULL, ver, id, st, bundle, pol, pid, has}
#define BAD(d, t, e)        {d, t, 0, ORIGIN ": " e, NULL, NULL, NULL, NULL, NULL, 0, false}
#define BADN(d, t, n, e)    {d, t, n, ORIGIN ": " e, NULL, NULL, NULL, NULL, NULL, 0, false}
/* clang-format on */

static const struct parse_case parse_cases[] = {
    /* What the runtimes write. */
    OK("runc 1.1 createRuntime", RUNC_STATE, "1.0.2-dev", "t1", "creating", 1234, "/tmp/b",
       "deploy", true),
    OK("podman (crun), extra annotations", PODMAN_STATE, "1.0.0", PODMAN_ID, "created", 48213,
       PODMAN_BUNDLE, "deploy", true),
    OK("CRI-O, pretty-printed with CRLF", CRIO_STATE, "1.0.2-dev", "k8s-web-0", "created", 777,
       "/run/containers/storage/overlay-containers/k8s-web-0/userdata", "k8s-web", true),
    OK("runc poststop, pid absent", RUNC_POSTSTOP, "1.0.2-dev", "t1", "stopped", 0, "/tmp/b",
       "deploy", true),
    OK("poststop, pid 0",
       "{\"ociVersion\":\"1.0.2\",\"id\":\"t1\",\"status\":\"stopped\",\"pid\":0,"
       "\"bundle\":\"/tmp/b\",\"annotations\":{\"io.depfence.policy\":\"deploy\"}}",
       "1.0.2", "t1", "stopped", 0, "/tmp/b", "deploy", true),
    OK("no annotations",
       "{\"ociVersion\":\"1.0.2-dev\",\"id\":\"t1\",\"status\":\"creating\",\"pid\":1234,"
       "\"bundle\":\"/tmp/b\"}",
       "1.0.2-dev", "t1", "creating", 1234, "/tmp/b", NULL, false),
    OK("annotations null", WITH("\"annotations\":null"), NULL, "t1", NULL, 1, NULL, NULL, false),
    OK("annotations empty", WITH("\"annotations\":{}"), NULL, "t1", NULL, 1, NULL, NULL, true),
    OK("policy absent among other annotations",
       WITH("\"annotations\":{\"io.container.manager\":\"libpod\",\"io.depfence\":\"x\","
	    "\"io.depfence.policy.v2\":\"x\",\"IO.DEPFENCE.POLICY\":\"x\"}"),
       NULL, "t1", NULL, 1, NULL, NULL, true),
    OK("policy annotation null", WITH("\"annotations\":{\"io.depfence.policy\":null}"), NULL, "t1",
       NULL, 1, NULL, NULL, true),
    OK("policy annotation empty", WITH("\"annotations\":{\"io.depfence.policy\":\"\"}"), NULL, "t1",
       NULL, 1, NULL, "", true),
    OK("policy passed as is, checked by the hook",
       WITH("\"annotations\":{\"io.depfence.policy\":\"../x\"}"), NULL, "t1", NULL, 1, NULL, "../x",
       true),
    OK("only an id", "{\"id\":\"t1\"}", NULL, "t1", NULL, 0, NULL, NULL, false),
    OK("unknown fields ignored", WITH("\"rootless\":true,\"created\":\"2024-01-01T00:00:00Z\""),
       NULL, "t1", NULL, 1, NULL, NULL, false),
    OK("null strings are absent", WITH("\"bundle\":null,\"status\":null,\"ociVersion\":null"), NULL,
       "t1", NULL, 1, NULL, NULL, false),
    OK("escapes in strings", ID("\"a\\u00e9\\\"b\\\\c\""), NULL, "a\xc3\xa9\"b\\c", NULL, 1, NULL,
       NULL, false),
    OK("largest pid", PID("2147483647"), NULL, "t1", NULL, INT_MAX, NULL, NULL, false),
    OK("surrounding whitespace", " \n\t" RUNC_STATE "\n\n", "1.0.2-dev", "t1", "creating", 1234,
       "/tmp/b", "deploy", true),

    /* Not JSON, or not one object. */
    BAD("malformed: double comma", "{\"ociVersion\":\"1.0.2-dev\",\"id\":\"t1\",,\"pid\":1}",
	"line 1, column 37: quoted object property name expected"),
    BAD("malformed on line 4", "{\n\t\"id\": \"t1\",\n\t\"pid\": 1,\n\t\"bundle\" \"/b\"\n}",
	"line 4, column 11: object property name separator ':' expected"),
    BAD("malformed: bare word", "{\"id\": x1}", "line 1, column 8: unexpected character"),
    BAD("truncated runc state",
	"{\"ociVersion\":\"1.0.2-dev\",\"id\":\"t1\",\"status\":\"creating\",\"pid\":12",
	"line 1, column 65: unexpected end of data"),
    BAD("truncated in a string", "{\"id\":\"t", "line 1, column 9: unexpected end of data"),
    BAD("truncated on line 2", "{\"id\":\"t1\",\n\"annotations\":{",
	"line 2, column 16: unexpected end of data"),
    BAD("empty input", "", "line 1, column 1: unexpected end of data"),
    BAD("only whitespace", " \n ", "line 2, column 2: unexpected end of data"),
    BAD("array instead of object", "[" RUNC_STATE "]", "expected a JSON object"),
    BAD("empty array", "[]", "expected a JSON object"),
    BAD("top-level string", "\"t1\"", "expected a JSON object"),
    BAD("top-level number", "1234", "expected a JSON object"),
    BAD("top-level null", "null", "expected a JSON object"),
    BADN("NUL byte", "{\"id\":\"t1\"}\0", 12, "contains a NUL byte"),
    BADN("NUL byte inside a string", "{\"id\":\"t\0\"}", 10, "contains a NUL byte"),
    BAD("second object after the first", RUNC_STATE "{\"id\":\"t2\"}",
	"line 1, column 132: unexpected character"),
    BAD("garbage after the object", "{\"id\":\"t1\"} x", "line 1, column 13: unexpected character"),
    BAD("comment", "{\"id\":\"t1\", /* x */ \"pid\":1}",
	"line 1, column 13: quoted object property name expected"),
    BAD("single quotes", "{\"id\":'t1'}", "line 1, column 7: unexpected character"),
    BAD("trailing comma", "{\"id\":\"t1\",}", "line 1, column 12: unexpected character"),
    BAD("bad escape", "{\"id\":\"\\x41\"}", "line 1, column 9: invalid string sequence"),

    /* id */
    BAD("missing id", "{\"ociVersion\":\"1.0.2-dev\",\"status\":\"creating\",\"pid\":1234}",
	"missing field \"id\""),
    BAD("id null", ID("null"), "missing field \"id\""),
    BAD("empty id", ID("\"\""), "field \"id\" is not a valid container id"),
    BAD("id with '/'", ID("\"a/b\""), "field \"id\" is not a valid container id"),
    BAD("id '/'", ID("\"/\""), "field \"id\" is not a valid container id"),
    BAD("id '..'", ID("\"..\""), "field \"id\" is not a valid container id"),
    BAD("id '.'", ID("\".\""), "field \"id\" is not a valid container id"),
    BAD("id with a newline", ID("\"a\\nb\""), "field \"id\" is not a valid container id"),
    BAD("id with ESC", ID("\"a\\u001b[2J\""), "field \"id\" is not a valid container id"),
    BAD("id with DEL", ID("\"a\\u007f\""), "field \"id\" is not a valid container id"),
    BAD("id with an escaped NUL", ID("\"t1\\u0000x\""), "field \"id\" contains a NUL character"),
    BAD("id a number", ID("42"), "field \"id\" must be a string"),
    BAD("id an object", ID("{}"), "field \"id\" must be a string"),
    BAD("id an array", ID("[\"t1\"]"), "field \"id\" must be a string"),

    /* pid */
    BAD("pid negative", PID("-1"), "field \"pid\" must be a positive integer"),
    BAD("pid a string", PID("\"1234\""), "field \"pid\" must be a positive integer"),
    BAD("pid a float", PID("1234.5"), "field \"pid\" must be a positive integer"),
    BAD("pid a whole float", PID("1234.0"), "field \"pid\" must be a positive integer"),
    BAD("pid with an exponent", PID("1e3"), "field \"pid\" must be a positive integer"),
    BAD("pid past INT_MAX", PID("2147483648"), "field \"pid\" must be a positive integer"),
    BAD("pid huge", PID("99999999999999999999999"), "field \"pid\" must be a positive integer"),
    BAD("pid hugely negative", PID("-99999999999999999999999"),
	"field \"pid\" must be a positive integer"),
    BAD("pid true", PID("true"), "field \"pid\" must be a positive integer"),
    BAD("pid null", PID("null"), "field \"pid\" must be a positive integer"),
    BAD("pid with a leading zero", PID("01234"), "line 1, column 23: number expected"),

    /* annotations and the other strings */
    BAD("annotations an array", WITH("\"annotations\":[\"io.depfence.policy=deploy\"]"),
	"field \"annotations\" must be an object"),
    BAD("annotations a string", WITH("\"annotations\":\"io.depfence.policy=deploy\""),
	"field \"annotations\" must be an object"),
    BAD("policy annotation a number", WITH("\"annotations\":{\"io.depfence.policy\":1}"),
	"field \"io.depfence.policy\" must be a string"),
    BAD("policy annotation an object",
	WITH("\"annotations\":{\"io.depfence.policy\":{\"name\":\"deploy\"}}"),
	"field \"io.depfence.policy\" must be a string"),
    BAD("policy annotation a list", WITH("\"annotations\":{\"io.depfence.policy\":[\"deploy\"]}"),
	"field \"io.depfence.policy\" must be a string"),
    BAD("policy annotation with an escaped NUL",
	WITH("\"annotations\":{\"io.depfence.policy\":\"deploy\\u0000../x\"}"),
	"field \"io.depfence.policy\" contains a NUL character"),
    BAD("bundle a number", WITH("\"bundle\":7"), "field \"bundle\" must be a string"),
    BAD("bundle an array", WITH("\"bundle\":[\"/tmp/b\"]"), "field \"bundle\" must be a string"),
    BAD("status a number", WITH("\"status\":2"), "field \"status\" must be a string"),
    BAD("ociVersion a number", WITH("\"ociVersion\":1.0"), "field \"ociVersion\" must be a string"),
};

static void assert_str_or_null(const char *got, const char *want)
{
	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
}

static void test_parse_row(void **state)
{
	const struct parse_case *c = *state;
	size_t len = c->len ? c->len : strlen(c->text);
	/* Heap copy of exactly LEN bytes: ASan sees any read past the end. */
	char *text = malloc(len ? len : 1);
	struct oci_state s = {.pid = -7};
	struct df_err err = {0};
	int r;

	assert_non_null(text);
	memcpy(text, c->text, len);
	r = oci_state_parse(text, len, ORIGIN, &s, &err);
	free(text);
	if (c->err) {
		assert_int_equal(r, -EINVAL);
		assert_int_equal(err.code, -EINVAL);
		assert_string_equal(err.msg, c->err);
		/* Nothing handed out on failure: the caller's struct is as it was. */
		assert_int_equal(s.pid, -7);
		assert_null(s.id);
		return;
	}
	if (r)
		fail_msg("unexpected error: %s", err.msg);
	assert_str_or_null(s.oci_version, c->version);
	assert_str_or_null(s.id, c->id);
	assert_str_or_null(s.status, c->status);
	assert_str_or_null(s.bundle, c->bundle);
	assert_str_or_null(s.policy, c->policy);
	assert_int_equal(s.pid, c->pid);
	assert_int_equal(s.has_annotations, c->has_annotations);
	oci_state_free(&s);
	assert_null(s.id);
	oci_state_free(&s); /* twice is harmless */
}

/* OCI_ID_MAX bytes pass, one more does not. */
static void test_id_length(void **state)
{
	char text[OCI_ID_MAX + 64];
	struct oci_state s = {0};
	struct df_err err = {0};
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "{\"id\":\"%0*d\"}", OCI_ID_MAX, 7);
	assert_int_equal(oci_state_parse(text, n, ORIGIN, &s, &err), 0);
	assert_int_equal(strlen(s.id), OCI_ID_MAX);
	oci_state_free(&s);
	n = snprintf(text, sizeof(text), "{\"id\":\"%0*d\"}", OCI_ID_MAX + 1, 7);
	assert_int_equal(oci_state_parse(text, n, ORIGIN, &s, &err), -EINVAL);
	assert_string_equal(err.msg, ORIGIN ": field \"id\" is not a valid container id");
}

/* The origin is the caller's: it leads every message. */
static void test_origin(void **state)
{
	struct oci_state s = {0};
	struct df_err err = {0};

	(void)state;
	assert_int_equal(oci_state_parse("{\"id\":1}", 8, "state.json", &s, &err), -EINVAL);
	assert_string_equal(err.msg, "state.json: field \"id\" must be a string");
	assert_int_equal(oci_state_parse("{\n\n  x", 6, "state.json", &s, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "state.json: line 3, column 3: quoted object property name expected");
}

/* Deeper than json-c's limit: an error, not a crash. */
static void test_deep_nesting(void **state)
{
	char text[4096];
	struct oci_state s = {0};
	struct df_err err = {0};
	size_t n = 0;

	(void)state;
	n += sprintf(text, "{\"id\":\"t1\",\"x\":");
	for (int i = 0; i < 1000; i++)
		text[n++] = '[';
	assert_int_equal(oci_state_parse(text, n, ORIGIN, &s, &err), -EINVAL);
	assert_string_equal(err.msg, ORIGIN ": line 1, column 47: nesting too deep");
}

/* ---- oci_bundle_policy against real bundles ---- */

static char bundle[] = "/tmp/test_oci_state.XXXXXX";

/* A trimmed runc spec, ANNOTATIONS (a JSON member or "") spliced in after "hostname". */
#define CONFIG(annotations)                                                                        \
	"{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"args\": [\"sh\"],\n"         \
	"\t\t\"cwd\": \"/\"\n\t},\n\t\"root\": {\"path\": \"rootfs\"},\n"                          \
	"\t\"hostname\": \"runc\"" annotations "\n}\n"

struct bundle_case {
	const char *desc;
	const char *config; /* written to BUNDLE/config.json; NULL: no file */
	const char *policy; /* wanted result */
	int code;	    /* 0, or the error and ... */
	const char *err;    /* ... its message after "BUNDLE/config.json: " */
};

static const struct bundle_case bundle_cases[] = {
    {"config.json with the annotation",
     CONFIG(",\n\t\"annotations\": {\n\t\t\"org.example\": \"x\",\n"
	    "\t\t\"io.depfence.policy\": \"deploy\"\n\t}"),
     "deploy", 0, NULL},
    {"config.json without annotations", CONFIG(""), NULL, 0, NULL},
    {"config.json with other annotations", CONFIG(",\n\t\"annotations\": {\"org.example\": \"x\"}"),
     NULL, 0, NULL},
    {"config.json annotations null", CONFIG(",\n\t\"annotations\": null"), NULL, 0, NULL},
    {"config.json malformed on line 9", CONFIG(",\n\t\"annotations\": {\"a\": \"b\",}"), NULL,
     -EINVAL, "line 9, column 27: unexpected character"},
    {"config.json truncated", "{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {", NULL,
     -EINVAL, "line 3, column 14: unexpected end of data"},
    {"config.json empty", "", NULL, -EINVAL, "line 1, column 1: unexpected end of data"},
    {"config.json an array", "[]\n", NULL, -EINVAL, "expected a JSON object"},
    {"config.json annotations a list", CONFIG(",\n\t\"annotations\": [\"deploy\"]"), NULL, -EINVAL,
     "field \"annotations\" must be an object"},
    {"config.json policy a number", CONFIG(",\n\t\"annotations\": {\"io.depfence.policy\": 3}"),
     NULL, -EINVAL, "field \"io.depfence.policy\" must be a string"},
    {"config.json missing", NULL, NULL, -ENOENT, "No such file or directory"},
};

static void write_config(const char *text)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/config.json", bundle);
	unlink(path);
	if (!text)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, text, strlen(text)), (ssize_t)strlen(text));
}

static void test_bundle_row(void **state)
{
	const struct bundle_case *c = *state;
	char *policy = (char *)"sentinel", want[PATH_MAX + 128];
	struct df_err err = {0};
	int r;

	write_config(c->config);
	r = oci_bundle_policy(bundle, &policy, &err);
	if (c->code) {
		assert_int_equal(r, c->code);
		assert_int_equal(err.code, c->code);
		snprintf(want, sizeof(want), "%s/config.json: %s", bundle, c->err);
		assert_string_equal(err.msg, want);
		assert_null(policy);
		return;
	}
	if (r)
		fail_msg("unexpected error: %s", err.msg);
	assert_str_or_null(policy, c->policy);
	free(policy);
}

static void test_bundle_odd(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 64], *policy = NULL, *longb;
	struct df_err err = {0};

	(void)state;
	/* config.json a directory: read(2) says so. */
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(oci_bundle_policy(bundle, &policy, &err), -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(rmdir(path), 0);

	/* A bundle that does not exist. */
	assert_int_equal(oci_bundle_policy("/nonexistent/bundle", &policy, &err), -ENOENT);
	assert_string_equal(err.msg, "/nonexistent/bundle/config.json: No such file or directory");

	/* Relative and empty bundles would be read from wherever the hook runs. */
	assert_int_equal(oci_bundle_policy("b", &policy, &err), -EINVAL);
	assert_string_equal(err.msg, "bundle 'b': not an absolute path");
	assert_int_equal(oci_bundle_policy("", &policy, &err), -EINVAL);
	assert_string_equal(err.msg, "bundle '': not an absolute path");

	/* Too long for a path: refused, not cut to some other file. */
	longb = malloc(PATH_MAX + 1);
	assert_non_null(longb);
	memset(longb, 'a', PATH_MAX);
	longb[0] = '/';
	longb[PATH_MAX] = '\0';
	assert_int_equal(oci_bundle_policy(longb, &policy, &err), -ENAMETOOLONG);
	assert_string_equal(err.msg, "bundle path too long");
	assert_null(policy);
	free(longb);
}

static int bundle_setup(void **state)
{
	(void)state;
	return mkdtemp(bundle) ? 0 : -1;
}

static int bundle_teardown(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	unlink(path);
	return rmdir(bundle);
}

static struct CMUnitTest *tests;
static size_t n_tests;

static void add(const char *name, CMUnitTestFunction fn, const void *state)
{
	tests[n_tests++] = (struct CMUnitTest){
	    .name = name,
	    .test_func = fn,
	    .initial_state = (void *)state,
	};
}

int main(void)
{
	size_t max = ARRAY_SIZE(parse_cases) + ARRAY_SIZE(bundle_cases) + 8;
	int rc;

	tests = calloc(max, sizeof(*tests));
	if (!tests)
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++)
		add(parse_cases[i].desc, test_parse_row, &parse_cases[i]);
	add("id length limit", test_id_length, NULL);
	add("origin leads the message", test_origin, NULL);
	add("deep nesting", test_deep_nesting, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bundle_cases); i++)
		add(bundle_cases[i].desc, test_bundle_row, &bundle_cases[i]);
	add("bundle: directory, missing, relative, too long", test_bundle_odd, NULL);
	rc = _cmocka_run_group_tests("oci_state", tests, n_tests, bundle_setup, bundle_teardown);
	free(tests);
	return rc;
}
