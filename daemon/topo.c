/*
 * Topology compiler: reads the desired-state JSON, validates every field and
 * reference, and builds the model of vpc/model.h. Pure code: no kernel, no I/O.
 *
 * Passes: (A) VPC names and peerings, so anything may refer to them; (B) each VPC
 * with its own references; (C) security-group references across a peering;
 * (D) elastic IPs; (E) allocation of ids and addresses (topo_alloc.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpc/util.h"
#include "topo_internal.h"
#include "vpc/nacl.h"
#include "vpc/topo.h"

const char jpath_line[] = "line";

void jpath_fmt(const struct jpath *p, char *buf, size_t len)
{
	if (!p) {
		buf[0] = 0;
		return;
	}
	jpath_fmt(p->up, buf, len);
	size_t n = strlen(buf);
	if (p->key == jpath_line)
		snprintf(buf + n, len - n, "%sline %zu", n ? "." : "", p->idx);
	else if (p->key)
		snprintf(buf + n, len - n, "%s%s", n ? "." : "", p->key);
	else
		snprintf(buf + n, len - n, "[%zu]", p->idx);
}

int cfail(struct cctx *c, const struct jpath *p, const char *code, const char *fmt, ...)
{
	char path[sizeof(c->err->path)];
	va_list ap;
	jpath_fmt(p, path, sizeof(path));
	va_start(ap, fmt);
	vpc_vfail(c->err, code, path, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int unsupported(struct cctx *c, const struct jpath *p, unsigned feat, const char *what)
{
	if (c->features & feat)
		return 0;
	return cfail(c, p, VPC_E_UNSUPPORTED, "%s not supported yet by this version of vpcd",
		     what);
}

/* ---- field readers ---------------------------------------------------------- */

static int check_keys(struct cctx *c, const json_t *obj, const struct jpath *p,
		      const char *const *allowed)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj))
		return cfail(c, p, VPC_E_INVALID, "must be a JSON object");
	json_object_foreach((json_t *)obj, key, v)
	{
		bool ok = false;
		for (const char *const *k = allowed; *k && !ok; k++)
			ok = !strcmp(*k, key);
		if (!ok) {
			char list[256] = "";
			for (const char *const *k = allowed; *k; k++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 k == allowed ? "" : ", ", *k);
			struct jpath kp = JP_KEY(p, key);
			return cfail(c, &kp, VPC_E_INVALID, "unknown key (allowed here: %s)",
				     list);
		}
	}
	return 0;
}

/* Returns the string, NULL with an error set, or NULL without error when optional
 * and absent (check c->err->code to tell). */
static const char *get_str(struct cctx *c, const json_t *obj, const char *key,
			   const struct jpath *p, bool required)
{
	json_t *v = json_object_get(obj, key);
	struct jpath kp = JP_KEY(p, key);
	if (!v) {
		if (required)
			cfail(c, &kp, VPC_E_INVALID, "is required");
		return NULL;
	}
	if (!json_is_string(v)) {
		cfail(c, &kp, VPC_E_INVALID, "must be a string");
		return NULL;
	}
	return json_string_value(v);
}

static int get_bool(struct cctx *c, const json_t *obj, const char *key, const struct jpath *p,
		    bool dflt, bool *out)
{
	json_t *v = json_object_get(obj, key);
	struct jpath kp = JP_KEY(p, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return cfail(c, &kp, VPC_E_INVALID, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* Array member: absent is an empty array. */
static int get_array(struct cctx *c, const json_t *obj, const char *key, const struct jpath *p,
		     json_t **out)
{
	json_t *v = json_object_get(obj, key);
	struct jpath kp = JP_KEY(p, key);
	*out = v;
	if (v && !json_is_array(v))
		return cfail(c, &kp, VPC_E_INVALID, "must be an array");
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > VPC_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static const char *get_name(struct cctx *c, const json_t *obj, const struct jpath *p)
{
	const char *s = get_str(c, obj, "name", p, true);
	struct jpath kp = JP_KEY(p, "name");
	if (!s)
		return NULL;
	if (!name_ok(s)) {
		cfail(c, &kp, VPC_E_INVALID,
		      "\"%s\" is not a valid name: use 1-%d letters, digits, '-' or '_', "
		      "starting with a letter or digit",
		      s, VPC_NAME_MAX);
		return NULL;
	}
	return arena_strdup(c->a, s);
}

int parse_cidr_at(struct cctx *c, const char *s, const struct jpath *kp, struct cidr *out)
{
	enum cidr_parse_err e = cidr_parse(s, out);
	char buf[CIDR_STR_MAX];
	if (e == CIDR_HOST_BITS)
		return cfail(c, kp, VPC_E_INVALID, "\"%s\" has bits set after the prefix; did you mean %s?",
			     s, cidr_fmt(*out, buf));
	if (e)
		return cfail(c, kp, VPC_E_INVALID, "\"%s\" is %s", s,
			     e == CIDR_BAD_SYNTAX ? "not an IPv4 CIDR block like 10.0.0.0/16"
						  : "not a valid CIDR: the prefix length must be 0-32");
	return 0;
}

static int get_cidr(struct cctx *c, const json_t *obj, const char *key, const struct jpath *p,
		    struct cidr *out)
{
	const char *s = get_str(c, obj, key, p, true);
	struct jpath kp = JP_KEY(p, key);
	if (!s)
		return -EINVAL;
	return parse_cidr_at(c, s, &kp, out);
}

/* An integer member; `present` tells whether it was there. */
static int get_int(struct cctx *c, const json_t *obj, const char *key, const struct jpath *p,
		   long lo, long hi, long *out, bool *present)
{
	json_t *v = json_object_get(obj, key);
	struct jpath kp = JP_KEY(p, key);
	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return cfail(c, &kp, VPC_E_INVALID, "must be an integer");
	return int_in_range(c, json_integer_value(v), &kp, lo, hi, out);
}

int int_in_range(struct cctx *c, long long n, const struct jpath *kp, long lo, long hi, long *out)
{
	if (n < lo || n > hi)
		return cfail(c, kp, VPC_E_INVALID, "%lld is out of range %ld-%ld", n, lo, hi);
	*out = (long)n;
	return 0;
}

/* ---- rules ---------------------------------------------------------------- */

static int parse_proto(struct cctx *c, const json_t *rule, const struct jpath *p, int *out)
{
	json_t *v = json_object_get(rule, "protocol");
	struct jpath kp = JP_KEY(p, "protocol");
	if (!v)
		return cfail(c, &kp, VPC_E_INVALID, "is required");
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n == -1) {
			*out = PROTO_ALL;
			return 0;
		}
		if (n < 0 || n > 255)
			return cfail(c, &kp, VPC_E_INVALID,
				     "%lld is not a protocol number: use 0-255 or -1 for all",
				     (long long)n);
		*out = (int)n;
		return 0;
	}
	if (!json_is_string(v))
		return cfail(c, &kp, VPC_E_INVALID, "must be a string or a number");
	return proto_of(c, json_string_value(v), &kp, out);
}

int proto_of(struct cctx *c, const char *s, const struct jpath *kp, int *out)
{
	static const struct {
		const char *name;
		int proto;
	} names[] = {{"tcp", PROTO_TCP}, {"udp", PROTO_UDP}, {"icmp", PROTO_ICMP},
		     {"all", PROTO_ALL},  {"-1", PROTO_ALL}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].proto;
			return 0;
		}
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end && isdigit((unsigned char)*s) && n >= 0 && n <= 255) {
		*out = (int)n;
		return 0;
	}
	return cfail(c, kp, VPC_E_INVALID,
		     "\"%s\" is not a protocol: use tcp, udp, icmp, all or a number 0-255", s);
}

static int parse_ports(struct cctx *c, const json_t *v, const struct jpath *kp, struct match *m)
{
	char buf[32];
	const char *s;
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		s = buf;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
	} else {
		return cfail(c, kp, VPC_E_INVALID, "must be a port (\"80\") or range (\"1024-65535\")");
	}
	return ports_of(c, s, kp, m);
}

