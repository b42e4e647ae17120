/*
 * libbpf side of the NACL data path. Nothing here decides what a table holds
 * (nacl_compile.c does); this file moves compiled tables into maps.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "bpf.h"
#include "log.h"
#include "nacl.skel.h"
#include "vpc/names.h"

/* tcx attach types (linux/bpf.h of 6.6+; Debian 12's headers predate them). */
#define VPC_BPF_TCX_INGRESS 46
#define VPC_BPF_TCX_EGRESS  47
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *const map_names[VM_N] = {
	[VM_PORTS] = "ports",	    [VM_SUBNETS] = "subnets",	[VM_TABLES] = "tables",
	[VM_BLOB] = "blob",	    [VM_BLOB_BIG] = "blob_big", [VM_COUNTERS] = "counters",
	[VM_VERDICTS] = "verdicts", [VM_SEQ] = "seq",
};

#define PAGE_UP(n)    (((n) + 4095) & ~(size_t)4095)
#define PORTS_BYTES   PAGE_UP(sizeof(struct port_cfg) * NACL_MAX_PORTS)
#define SUBNETS_BYTES PAGE_UP(sizeof(struct subnet_cfg) * NACL_MAX_SUBNETS)

static void vpc_dir(char *buf, size_t len, const char *vpc)
{
	char root[64];
	vpc_pin_dir(root, sizeof(root));
	snprintf(buf, len, "%s/%s", root, vpc);
}

/* /sys/fs/bpf must be a bpf filesystem for pins to outlive the daemon. */
static int ensure_bpffs(void)
{
	struct statfs st;
	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
	log_info("mounted the BPF filesystem on /sys/fs/bpf");
	return 0;
}

