/* The compiled model rendered as JSON: what `vpcctl show -o json` prints. */
#include <stdio.h>

#include <string.h>

#include "vpc/names.h"
#include "vpc/topo.h"

static json_t *ipj(uint32_t ip)
{
	char b[IP_STR_MAX];
	return json_string(ip_fmt(ip, b));
}

static json_t *cidrj(struct cidr c)
{
	char b[CIDR_STR_MAX];
	return json_string(cidr_fmt(c, b));
}

static json_t *protoj(int p)
{
	char b[8];
	switch (p) {
	case PROTO_ALL:
		return json_string("all");
	case PROTO_TCP:
		return json_string("tcp");
	case PROTO_UDP:
		return json_string("udp");
	case PROTO_ICMP:
		return json_string("icmp");
	}
	snprintf(b, sizeof(b), "%d", p);
	return json_string(b);
}

static void match_json(json_t *o, const struct match *m)
{
	char b[16];
	json_object_set_new(o, "protocol", protoj(m->proto));
	if (m->proto == PROTO_TCP || m->proto == PROTO_UDP) {
		if (m->port_lo == m->port_hi)
			snprintf(b, sizeof(b), "%u", m->port_lo);
		else
			snprintf(b, sizeof(b), "%u-%u", m->port_lo, m->port_hi);
		json_object_set_new(o, "ports", json_string(b));
	}
	if (m->icmp_type >= 0)
		json_object_set_new(o, "icmp_type", json_integer(m->icmp_type));
	if (m->icmp_code >= 0)
		json_object_set_new(o, "icmp_code", json_integer(m->icmp_code));
}

json_t *topo_nacl_rules_json(const struct nacl_rule *r, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:i}", "rule", (json_int_t)r[i].number);
		match_json(o, &r[i].m);
		json_object_set_new(o, "cidr", cidrj(r[i].cidr));
		json_object_set_new(o, "action", json_string(r[i].allow ? "allow" : "deny"));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *sg_rules_json(const struct topology *t, const struct sg_rule *r, size_t n,
			     const char *gkey, int vi)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		match_json(o, &r[i].m);
		if (!r[i].is_group) {
			json_object_set_new(o, "cidr", cidrj(r[i].cidr));
		} else {
			const struct vpc *gv = &t->vpcs[r[i].group_vpc];
			const char *g = gv->sgs[r[i].group].name;
			if (r[i].group_vpc == vi)
				json_object_set_new(o, gkey, json_string(g));
			else
				json_object_set_new(o, gkey,
						    json_sprintf("%s/%s", gv->name, g));
		}
		json_array_append_new(a, o);
	}
	return a;
}

/* An instance's security-group rules, all groups together (they are a union),
 * each with the group it comes from. */
static json_t *effective_rules(const struct topology *t, int vi, const struct instance *in)
{
	const struct vpc *v = &t->vpcs[vi];
	json_t *ing = json_array(), *eg = json_array();
	for (size_t k = 0; k < in->n_sgs; k++) {
		const struct sg *g = &v->sgs[in->sgs[k]];
		for (int d = 0; d < 2; d++) {
			json_t *rules = d ? sg_rules_json(t, g->out, g->n_out, "destination_group", vi)
					  : sg_rules_json(t, g->in, g->n_in, "source_group", vi);
			json_t *r;
			size_t i;
			json_array_foreach(rules, i, r)
			{
				json_object_set_new(r, "group", json_string(g->name));
				json_array_append(d ? eg : ing, r);
			}
			json_decref(rules);
		}
	}
	return json_pack("{s:o,s:o}", "ingress", ing, "egress", eg);
}

static const char *target_name(const struct vpc *v, const struct topology *t,
			       const struct route *r, char *buf, size_t len)
{
	switch (r->target) {
	case RT_LOCAL:
		return "local";
	case RT_IGW:
		return "igw";
	case RT_BLACKHOLE:
		return "blackhole";
	case RT_NAT:
		snprintf(buf, len, "nat-gateway:%s", v->nat_gateways[r->target_idx].name);
		return buf;
	case RT_PEERING:
		snprintf(buf, len, "peering:%s", t->peerings[r->target_idx].name);
		return buf;
	case RT_INSTANCE:
		snprintf(buf, len, "instance:%s", v->instances[r->target_idx].name);
		return buf;
	}
	return "?";
}

