/*
 * Reading a topology file with large NACLs (see topo_load() in vpc/topo.h).
 *
 * jansson spends some twenty milliseconds on a NACL of 10,000 entries: an
 * object, five members and five values each. The scan here walks the document
 * down to vpcs[i].network_acls[j].inbound and .outbound, and reads a list whose
 * entries are all in the plainest form straight into rules: each field is read
 * by the function that reads it in a line of the text form of `nacl load`
 * (nacl_fast_*), so both forms accept exactly the same. jansson then parses the
 * document with those lists cut out, which leaves them empty.
 *
 * Anything else is left to jansson, which words the errors: a list with any
 * other entry (a description, capitals, -1, a fault), a document the scan cannot
 * follow. Reading the lists apart changes how long a file takes, never what it
 * means.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "topo_internal.h"
#include "vpc/topo.h"

/* A list's entries are read only from this many on: below it jansson is as quick. */
#define FAST_MIN_ENTRIES 64

enum { F_RULE, F_PROTOCOL, F_PORTS, F_ICMP_TYPE, F_ICMP_CODE, F_CIDR, F_ACTION, F_N };
#define FIELD_NAME(s) {s, sizeof(s) - 1}
static const struct {
	const char *name;
	size_t len;
} fields[F_N] = {FIELD_NAME("rule"),	  FIELD_NAME("protocol"), FIELD_NAME("ports"),
		 FIELD_NAME("icmp_type"), FIELD_NAME("icmp_code"), FIELD_NAME("cidr"),
		 FIELD_NAME("action")};
/* Which fields may be a string, which a number. */
#define F_STRINGS (1u << F_PROTOCOL | 1u << F_PORTS | 1u << F_CIDR | 1u << F_ACTION)
#define F_NUMBERS (1u << F_RULE | 1u << F_PROTOCOL | 1u << F_PORTS | 1u << F_ICMP_TYPE | 1u << F_ICMP_CODE)

/* The text between two values of an entry, as an entry had it: `{` or a value's
 * end, white space, a key and its colon, and the next value's opening quote if
 * it is a string; or a value's end to the entry's closing brace. */
struct gap {
	const char *t; /* in the text; NULL: none yet */
	size_t len;
	int next; /* the field of the value after it, or -1: the entry ends */
};
#define GAP_MAX	 64 /* longer ones are not kept */
#define GAP_WAYS 4  /* gaps kept after one place */

struct scan {
	const char *text, *p, *end;
	struct nacl_lists *ls;
	/* The last gaps seen after an entry's start ([F_N]) and after each field's
	 * value: the entries of a list mostly come in a few shapes, with the same
	 * keys in the same order and the same indentation. */
	struct gap gaps[F_N + 1][GAP_WAYS];
	struct cut {
		size_t from, to; /* the list's insides, between its brackets */
		size_t vi, ni;	 /* vpcs[vi].network_acls[ni] */
	} *cuts;		 /* one a list of ls, in its order */
	size_t n_cuts;
	struct half *half; /* the helper's part of a long list, until joined */
};

static const unsigned char json_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* Past white space (the text ends with a NUL, which is none). Runs of blanks,
 * the indentation of a file, go eight at a time. */
static inline __attribute__((always_inline)) const char *skip_ws(const char *p, const char *end)
{
	for (;;) {
		if (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			w ^= 0x2020202020202020ULL;
			if (!w) {
				p += 8;
				continue;
			}
			p += __builtin_ctzll(w) >> 3; /* the blanks before the first other byte */
		}
		if (!json_ws[(unsigned char)*p])
			return p;
		p++;
	}
}
#define WS(p) ((p) = skip_ws((p), s->end))

/* The character `c` next, after white space. */
static bool lit(struct scan *s, char c)
{
	WS(s->p);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A string at s->p (its opening quote); its raw contents in *v, *n. */
static bool string(struct scan *s, const char **v, size_t *n)
{
	if (!lit(s, '"'))
		return false;
	const char *b = s->p;
	while (s->p < s->end && *s->p != '"')
		s->p += *s->p == '\\' ? 2 : 1;
	if (s->p >= s->end)
		return false;
	*v = b;
	*n = (size_t)(s->p++ - b);
	return true;
}

/* Past one value of any kind (jansson checks it later). */
static bool skip_value(struct scan *s)
{
	const char *v;
	size_t n;
	WS(s->p);
	if (s->p >= s->end)
		return false;
	if (*s->p == '"')
		return string(s, &v, &n);
	if (*s->p != '{' && *s->p != '[') {
		while (s->p < s->end && !json_ws[(unsigned char)*s->p] && *s->p != ',' &&
		       *s->p != '}' && *s->p != ']')
			s->p++;
		return true;
	}
	int depth = 0;
	do {
		if (*s->p == '"') {
			if (!string(s, &v, &n))
				return false;
			continue;
		}
		depth += *s->p == '{' || *s->p == '[';
		depth -= *s->p == '}' || *s->p == ']';
		s->p++;
	} while (depth && s->p < s->end);
	return !depth;
}

static bool is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(k, name, n);
}

