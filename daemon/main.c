/* vpcd: the VPC control daemon. Owns the desired state and the kernel objects. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "bpf.h"
#include "log.h"
#include "par.h"
#include "vpc/names.h"

#define MAX_REQUEST (256u << 20)
#define IO_TIMEOUT_MS 30000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vpcd [options]\n"
		"\n"
		"The VPC control daemon: builds VPCs from network namespaces and veth pairs\n"
		"and keeps them as the desired state says. Talk to it with vpcctl.\n"
		"\n"
		"  -s, --state-dir DIR  desired state (default " VPC_DEFAULT_STATE_DIR ")\n"
		"  -r, --run-dir DIR    API socket directory (default " VPC_DEFAULT_RUN_DIR ")\n"
		"  -p, --prefix NAME    name prefix of every namespace, lock and BPF pin\n"
		"                       (default " VPC_DEFAULT_PREFIX "; lets several vpcd share a host)\n"
		"  -d, --daemon         detach once the socket is ready\n"
		"  -l, --log FILE       with --daemon, log here (default /var/log/vpcd.log)\n"
		"  -H, --hook tc|tcx    where NACL programs attach to ports: classic tc\n"
		"                       (clsact, the default) or tcx; the other one when\n"
		"                       the kernel lacks it. tcx waits for an RCU grace\n"
		"                       period per attach (~10 ms): slow VPC builds\n"
		"  -v, --verbose        debug logging\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n"
		"\n"
		"Stopping vpcd never stops traffic: the namespaces, links and filters stay.\n");
}

static int take_lock(void)
{
	char path[64], buf[32];
	vpc_lock_path(path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		log_err("another vpcd is running (pid %s)", n > 0 ? strtok(buf, "\n") : "?");
		close(fd);
		return -1;
	}
	return fd;
}

static void write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) < 0)
		log_warn("cannot record the pid: %s", strerror(errno));
}

static int listen_on(const char *run_dir, char *path, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;
	if (mkdir(run_dir, 0755) && errno != EEXIST) {
		log_err("cannot create %s: %s", run_dir, strerror(errno));
		return -1;
	}
	snprintf(path, len, "%s/" VPC_SOCKET_NAME, run_dir);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path %s is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path); /* a stale socket: we hold the lock, so nobody else serves it */
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r || chmod(path, 0660) || listen(fd, 64)) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int wait_io(int fd, short ev)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int r = poll(&p, 1, IO_TIMEOUT_MS);
	return r == 1 ? 0 : -1;
}

/* Reads like read(), and keeps the first file descriptor a message carries in
 * *attached (-1 until one comes); any other is closed. */
static ssize_t read_fds(int fd, char *buf, size_t len, int *attached)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = r < 0 ? NULL : CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*attached < 0)
				*attached = got;
			else
				close(got);
		}
	}
	return r;
}

static size_t file_size(int fd)
{
	struct stat st;
	return fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
}

/* A request is one JSON document; the client half-closes when it has sent it.
 * A file may come attached (*attached; -1: none). */
static char *read_request(int fd, size_t *len, int *attached)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	bool warmed = false;
	*attached = -1;
	while (buf) {
		if (wait_io(fd, POLLIN))
			break;
		ssize_t r = read_fds(fd, buf + n, cap - n - 1, attached);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0) {
			buf[n] = 0;
			*len = n;
			return buf;
		}
		n += (size_t)r;
		if (!warmed && (warmed = n >= PAR_WARM_BYTES || file_size(*attached) >= PAR_WARM_BYTES))
			par_warm();
		if (n + 1 == cap) {
			if (cap >= MAX_REQUEST)
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	free(buf);
	return NULL;
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		if (wait_io(fd, POLLOUT))
			return;
		ssize_t r = write(fd, s, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		s += r;
		len -= (size_t)r;
	}
}

