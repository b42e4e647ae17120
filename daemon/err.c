#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vpc/err.h"

int vpc_vfail(struct vpc_err *e, const char *code, const char *path, const char *fmt, va_list ap)
{
	/* Keep the first error: it is the cause, later ones are consequences. */
	if (e && !e->code[0]) {
		snprintf(e->code, sizeof(e->code), "%s", code);
		snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
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
