/* Planner: see vpc/plan.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "vpc/util.h"
#include "vpc/nacl.h"
#include "vpc/plan.h"
#include "vpc/sg.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool obs_has_ns(const struct observed *o, const char *name)
{
	return bsearch0(&name, o->ns, o->n_ns, sizeof(char *), cmp_str) != NULL;
}

const struct obs_router *obs_find_router(const struct observed *o, const char *vpc)
{
	for (size_t i = 0; i < o->n_routers; i++)
		if (!strcmp(o->routers[i].vpc, vpc))
			return &o->routers[i];
	return NULL;
}

static bool has_u32(const uint32_t *arr, size_t n, uint32_t v)
{
	return bsearch0(&v, arr, n, sizeof(v), cmp_u32) != NULL;
}

static bool has_route(const struct obs_router *r, uint32_t dst, uint32_t port)
{
	const struct obs_route key = {.dst = dst};
	const struct obs_route *f = bsearch0(&key, r->routes, r->n_routes, sizeof(key), cmp_u32);
	return f && f->port_id == port;
}

void want_port_cfg(const struct vpc *v, const struct instance *in, struct port_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->ip = htonl(in->private_ip);
	memcpy(c->mac, in->mac, 6);
	c->flags = PORT_F_VALID | (in->source_dest_check ? PORT_F_SRCDST : 0);
	c->subnet = v->subnets[in->subnet].id;
}

void natgw_mac(const struct nat_gateway *g, uint8_t mac[6])
{
	mac[0] = 0x0a;
	mac[1] = 0x58;
	for (int k = 0; k < 4; k++)
		mac[2 + k] = (uint8_t)(g->private_ip >> (24 - 8 * k));
}

/* A NAT gateway forwards others' traffic: no source/destination check. */
void want_natgw_port_cfg(const struct vpc *v, const struct nat_gateway *g, struct port_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->ip = htonl(g->private_ip);
	natgw_mac(g, c->mac);
	c->flags = PORT_F_VALID;
	c->subnet = v->subnets[g->subnet].id;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct nat_pair *x = a, *y = b;
	return x->pub < y->pub ? -1 : x->pub > y->pub;
}

int want_nat_pairs(const struct vpc *v, struct nat_pair **out, size_t *n_out)
{
	struct nat_pair *p = calloc(v->n_instances + v->n_nat_gateways + 1, sizeof(*p));
	size_t n = 0;
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_instances; i++)
		if (v->instances[i].public_ip)
			p[n++] = (struct nat_pair){v->instances[i].public_ip, v->instances[i].private_ip};
	for (size_t i = 0; i < v->n_nat_gateways; i++)
		p[n++] = (struct nat_pair){v->nat_gateways[i].public_ip, v->nat_gateways[i].private_ip};
	qsort0(p, n, sizeof(*p), cmp_pair);
	*out = p;
	*n_out = n;
	return 0;
}

void want_subnet_cfg(const struct vpc *v, const struct subnet *s, struct subnet_cfg *c,
		     uint64_t *hin, uint64_t *hout)
{
	const struct nacl *n = &v->nacls[s->nacl];
	memset(c, 0, sizeof(*c));
	c->net = htonl(s->cidr.addr);
	c->mask = htonl(cidr_mask(s->cidr.len));
	c->rt_mark = v->route_tables[s->route_table].table_id;
	*hin = n->hash_in;
	*hout = n->hash_out;
}

int cmp_obs_rt(const void *a, const void *b)
{
	const struct obs_rt *x = a, *y = b;
	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	if (x->dst != y->dst)
		return x->dst < y->dst ? -1 : 1;
	return (int)x->len - (int)y->len;
}

int cmp_obs_rule(const void *a, const void *b)
{
	const struct obs_rule *x = a, *y = b;
	return x->mark < y->mark ? -1 : x->mark > y->mark;
}

/* RTN_* route types, as in linux/rtnetlink.h (kept out of this pure file). */
#define KRT_UNICAST   1
#define KRT_BLACKHOLE 6
#define KRT_THROW     9

