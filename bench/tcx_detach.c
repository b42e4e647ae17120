/*
 * tcx_detach: detaches every BPF program at the tcx ingress and egress hooks of
 * every interface of the network namespace it runs in, and says how many.
 *
 *     ip netns exec ROUTER tcx_detach
 *
 * For bench/nacl.sh: the same VPC, the same traffic, without the NACL programs
 * (`vpcctl reconcile` attaches them again). tcx only (kernel 6.6+), which is what
 * vpcd uses where the kernel has it.
 */
#include <bpf/bpf.h>
#include <net/if.h>
#include <stdio.h>
#include <unistd.h>

#define TCX_INGRESS 46 /* enum bpf_attach_type, newer than Debian 12's headers */
#define TCX_EGRESS  47

int main(void)
{
	struct if_nameindex *ifs = if_nameindex();
	int n = 0, failed = 0;
	if (!ifs) {
		perror("if_nameindex");
		return 1;
	}
	for (struct if_nameindex *i = ifs; i->if_index; i++)
		for (int type = TCX_INGRESS; type <= TCX_EGRESS; type++) {
			__u32 ids[64], cnt = 64, flags = 0;
			if (bpf_prog_query((int)i->if_index, (enum bpf_attach_type)type, 0, &flags, ids,
					   &cnt))
				continue;
			for (__u32 k = 0; k < cnt; k++) {
				int fd = bpf_prog_get_fd_by_id(ids[k]);
				if (fd < 0 ||
				    bpf_prog_detach2(fd, (int)i->if_index, (enum bpf_attach_type)type)) {
					fprintf(stderr, "tcx_detach: %s: program %u stays\n", i->if_name,
						ids[k]);
					failed++;
				} else {
					n++;
				}
				if (fd >= 0)
					close(fd);
			}
		}
	if_freenameindex(ifs);
	printf("%d\n", n);
	return failed ? 1 : 0;
}
