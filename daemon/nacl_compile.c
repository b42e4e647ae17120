/*
 * NACL rules -> classes and bitmaps (see vpc/nacl_abi.h for the idea).
 *
 * Address classes: one per distinct rule prefix plus 0.0.0.0/0. The rules that
 * match an address are exactly those whose prefix contains the longest rule prefix
 * P that contains the address (a rule prefix inside P that contained the address
 * would itself be a longer match). So class(P) = class(parent of P) plus the rules
 * written with P. The address axis is then cut into spans, each the class of the
 * longest prefix covering it, which the program finds by binary search.
 *
 * L4 classes: per protocol that some rule names, the port axis (or ICMP type/code)
 * is cut at every rule's range boundary; each piece gets the bitmap of the rules
 * covering it (a sweep), and equal neighbours merge. Protocols no rule names share
 * one class: the rules for "all".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "vpc/nacl.h"
#include "vpc/util.h"


uint64_t nacl_owner(const char *nacl, bool outbound)
{
	uint64_t h = fnv(FNV0, nacl, strlen(nacl) + 1);
	return fnv(h, &outbound, sizeof(outbound)) | 1;
}

/* Everything that makes a rule what it is, packed into three words. */
static void rule_words(const struct nacl_rule *r, uint64_t w[3])
{
	const struct match *m = &r->m;
	w[0] = r->number | (uint64_t)r->allow << 16 | (uint64_t)(uint16_t)m->proto << 32 |
	       (uint64_t)r->cidr.len << 48;
	w[1] = m->port_lo | (uint64_t)m->port_hi << 16 | (uint64_t)(uint16_t)m->icmp_type << 32 |
	       (uint64_t)(uint16_t)m->icmp_code << 48;
	w[2] = r->cidr.addr;
}

/* One word into the rules hash, mixed both ways. (fnv() takes a byte a step: too
 * slow for a NACL of 10,000 rules, hashed again on every change.) */
static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x100000001b3ULL;
	return h ^ h >> 29;
}

uint64_t nacl_rules_hash(uint64_t owner, const struct nacl_rule *r, size_t n)
{
	uint64_t h = mix(FNV0, owner);
	for (size_t i = 0; i < n; i++) {
		uint64_t w[3];
		rule_words(&r[i], w);
		h = mix(mix(mix(h, w[0]), w[1]), w[2]);
	}
	return mix(h, n) | 1; /* never 0: 0 means "no table" */
}

/* The rule's range on the L4 axis of its protocol. */
static void rule_range(const struct nacl_rule *r, uint32_t *lo, uint32_t *hi)
{
	const struct match *m = &r->m;
	*lo = 0;
	*hi = 65535;
	if (m->proto == PROTO_TCP || m->proto == PROTO_UDP) {
		*lo = m->port_lo;
		*hi = m->port_hi;
	} else if (m->proto == PROTO_ICMP && m->icmp_type >= 0) {
		*lo = (uint32_t)m->icmp_type << 8 | (m->icmp_code >= 0 ? (uint32_t)m->icmp_code : 0);
		*hi = (uint32_t)m->icmp_type << 8 | (m->icmp_code >= 0 ? (uint32_t)m->icmp_code : 255);
	}
}

uint32_t nacl_id_flags(const struct nacl_rule *r, size_t n)
{
	uint32_t f = NACL_ID_ANY_ADDR | NACL_ID_TCP_ANY | NACL_ID_UDP_ANY | NACL_ID_ICMP_ANY;
	for (size_t i = 0; i < n; i++) {
		uint32_t lo, hi;
		rule_range(&r[i], &lo, &hi);
		if (r[i].cidr.len)
			f &= ~(uint32_t)NACL_ID_ANY_ADDR;
		if (r[i].m.proto == PROTO_ALL || (lo == 0 && hi == 65535))
			continue;
		f &= ~(uint32_t)(r[i].m.proto == PROTO_TCP   ? NACL_ID_TCP_ANY
				 : r[i].m.proto == PROTO_UDP ? NACL_ID_UDP_ANY
							     : NACL_ID_ICMP_ANY);
	}
	return f;
}

static bool rule_matches(const struct nacl_rule *r, uint32_t remote, uint8_t proto, uint16_t field)
{
	uint32_t lo, hi;
	if (r->m.proto != PROTO_ALL && r->m.proto != proto)
		return false;
	if (!cidr_contains_ip(r->cidr, remote))
		return false;
	if (r->m.proto == PROTO_ALL)
		return true;
	rule_range(r, &lo, &hi);
	return field >= lo && field <= hi;
}

