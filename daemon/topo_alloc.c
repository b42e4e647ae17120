/*
 * Allocation pass of the topology compiler: stable ids and addresses.
 *
 * Whatever was allocated before (prev_alloc) is kept when still valid, so that
 * re-applying a file changes nothing and an edit moves only what it must. New
 * objects get the smallest free id and the first free address, in file order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "topo_internal.h"
#include "vpc/topo.h"

struct bitmap {
	uint8_t *bits;
	size_t n;
};

static int bm_init(struct bitmap *b, size_t n)
{
	b->n = n;
	b->bits = calloc(n / 8 + 1, 1);
	return b->bits ? 0 : -ENOMEM;
}
static bool bm_test(const struct bitmap *b, size_t i)
{
	return i < b->n && (b->bits[i / 8] & (1u << (i % 8)));
}
static void bm_set(struct bitmap *b, size_t i)
{
	if (i < b->n)
		b->bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

static json_int_t prev_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static uint32_t prev_ip(const json_t *o, const char *key)
{
	uint32_t ip = 0;
	if (ip_parse(json_string_value(json_object_get(o, key)), &ip))
		return 0;
	return ip;
}

/*
 * ids[i] gets prev[i] when that is set and free, else the smallest free id >= 1.
 * Two passes, so a new object never takes an id an older one is about to keep.
 */
static int assign_ids(uint32_t *ids, const uint32_t *prev, size_t n, uint32_t max)
{
	struct bitmap used;
	if (bm_init(&used, (size_t)max + 1))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ids[i] = 0;
		if (prev[i] && prev[i] <= max && !bm_test(&used, prev[i])) {
			ids[i] = prev[i];
			bm_set(&used, prev[i]);
		}
	}
	uint32_t next = 1;
	for (size_t i = 0; i < n; i++) {
		if (ids[i])
			continue;
		while (next <= max && bm_test(&used, next))
			next++;
		if (next > max) {
			free(used.bits);
			return -ENOSPC;
		}
		ids[i] = next;
		bm_set(&used, next++);
	}
	free(used.bits);
	return 0;
}

#define MAX_OBJ_ID 60000u /* keeps port ifindexes (1000 + id) well inside int */

/* Assigns ids to `n` objects whose previous ids are looked up by name in `prevmap`. */
static int ids_by_name(uint32_t *ids, const char *const *names, size_t n, const json_t *prevmap,
		       bool nested, uint32_t max)
{
	uint32_t *prev = calloc(n ? n : 1, sizeof(*prev));
	if (!prev)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_object_get(prevmap, names[i]);
		prev[i] = (uint32_t)(nested ? prev_int(p, "id") : json_integer_value(p));
	}
	int r = assign_ids(ids, prev, n, max);
	free(prev);
	return r;
}

static int alloc_fail(struct cctx *c, const char *what)
{
	return vpc_fail(c->err, VPC_E_INVALID, "", "too many %s to number", what);
}

