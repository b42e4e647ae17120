/* Security groups -> nftables objects. See vpc/sg.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpc/util.h"
#include "vpc/arena.h"
#include "vpc/sg.h"


/* ---- disjoint decomposition ---- */

struct box {
	uint64_t a_lo, a_hi; /* inclusive */
	uint32_t p_lo, p_hi; /* inclusive */
};

struct elems {
	struct sg_elem *e;
	size_t n, cap;
};

static int push_elem(struct elems *v, struct sg_elem x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		if (cap > SG_MAX_ELEMENTS)
			return -E2BIG;
		struct sg_elem *p = realloc(v->e, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->e = p;
		v->cap = cap;
	}
	v->e[v->n++] = x;
	return 0;
}

struct event {
	uint64_t at;
	size_t box;
	int delta;
};

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Field ranges, by start. */
struct run {
	uint32_t lo, hi;
};

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * The union of boxes (address range x field range), as disjoint boxes: sweep the
 * address axis keeping the boxes over the current address piece, emit the union
 * of their field ranges (sorted, touching ones merged), and merge a piece into
 * the one before when their runs are the same. A piece costs the boxes over it,
 * not the whole field axis: 10,000 host rules decompose in about a millisecond.
 */
static int decompose(const struct box *b, size_t n, uint8_t proto, struct elems *out)
{
	if (!n)
		return 0;
	struct event *ev = malloc(2 * n * sizeof(*ev));
	size_t *active = malloc(n * sizeof(size_t)), *pos = malloc(n * sizeof(size_t));
	struct run *runs = malloc(n * sizeof(*runs));
	size_t na = 0, first_prev = 0, n_prev = 0;
	int err = -ENOMEM;
	if (!ev || !active || !pos || !runs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ev[2 * i] = (struct event){b[i].a_lo, i, 1};
		ev[2 * i + 1] = (struct event){b[i].a_hi + 1, i, -1};
	}
	qsort0(ev, 2 * n, sizeof(*ev), cmp_event);
	for (size_t e = 0; e < 2 * n;) {
		uint64_t at = ev[e].at;
		for (; e < 2 * n && ev[e].at == at; e++) {
			size_t x = ev[e].box;
			if (ev[e].delta > 0) {
				pos[x] = na;
				active[na++] = x;
			} else { /* a box ends after it began: it is in the list */
				size_t p = pos[x];
				active[p] = active[--na];
				pos[active[p]] = p;
			}
		}
		if (e == 2 * n || at > 0xffffffffULL)
			break;
		uint64_t end = ev[e].at - 1; /* this address piece: [at, end] */
		size_t first = out->n;
		for (size_t k = 0; k < na; k++)
			runs[k] = (struct run){b[active[k]].p_lo, b[active[k]].p_hi};
		qsort0(runs, na, sizeof(*runs), cmp_run);
		for (size_t k = 0; k < na;) {
			struct run r = runs[k++];
			while (k < na && (uint64_t)runs[k].lo <= (uint64_t)r.hi + 1) {
				if (runs[k].hi > r.hi)
					r.hi = runs[k].hi;
				k++;
			}
			struct sg_elem x = {.a_lo = (uint32_t)at, .a_hi = (uint32_t)end, .proto = proto,
					    .p_lo = (uint16_t)r.lo, .p_hi = (uint16_t)r.hi};
			if ((err = push_elem(out, x)))
				goto out;
		}
		size_t n_now = out->n - first;
		/* Same runs as the piece just before, and adjacent: extend that one. */
		bool same = n_now && n_now == n_prev;
		for (size_t i = 0; same && i < n_now; i++) {
			const struct sg_elem *p = &out->e[first_prev + i], *c = &out->e[first + i];
			same = p->p_lo == c->p_lo && p->p_hi == c->p_hi && (uint64_t)p->a_hi + 1 == at;
		}
		if (same) {
			for (size_t i = 0; i < n_now; i++)
				out->e[first_prev + i].a_hi = (uint32_t)end;
			out->n = first;
		} else {
			first_prev = first;
			n_prev = n_now;
		}
	}
	err = 0;
out:
	free(ev);
	free(active);
	free(pos);
	free(runs);
	return err;
}

/* ---- per group ---- */

static struct box cidr_box(struct cidr c, uint32_t p_lo, uint32_t p_hi)
{
	return (struct box){c.addr, cidr_last(c), p_lo, p_hi};
}