uint32_t nacl_rule_tag(const struct nacl_rule *r)
{
	uint64_t w[3];
	rule_words(r, w);
	uint64_t h = mix(mix(mix(FNV0, w[0]), w[1]), w[2]);
	return (uint32_t)(h ^ h >> 32) | 1; /* never 0, the final deny's */
}

static bool rule_eq(const struct nacl_rule *a, const struct nacl_rule *b)
{
	uint64_t wa[3], wb[3];
	rule_words(a, wa);
	rule_words(b, wb);
	return !memcmp(wa, wb, sizeof(wa));
}

bool nacl_rules_equal(const struct nacl_rule *a, size_t na, const struct nacl_rule *b, size_t nb)
{
	for (size_t i = 0; na == nb && i < na; i++)
		if (!rule_eq(&a[i], &b[i]))
			return false;
	return na == nb;
}

int nacl_diff(const struct nacl_rule *base, size_t nb, const struct nacl_rule *want, size_t nw,
	      uint32_t *del, size_t *n_del, size_t *add, size_t *n_add, size_t max)
{
	size_t i = 0, j = 0;
	*n_del = *n_add = 0;
	while (i < nb || j < nw) {
		bool take_base = j == nw || (i < nb && base[i].number < want[j].number);
		bool take_want = i == nb || (j < nw && want[j].number < base[i].number);
		if (!take_base && !take_want && rule_eq(&base[i], &want[j])) {
			i++, j++;
			continue;
		}
		if (!take_want) { /* gone, or changed: the old one goes */
			if (*n_del == max)
				return -E2BIG;
			del[(*n_del)++] = (uint32_t)i++;
		}
		if (!take_base) { /* new, or changed: the new one comes */
			if (*n_add == max)
				return -E2BIG;
			add[(*n_add)++] = j++;
		}
	}
	return 0;
}

void nacl_patch_rule(const struct nacl_rule *r, struct nacl_patch_rule *p)
{
	uint32_t lo, hi, mask = cidr_mask(r->cidr.len);
	rule_range(r, &lo, &hi);
	*p = (struct nacl_patch_rule){
		.net = htonl(r->cidr.addr & mask),
		.mask = htonl(mask),
		.lo = (uint16_t)lo,
		.hi = (uint16_t)hi,
		.proto = r->m.proto == PROTO_ALL ? NACL_PROTO_ANY : (uint16_t)r->m.proto,
		.number = r->number,
		.allow = r->allow,
		.tag = nacl_rule_tag(r),
	};
}

size_t nacl_match_linear(const struct nacl_rule *r, size_t n, uint32_t remote, uint8_t proto,
			 uint16_t field)
{
	for (size_t i = 0; i < n; i++)
		if (rule_matches(&r[i], remote, proto, field))
			return i;
	return n;
}

/* ---- sorting ---- */

/* Sorts 64-bit keys, a byte a pass from the lowest (so stably); a byte that is
 * the same in every key takes no pass, nor do the bits below `low`, which the
 * caller's keys already have in order wherever the bits above are equal (a rule
 * index, say, when they come in rule order). `tmp` has room for n keys.
 * (qsort() with a comparison call per step was a fifth of a 10,000-rule
 * compile.) */
static void radix_sort(uint64_t *key, uint64_t *tmp, size_t n, unsigned low)
{
	uint64_t any = 0, all = ~0ULL, *from = key, *to = tmp;
	for (size_t i = 0; i < n; i++) {
		any |= key[i];
		all &= key[i];
	}
	for (unsigned shift = low; shift < 64; shift += 8) {
		size_t at[257] = {0};
		if (!((any ^ all) >> shift & 0xff))
			continue;
		for (size_t i = 0; i < n; i++)
			at[(from[i] >> shift & 0xff) + 1]++;
		for (int b = 0; b < 256; b++)
			at[b + 1] += at[b];
		for (size_t i = 0; i < n; i++)
			to[at[from[i] >> shift & 0xff]++] = from[i];
		uint64_t *x = from;
		from = to;
		to = x;
	}
	if (from != key)
		memcpy(key, from, n * sizeof(*key));
}

/* ---- growable arrays ---- */