int want_routes(const struct topology *t, int vi, struct obs_rt **out, size_t *n_out)
{
	const struct vpc *v = &t->vpcs[vi];
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < v->n_route_tables; i++)
		cap += v->route_tables[i].n_routes;
	struct obs_rt *r = calloc(cap + 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_route_tables; i++) {
		const struct route_table *rt = &v->route_tables[i];
		for (size_t k = 0; k < rt->n_routes; k++) {
			const struct route *x = &rt->routes[k];
			struct obs_rt o = {.table = rt->table_id, .dst = x->dest.addr, .len = x->dest.len,
					   .type = KRT_UNICAST};
			switch (x->target) {
			case RT_LOCAL:
				/* Inside the VPC: on to the main table and its host routes. */
				o.type = KRT_THROW;
				break;
			case RT_BLACKHOLE:
				o.type = KRT_BLACKHOLE;
				break;
			case RT_IGW:
				o.gw = VPC_IGW_ADDR;
				o.oif = VPC_IGW_IFINDEX;
				break;
			case RT_NAT:
				o.gw = v->nat_gateways[x->target_idx].private_ip;
				o.oif = port_ifindex(v->nat_gateways[x->target_idx].id);
				break;
			case RT_INSTANCE:
				o.gw = v->instances[x->target_idx].private_ip;
				o.oif = port_ifindex(v->instances[x->target_idx].id);
				break;
			case RT_PEERING: {
				const struct peering *p = &t->peerings[x->target_idx];
				int side = p->vpc[0] == vi ? 0 : 1;
				o.gw = peering_addr(p->id, 1 - side);
				o.oif = (int)(VPC_PEER_IFINDEX_BASE + p->id);
				break;
			}
			}
			r[n++] = o;
		}
	}
	qsort0(r, n, sizeof(*r), cmp_obs_rt);
	*out = r;
	*n_out = n;
	return 0;
}

int want_rules(const struct vpc *v, struct obs_rule **out, size_t *n)
{
	struct obs_rule *r = calloc(v->n_route_tables + 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_route_tables; i++)
		r[i] = (struct obs_rule){v->route_tables[i].table_id, v->route_tables[i].table_id};
	qsort0(r, v->n_route_tables, sizeof(*r), cmp_obs_rule);
	*out = r;
	*n = v->n_route_tables;
	return 0;
}

static int routes_in_sync(const struct topology *t, int vi, const struct obs_router *r, bool *ok)
{
	struct obs_rt *rt = NULL;
	struct obs_rule *ru = NULL;
	size_t nrt = 0, nru = 0;
	int err;
	*ok = false;
	if (!r)
		return 0;
	if ((err = want_routes(t, vi, &rt, &nrt)) || (err = want_rules(&t->vpcs[vi], &ru, &nru))) {
		free(rt);
		return err;
	}
	*ok = nrt == r->n_rts && nru == r->n_rules;
	for (size_t k = 0; k < nrt && *ok; k++)
		*ok = !cmp_obs_rt(&rt[k], &r->rts[k]) && rt[k].gw == r->rts[k].gw &&
		      rt[k].oif == r->rts[k].oif && rt[k].type == r->rts[k].type;
	for (size_t k = 0; k < nru && *ok; k++)
		*ok = ru[k].mark == r->rules[k].mark && ru[k].table == r->rules[k].table;
	free(rt);
	free(ru);
	return 0;
}

static uint64_t table_hash(const struct obs_router *r, uint32_t id)
{
	for (size_t i = 0; i < r->n_tables; i++)
		if (r->tables[i].id == id)
			return r->tables[i].hash;
	return 0;
}

/* Do the NACL program's subnet entries and tables match the model? Extra entries
 * and tables nothing points at count as a mismatch too (they get cleaned up). */
