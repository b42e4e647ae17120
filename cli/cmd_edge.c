/* Verbs for the edges: internet gateway, NAT gateways, elastic IPs, peerings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcctl.h"

int cmd_vpc_set(struct cli *c, struct args *a)
{
	const char *igw = OPT(a, "internet-gateway");
	if (!igw || (strcmp(igw, "on") && strcmp(igw, "off"))) {
		fprintf(stderr, "vpcctl vpc set: --internet-gateway takes on or off\n");
		return EXIT_USAGE;
	}
	return edit_call(c, json_pack("{s:s,s:o,s:s,s:b}", "op", "set", "path",
				      path_of("vpcs", a->pos[0], NULL), "key", "internet_gateway",
				      "value", !strcmp(igw, "on")));
}

int cmd_natgw_create(struct cli *c, struct args *a)
{
	const char *subnet = OPT(a, "subnet");
	if (!subnet) {
		fprintf(stderr, "vpcctl nat-gateway create: --subnet is required\n");
		return EXIT_USAGE;
	}
	return edit_call(c, json_pack("{s:s,s:o,s:{s:s,s:s}}", "op", "add", "path",
				      path_of("vpcs", a->pos[0], "nat_gateways", NULL), "object", "name",
				      a->pos[1], "subnet", subnet));
}

int cmd_natgw_delete(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("vpcs", a->pos[0], "nat_gateways", a->pos[1], NULL)));
}

int cmd_natgw_list(struct cli *c, struct args *a)
{
	json_t *res = call(c, json_pack("{s:s,s:s}", "op", "show", "vpc", a->pos[0]));
	json_t *gs = json_object_get(json_array_get(json_object_get(res, "vpcs"), 0), "nat_gateways"), *g;
	size_t i;
	if (c->json) {
		print_json(gs);
	} else {
		struct table *t = table_new(5, "NAT GATEWAY", "SUBNET", "PRIVATE IP", "PUBLIC IP", "NAMESPACE");
		json_array_foreach(gs, i, g)
			table_row(t, json_string_value(json_object_get(g, "name")),
				  json_string_value(json_object_get(g, "subnet")),
				  json_string_value(json_object_get(g, "private_ip")),
				  json_string_value(json_object_get(g, "public_ip")),
				  json_string_value(json_object_get(g, "namespace")));
		table_print(t, stdout, "");
	}
	json_decref(res);
	return 0;
}

int cmd_eip_allocate(struct cli *c, struct args *a)
{
	(void)a;
	json_t *res = call(c, json_pack("{s:s}", "op", "eip_allocate"));
	if (c->json)
		print_json(res);
	else
		printf("%s\n", json_string_value(json_object_get(res, "address")));
	json_decref(res);
	return 0;
}

int cmd_eip_release(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("elastic_ips", a->pos[0], NULL)));
}

int cmd_eip_associate(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o,s:s,s:s}", "op", "set", "path",
				      path_of("elastic_ips", a->pos[0], NULL), "key", "instance",
				      "value", a->pos[1]));
}

int cmd_eip_disassociate(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o,s:s,s:n}", "op", "set", "path",
				      path_of("elastic_ips", a->pos[0], NULL), "key", "instance",
				      "value"));
}

int cmd_eip_list(struct cli *c, struct args *a)
{
	(void)a;
	json_t *res = call(c, json_pack("{s:s}", "op", "show"));
	json_t *eips = json_object_get(res, "elastic_ips"), *e;
	size_t i;
	if (c->json) {
		print_json(eips);
	} else {
		struct table *t = table_new(2, "ELASTIC IP", "INSTANCE");
		json_array_foreach(eips, i, e)
			table_row(t, json_string_value(json_object_get(e, "address")),
				  str_or_dash(json_object_get(e, "instance")));
		table_print(t, stdout, "");
	}
	json_decref(res);
	return 0;
}

int cmd_peering_create(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o,s:{s:s,s:[s,s]}}", "op", "add", "path",
				      path_of("peerings", NULL), "object", "name", a->pos[0], "vpcs",
				      a->pos[1], a->pos[2]));
}

int cmd_peering_delete(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("peerings", a->pos[0], NULL)));
}

int cmd_peering_list(struct cli *c, struct args *a)
{
	(void)a;
	json_t *res = call(c, json_pack("{s:s}", "op", "show"));
	json_t *ps = json_object_get(res, "peerings"), *p;
	size_t i;
	if (c->json) {
		print_json(ps);
	} else {
		struct table *t = table_new(3, "PEERING", "VPC", "VPC");
		json_array_foreach(ps, i, p)
			table_row(t, json_string_value(json_object_get(p, "name")),
				  json_string_value(json_array_get(json_object_get(p, "vpcs"), 0)),
				  json_string_value(json_array_get(json_object_get(p, "vpcs"), 1)));
		table_print(t, stdout, "");
	}
	json_decref(res);
	return 0;
}
