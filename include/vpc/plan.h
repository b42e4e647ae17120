/*
 * Planning: desired model + what the kernel holds -> the list of kernel operations
 * that makes the kernel match. Pure code; the daemon's executor carries it out.
 *
 * Rollback is planning too: after a failed change the daemon observes the kernel
 * again and plans back to the previous model.
 */
#ifndef VPC_PLAN_H
#define VPC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpc/model.h"
#include "vpc/nacl_abi.h"
#include "vpc/names.h"
#include "vpc/sg.h"

/* A route in a router namespace's main table that points out of a port. */
struct obs_route {
	uint32_t dst;
	uint32_t port_id;
};

struct obs_table {
	uint32_t id;
	uint64_t hash; /* content hash of its rules */
};

/* What the router's nftables table holds: object names and dispatch entries. */
struct obs_disp {
	uint32_t ifindex;
	char chain[80];
};

struct obs_nft {
	bool table;	/* the table (with its base chain and maps) exists */
	char **sets;	/* names of the group sets, sorted */
	size_t n_sets;
	char **chains;	/* names of the instance chains, sorted */
	size_t *chain_rules; /* how many rules each of them holds */
	size_t n_chains;
	size_t base_rules; /* how many rules the base chain holds */
	struct obs_disp *in, *out; /* dispatch map entries, sorted by ifindex */
	size_t n_in, n_out;
};

/* A route in one of the route-table kernel tables (ours: protocol VPC_RTPROT). */
struct obs_rt {
	uint32_t table, dst, gw;
	int oif;
	uint8_t len, type;
};

struct obs_rule {
	uint32_t mark, table;
};

/* One private<->public pair of an internet gateway. Host order. */
struct nat_pair {
	uint32_t pub, priv;
};

struct obs_inet_route {
	uint32_t dst; /* a public address */
	uint32_t vpc_id; /* the VPC whose gateway the internet sends it to */
};

struct obs_router {
	const char *vpc; /* name, from the namespace name */
	uint32_t *ports; /* ids of vpc-i<id> links, sorted */
	size_t n_ports;
	struct obs_route *routes; /* /32 routes, sorted by dst */
	size_t n_routes;
	uint32_t *gateways; /* addresses on lo (subnet routers), sorted */
	size_t n_gateways;
	/* The VPC's NACL program, when it is pinned: */
	bool bpf;
	struct port_cfg *port_cfgs;	/* NACL_MAX_PORTS entries */
	struct subnet_cfg *subnet_cfgs; /* NACL_MAX_SUBNETS entries */
	struct obs_table *tables;	/* live NACL tables */
	size_t n_tables;
	struct obs_nft nft; /* the security-group table */
	struct obs_rt *rts;  /* sorted (table, dst, len) */
	size_t n_rts;
	struct obs_rule *rules; /* sorted by mark */
	size_t n_rules;
	uint32_t *peer_links; /* ids of the peerings whose link is here, sorted */
	size_t n_peer_links;
	bool igw_link;	      /* the link to the internet gateway is here */
	bool igw_table;	      /* the gateway's NAT table exists */
	struct nat_pair *nat; /* its public -> private map, sorted by public */
	size_t n_nat;
};

struct observed {
	char **ns; /* namespaces carrying the prefix, sorted */
	size_t n_ns;
	char **stale; /* files in /run/netns with the prefix that are no namespace */
	size_t n_stale;
	struct obs_router *routers; /* one per router namespace found */
	size_t n_routers;
	char **pinned; /* VPCs with a pinned NACL program */
	size_t n_pinned;
	uint32_t *inet_links; /* VPC ids whose gateway link reaches the internet, sorted */
	size_t n_inet_links;
	struct obs_inet_route *inet_routes; /* the internet's routes to public IPs, sorted */
	size_t n_inet_routes;
	/* The opt-in uplink, seen from vpcd's own namespace: */
	bool uplink;	       /* our host-side link or NAT table exists */
	char uplink_via[16];   /* the interface it is set up for */
};

