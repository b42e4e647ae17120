/* topo_load(): a topology file with its large NACL lists read apart means
 * exactly what jansson's reading of it means, and fails as jansson fails. */
#include <ctype.h>
#include <stdlib.h>

#include "same.h"
#include "test.h"
#include "topo_internal.h"
#include "vpc/nacl.h"
#include "vpc/topo.h"

/* A random entry; `odd` makes it one the fast path must leave to jansson. */
static json_t *entry(int num, int odd)
{
	static const char *protos[] = {"tcp", "udp", "icmp", "all", "47", "6"};
	const char *proto = protos[random() % 6];
	char cidr[32], ports[32];
	if (random() % 2)
		snprintf(cidr, sizeof(cidr), "%ld.%ld.0.0/16", random() % 224, random() % 256);
	else
		snprintf(cidr, sizeof(cidr), "%ld.%ld.%ld.0/24", random() % 224, random() % 256,
			 random() % 256);
	json_t *r = json_pack("{s:i,s:s,s:s,s:s}", "rule", num, "protocol", proto, "cidr", cidr,
			      "action", random() % 2 ? "allow" : "deny");
	bool l4 = !strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "6");
	int lo = (int)(random() % 65536), hi = lo + (int)(random() % (65536 - lo));
	if (l4 && random() % 4) {
		if (random() % 3)
			snprintf(ports, sizeof(ports), "%d-%d", lo, hi);
		else
			snprintf(ports, sizeof(ports), "%d", lo);
		/* a single port also as a JSON number */
		json_object_set_new(r, "ports", strchr(ports, '-') || random() % 2
							? json_string(ports)
							: json_integer(lo));
	} else if (!strcmp(proto, "icmp") && random() % 4) {
		json_object_set_new(r, "icmp_type", json_integer(random() % 256));
		if (random() % 2)
			json_object_set_new(r, "icmp_code", json_integer(random() % 256));
	}
	if (!strcmp(proto, "47") && random() % 2) /* a protocol number as a number */
		json_object_set_new(r, "protocol", json_integer(47));
	switch (odd) {
	case 1:
		json_object_set_new(r, "description", json_string("odd"));
		break;
	case 2:
		json_object_set_new(r, "action", json_string("ALLOW"));
		break;
	case 3:
		json_object_set_new(r, "protocol", json_integer(-1));
		json_object_del(r, "ports");
		json_object_del(r, "icmp_type");
		json_object_del(r, "icmp_code");
		break;
	case 4:
		json_object_set_new(r, "protocol", json_string("icmp"));
		json_object_del(r, "ports");
		json_object_del(r, "icmp_code");
		json_object_set_new(r, "icmp_type", json_integer(-1));
		break;
	case 5: /* "-" is all ports in the text form, and no port in JSON */
		json_object_set_new(r, "protocol", json_string("tcp"));
		json_object_set_new(r, "ports", json_string("-"));
		break;
	}
	return r;
}

/* A list of n entries, one of them odd (of a kind above) unless odd is 0. */
static json_t *list(int n, int odd)
{
	json_t *a = json_array();
	int at = odd ? (int)(random() % n) : -1;
	for (int i = 0; i < n; i++)
		json_array_append_new(a, entry(10 + i * 3 + (int)(random() % 3), i == at ? odd : 0));
	/* now and then out of order */
	if (n > 2 && random() % 3) {
		json_t *x = json_incref(json_array_get(a, 0));
		json_array_remove(a, 0);
		json_array_append_new(a, x);
	}
	return a;
}

/* Random documents, written with and without indentation: the same model, the
 * same document but for the lists read apart, and those are the plain ones. */
