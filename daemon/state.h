/* The desired state on disk: one JSON file, replaced atomically. */
#ifndef VPCD_STATE_H
#define VPCD_STATE_H

#include <jansson.h>

#include "vpc/err.h"

/* A missing file is an empty state. */
int state_load(const char *path, json_t **desired, json_t **alloc, struct vpc_err *err);
/* write temp, fsync, rename, fsync the directory */
int state_save(const char *path, const json_t *desired, const json_t *alloc);

#endif
