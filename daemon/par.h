/*
 * One helper thread, for the large jobs of a change to a NACL of thousands of
 * rules that split in two: reading a long entries list (topo_load.c) or text
 * (nacl_text.c), and compiling the rules (nacl_compile.c). The caller posts half
 * of the work, does the other half, then takes the posted half back if the
 * helper has not started it (and does it itself) or waits for it. So a helper
 * that wakes too late costs only the post.
 *
 * Off until par_enable(): vpcd turns it on once it has forked and blocked its
 * signals; the unit tests turn it on and off to check that the results are the
 * same either way.
 */
#ifndef VPC_PAR_H
#define VPC_PAR_H

#include <stdbool.h>

enum par_state { PAR_QUEUED, PAR_RUNNING, PAR_DONE, PAR_TAKEN };

struct par_job {
	void (*fn)(struct par_job *); /* the work; the job is usually inside a larger struct */
	enum par_state state;	      /* (atomic) changed under the helper's lock */
};

/* Starts the helper thread (with every signal blocked; none where the process
 * may use one CPU only), or stops it: a job posted then is refused (par_post()
 * says false). 0 or -errno. */
int par_enable(bool on);
bool par_running(void);
/* Wakes the helper ahead of a job that is about to come (a large request has
 * arrived): it looks out for it for a few milliseconds instead of sleeping, so
 * that the job does not wait for the helper's CPU to wake up. */
void par_warm(void);
/* A request this large, or one that comes with a file this large, is worth it:
 * it is the smallest input read in halves (a NACL's text, nacl_text.c; a
 * topology file from 256 KB, topo_load.c). */
#define PAR_WARM_BYTES (128u << 10)
/* Hands the job to the helper; false when there is none (the caller does it). */
bool par_post(struct par_job *j);
/* For a posted job: true if the helper had not started it (it never will: the
 * caller does the work now); false once the helper has finished it. */
bool par_take(struct par_job *j);

#endif