static bool nacl_in_sync(const struct vpc *v, const struct obs_router *r)
{
	if (!r || !r->bpf)
		return false;
	size_t live = 0;
	for (uint32_t id = 0; id < NACL_MAX_SUBNETS; id++)
		live += r->subnet_cfgs[id].mask != 0;
	for (size_t j = 0; j < v->n_subnets; j++) {
		struct subnet_cfg want;
		uint64_t hin, hout;
		uint32_t id = v->subnets[j].id;
		if (id >= NACL_MAX_SUBNETS)
			return false;
		const struct subnet_cfg *have = &r->subnet_cfgs[id];
		want_subnet_cfg(v, &v->subnets[j], &want, &hin, &hout);
		if (have->net != want.net || have->mask != want.mask || have->rt_mark != want.rt_mark ||
		    table_hash(r, have->table_in) != hin || table_hash(r, have->table_out) != hout)
			return false;
	}
	/* (Tables no subnet points at any more are collected after each change.) */
	return live == v->n_subnets;
}

static bool port_in_sync(const struct vpc *v, const struct instance *in,
			 const struct obs_router *r)
{
	struct port_cfg want;
	if (!r || !r->bpf || in->id >= NACL_MAX_PORTS)
		return false;
	want_port_cfg(v, in, &want);
	return !memcmp(&want, &r->port_cfgs[in->id], sizeof(want));
}

static bool has_name(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

static const struct obs_disp *disp_of(const struct obs_disp *v, size_t n, uint32_t ifindex)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ifindex == ifindex)
			return &v[i];
	return NULL;
}

/* Does the security-group table hold exactly what the model compiles to? What
 * it compiled stays in `o` when not (for the sync), and is freed when it does. */
static int sg_in_sync(const struct topology *t, int vi, const struct obs_router *r, bool *ok,
		      struct sg_objects *o)
{
	int err;
	*ok = false;
	if (!r || !r->nft.table)
		return 0;
	if ((err = sg_compile(t, vi, o)))
		return err;
	bool same = o->n_sets == r->nft.n_sets && o->n_chains == r->nft.n_chains &&
		    o->n_dispatch == r->nft.n_in && o->n_dispatch == r->nft.n_out &&
		    r->nft.base_rules == SG_BASE_RULES;
	for (size_t i = 0; i < o->n_sets && same; i++)
		same = has_name(r->nft.sets, r->nft.n_sets, o->sets[i].name);
	for (size_t i = 0; i < o->n_chains && same; i++)
		same = obs_nft_chain_ok(&r->nft, &o->chains[i]);
	for (size_t i = 0; i < o->n_dispatch && same; i++) {
		const struct obs_disp *in = disp_of(r->nft.in, r->nft.n_in, o->dispatch[i].ifindex),
				      *out = disp_of(r->nft.out, r->nft.n_out, o->dispatch[i].ifindex);
		same = in && out && !strcmp(in->chain, o->dispatch[i].in_chain) &&
		       !strcmp(out->chain, o->dispatch[i].out_chain);
	}
	if (same)
		sg_objects_free(o);
	*ok = same;
	return 0;
}

static int push(struct plan *p, struct op op)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct op *n = realloc(p->ops, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->ops = n;
		p->cap = cap;
	}
	p->ops[p->n++] = op;
	return 0;
}

static struct op check(struct op o)
{
	o.check = true;
	return o;
}

static struct op mkop(enum op_kind k, int vpc, int idx, const char *name)
{
	struct op o = {.kind = k, .vpc = vpc, .idx = idx};
	if (name)
		snprintf(o.name, sizeof(o.name), "%s", name);
	return o;
}

