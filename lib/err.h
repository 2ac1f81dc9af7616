/*
 * err: the one error type every library call reports through.
 *
 * A failing call returns -1 and fills a caller-owned struct err with a
 * code (what kind of failure, which decides the HTTP status in one place:
 * err_http_status) and a message a user can act on.  Messages never hold
 * secret material: callers format only public facts into them.
 */
#ifndef ERR_H
#define ERR_H

#include "util.h"

enum err_code {
	ERR_NONE = 0,
	ERR_BAD_REQUEST,   /* 400: the caller's input is wrong */
	ERR_UNAUTHORIZED,  /* 401 */
	ERR_FORBIDDEN,     /* 403: refused by policy */
	ERR_NOT_FOUND,     /* 404 */
	ERR_METHOD,        /* 405 */
	ERR_CONFLICT,      /* 409: state changed under us */
	ERR_PRECONDITION,  /* 412: conditional write lost */
	ERR_TOO_LARGE,     /* 413 */
	ERR_UNSUPPORTED,   /* 415 */
	ERR_UNPROCESSABLE, /* 422: well-formed but fails a check (bad signature...) */
	ERR_INTERNAL,      /* 500: a bug or broken local state */
	ERR_UPSTREAM,      /* 502: a service answered something unusable */
	ERR_UNAVAILABLE,   /* 503: a service or device is not there */
	ERR_TIMEOUT,       /* 504: a service did not answer in time */
	ERR_VERIFY,        /* 422 too, but "evidence failed verification" */
};

struct err {
	enum err_code code;
	int upstream_status; /* HTTP status a remote service returned, 0 if none */
	char msg[768];
};

void err_clear(struct err *e);
/* Set code and message; returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Prefix the existing message with more context: "ctx: old message". */
int err_wrap(struct err *e, const char *fmt, ...) PRINTF_LIKE(2, 3);
int err_http_status(enum err_code code);
const char *err_code_name(enum err_code code);

/* Blank the control characters (C0 and DEL) of untrusted text in place, so it is safe
 * in a message, JSON, a log line or a terminal. */
void err_blank_controls(char *s);
/* The same on a copy of at most max bytes of s; caller frees. */
char *err_printable(const char *s, size_t max);

#endif
