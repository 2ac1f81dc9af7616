#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char prog_name[64] = "demo";
static int log_fd = STDERR_FILENO;
static enum log_level min_level = LOG_INFO;

void log_init(const char *prog, const char *file, enum log_level min)
{
	snprintf(prog_name, sizeof(prog_name), "%s", prog);
	if (file && *file) {
		int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd >= 0)
			log_fd = fd;
	}
	min_level = min;
}

/*
 * A FastCGI program logs a line per request: the pid is asked once per process (a child
 * asks again), the timestamp's text once per second per thread.
 */
static long pid_now;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_child(void)
{
	pid_now = (long)getpid();
}

static void pid_init(void)
{
	pid_now = (long)getpid();
	pthread_atfork(NULL, NULL, pid_child);
}

static long log_pid(void)
{
	pthread_once(&pid_once, pid_init);
	return pid_now;
}

static const char *log_time(void)
{
	static __thread time_t shown = -1;
	static __thread char text[32];
	time_t t = time(NULL);
	if (t != shown) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
		shown = t;
	}
	return text;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	if (lvl < min_level)
		return;
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s %s[%ld] %s ", log_time(), prog_name, log_pid(),
	                 names[lvl]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strnlen(line, sizeof(line) - 2);
	/* One message, one line: control characters from inputs are flattened. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	line[len++] = '\n';
	if (write(log_fd, line, len) < 0) {
		/* logging must never fail the caller */
	}
}
