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

#endif