struct grow {
	void *p;
	size_t n, cap, elem;
};

/* Room for `more` elements past n (they are not counted until written). */
static int grow_room(struct grow *g, size_t more)
{
	if (g->n + more <= g->cap)
		return 0;
	size_t cap = g->cap ? g->cap : 64;
	while (cap < g->n + more)
		cap *= 2;
	void *p = realloc(g->p, cap * g->elem);
	if (!p)
		return -ENOMEM;
	g->p = p;
	g->cap = cap;
	return 0;
}

static void *grow_push(struct grow *g)
{
	if (grow_room(g, 1))
		return NULL;
	return (char *)g->p + g->elem * g->n++;
}

static int span_push(struct grow *g, uint32_t start, uint32_t cls)
{
	struct nacl_span *sp = grow_push(g);
	if (!sp)
		return -ENOMEM;
	*sp = (struct nacl_span){start, cls};
	return 0;
}

/* Spans pushed in order of their starts: of several with one start the last
 * counts, and a span of the class before it is no span. */
static void spans_tidy(struct grow *g)
{
	struct nacl_span *sp = g->p;
	size_t k = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (k && sp[k - 1].start == sp[i].start)
			k--;
		if (k && sp[k - 1].cls == sp[i].cls)
			continue;
		sp[k++] = sp[i];
	}
	g->n = k;
}

/* ---- class rows ----
 * A class is a bitmap of rules (bit i: rule i applies), kept as rows: the
 * bitmap's nonzero words of NACL_ENT_BITS rules in order of their index, each an
 * entry NACL_ENT(index, bits).
 * There are three kinds of classes: one per protocol (class id = the protocol
 * number), for the rules naming the protocol and all of its ports, types and
 * codes; then the address classes; then the L4 classes, for the rules naming a
 * part of a protocol's ports (or ICMP types and codes). A rule whose match does
 * not depend on one axis would sit in every class of that axis: a rule for every
 * protocol in every L4 class, a rule for 0.0.0.0/0 in every address class. Such
 * a rule goes only into the "lone" row of its class on the other axis. The
 * others go into the "pair" rows of both of their classes. The deciding rule is
 * the first of: those the address class's pair row shares with the L4 class's,
 * or with the protocol class's; those in any of the three lone rows
 * (vpc/nacl_abi.h). */

enum { ROW_PAIR, ROW_LONE };

struct rows {
	struct grow dir; /* per class: first entry << 32 | pair entries << 16 | lone entries */
	struct grow ent; /* entries (NACL_ENT): a class's pair row, then its lone row */
	uint32_t id0;	 /* the id of its first class */
};

/* Whether a rule names all of its protocol's ports (or ICMP types and codes). */
static bool l4_whole(const struct nacl_rule *r)
{
	uint32_t lo, hi;
	rule_range(r, &lo, &hi);
	return lo == 0 && hi == 65535;
}

/* The row a rule goes into in its address class (-1: none), and in its
 * protocol or L4 class. */
static int addr_row(const struct nacl_rule *r)
{
	return r->m.proto == PROTO_ALL ? ROW_LONE : r->cidr.len ? ROW_PAIR : -1;
}

static int l4_row(const struct nacl_rule *r)
{
	return r->m.proto == PROTO_ALL ? -1 : r->cidr.len ? ROW_PAIR : ROW_LONE;
}

/* Starts a class whose entries are put next, its pair row first. */
static int class_begin(struct rows *rs, uint32_t *cls)
{
	uint64_t *d = grow_push(&rs->dir);
	if (!d)
		return -ENOMEM;
	*d = (uint64_t)rs->ent.n << 32;
	*cls = rs->id0 + (uint32_t)(rs->dir.n - 1);
	return 0;
}

/* Appends an entry to a row of the class begun last (indexes ascending); the
 * room is made beforehand. */
static void class_put(struct rows *rs, int row, uint64_t index, uint64_t bits)
{
	uint64_t *e = rs->ent.p;
	e[rs->ent.n++] = NACL_ENT(index, bits);
	((uint64_t *)rs->dir.p)[rs->dir.n - 1] += row == ROW_PAIR ? 1u << 16 : 1u;
}