static json_t *sg_json(const struct topology *t, int vi, int i)
{
	const struct vpc *v = &t->vpcs[vi];
	const struct sg *g = &v->sgs[i];
	json_t *members = json_array();
	for (size_t k = 0; k < v->n_instances; k++)
		for (size_t j = 0; j < v->instances[k].n_sgs; j++)
			if (v->instances[k].sgs[j] == i)
				json_array_append_new(members, json_string(v->instances[k].name));
	return json_pack("{s:s,s:b,s:b,s:o,s:o,s:o}", "name", g->name, "default", i == v->default_sg,
			 "implicit", g->implicit, "members", members, "ingress",
			 sg_rules_json(t, g->in, g->n_in, "source_group", vi), "egress",
			 sg_rules_json(t, g->out, g->n_out, "destination_group", vi));
}

json_t *topo_show_sg_json(const struct topology *t, int vi, const char *name)
{
	const struct vpc *v = &t->vpcs[vi];
	json_t *groups = json_array();
	for (size_t i = 0; i < v->n_sgs; i++)
		if (!strcmp(v->sgs[i].name, name))
			json_array_append_new(groups, sg_json(t, vi, (int)i));
	return json_pack("{s:[{s:s,s:o}]}", "vpcs", "name", v->name, "security_groups", groups);
}

static json_t *vpc_json(const struct topology *t, int vi)
{
	const struct vpc *v = &t->vpcs[vi];
	char ns[NS_NAME_MAX], buf[64];
	json_t *o = json_object(), *a;

	json_object_set_new(o, "name", json_string(v->name));
	json_object_set_new(o, "cidr", cidrj(v->cidr));
	json_object_set_new(o, "internet_gateway", json_boolean(v->internet_gateway));
	ns_router(ns, v->name);
	json_object_set_new(o, "router_namespace", json_string(ns));

	a = json_array();
	for (size_t i = 0; i < v->n_subnets; i++) {
		const struct subnet *s = &v->subnets[i];
		json_array_append_new(
			a, json_pack("{s:s,s:o,s:b,s:s,s:s,s:o}", "name", s->name, "cidr",
				     cidrj(s->cidr), "public", subnet_is_public(v, s), "route_table",
				     v->route_tables[s->route_table].name, "network_acl",
				     v->nacls[s->nacl].name, "router_address",
				     ipj(cidr_gateway(s->cidr))));
	}
	json_object_set_new(o, "subnets", a);

	a = json_array();
	for (size_t i = 0; i < v->n_route_tables; i++) {
		const struct route_table *rt = &v->route_tables[i];
		json_t *routes = json_array();
		for (size_t k = 0; k < rt->n_routes; k++)
			json_array_append_new(
				routes, json_pack("{s:o,s:s}", "destination", cidrj(rt->routes[k].dest),
						  "target",
						  target_name(v, t, &rt->routes[k], buf, sizeof(buf))));
		json_array_append_new(a, json_pack("{s:s,s:b,s:o}", "name", rt->name, "main",
						   rt->main, "routes", routes));
	}
	json_object_set_new(o, "route_tables", a);

	a = json_array();
	for (size_t i = 0; i < v->n_nacls; i++) {
		const struct nacl *n = &v->nacls[i];
		json_t *subnets = json_array();
		for (size_t k = 0; k < v->n_subnets; k++)
			if (v->subnets[k].nacl == (int)i)
				json_array_append_new(subnets, json_string(v->subnets[k].name));
		json_array_append_new(
			a, json_pack("{s:s,s:b,s:b,s:o,s:o,s:o}", "name", n->name, "default",
				     (int)i == v->default_nacl, "implicit", n->implicit, "subnets", subnets,
				     "inbound", topo_nacl_rules_json(n->in, n->n_in), "outbound",
				     topo_nacl_rules_json(n->out, n->n_out)));
	}
	json_object_set_new(o, "network_acls", a);

	a = json_array();
	for (size_t i = 0; i < v->n_sgs; i++)
		json_array_append_new(a, sg_json(t, vi, (int)i));
	json_object_set_new(o, "security_groups", a);

	a = json_array();
	for (size_t i = 0; i < v->n_nat_gateways; i++) {
		const struct nat_gateway *g = &v->nat_gateways[i];
		ns_natgw(ns, v->name, g->name);
		json_array_append_new(
			a, json_pack("{s:s,s:s,s:o,s:o,s:s}", "name", g->name, "subnet",
				     v->subnets[g->subnet].name, "private_ip", ipj(g->private_ip),
				     "public_ip", ipj(g->public_ip), "namespace", ns));
	}
	json_object_set_new(o, "nat_gateways", a);

	a = json_array();
	for (size_t i = 0; i < v->n_instances; i++) {
		const struct instance *in = &v->instances[i];
		json_t *sgs = json_array();
		char mac[18];
		for (size_t k = 0; k < in->n_sgs; k++)
			json_array_append_new(sgs, json_string(v->sgs[in->sgs[k]].name));
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", in->mac[0], in->mac[1],
			 in->mac[2], in->mac[3], in->mac[4], in->mac[5]);
		ns_instance(ns, v->name, in->name);
		json_t *e = json_pack("{s:s,s:s,s:o,s:o,s:s,s:o,s:b,s:s}", "name", in->name,
				      "subnet", v->subnets[in->subnet].name, "private_ip",
				      ipj(in->private_ip), "public_ip",
				      in->public_ip ? ipj(in->public_ip) : json_null(), "mac", mac,
				      "security_groups", sgs, "source_dest_check",
				      in->source_dest_check, "namespace", ns);
		if (in->public_ip)
			json_object_set_new(e, "public_ip_kind",
					    json_string(in->public_ip_elastic ? "elastic" : "auto"));
		json_object_set_new(e, "effective_rules", effective_rules(t, vi, in));
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "instances", a);
	return o;
}

