// SPDX-License-Identifier: GPL-2.0-only
/*
 * The leveled logger. Lines are built in a static buffer and written by
 * log_flush(), which the event loop calls once per turn: a burst of block
 * lines then costs one write(2), not one each.
 *
 * Each thread has its own buffer (the daemon's engine workers, proxy/workers.c,
 * log from theirs), so a line needs no lock; only log_flush() takes one, for
 * the write, so lines from two threads never interleave. Settings (level,
 * format, fd) are made before any thread starts.
 *
 * Line shape: "LEVEL text\n", so a consumer can match "^WARN DNS BLOCKED".
 * With log_set_timestamps(true) the line is prefixed "ts=<RFC 3339 UTC> ";
 * the prefix goes first (not last) so every line has the same field order
 * whatever the text, and it is off by default because journald and the
 * container runtime already stamp each line.
 */
#include "log.h"
#include "util.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LOG_BUF_SIZE (64 * 1024)
/* Room kept free for the "log lines dropped" notice, so it never needs its own flush. */
#define LOG_NOTE_MAX 128
/* A longer line is cut: it must fit in the buffer next to a notice. */
#define LOG_LINE_MAX (LOG_BUF_SIZE - LOG_NOTE_MAX)
/* libbpf's longest messages are verifier logs; past this they are cut. */
#define LOG_LIBBPF_MAX (16 * 1024)

