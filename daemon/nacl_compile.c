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

#include "vpc/util.h"
#include "vpc/nacl.h"


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
	uint64_t h = fnv(FNV0, w, sizeof(w));
	return (uint32_t)(h ^ h >> 32) | 1; /* never 0, the final deny's */
}

static bool rule_eq(const struct nacl_rule *a, const struct nacl_rule *b)
{
	uint64_t wa[3], wb[3];
	rule_words(a, wa);
	rule_words(b, wb);
	return !memcmp(wa, wb, sizeof(wa));
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

/* ---- growable arrays ---- */

struct grow {
	void *p;
	size_t n, cap, elem;
};

static void *grow_push(struct grow *g)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		void *p = realloc(g->p, cap * g->elem);
		if (!p)
			return NULL;
		g->p = p;
		g->cap = cap;
	}
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

/* Class bitmaps are appended to one array of words. */
struct bitset {
	uint64_t *w;
	size_t nclasses, cap, nwords;
};

static uint64_t *class_new(struct bitset *b)
{
	if (b->nclasses == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		uint64_t *w = realloc(b->w, cap * b->nwords * sizeof(uint64_t));
		if (!w)
			return NULL;
		b->w = w;
		b->cap = cap;
	}
	uint64_t *row = b->w + b->nclasses++ * b->nwords;
	memset(row, 0, b->nwords * sizeof(uint64_t));
	return row;
}

static void set_bit(uint64_t *row, size_t i)
{
	row[i / 64] |= 1ULL << (i % 64);
}

/* ---- address classes ---- */

struct pfx {
	uint32_t addr;
	uint8_t len;
};

