/* IPv4 addresses and prefixes, host byte order throughout. */
#ifndef VPC_CIDR_H
#define VPC_CIDR_H

#include <stdbool.h>
#include <stdint.h>

struct cidr {
	uint32_t addr; /* network address, host bits zero */
	uint8_t len;
};

#define CIDR_STR_MAX 20 /* "255.255.255.255/32" and room for gcc's worst case */
#define IP_STR_MAX   16

enum cidr_parse_err {
	CIDR_OK = 0,
	CIDR_BAD_SYNTAX,    /* not a.b.c.d/n */
	CIDR_BAD_PREFIX,    /* n outside 0..32 */
	CIDR_HOST_BITS,	    /* bits set below the prefix */
};

/* Strict dotted quad: four decimal octets, no leading zeros, nothing after. */
int ip_parse(const char *s, uint32_t *out);
/* Parses "a.b.c.d/n". On CIDR_HOST_BITS, *out holds the normalized prefix. */
enum cidr_parse_err cidr_parse(const char *s, struct cidr *out);
/* cidr_parse() in two steps, for text that is not a string of its own: the
 * "a.b.c.d/n" at *p (before `end`), *p moved past it (syntax, and a prefix length
 * of at most two digits); then the prefix it makes (length, host bits). */
enum cidr_parse_err cidr_scan(const char **p, const char *end, uint32_t *ip, unsigned *len);
enum cidr_parse_err cidr_make(uint32_t ip, unsigned len, struct cidr *out);
const char *cidr_parse_strerror(enum cidr_parse_err e);

char *ip_fmt(uint32_t ip, char buf[IP_STR_MAX]);
char *cidr_fmt(struct cidr c, char buf[CIDR_STR_MAX]);

static inline uint32_t cidr_mask(uint8_t len)
{
	return len ? ~(uint32_t)0 << (32 - len) : 0;
}
static inline uint32_t cidr_last(struct cidr c)
{
	return c.addr | ~cidr_mask(c.len);
}
static inline uint64_t cidr_size(struct cidr c)
{
	return (uint64_t)1 << (32 - c.len);
}
static inline bool cidr_contains_ip(struct cidr c, uint32_t ip)
{
	return (ip & cidr_mask(c.len)) == c.addr;
}
/* Is `inner` entirely inside `outer`? */
static inline bool cidr_contains(struct cidr outer, struct cidr inner)
{
	return inner.len >= outer.len && cidr_contains_ip(outer, inner.addr);
}
static inline bool cidr_overlaps(struct cidr a, struct cidr b)
{
	return cidr_contains(a, b) || cidr_contains(b, a);
}
/* AWS reserves network, .1 (router), .2 (DNS), .3 (future) and the last address. */
static inline bool cidr_ip_reserved(struct cidr subnet, uint32_t ip)
{
	return ip - subnet.addr <= 3 || ip == cidr_last(subnet);
}
static inline uint32_t cidr_gateway(struct cidr subnet)
{
	return subnet.addr + 1;
}

#endif
