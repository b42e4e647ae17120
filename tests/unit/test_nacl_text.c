/* The text form of NACL entries (`vpcctl nacl load`): what it reads, that it
 * reads the same rules as the topology file's JSON, and how it refuses. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "test.h"
#include "topo_internal.h"
#include "vpc/topo.h"

static int parse(const char *text, struct nacl_entries *e, struct vpc_err *err)
{
	memset(err, 0, sizeof(*err));
	return nacl_text_parse(text, strlen(text), e, err);
}

/* A text that must be refused with this path and a message holding `says`. */
static void refused(int line, const char *text, const char *path, const char *says)
{
	struct nacl_entries e;
	struct vpc_err err;
	int rc = parse(text, &e, &err);
	t_run++;
	if (rc != -EINVAL || strcmp(err.path, path) || !strstr(err.msg, says) || e.in || e.out) {
		t_failed++;
		fprintf(stderr, "%s:%d: rc %d, path \"%s\", message \"%s\"; want path \"%s\", \"%s\"\n",
			__FILE__, line, rc, err.path, err.msg, path, says);
	}
	free(e.in);
	free(e.out);
}

static bool same_rules(const struct nacl_rule *a, const struct nacl_rule *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].number != b[i].number || a[i].allow != b[i].allow ||
		    memcmp(&a[i].m, &b[i].m, sizeof(a[i].m)) || a[i].cidr.addr != b[i].cidr.addr ||
		    a[i].cidr.len != b[i].cidr.len)
			return false;
	return true;
}

static void test_reads(void)
{
	struct nacl_entries e;
	struct vpc_err err;
	/* Comments, blank lines, tabs and CRs; rules out of order; one number in both
	 * directions. */
	const char *text = "# direction rule protocol ports|icmp cidr action\n"
			   "\n"
			   "inbound\t110\ttcp\t443\t0.0.0.0/0\tallow   # https\r\n"
			   "  inbound 100 tcp 80 0.0.0.0/0 allow\n"
			   "inbound 120 tcp 22 192.0.2.0/24 allow\n"
			   "inbound 130 icmp 8/0 10.0.0.0/8 allow\n"
			   "inbound 140 icmp 3 10.0.0.0/8 allow\n"
			   "inbound 150 icmp - 10.0.0.0/8 deny\n"
			   "inbound 160 47 - 0.0.0.0/0 allow\n"
			   "inbound 170 udp - 198.51.100.7/32 allow\n"
			   "outbound 100 all - 0.0.0.0/0 deny\n"
			   "outbound 110 -1 - 0.0.0.0/0 allow"; /* no newline at the end */
	CHECK_INT(parse(text, &e, &err), 0);
	CHECK_INT(e.n_in, 8);
	CHECK_INT(e.n_out, 2);
	if (e.n_in == 8 && e.n_out == 2) {
		CHECK_INT(e.in[0].number, 100);
		CHECK_INT(e.in[1].number, 110);
		CHECK_INT(e.in[1].m.port_lo, 443);
		CHECK(e.in[1].allow);
		CHECK_INT(e.in[2].cidr.len, 24);
		CHECK_INT(e.in[3].m.icmp_type, 8);
		CHECK_INT(e.in[3].m.icmp_code, 0);
		CHECK_INT(e.in[4].m.icmp_type, 3);
		CHECK_INT(e.in[4].m.icmp_code, -1);
		CHECK_INT(e.in[5].m.icmp_type, -1);
		CHECK(!e.in[5].allow);
		CHECK_INT(e.in[6].m.proto, 47);
		CHECK_INT(e.in[7].m.port_lo, 0);
		CHECK_INT(e.in[7].m.port_hi, 65535);
		CHECK_INT(e.out[0].m.proto, PROTO_ALL);
		CHECK_INT(e.out[1].m.proto, PROTO_ALL);
		CHECK(e.out[1].allow);
	}
	free(e.in);
	free(e.out);
	/* Nothing at all: no entries, only the final deny. */
	CHECK_INT(parse("# nothing\n\n", &e, &err), 0);
	CHECK_INT(e.n_in + e.n_out, 0);
	free(e.in);
	free(e.out);
}

