/* NACL tables against the linear first-match reference. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "par.h"
#include "test.h"
#include "vpc/nacl.h"

static struct nacl_rule rule(uint16_t num, bool allow, int proto, uint16_t lo, uint16_t hi,
			     int type, int code, const char *cidr)
{
	struct nacl_rule r = {.number = num, .allow = allow,
			      .m = {proto, lo, hi, type, code}};
	cidr_parse(cidr, &r.cidr);
	return r;
}

static uint32_t rnd(void)
{
	return (uint32_t)random() << 16 ^ (uint32_t)random();
}

/* Checks every probe against the reference. */
static int cross_check(const struct nacl_rule *r, size_t n, const struct nacl_table *t,
		       const uint32_t *addrs, size_t na)
{
	static const uint8_t protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, 47, 0};
	static const uint16_t fields[] = {0, 1, 22, 79, 80, 81, 443, 1023, 1024, 65535,
					  0x0800, 0x0803, 0x0300, 0x03ff};
	int bad = 0;
	for (size_t a = 0; a < na; a++)
		for (size_t p = 0; p < sizeof(protos); p++)
			for (size_t f = 0; f < sizeof(fields) / 2; f++) {
				size_t want = nacl_match_linear(r, n, addrs[a], protos[p], fields[f]);
				size_t got = nacl_match_table(t, addrs[a], protos[p], fields[f]);
				if (want != got && bad++ < 5)
					fprintf(stderr, "addr %08x proto %u field %u: table %zu, linear %zu\n",
						addrs[a], protos[p], fields[f], got, want);
			}
	return bad;
}

/* Compiled again with the helper thread on (par.h): the same table, word for
 * word, however the two threads' work interleaves. */
static int same_with_helper(const struct nacl_rule *r, size_t n, uint64_t owner,
			    const struct nacl_table *want)
{
	int bad = 0;
	par_enable(true);
	for (int k = 0; k < 4; k++) {
		struct nacl_table t;
		if (nacl_compile(r, n, owner, &t)) {
			bad++;
			continue;
		}
		bool same = t.nrules == want->nrules && t.nclasses == want->nclasses &&
			    t.n_ent == want->n_ent && t.blob_words == want->blob_words &&
			    t.n_addr == want->n_addr && t.n_l4 == want->n_l4 &&
			    !memcmp(t.blob, want->blob, t.blob_words * sizeof(uint64_t)) &&
			    !memcmp(t.addr, want->addr, t.n_addr * sizeof(*t.addr)) &&
			    !memcmp(t.l4, want->l4, t.n_l4 * sizeof(*t.l4));
		if (!same && bad++ < 1)
			fprintf(stderr, "%zu rules: another table with the helper thread\n", n);
		nacl_table_free(&t);
	}
	par_enable(false);
	return bad;
}

/* A blob's length: whole small chunks, and whole big chunks when it is stored
 * with them (nacl_blob_big_chunks), zeros past its words. */
static void blob_lengths(void)
{
	static const size_t sizes[] = {10, 2000, 4000, 9000, 12500};
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		size_t n = sizes[z];
		struct nacl_rule *r = calloc(n, sizeof(*r));
		for (size_t i = 0; i < n; i++) {
			char c[32];
			snprintf(c, sizeof(c), "198.18.%zu.%zu/32", i / 256, i % 256);
			r[i] = rule((uint16_t)(i + 1), i % 2, PROTO_TCP, (uint16_t)(1000 + i),
				    (uint16_t)(1000 + i), -1, -1, c);
		}
		struct nacl_table t;
		CHECK_INT(nacl_compile(r, n, 1, &t), 0);
		size_t words = NACL_BLOB_WORDS(&t),
		       nbig = nacl_blob_big_chunks(words);
		CHECK_INT(t.big, nbig > 0);
		CHECK_INT(t.blob_words % NACL_BLOB_CHUNK, 0);
		CHECK(t.blob_words >= words && t.blob_words >= nbig * NACL_BLOB_BIG_CHUNK);
		bool zero = true;
		for (size_t i = words; i < t.blob_words; i++)
			zero = zero && !t.blob[i];
		CHECK(zero);
		nacl_table_free(&t);
		free(r);
	}
	CHECK_INT(nacl_blob_big_chunks(NACL_BLOB_BIG_CHUNK / 2 - 1), 0);
	CHECK_INT(nacl_blob_big_chunks(NACL_BLOB_BIG_CHUNK / 2), 1);
	CHECK_INT(nacl_blob_big_chunks(3 * NACL_BLOB_BIG_CHUNK - NACL_BLOB_BIG_CHUNK / 2), 3);
	CHECK_INT(nacl_blob_big_chunks(3 * NACL_BLOB_BIG_CHUNK - NACL_BLOB_BIG_CHUNK / 2 - 1), 2);
}

