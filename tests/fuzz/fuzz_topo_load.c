/*
 * Fuzz target: a topology file as vpcd reads it (topo_load: plain NACL lists
 * scanned straight into rules, the rest by jansson) against jansson's reading of
 * the whole file. They must agree: the same refusal (text, line, column), or the
 * same document once the lists are put back, compiled to the same model with the
 * same error, if any.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "same.h"
#include "vpc/nacl.h"
#include "vpc/topo.h"

/* The place of `want` in `in`, followed in `other`, which has the same shape. */
static json_t *same_place(json_t *in, const json_t *want, json_t *other)
{
	if (in == want)
		return other;
	if (json_is_array(in)) {
		for (size_t i = 0; i < json_array_size(in); i++) {
			json_t *r =
			    same_place(json_array_get(in, i), want, json_array_get(other, i));
			if (r)
				return r;
		}
	} else if (json_is_object(in)) {
		const char *k;
		json_t *v;
		json_object_foreach(in, k, v)
		{
			json_t *r = same_place(v, want, json_object_get(other, k));
			if (r)
				return r;
		}
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0; /* topo_load's sentinel */
	struct nacl_lists ls;
	json_error_t je, want;
	json_t *got = topo_load(text, size, &ls, &je),
	       *ref = json_loadb(text, size, JSON_REJECT_DUPLICATES, &want);
	MUST(!got == !ref, "topo_load %s, jansson %s (\"%s\")", got ? "read it" : "refused it",
	     ref ? "read it" : "refused it", got ? want.text : je.text);
	if (!got) {
		MUST(!strcmp(je.text, want.text) && je.line == want.line &&
		         je.column == want.column && je.position == want.position,
		     "\"%s\" at %d:%d (%d), jansson \"%s\" at %d:%d (%d)", je.text, je.line,
		     je.column, je.position, want.text, want.line, want.column, want.position);
		free(text);
		return 0;
	}
	/* Compiled: the lists read apart set into the model afterwards, as vpcd does. */
	struct compile_opts o = {.features = FEAT_ALL};
	struct topology *a = NULL, *b = NULL;
	struct vpc_err ea = {0}, eb = {0};
	int ra = topo_compile(ref, &o, &a, &ea), rb = topo_compile(got, &o, &b, &eb);
	MUST(ra == rb && !strcmp(ea.path, eb.path) && !strcmp(ea.msg, eb.msg),
	     "jansson's document: %d %s: %s; topo_load's: %d %s: %s", ra, ea.path, ea.msg, rb,
	     eb.path, eb.msg);
	for (size_t i = 0; i < ls.n; i++) {
		struct nacl_list *l = &ls.l[i];
		const char *dir = l->out ? "outbound" : "inbound";
		MUST(l->n > 0 && json_is_array(json_object_get(l->obj, dir)) &&
		         !json_array_size(json_object_get(l->obj, dir)),
		     "list %zu of NACL %s: not left empty in the document", i, l->nacl);
		if (b) {
			int vi = topo_find_vpc(b, l->vpc);
			int ni = vi < 0 ? -1 : vpc_find_nacl(&b->vpcs[vi], l->nacl);
			MUST(ni >= 0, "NACL %s of %s not in the model", l->nacl, l->vpc);
			topo_nacl_set(b, vi, ni, l->out, l->r, l->n);
		}
		json_t *theirs = same_place(got, l->obj, ref);
		MUST(theirs, "NACL %s of %s not in jansson's document", l->nacl, l->vpc);
		json_object_set(l->obj, dir, json_object_get(theirs, dir));
	}
	MUST(json_equal(got, ref), "the documents differ beyond the lists read apart");
	if (a && b)
		MUST(same_nacls(a, b), "the models' NACLs differ");
	topo_free(a);
	topo_free(b);
	nacl_lists_free(&ls);
	json_decref(got);
	json_decref(ref);
	free(text);
	return 0;
}