/* Random entries written both ways read the same rules. */
static void test_same_as_json(void)
{
	static const char *protos[] = {"tcp", "udp", "icmp", "all", "47", "6", "-1"};
	/* `slow`: the same entries with the protocol's name in capitals, which the
	 * reader's fast path leaves to the general one (nacl_text.c). */
	char *text = malloc(1 << 20), *slow = malloc(1 << 20);
	json_t *in = json_array(), *out = json_array();
	size_t tl = 0, sl = 0;
	srandom(7);
	for (int i = 0; i < 3000; i++) {
		bool o = random() % 3 == 0;
		int num = 1 + i * 10 + (int)(random() % 10), lo = (int)(random() % 65536),
		    hi = lo + (int)(random() % (65536 - lo));
		const char *proto = protos[random() % 7];
		char l4[32] = "-", cidr[32];
		snprintf(cidr, sizeof(cidr), "%ld.%ld.0.0/16", random() % 224, random() % 256);
		json_t *r = json_pack("{s:i,s:s,s:s,s:s}", "rule", num, "protocol", proto, "cidr",
				      cidr, "action", random() % 2 ? "allow" : "deny");
		if (!strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "6")) {
			if (random() % 4) {
				if (random() % 3)
					snprintf(l4, sizeof(l4), "%d-%d", lo, hi);
				else
					snprintf(l4, sizeof(l4), "%d", lo);
				json_object_set_new(r, "ports", json_string(l4));
			}
		} else if (!strcmp(proto, "icmp") && random() % 4) {
			int type = (int)(random() % 256), code = (int)(random() % 256);
			json_object_set_new(r, "icmp_type", json_integer(type));
			if (random() % 2) {
				json_object_set_new(r, "icmp_code", json_integer(code));
				snprintf(l4, sizeof(l4), "%d/%d", type, code);
			} else {
				snprintf(l4, sizeof(l4), "%d", type);
			}
		}
		json_array_append_new(o ? out : in, r);
		tl += (size_t)sprintf(text + tl, "%s %d %s %s %s %s\n", o ? "outbound" : "inbound", num,
				      proto, l4, cidr,
				      json_string_value(json_object_get(r, "action")));
		char up[8];
		for (size_t k = 0; k < sizeof(up); k++)
			up[k] = (char)toupper((unsigned char)proto[k < strlen(proto) ? k : strlen(proto)]);
		sl += (size_t)sprintf(slow + sl, "%s\t%d\t%s\t%s\t%s\t%s\r\n", o ? "outbound" : "inbound",
				      num, up, l4, cidr, json_string_value(json_object_get(r, "action")));
	}
	json_t *doc = json_pack("{s:[{s:s,s:s,s:[{s:s,s:o,s:o}]}]}", "vpcs", "name", "v", "cidr",
				"10.0.0.0/16", "network_acls", "name", "n", "inbound", in,
				"outbound", out);
	struct compile_opts o = {.features = FEAT_ALL};
	struct topology *t = NULL;
	struct nacl_entries e = {0};
	struct vpc_err err = {0};
	CHECK_INT(topo_compile(doc, &o, &t, &err), 0);
	for (int pass = 0; pass < 2; pass++) {
		CHECK_INT(pass ? nacl_text_parse(slow, sl, &e, &err) : nacl_text_parse(text, tl, &e, &err),
			  0);
		if (t && e.in) {
			const struct nacl *n = &t->vpcs[0].nacls[0];
			CHECK_INT(e.n_in, n->n_in);
			CHECK_INT(e.n_out, n->n_out);
			CHECK(e.n_in == n->n_in && same_rules(e.in, n->in, e.n_in));
			CHECK(e.n_out == n->n_out && same_rules(e.out, n->out, e.n_out));
		}
		free(e.in);
		free(e.out);
		e = (struct nacl_entries){0};
	}
	topo_free(t);
	json_decref(doc);
	free(text);
	free(slow);
}

