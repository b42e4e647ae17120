/* Security-group verbs. A rule is added or removed by vpcd (op sg_rule), which
 * writes the direction's whole rule list back in one transaction, so the implicit
 * rules of a group (its allow-all egress, the default group's rules) are edited
 * like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcctl.h"

/* The named group as `show -o json` shows it (asked for alone). */
static json_t *find_group(struct cli *c, const char *vpc, const char *name, json_t **res)
{
	*res = call(c, json_pack("{s:s,s:s,s:s}", "op", "show", "vpc", vpc, "security_group", name));
	json_t *v = json_array_get(json_object_get(*res, "vpcs"), 0), *g;
	size_t i;
	json_array_foreach(json_object_get(v, "security_groups"), i, g)
		if (!strcmp(json_string_value(json_object_get(g, "name")), name))
			return g;
	json_decref(*res);
	fprintf(stderr, "vpcctl: error: no security group named \"%s\" in VPC %s\n", name, vpc);
	exit(EXIT_REFUSED);
}

static bool egress_of(struct args *a)
{
	bool in = OPT(a, "ingress") != NULL, out = OPT(a, "egress") != NULL;
	if (in == out) {
		fprintf(stderr, "vpcctl %s: give exactly one of --ingress or --egress\n",
			current_verb->name);
		exit(EXIT_USAGE);
	}
	return out;
}

/* The rule the options describe, written as `show` writes rules, so equal rules
 * compare equal. */
static json_t *rule_of(struct args *a, bool egress)
{
	static const struct {
		const char *in, *out;
	} protos[] = {{"6", "tcp"}, {"17", "udp"}, {"1", "icmp"}, {"-1", "all"}};
	const char *p = need(a, "protocol");
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(p, protos[i].in))
			p = protos[i].out;
	json_t *r = json_pack("{s:s}", "protocol", p);
	const char *ports = OPT(a, "ports");
	if (ports) {
		char lo[16], hi[16];
		/* "80-80" reads back as "80". */
		if (sscanf(ports, "%15[0-9]-%15[0-9]", lo, hi) == 2 && !strcmp(lo, hi))
			json_object_set_new(r, "ports", json_string(lo));
		else
			json_object_set_new(r, "ports", json_string(ports));
	} else if (!strcmp(p, "tcp") || !strcmp(p, "udp")) {
		json_object_set_new(r, "ports", json_string("0-65535"));
	}
	if (OPT(a, "icmp-type"))
		json_object_set_new(r, "icmp_type", json_integer(atoi(OPT(a, "icmp-type"))));
	if (OPT(a, "icmp-code"))
		json_object_set_new(r, "icmp_code", json_integer(atoi(OPT(a, "icmp-code"))));
	const char *cidr = OPT(a, "cidr"), *group = OPT(a, "group");
	if (!cidr == !group) {
		fprintf(stderr, "vpcctl %s: give exactly one of --cidr or --group\n", current_verb->name);
		exit(EXIT_USAGE);
	}
	if (cidr)
		json_object_set_new(r, "cidr", json_string(cidr));
	else
		json_object_set_new(r, egress ? "destination_group" : "source_group", json_string(group));
	return r;
}

/* The rule list is edited by vpcd (op sg_rule): one request whatever the size of
 * the group, rules compared as `show` writes them. */
static int rule_edit(struct cli *c, struct args *a, const char *action)
{
	bool egress = egress_of(a);
	return edit_call(c, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "op", "sg_rule", "vpc", a->pos[0],
				      "group", a->pos[1], "direction", egress ? "egress" : "ingress",
				      "action", action, "rule", rule_of(a, egress)));
}

int cmd_sg_rule_add(struct cli *c, struct args *a)
{
	return rule_edit(c, a, "add");
}

int cmd_sg_rule_remove(struct cli *c, struct args *a)
{
	return rule_edit(c, a, "remove");
}

