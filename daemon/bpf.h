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
	VM_ADDR,
	VM_L4,
	VM_BITS,
	VM_RULES,
	VM_COUNTERS,
	VM_VERDICTS,
	VM_N,
};

struct vpc_bpf {
	int prog_in, prog_out;
	int map[VM_N];
	uint32_t next_table;
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

/* Attaches both programs to a port of the router namespace the thread is in. */
int vbpf_attach(const struct vpc_bpf *b, int ifindex);
bool vbpf_attached(const struct vpc_bpf *b, int ifindex);

int vbpf_port_set(const struct vpc_bpf *b, uint32_t id, const struct port_cfg *c);
int vbpf_subnet_set(const struct vpc_bpf *b, uint32_t id, const struct subnet_cfg *c);
/* Reads the whole ports / subnets arrays (NACL_MAX_PORTS / NACL_MAX_SUBNETS). */
int vbpf_read_ports(const struct vpc_bpf *b, struct port_cfg *out);
int vbpf_read_subnets(const struct vpc_bpf *b, struct subnet_cfg *out);

/* Installs a compiled table under a new id. */
int vbpf_table_add(struct vpc_bpf *b, const struct nacl_table *t, uint32_t *id);
int vbpf_table_del(const struct vpc_bpf *b, uint32_t id);
/* The content hash of a live table; 0 when there is no such table. */
uint64_t vbpf_table_hash(const struct vpc_bpf *b, uint32_t id);
/* Live table ids; *ids is malloc'ed. */
int vbpf_tables(const struct vpc_bpf *b, uint32_t **ids, size_t *n);
/* Per-rule counters summed over CPUs: n = rules + 1 (the last is the final deny). */
int vbpf_counters(const struct vpc_bpf *b, uint32_t id, struct nacl_counter *out, size_t n);

#endif
