/*
 * The text form of a NACL's entries (see vpc/topo.h): a whole NACL of 10,000
 * entries is read in about a millisecond, where jansson takes some twenty for the
 * same entries as topology JSON. Every field goes through the checks the topology
 * file's entries go through (topo.c), so both forms accept and refuse the same.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "topo_internal.h"
#include "vpc/topo.h"

#define COLUMNS	 6
#define LINE_MAX_LEN 255

/* What a character is to the column splitter: part of a column (0), a blank
 * between columns, or the end of the line's columns (its end, a comment). */
enum { BLANK = 1, END = 2 };
static const unsigned char kind[256] = {[0] = END, ['#'] = END, [' '] = BLANK, ['\t'] = BLANK,
					['\r'] = BLANK};

struct dir_rules {
	struct rule_list l; /* room for a rule a line */
	const char *name;
};

/* A decimal integer of at most 9 digits, optionally negative, and nothing else. */
static bool whole_number(const char *s, long long *out)
{
	bool neg = *s == '-';
	long long v = 0;
	int digits = 0;
	for (s += neg; *s >= '0' && *s <= '9' && digits < 10; s++, digits++)
		v = v * 10 + (*s - '0');
	*out = neg ? -v : v;
	return digits && digits < 10 && !*s;
}

static int int_field(struct cctx *c, const char *s, const struct jpath *lp, const char *name,
		     long lo, long hi, long *out)
{
	struct jpath kp = JP_KEY(lp, name);
	long long n;
	if (!whole_number(s, &n))
		return cfail(c, &kp, VPC_E_INVALID, "\"%s\" must be a number %ld-%ld", s, lo, hi);
	return int_in_range(c, n, &kp, lo, hi, out);
}

/* The ports|icmp column, read as the protocol says. */
static int l4_field(struct cctx *c, char *s, const struct jpath *lp, struct match *m)
{
	m->port_lo = 0;
	m->port_hi = 65535;
	m->icmp_type = m->icmp_code = -1;
	if (!strcmp(s, "-"))
		return 0;
	if (m->proto == PROTO_TCP || m->proto == PROTO_UDP) {
		struct jpath kp = JP_KEY(lp, "ports");
		return ports_of(c, s, &kp, m);
	}
	if (m->proto != PROTO_ICMP)
		return match_check(c, m, true, false, false, lp);
	char *slash = strchr(s, '/');
	long type, code = -1;
	int err;
	if (slash)
		*slash = 0;
	if ((err = int_field(c, s, lp, "icmp_type", -1, 255, &type)) ||
	    (slash && (err = int_field(c, slash + 1, lp, "icmp_code", -1, 255, &code))))
		return err;
	m->icmp_type = (int)type;
	m->icmp_code = (int)code;
	return match_check(c, m, false, true, slash != NULL, lp);
}

/* A rule read from a line, into its direction's list. */
static int add_rule(struct cctx *c, const struct nacl_rule *r, int out, const struct jpath *lp,
		    struct dir_rules d[2])
{
	struct jpath rp = JP_KEY(lp, "rule");
	int err;
	struct dir_rules *dr = &d[out];
	struct rule_list *l = &dr->l;
	if (l->n == VPC_MAX_NACL_RULES)
		return cfail(c, lp, VPC_E_INVALID, "more than %d %s entries", VPC_MAX_NACL_RULES,
			     dr->name);
	l->r[l->n] = *r;
	if ((err = rule_taken(c, l->seen, l->r, l->n, &l->sorted, &rp, dr->name)))
		return err;
	l->n++;
	return 0;
}

/* A line split into its columns, each field read and checked as a topology
 * file's would be; the message of any fault names the field. */
static int parse_line(struct cctx *c, char **col, const struct jpath *lp, struct dir_rules d[2])
{
	struct jpath dp = JP_KEY(lp, "direction"), pp = JP_KEY(lp, "protocol"),
		     cp = JP_KEY(lp, "cidr"), ap = JP_KEY(lp, "action");
	struct nacl_rule r = {0};
	long num;
	int err, out = !strcmp(col[0], "outbound");
	if (!out && strcmp(col[0], "inbound"))
		return cfail(c, &dp, VPC_E_INVALID, "\"%s\" must be \"inbound\" or \"outbound\"",
			     col[0]);
	if ((err = int_field(c, col[1], lp, "rule", VPC_NACL_RULE_MIN, VPC_NACL_RULE_MAX, &num)) ||
	    (err = proto_of(c, col[2], &pp, &r.m.proto)) || (err = l4_field(c, col[3], lp, &r.m)) ||
	    (err = parse_cidr_at(c, col[4], &cp, &r.cidr)) ||
	    (err = action_of(c, col[5], &ap, &r.allow)))
		return err;
	r.number = (uint16_t)num;
	return add_rule(c, &r, out, lp, d);
}

