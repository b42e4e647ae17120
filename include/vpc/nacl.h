/*
 * NACL compilation: an ordered rule list -> the maps of one table (layout in
 * vpc/nacl_abi.h). Pure code, unit-tested against a linear first-match reference.
 */
#ifndef VPC_NACL_H
#define VPC_NACL_H

#include <stddef.h>
#include <stdint.h>

#include "vpc/model.h"
#include "vpc/nacl_abi.h"

/* A rule's tag tells its versions apart: a rule replaced under the same number
 * counts from zero. */
struct nacl_rule_val {
	uint32_t number;
	uint32_t allow;
	uint32_t tag;
};

/* One piece of an axis: the keys from `start` up to the next span's start belong
 * to class `cls`. Address axis: the remote address (host order); L4 axis:
 * protocol << 16 | port (or ICMP type << 8 | code). A table's spans are sorted
 * and the first starts at 0. */
struct nacl_span {
	uint32_t start, cls;
};

struct nacl_table {
	uint32_t nrules, nclasses, n_ent;
	uint64_t hash, owner;
	struct nacl_rule_val *rules; /* nrules */
	struct nacl_span *addr, *l4;
	size_t n_addr, n_l4;
	/* The blob as the program reads it (vpc/nacl_abi.h): the class directory,
	 * the entries of the class rows, the spans and the rules; blob_words is a
	 * whole number of chunks, the tail zeros. */
	uint64_t *blob;
	size_t blob_words;
	bool big; /* stored with big chunks: NACL_ID_BIG (vpc/nacl_abi.h) */
};

/* How many big chunks a blob of `words` words is stored with (NACL_ID_BIG when
 * any): its length in big chunks, rounded to the nearest, the last one padded
 * with zeros; what is left past them, less than half a big chunk, goes in small
 * chunks. (The kernel's cost is per element: a blob just short of two big chunks
 * goes in two, not in one and fifteen small ones.) */
static inline size_t nacl_blob_big_chunks(size_t words)
{
	return (words + NACL_BLOB_BIG_CHUNK / 2) / NACL_BLOB_BIG_CHUNK;
}

/* From this many rules on, a table is compiled in two halves, one on vpcd's
 * helper thread (daemon/par.h). */
#define NACL_PAR_MIN_RULES 2048

/* Rules must be sorted by number (as the compiler of the topology leaves them). */
int nacl_compile(const struct nacl_rule *r, size_t n, uint64_t owner, struct nacl_table *out);
/* The same for a caller that has nacl_rules_hash(owner, r, n) at hand already
 * (the model keeps it): a 10,000-rule NACL is not hashed twice on its way. */
int nacl_compile_hashed(const struct nacl_rule *r, size_t n, uint64_t owner, uint64_t hash,
			struct nacl_table *out);
void nacl_table_free(struct nacl_table *t);
/* What a patch on a table holding `base` must do to hold `want` (both sorted by
 * number): the indexes of `base` it takes away, the indexes of `want` it adds (a
 * changed rule is both). -E2BIG when either list would pass `max`. */
int nacl_diff(const struct nacl_rule *base, size_t nb, const struct nacl_rule *want, size_t nw,
	      uint32_t *del, size_t *n_del, size_t *add, size_t *n_add, size_t max);
/* Whether two lists (sorted by number) hold the same rules. */
bool nacl_rules_equal(const struct nacl_rule *a, size_t na, const struct nacl_rule *b, size_t nb);
/* What tells a rule from another with the same number (its counter key). */
uint32_t nacl_rule_tag(const struct nacl_rule *r);
/* A rule as a patch carries it, to be matched by the program as it stands. */
void nacl_patch_rule(const struct nacl_rule *r, struct nacl_patch_rule *p);
/* A NACL's direction: its tables, version after version, carry one owner. */
uint64_t nacl_owner(const char *nacl, bool outbound);
/* The NACL_ID_* flags of a table holding these rules: what its verdicts do not
 * depend on. */
uint32_t nacl_id_flags(const struct nacl_rule *r, size_t n);
/* Identifies a table: the same owner and rules, the same hash. */
uint64_t nacl_rules_hash(uint64_t owner, const struct nacl_rule *r, size_t n);
/* The L4 field a rule or packet is matched on: destination port, ICMP type << 8 |
 * code, 0 otherwise. */
static inline uint16_t nacl_l4_field(int proto, uint16_t dport, uint8_t icmp_type,
				     uint8_t icmp_code)
{
	return proto == PROTO_TCP || proto == PROTO_UDP ? dport
	       : proto == PROTO_ICMP			 ? (uint16_t)(icmp_type << 8 | icmp_code)
							 : 0;
}
/* First match by a plain scan: the reference the tables are checked against.
 * Returns the rule index or n for the final deny. */
size_t nacl_match_linear(const struct nacl_rule *r, size_t n, uint32_t remote, uint8_t proto,
			 uint16_t field);
/* The same decision through a compiled table, as the BPF program makes it. */
size_t nacl_match_table(const struct nacl_table *t, uint32_t remote, uint8_t proto,
			uint16_t field);

#endif