/* A port number's digits at *p (at most 65535, before `end`), *p moved past them. */
static int port_digits(const char **p, const char *end, unsigned long *v)
{
	int n = 0;
	for (*v = 0; *p < end && **p >= '0' && **p <= '9'; (*p)++)
		if (++n > 5 || (*v = *v * 10 + (unsigned long)(**p - '0')) > 65535)
			return -1;
	return n ? 0 : -1;
}

bool ports_scan(const char **p, const char *end, struct match *m)
{
	unsigned long lo, hi;
	const char *s = *p;
	if (port_digits(&s, end, &lo))
		return false;
	hi = lo;
	if (s < end && *s == '-') {
		s++;
		if (port_digits(&s, end, &hi))
			return false;
	}
	if (lo > hi)
		return false;
	m->port_lo = (uint16_t)lo;
	m->port_hi = (uint16_t)hi;
	*p = s;
	return true;
}

int ports_of(struct cctx *c, const char *s, const struct jpath *kp, struct match *m)
{
	const char *p = s, *end = s + strlen(s);
	if (ports_scan(&p, end, m) && p == end)
		return 0;
	return cfail(c, kp, VPC_E_INVALID,
		     "\"%s\" is not a port range: use N or N-M with 0 <= N <= M <= 65535", s);
}

/* protocol, ports, icmp_type, icmp_code: shared by NACL entries and group rules. */
static int parse_match(struct cctx *c, const json_t *rule, const struct jpath *p, struct match *m)
{
	long n = 0;
	bool has_type, has_code;
	int err;

	m->port_lo = 0;
	m->port_hi = 65535;
	m->icmp_type = m->icmp_code = -1;
	if ((err = parse_proto(c, rule, p, &m->proto)))
		return err;
	json_t *ports = json_object_get(rule, "ports");
	struct jpath pp = JP_KEY(p, "ports");
	if (ports && ((err = match_check(c, m, true, false, false, p)) ||
		      (err = parse_ports(c, ports, &pp, m))))
		return err;
	if ((err = get_int(c, rule, "icmp_type", p, -1, 255, &n, &has_type)))
		return err;
	if (has_type)
		m->icmp_type = (int)n;
	if ((err = get_int(c, rule, "icmp_code", p, -1, 255, &n, &has_code)))
		return err;
	if (has_code)
		m->icmp_code = (int)n;
	return match_check(c, m, false, has_type, has_code, p);
}

int match_check(struct cctx *c, const struct match *m, bool ports, bool type, bool code,
		const struct jpath *p)
{
	if (ports && m->proto != PROTO_TCP && m->proto != PROTO_UDP) {
		struct jpath kp = JP_KEY(p, "ports");
		return cfail(c, &kp, VPC_E_INVALID, "ports only apply to protocol tcp or udp");
	}
	if ((type || code) && m->proto != PROTO_ICMP) {
		struct jpath kp = JP_KEY(p, type ? "icmp_type" : "icmp_code");
		return cfail(c, &kp, VPC_E_INVALID, "only applies to protocol icmp");
	}
	if (m->icmp_code >= 0 && m->icmp_type < 0) {
		struct jpath kp = JP_KEY(p, "icmp_code");
		return cfail(c, &kp, VPC_E_INVALID, "needs an icmp_type");
	}
	return 0;
}

static const char *const nacl_rule_keys[] = {"rule",	  "protocol",  "ports",	 "icmp_type",
					     "icmp_code", "cidr",      "action", "description",
					     NULL};

int nacl_rule_cmp(const void *a, const void *b)
{
	const struct nacl_rule *x = a, *y = b;
	return (int)x->number - (int)y->number;
}

static int parse_nacl_rule(struct cctx *c, const json_t *e, const struct jpath *ep,
			   struct nacl_rule *r)
{
	long num = 0;
	bool has;
	int err;
	if ((err = check_keys(c, e, ep, nacl_rule_keys)) ||
	    (err = get_int(c, e, "rule", ep, VPC_NACL_RULE_MIN, VPC_NACL_RULE_MAX, &num, &has)))
		return err;
	if (!has) {
		struct jpath kp = JP_KEY(ep, "rule");
		return cfail(c, &kp, VPC_E_INVALID, "is required (a number 1-32766)");
	}
	r->number = (uint16_t)num;
	if ((err = parse_match(c, e, ep, &r->m)) || (err = get_cidr(c, e, "cidr", ep, &r->cidr)))
		return err;
	const char *act = get_str(c, e, "action", ep, true);
	struct jpath kp = JP_KEY(ep, "action");
	return act ? action_of(c, act, &kp, &r->allow) : -EINVAL;
}

int action_of(struct cctx *c, const char *s, const struct jpath *kp, bool *allow)
{
	*allow = !strcmp(s, "allow");
	if (!*allow && strcmp(s, "deny"))
		return cfail(c, kp, VPC_E_INVALID, "\"%s\" must be \"allow\" or \"deny\"", s);
	return 0;
}

int rule_taken(struct cctx *c, uint8_t *seen, const struct nacl_rule *r, size_t i, bool *sorted,
	       const struct jpath *kp, const char *dir)
{
	unsigned num = r[i].number;
	if (seen[num / 8] & (1 << (num % 8)))
		return cfail(c, kp, VPC_E_INVALID, "rule number %u appears twice in %s", num, dir);
	seen[num / 8] |= (uint8_t)(1 << (num % 8));
	*sorted = *sorted && (i == 0 || r[i - 1].number < num);
	return 0;
}

int rule_list_init(struct rule_list *l, size_t cap)
{
	*l = (struct rule_list){.cap = cap, .sorted = true};
	l->r = malloc(cap * sizeof(*l->r));
	l->seen = calloc(RULE_SEEN_BYTES, 1);
	return l->r && l->seen ? 0 : -ENOMEM;
}

void rule_list_free(struct rule_list *l)
{
	free(l->r);
	free(l->seen);
	l->r = NULL;
	l->seen = NULL;
}

bool rule_list_can_take(const struct rule_list *a, const struct rule_list *b)
{
	bool ok = a->n + b->n <= a->cap;
	for (size_t i = 0; ok && i < RULE_SEEN_BYTES; i++)
		ok = !(a->seen[i] & b->seen[i]);
	return ok;
}

void rule_list_take(struct rule_list *a, const struct rule_list *b)
{
	if (!b->n)
		return;
	memcpy(a->r + a->n, b->r, b->n * sizeof(*a->r));
	for (size_t i = 0; i < RULE_SEEN_BYTES; i++)
		a->seen[i] |= b->seen[i];
	a->sorted = a->sorted && b->sorted && (!a->n || a->r[a->n - 1].number < b->r[0].number);
	a->n += b->n;
}

/* ---- the rule memo ---- */

static size_t memo_slot(const void *src, size_t cap)
{
	return (size_t)(((uintptr_t)src >> 4) * 0x9e3779b97f4a7c15ULL >> 20) & (cap - 1);
}

static const struct nacl_rule *memo_find(const struct topology *t, const void *src)
{
	if (!t || !t->memo_cap)
		return NULL;
	for (size_t i = memo_slot(src, t->memo_cap);; i = (i + 1) & (t->memo_cap - 1)) {
		if (t->memo[i].src == src)
			return &t->memo[i].r;
		if (!t->memo[i].src)
			return NULL;
	}
}

static void memo_put(struct topology *t, const void *src, const struct nacl_rule *r)
{
	if (!t->memo_cap)
		return;
	size_t i = memo_slot(src, t->memo_cap);
	while (t->memo[i].src && t->memo[i].src != src)
		i = (i + 1) & (t->memo_cap - 1);
	t->memo[i] = (struct rule_memo){src, *r};
}

