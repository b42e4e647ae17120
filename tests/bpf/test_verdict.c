/*
 * NACL verdicts through the real BPF program, with BPF_PROG_TEST_RUN on crafted
 * packets. Root; runs in a private network namespace holding the port devices.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "../unit/test.h"
#include "bpf.h"
#include "vpc/nacl.h"

int t_run, t_failed;

#define PORT_A 1 /* instance 10.0.1.10 in subnet 1 (10.0.1.0/24) */
static const uint8_t MAC_A[6] = {0x0a, 0x58, 10, 0, 1, 10};
static const uint8_t MAC_X[6] = {0x0a, 0x58, 10, 0, 1, 99};
static struct vpc_bpf b;

struct pkt {
	uint8_t buf[128];
	uint32_t len;
};

static uint32_t ip(const char *s)
{
	uint32_t v;
	inet_pton(AF_INET, s, &v);
	return v;
}

/* Ethernet + IPv4 + the first bytes of the L4 header. */
static struct pkt ipv4(const uint8_t *smac, const char *src, const char *dst, uint8_t proto,
		       uint16_t sport_or_type, uint16_t dport_or_code)
{
	struct pkt p = {.len = 14 + 20 + 8};
	uint8_t *e = p.buf, *h = p.buf + 14, *l4 = p.buf + 34;
	memset(e, 0x02, 6);
	memcpy(e + 6, smac, 6);
	e[12] = 0x08;
	e[13] = 0x00;
	h[0] = 0x45;
	h[3] = 28;
	h[8] = 64;
	h[9] = proto;
	uint32_t s = ip(src), d = ip(dst);
	memcpy(h + 12, &s, 4);
	memcpy(h + 16, &d, 4);
	if (proto == 1) {
		l4[0] = (uint8_t)sport_or_type;
		l4[1] = (uint8_t)dport_or_code;
	} else {
		l4[0] = (uint8_t)(sport_or_type >> 8);
		l4[1] = (uint8_t)sport_or_type;
		l4[2] = (uint8_t)(dport_or_code >> 8);
		l4[3] = (uint8_t)dport_or_code;
	}
	return p;
}

static struct pkt arp(const uint8_t *smac, const char *sender)
{
	struct pkt p = {.len = 14 + 28};
	uint8_t *e = p.buf, *a = p.buf + 14;
	memset(e, 0xff, 6);
	memcpy(e + 6, smac, 6);
	e[12] = 0x08;
	e[13] = 0x06;
	a[1] = 1;	/* Ethernet */
	a[2] = 0x08;	/* IPv4 */
	a[4] = 6;
	a[5] = 4;
	a[7] = 1;	/* request */
	memcpy(a + 8, smac, 6);
	uint32_t s = ip(sender), t = ip("10.0.1.1");
	memcpy(a + 14, &s, 4);
	memcpy(a + 24, &t, 4);
	return p;
}

static int run(int prog, struct pkt p)
{
	struct __sk_buff ctx = {.ifindex = 1000 + PORT_A};
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p.buf, .data_size_in = p.len,
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	if (bpf_prog_test_run_opts(prog, &o)) {
		perror("BPF_PROG_TEST_RUN");
		t_failed++;
		return -1;
	}
	return (int)o.retval;
}

#define OUT(p) run(b.prog_in, p)  /* leaving instance A */
#define IN(p)  run(b.prog_out, p) /* entering instance A */

static struct nacl_rule R(uint16_t num, bool allow, int proto, uint16_t lo, uint16_t hi,
			  const char *cidr)
{
	struct nacl_rule r = {.number = num, .allow = allow, .m = {proto, lo, hi, -1, -1}};
	cidr_parse(cidr, &r.cidr);
	return r;
}

static struct nacl_rule ICMP(uint16_t num, bool allow, int type, int code)
{
	struct nacl_rule r = R(num, allow, 1, 0, 65535, "0.0.0.0/0");
	r.m.icmp_type = type;
	r.m.icmp_code = code;
	return r;
}

static uint32_t table_of(const char *owner, const struct nacl_rule *r, size_t n)
{
	struct nacl_table t;
	uint32_t id = 0;
	CHECK_INT(nacl_compile(r, n, nacl_owner(owner, false), &t), 0);
	CHECK_INT(vbpf_table_add(&b, &t, r, n, &id), 0);
	nacl_table_free(&t);
	return id;
}

static uint32_t table(const struct nacl_rule *r, size_t n)
{
	return table_of("test", r, n);
}

/* Points subnet 1 at tables (inbound, outbound). */
static void use(uint32_t in, uint32_t out)
{
	struct subnet_cfg c = {.net = ip("10.0.1.0"), .mask = ip("255.255.255.0"),
			       .table_in = in, .table_out = out};
	CHECK_INT(vbpf_subnet_set(&b, 1, &c), 0);
}

static void port(uint8_t flags)
{
	struct port_cfg c = {.ip = ip("10.0.1.10"), .flags = flags, .subnet = 1};
	memcpy(c.mac, MAC_A, 6);
	CHECK_INT(vbpf_port_set(&b, PORT_A, &c), 0);
}

#define A "10.0.1.10"
#define ALL "0.0.0.0/0"

static bool keep_not_other(const struct nacl_counter_key *k, void *arg)
{
	(void)arg;
	return k->owner != nacl_owner("other", false);
}

