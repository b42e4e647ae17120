/* Planning: desired model + observed kernel -> operations. */
#include <stdlib.h>

#include "test.h"
#include "vpc/plan.h"
#include "vpc/sg.h"
#include "vpc/topo.h"


/* Builds what the kernel would hold if `t` were fully realized. */
static void observe_model(const struct topology *t, struct observed *o)
{
	size_t n = 0;
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < t->n_vpcs; i++)
		n += 1 + t->vpcs[i].n_instances;
	o->ns = calloc(n + 1, sizeof(char *));
	o->routers = calloc(t->n_vpcs + 1, sizeof(*o->routers));
	for (size_t i = 0; i < t->n_vpcs; i++) {
		const struct vpc *v = &t->vpcs[i];
		struct obs_router *r = &o->routers[o->n_routers++];
		o->ns[o->n_ns] = malloc(NS_NAME_MAX);
		ns_router(o->ns[o->n_ns++], v->name);
		r->vpc = strdup(v->name);
		r->ports = calloc(v->n_instances + 1, sizeof(uint32_t));
		r->routes = calloc(v->n_instances + 1, sizeof(struct obs_route));
		r->gateways = calloc(v->n_subnets + 1, sizeof(uint32_t));
		for (size_t j = 0; j < v->n_subnets; j++)
			r->gateways[r->n_gateways++] = cidr_gateway(v->subnets[j].cidr);
		/* The NACL program as it would be: subnet entries pointing at one table
		 * per distinct rule list, port entries for every instance. */
		r->bpf = true;
		r->port_cfgs = calloc(NACL_MAX_PORTS, sizeof(struct port_cfg));
		r->subnet_cfgs = calloc(NACL_MAX_SUBNETS, sizeof(struct subnet_cfg));
		r->tables = calloc(2 * v->n_subnets + 1, sizeof(struct obs_table));
		for (size_t j = 0; j < v->n_subnets; j++) {
			uint64_t h[2];
			struct subnet_cfg *c = &r->subnet_cfgs[v->subnets[j].id];
			want_subnet_cfg(v, &v->subnets[j], c, &h[0], &h[1]);
			for (int d = 0; d < 2; d++) {
				size_t k = 0;
				while (k < r->n_tables && r->tables[k].hash != h[d])
					k++;
				if (k == r->n_tables)
					r->tables[r->n_tables++] = (struct obs_table){(uint32_t)k + 1, h[d]};
				if (d)
					c->table_out = r->tables[k].id;
				else
					c->table_in = r->tables[k].id;
			}
		}
		for (size_t j = 0; j < v->n_instances; j++)
			want_port_cfg(v, &v->instances[j], &r->port_cfgs[v->instances[j].id]);
		/* The security-group table as sg_compile() wants it. */
		struct sg_objects so;
		if (sg_compile(t, (int)i, &so))
			abort();
		r->nft.table = true;
		r->nft.sets = calloc(so.n_sets + 1, sizeof(char *));
		r->nft.chains = calloc(so.n_chains + 1, sizeof(char *));
		r->nft.chain_rules = calloc(so.n_chains + 1, sizeof(size_t));
		r->nft.base_rules = SG_BASE_RULES;
		r->nft.in = calloc(so.n_dispatch + 1, sizeof(struct obs_disp));
		r->nft.out = calloc(so.n_dispatch + 1, sizeof(struct obs_disp));
		for (size_t k = 0; k < so.n_sets; k++)
			r->nft.sets[r->nft.n_sets++] = strdup(so.sets[k].name);
		for (size_t k = 0; k < so.n_chains; k++) {
			r->nft.chain_rules[r->nft.n_chains] = SG_CHAIN_RULES(&so.chains[k]);
			r->nft.chains[r->nft.n_chains++] = strdup(so.chains[k].name);
		}
		for (size_t k = 0; k < so.n_dispatch; k++) {
			r->nft.in[k].ifindex = r->nft.out[k].ifindex = so.dispatch[k].ifindex;
			snprintf(r->nft.in[k].chain, sizeof(r->nft.in[k].chain), "%s", so.dispatch[k].in_chain);
			snprintf(r->nft.out[k].chain, sizeof(r->nft.out[k].chain), "%s", so.dispatch[k].out_chain);
		}
		r->nft.n_in = r->nft.n_out = so.n_dispatch;
		sg_objects_free(&so);
		if (want_routes(t, (int)i, &r->rts, &r->n_rts) || want_rules(v, &r->rules, &r->n_rules))
			abort();
		for (size_t j = 0; j < v->n_instances; j++) {
			o->ns[o->n_ns] = malloc(NS_NAME_MAX);
			ns_instance(o->ns[o->n_ns++], v->name, v->instances[j].name);
			r->ports[r->n_ports++] = v->instances[j].id;
			r->routes[r->n_routes++] = (struct obs_route){v->instances[j].private_ip,
								      v->instances[j].id};
		}
	}
	/* The planner expects sorted inputs, as kernel_observe() produces. */
	for (size_t i = 0; i < o->n_ns; i++)
		for (size_t j = i + 1; j < o->n_ns; j++)
			if (strcmp(o->ns[i], o->ns[j]) > 0) {
				char *x = o->ns[i];
				o->ns[i] = o->ns[j];
				o->ns[j] = x;
			}
}