/* Every namespace the target model expects, sorted. */
static char **expected_ns(const struct topology *t, size_t *n_out)
{
	size_t n = 1, k = 0;
	bool internet = false;
	for (size_t i = 0; i < t->n_vpcs; i++)
		n += 2 + t->vpcs[i].n_instances + t->vpcs[i].n_nat_gateways;
	char **e = calloc(n + 1, sizeof(char *));
	if (!e)
		return NULL;
#define NEXT()                                                                                     \
	do {                                                                                       \
		if (!(e[k] = malloc(NS_NAME_MAX)))                                                \
			goto nomem;                                                                \
	} while (0)
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		NEXT();
		ns_router(e[k++], v->name);
		for (size_t j = 0; j < v->n_instances; j++) {
			NEXT();
			ns_instance(e[k++], v->name, v->instances[j].name);
		}
		for (size_t j = 0; j < v->n_nat_gateways; j++) {
			NEXT();
			ns_natgw(e[k++], v->name, v->nat_gateways[j].name);
		}
		if (v->internet_gateway) {
			NEXT();
			ns_igw(e[k++], v->name);
			internet = true;
		}
	}
	if (internet) {
		NEXT();
		ns_internet(e[k++]);
	}
#undef NEXT
	n = k;
	qsort0(e, n, sizeof(char *), cmp_str);
	*n_out = n;
	return e;
nomem:
	for (size_t i = 0; i < k; i++)
		free(e[i]);
	free(e);
	return NULL;
}

/* Is the instance in the kernel as the model wants it? Its namespace, its port and
 * the router's route to its address through that port all have to be there. */
static bool instance_intact(const struct vpc *v, const struct instance *in,
			    const struct observed *obs, const struct obs_router *r)
{
	char ns[NS_NAME_MAX];
	ns_instance(ns, v->name, in->name);
	return r && obs_has_ns(obs, ns) && has_u32(r->ports, r->n_ports, in->id) &&
	       has_route(r, in->private_ip, in->id);
}

static bool natgw_intact(const struct vpc *v, const struct nat_gateway *g,
			 const struct observed *obs, const struct obs_router *r)
{
	char ns[NS_NAME_MAX];
	ns_natgw(ns, v->name, g->name);
	return r && obs_has_ns(obs, ns) && has_u32(r->ports, r->n_ports, g->id) &&
	       has_route(r, g->private_ip, g->id);
}

static bool natgw_port_in_sync(const struct vpc *v, const struct nat_gateway *g,
			       const struct obs_router *r)
{
	struct port_cfg want;
	if (!r || !r->bpf || g->id >= NACL_MAX_PORTS)
		return false;
	want_natgw_port_cfg(v, g, &want);
	return !memcmp(&want, &r->port_cfgs[g->id], sizeof(want));
}

static bool igw_intact(const struct vpc *v, const struct observed *obs, const struct obs_router *r)
{
	char ns[NS_NAME_MAX];
	ns_igw(ns, v->name);
	return r && r->igw_link && obs_has_ns(obs, ns) &&
	       has_u32(obs->inet_links, obs->n_inet_links, v->id);
}

/* Do the gateway's NAT map and the internet's routes to this VPC match? */
static int igw_in_sync(const struct vpc *v, const struct observed *obs, const struct obs_router *r,
		       bool *ok)
{
	struct nat_pair *p;
	size_t n, routes = 0;
	int err = want_nat_pairs(v, &p, &n);
	if (err)
		return err;
	*ok = r && r->igw_table && r->n_nat == n;
	for (size_t i = 0; i < n && *ok; i++)
		*ok = p[i].pub == r->nat[i].pub && p[i].priv == r->nat[i].priv;
	for (size_t i = 0; i < obs->n_inet_routes && *ok; i++) {
		const struct obs_inet_route *x = &obs->inet_routes[i];
		bool mine = false;
		for (size_t k = 0; k < n && !mine; k++)
			mine = p[k].pub == x->dst;
		if (x->vpc_id == v->id) {
			routes++;
			*ok = mine;
		} else if (mine) {
			*ok = false; /* the internet sends one of ours elsewhere */
		}
	}
	*ok = *ok && routes == n;
	free(p);
	return 0;
}

/* Is the peering's link there, in both routers? */
static bool peering_intact(const struct topology *t, const struct peering *pe,
			   const struct observed *obs)
{
	for (int s = 0; s < 2; s++) {
		const struct obs_router *r = obs_find_router(obs, t->vpcs[pe->vpc[s]].name);
		if (!r || !has_u32(r->peer_links, r->n_peer_links, pe->id))
			return false;
	}
	return true;
}

