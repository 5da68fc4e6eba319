// SPDX-License-Identifier: GPL-2.0-only
/*
 * depfenced --metrics-listen: GET /metrics over plain HTTP/1.1 on the daemon's
 * event loop. One request per connection, answered whole and closed: a scraper
 * needs no more, and nothing a client sends can keep a connection or its
 * memory for long (bounded request, bounded clients, a deadline each).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "dnsguard_api.h"
#include "log.h"
#include "metrics.h"

#define HTTP_MAX_CLIENTS 16
#define HTTP_REQ_MAX	 4096
#define HTTP_TIMEOUT_MS	 5000

struct http_client {
	struct ev_source src;
	struct metrics_http *h;
	uint64_t deadline;
	char *out; /* the whole reply, once the request is read */
	size_t out_len, out_off;
	size_t len;
	char req[HTTP_REQ_MAX];
};

struct metrics_http {
	struct ev_source listen;
	struct daemon *d;
	struct http_client *clients[HTTP_MAX_CLIENTS];
};

int metrics_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	const char *colon = strrchr(s, ':');
	bool has_port = s[0] == '[' ? strstr(s, "]:") != NULL : colon && strchr(s, ':') == colon;

	/* addr_parse() would default to port 53: a metrics port is always named. */
	if (!has_port || addr_parse(s, ret, ret_len) < 0)
		return -EINVAL;
	if (((struct sockaddr_in *)ret)->sin_port == 0) /* same offset in sockaddr_in6 */
		return -EINVAL;
	return 0;
}

static void client_close(struct http_client *c)
{
	struct metrics_http *h = c->h;
	int i;

	for (i = 0; i < HTTP_MAX_CLIENTS; i++)
		if (h->clients[i] == c)
			h->clients[i] = NULL;
	loop__del(h->d->loop, &c->src);
	close(c->src.fd);
	free(c->out);
	free(c);
}

/* The engine's families, then the BPF programs' counters. */
static int render_metrics(struct daemon *d, FILE *f)
{
	const char *names[DF_CNT__MAX];
	uint64_t vals[DF_CNT__MAX];
	__u64 v[DF_CNT__MAX];
	int i, r;

	r = engine__render_metrics(d->engine, f);
	if (r < 0)
		return r;
	dnsguard__counters(d->bpf, v);
	for (i = 0; i < DF_CNT__MAX; i++) {
		names[i] = dnsguard__counter_name(i);
		vals[i] = v[i];
	}
	return metrics__render_kernel(f, names, vals, DF_CNT__MAX);
}

/* The reply to request line LINE: status and, for /metrics, the exposition. */
static int build_reply(struct http_client *c, const char *line)
{
	_cleanup_free_ char *body = NULL;
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
	size_t body_len = 0, plen;
	const char *path, *sp;
	FILE *f;
	int r = 0;

	f = open_memstream(&body, &body_len);
	if (!f)
		return -errno;
	path = strchr(line, ' ');
	sp = path ? strchr(path + 1, ' ') : NULL;
	plen = sp ? (size_t)(sp - path - 1) : 0;
	if (!sp || strncmp(sp + 1, "HTTP/1.", 7) != 0) {
		status = "400 Bad Request", ctype = "text/plain";
		fputs("bad request\n", f);
	} else if (strncmp(line, "GET ", 4) != 0) {
		status = "405 Method Not Allowed", ctype = "text/plain";
		fputs("only GET\n", f);
	} else if (!((plen == 8 && !strncmp(path + 1, "/metrics", 8)) ||
		     (plen > 8 && !strncmp(path + 1, "/metrics?", 9)))) {
		status = "404 Not Found", ctype = "text/plain";
		fputs("not found: try /metrics\n", f);
	} else {
		r = render_metrics(c->h->d, f);
	}
	if (fclose(f) == EOF || r < 0)
		return r < 0 ? r : -ENOMEM;
	f = open_memstream(&c->out, &c->out_len);
	if (!f)
		return -errno;
	fprintf(f,
		"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n",
		status, ctype, body_len);
	fwrite(body, 1, body_len, f);
	return fclose(f) == EOF ? -ENOMEM : 0;
}

static void write_out(struct http_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->src.fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			loop__mod(c->h->d->loop, &c->src, EPOLLOUT);
			return;
		}
		if (n <= 0)
			break;
		c->out_off += n;
	}
	client_close(c);
}

static void on_client(struct ev_source *src, uint32_t events)
{
	struct http_client *c = container_of(src, struct http_client, src);
	char *end;
	ssize_t n;

	if (c->out) {
		write_out(c);
		return;
	}
	n = read(src->fd, c->req + c->len, sizeof(c->req) - 1 - c->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->len += n;
	c->req[c->len] = '\0';
	/* The request line is all we read; the headers only have to end in time. */
	if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
		if (c->len == sizeof(c->req) - 1)
			client_close(c); /* over HTTP_REQ_MAX: not a scraper */
		return;
	}
	end = strpbrk(c->req, "\r\n");
	*end = '\0';
	if (build_reply(c, c->req) < 0) {
		log_msg(LOG_WARN, "metrics: no memory for a reply");
		client_close(c);
		return;
	}
	write_out(c);
}

static void on_accept(struct ev_source *src, uint32_t events)
{
	struct metrics_http *h = container_of(src, struct metrics_http, listen);
	struct http_client *c;
	int fd, i;

	while ((fd = accept4(src->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		for (i = 0; i < HTTP_MAX_CLIENTS && h->clients[i]; i++)
			;
		c = i < HTTP_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->h = h;
		c->src.fd = fd;
		c->src.on_ready = on_client;
		c->deadline = now_ms() + HTTP_TIMEOUT_MS;
		if (loop__add(h->d->loop, &c->src, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		h->clients[i] = c;
	}
}

int daemon_metrics_listen(struct daemon *d, const struct sockaddr_storage *addr, socklen_t len,
			  struct df_err *err)
{
	struct metrics_http *h;
	int fd, r;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return df_err_set(err, -errno, "metrics socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
	if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return df_err_set(err, r, "--metrics-listen: %s", strerror(-r));
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		return df_err_set(err, -ENOMEM, "out of memory");
	}
	h->d = d;
	h->listen.fd = fd;
	h->listen.on_ready = on_accept;
	r = loop__add(d->loop, &h->listen, EPOLLIN);
	if (r < 0) {
		close(fd);
		free(h);
		return df_err_set(err, r, "metrics: epoll: %s", strerror(-r));
	}
	d->metrics = h;
	return 0;
}

void daemon_metrics_tick(struct daemon *d, uint64_t now)
{
	struct metrics_http *h = d->metrics;
	int i;

	for (i = 0; h && i < HTTP_MAX_CLIENTS; i++)
		if (h->clients[i] && now >= h->clients[i]->deadline)
			client_close(h->clients[i]);
}

void daemon_metrics_close(struct daemon *d)
{
	struct metrics_http *h = d->metrics;
	int i;

	if (!h)
		return;
	for (i = 0; i < HTTP_MAX_CLIENTS; i++)
		if (h->clients[i])
			client_close(h->clients[i]);
	loop__del(d->loop, &h->listen);
	close(h->listen.fd);
	free(h);
	d->metrics = NULL;
}