/* By start, outer prefixes first. */
static int cmp_pfx(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* One sweep over the prefixes by start: a stack holds those that cover the
 * current point, so a prefix's parent is the top of the stack when it comes, and
 * the spans of the address axis fall out between pushes and pops. */
static int addr_classes(const struct nacl_rule *r, size_t n, struct bitset *bs,
			struct nacl_table *t)
{
	struct grow g = {.elem = sizeof(struct nacl_span)};
	struct pfx *p = calloc(n + 1, sizeof(*p));
	size_t *first = NULL, *next = NULL, np = 0;
	struct {
		uint64_t end;
		uint32_t cls;
	} open[33];
	int top = 0, err = -ENOMEM;
	if (!p)
		return -ENOMEM;
	p[np++] = (struct pfx){0, 0};
	for (size_t i = 0; i < n; i++)
		p[np++] = (struct pfx){r[i].cidr.addr & cidr_mask(r[i].cidr.len), r[i].cidr.len};
	qsort0(p, np, sizeof(*p), cmp_pfx);
	size_t k = 0;
	for (size_t i = 0; i < np; i++)
		if (!k || cmp_pfx(&p[k - 1], &p[i]))
			p[k++] = p[i];
	np = k;

	/* The rules written with each prefix, as linked lists in rule order. */
	first = malloc(np * sizeof(size_t));
	next = malloc((n + 1) * sizeof(size_t));
	if (!first || !next)
		goto out;
	for (size_t i = 0; i < np; i++)
		first[i] = SIZE_MAX;
	for (size_t i = n; i-- > 0;) {
		struct pfx key = {r[i].cidr.addr & cidr_mask(r[i].cidr.len), r[i].cidr.len};
		size_t at = (size_t)((struct pfx *)bsearch0(&key, p, np, sizeof(key), cmp_pfx) - p);
		next[i] = first[at];
		first[at] = i;
	}
	for (size_t i = 0; i <= np; i++) {
		uint64_t start = i < np ? p[i].addr : (uint64_t)1 << 32;
		while (top && open[top - 1].end < start) {
			uint64_t after = open[--top].end + 1;
			if (top && after <= UINT32_MAX && span_push(&g, (uint32_t)after, open[top - 1].cls))
				goto out;
		}
		if (i == np)
			break;
		uint64_t *row = class_new(bs);
		if (!row)
			goto out;
		uint32_t cls = (uint32_t)(bs->nclasses - 1);
		if (top) /* a class is its parent's rules and its own */
			memcpy(row, bs->w + open[top - 1].cls * bs->nwords, bs->nwords * sizeof(uint64_t));
		for (size_t j = first[i]; j != SIZE_MAX; j = next[j])
			set_bit(row, j);
		if (span_push(&g, p[i].addr, cls))
			goto out;
		open[top].end = (uint64_t)p[i].addr + ((uint64_t)1 << (32 - p[i].len)) - 1;
		open[top++].cls = cls;
	}
	spans_tidy(&g);
	t->addr = g.p;
	t->n_addr = g.n;
	g.p = NULL;
	err = 0;
out:
	free(g.p);
	free(first);
	free(next);
	free(p);
	return err;
}

/* ---- L4 classes ---- */

struct event {
	uint32_t at;
	uint32_t rule;
	bool start;
};

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

static int l4_classes(const struct nacl_rule *r, size_t n, struct bitset *bs, struct nacl_table *t)
{
	struct grow g = {.elem = sizeof(struct nacl_span)};
	struct event *ev = calloc(2 * n + 1, sizeof(*ev));
	uint64_t *cur = calloc(bs->nwords, sizeof(uint64_t));
	bool named[256] = {false};
	int err = -ENOMEM;
	if (!ev || !cur)
		goto out;

	/* Protocols no rule names: only "all" rules apply. */
	uint64_t *other = class_new(bs);
	if (!other)
		goto out;
	uint32_t other_cls = (uint32_t)(bs->nclasses - 1);
	for (size_t i = 0; i < n; i++)
		if (r[i].m.proto == PROTO_ALL)
			set_bit(other, i);
		else
			named[r[i].m.proto] = true;
	for (uint32_t proto = 0; proto < 256; proto++) {
		if (!named[proto]) {
			if (span_push(&g, proto << 16, other_cls))
				goto out;
			continue;
		}
		size_t ne = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t lo, hi;
			if (r[i].m.proto != PROTO_ALL && r[i].m.proto != (int)proto)
				continue;
			rule_range(&r[i], &lo, &hi);
			ev[ne++] = (struct event){lo, (uint32_t)i, true};
			ev[ne++] = (struct event){hi + 1, (uint32_t)i, false};
		}
		qsort0(ev, ne, sizeof(*ev), cmp_event);
		memset(cur, 0, bs->nwords * sizeof(uint64_t));
		size_t e = 0;
		uint32_t start = 0;
		int64_t last_cls = -1;
		while (start <= 65535) {
			while (e < ne && ev[e].at == start) {
				if (ev[e].start)
					set_bit(cur, ev[e].rule);
				else
					cur[ev[e].rule / 64] &= ~(1ULL << (ev[e].rule % 64));
				e++;
			}
			uint32_t end = e < ne ? ev[e].at - 1 : 65535;
			if (end > 65535)
				end = 65535;
			/* Merge with the previous piece when the rules are the same. */
			if (last_cls < 0 ||
			    memcmp(bs->w + (size_t)last_cls * bs->nwords, cur, bs->nwords * 8)) {
				uint64_t *row = class_new(bs);
				if (!row)
					goto out;
				memcpy(row, cur, bs->nwords * sizeof(uint64_t));
				last_cls = (int64_t)(bs->nclasses - 1);
				if (span_push(&g, proto << 16 | start, (uint32_t)last_cls))
					goto out;
			}
			start = end + 1;
		}
	}
	spans_tidy(&g);
	t->l4 = g.p;
	t->n_l4 = g.n;
	g.p = NULL;
	err = 0;
out:
	free(g.p);
	free(ev);
	free(cur);
	return err;
}

#define RESERVE_MAX ((size_t)1 << 30)

/* The room of the largest table freed since the last nacl_compile_trim(): a
 * 10,000-rule table writes ~26 MB, and faulting in that much fresh memory is a
 * good part of its compile. */
struct spare {
	uint64_t *w;
	size_t words;
};
static struct spare spare;

/* Words the blob can need at most: a class per distinct prefix and /0; the class
 * of unnamed protocols; per named protocol, two per rule that applies to it (each
 * range opens and closes a piece) and one; then the spans (at most two per
 * prefix, one per L4 class and per protocol), the rules, and a chunk's rounding. */
static size_t blob_bound(const struct nacl_rule *r, size_t n, size_t nwords)
{
	size_t per_proto[256] = {0}, all = 0, classes = n + 2;
	for (size_t i = 0; i < n; i++)
		if (r[i].m.proto == PROTO_ALL)
			all++;
		else
			per_proto[r[i].m.proto]++;
	for (int p = 0; p < 256; p++)
		if (per_proto[p])
			classes += 2 * (per_proto[p] + all) + 1;
	return classes * nwords + 2 * (n + 2) + classes + 256 + n + NACL_BLOB_CHUNK;
}

/* The spans and rules after the bitmaps, and zeros to the end of the last chunk. */
static int blob_finish(struct bitset *bs, struct nacl_table *t)
{
	size_t rows = bs->nclasses * bs->nwords;
	size_t words = rows + t->n_addr + t->n_l4 + t->nrules;
	size_t total = (words + NACL_BLOB_CHUNK - 1) / NACL_BLOB_CHUNK * NACL_BLOB_CHUNK;
	if (total > bs->cap * bs->nwords) {
		uint64_t *w = realloc(bs->w, total * sizeof(uint64_t));
		if (!w)
			return -ENOMEM;
		bs->w = w;
		bs->cap = total / bs->nwords;
	}
	uint64_t *at = bs->w + rows;
	for (size_t i = 0; i < t->n_addr; i++)
		*at++ = NACL_SPAN(t->addr[i].start, t->addr[i].cls);
	for (size_t i = 0; i < t->n_l4; i++)
		*at++ = NACL_SPAN(t->l4[i].start, t->l4[i].cls);
	for (size_t i = 0; i < t->nrules; i++)
		*at++ = NACL_RULE(t->rules[i].number, t->rules[i].allow, t->rules[i].tag);
	memset(at, 0, (total - words) * sizeof(uint64_t));
	t->bits = bs->w;
	t->blob_words = total;
	t->nclasses = (uint32_t)bs->nclasses;
	return 0;
}

int nacl_compile(const struct nacl_rule *r, size_t n, uint64_t owner, struct nacl_table *t)
{
	struct bitset bs = {.nwords = n / 64 + 1};
	int err;
	memset(t, 0, sizeof(*t));
	if (n > NACL_MAX_RULES)
		return -E2BIG;
	t->nrules = (uint32_t)n;
	t->nwords = (uint32_t)bs.nwords;
	t->owner = owner;
	t->hash = nacl_rules_hash(owner, r, n);
	t->rules = calloc(n + 1, sizeof(*t->rules));
	if (!t->rules)
		return -ENOMEM;
	/* The whole blob's room at once: growing it by copying costs more than the
	 * compile itself at 10,000 rules. Only the words written are ever touched;
	 * the last table's room is taken again when it is big enough. */
	size_t bound = blob_bound(r, n, bs.nwords);
	if (spare.words >= bound) {
		bs.w = spare.w;
		bs.cap = spare.words / bs.nwords;
		spare = (struct spare){0};
	} else if (bound * sizeof(uint64_t) <= RESERVE_MAX &&
		   (bs.w = malloc(bound * sizeof(uint64_t)))) {
		bs.cap = bound / bs.nwords;
	}
	for (size_t i = 0; i < n; i++)
		t->rules[i] = (struct nacl_rule_val){.number = r[i].number, .allow = r[i].allow,
						     .tag = nacl_rule_tag(&r[i])};
	if ((err = addr_classes(r, n, &bs, t)) || (err = l4_classes(r, n, &bs, t)) ||
	    (err = blob_finish(&bs, t))) {
		free(bs.w);
		nacl_table_free(t);
		return err;
	}
	t->blob_cap = bs.cap * bs.nwords;
	return 0;
}

void nacl_table_free(struct nacl_table *t)
{
	free(t->rules);
	if (t->blob_cap > spare.words) {
		free(spare.w);
		spare = (struct spare){t->bits, t->blob_cap};
	} else {
		free(t->bits);
	}
	free(t->addr);
	free(t->l4);
	memset(t, 0, sizeof(*t));
}

bool nacl_compile_kept(void)
{
	return spare.w != NULL;
}

void nacl_compile_trim(void)
{
	free(spare.w);
	spare = (struct spare){0};
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

size_t nacl_match_table(const struct nacl_table *t, uint32_t remote, uint8_t proto,
			uint16_t field)
{
	uint32_t a = span_class(t->addr, t->n_addr, remote);
	uint32_t l = span_class(t->l4, t->n_l4, (uint32_t)proto << 16 | field);
	for (uint32_t w = 0; w < t->nwords; w++) {
		uint64_t x = t->bits[a * t->nwords + w] & t->bits[l * t->nwords + w];
		if (x) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(x);
			return i < t->nrules ? i : t->nrules;
		}
	}
	return t->nrules;
}
