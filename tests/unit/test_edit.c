/* Edits of the desired state behind apply, destroy and the imperative verbs. */
#include <stdlib.h>

#include "test.h"
#include "vpc/edit.h"
#include "vpc/topo.h"

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	if (!j) {
		fprintf(stderr, "bad test JSON: %s\n", je.text);
		abort();
	}
	return j;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT);
}

#define CHECK_JSON(j, want)                                                                       \
	do {                                                                                      \
		char *s_ = dump(j);                                                               \
		CHECK_STR(s_, want);                                                              \
		free(s_);                                                                         \
	} while (0)

void test_edit(void)
{
	struct vpc_err err;
	json_t *d = J("{\"vpcs\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"peerings\":[{\"name\":\"p\","
		      "\"vpcs\":[\"a\",\"b\"]}],\"elastic_ips\":[{\"address\":\"198.51.100.9\","
		      "\"instance\":\"b/i\"}]}");

	/* Merge: the file's VPCs first in file order, the others after. */
	json_t *f = J("{\"vpcs\":[{\"name\":\"c\"},{\"name\":\"b\",\"cidr\":\"x\"}]}");
	vpc_err_clear(&err);
	CHECK_INT(edit_merge(d, f, false, &err), 0);
	CHECK_JSON(json_object_get(d, "vpcs"),
		   "[{\"name\":\"c\"},{\"name\":\"b\",\"cidr\":\"x\"},{\"name\":\"a\"}]");
	json_decref(f);

	/* Add / remove / set by path. */
	json_t *path = J("[\"vpcs\",\"a\",\"subnets\"]");
	json_t *sub = J("{\"name\":\"s\"}");
	CHECK_INT(edit_add(d, path, sub, NULL, &err), 0);
	json_decref(sub);
	CHECK_JSON(json_object_get(json_array_get(json_object_get(d, "vpcs"), 2), "subnets"),
		   "[{\"name\":\"s\"}]");
	vpc_err_clear(&err);
	json_t *dup = J("{\"name\":\"s\"}");
	CHECK(edit_add(d, path, dup, NULL, &err) != 0);
	CHECK_STR(err.code, VPC_E_CONFLICT);
	CHECK_STR(err.msg, "subnet \"s\" already exists in VPC a");
	json_decref(dup);
	json_decref(path);

	vpc_err_clear(&err);
	path = J("[\"vpcs\",\"zz\",\"subnets\",\"s\"]");
	CHECK(edit_remove(d, path, NULL, NULL, &err) != 0);
	CHECK_STR(err.code, VPC_E_NOT_FOUND);
	CHECK_STR(err.msg, "no VPC \"zz\" in the topology");
	json_decref(path);

	path = J("[\"vpcs\",\"a\",\"network_acls\"]");
	json_t *nacl = J("{\"name\":\"web\",\"inbound\":[{\"rule\":100}]}");
	CHECK_INT(edit_add(d, path, nacl, NULL, &err), 0);
	json_decref(nacl);
	json_decref(path);
	vpc_err_clear(&err);
	path = J("[\"vpcs\",\"a\",\"network_acls\",\"web\",\"inbound\",\"100\"]");
	CHECK_INT(edit_remove(d, path, NULL, NULL, &err), 0);
	CHECK(edit_remove(d, path, NULL, NULL, &err) != 0);
	CHECK_STR(err.msg, "no inbound entry \"100\" in network ACL web");
	json_decref(path);

	path = J("[\"vpcs\",\"a\"]");
	json_t *val = json_true();
	CHECK_INT(edit_set(d, path, "internet_gateway", val, &err), 0);
	CHECK(json_is_true(json_object_get(json_array_get(json_object_get(d, "vpcs"), 2),
					   "internet_gateway")));
	json_decref(val);
	json_decref(path);

	/* Group rules have no id: removed by content. */
	path = J("[\"vpcs\",\"a\",\"security_groups\"]");
	json_t *grp = J("{\"name\":\"g\",\"ingress\":[{\"protocol\":\"tcp\"}]}");
	CHECK_INT(edit_add(d, path, grp, NULL, &err), 0);
	json_decref(grp);
	json_decref(path);
	path = J("[\"vpcs\",\"a\",\"security_groups\",\"g\",\"ingress\"]");
	json_t *m = J("{\"protocol\":\"udp\"}");
	vpc_err_clear(&err);
	CHECK(edit_remove(d, path, m, NULL, &err) != 0);
	CHECK_STR(err.msg, "security group g has no such ingress rule");
	json_decref(m);
	m = J("{\"protocol\":\"tcp\"}");
	CHECK_INT(edit_remove(d, path, m, NULL, &err), 0);
	json_decref(m);
	json_decref(path);

	/* Edits by path on a shallow copy leave the original as it was. */
	json_t *orig = J("{\"vpcs\":[{\"name\":\"v\",\"network_acls\":[{\"name\":\"n\","
			 "\"inbound\":[{\"rule\":100,\"action\":\"allow\"}]}],"
			 "\"subnets\":[{\"name\":\"s\"}]}]}");
	json_t *snap = json_deep_copy(orig), *cow = json_copy(orig);
	path = J("[\"vpcs\",\"v\",\"network_acls\",\"n\",\"inbound\"]");
	m = J("{\"rule\":90,\"action\":\"deny\"}");
	CHECK_INT(edit_add(cow, path, m, NULL, &err), 0);
	json_decref(m);
	json_decref(path);
	path = J("[\"vpcs\",\"v\",\"network_acls\",\"n\",\"inbound\",\"100\"]");
	CHECK_INT(edit_remove(cow, path, NULL, NULL, &err), 0);
	json_decref(path);
	path = J("[\"vpcs\",\"v\",\"subnets\",\"s\"]");
	m = json_string("n");
	CHECK_INT(edit_set(cow, path, "network_acl", m, &err), 0);
	json_decref(m);
	json_decref(path);
	CHECK(json_equal(orig, snap));
	CHECK_JSON(json_object_get(json_array_get(json_object_get(
				  json_array_get(json_object_get(cow, "vpcs"), 0), "network_acls"), 0), "inbound"),
		   "[{\"rule\":90,\"action\":\"deny\"}]");
	json_decref(cow);
	json_decref(snap);
	json_decref(orig);

	/* Destroy also takes what others say about the VPC. */
	json_t *d2 = J("{\"vpcs\":[{\"name\":\"a\"},{\"name\":\"b\",\"route_tables\":[{\"name\":\"t\","
		       "\"routes\":[{\"destination\":\"10.1.0.0/16\",\"target\":\"peering:p\"},"
		       "{\"destination\":\"0.0.0.0/0\",\"target\":\"igw\"}]}],\"security_groups\":[{"
		       "\"name\":\"g\",\"ingress\":[{\"protocol\":\"all\",\"source_group\":\"a/x\"},"
		       "{\"protocol\":\"all\",\"source_group\":\"ab/x\"}]}]}],"
		       "\"peerings\":[{\"name\":\"p\",\"vpcs\":[\"a\",\"b\"]}]}");
	CHECK_INT(edit_destroy(d2, "a", &err), 0);
	CHECK_JSON(json_object_get(json_array_get(json_object_get(d2, "vpcs"), 0), "route_tables"),
		   "[{\"name\":\"t\",\"routes\":[{\"destination\":\"0.0.0.0/0\",\"target\":\"igw\"}]}]");
	CHECK_JSON(json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(d2, "vpcs"), 0),
								   "security_groups"), 0), "ingress"),
		   "[{\"protocol\":\"all\",\"source_group\":\"ab/x\"}]");
	json_decref(d2);

	/* Destroy takes the VPC's peerings and elastic-IP associations with it. */
	vpc_err_clear(&err);
	CHECK_INT(edit_destroy(d, "b", &err), 0);
	CHECK_INT(json_array_size(json_object_get(d, "peerings")), 0);
	CHECK_JSON(json_object_get(d, "elastic_ips"), "[{\"address\":\"198.51.100.9\"}]");
	CHECK(edit_destroy(d, "b", &err) != 0);
	CHECK_INT(edit_destroy(d, NULL, &err), 0);
	CHECK_INT(json_array_size(json_object_get(d, "vpcs")), 0);
	json_decref(d);
}