/* Room for every NACL rule of the document, at most half full. */
static void memo_init(struct cctx *c, const json_t *doc)
{
	size_t n = 0, cap = 16;
	const json_t *v, *nacl;
	size_t i, k;
	json_array_foreach(json_object_get(doc, "vpcs"), i, v)
		json_array_foreach(json_object_get(v, "network_acls"), k, nacl)
			n += json_array_size(json_object_get(nacl, "inbound")) +
			     json_array_size(json_object_get(nacl, "outbound"));
	while (cap < 2 * n)
		cap *= 2;
	c->t->memo = arena_array(c->a, struct rule_memo, cap);
	c->t->memo_cap = cap;
}

/* A NACL's rules in one direction. `was`: the previous model's rules of the same
 * NACL and direction (n_was of them), in number order: an edit leaves most of
 * them where they were, so the rule read from the same JSON object is looked for
 * at its place first (one pointer compared), in the memo only when it moved. */
static int parse_nacl_rules(struct cctx *c, const json_t *arr, const struct jpath *p,
			    const char *dir, const struct nacl_rule *was, size_t n_was,
			    struct nacl_rule **out, size_t *n_out)
{
	size_t n = arr ? json_array_size(arr) : 0;
	if (n > VPC_MAX_NACL_RULES)
		return cfail(c, p, VPC_E_INVALID, "%zu rules; at most %d per direction", n,
			     VPC_MAX_NACL_RULES);
	struct nacl_rule *r = arena_array(c->a, struct nacl_rule, n ? n : 1);
	/* One bit per rule number finds duplicates in O(n). */
	uint8_t *seen = calloc(RULE_SEEN_BYTES, 1);
	int err = 0;
	if (!seen)
		return -ENOMEM;
	bool sorted = true;
	for (size_t i = 0, at = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		const struct nacl_rule *known = NULL;
		/* at its place, or one on (the one before it taken away) */
		for (size_t k = at; !known && k < n_was && k <= at + 1; k++)
			if (was[k].src == e) {
				known = &was[k];
				at = k + 1;
			}
		if (!known)
			known = memo_find(c->prev, e);
		if (known)
			r[i] = *known;
		else if ((err = parse_nacl_rule(c, e, &ep, &r[i])))
			goto out;
		r[i].src = e;
		struct jpath kp = JP_KEY(&ep, "rule");
		if ((err = rule_taken(c, seen, r, i, &sorted, &kp, dir)))
			goto out;
		memo_put(c->t, e, &r[i]);
	}
	if (!sorted)
		qsort(r, n, sizeof(*r), nacl_rule_cmp);
	*out = r;
	*n_out = n;
out:
	free(seen);
	return err;
}

/* ---- per-VPC collections ---------------------------------------------------- */

/* Finds `name` in a collection of structs whose first member is `const char *name`. */
static int find_named(const void *arr, size_t n, size_t stride, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(*(const char *const *)((const char *)arr + i * stride), name))
			return (int)i;
	return -1;
}
#define FIND(arr, n, name) find_named((arr), (n), sizeof(*(arr)), (name))

int topo_find_vpc(const struct topology *t, const char *name)
{
	return FIND(t->vpcs, t->n_vpcs, name);
}
int vpc_find_instance(const struct vpc *v, const char *name)
{
	return FIND(v->instances, v->n_instances, name);
}
int vpc_find_subnet(const struct vpc *v, const char *name)
{
	return FIND(v->subnets, v->n_subnets, name);
}
int vpc_find_nacl(const struct vpc *v, const char *name)
{
	return FIND(v->nacls, v->n_nacls, name);
}

/* Checks the name of element i of a collection against those before it. */
static int unique_name(struct cctx *c, const void *arr, size_t i, size_t stride, const char *name,
		       const struct jpath *ep, const char *what)
{
	if (find_named(arr, i, stride, name) >= 0) {
		struct jpath kp = JP_KEY(ep, "name");
		return cfail(c, &kp, VPC_E_INVALID, "duplicate %s name \"%s\"", what, name);
	}
	return 0;
}
#define UNIQUE(c, arr, i, name, ep, what) unique_name(c, arr, i, sizeof(*(arr)), name, ep, what)

static int ref_in(struct cctx *c, const json_t *obj, const char *key, const struct jpath *p,
		  const void *arr, size_t n, size_t stride, const char *what, const struct vpc *v,
		  int dflt, int *out)
{
	const char *s = get_str(c, obj, key, p, dflt == -2);
	struct jpath kp = JP_KEY(p, key);
	if (!s) {
		if (c->err->code[0])
			return -EINVAL;
		*out = dflt;
		return 0;
	}
	int i = find_named(arr, n, stride, s);
	if (i < 0)
		return cfail(c, &kp, VPC_E_INVALID, "no %s named \"%s\" in VPC %s", what, s,
			     v->name);
	*out = i;
	return 0;
}
#define REF_REQUIRED -2
#define REF(c, obj, key, p, arr, n, what, v, dflt, out)                                            \
	ref_in(c, obj, key, p, arr, n, sizeof(*(arr)), what, v, dflt, out)

static int parse_size(struct cctx *c, struct cidr cidr, const struct jpath *kp, const char *what)
{
	char buf[CIDR_STR_MAX];
	if (cidr.len < 16 || cidr.len > 28)
		return cfail(c, kp, VPC_E_INVALID,
			     "%s CIDR %s is too %s: the prefix must be between /16 and /28", what,
			     cidr_fmt(cidr, buf), cidr.len < 16 ? "large" : "small");
	return 0;
}

static const char *const subnet_keys[] = {"name", "cidr", "route_table", "network_acl",
					  "description", NULL};
static const char *const nacl_keys[] = {"name", "inbound", "outbound", "description", NULL};
static const char *const sg_keys[] = {"name", "ingress", "egress", "description", NULL};
static const char *const sg_rule_keys[] = {"protocol",	"ports", "icmp_type",	    "icmp_code",
					   "cidr",	"source_group", "destination_group",
					   "description", NULL};
static const char *const rt_keys[] = {"name", "main", "routes", "description", NULL};
static const char *const route_keys[] = {"destination", "target", "description", NULL};
static const char *const nat_keys[] = {"name", "subnet", "description", NULL};
static const char *const inst_keys[] = {"name",		    "subnet",	  "security_groups",
					"private_ip",	    "public_ip",  "source_dest_check",
					"description",	    NULL};
static const char *const vpc_keys[] = {"name",		  "cidr",	 "internet_gateway",
				       "subnets",	  "route_tables", "nat_gateways",
				       "network_acls",	  "security_groups", "instances",
				       "description",	  NULL};
static const char *const top_keys[] = {"vpcs", "peerings", "elastic_ips", "internet", NULL};
static const char *const peering_keys[] = {"name", "vpcs", "description", NULL};
static const char *const eip_keys[] = {"address", "instance", "description", NULL};
static const char *const internet_keys[] = {"public_pool", "host", "uplink", NULL};

static int parse_subnets(struct cctx *c, struct vpc *v, const json_t *arr, const struct jpath *p)
{
	size_t n = arr ? json_array_size(arr) : 0;
	char a[CIDR_STR_MAX], b[CIDR_STR_MAX];
	v->subnets = arena_array(c->a, struct subnet, n ? n : 1);
	v->n_subnets = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i), cp = JP_KEY(&ep, "cidr");
		struct subnet *s = &v->subnets[i];
		if (check_keys(c, e, &ep, subnet_keys) || !(s->name = get_name(c, e, &ep)) ||
		    UNIQUE(c, v->subnets, i, s->name, &ep, "subnet") ||
		    get_cidr(c, e, "cidr", &ep, &s->cidr) || parse_size(c, s->cidr, &cp, "subnet"))
			return -EINVAL;
		if (!cidr_contains(v->cidr, s->cidr))
			return cfail(c, &cp, VPC_E_INVALID, "subnet %s is not inside VPC %s (%s)",
				     cidr_fmt(s->cidr, a), v->name, cidr_fmt(v->cidr, b));
		for (size_t j = 0; j < i; j++)
			if (cidr_overlaps(v->subnets[j].cidr, s->cidr))
				return cfail(c, &cp, VPC_E_INVALID,
					     "subnet %s (%s) overlaps subnet %s (%s)", s->name,
					     cidr_fmt(s->cidr, a), v->subnets[j].name,
					     cidr_fmt(v->subnets[j].cidr, b));
	}
	return 0;
}

