/*
 * The edges of a VPC in the kernel: the simulated internet, internet gateways
 * with their 1:1 NAT, and peering links. Like kernel.c, this file only carries out
 * what plan.c decided.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpc/util.h"
#include "kernel_int.h"
#include "log.h"
#include "netns.h"
#include "nft.h"

#define INET_IFINDEX_BASE 2000 /* "vpc-g<V>" in the internet: 2000 + VPC id */

static const struct sysctl_kv forwarder_sysctls[] = {
	{"net/ipv4/conf/all/forwarding", "1"},
	{"net/ipv4/conf/all/rp_filter", "0"},
	{"net/ipv4/conf/default/rp_filter", "0"},
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	{NULL, NULL},
};

/* ---- namespace handles ---- */

static struct ns_handle *ns_find(struct kernel *k, const char *name)
{
	for (size_t i = 0; i < k->n_others; i++)
		if (!strcmp(k->others[i]->name, name))
			return k->others[i];
	return NULL;
}

void ns_forget(struct kernel *k, const char *name)
{
	struct ns_handle *h = ns_find(k, name);
	if (!h)
		return;
	nl_socket_free(h->sk);
	if (h->nft)
		mnl_socket_close(h->nft);
	close(h->nsfd);
	for (size_t i = 0; i < k->n_others; i++)
		if (k->others[i] == h) {
			k->others[i] = k->others[--k->n_others];
			break;
		}
	free(h);
}

int ns_get(struct kernel *k, const char *name, struct ns_handle **out)
{
	struct ns_handle *h = ns_find(k, name);
	char path[NS_NAME_MAX + 16];
	struct stat a, b;
	snprintf(path, sizeof(path), VPC_NETNS_DIR "/%s", name);
	if (h && !fstat(h->nsfd, &a) && !stat(path, &b) && a.st_ino == b.st_ino) {
		*out = h;
		return 0;
	}
	if (h)
		ns_forget(k, name); /* replaced behind our back */
	int fd = netns_open(name);
	if (fd < 0)
		return fd;
	struct ns_handle **arr = realloc(k->others, (k->n_others + 1) * sizeof(*arr));
	if (arr)
		k->others = arr;
	if (!arr || !(h = calloc(1, sizeof(*h)))) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->nsfd = fd;
	int e = netns_enter(fd);
	if (!e) {
		e = rtnl_open(&h->sk);
		if (!e && (e = nft_open(&h->nft)))
			nl_socket_free(h->sk);
		netns_home();
	}
	if (e) {
		close(fd);
		free(h);
		return e;
	}
	k->others[k->n_others++] = h;
	*out = h;
	return 0;
}

struct cut_ctx {
	int ifindex[256];
	int n;
};

static int cut_cb(const struct link_info *li, void *arg)
{
	struct cut_ctx *c = arg;
	unsigned id;
	char tail;
	if (li->ifindex == 1 || sscanf(li->name, VPC_IF_PREFIX "i%u%c", &id, &tail) == 1)
		return 0;
	if (c->n < 256)
		c->ifindex[c->n++] = li->ifindex;
	return 0;
}

void ns_cut_links(const char *name)
{
	struct nl_sock *sk = NULL;
	struct cut_ctx c = {.n = 0};
	struct nlbatch b;
	if (netns_enter_name(name))
		return;
	int e = rtnl_open(&sk);
	netns_home();
	if (e)
		return;
	rtnl_dump_links(sk, cut_cb, &c);
	nlb_init(&b, sk);
	for (int i = 0; i < c.n; i++)
		nlb_add(&b, rq_link_del(c.ifindex[i]));
	nlb_commit(&b); /* best effort: the namespace goes next anyway */
	nlb_free(&b);
	nl_socket_free(sk);
}

/* ---- observation ---- */

struct inet_obs {
	struct observed *o;
	size_t cap_links, cap_routes;
};

