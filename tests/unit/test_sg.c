/* Security groups compiled to sets and chains, checked against a plain reading of
 * the rules. */
#include <stdlib.h>

#include "test.h"
#include "vpc/sg.h"
#include "vpc/topo.h"


static bool match_m(const struct match *m, uint8_t proto, uint16_t field)
{
	if (m->proto == PROTO_ALL)
		return true;
	if (m->proto != proto)
		return false;
	if (proto == PROTO_TCP || proto == PROTO_UDP)
		return field >= m->port_lo && field <= m->port_hi;
	if (proto == PROTO_ICMP && m->icmp_type >= 0)
		return (field >> 8) == m->icmp_type && (m->icmp_code < 0 || (field & 255) == m->icmp_code);
	return true;
}

static bool member(const struct topology *t, int gv, int g, uint32_t ip)
{
	const struct vpc *v = &t->vpcs[gv];
	for (size_t i = 0; i < v->n_instances; i++)
		for (size_t k = 0; k < v->instances[i].n_sgs; k++)
			if (v->instances[i].sgs[k] == g && v->instances[i].private_ip == ip)
				return true;
	return false;
}

/* The reference: does any rule of any of the instance's groups allow it? */
static bool ref_allows(const struct topology *t, const struct vpc *v, const struct instance *in,
		       bool egress, uint32_t peer, uint8_t proto, uint16_t field)
{
	for (size_t k = 0; k < in->n_sgs; k++) {
		const struct sg *g = &v->sgs[in->sgs[k]];
		const struct sg_rule *r = egress ? g->out : g->in;
		size_t n = egress ? g->n_out : g->n_in;
		for (size_t i = 0; i < n; i++) {
			bool addr = r[i].is_group ? member(t, r[i].group_vpc, r[i].group, peer)
						  : cidr_contains_ip(r[i].cidr, peer);
			if (addr && match_m(&r[i].m, proto, field))
				return true;
		}
	}
	return false;
}

static const struct sg_set *set_named(const struct sg_objects *o, const char *name)
{
	for (size_t i = 0; i < o->n_sets; i++)
		if (!strcmp(o->sets[i].name, name))
			return &o->sets[i];
	return NULL;
}

/* A rule's lookup in set s: the protocols its key has room for, then the tuple. */
static bool set_lookup(const struct sg_rule_out *r, const struct sg_set *s, uint32_t peer,
		       uint8_t proto, uint16_t field)
{
	if (r->set_kind == SGSET_ICMP && proto != PROTO_ICMP)
		return false;
	if (r->set_kind == SGSET_L4 && proto != PROTO_TCP && proto != PROTO_UDP)
		return false;
	return s && sg_set_match(s, peer, proto, field);
}

/* What the kernel does with the compiled chain. */
static bool chain_allows(const struct sg_objects *o, const char *chain, uint32_t peer,
			 uint8_t proto, uint16_t field)
{
	const struct sg_chain *c = NULL;
	for (size_t i = 0; i < o->n_chains; i++)
		if (!strcmp(o->chains[i].name, chain))
			c = &o->chains[i];
	if (!c)
		return false;
	for (size_t i = 0; i < c->n; i++) {
		const struct sg_rule_out *r = &c->r[i];
		const struct sg_set *s = r->set ? set_named(o, r->set) : NULL;
		switch (r->kind) {
		case SGR_ANY:
			return true;
		case SGR_SET:
			if (set_lookup(r, s, peer, proto, field))
				return true;
			break;
		case SGR_GROUP:
			if (s && sg_set_match(s, peer, proto, field) && match_m(&r->m, proto, field))
				return true;
			break;
		case SGR_GROUP_SET: {
			const struct sg_set *m = set_named(o, r->members);
			if (m && sg_set_match(m, peer, 0, 0) && set_lookup(r, s, peer, proto, field))
				return true;
			break;
		}
		}
	}
	return false;
}

