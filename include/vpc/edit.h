/*
 * Edits of the desired-state JSON: merging a topology file, destroying VPCs, and the
 * path-addressed add/remove/set behind every imperative vpcctl verb. Pure code; the
 * result is compiled and applied like any topology file.
 *
 * A path alternates collection keys and element ids, e.g.
 *   ["vpcs", "shop", "subnets", "public"]
 *   ["vpcs", "shop", "network_acls", "web", "inbound", "100"]
 * Elements are found by "name", except NACL entries (by "rule"), routes (by
 * "destination"), elastic IPs (by "address"); group rules have no id and are removed
 * by matching their content.
 */
#ifndef VPC_EDIT_H
#define VPC_EDIT_H

#include <jansson.h>
#include <stdbool.h>

#include "vpc/err.h"

/* Puts the file's VPCs, peerings and elastic IPs into `desired`, replacing those
 * of the same name; with `prune`, `desired` becomes exactly the file. */
int edit_merge(json_t *desired, const json_t *file, bool prune, struct vpc_err *err);
/* Removes a VPC (or all when vpc == NULL) with the peerings that name it, the
 * associations of elastic IPs to its instances, and what other VPCs say about
 * it: routes to those peerings and group rules naming its groups. */
int edit_destroy(json_t *desired, const char *vpc, struct vpc_err *err);
/* The element with id `id` of the collection `key` of `obj` (as a path names
 * them: "vpcs", "network_acls"...), or NULL. Reads, changes nothing. */
json_t *edit_element(const json_t *obj, const char *key, const char *id);
/* Optional help in finding elements without reading them all (10,000 NACL entries
 * are slow to read one by one, and the compiled state knows where each one is). */
struct edit_index {
	/* The element with id `id` in the collection path[0..n) of the state being
	 * edited: returns true with *elem set (NULL: there is none), or false when it
	 * cannot tell. */
	bool (*find)(void *arg, const json_t *path, size_t n, const char *id, const json_t **elem);
	void *arg;
};

/* The edits by path below change only what lies on the path, and copy it first:
 * `desired` may be a shallow copy (json_copy) of a state that must not change.
 * `ix` may be NULL. */
int edit_add(json_t *desired, const json_t *path, json_t *object, const struct edit_index *ix,
	     struct vpc_err *err);
int edit_remove(json_t *desired, const json_t *path, const json_t *match,
		const struct edit_index *ix, struct vpc_err *err);
/* Replaces the element at `path` (which must exist) with `object`. */
int edit_replace(json_t *desired, const json_t *path, json_t *object, const struct edit_index *ix,
		 struct vpc_err *err);
/* Sets (or with value == NULL removes) member `key` of the element at `path`. */
int edit_set(json_t *desired, const json_t *path, const char *key, json_t *value,
	     struct vpc_err *err);

/* The VPC whose NACL entries are all that tells `next` from `prev` (a name held
 * by `next`): both states alike but for the inbound and outbound lists of NACLs
 * of that one VPC. NULL when they are alike in full, or differ anywhere else. */
const char *edit_nacl_entries_only(const json_t *prev, const json_t *next);

#endif
