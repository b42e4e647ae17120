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

/*
 * A NACL's entries in the text form of `vpcctl nacl load` and `nacl export`, one
 * a line, in the columns `vpcctl nacl show` prints:
 *
 *   # direction rule protocol ports|icmp cidr        action
 *   inbound     100  tcp      80         0.0.0.0/0   allow
 *   inbound     110  icmp     8/0        10.0.0.0/8  allow
 *   outbound    100  tcp      1024-65535 0.0.0.0/0   allow
 *   outbound    200  all      -          0.0.0.0/0   deny
 *
 * ports|icmp is a port or range for tcp and udp, TYPE or TYPE/CODE for icmp, and
 * "-" for all of them (the only value for other protocols). `#` starts a comment.
 * The entries are checked as a topology file's are; an error's path is
 * "line N.FIELD". The parsed rules are sorted by number; free() both arrays.
 */
struct nacl_entries {
	struct nacl_rule *in, *out;
	size_t n_in, n_out;
};
int nacl_text_parse(const char *text, size_t len, struct nacl_entries *e, struct vpc_err *err);

/*
 * One direction of a NACL's entries, read apart from the document (by `nacl
 * load`, or by topo_load()): the document is compiled with none for it, the
 * rules go into the model (topo_nacl_set), and into the document once the
 * kernel has them (see vpcd_change_lists).
 */
struct nacl_list {
	const char *vpc, *nacl; /* their names */
	bool out;		/* outbound, else inbound */
	struct nacl_rule *r;	/* sorted by number */
	size_t n;
	json_t *obj; /* topo_load(): the NACL's object in the document read */
	int vi, ni;  /* where the model has the NACL, once the rules are in it */
};
struct nacl_lists {
	struct nacl_list *l;
	size_t n;
};
void nacl_lists_free(struct nacl_lists *ls);

/* A topology document, as json_loadb() reads it, except that a NACL's entries
 * list of many entries, all in the plainest form (lower-case names, ports as a
 * number or "N-M", no description), goes into `ls` instead of the document,
 * where the list is left empty: 10,000 entries take a millisecond or two, not
 * twenty. Errors are jansson's, as json_loadb() gives them. text[len] must be
 * 0 (the scan's sentinel). */
json_t *topo_load(const char *text, size_t len, struct nacl_lists *ls, json_error_t *je);

/* A compiled model with the rules of one direction of a NACL replaced (the
 * document it was compiled from had none for it) ... */
void topo_nacl_set(struct topology *t, int vi, int ni, bool out, const struct nacl_rule *r,
		   size_t n);
/* ... and then tied to their JSON objects, once the document has them (an array
 * in rule order), for the memo of the next compile. */
void topo_nacl_src(struct topology *t, int vi, int ni, bool out, const json_t *arr);
/* A VPC's default NACL as a topology file would write it, before anyone edits it. */
json_t *topo_default_nacl_json(void);
/* NACL rules as a topology file writes them. */
json_t *topo_nacl_rules_json(const struct nacl_rule *r, size_t n);

/* The allocations of a compiled model, to feed the next compile. */
json_t *topo_alloc_json(const struct topology *t);

/* The compiled model as the JSON `vpcctl show -o json` prints. */
json_t *topo_show_json(const struct topology *t, int only_vpc);
/* The same for one security group only: {"vpcs": [{"name", "security_groups":
 * [the group, if there is one of that name]}]}. */
json_t *topo_show_sg_json(const struct topology *t, int vi, const char *name);

#endif