static int alloc_vpc_ids(struct cctx *c, const json_t *prev)
{
	struct topology *t = c->t;
	const json_t *pv = json_object_get(prev, "vpcs");
	size_t n = t->n_vpcs;
	const char **names = calloc(n + t->n_peerings + 1, sizeof(*names));
	uint32_t *ids = calloc(n + t->n_peerings + 1, sizeof(*ids));
	int r = -ENOMEM;
	if (!names || !ids)
		goto out;
	for (size_t i = 0; i < n; i++)
		names[i] = t->vpcs[i].name;
	if ((r = ids_by_name(ids, names, n, pv, true, 255))) {
		r = alloc_fail(c, "VPCs");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		t->vpcs[i].id = ids[i];
	for (size_t i = 0; i < t->n_peerings; i++)
		names[i] = t->peerings[i].name;
	if ((r = ids_by_name(ids, names, t->n_peerings, json_object_get(prev, "peerings"), false,
			     MAX_OBJ_ID))) {
		r = alloc_fail(c, "peerings");
		goto out;
	}
	for (size_t i = 0; i < t->n_peerings; i++)
		t->peerings[i].id = ids[i];
out:
	free(names);
	free(ids);
	return r;
}

/* Subnet, route-table and instance/NAT-gateway ids of one VPC. */
static int alloc_object_ids(struct cctx *c, struct vpc *v, const json_t *pv)
{
	size_t n = v->n_subnets + v->n_route_tables + v->n_instances + v->n_nat_gateways + 1;
	const char **names = calloc(n, sizeof(*names));
	uint32_t *ids = calloc(n, sizeof(*ids));
	int r = -ENOMEM;
	if (!names || !ids)
		goto out;

	for (size_t i = 0; i < v->n_subnets; i++)
		names[i] = v->subnets[i].name;
	if ((r = ids_by_name(ids, names, v->n_subnets, json_object_get(pv, "subnets"), false,
			     MAX_OBJ_ID)))
		goto full;
	for (size_t i = 0; i < v->n_subnets; i++)
		v->subnets[i].id = ids[i];

	for (size_t i = 0; i < v->n_route_tables; i++)
		names[i] = v->route_tables[i].name;
	if ((r = ids_by_name(ids, names, v->n_route_tables, json_object_get(pv, "route_tables"),
			     false, 200)))
		goto full;
	for (size_t i = 0; i < v->n_route_tables; i++)
		v->route_tables[i].table_id = VPC_RT_TABLE_BASE + ids[i];

	/* Instances and NAT gateways share one id space: each owns a router port. */
	uint32_t *prev = calloc(v->n_instances + v->n_nat_gateways + 1, sizeof(*prev));
	if (!prev) {
		r = -ENOMEM;
		goto out;
	}
	const json_t *pi = json_object_get(pv, "instances"), *pn = json_object_get(pv, "nat_gateways");
	for (size_t i = 0; i < v->n_nat_gateways; i++)
		prev[i] = (uint32_t)prev_int(json_object_get(pn, v->nat_gateways[i].name), "id");
	for (size_t i = 0; i < v->n_instances; i++)
		prev[v->n_nat_gateways + i] =
			(uint32_t)prev_int(json_object_get(pi, v->instances[i].name), "id");
	r = assign_ids(ids, prev, v->n_instances + v->n_nat_gateways, MAX_OBJ_ID);
	free(prev);
	if (r)
		goto full;
	for (size_t i = 0; i < v->n_nat_gateways; i++)
		v->nat_gateways[i].id = ids[i];
	for (size_t i = 0; i < v->n_instances; i++)
		v->instances[i].id = ids[v->n_nat_gateways + i];
	r = 0;
	goto out;
full:
	r = vpc_fail(c->err, VPC_E_INVALID, "", "VPC %s has too many objects to number", v->name);
out:
	free(names);
	free(ids);
	return r;
}

/* One address bitmap per subnet; slot = ip - subnet.addr. */
static bool ip_free(const struct bitmap *bm, const struct subnet *s, uint32_t ip)
{
	return cidr_contains_ip(s->cidr, ip) && !cidr_ip_reserved(s->cidr, ip) &&
	       !bm_test(bm, ip - s->cidr.addr);
}

static uint32_t first_free(const struct bitmap *bm, const struct subnet *s)
{
	for (uint32_t ip = s->cidr.addr + 4; ip < cidr_last(s->cidr); ip++)
		if (!bm_test(bm, ip - s->cidr.addr))
			return ip;
	return 0;
}

static int alloc_private_ips(struct cctx *c, struct vpc *v, int vi, const json_t *pv)
{
	char a[CIDR_STR_MAX], b[IP_STR_MAX];
	struct bitmap *bm = calloc(v->n_subnets ? v->n_subnets : 1, sizeof(*bm));
	int r = -ENOMEM;
	if (!bm)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_subnets; i++)
		if (bm_init(&bm[i], cidr_size(v->subnets[i].cidr)))
			goto out;

	/* 1. Addresses the file gives. */
	struct jpath vp = JP_KEY(NULL, "vpcs"), ep = JP_IDX(&vp, (size_t)vi),
		     ip = JP_KEY(&ep, "instances");
	for (size_t i = 0; i < v->n_instances; i++) {
		struct instance *in = &v->instances[i];
		const struct subnet *s = &v->subnets[in->subnet];
		if (!in->private_ip)
			continue;
		if (bm_test(&bm[in->subnet], in->private_ip - s->cidr.addr)) {
			struct jpath xp = JP_IDX(&ip, i), kp = JP_KEY(&xp, "private_ip");
			size_t j = 0;
			while (v->instances[j].private_ip != in->private_ip)
				j++;
			r = cfail(c, &kp, VPC_E_INVALID, "%s is already used by instance %s",
				  ip_fmt(in->private_ip, b), v->instances[j].name);
			goto out;
		}
		bm_set(&bm[in->subnet], in->private_ip - s->cidr.addr);
	}
	/* 2. Addresses allocated before, when still free and in the right subnet. */
	const json_t *pi = json_object_get(pv, "instances"), *pn = json_object_get(pv, "nat_gateways");
	for (size_t i = 0; i < v->n_nat_gateways; i++) {
		struct nat_gateway *g = &v->nat_gateways[i];
		uint32_t p = prev_ip(json_object_get(pn, g->name), "ip");
		if (p && ip_free(&bm[g->subnet], &v->subnets[g->subnet], p)) {
			g->private_ip = p;
			bm_set(&bm[g->subnet], p - v->subnets[g->subnet].cidr.addr);
		}
	}
	for (size_t i = 0; i < v->n_instances; i++) {
		struct instance *in = &v->instances[i];
		uint32_t p = prev_ip(json_object_get(pi, in->name), "ip");
		if (in->private_ip || !p || !ip_free(&bm[in->subnet], &v->subnets[in->subnet], p))
			continue;
		in->private_ip = p;
		bm_set(&bm[in->subnet], p - v->subnets[in->subnet].cidr.addr);
	}
	/* 3. The first free address for the rest. */
	for (size_t i = 0; i < v->n_nat_gateways + v->n_instances; i++) {
		bool nat = i < v->n_nat_gateways;
		uint32_t *slot = nat ? &v->nat_gateways[i].private_ip
				     : &v->instances[i - v->n_nat_gateways].private_ip;
		int sn = nat ? v->nat_gateways[i].subnet : v->instances[i - v->n_nat_gateways].subnet;
		const char *name = nat ? v->nat_gateways[i].name
				       : v->instances[i - v->n_nat_gateways].name;
		const struct subnet *s = &v->subnets[sn];
		if (*slot)
			continue;
		*slot = first_free(&bm[sn], s);
		if (!*slot) {
			struct jpath cp = JP_KEY(&ep, nat ? "nat_gateways" : "instances"),
				     xp = JP_IDX(&cp, nat ? i : i - v->n_nat_gateways),
				     kp = JP_KEY(&xp, "subnet");
			r = cfail(c, &kp, VPC_E_INVALID,
				  "subnet %s (%s) has no free address left for %s %s: it has %llu "
				  "usable addresses",
				  s->name, cidr_fmt(s->cidr, a), nat ? "NAT gateway" : "instance", name,
				  (unsigned long long)cidr_size(s->cidr) - 5);
			goto out;
		}
		bm_set(&bm[sn], *slot - s->cidr.addr);
	}
	for (size_t i = 0; i < v->n_instances; i++) {
		struct instance *in = &v->instances[i];
		in->mac[0] = 0x0a;
		in->mac[1] = 0x58;
		for (int k = 0; k < 4; k++)
			in->mac[2 + k] = (uint8_t)(in->private_ip >> (24 - 8 * k));
	}
	r = 0;
out:
	for (size_t i = 0; i < v->n_subnets; i++)
		free(bm[i].bits);
	free(bm);
	return r;
}

