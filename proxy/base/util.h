/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Ownership helpers shared by every binary: cleanup attributes in the style of
 * crun and systemd, and an error out-parameter that gains context at each level
 * and is printed once, at the edge.
 */
#ifndef DEPFENCE_UTIL_H
#define DEPFENCE_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -1;
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
	*f = NULL;
}

#define _cleanup_(f)	 __attribute__((cleanup(f)))
#define _cleanup_free_	 _cleanup_(freep)
#define _cleanup_close_	 _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand a resource out of a cleanup scope: returns the value and resets the variable. */
#define steal_ptr(p)                                                                               \
	({                                                                                         \
		__typeof__(p) _tmp = (p);                                                          \
		(p) = NULL;                                                                        \
		_tmp;                                                                              \
	})
#define steal_fd(fd)                                                                               \
	({                                                                                         \
		int _tmp = (fd);                                                                   \
		(fd) = -1;                                                                         \
		_tmp;                                                                              \
	})

/*
 * df_err: what went wrong and where. Library code fills it and returns a
 * negative errno; callers may prefix context with df_err_wrap(); main() prints
 * it once.
 */
struct df_err {
	int code; /* negative errno, 0 when unset */
	char msg[512];
};

__attribute__((format(printf, 3, 4))) int df_err_set(struct df_err *err, int code, const char *fmt,
						     ...);
__attribute__((format(printf, 2, 3))) int df_err_wrap(struct df_err *err, const char *fmt, ...);

/* Full read/write helpers that retry on EINTR and short counts. */
ssize_t read_full(int fd, void *buf, size_t len);
ssize_t write_full(int fd, const void *buf, size_t len);
/* Read a whole small file (procfs, sysfs, policy) into a NUL-terminated buffer. */
int read_file(const char *path, char **ret_buf, size_t *ret_len, size_t max_len);
/* The same from an open fd (a hook's stdin), up to MAX_LEN bytes (-EFBIG past it). */
int read_fd_all(int fd, char **ret_buf, size_t *ret_len, size_t max_len);
/* mkdir -p PATH with MODE for each directory it creates. */
int mkdir_p(const char *path, mode_t mode);

/* Monotonic clock in milliseconds. */
unsigned long long now_ms(void);

/* FNV-1a of LEN bytes at P, continuing from H (start with DF_FNV_SEED). */
#define DF_FNV_SEED 0xcbf29ce484222325ULL
static inline unsigned long long df_fnv1a(unsigned long long h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

/*
 * A hash of LEN bytes at P, eight at a time, from seed H: for long keys on a
 * hot path (a block line is hashed per refused query to fold it), where
 * FNV-1a's byte-by-byte chain of multiplies costs four times as much. Not for
 * anything stored or compared across builds (df_fnv1a is).
 */
static inline unsigned long long df_hash64(unsigned long long h, const void *p, size_t len)
{
	const unsigned char *b = p;
	unsigned long long w;

	h ^= len * 0x9e3779b97f4a7c15ULL;
	for (; len >= 8; b += 8, len -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, b, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

/* Length of the valid UTF-8 sequence at S (at most LEN bytes), 0 if not valid. */
size_t utf8_seq_len(const unsigned char *s, size_t len);

#endif
