/* apply, destroy, show, exec, reconcile, status. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpc/err.h"
#include "vpc/names.h"
#include "vpcctl.h"

/* Standard input's bytes, once file_fd() has read them for a memory file. */
static char *stdin_bytes;
static size_t stdin_len;

/* A file's bytes (FILE, or standard input for "-"); exits on error. */
char *read_file(const char *path, size_t *len)
{
	if (stdin_bytes && !strcmp(path, "-")) {
		char *copy = malloc(stdin_len + 1);
		if (!copy) {
			fprintf(stderr, "vpcctl: out of memory\n");
			exit(EXIT_REFUSED);
		}
		memcpy(copy, stdin_bytes, stdin_len);
		*len = stdin_len;
		return copy;
	}
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t cap = 1 << 16, got = 0, n;
	char *buf = f ? malloc(cap) : NULL;
	if (!f) {
		fprintf(stderr, "vpcctl: error: %s: unable to open %s: %s\n", path, path,
			strerror(errno));
		exit(EXIT_REFUSED);
	}
	while (buf && (n = fread(buf + got, 1, cap - got, f)) > 0)
		if ((got += n) == cap) {
			char *p = realloc(buf, cap *= 2);
			if (!p)
				free(buf);
			buf = p;
		}
	if (!buf || ferror(f)) {
		fprintf(stderr, "vpcctl: error: %s: cannot read: %s\n", path,
			buf ? strerror(errno) : "out of memory");
		exit(EXIT_REFUSED);
	}
	if (f != stdin)
		fclose(f);
	*len = got;
	return buf;
}

/* The -f FILE a verb needs; exits without one. */
static const char *file_path(struct args *a)
{
	const char *path = OPT(a, "file");
	if (!path) {
		fprintf(stderr, "vpcctl %s: -f FILE is required (- for standard input)\n",
			current_verb->name);
		exit(EXIT_USAGE);
	}
	return path;
}

/* The bytes of the -f FILE a verb needs (its path in *path). */
char *file_opt(struct args *a, const char **path, size_t *len)
{
	*path = file_path(a);
	return read_file(*path, len);
}

/* Standard input as a file vpcd can read: itself when it is one (vpcd reads a
 * file from its start), else its bytes in a memory file. -1 if neither works. */
static int stdin_fd(void)
{
	struct stat st;
	if (!fstat(STDIN_FILENO, &st) && S_ISREG(st.st_mode))
		return fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
	stdin_bytes = read_file("-", &stdin_len);
	int fd = memfd_create("vpcctl-stdin", MFD_CLOEXEC);
	for (size_t done = 0; fd >= 0 && done < stdin_len;) {
		ssize_t n = write(fd, stdin_bytes + done, stdin_len - done);
		if (n <= 0) {
			close(fd);
			fd = -1;
		} else {
			done += (size_t)n;
		}
	}
	return fd;
}