/* ---- the fast path ----
 *
 * Most lines are in the form `export` writes: lower-case names or a protocol
 * number, a port or range for tcp and udp, a type or type/code for icmp, or "-",
 * a CIDR without host bits. fast_line() reads such a line straight from the
 * text, with no copy, in about half the time. It accepts a subset of what
 * parse_line() accepts, with the same result; any other line (capitals, -1, a
 * fault) goes the general way, which also words the error. Its fields are read by
 * the nacl_fast_*() functions, which topo_load() uses for the same fields in
 * JSON. */

static inline __attribute__((always_inline)) bool is_word(const char *b, const char *e,
							  const char *w, size_t n)
{
	return (size_t)(e - b) == n && !memcmp(b, w, n);
}

/* 1 to `max` decimal digits, all of [b, e). */
static inline bool digits(const char *b, const char *e, int max, unsigned long *v)
{
	if (b == e || e - b > max)
		return false;
	for (*v = 0; b < e; b++) {
		if (*b < '0' || *b > '9')
			return false;
		*v = *v * 10 + (unsigned long)(*b - '0');
	}
	return true;
}

bool nacl_fast_rule(const char *b, const char *e, struct nacl_rule *r)
{
	unsigned long num;
	if (!digits(b, e, 5, &num) || num < VPC_NACL_RULE_MIN || num > VPC_NACL_RULE_MAX)
		return false;
	r->number = (uint16_t)num;
	return true;
}

bool nacl_fast_proto(const char *b, const char *e, struct nacl_rule *r)
{
	unsigned long num;
	if (is_word(b, e, "tcp", 3))
		r->m.proto = PROTO_TCP;
	else if (is_word(b, e, "udp", 3))
		r->m.proto = PROTO_UDP;
	else if (is_word(b, e, "all", 3))
		r->m.proto = PROTO_ALL;
	else if (is_word(b, e, "icmp", 4))
		r->m.proto = PROTO_ICMP;
	else if (digits(b, e, 3, &num) && num <= 255)
		r->m.proto = (int)num;
	else
		return false;
	r->m.port_lo = 0;
	r->m.port_hi = 65535;
	r->m.icmp_type = r->m.icmp_code = -1;
	return true;
}

bool nacl_fast_icmp(const char *b, const char *e, int *v)
{
	unsigned long num;
	if (!digits(b, e, 3, &num) || num > 255)
		return false;
	*v = (int)num;
	return true;
}

bool nacl_fast_l4(const char *b, const char *e, struct nacl_rule *r)
{
	if (is_word(b, e, "-", 1))
		return true; /* all ports, types and codes */
	if (r->m.proto == PROTO_TCP || r->m.proto == PROTO_UDP)
		return ports_scan(&b, e, &r->m) && b == e;
	if (r->m.proto != PROTO_ICMP)
		return false;
	/* type or type/code */
	const char *slash = memchr(b, '/', (size_t)(e - b));
	return nacl_fast_icmp(b, slash ? slash : e, &r->m.icmp_type) &&
	       (!slash || nacl_fast_icmp(slash + 1, e, &r->m.icmp_code));
}

bool nacl_fast_cidr(const char *b, const char *e, struct nacl_rule *r)
{
	uint32_t ip;
	unsigned len;
	return !cidr_scan(&b, e, &ip, &len) && b == e && !cidr_make(ip, len, &r->cidr);
}

bool nacl_fast_action(const char *b, const char *e, struct nacl_rule *r)
{
	return (r->allow = is_word(b, e, "allow", 5)) || is_word(b, e, "deny", 4);
}

/* What ends a line's columns on the fast path: also its newline, which the
 * splitter finds as it goes (no search for it first). */
static const unsigned char fast_kind[256] = {[0] = END,	     ['#'] = END,    ['\n'] = END,
					     [' '] = BLANK, ['\t'] = BLANK, ['\r'] = BLANK};

/* The first character at or after p (before end) that is below '-': every
 * character that ends a column is (blanks, '#', the newline, NUL), and none that
 * a fast field holds is (letters, digits, '.', '/', '-'). Eight at a time: a byte
 * below '-' is one where (byte | 0x80) - '-' has its high bit clear. */
