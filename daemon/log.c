#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

int vlog_level = LOG_INFO_;

void vlog(int level, const char *fmt, ...)
{
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;
	if (level > vlog_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld vpcd %s: ", when, ts.tv_nsec / 1000000, tag[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}
