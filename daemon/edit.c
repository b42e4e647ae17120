/* See vpc/edit.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpc/edit.h"
#include "vpc/topo.h"

/* How elements of a collection are identified, and what users call them. */
struct coll {
	const char *key, *id_key, *what;
};
static const struct coll colls[] = {
	{"vpcs", "name", "VPC"},
	{"subnets", "name", "subnet"},
	{"instances", "name", "instance"},
	{"security_groups", "name", "security group"},
	{"network_acls", "name", "network ACL"},
	{"route_tables", "name", "route table"},
	{"nat_gateways", "name", "NAT gateway"},
	{"peerings", "name", "peering"},
	{"elastic_ips", "address", "elastic IP"},
	{"inbound", "rule", "inbound entry"},
	{"outbound", "rule", "outbound entry"},
	{"routes", "destination", "route"},
	{"ingress", NULL, "ingress rule"},
	{"egress", NULL, "egress rule"},
};

static const struct coll *coll_of(const char *key)
{
	for (size_t i = 0; i < sizeof(colls) / sizeof(colls[0]); i++)
		if (!strcmp(colls[i].key, key))
			return &colls[i];
	return NULL;
}

/* The index of the element of `arr` with id `id` (rule numbers compare as
 * numbers), or -1. */
static int find_in(const json_t *arr, const struct coll *c, const char *id)
{
	char *end;
	errno = 0;
	long long num = strtoll(id, &end, 10);
	bool numeric = *id && !*end && !errno;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *v = json_object_get(json_array_get(arr, i), c->id_key);
		if (json_is_string(v) ? !strcmp(json_string_value(v), id)
				      : numeric && json_is_integer(v) && json_integer_value(v) == num)
			return (int)i;
	}
	return -1;
}

json_t *edit_element(const json_t *obj, const char *key, const char *id)
{
	const struct coll *c = coll_of(key);
	const json_t *arr = json_object_get(obj, key);
	int i = c && c->id_key ? find_in(arr, c, id) : -1;
	return i < 0 ? NULL : json_array_get(arr, (size_t)i);
}

/* find_in(), with the index's help where it can give it. */
static int locate(const struct edit_index *ix, const json_t *path, size_t n, const json_t *arr,
		  const struct coll *c, const char *id)
{
	const json_t *e;
	if (ix && ix->find(ix->arg, path, n, id, &e)) {
		if (!e)
			return -1;
		for (size_t i = 0; i < json_array_size(arr); i++)
			if (json_array_get(arr, i) == e)
				return (int)i;
	}
	return find_in(arr, c, id);
}

/* Describes the object the walk is in, for messages: "VPC shop", "network ACL web". */
struct where {
	char text[160];
};

/*
 * Walks `path` from `root`. Returns the object reached after `n` segments (n even:
 * an element; n odd: the collection array, created when `create`).
 *
 * Copy on write: every array and element on the way is replaced by a shallow copy
 * of itself, so that `root` may be a shallow copy of the current state: what the
 * edit changes is then never shared with it, and the rest is shared, not copied.
 */
static json_t *walk(json_t *root, const json_t *path, size_t n, bool create, struct where *w,
		    struct vpc_err *err)
{
	json_t *cur = root;
	snprintf(w->text, sizeof(w->text), "the topology");
	for (size_t i = 0; i < n; i += 2) {
		const char *key = json_string_value(json_array_get(path, i));
		const struct coll *c = key ? coll_of(key) : NULL;
		if (!c) {
			vpc_fail(err, VPC_E_INVALID, "path", "\"%s\" is not a collection", key ? key : "?");
			return NULL;
		}
		json_t *arr = json_object_get(cur, key);
		if (json_is_array(arr)) {
			arr = json_copy(arr);
			json_object_set_new(cur, key, arr);
		} else if (!arr && create) {
			arr = json_array();
			json_object_set_new(cur, key, arr);
		}
		if (i + 1 == n) {
			if (!json_is_array(arr)) {
				vpc_fail(err, VPC_E_NOT_FOUND, "", "%s has no %s list", w->text, c->what);
				return NULL;
			}
			return arr;
		}
		const char *id = json_string_value(json_array_get(path, i + 1));
		int idx = c->id_key && id && json_is_array(arr) ? find_in(arr, c, id) : -1;
		if (idx < 0 && id && (!arr || json_is_array(arr)) && !strcmp(key, "network_acls") &&
		    !strcmp(id, "default")) {
			/* The built-in default NACL, edited for the first time: written out. */
			if (!arr) {
				arr = json_array();
				json_object_set_new(cur, key, arr);
			}
			json_array_append_new(arr, topo_default_nacl_json());
			idx = (int)json_array_size(arr) - 1;
		}
		if (idx < 0) {
			vpc_fail(err, VPC_E_NOT_FOUND, "", "no %s \"%s\" in %s", c->what, id ? id : "?",
				 w->text);
			return NULL;
		}
		cur = json_copy(json_array_get(arr, (size_t)idx));
		json_array_set_new(arr, (size_t)idx, cur);
		snprintf(w->text, sizeof(w->text), "%s %s", c->what, id);
	}
	return cur;
}

