/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * For unit tests that run the real engine on a real BPF object (test_upstream.c,
 * test_workers.c): a loopback UDP socket, and a guard on a plain directory as
 * its "cgroup" with an inline policy of its own.
 */
#ifndef DEPFENCE_TEST_ENGINE_FIXTURE_H
#define DEPFENCE_TEST_ENGINE_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "engine.h"
#include "policy.h"
#include "util.h"

/* A UDP socket bound to 127.0.0.1 on a port the kernel picks, its address in ADDR. */
static inline int fixture_udp_socket(int *ret, struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);

	*addr = (struct sockaddr_in){.sin_family = AF_INET};
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*ret = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*ret < 0 || bind(*ret, (struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    getsockname(*ret, (struct sockaddr *)addr, &len) < 0)
		return -errno;
	return 0;
}

/*
 * Guard ID on directory CG (made here), with policy NAME parsed from TEXT and
 * owned by the guard: into *RET. On error the policy is freed.
 */
static inline int fixture_add_guard(struct engine *e, const char *cg, const char *id,
				    const char *name, const char *text, struct guard **ret,
				    struct df_err *err)
{
	struct policy *p = policy__new(name);
	struct guard_spec spec = {
	    .kind = GUARD_RUN, .id = id, .cgroup_path = cg, .policy = p, .owns_policy = true};
	struct stat st;
	int r;

	if (!p)
		return df_err_set(err, -ENOMEM, "out of memory");
	r = policy__parse(p, text, strlen(text), "test", err);
	if (r == 0 && (mkdir(cg, 0700) < 0 || stat(cg, &st) < 0))
		r = df_err_set(err, -errno, "%s: %s", cg, strerror(errno));
	if (r == 0) {
		spec.cgid = st.st_ino;
		r = engine__add_guard(e, &spec, ret, err);
	}
	if (r < 0)
		policy__free(p);
	return r;
}

#endif
