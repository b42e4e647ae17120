// SPDX-License-Identifier: GPL-2.0
/*
 * Network ACLs and the source/destination check, at the ports of a VPC router.
 * Map layout and the idea of the lookup: include/vpc/nacl_abi.h.
 *
 * port_in  (tc ingress of a port = packets leaving the instance): ARP and the
 *          source check, then the subnet's outbound NACL when the destination is
 *          outside the subnet; then the shortcut for tracked flows (below).
 * port_out (tc egress of a port = packets entering the instance): the destination
 *          check, then the subnet's inbound NACL when the source is outside.
 * IPv4 and ARP only; anything else is dropped at the port.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "vpc/nacl_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* linux/if_arp.h drags in libc headers; the fixed part of an ARP header is enough. */
struct arp_hdr {
	__be16 htype, ptype;
	__u8 hlen, plen;
	__be16 op;
};

/* Ports and subnets are arrays (a lookup the verifier inlines) that vpcd maps into
 * its memory: it reads them without a system call, and changes a subnet's table
 * with one aligned 4-byte store, which a packet sees whole or not at all. An
 * entry is live while its flags (port) or mask (subnet) are set, and those are
 * stored last. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NACL_MAX_PORTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct port_cfg);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NACL_MAX_SUBNETS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct subnet_cfg);
} subnets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NACL_MAX_TABLES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct nacl_table_meta);
} tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NACL_BLOB_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nacl_blob_key);
	__type(value, struct nacl_blob_chunk);
} blob SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NACL_BLOB_BIG_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nacl_blob_key);
	__type(value, struct nacl_blob_big_chunk);
} blob_big SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NACL_COUNTERS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nacl_counter_key);
	__type(value, struct nacl_counter);
} counters SEC(".maps");

/* vpcd's: [NACL_SEQ_NEXT] the next table id (kept here so it survives a restart),
 * [NACL_SEQ_ABI] the NACL_ABI this program and its maps were made for. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NACL_CACHE_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct nacl_cache_key);
	__type(value, struct nacl_cache_val);
} verdicts SEC(".maps");

/* Trailing zeros of x != 0, without branches (clang 14 cannot lower ctz for BPF,
 * and every branch here would multiply the verifier's states). */
static __always_inline __u32 ctz64(__u64 x)
{
	x = (x & -x) - 1; /* the trailing zeros, as ones */
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (__u32)((x * 0x0101010101010101ULL) >> 56);
}

/* The walks of a classification: the address class's pair row against the L4
 * class's and the protocol class's, then each of the three lone rows against
 * itself (vpc/nacl_abi.h). */
#define NACL_WALKS 5

struct scan {
	__u32 table;
	__u32 ent;	 /* the blob's first entry word */
	__u32 a, a_end;	 /* the walk under way: entries a to a_end - 1 ... */
	__u32 b, b_end;	 /* ... against b to b_end - 1 */
	__u32 next;	 /* the walk after it */
	__u32 walk[NACL_WALKS][4]; /* first entry and entries of row a, of row b */
	__u32 found;
	__u32 gone; /* the blob went away during the scan */
	__u32 n_del;
	__u32 del[NACL_PATCH_MAX]; /* rules of the table a patch takes away */
};

/* A classification's state lives in a per-CPU map value, not on the stack: the
 * verifier tracks what the stack holds exactly, and would follow the walk loop
 * through every combination of its counters. One value per CPU is enough: tc
 * programs run with bottom halves off, so two never overlap on one CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scan);
} scans SEC(".maps");

struct scan_ctx {
	struct scan *s;
};

/* The bits of word w that stand for rules the patch takes away. */
static __always_inline __u64 deleted(const struct scan *s, __u64 w)
{
	__u64 m = 0;
	for (__u32 j = 0; j < NACL_PATCH_MAX && j < s->n_del; j++)
		if (s->del[j] / NACL_ENT_BITS == w)
			m |= 1ULL << (s->del[j] % NACL_ENT_BITS);
	return m;
}

