/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One leveled logger, logfmt lines: "LEVEL message key=value ...".
 * Lines go to a sink (stderr by default) through a buffer that the event loop
 * flushes once per batch, so a burst of block lines costs one write(2).
 */
#ifndef DEPFENCE_LOG_H
#define DEPFENCE_LOG_H

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

/* How lines are written: logfmt (the default) or one JSON object per line. */
enum log_format {
	LOG_FORMAT_LOGFMT = 0,
	LOG_FORMAT_JSON,
};

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* "logfmt" or "json"; -EINVAL otherwise. */
int log_format_parse(const char *s, enum log_format *ret_format);
bool log_enabled(enum log_level level);
/* Send lines to FD (default 2). */
void log_set_fd(int fd);
/* Prefix lines with ts=RFC3339 (off by default: the block line's shape starts with the level). */
void log_set_timestamps(bool on);
/*
 * Under systemd (JOURNAL_STREAM names the stream the log fd is): logfmt lines
 * start with "<N>", the syslog priority journald strips into PRIORITY= (WARN
 * is 4). JSON lines carry their "level" field instead. Call after the format
 * and the fd are set.
 */
void log_detect_journal(void);

/* "LEVEL " + formatted text + "\n". The text must already be logfmt (use logfmt_quote). */
__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);
void log_vmsg(enum log_level level, const char *fmt, va_list ap);
/*
 * A line written in place, for the hot path (the block line): returns where
 * its body goes, after the level, with room for MAX bytes; log_commit() ends
 * the line. The body must be logfmt with every value quoted or escaped and no
 * newline. NULL when LEVEL is off (or MAX too large): write nothing then.
 */
char *log_reserve(enum log_level level, size_t max);
void log_commit(size_t body_len);

/* Write everything buffered. Called at the end of each event-loop turn and at exit. */
void log_flush(void);

/*
 * Quote SRC (LEN bytes) as a logfmt value into DST: surrounded by '"', with '"'
 * and '\' backslash-escaped, \n \r \t as such, other control bytes and DEL as
 * \xHH. Bytes >= 0x80 pass through (UTF-8 command lines stay readable). Always
 * NUL-terminates; if DST is too small the value is cut and ends in "...\"".
 * Returns the length written.
 */
size_t logfmt_quote(char *dst, size_t cap, const char *src, size_t len);

/*
 * Like logfmt_quote, but write SRC bare when it is a plain token (non-empty,
 * only [A-Za-z0-9._:/@+-]): ids and names stay easy to grep.
 */
size_t logfmt_value(char *dst, size_t cap, const char *src, size_t len);

/*
 * One logfmt LINE (LEN bytes, no newline) as a JSON object into DST (no
 * newline, no NUL), cut to CAP with the object closed; the mapping is in
 * log_json.c. Returns the length, 0 if CAP is under 64.
 */
size_t log_json_from_logfmt(char *dst, size_t cap, const char *line, size_t len);

/*
 * libbpf's print callback: its warnings at WARN, its debug output only at DEBUG.
 * Typed as libbpf_print_fn_t so libbpf_set_print(log_libbpf_print) compiles as is.
 */
int log_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);

#endif