static void test_refuses(void)
{
	refused(__LINE__, "inbound 100 tcp 80 0.0.0.0/0\n", "line 1", "too few columns");
	refused(__LINE__, "inbound 100 tcp 80 0.0.0.0/0 allow x\n", "line 1", "too many columns");
	refused(__LINE__, "#\ninbound 100 tcp 80 0.0.0.0/0 allow\nsideways 100 tcp 80 0.0.0.0/0 allow\n",
		"line 3.direction", "\"sideways\" must be \"inbound\" or \"outbound\"");
	refused(__LINE__, "inbound 0 tcp 80 0.0.0.0/0 allow", "line 1.rule", "out of range 1-32766");
	refused(__LINE__, "inbound 32767 tcp 80 0.0.0.0/0 allow", "line 1.rule", "out of range");
	refused(__LINE__, "inbound 1x tcp 80 0.0.0.0/0 allow", "line 1.rule", "must be a number");
	refused(__LINE__, "inbound 100 tcpx 80 0.0.0.0/0 allow", "line 1.protocol", "not a protocol");
	refused(__LINE__, "inbound 100 256 - 0.0.0.0/0 allow", "line 1.protocol", "not a protocol");
	refused(__LINE__, "inbound 100 tcp 80-70 0.0.0.0/0 allow", "line 1.ports", "not a port range");
	refused(__LINE__, "inbound 100 udp 70000 0.0.0.0/0 allow", "line 1.ports", "not a port range");
	refused(__LINE__, "inbound 100 47 80 0.0.0.0/0 allow", "line 1.ports",
		"only apply to protocol tcp or udp");
	refused(__LINE__, "inbound 100 icmp 256 0.0.0.0/0 allow", "line 1.icmp_type", "out of range");
	refused(__LINE__, "inbound 100 icmp 8/x 0.0.0.0/0 allow", "line 1.icmp_code", "must be a number");
	refused(__LINE__, "inbound 100 icmp -1/3 0.0.0.0/0 allow", "line 1.icmp_code",
		"needs an icmp_type");
	refused(__LINE__, "inbound 100 tcp 80 10.0.0.1/8 allow", "line 1.cidr", "bits set after the prefix");
	refused(__LINE__, "inbound 100 tcp 80 10.0.0/8 allow", "line 1.cidr", "not an IPv4 CIDR");
	refused(__LINE__, "inbound 100 tcp 80 0.0.0.0/0 permit", "line 1.action", "\"permit\"");
	/* Characters no field has, where the fast way's splitter stops (below '-')
	 * and where it does not (a byte of UTF-8): refused the general way, the
	 * whole column named. */
	refused(__LINE__, "inbound 100 tc$p 80 0.0.0.0/0 allow", "line 1.protocol", "\"tc$p\"");
	refused(__LINE__, "inbound 1,00 tcp 80 0.0.0.0/0 allow", "line 1.rule", "\"1,00\"");
	refused(__LINE__, "inbound 100 tcp 80 0.0.0.0/0 allow\"", "line 1.action", "\"allow\"\"");
	refused(__LINE__, "inbound 100 tcp 80 10.0.0.0/8\xc2\xa0 allow", "line 1.cidr",
		"not an IPv4 CIDR");
	refused(__LINE__, "inbound 100 tcp 80\x01 0.0.0.0/0 allow", "line 1.ports", "not a port");
	refused(__LINE__, "outbound 100 all - 0.0.0.0/0 allow\ninbound 100 all - 0.0.0.0/0 allow\n"
			  "outbound 100 tcp 80 0.0.0.0/0 deny\n",
		"line 3.rule", "rule number 100 appears twice in outbound");
	char *big = malloc(400);
	memset(big, 'x', 399);
	big[399] = 0;
	refused(__LINE__, big, "line 1", "longer than 255 characters");
	free(big);
	/* A NUL byte would end a field unseen. */
	static const char nul[] = "inbound 100 tcp 80 0.0.0.0/0 allow\ninbound 110 tcp 8\0 0.0.0.0/0 allow\n";
	struct nacl_entries e;
	struct vpc_err err = {0};
	CHECK_INT(nacl_text_parse(nul, sizeof(nul) - 1, &e, &err), -EINVAL);
	CHECK_STR(err.path, "line 2");
	/* At most VPC_MAX_NACL_RULES a direction. */
	char *many = malloc(64 * (VPC_MAX_NACL_RULES + 2));
	size_t ml = 0;
	for (int i = 1; i <= VPC_MAX_NACL_RULES + 1; i++)
		ml += (size_t)sprintf(many + ml, "inbound %d all - 0.0.0.0/0 deny\n", i);
	refused(__LINE__, many, "line 16385", "more than 16384 inbound entries");
	free(many);
}