static int count(const struct plan *p, enum op_kind k)
{
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->ops[i].kind == k;
	return n;
}

static const char *two =
	"{\"vpcs\":[{\"name\":\"lab\",\"cidr\":\"10.0.0.0/16\",\"subnets\":["
	"{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
	"\"instances\":[{\"name\":\"x\",\"subnet\":\"a\"},{\"name\":\"y\",\"subnet\":\"b\"}]}]}";

void test_plan(void)
{
	struct topology *t = compile_or_die(two), *empty = compile_or_die("{}");
	struct observed none = {0}, full;
	struct plan p;

	/* From nothing: router, two subnet routers, the NACL entries (before any port
	 * comes up), two instances, in that order. */
	CHECK_INT(plan_build(t, NULL, &none, false, &p), 0);
	CHECK_INT(p.ops[0].kind, OP_VPC_CREATE);
	CHECK_INT(p.ops[1].kind, OP_GW_ADD);
	CHECK_INT(p.ops[2].kind, OP_GW_ADD);
	CHECK_INT(p.ops[3].kind, OP_NACL_SYNC);
	CHECK_INT(p.ops[4].kind, OP_SG_SYNC);
	CHECK_INT(p.n, 8);
	CHECK_INT(p.ops[5].kind, OP_INST_CREATE);
	CHECK_INT(p.ops[6].kind, OP_INST_CREATE);
	CHECK_INT(p.ops[7].kind, OP_ROUTES_SYNC);
	plan_free(&p);

	/* Already there: nothing to do (the idempotency of apply). */
	observe_model(t, &full);
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(p.n, 0);
	plan_free(&p);
	/* Deep reconcile re-asserts everything but creates nothing. */
	CHECK_INT(plan_build(t, NULL, &full, true, &p), 0);
	CHECK_INT(count(&p, OP_VPC_ENSURE), 1);
	CHECK_INT(count(&p, OP_INST_ENSURE), 2);
	CHECK_INT(count(&p, OP_PORT_SETUP), 2);
	CHECK_INT(count(&p, OP_NACL_SYNC), 0);
	CHECK_INT(count(&p, OP_INST_CREATE) + count(&p, OP_VPC_CREATE), 0);
	plan_free(&p);

	/* Everything observed but nothing desired: routers last, children first. */
	CHECK_INT(plan_build(empty, NULL, &full, false, &p), 0);
	CHECK_INT(p.n, 3);
	CHECK_INT(count(&p, OP_NS_DELETE), 3);
	CHECK_STR(p.ops[2].name, "vpc.lab");
	plan_free(&p);

	/* Drift: x's port vanished. Only x is rebuilt: its namespace goes and comes back. */
	full.routers[0].ports[0] = 99;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_PORT_DELETE), 1); /* the stray port 99 */
	CHECK_INT(count(&p, OP_NS_DELETE), 1);
	CHECK_INT(count(&p, OP_INST_CREATE), 1);
	CHECK_INT(p.n, 3);
	CHECK_STR(t->vpcs[0].instances[p.ops[p.n - 1].idx].name, "x");
	plan_free(&p);
	observed_free(&full);

	/* NACL drift: a subnet entry points at a table with other rules; a port entry
	 * lost its source/destination check. */
	observe_model(t, &full);
	full.routers[0].tables[0].hash ^= 1;
	full.routers[0].port_cfgs[t->vpcs[0].instances[1].id].flags &= (uint8_t)~PORT_F_SRCDST;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_NACL_SYNC), 1);
	CHECK_INT(count(&p, OP_PORT_SETUP), 1);
	CHECK_INT(p.n, 2);
	plan_free(&p);
	observed_free(&full);
	/* Security-group drift: the base chain flushed; an instance chain short of a
	 * rule (the names alone look right). */
	observe_model(t, &full);
	full.routers[0].nft.base_rules = 0;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_SG_SYNC), 1);
	CHECK_INT(p.n, 1);
	plan_free(&p);
	observed_free(&full);
	observe_model(t, &full);
	full.routers[0].nft.chain_rules[0]--;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_SG_SYNC), 1);
	CHECK_INT(p.n, 1);
	plan_free(&p);
	observed_free(&full);
	/* A table nothing uses is not drift: it goes after the change (kernel_gc). */
	observe_model(t, &full);
	full.routers[0].tables[full.routers[0].n_tables++] = (struct obs_table){77, 5};
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(p.n, 0);
	plan_free(&p);
	observed_free(&full);
	/* A route changed behind our back, a rule vanished: sync the tables. */
	observe_model(t, &full);
	full.routers[0].rts[0].type = 6;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_ROUTES_SYNC), 1);
	CHECK_INT(p.n, 1);
	plan_free(&p);
	full.routers[0].rts[0].type = 9;
	full.routers[0].n_rules = 0;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_ROUTES_SYNC), 1);
	CHECK_INT(p.n, 1);
	plan_free(&p);
	observed_free(&full);

	/* The program itself is missing: load it, then set everything up again. */
	observe_model(t, &full);
	full.routers[0].bpf = false;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_BPF_LOAD), 1);
	CHECK_INT(count(&p, OP_NACL_SYNC), 1);
	CHECK_INT(count(&p, OP_PORT_SETUP), 2);
	plan_free(&p);
	observed_free(&full);

	/* An orphan namespace with our prefix is removed; a subnet router address that
	 * no subnet needs any more too. */
	observe_model(t, &full);
	full.ns[full.n_ns] = strdup("vpc.lab.i.ghost");
	full.n_ns++;
	full.routers[0].gateways[1] = 0x0a000901;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_NS_DELETE), 1);
	CHECK_STR(p.ops[0].name, "vpc.lab.i.ghost");
	CHECK_INT(count(&p, OP_GW_DEL), 1);
	CHECK_INT(count(&p, OP_GW_ADD), 1);
	plan_free(&p);
	observed_free(&full);

	/* Changing an address rebuilds only that instance (and the default group's
	 * member set, which holds the address). */
	struct topology *t2 = compile_or_die(
		"{\"vpcs\":[{\"name\":\"lab\",\"cidr\":\"10.0.0.0/16\",\"subnets\":["
		"{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
		"\"instances\":[{\"name\":\"x\",\"subnet\":\"a\",\"private_ip\":\"10.0.1.50\"},"
		"{\"name\":\"y\",\"subnet\":\"b\"}]}]}");
	observe_model(t, &full);
	CHECK_INT(plan_build(t2, t, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_PORT_DELETE), 1);
	CHECK_INT(count(&p, OP_NS_DELETE), 1);
	CHECK_INT(count(&p, OP_INST_CREATE), 1);
	CHECK_INT(count(&p, OP_SG_SYNC), 1);
	CHECK_INT(p.n, 4);
	plan_free(&p);
	observed_free(&full);

	/* A subnet resized under its instances: they keep their addresses, but their
	 * prefix and router are wrong, and only `prev` knows. */
	struct topology *t3 = compile_or_die(
		"{\"vpcs\":[{\"name\":\"lab\",\"cidr\":\"10.0.0.0/16\",\"subnets\":["
		"{\"name\":\"a\",\"cidr\":\"10.0.0.0/23\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
		"\"instances\":[{\"name\":\"x\",\"subnet\":\"a\",\"private_ip\":\"10.0.1.4\"},"
		"{\"name\":\"y\",\"subnet\":\"b\"}]}]}");
	observe_model(t, &full);
	CHECK_INT(plan_build(t3, t, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_INST_CREATE), 1);
	for (size_t i = 0; i < p.n; i++)
		if (p.ops[i].kind == OP_INST_CREATE)
			CHECK_STR(t3->vpcs[0].instances[p.ops[i].idx].name, "x");
	plan_free(&p);
	/* Without `prev` (nothing known) observation alone decides. */
	CHECK_INT(plan_build(t3, NULL, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_INST_CREATE), 0);
	plan_free(&p);
	observed_free(&full);
	topo_free(t3);

	/* A stale file where a namespace should be is deleted. */
	observe_model(t, &full);
	full.stale = calloc(1, sizeof(char *));
	full.stale[0] = strdup("vpc.half");
	full.n_stale = 1;
	CHECK_INT(plan_build(t, NULL, &full, false, &p), 0);
	CHECK_INT(p.n, 1);
	CHECK_INT(p.ops[0].kind, OP_NS_DELETE);
	CHECK_STR(p.ops[0].name, "vpc.half");
	plan_free(&p);
	observed_free(&full);

	topo_free(t2);
	topo_free(t);
	topo_free(empty);
}
