/*
 * Names of every kernel object vpcd owns. All carry the project prefix so that the
 * daemon can find its own objects (and orphans after a crash) and never touch
 * anything else. Interface names fit IFNAMSIZ (15 characters).
 */
#ifndef VPC_NAMES_H
#define VPC_NAMES_H

#include <stdint.h>
#include <stdio.h>

#define VPC_NETNS_DIR	  "/run/netns"
#define VPC_NS_PREFIX	  "vpc."
#define VPC_NS_INTERNET	  "vpc.internet"
#define VPC_IF_PREFIX	  "vpc-"
#define VPC_BPF_PIN_DIR	  "/sys/fs/bpf/vpcd"
#define VPC_NFT_TABLE	  "vpcd"

#define VPC_DEFAULT_RUN_DIR   "/run/vpcd"
#define VPC_DEFAULT_STATE_DIR "/var/lib/vpcd"
#define VPC_SOCKET_NAME	      "vpcd.sock"
#define VPC_LOCK_PATH	      "/run/vpcd.lock"

#define NS_NAME_MAX 96
#define IF_NAME_MAX 16

/* Namespaces: router "vpc.<vpc>", instance "vpc.<vpc>.i.<inst>", NAT gateway
 * "vpc.<vpc>.n.<nat>", internet gateway "vpc.<vpc>.igw". Names cannot contain '.',
 * so these never collide. */
static inline void ns_router(char *buf, const char *vpc)
{
	snprintf(buf, NS_NAME_MAX, VPC_NS_PREFIX "%s", vpc);
}
static inline void ns_instance(char *buf, const char *vpc, const char *inst)
{
	snprintf(buf, NS_NAME_MAX, VPC_NS_PREFIX "%s.i.%s", vpc, inst);
}
static inline void ns_natgw(char *buf, const char *vpc, const char *nat)
{
	snprintf(buf, NS_NAME_MAX, VPC_NS_PREFIX "%s.n.%s", vpc, nat);
}
static inline void ns_igw(char *buf, const char *vpc)
{
	snprintf(buf, NS_NAME_MAX, VPC_NS_PREFIX "%s.igw", vpc);
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

#endif
