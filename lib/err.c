#include "err.h"

#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
	e->code = ERR_NONE;
	e->upstream_status = 0;
	e->msg[0] = '\0';
}

int err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
	return -1;
}

int err_http_status(enum err_code code)
{
	switch (code) {
	case ERR_NONE: return 200;
	case ERR_BAD_REQUEST: return 400;
	case ERR_UNAUTHORIZED: return 401;
	case ERR_FORBIDDEN: return 403;
	case ERR_NOT_FOUND: return 404;
	case ERR_METHOD: return 405;
	case ERR_CONFLICT: return 409;
	case ERR_PRECONDITION: return 412;
	case ERR_TOO_LARGE: return 413;
	case ERR_UNSUPPORTED: return 415;
	case ERR_UNPROCESSABLE: return 422;
	case ERR_VERIFY: return 422;
	case ERR_INTERNAL: return 500;
	case ERR_UPSTREAM: return 502;
	case ERR_UNAVAILABLE: return 503;
	case ERR_TIMEOUT: return 504;
	}
	return 500;
}

const char *err_code_name(enum err_code code)
{
	switch (code) {
	case ERR_NONE: return "ok";
	case ERR_BAD_REQUEST: return "bad_request";
	case ERR_UNAUTHORIZED: return "unauthorized";
	case ERR_FORBIDDEN: return "forbidden";
	case ERR_NOT_FOUND: return "not_found";
	case ERR_METHOD: return "method_not_allowed";
	case ERR_CONFLICT: return "conflict";
	case ERR_PRECONDITION: return "precondition_failed";
	case ERR_TOO_LARGE: return "too_large";
	case ERR_UNSUPPORTED: return "unsupported_media_type";
	case ERR_UNPROCESSABLE: return "unprocessable";
	case ERR_VERIFY: return "verification_failed";
	case ERR_INTERNAL: return "internal";
	case ERR_UPSTREAM: return "bad_upstream_response";
	case ERR_UNAVAILABLE: return "unavailable";
	case ERR_TIMEOUT: return "timeout";
	}
	return "internal";
}

void err_blank_controls(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

char *err_printable(const char *s, size_t max)
{
	char *o = xstrndup(s, strnlen(s, max));
	err_blank_controls(o);
	return o;
}
