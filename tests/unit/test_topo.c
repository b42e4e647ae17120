/* Validation and compilation of topology files. */
#include <stdlib.h>

#include "test.h"
#include "vpc/topo.h"

static struct topology *compile_ok(const char *text, unsigned features, const json_t *prev)
{
	json_error_t je;
	struct vpc_err err;
	struct topology *t = NULL;
	json_t *doc = json_loads(text, 0, &je);
	struct compile_opts o = {.features = features, .prev_alloc = prev};
	CHECK(doc != NULL);
	if (!doc)
		return NULL;
	int r = topo_compile(doc, &o, &t, &err);
	if (r)
		fprintf(stderr, "unexpected error: %s: %s\n", err.path, err.msg);
	CHECK_INT(r, 0);
	json_decref(doc);
	return t;
}

/* Compiles `text` expecting an error: checks code, path and message exactly. */
static void bad(int line, const char *text, unsigned features, const char *code, const char *path,
		const char *msg)
{
	json_error_t je;
	struct vpc_err err;
	struct topology *t = NULL;
	json_t *doc = json_loads(text, 0, &je);
	struct compile_opts o = {.features = features};
	if (!doc) {
		fprintf(stderr, "line %d: test JSON does not parse: %s\n", line, je.text);
		t_failed++;
		return;
	}
	int r = topo_compile(doc, &o, &t, &err);
	json_decref(doc);
	t_run++;
	if (!r) {
		fprintf(stderr, "line %d: accepted, want %s: %s\n", line, path, msg);
		t_failed++;
		topo_free(t);
		return;
	}
	if (strcmp(err.code, code) || strcmp(err.path, path) || strcmp(err.msg, msg)) {
		fprintf(stderr, "line %d:\n  got  [%s] %s: %s\n  want [%s] %s: %s\n", line, err.code,
			err.path, err.msg, code, path, msg);
		t_failed++;
	}
}
#define BAD(text, path, msg)		 bad(__LINE__, text, FEAT_ALL, VPC_E_INVALID, path, msg)
#define BAD_F(text, feats, code, path, msg) bad(__LINE__, text, feats, code, path, msg)

#define VPC(body) "{\"vpcs\":[{\"name\":\"shop\",\"cidr\":\"10.0.0.0/16\"" body "}]}"
#define SUBNETS                                                                                   \
	",\"subnets\":[{\"name\":\"public\",\"cidr\":\"10.0.1.0/24\"},"                          \
	"{\"name\":\"private\",\"cidr\":\"10.0.2.0/24\"}]"

