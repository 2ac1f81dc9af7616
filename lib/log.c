#include "log.h"

#include <fcntl.h>
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

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	if (lvl < min_level)
		return;
	char line[1024], ts[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int n = snprintf(line, sizeof(line), "%s %s[%ld] %s ", ts, prog_name, (long)getpid(),
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