/* Public addresses: elastic IPs are fixed; auto-assigned ones are kept when possible. */
static int alloc_public_ips(struct cctx *c, const json_t *prev)
{
	struct topology *t = c->t;
	struct cidr pool = t->public_pool;
	struct bitmap bm;
	char a[CIDR_STR_MAX];
	if (bm_init(&bm, cidr_size(pool)))
		return -ENOMEM;
	bm_set(&bm, 0);
	bm_set(&bm, cidr_size(pool) - 1);
	for (size_t i = 0; i < t->n_eips; i++)
		bm_set(&bm, t->eips[i].addr - pool.addr);

	/* Pass 0 keeps previous addresses, pass 1 hands out new ones. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t vi = 0; vi < t->n_vpcs; vi++) {
			struct vpc *v = &t->vpcs[vi];
			const json_t *pv = json_object_get(json_object_get(prev, "vpcs"), v->name);
			size_t n = v->n_nat_gateways + v->n_instances;
			for (size_t i = 0; i < n; i++) {
				bool nat = i < v->n_nat_gateways;
				struct instance *in = nat ? NULL : &v->instances[i - v->n_nat_gateways];
				if (in && (!in->public_ip_wanted || in->public_ip_elastic))
					continue;
				uint32_t *slot = nat ? &v->nat_gateways[i].public_ip : &in->public_ip;
				const char *name = nat ? v->nat_gateways[i].name : in->name;
				if (*slot)
					continue;
				if (pass == 0) {
					const json_t *po = json_object_get(
						json_object_get(pv, nat ? "nat_gateways" : "instances"),
						name);
					uint32_t p = prev_ip(po, "public_ip");
					if (p && cidr_contains_ip(pool, p) && !bm_test(&bm, p - pool.addr)) {
						*slot = p;
						bm_set(&bm, p - pool.addr);
					}
					continue;
				}
				for (uint64_t k = 1; k + 1 < cidr_size(pool) && !*slot; k++)
					if (!bm_test(&bm, k)) {
						*slot = pool.addr + (uint32_t)k;
						bm_set(&bm, k);
					}
				if (!*slot) {
					free(bm.bits);
					return vpc_fail(c->err, VPC_E_INVALID, "",
							"the public address pool %s is exhausted",
							cidr_fmt(pool, a));
				}
			}
		}
	}
	free(bm.bits);
	return 0;
}

int topo_allocate(struct cctx *c, const json_t *doc, const json_t *prev)
{
	(void)doc;
	int r;
	if ((r = alloc_vpc_ids(c, prev)))
		return r;
	for (size_t i = 0; i < c->t->n_vpcs; i++) {
		struct vpc *v = &c->t->vpcs[i];
		const json_t *pv = json_object_get(json_object_get(prev, "vpcs"), v->name);
		if ((r = alloc_object_ids(c, v, pv)) || (r = alloc_private_ips(c, v, (int)i, pv)))
			return r;
	}
	return alloc_public_ips(c, prev);
}

static json_t *ipj(uint32_t ip)
{
	char b[IP_STR_MAX];
	return json_string(ip_fmt(ip, b));
}

json_t *topo_alloc_json(const struct topology *t)
{
	json_t *root = json_object(), *vpcs = json_object(), *peer = json_object();
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		json_t *o = json_object(), *sn = json_object(), *rt = json_object(),
		       *in = json_object(), *ng = json_object();
		json_object_set_new(o, "id", json_integer(v->id));
		for (size_t k = 0; k < v->n_subnets; k++)
			json_object_set_new(sn, v->subnets[k].name, json_integer(v->subnets[k].id));
		for (size_t k = 0; k < v->n_route_tables; k++)
			json_object_set_new(rt, v->route_tables[k].name,
					    json_integer(v->route_tables[k].table_id - VPC_RT_TABLE_BASE));
		for (size_t k = 0; k < v->n_instances; k++) {
			const struct instance *x = &v->instances[k];
			json_t *e = json_pack("{s:i,s:o}", "id", (json_int_t)x->id, "ip",
					      ipj(x->private_ip));
			if (x->public_ip && !x->public_ip_elastic)
				json_object_set_new(e, "public_ip", ipj(x->public_ip));
			json_object_set_new(in, x->name, e);
		}
		for (size_t k = 0; k < v->n_nat_gateways; k++) {
			const struct nat_gateway *g = &v->nat_gateways[k];
			json_object_set_new(ng, g->name,
					    json_pack("{s:i,s:o,s:o}", "id", (json_int_t)g->id, "ip",
						      ipj(g->private_ip), "public_ip",
						      ipj(g->public_ip)));
		}
		json_object_set_new(o, "subnets", sn);
		json_object_set_new(o, "route_tables", rt);
		json_object_set_new(o, "instances", in);
		json_object_set_new(o, "nat_gateways", ng);
		json_object_set_new(vpcs, v->name, o);
	}
	for (size_t i = 0; i < t->n_peerings; i++)
		json_object_set_new(peer, t->peerings[i].name, json_integer(t->peerings[i].id));
	json_object_set_new(root, "vpcs", vpcs);
	json_object_set_new(root, "peerings", peer);
	return root;
}
