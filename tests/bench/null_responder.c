// SPDX-License-Identifier: GPL-2.0-only
/*
 * The benchmark's floor: a DNS responder that does no work. It echoes each
 * query back with QR set and RCODE REFUSED, in batches, so dnsperf against it
 * measures the client and the kernel, not a server. Loopback only; exits
 * after SECONDS.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

int main(int argc, char **argv)
{
	static unsigned char bufs[BATCH][512];
	struct sockaddr_in addr = {.sin_family = AF_INET}, peers[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct timespec to = {.tv_sec = 1};
	time_t end;
	int fd, i, n;

	if (argc != 3) {
		fprintf(stderr, "usage: null_responder PORT SECONDS\n");
		return 2;
	}
	addr.sin_port = htons(atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	end = time(NULL) + atoi(argv[2]);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("null_responder");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_sec = 1},
		   sizeof(struct timeval));
	while (time(NULL) < end) {
		for (i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &peers[i],
							       .msg_namelen = sizeof(peers[i]),
							       .msg_iov = &iov[i],
							       .msg_iovlen = 1}};
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, &to);
		for (i = 0; i < n; i++) {
			if (msgs[i].msg_len < 12)
				continue;
			bufs[i][2] |= 0x80;
			bufs[i][3] = (bufs[i][3] & 0xf0) | 5;
			iov[i].iov_len = msgs[i].msg_len;
		}
		if (n > 0)
			sendmmsg(fd, msgs, n, 0);
	}
	return 0;
}