static int inet_link_cb(const struct link_info *li, void *arg)
{
	struct inet_obs *x = arg;
	unsigned vid;
	char tail;
	if (sscanf(li->name, VPC_IF_PREFIX "g%u%c", &vid, &tail) != 1 ||
	    li->ifindex != (int)(INET_IFINDEX_BASE + vid))
		return 0;
	if (x->o->n_inet_links == x->cap_links) {
		x->cap_links = x->cap_links ? 2 * x->cap_links : 16;
		uint32_t *p = realloc(x->o->inet_links, x->cap_links * sizeof(*p));
		if (!p)
			return -ENOMEM;
		x->o->inet_links = p;
	}
	x->o->inet_links[x->o->n_inet_links++] = vid;
	return 0;
}

static int inet_route_cb(const struct route_info *ri, void *arg)
{
	struct inet_obs *x = arg;
	if (ri->table != RT_TABLE_MAIN || ri->dst_len != 32 || ri->protocol != VPC_RTPROT ||
	    ri->oif <= INET_IFINDEX_BASE)
		return 0;
	if (x->o->n_inet_routes == x->cap_routes) {
		x->cap_routes = x->cap_routes ? 2 * x->cap_routes : 64;
		struct obs_inet_route *p = realloc(x->o->inet_routes, x->cap_routes * sizeof(*p));
		if (!p)
			return -ENOMEM;
		x->o->inet_routes = p;
	}
	x->o->inet_routes[x->o->n_inet_routes++] =
		(struct obs_inet_route){ri->dst, (uint32_t)(ri->oif - INET_IFINDEX_BASE)};
	return 0;
}


/* ---- the uplink ---- */

struct uplink_find {
	const char *name;
	int ifindex;
	char alias[64];
};

static int uplink_cb(const struct link_info *li, void *arg)
{
	struct uplink_find *u = arg;
	if (!strcmp(li->name, u->name)) {
		u->ifindex = li->ifindex;
		snprintf(u->alias, sizeof(u->alias), "%s", li->alias);
	}
	return 0;
}

/* Our host-side uplink link: its ifindex (0 if none) and its note
 * "via=IFNAME fwd=0|1" (the host interface, and its forwarding before us). */
static int uplink_find(struct kernel *k, struct uplink_find *u, char *host)
{
	if_uplink_host(host);
	u->name = host;
	u->ifindex = 0;
	u->alias[0] = 0;
	return rtnl_dump_links(k->home_sk, uplink_cb, u);
}

static void uplink_table(char *buf, size_t len)
{
	snprintf(buf, len, "vpcd_uplink_%s", vpc_prefix);
}

static int uplink_observe(struct kernel *k, struct observed *o)
{
	char host[IF_NAME_MAX];
	struct uplink_find u;
	int e = uplink_find(k, &u, host);
	if (e)
		return e;
	if (u.ifindex && sscanf(u.alias, "via=%15s", o->uplink_via) == 1)
		o->uplink = true;
	return 0;
}

static int home_sysctl(const char *ifname, const char *value, char *old)
{
	char path[96], buf[8] = "";
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	if (old) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*old = read(fd, buf, sizeof(buf)) > 0 && buf[0] == '1' ? '1' : '0';
		close(fd);
	}
	return sysctl_write(path + strlen("/proc/sys/"), value);
}

static int uplink_delete(struct kernel *k, struct vpc_err *err)
{
	char host[IF_NAME_MAX], via[16] = "", tname[64], msg[256] = "";
	char fwd = '0';
	struct uplink_find u;
	struct nlbatch b;
	int e = uplink_find(k, &u, host);
	if (e)
		return kfail(err, e, "read the host's links", NULL);
	/* Put the host interface back as we found it. */
	if (sscanf(u.alias, "via=%15s fwd=%c", via, &fwd) == 2)
		home_sysctl(via, fwd == '1' ? "1" : "0", NULL);
	if (u.ifindex) {
		nlb_init(&b, k->home_sk);
		nlb_add(&b, rq_link_del(u.ifindex));
		e = nlb_commit(&b);
		nlb_free(&b);
		if (e && e != -ENODEV)
			return kfail(err, e, "remove the uplink", NULL);
	}
	uplink_table(tname, sizeof(tname));
	if ((e = nft_uplink(k->home_nft, tname, NULL, 0, 0, 0, msg, sizeof(msg))))
		return kfail(err, e, "remove the uplink's NAT table", msg);
	log_info("uplink through %s removed", via[0] ? via : "?");
	return 0;
}

