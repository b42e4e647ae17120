/*
 * nftables through libnftnl (objects) and libmnl (the socket): one batch per
 * change, every acknowledgement checked. What the table should hold was decided by
 * sg_compile.c; this file only writes it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "vpc/util.h"
#include "nft.h"
#include "vpc/names.h"

/* nft(8)'s type numbers, so `nft list ruleset` prints our sets readably. */
#define T_VERDICT  1
#define T_INTEGER  4
#define T_IPADDR   7
#define T_PROTO	   12
#define T_SERVICE  13
#define T_IFINDEX  20
#define TYPE_BITS  6
#define ELEMS_PER_MSG 1000 /* libnftnl overflows near 10k elements in one message */

/* conntrack state bits as the ct expression reports them */
#define CT_INVALID     (1u << 0)
#define CT_ESTABLISHED (1u << 1)
#define CT_RELATED     (1u << 2)

/* The table the builders below write to: ours in a VPC namespace, or the
 * uplink's in vpcd's own namespace (nft_uplink()). */
static const char *tbl = VPC_NFT_TABLE;

int nft_open(struct mnl_socket **out)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int big = 64 << 20;
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;
		mnl_socket_close(nl);
		return e;
	}
	/* Big batches go out in one send; their acks must fit on the way back. */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	int one = 1;
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	*out = nl;
	return 0;
}

static uint32_t next_seq(void)
{
	static uint32_t seq;
	if (!seq)
		seq = (uint32_t)time(NULL);
	return ++seq;
}

/* ---- dumps ---- */

struct dump {
	int (*cb)(const struct nlmsghdr *, void *);
	void *arg;
};

/* Replies are read into one buffer, as large as the largest reply the kernel
 * sends: it sizes a dump's messages after the largest read the socket has seen
 * (the batches' acks are read with this buffer too), and an error ack echoes
 * the request it refuses. A read that does not fit fails with ENOSPC. */
static char rx[1 << 20];

/* After a failure: what is still queued (the rest of a dump, the acks of an
 * aborted batch) would otherwise be read as the answer to the next request. */
static void drain(struct mnl_socket *nl)
{
	while (recv(mnl_socket_get_fd(nl), rx, sizeof(rx), MSG_DONTWAIT) >= 0)
		;
}

static int run_dump(struct mnl_socket *nl, struct nlmsghdr *req, struct dump *d)
{
	uint32_t seq = req->nlmsg_seq, portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, rx, sizeof(rx));
		int r = n < 0 ? -1 : mnl_cb_run(rx, (size_t)n, seq, portid, d->cb, d->arg);
		if (r < 0) {
			int e = -errno;
			drain(nl);
			return e;
		}
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static int grow_names(char ***v, size_t *n, const char *s)
{
	char **p = realloc(*v, (*n + 1) * sizeof(char *));
	if (!p)
		return -ENOMEM;
	*v = p;
	if (!(p[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int set_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct obs_nft *o = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	int r = MNL_CB_OK;
	if (s && !nftnl_set_nlmsg_parse(nlh, s)) {
		const char *t = nftnl_set_get_str(s, NFTNL_SET_TABLE),
			   *name = nftnl_set_get_str(s, NFTNL_SET_NAME);
		if (t && !strcmp(t, tbl) && strcmp(name, NFT_MAP_IN) &&
		    strcmp(name, NFT_MAP_OUT) && grow_names(&o->sets, &o->n_sets, name))
			r = MNL_CB_ERROR;
	}
	nftnl_set_free(s);
	return r;
}

static int chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct obs_nft *o = arg;
	struct nftnl_chain *c = nftnl_chain_alloc();
	int r = MNL_CB_OK;
	if (c && !nftnl_chain_nlmsg_parse(nlh, c)) {
		const char *t = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE),
			   *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		if (t && !strcmp(t, tbl) && strcmp(name, NFT_FORWARD_CHAIN) &&
		    grow_names(&o->chains, &o->n_chains, name))
			r = MNL_CB_ERROR;
	}
	nftnl_chain_free(c);
	return r;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A rule of our table; `chain` NULL: any chain (a dump). */
static struct nftnl_rule *rule_obj(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, tbl);
	if (chain)
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	return r;
}

static int rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct obs_nft *o = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (r && !nftnl_rule_nlmsg_parse(nlh, r)) {
		const char *t = nftnl_rule_get_str(r, NFTNL_RULE_TABLE),
			   *chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
		if (t && chain && !strcmp(t, tbl)) {
			char **at = bsearch0(&chain, o->chains, o->n_chains, sizeof(char *), cmp_name);
			if (!strcmp(chain, NFT_FORWARD_CHAIN))
				o->base_rules++;
			else if (at)
				o->chain_rules[at - o->chains]++;
		}
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

struct elem_ctx {
	struct obs_disp **v;
	size_t *n;
};

static int elem_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct elem_ctx *x = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	int r = MNL_CB_OK;
	if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) || !(it = nftnl_set_elems_iter_create(s))) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	while ((e = nftnl_set_elems_iter_next(it))) {
		uint32_t len = 0;
		const uint32_t *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		const char *chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
		if (!key || len != 4 || !chain)
			continue;
		struct obs_disp *p = realloc(*x->v, (*x->n + 1) * sizeof(*p));
		if (!p) {
			r = MNL_CB_ERROR;
			break;
		}
		*x->v = p;
		p[*x->n].ifindex = *key;
		snprintf(p[*x->n].chain, sizeof(p[*x->n].chain), "%s", chain);
		(*x->n)++;
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return r;
}