void test_nacl(void)
{
	blob_lengths();
	struct nacl_table t;
	/* The AWS public-subnet example, inbound. */
	struct nacl_rule web[] = {
		rule(100, true, PROTO_TCP, 80, 80, -1, -1, "0.0.0.0/0"),
		rule(110, true, PROTO_TCP, 443, 443, -1, -1, "0.0.0.0/0"),
		rule(120, true, PROTO_TCP, 22, 22, -1, -1, "192.0.2.0/24"),
		rule(130, false, PROTO_TCP, 1024, 2000, -1, -1, "192.0.2.128/25"),
		rule(140, true, PROTO_TCP, 1024, 65535, -1, -1, "0.0.0.0/0"),
		rule(150, true, PROTO_ICMP, 0, 65535, 8, -1, "10.0.0.0/8"),
		rule(160, false, PROTO_ALL, 0, 65535, -1, -1, "10.9.0.0/16"),
		rule(170, true, 47, 0, 65535, -1, -1, "0.0.0.0/0"),
	};
	size_t n = sizeof(web) / sizeof(web[0]);
	uint32_t a_any = 0xc6336401, a_doc = 0xc0000205, a_doc_hi = 0xc0000290, a_ten = 0x0a090101;
	CHECK_INT(nacl_compile(web, n, nacl_owner("web", false), &t), 0);
	CHECK_INT(nacl_match_table(&t, a_any, PROTO_TCP, 80), 0);
	CHECK_INT(nacl_match_table(&t, a_any, PROTO_TCP, 443), 1);
	CHECK_INT(nacl_match_table(&t, a_any, PROTO_TCP, 22), n); /* ssh only from 192.0.2.0/24 */
	CHECK_INT(nacl_match_table(&t, a_doc, PROTO_TCP, 22), 2);
	CHECK_INT(nacl_match_table(&t, a_doc_hi, PROTO_TCP, 1500), 3); /* deny 130 before 140 */
	CHECK_INT(nacl_match_table(&t, a_doc, PROTO_TCP, 1500), 4);
	CHECK_INT(nacl_match_table(&t, a_any, PROTO_UDP, 1500), n); /* final deny */
	CHECK_INT(nacl_match_table(&t, a_ten, PROTO_ICMP, 0x0800), 5);
	CHECK_INT(nacl_match_table(&t, a_ten, PROTO_ICMP, 0x0000), 6); /* echo reply: rule 160 */
	CHECK_INT(nacl_match_table(&t, a_any, 47, 0), 7);
	CHECK_INT(nacl_match_table(&t, a_ten, 47, 0), 6);
	uint32_t probes[] = {a_any, a_doc, a_doc_hi, a_ten, 0, 0xffffffff, 0x0a000001};
	CHECK_INT(cross_check(web, n, &t, probes, 7), 0);
	/* A table is named by its owner and rules: two NACLs with the same rules, or
	 * one NACL's two directions, get tables (and counters) of their own. */
	CHECK(t.owner == nacl_owner("web", false));
	CHECK(t.hash == nacl_rules_hash(nacl_owner("web", false), web, n));
	CHECK(t.hash != nacl_rules_hash(nacl_owner("web", true), web, n));
	CHECK(t.hash != nacl_rules_hash(nacl_owner("web2", false), web, n));
	CHECK(nacl_owner("web", false) != nacl_owner("web", true));
	CHECK(nacl_owner("web", false) != 0);
	web[0].allow = false;
	CHECK(t.hash != nacl_rules_hash(nacl_owner("web", false), web, n));
	nacl_table_free(&t);
	/* Every field of a rule is in the hash and in the rule's tag (its counter). */
	struct nacl_rule one = rule(100, true, PROTO_ICMP, 0, 65535, 8, 0, "192.0.2.0/24");
	uint64_t own = nacl_owner("web", false), h0 = nacl_rules_hash(own, &one, 1);
	uint32_t tag0 = nacl_rule_tag(&one);
	for (int f = 0; f < 9; f++) {
		struct nacl_rule x = one;
		switch (f) {
		case 0:
			x.number = 101;
			break;
		case 1:
			x.allow = false;
			break;
		case 2:
			x.m.proto = PROTO_ALL;
			break;
		case 3:
			x.m.port_lo = 1;
			break;
		case 4:
			x.m.port_hi = 65534;
			break;
		case 5:
			x.m.icmp_type = -1;
			break;
		case 6:
			x.m.icmp_code = 1;
			break;
		case 7:
			x.cidr.addr ^= 1u << 8;
			break;
		default:
			x.cidr.len = 25;
		}
		if (nacl_rules_hash(own, &x, 1) == h0 || nacl_rule_tag(&x) == tag0)
			fprintf(stderr, "field %d of a rule is not in its hash or tag\n", f);
		CHECK(nacl_rules_hash(own, &x, 1) != h0);
		CHECK(nacl_rule_tag(&x) != tag0);
	}
	CHECK(nacl_rules_hash(own, &one, 1) == h0);
	CHECK(nacl_rules_hash(own, NULL, 0) != h0);

	/* A new custom NACL: no rules, everything denied. */
	CHECK_INT(nacl_compile(NULL, 0, nacl_owner("new", false), &t), 0);
	CHECK_INT(nacl_match_table(&t, a_any, PROTO_TCP, 80), 0);
	nacl_table_free(&t);

	/* Random rule sets, large ones too, against the reference. */
	srandom(42);
	for (int round = 0; round < 30; round++) {
		size_t nr = round < 25 ? 1 + (size_t)(random() % 200) : 3000;
		struct nacl_rule *r = calloc(nr, sizeof(*r));
		uint32_t pr[64];
		for (size_t i = 0; i < nr; i++) {
			static const int ps[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ALL, 47};
			int proto = ps[random() % 5];
			uint16_t lo = (uint16_t)(random() % 2000), hi = (uint16_t)(lo + random() % 3000);
			int type = random() % 3 ? (int)(random() % 10) : -1;
			int code = type >= 0 && random() % 2 ? (int)(random() % 4) : -1;
			uint8_t len = (uint8_t)(random() % 33);
			r[i] = (struct nacl_rule){.number = (uint16_t)(i + 1), .allow = random() % 2,
						  .m = {proto, 0, 65535, -1, -1}};
			if ((proto == PROTO_TCP || proto == PROTO_UDP) && random() % 5) {
				r[i].m.port_lo = lo; /* else all ports: the protocol's class */
				r[i].m.port_hi = hi;
			}
			if (proto == PROTO_ICMP) {
				r[i].m.icmp_type = type;
				r[i].m.icmp_code = code;
			}
			/* Addresses clustered in a few /16s so prefixes nest. */
			uint32_t base = 0x0a000000 | (uint32_t)(random() % 4) << 16 | (rnd() & 0xffff);
			r[i].cidr = (struct cidr){base & cidr_mask(len), len};
		}
		for (size_t k = 0; k < 64; k++)
			pr[k] = k < 48 ? r[random() % nr].cidr.addr | (rnd() & ~cidr_mask(r[random() % nr].cidr.len) & 0xff)
				       : rnd();
		CHECK_INT(nacl_compile(r, nr, nacl_owner("random", true), &t), 0);
		CHECK_INT(cross_check(r, nr, &t, pr, 64), 0);
		if (nr >= 2048)
			CHECK_INT(same_with_helper(r, nr, nacl_owner("random", true), &t), 0);
		nacl_table_free(&t);
		free(r);
	}

	/* 10,000 rules, each for its own host and mostly naming ports, a seventh for
	 * every protocol, a seventh for all of a protocol's ports: every class holds a
	 * few rules, so its rows are a few entries. (A bitmap per class would be
	 * 157 words; a rule for every protocol in every L4 class put 1.7 million
	 * entries into a table like this one.) */
	size_t nb = 10000;
	struct nacl_rule *big = calloc(nb, sizeof(*big));
	for (size_t i = 0; i < nb; i++) {
		char c[32];
		static const int ps[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ALL, 47, PROTO_TCP,
					 PROTO_UDP};
		int proto = ps[i % 7];
		uint16_t lo = (uint16_t)(1 + i * 7 % 60000);
		snprintf(c, sizeof(c), "198.%zu.%zu.%zu/32", 18 + i / 65536, i / 256 % 256, i % 256);
		big[i] = rule((uint16_t)(i + 1), i % 2, proto, lo, (uint16_t)(lo + i % 300), -1, -1, c);
		if (i % 7 >= 5) { /* all ports */
			big[i].m.port_lo = 0;
			big[i].m.port_hi = 65535;
		}
		if (proto == PROTO_ICMP)
			big[i].m.icmp_type = (int)(i % 16);
	}
	CHECK_INT(nacl_compile(big, nb, nacl_owner("big", false), &t), 0);
	if (t.n_ent > 8 * nb)
		fprintf(stderr, "10,000 rules: %u row entries\n", t.n_ent);
	CHECK(t.n_ent <= 8 * nb);
	uint32_t bp[] = {0xc6120001, 0xc6120105, 0xc61226ff, 0xc6130000, 0x0a000001};
	CHECK_INT(cross_check(big, nb, &t, bp, 5), 0);
	CHECK_INT(same_with_helper(big, nb, nacl_owner("big", false), &t), 0);
	nacl_table_free(&t);
	free(big);
}