/* The one entry of the default NACL, both ways, until someone edits it. */
static const struct nacl_rule default_nacl_rule = {
	.number = 100, .allow = true, .m = {PROTO_ALL, 0, 65535, -1, -1}, .cidr = {0, 0}};

json_t *topo_default_nacl_json(void)
{
	return json_pack("{s:s,s:o,s:o}", "name", "default", "inbound",
			 topo_nacl_rules_json(&default_nacl_rule, 1), "outbound",
			 topo_nacl_rules_json(&default_nacl_rule, 1));
}

/* NACL `name` of VPC `vpc` in the previous model, if there is one. */
static const struct nacl *prev_nacl(const struct cctx *c, const char *vpc, const char *name)
{
	int vi = c->prev && vpc ? topo_find_vpc(c->prev, vpc) : -1;
	int ni = vi < 0 ? -1 : vpc_find_nacl(&c->prev->vpcs[vi], name);
	return ni < 0 ? NULL : &c->prev->vpcs[vi].nacls[ni];
}

static int parse_nacls(struct cctx *c, struct vpc *v, const json_t *arr, const struct jpath *p)
{
	size_t n = arr ? json_array_size(arr) : 0;
	/* The implicit default NACL (allow all both ways) unless the file redefines it. */
	v->nacls = arena_array(c->a, struct nacl, n + 1);
	v->default_nacl = -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		struct nacl *nacl = &v->nacls[i];
		json_t *in, *out;
		if (check_keys(c, e, &ep, nacl_keys) || !(nacl->name = get_name(c, e, &ep)) ||
		    UNIQUE(c, v->nacls, i, nacl->name, &ep, "network ACL") ||
		    unsupported(c, &ep, FEAT_NACL, "network ACLs are") ||
		    get_array(c, e, "inbound", &ep, &in) || get_array(c, e, "outbound", &ep, &out))
			return -EINVAL;
		struct jpath ip = JP_KEY(&ep, "inbound"), op = JP_KEY(&ep, "outbound");
		const struct nacl *was = prev_nacl(c, v->name, nacl->name);
		if (parse_nacl_rules(c, in, &ip, "inbound", was ? was->in : NULL, was ? was->n_in : 0,
				     &nacl->in, &nacl->n_in) ||
		    parse_nacl_rules(c, out, &op, "outbound", was ? was->out : NULL,
				     was ? was->n_out : 0, &nacl->out, &nacl->n_out))
			return -EINVAL;
		if (!strcmp(nacl->name, "default"))
			v->default_nacl = (int)i;
	}
	v->n_nacls = n;
	if (v->default_nacl < 0) {
		struct nacl *d = &v->nacls[v->n_nacls];
		d->name = "default";
		d->implicit = true;
		d->n_in = d->n_out = 1;
		d->in = arena_array(c->a, struct nacl_rule, 1);
		d->out = arena_array(c->a, struct nacl_rule, 1);
		d->in[0] = d->out[0] = default_nacl_rule;
		v->default_nacl = (int)v->n_nacls++;
	}
	for (size_t i = 0; i < v->n_nacls; i++) {
		struct nacl *x = &v->nacls[i];
		x->hash_in = nacl_rules_hash(nacl_owner(x->name, false), x->in, x->n_in);
		x->hash_out = nacl_rules_hash(nacl_owner(x->name, true), x->out, x->n_out);
	}
	return 0;
}

/* Room in the memo for `more` rules besides those in it, at most half full (it
 * was sized for the document, which may have held fewer). */
static void memo_room(struct topology *t, size_t more)
{
	size_t used = 0, cap = t->memo_cap ? t->memo_cap : 16;
	for (size_t i = 0; i < t->memo_cap; i++)
		used += t->memo[i].src != NULL;
	while (cap < 2 * (used + more))
		cap *= 2;
	if (cap == t->memo_cap)
		return;
	struct rule_memo *old = t->memo;
	size_t old_cap = t->memo_cap;
	t->memo = arena_array(t->arena, struct rule_memo, cap);
	t->memo_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].src)
			memo_put(t, old[i].src, &old[i].r);
}

void topo_nacl_set(struct topology *t, int vi, int ni, bool out, const struct nacl_rule *r,
		   size_t n)
{
	struct nacl *x = &t->vpcs[vi].nacls[ni];
	struct nacl_rule *to = arena_array(t->arena, struct nacl_rule, n ? n : 1);
	if (n)
		memcpy(to, r, n * sizeof(*r));
	if (out) {
		x->out = to;
		x->n_out = n;
		x->hash_out = nacl_rules_hash(nacl_owner(x->name, true), to, n);
	} else {
		x->in = to;
		x->n_in = n;
		x->hash_in = nacl_rules_hash(nacl_owner(x->name, false), to, n);
	}
}

void topo_nacl_src(struct topology *t, int vi, int ni, bool out, const json_t *arr)
{
	struct nacl *x = &t->vpcs[vi].nacls[ni];
	struct nacl_rule *r = out ? x->out : x->in;
	size_t n = out ? x->n_out : x->n_in;
	memo_room(t, n);
	for (size_t i = 0; i < n; i++) {
		r[i].src = json_array_get(arr, i);
		memo_put(t, r[i].src, &r[i]);
	}
}

/* Group names first (rules may refer to any group of the VPC), rules second. */
static int parse_sg_names(struct cctx *c, struct vpc *v, const json_t *arr, const struct jpath *p)
{
	size_t n = arr ? json_array_size(arr) : 0;
	v->sgs = arena_array(c->a, struct sg, n + 1);
	v->default_sg = -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		struct sg *g = &v->sgs[i];
		if (check_keys(c, e, &ep, sg_keys) || !(g->name = get_name(c, e, &ep)) ||
		    UNIQUE(c, v->sgs, i, g->name, &ep, "security group") ||
		    unsupported(c, &ep, FEAT_SG, "security groups are"))
			return -EINVAL;
		if (!strcmp(g->name, "default"))
			v->default_sg = (int)i;
	}
	v->n_sgs = n;
	if (v->default_sg < 0) {
		/* Implicit default group: inbound from its own members, all outbound. */
		struct sg *d = &v->sgs[v->n_sgs];
		d->name = "default";
		d->implicit = true;
		v->default_sg = (int)v->n_sgs++;
		d->n_in = d->n_out = 1;
		d->in = arena_array(c->a, struct sg_rule, 1);
		d->out = arena_array(c->a, struct sg_rule, 1);
		d->in[0] = (struct sg_rule){.m = {PROTO_ALL, 0, 65535, -1, -1},
					    .is_group = true,
					    .group_vpc = -1, /* this VPC; fixed by the caller */
					    .group = v->default_sg};
		d->out[0] = (struct sg_rule){.m = {PROTO_ALL, 0, 65535, -1, -1}};
	}
	return 0;
}

/* A reference to a group in another VPC ("vpc/group") is resolved in pass C, once
 * every VPC is known; until then it is kept here. */
struct pending_ref {
	struct sg_rule *rule;
	char *vpc, *group;
	char path[160];
	int from_vpc;
	struct pending_ref *next;
};

