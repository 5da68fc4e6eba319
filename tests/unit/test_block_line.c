// SPDX-License-Identifier: GPL-2.0-only
/*
 * block_line.c: the block line's shape, a contract, byte for byte: a DNS
 * refusal (with and without cname=, nspid=), an audit query, a packet refusal,
 * a socket refusal; missing values as "?"; a buffer too small gives 0, never a
 * cut line. The e2e tests (t_log_fields, t_packet*, t_escape_*) check the same
 * lines as the daemon and depfence run write them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "block_line.h"

static struct block_line dns(void)
{
	return (struct block_line){
	    .kind = "DNS BLOCKED",
	    .reason = "FromDNSRequest",
	    .blocked = true,
	    .blocked_at = "dns",
	    .what = "domain=github.com",
	    .what_len = 17,
	    .pid = 266767,
	    .cmd = "\"curl github.com\"",
	    .ancestry = "\"bash(266700)\"",
	    .exe = "\"/usr/bin/curl\"",
	    .mode = "blocklist",
	    .policy = "deploy",
	    .extra = " qtype=A",
	    .id_key = "run",
	    .id = "run-1-2",
	    .rule = "deploy.policy:14",
	};
}

static void test_dns(void **state)
{
	struct block_line b = dns();
	char buf[512];
	const char *want =
	    "DNS BLOCKED reason=FromDNSRequest blocked=true blockedAt=dns "
	    "domain=github.com pid=266767 cmd=\"curl github.com\" "
	    "firewallMethod=blocklist policy=deploy qtype=A ancestry=\"bash(266700)\" "
	    "run=run-1-2 exe=\"/usr/bin/curl\" rule=deploy.policy:14";

	assert_int_equal(block_line_format(&b, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
	/* nspid= after the extra fields, only when it differs from pid. */
	b.nspid = 7;
	block_line_format(&b, buf, sizeof(buf));
	assert_non_null(strstr(buf, " qtype=A nspid=7 ancestry="));
	b.nspid = b.pid;
	block_line_format(&b, buf, sizeof(buf));
	assert_null(strstr(buf, "nspid"));
}

static void test_cname_audit(void **state)
{
	struct block_line b = dns();
	char buf[512];

	b.reason = "FromCNAME";
	b.blocked = false;
	b.what = "domain=docs.vendor.test cname=vendor.github.com";
	b.what_len = strlen(b.what);
	block_line_format(&b, buf, sizeof(buf));
	assert_true(
	    strncmp(buf,
		    "DNS BLOCKED reason=FromCNAME blocked=false blockedAt=dns "
		    "domain=docs.vendor.test cname=vendor.github.com pid=266767 ",
		    strlen("DNS BLOCKED reason=FromCNAME blocked=false blockedAt=dns "
			   "domain=docs.vendor.test cname=vendor.github.com pid=266767 ")) == 0);
}

static void test_packet_and_socket(void **state)
{
	struct block_line b = dns();
	char buf[512];

	b.kind = "PACKET BLOCKED";
	b.reason = "FromIPRule";
	b.blocked_at = "packet";
	b.what = "ip=203.0.113.7 port=443";
	b.what_len = strlen(b.what);
	b.extra = " proto=tcp";
	b.id_key = "container";
	b.id = "abc";
	block_line_format(&b, buf, sizeof(buf));
	assert_string_equal(buf, "PACKET BLOCKED reason=FromIPRule blocked=true blockedAt=packet "
				 "ip=203.0.113.7 port=443 pid=266767 cmd=\"curl github.com\" "
				 "firewallMethod=blocklist policy=deploy proto=tcp "
				 "ancestry=\"bash(266700)\" container=abc exe=\"/usr/bin/curl\" "
				 "rule=deploy.policy:14");
	b.reason = "RawSocket";
	b.blocked_at = "socket";
	b.what = "family=packet protocol=3";
	b.what_len = strlen(b.what);
	b.extra = NULL;
	b.rule = "builtin";
	b.mode = NULL; /* a supervisor that does not know: "?" */
	block_line_format(&b, buf, sizeof(buf));
	assert_non_null(strstr(buf, "blockedAt=socket family=packet protocol=3 pid=266767 "));
	assert_non_null(strstr(buf, " firewallMethod=? policy=deploy ancestry="));
	assert_non_null(strstr(buf, " rule=builtin"));
}

static void test_too_small(void **state)
{
	struct block_line b = dns();
	char buf[512];
	size_t n = block_line_format(&b, buf, sizeof(buf)), cap;

	/* Every size short of the line and its NUL: 0, nothing cut. */
	for (cap = 0; cap <= n; cap++)
		assert_int_equal(block_line_format(&b, buf, cap), 0);
	assert_int_equal(block_line_format(&b, buf, n + 1), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dns),
	    cmocka_unit_test(test_cname_audit),
	    cmocka_unit_test(test_packet_and_socket),
	    cmocka_unit_test(test_too_small),
	};

	return cmocka_run_group_tests_name("block_line", tests, NULL, NULL);
}
