#include <stdio.h>
#include <string.h>

#include "vpc/cidr.h"

/* Parses one decimal octet at *p (before `end`); leading zeros are refused because
 * inet_aton would read them as octal and users would not expect that. Unrolled:
 * a 10,000-entry NACL has 40,000 of them. */
static int octet(const char **p, const char *end, uint32_t *v)
{
	const char *s = *p;
	unsigned n, d;
	if (s == end || (n = (unsigned)(*s - '0')) > 9)
		return -1;
	if (++s < end && (d = (unsigned)(*s - '0')) <= 9) {
		if (!n)
			return -1; /* a leading zero */
		n = n * 10 + d;
		if (++s < end && (d = (unsigned)(*s - '0')) <= 9) {
			n = n * 10 + d;
			if ((++s < end && (unsigned)(*s - '0') <= 9) || n > 255)
				return -1;
		}
	}
	*v = n;
	*p = s;
	return 0;
}

static int ip_scan(const char **p, const char *end, uint32_t *out)
{
	uint32_t ip = 0, o;
	for (int i = 0; i < 4; i++) {
		if (i && (*p == end || *(*p)++ != '.'))
			return -1;
		if (octet(p, end, &o))
			return -1;
		ip = ip << 8 | o;
	}
	*out = ip;
	return 0;
}

int ip_parse(const char *s, uint32_t *out)
{
	uint32_t ip;
	const char *end = s ? s + strlen(s) : NULL;
	if (!s || ip_scan(&s, end, &ip) || s != end)
		return -1;
	*out = ip;
	return 0;
}

enum cidr_parse_err cidr_scan(const char **p, const char *end, uint32_t *ip, unsigned *len)
{
	const char *s = *p;
	unsigned digits = 0;
	if (ip_scan(&s, end, ip) || s == end || *s++ != '/')
		return CIDR_BAD_SYNTAX;
	for (*len = 0; s < end && *s >= '0' && *s <= '9'; s++) {
		*len = *len * 10 + (unsigned)(*s - '0');
		if (++digits > 2)
			return CIDR_BAD_PREFIX;
	}
	if (!digits)
		return CIDR_BAD_SYNTAX;
	*p = s;
	return CIDR_OK;
}

enum cidr_parse_err cidr_make(uint32_t ip, unsigned len, struct cidr *out)
{
	if (len > 32)
		return CIDR_BAD_PREFIX;
	out->len = (uint8_t)len;
	out->addr = ip & cidr_mask(out->len);
	return out->addr == ip ? CIDR_OK : CIDR_HOST_BITS;
}

enum cidr_parse_err cidr_parse(const char *s, struct cidr *out)
{
	uint32_t ip;
	unsigned len;
	if (!s)
		return CIDR_BAD_SYNTAX;
	const char *end = s + strlen(s);
	enum cidr_parse_err e = cidr_scan(&s, end, &ip, &len);
	if (e)
		return e;
	return s != end ? CIDR_BAD_SYNTAX : cidr_make(ip, len, out);
}

const char *cidr_parse_strerror(enum cidr_parse_err e)
{
	switch (e) {
	case CIDR_OK:
		return "ok";
	case CIDR_BAD_SYNTAX:
		return "not an IPv4 CIDR block like 10.0.0.0/16";
	case CIDR_BAD_PREFIX:
		return "prefix length must be between 0 and 32";
	case CIDR_HOST_BITS:
		return "has bits set after the prefix";
	}
	return "?";
}

char *ip_fmt(uint32_t ip, char buf[IP_STR_MAX])
{
	snprintf(buf, IP_STR_MAX, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
		 ip & 255);
	return buf;
}

char *cidr_fmt(struct cidr c, char buf[CIDR_STR_MAX])
{
	char ip[IP_STR_MAX];
	snprintf(buf, CIDR_STR_MAX, "%s/%u", ip_fmt(c.addr, ip), c.len);
	return buf;
}