static const uint64_t *class_row(const struct rows *rs, uint32_t cls, int row, size_t *n)
{
	uint64_t d = ((const uint64_t *)rs->dir.p)[cls - rs->id0];
	size_t first = d >> 32, pair = NACL_DIR_PAIR(d);
	*n = row == ROW_PAIR ? pair : NACL_DIR_LONE(d);
	return (const uint64_t *)rs->ent.p + first + (row == ROW_PAIR ? 0 : pair);
}

/* ---- address classes ---- */

/* A rule's address key: the start of its prefix, the prefix length (outer
 * prefixes first), the row it goes into (addr_row() + 1) and the rule's index.
 * Sorted above the length (the bits below stay as they come: in rule order), the
 * rules of one prefix come together, in rule order. (The row rides along so that
 * the rules need not be looked up again, out of order.) */
#define PFX_KEY(addr, len, row, i) \
	((uint64_t)(addr) << 32 | (uint64_t)(len) << 24 | (uint64_t)((row) + 1) << 22 | (uint64_t)(i))
#define PFX_OF(k)   ((k) >> 24) /* start << 8 | length */
#define PFX_ROW(k)  ((int)((k) >> 22 & 3) - 1)
#define PFX_RULE(k) ((size_t)((k) & 0x3fffff))

/* The first of own[k..n) whose rule goes into `row`, or n. */
static size_t next_in(const uint64_t *own, size_t k, size_t n, int row)
{
	while (k < n && PFX_ROW(own[k]) != row)
		k++;
	return k;
}

/* A row of a new class: the parent's row (pe, np) merged with the rules of
 * own[0..n) (ascending) that go into it. */
static void addr_row_put(struct rows *rs, int row, const uint64_t *pe, size_t np,
			 const uint64_t *own, size_t n)
{
	size_t pi = 0, k = next_in(own, 0, n, row);
	while (pi < np || k < n) {
		uint64_t w = k < n ? PFX_RULE(own[k]) / NACL_ENT_BITS : UINT64_MAX;
		if (pi < np && NACL_ENT_INDEX(pe[pi]) < w) {
			class_put(rs, row, NACL_ENT_INDEX(pe[pi]), NACL_ENT_RULES(pe[pi]));
			pi++;
			continue;
		}
		uint64_t bits = pi < np && NACL_ENT_INDEX(pe[pi]) == w ? NACL_ENT_RULES(pe[pi++]) : 0;
		for (; k < n && PFX_RULE(own[k]) / NACL_ENT_BITS == w;
		     k = next_in(own, k + 1, n, row))
			bits |= 1ULL << (PFX_RULE(own[k]) % NACL_ENT_BITS);
		class_put(rs, row, w, bits);
	}
}

/* A class that is its parent's rules (none for the root) and those of own[0..n). */
static int addr_class(struct rows *rs, int64_t parent, const uint64_t *own, size_t n,
		      uint32_t *cls)
{
	size_t npair = 0, nlone = 0;
	if (parent >= 0) {
		class_row(rs, (uint32_t)parent, ROW_PAIR, &npair);
		class_row(rs, (uint32_t)parent, ROW_LONE, &nlone);
	}
	if (grow_room(&rs->ent, npair + nlone + n) || class_begin(rs, cls))
		return -ENOMEM;
	/* The room is made: the parent's rows stay where they are while we read them. */
	for (int row = ROW_PAIR; row <= ROW_LONE; row++) {
		size_t np = 0;
		const uint64_t *pe =
			parent >= 0 ? class_row(rs, (uint32_t)parent, row, &np) : NULL;
		addr_row_put(rs, row, pe, np, own, n);
	}
	return 0;
}

/* One sweep over the prefixes by start: a stack holds those that cover the
 * current point, so a prefix's parent is the top of the stack when it comes, and
 * the spans of the address axis fall out between pushes and pops. */
