/*
 * log: one line per event, "2026-11-24T06:22:45Z prog[pid] LEVEL message".
 *
 * Lines go to the file named by LOG_FILE (opened O_APPEND, so several
 * processes can share it) or to stderr.  Callers never pass secret material:
 * key bytes, tokens' signatures, private JWK members.  log_* never fail.
 */
#ifndef LOG_H
#define LOG_H

#include "util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the program name, the file to append to (NULL or "": stderr) and the lowest level
 * written; call once at start. */
void log_init(const char *prog, const char *file, enum log_level min);
void log_msg(enum log_level lvl, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
