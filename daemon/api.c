/*
 * Request dispatch. Every request that changes something builds the next desired
 * state from the current one and hands it to vpcd_change(): one code path for
 * files and imperative verbs alike.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>

#include "api.h"
#include "log.h"
#include "par.h"
#include "vpc/nacl.h"
#include "vpc/edit.h"
#include "vpc/names.h"
#include "vpc/util.h"

#ifndef VPCD_VERSION
#define VPCD_VERSION "0"
#endif

json_t *api_error(const struct vpc_err *e)
{
	return json_pack("{s:b,s:{s:s,s:s,s:s}}", "ok", 0, "error", "code",
			 e->code[0] ? e->code : VPC_E_INTERNAL, "path", e->path, "message",
			 e->msg[0] ? e->msg : "unknown error");
}

static json_t *ok(json_t *result)
{
	return json_pack("{s:b,s:o}", "ok", 1, "result", result ? result : json_object());
}

/* The reply to a change that ran: its error, or its result. */
static json_t *change_reply(int rc, json_t *res, bool dry_run, const struct vpc_err *err)
{
	if (rc)
		return api_error(err);
	if (dry_run)
		json_object_set_new(res, "dry_run", json_true());
	return ok(res);
}

/* Every request that changes something may ask only what it would do. */
static bool dry_run_of(const json_t *req)
{
	return json_is_true(json_object_get(req, "dry_run"));
}

/* Runs `next` (stolen) through the transaction and builds the reply; `ls` and
 * `nacls_of` as vpcd_change_lists() has them. */
static json_t *change(struct vpcd *d, json_t *next, struct nacl_lists *ls, const char *nacls_of,
		      bool dry_run)
{
	struct vpc_err err;
	json_t *res = NULL;
	vpc_err_clear(&err);
	int rc = vpcd_change_lists(d, next, ls, nacls_of, dry_run, &res, &err);
	return change_reply(rc, res, dry_run, &err);
}

/* The current state's JSON for a list read apart, if it says no more than its
 * rules (no description) and the current model has the very same rules. */
static json_t *list_now(const struct vpcd *d, const struct nacl_list *l)
{
	const char *dir = l->out ? "outbound" : "inbound";
	int vi = d->topo ? topo_find_vpc(d->topo, l->vpc) : -1;
	int ni = vi < 0 ? -1 : vpc_find_nacl(&d->topo->vpcs[vi], l->nacl);
	if (ni < 0)
		return NULL;
	const struct nacl *x = &d->topo->vpcs[vi].nacls[ni];
	if (!nacl_rules_equal(l->out ? x->out : x->in, l->out ? x->n_out : x->n_in, l->r, l->n))
		return NULL;
	json_t *vpc = edit_element(d->desired, "vpcs", l->vpc);
	json_t *arr = json_object_get(edit_element(vpc, "network_acls", l->nacl), dir);
	if (json_array_size(arr) != l->n)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (json_object_get(json_array_get(arr, i), "description"))
			return NULL;
	return arr;
}

/* apply: `file` (its NACL lists in `ls` may have been read apart) merged into
 * the state. */
static json_t *apply(struct vpcd *d, const json_t *req, json_t *file, struct nacl_lists *ls,
		     struct vpc_err *err)
{
	/* A list the state holds already takes the state's JSON, as if the file had
	 * said it there: an unchanged NACL is no change. */
	size_t k = 0;
	for (size_t i = 0; ls && i < ls->n; i++) {
		struct nacl_list *l = &ls->l[i];
		json_t *now = list_now(d, l);
		if (!now) {
			ls->l[k++] = *l;
			continue;
		}
		json_object_set(l->obj, l->out ? "outbound" : "inbound", now);
		free(l->r);
	}
	if (ls)
		ls->n = k;
	/* A shallow copy: the merge only sets top-level keys and builds new
	 * collection arrays; what it keeps of the old state it shares, unchanged. */
	json_t *next = json_copy(d->desired);
	if (edit_merge(next, file, json_is_true(json_object_get(req, "prune")), err)) {
		json_decref(next);
		return NULL;
	}
	/* A file that changes the entries of one VPC's NACLs and nothing else takes
	 * the short way, as `nacl load` does: the lists read apart must be that
	 * VPC's too (one that was empty and is read apart looks the same as before
	 * in the document). */
	const char *nacls_of = edit_nacl_entries_only(d->desired, next);
	for (size_t i = 0; nacls_of && ls && i < ls->n; i++)
		if (strcmp(ls->l[i].vpc, nacls_of))
			nacls_of = NULL;
	return change(d, next, ls, nacls_of, dry_run_of(req));
}