/* A compile that reuses rules read from the same JSON objects (the previous model)
 * gives the model a fresh compile gives, after copy-on-write edits. */
void test_rule_memo(void)
{
	struct vpc_err err;
	json_t *d = J("{\"vpcs\":[{\"name\":\"v\",\"cidr\":\"10.0.0.0/16\",\"network_acls\":[{"
		      "\"name\":\"n\",\"inbound\":[{\"rule\":100,\"protocol\":\"tcp\",\"ports\":\"80\","
		      "\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"},{\"rule\":200,\"protocol\":\"udp\","
		      "\"ports\":\"53\",\"cidr\":\"10.0.0.0/8\",\"action\":\"deny\"}]}]}]}");
	struct compile_opts o = {.features = FEAT_ALL};
	struct topology *t0 = NULL, *t1 = NULL, *fresh = NULL;
	vpc_err_clear(&err);
	CHECK_INT(topo_compile(d, &o, &t0, &err), 0);
	/* Rule 50 comes before the others (out of order in the array: sorted again),
	 * and a rule with a bad port is refused although its neighbours are known. */
	json_t *next = json_copy(d);
	json_t *path = J("[\"vpcs\",\"v\",\"network_acls\",\"n\",\"inbound\"]");
	json_t *r50 = J("{\"rule\":50,\"protocol\":\"icmp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"deny\"}");
	CHECK_INT(edit_add(next, path, r50, NULL, &err), 0);
	struct compile_opts op = {.features = FEAT_ALL, .prev = t0};
	CHECK_INT(topo_compile(next, &op, &t1, &err), 0);
	CHECK_INT(topo_compile(next, &o, &fresh, &err), 0);
	const struct nacl *a = &t1->vpcs[0].nacls[0], *b = &fresh->vpcs[0].nacls[0];
	CHECK_INT(a->n_in, 3);
	CHECK_INT(a->in[0].number, 50);
	CHECK(a->n_in == b->n_in && !memcmp(a->in, b->in, a->n_in * sizeof(*a->in)));
	CHECK(a->hash_in == b->hash_in);
	json_t *bad = J("{\"rule\":60,\"protocol\":\"tcp\",\"ports\":\"99999\",\"cidr\":\"0.0.0.0/0\","
			"\"action\":\"deny\"}");
	json_t *next2 = json_copy(next);
	struct topology *t2 = NULL;
	CHECK_INT(edit_add(next2, path, bad, NULL, &err), 0);
	struct compile_opts op1 = {.features = FEAT_ALL, .prev = t1};
	CHECK(topo_compile(next2, &op1, &t2, &err) != 0);
	CHECK_STR(err.path, "vpcs[0].network_acls[0].inbound[3].ports");
	/* A duplicate number among known rules is still a duplicate. */
	json_t *dup = J("{\"rule\":100,\"protocol\":\"all\",\"cidr\":\"0.0.0.0/0\",\"action\":\"deny\"}");
	json_t *next3 = json_copy(next);
	json_t *at50 = J("[\"vpcs\",\"v\",\"network_acls\",\"n\",\"inbound\",\"50\"]");
	CHECK_INT(edit_replace(next3, at50, dup, NULL, &err), 0);
	json_decref(at50);
	CHECK(topo_compile(next3, &op1, &t2, &err) != 0);
	CHECK_STR(err.path, "vpcs[0].network_acls[0].inbound[2].rule");
	topo_free(t0);
	topo_free(t1);
	topo_free(fresh);
	json_decref(next);
	json_decref(next2);
	json_decref(next3);
	json_decref(path);
	json_decref(r50);
	json_decref(bad);
	json_decref(dup);
	json_decref(d);
}