static bool path_ok(const json_t *path, struct vpc_err *err)
{
	if (!json_is_array(path) || !json_array_size(path)) {
		vpc_fail(err, VPC_E_INVALID, "path", "must be a non-empty array of strings");
		return false;
	}
	for (size_t i = 0; i < json_array_size(path); i++)
		if (!json_is_string(json_array_get(path, i))) {
			vpc_fail(err, VPC_E_INVALID, "path", "must be a non-empty array of strings");
			return false;
		}
	return true;
}

int edit_add(json_t *desired, const json_t *path, json_t *object, const struct edit_index *ix,
	     struct vpc_err *err)
{
	struct where w;
	size_t n = json_array_size(path);
	if (!path_ok(path, err))
		return -EINVAL;
	if (n % 2 == 0)
		return vpc_fail(err, VPC_E_INVALID, "path", "must end with a collection");
	if (!json_is_object(object))
		return vpc_fail(err, VPC_E_INVALID, "object", "must be a JSON object");
	json_t *arr = walk(desired, path, n, true, &w, err);
	if (!arr)
		return -ENOENT;
	const struct coll *c = coll_of(json_string_value(json_array_get(path, n - 1)));
	if (c->id_key) {
		const json_t *idv = json_object_get(object, c->id_key);
		char id[64] = "";
		if (json_is_string(idv))
			snprintf(id, sizeof(id), "%s", json_string_value(idv));
		else if (json_is_integer(idv))
			snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(idv));
		if (id[0] && locate(ix, path, n, arr, c, id) >= 0)
			return vpc_fail(err, VPC_E_CONFLICT, "", "%s \"%s\" already exists in %s",
					c->what, id, w.text);
	} else {
		for (size_t i = 0; i < json_array_size(arr); i++)
			if (json_equal(json_array_get(arr, i), object))
				return vpc_fail(err, VPC_E_CONFLICT, "",
						"%s has this %s already", w.text, c->what);
	}
	json_array_append(arr, object);
	return 0;
}

int edit_remove(json_t *desired, const json_t *path, const json_t *match,
		const struct edit_index *ix, struct vpc_err *err)
{
	struct where w;
	size_t n = json_array_size(path);
	if (!path_ok(path, err))
		return -EINVAL;
	if (match) {
		/* A rule without id: remove the element equal to `match`. */
		if (n % 2 == 0)
			return vpc_fail(err, VPC_E_INVALID, "path", "must end with a collection");
		json_t *arr = walk(desired, path, n, false, &w, err);
		if (!arr)
			return -ENOENT;
		const struct coll *c = coll_of(json_string_value(json_array_get(path, n - 1)));
		for (size_t i = 0; i < json_array_size(arr); i++)
			if (json_equal(json_array_get(arr, i), match)) {
				json_array_remove(arr, i);
				return 0;
			}
		return vpc_fail(err, VPC_E_NOT_FOUND, "", "%s has no such %s", w.text, c->what);
	}
	if (n % 2)
		return vpc_fail(err, VPC_E_INVALID, "path", "must end with an element id");
	json_t *arr = walk(desired, path, n - 1, false, &w, err);
	if (!arr)
		return -ENOENT;
	const struct coll *c = coll_of(json_string_value(json_array_get(path, n - 2)));
	const char *id = json_string_value(json_array_get(path, n - 1));
	int idx = c->id_key ? locate(ix, path, n - 1, arr, c, id) : -1;
	if (idx < 0)
		return vpc_fail(err, VPC_E_NOT_FOUND, "", "no %s \"%s\" in %s", c->what, id, w.text);
	json_array_remove(arr, (size_t)idx);
	return 0;
}

