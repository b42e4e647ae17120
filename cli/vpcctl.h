/* Shared by vpcctl's verb files. */
#ifndef VPCCTL_H
#define VPCCTL_H

#include <jansson.h>
#include <stdbool.h>

/* Exit codes. */
#define EXIT_REFUSED 1 /* vpcd said no: invalid, not found, kernel error */
#define EXIT_USAGE   2
#define EXIT_NODAEMON 3

struct cli {
	const char *socket;
	bool json; /* -o json */
};

/* ---- options: a tiny getopt for "--name value" and "--flag" ---- */
struct optspec {
	const char *name; /* without the dashes */
	bool has_arg;
	const char *help;
};
struct verb;
struct args {
	const char *pos[8];
	int n_pos;
	const char *val[16]; /* by optspec index; "" for a flag that is set */
	const char **rest;   /* after "--" */
	int n_rest;
};

struct verb {
	const char *name;  /* "apply", "vpc create", ... */
	int (*fn)(struct cli *, struct args *);
	const char *usage; /* positional part, e.g. "VPC NAME" */
	int min_pos, max_pos;
	const struct optspec *opts;
	const char *help;
	bool read_only; /* supports -o json */
};

int verb_parse(const struct verb *v, int argc, char **argv, struct args *a);
const char *opt(const struct verb *v, const struct args *a, const char *name);
void verb_usage(const struct verb *v, FILE *f);
extern const struct verb *current_verb;
#define OPT(a, name) opt(current_verb, (a), (name))
/* The value of a required option; exits with a usage error when it is missing. */
const char *need(struct args *a, const char *name);

/* ---- talking to vpcd ---- */
/* Sends `req` (stolen); returns the "result" on success, or exits with a message. */
json_t *call(struct cli *c, json_t *req);
/* Like call() but returns the whole reply, for callers that handle errors. */
json_t *call_raw(struct cli *c, json_t *req);
/* Like call_raw() for a request that is already text. */
json_t *call_text(struct cli *c, const char *text, size_t len);
/* The same with an open file attached to the request (-1: none). */
json_t *call_text_fd(struct cli *c, const char *text, size_t len, int fd);
char *read_file(const char *path, size_t *len);
char *file_opt(struct args *a, const char **path, size_t *len);
/* -f FILE open when it is a regular file; for "-", standard input, or a memory
 * file holding its bytes (file_opt() then returns them again). Else -1 (a file
 * that will not open, or is no regular file: file_opt() reads it or says why not). */
int file_fd(struct args *a);
/* Sends head, then `len` bytes of body, then tail, as one request. */
json_t *call_around(struct cli *c, const char *head, const char *body, size_t len,
		    const char *tail);
/* The "result" of a reply (taken), or exits with its error. */
json_t *reply_result(json_t *reply);
int report_error(const json_t *reply);

/* ---- output ---- */
struct table;
struct table *table_new(int ncols, ...);
void table_row(struct table *t, ...);
void table_print(struct table *t, FILE *f, const char *indent);
void print_json(const json_t *j);
const char *str_or_dash(const json_t *j);

/* ---- verbs ---- */
int cmd_apply(struct cli *, struct args *);
int cmd_destroy(struct cli *, struct args *);
int cmd_show(struct cli *, struct args *);
int cmd_exec(struct cli *, struct args *);
int cmd_reconcile(struct cli *, struct args *);
int cmd_status(struct cli *, struct args *);
int cmd_vpc_create(struct cli *, struct args *);
int cmd_vpc_delete(struct cli *, struct args *);
int cmd_vpc_list(struct cli *, struct args *);
int cmd_subnet_create(struct cli *, struct args *);
int cmd_subnet_delete(struct cli *, struct args *);
int cmd_subnet_list(struct cli *, struct args *);
int cmd_instance_create(struct cli *, struct args *);
int cmd_instance_delete(struct cli *, struct args *);
int cmd_instance_list(struct cli *, struct args *);

int cmd_nacl_create(struct cli *, struct args *);
int cmd_nacl_delete(struct cli *, struct args *);
int cmd_nacl_list(struct cli *, struct args *);
int cmd_nacl_show(struct cli *, struct args *);
int cmd_nacl_entry_add(struct cli *, struct args *);
int cmd_nacl_entry_replace(struct cli *, struct args *);
int cmd_nacl_entry_remove(struct cli *, struct args *);
int cmd_nacl_associate(struct cli *, struct args *);
int cmd_nacl_load(struct cli *, struct args *);
int cmd_nacl_export(struct cli *, struct args *);
int cmd_instance_set(struct cli *, struct args *);
void print_nacl(const json_t *n, const char *indent);
int cmd_sg_create(struct cli *, struct args *);
int cmd_sg_delete(struct cli *, struct args *);
int cmd_sg_list(struct cli *, struct args *);
int cmd_sg_show(struct cli *, struct args *);
int cmd_sg_rule_add(struct cli *, struct args *);
int cmd_sg_rule_remove(struct cli *, struct args *);
int cmd_instance_groups(struct cli *, struct args *);
void print_group(const json_t *g, const char *indent);
int cmd_rt_create(struct cli *, struct args *);
int cmd_rt_delete(struct cli *, struct args *);
int cmd_rt_list(struct cli *, struct args *);
int cmd_rt_show(struct cli *, struct args *);
int cmd_rt_associate(struct cli *, struct args *);
int cmd_route_add(struct cli *, struct args *);
int cmd_route_replace(struct cli *, struct args *);
int cmd_route_remove(struct cli *, struct args *);
int cmd_vpc_set(struct cli *, struct args *);
int cmd_natgw_create(struct cli *, struct args *);
int cmd_natgw_delete(struct cli *, struct args *);
int cmd_natgw_list(struct cli *, struct args *);
int cmd_eip_allocate(struct cli *, struct args *);
int cmd_eip_release(struct cli *, struct args *);
int cmd_eip_associate(struct cli *, struct args *);
int cmd_eip_disassociate(struct cli *, struct args *);
int cmd_eip_list(struct cli *, struct args *);
int cmd_peering_create(struct cli *, struct args *);
int cmd_peering_delete(struct cli *, struct args *);
int cmd_peering_list(struct cli *, struct args *);

/* Helpers for verbs that edit one object. */
json_t *path_of(const char *first, ...); /* NULL-terminated */
int edit_call(struct cli *c, json_t *req);
void print_change(struct cli *c, const json_t *res);
#endif