static int addr_classes(const struct nacl_rule *r, size_t n, struct rows *rs, struct nacl_table *t)
{
	struct grow g = {.elem = sizeof(struct nacl_span)};
	uint64_t *key = malloc((2 * n + 1) * sizeof(uint64_t));
	struct {
		uint64_t end;
		uint32_t cls;
	} open[33];
	int top = 0, err = -ENOMEM;
	if (!key)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		key[i] = PFX_KEY(r[i].cidr.addr & cidr_mask(r[i].cidr.len), r[i].cidr.len,
				 addr_row(&r[i]), i);
	radix_sort(key, key + n, n, 24); /* made in rule order */
	/* Prefix after prefix, the rules of each in key[i..j): 0.0.0.0/0 first, named
	 * by a rule or not. */
	bool first = true;
	for (size_t i = 0, j = 0;; first = false, i = j) {
		bool end = !first && i == n;
		uint64_t pfx = first || end ? 0 : PFX_OF(key[i]);
		while (j < n && PFX_OF(key[j]) == pfx)
			j++;
		uint64_t start = end ? (uint64_t)1 << 32 : pfx >> 8;
		while (top && open[top - 1].end < start) {
			uint64_t after = open[--top].end + 1;
			if (top && after <= UINT32_MAX && span_push(&g, (uint32_t)after, open[top - 1].cls))
				goto out;
		}
		if (end)
			break;
		uint32_t cls, len = (uint32_t)(pfx & 0xff);
		if (addr_class(rs, top ? (int64_t)open[top - 1].cls : -1, key + i, j - i, &cls) ||
		    span_push(&g, (uint32_t)start, cls))
			goto out;
		open[top].end = start + ((uint64_t)1 << (32 - len)) - 1;
		open[top++].cls = cls;
	}
	spans_tidy(&g);
	t->addr = g.p;
	t->n_addr = g.n;
	g.p = NULL;
	err = 0;
out:
	free(g.p);
	free(key);
	return err;
}

/* ---- L4 classes ---- */

/* A sweep event: the protocol, where on its axis (a port, or ICMP type << 8 |
 * code), the rule, the row it goes into (l4_row()) and whether the rule starts
 * or stops covering the axis there. Sorted, a protocol's events come together, in
 * order along its axis. */
#define EV_KEY(proto, at, rule, row, start)                                                 \
	((uint64_t)(proto) << 49 | (uint64_t)(at) << 32 | (uint64_t)(rule) << 2 |          \
	 (uint64_t)(row) << 1 | (start))
#define EV_PROTO(k) ((uint32_t)((k) >> 49))
#define EV_AT(k)    ((uint32_t)((k) >> 32 & 0x1ffff))
#define EV_RULE(k)  ((size_t)((uint32_t)(k) >> 2))
#define EV_ROW(k)   ((int)((k) >> 1 & 1))

/* The rules covering the current point of a sweep, one set per row: a bitmap,
 * and a bitmap of its nonzero words, so that its row is read without looking at
 * every word. */
#define NZ_WORDS (NACL_MAX_WORDS / 64 + 1)
struct sweep {
	uint64_t *cur;
	uint64_t nz[NZ_WORDS];
	size_t words; /* nonzero words */
};

static void sweep_set(struct sweep *s, size_t rule, bool on)
{
	size_t w = rule / NACL_ENT_BITS;
	bool was = s->cur[w];
	if (on)
		s->cur[w] |= 1ULL << (rule % NACL_ENT_BITS);
	else
		s->cur[w] &= ~(1ULL << (rule % NACL_ENT_BITS));
	if (was == !!s->cur[w])
		return;
	s->nz[w / 64] ^= 1ULL << (w % 64);
	s->words += was ? -1 : 1;
}

static void sweep_put(const struct sweep *s, struct rows *rs, int row)
{
	for (size_t z = 0; z < NZ_WORDS; z++)
		for (uint64_t m = s->nz[z]; m; m &= m - 1) {
			size_t w = z * 64 + (size_t)__builtin_ctzll(m);
			class_put(rs, row, w, s->cur[w]);
		}
}

/* Empties the sweep, touching only its nonzero words. */
static void sweep_clear(struct sweep *s)
{
	for (size_t z = 0; z < NZ_WORDS; z++)
		for (uint64_t m = s->nz[z]; m; m &= m - 1)
			s->cur[z * 64 + (size_t)__builtin_ctzll(m)] = 0;
	memset(s->nz, 0, sizeof(s->nz));
	s->words = 0;
}