int edit_replace(json_t *desired, const json_t *path, json_t *object, const struct edit_index *ix,
		 struct vpc_err *err)
{
	struct where w;
	size_t n = json_array_size(path);
	if (!path_ok(path, err))
		return -EINVAL;
	if (n % 2)
		return vpc_fail(err, VPC_E_INVALID, "path", "must end with an element id");
	if (!json_is_object(object))
		return vpc_fail(err, VPC_E_INVALID, "object", "must be a JSON object");
	json_t *arr = walk(desired, path, n - 1, false, &w, err);
	if (!arr)
		return -ENOENT;
	const struct coll *c = coll_of(json_string_value(json_array_get(path, n - 2)));
	const char *id = json_string_value(json_array_get(path, n - 1));
	int idx = c->id_key ? locate(ix, path, n - 1, arr, c, id) : -1;
	if (idx < 0)
		return vpc_fail(err, VPC_E_NOT_FOUND, "", "no %s \"%s\" in %s", c->what, id, w.text);
	json_array_set(arr, (size_t)idx, object);
	return 0;
}

int edit_set(json_t *desired, const json_t *path, const char *key, json_t *value,
	     struct vpc_err *err)
{
	struct where w;
	size_t n = json_array_size(path);
	if (!path_ok(path, err))
		return -EINVAL;
	if (n % 2)
		return vpc_fail(err, VPC_E_INVALID, "path", "must end with an element id");
	json_t *obj = walk(desired, path, n, false, &w, err);
	if (!obj)
		return -ENOENT;
	if (value)
		json_object_set(obj, key, value);
	else
		json_object_del(obj, key);
	return 0;
}

static void remove_if(json_t *arr, bool (*pred)(json_t *, const char *), const char *arg)
{
	for (size_t i = json_array_size(arr); i-- > 0;)
		if (pred(json_array_get(arr, i), arg))
			json_array_remove(arr, i);
}

static bool peering_names(json_t *p, const char *vpc)
{
	json_t *vs = json_object_get(p, "vpcs");
	for (size_t i = 0; i < json_array_size(vs); i++)
		if (!vpc || !strcmp(json_string_value(json_array_get(vs, i)) ?: "", vpc))
			return true;
	return false;
}

/* What other VPCs say about a destroyed one goes with it: routes to its peerings,
 * group rules naming its groups ("vpc/group"). */
static void forget_in_others(json_t *vpcs, json_t *gone_peerings, const char *vpc)
{
	json_t *v, *x, *r;
	size_t i, k, j;
	size_t plen = strlen(vpc);
	json_array_foreach(vpcs, i, v)
	{
		json_array_foreach(json_object_get(v, "route_tables"), k, x)
		{
			json_t *routes = json_object_get(x, "routes");
			for (j = json_array_size(routes); j-- > 0;) {
				const char *t = json_string_value(json_object_get(json_array_get(routes, j), "target"));
				json_t *p;
				size_t q;
				json_array_foreach(gone_peerings, q, p)
					if (t && !strncmp(t, "peering:", 8) &&
					    !strcmp(t + 8, json_string_value(json_object_get(p, "name")) ?: ""))
						json_array_remove(routes, j);
			}
		}
		json_array_foreach(json_object_get(v, "security_groups"), k, x)
		{
			for (int d = 0; d < 2; d++) {
				json_t *rules = json_object_get(x, d ? "egress" : "ingress");
				for (j = json_array_size(rules); j-- > 0;) {
					r = json_array_get(rules, j);
					const char *g = json_string_value(json_object_get(
						r, d ? "destination_group" : "source_group"));
					if (g && !strncmp(g, vpc, plen) && g[plen] == '/')
						json_array_remove(rules, j);
				}
			}
		}
	}
}

int edit_destroy(json_t *desired, const char *vpc, struct vpc_err *err)
{
	json_t *vpcs = json_object_get(desired, "vpcs");
	const struct coll *c = coll_of("vpcs");
	if (vpc) {
		int idx = find_in(vpcs, c, vpc);
		if (idx < 0)
			return vpc_fail(err, VPC_E_NOT_FOUND, "", "no VPC named \"%s\"", vpc);
		json_array_remove(vpcs, (size_t)idx);
		json_t *gone = json_array(), *p;
		size_t i;
		json_array_foreach(json_object_get(desired, "peerings"), i, p)
			if (peering_names(p, vpc))
				json_array_append(gone, p);
		forget_in_others(vpcs, gone, vpc);
		json_decref(gone);
	} else {
		json_array_clear(vpcs);
	}
	remove_if(json_object_get(desired, "peerings"), peering_names, vpc);
	/* Elastic IPs stay allocated; only their association goes, as in AWS. */
	json_t *eips = json_object_get(desired, "elastic_ips");
	size_t plen = vpc ? strlen(vpc) : 0;
	for (size_t i = 0; i < json_array_size(eips); i++) {
		json_t *e = json_array_get(eips, i);
		const char *inst = json_string_value(json_object_get(e, "instance"));
		if (inst && (!vpc || (!strncmp(inst, vpc, plen) && inst[plen] == '/')))
			json_object_del(e, "instance");
	}
	return 0;
}