static int uplink_create(struct kernel *k, const struct topology *t, struct vpc_err *err)
{
	char inet[NS_NAME_MAX], host[IF_NAME_MAX], tname[64], alias[64], msg[256] = "";
	char fwd_before = '0';
	struct ns_handle *ih;
	struct uplink_find u;
	struct nlbatch b;
	int e;
	/* The interface must exist, and we note its forwarding to restore it later. */
	if ((e = home_sysctl(t->uplink, "1", &fwd_before)))
		return vpc_fail(err, VPC_E_KERNEL, "internet.uplink",
				"cannot use host interface %s as the uplink: %s", t->uplink,
				strerror(-e));
	ns_internet(inet);
	if ((e = ns_get(k, inet, &ih)) || (e = uplink_find(k, &u, host)))
		goto fail;
	nlb_init(&b, k->home_sk);
	if (u.ifindex) /* set up for another interface before: start over */
		nlb_add(&b, rq_link_del(u.ifindex));
	e = nlb_commit(&b);
	nlb_free(&b);
	if (e && e != -ENODEV)
		goto fail;
	/* The internet's own traffic leaves from its host address, which the host
	 * masquerades; never from the link's address, which it would not. */
	struct route_rq out = {.cmd = RTM_NEWROUTE, .table = RT_TABLE_MAIN,
			       .gw = VPC_UPLINK_HOST_ADDR, .oif = VPC_UPLINK_IFINDEX,
			       .type = RTN_UNICAST, .replace = true, .prefsrc = t->internet_host};
	nlb_init(&b, ih->sk);
	if ((e = nlb_add(&b, rq_veth(VPC_UPLINK_IFINDEX, "vpc-uplink", NULL, 0, host,
				     netns_home_fd()))) ||
	    (e = nlb_add(&b, rq_addr(RTM_NEWADDR, VPC_UPLINK_IFINDEX, VPC_UPLINK_INET_ADDR, 30))) ||
	    (e = nlb_add(&b, rq_route(&out))) || (e = nlb_commit(&b))) {
		kfail(err, e, "build the uplink", b.errmsg);
		nlb_free(&b);
		goto fail;
	}
	nlb_free(&b);
	if ((e = uplink_find(k, &u, host)) || !u.ifindex) {
		e = e ? e : -ENODEV;
		goto fail;
	}
	snprintf(alias, sizeof(alias), "via=%s fwd=%c", t->uplink, fwd_before);
	struct route_rq pool = {.cmd = RTM_NEWROUTE, .table = RT_TABLE_MAIN,
				.dst = t->public_pool.addr, .dst_len = t->public_pool.len,
				.gw = VPC_UPLINK_INET_ADDR, .oif = u.ifindex, .type = RTN_UNICAST,
				.replace = true};
	struct route_rq hostr = pool;
	hostr.dst = t->internet_host;
	hostr.dst_len = 32;
	nlb_init(&b, k->home_sk);
	if ((e = nlb_add(&b, rq_link_alias(u.ifindex, alias))) ||
	    (e = nlb_add(&b, rq_link_up(u.ifindex))) ||
	    (e = nlb_add(&b, rq_addr(RTM_NEWADDR, u.ifindex, VPC_UPLINK_HOST_ADDR, 30))) ||
	    (e = nlb_add(&b, rq_route(&pool))) || (e = nlb_add(&b, rq_route(&hostr))) ||
	    (e = nlb_commit(&b))) {
		kfail(err, e, "set up the host side of the uplink", b.errmsg);
		nlb_free(&b);
		goto fail;
	}
	nlb_free(&b);
	uplink_table(tname, sizeof(tname));
	if ((e = home_sysctl(host, "1", NULL)) ||
	    (e = nft_uplink(k->home_nft, tname, t->uplink, t->public_pool.addr, t->public_pool.len,
			    t->internet_host, msg, sizeof(msg)))) {
		kfail(err, e, "masquerade out of the uplink", msg);
		goto fail;
	}
	log_info("uplink through host interface %s", t->uplink);
	return 0;
fail:
	if (!err->code[0])
		kfail(err, e, "set up the uplink", NULL);
	/* Leave nothing half-made on the host. */
	if (!uplink_find(k, &u, host) && u.ifindex) {
		nlb_init(&b, k->home_sk);
		nlb_add(&b, rq_link_del(u.ifindex));
		nlb_commit(&b);
		nlb_free(&b);
	}
	home_sysctl(t->uplink, fwd_before == '1' ? "1" : "0", NULL);
	return e;
}