/* ---- an entry in the plainest form ---- */

/* The characters a plain value is made of: what the text form's columns hold. */
static const unsigned char plain[256] = {
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['.'] = 1, ['/'] = 1, ['-'] = 1};

/* The general way over a gap at p (the entry's `{`, or just past a value): past
 * punctuation, white space and a key up to the next value (its opening quote
 * included), or past the entry's closing brace (*f = -1). */
static const char *gap_read(const struct scan *s, const char *p, bool first, int *f)
{
	if (!first) {
		WS(p);
		if (*p == '}') {
			*f = -1;
			return p + 1;
		}
	}
	if (*p++ != (first ? '{' : ','))
		return NULL;
	/* The key: one of the fields (the longest, with its quotes, is 11). */
	WS(p);
	if (*p++ != '"' || s->end - p < 12)
		return NULL;
	int k = *p == 'r'   ? F_RULE
		: *p == 'a' ? F_ACTION
		: *p == 'c' ? F_CIDR
		: *p == 'p' ? (p[1] == 'r' ? F_PROTOCOL : F_PORTS)
		: *p == 'i' ? (p[5] == 't' ? F_ICMP_TYPE : F_ICMP_CODE)
			    : -1;
	if (k < 0)
		return NULL;
	size_t kl = fields[k].len;
	if (memcmp(p, fields[k].name, kl) || p[kl] != '"')
		return NULL; /* another key */
	p += kl + 1;
	WS(p);
	if (*p++ != ':')
		return NULL;
	WS(p);
	*f = k;
	return *p == '"' ? p + 1 : p;
}

/* Whether the text at p starts with the gap (which fits in GAP_MAX). Inline and
 * a word at a time: memcmp() is a call, and a gap is some twenty bytes. */
static inline bool gap_at(const struct scan *s, const char *p, const struct gap *g)
{
	size_t n = g->len;
	uint64_t a, b, x = 0;
	if (!g->t || (size_t)(s->end - p) < n)
		return false;
	if (n < 8) {
		for (size_t i = 0; i < n; i++)
			if (p[i] != g->t[i])
				return false;
		return true;
	}
	/* Whole words, the last one ending where the gap ends (overlapping the one
	 * before it): no byte-by-byte tail. */
	for (size_t i = 0; i + 8 < n; i += 8) {
		memcpy(&a, p + i, 8);
		memcpy(&b, g->t + i, 8);
		x |= a ^ b;
	}
	memcpy(&a, p + n - 8, 8);
	memcpy(&b, g->t + n - 8, 8);
	return !(x | (a ^ b));
}

/* The value of field f at p, of the kind its gap ends with (a string: the gap's
 * last character is its opening quote): a string of plain characters and its
 * closing quote, or a whole number as JSON writes it (no sign, no leading zero,
 * no fraction). NULL if the field came before or cannot be of that kind. */
static const char *value_read(const char *p, int f, unsigned seen, const char **v, size_t *n)
{
	const char *b = p;
	bool str = p[-1] == '"';
	if (seen >> f & 1 || !((str ? F_STRINGS : F_NUMBERS) >> f & 1))
		return NULL;
	if (str) {
		while (plain[(unsigned char)*p])
			p++;
		if (*p != '"' || p == b)
			return NULL;
		*v = b;
		*n = (size_t)(p - b);
		return p + 1;
	}
	while (*p >= '0' && *p <= '9')
		p++;
	*v = b;
	*n = (size_t)(p - b);
	if (!*n || *n > 9 || (*b == '0' && *n > 1) ||
	    !(json_ws[(unsigned char)*p] || *p == ',' || *p == '}'))
		return NULL;
	return p;
}