static int mkdirs(const char *vpc)
{
	char root[64], dir[256];
	vpc_pin_dir(root, sizeof(root));
	vpc_dir(dir, sizeof(dir), vpc);
	if ((mkdir(root, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST))
		return -errno;
	return 0;
}

void vbpf_close(struct vpc_bpf *b)
{
	if (b->prog_in > 0)
		close(b->prog_in);
	if (b->prog_out > 0)
		close(b->prog_out);
	for (int i = 0; i < VM_N; i++)
		if (b->map[i] > 0)
			close(b->map[i]);
	for (size_t i = 0; i < b->n_known; i++)
		free(b->known[i].rules);
	free(b->known);
	if (b->ports)
		munmap(b->ports, PORTS_BYTES);
	if (b->subnets)
		munmap(b->subnets, SUBNETS_BYTES);
	memset(b, 0, sizeof(*b));
}

/* Maps the ports and subnets arrays into our memory. */
static int map_arrays(struct vpc_bpf *b)
{
	void *p = mmap(NULL, PORTS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, b->map[VM_PORTS], 0);
	void *s = mmap(NULL, SUBNETS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, b->map[VM_SUBNETS], 0);
	b->ports = p == MAP_FAILED ? NULL : p;
	b->subnets = s == MAP_FAILED ? NULL : s;
	return b->ports && b->subnets ? 0 : -errno;
}

static uint32_t max_table_id(const struct vpc_bpf *b);

/* The next table id, from the pinned sequence (or past the live ids, whichever
 * is higher). */
static uint32_t next_table_id(const struct vpc_bpf *b)
{
	uint32_t key = NACL_SEQ_NEXT, seq = 0;
	bpf_map_lookup_elem(b->map[VM_SEQ], &key, &seq);
	uint32_t live = (max_table_id(b) >> NACL_ID_SHIFT) + 1;
	return seq > live ? seq : live;
}

static uint32_t max_table_id(const struct vpc_bpf *b)
{
	uint32_t key, next, max = 0;
	int r = bpf_map_get_next_key(b->map[VM_TABLES], NULL, &next);
	while (!r) {
		key = next;
		if (key > max)
			max = key;
		r = bpf_map_get_next_key(b->map[VM_TABLES], &key, &next);
	}
	return max;
}

int vbpf_open(const char *vpc, struct vpc_bpf *b)
{
	char dir[256], path[600];
	memset(b, 0, sizeof(*b));
	vpc_dir(dir, sizeof(dir), vpc);
	snprintf(path, sizeof(path), "%s/port_in", dir);
	if ((b->prog_in = bpf_obj_get(path)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/port_out", dir);
	if ((b->prog_out = bpf_obj_get(path)) < 0)
		goto fail;
	for (int i = 0; i < VM_N; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		if ((b->map[i] = bpf_obj_get(path)) < 0)
			goto fail;
	}
	/* Pins left by an older vpcd may have other layouts: then they are stale, and
	 * the caller loads afresh. */
	static const struct {
		enum vbpf_map m;
		uint32_t type, value_size;
	} layout[] = {
		{VM_PORTS, BPF_MAP_TYPE_ARRAY, sizeof(struct port_cfg)},
		{VM_SUBNETS, BPF_MAP_TYPE_ARRAY, sizeof(struct subnet_cfg)},
		{VM_TABLES, BPF_MAP_TYPE_HASH, sizeof(struct nacl_table_meta)},
	};
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		struct bpf_map_info info = {0};
		uint32_t len = sizeof(info);
		if (bpf_obj_get_info_by_fd(b->map[layout[i].m], &info, &len) ||
		    info.type != layout[i].type || info.value_size != layout[i].value_size) {
			vbpf_close(b);
			return -ESTALE;
		}
	}
	/* The program's own version: pins of another program are stale too, even
	 * with maps alike. */
	uint32_t key = NACL_SEQ_ABI, abi = 0;
	if (bpf_map_lookup_elem(b->map[VM_SEQ], &key, &abi) || abi != NACL_ABI || map_arrays(b)) {
		vbpf_close(b);
		return -ESTALE;
	}
	b->next_table = next_table_id(b);
	return 0;
fail: {
	int e = -errno;
	vbpf_close(b);
	return e ? e : -ENOENT;
}
}

int vbpf_unpin(const char *vpc)
{
	char dir[256], path[600];
	vpc_dir(dir, sizeof(dir), vpc);
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		return -errno;
	/* The prefix's own directory goes with its last VPC. */
	char root[64];
	vpc_pin_dir(root, sizeof(root));
	rmdir(root);
	return 0;
}

int vbpf_list_pinned(char ***names, size_t *n)
{
	char root[64];
	DIR *d;
	struct dirent *de;
	size_t cap = 0;
	*names = NULL;
	*n = 0;
	vpc_pin_dir(root, sizeof(root));
	if (!(d = opendir(root)))
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nn = realloc(*names, cap * sizeof(char *));
			if (!nn)
				break;
			*names = nn;
		}
		(*names)[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	return 0;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* The kernel's extended ack for a request vpcd expects to fail now and then
	 * (a clsact qdisc that exists already); real failures come back as errors. */
	if (level == LIBBPF_WARN && !strstr(fmt, "Kernel error message"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static void skel_maps(struct nacl_bpf *skel, struct bpf_map **maps)
{
	maps[VM_PORTS] = skel->maps.ports;
	maps[VM_SUBNETS] = skel->maps.subnets;
	maps[VM_TABLES] = skel->maps.tables;
	maps[VM_BLOB] = skel->maps.blob;
	maps[VM_BLOB_BIG] = skel->maps.blob_big;
	maps[VM_COUNTERS] = skel->maps.counters;
	maps[VM_VERDICTS] = skel->maps.verdicts;
	maps[VM_SEQ] = skel->maps.seq;
}

int vbpf_load_unpinned(struct vpc_bpf *b)
{
	struct bpf_map *maps[VM_N];
	struct nacl_bpf *skel;
	memset(b, 0, sizeof(*b));
	libbpf_set_print(silent_print);
	if (!(skel = nacl_bpf__open_and_load()))
		return -errno;
	skel_maps(skel, maps);
	b->prog_in = dup(bpf_program__fd(skel->progs.port_in));
	b->prog_out = dup(bpf_program__fd(skel->progs.port_out));
	for (int i = 0; i < VM_N; i++)
		b->map[i] = dup(bpf_map__fd(maps[i]));
	nacl_bpf__destroy(skel);
	int e = map_arrays(b);
	if (e) {
		vbpf_close(b);
		return e;
	}
	b->next_table = next_table_id(b);
	return 0;
}

int vbpf_create(const char *vpc, struct vpc_bpf *b)
{
	struct nacl_bpf *skel = NULL;
	char dir[256], path[600];
	int e;
	memset(b, 0, sizeof(*b));
	libbpf_set_print(silent_print);
	if ((e = ensure_bpffs()) || (e = vbpf_unpin(vpc)) || (e = mkdirs(vpc)))
		return e;
	vpc_dir(dir, sizeof(dir), vpc);
	if (!(skel = nacl_bpf__open())) {
		e = -errno;
		goto out;
	}
	uint32_t key = NACL_SEQ_ABI, abi = NACL_ABI;
	if ((e = nacl_bpf__load(skel)) ||
	    (e = bpf_map_update_elem(bpf_map__fd(skel->maps.seq), &key, &abi, BPF_ANY)))
		goto out;
	struct bpf_map *maps[VM_N];
	skel_maps(skel, maps);
	for (int i = 0; i < VM_N; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		if ((e = bpf_map__pin(maps[i], path)))
			goto out;
	}
	snprintf(path, sizeof(path), "%s/port_in", dir);
	if ((e = bpf_program__pin(skel->progs.port_in, path)))
		goto out;
	snprintf(path, sizeof(path), "%s/port_out", dir);
	if ((e = bpf_program__pin(skel->progs.port_out, path)))
		goto out;
	/* Reopen through the pins: the same path as after a daemon restart. */
	nacl_bpf__destroy(skel);
	skel = NULL;
	e = vbpf_open(vpc, b);
out:
	if (skel)
		nacl_bpf__destroy(skel);
	if (e)
		vbpf_unpin(vpc);
	return e;
}

/* ---- attaching ---- */

/* The hook used, chosen at the first attach: the preferred one (vbpf_prefer_hook),
 * or the other when the kernel lacks it. Classic tc is the default: attaching at a
 * tcx hook waits for an RCU grace period under RTNL (the kernel swaps the hook's
 * program array), about 10 ms per hook here, two hooks per port: 26 ms per
 * instance against 1.3 ms for the namespace, veth and addresses. A clsact filter
 * costs no grace period. Both run the same program with the same verdicts. */
static enum vbpf_hook preferred = VBPF_HOOK_TC, hook = VBPF_HOOK_UNKNOWN;

void vbpf_prefer_hook(enum vbpf_hook h)
{
	preferred = h;
}

static uint32_t prog_id(int fd);

static int tcx_type(bool ingress)
{
	return ingress ? VPC_BPF_TCX_INGRESS : VPC_BPF_TCX_EGRESS;
}

/* Programs at a tcx hook that are not `keep` (0: all of them): an older vpcd's,
 * or another hook's after a change of hook. */
static void detach_others(int ifindex, int type, uint32_t keep)
{
	uint32_t ids[64], cnt = 64, flags = 0;
	if (bpf_prog_query(ifindex, (enum bpf_attach_type)type, 0, &flags, ids, &cnt))
		return;
	for (uint32_t i = 0; i < cnt; i++) {
		if (ids[i] == keep)
			continue;
		int fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd >= 0) {
			bpf_prog_detach2(fd, ifindex, (enum bpf_attach_type)type);
			close(fd);
		}
	}
}

#define TC_OPTS(name, fd)                                                                  \
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, name, .prog_fd = (fd), .handle = 1, .priority = 1)
#define TC_HOOK(name, ifindex, ingress)                                                    \
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, name, .ifindex = (ifindex),                       \
			    .attach_point = (ingress) ? BPF_TC_INGRESS : BPF_TC_EGRESS)

static int attach_tcx(int prog, int ifindex, bool ingress)
{
	TC_HOOK(h, ifindex, ingress);
	TC_OPTS(o, 0);
	bpf_tc_detach(&h, &o); /* classic tc's, after a change of hook */
	detach_others(ifindex, tcx_type(ingress), prog_id(prog));
	if (!bpf_prog_attach(prog, ifindex, (enum bpf_attach_type)tcx_type(ingress), 0) ||
	    errno == EEXIST)
		return 0;
	return -errno;
}

static int attach_tc(int prog, int ifindex, bool ingress)
{
	TC_HOOK(h, ifindex, ingress);
	TC_OPTS(o, prog);
	o.flags = BPF_TC_F_REPLACE;
	int r;
	/* One clsact qdisc holds both directions: create it with the first. */
	if (ingress && (r = bpf_tc_hook_create(&h)) && r != -EEXIST)
		return r;
	if ((r = bpf_tc_attach(&h, &o)))
		return r;
	detach_others(ifindex, tcx_type(ingress), 0);
	return 0;
}

static int attach_with(enum vbpf_hook h, int prog, int ifindex, bool ingress)
{
	return h == VBPF_HOOK_TCX ? attach_tcx(prog, ifindex, ingress)
				  : attach_tc(prog, ifindex, ingress);
}

static int attach_one(int prog, int ifindex, bool ingress)
{
	if (hook != VBPF_HOOK_UNKNOWN)
		return attach_with(hook, prog, ifindex, ingress);
	int r = attach_with(preferred, prog, ifindex, ingress);
	if (r != -EINVAL && r != -EOPNOTSUPP && r != -ENOENT) {
		if (!r)
			hook = preferred;
		return r;
	}
	enum vbpf_hook other = preferred == VBPF_HOOK_TC ? VBPF_HOOK_TCX : VBPF_HOOK_TC;
	if ((r = attach_with(other, prog, ifindex, ingress)))
		return r;
	hook = other;
	log_info("%s is not available: attaching NACLs with %s",
		 preferred == VBPF_HOOK_TC ? "classic tc (clsact)" : "tcx",
		 other == VBPF_HOOK_TC ? "classic tc (clsact)" : "tcx");
	return 0;
}

int vbpf_attach(const struct vpc_bpf *b, int ifindex)
{
	int r = attach_one(b->prog_in, ifindex, true);
	return r ? r : attach_one(b->prog_out, ifindex, false);
}

static bool attached_at(int prog, int ifindex, bool ingress)
{
	uint32_t want = prog_id(prog);
	if ((hook == VBPF_HOOK_UNKNOWN ? preferred : hook) == VBPF_HOOK_TC) {
		TC_HOOK(h, ifindex, ingress);
		TC_OPTS(o, 0);
		return !bpf_tc_query(&h, &o) && o.prog_id == want;
	}
	uint32_t ids[64], cnt = 64, flags = 0;
	if (bpf_prog_query(ifindex, (enum bpf_attach_type)tcx_type(ingress), 0, &flags, ids, &cnt))
		return false;
	for (uint32_t i = 0; i < cnt; i++)
		if (ids[i] == want)
			return true;
	return false;
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info);
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

bool vbpf_attached(const struct vpc_bpf *b, int ifindex)
{
	return attached_at(b->prog_in, ifindex, true) && attached_at(b->prog_out, ifindex, false);
}

/* ---- configuration maps ---- */

/* Entries change in place under traffic, with the stores ordered so that a
 * packet never meets a half-written one: an entry is dead while its liveness
 * field (port flags, subnet mask) is 0, and that field is written last. A field
 * that changes alone (a subnet's table when its rules change, its route table's
 * mark, a port's flags) is one store. */
#define STORE(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

int vbpf_port_set(const struct vpc_bpf *b, uint32_t id, const struct port_cfg *c)
{
	if (id >= NACL_MAX_PORTS)
		return -EINVAL;
	struct port_cfg *e = &b->ports[id];
	if (e->ip != c->ip || memcmp(e->mac, c->mac, 6) || e->subnet != c->subnet) {
		STORE(e->flags, 0);
		e->ip = c->ip;
		memcpy(e->mac, c->mac, 6);
		e->subnet = c->subnet;
		e->pad = 0;
	}
	STORE(e->flags, c->flags);
	return 0;
}

int vbpf_subnet_set(const struct vpc_bpf *b, uint32_t id, const struct subnet_cfg *c)
{
	if (id >= NACL_MAX_SUBNETS)
		return -EINVAL;
	struct subnet_cfg *e = &b->subnets[id];
	if (e->net != c->net || e->mask != c->mask) {
		STORE(e->mask, 0);
		e->net = c->net;
		e->table_in = c->table_in;
		e->table_out = c->table_out;
		e->rt_mark = c->rt_mark;
		e->pad = 0;
		STORE(e->mask, c->mask);
		return 0;
	}
	STORE(e->table_in, c->table_in);
	STORE(e->table_out, c->table_out);
	STORE(e->rt_mark, c->rt_mark);
	return 0;
}

int vbpf_read_ports(const struct vpc_bpf *b, struct port_cfg *out)
{
	memcpy(out, b->ports, sizeof(*out) * NACL_MAX_PORTS);
	return 0;
}

int vbpf_read_subnets(const struct vpc_bpf *b, struct subnet_cfg *out)
{
	memcpy(out, b->subnets, sizeof(*out) * NACL_MAX_SUBNETS);
	return 0;
}

/* ---- tables ---- */

/* Many elements in one syscall where the kernel can; one by one where it cannot. */
static int update_many(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
		       uint32_t n)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t count = n;
	if (!n)
		return 0;
	if (!bpf_map_update_batch(fd, keys, vals, &count, &opts))
		return 0;
	if (errno != EINVAL && errno != 524 /* ENOTSUPP */ && errno != EOPNOTSUPP)
		return -errno;
	for (uint32_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz, (const char *)vals + i * vsz,
					BPF_ANY))
			return -errno;
	return 0;
}

