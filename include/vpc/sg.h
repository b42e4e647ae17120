/*
 * Security groups -> the nftables objects of a VPC router's table. Pure code.
 *
 * Everything is named by its content (a hash in the name), like NACL tables: a
 * change adds the new sets and chains, repoints the dispatch maps, and drops what
 * nothing uses, all in one nftables batch. So a rule change never edits an object
 * a packet might be looking at, and "what is installed" is just a list of names.
 *
 * Per group and direction, rules with CIDRs become (at most) four sets:
 *   all   ipv4 ranges                     protocol "all"
 *   proto ipv4 range . protocol           other protocols, no ports
 *   l4    ipv4 range . protocol . port     tcp/udp with a port range
 *   icmp  ipv4 range . type << 8 | code    icmp
 * each decomposed into disjoint elements (nftables refuses overlaps), so a packet
 * costs one set lookup per kind whatever the number of rules. Rules naming a group
 * match its member set ("m_..."), kept as instances come and go. An instance's
 * chain, shared by all instances with the same groups, tries each group's sets:
 * ingress accepts, egress returns (the destination's ingress is checked next),
 * and anything else is dropped.
 */
#ifndef VPC_SG_H
#define VPC_SG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpc/model.h"

enum sgset_kind {
	SGSET_MEMBERS, /* ipv4_addr */
	SGSET_ALL,     /* ipv4_addr, interval */
	SGSET_PROTO,   /* ipv4_addr . inet_proto, interval */
	SGSET_L4,      /* ipv4_addr . inet_proto . inet_service, interval */
	SGSET_ICMP,    /* ipv4_addr . 16 bits (type, code), interval */
};

struct sg_elem {
	uint32_t a_lo, a_hi; /* host order */
	uint8_t proto;
	uint16_t p_lo, p_hi;
};

struct sg_set {
	char name[80];
	enum sgset_kind kind;
	struct sg_elem *e;
	size_t n;
};

enum sgr_kind {
	SGR_ANY,   /* unconditional (a rule for all protocols from 0.0.0.0/0) */
	SGR_SET,   /* the address . fields tuple is in `set` (of the set's kind) */
	SGR_GROUP, /* the address is in member set `set`, and `m` matches */
	/* The address is in member set `members`, and the tuple in `set`: the rules
	 * naming one group, several at once (the set's address part is 0.0.0.0/0). */
	SGR_GROUP_SET,
};

struct sg_rule_out {
	enum sgr_kind kind;
	enum sgset_kind set_kind;
	const char *set, *members;
	struct match m;
};

/* A group named by fewer rules of one group and direction than this gets a rule
 * per reference; from this many on, one set lookup per protocol kind. */
#define SG_GROUP_SET_MIN 3

struct sg_chain {
	char name[80];
	bool egress; /* match the destination; allowed traffic returns */
	struct sg_rule_out *r;
	size_t n;
};

struct sg_dispatch {
	uint32_t ifindex;
	const char *in_chain, *out_chain;
};

struct sg_objects {
	struct arena *a;
	struct sg_set *sets;
	size_t n_sets;
	struct sg_chain *chains;
	size_t n_chains;
	struct sg_dispatch *dispatch; /* by instance */
	size_t n_dispatch;
};

#define SG_MAX_ELEMENTS (1 << 20) /* per set, after decomposition */
/* The rules of the table's base chain: established/related, confirmed, invalid,
 * the two dispatch maps. An instance chain holds one rule per sg_rule_out and a
 * drop. */
#define SG_BASE_RULES 5
#define SG_CHAIN_RULES(c) ((c)->n + 1)

/* The objects VPC `vi` needs. -E2BIG when a set would exceed SG_MAX_ELEMENTS. */
int sg_compile(const struct topology *t, int vi, struct sg_objects *out);
void sg_objects_free(struct sg_objects *o);
/* Does a packet match an element of the set? (the kernel's lookup, for tests) */
bool sg_set_match(const struct sg_set *s, uint32_t addr, uint8_t proto, uint16_t field);

#endif