static json_t *op_apply(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	return apply(d, req, json_object_get(req, "topology"), NULL, err);
}

static json_t *op_destroy(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	const char *vpc = json_string_value(json_object_get(req, "vpc"));
	if (!vpc && !json_is_true(json_object_get(req, "all"))) {
		vpc_fail(err, VPC_E_INVALID, "vpc", "name a VPC or ask for all");
		return NULL;
	}
	json_t *next = json_deep_copy(d->desired);
	if (edit_destroy(next, vpc, err)) {
		json_decref(next);
		return NULL;
	}
	return change(d, next, NULL, NULL, dry_run_of(req));
}

static int cmp_rule_number(const void *key, const void *elem)
{
	return (int)*(const long *)key - (int)((const struct nacl_rule *)elem)->number;
}

/* Whether `path` (n segments) starts at the entry list of a NACL in one
 * direction, vpcs/VPC/network_acls/NACL/inbound|outbound; its VPC and NACL. */
static bool nacl_entries_path(const json_t *path, size_t n, const char **vpc, const char **nacl,
			      bool *out)
{
#define SEG(i) (json_string_value(json_array_get(path, i)) ?: "")
	if (n < 5 || strcmp(SEG(0), "vpcs") || strcmp(SEG(2), "network_acls"))
		return false;
	*out = !strcmp(SEG(4), "outbound");
	*vpc = SEG(1);
	*nacl = SEG(3);
	return *out || !strcmp(SEG(4), "inbound");
#undef SEG
}

/* The NACL as it runs, if there is one by that name. */
static const struct nacl *running_nacl(const struct vpcd *d, const char *vpc, const char *name)
{
	int vi = d->topo ? topo_find_vpc(d->topo, vpc) : -1;
	const struct vpc *v = vi < 0 ? NULL : &d->topo->vpcs[vi];
	int ni = v ? vpc_find_nacl(v, name) : -1;
	return ni < 0 ? NULL : &v->nacls[ni];
}

/* The compiled state knows each NACL entry's JSON object: finding entry N of a
 * 10,000-entry list is a binary search instead of reading every entry. */
static bool nacl_entry_index(void *arg, const json_t *path, size_t n, const char *id,
			     const json_t **elem)
{
	const struct vpcd *d = arg;
	const char *vpc, *name;
	bool out;
	if (n != 5 || !nacl_entries_path(path, n, &vpc, &name, &out))
		return false;
	const struct nacl *nacl = running_nacl(d, vpc, name);
	char *end;
	long num = strtol(id, &end, 10);
	if (!nacl || nacl->implicit || !*id || *end)
		return false;
	const struct nacl_rule *r = bsearch0(&num, out ? nacl->out : nacl->in,
					     out ? nacl->n_out : nacl->n_in, sizeof(*r), cmp_rule_number);
	*elem = r ? r->src : NULL;
	return true;
}

