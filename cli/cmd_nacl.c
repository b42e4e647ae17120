/* Network ACL verbs: each is one edit of the desired state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpcctl.h"

static json_t *find_nacl(struct cli *c, const char *vpc, const char *name, json_t **vpc_out)
{
	json_t *res = call(c, json_pack("{s:s,s:s}", "op", "show", "vpc", vpc));
	json_t *v = json_array_get(json_object_get(res, "vpcs"), 0), *n;
	size_t i;
	json_array_foreach(json_object_get(v, "network_acls"), i, n)
		if (!strcmp(json_string_value(json_object_get(n, "name")), name)) {
			*vpc_out = res;
			return n;
		}
	json_decref(res);
	fprintf(stderr, "vpcctl: error: no network ACL named \"%s\" in VPC %s\n", name, vpc);
	exit(EXIT_REFUSED);
}

static void rule_row(struct table *t, const char *dir, const json_t *r)
{
	char num[16], type[16] = "", pk[24] = "-", by[24] = "-";
	const json_t *n = json_object_get(r, "rule");
	if (json_is_integer(n))
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(n));
	else
		snprintf(num, sizeof(num), "%s", json_string_value(n));
	if (json_object_get(r, "icmp_type"))
		snprintf(type, sizeof(type), "%lld/%s",
			 (long long)json_integer_value(json_object_get(r, "icmp_type")),
			 json_object_get(r, "icmp_code") ? "" : "any");
	if (json_object_get(r, "icmp_code"))
		snprintf(type + strlen(type), sizeof(type) - strlen(type), "%lld",
			 (long long)json_integer_value(json_object_get(r, "icmp_code")));
	if (json_is_integer(json_object_get(r, "packets"))) {
		snprintf(pk, sizeof(pk), "%lld", (long long)json_integer_value(json_object_get(r, "packets")));
		snprintf(by, sizeof(by), "%lld", (long long)json_integer_value(json_object_get(r, "bytes")));
	}
	table_row(t, dir, num, json_string_value(json_object_get(r, "protocol")),
		  json_object_get(r, "ports") ? json_string_value(json_object_get(r, "ports")) : type,
		  json_string_value(json_object_get(r, "cidr")),
		  json_string_value(json_object_get(r, "action")), pk, by);
}

/* Prints a NACL's rules with their counters (shared with `vpcctl show`). */
void print_nacl(const json_t *n, const char *indent)
{
	char subnets[256] = "";
	json_t *s;
	size_t i;
	json_array_foreach(json_object_get(n, "subnets"), i, s)
		snprintf(subnets + strlen(subnets), sizeof(subnets) - strlen(subnets), "%s%s",
			 i ? ", " : "", json_string_value(s));
	printf("%snetwork ACL %s%s (subnets: %s)\n", indent, json_string_value(json_object_get(n, "name")),
	       json_is_true(json_object_get(n, "default")) ? " [default]" : "",
	       subnets[0] ? subnets : "none");
	struct table *t = table_new(8, "DIRECTION", "RULE", "PROTOCOL", "PORTS/ICMP", "CIDR", "ACTION",
				    "PACKETS", "BYTES");
	json_array_foreach(json_object_get(n, "inbound"), i, s)
		rule_row(t, i ? "" : "inbound", s);
	json_array_foreach(json_object_get(n, "outbound"), i, s)
		rule_row(t, i ? "" : "outbound", s);
	char in2[32];
	snprintf(in2, sizeof(in2), "%s  ", indent);
	table_print(t, stdout, in2);
}

int cmd_nacl_create(struct cli *c, struct args *a)
{
	if (!strcmp(a->pos[1], "default")) {
		fprintf(stderr, "vpcctl: error: every VPC has its default network ACL already; edit "
				"its entries (vpcctl nacl entry add %s default ...)\n",
			a->pos[0]);
		return EXIT_REFUSED;
	}
	json_t *o = json_pack("{s:s}", "name", a->pos[1]);
	return edit_call(c, json_pack("{s:s,s:o,s:o}", "op", "add", "path",
				      path_of("vpcs", a->pos[0], "network_acls", NULL), "object", o));
}