/* Classes 0 to 255: per protocol, its rules for all of its ports. */
static int proto_classes(const struct nacl_rule *r, size_t n, struct rows *rs, struct sweep s[2])
{
	size_t *count = calloc(257, sizeof(size_t)), *order = malloc((n + 1) * sizeof(size_t));
	int err = -ENOMEM;
	if (!count || !order)
		goto out;
	/* The rules of each protocol in rule order: a counting sort. */
	for (size_t i = 0; i < n; i++)
		if (r[i].m.proto != PROTO_ALL && l4_whole(&r[i]))
			count[r[i].m.proto + 1]++;
	for (int p = 0; p < 256; p++)
		count[p + 1] += count[p];
	for (size_t i = 0; i < n; i++)
		if (r[i].m.proto != PROTO_ALL && l4_whole(&r[i]))
			order[count[r[i].m.proto]++] = i;
	for (int p = 0, at = 0; p < 256; p++) {
		uint32_t cls;
		for (; (size_t)at < count[p]; at++)
			sweep_set(&s[l4_row(&r[order[at]])], order[at], true);
		if (grow_room(&rs->ent, s[0].words + s[1].words) ||
		    class_begin(rs, &cls))
			goto out;
		sweep_put(&s[0], rs, ROW_PAIR);
		sweep_put(&s[1], rs, ROW_LONE);
		sweep_clear(&s[0]);
		sweep_clear(&s[1]);
	}
	err = 0;
out:
	free(count);
	free(order);
	return err;
}

/* The L4 axis: per protocol some rule names a part of, its field cut at every
 * such rule's range boundary; each piece is a class of the rules covering it.
 * (No two neighbours are the same: where one piece ends, some rule starts or
 * stops.) Other protocols map to their protocol class. */
static int l4_classes(const struct nacl_rule *r, size_t n, struct rows *rs, struct sweep s[2],
		      struct nacl_table *t)
{
	struct grow g = {.elem = sizeof(struct nacl_span)};
	uint64_t *ev = malloc((4 * n + 1) * sizeof(uint64_t)); /* events, then sort room */
	size_t ne = 0, e = 0;
	int err = -ENOMEM;
	if (!ev)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint32_t lo, hi;
		if (r[i].m.proto == PROTO_ALL || l4_whole(&r[i]))
			continue;
		rule_range(&r[i], &lo, &hi);
		ev[ne++] = EV_KEY(r[i].m.proto, lo, i, l4_row(&r[i]), 1);
		ev[ne++] = EV_KEY(r[i].m.proto, hi + 1, i, l4_row(&r[i]), 0);
	}
	/* Made in rule order, and a rule's two events are never at one point. */
	radix_sort(ev, ev + 2 * n, ne, 32);
	for (uint32_t proto = 0; proto < 256; proto++) {
		if (e == ne || EV_PROTO(ev[e]) != proto) { /* no rule names a part of it */
			if (span_push(&g, proto << 16, proto))
				goto out;
			continue;
		}
		sweep_clear(&s[0]);
		sweep_clear(&s[1]);
		for (uint32_t start = 0; start <= 65535;) {
			for (; e < ne && EV_PROTO(ev[e]) == proto && EV_AT(ev[e]) == start; e++)
				sweep_set(&s[EV_ROW(ev[e])], EV_RULE(ev[e]), ev[e] & 1);
			uint32_t end = e < ne && EV_PROTO(ev[e]) == proto ? EV_AT(ev[e]) - 1 : 65535;
			if (end > 65535)
				end = 65535;
			uint32_t cls;
			if (grow_room(&rs->ent, s[0].words + s[1].words) || class_begin(rs, &cls) ||
			    span_push(&g, proto << 16 | start, cls))
				goto out;
			sweep_put(&s[0], rs, ROW_PAIR);
			sweep_put(&s[1], rs, ROW_LONE);
			start = end + 1;
		}
		while (e < ne && EV_PROTO(ev[e]) == proto)
			e++; /* the stops past the axis's end */
	}
	spans_tidy(&g);
	t->l4 = g.p;
	t->n_l4 = g.n;
	g.p = NULL;
	err = 0;
out:
	free(g.p);
	free(ev);
	return err;
}

/* The L4 classes go in rows of their own, which the helper thread may build
 * while the caller builds the address classes (par.h); their ids count from
 * L4_ID0 until rows_append() gives them their places after the address classes.
 * (The address classes are the ones that stay: they read their parents' rows.) */
#define L4_ID0 (1u << 30)

struct l4_job {
	struct par_job job; /* first: the job is the struct */
	const struct nacl_rule *r;
	size_t n;
	struct nacl_table *t; /* l4, n_l4: this job's alone */
	struct rows rs;
	int err;
};

