// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP connect rate: connect to HOST:PORT and close, as fast as possible, for
 * SECONDS; prints connects per second. A listener thread accepts and closes,
 * so one process measures the whole round. Loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int lfd;

static void *acceptor(void *arg)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	double t0, secs;
	long n = 0;
	pthread_t th;
	int one = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: connect_rate PORT SECONDS\n");
		return 2;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(atoi(argv[1]));
	secs = atof(argv[2]);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4096) < 0) {
		perror("listen");
		return 1;
	}
	pthread_create(&th, NULL, acceptor, NULL);
	t0 = now();
	while (now() - t0 < secs) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		/* RST on close: no TIME_WAIT pile-up to exhaust ports. */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("connect");
			return 1;
		}
		close(fd);
		n++;
	}
	printf("%.0f\n", n / (now() - t0));
	return 0;
}
