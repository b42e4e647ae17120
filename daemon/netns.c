#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"
#include "vpc/names.h"

static int home_fd = -1;

int netns_init(void)
{
	if (home_fd < 0) {
		home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (home_fd < 0)
			return -errno;
	}
	if (mkdir(VPC_NETNS_DIR, 0755) && errno != EEXIST)
		return -errno;
	/* As iproute2 does: /run/netns is a shared mount point, so namespaces mounted
	 * here are seen from every mount namespace (e.g. after `ip netns exec`). */
	if (mount("", VPC_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL)) {
		if (errno != EINVAL)
			return -errno;
		if (mount(VPC_NETNS_DIR, VPC_NETNS_DIR, "none", MS_BIND | MS_REC, NULL) ||
		    mount("", VPC_NETNS_DIR, "none", MS_SHARED | MS_REC, NULL))
			return -errno;
	}
	return 0;
}

static void ns_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, VPC_NETNS_DIR "/%s", name);
}

int sysctl_write(const char *path, const char *value)
{
	char p[256];
	snprintf(p, sizeof(p), "/proc/sys/%s", path);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

int sysctls_apply(const struct sysctl_kv *kv)
{
	for (; kv && kv->path; kv++) {
		int r = sysctl_write(kv->path, kv->value);
		if (r)
			return r;
	}
	return 0;
}

int netns_home_fd(void)
{
	return home_fd;
}

int netns_home(void)
{
	return setns(home_fd, CLONE_NEWNET) ? -errno : 0;
}

int netns_create_enter(const char *name, const struct sysctl_kv *sysctls)
{
	char path[128];
	int fd, err;
	ns_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		goto fail;
	}
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL)) {
		err = -errno;
		goto fail_home;
	}
	if ((err = sysctls_apply(sysctls)))
		goto fail_umount;
	return 0;
fail_umount:
	umount2(path, MNT_DETACH);
fail_home:
	netns_home();
fail:
	unlink(path);
	return err;
}

int netns_open(const char *name)
{
	char path[128];
	ns_path(path, sizeof(path), name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

int netns_enter_name(const char *name)
{
	int fd = netns_open(name);
	if (fd < 0)
		return fd;
	int r = netns_enter(fd);
	close(fd);
	return r;
}

int netns_exists(const char *name)
{
	char path[128];
	struct stat st;
	ns_path(path, sizeof(path), name);
	return stat(path, &st) == 0;
}

int netns_delete(const char *name)
{
	char path[128];
	ns_path(path, sizeof(path), name);
	/* Lazy unmount: a process still inside keeps its namespace, but the name goes. */
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

int netns_list(const char *prefix, char ***names, size_t *n)
{
	DIR *d = opendir(VPC_NETNS_DIR);
	struct dirent *de;
	size_t cap = 0;
	*names = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(*names, cap * sizeof(char *));
			if (!nn)
				goto nomem;
			*names = nn;
		}
		if (!((*names)[(*n)++] = strdup(de->d_name)))
			goto nomem;
	}
	closedir(d);
	return 0;
nomem:
	closedir(d);
	netns_list_free(*names, *n);
	*names = NULL;
	*n = 0;
	return -ENOMEM;
}

void netns_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