/* Word i of a blob in `map`, chunks of `words` words; NULL: no such chunk. */
static __always_inline __u64 *chunk_word(void *map, __u64 words, __u32 table, __u32 i)
{
	struct nacl_blob_key k = {.table = table, .chunk = i / words};
	__u64 *c = bpf_map_lookup_elem(map, &k);
	__u64 at = i % words;
	asm volatile("" : "+r"(at)); /* keep the check: the verifier cannot see at < words */
	if (!c || at >= words)
		return NULL;
	asm volatile("" : "+r"(c)); /* no arithmetic on c before the check (clang would select) */
	return &c[at];
}

/* Word i of a table's blob into *w: 0, or -1 when the table is gone. A table with
 * NACL_ID_BIG has its whole big chunks in blob_big, the rest in small chunks. A
 * global function, checked by the verifier once: its two lookups at every place
 * that reads a word made a VPC's program load 20-30 ms slower. */
__noinline int blob_read(__u32 table, __u32 i, __u64 *w)
{
	__u64 *p = NULL;
	if (!w)
		return -1;
	if (table & NACL_ID_BIG)
		p = chunk_word(&blob_big, NACL_BLOB_BIG_CHUNK, table, i);
	if (!p)
		p = chunk_word(&blob, NACL_BLOB_CHUNK, table, i);
	if (!p)
		return -1;
	*w = *p;
	return 0;
}

/* bpf_loop callback: one step of a merge walk over two rows (entries in order of
 * their word index), which ends at the first word both have a rule in, or once
 * the rules left come after the one found already; then the next walk. A walk
 * over a row and itself finds the row's first rule a patch keeps. One loop for
 * all the walks: the verifier checks a callback once per call site. (Each step
 * looks its chunks up again: simpler for the verifier than holding on to a
 * chunk, and this is the slow path only.) */
static long scan_step(__u32 step, void *ctx)
{
	struct scan *s = ((struct scan_ctx *)ctx)->s;
	if (s->a >= s->a_end || s->b >= s->b_end) {
		__u32 k = s->next++;
		if (k >= NACL_WALKS)
			return 1;
		s->a = s->walk[k][0];
		s->a_end = s->a + s->walk[k][1];
		s->b = s->walk[k][2];
		s->b_end = s->b + s->walk[k][3];
		return 0;
	}
	__u64 ea = 0, eb = 0;
	if (blob_read(s->table, s->ent + s->a, &ea) || blob_read(s->table, s->ent + s->b, &eb))
		goto gone;
	__u32 w = NACL_ENT_INDEX(ea), wb = NACL_ENT_INDEX(eb);
	if (w * NACL_ENT_BITS >= s->found) {
		s->a = s->a_end; /* nothing earlier in this walk */
		return 0;
	}
	if (w != wb) {
		if (w < wb)
			s->a++;
		else
			s->b++;
		return 0;
	}
	__u64 x = NACL_ENT_RULES(ea & eb);
	if (x && s->n_del)
		x &= ~deleted(s, w);
	s->a++;
	s->b++;
	if (x) {
		__u32 k = w * NACL_ENT_BITS + ctz64(x);
		if (k < s->found)
			s->found = k;
		s->a = s->a_end;
	}
	return 0;
gone:
	s->gone = 1;
	return 1;
}

/* The class of `key` among the n spans at word `off` of the table's blob (binary
 * search); -1 when the table is gone. This and patch_match() are global
 * functions: the verifier checks each once, not at every place it is called and
 * along every path that leads there (a VPC's program loads in ~40 ms, not 200). */
__noinline __s64 span_class(__u32 table, __u32 off, __u32 n, __u32 key)
{
	__u32 lo = 0, hi = n;
	__u64 w = 0;
	for (int step = 0; step < NACL_SEARCH_STEPS && hi - lo > 1; step++) {
		__u32 mid = (lo + hi) / 2;
		if (blob_read(table, off + mid, &w))
			return -1;
		if ((__u32)(w >> 32) <= key)
			lo = mid;
		else
			hi = mid;
	}
	if (blob_read(table, off + lo, &w))
		return -1;
	return (__u32)w;
}