static json_t *op_edit(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	const struct edit_index ix = {nacl_entry_index, d};
	const char *op = json_string_value(json_object_get(req, "op"));
	const json_t *path = json_object_get(req, "path");
	/* An entry added to a NACL's list, or one of its entries replaced or taken
	 * away, changes that NACL's entries alone (an implicit default NACL is
	 * written out with them, as it was). */
	const char *vpc = NULL, *nacl;
	bool out;
	size_t n = json_array_size(path);
	if (!(n == 5 && !strcmp(op, "add")) && !(n == 6 && strcmp(op, "add") && strcmp(op, "set")))
		n = 0;
	if (!nacl_entries_path(path, n, &vpc, &nacl, &out))
		vpc = NULL;
	const struct nacl *running = vpc ? running_nacl(d, vpc, nacl) : NULL;
	if (running && (out ? running->n_out : running->n_in) + 1 >= NACL_PAR_MIN_RULES)
		par_warm(); /* its table will be compiled in halves */
	json_t *next = json_copy(d->desired); /* the edits copy what they change */
	double t0 = mono_ms();
	int e;
	if (!strcmp(op, "add"))
		e = edit_add(next, path, json_object_get(req, "object"), &ix, err);
	else if (!strcmp(op, "remove"))
		e = edit_remove(next, path, json_object_get(req, "match"), &ix, err);
	else if (!strcmp(op, "replace"))
		e = edit_replace(next, path, json_object_get(req, "object"), &ix, err);
	else {
		const char *key = json_string_value(json_object_get(req, "key"));
		json_t *value = json_object_get(req, "value");
		if (!key) {
			json_decref(next);
			vpc_fail(err, VPC_E_INVALID, "key", "is required");
			return NULL;
		}
		e = edit_set(next, path, key, json_is_null(value) ? NULL : value, err);
	}
	if (e) {
		json_decref(next);
		return NULL;
	}
	log_debug("edit %.2f ms", mono_ms() - t0);
	return change(d, next, NULL, vpc, dry_run_of(req));
}

/* `vpcctl sg rule add|remove`: the group's rule list in one direction with one
 * rule more or less, rules compared as `show` writes them, written back whole;
 * an implicit group (the default one, never written in a file) is added with all
 * its rules. One request, so a group of 10,000 rules does not travel twice. */
static json_t *op_sg_rule(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	const char *vpc = json_string_value(json_object_get(req, "vpc"));
	const char *name = json_string_value(json_object_get(req, "group"));
	const char *dir = json_string_value(json_object_get(req, "direction"));
	const char *action = json_string_value(json_object_get(req, "action"));
	const json_t *rule = json_object_get(req, "rule");
	bool add = action && !strcmp(action, "add");
	bool dir_ok = dir && (!strcmp(dir, "ingress") || !strcmp(dir, "egress"));
	if (!vpc || !name || !json_is_object(rule) || !dir_ok ||
	    (!add && (!action || strcmp(action, "remove")))) {
		vpc_fail(err, VPC_E_INVALID, "",
			 "sg_rule needs vpc, group, direction (ingress|egress), action "
			 "(add|remove) and a rule object");
		return NULL;
	}
	int vi = topo_find_vpc(d->topo, vpc);
	if (vi < 0) {
		vpc_fail(err, VPC_E_NOT_FOUND, "", "no VPC named \"%s\"", vpc);
		return NULL;
	}
	/* The group alone, as `show` writes it (none: an empty list). */
	json_t *shown = topo_show_sg_json(d->topo, vi, name), *r;
	json_t *g = json_array_get(
		json_object_get(json_array_get(json_object_get(shown, "vpcs"), 0), "security_groups"), 0);
	size_t i;
	if (!g) {
		json_decref(shown);
		vpc_fail(err, VPC_E_NOT_FOUND, "", "no security group named \"%s\" in VPC %s", name, vpc);
		return NULL;
	}
	json_t *rules = json_object_get(g, dir);
	size_t at = json_array_size(rules);
	json_array_foreach(rules, i, r)
		if (json_equal(r, rule)) {
			at = i;
			break;
		}
	int e = 0;
	json_t *next = NULL;
	if (add && at < json_array_size(rules))
		e = vpc_fail(err, VPC_E_CONFLICT, "", "security group %s has this %s rule already",
			     name, dir);
	else if (!add && at == json_array_size(rules))
		e = vpc_fail(err, VPC_E_NOT_FOUND, "",
			     "security group %s has no such %s rule (see `vpcctl sg show %s %s`)",
			     name, dir, vpc, name);
	else if (add)
		json_array_append(rules, (json_t *)rule);
	else
		json_array_remove(rules, at);
	if (!e && json_is_true(json_object_get(g, "implicit"))) {
		json_t *obj = json_pack("{s:s,s:O,s:O}", "name", name, "ingress",
					json_object_get(g, "ingress"), "egress",
					json_object_get(g, "egress"));
		json_t *path = json_pack("[s,s,s]", "vpcs", vpc, "security_groups");
		next = json_copy(d->desired);
		e = edit_add(next, path, obj, NULL, err);
		json_decref(obj);
		json_decref(path);
	} else if (!e) {
		json_t *path = json_pack("[s,s,s,s]", "vpcs", vpc, "security_groups", name);
		next = json_copy(d->desired);
		e = edit_set(next, path, dir, rules, err);
		json_decref(path);
	}
	json_decref(shown);
	if (e) {
		json_decref(next);
		return NULL;
	}
	return change(d, next, NULL, NULL, dry_run_of(req));
}