/* One entry object into *r: its fields (each a string of plain characters, or a
 * whole number) read as the same fields of a line of the text form are. A gap
 * the same as one of the last few after the same place is taken whole (one
 * comparison, no white space or key read); any other is read the general way,
 * and kept. Where a gap taken whole is not followed by the value it promises,
 * the general way reads it again: what an entry means never depends on the
 * entries before it. */
static bool plain_entry(struct scan *s, struct nacl_rule *r)
{
	const char *v[F_N], *p = s->p;
	size_t n[F_N];
	unsigned seen = 0;
	int at = F_N; /* where we are: the entry's start, or past a field's value */
	WS(p);
	for (;;) {
		struct gap *g = s->gaps[at];
		const char *q, *after = NULL;
		int f = -1;
		for (int i = 0; i < GAP_WAYS && !after; i++)
			if (gap_at(s, p, &g[i])) {
				q = p + g[i].len;
				f = g[i].next;
				after = f < 0 ? q : value_read(q, f, seen, &v[f], &n[f]);
			}
		if (!after) {
			if (!(q = gap_read(s, p, at == F_N, &f)))
				return false;
			if ((size_t)(q - p) <= GAP_MAX) { /* in front, the oldest goes */
				memmove(g + 1, g, (GAP_WAYS - 1) * sizeof(*g));
				g[0] = (struct gap){p, (size_t)(q - p), f};
			}
			if (!(after = f < 0 ? q : value_read(q, f, seen, &v[f], &n[f])))
				return false; /* a key twice, a value of the wrong kind or not plain */
		}
		p = after;
		if (f < 0)
			break;
		seen |= 1u << f;
		at = f;
	}
	s->p = p;
	/* Required: rule, protocol, cidr, action. Then ports (tcp and udp only, and
	 * a number first: "-" means all in the text form, nothing in JSON), or an
	 * ICMP type and maybe a code (icmp only), or neither: all of them. */
	bool ports = seen >> F_PORTS & 1, type = seen >> F_ICMP_TYPE & 1,
	     code = seen >> F_ICMP_CODE & 1;
	unsigned need = 1u << F_RULE | 1u << F_PROTOCOL | 1u << F_CIDR | 1u << F_ACTION;
#define FIELD(f) v[f], v[f] + n[f]
	if ((seen & need) != need || (ports && (type || code)) || (code && !type) ||
	    !nacl_fast_rule(FIELD(F_RULE), r) || !nacl_fast_proto(FIELD(F_PROTOCOL), r))
		return false;
	if (ports && (r->m.proto == PROTO_TCP || r->m.proto == PROTO_UDP)
		     ? *v[F_PORTS] < '0' || *v[F_PORTS] > '9' || !nacl_fast_l4(FIELD(F_PORTS), r)
	    : type && r->m.proto == PROTO_ICMP
		     ? !nacl_fast_icmp(FIELD(F_ICMP_TYPE), &r->m.icmp_type) ||
			       (code && !nacl_fast_icmp(FIELD(F_ICMP_CODE), &r->m.icmp_code))
		     : ports || type)
		return false;
	return nacl_fast_cidr(FIELD(F_CIDR), r) && nacl_fast_action(FIELD(F_ACTION), r);
#undef FIELD
}

/* Room for as many entries as a list from `from` to the text's end could hold
 * (a plain one takes some forty characters at least). */
static bool entries_init(struct rule_list *e, const char *from, const char *end)
{
	size_t cap = (size_t)(end - from) / 40 + 1;
	return !rule_list_init(e, cap < VPC_MAX_NACL_RULES ? cap : VPC_MAX_NACL_RULES);
}

/* Plain entries at s->p, one after a comma after another, into e: 0 when one is
 * followed by no comma, 1 at `*join` (an entry start the helper published), -1
 * at an entry that is not plain, a rule number twice (jansson's way words it),
 * no more room, or a `*stop`. */
static int entries_read(struct scan *s, struct rule_list *e, const char *const *join,
			const int *stop)
{
	do {
		if (join) {
			WS(s->p);
			if (s->p == __atomic_load_n(join, __ATOMIC_ACQUIRE))
				return 1;
		}
		if (e->n == e->cap ||
		    (stop && !(e->n % 256) && __atomic_load_n(stop, __ATOMIC_RELAXED)))
			return -1;
		struct nacl_rule *x = &e->r[e->n];
		memset(x, 0, sizeof(*x));
		if (!plain_entry(s, x) || e->seen[x->number / 8] & 1 << (x->number % 8))
			return -1;
		e->seen[x->number / 8] |= (uint8_t)(1 << (x->number % 8));
		e->sorted = e->sorted && (!e->n || e->r[e->n - 1].number < x->number);
		e->n++;
	} while (lit(s, ','));
	return 0;
}

