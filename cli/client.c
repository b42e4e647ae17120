#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vpcctl.h"

static void no_daemon(const char *path, int err)
{
	fprintf(stderr,
		"vpcctl: vpcd is not running (%s: %s).\n"
		"Start it as root with:  vpcd --daemon\n"
		"(or in the foreground:  vpcd)\n",
		path, strerror(err));
	exit(EXIT_NODAEMON);
}

json_t *call_raw(struct cli *c, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text) {
		fprintf(stderr, "vpcctl: out of memory\n");
		exit(EXIT_USAGE);
	}
	json_t *reply = call_text(c, text, strlen(text));
	free(text);
	return reply;
}

json_t *call_text(struct cli *c, const char *text, size_t len)
{
	return call_text_fd(c, text, len, -1);
}

/* Writes the first bytes of a request, with `fd` attached (SCM_RIGHTS): vpcd
 * receives the open file along with them. */
static ssize_t send_with_fd(int sock, const char *text, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u = {0};
	struct iovec iov = {.iov_base = (void *)text, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL);
}

json_t *call_text_fd(struct cli *c, const char *text, size_t len, int attach)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vpcctl: socket path too long: %s\n", c->socket);
		exit(EXIT_USAGE);
	}
	strcpy(sa.sun_path, c->socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EACCES || errno == EPERM) {
			fprintf(stderr, "vpcctl: %s: %s (vpcctl needs root)\n", c->socket,
				strerror(errno));
			exit(EXIT_REFUSED);
		}
		no_daemon(c->socket, errno);
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = attach >= 0 && !off ? send_with_fd(fd, text, len, attach)
						: write(fd, text + off, len - off);
		if (n <= 0) {
			fprintf(stderr, "vpcctl: lost vpcd while sending: %s\n", strerror(errno));
			exit(EXIT_REFUSED);
		}
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	/* The whole reply first: json_loadfd() reads it a byte per system call. */
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while (buf && (n = read(fd, buf + got, cap - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
		if (got == cap) {
			char *p = realloc(buf, cap *= 2);
			if (!p)
				free(buf);
			buf = p;
		}
	}
	close(fd);
	json_error_t je = {.text = "out of memory"};
	json_t *reply = buf ? json_loadb(buf, got, JSON_DISABLE_EOF_CHECK, &je) : NULL;
	free(buf);
	if (!reply) {
		fprintf(stderr, "vpcctl: no valid reply from vpcd (%s)\n", je.text);
		exit(EXIT_REFUSED);
	}
	return reply;
}

int report_error(const json_t *reply)
{
	const json_t *e = json_object_get(reply, "error");
	const char *path = json_string_value(json_object_get(e, "path"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *code = json_string_value(json_object_get(e, "code"));
	if (path && *path)
		fprintf(stderr, "vpcctl: error: %s: %s\n", path, msg ? msg : "?");
	else
		fprintf(stderr, "vpcctl: error: %s\n", msg ? msg : "?");
	if (code && !strcmp(code, "not_supported"))
		fprintf(stderr, "vpcctl: (valid, but this version of vpcd cannot build it yet)\n");
	return EXIT_REFUSED;
}

json_t *reply_result(json_t *reply)
{
	if (!json_is_true(json_object_get(reply, "ok"))) {
		int code = report_error(reply);
		json_decref(reply);
		exit(code);
	}
	json_t *res = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return res;
}

json_t *call(struct cli *c, json_t *req)
{
	return reply_result(call_raw(c, req));
}
