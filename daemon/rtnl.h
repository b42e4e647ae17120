/*
 * Route netlink through libnl: messages are built with libnl's message API and sent
 * in batches (many requests, one sendmsg), every acknowledgement checked.
 */
#ifndef VPCD_RTNL_H
#define VPCD_RTNL_H

#include <netlink/msg.h>
#include <netlink/socket.h>
#include <stdbool.h>
#include <stdint.h>

/* Our routes carry this protocol number, so we can tell them from anyone else's. */
#define VPC_RTPROT 0xA5

/* Opens a NETLINK_ROUTE socket in the namespace the calling thread is in. */
int rtnl_open(struct nl_sock **out);

struct nlbatch {
	struct nl_sock *sk;
	char *buf;
	size_t len, cap;
	unsigned n;
	uint32_t seq0;
	int failed; /* index of the first request that failed, -1 if none */
	char errmsg[256];
};

void nlb_init(struct nlbatch *b, struct nl_sock *sk);
/* Appends the request and frees `m`. */
int nlb_add(struct nlbatch *b, struct nl_msg *m);
/* Sends what is queued and waits for every acknowledgement. Returns 0 or the first
 * error (-errno), with the kernel's extended-ack text in b->errmsg. The batch is
 * empty afterwards and can be reused. */
int nlb_commit(struct nlbatch *b);
void nlb_free(struct nlbatch *b);

/* Request builders. Return NULL only on out-of-memory. */
struct nl_msg *rq_link_up(int ifindex);
struct nl_msg *rq_link_del(int ifindex);
/* A veth created in the socket's namespace as (ifindex, name, mac), up, with its peer
 * (peer_ifindex, peer_name) created, down, in the namespace `peer_nsfd`. */
struct nl_msg *rq_veth(int ifindex, const char *name, const uint8_t *mac, int peer_ifindex,
		       const char *peer_name, int peer_nsfd);
/* Sets the ARP table's proxy_delay (ms) of one interface. */
struct nl_msg *rq_neigh_proxy_delay(int ifindex, uint64_t ms);
struct nl_msg *rq_addr(int cmd, int ifindex, uint32_t ip, int prefixlen);
struct route_rq {
	int cmd; /* RTM_NEWROUTE / RTM_DELROUTE */
	uint32_t table;
	uint32_t dst;
	int dst_len;
	uint32_t gw;   /* 0: none */
	int oif;       /* 0: none */
	int type;      /* RTN_UNICAST, RTN_BLACKHOLE, ... */
	int scope;     /* RT_SCOPE_UNIVERSE / RT_SCOPE_LINK */
	bool replace;
	bool onlink;   /* the gateway is on the link, whatever the routes say */
	uint32_t prefsrc; /* 0: none */
};
/* "fwmark MARK lookup TABLE", ours (protocol VPC_RTPROT). */
struct nl_msg *rq_rule(int cmd, uint32_t mark, uint32_t table, uint32_t prio);
struct rule_info {
	uint32_t mark, table;
	int protocol;
};
int rtnl_dump_rules(struct nl_sock *sk, int (*cb)(const struct rule_info *, void *), void *arg);
struct nl_msg *rq_route(const struct route_rq *r);

/* Dumps. Callbacks get parsed attributes; return nonzero to stop. */
struct link_info {
	int ifindex;
	const char *name;
	const char *alias; /* "" when none */
	bool up;
};
/* Sets a link's alias (its ifalias), where we keep a note about it. */
struct nl_msg *rq_link_alias(int ifindex, const char *alias);
int rtnl_dump_links(struct nl_sock *sk, int (*cb)(const struct link_info *, void *), void *arg);
struct addr_info {
	int ifindex;
	uint32_t ip;
	int prefixlen;
};
int rtnl_dump_addrs(struct nl_sock *sk, int (*cb)(const struct addr_info *, void *), void *arg);
struct route_info {
	uint32_t table;
	uint32_t dst;
	int dst_len;
	int oif;
	int protocol;
	int type;
	uint32_t gw;
};
int rtnl_dump_routes(struct nl_sock *sk, int (*cb)(const struct route_info *, void *), void *arg);

#endif
