#ifndef VPCD_LOG_H
#define VPCD_LOG_H

enum { LOG_ERR_ = 0, LOG_WARN_ = 1, LOG_INFO_ = 2, LOG_DEBUG_ = 3 };

extern int vlog_level;
void vlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   vlog(LOG_ERR_, __VA_ARGS__)
#define log_warn(...)  vlog(LOG_WARN_, __VA_ARGS__)
#define log_info(...)  vlog(LOG_INFO_, __VA_ARGS__)
#define log_debug(...) vlog(LOG_DEBUG_, __VA_ARGS__)

#include <time.h>
/* Monotonic milliseconds, for the timings debug logging reports. */
static inline double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
