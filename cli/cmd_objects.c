/* Imperative verbs for VPCs, subnets and instances: each is one edit of the
 * desired state, validated and applied by vpcd like a file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcctl.h"

json_t *path_of(const char *first, ...)
{
	json_t *p = json_array();
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		json_array_append_new(p, json_string(s));
	va_end(ap);
	return p;
}

int edit_call(struct cli *c, json_t *req)
{
	json_t *res = call(c, req);
	print_change(c, res);
	json_decref(res);
	return 0;
}

static json_t *add_req(json_t *path, json_t *obj)
{
	return json_pack("{s:s,s:o,s:o}", "op", "add", "path", path, "object", obj);
}

static json_t *remove_req(json_t *path)
{
	return json_pack("{s:s,s:o}", "op", "remove", "path", path);
}

/* A VPC's part of `show -o json`. */
static json_t *show_vpc(struct cli *c, const char *vpc)
{
	json_t *res = call(c, json_pack("{s:s,s:s}", "op", "show", "vpc", vpc));
	json_t *v = json_incref(json_array_get(json_object_get(res, "vpcs"), 0));
	json_decref(res);
	return v;
}

int cmd_vpc_create(struct cli *c, struct args *a)
{
	json_t *o = json_pack("{s:s,s:s}", "name", a->pos[0], "cidr", need(a, "cidr"));
	if (OPT(a, "internet-gateway"))
		json_object_set_new(o, "internet_gateway", json_true());
	return edit_call(c, add_req(path_of("vpcs", NULL), o));
}

int cmd_vpc_delete(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:s}", "op", "destroy", "vpc", a->pos[0]));
}

int cmd_vpc_list(struct cli *c, struct args *a)
{
	(void)a;
	json_t *res = call(c, json_pack("{s:s}", "op", "show"));
	json_t *vpcs = json_object_get(res, "vpcs"), *v;
	size_t i;
	if (c->json) {
		print_json(vpcs);
	} else {
		struct table *t = table_new(5, "VPC", "CIDR", "SUBNETS", "INSTANCES", "INTERNET GATEWAY");
		json_array_foreach(vpcs, i, v)
		{
			char ns[16], ni[16];
			snprintf(ns, sizeof(ns), "%zu", json_array_size(json_object_get(v, "subnets")));
			snprintf(ni, sizeof(ni), "%zu", json_array_size(json_object_get(v, "instances")));
			table_row(t, json_string_value(json_object_get(v, "name")),
				  json_string_value(json_object_get(v, "cidr")), ns, ni,
				  json_is_true(json_object_get(v, "internet_gateway")) ? "yes" : "no");
		}
		table_print(t, stdout, "");
	}
	json_decref(res);
	return 0;
}

int cmd_subnet_create(struct cli *c, struct args *a)
{
	json_t *o = json_pack("{s:s,s:s}", "name", a->pos[1], "cidr", need(a, "cidr"));
	if (OPT(a, "route-table"))
		json_object_set_new(o, "route_table", json_string(OPT(a, "route-table")));
	if (OPT(a, "network-acl"))
		json_object_set_new(o, "network_acl", json_string(OPT(a, "network-acl")));
	return edit_call(c, add_req(path_of("vpcs", a->pos[0], "subnets", NULL), o));
}

int cmd_subnet_delete(struct cli *c, struct args *a)
{
	/* Say what is in the way rather than let a dangling reference speak. */
	json_t *v = show_vpc(c, a->pos[0]), *x;
	char users[256] = "";
	size_t i;
	json_array_foreach(json_object_get(v, "instances"), i, x)
		if (!strcmp(json_string_value(json_object_get(x, "subnet")), a->pos[1]))
			snprintf(users + strlen(users), sizeof(users) - strlen(users), "%s%s",
				 users[0] ? ", " : "", json_string_value(json_object_get(x, "name")));
	json_array_foreach(json_object_get(v, "nat_gateways"), i, x)
		if (!strcmp(json_string_value(json_object_get(x, "subnet")), a->pos[1]))
			snprintf(users + strlen(users), sizeof(users) - strlen(users), "%sNAT gateway %s",
				 users[0] ? ", " : "", json_string_value(json_object_get(x, "name")));
	json_decref(v);
	if (users[0]) {
		fprintf(stderr, "vpcctl: error: subnet %s still has %s; delete them first\n", a->pos[1],
			users);
		return EXIT_REFUSED;
	}
	return edit_call(c, remove_req(path_of("vpcs", a->pos[0], "subnets", a->pos[1], NULL)));
}

int cmd_subnet_list(struct cli *c, struct args *a)
{
	json_t *v = show_vpc(c, a->pos[0]), *s;
	size_t i;
	if (c->json) {
		print_json(json_object_get(v, "subnets"));
	} else {
		struct table *t =
			table_new(6, "SUBNET", "CIDR", "ROUTER", "PUBLIC", "ROUTE TABLE", "NETWORK ACL");
		json_array_foreach(json_object_get(v, "subnets"), i, s)
			table_row(t, json_string_value(json_object_get(s, "name")),
				  json_string_value(json_object_get(s, "cidr")),
				  json_string_value(json_object_get(s, "router_address")),
				  json_is_true(json_object_get(s, "public")) ? "yes" : "no",
				  json_string_value(json_object_get(s, "route_table")),
				  json_string_value(json_object_get(s, "network_acl")));
		table_print(t, stdout, "");
	}
	json_decref(v);
	return 0;
}

int cmd_instance_create(struct cli *c, struct args *a)
{
	json_t *o = json_pack("{s:s,s:s}", "name", a->pos[1], "subnet", need(a, "subnet"));
	if (OPT(a, "ip"))
		json_object_set_new(o, "private_ip", json_string(OPT(a, "ip")));
	if (OPT(a, "public-ip"))
		json_object_set_new(o, "public_ip", json_true());
	if (OPT(a, "no-source-dest-check"))
		json_object_set_new(o, "source_dest_check", json_false());
	if (OPT(a, "security-groups")) {
		json_t *g = json_array();
		char *list = strdup(OPT(a, "security-groups")), *save = NULL;
		for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save))
			json_array_append_new(g, json_string(s));
		free(list);
		json_object_set_new(o, "security_groups", g);
	}
	return edit_call(c, add_req(path_of("vpcs", a->pos[0], "instances", NULL), o));
}

int cmd_instance_delete(struct cli *c, struct args *a)
{
	return edit_call(c, remove_req(path_of("vpcs", a->pos[0], "instances", a->pos[1], NULL)));
}

int cmd_instance_list(struct cli *c, struct args *a)
{
	json_t *v = show_vpc(c, a->pos[0]), *s;
	size_t i;
	if (c->json) {
		print_json(json_object_get(v, "instances"));
	} else {
		struct table *t =
			table_new(6, "INSTANCE", "SUBNET", "PRIVATE IP", "PUBLIC IP", "MAC", "NAMESPACE");
		json_array_foreach(json_object_get(v, "instances"), i, s)
			table_row(t, json_string_value(json_object_get(s, "name")),
				  json_string_value(json_object_get(s, "subnet")),
				  json_string_value(json_object_get(s, "private_ip")),
				  str_or_dash(json_object_get(s, "public_ip")),
				  json_string_value(json_object_get(s, "mac")),
				  json_string_value(json_object_get(s, "namespace")));
		table_print(t, stdout, "");
	}
	json_decref(v);
	return 0;
}