static void test_same_as_jansson(void)
{
	srandom(11);
	for (int round = 0; round < 12; round++) {
		json_t *vpcs = json_array();
		int plain = 0;
		for (int v = 0; v < 2; v++) {
			json_t *nacls = json_array();
			for (int k = 0; k < 2; k++) {
				/* odd, but valid: a description, -1 for all protocols or all
				 * ICMP types */
				static const int odd[] = {1, 3, 4};
				int odd_in = random() % 3 ? 0 : odd[random() % 3],
				    odd_out = random() % 3 ? 0 : odd[random() % 3];
				int n_in = random() % 4 ? 64 + (int)(random() % 300) : (int)(random() % 64),
				    n_out = random() % 2 ? 64 + (int)(random() % 100) : (int)(random() % 10);
				if (!n_in)
					odd_in = 0;
				if (!n_out)
					odd_out = 0;
				plain += (n_in >= 64 && !odd_in) + (n_out >= 64 && !odd_out);
				char name[16];
				snprintf(name, sizeof(name), "n%d", k);
				json_array_append_new(
					nacls, json_pack("{s:s,s:o,s:o}", "name", name, "inbound",
							 list(n_in, odd_in), "outbound", list(n_out, odd_out)));
			}
			char name[16], cidr[32];
			snprintf(name, sizeof(name), "v%d", v);
			snprintf(cidr, sizeof(cidr), "10.%d.0.0/16", v);
			json_array_append_new(vpcs, json_pack("{s:s,s:s,s:o}", "name", name, "cidr", cidr,
							      "network_acls", nacls));
		}
		json_t *doc = json_pack("{s:o}", "vpcs", vpcs);
		struct compile_opts o = {.features = FEAT_ALL};
		struct topology *want = NULL;
		struct vpc_err err = {0};
		CHECK_INT(topo_compile(doc, &o, &want, &err), 0);
		char *text = json_dumps(doc, round % 2 ? JSON_INDENT(7) : JSON_COMPACT);
		struct nacl_lists ls;
		json_error_t je;
		json_t *got = topo_load(text, strlen(text), &ls, &je);
		CHECK(got != NULL);
		CHECK_INT(ls.n, plain);
		struct topology *t = NULL;
		CHECK_INT(got ? topo_compile(got, &o, &t, &err) : -1, 0);
		for (size_t i = 0; t && i < ls.n; i++) {
			struct nacl_list *l = &ls.l[i];
			int vi = topo_find_vpc(t, l->vpc);
			int ni = vi < 0 ? -1 : vpc_find_nacl(&t->vpcs[vi], l->nacl);
			CHECK(ni >= 0);
			if (ni >= 0)
				topo_nacl_set(t, vi, ni, l->out, l->r, l->n);
			/* the rest of the document is jansson's reading of it */
			CHECK(json_is_array(json_object_get(l->obj, l->out ? "outbound" : "inbound")));
			json_t *v = json_array_get(json_object_get(doc, "vpcs"), (size_t)vi);
			json_t *nacl = json_array_get(json_object_get(v, "network_acls"), (size_t)ni);
			const char *dir = l->out ? "outbound" : "inbound";
			json_object_set(l->obj, dir, json_object_get(nacl, dir));
		}
		if (t && want)
			CHECK(same_nacls(want, t));
		CHECK(got && json_equal(got, doc));
		nacl_lists_free(&ls);
		topo_free(t);
		topo_free(want);
		json_decref(got);
		json_decref(doc);
		free(text);
	}
}

/* A document with one NACL, its inbound list `list`; the others plain. */
static char *doc_with(const char *entries)
{
	size_t n = strlen(entries) + 64 * 120 + 256;
	char *s = malloc(n), *p = s;
	p += sprintf(p, "{\"vpcs\": [{\"name\": \"v\", \"cidr\": \"10.0.0.0/16\", \"network_acls\": "
			"[{\"name\": \"n\", \"outbound\": [");
	for (int i = 0; i < 64; i++)
		p += sprintf(p, "%s{\"rule\": %d, \"protocol\": \"tcp\", \"ports\": \"%d\", "
				"\"cidr\": \"0.0.0.0/0\", \"action\": \"allow\"}",
			     i ? ", " : "", 100 + i, 1000 + i);
	sprintf(p, "], \"inbound\": [%s]}]}]}", entries);
	return s;
}

/* 63 plain inbound entries, then `last`. */
static char *doc_last(const char *last)
{
	char *e = malloc(64 * 120 + strlen(last)), *p = e;
	for (int i = 0; i < 63; i++)
		p += sprintf(p, "{\"rule\": %d, \"protocol\": \"udp\", \"ports\": \"%d-%d\", "
				"\"cidr\": \"192.0.2.0/24\", \"action\": \"deny\"}, ",
			     100 + i, i, 2 * i);
	strcpy(p, last);
	char *d = doc_with(e);
	free(e);
	return d;
}

/* How a document fares: the lists read apart (-1: not read), and jansson's error
 * where there is one. */