/* Chunks of a table's blob in one map: [from, to), of `words` words each. */
struct chunks {
	int fd;
	size_t words;
	uint32_t from, to;
};

/* A table with NACL_ID_BIG keeps nacl_blob_big_chunks() big chunks in blob_big
 * and the rest in small chunks (numbered in small chunks from the blob's start);
 * all of it in small chunks if `big` is false. */
static void blob_at(const struct vpc_bpf *b, uint32_t id, const struct nacl_table_meta *m,
		    bool big, struct chunks *bc, struct chunks *sc)
{
	size_t words = NACL_BLOB_WORDS(m);
	uint32_t nbig = big && (id & NACL_ID_BIG) ? (uint32_t)nacl_blob_big_chunks(words) : 0,
		 small = (uint32_t)((words + NACL_BLOB_CHUNK - 1) / NACL_BLOB_CHUNK),
		 past = nbig * (NACL_BLOB_BIG_CHUNK / NACL_BLOB_CHUNK);
	*bc = (struct chunks){b->map[VM_BLOB_BIG], NACL_BLOB_BIG_CHUNK, 0, nbig};
	*sc = (struct chunks){b->map[VM_BLOB], NACL_BLOB_CHUNK, past < small ? past : small, small};
}

/* A full table's blob (compiled in its final layout, whole small chunks): its
 * whole big chunks, then the rest in small ones, a batch each. (On two threads
 * it took longer: the kernel allocates each chunk, and copies it twice.) */