static void icmp_range(const struct match *m, uint32_t *lo, uint32_t *hi)
{
	*lo = 0;
	*hi = 65535;
	if (m->icmp_type >= 0) {
		*lo = (uint32_t)m->icmp_type << 8 | (m->icmp_code >= 0 ? (uint32_t)m->icmp_code : 0);
		*hi = (uint32_t)m->icmp_type << 8 | (m->icmp_code >= 0 ? (uint32_t)m->icmp_code : 255);
	}
}

static const char kind_letter[] = {[SGSET_MEMBERS] = 'm', [SGSET_ALL] = 'a', [SGSET_PROTO] = 'p',
				   [SGSET_L4] = 'l', [SGSET_ICMP] = 'c'};

struct ctx {
	struct sg_objects *o;
	size_t cap_sets, cap_chains;
};

static struct sg_set *new_set(struct ctx *c)
{
	if (c->o->n_sets == c->cap_sets) {
		c->cap_sets = c->cap_sets ? c->cap_sets * 2 : 16;
		struct sg_set *p = realloc(c->o->sets, c->cap_sets * sizeof(*p));
		if (!p)
			return NULL;
		c->o->sets = p;
	}
	struct sg_set *s = &c->o->sets[c->o->n_sets++];
	memset(s, 0, sizeof(*s));
	return s;
}

static uint64_t elems_hash(const struct sg_elem *e, size_t n, enum sgset_kind k)
{
	uint64_t h = fnv(FNV0, &k, sizeof(k));
	for (size_t i = 0; i < n; i++) {
		uint32_t f[5] = {e[i].a_lo, e[i].a_hi, e[i].proto, e[i].p_lo, e[i].p_hi};
		h = fnv(h, f, sizeof(f));
	}
	return h;
}

/* Adds a set (named after its content) unless an equal one exists; returns its name. */
static const char *add_set(struct ctx *c, enum sgset_kind k, const char *tag, struct elems *v)
{
	char name[80];
	snprintf(name, sizeof(name), "%c%s_%016llx", kind_letter[k], tag,
		 (unsigned long long)elems_hash(v->e, v->n, k));
	/* Names are returned as arena copies: the arrays move as they grow. */
	for (size_t i = 0; i < c->o->n_sets; i++)
		if (!strcmp(c->o->sets[i].name, name)) {
			free(v->e);
			*v = (struct elems){0};
			return arena_strdup(c->o->a, name);
		}
	struct sg_set *s = new_set(c);
	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->kind = k;
	s->n = v->n;
	s->e = arena_array(c->o->a, struct sg_elem, v->n ? v->n : 1);
	if (v->n) /* a group without members has no elements, and no array */
		memcpy(s->e, v->e, v->n * sizeof(*v->e));
	free(v->e);
	*v = (struct elems){0};
	return arena_strdup(c->o->a, name);
}

/* The member set of group g of VPC gv. */
static const char *member_set(struct ctx *c, const struct topology *t, int gv, int g)
{
	const struct vpc *v = &t->vpcs[gv];
	struct elems m = {0};
	for (size_t i = 0; i < v->n_instances; i++)
		for (size_t k = 0; k < v->instances[i].n_sgs; k++)
			if (v->instances[i].sgs[k] == g &&
			    push_elem(&m, (struct sg_elem){.a_lo = v->instances[i].private_ip,
							   .a_hi = v->instances[i].private_ip})) {
				free(m.e);
				return NULL;
			}
	char tag[64];
	snprintf(tag, sizeof(tag), "_%u_%s", v->id, v->sgs[g].name);
	return add_set(c, SGSET_MEMBERS, tag, &m);
}

struct group_sets {
	const char *set[5]; /* by kind; NULL when empty */
	bool any;	    /* a rule allows everything */
};

static int cmp_box(const void *a, const void *b)
{
	const struct box *x = a, *y = b;
	return x->a_lo < y->a_lo ? -1 : x->a_lo > y->a_lo;
}

/* Rules as sets: their CIDRs, or with `any_addr` 0.0.0.0/0 (rules naming a group,
 * whose addresses are the member set's business). `tag` goes into set names. */
static int rule_sets(struct ctx *c, const struct sg_rule *const *r, size_t n, bool any_addr,
		     const char *tag, struct group_sets *out)
{
	struct box *all = calloc(n + 1, sizeof(*all)), *l4 = calloc(n + 1, sizeof(*l4)),
		   *icmp = calloc(n + 1, sizeof(*icmp)), *proto = calloc(n + 1, sizeof(*proto));
	size_t na = 0, nl = 0, ni = 0, np = 0;
	int err = -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (!all || !l4 || !icmp || !proto)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct sg_rule *x = r[i];
		const struct cidr a = any_addr ? (struct cidr){0} : x->cidr;
		uint32_t lo, hi;
		switch (x->m.proto) {
		case PROTO_ALL:
			out->any |= a.len == 0;
			all[na++] = cidr_box(a, 0, 0);
			break;
		case PROTO_TCP:
		case PROTO_UDP:
			/* The protocol is a third axis: fold it into the field range. */
			l4[nl++] = cidr_box(a, (uint32_t)x->m.proto << 16 | x->m.port_lo,
					    (uint32_t)x->m.proto << 16 | x->m.port_hi);
			break;
		case PROTO_ICMP:
			icmp_range(&x->m, &lo, &hi);
			icmp[ni++] = cidr_box(a, lo, hi);
			break;
		default:
			proto[np++] = cidr_box(a, (uint32_t)x->m.proto, (uint32_t)x->m.proto);
		}
	}
	struct elems v = {0};
	/* l4 keeps protocol and port apart once decomposed. */
	if (nl) {
		for (int p = 0; p < 2; p++) {
			uint32_t pr = p ? PROTO_UDP : PROTO_TCP;
			struct box *sub = calloc(nl, sizeof(*sub));
			size_t ns = 0;
			if (!sub)
				goto out;
			for (size_t i = 0; i < nl; i++)
				if (l4[i].p_lo >> 16 == pr)
					sub[ns++] = (struct box){l4[i].a_lo, l4[i].a_hi, l4[i].p_lo & 0xffff,
								 l4[i].p_hi & 0xffff};
			err = decompose(sub, ns, (uint8_t)pr, &v);
			free(sub);
			if (err)
				goto out;
		}
		if (!(out->set[SGSET_L4] = add_set(c, SGSET_L4, tag, &v)))
			goto nomem;
	}
	if (ni) {
		if ((err = decompose(icmp, ni, PROTO_ICMP, &v)))
			goto out;
		if (!(out->set[SGSET_ICMP] = add_set(c, SGSET_ICMP, tag, &v)))
			goto nomem;
	}
	if (np) {
		/* Per protocol, the union of address ranges. */
		qsort0(proto, np, sizeof(*proto), cmp_box);
		for (uint32_t pr = 0; pr < 256; pr++) {
			struct box *sub = calloc(np, sizeof(*sub));
			size_t ns = 0;
			if (!sub)
				goto out;
			for (size_t i = 0; i < np; i++)
				if (proto[i].p_lo == pr)
					sub[ns++] = (struct box){proto[i].a_lo, proto[i].a_hi, 0, 0};
			err = decompose(sub, ns, (uint8_t)pr, &v);
			free(sub);
			if (err)
				goto out;
		}
		if (!(out->set[SGSET_PROTO] = add_set(c, SGSET_PROTO, tag, &v)))
			goto nomem;
	}
	if (na && !out->any) {
		if ((err = decompose(all, na, 0, &v)))
			goto out;
		if (!(out->set[SGSET_ALL] = add_set(c, SGSET_ALL, tag, &v)))
			goto nomem;
	}
	err = 0;
	goto out;
nomem:
	err = -ENOMEM;
out:
	free(v.e);
	free(all);
	free(l4);
	free(icmp);
	free(proto);
	return err;
}

/* The CIDR rules of one group and direction, as sets. */
static int group_sets(struct ctx *c, const struct sg *g, bool egress, struct group_sets *out)
{
	const struct sg_rule *r = egress ? g->out : g->in;
	size_t n = egress ? g->n_out : g->n_in, k = 0;
	const struct sg_rule **cidr_rules = calloc(n + 1, sizeof(*cidr_rules));
	char tag[64];
	if (!cidr_rules)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!r[i].is_group)
			cidr_rules[k++] = &r[i];
	snprintf(tag, sizeof(tag), "%c_%s", egress ? 'e' : 'i', g->name);
	int err = rule_sets(c, cidr_rules, k, false, tag, out);
	free(cidr_rules);
	return err;
}