/* next's inbound list, copied along its way down so that the document it was
 * copied from keeps its own; the entries stay the same objects, as an edit
 * leaves them. */
static json_t *cow_inbound(json_t *next)
{
	json_t *vpcs = json_copy(json_object_get(next, "vpcs"));
	json_object_set_new(next, "vpcs", vpcs);
	json_t *v = json_copy(json_array_get(vpcs, 0));
	json_array_set_new(vpcs, 0, v);
	json_t *nacls = json_copy(json_object_get(v, "network_acls"));
	json_object_set_new(v, "network_acls", nacls);
	json_t *n = json_copy(json_array_get(nacls, 0));
	json_array_set_new(nacls, 0, n);
	json_t *in = json_copy(json_object_get(n, "inbound"));
	json_object_set_new(n, "inbound", in);
	return in;
}

/* The same for a list of 200 entries in number order, where the rules are looked
 * for at their place first: one taken away, one added, one replaced, two taken
 * away side by side, the list reversed; each compile from the one before is the
 * model a fresh compile gives. */
void test_rule_memo_places(void)
{
	struct vpc_err err;
	json_t *in = json_array();
	for (int i = 1; i <= 200; i++)
		json_array_append_new(in, json_pack("{s:i,s:s,s:s,s:s,s:s}", "rule", i * 10,
						    "protocol", i % 3 ? "tcp" : "udp", "ports",
						    i % 2 ? "80" : "1000-2000", "cidr",
						    i % 5 ? "10.0.0.0/8" : "0.0.0.0/0", "action",
						    i % 4 ? "allow" : "deny"));
	json_t *d = json_pack("{s:[{s:s,s:s,s:[{s:s,s:o}]}]}", "vpcs", "name", "v", "cidr",
			      "10.0.0.0/16", "network_acls", "name", "n", "inbound", in);
	struct compile_opts o = {.features = FEAT_ALL};
	struct topology *prev = NULL;
	vpc_err_clear(&err);
	CHECK_INT(topo_compile(d, &o, &prev, &err), 0);
	for (int step = 0; step < 5 && prev; step++) {
		json_t *next = json_copy(d), *list = step ? cow_inbound(next) : NULL;
		if (step == 0) {
			json_t *at500 = J("[\"vpcs\",\"v\",\"network_acls\",\"n\",\"inbound\",\"500\"]");
			CHECK_INT(edit_remove(next, at500, NULL, NULL, &err), 0);
			json_decref(at500);
		} else if (step == 1) {
			CHECK_INT(json_array_insert_new(list, 100, J("{\"rule\":1005,\"protocol\":\"all\","
								      "\"cidr\":\"0.0.0.0/0\",\"action\":\"deny\"}")), 0);
		} else if (step == 2) {
			CHECK_INT(json_array_set_new(list, 150, J("{\"rule\":1505,\"protocol\":\"icmp\","
								   "\"cidr\":\"10.9.0.0/16\",\"action\":\"deny\"}")), 0);
		} else if (step == 3) {
			json_array_remove(list, 20);
			json_array_remove(list, 20);
		} else {
			json_t *rev = json_array();
			for (size_t k = json_array_size(list); k-- > 0;)
				json_array_append(rev, json_array_get(list, k));
			json_array_clear(list);
			json_array_extend(list, rev);
			json_decref(rev);
		}
		struct compile_opts op = {.features = FEAT_ALL, .prev = prev};
		struct topology *t = NULL, *fresh = NULL;
		CHECK_INT(topo_compile(next, &op, &t, &err), 0);
		CHECK_INT(topo_compile(next, &o, &fresh, &err), 0);
		if (t && fresh) {
			const struct nacl *a = &t->vpcs[0].nacls[0], *b = &fresh->vpcs[0].nacls[0];
			CHECK(a->n_in == b->n_in && !memcmp(a->in, b->in, a->n_in * sizeof(*a->in)));
			CHECK(a->hash_in == b->hash_in);
		}
		topo_free(fresh);
		topo_free(prev);
		prev = t;
		json_decref(d);
		d = next;
	}
	topo_free(prev);
	json_decref(d);
}

