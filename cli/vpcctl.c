/* vpcctl: the command line of vpcd. One table of verbs, one function per verb. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpc/names.h"
#include "vpcctl.h"

#ifndef VPCD_VERSION
#define VPCD_VERSION "0"
#endif

static const struct optspec apply_opts[] = {
	{"file", true, "the topology file (- for standard input); also -f"},
	{"prune", false, "also destroy VPCs and peerings the file does not name"},
	{"dry-run", false, "print the kernel operations without doing them"},
	{NULL, false, NULL},
};
static const struct optspec destroy_opts[] = {
	{"all", false, "destroy every VPC"},
	{NULL, false, NULL},
};
static const struct optspec vpc_create_opts[] = {
	{"cidr", true, "the VPC's IPv4 block, /16 to /28 (required)"},
	{"internet-gateway", false, "attach an internet gateway"},
	{NULL, false, NULL},
};
static const struct optspec subnet_create_opts[] = {
	{"cidr", true, "the subnet's block inside the VPC, /16 to /28 (required)"},
	{"route-table", true, "associate this route table (default: the main table)"},
	{"network-acl", true, "associate this network ACL (default: the VPC's default)"},
	{NULL, false, NULL},
};
static const struct optspec instance_create_opts[] = {
	{"subnet", true, "the subnet to launch into (required)"},
	{"ip", true, "the private IP (default: the first free address)"},
	{"security-groups", true, "comma-separated groups (default: the VPC's default group)"},
	{"public-ip", false, "assign a public IP from the pool"},
	{"no-source-dest-check", false, "allow sending with other source addresses"},
	{NULL, false, NULL},
};

static const struct optspec entry_opts[] = {
	{"inbound", false, "an inbound entry (traffic entering the subnet)"},
	{"outbound", false, "an outbound entry (traffic leaving the subnet)"},
	{"rule", true, "rule number 1-32766; lowest number is evaluated first"},
	{"protocol", true, "tcp, udp, icmp, all or a protocol number"},
	{"ports", true, "destination port or range, e.g. 80 or 1024-65535 (tcp/udp)"},
	{"icmp-type", true, "ICMP type (icmp; -1 for any)"},
	{"icmp-code", true, "ICMP code (icmp; -1 for any)"},
	{"cidr", true, "the remote block, e.g. 0.0.0.0/0"},
	{"action", true, "allow or deny"},
	{NULL, false, NULL},
};
static const struct optspec entry_remove_opts[] = {
	{"inbound", false, "an inbound entry"},
	{"outbound", false, "an outbound entry"},
	{"rule", true, "the rule number to remove"},
	{NULL, false, NULL},
};
static const struct optspec nacl_load_opts[] = {
	{"file", true, "the entries, one a line (- for standard input); also -f"},
	{"dry-run", false, "print the kernel operations without doing them"},
	{NULL, false, NULL},
};
static const struct optspec instance_set_opts[] = {
	{"source-dest-check", true, "on (default) or off, e.g. for NAT or appliance instances"},
	{NULL, false, NULL},
};

static const struct optspec sg_create_opts[] = {
	{"no-egress", false, "start with no egress rules (default: allow all outbound)"},
	{NULL, false, NULL},
};
static const struct optspec sg_rule_opts[] = {
	{"ingress", false, "an inbound rule (who may connect to members)"},
	{"egress", false, "an outbound rule (where members may connect)"},
	{"protocol", true, "tcp, udp, icmp, all or a protocol number"},
	{"ports", true, "port or range, e.g. 22 or 1024-65535 (tcp/udp; default all)"},
	{"icmp-type", true, "ICMP type (icmp)"},
	{"icmp-code", true, "ICMP code (icmp)"},
	{"cidr", true, "the peer block, e.g. 0.0.0.0/0"},
	{"group", true, "the peer group (its members' private IPs), e.g. web or VPC/web"},
	{NULL, false, NULL},
};

static const struct optspec rt_create_opts[] = {
	{"main", false, "make it the main table (used by subnets with no association)"},
	{NULL, false, NULL},
};
static const struct optspec route_opts[] = {
	{"destination", true, "the destination block, e.g. 0.0.0.0/0"},
	{"target", true, "igw, nat-gateway:NAME, peering:NAME, instance:NAME or blackhole"},
	{NULL, false, NULL},
};
static const struct optspec route_remove_opts[] = {
	{"destination", true, "the destination of the route to remove"},
	{NULL, false, NULL},
};

static const struct optspec vpc_set_opts[] = {
	{"internet-gateway", true, "on to attach an internet gateway, off to detach it"},
	{NULL, false, NULL},
};
static const struct optspec natgw_opts[] = {
	{"subnet", true, "the (public) subnet it lives in (required)"},
	{NULL, false, NULL},
};

static const struct verb verbs[] = {
	{"apply", cmd_apply, "-f FILE", 0, 0, apply_opts,
	 "Create or update VPCs to match a topology file. VPCs in the file are made exactly\n"
	 "as it says; others are left alone (unless --prune). Applying the same file again\n"
	 "changes nothing.",
	 false},
	{"destroy", cmd_destroy, "VPC | --all", 0, 1, destroy_opts,
	 "Tear down a VPC (or all of them), leaving no namespace or link behind.", false},
	{"show", cmd_show, "[VPC]", 0, 1, NULL,
	 "Show VPCs, subnets, instances (private and public IPs), network ACLs, groups and\n"
	 "routes.",
	 true},
	{"exec", cmd_exec, "VPC/INSTANCE|internet -- COMMAND [ARG...]", 1, 1, NULL,
	 "Run a command inside an instance's network namespace (or on the simulated\n"
	 "internet). Standard input, output and the exit code pass through.",
	 false},
	{"reconcile", cmd_reconcile, NULL, 0, 0, NULL,
	 "Check the kernel against the desired state now and repair any drift.", true},
	{"status", cmd_status, NULL, 0, 0, NULL, "Show whether vpcd runs and what it holds.", true},
	{"vpc create", cmd_vpc_create, "NAME", 1, 1, vpc_create_opts, "Create an empty VPC.", false},
	{"vpc delete", cmd_vpc_delete, "NAME", 1, 1, NULL, "Delete a VPC (same as destroy).", false},
	{"vpc list", cmd_vpc_list, NULL, 0, 0, NULL, "List VPCs.", true},
	{"vpc set", cmd_vpc_set, "NAME", 1, 1, vpc_set_opts, "Attach or detach the internet gateway.",
	 false},
	{"subnet create", cmd_subnet_create, "VPC NAME", 2, 2, subnet_create_opts,
	 "Create a subnet in a VPC.", false},
	{"subnet delete", cmd_subnet_delete, "VPC NAME", 2, 2, NULL,
	 "Delete a subnet (it must have no instances).", false},
	{"subnet list", cmd_subnet_list, "VPC", 1, 1, NULL, "List a VPC's subnets.", true},
	{"instance create", cmd_instance_create, "VPC NAME", 2, 2, instance_create_opts,
	 "Launch an instance (a network namespace) into a subnet.", false},
	{"instance delete", cmd_instance_delete, "VPC NAME", 2, 2, NULL, "Terminate an instance.",
	 false},
	{"instance list", cmd_instance_list, "VPC", 1, 1, NULL, "List a VPC's instances.", true},
	{"instance set", cmd_instance_set, "VPC NAME", 2, 2, instance_set_opts,
	 "Change an instance's settings without rebuilding it.", false},
	{"instance groups", cmd_instance_groups, "VPC NAME GROUP[,GROUP...]", 3, 3, NULL,
	 "Set an instance's security groups (their rules are a union).", false},
	{"sg create", cmd_sg_create, "VPC NAME", 2, 2, sg_create_opts,
	 "Create a security group: no inbound rules, all outbound allowed.", false},
	{"sg delete", cmd_sg_delete, "VPC NAME", 2, 2, NULL,
	 "Delete a security group (no instance may use it).", false},
	{"sg list", cmd_sg_list, "VPC", 1, 1, NULL, "List a VPC's security groups.", true},
	{"sg show", cmd_sg_show, "VPC NAME", 2, 2, NULL, "Show a security group's rules and members.",
	 true},
	{"sg rule add", cmd_sg_rule_add, "VPC GROUP", 2, 2, sg_rule_opts,
	 "Allow traffic. Groups are stateful: replies are always allowed, and changing\n"
	 "a rule never cuts a connection already established.",
	 false},
	{"sg rule remove", cmd_sg_rule_remove, "VPC GROUP", 2, 2, sg_rule_opts,
	 "Remove the rule the options describe.", false},
	{"route-table create", cmd_rt_create, "VPC NAME", 2, 2, rt_create_opts,
	 "Create a route table. It holds the VPC's local route from the start.", false},
	{"route-table delete", cmd_rt_delete, "VPC NAME", 2, 2, NULL,
	 "Delete a route table (no subnet may use it).", false},
	{"route-table list", cmd_rt_list, "VPC", 1, 1, NULL, "List a VPC's route tables.", true},
	{"route-table show", cmd_rt_show, "VPC NAME", 2, 2, NULL, "Show a route table's routes.",
	 true},
	{"route-table associate", cmd_rt_associate, "VPC SUBNET TABLE", 3, 3, NULL,
	 "Associate a subnet with a route table (\"main\" for the main table). A subnet\n"
	 "whose table routes to the internet gateway is public.",
	 false},
	{"route add", cmd_route_add, "VPC TABLE", 2, 2, route_opts,
	 "Add a route. The longest matching prefix wins.", false},
	{"route replace", cmd_route_replace, "VPC TABLE", 2, 2, route_opts,
	 "Replace the route to a destination.", false},
	{"route remove", cmd_route_remove, "VPC TABLE", 2, 2, route_remove_opts,
	 "Remove the route to a destination.", false},
	{"nat-gateway create", cmd_natgw_create, "VPC NAME", 2, 2, natgw_opts,
	 "Create a NAT gateway (with its own public IP) in a public subnet. Private\n"
	 "subnets route 0.0.0.0/0 to nat-gateway:NAME to reach the internet through it.",
	 false},
	{"nat-gateway delete", cmd_natgw_delete, "VPC NAME", 2, 2, NULL, "Delete a NAT gateway.",
	 false},
	{"nat-gateway list", cmd_natgw_list, "VPC", 1, 1, NULL, "List a VPC's NAT gateways.", true},
	{"eip allocate", cmd_eip_allocate, NULL, 0, 0, NULL,
	 "Allocate an elastic IP from the public pool and print it.", true},
	{"eip release", cmd_eip_release, "ADDRESS", 1, 1, NULL, "Give an elastic IP back.", false},
	{"eip associate", cmd_eip_associate, "ADDRESS VPC/INSTANCE", 2, 2, NULL,
	 "Give an instance the elastic IP (moving it if another instance had it).", false},
	{"eip disassociate", cmd_eip_disassociate, "ADDRESS", 1, 1, NULL,
	 "Take an elastic IP off its instance (it stays allocated).", false},
	{"eip list", cmd_eip_list, NULL, 0, 0, NULL, "List elastic IPs.", true},
	{"peering create", cmd_peering_create, "NAME VPC VPC", 3, 3, NULL,
	 "Peer two VPCs (their CIDRs must not overlap). Traffic flows only where both\n"
	 "sides' route tables send it to peering:NAME; peerings are not transitive.",
	 false},
	{"peering delete", cmd_peering_delete, "NAME", 1, 1, NULL, "Delete a peering.", false},
	{"peering list", cmd_peering_list, NULL, 0, 0, NULL, "List peerings.", true},
	{"nacl create", cmd_nacl_create, "VPC NAME", 2, 2, NULL,
	 "Create a network ACL. A new NACL denies everything until entries are added.", false},
	{"nacl delete", cmd_nacl_delete, "VPC NAME", 2, 2, NULL,
	 "Delete a network ACL (no subnet may use it).", false},
	{"nacl list", cmd_nacl_list, "VPC", 1, 1, NULL, "List a VPC's network ACLs.", true},
	{"nacl show", cmd_nacl_show, "VPC NAME", 2, 2, NULL,
	 "Show a network ACL's entries with per-rule packet and byte counters.", true},
	{"nacl entry add", cmd_nacl_entry_add, "VPC NACL", 2, 2, entry_opts,
	 "Add an entry. Entries are evaluated lowest rule number first; the first match\n"
	 "decides; what matches nothing is denied. NACLs are stateless: replies need their\n"
	 "own entries (usually ephemeral ports 1024-65535).",
	 false},
	{"nacl entry replace", cmd_nacl_entry_replace, "VPC NACL", 2, 2, entry_opts,
	 "Replace the entry with the same rule number and direction.", false},
	{"nacl entry remove", cmd_nacl_entry_remove, "VPC NACL", 2, 2, entry_remove_opts,
	 "Remove an entry by rule number and direction.", false},
	{"nacl load", cmd_nacl_load, "VPC NACL -f FILE", 2, 2, nacl_load_opts,
	 "Replace all of a NACL's entries, both directions, with those of FILE, in one\n"
	 "atomic step: one entry a line, as `nacl export` prints them:\n"
	 "  # direction rule protocol ports|icmp cidr       action\n"
	 "  inbound     100  tcp      80         0.0.0.0/0  allow\n"
	 "  inbound     110  icmp     8/0        10.0.0.0/8 allow\n"
	 "  outbound    100  tcp      1024-65535 0.0.0.0/0  allow\n"
	 "ports|icmp: a port or range (tcp, udp), TYPE or TYPE/CODE (icmp), - for all.\n"
	 "Much faster than a topology file for thousands of entries. An empty file\n"
	 "leaves only the final deny.",
	 false},
	{"nacl export", cmd_nacl_export, "VPC NACL", 2, 2, NULL,
	 "Print a NACL's entries in the form `nacl load` reads.", false},
	{"nacl associate", cmd_nacl_associate, "VPC SUBNET NACL", 3, 3, NULL,
	 "Associate a subnet with a network ACL (\"default\" for the VPC's default).", false},
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: vpcctl [-s SOCKET] [-o json] VERB [ARGS...]\n\n"
		   "AWS-style VPCs on this host, built by vpcd. Verbs:\n\n");
	for (size_t i = 0; i < N_VERBS; i++) {
		char left[64];
		snprintf(left, sizeof(left), "%s %s", verbs[i].name, verbs[i].usage ? verbs[i].usage : "");
		const char *nl = strchr(verbs[i].help, '\n');
		fprintf(f, "  %-40s %.*s\n", left,
			nl ? (int)(nl - verbs[i].help) : (int)strlen(verbs[i].help), verbs[i].help);
	}
	fprintf(f, "\nglobal options:\n"
		   "  -s, --socket PATH   vpcd's socket (default $VPCD_SOCKET or " VPC_DEFAULT_RUN_DIR
		   "/" VPC_SOCKET_NAME ")\n"
		   "  -o json             JSON output\n"
		   "  -h, --help          this text; `vpcctl VERB --help` for a verb\n"
		   "  -V, --version       print the version\n"
		   "\nSee vpcctl(8).\n");
}

/* Takes "-o json" / "-ojson" / "--output json" out of argv wherever it is. */
static int strip_output(int *argc, char **argv, struct cli *c)
{
	for (int i = 0; i < *argc; i++) {
		const char *val = NULL;
		int take = 0;
		if (!strcmp(argv[i], "--"))
			break;
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < *argc)
			val = argv[i + 1], take = 2;
		else if (!strncmp(argv[i], "-o", 2) && argv[i][2])
			val = argv[i] + 2, take = 1;
		else if (!strncmp(argv[i], "--output=", 9))
			val = argv[i] + 9, take = 1;
		if (!take)
			continue;
		if (strcmp(val, "json") && strcmp(val, "table")) {
			fprintf(stderr, "vpcctl: -o takes json or table\n");
			return -1;
		}
		c->json = !strcmp(val, "json");
		memmove(argv + i, argv + i + take, (size_t)(*argc - i - take + 1) * sizeof(char *));
		*argc -= take;
		i--;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = {.socket = getenv("VPCD_SOCKET")};
	if (!c.socket || !*c.socket)
		c.socket = VPC_DEFAULT_RUN_DIR "/" VPC_SOCKET_NAME;
	argc--, argv++;
	if (strip_output(&argc, argv, &c))
		return EXIT_USAGE;
	while (argc && argv[0][0] == '-') {
		if ((!strcmp(argv[0], "-s") || !strcmp(argv[0], "--socket")) && argc > 1) {
			c.socket = argv[1];
			argc -= 2, argv += 2;
		} else if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[0], "-V") || !strcmp(argv[0], "--version")) {
			printf("vpcctl %s\n", VPCD_VERSION);
			return 0;
		} else {
			fprintf(stderr, "vpcctl: unknown option %s\n", argv[0]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help")) {
		usage(stdout);
		return 0;
	}
	/* The longest verb that matches: "nacl entry add", "vpc create", "show". */
	for (int words = 3; words >= 1; words--) {
		if (argc < words)
			continue;
		char name[64] = "";
		for (int k = 0; k < words; k++)
			snprintf(name + strlen(name), sizeof(name) - strlen(name), "%s%s", k ? " " : "",
				 argv[k]);
		for (size_t i = 0; i < N_VERBS; i++) {
			if (strcmp(verbs[i].name, name))
				continue;
			struct args a;
			current_verb = &verbs[i];
			/* exec takes everything after its target as the command. */
			if (verbs[i].fn == cmd_exec) {
				memset(&a, 0, sizeof(a));
				if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
					verb_usage(&verbs[i], stdout);
					return 0;
				}
				if (argc < 2) {
					verb_usage(&verbs[i], stderr);
					return EXIT_USAGE;
				}
				a.pos[a.n_pos++] = argv[1];
				int k = 2;
				if (k < argc && !strcmp(argv[k], "--"))
					k++;
				a.rest = (const char **)argv + k;
				a.n_rest = argc - k;
				return cmd_exec(&c, &a);
			}
			/* -f FILE is apply's short form. */
			for (int k = words; k + 1 < argc; k++)
				if (!strcmp(argv[k], "-f"))
					argv[k] = "--file";
			int r = verb_parse(&verbs[i], argc - words, argv + words, &a);
			if (r > 0)
				return 0;
			if (r < 0) {
				verb_usage(&verbs[i], stderr);
				return EXIT_USAGE;
			}
			return verbs[i].fn(&c, &a);
		}
	}
	/* A known noun with an unknown verb: say which verbs it has. */
	char known[256] = "";
	size_t nl = strlen(argv[0]);
	for (size_t i = 0; i < N_VERBS; i++)
		if (!strncmp(verbs[i].name, argv[0], nl) && verbs[i].name[nl] == ' ')
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
				 known[0] ? ", " : "", verbs[i].name + nl + 1);
	if (known[0])
		fprintf(stderr, "vpcctl: unknown verb \"%s %s\"; %s verbs: %s\n", argv[0],
			argc > 1 ? argv[1] : "", argv[0], known);
	else
		fprintf(stderr, "vpcctl: unknown verb \"%s\"; see vpcctl --help\n", argv[0]);
	return EXIT_USAGE;
}