/* How many chunks of table `id` a blob map holds. */
static size_t chunks_of(int fd, uint32_t id)
{
	struct nacl_blob_key key, next;
	size_t n = 0;
	int r = bpf_map_get_next_key(fd, NULL, &next);
	while (!r) {
		n += next.table == id;
		key = next;
		r = bpf_map_get_next_key(fd, &key, &next);
	}
	return n;
}

static size_t map_size(int fd)
{
	uint8_t key[64], next[64];
	size_t n = 0;
	int r = bpf_map_get_next_key(fd, NULL, next);
	while (!r) {
		n++;
		memcpy(key, next, sizeof(key));
		r = bpf_map_get_next_key(fd, key, next);
	}
	return n;
}

/* A packet from `remote` (host order) into instance A. */
static int in_from(uint32_t remote, uint8_t proto, uint16_t field)
{
	struct in_addr a = {htonl(remote)};
	char s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, s, sizeof(s));
	if (proto == 1)
		return IN(ipv4(MAC_X, s, A, 1, field >> 8, field & 0xff));
	return IN(ipv4(MAC_X, s, A, proto, 40000, field));
}

/* Patches: a small change is a `tables` entry on a full table's classes. */
static void patches(void)
{
	uint64_t own = nacl_owner("patch", false);
	struct nacl_rule base[] = {R(100, true, 6, 80, 80, ALL), R(200, false, 6, 80, 90, "10.0.2.0/24"),
				   R(300, true, 17, 1024, 65535, ALL), R(400, true, 6, 85, 85, ALL)};
	uint32_t full = table_of("patch", base, 4), p;
	use(full, full);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 80)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 85)), TC_ACT_SHOT); /* 200 before 400 */

	/* A deny before the allow, for one host. */
	struct nacl_rule w1[] = {R(50, false, 6, 80, 80, "10.0.2.5/32"), base[0], base[1], base[2],
				 base[3]};
	CHECK_INT(vbpf_patch_add(&b, full, own, w1, 5, &p), 0);
	struct nacl_table_meta m;
	CHECK_INT(vbpf_table_info(&b, p, &m), 0);
	CHECK_INT(m.base, full);
	CHECK_INT(m.n_add, 1);
	CHECK_INT(m.n_del, 0);
	CHECK(m.hash == nacl_rules_hash(own, w1, 5));
	use(p, p);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 80)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.6", A, 6, 1, 80)), TC_ACT_OK);
	/* Rule 100 taken away: 200 decides for 10.0.2.0/24, the final deny elsewhere. */
	struct nacl_rule w2[] = {base[1], base[2], base[3]};
	CHECK_INT(vbpf_patch_add(&b, full, own, w2, 3, &p), 0);
	use(p, p);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.6", A, 6, 1, 80)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.1", A, 6, 1, 80)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.1", A, 6, 1, 85)), TC_ACT_OK); /* 400 */
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.1", A, 17, 1, 2000)), TC_ACT_OK);
	/* Rule 200 changed to allow: taken away and added. */
	struct nacl_rule w3[] = {base[0], R(200, true, 6, 80, 90, "10.0.2.0/24"), base[2], base[3]};
	CHECK_INT(vbpf_patch_add(&b, full, own, w3, 4, &p), 0);
	CHECK_INT(vbpf_table_info(&b, p, &m), 0);
	CHECK_INT(m.n_add, 1);
	CHECK_INT(m.n_del, 1);
	use(p, p);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 85)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 91)), TC_ACT_SHOT);
	/* Added rules for every protocol, and for ICMP by type. */
	struct nacl_rule w4[] = {ICMP(10, true, 8, -1), base[0], base[1], base[2], base[3],
				 R(500, true, PROTO_ALL, 0, 65535, "198.51.100.0/24")};
	CHECK_INT(vbpf_patch_add(&b, full, own, w4, 6, &p), 0);
	use(p, p);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 1, 8, 3)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 1, 0, 0)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "198.51.100.7", A, 47, 0, 0)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "198.51.101.7", A, 47, 0, 0)), TC_ACT_SHOT);
	/* Counts follow rule numbers through patches. */
	struct nacl_counter c[7];
	CHECK_INT(vbpf_counters(&b, own, w4, 6, c), 0);
	CHECK_INT(c[0].packets, 1);
	CHECK_INT(c[5].packets, 1);
	/* Not a patch: too many changes, a base this process did not build, a patch as
	 * a base, another owner's base. */
	struct nacl_rule many[NACL_PATCH_MAX + 5];
	for (int i = 0; i < NACL_PATCH_MAX + 1; i++)
		many[i] = R((uint16_t)(i + 1), true, 6, (uint16_t)i, (uint16_t)i, ALL);
	memcpy(many + NACL_PATCH_MAX + 1, base, sizeof(base));
	CHECK_INT(vbpf_patch_add(&b, full, own, many, NACL_PATCH_MAX + 5, &p), -E2BIG);
	CHECK_INT(vbpf_patch_add(&b, full, own, many + 1, NACL_PATCH_MAX + 4, &p), 0);
	CHECK_INT(vbpf_patch_add(&b, p, own, base, 4, &p), -ENOENT);
	CHECK_INT(vbpf_patch_add(&b, full, nacl_owner("other", false), base, 4, &p), -ENOENT);
	CHECK_INT(vbpf_patch_add(&b, 999999, own, base, 4, &p), -ENOENT);
}

