/* Comparisons shared by the unit tests and the fuzz targets. */
#ifndef VPC_TEST_SAME_H
#define VPC_TEST_SAME_H

#include <stdbool.h>

#include "vpc/topo.h"

/* Whether two models have the same VPCs' NACLs, rule for rule and hash for hash
 * (how a document read by topo_load() is checked against jansson's reading). */
bool same_nacls(const struct topology *a, const struct topology *b);

#endif
