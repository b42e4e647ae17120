/*
 * netlink_baseline: the floor the build benchmark compares vpcd against (the "raw
 * netlink" anchor of ARCHITECTURE.md, section 6).
 *
 * It builds the kernel objects of one VPC of N instances as directly as one C
 * process can: a router namespace and N instance namespaces, each named under
 * /run/netns the way `ip netns add` does it (unshare + bind mount); per instance a
 * veth created from inside the instance with eth0 there and its peer, the port,
 * created straight in the router; the instance's address; every link up. Each
 * request is sent on its own and its acknowledgement awaited: no batching, no
 * threads, no tricks. Then it tears everything down the way vpcd and `ip netns
 * delete` do (unmount + unlink; the kernel frees the namespaces and their links
 * asynchronously).
 *
 * With -f it also builds what vpcd adds on top (the "full" object set): router and
 * instance sysctls, the instance's default route, and in the router the port's
 * proxy_delay and a /32 route to the instance. That separates "vpcd builds more" from
 * "vpcd spends more per object".
 *
 * Output (one line, for bench/build.sh): build_ms=B teardown_ms=T
 * Everything it created is removed before it exits, on failure and on SIGINT/SIGTERM
 * too. It never touches a name it did not create (O_EXCL).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NETNS_DIR   "/run/netns"
#define MAX_N       4000 /* vpcd's own limit per VPC; port ifindexes stay below 2^16 */
#define ETH0_INDEX  2
#define PORT_BASE   1000 /* port ifindex = PORT_BASE + instance, as vpcd does */
#define SUBNETS     4    /* instances spread over 10.0.0.0/20, 10.0.16.0/20, ... */
#define SUBNET_BITS 20

static volatile sig_atomic_t stop;
static int home_fd = -1;
static bool full;

struct ns {
	char path[128];
	bool created; /* the name is ours: remove it on the way out */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "netlink_baseline: %s: %s\n", what, strerror(err));
	return -err;
}

/* As iproute2 does: /run/netns is a shared mount, so the names are seen from every
 * mount namespace. Done once, before any timing. */
static int netns_dir_init(void)
{
	if (mkdir(NETNS_DIR, 0755) && errno != EEXIST)
		return fail("mkdir " NETNS_DIR, errno);
	if (mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL)) {
		if (errno != EINVAL)
			return fail("make " NETNS_DIR " shared", errno);
		if (mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) ||
		    mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL))
			return fail("bind-mount " NETNS_DIR, errno);
	}
	return 0;
}

static int sysctl_write(const char *path, const char *value)
{
	char p[128];
	snprintf(p, sizeof(p), "/proc/sys/net/%s", path);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(p, errno);
	ssize_t n = write(fd, value, strlen(value));
	int err = n < 0 ? errno : 0;
	close(fd);
	return err ? fail(p, err) : 0;
}

/* The same settings vpcd writes (daemon/kernel.c); only with -f. */
static const char *const router_sysctls[][2] = {
	{"ipv4/conf/all/forwarding", "1"},
	{"ipv4/conf/default/forwarding", "1"},
	{"ipv4/conf/default/proxy_arp", "1"},
	{"ipv4/conf/all/arp_ignore", "0"},
	{"ipv4/conf/default/arp_ignore", "0"},
	{"ipv4/conf/all/rp_filter", "0"},
	{"ipv4/conf/default/rp_filter", "0"},
	{"ipv4/conf/all/send_redirects", "0"},
	{"ipv4/conf/default/send_redirects", "0"},
	{"ipv6/conf/all/disable_ipv6", "1"},
	{"ipv6/conf/default/disable_ipv6", "1"},
	{NULL, NULL},
};
static const char *const instance_sysctls[][2] = {
	{"ipv6/conf/all/disable_ipv6", "1"},
	{"ipv6/conf/default/disable_ipv6", "1"},
	{"ipv4/conf/all/forwarding", "0"},
	{NULL, NULL},
};

static int sysctls(const char *const (*kv)[2])
{
	for (; (*kv)[0]; kv++) {
		int err = sysctl_write((*kv)[0], (*kv)[1]);
		if (err)
			return err;
	}
	return 0;
}

/* Creates the named namespace and leaves the thread inside it, with a route netlink
 * socket opened there (a socket stays bound to the namespace it was opened in). */
