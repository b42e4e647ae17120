#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rtnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

int rtnl_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1, err;
	if (!sk)
		return -ENOMEM;
	if ((err = nl_connect(sk, NETLINK_ROUTE))) {
		nl_socket_free(sk);
		return -EIO;
	}
	/* Batches number their requests themselves and match every ack; dumps must not
	 * leave a stray ack behind for the next batch to trip over. */
	nl_socket_disable_seq_check(sk);
	nl_socket_disable_auto_ack(sk);
	/* Short acks (no echo of our request) and the kernel's error text. */
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	nl_socket_set_buffer_size(sk, 1 << 20, 1 << 20);
	*out = sk;
	return 0;
}

void nlb_init(struct nlbatch *b, struct nl_sock *sk)
{
	memset(b, 0, sizeof(*b));
	b->sk = sk;
	b->failed = -1;
}

void nlb_free(struct nlbatch *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = b->n = 0;
}

/* Queued requests are flushed before the socket buffer could overflow with acks. */
#define NLB_MAX_BYTES (256 * 1024)
#define NLB_MAX_MSGS  512

static int nlb_flush(struct nlbatch *b);

int nlb_add(struct nlbatch *b, struct nl_msg *m)
{
	if (!m)
		return -ENOMEM;
	struct nlmsghdr *h = nlmsg_hdr(m);
	if (b->len + h->nlmsg_len > NLB_MAX_BYTES || b->n >= NLB_MAX_MSGS) {
		int err = nlb_flush(b);
		if (err) {
			nlmsg_free(m);
			return err;
		}
	}
	if (b->len + h->nlmsg_len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16384;
		while (cap < b->len + h->nlmsg_len)
			cap *= 2;
		char *nb = realloc(b->buf, cap);
		if (!nb) {
			nlmsg_free(m);
			return -ENOMEM;
		}
		b->buf = nb;
		b->cap = cap;
	}
	if (!b->n)
		b->seq0 = nl_socket_use_seq(b->sk);
	else
		nl_socket_use_seq(b->sk);
	h->nlmsg_seq = b->seq0 + b->n;
	h->nlmsg_pid = 0;
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	memcpy(b->buf + b->len, h, h->nlmsg_len);
	b->len += NLMSG_ALIGN(h->nlmsg_len);
	b->n++;
	nlmsg_free(m);
	return 0;
}

static void ext_ack_text(struct nlmsghdr *h, char *buf, size_t len)
{
	struct nlmsgerr *e = nlmsg_data(h);
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* With NETLINK_CAP_ACK the request is not echoed: TLVs follow the header. */
	size_t off = sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	struct nlattr *a = (struct nlattr *)((char *)e + NLMSG_ALIGN(off));
	int rem = (int)h->nlmsg_len - (int)((char *)a - (char *)h);
	struct nlattr *pos;
	int r;
	nla_for_each_attr(pos, a, rem, r)
	{
		if (nla_type(pos) == NLMSGERR_ATTR_MSG) {
			snprintf(buf, len, "%s", (const char *)nla_data(pos));
			return;
		}
	}
}

