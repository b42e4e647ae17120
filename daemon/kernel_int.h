/* Shared by the kernel layer's files (kernel.c, edge.c); not an API. */
#ifndef VPCD_KERNEL_INT_H
#define VPCD_KERNEL_INT_H

#include <libmnl/libmnl.h>

#include "bpf.h"
#include "kernel.h"
#include "rtnl.h"

struct router_handle {
	char vpc[VPC_NAME_MAX + 1];
	int nsfd;
	struct nl_sock *sk;
	struct nlbatch batch; /* router-side requests queued by instance creation */
	struct vpc_bpf bpf;   /* the VPC's NACL program, when has_bpf */
	bool has_bpf;
	struct mnl_socket *nft; /* nftables, in the router namespace */
};

/* A namespace we talk to: an fd to enter it and sockets opened inside. */
struct ns_handle {
	char name[NS_NAME_MAX];
	int nsfd;
	struct nl_sock *sk;
	struct mnl_socket *nft;
};

int router_get(struct kernel *k, const char *vpc, struct router_handle **out);
void router_forget(struct kernel *k, const char *vpc);
int kfail(struct vpc_err *err, int e, const char *what, const char *extack);
int flush_router(struct router_handle *r, struct vpc_err *err, const char *what);

/* Opens (or reuses) sockets in namespace `name`; -ENOENT when it does not exist. */
int ns_get(struct kernel *k, const char *name, struct ns_handle **out);
void ns_forget(struct kernel *k, const char *name);
/* Deletes the links of namespace `name` that reach other namespaces (all but lo
 * and router ports), so their peers go now rather than when the kernel gets to
 * cleaning the namespace up. */
void ns_cut_links(const char *name);

/* edge.c */
int edge_observe(struct kernel *k, struct observed *o);
int edge_execute(struct kernel *k, const struct topology *t, const struct op *o,
		 struct vpc_err *err);

#endif