/* The rule of a patch that matches, if it comes before `v`'s. */
__noinline int patch_match(const struct nacl_table_meta *m, __u32 remote, __u32 proto, __u32 port,
			   struct nacl_cache_val *v)
{
	if (!m || !v)
		return 0;
	for (__u32 i = 0; i < NACL_PATCH_MAX && i < m->n_add; i++) {
		const struct nacl_patch_rule *p = &m->add[i];
		if ((remote & p->mask) != p->net || p->number >= v->number)
			continue;
		if (p->proto != NACL_PROTO_ANY && (p->proto != proto || port < p->lo || port > p->hi))
			continue;
		v->number = p->number;
		v->allow = p->allow;
		v->tag = p->tag;
	}
	return 0;
}

/* Slow path: the deciding rule of table m, into v; -1 when a table went away. */
static __always_inline int classify(const struct nacl_table_meta *m, __u32 remote, __u8 proto,
				    __u16 port, struct nacl_cache_val *v)
{
	__u32 base = m->base;
	struct nacl_table_meta *bm = bpf_map_lookup_elem(&tables, &base);
	if (!bm)
		return -1;
	__s64 ca = span_class(base, NACL_BLOB_ADDR(bm), bm->n_addr, bpf_ntohl(remote));
	__s64 cl = span_class(base, NACL_BLOB_L4(bm), bm->n_l4, (__u32)proto << 16 | port);
	if (ca < 0 || cl < 0)
		return -1;
	/* The address class, the L4 class and the protocol class (id = protocol). */
	__u64 da = 0, dl = 0, dp = 0;
	__u32 dir = (__u32)NACL_BLOB_DIR(bm);
	if (blob_read(base, dir + (__u32)ca, &da) || blob_read(base, dir + (__u32)cl, &dl) ||
	    blob_read(base, dir + proto, &dp))
		return -1;
	__u32 pa = (__u32)(da >> 32), npa = NACL_DIR_PAIR(da), nla = NACL_DIR_LONE(da);
	__u32 pl = (__u32)(dl >> 32), npl = NACL_DIR_PAIR(dl), nll = NACL_DIR_LONE(dl);
	__u32 pp = (__u32)(dp >> 32), npp = NACL_DIR_PAIR(dp), nlp = NACL_DIR_LONE(dp);
	if (cl == proto) /* a protocol no rule names ports for: its class is the L4 class */
		npp = nlp = 0;
	__u32 zero = 0;
	struct scan *s = bpf_map_lookup_elem(&scans, &zero);
	if (!s)
		return -1;
	*s = (struct scan){.table = base, .ent = (__u32)NACL_BLOB_ENT(bm), .found = bm->nrules,
			   .n_del = m->n_del,
			   .walk = {{pa, npa, pl, npl},
				    {pa, npa, pp, npp},
				    {pa + npa, nla, pa + npa, nla},
				    {pl + npl, nll, pl + npl, nll},
				    {pp + npp, nlp, pp + npp, nlp}}};
	__builtin_memcpy(s->del, m->del, sizeof(s->del));
	/* A row has at most NACL_MAX_WORDS entries; a step takes one of either,
	 * and one more step starts each walk. */
	struct scan_ctx sc = {s};
	bpf_loop(NACL_WALKS * (2 * NACL_MAX_WORDS + 1) + 1, scan_step, &sc, 0);
	if (s->gone)
		return -1;
	v->number = NACL_FINAL_DENY;
	v->allow = 0;
	v->tag = 0;
	__u32 found = s->found;
	if (found < bm->nrules) {
		__u64 r = 0;
		if (blob_read(base, NACL_BLOB_RULES(bm) + found, &r))
			return -1;
		v->number = (__u32)(r & 0xffff);
		v->allow = (__u32)(r >> 16 & 1);
		v->tag = (__u32)(r >> 32);
	}
	patch_match(m, remote, proto, port, v);
	return 0;
}