static const json_t *ix_elem;
static bool ix_answer;
static bool fake_index(void *arg, const json_t *path, size_t n, const char *id, const json_t **elem)
{
	(void)arg;
	(void)path;
	(void)n;
	(void)id;
	*elem = ix_elem;
	return ix_answer;
}

/* An index, when it answers, is believed; when it cannot tell, the list is read. */
void test_edit_index(void)
{
	struct vpc_err err;
	const struct edit_index ix = {fake_index, NULL};
	json_t *d = J("{\"vpcs\":[{\"name\":\"v\",\"network_acls\":[{\"name\":\"n\",\"inbound\":["
		      "{\"rule\":100},{\"rule\":200}]}]}]}");
	json_t *path = J("[\"vpcs\",\"v\",\"network_acls\",\"n\",\"inbound\",\"200\"]");
	json_t *in = json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(d, "vpcs"), 0),
								     "network_acls"), 0), "inbound");
	vpc_err_clear(&err);
	ix_answer = true;
	ix_elem = NULL; /* "there is no rule 200" */
	json_t *cow = json_copy(d);
	CHECK(edit_remove(cow, path, NULL, &ix, &err) != 0);
	json_decref(cow);
	ix_answer = false; /* cannot tell: found by reading */
	cow = json_copy(d);
	CHECK_INT(edit_remove(cow, path, NULL, &ix, &err), 0);
	json_decref(cow);
	ix_answer = true;
	ix_elem = json_array_get(in, 1);
	cow = json_copy(d);
	CHECK_INT(edit_remove(cow, path, NULL, &ix, &err), 0);
	CHECK_JSON(json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(cow, "vpcs"), 0),
								  "network_acls"), 0), "inbound"),
		   "[{\"rule\":100}]");
	json_decref(cow);
	json_decref(path);
	json_decref(d);
}