enum op_kind {
	OP_PORT_DELETE, /* vpc, id */
	OP_NS_DELETE,	/* name */
	OP_GW_DEL,	/* vpc, addr */
	OP_PIN_DELETE,	/* name: pins of a VPC that is gone */
	OP_VPC_CREATE,	/* vpc (with its NACL program) */
	OP_VPC_ENSURE,	/* vpc: re-assert the router's settings (drift repair) */
	OP_BPF_LOAD,	/* vpc: the router is there but its NACL program is not */
	OP_GW_ADD,	/* vpc, subnet */
	OP_NACL_SYNC,	/* vpc: subnet entries (NACL tables, route mark) as the model says */
	OP_INST_CREATE, /* vpc, instance */
	OP_INST_ENSURE, /* vpc, instance: re-assert addresses and routes (drift repair) */
	OP_PORT_SETUP,	/* vpc, instance: filters attached, port entry as the model says */
	OP_SG_SYNC,	/* vpc: the security-group table as the model says (one batch) */
	OP_ROUTES_SYNC, /* vpc: route tables (kernel tables and their mark rules) */
	OP_INTERNET_CREATE, /* the simulated internet */
	OP_IGW_CREATE,	    /* vpc: its internet gateway and links */
	OP_IGW_SYNC,	    /* vpc: the gateway's NAT map and the internet's routes to it */
	OP_NATGW_CREATE,    /* vpc, NAT gateway */
	OP_NATGW_SETUP,	    /* vpc, NAT gateway: its port's filter entry and attachment */
	OP_PEERING_CREATE,  /* peering (idx): the link between two routers */
	OP_PEER_LINK_DELETE, /* vpc (name), id: a peering link that should not be there */
	OP_UPLINK_DELETE,   /* take the uplink down, restoring the host interface */
	OP_UPLINK_CREATE,   /* the uplink, as the topology says */
};

struct op {
	enum op_kind kind;
	bool check; /* a deep reconcile re-asserting, not a change */
	int vpc; /* index in the target model, -1 for deletions of unknown objects */
	int idx; /* subnet or instance index */
	uint32_t id;
	uint32_t addr;
	char name[NS_NAME_MAX]; /* namespace (OP_NS_DELETE) or VPC name (others) */
};

struct plan {
	struct op *ops;
	size_t n, cap;
	/* Per VPC, the security-group objects planning compiled to compare with the
	 * kernel, kept for the OP_SG_SYNC that follows (`a` NULL: none). */
	struct sg_objects *sg;
	size_t n_sg;
};

/*
 * `prev`: what the kernel was built from (NULL when unknown). What observation
 * cannot see inside an instance — its subnet's prefix, the VPC's CIDR behind an
 * internet gateway — is compared with it, and rebuilt when it changed.
 * `deep`: also re-assert the configuration of everything that looks intact.
 */
int plan_build(const struct topology *next, const struct topology *prev,
	       const struct observed *obs, bool deep, struct plan *out);
void plan_free(struct plan *p);
const char *op_kind_name(enum op_kind k);

/* The kernel side of the VPC's route tables. *out is malloc'ed and sorted. */
int want_routes(const struct topology *t, int vi, struct obs_rt **out, size_t *n);
int want_rules(const struct vpc *v, struct obs_rule **out, size_t *n);
int cmp_obs_rt(const void *a, const void *b);
int cmp_obs_rule(const void *a, const void *b);

/* What the NACL program should hold for a port and a subnet. */
void want_port_cfg(const struct vpc *v, const struct instance *in, struct port_cfg *out);
void want_natgw_port_cfg(const struct vpc *v, const struct nat_gateway *g, struct port_cfg *out);
/* The internet gateway's public -> private pairs, sorted by public. */
int want_nat_pairs(const struct vpc *v, struct nat_pair **out, size_t *n);
void natgw_mac(const struct nat_gateway *g, uint8_t mac[6]);
void want_subnet_cfg(const struct vpc *v, const struct subnet *s, struct subnet_cfg *out,
		     uint64_t *hash_in, uint64_t *hash_out);

const struct obs_router *obs_find_router(const struct observed *o, const char *vpc);
bool obs_has_ns(const struct observed *o, const char *name);
void observed_free(struct observed *o);
void obs_router_free(struct obs_router *r);
void obs_nft_free(struct obs_nft *n);
/* Is chain `c` there with all its rules (a chain's name says what its rules
 * are, so their number tells whether someone took some away)? */
bool obs_nft_chain_ok(const struct obs_nft *n, const struct sg_chain *c);

#endif