int edge_observe(struct kernel *k, struct observed *o)
{
	char name[NS_NAME_MAX];
	struct ns_handle *h;
	int e;
	if ((e = uplink_observe(k, o)))
		return e;
	ns_internet(name);
	if (obs_has_ns(o, name)) {
		struct inet_obs x = {.o = o};
		if ((e = ns_get(k, name, &h)) || (e = rtnl_dump_links(h->sk, inet_link_cb, &x)) ||
		    (e = rtnl_dump_routes(h->sk, inet_route_cb, &x)))
			return e;
		qsort0(o->inet_links, o->n_inet_links, sizeof(uint32_t), cmp_u32);
		qsort0(o->inet_routes, o->n_inet_routes, sizeof(*o->inet_routes), cmp_u32);
	}
	for (size_t i = 0; i < o->n_routers; i++) {
		struct obs_router *r = &o->routers[i];
		ns_igw(name, r->vpc);
		if (!obs_has_ns(o, name))
			continue;
		if ((e = ns_get(k, name, &h)) ||
		    (e = nft_igw_observe(h->nft, &r->nat, &r->n_nat, &r->igw_table)))
			return e;
	}
	return 0;
}

/* ---- execution ---- */

static int commit(struct nlbatch *b, struct vpc_err *err, const char *what)
{
	int e = nlb_commit(b);
	return e ? kfail(err, e, what, b->errmsg) : 0;
}

static int internet_create(struct kernel *k, const struct topology *t, struct vpc_err *err)
{
	char name[NS_NAME_MAX];
	struct ns_handle *h;
	struct nlbatch b;
	int e;
	ns_internet(name);
	if ((e = netns_create_enter(name, forwarder_sysctls)))
		return kfail(err, e, "create the internet namespace", NULL);
	netns_home();
	if ((e = ns_get(k, name, &h)))
		return kfail(err, e, "open the internet namespace", NULL);
	nlb_init(&b, h->sk);
	/* Its own host address, on lo: what `vpcctl exec internet` speaks from. */
	if ((e = nlb_add(&b, rq_link_up(1))) ||
	    (e = nlb_add(&b, rq_addr(RTM_NEWADDR, 1, t->internet_host, 32))))
		return kfail(err, e, "queue a request", NULL);
	e = commit(&b, err, "set up the internet's address");
	nlb_free(&b);
	log_info("created the simulated internet");
	return e;
}

