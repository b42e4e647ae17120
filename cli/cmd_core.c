/* apply, destroy, show, exec, reconcile, status. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpc/names.h"
#include "vpcctl.h"

static json_t *load_file(const char *path)
{
	json_error_t je;
	json_t *j;
	if (!strcmp(path, "-"))
		j = json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
	else
		j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		if (je.line < 0 || strstr(je.text, "unable to open"))
			fprintf(stderr, "vpcctl: error: %s: %s\n", path, je.text);
		else
			fprintf(stderr, "vpcctl: error: %s: invalid JSON at line %d, column %d: %s\n",
				path, je.line, je.column, je.text);
		exit(EXIT_REFUSED);
	}
	return j;
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

int cmd_apply(struct cli *c, struct args *a)
{
	const char *file = OPT(a, "file");
	if (!file) {
		fprintf(stderr, "vpcctl apply: -f FILE is required\n");
		return EXIT_USAGE;
	}
	json_t *topo = load_file(file);
	json_t *req = json_pack("{s:s,s:o,s:b,s:b}", "op", "apply", "topology", topo, "prune",
				OPT(a, "prune") != NULL, "dry_run", OPT(a, "dry-run") != NULL);
	json_t *res = call(c, req);
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