/* Which changes count as NACL entries of one VPC alone (the short way in apply). */
void test_edit_nacl_entries_only(void)
{
	static const char *base =
		"{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/16\",\"network_acls\":[{\"name\":\"n\","
		"\"inbound\":[{\"rule\":100,\"protocol\":\"tcp\",\"ports\":\"80\",\"cidr\":\"0.0.0.0/0\","
		"\"action\":\"allow\"}]}],\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/24\","
		"\"network_acl\":\"n\"}]},{\"name\":\"b\",\"cidr\":\"10.1.0.0/16\",\"network_acls\":"
		"[{\"name\":\"m\"}]}],\"peerings\":[]}";
	json_t *prev = J(base);
	struct {
		const char *what;
		const char *next; /* base with one change */
		const char *want; /* NULL: not entries alone */
	} cases[] = {
		{"nothing", "", NULL},
		{"an entry's port", "\"80\"->\"81\"", "a"},
		{"an entry's action", "\"allow\"}]}]->\"deny\"}]}]", "a"},
		{"entries where there were none", "{\"name\":\"m\"}->{\"name\":\"m\",\"outbound\":[]}", "b"},
		{"the subnet's association", "\"network_acl\":\"n\"->\"network_acl\":\"default\"", NULL},
		{"a NACL's name", "{\"name\":\"m\"}->{\"name\":\"m2\"}", NULL},
		{"a VPC's CIDR", "10.1.0.0/16->10.2.0.0/16", NULL},
		{"something beside the VPCs", "\"peerings\":[]->\"peerings\":[{}]", NULL},
		{"an entry and the VPC's CIDR", "\"80\"->\"81\";10.0.0.0/16->10.3.0.0/16", NULL},
		{"an entry and a NACL's name", "\"80\"->\"81\";{\"name\":\"n\",->{\"name\":\"n2\",", NULL},
		{"an entry and the association", "\"80\"->\"81\";\"network_acl\":\"n\"->\"network_acl\":\"x\"",
		 NULL},
		{"entries of two VPCs", "\"80\"->\"81\";{\"name\":\"m\"}->{\"name\":\"m\",\"inbound\":[]}", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[2048];
		snprintf(text, sizeof(text), "%s", base);
		/* FROM->TO;FROM->TO: string replacements of the base text */
		char spec[512];
		snprintf(spec, sizeof(spec), "%s", cases[i].next);
		for (char *r = strtok(spec, ";"); r && *r; r = strtok(NULL, ";")) {
			char *arrow = strstr(r, "->"), *at;
			*arrow = 0;
			if ((at = strstr(text, r))) {
				char rest[2048];
				snprintf(rest, sizeof(rest), "%s", at + strlen(r));
				snprintf(at, sizeof(text) - (size_t)(at - text), "%s%s", arrow + 2, rest);
			} else {
				fprintf(stderr, "case %s: %s not in the base\n", cases[i].what, r);
				CHECK(0);
			}
		}
		json_t *next = J(text);
		const char *got = edit_nacl_entries_only(prev, next);
		if (!(got == cases[i].want || (got && cases[i].want && !strcmp(got, cases[i].want)))) {
			fprintf(stderr, "%s: got %s, want %s\n", cases[i].what, got ? got : "NULL",
				cases[i].want ? cases[i].want : "NULL");
			CHECK(0);
		} else {
			CHECK(1);
		}
		json_decref(next);
	}
	json_decref(prev);
}