static uint32_t rnd(void)
{
	static uint64_t x = 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (uint32_t)x;
}

static struct nacl_rule random_rule(uint16_t number)
{
	static const char *nets[] = {"0.0.0.0/0", "10.0.0.0/8", "10.0.2.0/24", "10.0.2.5/32",
				     "192.0.2.0/24", "192.0.2.128/25", "198.18.0.0/15"};
	static const int protos[] = {6, 17, 1, PROTO_ALL, 47};
	int proto = protos[rnd() % 5];
	uint16_t lo = (uint16_t)(rnd() % 100), hi = (uint16_t)(lo + rnd() % 20);
	struct nacl_rule r = R(number, rnd() % 2, proto, lo, hi, nets[rnd() % 7]);
	if (proto == 1) {
		r.m.icmp_type = rnd() % 3 ? (int)(rnd() % 10) : -1;
		r.m.icmp_code = r.m.icmp_type >= 0 && rnd() % 2 ? (int)(rnd() % 4) : -1;
	}
	return r;
}

/* `count` random packets into instance A from `remotes` with `protos`, each
 * verdict compared with a plain first-match scan of r; returns how many differed
 * (the first few are printed, after `what`). */
static int probe_random(const struct nacl_rule *r, size_t n, const uint32_t *remotes,
			size_t n_remotes, const int *protos, size_t n_protos, int count,
			const char *what)
{
	int bad = 0;
	for (int k = 0; k < count; k++) {
		uint32_t remote = remotes[rnd() % n_remotes];
		uint8_t proto = (uint8_t)protos[rnd() % n_protos];
		uint16_t field = proto == 1 ? (uint16_t)((rnd() % 10) << 8 | rnd() % 4)
			       : proto > 17 ? 0 : (uint16_t)(rnd() % 130);
		size_t i = nacl_match_linear(r, n, remote, proto, field);
		int expect = i < n && r[i].allow ? TC_ACT_OK : TC_ACT_SHOT;
		if (in_from(remote, proto, field) != expect && bad++ < 5)
			fprintf(stderr, "%s: %08x proto %u field %u: rule %zu\n", what, remote,
				proto, field, i);
	}
	return bad;
}

/* Random bases and random edits: the program's verdict through a patch is the
 * verdict of a plain first-match scan of the edited rules. */
static void patches_random(void)
{
	static const uint32_t remotes[] = {0x0a000205, 0x0a000206, 0x0a010101, 0xc0000201, 0xc0000281,
					   0xc6120001, 0xc6130505, 0xcb007101};
	static const int protos[] = {6, 17, 1, 47};
	uint64_t own = nacl_owner("random", false);
	int failures = 0, made = 0;
	for (int round = 0; round < 8; round++) {
		struct nacl_rule base[120], want[160];
		size_t nb = 0, nw = 0;
		for (uint16_t num = 10; num < 1200; num += 10)
			if (rnd() % 2)
				base[nb++] = random_rule(num);
		uint32_t full = table_of("random", base, nb);
		for (int edit = 0; edit < 6; edit++) {
			/* Keep, drop or change each rule; add some at free numbers. */
			nw = 0;
			for (size_t i = 0; i < nb; i++) {
				uint32_t d = rnd() % 16;
				if (d == 0)
					continue;
				want[nw++] = d == 1 ? random_rule(base[i].number) : base[i];
				if (d == 2 && nw < 150)
					want[nw++] = random_rule((uint16_t)(base[i].number + 5));
			}
			uint32_t p;
			int e = vbpf_patch_add(&b, full, own, want, nw, &p);
			if (e == -E2BIG)
				continue;
			CHECK_INT(e, 0);
			made++;
			use(p, p);
			failures += probe_random(want, nw, remotes, 8, protos, 4, 200, "patch");
		}
	}
	CHECK_INT(failures, 0);
	CHECK(made >= 40); /* most edits fit in a patch */
}

/* A rule for 0.0.0.0/0 and every port, type and code of its protocol. */
static struct nacl_rule wide_rule(uint16_t number)
{
	static const int protos[] = {6, 17, 1, PROTO_ALL, 47};
	return R(number, rnd() % 2, protos[rnd() % 5], 0, 65535, ALL);
}

/* Table ids say what a table's verdicts do not depend on; the program leaves that
 * out of its cache key. Checked with tables that have the flags and patches that
 * must lose them: each verdict is a plain scan's. */
