#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vpc/err.h"

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0. Stops at a NUL. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n = 0;
	if (c < 0x80)
		n = 1;
	else if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
		return 0;
	return n;
}

/* `s` into dst[cap] as valid UTF-8, so that it can go into a JSON reply: a byte
 * that starts no valid sequence (a NACL text may hold any) is written as \xNN,
 * and the copy ends early rather than cut a character or an escape in two. */
static void utf8_copy(char *dst, size_t cap, const char *s)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_seq(p);
		if (n ? o + n >= cap : o + 4 >= cap)
			break;
		if (n) {
			memcpy(dst + o, p, n);
			o += n;
			p += n;
		} else {
			snprintf(dst + o, 5, "\\x%02x", *p++);
			o += 4;
		}
	}
	dst[o] = 0;
}

int vpc_vfail(struct vpc_err *e, const char *code, const char *path, const char *fmt, va_list ap)
{
	/* Keep the first error: it is the cause, later ones are consequences. */
	if (e && !e->code[0]) {
		char msg[4 * sizeof(e->msg)];
		vsnprintf(msg, sizeof(msg), fmt, ap);
		snprintf(e->code, sizeof(e->code), "%s", code);
		utf8_copy(e->path, sizeof(e->path), path ? path : "");
		utf8_copy(e->msg, sizeof(e->msg), msg);
	}
	return -EINVAL;
}

int vpc_fail(struct vpc_err *e, const char *code, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpc_vfail(e, code, path, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void vpc_err_clear(struct vpc_err *e)
{
	memset(e, 0, sizeof(*e));
}

const char *vpc_err_str(const struct vpc_err *e, char *buf, unsigned len)
{
	if (e->path[0])
		snprintf(buf, len, "%s: %s", e->path, e->msg);
	else
		snprintf(buf, len, "%s", e->msg);
	return buf;
}