static int igw_create(struct kernel *k, const struct topology *t, const struct vpc *v,
		      struct vpc_err *err)
{
	char name[NS_NAME_MAX], inet[NS_NAME_MAX], gname[IF_NAME_MAX];
	struct router_handle *r;
	struct ns_handle *ih, *gh;
	struct nlbatch b;
	int e;
	ns_igw(name, v->name);
	ns_internet(inet);
	if ((e = router_get(k, v->name, &r)) || (e = ns_get(k, inet, &ih)))
		return kfail(err, e, "open the router or the internet", NULL);
	if ((e = netns_create_enter(name, forwarder_sysctls)))
		return kfail(err, e, "create the internet gateway's namespace", NULL);
	netns_home();
	if ((e = ns_get(k, name, &gh))) {
		netns_delete(name);
		return kfail(err, e, "open the internet gateway's namespace", NULL);
	}
	snprintf(gname, sizeof(gname), VPC_IF_PREFIX "g%u", v->id);
	uint32_t inet_if = INET_IFINDEX_BASE + v->id;
	struct route_rq to_vpc = {.cmd = RTM_NEWROUTE, .table = RT_TABLE_MAIN, .dst = v->cidr.addr,
				  .dst_len = v->cidr.len, .gw = VPC_IGW_ROUTER_ADDR,
				  .oif = IGW_IF_ROUTER, .type = RTN_UNICAST, .replace = true};
	struct route_rq out = {.cmd = RTM_NEWROUTE, .table = RT_TABLE_MAIN,
			       .gw = inet_link_addr(v->id, 0), .oif = IGW_IF_INET,
			       .type = RTN_UNICAST, .replace = true};
	nlb_init(&b, gh->sk);
	if ((e = nlb_add(&b, rq_veth(IGW_IF_ROUTER, "vpc-r", NULL, VPC_IGW_IFINDEX, VPC_IGW_IFNAME,
				     r->nsfd))) ||
	    (e = nlb_add(&b, rq_veth(IGW_IF_INET, "vpc-inet", NULL, (int)inet_if, gname, ih->nsfd))) ||
	    (e = nlb_add(&b, rq_link_up(1))) ||
	    (e = nlb_add(&b, rq_addr(RTM_NEWADDR, IGW_IF_ROUTER, VPC_IGW_ADDR, 30))) ||
	    (e = nlb_add(&b, rq_addr(RTM_NEWADDR, IGW_IF_INET, inet_link_addr(v->id, 1), 30))) ||
	    (e = nlb_add(&b, rq_route(&to_vpc))) || (e = nlb_add(&b, rq_route(&out))))
		goto fail_queue;
	if ((e = commit(&b, err, "build the internet gateway's links")))
		goto fail;
	nlb_free(&b);
	if ((e = nlb_add(&r->batch, rq_link_up(VPC_IGW_IFINDEX))) ||
	    (e = nlb_add(&r->batch, rq_addr(RTM_NEWADDR, VPC_IGW_IFINDEX, VPC_IGW_ROUTER_ADDR, 30))))
		goto fail_queue;
	if ((e = flush_router(r, err, "connect the router to its internet gateway")))
		goto fail;
	nlb_init(&b, ih->sk);
	if ((e = nlb_add(&b, rq_link_up((int)inet_if))) ||
	    (e = nlb_add(&b, rq_addr(RTM_NEWADDR, (int)inet_if, inet_link_addr(v->id, 0), 30))))
		goto fail_queue;
	if ((e = commit(&b, err, "connect the internet to the gateway")))
		goto fail;
	nlb_free(&b);
	char msg[256] = "";
	if ((e = nft_igw_sync(gh->nft, NULL, 0, false, msg, sizeof(msg)))) {
		kfail(err, e, "set up the internet gateway's NAT", msg);
		goto fail;
	}
	(void)t;
	return 0;
fail_queue:
	kfail(err, e, "queue a request", NULL);
fail:
	nlb_free(&b);
	ns_forget(k, name);
	ns_cut_links(name);
	netns_delete(name);
	return e;
}

static int igw_sync(struct kernel *k, const struct topology *t, const struct vpc *v,
		    struct vpc_err *err)
{
	char name[NS_NAME_MAX], inet[NS_NAME_MAX], msg[256] = "";
	struct ns_handle *gh, *ih;
	struct nat_pair *want = NULL, *have = NULL;
	size_t nw = 0, nh = 0;
	bool table;
	struct observed o = {0};
	struct nlbatch b;
	int e;
	ns_igw(name, v->name);
	ns_internet(inet);
	if ((e = ns_get(k, name, &gh)) || (e = ns_get(k, inet, &ih)))
		return kfail(err, e, "open the internet gateway", NULL);
	if ((e = want_nat_pairs(v, &want, &nw)) ||
	    (e = nft_igw_observe(gh->nft, &have, &nh, &table)))
		goto out;
	if ((e = nft_igw_sync(gh->nft, want, nw, table, msg, sizeof(msg)))) {
		kfail(err, e, "update the internet gateway's NAT", msg);
		goto out;
	}
	/* The internet's routes to this VPC's public addresses. */
	struct inet_obs x = {.o = &o};
	if ((e = rtnl_dump_routes(ih->sk, inet_route_cb, &x)))
		goto out;
	nlb_init(&b, ih->sk);
	for (size_t i = 0; i < o.n_inet_routes; i++) {
		const struct obs_inet_route *r = &o.inet_routes[i];
		bool keep = false;
		for (size_t j = 0; j < nw && !keep; j++)
			keep = want[j].pub == r->dst && r->vpc_id == v->id;
		if (keep || (r->vpc_id != v->id && !bsearch0(&r->dst, want, nw, sizeof(*want), cmp_u32)))
			continue;
		struct route_rq del = {.cmd = RTM_DELROUTE, .table = RT_TABLE_MAIN, .dst = r->dst,
				       .dst_len = 32};
		if ((e = nlb_add(&b, rq_route(&del))))
			break;
	}
	for (size_t j = 0; j < nw && !e; j++) {
		struct route_rq add = {.cmd = RTM_NEWROUTE, .table = RT_TABLE_MAIN, .dst = want[j].pub,
				       .dst_len = 32, .gw = inet_link_addr(v->id, 1),
				       .oif = (int)(INET_IFINDEX_BASE + v->id), .type = RTN_UNICAST,
				       .replace = true, .prefsrc = t->internet_host};
		e = nlb_add(&b, rq_route(&add));
	}
	if (!e)
		e = commit(&b, err, "route public addresses to the gateway");
	nlb_free(&b);
out:
	free(want);
	free(have);
	free(o.inet_routes);
	return e && !err->code[0] ? kfail(err, e, "update the internet gateway", NULL) : e;
}

