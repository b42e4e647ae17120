/*
 * Names of every kernel object vpcd owns. All carry the project prefix so that the
 * daemon can find its own objects (and orphans after a crash) and never touch
 * anything else. Interface names fit IFNAMSIZ (15 characters).
 */
#ifndef VPC_NAMES_H
#define VPC_NAMES_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define VPC_NETNS_DIR	  "/run/netns"
#define VPC_IF_PREFIX	  "vpc-"
#define VPC_NFT_TABLE	  "vpcd"

#define VPC_DEFAULT_PREFIX    "vpc"
#define VPC_DEFAULT_RUN_DIR   "/run/vpcd"
#define VPC_DEFAULT_STATE_DIR "/var/lib/vpcd"
#define VPC_SOCKET_NAME	      "vpcd.sock"

/*
 * The instance prefix, "vpc" unless vpcd runs with --prefix: it starts every
 * namespace name ("vpc.shop", "vpc.internet") and names the lock and the BPF pin
 * directory, so two vpcd instances on one host never see each other's objects.
 * Interface names live inside our namespaces and need no such care.
 */
extern char vpc_prefix[24];
int vpc_set_prefix(const char *p); /* 1-16 of [a-z0-9-], -EINVAL otherwise */
/* "/run/vpcd.lock" for the default prefix, "/run/vpcd.P.lock" otherwise. */
void vpc_lock_path(char *buf, size_t len);
/* "/sys/fs/bpf/vpcd" or "/sys/fs/bpf/vpcd-P" (bpffs refuses dots in names). */
void vpc_pin_dir(char *buf, size_t len);

#define NS_NAME_MAX 96
#define IF_NAME_MAX 16

/* Namespaces: router "vpc.<vpc>", instance "vpc.<vpc>.i.<inst>", NAT gateway
 * "vpc.<vpc>.n.<nat>", internet gateway "vpc.<vpc>.igw". Names cannot contain '.',
 * so these never collide. */
static inline void ns_router(char *buf, const char *vpc)
{
	snprintf(buf, NS_NAME_MAX, "%s.%s", vpc_prefix, vpc);
}
static inline void ns_instance(char *buf, const char *vpc, const char *inst)
{
	snprintf(buf, NS_NAME_MAX, "%s.%s.i.%s", vpc_prefix, vpc, inst);
}
static inline void ns_natgw(char *buf, const char *vpc, const char *nat)
{
	snprintf(buf, NS_NAME_MAX, "%s.%s.n.%s", vpc_prefix, vpc, nat);
}
static inline void ns_igw(char *buf, const char *vpc)
{
	snprintf(buf, NS_NAME_MAX, "%s.%s.igw", vpc_prefix, vpc);
}
static inline void ns_internet(char *buf)
{
	snprintf(buf, NS_NAME_MAX, "%s.internet", vpc_prefix);
}
/* The VPC part of a namespace name: "shop" of "vpc.shop" and "vpc.shop.i.web1";
 * NULL when the name does not carry our prefix. */
static inline const char *ns_vpc_part(const char *ns)
{
	size_t n = strlen(vpc_prefix);
	return strncmp(ns, vpc_prefix, n) || ns[n] != '.' ? NULL : ns + n + 1;
}

/* Interfaces in a router namespace: a port per instance or NAT gateway. */
static inline void if_port(char *buf, uint32_t id)
{
	snprintf(buf, IF_NAME_MAX, VPC_IF_PREFIX "i%u", id);
}
/* Ports get a fixed ifindex so the router's routes can name them without a lookup. */
#define VPC_PORT_IFINDEX_BASE 1000u
static inline int port_ifindex(uint32_t id)
{
	return (int)(VPC_PORT_IFINDEX_BASE + id);
}
#define VPC_INSTANCE_IFNAME "eth0"

/*
 * Links at the edges, with fixed ifindexes (routes name them without a lookup)
 * and link-local addresses:
 *   router "vpc-igw" 169.254.0.1/30  <->  IGW "vpc-r" 169.254.0.2/30
 *   IGW "vpc-inet" 169.254.V.2/30    <->  internet "vpc-g<V>" 169.254.V.1/30 (V = VPC id)
 *   router "vpc-p<P>" 169.254.128.0 + 2P + side /31, one per peering P
 */
#define VPC_IGW_IFINDEX	     10
#define VPC_IGW_IFNAME	     VPC_IF_PREFIX "igw"
#define VPC_IGW_ROUTER_ADDR  0xa9fe0001u /* 169.254.0.1 */
#define VPC_IGW_ADDR	     0xa9fe0002u /* 169.254.0.2 */
#define VPC_PEER_IFINDEX_BASE 100000
#define VPC_MAX_PEERING_ID   16000
static inline void if_peering(char *buf, uint32_t id)
{
	snprintf(buf, IF_NAME_MAX, VPC_IF_PREFIX "p%u", id);
}
static inline uint32_t peering_addr(uint32_t id, int side)
{
	return 0xa9fe8000u + 2 * id + (uint32_t)side; /* 169.254.128.0/17 */
}
/* The opt-in uplink: internet "vpc-uplink" (ifindex 9) 169.254.255.2/30 <-> a veth
 * in vpcd's own namespace 169.254.255.1/30, named after the prefix. */
#define VPC_UPLINK_IFINDEX   9
#define VPC_UPLINK_INET_ADDR 0xa9feff02u
#define VPC_UPLINK_HOST_ADDR 0xa9feff01u
static inline void if_uplink_host(char *buf)
{
	snprintf(buf, IF_NAME_MAX, "vpcup-%.9s", vpc_prefix);
}
static inline uint32_t inet_link_addr(uint32_t vpc_id, int igw_side)
{
	return 0xa9fe0000u | vpc_id << 8 | (igw_side ? 2u : 1u);
}

#endif