static int ns_create_enter(struct ns *ns, bool router, struct nl_sock **sk)
{
	int fd = open(ns->path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return fail(ns->path, errno);
	close(fd);
	ns->created = true;
	if (unshare(CLONE_NEWNET))
		return fail("unshare", errno);
	if (mount("/proc/thread-self/ns/net", ns->path, "none", MS_BIND, NULL))
		return fail("bind-mount the namespace", errno);
	if (full && sysctls(router ? router_sysctls : instance_sysctls))
		return -EIO;
	*sk = nl_socket_alloc();
	if (!*sk)
		return fail("nl_socket_alloc", ENOMEM);
	int err = nl_connect(*sk, NETLINK_ROUTE);
	if (err) {
		fprintf(stderr, "netlink_baseline: nl_connect: %s\n", nl_geterror(err));
		return -EIO;
	}
	return 0;
}

static int go_home(void)
{
	return setns(home_fd, CLONE_NEWNET) ? fail("setns home", errno) : 0;
}

/* Sends one request and waits for its acknowledgement; frees the message. */
static int request(struct nl_sock *sk, struct nl_msg *m, const char *what)
{
	int err = m ? nl_send_auto(sk, m) : -NLE_NOMEM;
	if (err >= 0)
		err = nl_wait_for_ack(sk);
	nlmsg_free(m);
	if (err < 0) {
		fprintf(stderr, "netlink_baseline: %s: %s\n", what, nl_geterror(err));
		return -EIO;
	}
	return 0;
}

static struct nl_msg *link_msg(int flags, int ifindex, unsigned ifflags)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC,
	                        .ifi_index = ifindex,
	                        .ifi_flags = ifflags,
	                        .ifi_change = IFF_UP};
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, flags);
	if (m && nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

static int link_up(struct nl_sock *sk, int ifindex)
{
	return request(sk, link_msg(0, ifindex, IFF_UP), "set a link up");
}

/* eth0 (up) in the socket's namespace, its peer (down: a veth end cannot come up
 * before its peer exists) created directly in the namespace `peer_nsfd`. */
static int veth_add(struct nl_sock *sk, const char *peer_name, int peer_index, int peer_nsfd)
{
	struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC, .ifi_index = peer_index};
	struct nl_msg *m = link_msg(NLM_F_CREATE | NLM_F_EXCL, ETH0_INDEX, IFF_UP);
	struct nlattr *li, *data, *peer;
	if (!m || nla_put_string(m, IFLA_IFNAME, "eth0") < 0 ||
	    !(li = nla_nest_start(m, IFLA_LINKINFO)) ||
	    nla_put_string(m, IFLA_INFO_KIND, "veth") < 0 ||
	    !(data = nla_nest_start(m, IFLA_INFO_DATA)) ||
	    !(peer = nla_nest_start(m, VETH_INFO_PEER)) ||
	    nlmsg_append(m, &pifi, sizeof(pifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(m, IFLA_IFNAME, peer_name) < 0 ||
	    nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)peer_nsfd) < 0) {
		nlmsg_free(m);
		return fail("build the veth request", ENOMEM);
	}
	nla_nest_end(m, peer);
	nla_nest_end(m, data);
	nla_nest_end(m, li);
	return request(sk, m, "create the veth");
}

static int addr_add(struct nl_sock *sk, int ifindex, uint32_t ip, int prefixlen)
{
	struct ifaddrmsg ifa = {.ifa_family = AF_INET,
	                        .ifa_prefixlen = (unsigned char)prefixlen,
	                        .ifa_index = (unsigned)ifindex};
	uint32_t be = htonl(ip);
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	if (m && (nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	          nla_put(m, IFA_LOCAL, 4, &be) < 0 || nla_put(m, IFA_ADDRESS, 4, &be) < 0)) {
		nlmsg_free(m);
		m = NULL;
	}
	return request(sk, m, "add the address");
}

