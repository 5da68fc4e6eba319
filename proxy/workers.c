// SPDX-License-Identifier: GPL-2.0-only
/*
 * Engine workers: the daemon's guards served on every core. Each worker is a
 * whole engine (engine_int.h: struct engine) on a thread of its own, with its
 * own loop, listeners' events, pending table, upstream sockets, cache shard,
 * block-line fold and counters. A guard belongs to one worker, the one with
 * the fewest guards when it was added, so a query's path from its listener to
 * its answer stays on one thread and takes no lock (but enforce's, around a
 * map write). Jobs spread over the cores; one job's lookups use one.
 *
 * Control stays on the primary's thread. It touches a worker's state only
 * while the worker is paused between two loop turns: engine__pause() waits
 * for every worker to finish the turn it is in and holds it there, and
 * engine__resume() lets them go on. A turn is a batch of events, so a pause
 * waits at most for one batch, and a worker pays two uncontended mutex
 * operations a turn, never one a query. A worker that a pause held with events
 * waiting takes one turn before the next pause holds it again: control and the
 * workers alternate, whatever the control loop's load.
 */
#include "engine_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "procinfo.h"

struct worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the worker left its turn, or a pause ended */
	unsigned pause_req;
	bool in_turn, stop;
	/* Held by a pause with events fetched; its turns so far, and at the last resume:
	 * engine__pause() lets a held worker take one turn first, so a control loop that
	 * is always busy cannot starve it. */
	bool held;
	uint64_t turns, turns_at_resume;
	/* Control gave it work with a timer (a guard's learning, a graveyard): woken at
	 * resume to take it now, not at its next timeout (workers_kick). */
	bool kicked;
	struct ev_source wake; /* eventfd: a pause ended (timers may have moved), or stop */
	struct loop *loop;
};

static void on_wake(struct ev_source *src, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(src->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, "engine worker: wake-up read: %s", strerror(errno));
}

static void wake(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, "engine worker: wake-up write: %s", strerror(errno));
}