/* ---- chains ---- */

static uint64_t rule_hash(uint64_t h, const struct sg_rule_out *r)
{
	int f[7] = {r->kind, r->set_kind, r->m.proto, r->m.port_lo, r->m.port_hi, r->m.icmp_type,
		    r->m.icmp_code};
	h = fnv(h, f, sizeof(f));
	if (r->members)
		h = fnv(h, r->members, strlen(r->members) + 1);
	return r->set ? fnv(h, r->set, strlen(r->set)) : h;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The rules of group g naming other groups, appended to r[*n]: per group named,
 * a rule each, or once SG_GROUP_SET_MIN rules name it, the member set and one
 * set lookup per protocol kind, so that a SYN meets a few lookups, not a rule
 * per reference. */
static int cmp_group_ref(const void *a, const void *b)
{
	const struct sg_rule *x = *(const struct sg_rule *const *)a, *y = *(const struct sg_rule *const *)b;
	if (x->group_vpc != y->group_vpc)
		return x->group_vpc < y->group_vpc ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x < y ? -1 : x > y; /* then in rule order */
}

static int group_ref_rules(struct ctx *c, const struct topology *t, const struct sg *g,
			   bool egress, struct sg_rule_out *r, size_t *n)
{
	const struct sg_rule *sr = egress ? g->out : g->in;
	size_t sn = egress ? g->n_out : g->n_in, nrefs = 0;
	const struct sg_rule **refs = calloc(sn + 1, sizeof(*refs));
	int err = -ENOMEM;
	if (!refs)
		return -ENOMEM;
	/* The rules naming one group, side by side. */
	for (size_t i = 0; i < sn; i++)
		if (sr[i].is_group)
			refs[nrefs++] = &sr[i];
	qsort0(refs, nrefs, sizeof(*refs), cmp_group_ref);
	for (size_t i = 0, j; i < nrefs; i = j) {
		const struct sg_rule *first = refs[i], *all = NULL, **same = &refs[i];
		for (j = i; j < nrefs && refs[j]->group_vpc == first->group_vpc &&
			    refs[j]->group == first->group;
		     j++)
			if (refs[j]->m.proto == PROTO_ALL && !all)
				all = refs[j];
		size_t ns = j - i;
		const char *ms = member_set(c, t, first->group_vpc, first->group);
		if (!ms) {
			err = -ENOMEM;
			goto out;
		}
		if (all) { /* everything from the members: nothing else matters */
			same = &all;
			ns = 1;
		}
		if (ns < SG_GROUP_SET_MIN) {
			for (size_t k = 0; k < ns; k++)
				r[(*n)++] = (struct sg_rule_out){.kind = SGR_GROUP, .set = ms,
								 .m = same[k]->m};
			continue;
		}
		struct group_sets gs;
		char tag[64];
		snprintf(tag, sizeof(tag), "%c_%.20s_%.20s", egress ? 'e' : 'i', g->name,
			 t->vpcs[first->group_vpc].sgs[first->group].name);
		if ((err = rule_sets(c, same, ns, true, tag, &gs)))
			goto out;
		for (int kind = SGSET_PROTO; kind <= SGSET_ICMP; kind++)
			if (gs.set[kind])
				r[(*n)++] = (struct sg_rule_out){.kind = SGR_GROUP_SET, .set_kind = kind,
								 .set = gs.set[kind], .members = ms};
	}
	err = 0;
out:
	free(refs);
	return err;
}

/* The chain for a set of groups (sorted indices) and a direction. */
static const char *chain_for(struct ctx *c, const struct topology *t, int vi, const int *groups,
			     size_t ng, bool egress, struct group_sets *gs)
{
	const struct vpc *v = &t->vpcs[vi];
	size_t cap = 1, n = 0;
	for (size_t k = 0; k < ng; k++)
		cap += 5 + (egress ? v->sgs[groups[k]].n_out : v->sgs[groups[k]].n_in);
	struct sg_rule_out *r = arena_array(c->o->a, struct sg_rule_out, cap);
	bool any = false;
	for (size_t k = 0; k < ng && !any; k++) {
		const struct group_sets *g = &gs[2 * (size_t)groups[k] + egress];
		const struct sg *sg = &v->sgs[groups[k]];
		if (g->any) {
			r[n++] = (struct sg_rule_out){.kind = SGR_ANY};
			any = true;
			break;
		}
		for (int kind = SGSET_ALL; kind <= SGSET_ICMP; kind++)
			if (g->set[kind])
				r[n++] = (struct sg_rule_out){.kind = SGR_SET, .set_kind = kind,
							      .set = g->set[kind]};
		if (group_ref_rules(c, t, sg, egress, r, &n))
			return NULL;
	}
	uint64_t h = fnv(FNV0, &egress, sizeof(egress));
	for (size_t i = 0; i < n; i++)
		h = rule_hash(h, &r[i]);
	char name[80];
	snprintf(name, sizeof(name), "%c_%016llx", egress ? 'o' : 'i', (unsigned long long)h);
	for (size_t i = 0; i < c->o->n_chains; i++)
		if (!strcmp(c->o->chains[i].name, name))
			return arena_strdup(c->o->a, name);
	if (c->o->n_chains == c->cap_chains) {
		c->cap_chains = c->cap_chains ? c->cap_chains * 2 : 16;
		struct sg_chain *p = realloc(c->o->chains, c->cap_chains * sizeof(*p));
		if (!p)
			return NULL;
		c->o->chains = p;
	}
	struct sg_chain *ch = &c->o->chains[c->o->n_chains++];
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->egress = egress;
	ch->r = r;
	ch->n = n;
	return arena_strdup(c->o->a, name);
}

int sg_compile(const struct topology *t, int vi, struct sg_objects *o)
{
	const struct vpc *v = &t->vpcs[vi];
	struct ctx c = {.o = o};
	struct group_sets *gs = NULL;
	bool *used = NULL;
	int err = -ENOMEM;
	memset(o, 0, sizeof(*o));
	o->a = arena_new();
	gs = calloc(2 * v->n_sgs + 1, sizeof(*gs));
	used = calloc(v->n_sgs + 1, sizeof(*used));
	o->dispatch = arena_array(o->a, struct sg_dispatch, v->n_instances + 1);
	if (!gs || !used)
		goto out;
	/* Only groups some instance uses become sets. */
	for (size_t i = 0; i < v->n_instances; i++)
		for (size_t k = 0; k < v->instances[i].n_sgs; k++)
			used[v->instances[i].sgs[k]] = true;
	for (size_t g = 0; g < v->n_sgs; g++)
		for (int e = 0; e < 2 && used[g]; e++)
			if ((err = group_sets(&c, &v->sgs[g], e, &gs[2 * g + (size_t)e])))
				goto out;
	for (size_t i = 0; i < v->n_instances; i++) {
		const struct instance *in = &v->instances[i];
		int *groups = arena_array(o->a, int, in->n_sgs);
		if (in->n_sgs)
			memcpy(groups, in->sgs, in->n_sgs * sizeof(int));
		qsort0(groups, in->n_sgs, sizeof(int), cmp_int);
		struct sg_dispatch *d = &o->dispatch[o->n_dispatch++];
		d->ifindex = 1000 + in->id;
		if (!(d->in_chain = chain_for(&c, t, vi, groups, in->n_sgs, false, gs)) ||
		    !(d->out_chain = chain_for(&c, t, vi, groups, in->n_sgs, true, gs))) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = 0;
out:
	free(gs);
	free(used);
	if (err)
		sg_objects_free(o);
	return err;
}

void sg_objects_free(struct sg_objects *o)
{
	free(o->sets);
	free(o->chains);
	arena_free(o->a);
	memset(o, 0, sizeof(*o));
}

bool sg_set_match(const struct sg_set *s, uint32_t addr, uint8_t proto, uint16_t field)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sg_elem *e = &s->e[i];
		if (addr < e->a_lo || addr > e->a_hi)
			continue;
		switch (s->kind) {
		case SGSET_MEMBERS:
		case SGSET_ALL:
			return true;
		case SGSET_PROTO:
			if (e->proto == proto)
				return true;
			break;
		case SGSET_L4:
		case SGSET_ICMP:
			if ((s->kind == SGSET_ICMP || e->proto == proto) && field >= e->p_lo &&
			    field <= e->p_hi)
				return true;
			break;
		}
	}
	return false;
}
