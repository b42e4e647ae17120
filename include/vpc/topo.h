/*
 * Topology file / desired state -> compiled model. Pure: no kernel, no root.
 *
 * The desired state is kept as the JSON the user wrote (so `show` and the state
 * file say what the user said); compiling validates it completely and allocates
 * what the user left open (ids, private and public addresses). Allocations are
 * carried from one compile to the next through an "alloc" JSON object so that an
 * instance keeps its address across applies and daemon restarts.
 */
#ifndef VPC_TOPO_H
#define VPC_TOPO_H

#include <jansson.h>

#include "vpc/err.h"
#include "vpc/model.h"

/* Parts of the model realized in the kernel. A file using anything else is refused
 * with VPC_E_UNSUPPORTED instead of being silently ignored. */
enum vpc_feature {
	FEAT_NACL = 1 << 0,	/* custom network ACLs */
	FEAT_SG = 1 << 1,	/* custom security groups */
	FEAT_ROUTES = 1 << 2,	/* custom route tables and routes */
	FEAT_IGW = 1 << 3,	/* internet gateway, public IPs */
	FEAT_NAT = 1 << 4,	/* NAT gateways */
	FEAT_PEERING = 1 << 5,	/* VPC peering */
	FEAT_SRC_DST = 1 << 6,	/* source/destination check switch */
	FEAT_ALL = (1 << 7) - 1,
};

#define VPC_DEFAULT_PUBLIC_POOL	  "198.51.100.0/24"
#define VPC_DEFAULT_INTERNET_HOST "203.0.113.1"

struct compile_opts {
	unsigned features;	/* enum vpc_feature bits */
	const json_t *prev_alloc; /* may be NULL */
	/* May be NULL: a model compiled from a document that shares unchanged parts
	 * with this one, and that holds them still. A NACL rule read from the very
	 * same JSON object is taken as read then (10,000 rules: milliseconds); this
	 * relies on the document never being changed in place, only copied on write
	 * (see vpc/edit.h). */
	const struct topology *prev;
};

/* Validates `doc` and builds the model. On error returns -EINVAL with `err` set
 * (code, JSON path, message) and *out untouched. */
int topo_compile(const json_t *doc, const struct compile_opts *o, struct topology **out,
		 struct vpc_err *err);

/* The allocations of a compiled model, to feed the next compile. */
json_t *topo_alloc_json(const struct topology *t);

/* The compiled model as the JSON `vpcctl show -o json` prints. */
json_t *topo_show_json(const struct topology *t, int only_vpc);
/* The same for one security group only: {"vpcs": [{"name", "security_groups":
 * [the group, if there is one of that name]}]}. */
json_t *topo_show_sg_json(const struct topology *t, int vi, const char *name);

#endif