/* Per-rule packet and byte counters of a NACL direction (they belong to the rule
 * numbers, and go when no subnet uses the NACL any more); the final "*" deny gets
 * its own line. */
static void add_counters(struct vpcd *d, const char *vpc, uint64_t owner, const struct nacl_rule *r,
			 size_t n, json_t *rules)
{
	struct nacl_counter *c = calloc(n + 1, sizeof(*c));
	bool have = c && kernel_nacl_counters(&d->k, vpc, owner, r, n, c) == 0;
	json_t *star = json_pack("{s:s,s:s,s:s,s:s}", "rule", "*", "protocol", "all", "cidr",
				 "0.0.0.0/0", "action", "deny");
	json_array_append_new(rules, star);
	for (size_t i = 0; i <= n; i++) {
		json_t *o = json_array_get(rules, i);
		json_object_set_new(o, "packets", have ? json_integer((json_int_t)c[i].packets) : json_null());
		json_object_set_new(o, "bytes", have ? json_integer((json_int_t)c[i].bytes) : json_null());
	}
	free(c);
}

static void add_nacl_counters(struct vpcd *d, json_t *vpcs)
{
	json_t *vj;
	size_t i;
	json_array_foreach(vpcs, i, vj)
	{
		const char *name = json_string_value(json_object_get(vj, "name"));
		const struct vpc *v = &d->topo->vpcs[topo_find_vpc(d->topo, name)];
		json_t *nj;
		size_t k;
		json_array_foreach(json_object_get(vj, "network_acls"), k, nj)
		{
			const struct nacl *n = &v->nacls[k];
			add_counters(d, name, nacl_owner(n->name, false), n->in, n->n_in,
				     json_object_get(nj, "inbound"));
			add_counters(d, name, nacl_owner(n->name, true), n->out, n->n_out,
				     json_object_get(nj, "outbound"));
		}
	}
}

/* A new elastic IP: the first pool address nobody holds (auto-assigned public IPs
 * included, so allocating never moves anyone's address). */
