/* The security-group table of a VPC router, through libnftnl + libmnl. */
#ifndef VPCD_NFT_H
#define VPCD_NFT_H

#include <libmnl/libmnl.h>

#include "vpc/plan.h"
#include "vpc/sg.h"

#define NFT_FORWARD_CHAIN "forward"
#define NFT_MAP_IN	  "in_dispatch"
#define NFT_MAP_OUT	  "out_dispatch"

/* A netfilter netlink socket in the namespace the thread is in. */
int nft_open(struct mnl_socket **out);
/* Reads object names and dispatch entries of our table; table=false if absent. */
int nft_observe(struct mnl_socket *nl, struct obs_nft *out);
/*
 * Makes the table hold exactly `want` (creating the table, its base chain and
 * maps when `have` says it is missing), as one batch that applies completely or
 * not at all. `have` must be a fresh observation.
 */
int nft_sync(struct mnl_socket *nl, const struct sg_objects *want, const struct obs_nft *have,
	     char *errbuf, size_t errlen);

/* Fixed ifindexes inside an internet-gateway namespace. */
#define IGW_IF_ROUTER 2 /* "vpc-r", to the VPC router */
#define IGW_IF_INET   3 /* "vpc-inet", to the simulated internet */

/*
 * The internet gateway's table: 1:1 NAT through two maps (public -> private at
 * prerouting, private -> public at postrouting), and a forward filter that lets
 * in only what was addressed to a public IP and lets out only what has one.
 * With pairs == NULL only the base objects are created (if missing).
 */
int nft_igw_sync(struct mnl_socket *nl, const struct nat_pair *pairs, size_t n, bool have_table,
		 char *errbuf, size_t errlen);
/* Pairs of the public -> private map, sorted by public; *present = table exists. */
int nft_igw_observe(struct mnl_socket *nl, struct nat_pair **pairs, size_t *n, bool *present);
/* The uplink's table in vpcd's own namespace: masquerade the pool and the internet
 * host out of `ifname`. With ifname == NULL, only remove the table. */
int nft_uplink(struct mnl_socket *nl, const char *table, const char *ifname, uint32_t pool,
	       uint8_t pool_len, uint32_t host, char *errbuf, size_t errlen);
/* A NAT gateway's table: masquerade what it forwards out of eth0. */
int nft_natgw_table(struct mnl_socket *nl, char *errbuf, size_t errlen);

#endif