void test_nacl_diff(void)
{
	struct nacl_rule base[] = {rule(10, true, PROTO_TCP, 80, 80, -1, -1, "0.0.0.0/0"),
				   rule(20, false, PROTO_UDP, 53, 53, -1, -1, "10.0.0.0/8"),
				   rule(30, true, PROTO_ALL, 0, 65535, -1, -1, "192.0.2.0/24")};
	struct nacl_rule want[] = {rule(5, false, PROTO_ICMP, 0, 65535, 8, -1, "0.0.0.0/0"), base[0],
				   rule(20, true, PROTO_UDP, 53, 53, -1, -1, "10.0.0.0/8"),
				   rule(40, true, PROTO_TCP, 22, 22, -1, -1, "10.0.0.0/8")};
	uint32_t del[4];
	size_t add[4], nd = 9, na = 9;
	/* Same lists: nothing to do. */
	CHECK_INT(nacl_diff(base, 3, base, 3, del, &nd, add, &na, 4), 0);
	CHECK_INT(nd, 0);
	CHECK_INT(na, 0);
	/* 5 new, 20 changed (out and in), 30 gone, 40 new. */
	CHECK_INT(nacl_diff(base, 3, want, 4, del, &nd, add, &na, 4), 0);
	CHECK_INT(nd, 2);
	CHECK_INT(del[0], 1);
	CHECK_INT(del[1], 2);
	CHECK_INT(na, 3);
	CHECK_INT(add[0], 0);
	CHECK_INT(add[1], 2);
	CHECK_INT(add[2], 3);
	/* More than the patch can hold. */
	CHECK_INT(nacl_diff(base, 3, want, 4, del, &nd, add, &na, 2), -E2BIG);
	CHECK_INT(nacl_diff(NULL, 0, want, 4, del, &nd, add, &na, 3), -E2BIG);
	CHECK_INT(nacl_diff(base, 3, NULL, 0, del, &nd, add, &na, 3), 0);
	CHECK_INT(nd, 3);
	/* A patch rule matches what the rule matches. */
	struct nacl_patch_rule p;
	nacl_patch_rule(&want[0], &p);
	CHECK_INT(p.proto, PROTO_ICMP);
	CHECK_INT(p.lo, 0x0800);
	CHECK_INT(p.hi, 0x08ff);
	CHECK_INT(p.number, 5);
	CHECK_INT(p.allow, 0);
	nacl_patch_rule(&base[2], &p);
	CHECK_INT(p.proto, NACL_PROTO_ANY);
	CHECK_INT(p.net, htonl(0xc0000200));
	CHECK_INT(p.mask, htonl(0xffffff00));
}
