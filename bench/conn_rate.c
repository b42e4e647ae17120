/*
 * New TCP connections per second, for bench/sg.sh.
 *
 *   conn_rate server ADDR PORT        accept and close, until killed
 *   conn_rate client ADDR PORT SECS   connect and close in a loop for SECS seconds
 *
 * The client prints one line:
 *   CONNECTIONS SECONDS FAILURES RATE,RATE,...   (connections/s per 0.5 s interval)
 *
 * One connection at a time: socket, connect (the handshake crosses the router
 * twice), close. The close is an RST (SO_LINGER 0): no TIME_WAIT on either side,
 * so the client's ephemeral ports never run out, and the router's conntrack
 * entry times out after 10 s (CLOSE) rather than 120 s (TIME_WAIT). Only the SYN
 * of each connection is "new" to a stateful filter: it is the packet that walks
 * the rules, once per connection.
 *
 * C, not a script: the loop costs a few microseconds, so the rate is the path's
 * (bench/sg.sh also measures it over loopback, without the path, as a ceiling).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define INTERVAL 0.5	  /* seconds per reported rate */
#define MAX_INTERVALS 1200

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int addr_of(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int server(const struct sockaddr_in *sa)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s, (const struct sockaddr *)sa, sizeof(*sa)) || listen(s, 4096)) {
		perror("conn_rate server");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
			return perror("accept"), 1;
	}
}

static int client(const struct sockaddr_in *sa, double secs)
{
	static unsigned iv[MAX_INTERVALS];
	struct linger rst = {.l_onoff = 1, .l_linger = 0};
	struct timeval limit = {.tv_sec = 1}; /* a dropped SYN fails the try, not the run */
	unsigned long ok = 0, failed = 0;
	double t0 = now(), t = t0, end = t0 + secs;
	if (secs / INTERVAL > MAX_INTERVALS)
		return fprintf(stderr, "conn_rate: at most %.0f s\n", MAX_INTERVALS * INTERVAL), 1;
	while (t < end) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return perror("socket"), 1;
		setsockopt(s, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
		int r = connect(s, (const struct sockaddr *)sa, sizeof(*sa));
		close(s);
		t = now();
		if (r) {
			failed++;
			continue;
		}
		ok++;
		size_t k = (size_t)((t - t0) / INTERVAL);
		if (k < MAX_INTERVALS)
			iv[k]++;
	}
	printf("%lu %.3f %lu ", ok, t - t0, failed);
	/* Full intervals only. */
	size_t full = (size_t)(secs / INTERVAL);
	for (size_t k = 0; k < full; k++)
		printf("%s%.0f", k ? "," : "", iv[k] / INTERVAL);
	printf("%s\n", full ? "" : "-");
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "server") && !addr_of(argv[2], argv[3], &sa))
		return server(&sa);
	if (argc == 5 && !strcmp(argv[1], "client") && !addr_of(argv[2], argv[3], &sa) &&
	    atof(argv[4]) > 0)
		return client(&sa, atof(argv[4]));
	fprintf(stderr, "usage: conn_rate server ADDR PORT | client ADDR PORT SECS\n");
	return 2;
}
