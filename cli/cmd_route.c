/* Route-table verbs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcctl.h"

int cmd_rt_create(struct cli *c, struct args *a)
{
	json_t *o = json_pack("{s:s}", "name", a->pos[1]);
	if (OPT(a, "main"))
		json_object_set_new(o, "main", json_true());
	return edit_call(c, json_pack("{s:s,s:o,s:o}", "op", "add", "path",
				      path_of("vpcs", a->pos[0], "route_tables", NULL), "object", o));
}

int cmd_rt_delete(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("vpcs", a->pos[0], "route_tables", a->pos[1], NULL)));
}

static json_t *tables_of(struct cli *c, const char *vpc, json_t **res)
{
	*res = call(c, json_pack("{s:s,s:s}", "op", "show", "vpc", vpc));
	return json_object_get(json_array_get(json_object_get(*res, "vpcs"), 0), "route_tables");
}

int cmd_rt_list(struct cli *c, struct args *a)
{
	json_t *res, *ts = tables_of(c, a->pos[0], &res), *t, *s;
	json_t *subnets = json_object_get(json_array_get(json_object_get(res, "vpcs"), 0), "subnets");
	size_t i, k;
	if (c->json) {
		print_json(ts);
	} else {
		struct table *tb = table_new(4, "ROUTE TABLE", "MAIN", "ROUTES", "SUBNETS");
		json_array_foreach(ts, i, t)
		{
			char n[16], sn[256] = "";
			const char *name = json_string_value(json_object_get(t, "name"));
			snprintf(n, sizeof(n), "%zu", json_array_size(json_object_get(t, "routes")));
			json_array_foreach(subnets, k, s)
				if (!strcmp(json_string_value(json_object_get(s, "route_table")), name))
					snprintf(sn + strlen(sn), sizeof(sn) - strlen(sn), "%s%s",
						 sn[0] ? "," : "", json_string_value(json_object_get(s, "name")));
			table_row(tb, name, json_is_true(json_object_get(t, "main")) ? "yes" : "no", n, sn);
		}
		table_print(tb, stdout, "");
	}
	json_decref(res);
	return 0;
}

int cmd_rt_show(struct cli *c, struct args *a)
{
	json_t *res, *ts = tables_of(c, a->pos[0], &res), *t;
	size_t i;
	json_array_foreach(ts, i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "name")), a->pos[1]))
			continue;
		if (c->json) {
			print_json(t);
		} else {
			json_t *r;
			size_t k;
			struct table *tb = table_new(2, "DESTINATION", "TARGET");
			json_array_foreach(json_object_get(t, "routes"), k, r)
				table_row(tb, json_string_value(json_object_get(r, "destination")),
					  json_string_value(json_object_get(r, "target")));
			table_print(tb, stdout, "");
		}
		json_decref(res);
		return 0;
	}
	json_decref(res);
	fprintf(stderr, "vpcctl: error: no route table named \"%s\" in VPC %s\n", a->pos[1], a->pos[0]);
	return EXIT_REFUSED;
}

static json_t *route_of(struct args *a)
{
	return json_pack("{s:s,s:s}", "destination", need(a, "destination"), "target",
			 need(a, "target"));
}

int cmd_route_add(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o,s:o}", "op", "add", "path",
				      path_of("vpcs", a->pos[0], "route_tables", a->pos[1], "routes", NULL),
				      "object", route_of(a)));
}

int cmd_route_replace(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o,s:o}", "op", "replace", "path",
				      path_of("vpcs", a->pos[0], "route_tables", a->pos[1], "routes",
					      need(a, "destination"), NULL),
				      "object", route_of(a)));
}

int cmd_route_remove(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("vpcs", a->pos[0], "route_tables", a->pos[1], "routes",
					      need(a, "destination"), NULL)));
}

int cmd_rt_associate(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o,s:s,s:s}", "op", "set", "path",
				      path_of("vpcs", a->pos[0], "subnets", a->pos[1], NULL), "key",
				      "route_table", "value", a->pos[2]));
}