static int cmp_disp(const void *a, const void *b)
{
	const struct obs_disp *x = a, *y = b;
	return x->ifindex < y->ifindex ? -1 : x->ifindex > y->ifindex;
}

static int dump_elems(struct mnl_socket *nl, const char *map, struct obs_disp **v, size_t *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nftnl_set_alloc();
	struct elem_ctx x = {v, n};
	struct dump d = {elem_cb, &x};
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, tbl);
	nftnl_set_set_str(s, NFTNL_SET_NAME, map);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_IPV4,
						     NLM_F_DUMP | NLM_F_ACK, next_seq());
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	int r = run_dump(nl, nlh, &d);
	qsort0(*v, *n, sizeof(**v), cmp_disp);
	return r;
}

int nft_observe(struct mnl_socket *nl, struct obs_nft *o)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct dump ds = {set_cb, o}, dc = {chain_cb, o};
	struct nlmsghdr *nlh;
	int r;
	memset(o, 0, sizeof(*o));

	/* Is the table there? */
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, tbl);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_IPV4, NLM_F_ACK, next_seq());
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	struct dump none = {NULL, NULL};
	r = run_dump(nl, nlh, &none);
	if (r == -ENOENT)
		return 0;
	if (r)
		return r;
	o->table = true;

	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return -ENOMEM;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, tbl);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_IPV4, NLM_F_DUMP | NLM_F_ACK,
				    next_seq());
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if ((r = run_dump(nl, nlh, &ds)))
		return r;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_IPV4, NLM_F_DUMP | NLM_F_ACK,
				    next_seq());
	if ((r = run_dump(nl, nlh, &dc)) || (r = dump_elems(nl, NFT_MAP_IN, &o->in, &o->n_in)) ||
	    (r = dump_elems(nl, NFT_MAP_OUT, &o->out, &o->n_out)))
		return r;
	qsort0(o->sets, o->n_sets, sizeof(char *), cmp_name);
	qsort0(o->chains, o->n_chains, sizeof(char *), cmp_name);
	/* How many rules each chain holds: a flushed chain is drift too. */
	if (!(o->chain_rules = calloc(o->n_chains + 1, sizeof(size_t))))
		return -ENOMEM;
	struct dump dr = {rule_cb, o};
	struct nftnl_rule *rq = rule_obj(NULL);
	if (!rq)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_IPV4, NLM_F_DUMP | NLM_F_ACK,
				    next_seq());
	nftnl_rule_nlmsg_build_payload(nlh, rq);
	nftnl_rule_free(rq);
	return run_dump(nl, nlh, &dr);
}

/* ---- batch ---- */

struct batch {
	struct mnl_nlmsg_batch *b;
	char *buf;
	size_t size;
	uint32_t first_seq, seq;
	unsigned n_acks;
	bool full;
};

static int batch_init(struct batch *x, size_t size)
{
	memset(x, 0, sizeof(*x));
	x->size = size;
	if (!(x->buf = malloc(size)))
		return -ENOMEM;
	x->b = mnl_nlmsg_batch_start(x->buf, size);
	x->seq = x->first_seq = next_seq();
	nftnl_batch_begin(mnl_nlmsg_batch_current(x->b), x->seq++);
	mnl_nlmsg_batch_next(x->b);
	return 0;
}

static struct nlmsghdr *batch_msg(struct batch *x, int type, int flags)
{
	/* Reserve room for the batch end; a full buffer fails the whole change. */
	if (mnl_nlmsg_batch_size(x->b) + (1 << 16) > x->size) {
		x->full = true;
		return NULL;
	}
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(x->b), (uint16_t)type,
						     NFPROTO_IPV4, (uint16_t)(flags | NLM_F_ACK), x->seq++);
	x->n_acks++;
	return nlh;
}

static void batch_done(struct batch *x)
{
	mnl_nlmsg_batch_next(x->b);
}