/* Did the subnet's block change since the kernel was built? The instance keeps its
 * address but its prefix and router are wrong: rebuild it. */
static bool subnet_moved(const struct topology *prev, const struct vpc *v, int subnet)
{
	if (!prev)
		return false;
	int pv = topo_find_vpc(prev, v->name);
	if (pv < 0)
		return false;
	int ps = vpc_find_subnet(&prev->vpcs[pv], v->subnets[subnet].name);
	if (ps < 0)
		return false;
	struct cidr a = prev->vpcs[pv].subnets[ps].cidr, b = v->subnets[subnet].cidr;
	return a.addr != b.addr || a.len != b.len;
}

static bool vpc_moved(const struct topology *prev, const struct vpc *v)
{
	int pv = prev ? topo_find_vpc(prev, v->name) : -1;
	return pv >= 0 && (prev->vpcs[pv].cidr.addr != v->cidr.addr ||
			   prev->vpcs[pv].cidr.len != v->cidr.len);
}

struct pc {
	const struct topology *t, *prev;
	const struct observed *obs;
};

static bool inst_ok(const struct pc *c, size_t vi, size_t j)
{
	const struct vpc *v = &c->t->vpcs[vi];
	return instance_intact(v, &v->instances[j], c->obs, obs_find_router(c->obs, v->name)) &&
	       !subnet_moved(c->prev, v, v->instances[j].subnet);
}

static bool natgw_ok(const struct pc *c, size_t vi, size_t j)
{
	const struct vpc *v = &c->t->vpcs[vi];
	return natgw_intact(v, &v->nat_gateways[j], c->obs, obs_find_router(c->obs, v->name)) &&
	       !subnet_moved(c->prev, v, v->nat_gateways[j].subnet);
}

static bool igw_ok(const struct pc *c, size_t vi)
{
	const struct vpc *v = &c->t->vpcs[vi];
	return igw_intact(v, c->obs, obs_find_router(c->obs, v->name)) && !vpc_moved(c->prev, v);
}

