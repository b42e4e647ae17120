/*
 * Fuzz target: what the API does with a topology and an edit of it. The input
 * is an edit request on its first line, as vpcctl sends one ({"op": "add" |
 * "remove" | "replace" | "set" | "merge", "path", "object", "match", "key",
 * "value", "prune"}), then a topology document: the state being edited.
 *
 * - The document compiles, or is refused with a path and a message.
 * - Compiled again with its own allocations, it gets the same ones.
 * - The edit is made on a shallow copy, as vpcd makes it: whether it succeeds or
 *   fails, the state it was copied from is unchanged (vpcd keeps using it).
 * - The edited state compiles to the same result whether or not the compiler
 *   may take the rules it had read from the unchanged parts (compile_opts.prev).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "same.h"
#include "vpc/edit.h"
#include "vpc/topo.h"

static int edit(json_t *next, const json_t *req, struct vpc_err *err)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const json_t *path = json_object_get(req, "path");
	json_t *object = json_object_get(req, "object");
	if (!op)
		return -1;
	if (!strcmp(op, "add"))
		return edit_add(next, path, object, NULL, err);
	if (!strcmp(op, "remove"))
		return edit_remove(next, path, json_object_get(req, "match"), NULL, err);
	if (!strcmp(op, "replace"))
		return edit_replace(next, path, object, NULL, err);
	if (!strcmp(op, "merge"))
		return edit_merge(next, object, json_is_true(json_object_get(req, "prune")), err);
	if (!strcmp(op, "set")) {
		const char *key = json_string_value(json_object_get(req, "key"));
		json_t *value = json_object_get(req, "value");
		return key ? edit_set(next, path, key, json_is_null(value) ? NULL : value, err)
		           : -1;
	}
	return -1;
}

/* Compiles `doc` with and without `prev`: the same outcome. The model, or NULL. */
static struct topology *compile_both(const json_t *doc, const struct topology *prev)
{
	struct compile_opts o = {.features = FEAT_ALL};
	struct topology *a = NULL, *b = NULL;
	struct vpc_err ea = {0}, eb = {0};
	int ra = topo_compile(doc, &o, &a, &ea);
	MUST(ra || a, "compiled, yet no model");
	MUST(!ra || (*ea.code && *ea.msg), "refused without a code or message");
	if (prev) {
		o.prev = prev;
		int rb = topo_compile(doc, &o, &b, &eb);
		MUST(ra == rb && !strcmp(ea.path, eb.path) && !strcmp(ea.msg, eb.msg),
		     "%d %s: %s without the previous model, %d %s: %s with it", ra, ea.path, ea.msg,
		     rb, eb.path, eb.msg);
		MUST(!a || same_nacls(a, b), "other NACL rules with the previous model");
		topo_free(b);
	}
	return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nl = memchr(text, '\n', size);
	if (!nl)
		return 0;
	json_error_t je;
	json_t *req = json_loadb(text, (size_t)(nl - text), JSON_REJECT_DUPLICATES, &je),
	       *doc =
	           json_loadb(nl + 1, size - (size_t)(nl + 1 - text), JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		json_decref(req);
		return 0;
	}
	struct topology *t = compile_both(doc, NULL);
	if (t) {
		json_t *alloc = topo_alloc_json(t), *show = topo_show_json(t, -1);
		struct compile_opts o = {.features = FEAT_ALL, .prev_alloc = alloc};
		struct topology *again = NULL;
		struct vpc_err err = {0};
		MUST(!topo_compile(doc, &o, &again, &err),
		     "refused with its own allocations: %s: %s", err.path, err.msg);
		json_t *alloc2 = topo_alloc_json(again);
		MUST(json_equal(alloc, alloc2), "other allocations the second time");
		MUST(show, "no show document");
		json_decref(alloc2);
		json_decref(show);
		json_decref(alloc);
		topo_free(again);
	}
	if (json_is_object(req)) {
		json_t *keep = json_deep_copy(doc), *next = json_copy(doc);
		struct vpc_err err = {0};
		int r = edit(next, req, &err);
		MUST(json_equal(doc, keep), "the edit (%s) changed the state it had a copy of",
		     r ? "refused" : "made");
		if (!r)
			topo_free(compile_both(next, t));
		json_decref(next);
		json_decref(keep);
	}
	topo_free(t);
	json_decref(doc);
	json_decref(req);
	return 0;
}