/*
 * One table's verdict for a packet: 1 allow, 0 deny, -1 the table is gone. A global
 * function, so the verifier checks it once rather than at every call site.
 */
__noinline int nacl_judge(__u32 table, __u32 remote, __u32 proto, __u32 port, __u32 len)
{
	/* What the table's verdicts do not depend on stays out of the key. */
	if (table & NACL_ID_ANY_ADDR)
		remote = 0;
	if ((proto == IPPROTO_TCP && table & NACL_ID_TCP_ANY) ||
	    (proto == IPPROTO_UDP && table & NACL_ID_UDP_ANY) ||
	    (proto == IPPROTO_ICMP && table & NACL_ID_ICMP_ANY))
		port = 0;
	struct nacl_cache_key ck = {.table = table, .remote = remote, .port = (__u16)port,
				    .proto = (__u8)proto};
	struct nacl_cache_val v = {0}, *hit = bpf_map_lookup_elem(&verdicts, &ck);
	if (hit) {
		/* Table ids are never reused: a verdict cached under one is that
		 * table's, whether or not it has been retired since. */
		v = *hit;
	} else {
		struct nacl_table_meta *m = bpf_map_lookup_elem(&tables, &table);
		if (!m || classify(m, remote, (__u8)proto, (__u16)port, &v))
			return -1;
		v.owner = m->owner;
		bpf_map_update_elem(&verdicts, &ck, &v, BPF_ANY);
	}
	/* Counters are created by the first packet a rule sees: a table with many
	 * rules is installed without writing one counter per rule and CPU. */
	struct nacl_counter_key nk = {.owner = v.owner, .number = v.number, .tag = v.tag};
	struct nacl_counter *c = bpf_map_lookup_elem(&counters, &nk);
	if (!c) {
		struct nacl_counter zero = {0, 0};
		bpf_map_update_elem(&counters, &nk, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counters, &nk);
	}
	if (c) {
		c->packets++; /* per-CPU: no other CPU writes here */
		c->bytes += len;
	}
	return v.allow ? 1 : 0;
}

/* 1 = allow. */
static __always_inline int nacl_verdict(struct subnet_cfg *sn, int outbound, __u32 remote,
					__u8 proto, __u16 port, __u32 len, __u32 subnet_id)
{
	int r = nacl_judge(outbound ? sn->table_out : sn->table_in, remote, proto, port, len);
	if (r < 0) {
		/* The table was retired while we looked: the subnet points at its
		 * successor by now. */
		struct subnet_cfg *again = bpf_map_lookup_elem(&subnets, &subnet_id);
		if (!again)
			return 0;
		r = nacl_judge(outbound ? again->table_out : again->table_in, remote, proto, port, len);
	}
	return r > 0;
}

struct pkt {
	__u32 saddr, daddr;
	__u8 proto;
	__u16 port; /* destination port, or ICMP type << 8 | code; 0 otherwise */
	/* For the shortcut (fast_forward): */
	__u16 sport_be, dport_be; /* TCP and UDP */
	__u8 tos, ttl, tcp_flags;
	__u8 plain; /* no options, not a fragment, TCP or UDP with its header whole */
};

/* Headers we read must be in the linear part of the skb. */
#define HDR_MAX (14 + 60 + 4)
static __always_inline void linearize(struct __sk_buff *skb)
{
	if (skb->data_end - skb->data < HDR_MAX && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < HDR_MAX ? skb->len : HDR_MAX);
}