static void fares(int line, const char *last, int lists)
{
	char *text = doc_last(last);
	struct nacl_lists ls;
	json_error_t je, want;
	json_t *got = topo_load(text, strlen(text), &ls, &je),
	       *ref = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &want);
	t_run++;
	bool ok = !got == !ref && (got ? (int)ls.n == lists
				      : lists < 0 && !strcmp(je.text, want.text) &&
						je.line == want.line && je.column == want.column);
	if (!ok) {
		t_failed++;
		fprintf(stderr, "%s:%d: %s, %zu lists apart (want %d); error \"%s\" at %d:%d, "
				"jansson's \"%s\" at %d:%d\n",
			__FILE__, line, got ? "read" : "refused", ls.n, lists, got ? "" : je.text,
			je.line, je.column, ref ? "" : want.text, want.line, want.column);
	}
	nacl_lists_free(&ls);
	json_decref(got);
	json_decref(ref);
	free(text);
}

static void test_fares(void)
{
	const char *plain = "{\"rule\": 9000, \"protocol\": \"icmp\", \"icmp_type\": 3, "
			    "\"icmp_code\": 4, \"cidr\": \"10.1.0.0/16\", \"action\": \"allow\"}";
	fares(__LINE__, plain, 2);
	/* 63 entries only: jansson reads it */
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\", \"description\": \"x\"}", 1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"tcp\", \"ports\": \"-\", "
			"\"cidr\": \"10.0.0.0/8\", \"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"icmp\", \"ports\": \"3\", "
			"\"cidr\": \"10.0.0.0/8\", \"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"tcp\", \"icmp_type\": 3, "
			"\"cidr\": \"10.0.0.0/8\", \"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"icmp\", \"icmp_code\": 3, "
			"\"cidr\": \"10.0.0.0/8\", \"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.1/8\", "
			"\"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 100, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"}", 1); /* a rule number twice */
	fares(__LINE__, "{\"rule\": 32767, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 9000.0, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": \"9000\", \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"tc\\u0070\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"}", 1);
	fares(__LINE__, "{\"rule\": 9000, \"cidr\": \"10.0.0.0/8\", \"action\": \"deny\"}", 1);
	/* Not JSON, or not without duplicate keys: jansson's error, at its place. */
	fares(__LINE__, "{\"rule\": 09000, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"}", -1);
	fares(__LINE__, "{\"rule\": 9000, \"rule\": 9001, \"protocol\": \"tcp\", "
			"\"cidr\": \"10.0.0.0/8\", \"action\": \"deny\"}", -1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"},", -1);
	fares(__LINE__, "{\"rule\": 9000, \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"", -1);
	fares(__LINE__, "{\"rule\": 9000 \"protocol\": \"tcp\", \"cidr\": \"10.0.0.0/8\", "
			"\"action\": \"deny\"}", -1);
	/* A NUL in the middle of the text */
	char *text = doc_last(plain);
	size_t len = strlen(text);
	text[len / 2] = 0;
	struct nacl_lists ls;
	json_error_t je;
	json_error_t want;
	json_t *got = topo_load(text, len, &ls, &je);
	CHECK(got == NULL);
	CHECK(json_loadb(text, len, JSON_REJECT_DUPLICATES, &want) == NULL);
	CHECK_STR(je.text, want.text);
	CHECK_INT(je.position, want.position);
	nacl_lists_free(&ls);
	free(text);
	/* A VPC without a name: read the ordinary way (and refused by validation). */
	text = doc_last(plain);
	memcpy(strstr(text, "\"name\": \"v\""), "\"nome\"", 6);
	got = topo_load(text, strlen(text), &ls, &je);
	CHECK(got != NULL);
	CHECK_INT(ls.n, 0);
	CHECK_INT(json_array_size(json_object_get(
			  json_array_get(json_object_get(json_array_get(json_object_get(got, "vpcs"), 0),
							 "network_acls"),
					 0),
			  "inbound")),
		  64);
	nacl_lists_free(&ls);
	json_decref(got);
	free(text);
}

/* A document of one VPC with the NACLs `nacls` (stolen), read both ways: the
 * lists read apart (want), and the same model. */