/*
 * desired[key] becomes the file's elements, in file order, followed by the elements
 * the file does not name. Keeping the file's order first means a validation error in
 * the merged state carries the same JSON path as in the file.
 */
static int merge_coll(json_t *desired, const json_t *file, const char *key, struct vpc_err *err)
{
	const json_t *src = json_object_get(file, key);
	const struct coll *c = coll_of(key);
	if (!src)
		return 0;
	if (!json_is_array(src))
		return vpc_fail(err, VPC_E_INVALID, key, "must be an array");
	json_t *old = json_object_get(desired, key);
	json_t *dst = json_copy((json_t *)src);
	for (size_t i = 0; i < json_array_size(old); i++) {
		json_t *e = json_array_get(old, i);
		const json_t *idv = json_object_get(e, c->id_key);
		if (!json_is_string(idv) || find_in(src, c, json_string_value(idv)) < 0)
			json_array_append(dst, e);
	}
	json_object_set_new(desired, key, dst);
	return 0;
}

int edit_merge(json_t *desired, const json_t *file, bool prune, struct vpc_err *err)
{
	if (!json_is_object(file))
		return vpc_fail(err, VPC_E_INVALID, "", "a topology must be a JSON object");
	if (prune) {
		json_object_clear(desired);
		json_object_update(desired, (json_t *)file);
		return 0;
	}
	/* Keys other than the collections (unknown ones included) are copied so that
	 * validation sees, and rejects, exactly what the file says. */
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)file, key, v)
	{
		if (strcmp(key, "vpcs") && strcmp(key, "peerings") && strcmp(key, "elastic_ips"))
			json_object_set(desired, key, v);
	}
	if (merge_coll(desired, file, "vpcs", err) || merge_coll(desired, file, "peerings", err) ||
	    merge_coll(desired, file, "elastic_ips", err))
		return -EINVAL;
	return 0;
}

static bool named(const char *k, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(k, *names))
			return true;
	return false;
}

/* Whether two objects have the same members, leaving out those named in `skip`. */
static bool same_but(const json_t *a, const json_t *b, const char *const *skip)
{
	const char *k;
	const json_t *v;
	size_t na = 0, nb = 0;
	json_object_foreach((json_t *)a, k, v)
	{
		if (named(k, skip))
			continue;
		na++;
		if (!json_equal(v, json_object_get(b, k)))
			return false;
	}
	json_object_foreach((json_t *)b, k, v)
		nb += !named(k, skip);
	return na == nb;
}

const char *edit_nacl_entries_only(const json_t *prev, const json_t *next)
{
	static const char *const top[] = {"vpcs", NULL}, *vpc[] = {"network_acls", NULL},
				 *nacl[] = {"inbound", "outbound", NULL};
	const json_t *pv = json_object_get(prev, "vpcs"), *nv = json_object_get(next, "vpcs");
	const char *changed = NULL;
	if (!json_is_object(prev) || !json_is_object(next) || !same_but(prev, next, top) ||
	    json_array_size(pv) != json_array_size(nv))
		return NULL;
	for (size_t i = 0; i < json_array_size(nv); i++) {
		const json_t *a = json_array_get(pv, i), *b = json_array_get(nv, i);
		const json_t *an = json_object_get(a, "network_acls"),
			     *bn = json_object_get(b, "network_acls");
		if (a == b)
			continue;
		if (!json_is_object(a) || !json_is_object(b) || !same_but(a, b, vpc) ||
		    !json_is_array(an) != !json_is_array(bn) ||
		    json_array_size(an) != json_array_size(bn))
			return NULL;
		bool entries = false;
		for (size_t j = 0; j < json_array_size(bn); j++) {
			const json_t *x = json_array_get(an, j), *y = json_array_get(bn, j);
			if (!json_is_object(x) || !json_is_object(y) || !same_but(x, y, nacl))
				return NULL;
			for (const char *const *k = nacl; *k; k++) {
				const json_t *ex = json_object_get(x, *k), *ey = json_object_get(y, *k);
				entries |= ex != ey && !(ex && ey && json_equal(ex, ey));
			}
		}
		if (!entries)
			continue;
		if (changed) /* a second VPC */
			return NULL;
		changed = json_string_value(json_object_get(b, "name"));
	}
	return changed;
}
