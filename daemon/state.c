#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

#define STATE_VERSION 1

int state_load(const char *path, json_t **desired, json_t **alloc, struct vpc_err *err)
{
	json_error_t je;
	*desired = *alloc = NULL;
	if (access(path, F_OK) && errno == ENOENT) {
		*desired = json_object();
		*alloc = json_object();
		return 0;
	}
	json_t *root = json_load_file(path, 0, &je);
	if (!root)
		return vpc_fail(err, VPC_E_INTERNAL, "", "state file %s is unreadable: %s (line %d)",
				path, je.text, je.line);
	json_t *v = json_object_get(root, "version"), *d = json_object_get(root, "desired"),
	       *a = json_object_get(root, "alloc");
	if (json_integer_value(v) != STATE_VERSION || !json_is_object(d) || !json_is_object(a)) {
		json_decref(root);
		return vpc_fail(err, VPC_E_INTERNAL, "",
				"state file %s is not a vpcd state (version %d)", path,
				STATE_VERSION);
	}
	*desired = json_incref(d);
	*alloc = json_incref(a);
	json_decref(root);
	return 0;
}

int state_save(const char *path, const json_t *desired, const json_t *alloc)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, err = 0;
	json_t *root = json_pack("{s:i,s:O,s:O}", "version", STATE_VERSION, "desired", desired,
				 "alloc", alloc);
	char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
	json_decref(root);
	if (!text)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0) {
			err = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (!err && (write(fd, "\n", 1) != 1 || fsync(fd)))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		goto out;
	}
	/* The rename itself must reach the disk too. */
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
out:
	free(text);
	return err;
}