static const char *shop =
	"{\"vpcs\":[{\"name\":\"shop\",\"cidr\":\"10.0.0.0/16\","
	"\"subnets\":[{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
	"\"security_groups\":["
	" {\"name\":\"web\",\"ingress\":[{\"protocol\":\"tcp\",\"ports\":\"80\",\"cidr\":\"0.0.0.0/0\"},"
	"   {\"protocol\":\"tcp\",\"ports\":\"22\",\"source_group\":\"bastion\"},"
	"   {\"protocol\":\"tcp\",\"ports\":\"80-85\",\"source_group\":\"bastion\"},"
	"   {\"protocol\":\"udp\",\"ports\":\"53\",\"source_group\":\"bastion\"},"
	"   {\"protocol\":\"icmp\",\"icmp_type\":8,\"icmp_code\":1,\"source_group\":\"bastion\"},"
	"   {\"protocol\":47,\"source_group\":\"bastion\"},"
	"   {\"protocol\":\"tcp\",\"ports\":\"70-90\",\"cidr\":\"10.0.0.0/16\"},"
	"   {\"protocol\":\"tcp\",\"ports\":\"85-443\",\"cidr\":\"10.0.2.0/24\"},"
	"   {\"protocol\":\"icmp\",\"icmp_type\":8,\"cidr\":\"10.0.0.0/8\"},"
	"   {\"protocol\":47,\"cidr\":\"192.0.2.0/24\"},"
	"   {\"protocol\":\"udp\",\"cidr\":\"10.0.1.128/25\"}]},"
	" {\"name\":\"bastion\",\"ingress\":[{\"protocol\":\"tcp\",\"ports\":\"22\",\"cidr\":\"0.0.0.0/0\"}]},"
	" {\"name\":\"db\",\"ingress\":[{\"protocol\":\"tcp\",\"ports\":\"5432\",\"source_group\":\"web\"}],"
	"  \"egress\":[]},"
	" {\"name\":\"lan\",\"ingress\":[{\"protocol\":\"all\",\"cidr\":\"10.0.1.0/24\"},"
	"   {\"protocol\":\"all\",\"cidr\":\"10.0.1.0/25\"},{\"protocol\":\"all\",\"cidr\":\"10.0.3.0/24\"}],"
	"  \"egress\":[{\"protocol\":\"udp\",\"ports\":\"53\",\"cidr\":\"10.0.0.2/32\"},"
	"   {\"protocol\":\"tcp\",\"ports\":\"5432\",\"destination_group\":\"db\"},"
	"   {\"protocol\":\"udp\",\"ports\":\"69\",\"destination_group\":\"db\"},"
	"   {\"protocol\":\"all\",\"destination_group\":\"web\"},"
	"   {\"protocol\":\"tcp\",\"ports\":\"22\",\"destination_group\":\"web\"},"
	"   {\"protocol\":\"udp\",\"ports\":\"53\",\"destination_group\":\"web\"},"
	"   {\"protocol\":\"icmp\",\"destination_group\":\"db\"}]}],"
	"\"instances\":["
	" {\"name\":\"web1\",\"subnet\":\"a\",\"security_groups\":[\"web\"]},"
	" {\"name\":\"web2\",\"subnet\":\"a\",\"security_groups\":[\"web\",\"lan\"]},"
	" {\"name\":\"bast\",\"subnet\":\"a\",\"security_groups\":[\"bastion\"]},"
	" {\"name\":\"db1\",\"subnet\":\"b\",\"security_groups\":[\"db\"]},"
	" {\"name\":\"dflt\",\"subnet\":\"b\"},"
	" {\"name\":\"dflt2\",\"subnet\":\"b\"},"
	" {\"name\":\"lan1\",\"subnet\":\"b\",\"security_groups\":[\"lan\"]}]}]}";

/* Random rules over nested and overlapping prefixes and port ranges: the sets
 * are disjoint and say what the rules say, at every boundary. */
