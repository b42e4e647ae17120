#include <stdlib.h>

#include "test.h"

int t_run, t_failed;

int main(void)
{
	test_cidr();
	test_topo();
	test_plan();
	test_edit();
	test_nacl();
	test_sg();
	printf("%d checks, %d failed\n", t_run, t_failed);
	return t_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