static json_t *op_eip_allocate(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	const struct topology *t = d->topo;
	struct cidr pool = t->public_pool;
	char ip[IP_STR_MAX];
	for (uint32_t a = pool.addr + 1; a < cidr_last(pool); a++) {
		bool used = false;
		for (size_t i = 0; i < t->n_eips && !used; i++)
			used = t->eips[i].addr == a;
		for (size_t v = 0; v < t->n_vpcs && !used; v++) {
			const struct vpc *x = &t->vpcs[v];
			for (size_t i = 0; i < x->n_instances && !used; i++)
				used = x->instances[i].public_ip == a;
			for (size_t i = 0; i < x->n_nat_gateways && !used; i++)
				used = x->nat_gateways[i].public_ip == a;
		}
		if (used)
			continue;
		json_t *next = json_deep_copy(d->desired);
		json_t *eips = json_object_get(next, "elastic_ips");
		if (!json_is_array(eips)) {
			eips = json_array();
			json_object_set_new(next, "elastic_ips", eips);
		}
		json_array_append_new(eips, json_pack("{s:s}", "address", ip_fmt(a, ip)));
		json_t *reply = change(d, next, NULL, NULL, dry_run_of(req));
		if (json_is_true(json_object_get(reply, "ok")))
			json_object_set_new(json_object_get(reply, "result"), "address", json_string(ip));
		return reply;
	}
	vpc_fail(err, VPC_E_CONFLICT, "", "the public address pool %s is exhausted",
		 cidr_fmt(pool, (char[CIDR_STR_MAX]){0}));
	return NULL;
}

static json_t *op_show(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	const char *vpc = json_string_value(json_object_get(req, "vpc"));
	int vi = -1;
	if (vpc && (vi = topo_find_vpc(d->topo, vpc)) < 0) {
		vpc_fail(err, VPC_E_NOT_FOUND, "", "no VPC named \"%s\"", vpc);
		return NULL;
	}
	const char *sg = json_string_value(json_object_get(req, "security_group"));
	if (sg && vi >= 0)
		return ok(topo_show_sg_json(d->topo, vi, sg));
	json_t *res = topo_show_json(d->topo, vi);
	add_nacl_counters(d, json_object_get(res, "vpcs"));
	return ok(res);
}

static json_t *op_desired(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	(void)req;
	(void)err;
	return ok(json_deep_copy(d->desired));
}

/* Where `vpcctl exec` should go: "VPC/INSTANCE", "VPC/nat:NAME" or "internet". */
static json_t *op_resolve(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	char ns[NS_NAME_MAX], vpc[VPC_NAME_MAX + 1];
	const char *slash = target ? strchr(target, '/') : NULL;
	if (!target) {
		vpc_fail(err, VPC_E_INVALID, "target", "is required");
		return NULL;
	}
	if (!strcmp(target, "internet")) {
		char path[NS_NAME_MAX + 16];
		ns_internet(ns);
		snprintf(path, sizeof(path), VPC_NETNS_DIR "/%s", ns);
		if (access(path, F_OK)) {
			vpc_fail(err, VPC_E_NOT_FOUND, "",
				 "the simulated internet does not exist yet: it comes with the first "
				 "internet gateway");
			return NULL;
		}
		return ok(json_pack("{s:s}", "namespace", ns));
	}
	if (!slash || (size_t)(slash - target) > VPC_NAME_MAX) {
		vpc_fail(err, VPC_E_INVALID, "target", "\"%s\" must be VPC/INSTANCE or internet",
			 target);
		return NULL;
	}
	snprintf(vpc, sizeof(vpc), "%.*s", (int)(slash - target), target);
	int vi = topo_find_vpc(d->topo, vpc);
	if (vi < 0) {
		vpc_fail(err, VPC_E_NOT_FOUND, "", "no VPC named \"%s\"", vpc);
		return NULL;
	}
	const struct vpc *v = &d->topo->vpcs[vi];
	const char *name = slash + 1;
	if (!strncmp(name, "nat:", 4)) {
		for (size_t i = 0; i < v->n_nat_gateways; i++)
			if (!strcmp(v->nat_gateways[i].name, name + 4)) {
				ns_natgw(ns, vpc, name + 4);
				return ok(json_pack("{s:s}", "namespace", ns));
			}
		vpc_fail(err, VPC_E_NOT_FOUND, "", "no NAT gateway named \"%s\" in VPC %s", name + 4,
			 vpc);
		return NULL;
	}
	if (!strcmp(name, "router")) {
		ns_router(ns, vpc);
		return ok(json_pack("{s:s}", "namespace", ns));
	}
	if (vpc_find_instance(v, name) < 0) {
		vpc_fail(err, VPC_E_NOT_FOUND, "", "no instance named \"%s\" in VPC %s", name, vpc);
		return NULL;
	}
	ns_instance(ns, vpc, name);
	return ok(json_pack("{s:s}", "namespace", ns));
}