static inline const char *column_end(const char *p, const char *end)
{
	const uint64_t high = 0x8080808080808080ULL, dash = 0x2d2d2d2d2d2d2d2dULL;
	for (; end - p >= 8; p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t below = ~((w | high) - dash) & high;
		if (below) /* (the bytes are in memory order on little-endian machines) */
			return p + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
					    ? __builtin_ctzll(below)
					    : __builtin_clzll(below)) / 8;
	}
	while (p < end && (unsigned char)*p >= '-')
		p++;
	return p;
}

/* The line at `at`: true if it is read the fast way, with *eol at its newline
 * (or at `end`). */
static bool fast_line(const char *at, const char *end, struct nacl_rule *r, int *out,
		      const char **eol)
{
	const char *col[COLUMNS], *cend[COLUMNS], *p = at;
	/* The columns: runs of other than blanks, up to the line's end or a comment. */
	for (int i = 0; i < COLUMNS; i++) {
		while (p < end && fast_kind[(unsigned char)*p] == BLANK)
			p++;
		col[i] = p;
		p = column_end(p, end);
		if (p < end && !fast_kind[(unsigned char)*p])
			return false; /* a character no fast field has: the general way */
		cend[i] = p;
		if (p == col[i])
			return false;
	}
	while (p < end && fast_kind[(unsigned char)*p] == BLANK)
		p++;
	if (p < end && *p == '#')
		p = (p = memchr(p, '\n', (size_t)(end - p))) ? p : end;
	else if (p < end && *p != '\n')
		return false;
	*eol = p;
	if (!(*out = is_word(col[0], cend[0], "outbound", 8)) &&
	    !is_word(col[0], cend[0], "inbound", 7))
		return false;
	return nacl_fast_rule(col[1], cend[1], r) && nacl_fast_proto(col[2], cend[2], r) &&
	       nacl_fast_l4(col[3], cend[3], r) && nacl_fast_cidr(col[4], cend[4], r) &&
	       nacl_fast_action(col[5], cend[5], r);
}

/* The fewest characters a line with an entry takes, its newline included:
 * "inbound 1 6 - 0.0.0.0/0 deny". */
#define ENTRY_LINE_MIN 29

/* Both directions' rules read so far, room for `cap` in each. */
static int dirs_init(struct dir_rules d[2], size_t cap)
{
	d[0].name = "inbound";
	d[1].name = "outbound";
	int e0 = rule_list_init(&d[0].l, cap), e1 = rule_list_init(&d[1].l, cap);
	return e0 ? e0 : e1;
}

static void dirs_free(struct dir_rules d[2])
{
	rule_list_free(&d[0].l);
	rule_list_free(&d[1].l);
}

/* ---- the second half of a long text, on the helper thread (par.h) ----
 * It reads the lines from the first one that starts past the middle of the text
 * to its end, the fast way only, and publishes where it started. When
 * nacl_text_parse() comes to that line, it takes those rules instead of reading
 * the lines itself, if the helper read them all, none of their rule numbers is
 * one it has read already, and they fit. Otherwise it reads on itself, which also
 * words any error with its line's number, as without the helper. */

/* From this length on, a text's second half is read on the helper thread (vpcd
 * wakes it when a request this large comes). */
#define TEXT_HALF_MIN PAR_WARM_BYTES

struct text_half {
	struct par_job job; /* first: the job is the struct */
	const char *from, *end;
	const char *at; /* (atomic) its first line, once found */
	struct dir_rules d[2];
	size_t cap;
	bool ok;
	int stop; /* (atomic) not needed any more */
};

static void text_half_run(struct par_job *j)
{
	struct text_half *h = (struct text_half *)j;
	struct vpc_err scratch;
	struct cctx c = {.err = &scratch};
	const char *at = memchr(h->from, '\n', (size_t)(h->end - h->from));
	if (!at || ++at == h->end || dirs_init(h->d, h->cap))
		return;
	__atomic_store_n(&h->at, at, __ATOMIC_RELEASE);
	for (size_t k = 0; at < h->end; k++) {
		struct jpath lp = JP_LINE(0); /* (no error is worded here) */
		struct nacl_rule r = {0};
		const char *nl;
		int out;
		if ((!(k % 256) && __atomic_load_n(&h->stop, __ATOMIC_RELAXED)) ||
		    !fast_line(at, h->end, &r, &out, &nl) || nl - at > LINE_MAX_LEN ||
		    add_rule(&c, &r, out, &lp, h->d))
			return;
		at = nl + 1;
	}
	h->ok = true;
}

unsigned long nacl_text_halves_joined;
bool nacl_text_fast = true;