int cmd_nacl_delete(struct cli *c, struct args *a)
{
	if (!strcmp(a->pos[1], "default")) {
		fprintf(stderr, "vpcctl: error: a VPC's default network ACL cannot be deleted; edit its "
				"entries instead (vpcctl nacl load %s default -f FILE)\n",
			a->pos[0]);
		return EXIT_REFUSED;
	}
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("vpcs", a->pos[0], "network_acls", a->pos[1], NULL)));
}

int cmd_nacl_list(struct cli *c, struct args *a)
{
	json_t *res = call(c, json_pack("{s:s,s:s}", "op", "show", "vpc", a->pos[0]));
	json_t *nacls = json_object_get(json_array_get(json_object_get(res, "vpcs"), 0), "network_acls"), *n;
	size_t i;
	if (c->json) {
		print_json(nacls);
	} else {
		struct table *t = table_new(5, "NETWORK ACL", "DEFAULT", "SUBNETS", "INBOUND", "OUTBOUND");
		json_array_foreach(nacls, i, n)
		{
			char sub[16], in[16], out[16];
			/* The final "*" rule is listed too; count only numbered ones. */
			snprintf(sub, sizeof(sub), "%zu", json_array_size(json_object_get(n, "subnets")));
			snprintf(in, sizeof(in), "%zu", json_array_size(json_object_get(n, "inbound")) - 1);
			snprintf(out, sizeof(out), "%zu", json_array_size(json_object_get(n, "outbound")) - 1);
			table_row(t, json_string_value(json_object_get(n, "name")),
				  json_is_true(json_object_get(n, "default")) ? "yes" : "no", sub, in, out);
		}
		table_print(t, stdout, "");
	}
	json_decref(res);
	return 0;
}

int cmd_nacl_show(struct cli *c, struct args *a)
{
	json_t *res;
	json_t *n = find_nacl(c, a->pos[0], a->pos[1], &res);
	if (c->json)
		print_json(n);
	else
		print_nacl(n, "");
	json_decref(res);
	return 0;
}

static const char *direction(struct args *a)
{
	bool in = OPT(a, "inbound") != NULL, out = OPT(a, "outbound") != NULL;
	if (in == out) {
		fprintf(stderr, "vpcctl %s: give exactly one of --inbound or --outbound\n",
			current_verb->name);
		exit(EXIT_USAGE);
	}
	return in ? "inbound" : "outbound";
}

/* Numbers stay numbers in the file, so vpcd's messages name the same values. */
static json_t *number_or_string(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	return *s && !*end ? json_integer(n) : json_string(s);
}

/* The entry an `add` or `replace` describes. */
static json_t *entry_of(struct args *a)
{
	json_t *o = json_pack("{s:o,s:o,s:s,s:s}", "rule", number_or_string(need(a, "rule")),
			      "protocol", number_or_string(need(a, "protocol")), "cidr", need(a, "cidr"),
			      "action", need(a, "action"));
	if (OPT(a, "ports"))
		json_object_set_new(o, "ports", json_string(OPT(a, "ports")));
	if (OPT(a, "icmp-type"))
		json_object_set_new(o, "icmp_type", number_or_string(OPT(a, "icmp-type")));
	if (OPT(a, "icmp-code"))
		json_object_set_new(o, "icmp_code", number_or_string(OPT(a, "icmp-code")));
	return o;
}

int cmd_nacl_entry_add(struct cli *c, struct args *a)
{
	const char *dir = direction(a);
	return edit_call(c, json_pack("{s:s,s:o,s:o}", "op", "add", "path",
				      path_of("vpcs", a->pos[0], "network_acls", a->pos[1], dir, NULL),
				      "object", entry_of(a)));
}

int cmd_nacl_entry_replace(struct cli *c, struct args *a)
{
	const char *dir = direction(a);
	return edit_call(c, json_pack("{s:s,s:o,s:o}", "op", "replace", "path",
				      path_of("vpcs", a->pos[0], "network_acls", a->pos[1], dir,
					      need(a, "rule"), NULL),
				      "object", entry_of(a)));
}

int cmd_nacl_entry_remove(struct cli *c, struct args *a)
{
	const char *dir = direction(a);
	return edit_call(c, json_pack("{s:s,s:o}", "op", "remove", "path",
				      path_of("vpcs", a->pos[0], "network_acls", a->pos[1], dir,
					      need(a, "rule"), NULL)));
}

