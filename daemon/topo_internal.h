/* Shared between the topology compiler's files; not part of the public API. */
#ifndef VPC_TOPO_INTERNAL_H
#define VPC_TOPO_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "vpc/arena.h"
#include "vpc/err.h"
#include "vpc/model.h"

/* A JSON path built on the stack and formatted only when an error needs it. */
struct jpath {
	const struct jpath *up;
	const char *key; /* NULL: array element `idx` */
	size_t idx;
};
#define JP_KEY(parent, k) ((struct jpath){.up = (parent), .key = (k)})
#define JP_IDX(parent, i) ((struct jpath){.up = (parent), .idx = (i)})

struct cctx {
	struct arena *a;
	struct vpc_err *err;
	unsigned features;
	struct topology *t;
	const struct topology *prev; /* its rule memo, if any */
};

void jpath_fmt(const struct jpath *p, char *buf, size_t len);
int cfail(struct cctx *c, const struct jpath *p, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Allocation pass (topo_alloc.c): ids and addresses, given the previous allocations. */
int topo_allocate(struct cctx *c, const json_t *doc, const json_t *prev_alloc);

#endif
