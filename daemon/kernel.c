/*
 * Executes plans through libnl and reads the kernel back. Nothing here decides
 * anything: plan.c chose the operations, this file only performs them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "vpc/util.h"
#include "kernel_int.h"
#include "nft.h"
#include "log.h"
#include "netns.h"
#include "rtnl.h"

static const struct sysctl_kv router_sysctls[] = {
	/* "all" also sets "default" for forwarding and disable_ipv6, not for the
	 * others: each sysctl write costs more the more namespaces exist. */
	{"net/ipv4/conf/all/forwarding", "1"},
	/* The router answers ARP for every address of the subnet behind a port: there
	 * is no broadcast domain, as in a VPC. */
	{"net/ipv4/conf/default/proxy_arp", "1"},
	{"net/ipv4/conf/all/arp_ignore", "0"},
	{"net/ipv4/conf/default/arp_ignore", "0"},
	/* Asymmetric paths (peering, appliances) are legitimate; spoofing is stopped by
	 * the source/destination check instead. */
	{"net/ipv4/conf/all/rp_filter", "0"},
	{"net/ipv4/conf/default/rp_filter", "0"},
	{"net/ipv4/conf/all/send_redirects", "0"},
	{"net/ipv4/conf/default/send_redirects", "0"},
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	/* The NACL program forwards the packets of tracked flows itself
	 * (bpf/nacl.bpf.c), so conntrack does not see every segment of a TCP
	 * connection and must not judge the next one it sees by sequence windows it
	 * could not follow, as for a flow offloaded to a flowtable. */
	{"net/netfilter/nf_conntrack_tcp_be_liberal", "1"},
	{NULL, NULL},
};

/* IPv4 only (see docs): no IPv6 chatter crossing the ACLs. A new namespace takes
 * the host's IPv4 settings: an instance forwards only if the host does, and then
 * it is told not to (instance_sysctls_fwd). */
static const struct sysctl_kv instance_sysctls_plain[] = {
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	{NULL, NULL},
};
static const struct sysctl_kv instance_sysctls_fwd[] = {
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	{"net/ipv4/conf/all/forwarding", "0"},
	{NULL, NULL},
};
static const struct sysctl_kv *instance_sysctls = instance_sysctls_plain;

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673 /* linux/magic.h */
#endif

#define LO_IFINDEX   1
#define ETH0_IFINDEX 2

int kernel_init(struct kernel *k)
{
	char buf[8] = "";
	memset(k, 0, sizeof(*k));
	int fd = open("/proc/sys/net/ipv4/conf/all/forwarding", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] != '0')
			instance_sysctls = instance_sysctls_fwd;
		close(fd);
	}
	int e = netns_init();
	if (!e && !(e = rtnl_open(&k->home_sk)) && (e = nft_open(&k->home_nft))) {
		nl_socket_free(k->home_sk);
		k->home_sk = NULL;
	}
	return e;
}

static void router_drop(struct kernel *k, size_t i)
{
	struct router_handle *r = k->routers[i];
	if (r->has_bpf)
		vbpf_close(&r->bpf);
	if (r->nft)
		mnl_socket_close(r->nft);
	nlb_free(&r->batch);
	nl_socket_free(r->sk);
	close(r->nsfd);
	free(r);
	k->routers[i] = k->routers[--k->n_routers];
}

void kernel_close(struct kernel *k)
{
	while (k->n_routers)
		router_drop(k, 0);
	while (k->n_others)
		ns_forget(k, k->others[0]->name);
	free(k->others);
	if (k->home_sk)
		nl_socket_free(k->home_sk);
	if (k->home_nft)
		mnl_socket_close(k->home_nft);
	free(k->routers);
	memset(k, 0, sizeof(*k));
}

static struct router_handle *router_find(struct kernel *k, const char *vpc)
{
	for (size_t i = 0; i < k->n_routers; i++)
		if (!strcmp(k->routers[i]->vpc, vpc))
			return k->routers[i];
	return NULL;
}

void router_forget(struct kernel *k, const char *vpc)
{
	for (size_t i = 0; i < k->n_routers; i++)
		if (!strcmp(k->routers[i]->vpc, vpc)) {
			router_drop(k, i);
			return;
		}
}

/* Keeps a socket and an fd for a router namespace the thread is in now. */
static int router_adopt_here(struct kernel *k, const char *vpc, struct router_handle **out)
{
	struct router_handle **arr = realloc(k->routers, (k->n_routers + 1) * sizeof(*arr));
	struct router_handle *r = calloc(1, sizeof(*r));
	if (arr)
		k->routers = arr;
	if (!arr || !r) {
		free(r);
		return -ENOMEM;
	}
	snprintf(r->vpc, sizeof(r->vpc), "%s", vpc);
	r->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int err = r->nsfd < 0 ? -errno : rtnl_open(&r->sk);
	if (!err && (err = nft_open(&r->nft)))
		nl_socket_free(r->sk);
	if (err) {
		if (r->nsfd >= 0)
			close(r->nsfd);
		free(r);
		return err;
	}
	nlb_init(&r->batch, r->sk);
	r->has_bpf = vbpf_open(vpc, &r->bpf) == 0;
	k->routers[k->n_routers++] = r;
	*out = r;
	return 0;
}

