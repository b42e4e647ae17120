/* Small helpers shared by the daemon's files. */
#ifndef VPC_UTIL_H
#define VPC_UTIL_H

#include <stdlib.h>

/* bsearch/qsort on possibly empty (NULL) arrays: the C library declares its
 * array argument non-null even when there is nothing to look at. */
static inline void *bsearch0(const void *key, const void *base, size_t n, size_t size,
			     int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

static inline void qsort0(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

#endif