/* Parses Ethernet/IPv4 and the L4 field NACLs match. -1: not IPv4 or truncated. */
static __always_inline int parse_ipv4(struct __sk_buff *skb, struct ethhdr **eth, struct pkt *p)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip;
	*eth = data;
	if ((void *)(*eth + 1) > end)
		return -1;
	ip = (void *)(*eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return -1;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->port = 0;
	p->tos = ip->tos;
	p->ttl = ip->ttl;
	p->plain = 0;
	/* Non-first fragments carry no L4 header: they are judged with port 0. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0;
	__u8 *l4 = (__u8 *)ip + ip->ihl * 4;
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		if (l4 + 4 > (__u8 *)end)
			return -1;
		p->port = (__u16)(l4[2] << 8 | l4[3]);
		__builtin_memcpy(&p->sport_be, l4, 2);
		__builtin_memcpy(&p->dport_be, l4 + 2, 2);
		if (ip->ihl == 5 && !(ip->frag_off & bpf_htons(0x2000))) {
			if (p->proto == IPPROTO_UDP)
				p->plain = l4 + 8 <= (__u8 *)end;
			else if (l4 + 20 <= (__u8 *)end) {
				p->tcp_flags = l4[13];
				p->plain = 1;
			}
		}
	} else if (p->proto == IPPROTO_ICMP) {
		if (l4 + 2 > (__u8 *)end)
			return -1;
		p->port = (__u16)(l4[0] << 8 | l4[1]);
	}
	return 0;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	__u32 a4, b4;
	__u16 a2, b2;
	__builtin_memcpy(&a4, a, 4);
	__builtin_memcpy(&b4, b, 4);
	__builtin_memcpy(&a2, a + 4, 2);
	__builtin_memcpy(&b2, b + 4, 2);
	return ((a4 ^ b4) | (__u32)(a2 ^ b2)) == 0;
}

/* ARP from an instance: with the source check on, it may only speak for itself. */
static __always_inline int arp_ok(struct __sk_buff *skb, struct port_cfg *pc)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct arp_hdr *arp = (void *)(eth + 1);
	__u8 *body = (__u8 *)(arp + 1);
	if ((void *)(arp + 1) > end)
		return 0;
	if (!(pc->flags & PORT_F_SRCDST))
		return 1;
	if (body + 10 > (__u8 *)end)
		return 0;
	__u32 spa;
	__builtin_memcpy(&spa, body + 6, 4);
	return mac_eq(eth->h_source, pc->mac) && mac_eq(body, pc->mac) && (spa == pc->ip || !spa);
}

/* ---- the shortcut for tracked flows ----
 *
 * A packet of a flow the router's conntrack already tracks, going to another
 * port, has nothing left to meet in the router's IP stack but routing: the
 * security groups accept every packet of a tracked flow (the nftables table's
 * first rules), and the NACLs are judged here and at the other port anyway. So
 * port_in routes it itself, with the kernel's own table lookups, makes the other
 * port's decision (port_admits) and puts it straight into the instance behind
 * that port (bpf_redirect_peer). What conntrack must see (a TCP flow's
 * SYN, FIN and RST, a flow it does not know, fragments, options, an expiring
 * TTL) and what goes anywhere but a port takes the ordinary path.
 */

/* Only the fields read here; libbpf finds their offsets in the kernel's BTF. */
struct ip_ct_tcp {
	__u8 state;
} __attribute__((preserve_access_index));
union nf_conntrack_proto {
	struct ip_ct_tcp tcp;
} __attribute__((preserve_access_index));
struct nf_conn {
	unsigned long status;
	union nf_conntrack_proto proto;
} __attribute__((preserve_access_index));

/* The kernel's default conntrack timeouts (ms), which the router namespace keeps:
 * a packet the shortcut forwards refreshes its flow as conntrack would. */
#define CT_TCP_ESTABLISHED_MS 432000000u
#define CT_UDP_STREAM_MS      120000u
#define CT_UDP_MS	      30000u

/* net/netfilter/nf_conntrack_bpf.c (kernel 6.1+; this size since 6.2) */
struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;
extern int bpf_ct_change_timeout(struct nf_conn *ct, __u32 timeout) __ksym;