static void batch_free(struct batch *x)
{
	if (x->b)
		mnl_nlmsg_batch_stop(x->b);
	free(x->buf);
}

struct ack_ctx {
	int err;
	char *errbuf;
	size_t errlen;
};

static int err_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct ack_ctx *a = arg;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	if (e->error && !a->err) {
		a->err = e->error;
		/* The kernel's extended ack text, when it gave one. */
		if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && a->errbuf) {
			size_t off = sizeof(*e) + (nlh->nlmsg_flags & NLM_F_CAPPED
							   ? 0
							   : e->msg.nlmsg_len - sizeof(struct nlmsghdr));
			const struct nlattr *attr;
			const void *tlvs = (const char *)e + MNL_ALIGN(off);
			mnl_attr_for_each_payload(tlvs, nlh->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(off))
			{
				if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
					snprintf(a->errbuf, a->errlen, "%s", mnl_attr_get_str(attr));
			}
		}
	}
	return MNL_CB_OK;
}

static int batch_send(struct mnl_socket *nl, struct batch *x, char *errbuf, size_t errlen)
{
	if (x->full)
		return -E2BIG;
	nftnl_batch_end(mnl_nlmsg_batch_current(x->b), x->seq++);
	mnl_nlmsg_batch_next(x->b);
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(x->b), mnl_nlmsg_batch_size(x->b)) < 0)
		return -errno;
	/* One ack per message: count them all, keep the first error. */
	struct ack_ctx a = {.errbuf = errbuf, .errlen = errlen};
	unsigned got = 0;
	while (got < x->n_acks) {
		ssize_t n = mnl_socket_recvfrom(nl, rx, sizeof(rx));
		if (n < 0) {
			int e = -errno;
			drain(nl);
			return e;
		}
		const struct nlmsghdr *h = (const struct nlmsghdr *)rx;
		int len = (int)n;
		while (mnl_nlmsg_ok(h, len)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				got++;
				err_cb(h, &a);
			}
			h = mnl_nlmsg_next(h, &len);
		}
		if (a.err) { /* the transaction is void; the kernel aborted it whole */
			drain(nl);
			break;
		}
	}
	return a.err;
}

/* ---- objects ---- */

static void add_table(struct batch *x)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, tbl);
	struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_done(x);
	}
	nftnl_table_free(t);
}

static void add_chain(struct batch *x, const char *name, bool base)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, tbl);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (base) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	if (nlh) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_done(x);
	}
	nftnl_chain_free(c);
}

/* Deletes every rule of a chain. */
static void flush_chain(struct batch *x, const char *name)
{
	struct nftnl_rule *r = rule_obj(name);
	struct nlmsghdr *nlh;
	if (r && (nlh = batch_msg(x, NFT_MSG_DELRULE, 0))) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		batch_done(x);
	}
	nftnl_rule_free(r);
}

static void del_chain(struct batch *x, const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	flush_chain(x, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, tbl);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if ((nlh = batch_msg(x, NFT_MSG_DELCHAIN, 0))) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_done(x);
	}
	nftnl_chain_free(c);
}

struct set_shape {
	uint32_t key_len, key_type, flags;
	uint8_t fields[4]; /* concatenation field lengths, 0-terminated */
};

static struct set_shape shape_of(enum sgset_kind k)
{
	switch (k) {
	case SGSET_MEMBERS:
		return (struct set_shape){4, T_IPADDR, 0, {0}};
	case SGSET_ALL:
		return (struct set_shape){4, T_IPADDR, NFT_SET_INTERVAL, {0}};
	case SGSET_PROTO:
		return (struct set_shape){8, T_IPADDR << TYPE_BITS | T_PROTO,
					  NFT_SET_INTERVAL | NFT_SET_CONCAT, {4, 1, 0}};
	case SGSET_L4:
		return (struct set_shape){12, (T_IPADDR << TYPE_BITS | T_PROTO) << TYPE_BITS | T_SERVICE,
					  NFT_SET_INTERVAL | NFT_SET_CONCAT, {4, 1, 2, 0}};
	case SGSET_ICMP:
		return (struct set_shape){8, T_IPADDR << TYPE_BITS | T_INTEGER,
					  NFT_SET_INTERVAL | NFT_SET_CONCAT, {4, 2, 0}};
	}
	return (struct set_shape){4, T_IPADDR, 0, {0}};
}

static struct nftnl_set *set_obj(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, tbl);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	return s;
}

/* Key bytes of one end of an element: each field in network order, padded to 4. */
static void elem_key(const struct sg_elem *e, enum sgset_kind k, bool hi, uint8_t *key)
{
	uint32_t a = htonl(hi ? e->a_hi : e->a_lo);
	uint16_t p = htons(hi ? e->p_hi : e->p_lo);
	memset(key, 0, 12);
	memcpy(key, &a, 4);
	if (k == SGSET_PROTO || k == SGSET_L4)
		key[4] = e->proto;
	if (k == SGSET_L4)
		memcpy(key + 8, &p, 2);
	if (k == SGSET_ICMP)
		memcpy(key + 4, &p, 2);
}

