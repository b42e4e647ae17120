/* Planning: desired model + observed kernel -> operations. */
#include <stdlib.h>

#include "test.h"
#include "vpc/plan.h"
#include "vpc/topo.h"

static struct topology *compile(const char *text)
{
	json_error_t je;
	struct vpc_err err;
	struct topology *t = NULL;
	json_t *doc = json_loads(text, 0, &je);
	struct compile_opts o = {.features = FEAT_ALL};
	if (!doc || topo_compile(doc, &o, &t, &err)) {
		fprintf(stderr, "compile failed: %s\n", doc ? err.msg : je.text);
		abort();
	}
	json_decref(doc);
	return t;
}

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
	struct topology *t = compile(two), *empty = compile("{}");
	struct observed none = {0}, full;
	struct plan p;

	/* From nothing: router, two subnet routers, two instances, in that order. */
	CHECK_INT(plan_build(t, &none, false, &p), 0);
	CHECK_INT(p.n, 5);
	CHECK_INT(p.ops[0].kind, OP_VPC_CREATE);
	CHECK_INT(p.ops[1].kind, OP_GW_ADD);
	CHECK_INT(p.ops[2].kind, OP_GW_ADD);
	CHECK_INT(p.ops[3].kind, OP_INST_CREATE);
	CHECK_INT(p.ops[4].kind, OP_INST_CREATE);
	plan_free(&p);

	/* Already there: nothing to do (the idempotency of apply). */
	observe_model(t, &full);
	CHECK_INT(plan_build(t, &full, false, &p), 0);
	CHECK_INT(p.n, 0);
	plan_free(&p);
	/* Deep reconcile re-asserts everything but creates nothing. */
	CHECK_INT(plan_build(t, &full, true, &p), 0);
	CHECK_INT(count(&p, OP_VPC_ENSURE), 1);
	CHECK_INT(count(&p, OP_INST_ENSURE), 2);
	CHECK_INT(count(&p, OP_INST_CREATE) + count(&p, OP_VPC_CREATE), 0);
	plan_free(&p);

	/* Everything observed but nothing desired: routers last, children first. */
	CHECK_INT(plan_build(empty, &full, false, &p), 0);
	CHECK_INT(p.n, 3);
	CHECK_INT(count(&p, OP_NS_DELETE), 3);
	CHECK_STR(p.ops[2].name, "vpc.lab");
	plan_free(&p);

	/* Drift: x's port vanished. Only x is rebuilt: its namespace goes and comes back. */
	full.routers[0].ports[0] = 99;
	CHECK_INT(plan_build(t, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_PORT_DELETE), 1); /* the stray port 99 */
	CHECK_INT(count(&p, OP_NS_DELETE), 1);
	CHECK_INT(count(&p, OP_INST_CREATE), 1);
	CHECK_STR(t->vpcs[0].instances[p.ops[p.n - 1].idx].name, "x");
	plan_free(&p);
	observed_free(&full);

	/* An orphan namespace with our prefix is removed; a subnet router address that
	 * no subnet needs any more too. */
	observe_model(t, &full);
	full.ns[full.n_ns] = strdup("vpc.lab.i.ghost");
	full.n_ns++;
	full.routers[0].gateways[1] = 0x0a000901;
	CHECK_INT(plan_build(t, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_NS_DELETE), 1);
	CHECK_STR(p.ops[0].name, "vpc.lab.i.ghost");
	CHECK_INT(count(&p, OP_GW_DEL), 1);
	CHECK_INT(count(&p, OP_GW_ADD), 1);
	plan_free(&p);
	observed_free(&full);

	/* Changing an address rebuilds only that instance. */
	struct topology *t2 = compile(
		"{\"vpcs\":[{\"name\":\"lab\",\"cidr\":\"10.0.0.0/16\",\"subnets\":["
		"{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
		"\"instances\":[{\"name\":\"x\",\"subnet\":\"a\",\"private_ip\":\"10.0.1.50\"},"
		"{\"name\":\"y\",\"subnet\":\"b\"}]}]}");
	observe_model(t, &full);
	CHECK_INT(plan_build(t2, &full, false, &p), 0);
	CHECK_INT(count(&p, OP_PORT_DELETE), 1);
	CHECK_INT(count(&p, OP_NS_DELETE), 1);
	CHECK_INT(count(&p, OP_INST_CREATE), 1);
	CHECK_INT(p.n, 3);
	plan_free(&p);
	observed_free(&full);

	topo_free(t2);
	topo_free(t);
	topo_free(empty);
}