static int blob_fill(const struct vpc_bpf *b, uint32_t id, const struct nacl_table *t,
		     const struct nacl_table_meta *m, bool big)
{
	struct chunks c[2];
	blob_at(b, id, m, big, &c[0], &c[1]);
	int e = 0;
	for (int i = 0; i < 2 && !e; i++) {
		uint32_t n = c[i].to > c[i].from ? c[i].to - c[i].from : 0;
		struct nacl_blob_key *k = calloc(n + 1, sizeof(*k));
		if (!k)
			return -ENOMEM;
		for (uint32_t j = 0; j < n; j++)
			k[j] = (struct nacl_blob_key){id, c[i].from + j};
		e = update_many(c[i].fd, k, sizeof(*k), t->blob + c[i].from * c[i].words,
				c[i].words * sizeof(uint64_t), n);
		free(k);
	}
	return e;
}

/* Its chunks as blob_fill() left them: with big chunks if the first is there. */
static void blob_drop(const struct vpc_bpf *b, uint32_t id, const struct nacl_table_meta *m)
{
	struct nacl_blob_key first = {id, 0};
	struct chunks c[2];
	bool big = (id & NACL_ID_BIG) && !bpf_map_delete_elem(b->map[VM_BLOB_BIG], &first);
	blob_at(b, id, m, big, &c[0], &c[1]);
	c[0].from = big; /* the first is gone */
	for (int i = 0; i < 2; i++)
		for (uint32_t j = c[i].from; j < c[i].to; j++) {
			struct nacl_blob_key k = {id, j};
			bpf_map_delete_elem(c[i].fd, &k);
		}
}