static void both_ways(int line, json_t *nacls, size_t want)
{
	json_t *doc = json_pack("{s:[{s:s,s:s,s:o}]}", "vpcs", "name", "v", "cidr", "10.0.0.0/16",
				"network_acls", nacls);
	char *text = json_dumps(doc, JSON_INDENT(2));
	struct compile_opts o = {.features = FEAT_ALL};
	struct topology *a = NULL, *b = NULL;
	struct vpc_err ea = {0}, eb = {0};
	struct nacl_lists ls;
	json_error_t je;
	json_t *got = topo_load(text, strlen(text), &ls, &je);
	int ra = topo_compile(doc, &o, &a, &ea), rb = got ? topo_compile(got, &o, &b, &eb) : -1;
	for (size_t i = 0; b && i < ls.n; i++)
		topo_nacl_set(b, 0, vpc_find_nacl(&b->vpcs[0], ls.l[i].nacl), ls.l[i].out, ls.l[i].r,
			      ls.l[i].n);
	t_run++;
	if (ls.n != want || ra != rb || strcmp(ea.msg, eb.msg) || (a && b && !same_nacls(a, b))) {
		t_failed++;
		fprintf(stderr, "%s:%d: %zu lists apart (want %zu); rc %d \"%s\" against %d \"%s\"\n",
			__FILE__, line, ls.n, want, rb, eb.msg, ra, ea.msg);
	}
	nacl_lists_free(&ls);
	topo_free(a);
	topo_free(b);
	json_decref(got);
	json_decref(doc);
	free(text);
}

/* Large lists, and large documents whose lists are not all plain; with the
 * helper thread on, the second half of a text is read there, whatever is in it. */
static void test_large(void)
{
	srandom(5);
	/* One list of 6,000 entries. */
	both_ways(__LINE__, json_pack("[{s:s,s:o}]", "name", "n0", "inbound", list(6000, 0)), 1);
	/* Two lists, the second with a description, which only jansson reads. */
	both_ways(__LINE__,
		  json_pack("[{s:s,s:o},{s:s,s:o}]", "name", "n0", "inbound", list(3000, 0), "name",
			    "n1", "inbound", list(3000, 1)),
		  1);
	/* A rule number twice, far apart; a description near the end. */
	json_t *l = list(6000, 0);
	json_object_set(json_array_get(l, 5500), "rule", json_object_get(json_array_get(l, 10), "rule"));
	both_ways(__LINE__, json_pack("[{s:s,s:o}]", "name", "n0", "inbound", l), 0);
	l = list(6000, 0);
	json_object_set_new(json_array_get(l, 5900), "description", json_string("late"));
	both_ways(__LINE__, json_pack("[{s:s,s:o}]", "name", "n0", "outbound", l), 0);
	/* Just past the middle: the first entry the helper would read. */
	l = list(6000, 0);
	json_object_set_new(json_array_get(l, 3001), "description", json_string("middle"));
	both_ways(__LINE__, json_pack("[{s:s,s:o}]", "name", "n0", "outbound", l), 0);
	/* Out of order across the middle. */
	l = list(6000, 0);
	json_t *x = json_object_get(json_array_get(l, 100), "rule"),
	       *y = json_object_get(json_array_get(l, 5000), "rule");
	json_incref(x);
	json_object_set(json_array_get(l, 100), "rule", y);
	json_object_set_new(json_array_get(l, 5000), "rule", x);
	both_ways(__LINE__, json_pack("[{s:s,s:o}]", "name", "n0", "inbound", l), 1);
	/* Two plain lists, the middle in the second; and the middle inside a string
	 * that looks like entries following each other. */
	both_ways(__LINE__,
		  json_pack("[{s:s,s:o},{s:s,s:o}]", "name", "n0", "inbound", list(2000, 0), "name",
			    "n1", "inbound", list(4000, 0)),
		  2);
	size_t fill = 600000;
	char *filler = malloc(fill + 1);
	for (size_t i = 0; i < fill; i++)
		filler[i] = "}, {"[i % 4];
	filler[fill] = 0;
	both_ways(__LINE__,
		  json_pack("[{s:s,s:o},{s:s,s:s,s:o}]", "name", "n0", "inbound", list(1000, 0),
			    "name", "n1", "description", filler, "inbound", list(1000, 0)),
		  2);
	free(filler);
}

void test_topo_load(void)
{
	test_same_as_jansson();
	test_fares();
	test_large();
	/* The same documents read with the helper thread. */
	with_helper("test_topo_load", test_large, &topo_load_halves_joined);
}