static void *worker_main(void *arg)
{
	struct engine *e = arg;
	struct worker *w = e->w;
	int t = 0;

	for (;;) {
		/* TCP idle checks and the graveyard need a turn now and then. */
		loop__wait(w->loop, t < 0 || t > 1000 ? 1000 : t);
		pthread_mutex_lock(&w->mu);
		while (w->pause_req && !w->stop) {
			w->held = true;
			pthread_cond_wait(&w->cv, &w->mu);
		}
		w->held = false;
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		w->in_turn = true;
		pthread_mutex_unlock(&w->mu);

		/* Events of a guard removed during the pause find its listeners closed
		 * (fd -1) and the guard itself in the graveyard, freed by this tick. */
		loop__dispatch(w->loop);
		engine__tick(e);
		t = engine__next_timeout(e);
		log_flush();

		pthread_mutex_lock(&w->mu);
		w->in_turn = false;
		w->turns++;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	log_flush();
	procinfo_thread_done();
	return NULL;
}

static int worker_new(struct engine *p, unsigned idx, struct df_err *err)
{
	struct engine_opts o = p->opts;
	struct worker *w = calloc(1, sizeof(*w));
	struct engine *e;
	int r;

	if (!w)
		return df_err_set(err, -ENOMEM, "out of memory");
	w->wake.fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	r = loop__new(&w->loop);
	if (r < 0) {
		free(w);
		return df_err_set(err, r, "engine worker: epoll: %s", strerror(-r));
	}
	o.loop = w->loop;
	o.workers = 0;
	/* The cache is split: the same memory in all, whatever the number of workers. */
	if (o.cache_entries >= 0) {
		size_t total = o.cache_entries ? (size_t)o.cache_entries : CACHE_DEFAULT_ENT;

		o.cache_entries = (int)(total / p->n_workers > 0 ? total / p->n_workers : 1);
	}
	r = engine_new_one(&o, p, idx, &e, err);
	if (r < 0) {
		loop__free(w->loop);
		free(w);
		return r;
	}
	e->w = w;
	p->workers[idx - 1] = e;
	w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->wake.on_ready = on_wake;
	if (w->wake.fd < 0 || loop__add(w->loop, &w->wake, EPOLLIN) < 0)
		return df_err_set(err, -errno, "engine worker: eventfd: %s", strerror(errno));
	return 0;
}

int workers_new(struct engine *p, struct df_err *err)
{
	unsigned i, n = (unsigned)p->opts.workers;
	int r;

	p->workers = calloc(n, sizeof(*p->workers));
	if (!p->workers)
		return df_err_set(err, -ENOMEM, "out of memory");
	p->n_workers = n;
	for (i = 1; i <= n; i++) {
		r = worker_new(p, i, err);
		if (r < 0) {
			/* engine__free() takes the ones made, none the rest. */
			p->n_workers = i - (p->workers[i - 1] ? 0 : 1);
			return r;
		}
	}
	return 0;
}

void engine__stop_workers(struct engine *p)
{
	unsigned i;

	for (i = 0; i < p->n_workers; i++) {
		struct worker *w = p->workers[i]->w;

		if (!w || !w->started)
			continue;
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		wake(w);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void workers_free(struct engine *p)
{
	unsigned i;

	for (i = 0; i < p->n_workers; i++) {
		struct worker *w = p->workers[i]->w;

		engine_free_one(p->workers[i]);
		if (!w)
			continue;
		if (w->wake.fd >= 0)
			closep(&w->wake.fd);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		loop__free(w->loop);
		free(w);
	}
	free(steal_ptr(p->workers));
	p->n_workers = 0;
}

struct engine *workers_pick(struct engine *p)
{
	struct engine *best = p;
	unsigned i;

	for (i = 0; i < p->n_workers; i++)
		if (best == p || p->workers[i]->n_guards < best->n_guards)
			best = p->workers[i];
	return best;
}

int engine__start_workers(struct engine *p, struct df_err *err)
{
	unsigned i;
	int r;

	for (i = 0; i < p->n_workers; i++) {
		struct worker *w = p->workers[i]->w;

		if (w->started)
			continue;
		r = -pthread_create(&w->thread, NULL, worker_main, p->workers[i]);
		if (r < 0)
			return df_err_set(err, r, "engine worker %u: thread: %s", i + 1,
					  strerror(-r));
		w->started = true;
		/* For top -H and the tests: depfenced-w1, -w2, ... (the kernel keeps 15 bytes). */
		char name[16];

		snprintf(name, sizeof(name), "depfenced-w%u", i + 1);
		pthread_setname_np(w->thread, name);
	}
	return 0;
}

/* Worker I of P if its thread runs, else NULL. */
static struct worker *running(struct engine *p, unsigned i)
{
	struct worker *w = p->workers[i]->w;

	return w && w->started ? w : NULL;
}

void workers_kick(struct engine *e)
{
	/* Only while paused (or before the threads start): the worker is not in a turn. */
	if (e->w)
		e->w->kicked = true;
}

void engine__pause(struct engine *p)
{
	struct worker *w;
	unsigned i;

	for (i = 0; i < p->n_workers; i++) {
		if (!(w = running(p, i)))
			continue;
		pthread_mutex_lock(&w->mu);
		/* Held since the last resume and no turn yet: that turn first. */
		while (w->held && w->turns == w->turns_at_resume && !w->pause_req)
			pthread_cond_wait(&w->cv, &w->mu);
		w->pause_req++;
		while (w->in_turn)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
	}
}

void engine__resume(struct engine *p)
{
	struct worker *w;
	unsigned i;

	for (i = 0; i < p->n_workers; i++) {
		if (!(w = running(p, i)))
			continue;
		pthread_mutex_lock(&w->mu);
		w->pause_req--;
		w->turns_at_resume = w->turns;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		/* Only a worker the pause gave a timer: the others sleep on (a wake-up a
		 * control turn, for every worker, would be one more turn each). */
		if (w->kicked) {
			w->kicked = false;
			wake(w);
		}
	}
}