static void test_bad_inputs(void)
{
	/* Document shape. */
	BAD("[]", "", "a topology must be a JSON object");
	BAD("{\"vpc\":[]}", "vpc", "unknown key (allowed here: vpcs, peerings, elastic_ips, internet)");
	BAD("{\"vpcs\":{}}", "vpcs", "must be an array");
	BAD("{\"vpcs\":[42]}", "vpcs[0]", "must be a JSON object");
	/* Names. */
	BAD("{\"vpcs\":[{\"cidr\":\"10.0.0.0/16\"}]}", "vpcs[0].name", "is required");
	BAD("{\"vpcs\":[{\"name\":\"my shop\",\"cidr\":\"10.0.0.0/16\"}]}", "vpcs[0].name",
	    "\"my shop\" is not a valid name: use 1-32 letters, digits, '-' or '_', starting with a "
	    "letter or digit");
	BAD("{\"vpcs\":[{\"name\":\"shop.eu\",\"cidr\":\"10.0.0.0/16\"}]}", "vpcs[0].name",
	    "\"shop.eu\" is not a valid name: use 1-32 letters, digits, '-' or '_', starting with a "
	    "letter or digit");
	BAD("{\"vpcs\":[{\"name\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"cidr\":\"10.0.0.0/16\"}]}",
	    "vpcs[0].name",
	    "\"abcdefghijklmnopqrstuvwxyz0123456\" is not a valid name: use 1-32 letters, digits, "
	    "'-' or '_', starting with a letter or digit");
	BAD("{\"vpcs\":[{\"name\":\"-x\",\"cidr\":\"10.0.0.0/16\"}]}", "vpcs[0].name",
	    "\"-x\" is not a valid name: use 1-32 letters, digits, '-' or '_', starting with a "
	    "letter or digit");
	BAD("{\"vpcs\":[{\"name\":42,\"cidr\":\"10.0.0.0/16\"}]}", "vpcs[0].name", "must be a string");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/16\"},{\"name\":\"a\",\"cidr\":\"10.1.0.0/16\"}]}",
	    "vpcs[1].name", "duplicate VPC name \"a\"");
	BAD("{\"vpcs\":[{\"name\":\"internet\",\"cidr\":\"10.0.0.0/16\"}]}", "vpcs[0].name",
	    "\"internet\" is reserved for the simulated internet");
	/* CIDRs. */
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0/16\"}]}", "vpcs[0].cidr",
	    "\"10.0.0/16\" is not an IPv4 CIDR block like 10.0.0.0/16");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/40\"}]}", "vpcs[0].cidr",
	    "\"10.0.0.0/40\" is not a valid CIDR: the prefix length must be 0-32");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.5.0/16\"}]}", "vpcs[0].cidr",
	    "\"10.0.5.0/16\" has bits set after the prefix; did you mean 10.0.0.0/16?");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/8\"}]}", "vpcs[0].cidr",
	    "VPC CIDR 10.0.0.0/8 is too large: the prefix must be between /16 and /28");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/29\"}]}", "vpcs[0].cidr",
	    "VPC CIDR 10.0.0.0/29 is too small: the prefix must be between /16 and /28");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"198.51.100.0/24\"}]}", "vpcs[0].cidr",
	    "VPC CIDR 198.51.100.0/24 overlaps the simulated internet's addresses");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.1.3.0/24\"}]"), "vpcs[0].subnets[0].cidr",
	    "subnet 10.1.3.0/24 is not inside VPC shop (10.0.0.0/16)");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"t\",\"cidr\":"
		"\"10.0.1.128/25\"}]"),
	    "vpcs[0].subnets[1].cidr", "subnet t (10.0.1.128/25) overlaps subnet s (10.0.1.0/24)");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/29\"}]"), "vpcs[0].subnets[0].cidr",
	    "subnet CIDR 10.0.1.0/29 is too small: the prefix must be between /16 and /28");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/24\",\"cidrr\":1}]"),
	    "vpcs[0].subnets[0].cidrr",
	    "unknown key (allowed here: name, cidr, route_table, network_acl, description)");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"s\",\"cidr\":"
		"\"10.0.2.0/24\"}]"),
	    "vpcs[0].subnets[1].name", "duplicate subnet name \"s\"");
	/* Instances and addresses. */
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"pub\"}]"),
	    "vpcs[0].instances[0].subnet", "no subnet named \"pub\" in VPC shop");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\"}]"), "vpcs[0].instances[0].subnet",
	    "is required");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"private_ip\":"
			"\"10.0.1.1\"}]"),
	    "vpcs[0].instances[0].private_ip",
	    "10.0.1.1 is reserved in subnet public (10.0.1.0/24): the first four addresses and the "
	    "last one belong to the VPC");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"private_ip\":"
			"\"10.0.1.255\"}]"),
	    "vpcs[0].instances[0].private_ip",
	    "10.0.1.255 is reserved in subnet public (10.0.1.0/24): the first four addresses and the "
	    "last one belong to the VPC");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"private_ip\":"
			"\"10.0.2.10\"}]"),
	    "vpcs[0].instances[0].private_ip", "10.0.2.10 is not inside subnet public (10.0.1.0/24)");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"private_ip\":"
			"\"10.0.1.300\"}]"),
	    "vpcs[0].instances[0].private_ip", "\"10.0.1.300\" is not an IPv4 address");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"private_ip\":"
			"\"10.0.1.010\"}]"),
	    "vpcs[0].instances[0].private_ip",
	    "\"10.0.1.010\" is not an IPv4 address (octets take no leading zeros)");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"private_ip\":"
			"\"10.0.1.10\"},{\"name\":\"b\",\"subnet\":\"public\",\"private_ip\":"
			"\"10.0.1.10\"}]"),
	    "vpcs[0].instances[1].private_ip", "10.0.1.10 is already used by instance a");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\"},{\"name\":\"a\","
			"\"subnet\":\"private\"}]"),
	    "vpcs[0].instances[1].name", "duplicate instance name \"a\"");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/28\"}],\"instances\":["
		"{\"name\":\"i1\",\"subnet\":\"s\"},{\"name\":\"i2\",\"subnet\":\"s\"},"
		"{\"name\":\"i3\",\"subnet\":\"s\"},{\"name\":\"i4\",\"subnet\":\"s\"},"
		"{\"name\":\"i5\",\"subnet\":\"s\"},{\"name\":\"i6\",\"subnet\":\"s\"},"
		"{\"name\":\"i7\",\"subnet\":\"s\"},{\"name\":\"i8\",\"subnet\":\"s\"},"
		"{\"name\":\"i9\",\"subnet\":\"s\"},{\"name\":\"i10\",\"subnet\":\"s\"},"
		"{\"name\":\"i11\",\"subnet\":\"s\"},{\"name\":\"i12\",\"subnet\":\"s\"}]"),
	    "vpcs[0].instances[11].subnet", "subnet s (10.0.1.0/28) has no free address left for instance i12: it has 11 usable "
		"addresses");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"public_ip\":\"yes\"}]"),
	    "vpcs[0].instances[0].public_ip", "must be true or false");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"public_ip\":true}]"),
	    "vpcs[0].instances[0].public_ip",
	    "VPC shop has no internet gateway to give instance a a public IP (set "
	    "\"internet_gateway\": true)");
	BAD(VPC(SUBNETS ",\"instances\":[{\"name\":\"a\",\"subnet\":\"public\",\"security_groups\":"
			"[\"web\"]}]"),
	    "vpcs[0].instances[0].security_groups[0]", "no security group named \"web\" in VPC shop");
	/* Network ACLs. */