static void l4_job_run(struct par_job *j)
{
	struct l4_job *lj = (struct l4_job *)j;
	struct sweep s[2] = {{.cur = calloc(NACL_MAX_WORDS, sizeof(uint64_t))},
			     {.cur = calloc(NACL_MAX_WORDS, sizeof(uint64_t))}};
	lj->err = !s[0].cur || !s[1].cur || grow_room(&lj->rs.ent, 4 * lj->n + 256)
			  ? -ENOMEM
			  : l4_classes(lj->r, lj->n, &lj->rs, s, lj->t);
	free(s[0].cur);
	free(s[1].cur);
}

/* The L4 rows after the others: their entries, their classes (ids and first
 * entries moved along), and the spans that name them. */
static int rows_append(struct rows *rs, const struct rows *l4, struct nacl_table *t)
{
	if (grow_room(&rs->ent, l4->ent.n) || grow_room(&rs->dir, l4->dir.n))
		return -ENOMEM;
	uint32_t id = rs->id0 + (uint32_t)rs->dir.n;
	uint64_t first = (uint64_t)rs->ent.n << 32, *dir = rs->dir.p;
	memcpy((uint64_t *)rs->ent.p + rs->ent.n, l4->ent.p, l4->ent.n * sizeof(uint64_t));
	for (size_t i = 0; i < l4->dir.n; i++)
		dir[rs->dir.n + i] = ((const uint64_t *)l4->dir.p)[i] + first;
	rs->ent.n += l4->ent.n;
	rs->dir.n += l4->dir.n;
	for (size_t i = 0; i < t->n_l4; i++)
		if (t->l4[i].cls >= L4_ID0)
			t->l4[i].cls = t->l4[i].cls - L4_ID0 + id;
	return 0;
}

/* The blob in the program's layout: the entries, already in place at its start
 * (rs->ent becomes the blob: no copy of the largest part), then the class
 * directory (entries counted from the first), the spans, the rules; zeros to the
 * end of the last chunk. */
static int blob_build(struct rows *rs, struct nacl_table *t)
{
	size_t words = rs->ent.n + rs->dir.n + t->n_addr + t->n_l4 + t->nrules;
	size_t total = (words + NACL_BLOB_CHUNK - 1) / NACL_BLOB_CHUNK * NACL_BLOB_CHUNK,
	       big = nacl_blob_big_chunks(words) * NACL_BLOB_BIG_CHUNK;
	if (total < big)
		total = big; /* the last big chunk is padded */
	uint64_t *blob = realloc(rs->ent.p, total * sizeof(uint64_t)), *at;
	if (!blob)
		return -ENOMEM;
	rs->ent.p = NULL;
	memset(blob + words, 0, (total - words) * sizeof(uint64_t)); /* the rest is written */
	t->blob = blob;
	t->blob_words = total;
	t->big = big > 0;
	t->nclasses = (uint32_t)rs->dir.n;
	t->n_ent = (uint32_t)rs->ent.n;
	at = blob + rs->ent.n;
	memcpy(at, rs->dir.p, rs->dir.n * sizeof(uint64_t)); /* 256 protocol classes at least */
	at += rs->dir.n;
	for (size_t i = 0; i < t->n_addr; i++)
		*at++ = NACL_SPAN(t->addr[i].start, t->addr[i].cls);
	for (size_t i = 0; i < t->n_l4; i++)
		*at++ = NACL_SPAN(t->l4[i].start, t->l4[i].cls);
	for (size_t i = 0; i < t->nrules; i++)
		*at++ = NACL_RULE(t->rules[i].number, t->rules[i].allow, t->rules[i].tag);
	return 0;
}

int nacl_compile(const struct nacl_rule *r, size_t n, uint64_t owner, struct nacl_table *t)
{
	return nacl_compile_hashed(r, n, owner, nacl_rules_hash(owner, r, n), t);
}