/* ---- the second half of a long list, on the helper thread (par.h) ----
 * It looks for an entry's start a little past the middle of the text (its CPU
 * was idle and its caches hold nothing of the text: it reads more slowly),
 * publishes where,
 * and reads the entries from there to their list's end. When plain_list() comes
 * to that place at the start of an entry, it takes those entries instead of
 * reading them: the same text read the same way (an entry's reading never
 * depends on the entries before it). A place inside a string or in another list
 * is never an entry start plain_list() comes to: the helper's work is then not
 * used. */

/* From this length on, a text's second half is read on the helper thread. */
#define HALF_MIN_BYTES (256u << 10)

struct half {
	struct par_job job; /* first: the job is the struct */
	struct scan s;	    /* its own, with gaps of its own */
	const char *at;	    /* (atomic) its first entry, once found */
	const char *close;  /* its list's closing bracket, when ok */
	struct rule_list e;
	bool ok;
	int stop; /* (atomic) not needed any more */
};

/* Past the middle: the start of an object after `}` and a comma, the way
 * entries follow each other. */
static const char *entry_after(const char *p, const char *end)
{
	while ((p = memchr(p, '}', (size_t)(end - p)))) {
		const char *q = skip_ws(p + 1, end);
		if (q < end && *q == ',') {
			q = skip_ws(q + 1, end);
			if (q < end && *q == '{')
				return q;
		}
		p++;
	}
	return NULL;
}

static void half_run(struct par_job *j)
{
	struct half *h = (struct half *)j;
	const char *at = entry_after(h->s.p, h->s.end);
	if (!at || !entries_init(&h->e, at, h->s.end))
		return;
	__atomic_store_n(&h->at, at, __ATOMIC_RELEASE);
	h->s.p = at;
	if (!entries_read(&h->s, &h->e, NULL, &h->stop) && lit(&h->s, ']')) {
		h->close = h->s.p - 1;
		h->ok = true;
	}
}

unsigned long topo_load_halves_joined;

/* Its list's entries from the helper's first on, after those read here (e). */
static bool half_join(struct scan *s, struct rule_list *e)
{
	struct half *h = s->half;
	s->half = NULL;
	par_take(&h->job); /* it published its start: it is running or done */
	bool ok = h->ok && rule_list_can_take(e, &h->e);
	if (ok) {
		rule_list_take(e, &h->e);
		s->p = h->close;
		topo_load_halves_joined++;
	}
	rule_list_free(&h->e);
	return ok;
}

/* The entries list at s->p, read into ls if all of its entries are plain. */
static bool plain_list(struct scan *s, size_t vi, size_t ni, bool out)
{
	const char *open = s->p;
	struct rule_list e = {0};
	int rc;
	if (!lit(s, '[') || !entries_init(&e, s->p, s->end) || lit(s, ']') ||
	    (rc = entries_read(s, &e, s->half ? &s->half->at : NULL, NULL)) < 0 ||
	    (rc == 1 && !half_join(s, &e)) || !lit(s, ']') || e.n < FAST_MIN_ENTRIES)
		goto no;
	struct nacl_rule *r = e.r;
	size_t n = e.n;
	struct nacl_lists *ls = s->ls;
	struct cut *cuts = realloc(s->cuts, (s->n_cuts + 1) * sizeof(*cuts));
	struct nacl_list *l = realloc(ls->l, (ls->n + 1) * sizeof(*l));
	if (cuts)
		s->cuts = cuts;
	if (l)
		ls->l = l;
	if (!cuts || !l)
		goto no;
	if (!e.sorted)
		qsort(r, n, sizeof(*r), nacl_rule_cmp);
	s->cuts[s->n_cuts++] = (struct cut){(size_t)(open - s->text) + 1,
					    (size_t)(s->p - s->text) - 1, vi, ni};
	ls->l[ls->n++] = (struct nacl_list){.out = out, .r = r, .n = n, .vi = -1, .ni = -1};
	free(e.seen);
	return true;
no:
	rule_list_free(&e);
	s->p = open;
	return skip_value(s);
}

/* ---- the walk down to the lists ---- */