int plan_build(const struct topology *t, const struct topology *prev,
	       const struct observed *obs, bool deep, struct plan *out)
{
	const struct pc c = {t, prev, obs};
	struct plan p = {0};
	size_t n_exp = 0;
	char **exp = expected_ns(t, &n_exp);
	int err = -ENOMEM;
	if (!exp)
		return -ENOMEM;
	if (!(p.sg = calloc(t->n_vpcs + 1, sizeof(*p.sg))))
		goto out;
	p.n_sg = t->n_vpcs;

	/* 1. Ports nobody owns any more, or owned by an instance that is rebuilt. */
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		const struct obs_router *r = obs_find_router(obs, v->name);
		for (size_t k = 0; r && k < r->n_ports; k++) {
			bool keep = false;
			for (size_t j = 0; j < v->n_instances && !keep; j++)
				keep = v->instances[j].id == r->ports[k] && inst_ok(&c, i, j);
			for (size_t j = 0; j < v->n_nat_gateways && !keep; j++)
				keep = v->nat_gateways[j].id == r->ports[k] && natgw_ok(&c, i, j);
			if (keep)
				continue;
			struct op o = mkop(OP_PORT_DELETE, (int)i, -1, v->name);
			o.id = r->ports[k];
			if ((err = push(&p, o)))
				goto out;
		}
	}
	/* The uplink goes first when it should not be there (or is set up for another
	 * interface): it restores the host's interface before the internet goes. */
	bool want_uplink = false;
	for (size_t i = 0; i < t->n_vpcs && t->uplink[0]; i++)
		want_uplink |= t->vpcs[i].internet_gateway;
	if (obs->uplink && (!want_uplink || strcmp(obs->uplink_via, t->uplink)) &&
	    (err = push(&p, mkop(OP_UPLINK_DELETE, -1, -1, obs->uplink_via))))
		goto out;
	/* Files that look like our namespaces but are none (a crash between creating
	 * the file and mounting the namespace on it). */
	for (size_t k = 0; k < obs->n_stale; k++)
		if ((err = push(&p, mkop(OP_NS_DELETE, -1, -1, obs->stale[k]))))
			goto out;
	/* 2. Namespaces the model does not expect, and those of instances rebuilt.
	 * Children ("vpc.x.i.y") sort after their router ("vpc.x"): delete backwards so
	 * a router goes last. */
	for (size_t k = obs->n_ns; k-- > 0;) {
		const char *name = obs->ns[k];
		if (!bsearch0(&name, exp, n_exp, sizeof(char *), cmp_str) &&
		    (err = push(&p, mkop(OP_NS_DELETE, -1, -1, name))))
			goto out;
	}
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		const struct obs_router *r = obs_find_router(obs, v->name);
		char ns[NS_NAME_MAX];
		for (size_t j = 0; j < v->n_instances; j++) {
			ns_instance(ns, v->name, v->instances[j].name);
			if (obs_has_ns(obs, ns) && !inst_ok(&c, i, j) &&
			    (err = push(&p, mkop(OP_NS_DELETE, (int)i, (int)j, ns))))
				goto out;
		}
		for (size_t j = 0; j < v->n_nat_gateways; j++) {
			ns_natgw(ns, v->name, v->nat_gateways[j].name);
			if (obs_has_ns(obs, ns) && !natgw_ok(&c, i, j) &&
			    (err = push(&p, mkop(OP_NS_DELETE, (int)i, (int)j, ns))))
				goto out;
		}
		ns_igw(ns, v->name);
		if (v->internet_gateway && obs_has_ns(obs, ns) && !igw_ok(&c, i) &&
		    (err = push(&p, mkop(OP_NS_DELETE, (int)i, -1, ns))))
			goto out;
		/* Peering links that no peering wants, or whose other end is missing. */
		for (size_t k = 0; r && k < r->n_peer_links; k++) {
			bool keep = false;
			for (size_t q = 0; q < t->n_peerings && !keep; q++)
				keep = t->peerings[q].id == r->peer_links[k] &&
				       (t->peerings[q].vpc[0] == (int)i || t->peerings[q].vpc[1] == (int)i) &&
				       peering_intact(t, &t->peerings[q], obs);
			if (keep)
				continue;
			struct op o = mkop(OP_PEER_LINK_DELETE, (int)i, -1, v->name);
			o.id = r->peer_links[k];
			if ((err = push(&p, o)))
				goto out;
		}
	}
	/* Pins of VPCs that are gone. */
	for (size_t k = 0; k < obs->n_pinned; k++) {
		bool keep = false;
		for (size_t i = 0; i < t->n_vpcs && !keep; i++)
			keep = !strcmp(t->vpcs[i].name, obs->pinned[k]) &&
			       obs_find_router(obs, obs->pinned[k]);
		if (!keep && (err = push(&p, mkop(OP_PIN_DELETE, -1, -1, obs->pinned[k]))))
			goto out;
	}
	/* 3. Subnet routers that are gone from the model. */
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		const struct obs_router *r = obs_find_router(obs, v->name);
		for (size_t k = 0; r && k < r->n_gateways; k++) {
			bool keep = false;
			for (size_t j = 0; j < v->n_subnets && !keep; j++)
				keep = cidr_gateway(v->subnets[j].cidr) == r->gateways[k];
			if (keep)
				continue;
			struct op o = mkop(OP_GW_DEL, (int)i, -1, v->name);
			o.addr = r->gateways[k];
			if ((err = push(&p, o)))
				goto out;
		}
	}
	/* 4-7. Build what is missing, in dependency order. */
	char inet[NS_NAME_MAX];
	ns_internet(inet);
	for (size_t i = 0; i < t->n_vpcs; i++)
		if (t->vpcs[i].internet_gateway && !obs_has_ns(obs, inet)) {
			if ((err = push(&p, mkop(OP_INTERNET_CREATE, -1, -1, inet))))
				goto out;
			break;
		}
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		const struct obs_router *r = obs_find_router(obs, v->name);
		if (!r && (err = push(&p, mkop(OP_VPC_CREATE, (int)i, -1, v->name))))
			goto out;
		if (r && deep && (err = push(&p, check(mkop(OP_VPC_ENSURE, (int)i, -1, v->name)))))
			goto out;
		if (r && !r->bpf && (err = push(&p, mkop(OP_BPF_LOAD, (int)i, -1, v->name))))
			goto out;
		if (v->internet_gateway && !igw_ok(&c, i) &&
		    (err = push(&p, mkop(OP_IGW_CREATE, (int)i, -1, v->name))))
			goto out;
		for (size_t j = 0; j < v->n_subnets; j++) {
			uint32_t gw = cidr_gateway(v->subnets[j].cidr);
			if ((!r || !has_u32(r->gateways, r->n_gateways, gw)) &&
			    (err = push(&p, mkop(OP_GW_ADD, (int)i, (int)j, v->name))))
				goto out;
		}
		/* Subnet entries before any port comes up: a port is filtered from its
		 * first packet. */
		if (!nacl_in_sync(v, r) && (err = push(&p, mkop(OP_NACL_SYNC, (int)i, -1, v->name))))
			goto out;
		/* Groups too: each port's chains are in place before it comes up. */
		bool sg_ok;
		if ((err = sg_in_sync(t, (int)i, r, &sg_ok, &p.sg[i])) ||
		    (!sg_ok && (err = push(&p, mkop(OP_SG_SYNC, (int)i, -1, v->name)))))
			goto out;
		for (size_t j = 0; j < v->n_instances; j++) {
			const struct instance *in = &v->instances[j];
			bool ok = inst_ok(&c, i, j);
			if (!ok && (err = push(&p, mkop(OP_INST_CREATE, (int)i, (int)j, v->name))))
				goto out;
			if (ok && deep &&
			    (err = push(&p, check(mkop(OP_INST_ENSURE, (int)i, (int)j, v->name)))))
				goto out;
			if (ok && (deep || !port_in_sync(v, in, r))) {
				struct op o = mkop(OP_PORT_SETUP, (int)i, (int)j, v->name);
				o.check = port_in_sync(v, in, r);
				if ((err = push(&p, o)))
					goto out;
			}
		}
		for (size_t j = 0; j < v->n_nat_gateways; j++) {
			const struct nat_gateway *g = &v->nat_gateways[j];
			bool ok = natgw_ok(&c, i, j);
			if (!ok && (err = push(&p, mkop(OP_NATGW_CREATE, (int)i, (int)j, v->name))))
				goto out;
			if (ok && (deep || !natgw_port_in_sync(v, g, r))) {
				struct op o = mkop(OP_NATGW_SETUP, (int)i, (int)j, v->name);
				o.check = natgw_port_in_sync(v, g, r);
				if ((err = push(&p, o)))
					goto out;
			}
		}
	}
	/* Peerings once both routers stand; routes after them, they may point there. */
	for (size_t q = 0; q < t->n_peerings; q++)
		if (!peering_intact(t, &t->peerings[q], obs) &&
		    (err = push(&p, mkop(OP_PEERING_CREATE, -1, (int)q, t->peerings[q].name))))
			goto out;
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		const struct obs_router *r = obs_find_router(obs, v->name);
		bool ok;
		if (v->internet_gateway &&
		    ((err = igw_in_sync(v, obs, igw_ok(&c, i) ? r : NULL, &ok)) ||
		     (!ok && (err = push(&p, mkop(OP_IGW_SYNC, (int)i, -1, v->name))))))
			goto out;
		if ((err = routes_in_sync(t, (int)i, r, &ok)) ||
		    (!ok && (err = push(&p, mkop(OP_ROUTES_SYNC, (int)i, -1, v->name)))))
			goto out;
	}
	if (want_uplink && (!obs->uplink || strcmp(obs->uplink_via, t->uplink) ||
			    !obs_has_ns(obs, inet))) {
		if ((err = push(&p, mkop(OP_UPLINK_CREATE, -1, -1, t->uplink))))
			goto out;
	}
	err = 0;
	*out = p;