static struct {
	enum log_level level;
	enum log_format format;
	int fd;
	bool timestamps;
	bool journal; /* stderr is systemd's journal stream: priority prefixes */
	/* Under write_lock: lines lost to a failed write, reported before the next
	 * flush's lines; the last byte that reached the fd was not '\n' (a write
	 * failed mid-line). */
	pthread_mutex_t write_lock;
	unsigned long long dropped;
	bool mid_line;
} lg = {
    .level = LOG_INFO,
    .fd = 2,
    .write_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The calling thread's lines, until log_flush(); static to keep 64 KiB off the stack. */
static __thread struct {
	size_t len;
	char buf[LOG_BUF_SIZE];
	char line[LOG_LINE_MAX]; /* where one line is formatted before it is appended */
	size_t reserved_prefix;	 /* log_reserve() .. log_commit() */
	enum log_level reserved_level;
} tl;

static const char *const level_names[] = {
    [LOG_DEBUG] = "DEBUG",
    [LOG_INFO] = "INFO",
    [LOG_WARN] = "WARN",
    [LOG_ERROR] = "ERROR",
};

void log_set_level(enum log_level level)
{
	lg.level = level;
}

bool log_enabled(enum log_level level)
{
	return level >= lg.level;
}

void log_set_format(enum log_format format)
{
	lg.format = format;
}

int log_format_parse(const char *s, enum log_format *ret_format)
{
	if (!strcmp(s, "logfmt"))
		*ret_format = LOG_FORMAT_LOGFMT;
	else if (!strcmp(s, "json"))
		*ret_format = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

void log_set_fd(int fd)
{
	/* Buffered lines were meant for the old sink. */
	log_flush();
	lg.fd = fd;
	lg.mid_line = false;
}

void log_set_timestamps(bool on)
{
	lg.timestamps = on;
}

void log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* Set by systemd for the stream it connected, which stays ours only if the
	 * sink is still that very stream (not a redirect of it). */
	lg.journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(lg.fd, &st) == 0 &&
		     st.st_dev == dev && st.st_ino == ino;
}

static const char *level_name(enum log_level level)
{
	if ((unsigned int)level >= ARRAY_SIZE(level_names))
		return "ERROR";
	return level_names[level];
}

/* "ts=2026-11-25T01:02:03.456Z " when timestamps are on, then "LEVEL ". CAP must exceed 64. */
static size_t format_prefix(char *dst, size_t cap, enum log_level level)
{
	size_t n = 0;
	int r;

	/* Under systemd: "<4>" and the like, which journald strips into PRIORITY=. */
	if (lg.journal && lg.format == LOG_FORMAT_LOGFMT) {
		static const char prio[] = {
		    [LOG_DEBUG] = '7', [LOG_INFO] = '6', [LOG_WARN] = '4', [LOG_ERROR] = '3'};

		dst[n++] = '<';
		dst[n++] = (unsigned)level < sizeof(prio) ? prio[level] : '3';
		dst[n++] = '>';
	}
	if (lg.timestamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		r = snprintf(dst + n, cap - n, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, ts.tv_nsec / 1000000);
		if (r > 0)
			n += (size_t)r < cap - n ? (size_t)r : cap - n - 1;
	}
	r = snprintf(dst + n, cap - n, "%s ", level_name(level));
	if (r > 0)
		n += (size_t)r < cap - n ? (size_t)r : cap - n - 1;
	return n;
}

/*
 * Build one whole line in DST, cut to CAP bytes (newline included). Callers
 * must pass logfmt text, but a stray line break would let whoever controls an
 * unquoted value forge a line; turning CR and LF into spaces costs one pass
 * over a short line and removes that risk for good.
 */
static size_t format_line(char *dst, size_t cap, enum log_level level, const char *fmt, va_list ap,
			  bool *ret_cut)
{
	size_t n = format_prefix(dst, cap, level);
	size_t room = cap - n - 1; /* keep one byte for '\n' */
	size_t body;
	char *p, *end;
	int r;

	/* vsnprintf() writes at most ROOM bytes and the last is its NUL, which '\n' replaces. */
	r = vsnprintf(dst + n, room + 1, fmt, ap);
	body = r < 0 ? 0 : (size_t)r;
	*ret_cut = body > room;
	if (body > room)
		body = room;
	end = dst + n + body;
	for (p = dst + n; (p = memchr(p, '\n', end - p)); p++)
		*p = ' ';
	for (p = dst + n; (p = memchr(p, '\r', end - p)); p++)
		*p = ' ';
	dst[n + body] = '\n';
	return n + body + 1;
}

static size_t format_drop_note(char *dst, size_t cap)
{
	size_t n = 0;
	int r;

	if (lg.format == LOG_FORMAT_JSON) {
		r = snprintf(
		    dst, cap,
		    "%s{\"level\":\"WARN\",\"msg\":\"log lines dropped\",\"count\":%llu}\n",
		    lg.mid_line ? "\n" : "", lg.dropped);
		return r > 0 ? ((size_t)r < cap ? (size_t)r : cap - 1) : 0;
	}
	/* End the torn line first, or the notice would be glued to its tail. */
	if (lg.mid_line)
		dst[n++] = '\n';
	n += format_prefix(dst + n, cap - n, LOG_WARN);
	r = snprintf(dst + n, cap - n, "log lines dropped count=%llu\n", lg.dropped);
	if (r > 0)
		n += (size_t)r < cap - n ? (size_t)r : cap - n - 1;
	return n;
}

/*
 * Write the buffer without ever waiting on a full sink: on any error (EAGAIN
 * from a non-blocking fd, EPIPE from a gone reader) the rest is dropped and
 * counted. write_full() is not used because it does not say how much went out
 * before the error, and that is needed to count lost lines and mend a torn one.
 */
static size_t write_some(const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(lg.fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

void log_flush(void)
{
	char note[LOG_NOTE_MAX];
	size_t done, i;

	if (!tl.len)
		return;
	pthread_mutex_lock(&lg.write_lock);
	if (lg.dropped) {
		size_t n = format_drop_note(note, sizeof(note));

		if (write_some(note, n) == n) {
			lg.dropped = 0;
			lg.mid_line = false;
		}
	}
	done = write_some(tl.buf, tl.len);
	for (i = done; i < tl.len; i++)
		lg.dropped += tl.buf[i] == '\n';
	if (done > 0)
		lg.mid_line = tl.buf[done - 1] != '\n';
	pthread_mutex_unlock(&lg.write_lock);
	tl.len = 0;
}

static void append(const char *src, size_t n)
{
	memcpy(tl.buf + tl.len, src, n);
	tl.len += n;
}

/*
 * The most JSON a logfmt line of LEN bytes can become: a byte grows to at most
 * six (a control byte or a broken UTF-8 byte as \u00XX), plus the field names'
 * quotes and the object's braces.
 */
static size_t json_room(size_t len)
{
	size_t room = 6 * len + 256;

	return room < LOG_LINE_MAX ? room : LOG_LINE_MAX;
}

/* LINE (a whole logfmt line without its newline) appended as a JSON line. */
static void append_json(const char *line, size_t len)
{
	size_t room = json_room(len);

	if (tl.len + room > sizeof(tl.buf))
		log_flush();
	tl.len += log_json_from_logfmt(tl.buf + tl.len, room - 1, line, len);
	tl.buf[tl.len++] = '\n';
}

/* Lines shorter than this are formatted straight into the buffer (all but huge ones). */
#define LOG_FAST_ROOM 8192

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	bool cut;
	size_t n;

	if (!log_enabled(level))
		return;
	if (tl.len + LOG_FAST_ROOM + LOG_NOTE_MAX > sizeof(tl.buf))
		log_flush();
	if (lg.format == LOG_FORMAT_JSON) {
		n = format_line(tl.line, sizeof(tl.line), level, fmt, ap, &cut);
		append_json(tl.line, n - 1);
		goto done;
	}
	if (tl.len + LOG_FAST_ROOM <= sizeof(tl.buf)) {
		va_list aq;

		va_copy(aq, ap);
		n = format_line(tl.buf + tl.len, LOG_FAST_ROOM, level, fmt, aq, &cut);
		va_end(aq);
		if (!cut) {
			tl.len += n;
			goto done;
		}
	}
	n = format_line(tl.line, sizeof(tl.line), level, fmt, ap, &cut);
	if (tl.len + n > sizeof(tl.buf))
		log_flush();
	append(tl.line, n);
done:
	/* An error is often the last thing a process says: do not leave it in the buffer. */
	if (level >= LOG_ERROR)
		log_flush();
}

char *log_reserve(enum log_level level, size_t max)
{
	if (!log_enabled(level) || max > LOG_FAST_ROOM - LOG_NOTE_MAX)
		return NULL;
	/* JSON: the logfmt body is rendered after itself at commit, room for both. */
	if (tl.len + LOG_FAST_ROOM + LOG_NOTE_MAX +
		(lg.format == LOG_FORMAT_JSON ? json_room(LOG_NOTE_MAX + max) : 0) >
	    sizeof(tl.buf))
		log_flush();
	tl.reserved_prefix = format_prefix(tl.buf + tl.len, LOG_NOTE_MAX, level);
	tl.reserved_level = level;
	return tl.buf + tl.len + tl.reserved_prefix;
}

void log_commit(size_t body_len)
{
	size_t n = tl.reserved_prefix + body_len;

	if (lg.format == LOG_FORMAT_JSON) {
		/* Rendered just past the logfmt line, then moved over it: no copy buffer. */
		char *src = tl.buf + tl.len, *dst = src + n;
		size_t j = log_json_from_logfmt(dst, json_room(n) - 1, src, n);

		memmove(src, dst, j);
		tl.len += j;
		tl.buf[tl.len++] = '\n';
		if (tl.reserved_level >= LOG_ERROR)
			log_flush();
		return;
	}
	tl.len += n;
	tl.buf[tl.len++] = '\n';
	if (tl.reserved_level >= LOG_ERROR)
		log_flush();
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static size_t quote_width(unsigned char c)
{
	if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t')
		return 2;
	if (c < 0x20 || c == 0x7f)
		return 4;
	return 1;
}

static size_t quote_byte(char *dst, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '"':
	case '\\':
		dst[0] = '\\';
		dst[1] = (char)c;
		return 2;
	case '\n':
		memcpy(dst, "\\n", 2);
		return 2;
	case '\r':
		memcpy(dst, "\\r", 2);
		return 2;
	case '\t':
		memcpy(dst, "\\t", 2);
		return 2;
	}
	if (c < 0x20 || c == 0x7f) {
		dst[0] = '\\';
		dst[1] = 'x';
		dst[2] = hex[c >> 4];
		dst[3] = hex[c & 0xf];
		return 4;
	}
	dst[0] = (char)c;
	return 1;
}

/*
 * A cut value keeps whole escapes and, for valid UTF-8, whole characters, so
 * what a reader sees is a true prefix of the value. Below 6 bytes there is no
 * room for even '"..."' and the result is the empty string.
 */
size_t logfmt_quote(char *dst, size_t cap, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t need = 2, limit, o = 0, i, back;

	if (cap == 0)
		return 0;
	for (i = 0; i < len; i++)
		need += quote_width(s[i]);
	/* Cut only when the whole value does not fit; then keep 4 bytes for '..."'. */
	if (need < cap)
		limit = cap - 2;
	else if (cap >= 6)
		limit = cap - 5;
	else
		limit = 0;
	if (limit == 0) {
		dst[0] = '\0';
		return 0;
	}
	dst[o++] = '"';
	for (i = 0; i < len && o + quote_width(s[i]) <= limit; i++)
		o += quote_byte(dst + o, s[i]);
	if (i < len) {
		/* Back out of a multi-byte character (at most 3 continuation bytes). */
		for (back = 0; back < 3 && i > 0 && s[i - 1] >= 0x80 && (s[i] & 0xc0) == 0x80;
		     back++) {
			i--;
			o--;
		}
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}

static void log_libbpf_line(enum log_level level, const char *line)
{
	/* libbpf starts most messages with its name already; say it once. */
	if (strncmp(line, "libbpf: ", 8) == 0)
		line += 8;
	if (*line)
		log_msg(level, "libbpf: %s", line);
}

/*
 * libbpf's INFO is chatter (found program, loaded map) that only helps while
 * debugging, so it goes to DEBUG with the rest. Messages may hold several
 * lines (the verifier log): each becomes its own "libbpf: " line.
 */
int log_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static __thread char msg[LOG_LIBBPF_MAX];
	enum log_level lvl = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;
	char *line, *nl;

	if (!log_enabled(lvl))
		return 0;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return 0;
	for (line = msg; *line; line = nl + 1) {
		nl = strchrnul(line, '\n');
		if (!*nl) {
			log_libbpf_line(lvl, line);
			break;
		}
		*nl = '\0';
		log_libbpf_line(lvl, line);
	}
	return 0;
}

size_t logfmt_value(char *dst, size_t cap, const char *src, size_t len)
{
	size_t i;

	if (len == 0 || len >= cap)
		return logfmt_quote(dst, cap, src, len);
	for (i = 0; i < len; i++) {
		unsigned char ch = src[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("._:/@+-", ch)))
			return logfmt_quote(dst, cap, src, len);
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return len;
}