int cmd_sg_create(struct cli *c, struct args *a)
{
	json_t *o = json_pack("{s:s}", "name", a->pos[1]);
	if (OPT(a, "no-egress"))
		json_object_set_new(o, "egress", json_array());
	return edit_call(c, json_pack("{s:s,s:o,s:o}", "op", "add", "path",
				      path_of("vpcs", a->pos[0], "security_groups", NULL), "object", o));
}

int cmd_sg_delete(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("vpcs", a->pos[0], "security_groups", a->pos[1], NULL)));
}

static void rule_rows(struct table *t, const char *dir, const json_t *rules)
{
	json_t *r;
	size_t i;
	json_array_foreach(rules, i, r)
	{
		const char *peer = json_string_value(json_object_get(r, "cidr"));
		char pb[80] = "", ports[32] = "-";
		if (!peer) {
			const json_t *g = json_object_get(r, "source_group");
			if (!g)
				g = json_object_get(r, "destination_group");
			snprintf(pb, sizeof(pb), "group %s", json_string_value(g));
			peer = pb;
		}
		if (json_object_get(r, "ports"))
			snprintf(ports, sizeof(ports), "%s", json_string_value(json_object_get(r, "ports")));
		else if (json_object_get(r, "icmp_type"))
			snprintf(ports, sizeof(ports), "type %lld",
				 (long long)json_integer_value(json_object_get(r, "icmp_type")));
		table_row(t, i ? "" : dir, json_string_value(json_object_get(r, "protocol")), ports,
			  peer);
	}
}

void print_group(const json_t *g, const char *indent)
{
	char members[512] = "";
	json_t *m;
	size_t i;
	json_array_foreach(json_object_get(g, "members"), i, m)
		snprintf(members + strlen(members), sizeof(members) - strlen(members), "%s%s",
			 i ? ", " : "", json_string_value(m));
	printf("%ssecurity group %s%s (members: %s)\n", indent,
	       json_string_value(json_object_get(g, "name")),
	       json_is_true(json_object_get(g, "default")) ? " [default]" : "",
	       members[0] ? members : "none");
	struct table *t = table_new(4, "DIRECTION", "PROTOCOL", "PORTS", "PEER");
	rule_rows(t, "ingress", json_object_get(g, "ingress"));
	rule_rows(t, "egress", json_object_get(g, "egress"));
	char in2[32];
	snprintf(in2, sizeof(in2), "%s  ", indent);
	table_print(t, stdout, in2);
}

int cmd_sg_show(struct cli *c, struct args *a)
{
	json_t *res, *g = find_group(c, a->pos[0], a->pos[1], &res);
	if (c->json)
		print_json(g);
	else
		print_group(g, "");
	json_decref(res);
	return 0;
}

int cmd_sg_list(struct cli *c, struct args *a)
{
	json_t *res = call(c, json_pack("{s:s,s:s}", "op", "show", "vpc", a->pos[0]));
	json_t *gs = json_object_get(json_array_get(json_object_get(res, "vpcs"), 0), "security_groups"), *g;
	size_t i;
	if (c->json) {
		print_json(gs);
	} else {
		struct table *t = table_new(4, "SECURITY GROUP", "MEMBERS", "INGRESS", "EGRESS");
		json_array_foreach(gs, i, g)
		{
			char m[16], in[16], out[16];
			snprintf(m, sizeof(m), "%zu", json_array_size(json_object_get(g, "members")));
			snprintf(in, sizeof(in), "%zu", json_array_size(json_object_get(g, "ingress")));
			snprintf(out, sizeof(out), "%zu", json_array_size(json_object_get(g, "egress")));
			table_row(t, json_string_value(json_object_get(g, "name")), m, in, out);
		}
		table_print(t, stdout, "");
	}
	json_decref(res);
	return 0;
}

int cmd_instance_groups(struct cli *c, struct args *a)
{
	json_t *g = json_array();
	char *list = strdup(a->pos[2]), *save = NULL;
	for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save))
		json_array_append_new(g, json_string(s));
	free(list);
	return edit_call(c, json_pack("{s:s,s:o,s:s,s:o}", "op", "set", "path",
				      path_of("vpcs", a->pos[0], "instances", a->pos[1], NULL), "key",
				      "security_groups", "value", g));
}
