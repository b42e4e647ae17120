/* Shared between the topology compiler's files; not part of the public API. */
#ifndef VPC_TOPO_INTERNAL_H
#define VPC_TOPO_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "vpc/arena.h"
#include "vpc/err.h"
#include "vpc/model.h"

/* A JSON path built on the stack and formatted only when an error needs it. */
struct jpath {
	const struct jpath *up;
	const char *key; /* NULL: array element `idx` */
	size_t idx;
};
#define JP_KEY(parent, k) ((struct jpath){.up = (parent), .key = (k)})
#define JP_IDX(parent, i) ((struct jpath){.up = (parent), .idx = (i)})
/* Line n of a text (NACL entries): formatted "line n" only if an error needs it. */
extern const char jpath_line[];
#define JP_LINE(n) ((struct jpath){.key = jpath_line, .idx = (n)})

struct cctx {
	struct arena *a;
	struct vpc_err *err;
	unsigned features;
	struct topology *t;
	const struct topology *prev; /* its rule memo, if any */
};

void jpath_fmt(const struct jpath *p, char *buf, size_t len);
int cfail(struct cctx *c, const struct jpath *p, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Field checks shared by the topology file and the text form of NACL entries
 * (nacl_text.c); each names `kp` (or the field under `p`) when it fails. */
int int_in_range(struct cctx *c, long long n, const struct jpath *kp, long lo, long hi, long *out);
int proto_of(struct cctx *c, const char *s, const struct jpath *kp, int *out);
/* A port or range "N" or "N-M" at *p (before `end`) into m, *p moved past it. */
bool ports_scan(const char **p, const char *end, struct match *m);
int ports_of(struct cctx *c, const char *s, const struct jpath *kp, struct match *m);
/* What a rule's protocol, ports and ICMP fields say together; the flags tell
 * which of ports, icmp_type and icmp_code the rule gave. */
int match_check(struct cctx *c, const struct match *m, bool ports, bool type, bool code,
		const struct jpath *p);
int parse_cidr_at(struct cctx *c, const char *s, const struct jpath *kp, struct cidr *out);
int action_of(struct cctx *c, const char *s, const struct jpath *kp, bool *allow);
/* Rule i of a direction's list r, just read: its number must be new in the
 * direction (marked in `seen`: RULE_SEEN_BYTES, zeroed at first), and *sorted
 * stays true while the numbers rise. */
#define RULE_SEEN_BYTES (VPC_NACL_RULE_MAX / 8 + 1)
int rule_taken(struct cctx *c, uint8_t *seen, const struct nacl_rule *r, size_t i, bool *sorted,
	       const struct jpath *kp, const char *dir);
int nacl_rule_cmp(const void *a, const void *b); /* by rule number */
/* Rules of one direction as they are read: room for `cap`, the numbers taken
 * (`seen`, RULE_SEEN_BYTES), and whether they rise so far. Read in two halves
 * (par.h), the second half goes after the first if it can. */
struct rule_list {
	struct nacl_rule *r;
	size_t n, cap;
	uint8_t *seen;
	bool sorted;
};
int rule_list_init(struct rule_list *l, size_t cap); /* 0 or -ENOMEM */
void rule_list_free(struct rule_list *l);
/* Whether b's rules may go after a's: they fit, and none of b's numbers is one
 * of a's (rule_taken() would refuse it). */
bool rule_list_can_take(const struct rule_list *a, const struct rule_list *b);
void rule_list_take(struct rule_list *a, const struct rule_list *b);
/* The fields of a line of the text form of NACL entries in the plainest form
 * (what `nacl export` writes), each all of [b, e), into *r: the rule number;
 * the protocol (which also sets all ports, types and codes); the ports|icmp
 * column for that protocol ("-": all); an ICMP type or code; the CIDR; the
 * action. */
bool nacl_fast_rule(const char *b, const char *e, struct nacl_rule *r);
bool nacl_fast_proto(const char *b, const char *e, struct nacl_rule *r);
bool nacl_fast_l4(const char *b, const char *e, struct nacl_rule *r);
bool nacl_fast_icmp(const char *b, const char *e, int *v);
bool nacl_fast_cidr(const char *b, const char *e, struct nacl_rule *r);
bool nacl_fast_action(const char *b, const char *e, struct nacl_rule *r);

/* How many times topo_load() and nacl_text_parse() took the second half of a
 * list or text from the helper thread (par.h): for the tests, which check that
 * it happens. */
extern unsigned long topo_load_halves_joined, nacl_text_halves_joined;
/* Whether nacl_text_parse() takes its fast path for the lines it can (on unless a
 * test turns it off, to check that the general path reads the same). */
extern bool nacl_text_fast;

/* Allocation pass (topo_alloc.c): ids and addresses, given the previous allocations. */
int topo_allocate(struct cctx *c, const json_t *doc, const json_t *prev_alloc);

#endif