static json_t *op_reconcile(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	json_t *res = NULL;
	(void)req;
	if (vpcd_reconcile(d, true, &res, err))
		return NULL;
	return ok(res);
}

static json_t *op_status(struct vpcd *d, const json_t *req, struct vpc_err *err)
{
	(void)req;
	(void)err;
	size_t inst = 0;
	for (size_t i = 0; i < d->topo->n_vpcs; i++)
		inst += d->topo->vpcs[i].n_instances;
	return ok(json_pack("{s:s,s:i,s:s,s:s,s:i,s:i}", "version", VPCD_VERSION, "pid",
			    (json_int_t)getpid(), "prefix", vpc_prefix, "state_file", d->state_path, "vpcs",
			    (json_int_t)d->topo->n_vpcs, "instances", (json_int_t)inst));
}

static const struct {
	const char *op;
	json_t *(*fn)(struct vpcd *, const json_t *, struct vpc_err *);
} ops[] = {
	{"apply", op_apply},	     {"destroy", op_destroy}, {"add", op_edit},
	{"remove", op_edit},	     {"set", op_edit},	      {"replace", op_edit},
	{"sg_rule", op_sg_rule},
	{"show", op_show},
	{"desired", op_desired},     {"resolve", op_resolve}, {"reconcile", op_reconcile},
	{"status", op_status},	     {"eip_allocate", op_eip_allocate},
};

/* The largest entries text read from an attached file: 16,384 entries a
 * direction of the longest line each are 8 MB. */
#define ATTACHED_MAX (8u << 20)
/* The largest topology file: as large as a request may be. */
#define TOPOLOGY_MAX (256u << 20)

/* The whole of an attached regular file of at most `max` bytes; NULL with `err`
 * set. */
static char *read_attached(int fd, size_t max, size_t *len, struct vpc_err *err)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		vpc_fail(err, VPC_E_INVALID, "file", "no regular file came with the request");
		return NULL;
	}
	/* Read to its end, whatever its size says (a file of /proc says 0). */
	size_t cap = (size_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1,
	       n = 0;
	char *buf = malloc(cap);
	ssize_t r = 1;
	while (buf && r > 0 && n <= max) {
		if (n == cap) {
			char *more = realloc(buf, cap = cap * 2 < max + 1 ? cap * 2 : max + 1);
			if (!more) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = more;
		}
		if ((r = pread(fd, buf + n, cap - n, (off_t)n)) > 0)
			n += (size_t)r;
		else if (r < 0 && errno == EINTR)
			r = 1;
	}
	if (!buf || r < 0) {
		vpc_fail(err, VPC_E_INVALID, "file", "cannot read it: %s",
			 buf ? strerror(errno) : "out of memory");
		free(buf);
		return NULL;
	}
	if (n > max) {
		vpc_fail(err, VPC_E_INVALID, "file", "over %zu MB", max >> 20);
		free(buf);
		return NULL;
	}
	buf[n] = 0; /* n < cap: the loop ends before the buffer fills */
	*len = n;
	return buf;
}

/* `vpcctl nacl load`: the entries come as text after the request (vpc/topo.h),
 * or, for "nacl_load_file", in the file `attached` to it. (A request of its own:
 * a vpcd that predates it refuses it, where a flag it did not know would have
 * left it loading no entries at all.) */