out:
	for (size_t i = 0; i < n_exp; i++)
		free(exp[i]);
	free(exp);
	if (err)
		plan_free(&p);
	return err;
}

void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n_sg; i++)
		sg_objects_free(&p->sg[i]);
	free(p->sg);
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

const char *op_kind_name(enum op_kind k)
{
	static const char *const names[] = {
		[OP_PORT_DELETE] = "port-delete", [OP_NS_DELETE] = "netns-delete",
		[OP_GW_DEL] = "gateway-delete",	  [OP_VPC_CREATE] = "vpc-create",
		[OP_VPC_ENSURE] = "vpc-ensure",	  [OP_PIN_DELETE] = "pins-delete",
		[OP_BPF_LOAD] = "nacl-program-load", [OP_NACL_SYNC] = "subnet-sync",
		[OP_PORT_SETUP] = "port-setup",	  [OP_SG_SYNC] = "security-group-sync",
		[OP_ROUTES_SYNC] = "routes-sync",	  [OP_INTERNET_CREATE] = "internet-create",
		[OP_IGW_CREATE] = "igw-create",	  [OP_IGW_SYNC] = "igw-nat-sync",
		[OP_NATGW_CREATE] = "nat-gateway-create", [OP_PEERING_CREATE] = "peering-create",
		[OP_NATGW_SETUP] = "nat-gateway-setup",
		[OP_PEER_LINK_DELETE] = "peering-link-delete",
		[OP_UPLINK_DELETE] = "uplink-delete",	  [OP_UPLINK_CREATE] = "uplink-create",
		[OP_GW_ADD] = "gateway-add",	  [OP_INST_CREATE] = "instance-create",
		[OP_INST_ENSURE] = "instance-ensure",
	};
	return names[k];
}

