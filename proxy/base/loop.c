// SPDX-License-Identifier: GPL-2.0-only
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

struct loop {
	int epfd;
	/* What the last wait returned, until dispatched. */
	struct epoll_event evs[64];
	int n;
	uint64_t turn; /* waits so far */
};

int loop__new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;

		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

void loop__free(struct loop *l)
{
	if (!l)
		return;
	closep(&l->epfd);
	free(l);
}

int loop__add(struct loop *l, struct ev_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

int loop__mod(struct loop *l, struct ev_source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

void loop__del(struct loop *l, struct ev_source *src)
{
	if (src->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

int loop__wait(struct loop *l, int timeout_ms)
{
	int n = epoll_wait(l->epfd, l->evs, ARRAY_SIZE(l->evs), timeout_ms);

	l->turn++;
	if (n < 0) {
		l->n = 0;
		return errno == EINTR ? 0 : -errno;
	}
	l->n = n;
	return n;
}

uint64_t loop__turn(const struct loop *l)
{
	return l->turn;
}

void loop__dispatch(struct loop *l)
{
	int i, n = l->n;

	l->n = 0;
	for (i = 0; i < n; i++) {
		struct ev_source *src = l->evs[i].data.ptr;

		src->on_ready(src, l->evs[i].events);
	}
}

int loop__run_once(struct loop *l, int timeout_ms)
{
	int n = loop__wait(l, timeout_ms);

	if (n > 0)
		loop__dispatch(l);
	return n;
}