/* Elements in messages of ELEMS_PER_MSG. Single-field interval sets (rbtree) take
 * a start and an "interval end" element one past the range. */
static void add_elems(struct batch *x, const struct sg_set *st)
{
	struct set_shape sh = shape_of(st->kind);
	size_t i = 0;
	while (i < st->n) {
		struct nftnl_set *s = set_obj(st->name);
		for (size_t k = 0; k < ELEMS_PER_MSG && i < st->n; k++, i++) {
			const struct sg_elem *e = &st->e[i];
			struct nftnl_set_elem *el = nftnl_set_elem_alloc();
			uint8_t key[12];
			elem_key(e, st->kind, false, key);
			nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, sh.key_len);
			if (sh.flags & NFT_SET_CONCAT) {
				elem_key(e, st->kind, true, key);
				nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY_END, key, sh.key_len);
			}
			nftnl_set_elem_add(s, el);
			if (st->kind == SGSET_ALL && e->a_hi != 0xffffffffu) {
				uint32_t end = htonl(e->a_hi + 1);
				el = nftnl_set_elem_alloc();
				nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, &end, 4);
				nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
				nftnl_set_elem_add(s, el);
			}
		}
		struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
		if (nlh) {
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			batch_done(x);
		}
		nftnl_set_free(s);
	}
}

static void add_set(struct batch *x, const struct sg_set *st)
{
	struct set_shape sh = shape_of(st->kind);
	struct nftnl_set *s = set_obj(st->name);
	static uint32_t set_id;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_IPV4);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sh.key_len);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sh.key_type);
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++set_id);
	if (sh.flags)
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, sh.flags);
	if (sh.fields[0]) {
		uint32_t n = 0;
		while (sh.fields[n])
			n++;
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, sh.fields, n);
	}
	struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		batch_done(x);
	}
	nftnl_set_free(s);
	add_elems(x, st);
}

/* A message about a whole set (delete it, or empty it). */
static void set_msg(struct batch *x, const char *name, int type)
{
	struct nftnl_set *s = set_obj(name);
	struct nlmsghdr *nlh = batch_msg(x, type, 0);
	if (nlh) {
		if (type == NFT_MSG_DELSETELEM)
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
		else
			nftnl_set_nlmsg_build_payload(nlh, s);
		batch_done(x);
	}
	nftnl_set_free(s);
}

static void del_set(struct batch *x, const char *name)
{
	set_msg(x, name, NFT_MSG_DELSET);
}

/* A map of 4-byte keys (ifindexes host-endian, or addresses) to verdicts or
 * 4-byte data. Set ids only need to be unique within one batch. */
static void add_map4(struct batch *x, const char *name, uint32_t key_type, uint32_t data_type)
{
	struct nftnl_set *s = set_obj(name);
	static uint32_t map_id = 1u << 30;
	bool verdicts = data_type == NFT_DATA_VERDICT;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_IPV4);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, data_type);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, verdicts ? 0 : 4);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++map_id);
	/* Tell nft(8) ifindex keys are host-endian, so it prints them right. */
	struct nftnl_udata_buf *ud = key_type == T_IFINDEX ? nftnl_udata_buf_alloc(64) : NULL;
	if (ud) {
		nftnl_udata_put_u32(ud, 0 /* NFTNL_UDATA_SET_KEYBYTEORDER */, 1 /* host */);
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWSET, NLM_F_CREATE);
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		batch_done(x);
	}
	nftnl_set_free(s);
}

/* One dispatch entry: add (chain != NULL) or delete. */
static void map_elem(struct batch *x, const char *map, uint32_t ifindex, const char *chain)
{
	struct nftnl_set *s = set_obj(map);
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &ifindex, 4);
	if (chain) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
	}
	nftnl_set_elem_add(s, e);
	struct nlmsghdr *nlh = batch_msg(x, chain ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
					 chain ? NLM_F_CREATE : 0);
	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_done(x);
	}
	nftnl_set_free(s);
}

/* ---- rule expressions ---- */

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg);
	nftnl_rule_add_expr(r, e);
}

static void e_meta(struct nftnl_rule *r, uint32_t key, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, reg);
	nftnl_rule_add_expr(r, e);
}

static void e_cmp(struct nftnl_rule *r, uint32_t reg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	nftnl_rule_add_expr(r, e);
}

static void e_range(struct nftnl_rule *r, uint32_t reg, uint16_t lo, uint16_t hi)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");
	uint16_t l = htons(lo), h = htons(hi);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &l, 2);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &h, 2);
	nftnl_rule_add_expr(r, e);
}