static int peering_create(struct kernel *k, const struct topology *t, const struct peering *pe,
			  struct vpc_err *err)
{
	struct router_handle *ra, *rb;
	char ifname[IF_NAME_MAX];
	int e, ifindex = (int)(VPC_PEER_IFINDEX_BASE + pe->id);
	if (pe->id > VPC_MAX_PEERING_ID)
		return vpc_fail(err, VPC_E_INVALID, "", "too many peerings");
	if ((e = router_get(k, t->vpcs[pe->vpc[0]].name, &ra)) ||
	    (e = router_get(k, t->vpcs[pe->vpc[1]].name, &rb)))
		return kfail(err, e, "open the routers of a peering", NULL);
	if_peering(ifname, pe->id);
	if ((e = nlb_add(&ra->batch, rq_veth(ifindex, ifname, NULL, ifindex, ifname, rb->nsfd))) ||
	    (e = nlb_add(&ra->batch, rq_addr(RTM_NEWADDR, ifindex, peering_addr(pe->id, 0), 31))) ||
	    (e = flush_router(ra, err, "create a peering link")))
		return e ? e : -EIO;
	if ((e = nlb_add(&rb->batch, rq_link_up(ifindex))) ||
	    (e = nlb_add(&rb->batch, rq_addr(RTM_NEWADDR, ifindex, peering_addr(pe->id, 1), 31))) ||
	    (e = flush_router(rb, err, "set up a peering link"))) {
		nlb_add(&ra->batch, rq_link_del(ifindex));
		nlb_commit(&ra->batch);
		return e;
	}
	return 0;
}

static int peer_link_delete(struct kernel *k, const char *vpc, uint32_t id, struct vpc_err *err)
{
	struct router_handle *r;
	int e = router_get(k, vpc, &r);
	if (e)
		return kfail(err, e, "open the router namespace", NULL);
	if ((e = nlb_add(&r->batch, rq_link_del((int)(VPC_PEER_IFINDEX_BASE + id)))))
		return kfail(err, e, "queue a request", NULL);
	e = nlb_commit(&r->batch);
	return e && e != -ENODEV ? kfail(err, e, "delete a peering link", r->batch.errmsg) : 0;
}

int edge_execute(struct kernel *k, const struct topology *t, const struct op *o,
		 struct vpc_err *err)
{
	switch (o->kind) {
	case OP_INTERNET_CREATE:
		return internet_create(k, t, err);
	case OP_IGW_CREATE:
		return igw_create(k, t, &t->vpcs[o->vpc], err);
	case OP_IGW_SYNC:
		return igw_sync(k, t, &t->vpcs[o->vpc], err);
	case OP_PEERING_CREATE:
		return peering_create(k, t, &t->peerings[o->idx], err);
	case OP_PEER_LINK_DELETE:
		return peer_link_delete(k, o->name, o->id, err);
	case OP_UPLINK_CREATE:
		return uplink_create(k, t, err);
	case OP_UPLINK_DELETE:
		return uplink_delete(k, err);
	default:
		return vpc_fail(err, VPC_E_INTERNAL, "", "not an edge operation");
	}
}