static int nlb_flush(struct nlbatch *b)
{
	int first_err = 0;
	unsigned acked = 0;
	if (!b->n)
		return 0;
	if (nl_sendto(b->sk, b->buf, b->len) < 0) {
		first_err = -EIO;
		goto out;
	}
	while (acked < b->n) {
		struct sockaddr_nl nla;
		unsigned char *buf = NULL;
		int n = nl_recv(b->sk, &nla, &buf, NULL);
		if (n <= 0) {
			free(buf);
			if (!first_err)
				first_err = -EIO;
			goto out;
		}
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		for (; nlmsg_ok(h, n); h = nlmsg_next(h, &n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			struct nlmsgerr *e = nlmsg_data(h);
			uint32_t idx = h->nlmsg_seq - b->seq0;
			acked++;
			if (e->error && !first_err) {
				first_err = e->error;
				b->failed = (int)idx;
				b->errmsg[0] = 0;
				ext_ack_text(h, b->errmsg, sizeof(b->errmsg));
			}
		}
		free(buf);
	}
out:
	b->len = 0;
	b->n = 0;
	return first_err;
}

int nlb_commit(struct nlbatch *b)
{
	return nlb_flush(b);
}

static struct nl_msg *link_msg(int type, int flags, int ifindex, unsigned ifflags,
			       unsigned change)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC,
				.ifi_index = ifindex,
				.ifi_flags = ifflags,
				.ifi_change = change};
	struct nl_msg *m = nlmsg_alloc_simple(type, flags);
	if (m && nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct nl_msg *rq_link_up(int ifindex)
{
	return link_msg(RTM_NEWLINK, 0, ifindex, IFF_UP, IFF_UP);
}

struct nl_msg *rq_link_alias(int ifindex, const char *alias)
{
	struct nl_msg *m = link_msg(RTM_NEWLINK, 0, ifindex, 0, 0);
	if (m && nla_put_string(m, IFLA_IFALIAS, alias) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct nl_msg *rq_link_del(int ifindex)
{
	return link_msg(RTM_DELLINK, 0, ifindex, 0, 0);
}

struct nl_msg *rq_veth(int ifindex, const char *name, const uint8_t *mac, int peer_ifindex,
		       const char *peer_name, int peer_nsfd)
{
	struct nl_msg *m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifindex, IFF_UP, IFF_UP);
	struct nlattr *li, *data, *peer;
	/* The peer cannot be created up: veth refuses to open before both ends exist. */
	struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC, .ifi_index = peer_ifindex};
	if (!m)
		return NULL;
	if (nla_put_string(m, IFLA_IFNAME, name) < 0 ||
	    (mac && nla_put(m, IFLA_ADDRESS, 6, mac) < 0) ||
	    !(li = nla_nest_start(m, IFLA_LINKINFO)) ||
	    nla_put_string(m, IFLA_INFO_KIND, "veth") < 0 ||
	    !(data = nla_nest_start(m, IFLA_INFO_DATA)) || !(peer = nla_nest_start(m, VETH_INFO_PEER)) ||
	    nlmsg_append(m, &pifi, sizeof(pifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(m, IFLA_IFNAME, peer_name) < 0 ||
	    (peer_nsfd >= 0 && nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)peer_nsfd) < 0)) {
		nlmsg_free(m);
		return NULL;
	}
	nla_nest_end(m, peer);
	nla_nest_end(m, data);
	nla_nest_end(m, li);
	return m;
}

struct nl_msg *rq_neigh_proxy_delay(int ifindex, uint64_t ms)
{
	struct ndtmsg ndt = {.ndtm_family = AF_INET};
	struct nl_msg *m = nlmsg_alloc_simple(RTM_SETNEIGHTBL, 0);
	struct nlattr *parms;
	if (!m)
		return NULL;
	if (nlmsg_append(m, &ndt, sizeof(ndt), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(m, NDTA_NAME, "arp_cache") < 0 ||
	    !(parms = nla_nest_start(m, NDTA_PARMS)) ||
	    nla_put_u32(m, NDTPA_IFINDEX, (uint32_t)ifindex) < 0 ||
	    nla_put_u64(m, NDTPA_PROXY_DELAY, ms) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	nla_nest_end(m, parms);
	return m;
}

struct nl_msg *rq_addr(int cmd, int ifindex, uint32_t ip, int prefixlen)
{
	struct ifaddrmsg ifa = {.ifa_family = AF_INET,
				.ifa_prefixlen = (unsigned char)prefixlen,
				.ifa_index = (unsigned)ifindex,
				.ifa_scope = RT_SCOPE_UNIVERSE};
	uint32_t be = htonl(ip);
	struct nl_msg *m =
		nlmsg_alloc_simple(cmd, cmd == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	if (!m)
		return NULL;
	if (nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0 ||
	    nla_put(m, IFA_LOCAL, 4, &be) < 0 || nla_put(m, IFA_ADDRESS, 4, &be) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct nl_msg *rq_route(const struct route_rq *r)
{
	struct rtmsg rtm = {.rtm_family = AF_INET,
			    .rtm_dst_len = (unsigned char)r->dst_len,
			    .rtm_table = r->table < 256 ? (unsigned char)r->table : RT_TABLE_UNSPEC,
			    .rtm_protocol = VPC_RTPROT,
			    .rtm_scope = (unsigned char)r->scope,
			    .rtm_type = (unsigned char)r->type};
	int flags = r->cmd == RTM_NEWROUTE ? NLM_F_CREATE | (r->replace ? NLM_F_REPLACE : NLM_F_EXCL)
					   : 0;
	struct nl_msg *m = nlmsg_alloc_simple(r->cmd, flags);
	uint32_t dst = htonl(r->dst), gw = htonl(r->gw);
	if (!m)
		return NULL;
	if (r->cmd == RTM_DELROUTE) {
		rtm.rtm_protocol = 0;
		rtm.rtm_scope = RT_SCOPE_NOWHERE;
		rtm.rtm_type = 0;
	}
	if (r->onlink)
		rtm.rtm_flags |= RTNH_F_ONLINK;
	uint32_t src = htonl(r->prefsrc);
	if (nlmsg_append(m, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, RTA_TABLE, r->table) < 0 ||
	    (r->dst_len && nla_put(m, RTA_DST, 4, &dst) < 0) ||
	    (r->gw && nla_put(m, RTA_GATEWAY, 4, &gw) < 0) ||
	    (r->prefsrc && nla_put(m, RTA_PREFSRC, 4, &src) < 0) ||
	    (r->oif && nla_put_u32(m, RTA_OIF, (uint32_t)r->oif) < 0)) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

struct nl_msg *rq_rule(int cmd, uint32_t mark, uint32_t table, uint32_t prio)
{
	struct fib_rule_hdr frh = {.family = AF_INET, .action = FR_ACT_TO_TBL,
				   .table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC};
	struct nl_msg *m = nlmsg_alloc_simple(cmd, cmd == RTM_NEWRULE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	if (!m)
		return NULL;
	if (nlmsg_append(m, &frh, sizeof(frh), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, FRA_FWMARK, mark) < 0 || nla_put_u32(m, FRA_FWMASK, 0xffffffffu) < 0 ||
	    nla_put_u32(m, FRA_TABLE, table) < 0 || nla_put_u32(m, FRA_PRIORITY, prio) < 0 ||
	    nla_put_u8(m, FRA_PROTOCOL, VPC_RTPROT) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/* ---- dumps ---- */

struct dump_ctx {
	int (*rule)(const struct rule_info *, void *);
	int (*link)(const struct link_info *, void *);
	int (*addr)(const struct addr_info *, void *);
	int (*route)(const struct route_info *, void *);
	void *arg;
	int stop;
};

static int dump_parse(struct nl_msg *msg, void *arg)
{
	struct dump_ctx *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (d->stop)
		return NL_SKIP;
	if (h->nlmsg_type == RTM_NEWLINK) {
		struct nlattr *tb[IFLA_MAX + 1];
		struct ifinfomsg *ifi = nlmsg_data(h);
		if (nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_IFNAME])
			return NL_SKIP;
		struct link_info li = {.ifindex = ifi->ifi_index,
				       .name = nla_get_string(tb[IFLA_IFNAME]),
				       .alias = tb[IFLA_IFALIAS] ? nla_get_string(tb[IFLA_IFALIAS]) : "",
				       .up = ifi->ifi_flags & IFF_UP};
		d->stop = d->link(&li, d->arg);
	} else if (h->nlmsg_type == RTM_NEWADDR) {
		struct nlattr *tb[IFA_MAX + 1];
		struct ifaddrmsg *ifa = nlmsg_data(h);
		if (ifa->ifa_family != AF_INET ||
		    nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0 || !tb[IFA_LOCAL])
			return NL_SKIP;
		struct addr_info ai = {.ifindex = (int)ifa->ifa_index,
				       .ip = ntohl(nla_get_u32(tb[IFA_LOCAL])),
				       .prefixlen = ifa->ifa_prefixlen};
		d->stop = d->addr(&ai, d->arg);
	} else if (h->nlmsg_type == RTM_NEWROUTE) {
		struct nlattr *tb[RTA_MAX + 1];
		struct rtmsg *rtm = nlmsg_data(h);
		if (rtm->rtm_family != AF_INET ||
		    nlmsg_parse(h, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
			return NL_SKIP;
		struct route_info ri = {
			.table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table,
			.dst = tb[RTA_DST] ? ntohl(nla_get_u32(tb[RTA_DST])) : 0,
			.dst_len = rtm->rtm_dst_len,
			.oif = tb[RTA_OIF] ? (int)nla_get_u32(tb[RTA_OIF]) : 0,
			.protocol = rtm->rtm_protocol,
			.type = rtm->rtm_type,
			.gw = tb[RTA_GATEWAY] ? ntohl(nla_get_u32(tb[RTA_GATEWAY])) : 0};
		d->stop = d->route(&ri, d->arg);
	} else if (h->nlmsg_type == RTM_NEWRULE) {
		struct nlattr *tb[FRA_MAX + 1];
		struct fib_rule_hdr *frh = nlmsg_data(h);
		if (frh->family != AF_INET || nlmsg_parse(h, sizeof(*frh), tb, FRA_MAX, NULL) < 0)
			return NL_SKIP;
		struct rule_info ri = {
			.mark = tb[FRA_FWMARK] ? nla_get_u32(tb[FRA_FWMARK]) : 0,
			.table = tb[FRA_TABLE] ? nla_get_u32(tb[FRA_TABLE]) : frh->table,
			.protocol = tb[FRA_PROTOCOL] ? nla_get_u8(tb[FRA_PROTOCOL]) : 0};
		d->stop = d->rule(&ri, d->arg);
	}
	return NL_OK;
}

static int dump(struct nl_sock *sk, int type, struct dump_ctx d)
{
	struct rtgenmsg g = {.rtgen_family = type == RTM_GETLINK ? AF_UNSPEC : AF_INET};
	int err;
	if ((err = nl_send_simple(sk, type, NLM_F_DUMP, &g, sizeof(g))) < 0)
		return -EIO;
	struct nl_cb *c = nl_cb_alloc(NL_CB_DEFAULT);
	if (!c)
		return -ENOMEM;
	nl_cb_set(c, NL_CB_VALID, NL_CB_CUSTOM, dump_parse, &d);
	err = nl_recvmsgs(sk, c);
	nl_cb_put(c);
	return err < 0 ? -EIO : 0;
}

int rtnl_dump_links(struct nl_sock *sk, int (*cb)(const struct link_info *, void *), void *arg)
{
	return dump(sk, RTM_GETLINK, (struct dump_ctx){.link = cb, .arg = arg});
}

int rtnl_dump_addrs(struct nl_sock *sk, int (*cb)(const struct addr_info *, void *), void *arg)
{
	return dump(sk, RTM_GETADDR, (struct dump_ctx){.addr = cb, .arg = arg});
}

int rtnl_dump_routes(struct nl_sock *sk, int (*cb)(const struct route_info *, void *), void *arg)
{
	return dump(sk, RTM_GETROUTE, (struct dump_ctx){.route = cb, .arg = arg});
}

int rtnl_dump_rules(struct nl_sock *sk, int (*cb)(const struct rule_info *, void *), void *arg)
{
	return dump(sk, RTM_GETRULE, (struct dump_ctx){.rule = cb, .arg = arg});
}