/* The helper's rules after those of d, if they may go there. */
static bool text_half_join(struct text_half *h, struct dir_rules d[2])
{
	par_take(&h->job); /* it published its start: it is running or done */
	/* Both directions or neither: the lines would be read again. */
	bool ok = h->ok && rule_list_can_take(&d[0].l, &h->d[0].l) &&
		  rule_list_can_take(&d[1].l, &h->d[1].l);
	for (int i = 0; ok && i < 2; i++)
		rule_list_take(&d[i].l, &h->d[i].l);
	nacl_text_halves_joined += ok;
	dirs_free(h->d);
	return ok;
}

int nacl_text_parse(const char *text, size_t len, struct nacl_entries *e, struct vpc_err *err)
{
	struct cctx c = {.err = err};
	struct dir_rules d[2] = {0};
	int rc = 0;
	memset(e, 0, sizeof(*e));
	const char *nul = memchr(text, 0, len);
	if (nul) { /* it would cut a field short unseen */
		size_t lines = 1;
		for (const char *p = text; (p = memchr(p, '\n', (size_t)(nul - p))); p++)
			lines++;
		struct jpath lp = JP_LINE(lines);
		return cfail(&c, &lp, VPC_E_INVALID, "holds a NUL byte: not a text file?");
	}
	/* Room for as many entries as the text can hold (add_rule() stops at the
	 * most a direction may have). */
	size_t cap = len / ENTRY_LINE_MIN + 1;
	if (cap > VPC_MAX_NACL_RULES)
		cap = VPC_MAX_NACL_RULES;
	if (dirs_init(d, cap)) {
		rc = vpc_fail(err, VPC_E_INTERNAL, "", "out of memory");
		goto out;
	}
	struct text_half h = {.job.fn = text_half_run, .from = text + len / 20 * 11,
			      .end = text + len, .cap = cap};
	bool half = nacl_text_fast && len >= TEXT_HALF_MIN && par_post(&h.job);
	size_t lineno = 0;
	for (const char *at = text, *end = text + len; at < end && !rc;) {
		char buf[LINE_MAX_LEN + 1], *col[COLUMNS + 1];
		const char *nl;
		int ncol = 0, out;
		struct jpath lp = JP_LINE(++lineno);
		struct nacl_rule r = {0};
		if (half && at == __atomic_load_n(&h.at, __ATOMIC_ACQUIRE)) {
			half = false;
			if (text_half_join(&h, d))
				break;
		}
		if (nacl_text_fast && fast_line(at, end, &r, &out, &nl) && nl - at <= LINE_MAX_LEN) {
			rc = add_rule(&c, &r, out, &lp, d);
			at = nl + 1;
			continue;
		}
		nl = memchr(at, '\n', (size_t)(end - at));
		size_t n = (size_t)((nl ? nl : end) - at);
		if (n > LINE_MAX_LEN) {
			rc = cfail(&c, &lp, VPC_E_INVALID, "longer than %d characters", LINE_MAX_LEN);
			break;
		}
		/* Columns split at blanks, in a copy of the line, up to a comment
		 * (strtok() took a third of the time). */
		memcpy(buf, at, n);
		buf[n] = 0;
		for (char *p = buf; ncol <= COLUMNS;) {
			while (kind[(unsigned char)*p] == BLANK)
				p++;
			if (kind[(unsigned char)*p] == END)
				break;
			col[ncol++] = p;
			while (!kind[(unsigned char)*p])
				p++;
			bool last = kind[(unsigned char)*p] == END;
			*p++ = 0;
			if (last)
				break;
		}
		at += n + 1;
		if (!ncol)
			continue;
		if (ncol != COLUMNS)
			rc = cfail(&c, &lp, VPC_E_INVALID,
				   "%s columns: want direction rule protocol ports|icmp cidr action",
				   ncol > COLUMNS ? "too many" : "too few");
		else
			rc = parse_line(&c, col, &lp, d);
	}
	if (half) { /* not joined: done with it before the text goes */
		__atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
		par_take(&h.job);
		dirs_free(h.d);
	}
	for (int i = 0; i < 2 && !rc; i++)
		if (!d[i].l.sorted)
			qsort(d[i].l.r, d[i].l.n, sizeof(*d[i].l.r), nacl_rule_cmp);
out:
	if (rc) {
		dirs_free(d);
		return -EINVAL;
	}
	*e = (struct nacl_entries){d[0].l.r, d[1].l.r, d[0].l.n, d[1].l.n};
	free(d[0].l.seen);
	free(d[1].l.seen);
	return 0;
}