static int parse_sg_rules(struct cctx *c, struct vpc *v, int vi, const json_t *arr,
			  const struct jpath *p, bool ingress, struct sg_rule **out, size_t *n_out,
			  struct pending_ref **pending)
{
	size_t n = arr ? json_array_size(arr) : 0;
	const char *gkey = ingress ? "source_group" : "destination_group";
	const char *wrong = ingress ? "destination_group" : "source_group";
	if (n > VPC_MAX_SG_RULES)
		return cfail(c, p, VPC_E_INVALID, "%zu rules; at most %d per group and direction",
			     n, VPC_MAX_SG_RULES);
	struct sg_rule *r = arena_array(c->a, struct sg_rule, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		if (check_keys(c, e, &ep, sg_rule_keys) || parse_match(c, e, &ep, &r[i].m))
			return -EINVAL;
		if (json_object_get(e, wrong)) {
			struct jpath kp = JP_KEY(&ep, wrong);
			return cfail(c, &kp, VPC_E_INVALID, "an %s rule names its group with \"%s\"",
				     ingress ? "ingress" : "egress", gkey);
		}
		bool has_cidr = json_object_get(e, "cidr") != NULL;
		const char *g = get_str(c, e, gkey, &ep, false);
		if (c->err->code[0])
			return -EINVAL;
		if (has_cidr == (g != NULL))
			return cfail(c, &ep, VPC_E_INVALID, "needs exactly one of \"cidr\" or \"%s\"",
				     gkey);
		if (has_cidr) {
			if (get_cidr(c, e, "cidr", &ep, &r[i].cidr))
				return -EINVAL;
			continue;
		}
		r[i].is_group = true;
		const char *slash = strchr(g, '/');
		struct jpath kp = JP_KEY(&ep, gkey);
		if (!slash) {
			r[i].group_vpc = vi;
			r[i].group = FIND(v->sgs, v->n_sgs, g);
			if (r[i].group < 0)
				return cfail(c, &kp, VPC_E_INVALID,
					     "no security group named \"%s\" in VPC %s", g, v->name);
			continue;
		}
		struct pending_ref *pr = arena_alloc(c->a, sizeof(*pr));
		pr->rule = &r[i];
		pr->vpc = arena_strdup(c->a, g);
		pr->vpc[slash - g] = 0;
		pr->group = pr->vpc + (slash - g) + 1;
		pr->from_vpc = vi;
		jpath_fmt(&kp, pr->path, sizeof(pr->path));
		pr->next = *pending;
		*pending = pr;
	}
	*out = r;
	*n_out = n;
	return 0;
}

static int parse_sg_bodies(struct cctx *c, struct vpc *v, int vi, const json_t *arr,
			   const struct jpath *p, struct pending_ref **pending)
{
	size_t n = arr ? json_array_size(arr) : 0;
	if (v->sgs[v->default_sg].implicit)
		v->sgs[v->default_sg].in[0].group_vpc = vi;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		struct sg *g = &v->sgs[i];
		json_t *in, *out;
		if (get_array(c, e, "ingress", &ep, &in) || get_array(c, e, "egress", &ep, &out))
			return -EINVAL;
		struct jpath ip = JP_KEY(&ep, "ingress"), op = JP_KEY(&ep, "egress");
		if (parse_sg_rules(c, v, vi, in, &ip, true, &g->in, &g->n_in, pending))
			return -EINVAL;
		if (out) {
			if (parse_sg_rules(c, v, vi, out, &op, false, &g->out, &g->n_out, pending))
				return -EINVAL;
		} else {
			/* No "egress": allow all outbound, as AWS does for a new group. */
			g->n_out = 1;
			g->out = arena_array(c->a, struct sg_rule, 1);
			g->out[0] = (struct sg_rule){.m = {PROTO_ALL, 0, 65535, -1, -1}};
		}
	}
	return 0;
}

static int parse_route_tables(struct cctx *c, struct vpc *v, const json_t *arr,
			      const struct jpath *p)
{
	size_t n = arr ? json_array_size(arr) : 0;
	v->route_tables = arena_array(c->a, struct route_table, n + 1);
	v->main_route_table = -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		struct route_table *rt = &v->route_tables[i];
		if (check_keys(c, e, &ep, rt_keys) || !(rt->name = get_name(c, e, &ep)) ||
		    UNIQUE(c, v->route_tables, i, rt->name, &ep, "route table") ||
		    unsupported(c, &ep, FEAT_ROUTES, "custom route tables are") ||
		    get_bool(c, e, "main", &ep, !strcmp(rt->name, "main"), &rt->main))
			return -EINVAL;
		if (rt->main) {
			if (v->main_route_table >= 0) {
				struct jpath kp = JP_KEY(&ep, "main");
				return cfail(c, &kp, VPC_E_INVALID,
					     "route tables %s and %s are both marked main; a VPC has one main table",
					     v->route_tables[v->main_route_table].name, rt->name);
			}
			v->main_route_table = (int)i;
		}
	}
	v->n_route_tables = n;
	if (v->main_route_table < 0) {
		struct route_table *m = &v->route_tables[v->n_route_tables];
		m->name = "main";
		m->main = m->implicit = true;
		v->main_route_table = (int)v->n_route_tables++;
	}
	return 0;
}

static int parse_target(struct cctx *c, struct vpc *v, int vi, const char *s,
			const struct jpath *kp, struct route *r)
{
	const char *colon = strchr(s, ':');
	size_t plen = colon ? (size_t)(colon - s) : strlen(s);
	const char *name = colon ? colon + 1 : "";
	if (!colon && !strcmp(s, "igw")) {
		if (!v->internet_gateway)
			return cfail(c, kp, VPC_E_INVALID,
				     "VPC %s has no internet gateway (set \"internet_gateway\": true)",
				     v->name);
		r->target = RT_IGW;
		return 0;
	}
	if (!colon && !strcmp(s, "blackhole")) {
		r->target = RT_BLACKHOLE;
		return 0;
	}
	if (colon && plen == 11 && !strncmp(s, "nat-gateway", plen)) {
		r->target = RT_NAT;
		r->target_idx = FIND(v->nat_gateways, v->n_nat_gateways, name);
		if (r->target_idx < 0)
			return cfail(c, kp, VPC_E_INVALID, "no NAT gateway named \"%s\" in VPC %s",
				     name, v->name);
		return 0;
	}
	if (colon && plen == 8 && !strncmp(s, "instance", plen)) {
		r->target = RT_INSTANCE;
		r->target_idx = vpc_find_instance(v, name);
		if (r->target_idx < 0)
			return cfail(c, kp, VPC_E_INVALID, "no instance named \"%s\" in VPC %s",
				     name, v->name);
		return 0;
	}
	if (colon && plen == 7 && !strncmp(s, "peering", plen)) {
		r->target = RT_PEERING;
		r->target_idx = FIND(c->t->peerings, c->t->n_peerings, name);
		if (r->target_idx < 0)
			return cfail(c, kp, VPC_E_INVALID, "no peering named \"%s\"", name);
		const struct peering *pe = &c->t->peerings[r->target_idx];
		if (pe->vpc[0] != vi && pe->vpc[1] != vi)
			return cfail(c, kp, VPC_E_INVALID, "peering %s does not connect VPC %s",
				     name, v->name);
		return 0;
	}
	return cfail(c, kp, VPC_E_INVALID,
		     "\"%s\" is not a route target: use igw, nat-gateway:NAME, peering:NAME, "
		     "instance:NAME or blackhole",
		     s);
}