static void e_lookup(struct nftnl_rule *r, uint32_t reg, const char *set, int dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, reg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	nftnl_rule_add_expr(r, e);
}

static void e_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	nftnl_rule_add_expr(r, e);
}

/* Matches when the conntrack `key` (NFT_CT_STATE or NFT_CT_STATUS) has a bit of
 * `mask` set. */
static void e_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t mask)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	uint32_t zero = 0;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	e = nftnl_expr_alloc("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	nftnl_rule_add_expr(r, e);
	e_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, 4);
}

static void e_proto(struct nftnl_rule *r, uint8_t proto)
{
	e_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}



static void add_rule(struct batch *x, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		batch_done(x);
	}
	nftnl_rule_free(r);
}

/* The base chain's rules (SG_BASE_RULES): replies first; then the rest of a flow
 * conntrack tracks (confirmed: its first packet was accepted, whether or not it
 * has been answered), so that removing the rule that admitted a flow does not
 * cut it, as in a VPC; invalid out; then each port's own chains. The NACL
 * program's shortcut forwards the same packets (bpf/nacl.bpf.c). */
static void add_base_rules(struct batch *x)
{
	struct nftnl_rule *r = rule_obj(NFT_FORWARD_CHAIN);
	e_ct_bits(r, NFT_CT_STATE, CT_ESTABLISHED | CT_RELATED);
	e_verdict(r, NF_ACCEPT);
	add_rule(x, r);
	r = rule_obj(NFT_FORWARD_CHAIN);
	e_ct_bits(r, NFT_CT_STATUS, IPS_CONFIRMED);
	e_verdict(r, NF_ACCEPT);
	add_rule(x, r);
	r = rule_obj(NFT_FORWARD_CHAIN);
	e_ct_bits(r, NFT_CT_STATE, CT_INVALID);
	e_verdict(r, NF_DROP);
	add_rule(x, r);
	/* Leaving an instance: its egress rules (they return when allowed)... */
	r = rule_obj(NFT_FORWARD_CHAIN);
	e_meta(r, NFT_META_IIF, NFT_REG_1);
	e_lookup(r, NFT_REG_1, NFT_MAP_OUT, NFT_REG_VERDICT);
	add_rule(x, r);
	/* ... then, entering one, its ingress rules (they accept or drop). */
	r = rule_obj(NFT_FORWARD_CHAIN);
	e_meta(r, NFT_META_OIF, NFT_REG_1);
	e_lookup(r, NFT_REG_1, NFT_MAP_IN, NFT_REG_VERDICT);
	add_rule(x, r);
}

static void add_base(struct batch *x)
{
	add_table(x);
	add_map4(x, NFT_MAP_IN, T_IFINDEX, NFT_DATA_VERDICT);
	add_map4(x, NFT_MAP_OUT, T_IFINDEX, NFT_DATA_VERDICT);
	add_chain(x, NFT_FORWARD_CHAIN, true);
	add_base_rules(x);
}

/* The peer's address: the source for ingress, the destination for egress. */
static void load_peer(struct nftnl_rule *r, bool egress, uint32_t reg)
{
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, egress ? 16 : 12, 4, reg);
}

static void add_chain_rules(struct batch *x, const struct sg_chain *c)
{
	int allow = c->egress ? NFT_RETURN : NF_ACCEPT;
	add_chain(x, c->name, false);
	for (size_t i = 0; i < c->n; i++) {
		const struct sg_rule_out *o = &c->r[i];
		struct nftnl_rule *r = rule_obj(c->name);
		switch (o->kind) {
		case SGR_ANY:
			break;
		case SGR_GROUP_SET:
			load_peer(r, c->egress, NFT_REG_1);
			e_lookup(r, NFT_REG_1, o->members, -1);
			/* fall through */
		case SGR_SET:
			if (o->set_kind == SGSET_ICMP)
				e_proto(r, PROTO_ICMP);
			load_peer(r, c->egress, NFT_REG32_00);
			if (o->set_kind == SGSET_PROTO || o->set_kind == SGSET_L4)
				e_meta(r, NFT_META_L4PROTO, NFT_REG32_01);
			if (o->set_kind == SGSET_L4)
				e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02);
			if (o->set_kind == SGSET_ICMP)
				e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NFT_REG32_01);
			e_lookup(r, NFT_REG32_00, o->set, -1);
			break;
		case SGR_GROUP:
			load_peer(r, c->egress, NFT_REG_1);
			e_lookup(r, NFT_REG_1, o->set, -1);
			if (o->m.proto != PROTO_ALL)
				e_proto(r, (uint8_t)o->m.proto);
			if ((o->m.proto == PROTO_TCP || o->m.proto == PROTO_UDP) &&
			    (o->m.port_lo || o->m.port_hi != 65535)) {
				e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
				e_range(r, NFT_REG_1, o->m.port_lo, o->m.port_hi);
			}
			if (o->m.proto == PROTO_ICMP && o->m.icmp_type >= 0) {
				uint8_t t = (uint8_t)o->m.icmp_type, cd = (uint8_t)o->m.icmp_code;
				e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
				e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &t, 1);
				if (o->m.icmp_code >= 0) {
					e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 1, 1, NFT_REG_1);
					e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &cd, 1);
				}
			}
			break;
		}
		e_verdict(r, allow);
		add_rule(x, r);
	}
	struct nftnl_rule *r = rule_obj(c->name);
	e_verdict(r, NF_DROP);
	add_rule(x, r);
}