static void random_rules(void)
{
	static const char *cidrs[] = {"0.0.0.0/0",    "10.0.0.0/8",	"10.1.0.0/16", "10.1.2.0/24",
				      "10.1.2.128/25", "10.1.2.3/32", "10.1.3.0/24", "10.200.0.0/13",
				      "192.0.2.0/24", "192.0.2.7/32"};
	static const char *protos[] = {"tcp", "udp", "icmp", "all", "47"};
	static const char *peers[] = {"10.1.2.3",  "10.1.2.4",	"10.1.2.127", "10.1.2.128",
				      "10.1.2.255", "10.1.3.0",	"10.1.1.255", "10.0.255.255",
				      "10.207.255.255", "10.208.0.0", "192.0.2.7", "192.0.2.8",
				      "11.0.0.0",  "9.255.255.255"};
	static const uint8_t pnum[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, 47, 50};
	srandom(7);
	int bad = 0;
	for (int round = 0; round < 20; round++) {
		json_t *doc = json_loads(shop, 0, NULL);
		json_t *rules = json_object_get(json_array_get(json_object_get(json_array_get(
			json_object_get(doc, "vpcs"), 0), "security_groups"), 0), "ingress");
		json_array_clear(rules);
		for (int i = 0; i < 2 + round * 5; i++) {
			const char *pr = protos[random() % 5];
			json_t *r = json_pack("{s:s,s:s}", "protocol", pr, "cidr", cidrs[random() % 10]);
			if (!strcmp(pr, "tcp") || !strcmp(pr, "udp")) {
				char ports[16];
				int lo = (int)(random() % 100);
				snprintf(ports, sizeof(ports), "%d-%d", lo, lo + (int)(random() % 40));
				json_object_set_new(r, "ports", json_string(ports));
			} else if (!strcmp(pr, "icmp") && random() % 2) {
				json_object_set_new(r, "icmp_type", json_integer(random() % 4));
			}
			json_array_append_new(rules, r);
		}
		struct vpc_err err;
		struct compile_opts co = {.features = FEAT_ALL};
		struct topology *t;
		struct sg_objects o;
		CHECK_INT(topo_compile(doc, &co, &t, &err), 0);
		CHECK_INT(sg_compile(t, 0, &o), 0);
		const struct vpc *v = &t->vpcs[0];
		for (size_t i = 0; i < o.n_sets; i++)
			for (size_t a = 0; a < o.sets[i].n; a++)
				for (size_t b = a + 1; b < o.sets[i].n; b++) {
					const struct sg_elem *x = &o.sets[i].e[a], *y = &o.sets[i].e[b];
					bad += x->a_lo <= y->a_hi && y->a_lo <= x->a_hi &&
					       x->proto == y->proto && x->p_lo <= y->p_hi &&
					       y->p_lo <= x->p_hi;
				}
		for (size_t p = 0; p < sizeof(peers) / sizeof(peers[0]); p++)
			for (size_t q = 0; q < sizeof(pnum); q++)
				for (uint16_t f = 0; f < 145; f += (q == 2 ? 1 : 3)) {
					uint32_t ip;
					uint16_t field = q == 2 ? (uint16_t)((f % 5) << 8 | f / 5 % 2) : f;
					ip_parse(peers[p], &ip);
					bool want = ref_allows(t, v, &v->instances[0], 0, ip, pnum[q], field);
					bool got = chain_allows(&o, o.dispatch[0].in_chain, ip, pnum[q], field);
					if (want != got && bad++ < 5)
						fprintf(stderr, "round %d %s p%u f%u: got %d want %d\n", round,
							peers[p], pnum[q], field, got, want);
				}
		sg_objects_free(&o);
		topo_free(t);
		json_decref(doc);
	}
	CHECK_INT(bad, 0);
}

