/*
 * The compiled topology: what the user asked for, validated, with every reference
 * resolved to an index and every address allocated. Built by topo_compile() from the
 * desired-state JSON; everything lives in one arena.
 */
#ifndef VPC_MODEL_H
#define VPC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpc/cidr.h"

#define VPC_NAME_MAX	  32
#define VPC_NACL_RULE_MIN 1
#define VPC_NACL_RULE_MAX 32766
/* Explicit limits, checked at validation time (see ARCHITECTURE.md, section 9.6). */
#define VPC_MAX_VPCS		  64
#define VPC_MAX_INSTANCES_PER_VPC 4000
#define VPC_MAX_NACL_RULES	  16384 /* per direction */
#define VPC_MAX_SG_RULES	  16384 /* per group and direction */
#define VPC_MAX_SGS_PER_INSTANCE  16
#define VPC_MAX_ROUTES		  1024 /* per table */

/* Kernel routing tables of route tables: base + id (clear of main, 254, and friends);
 * the same number is the packet mark that selects them and the rule's priority. */
#define VPC_RT_TABLE_BASE 1000

#define PROTO_ALL  (-1)
#define PROTO_ICMP 1
#define PROTO_TCP  6
#define PROTO_UDP  17

/* What a NACL or group rule matches besides the address. */
struct match {
	int proto;		  /* PROTO_ALL or 0..255 */
	uint16_t port_lo, port_hi; /* tcp/udp only; 0..65535 when not given */
	int icmp_type, icmp_code; /* -1 = any; icmp only */
};

struct nacl_rule {
	uint16_t number;
	bool allow;
	struct match m;
	struct cidr cidr;
	const void *src; /* the JSON object it was read from (NULL: built in) */
};

struct nacl {
	const char *name;
	bool implicit; /* the VPC's built-in default NACL */
	struct nacl_rule *in, *out; /* sorted by rule number */
	size_t n_in, n_out;
	uint64_t hash_in, hash_out; /* nacl_rules_hash() of each direction */
};

struct sg_rule {
	struct match m;
	bool is_group;
	struct cidr cidr; /* when !is_group */
	int group_vpc;	  /* when is_group: index of the group's VPC ... */
	int group;	  /* ... and of the group in it */
};

struct sg {
	const char *name;
	bool implicit;
	struct sg_rule *in, *out;
	size_t n_in, n_out;
};

enum route_target {
	RT_LOCAL,
	RT_IGW,
	RT_NAT,
	RT_PEERING,
	RT_INSTANCE,
	RT_BLACKHOLE,
};

struct route {
	struct cidr dest;
	enum route_target target;
	int target_idx; /* NAT gateway, peering or instance index */
};

struct route_table {
	const char *name;
	bool main;
	bool implicit;
	struct route *routes; /* the local route first */
	size_t n_routes;
	uint32_t table_id; /* kernel routing table number in the router namespace */
};

struct subnet {
	const char *name;
	struct cidr cidr;
	int route_table;
	int nacl;
	uint32_t id; /* stable small number, used for kernel-side keys */
};

struct nat_gateway {
	const char *name;
	int subnet;
	uint32_t private_ip;
	uint32_t public_ip;
	uint32_t id; /* shares the instance id space: it owns a port like an instance */
};

struct instance {
	const char *name;
	int subnet;
	uint32_t private_ip;
	bool public_ip_wanted;
	uint32_t public_ip; /* 0 when none (auto-assigned or elastic) */
	bool public_ip_elastic;
	bool source_dest_check;
	int *sgs;
	size_t n_sgs;
	uint32_t id;
	uint8_t mac[6];
};

struct vpc {
	const char *name;
	struct cidr cidr;
	bool internet_gateway;
	struct subnet *subnets;
	size_t n_subnets;
	struct route_table *route_tables;
	size_t n_route_tables;
	int main_route_table;
	struct nat_gateway *nat_gateways;
	size_t n_nat_gateways;
	struct nacl *nacls;
	size_t n_nacls;
	int default_nacl;
	struct sg *sgs;
	size_t n_sgs;
	int default_sg;
	struct instance *instances;
	size_t n_instances;
	uint32_t id; /* stable small number */
};

struct peering {
	const char *name;
	int vpc[2];
	uint32_t id;
};

struct elastic_ip {
	uint32_t addr;
	int vpc, instance; /* -1 when not associated */
};

struct topology {
	struct arena *arena;
	struct vpc *vpcs;
	size_t n_vpcs;
	struct peering *peerings;
	size_t n_peerings;
	struct elastic_ip *eips;
	size_t n_eips;
	struct cidr public_pool;
	uint32_t internet_host; /* the simulated internet's own address */
	char uplink[16];	/* opt-in: a host interface to masquerade out of ("" = none) */
	/* NACL rules by the JSON object they were read from, for the next compile. */
	struct rule_memo *memo;
	size_t memo_cap; /* a power of two, or 0 */
};

struct rule_memo {
	const void *src; /* the rule's JSON object; NULL: a free slot */
	struct nacl_rule r;
};

int topo_find_vpc(const struct topology *t, const char *name);
int vpc_find_instance(const struct vpc *v, const char *name);
int vpc_find_subnet(const struct vpc *v, const char *name);
int vpc_find_nacl(const struct vpc *v, const char *name);
void topo_free(struct topology *t);

/* True when the subnet's route table sends some destination to the internet gateway. */
bool subnet_is_public(const struct vpc *v, const struct subnet *s);

#endif
