#include "test.h"
#include "vpc/cidr.h"

static void parse_ok(const char *s, const char *norm, int len)
{
	struct cidr c;
	char buf[CIDR_STR_MAX];
	CHECK_INT(cidr_parse(s, &c), CIDR_OK);
	CHECK_STR(cidr_fmt(c, buf), norm);
	CHECK_INT(c.len, len);
}

void test_cidr(void)
{
	struct cidr c, a, b;
	uint32_t ip;
	char buf[CIDR_STR_MAX];

	parse_ok("10.0.0.0/16", "10.0.0.0/16", 16);
	parse_ok("0.0.0.0/0", "0.0.0.0/0", 0);
	parse_ok("255.255.255.255/32", "255.255.255.255/32", 32);
	parse_ok("192.168.10.0/28", "192.168.10.0/28", 28);

	CHECK_INT(cidr_parse("10.0.1.5/24", &c), CIDR_HOST_BITS);
	CHECK_STR(cidr_fmt(c, buf), "10.0.1.0/24");
	CHECK_INT(cidr_parse("10.0.0/16", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0/", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0/33", &c), CIDR_BAD_PREFIX);
	CHECK_INT(cidr_parse("10.0.0.0/123", &c), CIDR_BAD_PREFIX);
	CHECK_INT(cidr_parse("256.0.0.0/8", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse("010.0.0.0/8", &c), CIDR_BAD_SYNTAX); /* octal look-alike */
	CHECK_INT(cidr_parse("10.0.0.0/16 ", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse(" 10.0.0.0/16", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse("10.0.0.0/-1", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse("", &c), CIDR_BAD_SYNTAX);
	CHECK_INT(cidr_parse(NULL, &c), CIDR_BAD_SYNTAX);

	CHECK_INT(ip_parse("10.0.1.4", &ip), 0);
	CHECK_INT(ip, 0x0a000104);
	CHECK(ip_parse("10.0.1", &ip) < 0);
	CHECK(ip_parse("10.0.1.4.5", &ip) < 0);
	CHECK(ip_parse("10.0.1.04", &ip) < 0);
	CHECK(ip_parse("1.2.3.4/32", &ip) < 0);
	/* Every octet of one to four digits, in each place: a number to 255, no
	 * leading zero. */
	int wrong = 0;
	for (int digits = 1; digits <= 4; digits++)
		for (int v = 0, top = digits == 1 ? 10 : digits == 2 ? 100 : digits == 3 ? 1000 : 10000;
		     v < top; v++)
			for (int place = 0; place < 4; place++) {
				char o[16], addr[64];
				snprintf(o, sizeof(o), "%0*d", digits, v);
				snprintf(addr, sizeof(addr), "%s.%s.%s.%s", place == 0 ? o : "1",
					 place == 1 ? o : "2", place == 2 ? o : "3", place == 3 ? o : "4");
				bool valid = digits <= 3 && v <= 255 && (o[0] != '0' || digits == 1);
				int rc = ip_parse(addr, &ip);
				wrong += valid ? rc || (ip >> (24 - 8 * place) & 255) != (uint32_t)v : rc >= 0;
			}
	CHECK_INT(wrong, 0);

	cidr_parse("10.0.0.0/16", &a);
	cidr_parse("10.0.1.0/24", &b);
	CHECK(cidr_contains(a, b));
	CHECK(!cidr_contains(b, a));
	CHECK(cidr_overlaps(a, b) && cidr_overlaps(b, a));
	cidr_parse("10.1.0.0/16", &c);
	CHECK(!cidr_overlaps(a, c));
	cidr_parse("10.0.1.128/25", &c);
	CHECK(cidr_overlaps(b, c));
	CHECK_INT(cidr_last(b), 0x0a0001ff);
	CHECK_INT(cidr_size(b), 256);
	CHECK_INT(cidr_gateway(b), 0x0a000101);

	/* The five reserved addresses of a subnet, and the first usable. */
	CHECK(cidr_ip_reserved(b, 0x0a000100));
	CHECK(cidr_ip_reserved(b, 0x0a000101));
	CHECK(cidr_ip_reserved(b, 0x0a000102));
	CHECK(cidr_ip_reserved(b, 0x0a000103));
	CHECK(!cidr_ip_reserved(b, 0x0a000104));
	CHECK(!cidr_ip_reserved(b, 0x0a0001fe));
	CHECK(cidr_ip_reserved(b, 0x0a0001ff));
	CHECK_INT(cidr_mask(0), 0);
	CHECK_INT(cidr_mask(32), 0xffffffffu);
}