#define VPC_AF_INET 2 /* linux/socket.h is not for BPF programs */

/* Whether a packet may leave the router through the port to its instance: the
 * destination check, then the subnet's inbound NACL for traffic from outside the
 * subnet. 1 = deliver. (port_out's decision, and the shortcut's for the port it
 * hands a packet to.) */
static __always_inline int port_admits(struct port_cfg *pc, const struct pkt *p, __u32 len)
{
	if ((pc->flags & PORT_F_SRCDST) && p->daddr != pc->ip)
		return 0;
	__u32 sid = pc->subnet;
	struct subnet_cfg *sn = bpf_map_lookup_elem(&subnets, &sid);
	if (!sn || !sn->mask)
		return 0; /* no entry (yet): closed, never open */
	if ((p->saddr & sn->mask) == sn->net)
		return 1;
	return nacl_verdict(sn, 0, p->saddr, p->proto, p->port, len, sid);
}

/* Whether conntrack tracks the packet's flow as accepted: confirmed (its first
 * packet passed the security groups); for TCP also established. Refreshes the
 * flow's timeout as conntrack would. */
static __always_inline int fast_tracked(struct __sk_buff *skb, const struct pkt *f)
{
	struct bpf_sock_tuple t = {};
	struct bpf_ct_opts o = {.netns_id = -1, .l4proto = f->proto};
	t.ipv4.saddr = f->saddr;
	t.ipv4.daddr = f->daddr;
	t.ipv4.sport = f->sport_be;
	t.ipv4.dport = f->dport_be;
	struct nf_conn *ct = bpf_skb_ct_lookup(skb, &t, sizeof(t.ipv4), &o, sizeof(o));
	if (!ct)
		return 0;
	unsigned long st = ct->status;
	__u32 ms = 0;
	/* No NAT happens in a router namespace; were a flow translated, the stack
	 * would have to do it. */
	if ((st & (IPS_CONFIRMED | IPS_DYING | IPS_NAT_MASK | IPS_SEQ_ADJUST)) == IPS_CONFIRMED) {
		if (f->proto == IPPROTO_UDP)
			ms = st & IPS_ASSURED ? CT_UDP_STREAM_MS : CT_UDP_MS;
		else if ((st & IPS_ASSURED) && ct->proto.tcp.state == TCP_CONNTRACK_ESTABLISHED)
			ms = CT_TCP_ESTABLISHED_MS;
	}
	if (ms)
		bpf_ct_change_timeout(ct, ms);
	bpf_ct_release(ct);
	return ms != 0;
}

/* The kernel's route for the packet, as policy routing would find it for a packet
 * of the subnet: its route table's kernel table (id = rt_mark) first; a throw
 * there (the VPC's local route) goes on to the main table and its host routes.
 * Two direct table lookups instead of walking the policy rules. 0 or -1. */
static __always_inline int fast_route(struct __sk_buff *skb, const struct pkt *f,
				      struct bpf_fib_lookup *fib, __u32 rt_mark)
{
	__u32 tbid[2] = {rt_mark, RT_TABLE_MAIN};
	for (int i = 0; i < 2; i++) {
		*fib = (struct bpf_fib_lookup){.family = VPC_AF_INET,
					       .l4_protocol = f->proto,
					       .sport = f->sport_be,
					       .dport = f->dport_be,
					       .ifindex = skb->ingress_ifindex,
					       .tos = f->tos,
					       .ipv4_src = f->saddr,
					       .ipv4_dst = f->daddr,
					       .tbid = tbid[i]};
		long r = bpf_fib_lookup(skb, fib, sizeof(*fib),
					BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID);
		if (r != BPF_FIB_LKUP_RET_NOT_FWDED)
			return r == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
	}
	return -1;
}