/* A NACL of 4,000 lines: faults near its start and its end, a number given
 * twice far apart, the order of the whole when the lines come backwards. */
static void test_large(void)
{
	size_t n = 4000, cap = 64 * n;
	char *text = malloc(cap);
	struct nacl_entries e;
	struct vpc_err err;
	for (int pass = 0; pass < 5; pass++) {
		size_t tl = 0;
		for (size_t i = 1; i <= n; i++) {
			/* descending numbers in pass 0: the joined halves need sorting */
			unsigned num = pass == 0 ? (unsigned)(n + 1 - i) : (unsigned)i;
			if (pass == 2 && i == 3900)
				num = 10; /* line 10 has it */
			const char *ports = pass == 3 && i == 3950 ? "x" : "1-9";
			tl += (size_t)sprintf(text + tl, "inbound %u tcp %s 10.0.0.0/8 %s\n", num, ports,
					      pass == 4 && i == 100 ? "permit" : "allow");
		}
		int rc = nacl_text_parse(text, tl, &e, (memset(&err, 0, sizeof(err)), &err));
		if (pass < 2) {
			CHECK_INT(rc, 0);
			CHECK_INT(e.n_in, n);
			bool up = true;
			for (size_t i = 1; i < e.n_in; i++)
				up = up && e.in[i - 1].number + 1 == e.in[i].number;
			CHECK(up && e.n_in && e.in[0].number == 1);
			free(e.in);
			free(e.out);
		} else {
			CHECK_INT(rc, -EINVAL);
			CHECK_STR(err.path, pass == 2   ? "line 3900.rule"
					    : pass == 3 ? "line 3950.ports"
							: "line 100.action");
		}
	}
	free(text);
}

/* A large text: a fault late in it, and a rule number repeated far apart (either
 * way round), are named by their lines. */
static void test_far_apart(void)
{
	char *text = malloc(4000 * 48);
	for (int bad = 0; bad < 4; bad++) {
		size_t n = 0;
		for (int i = 1; i <= 4000; i++) {
			int num = i;
			const char *proto = "udp";
			if (bad == 0 && i == 3500)
				proto = "udpx";
			if (bad == 1 && i == 3600)
				num = 10; /* line 10's number again */
			if (bad == 2 && i == 20)
				num = 3700; /* the number of line 3700, read later */
			n += (size_t)sprintf(text + n, "inbound %d %s %d 10.0.0.0/8 allow\n", num, proto, i);
		}
		const char *path[] = {"line 3500.protocol", "line 3600.rule", "line 3700.rule", ""};
		const char *says[] = {"not a protocol", "rule number 10 appears twice in inbound",
				      "rule number 3700 appears twice in inbound", ""};
		if (bad < 3) {
			refused(__LINE__, text, path[bad], says[bad]);
			continue;
		}
		struct nacl_entries e;
		struct vpc_err err;
		CHECK_INT(parse(text, &e, &err), 0);
		CHECK_INT(e.n_in, 4000);
		bool in_order = e.n_in == 4000;
		for (size_t i = 0; in_order && i < e.n_in; i++)
			in_order = e.in[i].number == i + 1 && e.in[i].m.port_lo == i + 1;
		CHECK(in_order);
		free(e.in);
		free(e.out);
	}
	free(text);
}

/* The large texts again with the helper thread, which reads their second
 * halves: the same rules, the same errors on the same lines. */
static void test_large_both(void)
{
	test_far_apart();
	test_large();
}

void test_nacl_text(void)
{
	test_large_both();
	with_helper("test_nacl_text", test_large_both, &nacl_text_halves_joined);
	test_reads();
	test_same_as_json();
	test_refuses();
}
