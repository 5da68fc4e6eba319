/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event loop: epoll, one callback per fd. A loop belongs to one thread;
 * an engine worker (proxy/workers.c) waits and dispatches in two steps, so
 * the control thread can hold it between them.
 */
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
/* The two halves of loop__run_once: wait (returns how many are ready), then dispatch them. */
int loop__wait(struct loop *l, int timeout_ms);
void loop__dispatch(struct loop *l);
/*
 * The turn: how many waits so far. A source whose slot was reused during this
 * turn's dispatch (a new fd in the same struct) gets the events the wait
 * fetched for the old fd: it compares the turn it was opened in.
 */
uint64_t loop__turn(const struct loop *l);

#endif
