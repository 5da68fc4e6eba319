/* SPDX-License-Identifier: GPL-2.0-only */
/* The event loop: epoll, one callback per fd. Single-threaded by design. */
#ifndef DEPFENCE_LOOP_H
#define DEPFENCE_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct ev_source {
	int fd;
	void (*on_ready)(struct ev_source *src, uint32_t events);
};

struct loop;

int loop__new(struct loop **ret);
void loop__free(struct loop *l);
int loop__add(struct loop *l, struct ev_source *src, uint32_t events);
int loop__mod(struct loop *l, struct ev_source *src, uint32_t events);
void loop__del(struct loop *l, struct ev_source *src);
/* Wait up to TIMEOUT_MS (-1: forever) and dispatch what is ready. */
int loop__run_once(struct loop *l, int timeout_ms);

#endif
