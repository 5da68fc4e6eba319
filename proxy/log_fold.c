// SPDX-License-Identifier: GPL-2.0-only
/*
 * Block log folding (log_fold.h): a fixed table of open windows.
 *
 * Entries come from a fixed pool and are found by a hash of the line through
 * chained buckets (a power of two, twice the entries). Open windows form a
 * FIFO ordered by their end: every window lasts the same time and a window
 * that goes on is re-appended when it closes, so the first one is always the
 * next to close and a tick looks at it alone. The lines live in a ring
 * arena written in the same order as the FIFO, so the space freed is always
 * the oldest: no fragmentation, no allocation after log_fold__new.
 */
#include "log_fold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"

#define NIL UINT32_MAX

struct fold_ent {
	uint64_t hash;
	uint64_t end_ms;
	uint64_t repeated; /* in this window, not written */
	uint32_t off, len; /* the line, in the arena */
	uint32_t hnext;	   /* bucket chain */
	uint32_t prev, next;
	uint32_t gen; /* bumped when the entry is freed: old handles miss */
	uint8_t level;
	bool used;
};

struct log_fold {
	log_fold_emit_fn *emit;
	void *ctx;
	uint32_t n_ent, n_buckets, arena_cap, window_ms;
	struct fold_ent *ent;
	uint32_t *bucket;
	uint32_t *free_ent, n_free;
	uint32_t head, tail; /* FIFO by end */
	uint32_t a_head;     /* where the next line goes; the oldest starts at ent[head].off */
	char *arena;
	uint64_t seed;
	struct log_fold_stats st;
};

int log_fold__new(const struct log_fold_opts *opts, log_fold_emit_fn *emit, void *ctx,
		  struct log_fold **ret)
{
	struct log_fold *f = calloc(1, sizeof(*f));
	uint32_t i;

	if (!f)
		return -ENOMEM;
	f->emit = emit;
	f->ctx = ctx;
	f->n_ent = opts && opts->entries ? opts->entries : LOG_FOLD_ENTRIES;
	f->arena_cap = opts && opts->arena ? opts->arena : LOG_FOLD_ARENA;
	f->window_ms = opts && opts->window_ms ? opts->window_ms : LOG_FOLD_WINDOW_MS;
	for (f->n_buckets = 1; f->n_buckets < 2 * f->n_ent; f->n_buckets <<= 1)
		;
	f->ent = calloc(f->n_ent, sizeof(*f->ent));
	f->bucket = malloc(f->n_buckets * sizeof(*f->bucket));
	f->free_ent = malloc(f->n_ent * sizeof(*f->free_ent));
	f->arena = malloc(f->arena_cap);
	if (!f->ent || !f->bucket || !f->free_ent || !f->arena) {
		log_fold__free(f);
		return -ENOMEM;
	}
	memset(f->bucket, 0xff, f->n_buckets * sizeof(*f->bucket));
	if (getrandom(&f->seed, sizeof(f->seed), 0) != sizeof(f->seed))
		f->seed = DF_FNV_SEED ^ now_ms();
	for (i = 0; i < f->n_ent; i++)
		f->free_ent[f->n_free++] = f->n_ent - 1 - i;
	f->head = f->tail = NIL;
	*ret = f;
	return 0;
}

void log_fold__free(struct log_fold *f)
{
	if (!f)
		return;
	free(f->ent);
	free(f->bucket);
	free(f->free_ent);
	free(f->arena);
	free(f);
}

/* Seeded per fold: the lines carry names a job chose, which must not pick one chain. */
static uint64_t line_hash(const struct log_fold *f, enum log_level level, const char *line,
			  size_t len)
{
	return df_hash64(f->seed ^ (uint64_t)level, line, len);
}

static void fifo_unlink(struct log_fold *f, uint32_t i)
{
	struct fold_ent *e = &f->ent[i];

	if (e->prev != NIL)
		f->ent[e->prev].next = e->next;
	else
		f->head = e->next;
	if (e->next != NIL)
		f->ent[e->next].prev = e->prev;
	else
		f->tail = e->prev;
	e->prev = e->next = NIL;
}

static void fifo_append(struct log_fold *f, uint32_t i)
{
	struct fold_ent *e = &f->ent[i];

	e->prev = f->tail;
	e->next = NIL;
	if (f->tail != NIL)
		f->ent[f->tail].next = i;
	else
		f->head = i;
	f->tail = i;
}

/*
 * LEN bytes at the head of the ring, or false. The used bytes run from the
 * oldest line (ent[head].off) to a_head, wrapping at most once; a line never
 * wraps, so the end of the arena may stay unused for a lap.
 */
static bool arena_take(struct log_fold *f, uint32_t len, uint32_t *ret_off)
{
	uint32_t oldest;

	if (f->head == NIL) {
		f->a_head = 0;
		if (len > f->arena_cap)
			return false;
		*ret_off = 0;
		f->a_head = len;
		return true;
	}
	oldest = f->ent[f->head].off;
	if (f->a_head >= oldest) {
		if (len <= f->arena_cap - f->a_head) {
			*ret_off = f->a_head;
			f->a_head += len;
			return true;
		}
		/* Wrap: strictly below the oldest, so a full ring never looks empty. */
		if (len < oldest) {
			*ret_off = 0;
			f->a_head = len;
			return true;
		}
		return false;
	}
	if (f->a_head + len < oldest) {
		*ret_off = f->a_head;
		f->a_head += len;
		return true;
	}
	return false;
}

