/* The daemon's state and the one way it changes: validate, plan, execute, persist. */
#ifndef VPCD_CORE_H
#define VPCD_CORE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>

#include "kernel.h"
#include "vpc/topo.h"

struct vpcd {
	char state_path[PATH_MAX];
	json_t *desired;	/* what the user asked for (topology JSON) */
	json_t *alloc;		/* allocations of `topo` */
	struct topology *topo;	/* `desired` compiled */
	/* The state a change replaced: freed once the change is answered (for
	 * 10,000 NACL entries that takes milliseconds). */
	json_t *old_desired, *old_alloc;
	struct topology *old_topo;
	struct kernel k;
	unsigned features;
	bool tidy_due;	  /* a change ran: tidy up once it is answered */
	size_t patches;	  /* NACL patches in use: rebuilt as full tables when idle */
	double request_t0; /* mono_ms() when the request being served began to arrive */
};

/* Loads the state and reconciles the kernel with it (repairs drift, removes orphans). */
int vpcd_open(struct vpcd *d, const char *state_dir, struct vpc_err *err);
void vpcd_close(struct vpcd *d);
/* Work that waits until a change is answered (`idle`: until nothing has happened
 * for a while). Returns true while there is idle work left. */
bool vpcd_tidy(struct vpcd *d, bool idle);

/*
 * Makes `next` (a full desired state; reference stolen) the new state as one
 * transaction: on any failure the kernel is put back and nothing is saved.
 * `*result` (may be NULL) describes the changes made or, with dry_run, planned.
 * `nacls_of`: the caller knows that `next` differs from the current state only
 * in the entries of NACLs of this VPC (NULL: it may differ in anything); the
 * change then goes straight to the one kernel operation that needs.
 */
int vpcd_change(struct vpcd *d, json_t *next, const char *nacls_of, bool dry_run,
		json_t **result, struct vpc_err *err);
/* The same for a `next` compiled without the entries of the lists `ls` (may be
 * NULL), which go into the model after it, and into `next` once the kernel has
 * them (vpc/topo.h). */
int vpcd_change_lists(struct vpcd *d, json_t *next, struct nacl_lists *ls, const char *nacls_of,
		      bool dry_run, json_t **result, struct vpc_err *err);
/* The same for the entries of one NACL, all replaced by `e` (parsed and checked
 * already, in the text form of `vpcctl nacl load`): the rest of the state is
 * validated as always, then the new entries reach the kernel before the state's
 * JSON is written, so they take effect as fast as the NACL compiles. */
int vpcd_change_nacl(struct vpcd *d, const char *vpc, const char *nacl,
		     const struct nacl_entries *e, bool dry_run, json_t **result, struct vpc_err *err);
int vpcd_reconcile(struct vpcd *d, bool deep, json_t **result, struct vpc_err *err);

#endif