json_t *topo_show_json(const struct topology *t, int only_vpc)
{
	json_t *root = json_object(), *vpcs = json_array(), *peer, *eips;
	for (size_t i = 0; i < t->n_vpcs; i++)
		if (only_vpc < 0 || (size_t)only_vpc == i)
			json_array_append_new(vpcs, vpc_json(t, (int)i));
	json_object_set_new(root, "vpcs", vpcs);
	if (only_vpc >= 0)
		return root;
	peer = json_array();
	eips = json_array();
	for (size_t i = 0; i < t->n_peerings; i++) {
		const struct peering *p = &t->peerings[i];
		json_array_append_new(peer, json_pack("{s:s,s:[s,s]}", "name", p->name, "vpcs",
						      t->vpcs[p->vpc[0]].name,
						      t->vpcs[p->vpc[1]].name));
	}
	json_object_set_new(root, "peerings", peer);
	for (size_t i = 0; i < t->n_eips; i++) {
		const struct elastic_ip *e = &t->eips[i];
		json_t *o = json_pack("{s:o}", "address", ipj(e->addr));
		if (e->vpc >= 0)
			json_object_set_new(o, "instance",
					    json_sprintf("%s/%s", t->vpcs[e->vpc].name,
							 t->vpcs[e->vpc].instances[e->instance].name));
		else
			json_object_set_new(o, "instance", json_null());
		json_array_append_new(eips, o);
	}
	json_object_set_new(root, "elastic_ips", eips);
	char a[CIDR_STR_MAX], h[IP_STR_MAX];
	json_t *inet = json_pack("{s:s,s:s}", "public_pool", cidr_fmt(t->public_pool, a), "host",
				 ip_fmt(t->internet_host, h));
	json_object_set_new(inet, "uplink", t->uplink[0] ? json_string(t->uplink) : json_null());
	json_object_set_new(root, "internet", inet);
	return root;
}
