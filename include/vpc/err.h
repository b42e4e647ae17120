/* Error reporting shared by the pure core, the daemon and the API boundary. */
#ifndef VPC_ERR_H
#define VPC_ERR_H

#include <stdarg.h>

/* Error codes as they appear in API replies ("code" field). */
#define VPC_E_INVALID	  "invalid"	  /* the request or topology is wrong */
#define VPC_E_NOT_JSON	  "not_json"	  /* the request is not JSON (duplicate keys included) */
#define VPC_E_NOT_FOUND	  "not_found"	  /* a named object does not exist */
#define VPC_E_CONFLICT	  "conflict"	  /* it exists already / is in use */
#define VPC_E_UNSUPPORTED "not_supported" /* valid, but not realized yet */
#define VPC_E_KERNEL	  "kernel"	  /* the kernel refused; rolled back */
#define VPC_E_INTERNAL	  "internal"

struct vpc_err {
	char code[16];
	char path[160]; /* JSON path of the offending value, "" if none */
	char msg[512];
};

/* Record the first error only; returns -EINVAL so callers can `return vpc_fail(...)`.
 * Path and message are kept as valid UTF-8 (a reply is JSON): a stray byte of
 * what a user wrote is shown as \xNN. */
int vpc_fail(struct vpc_err *e, const char *code, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int vpc_vfail(struct vpc_err *e, const char *code, const char *path, const char *fmt, va_list ap);
void vpc_err_clear(struct vpc_err *e);
/* "path: message" or just the message. */
const char *vpc_err_str(const struct vpc_err *e, char *buf, unsigned len);

#endif