int nacl_compile_hashed(const struct nacl_rule *r, size_t n, uint64_t owner, uint64_t hash,
			struct nacl_table *t)
{
	struct rows rs = {.dir = {.elem = sizeof(uint64_t)}, .ent = {.elem = sizeof(uint64_t)}};
	int err;
	memset(t, 0, sizeof(*t));
	if (n > NACL_MAX_RULES)
		return -E2BIG;
	t->nrules = (uint32_t)n;
	t->owner = owner;
	t->hash = hash;
	t->rules = calloc(n + 1, sizeof(*t->rules));
	if (!t->rules)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t->rules[i] = (struct nacl_rule_val){.number = r[i].number, .allow = r[i].allow,
						     .tag = nacl_rule_tag(&r[i])};
	/* The sweeps' bitmaps: one for pair rows, one for lone rows. */
	struct sweep s[2] = {{.cur = calloc(NACL_MAX_WORDS, sizeof(uint64_t))},
			     {.cur = calloc(NACL_MAX_WORDS, sizeof(uint64_t))}};
	/* Room for the entries of a typical table at once (about seven a rule), not
	 * moved over and over as it grows; the blob is built on them. */
	err = !s[0].cur || !s[1].cur || grow_room(&rs.ent, 8 * n + 512) ? -ENOMEM : 0;
	struct l4_job lj = {.job.fn = l4_job_run, .r = r, .n = n, .t = t,
			    .rs = {.dir = {.elem = sizeof(uint64_t)},
				   .ent = {.elem = sizeof(uint64_t)},
				   .id0 = L4_ID0}};
	bool posted = !err && n >= NACL_PAR_MIN_RULES && par_post(&lj.job);
	if (!err && !(err = proto_classes(r, n, &rs, s)))
		err = addr_classes(r, n, &rs, t);
	/* The job is ours again before anything it uses goes. */
	if (posted ? par_take(&lj.job) && !err : !err)
		l4_job_run(&lj.job);
	if (err || (err = lj.err) || (err = rows_append(&rs, &lj.rs, t)) ||
	    (err = blob_build(&rs, t)))
		nacl_table_free(t);
	free(s[0].cur);
	free(s[1].cur);
	free(rs.dir.p);
	free(rs.ent.p);
	free(lj.rs.dir.p);
	free(lj.rs.ent.p);
	return err;
}

void nacl_table_free(struct nacl_table *t)
{
	free(t->rules);
	free(t->blob);
	free(t->addr);
	free(t->l4);
	memset(t, 0, sizeof(*t));
}

/* ---- the BPF program's decision, in C ---- */

/* The class of the span that holds `key` (binary search, as the program does it). */
static uint32_t span_class(const struct nacl_span *sp, size_t n, uint32_t key)
{
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (sp[mid].start <= key)
			lo = mid;
		else
			hi = mid;
	}
	return sp[lo].cls;
}

/* The first rule both rows hold, or `none`. */
static size_t rows_first(const uint64_t *ea, size_t na, const uint64_t *eb, size_t nb, size_t none)
{
	size_t i = 0, j = 0;
	while (i < na && j < nb) {
		uint32_t wa = NACL_ENT_INDEX(ea[i]), wb = NACL_ENT_INDEX(eb[j]);
		if (wa != wb) {
			wa < wb ? i++ : j++;
			continue;
		}
		uint64_t x = NACL_ENT_RULES(ea[i] & eb[j]);
		if (x)
			return (size_t)wa * NACL_ENT_BITS + (size_t)__builtin_ctzll(x);
		i++, j++;
	}
	return none;
}

/* The first rule a row holds (its first entry is never 0), or `none`. */
static size_t row_first(const uint64_t *e, size_t n, size_t none)
{
	return n ? (size_t)NACL_ENT_INDEX(e[0]) * NACL_ENT_BITS +
			   (size_t)__builtin_ctzll(NACL_ENT_RULES(e[0]))
		 : none;
}

size_t nacl_match_table(const struct nacl_table *t, uint32_t remote, uint8_t proto,
			uint16_t field)
{
	const uint64_t *dir = t->blob + NACL_BLOB_DIR(t);
	uint64_t d[3] = {dir[span_class(t->addr, t->n_addr, remote)],
			 dir[span_class(t->l4, t->n_l4, (uint32_t)proto << 16 | field)], dir[proto]};
	const uint64_t *ent = t->blob + NACL_BLOB_ENT(t), *pair[3];
	size_t npair[3], k = t->nrules;
	for (int c = 0; c < 3; c++) {
		pair[c] = ent + (d[c] >> 32);
		npair[c] = NACL_DIR_PAIR(d[c]);
		size_t lone = row_first(pair[c] + npair[c], NACL_DIR_LONE(d[c]), t->nrules);
		k = lone < k ? lone : k;
	}
	for (int c = 1; c < 3; c++) {
		size_t both = rows_first(pair[0], npair[0], pair[c], npair[c], t->nrules);
		k = both < k ? both : k;
	}
	return k;
}