static bool same_ns(int fd, const char *name)
{
	char path[128];
	struct stat a, b;
	snprintf(path, sizeof(path), VPC_NETNS_DIR "/%s", name);
	return !fstat(fd, &a) && !stat(path, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* The handle of an existing router namespace, opened on first use. */
int router_get(struct kernel *k, const char *vpc, struct router_handle **out)
{
	char ns[NS_NAME_MAX];
	ns_router(ns, vpc);
	struct router_handle *r = router_find(k, vpc);
	if (r && same_ns(r->nsfd, ns)) {
		*out = r;
		return 0;
	}
	if (r)
		router_forget(k, vpc); /* the namespace was replaced behind our back */
	int err = netns_enter_name(ns);
	if (err)
		return err;
	err = router_adopt_here(k, vpc, out);
	netns_home();
	return err;
}

/* ---- observation ---- */

struct obs_build {
	struct obs_router *r;
	size_t cap_ports, cap_routes, cap_gws, cap_rts, cap_rules, cap_peers;
	int port_ifindex_base_ok;
};

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 32;
	void *p = realloc(*arr, c * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static int on_link(const struct link_info *li, void *arg)
{
	struct obs_build *b = arg;
	unsigned id;
	char tail;
	if (!strcmp(li->name, VPC_IGW_IFNAME)) {
		b->r->igw_link = li->ifindex == VPC_IGW_IFINDEX;
		return 0;
	}
	if (sscanf(li->name, VPC_IF_PREFIX "p%u%c", &id, &tail) == 1) {
		if (li->ifindex != (int)(VPC_PEER_IFINDEX_BASE + id))
			return 0;
		if (grow((void **)&b->r->peer_links, &b->cap_peers, b->r->n_peer_links, sizeof(uint32_t)))
			return -ENOMEM;
		b->r->peer_links[b->r->n_peer_links++] = id;
		return 0;
	}
	if (sscanf(li->name, VPC_IF_PREFIX "i%u%c", &id, &tail) != 1)
		return 0;
	if (grow((void **)&b->r->ports, &b->cap_ports, b->r->n_ports, sizeof(uint32_t)))
		return -ENOMEM;
	b->r->ports[b->r->n_ports++] = id;
	return 0;
}

static int on_route(const struct route_info *ri, void *arg)
{
	struct obs_build *b = arg;
	if (ri->table > VPC_RT_TABLE_BASE && ri->protocol == VPC_RTPROT) {
		if (grow((void **)&b->r->rts, &b->cap_rts, b->r->n_rts, sizeof(struct obs_rt)))
			return -ENOMEM;
		struct obs_rt *o = &b->r->rts[b->r->n_rts++];
		memset(o, 0, sizeof(*o));
		*o = (struct obs_rt){.table = ri->table, .dst = ri->dst, .gw = ri->gw,
				     .oif = ri->type == RTN_UNICAST ? ri->oif : 0,
				     .len = (uint8_t)ri->dst_len, .type = (uint8_t)ri->type};
		return 0;
	}
	if (ri->table != RT_TABLE_MAIN || ri->dst_len != 32 || ri->protocol != VPC_RTPROT ||
	    ri->oif < (int)VPC_PORT_IFINDEX_BASE)
		return 0;
	if (grow((void **)&b->r->routes, &b->cap_routes, b->r->n_routes, sizeof(struct obs_route)))
		return -ENOMEM;
	b->r->routes[b->r->n_routes++] =
		(struct obs_route){.dst = ri->dst, .port_id = (uint32_t)ri->oif - VPC_PORT_IFINDEX_BASE};
	return 0;
}

static int on_addr(const struct addr_info *ai, void *arg)
{
	struct obs_build *b = arg;
	if (ai->ifindex != LO_IFINDEX || ai->prefixlen != 32)
		return 0;
	if (grow((void **)&b->r->gateways, &b->cap_gws, b->r->n_gateways, sizeof(uint32_t)))
		return -ENOMEM;
	b->r->gateways[b->r->n_gateways++] = ai->ip;
	return 0;
}

static int on_rule(const struct rule_info *ri, void *arg)
{
	struct obs_build *b = arg;
	if (ri->protocol != VPC_RTPROT)
		return 0;
	if (grow((void **)&b->r->rules, &b->cap_rules, b->r->n_rules, sizeof(struct obs_rule)))
		return -ENOMEM;
	b->r->rules[b->r->n_rules++] = (struct obs_rule){ri->mark, ri->table};
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int observe_bpf(const struct vpc_bpf *b, struct obs_router *out)
{
	uint32_t *ids = NULL;
	size_t n = 0;
	int err;
	out->port_cfgs = calloc(NACL_MAX_PORTS, sizeof(struct port_cfg));
	out->subnet_cfgs = calloc(NACL_MAX_SUBNETS, sizeof(struct subnet_cfg));
	if (!out->port_cfgs || !out->subnet_cfgs)
		return -ENOMEM;
	if ((err = vbpf_read_ports(b, out->port_cfgs)) ||
	    (err = vbpf_read_subnets(b, out->subnet_cfgs)) || (err = vbpf_tables(b, &ids, &n))) {
		free(ids);
		return err;
	}
	out->tables = calloc(n + 1, sizeof(struct obs_table));
	if (!out->tables) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct nacl_table_meta m;
		out->tables[i] = (struct obs_table){ids[i], vbpf_table_info(b, ids[i], &m) ? 0 : m.hash};
	}
	out->n_tables = n;
	out->bpf = true;
	free(ids);
	return 0;
}

/* A port's ifindex is fixed by its id, so the route's oif names the port; ports
 * whose ifindex does not match their name are not ours to trust. */
static int observe_router(struct kernel *k, const char *vpc, struct obs_router *out)
{
	struct router_handle *h;
	int err = router_get(k, vpc, &h);
	if (err)
		return err;
	struct obs_build b = {.r = out};
	out->vpc = strdup(vpc);
	if (!out->vpc)
		return -ENOMEM;
	if ((err = rtnl_dump_links(h->sk, on_link, &b)) ||
	    (err = rtnl_dump_routes(h->sk, on_route, &b)) ||
	    (err = rtnl_dump_addrs(h->sk, on_addr, &b)) ||
	    (err = rtnl_dump_rules(h->sk, on_rule, &b)))
		return err;
	qsort0(out->rts, out->n_rts, sizeof(struct obs_rt), cmp_obs_rt);
	qsort0(out->peer_links, out->n_peer_links, sizeof(uint32_t), cmp_u32);
	qsort0(out->rules, out->n_rules, sizeof(struct obs_rule), cmp_obs_rule);
	qsort0(out->ports, out->n_ports, sizeof(uint32_t), cmp_u32);
	qsort0(out->routes, out->n_routes, sizeof(struct obs_route), cmp_u32);
	qsort0(out->gateways, out->n_gateways, sizeof(uint32_t), cmp_u32);
	if ((err = nft_observe(h->nft, &out->nft)))
		return err;
	return h->has_bpf ? observe_bpf(&h->bpf, out) : 0;
}

int kernel_observe(struct kernel *k, struct observed *o)
{
	int err;
	memset(o, 0, sizeof(*o));
	char prefix[32], internet[NS_NAME_MAX];
	snprintf(prefix, sizeof(prefix), "%s.", vpc_prefix);
	ns_internet(internet);
	if ((err = netns_list(prefix, &o->ns, &o->n_ns)) ||
	    (err = vbpf_list_pinned(&o->pinned, &o->n_pinned)))
		return err;
	/* A plain file where a namespace should be mounted is a leftover, not a VPC. */
	for (size_t i = 0; i < o->n_ns;) {
		char path[NS_NAME_MAX + 16];
		struct statfs sf;
		snprintf(path, sizeof(path), VPC_NETNS_DIR "/%s", o->ns[i]);
		if (!statfs(path, &sf) && sf.f_type == NSFS_MAGIC) {
			i++;
			continue;
		}
		char **st = realloc(o->stale, (o->n_stale + 1) * sizeof(char *));
		if (!st) {
			observed_free(o);
			return -ENOMEM;
		}
		o->stale = st;
		o->stale[o->n_stale++] = o->ns[i];
		o->ns[i] = o->ns[--o->n_ns];
	}
	qsort0(o->ns, o->n_ns, sizeof(char *), cmp_str);
	o->routers = calloc(o->n_ns + 1, sizeof(*o->routers));
	if (!o->routers) {
		observed_free(o);
		return -ENOMEM;
	}
	for (size_t i = 0; i < o->n_ns; i++) {
		const char *vpc = ns_vpc_part(o->ns[i]);
		if (strchr(vpc, '.') || !strcmp(o->ns[i], internet))
			continue;
		if ((err = observe_router(k, vpc, &o->routers[o->n_routers++]))) {
			observed_free(o);
			return err;
		}
	}
	if ((err = edge_observe(k, o))) {
		observed_free(o);
		return err;
	}
	return 0;
}

/* ---- execution ---- */

int kfail(struct vpc_err *err, int e, const char *what, const char *extack)
{
	vpc_fail(err, VPC_E_KERNEL, "", "the kernel refused to %s: %s%s%s", what, strerror(-e),
		 extack && *extack ? " — " : "", extack ? extack : "");
	return e;
}

int flush_router(struct router_handle *r, struct vpc_err *err, const char *what)
{
	int e = nlb_commit(&r->batch);
	return e ? kfail(err, e, what, r->batch.errmsg) : 0;
}

static int bpf_load(struct kernel *k, const char *vpc, struct vpc_err *err)
{
	struct router_handle *r;
	int e = router_get(k, vpc, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if (r->has_bpf) {
		vbpf_close(&r->bpf);
		r->has_bpf = false;
	}
	if ((e = vbpf_create(vpc, &r->bpf)))
		return kfail(err, e, "load the NACL program", NULL);
	r->has_bpf = true;
	return 0;
}

static int vpc_create(struct kernel *k, const struct vpc *v, struct vpc_err *err)
{
	char ns[NS_NAME_MAX];
	struct router_handle *r;
	ns_router(ns, v->name);
	router_forget(k, v->name);
	int e = netns_create_enter(ns, router_sysctls);
	if (e)
		return kfail(err, e, "create the router namespace", NULL);
	e = router_adopt_here(k, v->name, &r);
	netns_home();
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if ((e = nlb_add(&r->batch, rq_link_up(LO_IFINDEX))))
		return kfail(err, e, "queue a request", NULL);
	if ((e = flush_router(r, err, "bring up the router's loopback")))
		return e;
	return bpf_load(k, v->name, err);
}

static int gw_change(struct kernel *k, const char *vpc, int cmd, uint32_t ip, struct vpc_err *err)
{
	struct router_handle *r;
	int e = router_get(k, vpc, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if ((e = nlb_add(&r->batch, rq_addr(cmd, LO_IFINDEX, ip, 32))))
		return kfail(err, e, "queue a request", NULL);
	return flush_router(r, err, cmd == RTM_NEWADDR ? "add a subnet router address"
						       : "remove a subnet router address");
}

static int port_delete(struct kernel *k, const char *vpc, uint32_t id, struct vpc_err *err)
{
	struct router_handle *r;
	int e = router_get(k, vpc, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if ((e = nlb_add(&r->batch, rq_link_del(port_ifindex(id)))))
		return kfail(err, e, "queue a request", NULL);
	e = nlb_commit(&r->batch);
	if (e && e != -ENODEV)
		return kfail(err, e, "delete a router port", r->batch.errmsg);
	struct port_cfg none = {0};
	if (r->has_bpf && id < NACL_MAX_PORTS && (e = vbpf_port_set(&r->bpf, id, &none)))
		return kfail(err, e, "clear a port's filter entry", NULL);
	return 0;
}

static struct route_rq host_route(uint32_t ip, uint32_t id, bool replace)
{
	return (struct route_rq){.cmd = RTM_NEWROUTE,
				 .table = RT_TABLE_MAIN,
				 .dst = ip,
				 .dst_len = 32,
				 .oif = port_ifindex(id),
				 .type = RTN_UNICAST,
				 .scope = RT_SCOPE_LINK,
				 .replace = replace};
}

static struct route_rq default_route(const struct subnet *s)
{
	return (struct route_rq){.cmd = RTM_NEWROUTE,
				 .table = RT_TABLE_MAIN,
				 .gw = cidr_gateway(s->cidr),
				 .oif = ETH0_IFINDEX,
				 .type = RTN_UNICAST,
				 .scope = RT_SCOPE_UNIVERSE,
				 .replace = true};
}

/* Queues the instance-side configuration: loopback, eth0's address, default route. */
static int queue_instance_config(struct nlbatch *b, const struct subnet *s,
				 const struct instance *in)
{
	struct route_rq dr = default_route(s);
	int e;
	if ((e = nlb_add(b, rq_link_up(LO_IFINDEX))) || (e = nlb_add(b, rq_link_up(ETH0_IFINDEX))) ||
	    (e = nlb_add(b, rq_addr(RTM_NEWADDR, ETH0_IFINDEX, in->private_ip, s->cidr.len))) ||
	    (e = nlb_add(b, rq_route(&dr))))
		return e;
	return 0;
}

/* Router side of an instance: its port up, answering ARP at once (proxy replies are
 * otherwise delayed by up to 0.8 s), and the route to the instance through it. */
static int queue_port_config(struct nlbatch *b, uint32_t id, const struct route_rq *hr)
{
	int e;
	if ((e = nlb_add(b, rq_link_up(port_ifindex(id)))) ||
	    (e = nlb_add(b, rq_neigh_proxy_delay(port_ifindex(id), 0))) ||
	    (e = nlb_add(b, rq_route(hr))))
		return e;
	return 0;
}

/* The port's filters and its entry in the NACL program, before it comes up. */
static int port_setup(struct router_handle *r, const char *vpc, uint32_t id,
		      const struct port_cfg *pc, bool check_first, unsigned *repaired,
		      struct vpc_err *err)
{
	int e;
	if (!r->has_bpf)
		return vpc_fail(err, VPC_E_KERNEL, "", "VPC %s has no NACL program loaded", vpc);
	if (id >= NACL_MAX_PORTS)
		return vpc_fail(err, VPC_E_INTERNAL, "", "port id %u is too large", id);
	if ((e = vbpf_port_set(&r->bpf, id, pc)))
		return kfail(err, e, "write a port's filter entry", NULL);
	if ((e = netns_enter(r->nsfd)))
		return kfail(err, e, "enter the router namespace", NULL);
	bool attach = !check_first || !vbpf_attached(&r->bpf, port_ifindex(id));
	if (attach)
		e = vbpf_attach(&r->bpf, port_ifindex(id));
	netns_home();
	if (attach && check_first && !e)
		(*repaired)++;
	return e ? kfail(err, e, "attach the NACL program to a port", NULL) : 0;
}

/* What instances and NAT gateways have in common: a namespace with eth0 in a
 * subnet, and a port in the router. */
struct endpoint {
	char ns[NS_NAME_MAX];
	uint32_t id, ip;
	uint8_t mac[6];
	const struct subnet *subnet;
	const struct sysctl_kv *sysctls;
	struct port_cfg cfg;
	bool natgw;
};

static void instance_ep(const struct vpc *v, const struct instance *in, struct endpoint *ep)
{
	ns_instance(ep->ns, v->name, in->name);
	ep->id = in->id;
	ep->ip = in->private_ip;
	memcpy(ep->mac, in->mac, 6);
	ep->subnet = &v->subnets[in->subnet];
	ep->sysctls = instance_sysctls;
	want_port_cfg(v, in, &ep->cfg);
	ep->natgw = false;
}

static const struct sysctl_kv natgw_sysctls[] = {
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	{"net/ipv4/conf/all/forwarding", "1"},
	{"net/ipv4/conf/all/rp_filter", "0"},
	{"net/ipv4/conf/default/rp_filter", "0"},
	/* It sends forwarded traffic back out of eth0: no redirects for that. */
	{"net/ipv4/conf/all/send_redirects", "0"},
	{"net/ipv4/conf/default/send_redirects", "0"},
	{NULL, NULL},
};

static void natgw_ep(const struct vpc *v, const struct nat_gateway *g, struct endpoint *ep)
{
	ns_natgw(ep->ns, v->name, g->name);
	ep->id = g->id;
	ep->ip = g->private_ip;
	natgw_mac(g, ep->mac);
	ep->subnet = &v->subnets[g->subnet];
	ep->sysctls = natgw_sysctls;
	want_natgw_port_cfg(v, g, &ep->cfg);
	ep->natgw = true;
}

static int ep_create(struct kernel *k, const struct vpc *v, const struct endpoint *ep,
		     struct vpc_err *err)
{
	char port[IF_NAME_MAX], msg[256] = "";
	struct router_handle *r;
	struct nl_sock *sk = NULL;
	struct mnl_socket *nft = NULL;
	struct nlbatch b;
	int e = router_get(k, v->name, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if_port(port, ep->id);
	if ((e = netns_create_enter(ep->ns, ep->sysctls)))
		return kfail(err, e, "create the instance namespace", NULL);
	e = rtnl_open(&sk);
	if (!e && ep->natgw)
		e = nft_open(&nft);
	netns_home();
	if (e) {
		if (sk)
			nl_socket_free(sk);
		netns_delete(ep->ns);
		return kfail(err, e, "open the instance namespace", NULL);
	}
	/* eth0 is created here and its peer, the port, straight in the router: no link
	 * ever appears in the host's namespace. */
	struct instance cfg = {.private_ip = ep->ip};
	nlb_init(&b, sk);
	if ((e = nlb_add(&b, rq_veth(ETH0_IFINDEX, VPC_INSTANCE_IFNAME, ep->mac,
				     port_ifindex(ep->id), port, r->nsfd))) ||
	    (e = queue_instance_config(&b, ep->subnet, &cfg)) || (e = nlb_commit(&b))) {
		kfail(err, e, "build the instance's link", b.errmsg);
		goto fail;
	}
	if (nft && (e = nft_natgw_table(nft, msg, sizeof(msg)))) {
		kfail(err, e, "set up the NAT gateway's masquerading", msg);
		goto fail;
	}
	if ((e = port_setup(r, v->name, ep->id, &ep->cfg, false, NULL, err)))
		goto fail;
	nlb_free(&b);
	nl_socket_free(sk);
	if (nft)
		mnl_socket_close(nft);
	struct route_rq hr = host_route(ep->ip, ep->id, false);
	if ((e = queue_port_config(&r->batch, ep->id, &hr)))
		return kfail(err, e, "queue a request", NULL);
	return 0;
fail:
	nlb_free(&b);
	nl_socket_free(sk);
	if (nft)
		mnl_socket_close(nft);
	port_delete(k, v->name, ep->id, NULL);
	netns_delete(ep->ns);
	return e;
}

static int inst_ensure(struct kernel *k, const struct vpc *v, const struct instance *in,
		       struct vpc_err *err)
{
	char ns[NS_NAME_MAX];
	struct router_handle *r;
	struct nl_sock *sk = NULL;
	struct nlbatch b;
	int e = router_get(k, v->name, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	ns_instance(ns, v->name, in->name);
	if ((e = netns_enter_name(ns)))
		return kfail(err, e, "enter the instance namespace", NULL);
	e = sysctls_apply(instance_sysctls);
	if (!e)
		e = rtnl_open(&sk);
	netns_home();
	if (e)
		return kfail(err, e, "open the instance namespace", NULL);
	nlb_init(&b, sk);
	if ((e = queue_instance_config(&b, &v->subnets[in->subnet], in)) || (e = nlb_commit(&b)))
		kfail(err, e, "repair the instance's addresses", b.errmsg);
	nlb_free(&b);
	nl_socket_free(sk);
	if (e)
		return e;
	struct route_rq hr = host_route(in->private_ip, in->id, true);
	if ((e = queue_port_config(&r->batch, in->id, &hr)))
		return kfail(err, e, "queue a request", NULL);
	return 0;
}

/* A live table of the router: its id, what it holds, whose it is, and the full
 * table it uses (itself, or the one it patches). */
struct live_table {
	uint32_t id, base;
	uint64_t hash, owner;
};

/* The table holding `rules` for `owner`: a live one with the same hash; else a
 * patch on the full table under the owner's current version (the one `prefer`
 * names, when it is the owner's); else a new full table. */
static int nacl_table_for(struct router_handle *r, struct live_table *lt, size_t *n,
			  uint64_t owner, uint64_t hash, const struct nacl_rule *rules,
			  size_t nrules, uint32_t prefer, uint32_t *id)
{
	uint32_t base = 0;
	for (size_t k = 0; k < *n; k++) {
		if (lt[k].hash == hash) {
			*id = lt[k].id;
			return 0;
		}
		if (lt[k].owner == owner && (!base || lt[k].id == prefer))
			base = lt[k].base;
	}
	int e = base ? vbpf_patch_add(&r->bpf, base, owner, rules, nrules, id) : -ENOENT;
	if (e == -ENOENT || e == -E2BIG) {
		struct nacl_table t;
		double t0 = mono_ms(), t1;
		if ((e = nacl_compile_hashed(rules, nrules, owner, hash, &t)))
			return e;
		t1 = mono_ms();
		e = vbpf_table_add(&r->bpf, &t, rules, nrules, id);
		log_debug("NACL table of %zu rules: compiled in %.2f ms, stored in %.2f ms", nrules,
			  t1 - t0, mono_ms() - t1);
		nacl_table_free(&t);
		base = *id;
	}
	if (!e)
		lt[(*n)++] = (struct live_table){*id, base, hash, owner};
	return e;
}

/* Points every subnet at tables holding its NACL's rules (building those that do
 * not exist yet) and clears entries of subnets that are gone. Each subnet flips
 * with one map update; the tables left behind go in kernel_gc(), after the change. */
static int nacl_sync(struct router_handle *r, const struct vpc *v, struct vpc_err *err)
{
	struct subnet_cfg *have = calloc(NACL_MAX_SUBNETS, sizeof(*have));
	bool *wanted = calloc(NACL_MAX_SUBNETS, sizeof(bool));
	struct live_table *lt = NULL;
	uint32_t *ids = NULL;
	size_t n = 0;
	int e = -ENOMEM;
	if (!have || !wanted)
		goto out;
	if ((e = vbpf_read_subnets(&r->bpf, have)) || (e = vbpf_tables(&r->bpf, &ids, &n)))
		goto out;
	if (!(lt = calloc(n + 2 * v->n_subnets + 1, sizeof(*lt)))) {
		e = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct nacl_table_meta m = {0};
		vbpf_table_info(&r->bpf, ids[i], &m);
		lt[i] = (struct live_table){ids[i], m.base, m.hash, m.owner};
	}
	for (size_t j = 0; j < v->n_subnets && !e; j++) {
		const struct subnet *s = &v->subnets[j];
		const struct nacl *nacl = &v->nacls[s->nacl];
		struct subnet_cfg want;
		uint64_t h[2];
		want_subnet_cfg(v, s, &want, &h[0], &h[1]);
		wanted[s->id] = true;
		if ((e = nacl_table_for(r, lt, &n, nacl_owner(nacl->name, false), h[0], nacl->in,
					nacl->n_in, have[s->id].table_in, &want.table_in)) ||
		    (e = nacl_table_for(r, lt, &n, nacl_owner(nacl->name, true), h[1], nacl->out,
					nacl->n_out, have[s->id].table_out, &want.table_out)))
			break;
		if (memcmp(&want, &have[s->id], sizeof(want)))
			e = vbpf_subnet_set(&r->bpf, s->id, &want);
		have[s->id] = want;
	}
	for (uint32_t id = 0; id < NACL_MAX_SUBNETS && !e; id++)
		if (!wanted[id] && have[id].mask) {
			memset(&have[id], 0, sizeof(have[id]));
			e = vbpf_subnet_set(&r->bpf, id, &have[id]);
		}
out:
	free(have);
	free(wanted);
	free(ids);
	free(lt);
	return e ? kfail(err, e, "install the network ACLs", NULL) : 0;
}

/* The tables subnets point at, with what they hold. */
struct in_use {
	struct live_table *t;
	size_t n;
	const struct vpc_bpf *b;
};

static struct live_table *in_use_find(const struct in_use *u, uint32_t id)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->t[i].id == id)
			return &u->t[i];
	return NULL;
}

/* A counter stays while a table in use has its owner and holds its rule, number
 * and tag (as far as this process knows what the table holds). */
static bool counter_in_use(const struct nacl_counter_key *c, void *arg)
{
	const struct in_use *u = arg;
	for (size_t i = 0; i < u->n; i++) {
		size_t n;
		if (u->t[i].owner != c->owner || !u->t[i].hash) /* (hash 0: only a patch's base) */
			continue;
		const struct nacl_rule *r = vbpf_table_rules(u->b, u->t[i].id, &n);
		if (!r || c->number == NACL_FINAL_DENY)
			return true;
		for (size_t k = 0; k < n; k++)
			if (r[k].number == c->number && nacl_rule_tag(&r[k]) == c->tag)
				return true;
	}
	return false;
}

/* Rebuilds the patch `id` (holding `m`) as a full table and moves the subnets on
 * it over, one map update each. Only for patches this process built. */
static int compact(struct router_handle *r, struct subnet_cfg *have, uint32_t id,
		   const struct nacl_table_meta *m)
{
	size_t n;
	const struct nacl_rule *rules = vbpf_table_rules(&r->bpf, id, &n);
	struct nacl_table t;
	uint32_t full;
	int e;
	if (!rules)
		return -ENOENT;
	if ((e = nacl_compile_hashed(rules, n, m->owner, m->hash, &t)))
		return e;
	e = vbpf_table_add(&r->bpf, &t, rules, n, &full);
	nacl_table_free(&t);
	for (uint32_t s = 0; s < NACL_MAX_SUBNETS && !e; s++) {
		struct subnet_cfg c = have[s];
		if (!c.mask || (c.table_in != id && c.table_out != id))
			continue;
		c.table_in = c.table_in == id ? full : c.table_in;
		c.table_out = c.table_out == id ? full : c.table_out;
		if (!(e = vbpf_subnet_set(&r->bpf, s, &c)))
			have[s] = c;
	}
	return e;
}

/* Turns patches of `min` changes or more into full tables, then drops the tables
 * no subnet uses (directly or as a patch's base) and counters no table uses.
 * Returns the number of patches left in use. */
static size_t nacl_gc(struct router_handle *r, uint32_t min)
{
	struct subnet_cfg *have = calloc(NACL_MAX_SUBNETS, sizeof(*have));
	struct live_table *used = calloc(2 * NACL_MAX_SUBNETS, sizeof(*used));
	struct in_use u = {used, 0, &r->bpf};
	uint32_t *ids = NULL;
	size_t n = 0, dropped = 0, patches = 0;
	if (!have || !used || vbpf_read_subnets(&r->bpf, have) || vbpf_tables(&r->bpf, &ids, &n))
		goto out;
	vbpf_sweep_orphans(&r->bpf);
	for (int pass = 0; pass < 2; pass++) {
		u.n = 0;
		for (uint32_t s = 0; s < NACL_MAX_SUBNETS; s++) {
			uint32_t tid[2] = {have[s].table_in, have[s].table_out};
			for (int d = 0; d < 2 && have[s].mask; d++) {
				struct nacl_table_meta m;
				if (in_use_find(&u, tid[d]) || vbpf_table_info(&r->bpf, tid[d], &m))
					continue;
				if (pass == 0 && m.base != tid[d] && m.n_add + m.n_del >= min &&
				    !compact(r, have, tid[d], &m))
					continue; /* the subnets moved on; the second pass sees them */
				used[u.n++] = (struct live_table){tid[d], m.base, m.hash, m.owner};
				if (!in_use_find(&u, m.base))
					used[u.n++] = (struct live_table){m.base, m.base, 0, m.owner};
			}
		}
	}
	free(ids);
	ids = NULL;
	if (vbpf_tables(&r->bpf, &ids, &n))
		goto out;
	for (size_t k = 0; k < n; k++)
		if (!in_use_find(&u, ids[k])) {
			vbpf_table_del(&r->bpf, ids[k]);
			dropped++;
		}
	for (size_t i = 0; i < u.n; i++)
		patches += u.t[i].base != u.t[i].id;
	if (dropped)
		vbpf_counters_sweep(&r->bpf, counter_in_use, &u);
out:
	free(have);
	free(used);
	free(ids);
	return patches;
}

size_t kernel_gc(struct kernel *k, uint32_t compact_min)
{
	size_t patches = 0;
	for (size_t i = 0; i < k->n_routers; i++)
		if (k->routers[i]->has_bpf)
			patches += nacl_gc(k->routers[i], compact_min);
	return patches;
}

/* The security-group table as the model says, in one batch: the objects planning
 * compiled (`ready`, when it did), or compiled here. */
static int sg_sync(struct kernel *k, const struct topology *t, int vi,
		   const struct sg_objects *ready, struct vpc_err *err)
{
	struct router_handle *r;
	struct sg_objects own = {0};
	struct obs_nft have;
	char msg[256] = "";
	int e = router_get(k, t->vpcs[vi].name, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if (!ready || !ready->a) {
		if ((e = sg_compile(t, vi, &own)))
			return e == -E2BIG ? vpc_fail(err, VPC_E_INVALID, "",
						      "the security groups of VPC %s need more "
						      "than %d set elements",
						      t->vpcs[vi].name, SG_MAX_ELEMENTS)
					   : kfail(err, e, "compile the security groups", NULL);
		ready = &own;
	}
	if ((e = nft_observe(r->nft, &have))) {
		sg_objects_free(&own);
		return kfail(err, e, "read the security-group table", NULL);
	}
	e = nft_sync(r->nft, ready, &have, msg, sizeof(msg));
	obs_nft_free(&have);
	sg_objects_free(&own);
	return e ? kfail(err, e, "install the security groups", msg) : 0;
}

/* Route tables: delete what the kernel has and the model does not, then add or
 * replace the rest. */
static int routes_sync(struct kernel *k, const struct topology *t, int vi, struct vpc_err *err)
{
	const struct vpc *v = &t->vpcs[vi];
	struct router_handle *r;
	struct obs_router have = {0};
	struct obs_rt *want = NULL;
	struct obs_rule *rules = NULL;
	size_t nw = 0, nr = 0;
	int e = router_get(k, v->name, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if ((e = observe_router(k, v->name, &have)) || (e = want_routes(t, vi, &want, &nw)) ||
	    (e = want_rules(v, &rules, &nr)))
		goto out;
	for (size_t i = 0; i < have.n_rts; i++)
		if (!bsearch0(&have.rts[i], want, nw, sizeof(*want), cmp_obs_rt)) {
			struct route_rq rq = {.cmd = RTM_DELROUTE, .table = have.rts[i].table,
					      .dst = have.rts[i].dst, .dst_len = have.rts[i].len};
			if ((e = nlb_add(&r->batch, rq_route(&rq))))
				goto out;
		}
	for (size_t i = 0; i < have.n_rules; i++)
		if (!bsearch0(&have.rules[i], rules, nr, sizeof(*rules), cmp_obs_rule) &&
		    (e = nlb_add(&r->batch, rq_rule(RTM_DELRULE, have.rules[i].mark, have.rules[i].table,
						    have.rules[i].table))))
			goto out;
	for (size_t i = 0; i < nw; i++) {
		const struct obs_rt *w = &want[i];
		const struct obs_rt *h = bsearch0(w, have.rts, have.n_rts, sizeof(*w), cmp_obs_rt);
		if (h && h->gw == w->gw && h->oif == w->oif && h->type == w->type)
			continue;
		struct route_rq rq = {.cmd = RTM_NEWROUTE, .table = w->table, .dst = w->dst,
				      .dst_len = w->len, .gw = w->gw, .oif = w->oif, .type = w->type,
				      .scope = RT_SCOPE_UNIVERSE, .replace = true, .onlink = w->gw != 0};
		if ((e = nlb_add(&r->batch, rq_route(&rq))))
			goto out;
	}
	for (size_t i = 0; i < nr; i++)
		if (!bsearch0(&rules[i], have.rules, have.n_rules, sizeof(*rules), cmp_obs_rule) &&
		    (e = nlb_add(&r->batch, rq_rule(RTM_NEWRULE, rules[i].mark, rules[i].table,
						    rules[i].table))))
			goto out;
	e = nlb_commit(&r->batch);
	if (e)
		kfail(err, e, "install the route tables", r->batch.errmsg);
out:
	free(want);
	free(rules);
	obs_router_free(&have);
	return e && !err->code[0] ? kfail(err, e, "install the route tables", NULL) : e;
}

static int ensure_router(const char *vpc)
{
	char ns[NS_NAME_MAX];
	ns_router(ns, vpc);
	int e = netns_enter_name(ns);
	if (e)
		return e;
	e = sysctls_apply(router_sysctls);
	netns_home();
	return e;
}

static int flush_all_routers(struct kernel *k, struct vpc_err *err)
{
	for (size_t i = 0; i < k->n_routers; i++) {
		int e = flush_router(k->routers[i], err, "add an instance route in the router");
		if (e)
			return e;
	}
	return 0;
}

int kernel_execute(struct kernel *k, const struct topology *t, const struct plan *p,
		   struct vpc_err *err)
{
	int e = 0;
	k->repaired = 0;
	for (size_t i = 0; i < p->n && !e; i++) {
		const struct op *o = &p->ops[i];
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		const struct vpc *v = o->vpc >= 0 ? &t->vpcs[o->vpc] : NULL;
		switch (o->kind) {
		case OP_PORT_DELETE:
			e = port_delete(k, o->name, o->id, err);
			break;
		case OP_NS_DELETE: {
			const char *vpc = ns_vpc_part(o->name);
			if (vpc && !strchr(vpc, '.'))
				router_forget(k, vpc);
			ns_forget(k, o->name);
			/* Links to namespaces that stay (internet, peer routers) go now. An
			 * instance's or NAT gateway's only link ends in its router: that
			 * end went with its port-delete when the router stays, and goes
			 * with the router otherwise. Deleting a link waits for an RCU grace
			 * period; leaving it to the namespace's teardown does not. */
			if (!vpc || (!strstr(vpc, ".i.") && !strstr(vpc, ".n.")))
				ns_cut_links(o->name);
			if ((e = netns_delete(o->name)))
				kfail(err, e, "delete a namespace", o->name);
			break;
		}
		case OP_GW_DEL:
			e = gw_change(k, o->name, RTM_DELADDR, o->addr, err);
			break;
		case OP_VPC_CREATE:
			e = vpc_create(k, v, err);
			break;
		case OP_PIN_DELETE: {
			struct router_handle *r = router_find(k, o->name);
			if (r && r->has_bpf) {
				vbpf_close(&r->bpf);
				r->has_bpf = false;
			}
			if ((e = vbpf_unpin(o->name)))
				kfail(err, e, "remove a VPC's BPF pins", o->name);
			break;
		}
		case OP_BPF_LOAD:
			e = bpf_load(k, v->name, err);
			break;
		case OP_NACL_SYNC: {
			struct router_handle *r;
			if ((e = router_get(k, v->name, &r)))
				kfail(err, e, "open the router namespace", NULL);
			else
				e = nacl_sync(r, v, err);
			break;
		}
		case OP_SG_SYNC:
			e = sg_sync(k, t, o->vpc,
				    o->vpc < (int)p->n_sg ? &p->sg[o->vpc] : NULL, err);
			break;
		case OP_ROUTES_SYNC:
			e = routes_sync(k, t, o->vpc, err);
			break;
		case OP_PORT_SETUP:
		case OP_NATGW_SETUP: {
			struct router_handle *r;
			struct endpoint ep;
			if (o->kind == OP_PORT_SETUP)
				instance_ep(v, &v->instances[o->idx], &ep);
			else
				natgw_ep(v, &v->nat_gateways[o->idx], &ep);
			if ((e = router_get(k, v->name, &r)))
				kfail(err, e, "open the router namespace", NULL);
			else
				e = port_setup(r, v->name, ep.id, &ep.cfg, true, &k->repaired,
					       err);
			break;
		}
		case OP_INTERNET_CREATE:
		case OP_IGW_CREATE:
		case OP_IGW_SYNC:
		case OP_PEERING_CREATE:
		case OP_PEER_LINK_DELETE:
		case OP_UPLINK_CREATE:
		case OP_UPLINK_DELETE:
			e = edge_execute(k, t, o, err);
			break;
		case OP_GW_ADD:
			e = gw_change(k, v->name, RTM_NEWADDR, cidr_gateway(v->subnets[o->idx].cidr),
				      err);
			break;
		case OP_INST_CREATE:
		case OP_NATGW_CREATE: {
			struct endpoint ep;
			if (o->kind == OP_INST_CREATE)
				instance_ep(v, &v->instances[o->idx], &ep);
			else
				natgw_ep(v, &v->nat_gateways[o->idx], &ep);
			e = ep_create(k, v, &ep, err);
			break;
		}
		case OP_VPC_ENSURE:
			if ((e = ensure_router(v->name)))
				kfail(err, e, "repair the router's settings", NULL);
			break;
		case OP_INST_ENSURE:
			e = inst_ensure(k, v, &v->instances[o->idx], err);
			break;
		}
		if (e && !err->code[0])
			kfail(err, e, op_kind_name(o->kind), NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		log_debug("%s %s: %.3f ms", op_kind_name(o->kind), o->name,
			  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	}
	int f = flush_all_routers(k, err);
	return e ? e : f;
}

bool kernel_nacls_ready(struct kernel *k, const char *vpc)
{
	struct router_handle *r;
	return !router_get(k, vpc, &r) && r->has_bpf;
}

int kernel_nacl_counters(struct kernel *k, const char *vpc, uint64_t owner,
			 const struct nacl_rule *rules, size_t n, struct nacl_counter *out)
{
	struct router_handle *r;
	int e = router_get(k, vpc, &r);
	if (e)
		return e;
	if (!r->has_bpf)
		return -ENOENT;
	return vbpf_counters(&r->bpf, owner, rules, n, out);
}
