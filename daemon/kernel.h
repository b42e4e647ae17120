/* The thin layer that reads the kernel into `struct observed` and carries out plans. */
#ifndef VPCD_KERNEL_H
#define VPCD_KERNEL_H

#include <libmnl/libmnl.h>
#include <netlink/socket.h>

#include "vpc/err.h"
#include "vpc/nacl_abi.h"
#include "vpc/plan.h"

struct router_handle;
struct ns_handle;

/* Handles are allocated one by one: a pointer to one stays valid while others
 * are opened. */
struct kernel {
	struct router_handle **routers;
	size_t n_routers;
	struct ns_handle **others; /* internet, gateways */
	size_t n_others;
	struct nl_sock *home_sk;	 /* vpcd's own namespace: the uplink only */
	struct mnl_socket *home_nft;
	/* Of the last kernel_execute's check operations (re-asserting what should
	 * be there), how many found it missing and put it back. */
	unsigned repaired;
};

int kernel_init(struct kernel *k);
void kernel_close(struct kernel *k);
int kernel_observe(struct kernel *k, struct observed *out);
/* Executes the plan; stops at the first failure with `err` set. */
int kernel_execute(struct kernel *k, const struct topology *t, const struct plan *p,
		   struct vpc_err *err);
/* Tidies up after changes, off the path of a change: NACL patches of
 * `compact_min` changes or more become full tables, and tables and counters
 * nothing uses go. Returns the number of patches still in use. */
size_t kernel_gc(struct kernel *k, uint32_t compact_min);

/* Whether the VPC's router is there with its NACL program and maps open: what a
 * change of NACL entries alone needs (see vpcd_change). */
bool kernel_nacls_ready(struct kernel *k, const char *vpc);

/* Counters of a NACL direction (`owner`) of `vpc`: out[i] for rules[i], out[n]
 * for the final deny. */
int kernel_nacl_counters(struct kernel *k, const char *vpc, uint64_t owner,
			 const struct nacl_rule *rules, size_t n, struct nacl_counter *out);

#endif
