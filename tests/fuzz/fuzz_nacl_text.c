/*
 * Fuzz target: the text form of a NACL's entries (`vpcctl nacl load`).
 * - A text is read, or refused with an error on a line ("line N...").
 * - The fast path (lines in the form `export` writes, read straight from the
 *   text) changes nothing: read with it off, the text gives the same rules or the
 *   same error.
 * - What is read means what the same rules written in a topology file mean:
 *   written out as a file writes them and compiled, they come back the same.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "topo_internal.h"
#include "vpc/nacl.h"
#include "vpc/topo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	struct nacl_entries e = {0}, slow = {0};
	struct vpc_err err = {0}, slow_err = {0};
	int r = nacl_text_parse(text, size, &e, &err);
	nacl_text_fast = false;
	int slow_r = nacl_text_parse(text, size, &slow, &slow_err);
	nacl_text_fast = true;
	free(text);
	MUST(r == slow_r && !strcmp(err.path, slow_err.path) && !strcmp(err.msg, slow_err.msg),
	     "with the fast path: %d %s: %s; without: %d %s: %s", r, err.path, err.msg, slow_r,
	     slow_err.path, slow_err.msg);
	MUST(nacl_rules_equal(e.in, e.n_in, slow.in, slow.n_in) &&
	         nacl_rules_equal(e.out, e.n_out, slow.out, slow.n_out),
	     "other rules without the fast path");
	free(slow.in);
	free(slow.out);
	if (r) {
		MUST(!strncmp(err.path, "line ", 5) && *err.msg, "refused with \"%s: %s\"",
		     err.path, err.msg);
		MUST(!e.in && !e.out, "refused, yet rules were left");
		return 0;
	}
	json_t *doc = json_pack("{s:[{s:s,s:s,s:[{s:s,s:o,s:o}]}]}", "vpcs", "name", "v", "cidr",
	                        "10.0.0.0/16", "network_acls", "name", "n", "inbound",
	                        topo_nacl_rules_json(e.in, e.n_in), "outbound",
	                        topo_nacl_rules_json(e.out, e.n_out));
	struct compile_opts o = {.features = FEAT_ALL};
	struct topology *t = NULL;
	r = topo_compile(doc, &o, &t, &err);
	MUST(!r, "read as text, refused in a file: %s: %s", err.path, err.msg);
	int ni = vpc_find_nacl(&t->vpcs[0], "n");
	MUST(ni >= 0, "the NACL is not in the model");
	const struct nacl *n = &t->vpcs[0].nacls[ni];
	MUST(nacl_rules_equal(e.in, e.n_in, n->in, n->n_in), "inbound: other rules in the file");
	MUST(nacl_rules_equal(e.out, e.n_out, n->out, n->n_out),
	     "outbound: other rules in the file");
	topo_free(t);
	json_decref(doc);
	free(e.in);
	free(e.out);
	return 0;
}