/* Forwards a tracked packet into the instance behind the port its route names:
 * TC_ACT_REDIRECT, TC_ACT_SHOT when that port would not let it in, or -1 for the
 * ordinary path. Not inlined: its stack is not added to that of the NACL lookup's
 * calls. */
static __noinline int fast_forward(struct __sk_buff *skb, const struct pkt *f, __u32 rt_mark)
{
	/* TCP's SYN, FIN and RST are for conntrack to see; the cheap tests first. */
	if (!f->plain || f->ttl <= 1 || (f->proto == IPPROTO_TCP && (f->tcp_flags & 0x07)) ||
	    !fast_tracked(skb, f))
		return -1;
	struct bpf_fib_lookup fib;
	if (fast_route(skb, f, &fib, rt_mark))
		return -1;
	__u32 out = fib.ifindex - 1000;
	struct port_cfg *pc = bpf_map_lookup_elem(&ports, &out);
	if (!pc || !(pc->flags & PORT_F_VALID))
		return -1;
	/* The port's egress (and port_out) will not see the packet: its decision. */
	if (!port_admits(pc, f, skb->len))
		return TC_ACT_SHOT;
	/* The router's work: a hop less, its MAC toward the next one. */
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return -1;
	__u32 check = ip->check + bpf_htons(0x0100); /* as ip_decrease_ttl() */
	ip->check = (__u16)(check + (check >= 0xffff));
	ip->ttl--;
	__builtin_memcpy(eth->h_dest, fib.dmac, 6);
	__builtin_memcpy(eth->h_source, fib.smac, 6);
	return bpf_redirect_peer(fib.ifindex, 0);
}

static __always_inline struct port_cfg *port_of(struct __sk_buff *skb, __u32 *id)
{
	/* Port ifindexes are 1000 + port id (include/vpc/names.h). */
	*id = skb->ifindex - 1000;
	struct port_cfg *pc = bpf_map_lookup_elem(&ports, id);
	return pc && (pc->flags & PORT_F_VALID) ? pc : 0;
}

SEC("tc")
int port_in(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct pkt p = {};
	__u32 pid;
	struct port_cfg *pc = port_of(skb, &pid);
	if (!pc)
		return TC_ACT_SHOT;
	linearize(skb);
	if (skb->protocol == bpf_htons(ETH_P_ARP))
		return arp_ok(skb, pc) ? TC_ACT_OK : TC_ACT_SHOT;
	if (skb->protocol != bpf_htons(ETH_P_IP) || parse_ipv4(skb, &eth, &p))
		return TC_ACT_SHOT;
	if ((pc->flags & PORT_F_SRCDST) && (p.saddr != pc->ip || !mac_eq(eth->h_source, pc->mac)))
		return TC_ACT_SHOT;
	__u32 sid = pc->subnet;
	struct subnet_cfg *sn = bpf_map_lookup_elem(&subnets, &sid);
	if (!sn || !sn->mask)
		return TC_ACT_SHOT; /* no entry (yet): closed, never open */
	/* The subnet's route table decides where it goes. */
	skb->mark = sn->rt_mark;
	if ((p.daddr & sn->mask) != sn->net && /* leaving the subnet: its NACL */
	    !nacl_verdict(sn, 1, p.daddr, p.proto, p.port, skb->len, sid))
		return TC_ACT_SHOT;
	int fast = fast_forward(skb, &p, sn->rt_mark);
	return fast < 0 ? TC_ACT_OK : fast;
}

SEC("tc")
int port_out(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct pkt p;
	__u32 pid;
	struct port_cfg *pc = port_of(skb, &pid);
	if (!pc)
		return TC_ACT_SHOT;
	linearize(skb);
	if (skb->protocol == bpf_htons(ETH_P_ARP))
		return TC_ACT_OK;
	if (skb->protocol != bpf_htons(ETH_P_IP) || parse_ipv4(skb, &eth, &p))
		return TC_ACT_SHOT;
	return port_admits(pc, &p, skb->len) ? TC_ACT_OK : TC_ACT_SHOT;
}
