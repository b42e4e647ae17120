/* The JSON API on the UNIX socket: one request, one reply, per connection. */
#ifndef VPCD_API_H
#define VPCD_API_H

#include <jansson.h>

#include "core.h"

/* Handles one request; always returns a reply object ({"ok": ...}). */
json_t *api_handle(struct vpcd *d, const json_t *req);
json_t *api_error(const struct vpc_err *e);

#endif