static void id_flags(void)
{
	static const uint32_t remotes[] = {0x0a000205, 0x0a000305, 0xc0000201, 0xcb007101};
	static const int protos[] = {6, 17, 1, 47};
	uint64_t own = nacl_owner("flags", false);
	struct nacl_rule allow_all[] = {R(100, true, PROTO_ALL, 0, 65535, ALL)};
	struct nacl_rule mixed[] = {R(100, true, 6, 0, 65535, ALL), R(200, false, 17, 53, 53, ALL),
				    R(300, true, 17, 0, 65535, ALL)};
	struct nacl_rule narrow[] = {R(100, true, 6, 0, 65535, "10.0.2.0/24")};
	struct nacl_rule icmp[] = {ICMP(100, true, 8, -1)};
	CHECK_INT(nacl_id_flags(allow_all, 1), NACL_ID_ANY_ADDR | NACL_ID_TCP_ANY | NACL_ID_UDP_ANY |
						       NACL_ID_ICMP_ANY);
	CHECK_INT(nacl_id_flags(mixed, 3), NACL_ID_ANY_ADDR | NACL_ID_TCP_ANY | NACL_ID_ICMP_ANY);
	CHECK_INT(nacl_id_flags(narrow, 1), NACL_ID_TCP_ANY | NACL_ID_UDP_ANY | NACL_ID_ICMP_ANY);
	CHECK_INT(nacl_id_flags(icmp, 1), NACL_ID_ANY_ADDR | NACL_ID_TCP_ANY | NACL_ID_UDP_ANY);
	uint32_t full = table_of("flags", mixed, 3), p;
	CHECK_INT(full & ((1u << NACL_ID_SHIFT) - 1), nacl_id_flags(mixed, 3));
	use(full, full);
	/* UDP keeps its port in the key; TCP and the remote do not. */
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.1", A, 17, 1, 54)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.1", A, 17, 1, 53)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.1", A, 6, 1, 53)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "198.51.100.1", A, 6, 1, 22)), TC_ACT_OK);
	/* A patch that names a port and a network loses those flags: its verdicts
	 * must not come from the base's cache entries. */
	struct nacl_rule w[] = {R(50, false, 6, 22, 22, "10.0.2.0/24"), mixed[0], mixed[1], mixed[2]};
	CHECK_INT(vbpf_patch_add(&b, full, own, w, 4, &p), 0);
	CHECK_INT(p & ((1u << NACL_ID_SHIFT) - 1), NACL_ID_ICMP_ANY);
	use(p, p);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 22)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 23)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.3.5", A, 6, 1, 22)), TC_ACT_OK);
	/* Counts: rule 100 of the table decided the two TCP packets before the patch. */
	struct nacl_counter c[4];
	CHECK_INT(vbpf_counters(&b, own, mixed, 3, c), 0);
	CHECK_INT(c[0].packets, 4);
	CHECK_INT(c[1].packets, 1);

	/* Random wide tables and narrow edits, each verdict checked against a scan. */
	int failures = 0, flagged = 0;
	for (int round = 0; round < 20; round++) {
		struct nacl_rule base[8], want[12];
		size_t nb = 1 + rnd() % 6, nw = 0;
		for (size_t i = 0; i < nb; i++)
			base[i] = wide_rule((uint16_t)(10 * (i + 1)));
		uint32_t t = table_of("flags", base, nb), id = t;
		flagged += (t & NACL_ID_ANY_ADDR) != 0;
		for (int edit = 0; edit < 3; edit++) {
			if (edit) { /* a narrow rule before each, then the base again */
				nw = 0;
				for (size_t i = 0; i < nb; i++) {
					if (rnd() % 2)
						want[nw++] = random_rule((uint16_t)(base[i].number - 5));
					want[nw++] = base[i];
				}
				CHECK_INT(vbpf_patch_add(&b, t, own, want, nw, &id), 0);
			}
			const struct nacl_rule *r = edit ? want : base;
			size_t n = edit ? nw : nb;
			use(id, id);
			failures += probe_random(r, n, remotes, 4, protos, 4, 60, "id flags");
		}
	}
	CHECK_INT(failures, 0);
	CHECK_INT(flagged, 20);
}

/* Table `id` (of rules r) stored again as vpcd stores a big one when the kernel
 * has no room for big chunks: all of it in small chunks, which the program reads
 * when a big one is missing. */
static void small_only(const struct nacl_rule *r, size_t n, const char *owner, uint32_t id,
		       const struct nacl_table_meta *m)
{
	struct nacl_table t;
	CHECK_INT(nacl_compile(r, n, nacl_owner(owner, false), &t), 0);
	for (uint32_t c = 0; c * NACL_BLOB_CHUNK < NACL_BLOB_WORDS(m); c++) {
		struct nacl_blob_key k = {id, c};
		CHECK_INT(bpf_map_update_elem(b.map[VM_BLOB], &k, t.blob + c * NACL_BLOB_CHUNK, BPF_ANY),
			  0);
	}
	for (uint32_t c = 0; c < nacl_blob_big_chunks(NACL_BLOB_WORDS(m)); c++) {
		struct nacl_blob_key k = {id, c};
		CHECK_INT(bpf_map_delete_elem(b.map[VM_BLOB_BIG], &k), 0);
	}
	nacl_table_free(&t);
}

/* A patch on big table `id` (rules r, as in big_tables()) that takes away allow
 * rules far into it: in the second bitmap word and past, and in the last one.
 * Their packets meet the final deny; their neighbours still pass. */
static void patch_far(const struct nacl_rule *r, size_t n, uint32_t id)
{
	const size_t gone[] = {49, 95, 4999, n - 1}; /* odd: allow rules */
	struct nacl_rule *want = malloc(n * sizeof(*want));
	size_t nw = 0, g = 0;
	for (size_t i = 0; i < n; i++) {
		if (g < 4 && i == gone[g]) {
			g++;
			continue;
		}
		want[nw++] = r[i];
	}
	uint32_t p;
	CHECK_INT(vbpf_patch_add(&b, id, nacl_owner("spread", false), want, nw, &p), 0);
	use(p, p);
	for (size_t k = 0; k < 4; k++)
		for (size_t i = gone[k] - 2; i <= gone[k]; i += 2) {
			char a[32];
			snprintf(a, sizeof(a), "198.18.%zu.%zu", i / 256, i % 256);
			CHECK_INT(IN(ipv4(MAC_X, a, A, 6, 1, (uint16_t)(1000 + i))),
				  i == gone[k] ? TC_ACT_SHOT : TC_ACT_OK);
		}
	use(id, id);
	CHECK_INT(vbpf_table_del(&b, p), 0);
	free(want);
}

/* Big tables whose every rule decides some packet: rule i lets in (odd i) or
 * keeps out TCP to port 1000 + i from its own host. Probes over all of it, the
 * rules at the end (in the small chunks after the big ones, or in the padded
 * last big chunk) included; stored as usual, then all in small chunks. */
static void big_tables(void)
{
	/* 10,000 rules: a big chunk and a tail in small ones; 14,500: two big
	 * chunks, the second padded */
	static const size_t sizes[] = {10000, 14500};
	for (size_t z = 0; z < 2; z++) {
		size_t n = sizes[z];
		struct nacl_rule *r = calloc(n, sizeof(*r));
		for (size_t i = 0; i < n; i++) {
			char c[32];
			snprintf(c, sizeof(c), "198.18.%zu.%zu/32", i / 256, i % 256);
			r[i] = R((uint16_t)(i + 1), i % 2, 6, (uint16_t)(1000 + i), (uint16_t)(1000 + i),
				 c);
		}
		for (int pass = 0; pass < 2; pass++) {
			uint32_t id = table_of("spread", r, n);
			struct nacl_table_meta m;
			CHECK_INT(vbpf_table_info(&b, id, &m), 0);
			size_t words = NACL_BLOB_WORDS(&m), nbig = nacl_blob_big_chunks(words),
			       nsmall = (words + NACL_BLOB_CHUNK - 1) / NACL_BLOB_CHUNK,
			       past = nbig * (NACL_BLOB_BIG_CHUNK / NACL_BLOB_CHUNK);
			CHECK((id & NACL_ID_BIG) && nbig == z + 1 &&
			      (z ? words < nbig * NACL_BLOB_BIG_CHUNK : nsmall > past));
			if (pass)
				small_only(r, n, "spread", id, &m);
			use(id, id);
			int bad = 0, allowed = 0;
			for (size_t i = 0; i < n; i = i + 37 < n || i == n - 1 ? i + 37 : n - 1) {
				char a[32];
				snprintf(a, sizeof(a), "198.18.%zu.%zu", i / 256, i % 256);
				int v = IN(ipv4(MAC_X, a, A, 6, 1, (uint16_t)(1000 + i)));
				bad += v != (i % 2 ? TC_ACT_OK : TC_ACT_SHOT);
				allowed += v == TC_ACT_OK;
			}
			CHECK_INT(bad, 0);
			CHECK(allowed > 100);
			CHECK_INT(IN(ipv4(MAC_X, "198.18.0.1", A, 6, 1, 1002)), TC_ACT_SHOT);
			if (!pass)
				patch_far(r, n, id);
			/* big chunks, then small ones; all small ones; none once deleted */
			CHECK_INT(chunks_of(b.map[VM_BLOB_BIG], id), pass ? 0 : nbig);
			CHECK_INT(chunks_of(b.map[VM_BLOB], id),
				  pass ? nsmall : nsmall > past ? nsmall - past : 0);
			use(0, 0);
			CHECK_INT(vbpf_table_del(&b, id), 0);
			CHECK_INT(chunks_of(b.map[VM_BLOB_BIG], id) + chunks_of(b.map[VM_BLOB], id), 0);
		}
		free(r);
	}
}

/* Random full tables of a few rules to a few thousand (blobs of one chunk to
 * several, small chunks and big): the program's verdict is the verdict of a
 * plain first-match scan. */
static void tables_random(void)
{
	static const uint32_t remotes[] = {0x0a000205, 0x0a000206, 0x0a010101, 0xc0000201, 0xc0000281,
					   0xc6120001, 0xc6130505, 0xcb007101};
	static const int protos[] = {6, 17, 1, 47, 50};
	static const size_t sizes[] = {5, 300, 3000, 9000};
	int failures = 0, big = 0;
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		size_t n = sizes[z];
		struct nacl_rule *r = calloc(n, sizeof(*r));
		for (size_t i = 0; i < n; i++)
			r[i] = random_rule((uint16_t)(i * 3 + 1));
		uint32_t id = table_of("random full", r, n);
		struct nacl_table_meta m;
		CHECK_INT(vbpf_table_info(&b, id, &m), 0);
		CHECK(n < 3000 || NACL_BLOB_WORDS(&m) > 2 * NACL_BLOB_CHUNK);
		/* with big chunks exactly when at least half as long as one */
		CHECK(!(id & NACL_ID_BIG) == !(NACL_BLOB_WORDS(&m) >= NACL_BLOB_BIG_CHUNK / 2));
		big += (id & NACL_ID_BIG) != 0;
		use(id, id);
		failures += probe_random(r, n, remotes, 8, protos, 5, 300, "full table");
		free(r);
	}
	CHECK_INT(failures, 0);
	CHECK_INT(big, 1); /* 9,000 rules: two big chunks */
}

