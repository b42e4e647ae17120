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
 *     tables     {rules, row entries, spans, content hash, owner, base, patch}
 *     blob       (table, chunk) -> NACL_BLOB_CHUNK words of the table's blob,
 *                the 64-bit words that hold its classes, spans and rules (layout
 *                below). vpcd compiles a table into this layout and stores it
 *                with one batch update: a table of 1,000 rules takes a few
 *                chunks
 *     blob_big   the first chunks, of NACL_BLOB_BIG_CHUNK words, of a blob at
 *                least half that long (its table id has NACL_ID_BIG; how many:
 *                its length in them, rounded, the last padded); the rest of it
 *                is in `blob`, in small chunks numbered from the blob's start.
 *                10,000 rules take two big chunks
 *   counters     (owner, rule number, rule tag) -> per-CPU packets/bytes; the
 *                owner is the NACL and direction, the tag a hash of the rule, so
 *                counts outlive table versions but not a rule's replacement
 * A binary search over the address spans gives the remote address's class, one
 * over the L4 spans the class of (protocol, port or ICMP type << 8 | code); the
 * first rule (lowest number) that both classes hold decides. There are three
 * kinds of class: classes 0-255 are the protocols', each holding the rules for
 * its protocol and all of its ports (or ICMP types and codes); then the address
 * classes; then the L4 classes, holding the rules for a part of a protocol's
 * ports. A packet has all three: its address class, its L4 class and the class
 * of its protocol. A class is a bitmap of rules (bit i: the rule of index i in
 * number order), stored as rows of its nonzero words of NACL_ENT_BITS rules, in
 * order, each with its index (an entry, below):
 *   pair row  the rules that name both a protocol and an address other than
 *             0.0.0.0/0;
 *   lone row  of an address class, its rules for every protocol; of a protocol
 *             or L4 class, its rules for 0.0.0.0/0. Such a rule is in every
 *             class of the other axis, so it is written only here.
 * The deciding rule is the first of: the first rule the address class's pair row
 * shares with the L4 class's pair row, or with the protocol class's (merge walks
 * over two rows), and the first rule of each of the three lone rows. A class of a
 * big table mostly holds a few of its rules: rows of a few words where the bitmap
 * would have hundreds. A verdict cache keyed by (table, address, protocol, port)
 * makes the common case one hash lookup whatever the number of rules.
 *
 * Tables are never edited in place: a change builds a new table under a new id and
 * flips the subnet's entry to it with one 4-byte store (vpcd maps the ports and
 * subnets arrays), so a packet is judged by the old rules or the new ones, never
 * by a mix. A retired table loses its `tables` entry first, then its chunks; a
 * packet that still meets the old id, or a missing chunk, re-reads the subnet. Ids come
 * from `seq` and are never reused, so no cached verdict can outlive its table.
 *
 * A table id carries, in its low bits, what the table's verdicts do not depend on
 * (NACL_ID_*): the remote address when every rule is for 0.0.0.0/0, the TCP or UDP
 * port when no rule of that protocol names ports, the ICMP type and code when no
 * ICMP rule names a type. The program leaves those out of the packet's cache key,
 * so a reply to a new ephemeral port, say, finds the verdict its table already
 * gave. The flags cost no lookup: the subnet's entry names the table by its id.
 *
 * A small change does not rebuild a big table: the new table is a patch, only a
 * `tables` entry that names a full table as its base, the base rules it takes away
 * and up to NACL_PATCH_MAX rules it adds, which the program checks one by one. A
 * patch is published and flipped to like any table, so a one-entry change costs
 * one map update whatever the size of the NACL.
 */
#ifndef VPC_NACL_ABI_H
#define VPC_NACL_ABI_H

#include <linux/types.h>

/* Pins made for another version of the program or its maps are not used: bump
 * this with any change to either. */
#define NACL_ABI	   12
#define NACL_SEQ_NEXT	   0
#define NACL_SEQ_ABI	   1

#define NACL_MAX_PORTS	   8192 /* port ids (instances + NAT gateways of a VPC) */
#define NACL_MAX_SUBNETS   8192
#define NACL_MAX_TABLES	   4096 /* live table ids per VPC, old and new together */
#define NACL_MAX_RULES	   16384
/* A class's bitmap goes in words of NACL_ENT_BITS rules, each an entry with its
 * index in the bits above them (below). */
#define NACL_ENT_BITS	   48
#define NACL_MAX_WORDS	   (NACL_MAX_RULES / NACL_ENT_BITS + 1)
/* Rule counters of a VPC, all NACLs and directions together: a counter exists
 * once its rule has decided a packet. The kernel sizes the hash table's buckets
 * by this at once (16 bytes each), so it is not much larger than needed. */
