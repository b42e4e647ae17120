/* Bump allocator: a compiled model lives in one arena and is freed at once. */
#ifndef VPC_ARENA_H
#define VPC_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);
/* Zeroed memory; aborts on out-of-memory (a model is small next to RAM). */
void *arena_alloc(struct arena *a, size_t size);
#define arena_array(a, type, n) ((type *)arena_alloc((a), sizeof(type) * (n)))
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