/* Rows that meet late: the remote's class has the rules of every other bitmap
 * word (UDP, from 10.0.0.0/8), the port's class those of the words between (TCP,
 * from other addresses), and both the last rule. The program finds it only if
 * its walk over the two rows steps each one at the right time. */
static void rows_interleaved(void)
{
	static const uint32_t remotes[] = {0x0a010203, 0xc6120005, 0xc6120041, 0xc0000201};
	static const int protos[] = {6, 17};
	size_t n = 64 * 40 + 1;
	struct nacl_rule *r = calloc(n, sizeof(*r));
	for (size_t i = 0; i + 1 < n; i++) {
		char c[32];
		snprintf(c, sizeof(c), "198.18.%zu.%zu/32", i / 256, i % 256);
		r[i] = i / 64 % 2 ? R((uint16_t)(i + 1), false, 6, 1, 1000, c)
				  : R((uint16_t)(i + 1), false, 17, 5000, 5000, "10.0.0.0/8");
	}
	r[n - 1] = R((uint16_t)n, true, 6, 80, 80, "10.0.0.0/8");
	use(table(r, n), table(r, n));
	CHECK_INT(IN(ipv4(MAC_X, "10.1.2.3", A, 6, 1, 80)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.1.2.3", A, 6, 1, 81)), TC_ACT_SHOT); /* final deny */
	CHECK_INT(IN(ipv4(MAC_X, "10.1.2.3", A, 17, 1, 5000)), TC_ACT_SHOT); /* rule 1 */
	CHECK_INT(IN(ipv4(MAC_X, "198.18.0.65", A, 6, 1, 80)), TC_ACT_SHOT); /* rule 66 */
	CHECK_INT(probe_random(r, n, remotes, 4, protos, 2, 200, "interleaved rows"), 0);
	free(r);
}

int main(void)
{
	if (geteuid()) {
		fprintf(stderr, "needs root\n");
		return 1;
	}
	if (unshare(CLONE_NEWNET) ||
	    system("ip link add pa index 1001 type veth peer name pb index 1002")) {
		perror("test namespace");
		return 1;
	}
	if (vbpf_load_unpinned(&b)) {
		perror("load");
		return 1;
	}
	port(PORT_F_VALID | PORT_F_SRCDST);

	/* The default NACL allows everything, both ways. */
	struct nacl_rule allow_all[] = {R(100, true, PROTO_ALL, 0, 65535, ALL)};
	uint32_t def = table(allow_all, 1);
	use(def, def);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 80)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "203.0.113.9", A, 17, 53, 40000)), TC_ACT_OK);

	/* A new custom NACL denies everything... but never traffic inside the subnet. */
	uint32_t empty = table(NULL, 0);
	use(empty, empty);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 80)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 80, 40000)), TC_ACT_SHOT);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.1.20", 6, 40000, 80)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.1.20", A, 6, 80, 40000)), TC_ACT_OK);

	/* Rule order: the lower number wins, whichever way round. */
	struct nacl_rule deny_first[] = {R(100, false, 6, 80, 80, ALL), R(200, true, 6, 80, 80, ALL)};
	struct nacl_rule allow_first[] = {R(100, true, 6, 80, 80, ALL), R(200, false, 6, 80, 80, ALL)};
	use(empty, table(deny_first, 2));
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 80)), TC_ACT_SHOT);
	use(empty, table(allow_first, 2));
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 80)), TC_ACT_OK);

	/* Port boundaries, on the destination port. */
	struct nacl_rule ports[] = {R(100, true, 6, 80, 80, ALL), R(110, true, 17, 1024, 65535, ALL)};
	use(empty, table(ports, 2));
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 79)), TC_ACT_SHOT);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 80)), TC_ACT_OK);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 81)), TC_ACT_SHOT);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 80, 40000)), TC_ACT_SHOT); /* source port 80 */
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 17, 9, 1023)), TC_ACT_SHOT);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 17, 9, 1024)), TC_ACT_OK);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 17, 9, 65535)), TC_ACT_OK);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 9, 1024)), TC_ACT_SHOT); /* tcp, not udp */

	/* CIDR boundaries (inbound: the remote is the source). */
	struct nacl_rule cidr[] = {R(100, true, PROTO_ALL, 0, 65535, "192.0.2.0/25")};
	use(table(cidr, 1), empty);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.0", A, 6, 1, 22)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.127", A, 6, 1, 22)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.2.128", A, 6, 1, 22)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "192.0.1.255", A, 6, 1, 22)), TC_ACT_SHOT);

	/* ICMP type and code. */
	struct nacl_rule icmp[] = {ICMP(100, true, 8, 0), ICMP(110, true, 3, -1)};
	use(table(icmp, 2), empty);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 1, 8, 0)), TC_ACT_OK);   /* echo request */
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 1, 8, 1)), TC_ACT_SHOT); /* other code */
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 1, 0, 0)), TC_ACT_SHOT); /* echo reply */
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 1, 3, 4)), TC_ACT_OK);   /* any code of 3 */
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 1, 3, 13)), TC_ACT_OK);

	/* Protocol numbers: GRE (47) allowed, nothing else; "all" covers 47 too. */
	struct nacl_rule gre[] = {R(100, true, 47, 0, 65535, ALL)};
	use(table(gre, 1), empty);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 47, 0, 0)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 17, 0, 0)), TC_ACT_SHOT);
	use(def, empty);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 47, 0, 0)), TC_ACT_OK);

	/* The final deny, counted on its own line. */
	uint64_t cown = nacl_owner("count", false);
	struct nacl_rule one[] = {R(100, true, 6, 443, 443, ALL)};
	uint32_t t1 = table_of("count", one, 1);
	use(t1, empty);
	IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 443));
	IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 443));
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 444)), TC_ACT_SHOT);
	struct nacl_counter cnt[3];
	CHECK_INT(vbpf_counters(&b, cown, one, 1, cnt), 0);
	CHECK_INT(cnt[0].packets, 2);
	CHECK_INT(cnt[1].packets, 1);
	CHECK_INT(cnt[0].bytes, 2 * 42);

	/* Counts belong to the NACL direction and the rule number, so they outlive a
	 * new version of the table: rule 100 keeps its 2, new rule 90 starts at 0. */
	struct nacl_rule two[] = {R(90, true, 6, 22, 22, ALL), R(100, true, 6, 443, 443, ALL)};
	uint32_t v2 = table_of("count", two, 2);
	use(v2, empty);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 443)), TC_ACT_OK);
	CHECK_INT(vbpf_counters(&b, cown, two, 2, cnt), 0);
	CHECK_INT(cnt[0].packets, 0);
	CHECK_INT(cnt[1].packets, 3);
	CHECK_INT(cnt[2].packets, 1);
	/* A rule replaced under the same number is another rule: it counts from 0. */
	struct nacl_rule two_b[] = {R(90, true, 6, 22, 22, ALL), R(100, true, 6, 443, 444, ALL)};
	use(table_of("count", two_b, 2), empty);
	CHECK_INT(vbpf_counters(&b, cown, two_b, 2, cnt), 0);
	CHECK_INT(cnt[1].packets, 0);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 444)), TC_ACT_OK);
	CHECK_INT(vbpf_counters(&b, cown, two_b, 2, cnt), 0);
	CHECK_INT(cnt[1].packets, 1);
	CHECK_INT(vbpf_counters(&b, cown, two, 2, cnt), 0);
	CHECK_INT(cnt[1].packets, 3); /* the old rule 100's count, until it is swept */
	use(v2, empty);
	/* Another NACL with the same rules counts on its own. */
	uint32_t same = table_of("other", one, 1);
	use(same, empty);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 443)), TC_ACT_OK);
	CHECK_INT(vbpf_counters(&b, nacl_owner("other", false), one, 1, cnt), 0);
	CHECK_INT(cnt[0].packets, 1);
	CHECK_INT(vbpf_counters(&b, cown, one, 1, cnt), 0);
	CHECK_INT(cnt[0].packets, 3);
	struct nacl_table_meta m1, m2;
	CHECK_INT(vbpf_table_info(&b, same, &m1), 0);
	CHECK_INT(vbpf_table_info(&b, t1, &m2), 0);
	CHECK(m1.hash != m2.hash && m1.owner != m2.owner && m1.base == same);
	/* Sweeping keeps what the callback keeps. */
	vbpf_counters_sweep(&b, keep_not_other, NULL);
	CHECK_INT(vbpf_counters(&b, nacl_owner("other", false), one, 1, cnt), 0);
	CHECK_INT(cnt[0].packets, 0);
	CHECK_INT(vbpf_counters(&b, cown, one, 1, cnt), 0);
	CHECK_INT(cnt[0].packets, 3);

	/* Table ids are never reused, and the sequence number of the next one is kept
	 * in the pinned `seq` map, so a restarted vpcd cannot meet a verdict cached
	 * under an old table. */
	CHECK_INT(vbpf_table_del(&b, same), 0);
	CHECK(vbpf_table_info(&b, same, &m1) == -ENOENT);
	size_t chunks_before = map_size(b.map[VM_BLOB]);
	uint32_t after = table(one, 1), zero = 0, seq = 0;
	CHECK(after > same);
	CHECK_INT(bpf_map_lookup_elem(b.map[VM_SEQ], &zero, &seq), 0);
	CHECK_INT(seq, (after >> NACL_ID_SHIFT) + 1);
	/* Deleting a table takes its blob with it, whether this process knows the
	 * table or not (after a restart). */
	CHECK_INT(map_size(b.map[VM_BLOB]), chunks_before + 1);
	CHECK_INT(vbpf_table_del(&b, after), 0);
	CHECK_INT(map_size(b.map[VM_BLOB]), chunks_before);
	after = table(two, 2);
	size_t known = b.n_known;
	b.n_known = 0; /* forget, as a restarted vpcd would */
	CHECK_INT(vbpf_table_del(&b, after), 0);
	b.n_known = known;
	CHECK_INT(map_size(b.map[VM_BLOB]), chunks_before);
	CHECK(vbpf_table_info(&b, after, &m1) == -ENOENT);
	/* Chunks left by a vpcd stopped between storing a table and publishing it go
	 * with the first sweep after opening; published tables keep theirs. */
	static struct nacl_blob_chunk zero_chunk;
	struct nacl_blob_key orphan = {.table = 777777, .chunk = 0};
	CHECK_INT(bpf_map_update_elem(b.map[VM_BLOB], &orphan, &zero_chunk, BPF_ANY), 0);
	orphan.chunk = 1;
	CHECK_INT(bpf_map_update_elem(b.map[VM_BLOB], &orphan, &zero_chunk, BPF_ANY), 0);
	CHECK_INT(map_size(b.map[VM_BLOB]), chunks_before + 2);
	vbpf_sweep_orphans(&b);
	CHECK_INT(map_size(b.map[VM_BLOB]), chunks_before);
	CHECK(chunks_before > 0);

	patches();
	patches_random();
	id_flags();
	tables_random();
	big_tables();
	rows_interleaved();

	/* Source/destination check. */
	use(def, def);
	CHECK_INT(OUT(ipv4(MAC_A, "10.0.1.66", "10.0.2.5", 6, 1, 80)), TC_ACT_SHOT); /* spoofed IP */
	CHECK_INT(OUT(ipv4(MAC_X, A, "10.0.2.5", 6, 1, 80)), TC_ACT_SHOT);	   /* spoofed MAC */
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", "10.0.1.66", 6, 1, 80)), TC_ACT_SHOT);  /* not for A */
	CHECK_INT(OUT(arp(MAC_A, A)), TC_ACT_OK);
	CHECK_INT(OUT(arp(MAC_A, "10.0.1.66")), TC_ACT_SHOT);
	CHECK_INT(OUT(arp(MAC_X, A)), TC_ACT_SHOT);
	port(PORT_F_VALID);
	CHECK_INT(OUT(ipv4(MAC_A, "10.0.1.66", "10.0.2.5", 6, 1, 80)), TC_ACT_OK);
	CHECK_INT(OUT(ipv4(MAC_X, A, "10.0.2.5", 6, 1, 80)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", "10.0.1.66", 6, 1, 80)), TC_ACT_OK);
	CHECK_INT(OUT(arp(MAC_X, "10.0.1.66")), TC_ACT_OK);
	port(PORT_F_VALID | PORT_F_SRCDST);

	/* IPv4 and ARP only. */
	struct pkt v6 = {.len = 14 + 40 + 8};
	memcpy(v6.buf + 6, MAC_A, 6);
	v6.buf[12] = 0x86;
	v6.buf[13] = 0xdd;
	v6.buf[14] = 0x60;
	CHECK_INT(OUT(v6), TC_ACT_SHOT);
	CHECK_INT(IN(v6), TC_ACT_SHOT);

	/* An unconfigured port is closed, whatever the rules. */
	struct port_cfg none = {0};
	CHECK_INT(vbpf_port_set(&b, PORT_A, &none), 0);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.1.20", 6, 1, 80)), TC_ACT_SHOT);
	port(PORT_F_VALID | PORT_F_SRCDST);

	/* A change is one flip: the cached verdict of the old table is not used, and
	 * a retired table's packets re-read the subnet. */
	use(def, def);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 22)), TC_ACT_OK);
	uint32_t deny22 = table((struct nacl_rule[]){R(50, false, 6, 22, 22, ALL),
						    R(100, true, PROTO_ALL, 0, 65535, ALL)},
				2);
	use(def, deny22);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 22)), TC_ACT_SHOT);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 23)), TC_ACT_OK);
	/* A subnet entry still naming a deleted table falls back to re-reading. */
	struct subnet_cfg stale = {.net = ip("10.0.1.0"), .mask = ip("255.255.255.0"),
				   .table_in = def, .table_out = 424242};
	CHECK_INT(vbpf_subnet_set(&b, 1, &stale), 0);
	CHECK_INT(OUT(ipv4(MAC_A, A, "10.0.2.5", 6, 40000, 23)), TC_ACT_SHOT); /* fails closed */
	use(def, deny22);
	CHECK_INT(vbpf_table_del(&b, t1), 0);
	CHECK(vbpf_table_info(&b, t1, &m1) == -ENOENT);

	/* 10,000 rules, the matching one last in number order. */
	size_t n = 10000;
	struct nacl_rule *big = calloc(n, sizeof(*big));
	for (size_t i = 0; i + 1 < n; i++) {
		char c[32];
		snprintf(c, sizeof(c), "198.%zu.%zu.0/24", 18 + i / 256 % 2, i % 256);
		big[i] = R((uint16_t)(i + 1), false, 6, (uint16_t)(1000 + i), (uint16_t)(1000 + i), c);
	}
	big[n - 1] = R((uint16_t)n, true, 17, 5000, 5000, "10.0.2.0/24");
	use(table(big, n), empty);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 17, 1, 5000)), TC_ACT_OK);
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 17, 1, 5001)), TC_ACT_SHOT);
	CHECK_INT(IN(ipv4(MAC_X, "198.18.7.1", A, 6, 1, 1007)), TC_ACT_SHOT); /* rule 8 denies */
	CHECK_INT(IN(ipv4(MAC_X, "198.19.7.1", A, 6, 1, 1007)), TC_ACT_SHOT); /* final deny */
	free(big);

	vbpf_close(&b);
	printf("%d checks, %d failed\n", t_run, t_failed);
	return t_failed ? 1 : 0;
}