int file_fd(struct args *a)
{
	const char *path = file_path(a);
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : stdin_fd();
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

json_t *call_around(struct cli *c, const char *head, const char *body, size_t len, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *req = malloc(hl + len + tl);
	if (!req) {
		fprintf(stderr, "vpcctl: out of memory\n");
		exit(EXIT_REFUSED);
	}
	memcpy(req, head, hl);
	memcpy(req + hl, body, len);
	memcpy(req + hl + len, tail, tl);
	json_t *reply = call_text(c, req, hl + len + tl);
	free(req);
	return reply;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether the text is one bracketed value and nothing after it, judged by
 * brackets and strings alone (vpcd parses the rest): spliced into a request, it
 * cannot then close the topology early and add keys of its own. */
static bool one_value(const char *s, size_t n)
{
	size_t i = 0;
	int depth = 0;
	while (i < n && is_ws(s[i]))
		i++;
	if (i == n || (s[i] != '{' && s[i] != '['))
		return false;
	do {
		char ch = s[i++];
		if (ch == '"') {
			while (i < n && s[i] != '"')
				i += s[i] == '\\' ? 2 : 1;
			if (i++ >= n)
				return false;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			depth--;
		}
	} while (i < n && depth > 0);
	while (i < n && is_ws(s[i]))
		i++;
	return depth == 0 && i == n;
}

/* Says where a topology file is not JSON (or not JSON without duplicate keys). */
static void check_json(const char *path, const char *text, size_t len)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (j) {
		json_decref(j);
		return;
	}
	fprintf(stderr, "vpcctl: error: %s: invalid JSON at line %d, column %d: %s\n", path,
		je.line, je.column, je.text);
	exit(EXIT_REFUSED);
}

void print_change(struct cli *c, const json_t *res)
{
	if (c->json) {
		print_json(res);
		return;
	}
	json_int_t n = json_integer_value(json_object_get(res, "changes"));
	json_int_t checked = json_integer_value(json_object_get(res, "checked"));
	bool dry = json_is_true(json_object_get(res, "dry_run"));
	if (!n) {
		if (checked)
			printf("no changes: the kernel already matches (%lld objects checked)\n",
			       (long long)checked);
		else
			printf("no changes: the kernel already matches\n");
		return;
	}
	printf("%s %lld kernel operation%s", dry ? "would make" : "made", (long long)n,
	       n == 1 ? "" : "s");
	const char *key;
	json_t *v;
	const char *sep = " (";
	json_object_foreach((json_t *)json_object_get(res, "counts"), key, v)
	{
		printf("%s%lld %s", sep, (long long)json_integer_value(v), key);
		sep = ", ";
	}
	printf(")");
	if (json_object_get(res, "milliseconds"))
		printf(" in %.1f ms", json_real_value(json_object_get(res, "milliseconds")));
	if (json_object_get(res, "in_effect_ms"))
		printf(" (in effect after %.1f ms)", json_real_value(json_object_get(res, "in_effect_ms")));
	printf("\n");
	if (dry) {
		json_t *op;
		size_t i;
		json_array_foreach(json_object_get(res, "operations"), i, op)
		{
			const char *k;
			json_t *val;
			printf("  %-18s", json_string_value(json_object_get(op, "op")));
			json_object_foreach(op, k, val)
			{
				if (!strcmp(k, "op"))
					continue;
				if (json_is_string(val))
					printf(" %s=%s", k, json_string_value(val));
				else
					printf(" %s=%lld", k, (long long)json_integer_value(val));
			}
			printf("\n");
		}
	}
}

/* Whether vpcd refused the request's operation: a vpcd older than it. */
static bool op_unknown(const json_t *reply)
{
	const json_t *e = json_object_get(reply, "error");
	const char *path = json_string_value(json_object_get(e, "path"));
	return e && path && !strcmp(path, "op");
}

int cmd_apply(struct cli *c, struct args *a)
{
	const char *prune = OPT(a, "prune") ? "true" : "false",
		   *dry = OPT(a, "dry-run") ? "true" : "false";
	char head[112];
	json_t *reply = NULL;
	/* A regular file goes to vpcd open, and vpcd reads it (apply_file): a large
	 * file then costs neither a copy here nor a trip through the socket, and
	 * vpcd reads NACL entry lists apart, which it does not in a request. So does
	 * standard input, in a memory file when it is a pipe. */
	int fd = file_fd(a);
	if (fd >= 0) {
		snprintf(head, sizeof(head), "{\"op\":\"apply_file\",\"prune\":%s,\"dry_run\":%s}\n",
			 prune, dry);
		reply = call_text_fd(c, head, strlen(head), fd);
		close(fd);
		if (op_unknown(reply)) { /* an older vpcd: the file goes in the request */
			json_decref(reply);
			reply = NULL;
		}
	}
	/* No file to hand over (or a vpcd without apply_file): the text goes into
	 * the request as it is. vpcd parses it anyway, and parsing it here too would
	 * double the time of a large file. Only when vpcd finds no JSON is it parsed
	 * here, to say where the fault is. */
	const char *file;
	size_t len = 0;
	char *topo = NULL;
	if (!reply) {
		topo = file_opt(a, &file, &len);
		if (!one_value(topo, len))
			check_json(file, topo, len); /* exits if it is not JSON */
		snprintf(head, sizeof(head), "{\"op\":\"apply\",\"prune\":%s,\"dry_run\":%s,\"topology\":",
			 prune, dry);
		reply = call_around(c, head, topo, len, "\n}");
	}
	const char *code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
	if (code && !strcmp(code, VPC_E_NOT_JSON)) {
		if (!topo)
			topo = file_opt(a, &file, &len);
		check_json(file, topo, len);
	}
	free(topo);
	json_t *res = reply_result(reply);
	print_change(c, res);
	json_decref(res);
	return 0;
}

int cmd_destroy(struct cli *c, struct args *a)
{
	bool all = OPT(a, "all") != NULL;
	if (all == (a->n_pos == 1)) {
		fprintf(stderr, "vpcctl destroy: name one VPC or give --all\n");
		return EXIT_USAGE;
	}
	json_t *req = all ? json_pack("{s:s,s:b}", "op", "destroy", "all", 1)
			  : json_pack("{s:s,s:s}", "op", "destroy", "vpc", a->pos[0]);
	json_t *res = call(c, req);
	print_change(c, res);
	json_decref(res);
	return 0;
}

static void show_vpc(const json_t *v)
{
	json_t *e;
	size_t i;
	printf("VPC %s  %s  internet gateway: %s  router namespace: %s\n",
	       json_string_value(json_object_get(v, "name")),
	       json_string_value(json_object_get(v, "cidr")),
	       json_is_true(json_object_get(v, "internet_gateway")) ? "yes" : "no",
	       json_string_value(json_object_get(v, "router_namespace")));

	struct table *t = table_new(5, "SUBNET", "CIDR", "PUBLIC", "ROUTE TABLE", "NETWORK ACL");
	json_array_foreach(json_object_get(v, "subnets"), i, e)
		table_row(t, json_string_value(json_object_get(e, "name")),
			  json_string_value(json_object_get(e, "cidr")),
			  json_is_true(json_object_get(e, "public")) ? "yes" : "no",
			  json_string_value(json_object_get(e, "route_table")),
			  json_string_value(json_object_get(e, "network_acl")));
	printf("\n");
	table_print(t, stdout, "  ");

	t = table_new(6, "INSTANCE", "SUBNET", "PRIVATE IP", "PUBLIC IP", "GROUPS", "NAMESPACE");
	json_array_foreach(json_object_get(v, "instances"), i, e)
	{
		char groups[256] = "";
		json_t *g;
		size_t k;
		json_array_foreach(json_object_get(e, "security_groups"), k, g)
			snprintf(groups + strlen(groups), sizeof(groups) - strlen(groups), "%s%s",
				 k ? "," : "", json_string_value(g));
		table_row(t, json_string_value(json_object_get(e, "name")),
			  json_string_value(json_object_get(e, "subnet")),
			  json_string_value(json_object_get(e, "private_ip")),
			  str_or_dash(json_object_get(e, "public_ip")), groups,
			  json_string_value(json_object_get(e, "namespace")));
	}
	printf("\n");
	table_print(t, stdout, "  ");

	json_array_foreach(json_object_get(v, "network_acls"), i, e)
	{
		printf("\n");
		print_nacl(e, "  ");
	}
	json_array_foreach(json_object_get(v, "security_groups"), i, e)
	{
		printf("\n");
		print_group(e, "  ");
	}

	t = table_new(3, "ROUTE TABLE", "DESTINATION", "TARGET");
	json_array_foreach(json_object_get(v, "route_tables"), i, e)
	{
		json_t *r;
		size_t k;
		json_array_foreach(json_object_get(e, "routes"), k, r)
			table_row(t, k ? "" : json_string_value(json_object_get(e, "name")),
				  json_string_value(json_object_get(r, "destination")),
				  json_string_value(json_object_get(r, "target")));
	}
	printf("\n");
	table_print(t, stdout, "  ");
	printf("\n");
}

int cmd_show(struct cli *c, struct args *a)
{
	json_t *req = json_pack("{s:s}", "op", "show");
	if (a->n_pos)
		json_object_set_new(req, "vpc", json_string(a->pos[0]));
	json_t *res = call(c, req);
	if (c->json) {
		print_json(res);
	} else {
		json_t *v;
		size_t i;
		if (!json_array_size(json_object_get(res, "vpcs")))
			printf("no VPCs; create one with `vpcctl apply -f FILE`\n");
		json_array_foreach(json_object_get(res, "vpcs"), i, v)
			show_vpc(v);
		json_array_foreach(json_object_get(res, "peerings"), i, v)
			printf("peering %s: %s <-> %s\n", json_string_value(json_object_get(v, "name")),
			       json_string_value(json_array_get(json_object_get(v, "vpcs"), 0)),
			       json_string_value(json_array_get(json_object_get(v, "vpcs"), 1)));
	}
	json_decref(res);
	return 0;
}

int cmd_exec(struct cli *c, struct args *a)
{
	if (!a->n_rest) {
		fprintf(stderr, "vpcctl exec: no command given (vpcctl exec %s -- COMMAND)\n",
			a->pos[0]);
		return EXIT_USAGE;
	}
	json_t *res = call(c, json_pack("{s:s,s:s}", "op", "resolve", "target", a->pos[0]));
	char path[256];
	snprintf(path, sizeof(path), VPC_NETNS_DIR "/%s",
		 json_string_value(json_object_get(res, "namespace")));
	json_decref(res);
	/* Plain setns: unlike `ip netns exec` we do not remount /sys, so /sys/fs/bpf and
	 * the host's view of sysfs stay as they are. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "vpcctl exec: cannot enter %s: %s\n", path, strerror(errno));
		return EXIT_REFUSED;
	}
	close(fd);
	execvp(a->rest[0], (char *const *)a->rest);
	fprintf(stderr, "vpcctl exec: %s: %s\n", a->rest[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

int cmd_reconcile(struct cli *c, struct args *a)
{
	(void)a;
	json_t *res = call(c, json_pack("{s:s}", "op", "reconcile"));
	print_change(c, res);
	json_decref(res);
	return 0;
}

int cmd_status(struct cli *c, struct args *a)
{
	(void)a;
	json_t *res = call(c, json_pack("{s:s}", "op", "status"));
	if (c->json)
		print_json(res);
	else
		printf("vpcd %s running as pid %lld, state in %s: %lld VPCs, %lld instances\n",
		       json_string_value(json_object_get(res, "version")),
		       (long long)json_integer_value(json_object_get(res, "pid")),
		       json_string_value(json_object_get(res, "state_file")),
		       (long long)json_integer_value(json_object_get(res, "vpcs")),
		       (long long)json_integer_value(json_object_get(res, "instances")));
	json_decref(res);
	return 0;
}
