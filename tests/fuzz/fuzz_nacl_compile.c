/*
 * Fuzz target: the NACL compiler. Rules made from the input (13 bytes each) are
 * compiled into a table; every packet at and around each rule's edges (first and
 * last address of its block and one either side, first and last port or ICMP
 * type/code and one either side, its protocol and others) must get from the table
 * the decision that the rules' meaning gives, read first match first: the same
 * rule, or the final deny.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vpc/nacl.h"

#define RECORD    13
#define MAX_RULES 128

static int by_number(const void *a, const void *b)
{
	return (int)((const struct nacl_rule *)a)->number -
	       (int)((const struct nacl_rule *)b)->number;
}

/* One rule from a record, in the form validation leaves it (vpc/model.h). */
static struct nacl_rule decode(const uint8_t *b)
{
	struct nacl_rule r = {.number = (uint16_t)(1 + (b[0] << 8 | b[1]) % 32766),
	                      .allow = b[2] & 1};
	static const int protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ALL};
	unsigned sel = b[2] >> 1 & 7;
	r.m.proto = sel < 4 ? protos[sel] : b[3];
	uint16_t lo = (uint16_t)(b[4] << 8 | b[5]), hi = (uint16_t)(b[6] << 8 | b[7]);
	r.m.port_lo = 0;
	r.m.port_hi = 65535;
	r.m.icmp_type = r.m.icmp_code = -1;
	if (r.m.proto == PROTO_TCP || r.m.proto == PROTO_UDP) {
		r.m.port_lo = lo < hi ? lo : hi;
		r.m.port_hi = lo < hi ? hi : lo;
	} else if (r.m.proto == PROTO_ICMP && !(b[2] & 0x10)) {
		r.m.icmp_type = b[4];
		if (!(b[2] & 0x20))
			r.m.icmp_code = b[5];
	}
	r.cidr.len = (uint8_t)(b[12] % 33);
	uint32_t addr = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
	r.cidr.addr = addr & cidr_mask(r.cidr.len);
	return r;
}

/* Whether a rule matches a packet, from the semantics alone (vpc/model.h); the
 * compiler's own reference (nacl_match_linear) is checked against it too. */
static bool matches(const struct nacl_rule *r, uint32_t addr, uint8_t proto, uint16_t dport,
                    uint8_t type, uint8_t code)
{
	if (!cidr_contains_ip(r->cidr, addr) || (r->m.proto != PROTO_ALL && r->m.proto != proto))
		return false;
	if (r->m.proto == PROTO_TCP || r->m.proto == PROTO_UDP)
		return r->m.port_lo <= dport && dport <= r->m.port_hi;
	if (r->m.proto == PROTO_ICMP)
		return (r->m.icmp_type < 0 || r->m.icmp_type == type) &&
		       (r->m.icmp_code < 0 || r->m.icmp_code == code);
	return true;
}

/* A packet from (inbound) or to (outbound) `addr`; `l4` is its destination port
 * (tcp, udp) or ICMP type << 8 | code. */
static void probe(const struct nacl_rule *r, size_t n, const struct nacl_table *t, uint32_t addr,
                  uint8_t proto, uint16_t l4)
{
	uint16_t dport = proto == PROTO_TCP || proto == PROTO_UDP ? l4 : 0;
	uint8_t type = proto == PROTO_ICMP ? (uint8_t)(l4 >> 8) : 0,
	        code = proto == PROTO_ICMP ? (uint8_t)l4 : 0;
	size_t want = 0;
	while (want < n && !matches(&r[want], addr, proto, dport, type, code))
		want++;
	uint16_t field = nacl_l4_field(proto, dport, type, code);
	size_t linear = nacl_match_linear(r, n, addr, proto, field),
	       got = nacl_match_table(t, addr, proto, field);
	MUST(want == got && want == linear,
	     "address %08x protocol %u port %u type %u code %u: rule %zu, the table says %zu, "
	     "nacl_match_linear %zu (of %zu; %zu: the final deny)",
	     addr, proto, dport, type, code, want, got, linear, n, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size / RECORD < MAX_RULES ? size / RECORD : MAX_RULES;
	struct nacl_rule *r = calloc(n + 1, sizeof(*r));
	for (size_t i = 0; i < n; i++)
		r[i] = decode(data + i * RECORD);
	qsort(r, n, sizeof(*r), by_number);
	size_t k = 0; /* one rule per number: the first of each */
	for (size_t i = 0; i < n; i++)
		if (!k || r[k - 1].number != r[i].number)
			r[k++] = r[i];
	n = k;
	struct nacl_table t;
	MUST(!nacl_compile(r, n, 1, &t), "%zu rules not compiled", n);
	MUST(t.nrules == n, "%u rules in the table, %zu given", t.nrules, n);
	static const uint8_t others[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, 0, 47, 255};
	for (size_t i = 0; i < n; i++) {
		uint32_t first = r[i].cidr.addr, last = first | ~cidr_mask(r[i].cidr.len);
		uint32_t addrs[] = {first, last, first - 1, last + 1};
		uint32_t lo, hi;
		if (r[i].m.proto == PROTO_ICMP && r[i].m.icmp_type >= 0) {
			lo = (uint32_t)r[i].m.icmp_type << 8 |
			     (r[i].m.icmp_code >= 0 ? (uint32_t)r[i].m.icmp_code : 0);
			hi = (uint32_t)r[i].m.icmp_type << 8 |
			     (r[i].m.icmp_code >= 0 ? (uint32_t)r[i].m.icmp_code : 255);
		} else {
			lo = r[i].m.port_lo;
			hi = r[i].m.port_hi;
		}
		uint16_t fields[] = {(uint16_t)lo, (uint16_t)hi, (uint16_t)(lo - 1),
		                     (uint16_t)(hi + 1)};
		for (size_t a = 0; a < 4; a++)
			for (size_t f = 0; f < 4; f++) {
				if (r[i].m.proto >= 0)
					probe(r, n, &t, addrs[a], (uint8_t)r[i].m.proto, fields[f]);
				probe(r, n, &t, addrs[a], others[(i + a + f) % sizeof(others)],
				      fields[f]);
			}
	}
	probe(r, n, &t, 0, PROTO_TCP, 0);
	nacl_table_free(&t);
	free(r);
	return 0;
}