/* Routes are parsed after instances and NAT gateways, which they may name. */
static int parse_routes(struct cctx *c, struct vpc *v, int vi, const json_t *arr,
			const struct jpath *p)
{
	char a[CIDR_STR_MAX];
	for (size_t i = 0; i < v->n_route_tables; i++) {
		struct route_table *rt = &v->route_tables[i];
		const json_t *e = i < json_array_size(arr) ? json_array_get(arr, i) : NULL;
		struct jpath ep = JP_IDX(p, i), rp = JP_KEY(&ep, "routes");
		json_t *routes = NULL;
		if (e && get_array(c, e, "routes", &ep, &routes))
			return -EINVAL;
		size_t n = routes ? json_array_size(routes) : 0;
		if (n > VPC_MAX_ROUTES)
			return cfail(c, &rp, VPC_E_INVALID, "%zu routes; at most %d per table", n,
				     VPC_MAX_ROUTES);
		rt->routes = arena_array(c->a, struct route, n + 1);
		rt->routes[0] = (struct route){.dest = v->cidr, .target = RT_LOCAL};
		rt->n_routes = 1;
		for (size_t j = 0; j < n; j++) {
			const json_t *re = json_array_get(routes, j);
			struct jpath rep = JP_IDX(&rp, j), dp = JP_KEY(&rep, "destination"),
				     tp = JP_KEY(&rep, "target");
			struct route *r = &rt->routes[rt->n_routes];
			const char *tgt;
			if (check_keys(c, re, &rep, route_keys) ||
			    get_cidr(c, re, "destination", &rep, &r->dest) ||
			    !(tgt = get_str(c, re, "target", &rep, true)) ||
			    parse_target(c, v, vi, tgt, &tp, r))
				return -EINVAL;
			for (size_t k = 0; k < rt->n_routes; k++)
				if (rt->routes[k].dest.addr == r->dest.addr &&
				    rt->routes[k].dest.len == r->dest.len)
					return cfail(c, &dp, VPC_E_INVALID,
						     k ? "route table %s already has a route to %s"
						       : "route table %s: %s is the VPC's local route and cannot be replaced",
						     rt->name, cidr_fmt(r->dest, a));
			rt->n_routes++;
		}
	}
	return 0;
}

/* "010.0.0.1" or "10.0.1.010": a mistake people make, worth naming. */
static bool leading_zero(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((p == s || p[-1] == '.') && p[0] == '0' && isdigit((unsigned char)p[1]))
			return true;
	return false;
}

static int parse_ip_in_subnet(struct cctx *c, const char *s, const struct jpath *kp,
			      const struct subnet *sn, uint32_t *out)
{
	char a[CIDR_STR_MAX];
	if (ip_parse(s, out))
		return cfail(c, kp, VPC_E_INVALID, "\"%s\" is not an IPv4 address%s", s,
			     leading_zero(s) ? " (octets take no leading zeros)" : "");
	if (!cidr_contains_ip(sn->cidr, *out))
		return cfail(c, kp, VPC_E_INVALID, "%s is not inside subnet %s (%s)", s, sn->name,
			     cidr_fmt(sn->cidr, a));
	if (cidr_ip_reserved(sn->cidr, *out))
		return cfail(c, kp, VPC_E_INVALID,
			     "%s is reserved in subnet %s (%s): the first four addresses and the "
			     "last one belong to the VPC",
			     s, sn->name, cidr_fmt(sn->cidr, a));
	return 0;
}

static int parse_nat_gateways(struct cctx *c, struct vpc *v, const json_t *arr,
			      const struct jpath *p)
{
	size_t n = arr ? json_array_size(arr) : 0;
	v->nat_gateways = arena_array(c->a, struct nat_gateway, n ? n : 1);
	v->n_nat_gateways = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		struct nat_gateway *g = &v->nat_gateways[i];
		if (check_keys(c, e, &ep, nat_keys) || !(g->name = get_name(c, e, &ep)) ||
		    UNIQUE(c, v->nat_gateways, i, g->name, &ep, "NAT gateway") ||
		    unsupported(c, &ep, FEAT_NAT, "NAT gateways are") ||
		    REF(c, e, "subnet", &ep, v->subnets, v->n_subnets, "subnet", v, REF_REQUIRED,
			&g->subnet))
			return -EINVAL;
		if (!v->internet_gateway)
			return cfail(c, &ep, VPC_E_INVALID,
				     "NAT gateway %s needs the VPC's internet gateway "
				     "(set \"internet_gateway\": true)",
				     g->name);
	}
	return 0;
}

static int parse_instances(struct cctx *c, struct vpc *v, const json_t *arr, const struct jpath *p)
{
	size_t n = arr ? json_array_size(arr) : 0;
	if (n > VPC_MAX_INSTANCES_PER_VPC)
		return cfail(c, p, VPC_E_INVALID, "%zu instances; at most %d per VPC", n,
			     VPC_MAX_INSTANCES_PER_VPC);
	v->instances = arena_array(c->a, struct instance, n ? n : 1);
	v->n_instances = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i);
		struct instance *in = &v->instances[i];
		json_t *sgs;
		if (check_keys(c, e, &ep, inst_keys) || !(in->name = get_name(c, e, &ep)) ||
		    UNIQUE(c, v->instances, i, in->name, &ep, "instance") ||
		    REF(c, e, "subnet", &ep, v->subnets, v->n_subnets, "subnet", v, REF_REQUIRED,
			&in->subnet) ||
		    get_bool(c, e, "public_ip", &ep, false, &in->public_ip_wanted) ||
		    get_bool(c, e, "source_dest_check", &ep, true, &in->source_dest_check) ||
		    get_array(c, e, "security_groups", &ep, &sgs))
			return -EINVAL;
		/* Names are unique across instances and NAT gateways: both own a namespace
		 * and a router port. */
		if (FIND(v->nat_gateways, v->n_nat_gateways, in->name) >= 0) {
			struct jpath kp = JP_KEY(&ep, "name");
			return cfail(c, &kp, VPC_E_INVALID, "\"%s\" is already the name of a NAT gateway",
				     in->name);
		}
		if (in->public_ip_wanted) {
			struct jpath kp = JP_KEY(&ep, "public_ip");
			if (unsupported(c, &kp, FEAT_IGW, "public IPs are"))
				return -EINVAL;
			if (!v->internet_gateway)
				return cfail(c, &kp, VPC_E_INVALID,
					     "VPC %s has no internet gateway to give instance %s a "
					     "public IP (set \"internet_gateway\": true)",
					     v->name, in->name);
		}
		if (!in->source_dest_check) {
			struct jpath kp = JP_KEY(&ep, "source_dest_check");
			if (unsupported(c, &kp, FEAT_SRC_DST, "turning off the source/destination check is"))
				return -EINVAL;
		}
		const char *ip = get_str(c, e, "private_ip", &ep, false);
		if (c->err->code[0])
			return -EINVAL;
		if (ip) {
			struct jpath kp = JP_KEY(&ep, "private_ip");
			if (parse_ip_in_subnet(c, ip, &kp, &v->subnets[in->subnet], &in->private_ip))
				return -EINVAL;
		}
		size_t ns = sgs ? json_array_size(sgs) : 0;
		struct jpath sp = JP_KEY(&ep, "security_groups");
		if (ns > VPC_MAX_SGS_PER_INSTANCE)
			return cfail(c, &sp, VPC_E_INVALID, "%zu groups; at most %d per instance", ns,
				     VPC_MAX_SGS_PER_INSTANCE);
		if (sgs && !ns)
			return cfail(c, &sp, VPC_E_INVALID,
				     "an instance needs at least one security group (leave the key "
				     "out for the VPC's default group)");
		in->n_sgs = ns ? ns : 1;
		in->sgs = arena_array(c->a, int, in->n_sgs);
		in->sgs[0] = v->default_sg;
		for (size_t k = 0; k < ns; k++) {
			struct jpath gp = JP_IDX(&sp, k);
			json_t *g = json_array_get(sgs, k);
			if (!json_is_string(g))
				return cfail(c, &gp, VPC_E_INVALID, "must be a string");
			in->sgs[k] = FIND(v->sgs, v->n_sgs, json_string_value(g));
			if (in->sgs[k] < 0)
				return cfail(c, &gp, VPC_E_INVALID,
					     "no security group named \"%s\" in VPC %s",
					     json_string_value(g), v->name);
			for (size_t j = 0; j < k; j++)
				if (in->sgs[j] == in->sgs[k])
					return cfail(c, &gp, VPC_E_INVALID, "group \"%s\" is listed twice",
						     json_string_value(g));
			if (strcmp(json_string_value(g), "default") &&
			    unsupported(c, &gp, FEAT_SG, "security groups are"))
				return -EINVAL;
		}
	}
	return 0;
}

