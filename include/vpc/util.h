/* Small helpers shared by the daemon's files. */
#ifndef VPC_UTIL_H
#define VPC_UTIL_H

#include <stdint.h>
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

static inline int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* FNV-1a: content hashes that name NACL tables, sets and chains. */
#define FNV0 0xcbf29ce484222325ULL
static inline uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif
