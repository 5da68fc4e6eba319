/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Block log folding. A block line (DNS or PACKET) is written the first time it
 * is seen; the same line again within its one-second window is only counted,
 * and when the window closes one summary line is written: the same line with
 * " repeated=N" after its last field, N being the lines of that window that
 * were not written (the first is not among them). A window that closes with
 * N > 0 opens the next one at once (its lines are counted too, so a steady
 * flood of one line costs one summary a second); one that closes with N = 0
 * ends, and the next such line is written at once again.
 *
 * "The same line" is byte for byte: a line names its guard, process (pid,
 * command, ancestry, binary), name, type and rule, so two refusals fold only
 * when every field would read the same.
 *
 * The table is fixed at creation (entries, and an arena that holds their
 * lines): noting a line allocates nothing. When either is full the oldest
 * window is closed early (its summary written now) to make room; a line
 * longer than the arena is written and not folded.
 */
#ifndef DEPFENCE_LOG_FOLD_H
#define DEPFENCE_LOG_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define LOG_FOLD_WINDOW_MS 1000
#define LOG_FOLD_ENTRIES   8192
#define LOG_FOLD_ARENA	   (4u << 20) /* ~500 bytes a line */
/* The longest line engine_log_emit() writes: log_reserve()'s limit, less " repeated=N". */
#define LOG_FOLD_LINE_MAX (8064 - 32)

struct log_fold;

/*
 * Write LINE (LEN bytes of logfmt body, no level, no newline) at LEVEL; when
 * REPEATED is not 0 it is a summary and " repeated=REPEATED" follows.
 */
typedef void log_fold_emit_fn(void *ctx, enum log_level level, const char *line, size_t len,
			      uint64_t repeated);

struct log_fold_opts {
	uint32_t entries;   /* 0: LOG_FOLD_ENTRIES */
	uint32_t arena;	    /* bytes; 0: LOG_FOLD_ARENA */
	uint32_t window_ms; /* 0: LOG_FOLD_WINDOW_MS */
};

struct log_fold_stats {
	uint64_t written;   /* lines written as they came */
	uint64_t folded;    /* lines counted, not written */
	uint64_t summaries; /* repeated= lines written */
	uint64_t early;	    /* windows closed early for room */
};

/* OPTS may be NULL (the defaults). EMIT writes every line, first and summary. */
int log_fold__new(const struct log_fold_opts *opts, log_fold_emit_fn *emit, void *ctx,
		  struct log_fold **ret);
/* Frees without writing what is pending: call log_fold__flush first to keep it. */
void log_fold__free(struct log_fold *f);

/*
 * LINE was refused at NOW (ms, monotonic): written through EMIT if it opens a
 * window, else counted. Returns true if it was written. RET_HANDLE (may be
 * NULL) names its window for log_fold__add, until the window ends.
 */
bool log_fold__note(struct log_fold *f, enum log_level level, const char *line, size_t len,
		    uint64_t now, uint64_t *ret_handle);
/*
 * N more refusals of the line of window HANDLE, counted elsewhere (the BPF
 * side's rate limit): false if that window has ended (nothing counted).
 */
bool log_fold__add(struct log_fold *f, uint64_t handle, uint64_t n);

/* Close the windows that end by NOW, writing their summaries. */
void log_fold__tick(struct log_fold *f, uint64_t now);
/* Milliseconds until the next window closes, -1 if none is open. */
int log_fold__next_timeout(const struct log_fold *f, uint64_t now);
/* Close every window now (at exit), writing the summaries that are due. */
void log_fold__flush(struct log_fold *f);
void log_fold__stats(const struct log_fold *f, struct log_fold_stats *ret);

#endif
