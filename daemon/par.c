/* The helper thread (see par.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "par.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static struct par_job *queued; /* the one job waiting for the helper */
static bool running, quit, warm; /* warm: par_warm() asked the helper to look out */
static pthread_t helper_thread;
static cpu_set_t allowed; /* the CPUs the process may run on */
static int apart_from;	  /* (atomic) the CPU the caller posted from, or -1 */

static enum par_state state_of(const struct par_job *j)
{
	return __atomic_load_n(&j->state, __ATOMIC_ACQUIRE);
}

static void set_state(struct par_job *j, enum par_state s)
{
	__atomic_store_n(&j->state, s, __ATOMIC_RELEASE);
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Watches for ready(arg) for at most `ms`; false if it did not come. The caller
 * on the CPU it posted from spins; a thread anywhere else gives its CPU away now
 * and then, in case the other thread waits for it. (Giving it away at every turn
 * made the caller see the helper's end a millisecond late.) */
static bool watch(bool (*ready)(const void *), const void *arg, double ms)
{
	double until = now_ms() + ms;
	for (unsigned i = 1; !ready(arg); i++) {
		cpu_relax();
		if (i % 1024)
			continue;
		if (now_ms() > until)
			return false;
		if (sched_getcpu() != __atomic_load_n(&apart_from, __ATOMIC_RELAXED))
			sched_yield();
	}
	return true;
}

/* After a job the helper watches for the next one for this long before it
 * sleeps: the jobs of a change come a millisecond or two apart, and a sleeping
 * helper on a virtual machine is often woken a millisecond late. */
#define LINGER_MS 3

static bool job_waiting(const void *arg)
{
	(void)arg;
	return __atomic_load_n(&queued, __ATOMIC_RELAXED) || __atomic_load_n(&quit, __ATOMIC_RELAXED);
}

static void *helper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		if (!queued && !quit) {
			pthread_mutex_unlock(&mu);
			watch(job_waiting, NULL, LINGER_MS);
			pthread_mutex_lock(&mu);
		}
		while (!queued && !quit && !warm)
			pthread_cond_wait(&work, &mu);
		warm = false;
		if (quit)
			break;
		if (!queued)
			continue; /* woken ahead of a job: look out for it */
		struct par_job *j = queued;
		__atomic_store_n(&queued, NULL, __ATOMIC_RELAXED);
		set_state(j, PAR_RUNNING);
		pthread_mutex_unlock(&mu);
		/* Woken apart from the caller (keep_apart()); free to move again, should
		 * this CPU be wanted by another task. */
		pthread_setaffinity_np(pthread_self(), sizeof(allowed), &allowed);
		j->fn(j);
		pthread_mutex_lock(&mu);
		set_state(j, PAR_DONE);
		pthread_cond_broadcast(&done);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int par_enable(bool on)
{
	if (on == running)
		return 0;
	if (!on) {
		pthread_mutex_lock(&mu);
		__atomic_store_n(&quit, true, __ATOMIC_RELAXED);
		pthread_cond_signal(&work);
		pthread_mutex_unlock(&mu);
		pthread_join(helper_thread, NULL);
		quit = running = warm = false;
		return 0;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		CPU_ZERO(&allowed);
	if (CPU_COUNT(&allowed) < 2)
		return 0; /* one CPU: the helper could only take turns with the caller */
	/* Signals stay with the thread that reads them (vpcd's signalfd). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&helper_thread, NULL, helper, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return -e;
	running = true;
	__atomic_store_n(&apart_from, -1, __ATOMIC_RELAXED);
	return 0;
}

bool par_running(void)
{
	return running;
}

/* Wakes the helper off the CPU the caller runs on. The scheduler tended to wake
 * it there, to take turns with the caller, while the other one idled. */
static void keep_apart(void)
{
	int cpu = sched_getcpu();
	if (cpu < 0 || !CPU_ISSET(cpu, &allowed))
		return;
	cpu_set_t set = allowed;
	CPU_CLR(cpu, &set);
	if (!pthread_setaffinity_np(helper_thread, sizeof(set), &set))
		__atomic_store_n(&apart_from, cpu, __ATOMIC_RELAXED);
}

void par_warm(void)
{
	pthread_mutex_lock(&mu);
	if (running && !queued && !warm) {
		keep_apart();
		warm = true;
		pthread_cond_signal(&work);
	}
	pthread_mutex_unlock(&mu);
}

bool par_post(struct par_job *j)
{
	bool posted = false;
	pthread_mutex_lock(&mu);
	if (running && !queued) {
		keep_apart();
		set_state(j, PAR_QUEUED);
		__atomic_store_n(&queued, j, __ATOMIC_RELAXED);
		pthread_cond_signal(&work);
		posted = true;
	}
	pthread_mutex_unlock(&mu);
	return posted;
}

static bool job_done(const void *j)
{
	return state_of(j) == PAR_DONE;
}

bool par_take(struct par_job *j)
{
	pthread_mutex_lock(&mu);
	if (state_of(j) == PAR_QUEUED) {
		set_state(j, PAR_TAKEN);
		__atomic_store_n(&queued, NULL, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&mu);
		return true;
	}
	pthread_mutex_unlock(&mu);
	/* Running: the helper has about as much left as we had, so watch for a
	 * moment rather than sleep (waking a thread on an idle CPU of a virtual
	 * machine can take milliseconds); then sleep. */
	watch(job_done, j, 2);
	pthread_mutex_lock(&mu);
	while (state_of(j) != PAR_DONE)
		pthread_cond_wait(&done, &mu);
	pthread_mutex_unlock(&mu);
	return false;
}