static struct vbpf_known *known_find(const struct vpc_bpf *b, uint32_t id)
{
	for (size_t i = 0; i < b->n_known; i++)
		if (b->known[i].id == id)
			return &b->known[i];
	return NULL;
}

static void known_drop(struct vpc_bpf *b, uint32_t id)
{
	struct vbpf_known *k = known_find(b, id);
	if (!k)
		return;
	free(k->rules);
	*k = b->known[--b->n_known];
}

/* Remembers what table `id` holds (a copy); without memory it is only forgotten. */
static void known_add(struct vpc_bpf *b, uint32_t id, const struct nacl_rule *rules, size_t n)
{
	struct vbpf_known k = {.id = id, .n = n};
	struct vbpf_known *grown = realloc(b->known, (b->n_known + 1) * sizeof(*grown));
	if (!grown)
		return;
	b->known = grown;
	if (!(k.rules = malloc((n + 1) * sizeof(*k.rules))))
		return;
	if (n)
		memcpy(k.rules, rules, n * sizeof(*rules));
	b->known[b->n_known++] = k;
}

/* A fresh id for a table holding `rules`, spent whatever happens next: a verdict
 * cached under it must never meet another table. */
static int take_id(struct vpc_bpf *b, const struct nacl_rule *rules, size_t n, bool big,
		   uint32_t *id)
{
	uint32_t key = NACL_SEQ_NEXT, next = b->next_table + 1;
	if (b->next_table >= UINT32_MAX >> NACL_ID_SHIFT)
		return -EOVERFLOW;
	if (bpf_map_update_elem(b->map[VM_SEQ], &key, &next, BPF_ANY))
		return -errno;
	*id = b->next_table++ << NACL_ID_SHIFT | nacl_id_flags(rules, n) | (big ? NACL_ID_BIG : 0);
	return 0;
}

