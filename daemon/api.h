/* The JSON API on the UNIX socket: one request, one reply, per connection. */
#ifndef VPCD_API_H
#define VPCD_API_H

#include <jansson.h>

#include "core.h"

/* Handles one request; always returns a reply object ({"ok": ...}). A request is
 * one JSON object; only "nacl_load" has more after it, its entries as text
 * (`payload`, `len` bytes; otherwise len is 0). "nacl_load_file" has them in the
 * open file `attached` that came with the request (-1: none; the caller closes
 * it). */
json_t *api_handle(struct vpcd *d, const json_t *req, const char *payload, size_t len,
		   int attached);
json_t *api_error(const struct vpc_err *e);

#endif