static void bucket_unlink(struct log_fold *f, uint32_t i)
{
	uint32_t *pp = &f->bucket[f->ent[i].hash & (f->n_buckets - 1)];

	while (*pp != NIL && *pp != i)
		pp = &f->ent[*pp].hnext;
	if (*pp == i)
		*pp = f->ent[i].hnext;
}

static void ent_free(struct log_fold *f, uint32_t i)
{
	struct fold_ent *e = &f->ent[i];

	fifo_unlink(f, i);
	bucket_unlink(f, i);
	e->used = false;
	e->gen++;
	f->free_ent[f->n_free++] = i;
}

static void summary(struct log_fold *f, struct fold_ent *e)
{
	if (!e->repeated)
		return;
	f->emit(f->ctx, e->level, f->arena + e->off, e->len, e->repeated);
	f->st.summaries++;
}

/* Close the oldest window now, to make room. */
static void evict_oldest(struct log_fold *f)
{
	uint32_t i = f->head;

	summary(f, &f->ent[i]);
	f->st.early++;
	ent_free(f, i);
}

static uint32_t find(const struct log_fold *f, uint64_t h, enum log_level level, const char *line,
		     size_t len)
{
	uint32_t i;

	for (i = f->bucket[h & (f->n_buckets - 1)]; i != NIL; i = f->ent[i].hnext) {
		const struct fold_ent *e = &f->ent[i];

		if (e->hash == h && e->level == level && e->len == len &&
		    memcmp(f->arena + e->off, line, len) == 0)
			return i;
	}
	return NIL;
}

static uint64_t handle_of(const struct log_fold *f, uint32_t i)
{
	return (uint64_t)f->ent[i].gen << 32 | i;
}

bool log_fold__note(struct log_fold *f, enum log_level level, const char *line, size_t len,
		    uint64_t now, uint64_t *ret_handle)
{
	uint64_t h = line_hash(f, level, line, len);
	uint32_t i = find(f, h, level, line, len), off = 0;
	struct fold_ent *e;

	if (ret_handle)
		*ret_handle = UINT64_MAX;
	if (i != NIL) {
		f->ent[i].repeated++;
		f->st.folded++;
		if (ret_handle)
			*ret_handle = handle_of(f, i);
		return false;
	}
	if (len >= f->arena_cap) {
		f->emit(f->ctx, level, line, len, 0); /* longer than the arena: not folded */
		f->st.written++;
		return true;
	}
	/* Room for one more window: close the oldest ones early if need be. */
	while (f->head != NIL && (!f->n_free || !arena_take(f, len, &off)))
		evict_oldest(f);
	if (f->head == NIL)
		arena_take(f, len, &off); /* empty: it fits */
	i = f->free_ent[--f->n_free];
	e = &f->ent[i];
	e->hash = h;
	e->end_ms = now + f->window_ms;
	e->repeated = 0;
	e->off = off;
	e->len = len;
	e->level = level;
	e->used = true;
	memcpy(f->arena + off, line, len);
	e->hnext = f->bucket[h & (f->n_buckets - 1)];
	f->bucket[h & (f->n_buckets - 1)] = i;
	fifo_append(f, i);
	f->emit(f->ctx, level, line, len, 0);
	f->st.written++;
	if (ret_handle)
		*ret_handle = handle_of(f, i);
	return true;
}

bool log_fold__add(struct log_fold *f, uint64_t handle, uint64_t n)
{
	uint32_t i = (uint32_t)handle;

	if (i >= f->n_ent || !f->ent[i].used || f->ent[i].gen != (uint32_t)(handle >> 32))
		return false;
	f->ent[i].repeated += n;
	f->st.folded += n;
	return true;
}

/*
 * Window I closed with lines counted: its summary is written and the next
 * window opens at once. Its line moves to the head of the ring (it was the
 * oldest, so its bytes are the first freed: memmove, the two may overlap).
 */
static void reopen(struct log_fold *f, uint32_t i, uint64_t now)
{
	struct fold_ent *e = &f->ent[i];
	uint32_t old = e->off, off;

	fifo_unlink(f, i);
	if (!arena_take(f, e->len, &off)) {
		/* No room without closing someone else early: this one ends instead. */
		fifo_append(f, i);
		ent_free(f, i);
		return;
	}
	memmove(f->arena + off, f->arena + old, e->len);
	e->off = off;
	e->repeated = 0;
	e->end_ms = now + f->window_ms;
	fifo_append(f, i);
}

void log_fold__tick(struct log_fold *f, uint64_t now)
{
	/* Only the windows open now: one reopened here ends a window later. */
	uint32_t n = f ? f->n_ent - f->n_free : 0;

	while (n-- && f->head != NIL && f->ent[f->head].end_ms <= now) {
		uint32_t i = f->head;

		if (f->ent[i].repeated) {
			summary(f, &f->ent[i]);
			reopen(f, i, now);
		} else {
			ent_free(f, i);
		}
	}
}

int log_fold__next_timeout(const struct log_fold *f, uint64_t now)
{
	uint64_t end;

	if (!f || f->head == NIL)
		return -1;
	end = f->ent[f->head].end_ms;
	return end <= now ? 0 : end - now > INT32_MAX ? INT32_MAX : (int)(end - now);
}

void log_fold__flush(struct log_fold *f)
{
	while (f && f->head != NIL) {
		summary(f, &f->ent[f->head]);
		ent_free(f, f->head);
	}
}

void log_fold__stats(const struct log_fold *f, struct log_fold_stats *ret)
{
	*ret = f->st;
}