/* Publish last: the program ignores a table without its `tables` entry, and no
 * subnet points at it yet anyway. */
static int publish(const struct vpc_bpf *b, uint32_t id, const struct nacl_table_meta *m)
{
	return bpf_map_update_elem(b->map[VM_TABLES], &id, m, BPF_NOEXIST) ? -errno : 0;
}

int vbpf_table_add(struct vpc_bpf *b, const struct nacl_table *t, const struct nacl_rule *rules,
		   size_t n, uint32_t *id_out)
{
	struct nacl_table_meta m = {.nrules = t->nrules, .n_ent = t->n_ent, .hash = t->hash,
				    .n_addr = (uint32_t)t->n_addr, .n_l4 = (uint32_t)t->n_l4,
				    .nclasses = t->nclasses, .owner = t->owner};
	uint32_t id = 0;
	int e = take_id(b, rules, n, t->big, &id);
	if (e)
		return e;
	m.base = id;
	e = blob_fill(b, id, t, &m, true);
	if (e == -ENOMEM && t->big) {
		/* No room for big elements (the kernel allocates each in one piece):
		 * all in small chunks, where the program looks when a big one is
		 * missing. */
		blob_drop(b, id, &m);
		e = blob_fill(b, id, t, &m, false);
	}
	if (e || (e = publish(b, id, &m))) {
		blob_drop(b, id, &m);
		return e;
	}
	known_add(b, id, rules, n);
	*id_out = id;
	return 0;
}

int vbpf_patch_add(struct vpc_bpf *b, uint32_t base, uint64_t owner, const struct nacl_rule *rules,
		   size_t n, uint32_t *id_out)
{
	struct nacl_table_meta bm, m = {0};
	const struct vbpf_known *k = known_find(b, base);
	size_t add[NACL_PATCH_MAX], n_del, n_add;
	uint32_t id = 0;
	int e;
	if (!k || vbpf_table_info(b, base, &bm) || bm.base != base || bm.owner != owner)
		return -ENOENT;
	if ((e = nacl_diff(k->rules, k->n, rules, n, m.del, &n_del, add, &n_add, NACL_PATCH_MAX)))
		return e;
	if ((e = take_id(b, rules, n, false, &id)))
		return e;
	m.nrules = bm.nrules;
	m.n_ent = bm.n_ent;
	m.hash = nacl_rules_hash(owner, rules, n);
	m.owner = owner;
	m.base = base;
	m.n_del = (uint32_t)n_del;
	m.n_add = (uint32_t)n_add;
	for (size_t i = 0; i < n_add; i++)
		nacl_patch_rule(&rules[add[i]], &m.add[i]);
	if ((e = publish(b, id, &m)))
		return e;
	known_add(b, id, rules, n);
	*id_out = id;
	return 0;
}

int vbpf_table_info(const struct vpc_bpf *b, uint32_t id, struct nacl_table_meta *m)
{
	return bpf_map_lookup_elem(b->map[VM_TABLES], &id, m) ? -errno : 0;
}

