/*
 * nacl_detach: takes every BPF program off the ingress and egress hooks of every
 * interface of the network namespace it runs in, at both places vpcd may attach
 * them (a classic tc clsact filter, handle 1 priority 1, and tcx), and says how
 * many it took off.
 *
 *     ip netns exec ROUTER nacl_detach
 *
 * For bench/nacl.sh: the same VPC, the same traffic, without the NACL programs
 * (`vpcctl reconcile` attaches them again).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#define TCX_INGRESS 46 /* enum bpf_attach_type, newer than Debian 12's headers */
#define TCX_EGRESS  47

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* The clsact filter vpcd installs at one direction: 1 if taken off, 0 if none,
 * -1 if it stays. */
static int tc_off(int ifindex, enum bpf_tc_attach_point at)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex, .attach_point = at);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = 1, .priority = 1);
	if (bpf_tc_query(&h, &o))
		return 0;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.handle = 1;
	o.priority = 1;
	return bpf_tc_detach(&h, &o) ? -1 : 1;
}

static int tcx_off(int ifindex, int type, const char *name, int *failed)
{
	__u32 ids[64], cnt = 64, flags = 0;
	int n = 0;
	if (bpf_prog_query(ifindex, (enum bpf_attach_type)type, 0, &flags, ids, &cnt))
		return 0;
	for (__u32 k = 0; k < cnt; k++) {
		int fd = bpf_prog_get_fd_by_id(ids[k]);
		if (fd < 0 || bpf_prog_detach2(fd, ifindex, (enum bpf_attach_type)type)) {
			fprintf(stderr, "nacl_detach: %s: program %u stays\n", name, ids[k]);
			(*failed)++;
		} else {
			n++;
		}
		if (fd >= 0)
			close(fd);
	}
	return n;
}

int main(void)
{
	struct if_nameindex *ifs = if_nameindex();
	int n = 0, failed = 0;
	if (!ifs) {
		perror("if_nameindex");
		return 1;
	}
	libbpf_set_print(quiet);
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		int idx = (int)i->if_index;
		for (int at = 0; at < 2; at++) {
			int r = tc_off(idx, at ? BPF_TC_EGRESS : BPF_TC_INGRESS);
			if (r < 0) {
				fprintf(stderr, "nacl_detach: %s: the tc filter stays\n", i->if_name);
				failed++;
			}
			n += r > 0;
		}
		n += tcx_off(idx, TCX_INGRESS, i->if_name, &failed);
		n += tcx_off(idx, TCX_EGRESS, i->if_name, &failed);
	}
	if_freenameindex(ifs);
	printf("%d\n", n);
	return failed ? 1 : 0;
}