static bool has_name(char **v, size_t n, const char *name)
{
	return bsearch0(&name, v, n, sizeof(char *), cmp_name) != NULL;
}

static const struct obs_disp *find_disp(const struct obs_disp *v, size_t n, uint32_t ifindex)
{
	struct obs_disp key = {.ifindex = ifindex};
	return bsearch0(&key, v, n, sizeof(key), cmp_disp);
}

static bool wanted_ifindex(const struct sg_objects *w, uint32_t ifindex)
{
	for (size_t i = 0; i < w->n_dispatch; i++)
		if (w->dispatch[i].ifindex == ifindex)
			return true;
	return false;
}

int nft_sync(struct mnl_socket *nl, const struct sg_objects *w, const struct obs_nft *have,
	     char *errbuf, size_t errlen)
{
	struct batch x;
	size_t est = 1 << 20;
	for (size_t i = 0; i < w->n_sets; i++)
		est += w->sets[i].n * 96;
	for (size_t i = 0; i < w->n_chains; i++)
		est += w->chains[i].n * 512 + 1024;
	est += w->n_dispatch * 512 + (have->n_in + have->n_out) * 256;
	int e = batch_init(&x, est);
	if (e)
		return e;
	if (!have->table) {
		add_base(&x);
	} else if (have->base_rules != SG_BASE_RULES) { /* someone changed it */
		flush_chain(&x, NFT_FORWARD_CHAIN);
		add_base_rules(&x);
	}
	/* New objects first: they must exist before anything points at them. */
	for (size_t i = 0; i < w->n_sets; i++)
		if (!has_name(have->sets, have->n_sets, w->sets[i].name))
			add_set(&x, &w->sets[i]);
	for (size_t i = 0; i < w->n_chains; i++) {
		if (obs_nft_chain_ok(have, &w->chains[i]))
			continue;
		if (has_name(have->chains, have->n_chains, w->chains[i].name))
			flush_chain(&x, w->chains[i].name); /* rules were taken away */
		add_chain_rules(&x, &w->chains[i]);
	}
	/* Point the ports at them... */
	for (size_t i = 0; i < w->n_dispatch; i++) {
		const struct sg_dispatch *d = &w->dispatch[i];
		for (int dir = 0; dir < 2; dir++) {
			const char *want = dir ? d->out_chain : d->in_chain;
			const char *map = dir ? NFT_MAP_OUT : NFT_MAP_IN;
			const struct obs_disp *h = dir ? find_disp(have->out, have->n_out, d->ifindex)
						       : find_disp(have->in, have->n_in, d->ifindex);
			if (h && !strcmp(h->chain, want))
				continue;
			if (h)
				map_elem(&x, map, d->ifindex, NULL);
			map_elem(&x, map, d->ifindex, want);
		}
	}
	for (size_t i = 0; i < have->n_in; i++)
		if (!wanted_ifindex(w, have->in[i].ifindex))
			map_elem(&x, NFT_MAP_IN, have->in[i].ifindex, NULL);
	for (size_t i = 0; i < have->n_out; i++)
		if (!wanted_ifindex(w, have->out[i].ifindex))
			map_elem(&x, NFT_MAP_OUT, have->out[i].ifindex, NULL);
	/* ... and drop what nothing uses any more. */
	for (size_t i = 0; i < have->n_chains; i++) {
		bool keep = false;
		for (size_t k = 0; k < w->n_chains && !keep; k++)
			keep = !strcmp(w->chains[k].name, have->chains[i]);
		if (!keep)
			del_chain(&x, have->chains[i]);
	}
	for (size_t i = 0; i < have->n_sets; i++) {
		bool keep = false;
		for (size_t k = 0; k < w->n_sets && !keep; k++)
			keep = !strcmp(w->sets[k].name, have->sets[i]);
		if (!keep)
			del_set(&x, have->sets[i]);
	}
	e = x.n_acks ? batch_send(nl, &x, errbuf, errlen) : 0;
	batch_free(&x);
	return e;
}