const struct nacl_rule *vbpf_table_rules(const struct vpc_bpf *b, uint32_t id, size_t *n)
{
	const struct vbpf_known *k = known_find(b, id);
	*n = k ? k->n : 0;
	return k ? k->rules : NULL;
}

/* Deletes the keys of a map that `doomed` picks (keys of at most 32 bytes),
 * collected first: deleting while walking would lose the walk's place. */
static void delete_where(int fd, size_t ksz, bool (*doomed)(const void *key, void *arg), void *arg)
{
	uint8_t key[32], next[32], *list = NULL;
	size_t n = 0, cap = 0;
	int r = bpf_map_get_next_key(fd, NULL, next);
	while (!r) {
		memcpy(key, next, ksz);
		if (doomed(key, arg)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				uint8_t *p = realloc(list, cap * ksz);
				if (!p)
					break;
				list = p;
			}
			memcpy(list + n++ * ksz, key, ksz);
		}
		r = bpf_map_get_next_key(fd, key, next);
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, list + i * ksz);
	free(list);
}

int vbpf_table_del(struct vpc_bpf *b, uint32_t id)
{
	struct nacl_table_meta m;
	bool live = !bpf_map_lookup_elem(b->map[VM_TABLES], &id, &m);
	/* The entry that makes the table visible goes first. A packet that meets a
	 * chunk missing takes the table for gone and reads the subnet again. */
	bpf_map_delete_elem(b->map[VM_TABLES], &id);
	if (live && m.base == id)
		blob_drop(b, id, &m);
	known_drop(b, id);
	return 0;
}

static bool chunk_orphan(const void *key, void *arg)
{
	const struct nacl_blob_key *k = key;
	const struct vpc_bpf *b = arg;
	struct nacl_table_meta m;
	return bpf_map_lookup_elem(b->map[VM_TABLES], &k->table, &m) != 0;
}

void vbpf_sweep_orphans(struct vpc_bpf *b)
{
	if (b->swept)
		return;
	delete_where(b->map[VM_BLOB], sizeof(struct nacl_blob_key), chunk_orphan, b);
	delete_where(b->map[VM_BLOB_BIG], sizeof(struct nacl_blob_key), chunk_orphan, b);
	b->swept = true;
}

struct sweep {
	bool (*keep)(const struct nacl_counter_key *k, void *arg);
	void *arg;
};

static bool counter_unkept(const void *key, void *arg)
{
	const struct sweep *s = arg;
	return !s->keep(key, s->arg);
}

void vbpf_counters_sweep(const struct vpc_bpf *b,
			 bool (*keep)(const struct nacl_counter_key *k, void *arg), void *arg)
{
	struct sweep s = {keep, arg};
	delete_where(b->map[VM_COUNTERS], sizeof(struct nacl_counter_key), counter_unkept, &s);
}

int vbpf_tables(const struct vpc_bpf *b, uint32_t **ids, size_t *n)
{
	uint32_t key, next;
	size_t cap = 16;
	*n = 0;
	*ids = malloc(cap * sizeof(uint32_t));
	if (!*ids)
		return -ENOMEM;
	int r = bpf_map_get_next_key(b->map[VM_TABLES], NULL, &next);
	while (!r) {
		if (*n == cap) {
			uint32_t *p = realloc(*ids, (cap *= 2) * sizeof(uint32_t));
			if (!p)
				return -ENOMEM;
			*ids = p;
		}
		(*ids)[(*n)++] = next;
		key = next;
		r = bpf_map_get_next_key(b->map[VM_TABLES], &key, &next);
	}
	return 0;
}

int vbpf_counters(const struct vpc_bpf *b, uint64_t owner, const struct nacl_rule *rules, size_t n,
		  struct nacl_counter *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct nacl_counter *v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i <= n; i++) {
		struct nacl_counter_key k = {owner, i < n ? rules[i].number : NACL_FINAL_DENY,
					     i < n ? nacl_rule_tag(&rules[i]) : 0};
		out[i] = (struct nacl_counter){0, 0};
		if (bpf_map_lookup_elem(b->map[VM_COUNTERS], &k, v))
			continue;
		for (int c = 0; c < ncpu; c++) {
			out[i].packets += v[c].packets;
			out[i].bytes += v[c].bytes;
		}
	}
	free(v);
	return 0;
}