static int parse_vpc_body(struct cctx *c, struct vpc *v, int vi, const json_t *e,
			  const struct jpath *ep, struct pending_ref **pending)
{
	json_t *subnets, *rts, *nats, *nacls, *sgs, *insts;
	if (get_bool(c, e, "internet_gateway", ep, false, &v->internet_gateway) ||
	    get_array(c, e, "subnets", ep, &subnets) || get_array(c, e, "route_tables", ep, &rts) ||
	    get_array(c, e, "nat_gateways", ep, &nats) ||
	    get_array(c, e, "network_acls", ep, &nacls) ||
	    get_array(c, e, "security_groups", ep, &sgs) || get_array(c, e, "instances", ep, &insts))
		return -EINVAL;
	if (v->internet_gateway) {
		struct jpath kp = JP_KEY(ep, "internet_gateway");
		if (unsupported(c, &kp, FEAT_IGW, "internet gateways are"))
			return -EINVAL;
	}
	struct jpath sp = JP_KEY(ep, "subnets"), rp = JP_KEY(ep, "route_tables"),
		     np = JP_KEY(ep, "nat_gateways"), ap = JP_KEY(ep, "network_acls"),
		     gp = JP_KEY(ep, "security_groups"), ip = JP_KEY(ep, "instances");
	if (parse_subnets(c, v, subnets, &sp) || parse_route_tables(c, v, rts, &rp) ||
	    parse_nacls(c, v, nacls, &ap) || parse_sg_names(c, v, sgs, &gp) ||
	    parse_sg_bodies(c, v, vi, sgs, &gp, pending) || parse_nat_gateways(c, v, nats, &np) ||
	    parse_instances(c, v, insts, &ip) || parse_routes(c, v, vi, rts, &rp))
		return -EINVAL;
	/* Subnet associations, now that tables and NACLs are known. */
	for (size_t i = 0; i < v->n_subnets; i++) {
		const json_t *se = json_array_get(subnets, i);
		struct jpath sep = JP_IDX(&sp, i);
		struct subnet *s = &v->subnets[i];
		if (REF(c, se, "route_table", &sep, v->route_tables, v->n_route_tables,
			"route table", v, v->main_route_table, &s->route_table) ||
		    REF(c, se, "network_acl", &sep, v->nacls, v->n_nacls, "network ACL", v,
			v->default_nacl, &s->nacl))
			return -EINVAL;
	}
	return 0;
}

static int parse_peerings(struct cctx *c, const json_t *arr, const struct jpath *p)
{
	struct topology *t = c->t;
	size_t n = arr ? json_array_size(arr) : 0;
	char a[CIDR_STR_MAX], b[CIDR_STR_MAX];
	t->peerings = arena_array(c->a, struct peering, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i), vp = JP_KEY(&ep, "vpcs");
		struct peering *pe = &t->peerings[i];
		json_t *vs;
		if (check_keys(c, e, &ep, peering_keys) || !(pe->name = get_name(c, e, &ep)) ||
		    UNIQUE(c, t->peerings, i, pe->name, &ep, "peering") ||
		    unsupported(c, &ep, FEAT_PEERING, "VPC peerings are") ||
		    get_array(c, e, "vpcs", &ep, &vs))
			return -EINVAL;
		if (!vs || json_array_size(vs) != 2)
			return cfail(c, &vp, VPC_E_INVALID, "must name exactly two VPCs");
		for (int k = 0; k < 2; k++) {
			struct jpath kp = JP_IDX(&vp, (size_t)k);
			json_t *s = json_array_get(vs, (size_t)k);
			if (!json_is_string(s))
				return cfail(c, &kp, VPC_E_INVALID, "must be a string");
			pe->vpc[k] = topo_find_vpc(t, json_string_value(s));
			if (pe->vpc[k] < 0)
				return cfail(c, &kp, VPC_E_INVALID, "no VPC named \"%s\"",
					     json_string_value(s));
		}
		const struct vpc *x = &t->vpcs[pe->vpc[0]], *y = &t->vpcs[pe->vpc[1]];
		if (x == y)
			return cfail(c, &vp, VPC_E_INVALID, "a VPC cannot be peered with itself");
		if (cidr_overlaps(x->cidr, y->cidr))
			return cfail(c, &vp, VPC_E_INVALID,
				     "VPC %s (%s) and VPC %s (%s) overlap; peered VPCs need "
				     "non-overlapping CIDRs",
				     x->name, cidr_fmt(x->cidr, a), y->name, cidr_fmt(y->cidr, b));
		for (size_t j = 0; j < i; j++) {
			const struct peering *q = &t->peerings[j];
			if ((q->vpc[0] == pe->vpc[0] && q->vpc[1] == pe->vpc[1]) ||
			    (q->vpc[0] == pe->vpc[1] && q->vpc[1] == pe->vpc[0]))
				return cfail(c, &vp, VPC_E_INVALID,
					     "VPCs %s and %s are already peered by %s", x->name,
					     y->name, q->name);
		}
	}
	t->n_peerings = n;
	return 0;
}

static bool peered(const struct topology *t, int a, int b)
{
	for (size_t i = 0; i < t->n_peerings; i++) {
		const struct peering *p = &t->peerings[i];
		if ((p->vpc[0] == a && p->vpc[1] == b) || (p->vpc[0] == b && p->vpc[1] == a))
			return true;
	}
	return false;
}

static int resolve_pending(struct cctx *c, struct pending_ref *pr)
{
	for (; pr; pr = pr->next) {
		const struct vpc *from = &c->t->vpcs[pr->from_vpc];
		int vi = topo_find_vpc(c->t, pr->vpc);
		if (vi < 0)
			return vpc_fail(c->err, VPC_E_INVALID, pr->path, "no VPC named \"%s\"",
					pr->vpc);
		if (vi != pr->from_vpc && !peered(c->t, vi, pr->from_vpc))
			return vpc_fail(c->err, VPC_E_INVALID, pr->path,
					"VPC %s is not peered with VPC %s; a rule can only name "
					"groups of its own or a peered VPC",
					pr->vpc, from->name);
		const struct vpc *v = &c->t->vpcs[vi];
		pr->rule->group_vpc = vi;
		pr->rule->group = FIND(v->sgs, v->n_sgs, pr->group);
		if (pr->rule->group < 0)
			return vpc_fail(c->err, VPC_E_INVALID, pr->path,
					"no security group named \"%s\" in VPC %s", pr->group,
					v->name);
	}
	return 0;
}

static int parse_internet(struct cctx *c, const json_t *doc, const struct jpath *root)
{
	struct topology *t = c->t;
	const json_t *inet = json_object_get(doc, "internet");
	struct jpath ip = JP_KEY(root, "internet");
	cidr_parse(VPC_DEFAULT_PUBLIC_POOL, &t->public_pool);
	ip_parse(VPC_DEFAULT_INTERNET_HOST, &t->internet_host);
	if (!inet)
		return 0;
	if (check_keys(c, inet, &ip, internet_keys) ||
	    unsupported(c, &ip, FEAT_IGW, "the simulated internet is"))
		return -EINVAL;
	if (json_object_get(inet, "public_pool")) {
		struct jpath kp = JP_KEY(&ip, "public_pool");
		if (get_cidr(c, inet, "public_pool", &ip, &t->public_pool))
			return -EINVAL;
		if (t->public_pool.len < 16 || t->public_pool.len > 29)
			return cfail(c, &kp, VPC_E_INVALID,
				     "the public pool must be between /16 and /29");
	}
	const char *host = get_str(c, inet, "host", &ip, false);
	if (c->err->code[0])
		return -EINVAL;
	if (host) {
		struct jpath kp = JP_KEY(&ip, "host");
		if (ip_parse(host, &t->internet_host))
			return cfail(c, &kp, VPC_E_INVALID, "\"%s\" is not an IPv4 address", host);
	}
	if (cidr_contains_ip(t->public_pool, t->internet_host))
		return cfail(c, &ip, VPC_E_INVALID,
			     "the internet host address must be outside the public pool");
	const char *up = get_str(c, inet, "uplink", &ip, false);
	if (c->err->code[0])
		return -EINVAL;
	if (up) {
		struct jpath kp = JP_KEY(&ip, "uplink");
		size_t n = strlen(up);
		bool ok = n >= 1 && n <= 15 && strcmp(up, ".") && strcmp(up, "..");
		for (size_t i = 0; i < n && ok; i++)
			ok = up[i] > ' ' && up[i] != '/' && up[i] != ':' && up[i] < 127;
		if (!ok)
			return cfail(c, &kp, VPC_E_INVALID,
				     "\"%s\" is not an interface name (1-15 characters, no '/', ':' "
				     "or spaces)",
				     up);
		snprintf(t->uplink, sizeof(t->uplink), "%s", up);
	}
	return 0;
}

