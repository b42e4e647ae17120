#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vpc/names.h"

char vpc_prefix[24] = VPC_DEFAULT_PREFIX;

int vpc_set_prefix(const char *p)
{
	size_t n = strlen(p);
	if (n < 1 || n > 16)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
			return -EINVAL;
	snprintf(vpc_prefix, sizeof(vpc_prefix), "%s", p);
	return 0;
}

static bool is_default(void)
{
	return !strcmp(vpc_prefix, VPC_DEFAULT_PREFIX);
}

void vpc_lock_path(char *buf, size_t len)
{
	if (is_default())
		snprintf(buf, len, "/run/vpcd.lock");
	else
		snprintf(buf, len, "/run/vpcd.%s.lock", vpc_prefix);
}

void vpc_pin_dir(char *buf, size_t len)
{
	if (is_default())
		snprintf(buf, len, "/sys/fs/bpf/vpcd");
	else
		snprintf(buf, len, "/sys/fs/bpf/vpcd-%s", vpc_prefix);
}