enum level { L_ROOT, L_VPC, L_NACL };

static bool scan_list(struct scan *s, enum level lv, size_t vi);

/* An object on the way: the root, a VPC (vpcs[vi]), a NACL (its network_acls[ni]). */
static bool scan_object(struct scan *s, enum level lv, size_t vi, size_t ni)
{
	if (!lit(s, '{'))
		return false;
	if (lit(s, '}'))
		return true;
	do {
		const char *k;
		size_t kn;
		if (!string(s, &k, &kn) || !lit(s, ':'))
			return false;
		WS(s->p);
		bool arr = s->p < s->end && *s->p == '[', ok;
		if (arr && lv == L_ROOT && is(k, kn, "vpcs"))
			ok = scan_list(s, L_VPC, 0);
		else if (arr && lv == L_VPC && is(k, kn, "network_acls"))
			ok = scan_list(s, L_NACL, vi);
		else if (arr && lv == L_NACL && (is(k, kn, "inbound") || is(k, kn, "outbound")))
			ok = plain_list(s, vi, ni, *k == 'o');
		else
			ok = skip_value(s);
		if (!ok)
			return false;
	} while (lit(s, ','));
	return lit(s, '}');
}

/* The VPCs (vi: their index), or one VPC's NACLs. */
static bool scan_list(struct scan *s, enum level lv, size_t vi)
{
	if (!lit(s, '['))
		return false;
	if (lit(s, ']'))
		return true;
	size_t i = 0;
	do {
		WS(s->p);
		bool ok = s->p < s->end && *s->p == '{'
				  ? scan_object(s, lv, lv == L_VPC ? i : vi, lv == L_NACL ? i : 0)
				  : skip_value(s);
		if (!ok)
			return false;
		i++;
	} while (lit(s, ','));
	return lit(s, ']');
}

void nacl_lists_free(struct nacl_lists *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i].r);
	free(ls->l);
	memset(ls, 0, sizeof(*ls));
}

/* The list's NACL in the document: its object and names. */
static bool list_place(json_t *doc, const struct cut *c, struct nacl_list *l)
{
	json_t *vpc = json_array_get(json_object_get(doc, "vpcs"), c->vi);
	l->obj = json_array_get(json_object_get(vpc, "network_acls"), c->ni);
	l->vpc = json_string_value(json_object_get(vpc, "name"));
	l->nacl = json_string_value(json_object_get(l->obj, "name"));
	/* jansson has read the list as [] */
	const json_t *a = json_object_get(l->obj, l->out ? "outbound" : "inbound");
	return l->vpc && l->nacl && json_is_array(a) && !json_array_size(a);
}

json_t *topo_load(const char *text, size_t len, struct nacl_lists *ls, json_error_t *je)
{
	struct scan s = {.text = text, .p = text, .end = text + len, .ls = ls};
	struct half h = {.job.fn = half_run,
			 .s = {.text = text, .p = text + len / 20 * 11, .end = s.end}};
	json_t *doc = NULL;
	memset(ls, 0, sizeof(*ls));
	if (len >= HALF_MIN_BYTES && par_post(&h.job))
		s.half = &h;
	bool scanned = scan_object(&s, L_ROOT, 0, 0);
	if (s.half) { /* not joined: done with it before the text goes */
		__atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
		par_take(&h.job);
	}
	rule_list_free(&h.e);
	if (scanned && s.n_cuts) {
		char *cut = malloc(len + 1), *p = cut;
		size_t at = 0;
		for (size_t i = 0; cut && i < s.n_cuts; i++) {
			memcpy(p, text + at, s.cuts[i].from - at);
			p += s.cuts[i].from - at;
			at = s.cuts[i].to;
		}
		if (cut) {
			memcpy(p, text + at, len - at);
			p += len - at;
			doc = json_loadb(cut, (size_t)(p - cut), JSON_REJECT_DUPLICATES, je);
		}
		free(cut);
		for (size_t i = 0; doc && i < ls->n; i++)
			if (!list_place(doc, &s.cuts[i], &ls->l[i])) {
				json_decref(doc);
				doc = NULL;
			}
	}
	free(s.cuts);
	if (doc)
		return doc;
	/* No list read apart, or something the scan did not foresee: all of it the
	 * ordinary way, which also says where a fault is. */
	nacl_lists_free(ls);
	return json_loadb(text, len, JSON_REJECT_DUPLICATES, je);
}
