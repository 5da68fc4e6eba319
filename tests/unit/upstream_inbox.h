/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * For unit tests that play an engine's upstream by hand (test_reload.c,
 * test_upstream.c): the datagrams it received, and a wait, running the
 * engine's loop, for the query of a given name and type. Queries that come
 * first are kept for a later wait.
 */
#ifndef DEPFENCE_TEST_UPSTREAM_INBOX_H
#define DEPFENCE_TEST_UPSTREAM_INBOX_H

#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include "dns_wire.h"
#include "loop.h"
#include "util.h"

#define INBOX_BACKLOG 64

struct dgram {
	uint8_t buf[1500];
	size_t len;
	struct sockaddr_in from;
	struct dns_msg m;
};

struct upstream_inbox {
	struct dgram rx;
	struct dgram backlog[INBOX_BACKLOG]; /* queries seen while waiting for another */
	int n_backlog;
};

/* Wait up to WAIT_MS, running LOOP, for FD to get NAME (any case)/QTYPE, into RET. */
static inline void inbox_take(struct upstream_inbox *ib, int fd, struct loop *loop,
			      unsigned wait_ms, const char *name, uint16_t qtype, struct dgram *ret)
{
	uint64_t deadline = now_ms() + wait_ms;
	struct dgram *d = &ib->rx;
	int i;

	for (;;) {
		socklen_t fl = sizeof(d->from);
		ssize_t n;

		for (i = 0; i < ib->n_backlog; i++) {
			struct dgram *b = &ib->backlog[i];

			if (b->m.qtype == qtype && !strcasecmp(b->m.qname, name)) {
				*ret = *b;
				*b = ib->backlog[--ib->n_backlog];
				return;
			}
		}
		n = recvfrom(fd, d->buf, sizeof(d->buf), MSG_DONTWAIT, (struct sockaddr *)&d->from,
			     &fl);
		if (n > 0) {
			d->len = n;
			if (dns_parse(d->buf, d->len, &d->m) == DNS_OK &&
			    ib->n_backlog < INBOX_BACKLOG)
				ib->backlog[ib->n_backlog++] = *d;
			continue;
		}
		if (now_ms() > deadline)
			fail_msg("the upstream never got %s type %u", name, qtype);
		loop__run_once(loop, 10);
	}
}

#endif