void test_sg(void)
{
	struct topology *t = compile_or_die(shop);
	struct sg_objects o;
	const struct vpc *v = &t->vpcs[0];
	CHECK_INT(sg_compile(t, 0, &o), 0);
	CHECK_INT(o.n_dispatch, 7);
	/* web1 and web2 differ; the two default instances share chains. */
	CHECK(strcmp(o.dispatch[0].in_chain, o.dispatch[1].in_chain));
	CHECK_STR(o.dispatch[4].in_chain, o.dispatch[5].in_chain);
	CHECK_STR(o.dispatch[4].out_chain, o.dispatch[5].out_chain);
	CHECK_INT(o.dispatch[0].ifindex, 1000 + v->instances[0].id);
	/* Overlapping ranges are merged into disjoint elements. */
	for (size_t i = 0; i < o.n_sets; i++)
		for (size_t a = 0; a < o.sets[i].n; a++)
			for (size_t b = a + 1; b < o.sets[i].n; b++) {
				const struct sg_elem *x = &o.sets[i].e[a], *y = &o.sets[i].e[b];
				bool overlap = x->a_lo <= y->a_hi && y->a_lo <= x->a_hi &&
					       x->proto == y->proto && x->p_lo <= y->p_hi &&
					       y->p_lo <= x->p_hi;
				CHECK(!overlap);
			}

	/* Every (instance, direction, peer, protocol, field) against the reference. */
	static const char *peers[] = {"10.0.1.4", "10.0.1.5", "10.0.1.6", "10.0.1.200", "10.0.2.4",
				      "10.0.3.9", "10.1.0.1", "192.0.2.7", "10.0.0.2", "8.8.8.8"};
	static const uint8_t protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, 47, 50};
	static const uint16_t fields[] = {0, 22, 53, 69, 70, 80, 84, 85, 90, 91, 443, 444, 5432,
					  0x0800, 0x0801, 0x0000};
	int bad = 0;
	for (size_t i = 0; i < v->n_instances; i++)
		for (int eg = 0; eg < 2; eg++)
			for (size_t p = 0; p < 10; p++)
				for (size_t q = 0; q < 5; q++)
					for (size_t f = 0; f < sizeof(fields) / 2; f++) {
						uint32_t ip;
						ip_parse(peers[p], &ip);
						bool want = ref_allows(t, v, &v->instances[i], eg, ip,
								       protos[q], fields[f]);
						bool got = chain_allows(
							&o, eg ? o.dispatch[i].out_chain : o.dispatch[i].in_chain,
							ip, protos[q], fields[f]);
						if (want != got && bad++ < 5)
							fprintf(stderr, "%s %s %s p%u f%u: got %d want %d\n",
								v->instances[i].name, eg ? "egress" : "ingress",
								peers[p], protos[q], fields[f], got, want);
					}
	CHECK_INT(bad, 0);
	/* web1's ingress: five rules naming bastion become its member set and three
	 * lookups (proto, l4, icmp). lan1's egress: three naming db become two (l4,
	 * icmp); of those naming web one allows all, so one plain group rule. */
	size_t gset = 0, grule = 0;
	for (size_t i = 0; i < o.n_chains; i++) {
		const struct sg_chain *c = &o.chains[i];
		if (strcmp(c->name, o.dispatch[0].in_chain) && strcmp(c->name, o.dispatch[6].out_chain))
			continue;
		for (size_t k = 0; k < c->n; k++) {
			gset += c->r[k].kind == SGR_GROUP_SET;
			grule += c->r[k].kind == SGR_GROUP;
		}
	}
	CHECK_INT(gset, 5);
	CHECK_INT(grule, 1);
	/* Egress []: nothing leaves db1; no egress key: everything leaves web1. */
	uint32_t any;
	ip_parse("8.8.8.8", &any);
	CHECK(!chain_allows(&o, o.dispatch[3].out_chain, any, PROTO_TCP, 80));
	CHECK(chain_allows(&o, o.dispatch[0].out_chain, any, PROTO_TCP, 80));
	sg_objects_free(&o);

	/* Compiling again gives the same names: nothing to change. */
	struct sg_objects o2, o3;
	CHECK_INT(sg_compile(t, 0, &o2), 0);
	CHECK_INT(sg_compile(t, 0, &o3), 0);
	CHECK_STR(o2.dispatch[0].in_chain, o3.dispatch[0].in_chain);
	CHECK_INT(o2.n_sets, o3.n_sets);
	sg_objects_free(&o2);
	sg_objects_free(&o3);
	topo_free(t);

	/* 10,000 CIDR rules: a handful of sets, one lookup each. */
	json_t *doc = json_loads(shop, 0, NULL);
	json_t *rules = json_object_get(json_array_get(json_object_get(json_array_get(
		json_object_get(doc, "vpcs"), 0), "security_groups"), 0), "ingress");
	for (int i = 0; i < 10000; i++) {
		char c[32];
		snprintf(c, sizeof(c), "198.%d.%d.%d/32", 18 + i / 65536, i / 256 % 256, i % 256);
		json_array_append_new(rules, json_pack("{s:s,s:s,s:s}", "protocol", "tcp", "ports",
						       i % 2 ? "8080" : "9000-9100", "cidr", c));
	}
	/* And 1,000 naming a group: still a few lookups. */
	for (int i = 0; i < 1000; i++) {
		char p[8];
		snprintf(p, sizeof(p), "%d", 20000 + 2 * i);
		json_array_append_new(rules, json_pack("{s:s,s:s,s:s}", "protocol", i % 3 ? "tcp" : "udp",
						       "ports", p, "source_group", "bastion"));
	}
	struct vpc_err err;
	struct compile_opts co = {.features = FEAT_ALL};
	CHECK_INT(topo_compile(doc, &co, &t, &err), 0);
	CHECK_INT(sg_compile(t, 0, &o), 0);
	size_t n_l4 = 0, rules_in_chain = 0;
	for (size_t i = 0; i < o.n_sets; i++)
		if (o.sets[i].kind == SGSET_L4 && o.sets[i].n > n_l4)
			n_l4 = o.sets[i].n;
	for (size_t i = 0; i < o.n_chains; i++)
		if (!strcmp(o.chains[i].name, o.dispatch[0].in_chain))
			rules_in_chain = o.chains[i].n;
	CHECK(n_l4 >= 10000);
	CHECK(rules_in_chain <= 8);
	uint32_t src;
	ip_parse("198.18.3.7", &src); /* i = 775: odd, port 8080 */
	CHECK(chain_allows(&o, o.dispatch[0].in_chain, src, PROTO_TCP, 8080));
	CHECK(!chain_allows(&o, o.dispatch[0].in_chain, src, PROTO_TCP, 9050));
	uint32_t bast = t->vpcs[0].instances[2].private_ip;
	CHECK(chain_allows(&o, o.dispatch[0].in_chain, bast, PROTO_TCP, 21996)); /* i = 998 */
	CHECK(!chain_allows(&o, o.dispatch[0].in_chain, bast, PROTO_UDP, 21996));
	CHECK(chain_allows(&o, o.dispatch[0].in_chain, bast, PROTO_UDP, 21998)); /* i = 999 */
	CHECK(!chain_allows(&o, o.dispatch[0].in_chain, bast, PROTO_TCP, 21998));
	CHECK(!chain_allows(&o, o.dispatch[0].in_chain, bast, PROTO_TCP, 21997));
	CHECK(!chain_allows(&o, o.dispatch[0].in_chain, src, PROTO_TCP, 21996)); /* not a member */
	sg_objects_free(&o);
	topo_free(t);
	json_decref(doc);
	random_rules();
}