/* ---- internet gateway ---- */

#define IGW_MAP_DNAT "public_to_private"
#define IGW_MAP_SNAT "private_to_public"

static void add_hook_chain(struct batch *x, const char *name, const char *type, uint32_t hook,
			   int prio, uint32_t policy)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, tbl);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
	struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	if (nlh) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_done(x);
	}
	nftnl_chain_free(c);
}

static void e_nat(struct nftnl_rule *r, int type, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("nat");
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, (uint32_t)type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg);
	nftnl_rule_add_expr(r, e);
}

static void e_ifindex(struct nftnl_rule *r, uint32_t key, uint32_t ifindex)
{
	e_meta(r, key, NFT_REG_1);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &ifindex, 4);
}

static void igw_base(struct batch *x)
{
	struct nftnl_rule *r;
	add_table(x);
	add_map4(x, IGW_MAP_DNAT, T_IPADDR, T_IPADDR);
	add_map4(x, IGW_MAP_SNAT, T_IPADDR, T_IPADDR);
	add_hook_chain(x, "prerouting", "nat", NF_INET_PRE_ROUTING, -100, NF_ACCEPT);
	add_hook_chain(x, "postrouting", "nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT);
	add_hook_chain(x, "forward", "filter", NF_INET_FORWARD, 0, NF_DROP);
	/* From the internet: a public address becomes its private one. */
	r = rule_obj("prerouting");
	e_ifindex(r, NFT_META_IIF, IGW_IF_INET);
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
	e_lookup(r, NFT_REG_1, IGW_MAP_DNAT, NFT_REG_1);
	e_nat(r, NFT_NAT_DNAT, NFT_REG_1);
	add_rule(x, r);
	/* To the internet: a private address becomes its public one. */
	r = rule_obj("postrouting");
	e_ifindex(r, NFT_META_OIF, IGW_IF_INET);
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
	e_lookup(r, NFT_REG_1, IGW_MAP_SNAT, NFT_REG_1);
	e_nat(r, NFT_NAT_SNAT, NFT_REG_1);
	add_rule(x, r);
	/* Forwarding: replies; what came for a public address; what leaves from an
	 * address that has one. Nothing else crosses the gateway. */
	r = rule_obj("forward");
	e_ct_bits(r, NFT_CT_STATE, CT_ESTABLISHED | CT_RELATED);
	e_verdict(r, NF_ACCEPT);
	add_rule(x, r);
	r = rule_obj("forward");
	e_ifindex(r, NFT_META_IIF, IGW_IF_INET);
	e_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
	e_verdict(r, NF_ACCEPT);
	add_rule(x, r);
	r = rule_obj("forward");
	e_ifindex(r, NFT_META_IIF, IGW_IF_ROUTER);
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
	e_lookup(r, NFT_REG_1, IGW_MAP_SNAT, -1);
	e_verdict(r, NF_ACCEPT);
	add_rule(x, r);
}

/* Without elements, DELSETELEM empties the set. */
static void flush_set(struct batch *x, const char *name)
{
	set_msg(x, name, NFT_MSG_DELSETELEM);
}

static void map_pairs(struct batch *x, const char *map, const struct nat_pair *p, size_t n, bool rev)
{
	for (size_t i = 0; i < n;) {
		struct nftnl_set *s = set_obj(map);
		for (size_t k = 0; k < ELEMS_PER_MSG && i < n; k++, i++) {
			struct nftnl_set_elem *e = nftnl_set_elem_alloc();
			uint32_t key = htonl(rev ? p[i].priv : p[i].pub), val = htonl(rev ? p[i].pub : p[i].priv);
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &key, 4);
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, &val, 4);
			nftnl_set_elem_add(s, e);
		}
		struct nlmsghdr *nlh = batch_msg(x, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
		if (nlh) {
			nftnl_set_elems_nlmsg_build_payload(nlh, s);
			batch_done(x);
		}
		nftnl_set_free(s);
	}
}

int nft_igw_sync(struct mnl_socket *nl, const struct nat_pair *pairs, size_t n, bool have_table,
		 char *errbuf, size_t errlen)
{
	struct batch x;
	int e = batch_init(&x, (1 << 20) + n * 256);
	if (e)
		return e;
	if (!have_table)
		igw_base(&x);
	if (pairs) {
		/* The whole mapping at once: a moved elastic IP never has two owners. */
		flush_set(&x, IGW_MAP_DNAT);
		flush_set(&x, IGW_MAP_SNAT);
		map_pairs(&x, IGW_MAP_DNAT, pairs, n, false);
		map_pairs(&x, IGW_MAP_SNAT, pairs, n, true);
	}
	e = x.n_acks ? batch_send(nl, &x, errbuf, errlen) : 0;
	batch_free(&x);
	return e;
}