/* The ports|icmp column of an entry in the text form: what `nacl load` reads. */
static void l4_column(const json_t *r, char *buf, size_t len)
{
	const json_t *type = json_object_get(r, "icmp_type"), *code = json_object_get(r, "icmp_code");
	if (json_object_get(r, "ports"))
		snprintf(buf, len, "%s", json_string_value(json_object_get(r, "ports")));
	else if (type && code)
		snprintf(buf, len, "%lld/%lld", (long long)json_integer_value(type),
			 (long long)json_integer_value(code));
	else if (type)
		snprintf(buf, len, "%lld", (long long)json_integer_value(type));
	else
		snprintf(buf, len, "-");
}

int cmd_nacl_export(struct cli *c, struct args *a)
{
	json_t *res;
	const json_t *n = find_nacl(c, a->pos[0], a->pos[1], &res), *r;
	size_t i;
	printf("# network ACL %s of VPC %s; load with: vpcctl nacl load %s %s -f FILE\n", a->pos[1],
	       a->pos[0], a->pos[0], a->pos[1]);
	printf("# direction\trule\tprotocol\tports|icmp\tcidr\taction\n");
	for (int out = 0; out < 2; out++)
		json_array_foreach(json_object_get(n, out ? "outbound" : "inbound"), i, r)
		{
			char l4[32];
			if (!json_is_integer(json_object_get(r, "rule")))
				continue; /* the final "*" deny: implied, not an entry */
			l4_column(r, l4, sizeof(l4));
			printf("%s\t%lld\t%s\t%s\t%s\t%s\n", out ? "outbound" : "inbound",
			       (long long)json_integer_value(json_object_get(r, "rule")),
			       json_string_value(json_object_get(r, "protocol")), l4,
			       json_string_value(json_object_get(r, "cidr")),
			       json_string_value(json_object_get(r, "action")));
		}
	json_decref(res);
	return 0;
}

int cmd_nacl_load(struct cli *c, struct args *a)
{
	const char *file;
	size_t len = 0;
	char *text = NULL;
	/* A regular file goes to vpcd open, and vpcd reads it: 10,000 entries then
	 * cost neither a copy here nor a trip through the socket. So does standard
	 * input (in a memory file when it is a pipe). Anything else is read here and
	 * sent after the request. */
	int fd = file_fd(a);
	if (fd < 0)
		text = file_opt(a, &file, &len);
	/* The request object on a line of its own, then the entries as they are:
	 * vpcd reads them, and names the line of any fault. */
	json_t *h = json_pack("{s:s,s:s,s:s,s:b}", "op", fd >= 0 ? "nacl_load_file" : "nacl_load",
			      "vpc", a->pos[0], "nacl", a->pos[1], "dry_run", OPT(a, "dry-run") != NULL);
	char *head = json_dumps(h, JSON_COMPACT);
	size_t hl = head ? strlen(head) : 0;
	json_decref(h);
	if (!head || !(head = realloc(head, hl + 2))) {
		fprintf(stderr, "vpcctl: out of memory\n");
		return EXIT_REFUSED;
	}
	memcpy(head + hl, "\n", 2);
	json_t *res = reply_result(fd >= 0 ? call_text_fd(c, head, hl + 1, fd)
					   : call_around(c, head, text, len, ""));
	if (fd >= 0)
		close(fd);
	free(head);
	free(text);
	print_change(c, res);
	json_decref(res);
	return 0;
}

int cmd_nacl_associate(struct cli *c, struct args *a)
{
	return edit_call(c, json_pack("{s:s,s:o,s:s,s:s}", "op", "set", "path",
				      path_of("vpcs", a->pos[0], "subnets", a->pos[1], NULL), "key",
				      "network_acl", "value", a->pos[2]));
}

int cmd_instance_set(struct cli *c, struct args *a)
{
	const char *sdc = OPT(a, "source-dest-check");
	if (!sdc) {
		fprintf(stderr, "vpcctl instance set: nothing to set (see --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(sdc, "on") && strcmp(sdc, "off")) {
		fprintf(stderr, "vpcctl instance set: --source-dest-check takes on or off\n");
		return EXIT_USAGE;
	}
	return edit_call(c, json_pack("{s:s,s:o,s:s,s:b}", "op", "set", "path",
				      path_of("vpcs", a->pos[0], "instances", a->pos[1], NULL), "key",
				      "source_dest_check", "value", !strcmp(sdc, "on")));
}
