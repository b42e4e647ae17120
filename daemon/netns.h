/* Named network namespaces (/run/netns/NAME, compatible with `ip netns`). */
#ifndef VPCD_NETNS_H
#define VPCD_NETNS_H

#include <stddef.h>

struct sysctl_kv {
	const char *path; /* below /proc/sys/ */
	const char *value;
};

/* Once at start: remember the daemon's own namespace, prepare /run/netns. */
int netns_init(void);
/* Creates NAME and leaves the calling thread inside it (so the caller can open
 * sockets there), after applying `sysctls`. Call netns_home() when done. */
int netns_create_enter(const char *name, const struct sysctl_kv *sysctls);
int netns_open(const char *name); /* fd, or -errno */
int netns_enter(int fd);
int netns_enter_name(const char *name);
int netns_home(void); /* back to the daemon's own namespace */
int netns_home_fd(void);
int netns_delete(const char *name);
int netns_exists(const char *name);
/* Names in /run/netns that start with `prefix`; free with netns_list_free(). */
int netns_list(const char *prefix, char ***names, size_t *n);
void netns_list_free(char **names, size_t n);
/* Writes a sysctl of the namespace the thread is in. */
int sysctl_write(const char *path, const char *value);
int sysctls_apply(const struct sysctl_kv *kv);

#endif