bool obs_nft_chain_ok(const struct obs_nft *n, const struct sg_chain *c)
{
	for (size_t i = 0; i < n->n_chains; i++)
		if (!strcmp(n->chains[i], c->name))
			return n->chain_rules && n->chain_rules[i] == SG_CHAIN_RULES(c);
	return false;
}

void obs_nft_free(struct obs_nft *n)
{
	for (size_t i = 0; i < n->n_sets; i++)
		free(n->sets[i]);
	for (size_t i = 0; i < n->n_chains; i++)
		free(n->chains[i]);
	free(n->sets);
	free(n->chains);
	free(n->chain_rules);
	free(n->in);
	free(n->out);
	memset(n, 0, sizeof(*n));
}

void obs_router_free(struct obs_router *r)
{
	free((char *)r->vpc);
	free(r->ports);
	free(r->routes);
	free(r->gateways);
	free(r->port_cfgs);
	free(r->subnet_cfgs);
	free(r->tables);
	obs_nft_free(&r->nft);
	free(r->rts);
	free(r->rules);
	free(r->peer_links);
	free(r->nat);
	memset(r, 0, sizeof(*r));
}

void observed_free(struct observed *o)
{
	for (size_t i = 0; i < o->n_ns; i++)
		free(o->ns[i]);
	free(o->ns);
	for (size_t i = 0; i < o->n_routers; i++)
		obs_router_free(&o->routers[i]);
	free(o->routers);
	for (size_t i = 0; i < o->n_stale; i++)
		free(o->stale[i]);
	free(o->stale);
	for (size_t i = 0; i < o->n_pinned; i++)
		free(o->pinned[i]);
	free(o->pinned);
	free(o->inet_links);
	free(o->inet_routes);
	memset(o, 0, sizeof(*o));
}
