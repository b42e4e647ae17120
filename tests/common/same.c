#include "same.h"
#include "vpc/nacl.h"

bool same_nacls(const struct topology *a, const struct topology *b)
{
	if (a->n_vpcs != b->n_vpcs)
		return false;
	for (size_t v = 0; v < a->n_vpcs; v++) {
		if (a->vpcs[v].n_nacls != b->vpcs[v].n_nacls)
			return false;
		for (size_t k = 0; k < a->vpcs[v].n_nacls; k++) {
			const struct nacl *x = &a->vpcs[v].nacls[k], *y = &b->vpcs[v].nacls[k];
			if (!nacl_rules_equal(x->in, x->n_in, y->in, y->n_in) ||
			    !nacl_rules_equal(x->out, x->n_out, y->out, y->n_out) ||
			    x->hash_in != y->hash_in || x->hash_out != y->hash_out)
				return false;
		}
	}
	return true;
}
