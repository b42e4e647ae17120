/* The NACL program of one VPC: load/pin, attach to ports, and table updates. */
#ifndef VPCD_BPF_H
#define VPCD_BPF_H

#include <stdbool.h>
#include <stdint.h>

#include "vpc/nacl.h"
#include "vpc/nacl_abi.h"

enum vbpf_map {
	VM_PORTS,
	VM_SUBNETS,
	VM_TABLES,
	VM_BLOB,
	VM_BLOB_BIG,
	VM_COUNTERS,
	VM_VERDICTS,
	VM_SEQ,
	VM_N,
};

/* What this process knows of a table it built: the rules (a patch needs its
 * base's). */
struct vbpf_known {
	uint32_t id;
	struct nacl_rule *rules;
	size_t n;
};

struct vpc_bpf {
	int prog_in, prog_out;
	int map[VM_N];
	struct port_cfg *ports;	    /* the ports array, mapped */
	struct subnet_cfg *subnets; /* the subnets array, mapped */
	uint32_t next_table; /* sequence number of the next table id */
	bool swept; /* chunks of unpublished tables looked for since opening */
	struct vbpf_known *known;
	size_t n_known;
};

/* Opens the pinned program of `vpc`; -ENOENT when it is not there. */
int vbpf_open(const char *vpc, struct vpc_bpf *b);
/* Loads a fresh program for `vpc` and pins it (replacing stale pins). */
int vbpf_create(const char *vpc, struct vpc_bpf *b);
/* Loads a program that nothing pins (tests use it: it goes away with its fds). */
int vbpf_load_unpinned(struct vpc_bpf *b);
void vbpf_close(struct vpc_bpf *b);
/* Removes the pins of `vpc`; the kernel frees what nothing uses any more. */
int vbpf_unpin(const char *vpc);
/* Names of VPCs that have pins; free with netns_list_free(). */
int vbpf_list_pinned(char ***names, size_t *n);

/* Where programs attach: classic tc (the default) or tcx, the other one when the
 * kernel lacks the preferred one. */
enum vbpf_hook { VBPF_HOOK_UNKNOWN, VBPF_HOOK_TC, VBPF_HOOK_TCX };
void vbpf_prefer_hook(enum vbpf_hook h);
/* Attaches both programs to a port of the router namespace the thread is in. */
int vbpf_attach(const struct vpc_bpf *b, int ifindex);
bool vbpf_attached(const struct vpc_bpf *b, int ifindex);

int vbpf_port_set(const struct vpc_bpf *b, uint32_t id, const struct port_cfg *c);
int vbpf_subnet_set(const struct vpc_bpf *b, uint32_t id, const struct subnet_cfg *c);
/* Copies the whole ports / subnets arrays (NACL_MAX_PORTS / NACL_MAX_SUBNETS). */
int vbpf_read_ports(const struct vpc_bpf *b, struct port_cfg *out);
int vbpf_read_subnets(const struct vpc_bpf *b, struct subnet_cfg *out);

/* Installs a compiled table, which holds `rules`, under a new id (never one used
 * before). */
int vbpf_table_add(struct vpc_bpf *b, const struct nacl_table *t, const struct nacl_rule *rules,
		   size_t n, uint32_t *id);
/* Installs `rules` as a patch on full table `base` under a new id: one map update.
 * -ENOENT when this process does not know base's rules, -E2BIG when the patch
 * would take more than NACL_PATCH_MAX rules away or add more. */
int vbpf_patch_add(struct vpc_bpf *b, uint32_t base, uint64_t owner, const struct nacl_rule *rules,
		   size_t n, uint32_t *id);
/* The `tables` entry of a live table; -ENOENT when there is none. */
int vbpf_table_info(const struct vpc_bpf *b, uint32_t id, struct nacl_table_meta *m);
/* The rules of a table this process built; NULL when it does not know them. */
const struct nacl_rule *vbpf_table_rules(const struct vpc_bpf *b, uint32_t id, size_t *n);
int vbpf_table_del(struct vpc_bpf *b, uint32_t id);
/* Deletes blob chunks of tables that have no `tables` entry (a vpcd that stopped
 * between storing a table and publishing it, or between unpublishing and
 * deleting it); once per opening of the pins. */
void vbpf_sweep_orphans(struct vpc_bpf *b);
/* Live table ids; *ids is malloc'ed. */
int vbpf_tables(const struct vpc_bpf *b, uint32_t **ids, size_t *n);

/* Per-rule counters of a NACL direction summed over CPUs: out[i] for rules[i],
 * out[n] for the final deny. */
int vbpf_counters(const struct vpc_bpf *b, uint64_t owner, const struct nacl_rule *rules, size_t n,
		  struct nacl_counter *out);
/* Deletes the counters `keep` says no to. */
void vbpf_counters_sweep(const struct vpc_bpf *b,
			 bool (*keep)(const struct nacl_counter_key *k, void *arg), void *arg);

#endif