#define NACL_COUNTERS_MAX  (1 << 17)
/* Words per blob chunk: with the kernel's element header, a chunk stays within
 * 32 KiB, a big one within 512 KiB (powers of two: the kernel allocates no more
 * than it needs). The kernel spends some 20 us on an element whatever its size,
 * so a large blob goes in big chunks (1 MB: 2 elements, not 32), a small one
 * in small chunks (a NACL of ten rules: 32 KiB, not 512). A big chunk is a whole
 * number of small ones: a blob may be stored all in small chunks, which the
 * program reads when a big one is missing. */
#define NACL_BLOB_CHUNK	     4080
#define NACL_BLOB_BIG_CHUNK  (16 * NACL_BLOB_CHUNK)
#define NACL_BLOB_MAX	     65536 /* small chunks of all tables together */
#define NACL_BLOB_BIG_MAX    4096 /* big chunks of all tables together */
#define NACL_CACHE_ENTRIES 65536
#define NACL_SEARCH_STEPS  20 /* binary search: 2^20 spans > 2 * NACL_MAX_RULES + 257 */

/*
 * A full table's blob, in words: its n_ent row entries, the directory of its
 * nclasses classes, n_addr address spans, n_l4 L4 spans, then nrules rules
 * (counts in its `tables` entry). The entries come first because they are most
 * of it: vpcd writes them where they stay as it compiles, and appends the rest.
 * Directory word of a class: first entry << 32 | pair entries << 16 | lone
 *   entries; its pair row is entries first to first + pair - 1, its lone row
 *   the lone entries after it.
 * Entry: one word, index << NACL_ENT_BITS | bits: the index of a bitmap word
 *   (ascending within a row) and that word's NACL_ENT_BITS rules, never none
 *   (bit b: the rule of index index * NACL_ENT_BITS + b). One word, not an index
 *   and a 64-bit word: entries are most of a blob.
 * Span: start << 32 | class, sorted by start, the first starting at 0.
 * Rule: number | allow << 16 | tag << 32.
 */
#define NACL_BLOB_ENT(m)      ((__u64)0)
#define NACL_BLOB_DIR(m)      ((__u64)(m)->n_ent)
#define NACL_ENT(index, bits) ((__u64)(index) << NACL_ENT_BITS | (bits))
#define NACL_ENT_INDEX(e)     ((__u32)((e) >> NACL_ENT_BITS))
#define NACL_ENT_RULES(e)     ((e) & ((1ULL << NACL_ENT_BITS) - 1))
#define NACL_DIR_PAIR(d)      ((__u32)((d) >> 16) & 0xffff)
#define NACL_DIR_LONE(d)      ((__u32)(d) & 0xffff)
#define NACL_BLOB_ADDR(m)     (NACL_BLOB_DIR(m) + (m)->nclasses)
#define NACL_BLOB_L4(m)	      (NACL_BLOB_ADDR(m) + (m)->n_addr)
#define NACL_BLOB_RULES(m)    (NACL_BLOB_L4(m) + (m)->n_l4)
#define NACL_BLOB_WORDS(m)    ((__u64)NACL_BLOB_RULES(m) + (m)->nrules)
#define NACL_SPAN(start, cls) ((__u64)(start) << 32 | (cls))
#define NACL_RULE(number, allow, tag) \
	((__u64)(number) | (__u64)((allow) ? 1 : 0) << 16 | (__u64)(tag) << 32)

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

/* Table id = sequence number << NACL_ID_SHIFT | flags. */
#define NACL_ID_SHIFT	   5
#define NACL_ID_ANY_ADDR   1 /* every rule is for 0.0.0.0/0 */
#define NACL_ID_TCP_ANY	   2 /* no TCP rule names ports */
#define NACL_ID_UDP_ANY	   4 /* no UDP rule names ports */
#define NACL_ID_ICMP_ANY   8 /* no ICMP rule names a type */
#define NACL_ID_BIG	   16 /* its blob's first chunks are big ones, in blob_big */

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
	__u32 n_ent; /* row entries in the blob */
	__u64 hash;  /* identifies the table: its NACL, direction and rules */
	__u32 n_addr, n_l4; /* spans in the blob */
	__u32 nclasses;
	__u32 base;  /* the full table whose classes and rules it uses: itself, or the
		      * table a patch applies to */
	__u64 owner; /* its NACL and direction */
	__u32 n_del, n_add;
	__u32 del[NACL_PATCH_MAX]; /* rule indexes of the base a patch takes away */
	struct nacl_patch_rule add[NACL_PATCH_MAX];
};

struct nacl_blob_key {
	__u32 table;
	__u32 chunk;
};

struct nacl_blob_chunk {
	__u64 w[NACL_BLOB_CHUNK];
};

struct nacl_blob_big_chunk {
	__u64 w[NACL_BLOB_BIG_CHUNK];
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
