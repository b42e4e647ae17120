/*
 * What the NACL eBPF program and vpcd share: map layouts and constants.
 * Included by bpf/nacl.bpf.c and by the daemon, so both sides agree by
 * construction. Addresses are in network byte order, as they sit in packets.
 *
 * One program object per VPC (pinned under the VPC's pin directory), attached to
 * every port of the VPC router:
 *   ports[port id]      -> the instance behind the port (address, MAC, checks, subnet)
 *   subnets[subnet id]  -> the subnet's prefix and its NACL tables (inbound, outbound)
 *   a NACL table, by table id:
 *     tables     {rules, words per bitmap, content hash}
 *     addr_lpm   (table, remote address) -> address class
 *     l4_lpm     (table, protocol, port or ICMP type << 8 | code) -> l4 class
 *     bits       (table, class, chunk) -> 64 words of the class's rule bitmap
 *     rules      (table, index) -> {rule number, allow}
 *     counters   (table, index) -> per-CPU packets/bytes; index = rules: final deny
 * The first rule (lowest number) set in bits[address class] & bits[l4 class]
 * decides; a verdict cache keyed by (table, address, protocol, port) makes the
 * common case one hash lookup whatever the number of rules.
 *
 * Tables are never edited in place: a change builds a new table under a new id and
 * flips the subnet's entry to it with one map update, so a packet is judged by the
 * old rules or the new ones, never by a mix. A retired table loses its `tables`
 * entry first; a packet that still meets the old id re-reads the subnet.
 */
#ifndef VPC_NACL_ABI_H
#define VPC_NACL_ABI_H

#ifdef __BPF__
#include <linux/types.h>
#else
#include <linux/types.h>
#endif

#define NACL_MAX_PORTS	   8192 /* port ids (instances + NAT gateways of a VPC) */
#define NACL_MAX_SUBNETS   8192
#define NACL_MAX_TABLES	   4096 /* live table ids per VPC, old and new together */
#define NACL_MAX_RULES	   16384
#define NACL_MAX_WORDS	   (NACL_MAX_RULES / 64 + 1)
#define NACL_CHUNK_WORDS   64 /* a bitmap is stored in chunks of 64 words (4096 rules) */
#define NACL_MAX_CHUNKS	   ((NACL_MAX_WORDS + NACL_CHUNK_WORDS - 1) / NACL_CHUNK_WORDS)
#define NACL_LPM_MAX	   (1 << 22)
#define NACL_BITS_MAX	   (1 << 20)
#define NACL_RULES_MAX	   (1 << 20)
#define NACL_CACHE_ENTRIES 65536

#define PORT_F_VALID  1
#define PORT_F_SRCDST 2 /* source/destination check on */

struct port_cfg {
	__u32 ip;
	__u8 mac[6];
	__u8 flags;
	__u8 pad;
	__u32 subnet;
};

struct subnet_cfg {
	__u32 net;  /* network byte order */
	__u32 mask; /* network byte order */
	__u32 table_in;
	__u32 table_out;
	/* Packets leaving the subnet's instances get this mark; a policy rule sends
	 * each mark to the kernel table of the subnet's route table. */
	__u32 rt_mark;
	__u32 pad;
};

/* LPM keys start with the table id (big-endian), so one trie holds every table:
 * prefixlen = 32 + the prefix length within the table. */
struct nacl_addr_key {
	__u32 prefixlen; /* 32..64 */
	__u8 table[4];
	__u32 addr;
};

/* Protocol byte, then the port (or ICMP type << 8 | code) big-endian. */
struct nacl_l4_key {
	__u32 prefixlen; /* 32..56 */
	__u8 table[4];
	__u8 data[4];
};

struct nacl_table_meta {
	__u32 nrules;
	__u32 nwords;
	__u64 hash; /* content hash of the rules, to compare without reading them */
	__u32 nclasses;
	__u32 pad;
};

struct nacl_bits_key {
	__u32 table;
	__u32 cls;
	__u32 chunk;
};

struct nacl_chunk {
	__u64 w[NACL_CHUNK_WORDS];
};

struct nacl_rule_key {
	__u32 table;
	__u32 idx;
};

struct nacl_rule_val {
	__u32 number;
	__u32 allow;
};

struct nacl_counter {
	__u64 packets;
	__u64 bytes;
};

struct nacl_cache_key {
	__u32 table;
	__u32 remote;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct nacl_cache_val {
	__u32 idx; /* rule index, or the number of rules for the final deny */
	__u32 allow;
};

#endif