#define NACL(rules) VPC(",\"network_acls\":[{\"name\":\"web\",\"inbound\":[" rules "]}]")
	BAD(NACL("{\"rule\":0,\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].rule", "0 is out of range 1-32766");
	BAD(NACL("{\"rule\":32767,\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].rule", "32767 is out of range 1-32766");
	BAD(NACL("{\"rule\":100,\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"},"
		 "{\"rule\":100,\"protocol\":\"udp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"deny\"}"),
	    "vpcs[0].network_acls[0].inbound[1].rule", "rule number 100 appears twice in inbound");
	BAD(NACL("{\"rule\":\"100\",\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].rule", "must be an integer");
	BAD(NACL("{\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].rule", "is required (a number 1-32766)");
	BAD(NACL("{\"rule\":1,\"protocol\":\"tcpp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].protocol",
	    "\"tcpp\" is not a protocol: use tcp, udp, icmp, all or a number 0-255");
	BAD(NACL("{\"rule\":1,\"protocol\":300,\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].protocol",
	    "300 is not a protocol number: use 0-255 or -1 for all");
	BAD(NACL("{\"rule\":1,\"protocol\":\"tcp\",\"ports\":\"80-20\",\"cidr\":\"0.0.0.0/0\","
		 "\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].ports",
	    "\"80-20\" is not a port range: use N or N-M with 0 <= N <= M <= 65535");
	BAD(NACL("{\"rule\":1,\"protocol\":\"tcp\",\"ports\":\"70000\",\"cidr\":\"0.0.0.0/0\","
		 "\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].ports",
	    "\"70000\" is not a port range: use N or N-M with 0 <= N <= M <= 65535");
	BAD(NACL("{\"rule\":1,\"protocol\":\"icmp\",\"ports\":\"80\",\"cidr\":\"0.0.0.0/0\","
		 "\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].ports", "ports only apply to protocol tcp or udp");
	BAD(NACL("{\"rule\":1,\"protocol\":\"tcp\",\"icmp_type\":8,\"cidr\":\"0.0.0.0/0\","
		 "\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].icmp_type", "only applies to protocol icmp");
	BAD(NACL("{\"rule\":1,\"protocol\":\"icmp\",\"icmp_type\":256,\"cidr\":\"0.0.0.0/0\","
		 "\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].icmp_type", "256 is out of range -1-255");
	BAD(NACL("{\"rule\":1,\"protocol\":\"icmp\",\"icmp_code\":0,\"cidr\":\"0.0.0.0/0\","
		 "\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].icmp_code", "needs an icmp_type");
	BAD(NACL("{\"rule\":1,\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"permit\"}"),
	    "vpcs[0].network_acls[0].inbound[0].action", "\"permit\" must be \"allow\" or \"deny\"");
	BAD(NACL("{\"rule\":1,\"protocol\":\"tcp\",\"cidr\":\"1.2.3.4\",\"action\":\"allow\"}"),
	    "vpcs[0].network_acls[0].inbound[0].cidr",
	    "\"1.2.3.4\" is not an IPv4 CIDR block like 10.0.0.0/16");
	BAD(NACL("{\"rule\":1,\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\","
		 "\"port\":80}"),
	    "vpcs[0].network_acls[0].inbound[0].port",
	    "unknown key (allowed here: rule, protocol, ports, icmp_type, icmp_code, cidr, action, "
	    "description)");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/24\",\"network_acl\":\"x\"}]"),
	    "vpcs[0].subnets[0].network_acl", "no network ACL named \"x\" in VPC shop");
	/* Security groups. */
#define SG(rules) VPC(",\"security_groups\":[{\"name\":\"web\",\"ingress\":[" rules "]}]")
	BAD(SG("{\"protocol\":\"tcp\",\"ports\":\"80\"}"), "vpcs[0].security_groups[0].ingress[0]",
	    "needs exactly one of \"cidr\" or \"source_group\"");
	BAD(SG("{\"protocol\":\"tcp\",\"ports\":\"80\",\"cidr\":\"0.0.0.0/0\",\"source_group\":\"web\"}"),
	    "vpcs[0].security_groups[0].ingress[0]",
	    "needs exactly one of \"cidr\" or \"source_group\"");
	BAD(SG("{\"protocol\":\"tcp\",\"source_group\":\"nope\"}"),
	    "vpcs[0].security_groups[0].ingress[0].source_group",
	    "no security group named \"nope\" in VPC shop");
	BAD(SG("{\"protocol\":\"tcp\",\"destination_group\":\"web\"}"),
	    "vpcs[0].security_groups[0].ingress[0].destination_group",
	    "an ingress rule names its group with \"source_group\"");
	BAD(SG("{\"protocol\":\"tcp\",\"source_group\":\"lab/web\"}"),
	    "vpcs[0].security_groups[0].ingress[0].source_group", "no VPC named \"lab\"");
	/* Route tables. */
	BAD(VPC(",\"route_tables\":[{\"name\":\"a\",\"routes\":[{\"destination\":\"0.0.0.0/0\","
		"\"target\":\"igw\"}]}]"),
	    "vpcs[0].route_tables[0].routes[0].target",
	    "VPC shop has no internet gateway (set \"internet_gateway\": true)");
	BAD(VPC(",\"route_tables\":[{\"name\":\"a\",\"routes\":[{\"destination\":\"0.0.0.0/0\","
		"\"target\":\"gateway\"}]}]"),
	    "vpcs[0].route_tables[0].routes[0].target",
	    "\"gateway\" is not a route target: use igw, nat-gateway:NAME, peering:NAME, "
	    "instance:NAME or blackhole");
	BAD(VPC(",\"route_tables\":[{\"name\":\"a\",\"routes\":[{\"destination\":\"0.0.0.0/0\","
		"\"target\":\"nat-gateway:n1\"}]}]"),
	    "vpcs[0].route_tables[0].routes[0].target", "no NAT gateway named \"n1\" in VPC shop");
	BAD(VPC(",\"route_tables\":[{\"name\":\"a\",\"routes\":[{\"destination\":\"10.0.0.0/16\","
		"\"target\":\"blackhole\"}]}]"),
	    "vpcs[0].route_tables[0].routes[0].destination",
	    "route table a: 10.0.0.0/16 is the VPC's local route and cannot be replaced");
	BAD(VPC(",\"route_tables\":[{\"name\":\"a\",\"main\":true},{\"name\":\"b\",\"main\":true}]"),
	    "vpcs[0].route_tables[1].main",
	    "route tables a and b are both marked main; a VPC has one main table");
	BAD(VPC(",\"subnets\":[{\"name\":\"s\",\"cidr\":\"10.0.1.0/24\",\"route_table\":\"x\"}]"),
	    "vpcs[0].subnets[0].route_table", "no route table named \"x\" in VPC shop");
	/* Peerings. */
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/16\"},{\"name\":\"b\",\"cidr\":"
	    "\"10.0.0.0/16\"}],\"peerings\":[{\"name\":\"p\",\"vpcs\":[\"a\",\"b\"]}]}",
	    "peerings[0].vpcs",
	    "VPC a (10.0.0.0/16) and VPC b (10.0.0.0/16) overlap; peered VPCs need non-overlapping "
	    "CIDRs");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/16\"}],\"peerings\":[{\"name\":\"p\","
	    "\"vpcs\":[\"a\",\"z\"]}]}",
	    "peerings[0].vpcs[1]", "no VPC named \"z\"");
	BAD("{\"vpcs\":[{\"name\":\"a\",\"cidr\":\"10.0.0.0/16\"}],\"peerings\":[{\"name\":\"p\","
	    "\"vpcs\":[\"a\",\"a\"]}]}",
	    "peerings[0].vpcs", "a VPC cannot be peered with itself");

	/* Features not realized yet are refused, never ignored. */
	BAD_F(NACL("{\"rule\":1,\"protocol\":\"tcp\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}"), 0,
	      VPC_E_UNSUPPORTED, "vpcs[0].network_acls[0]",
	      "network ACLs are not supported yet by this version of vpcd");
	BAD_F(VPC(",\"internet_gateway\":true"), 0, VPC_E_UNSUPPORTED, "vpcs[0].internet_gateway",
	      "internet gateways are not supported yet by this version of vpcd");
}

static const char *lab =
	"{\"vpcs\":[{\"name\":\"lab\",\"cidr\":\"10.0.0.0/16\",\"subnets\":["
	"{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
	"\"instances\":[{\"name\":\"x\",\"subnet\":\"a\"},{\"name\":\"y\",\"subnet\":\"a\","
	"\"private_ip\":\"10.0.1.4\"},{\"name\":\"z\",\"subnet\":\"b\"}]}]}";

static void test_compile_and_alloc(void)
{
	struct topology *t = compile_ok(lab, 0, NULL);
	if (!t)
		return;
	const struct vpc *v = &t->vpcs[0];
	CHECK_INT(t->n_vpcs, 1);
	CHECK_INT(v->n_subnets, 2);
	CHECK_INT(v->n_instances, 3);
	/* The explicit address is taken first; x gets the next free one. */
	CHECK_INT(v->instances[1].private_ip, 0x0a000104);
	CHECK_INT(v->instances[0].private_ip, 0x0a000105);
	CHECK_INT(v->instances[2].private_ip, 0x0a000204);
	CHECK_INT(v->instances[0].id, 1);
	CHECK_INT(v->instances[2].id, 3);
	CHECK_INT(v->instances[0].mac[0], 0x0a);
	CHECK_INT(v->instances[0].mac[5], 0x05);
	/* Implicit objects with their fixed names. */
	CHECK_STR(v->nacls[v->default_nacl].name, "default");
	CHECK_INT(v->nacls[v->default_nacl].n_in, 1);
	CHECK(v->nacls[v->default_nacl].in[0].allow);
	CHECK_STR(v->sgs[v->default_sg].name, "default");
	CHECK(v->sgs[v->default_sg].in[0].is_group);
	CHECK_STR(v->route_tables[v->main_route_table].name, "main");
	CHECK_INT(v->route_tables[v->main_route_table].n_routes, 1);
	CHECK_INT(v->route_tables[v->main_route_table].routes[0].target, RT_LOCAL);
	CHECK_INT(v->instances[0].n_sgs, 1);
	CHECK_INT(v->instances[0].sgs[0], v->default_sg);
	CHECK(v->instances[0].source_dest_check);

	/* Re-compiling with the allocations keeps every address, even when the file
	 * order changes and a new instance arrives first. */
	json_t *alloc = topo_alloc_json(t);
	const char *edited =
		"{\"vpcs\":[{\"name\":\"lab\",\"cidr\":\"10.0.0.0/16\",\"subnets\":["
		"{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
		"\"instances\":[{\"name\":\"new\",\"subnet\":\"a\"},{\"name\":\"z\",\"subnet\":\"b\"},"
		"{\"name\":\"x\",\"subnet\":\"a\"}]}]}";
	struct topology *t2 = compile_ok(edited, 0, alloc);
	if (t2) {
		const struct vpc *v2 = &t2->vpcs[0];
		CHECK_INT(v2->instances[2].private_ip, 0x0a000105); /* x kept */
		CHECK_INT(v2->instances[2].id, 1);
		CHECK_INT(v2->instances[1].private_ip, 0x0a000204); /* z kept */
		CHECK_INT(v2->instances[1].id, 3);
		CHECK_INT(v2->instances[0].private_ip, 0x0a000104); /* y's old address is free */
		CHECK_INT(v2->instances[0].id, 2);
		topo_free(t2);
	}
	/* An instance moved to another subnet gets an address there. */
	const char *moved =
		"{\"vpcs\":[{\"name\":\"lab\",\"cidr\":\"10.0.0.0/16\",\"subnets\":["
		"{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":\"10.0.2.0/24\"}],"
		"\"instances\":[{\"name\":\"x\",\"subnet\":\"b\"},{\"name\":\"z\",\"subnet\":\"b\"}]}]}";
	t2 = compile_ok(moved, 0, alloc);
	if (t2) {
		CHECK_INT(t2->vpcs[0].instances[0].private_ip, 0x0a000205);
		CHECK_INT(t2->vpcs[0].instances[1].private_ip, 0x0a000204);
		topo_free(t2);
	}
	json_decref(alloc);
	topo_free(t);
}

static void test_rules(void)
{
	const char *text =
		"{\"vpcs\":[{\"name\":\"v\",\"cidr\":\"10.0.0.0/16\",\"network_acls\":[{\"name\":"
		"\"web\",\"inbound\":[{\"rule\":200,\"protocol\":\"tcp\",\"ports\":\"1024-65535\","
		"\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"},{\"rule\":100,\"protocol\":6,\"ports\":80,"
		"\"cidr\":\"0.0.0.0/0\",\"action\":\"deny\"},{\"rule\":50,\"protocol\":\"icmp\","
		"\"icmp_type\":8,\"icmp_code\":0,\"cidr\":\"192.0.2.0/24\",\"action\":\"allow\"},"
		"{\"rule\":7,\"protocol\":\"47\",\"cidr\":\"0.0.0.0/0\",\"action\":\"allow\"}]}],"
		"\"security_groups\":[{\"name\":\"db\",\"ingress\":[{\"protocol\":\"tcp\",\"ports\":"
		"\"5432\",\"source_group\":\"web\"}],\"egress\":[]},{\"name\":\"web\"}]}]}";
	struct topology *t = compile_ok(text, FEAT_ALL, NULL);
	if (!t)
		return;
	const struct vpc *v = &t->vpcs[0];
	const struct nacl *n = &v->nacls[0];
	CHECK_INT(v->n_nacls, 2); /* web + implicit default */
	CHECK_INT(n->n_in, 4);
	CHECK_INT(n->n_out, 0); /* a custom NACL denies until rules are added */
	CHECK_INT(n->in[0].number, 7); /* sorted by number */
	CHECK_INT(n->in[0].m.proto, 47);
	CHECK_INT(n->in[1].m.icmp_type, 8);
	CHECK_INT(n->in[1].m.icmp_code, 0);
	CHECK_INT(n->in[2].m.port_lo, 80);
	CHECK_INT(n->in[2].m.port_hi, 80);
	CHECK(!n->in[2].allow);
	CHECK_INT(n->in[3].m.port_lo, 1024);
	CHECK_INT(n->in[3].m.port_hi, 65535);
	const struct sg *db = &v->sgs[0], *web = &v->sgs[1];
	CHECK_INT(db->n_out, 0); /* "egress": [] allows none */
	CHECK_INT(web->n_out, 1); /* no "egress": allow all */
	CHECK_INT(web->out[0].m.proto, PROTO_ALL);
	CHECK_INT(web->n_in, 0);
	CHECK(db->in[0].is_group);
	CHECK_INT(db->in[0].group, 1);
	CHECK_INT(db->in[0].group_vpc, 0);
	topo_free(t);
}

/* A file may redefine the default group, even in terms of itself. */
static void test_redefined_default(void)
{
	struct topology *t = compile_ok(
		"{\"vpcs\":[{\"name\":\"v\",\"cidr\":\"10.0.0.0/16\",\"security_groups\":[{\"name\":"
		"\"default\",\"ingress\":[{\"protocol\":\"all\",\"source_group\":\"default\"},"
		"{\"protocol\":\"icmp\",\"cidr\":\"10.0.0.0/16\"}]}]}]}",
		FEAT_ALL, NULL);
	if (!t)
		return;
	const struct sg *d = &t->vpcs[0].sgs[t->vpcs[0].default_sg];
	CHECK(!d->implicit);
	CHECK_INT(d->n_in, 2);
	CHECK_INT(d->n_out, 1);
	CHECK_INT(t->vpcs[0].n_sgs, 1);
	topo_free(t);
}

static void test_show_roundtrip(void)
{
	struct topology *t = compile_ok(lab, 0, NULL);
	if (!t)
		return;
	json_t *j = topo_show_json(t, -1);
	json_t *inst = json_array_get(json_object_get(json_array_get(json_object_get(j, "vpcs"), 0),
						      "instances"),
				      0);
	CHECK_STR(json_string_value(json_object_get(inst, "private_ip")), "10.0.1.5");
	CHECK_STR(json_string_value(json_object_get(inst, "namespace")), "vpc.lab.i.x");
	CHECK_STR(json_string_value(json_object_get(inst, "mac")), "0a:58:0a:00:01:05");
	json_decref(j);
	topo_free(t);
}

void test_topo(void)
{
	test_bad_inputs();
	test_compile_and_alloc();
	test_rules();
	test_redefined_default();
	test_show_roundtrip();
}
