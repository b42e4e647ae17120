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
 *     tables     {rules, words per bitmap, content hash, owner, base, patch}
 *     addr_lpm   (table, remote address) -> address class
 *     l4_lpm     (table, protocol, port or ICMP type << 8 | code) -> l4 class
 *     bits       (table, class, chunk) -> 64 words of the class's rule bitmap
 *     rules      (table, index) -> {rule number, allow}
 *   counters     (owner, rule number, rule tag) -> per-CPU packets/bytes; the
 *                owner is the NACL and direction, the tag a hash of the rule, so
 *                counts outlive table versions but not a rule's replacement
 * The first rule (lowest number) set in bits[address class] & bits[l4 class]
 * decides; a verdict cache keyed by (table, address, protocol, port) makes the
 * common case one hash lookup whatever the number of rules.
 *
 * Tables are never edited in place: a change builds a new table under a new id and
 * flips the subnet's entry to it with one 4-byte store (vpcd maps the ports and
 * subnets arrays), so a packet is judged by the old rules or the new ones, never
 * by a mix. A retired table loses its `tables`
 * entry first; a packet that still meets the old id re-reads the subnet. Ids come
 * from `seq` and are never reused, so no cached verdict can outlive its table.
 *
 * A small change does not rebuild a big table: the new table is a patch, only a
 * `tables` entry that names a full table as its base, the base rules it takes away
 * and up to NACL_PATCH_MAX rules it adds, which the program checks one by one. A
 * patch is published and flipped to like any table, so a one-entry change costs
 * one map update whatever the size of the NACL.
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

#define NACL_PATCH_MAX	   32
#define NACL_PROTO_ANY	   0xffff /* a patch rule for every protocol */
#define NACL_FINAL_DENY	   0xffffffffu /* the counter "number" of the final deny */

/* A rule of a patch, matched as it stands. */
struct nacl_patch_rule {
	__u32 net, mask; /* network byte order */
	__u16 lo, hi;	 /* range of the L4 field */
	__u16 proto;	 /* or NACL_PROTO_ANY */
	__u16 number;
	__u32 allow;
	__u32 tag;
};

struct nacl_table_meta {
	__u32 nrules;
	__u32 nwords;
	__u64 hash;  /* identifies the table: its NACL, direction and rules */
	__u32 nclasses;
	__u32 base;  /* the full table whose classes and rules it uses: itself, or the
		      * table a patch applies to */
	__u64 owner; /* its NACL and direction */
	__u32 n_del, n_add;
	__u32 del[NACL_PATCH_MAX]; /* rule indexes of the base a patch takes away */
	struct nacl_patch_rule add[NACL_PATCH_MAX];
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

/* A rule's tag tells its versions apart: a rule replaced under the same number
 * counts from zero. */
struct nacl_rule_val {
	__u32 number;
	__u32 allow;
	__u32 tag;
};

struct nacl_counter_key {
	__u64 owner;
	__u32 number; /* the rule's number, or NACL_FINAL_DENY */
	__u32 tag;    /* the rule's tag, 0 for the final deny */
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
	__u32 number; /* of the deciding rule, or NACL_FINAL_DENY */
	__u32 allow;
	__u64 owner;  /* the table's, for the counter */
	__u32 tag;
	__u32 pad;
};

#endif
