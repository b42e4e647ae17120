/* The helper thread (par.h): who does a posted job, and that waking it ahead of
 * a job (par_warm) changes nothing but who does it. */
#include <pthread.h>
#include <stdlib.h>

#include "par.h"
#include "test.h"

struct count_job {
	struct par_job job; /* first: the job is the struct */
	pthread_t by;       /* the thread that ran it */
	unsigned long sum;
};

/* A millisecond or so of work (volatile: not folded into a formula), so that a
 * helper that has to wake first can still take the job before the caller. */
#define COUNT_TO 1000000UL

static void count_run(struct par_job *j)
{
	struct count_job *c = (struct count_job *)j;
	volatile unsigned long sum = 0;
	c->by = pthread_self();
	for (unsigned long i = 1; i <= COUNT_TO; i++)
		sum += i;
	c->sum = sum;
}

/* Posts a job, does one of its own, then takes the posted one back or waits for
 * it, as the real callers do; true if the helper ran it. The sums are right
 * whoever did. */
static bool post_and_take(void)
{
	struct count_job c = {.job.fn = count_run}, own = {.job.fn = count_run};
	bool posted = par_post(&c.job);
	count_run(&own.job);
	if (!posted || par_take(&c.job))
		count_run(&c.job);
	CHECK_INT(c.sum, COUNT_TO * (COUNT_TO + 1) / 2);
	CHECK_INT(own.sum, c.sum);
	return posted && !pthread_equal(c.by, pthread_self());
}

void test_par(void)
{
	/* Off: nothing is posted, warming does nothing. */
	par_warm();
	CHECK(!post_and_take());
	CHECK_INT(par_enable(true), 0);
	if (!par_running()) {
		printf("test_par: one CPU only, no helper thread\n");
		return;
	}
	/* A job after a warning runs on the helper: tried until it has once (up to
	 * 50 times), as a busy host may keep the helper from its CPU. */
	bool helper = false;
	for (int k = 0; k < 50 && !helper; k++) {
		par_warm();
		helper = post_and_take();
	}
	CHECK(helper);
	/* Warned twice, with no job: it goes back to sleep, and wakes for the next. */
	par_warm();
	par_warm();
	helper = false;
	for (int k = 0; k < 50 && !helper; k++)
		helper = post_and_take();
	CHECK(helper);
	/* Stopped while it looks out for a job: it ends (this would hang). */
	par_warm();
	CHECK_INT(par_enable(false), 0);
	CHECK(!par_running());
	CHECK(!post_and_take());
	/* And starts again. */
	CHECK_INT(par_enable(true), 0);
	helper = false;
	for (int k = 0; k < 50 && !helper; k++)
		helper = post_and_take();
	CHECK(helper);
	CHECK_INT(par_enable(false), 0);
}