static void serve(struct vpcd *d, int cfd)
{
	size_t len = 0;
	int attached;
	double t0 = d->request_t0 = mono_ms();
	char *text = read_request(cfd, &len, &attached);
	json_t *reply;
	log_debug("request read in %.2f ms", mono_ms() - t0);
	if (!text) {
		struct vpc_err e = {0};
		vpc_fail(&e, VPC_E_INVALID, "", "the request was not received completely");
		reply = api_error(&e);
	} else {
		json_error_t je;
		/* The request object, and after it (from the next line) the payload of a
		 * "nacl_load"; of any other request, only white space. */
		json_t *req = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &je);
		size_t at = req ? (size_t)je.position : len;
		while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\r'))
			at++;
		at += at < len && text[at] == '\n';
		const char *payload = text + at;
		size_t plen = len - at;
		if (req && strspn(payload, " \t\r\n") == plen)
			plen = 0;
		if (!req) {
			struct vpc_err e = {0};
			vpc_fail(&e, VPC_E_NOT_JSON, "", "the request is not JSON: %s (line %d)",
				 je.text, je.line);
			reply = api_error(&e);
		} else {
			const char *op = json_string_value(json_object_get(req, "op"));
			reply = api_handle(d, req, payload, plen, attached);
			log_debug("%s -> %s", op ? op : "?",
				  json_is_true(json_object_get(reply, "ok")) ? "ok" : "error");
			if (!json_is_true(json_object_get(reply, "ok"))) {
				const json_t *er = json_object_get(reply, "error");
				const char *path = json_string_value(json_object_get(er, "path"));
				log_info("%s refused: %s%s%s", op ? op : "request", path ? path : "",
					 path && *path ? ": " : "",
					 json_string_value(json_object_get(er, "message")));
			}
			json_decref(req);
		}
	}
	free(text);
	d->request_t0 = 0;
	if (attached >= 0)
		close(attached);
	char *out = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (out) {
		write_all(cfd, out, strlen(out));
		write_all(cfd, "\n", 1);
		free(out);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state-dir", required_argument, NULL, 's'}, {"run-dir", required_argument, NULL, 'r'},
		{"daemon", no_argument, NULL, 'd'},	     {"log", required_argument, NULL, 'l'},
		{"verbose", no_argument, NULL, 'v'},	     {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	     {"prefix", required_argument, NULL, 'p'},
		{"hook", required_argument, NULL, 'H'},	     {NULL, 0, NULL, 0},
	};
	const char *state_dir = VPC_DEFAULT_STATE_DIR, *run_dir = VPC_DEFAULT_RUN_DIR;
	const char *log_path = "/var/log/vpcd.log";
	bool detach = false;
	int c;
	/* A change to a NACL of 10,000 rules allocates and frees some megabytes. Kept
	 * in the heap instead of mapped and unmapped each time, they cost no page
	 * faults the next time: that halves the rules' compile. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	/* The helper thread (par.h) allocates from the same heap, not from an arena
	 * of its own that would be unmapped and faulted in again each time. */
	mallopt(M_ARENA_MAX, 1);
	while ((c = getopt_long(argc, argv, "s:r:dl:vhVp:H:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			state_dir = optarg;
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'd':
			detach = true;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'v':
			vlog_level = LOG_DEBUG_;
			break;
		case 'p':
			if (vpc_set_prefix(optarg)) {
				fprintf(stderr, "vpcd: --prefix takes 1-16 of a-z, 0-9 and '-'\n");
				return 2;
			}
			break;
		case 'H':
			if (strcmp(optarg, "tc") && strcmp(optarg, "tcx")) {
				fprintf(stderr, "vpcd: --hook takes tc or tcx\n");
				return 2;
			}
			vbpf_prefer_hook(strcmp(optarg, "tc") ? VBPF_HOOK_TCX : VBPF_HOOK_TC);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vpcd %s\n", VPCD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "vpcd: must run as root (it creates network namespaces)\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	int lock = take_lock();
	if (lock < 0)
		return 1;

	struct vpcd d;
	struct vpc_err err = {0};
	if (vpcd_open(&d, state_dir, &err)) {
		log_err("%s", err.msg);
		return 1;
	}
	char sock_path[256];
	int lfd = listen_on(run_dir, sock_path, sizeof(sock_path));
	if (lfd < 0)
		return 1;

	if (detach) {
		pid_t pid = fork();
		if (pid < 0) {
			log_err("fork: %s", strerror(errno));
			return 1;
		}
		if (pid > 0)
			return 0;
		setsid();
		int nul = open("/dev/null", O_RDWR);
		int lf = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (nul >= 0)
			dup2(nul, 0);
		if (lf >= 0) {
			dup2(lf, 1);
			dup2(lf, 2);
		}
	}
	write_pid(lock);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	/* After the fork (which keeps only the calling thread) and with the signals
	 * blocked (which the helper inherits). */
	int pe = par_enable(true);
	if (pe)
		log_warn("no helper thread (%s): large NACLs are read and compiled on one CPU",
			 strerror(-pe));
	log_info("listening on %s (pid %d)", sock_path, getpid());

	/* Idle work (see vpcd_tidy) waits for a second without requests. */
	bool idle_work = vpcd_tidy(&d, false);
	for (;;) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		int n = poll(p, 2, idle_work ? 1000 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0) {
			idle_work = vpcd_tidy(&d, true);
			continue;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				log_info("signal %u: stopping; the data plane stays up", si.ssi_signo);
			break;
		}
		if (p[0].revents) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0) {
				serve(&d, cfd);
				close(cfd);
				idle_work = vpcd_tidy(&d, false);
			}
		}
	}
	unlink(sock_path);
	close(lfd);
	vpcd_close(&d);
	return 0;
}