/* -f only: a route (gw: via it out of oif; else a /32 to dst on the link). */
static int route_add(struct nl_sock *sk, uint32_t dst, int dst_len, uint32_t gw, int oif)
{
	struct rtmsg rtm = {.rtm_family = AF_INET,
	                    .rtm_dst_len = (unsigned char)dst_len,
	                    .rtm_table = RT_TABLE_MAIN,
	                    .rtm_protocol = RTPROT_STATIC,
	                    .rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
	                    .rtm_type = RTN_UNICAST};
	uint32_t d = htonl(dst), g = htonl(gw);
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	if (m && (nlmsg_append(m, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	          (dst_len && nla_put(m, RTA_DST, 4, &d) < 0) ||
	          (gw && nla_put(m, RTA_GATEWAY, 4, &g) < 0) ||
	          nla_put_u32(m, RTA_OIF, (uint32_t)oif) < 0)) {
		nlmsg_free(m);
		m = NULL;
	}
	return request(sk, m, "add a route");
}

/* -f only: answer proxy ARP at once on a port (vpcd does; the default waits). */
static int proxy_delay_zero(struct nl_sock *sk, int ifindex)
{
	struct ndtmsg ndt = {.ndtm_family = AF_INET};
	struct nl_msg *m = nlmsg_alloc_simple(RTM_SETNEIGHTBL, 0);
	struct nlattr *parms;
	if (!m || nlmsg_append(m, &ndt, sizeof(ndt), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(m, NDTA_NAME, "arp_cache") < 0 ||
	    !(parms = nla_nest_start(m, NDTA_PARMS)) ||
	    nla_put_u32(m, NDTPA_IFINDEX, (uint32_t)ifindex) < 0 ||
	    nla_put_u64(m, NDTPA_PROXY_DELAY, 0) < 0) {
		nlmsg_free(m);
		return fail("build the neighbour-table request", ENOMEM);
	}
	nla_nest_end(m, parms);
	return request(sk, m, "set proxy_delay");
}

static uint32_t subnet_of(unsigned i)
{
	return (10u << 24) | ((i % SUBNETS) << (32 - SUBNET_BITS));
}

static uint32_t address_of(unsigned i)
{
	return subnet_of(i) + 4 + i / SUBNETS; /* .0-.3 are reserved in a VPC subnet */
}

static int build_instance(struct ns *ns, unsigned i, struct nl_sock *rsk, int rfd)
{
	struct nl_sock *sk = NULL;
	char port[IFNAMSIZ];
	int err = ns_create_enter(ns, false, &sk);
	int home = go_home();
	if (err || (err = home))
		goto out;
	snprintf(port, sizeof(port), "p%u", i);
	if ((err = veth_add(sk, port, PORT_BASE + (int)i, rfd)) || (err = link_up(sk, 1)) ||
	    (err = addr_add(sk, ETH0_INDEX, address_of(i), SUBNET_BITS)) ||
	    (err = link_up(rsk, PORT_BASE + (int)i)))
		goto out;
	if (full && ((err = route_add(sk, 0, 0, subnet_of(i) + 1, ETH0_INDEX)) ||
	             (err = proxy_delay_zero(rsk, PORT_BASE + (int)i)) ||
	             (err = route_add(rsk, address_of(i), 32, 0, PORT_BASE + (int)i))))
		goto out;
out:
	nl_socket_free(sk);
	return err;
}

/* Unmount and unlink every name we created, last first (instances before router). */
static int teardown(struct ns *all, unsigned n)
{
	int err = 0;
	for (unsigned k = n; k-- > 0;) {
		if (!all[k].created)
			continue;
		if (umount2(all[k].path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
			err = fail(all[k].path, errno);
		if (unlink(all[k].path) && errno != ENOENT)
			err = fail(all[k].path, errno);
		all[k].created = false;
	}
	return err;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: netlink_baseline [-f] N PREFIX\n"
	        "  Builds a router namespace PREFIXr and N instance namespaces PREFIXi<k>,\n"
	        "  veth + address + links up, then removes them; prints build and teardown\n"
	        "  milliseconds. -f: also vpcd's sysctls, routes and proxy_delay.\n");
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "fh")) != -1) {
		if (opt != 'f') {
			usage();
			return opt == 'h' ? 0 : 2;
		}
		full = true;
	}
	if (argc - optind != 2) {
		usage();
		return 2;
	}
	char *end;
	long n = strtol(argv[optind], &end, 10);
	const char *prefix = argv[optind + 1];
	if (*end || n < 1 || n > MAX_N || !*prefix || strchr(prefix, '/') || strlen(prefix) > 32) {
		usage();
		return 2;
	}

	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	struct ns *all = calloc((size_t)n + 1, sizeof(*all));
	if (!all)
		return 1;
	snprintf(all[0].path, sizeof(all[0].path), NETNS_DIR "/%sr", prefix);
	for (long i = 0; i < n; i++)
		snprintf(all[i + 1].path, sizeof(all[i + 1].path), NETNS_DIR "/%si%ld", prefix, i);

	struct nl_sock *rsk = NULL;
	int rfd = -1, err;
	home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home_fd < 0 || netns_dir_init()) {
		free(all);
		return 1;
	}

	double t0 = now_ms();
	err = ns_create_enter(&all[0], true, &rsk);
	if (!err) {
		rfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (rfd < 0)
			err = fail("open the router namespace", errno);
	}
	int home = go_home();
	if (!err)
		err = home ? home : link_up(rsk, 1);
	for (long i = 0; i < n && !err; i++) {
		if (stop) {
			fprintf(stderr, "netlink_baseline: interrupted\n");
			err = -EINTR;
			break;
		}
		err = build_instance(&all[i + 1], (unsigned)i, rsk, rfd);
	}
	double t1 = now_ms();

	/* Teardown starts by letting go of the router: our socket and fd keep it alive. */
	nl_socket_free(rsk);
	if (rfd >= 0)
		close(rfd);
	int terr = teardown(all, (unsigned)n + 1);
	double t2 = now_ms();
	free(all);
	close(home_fd);
	if (err || terr)
		return 1;
	printf("build_ms=%.1f teardown_ms=%.1f\n", t1 - t0, t2 - t1);
	return 0;
}
