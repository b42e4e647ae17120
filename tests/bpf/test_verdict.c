/*
 * NACL verdicts through the real BPF program, with BPF_PROG_TEST_RUN on crafted
 * packets. Root; runs in a private network namespace holding the port devices.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
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

static uint32_t table(const struct nacl_rule *r, size_t n)
{
	struct nacl_table t;
	uint32_t id = 0;
	CHECK_INT(nacl_compile(r, n, &t), 0);
	CHECK_INT(vbpf_table_add(&b, &t, &id), 0);
	nacl_table_free(&t);
	return id;
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
	struct nacl_rule one[] = {R(100, true, 6, 443, 443, ALL)};
	uint32_t t1 = table(one, 1);
	use(t1, empty);
	IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 443));
	IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 443));
	CHECK_INT(IN(ipv4(MAC_X, "10.0.2.5", A, 6, 1, 444)), TC_ACT_SHOT);
	struct nacl_counter cnt[2];
	CHECK_INT(vbpf_counters(&b, t1, cnt, 2), 0);
	CHECK_INT(cnt[0].packets, 2);
	CHECK_INT(cnt[1].packets, 1);
	CHECK_INT(cnt[0].bytes, 2 * 42);

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
	CHECK(vbpf_table_hash(&b, t1) == 0);

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
