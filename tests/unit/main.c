#include <stdlib.h>

#include "par.h"
#include "test.h"
#include "vpc/topo.h"

int t_run, t_failed;

struct topology *compile_or_die(const char *text)
{
	json_error_t je;
	struct vpc_err err;
	struct topology *t = NULL;
	json_t *doc = json_loads(text, 0, &je);
	struct compile_opts o = {.features = FEAT_ALL};
	if (!doc || topo_compile(doc, &o, &t, &err)) {
		fprintf(stderr, "compile failed: %s %s\n", doc ? err.path : "", doc ? err.msg : je.text);
		abort();
	}
	json_decref(doc);
	return t;
}

void with_helper(const char *name, void (*fn)(void), const unsigned long *joined)
{
	unsigned long before = *joined;
	CHECK_INT(par_enable(true), 0);
	/* Three times, and more (up to 50) while the helper has not been quick
	 * enough to be taken once: a busy host may keep it from starting. */
	for (int k = 0; k < 3 || (k < 50 && *joined == before && par_running()); k++) {
		if (k % 2)
			par_warm(); /* as vpcd does when a large request comes */
		fn();
	}
	bool helper = par_running();
	par_enable(false);
	if (!helper) {
		printf("%s: one CPU only, no helper thread: its half not checked\n", name);
		return;
	}
	if (*joined == before)
		fprintf(stderr, "%s: the helper thread's half was never taken\n", name);
	CHECK(*joined > before);
}

int main(void)
{
	test_cidr();
	test_err();
	test_topo();
	test_plan();
	test_edit();
	test_rule_memo();
	test_rule_memo_places();
	test_edit_index();
	test_edit_nacl_entries_only();
	test_nacl();
	test_nacl_diff();
	test_nacl_text();
	test_topo_load();
	test_sg();
	test_par();
	printf("%d checks, %d failed\n", t_run, t_failed);
	return t_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