static int parse_eips(struct cctx *c, const json_t *arr, const struct jpath *p)
{
	struct topology *t = c->t;
	size_t n = arr ? json_array_size(arr) : 0;
	char a[CIDR_STR_MAX];
	t->eips = arena_array(c->a, struct elastic_ip, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		struct jpath ep = JP_IDX(p, i), ap = JP_KEY(&ep, "address"),
			     ip = JP_KEY(&ep, "instance");
		struct elastic_ip *x = &t->eips[i];
		const char *addr, *inst;
		if (check_keys(c, e, &ep, eip_keys) ||
		    unsupported(c, &ep, FEAT_IGW, "elastic IPs are") ||
		    !(addr = get_str(c, e, "address", &ep, true)))
			return -EINVAL;
		if (ip_parse(addr, &x->addr))
			return cfail(c, &ap, VPC_E_INVALID, "\"%s\" is not an IPv4 address", addr);
		if (!cidr_contains_ip(t->public_pool, x->addr) || x->addr == t->public_pool.addr ||
		    x->addr == cidr_last(t->public_pool))
			return cfail(c, &ap, VPC_E_INVALID, "%s is not a usable address of the public pool %s",
				     addr, cidr_fmt(t->public_pool, a));
		for (size_t j = 0; j < i; j++)
			if (t->eips[j].addr == x->addr)
				return cfail(c, &ap, VPC_E_INVALID, "elastic IP %s is listed twice", addr);
		x->vpc = x->instance = -1;
		inst = get_str(c, e, "instance", &ep, false);
		if (c->err->code[0])
			return -EINVAL;
		if (!inst)
			continue;
		const char *slash = strchr(inst, '/');
		char vname[VPC_NAME_MAX + 1];
		if (!slash || (size_t)(slash - inst) > VPC_NAME_MAX)
			return cfail(c, &ip, VPC_E_INVALID, "\"%s\" must be VPC/INSTANCE", inst);
		snprintf(vname, sizeof(vname), "%.*s", (int)(slash - inst), inst);
		x->vpc = topo_find_vpc(t, vname);
		if (x->vpc < 0)
			return cfail(c, &ip, VPC_E_INVALID, "no VPC named \"%s\"", vname);
		struct vpc *v = &t->vpcs[x->vpc];
		x->instance = vpc_find_instance(v, slash + 1);
		if (x->instance < 0)
			return cfail(c, &ip, VPC_E_INVALID, "no instance named \"%s\" in VPC %s",
				     slash + 1, vname);
		if (!v->internet_gateway)
			return cfail(c, &ip, VPC_E_INVALID, "VPC %s has no internet gateway", vname);
		for (size_t j = 0; j < i; j++)
			if (t->eips[j].vpc == x->vpc && t->eips[j].instance == x->instance)
				return cfail(c, &ip, VPC_E_INVALID,
					     "instance %s already has elastic IP %s", inst,
					     ip_fmt(t->eips[j].addr, a));
		v->instances[x->instance].public_ip = x->addr;
		v->instances[x->instance].public_ip_elastic = true;
	}
	t->n_eips = n;
	return 0;
}

static int compile(struct cctx *c, const json_t *doc, const json_t *prev_alloc)
{
	struct topology *t = c->t;
	struct jpath root = {0}, vp = JP_KEY(NULL, "vpcs"), pp = JP_KEY(NULL, "peerings"),
		     ep = JP_KEY(NULL, "elastic_ips");
	json_t *vpcs, *peerings, *eips;
	char a[CIDR_STR_MAX];
	(void)root;

	if (!json_is_object(doc))
		return vpc_fail(c->err, VPC_E_INVALID, "", "a topology must be a JSON object");
	if (check_keys(c, doc, NULL, top_keys) || get_array(c, doc, "vpcs", NULL, &vpcs) ||
	    get_array(c, doc, "peerings", NULL, &peerings) ||
	    get_array(c, doc, "elastic_ips", NULL, &eips) || parse_internet(c, doc, NULL))
		return -EINVAL;

	/* Pass A: VPC names and CIDRs, then peerings. */
	size_t n = vpcs ? json_array_size(vpcs) : 0;
	if (n > VPC_MAX_VPCS)
		return cfail(c, &vp, VPC_E_INVALID, "%zu VPCs; at most %d", n, VPC_MAX_VPCS);
	t->vpcs = arena_array(c->a, struct vpc, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(vpcs, i);
		struct jpath ep2 = JP_IDX(&vp, i), cp = JP_KEY(&ep2, "cidr");
		struct vpc *v = &t->vpcs[i];
		if (check_keys(c, e, &ep2, vpc_keys) || !(v->name = get_name(c, e, &ep2)) ||
		    UNIQUE(c, t->vpcs, i, v->name, &ep2, "VPC") ||
		    get_cidr(c, e, "cidr", &ep2, &v->cidr) || parse_size(c, v->cidr, &cp, "VPC"))
			return -EINVAL;
		if (!strcmp(v->name, "internet")) {
			struct jpath kp = JP_KEY(&ep2, "name");
			return cfail(c, &kp, VPC_E_INVALID,
				     "\"internet\" is reserved for the simulated internet");
		}
		if (cidr_overlaps(v->cidr, t->public_pool) ||
		    cidr_contains_ip(v->cidr, t->internet_host))
			return cfail(c, &cp, VPC_E_INVALID,
				     "VPC CIDR %s overlaps the simulated internet's addresses",
				     cidr_fmt(v->cidr, a));
	}
	t->n_vpcs = n;
	if (parse_peerings(c, peerings, &pp))
		return -EINVAL;

	/* Pass B: each VPC. */
	struct pending_ref *pending = NULL;
	for (size_t i = 0; i < n; i++) {
		struct jpath ep2 = JP_IDX(&vp, i);
		if (parse_vpc_body(c, &t->vpcs[i], (int)i, json_array_get(vpcs, i), &ep2, &pending))
			return -EINVAL;
	}
	/* Passes C, D, E. */
	if (resolve_pending(c, pending) || parse_eips(c, eips, &ep))
		return -EINVAL;
	return topo_allocate(c, doc, prev_alloc);
}

int topo_compile(const json_t *doc, const struct compile_opts *o, struct topology **out,
		 struct vpc_err *err)
{
	struct topology *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->arena = arena_new();
	struct cctx c = {.a = t->arena, .err = err, .features = o->features, .t = t, .prev = o->prev};
	vpc_err_clear(err);
	memo_init(&c, doc);
	int r = compile(&c, doc, o->prev_alloc);
	if (r) {
		topo_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void topo_free(struct topology *t)
{
	if (!t)
		return;
	arena_free(t->arena);
	free(t);
}

bool subnet_is_public(const struct vpc *v, const struct subnet *s)
{
	const struct route_table *rt = &v->route_tables[s->route_table];
	for (size_t i = 0; i < rt->n_routes; i++)
		if (rt->routes[i].target == RT_IGW)
			return true;
	return false;
}