static json_t *op_nacl_load(struct vpcd *d, const json_t *req, const char *text, size_t len,
			    bool by_file, int attached, struct vpc_err *err)
{
	const char *vpc = json_string_value(json_object_get(req, "vpc"));
	const char *nacl = json_string_value(json_object_get(req, "nacl"));
	struct nacl_entries e;
	json_t *res = NULL;
	char *file = NULL;
	double t0 = mono_ms();
	if (!vpc || !nacl) {
		vpc_fail(err, VPC_E_INVALID, vpc ? "nacl" : "vpc", "is required");
		return NULL;
	}
	if (by_file) {
		if (len) {
			vpc_fail(err, VPC_E_NOT_JSON, "",
				 "text after the request (nacl_load_file takes its entries from the file)");
			return NULL;
		}
		if (!(text = file = read_attached(attached, ATTACHED_MAX, &len, err)))
			return NULL;
	}
	double t_read = mono_ms();
	int parsed = nacl_text_parse(text, len, &e, err);
	free(file);
	if (parsed)
		return NULL;
	log_debug("nacl load: %zu + %zu entries read in %.2f ms (file %.2f ms)", e.n_in, e.n_out,
		  mono_ms() - t0, t_read - t0);
	bool dry_run = dry_run_of(req);
	int rc = vpcd_change_nacl(d, vpc, nacl, &e, dry_run, &res, err);
	free(e.in);
	free(e.out);
	return change_reply(rc, res, dry_run, err);
}

/* `vpcctl apply -f FILE`: the topology in the file `attached` to the request
 * (which vpcd reads itself: no copy in vpcctl, no trip through the socket, and
 * large NACLs read apart, see topo_load()). */
static json_t *op_apply_file(struct vpcd *d, const json_t *req, int attached,
			     struct vpc_err *err)
{
	size_t len;
	double t0 = mono_ms();
	char *text = read_attached(attached, TOPOLOGY_MAX, &len, err);
	double t_read = mono_ms();
	if (!text)
		return NULL;
	struct nacl_lists ls;
	json_error_t je;
	json_t *file = topo_load(text, len, &ls, &je), *r = NULL;
	free(text);
	if (!file) {
		vpc_fail(err, VPC_E_NOT_JSON, "file", "not JSON: %s (line %d, column %d)", je.text,
			 je.line, je.column);
		return NULL;
	}
	log_debug("apply: file read in %.2f ms (file %.2f ms), %zu NACL entries lists apart",
		  mono_ms() - t0, t_read - t0, ls.n);
	r = apply(d, req, file, &ls, err);
	json_decref(file);
	nacl_lists_free(&ls);
	return r;
}

json_t *api_handle(struct vpcd *d, const json_t *req, const char *payload, size_t len,
		   int attached)
{
	struct vpc_err err;
	vpc_err_clear(&err);
	const char *op = json_string_value(json_object_get(req, "op"));
	if (!json_is_object(req) || !op) {
		vpc_fail(&err, VPC_E_INVALID, "op", "a request is a JSON object with an \"op\"");
		return api_error(&err);
	}
	bool by_file = !strcmp(op, "nacl_load_file");
	if (by_file || !strcmp(op, "nacl_load")) {
		json_t *r = op_nacl_load(d, req, payload, len, by_file, attached, &err);
		return r ? r : api_error(&err);
	}
	if (len) {
		vpc_fail(&err, VPC_E_NOT_JSON, "", "text after the request (only nacl_load takes any)");
		return api_error(&err);
	}
	if (!strcmp(op, "apply_file")) {
		json_t *r = op_apply_file(d, req, attached, &err);
		return r ? r : api_error(&err);
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].op, op)) {
			json_t *r = ops[i].fn(d, req, &err);
			return r ? r : api_error(&err);
		}
	vpc_fail(&err, VPC_E_INVALID, "op", "unknown operation \"%s\"", op);
	return api_error(&err);
}