struct pair_ctx {
	struct nat_pair *p;
	size_t n;
	int err;
};

static int pair_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct pair_ctx *x = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) || !(it = nftnl_set_elems_iter_create(s))) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	while ((e = nftnl_set_elems_iter_next(it))) {
		uint32_t kl = 0, dl = 0;
		const uint32_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &kl);
		const uint32_t *d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dl);
		if (!k || !d || kl != 4 || dl != 4)
			continue;
		struct nat_pair *p = realloc(x->p, (x->n + 1) * sizeof(*p));
		if (!p) {
			x->err = -ENOMEM;
			break;
		}
		x->p = p;
		p[x->n++] = (struct nat_pair){ntohl(*k), ntohl(*d)};
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct nat_pair *x = a, *y = b;
	return x->pub < y->pub ? -1 : x->pub > y->pub;
}

int nft_igw_observe(struct mnl_socket *nl, struct nat_pair **pairs, size_t *n, bool *present)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct pair_ctx x = {0};
	struct dump d = {pair_cb, &x};
	struct nftnl_set *s = set_obj(IGW_MAP_DNAT);
	*pairs = NULL;
	*n = 0;
	*present = false;
	if (!s)
		return -ENOMEM;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_IPV4,
						     NLM_F_DUMP | NLM_F_ACK, next_seq());
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	int r = run_dump(nl, nlh, &d);
	if (r == -ENOENT)
		return 0;
	if (r || x.err) {
		free(x.p);
		return r ? r : x.err;
	}
	qsort0(x.p, x.n, sizeof(*x.p), cmp_pair);
	*pairs = x.p;
	*n = x.n;
	*present = true;
	return 0;
}

/* ---- NAT gateway ---- */

int nft_natgw_table(struct mnl_socket *nl, char *errbuf, size_t errlen)
{
	struct batch x;
	int e = batch_init(&x, 1 << 20);
	if (e)
		return e;
	add_table(&x);
	add_hook_chain(&x, "postrouting", "nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT);
	/* What it forwards (not its own traffic) leaves with its address. */
	struct nftnl_rule *r = rule_obj("postrouting");
	uint32_t eth0 = 2;
	e_meta(r, NFT_META_OIF, NFT_REG_1);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &eth0, 4);
	e_meta(r, NFT_META_IIF, NFT_REG_1);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &eth0, 4);
	struct nftnl_expr *m = nftnl_expr_alloc("masq");
	nftnl_rule_add_expr(r, m);
	add_rule(&x, r);
	e = batch_send(nl, &x, errbuf, errlen);
	batch_free(&x);
	return e;
}

/* ---- the uplink, in vpcd's own namespace ---- */

static void e_ifname(struct nftnl_rule *r, const char *ifname)
{
	char name[16] = "";
	snprintf(name, sizeof(name), "%s", ifname);
	e_meta(r, NFT_META_OIFNAME, NFT_REG_1);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, name, 16);
}

static void e_saddr_in(struct nftnl_rule *r, uint32_t net, uint32_t mask)
{
	uint32_t n = htonl(net), m = htonl(mask), zero = 0;
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &m, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	nftnl_rule_add_expr(r, e);
	e_cmp(r, NFT_REG_1, NFT_CMP_EQ, &n, 4);
}

int nft_uplink(struct mnl_socket *nl, const char *table, const char *ifname, uint32_t pool,
	       uint8_t pool_len, uint32_t host, char *errbuf, size_t errlen)
{
	struct batch x;
	int e = batch_init(&x, 1 << 20);
	if (e)
		return e;
	tbl = table;
	/* Replace whatever was there: delete (if any) and create in one batch. */
	add_table(&x);
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, tbl);
	struct nlmsghdr *nlh = batch_msg(&x, NFT_MSG_DELTABLE, 0);
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_done(&x);
	}
	nftnl_table_free(t);
	if (ifname) {
		add_table(&x);
		add_hook_chain(&x, "postrouting", "nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT);
		/* The simulated internet's addresses leave as the host interface's. */
		struct nftnl_rule *r = rule_obj("postrouting");
		e_ifname(r, ifname);
		e_saddr_in(r, pool, pool_len ? ~0u << (32 - pool_len) : 0);
		nftnl_rule_add_expr(r, nftnl_expr_alloc("masq"));
		add_rule(&x, r);
		r = rule_obj("postrouting");
		e_ifname(r, ifname);
		e_saddr_in(r, host, ~0u);
		nftnl_rule_add_expr(r, nftnl_expr_alloc("masq"));
		add_rule(&x, r);
	}
	e = batch_send(nl, &x, errbuf, errlen);
	batch_free(&x);
	tbl = VPC_NFT_TABLE;
	return e;
}
