#define ERR_IMPLEMENTATION
#include "err.h"

#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
	memset(e, 0, sizeof(*e));
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

int err_at(struct err *e, enum err_code code, enum err_stage stage, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	e->code = code;
	e->stage = stage;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int err_config(struct err *e, const char *var, const char *fmt, ...)
{
	if (!e)
		return -1;
	char what[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	err_at(e, ERR_CONFIG, STAGE_CONFIG, "%s: %s", var, what);
	snprintf(e->variable, sizeof(e->variable), "%s", var);
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

int err_in(struct err *e, enum err_stage stage)
{
	if (e && e->stage == STAGE_NONE)
		e->stage = stage;
	return -1;
}

static void copy_printable(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

void err_upstream(struct err *e, long status, const char *code, const char *request_id)
{
	if (!e)
		return;
	e->upstream_status = (int)status;
	copy_printable(e->upstream_code, sizeof(e->upstream_code), code);
	copy_printable(e->request_id, sizeof(e->request_id), request_id);
}

const char *err_code_name(enum err_code code)
{
	switch (code) {
	case ERR_NONE:
		return "ok";
	case ERR_BAD_REQUEST:
		return "bad_request";
	case ERR_UNAUTHORIZED:
		return "unauthorized";
	case ERR_FORBIDDEN:
		return "forbidden";
	case ERR_NOT_FOUND:
		return "not_found";
	case ERR_METHOD:
		return "method_not_allowed";
	case ERR_CONFLICT:
		return "conflict";
	case ERR_PRECONDITION:
		return "precondition_failed";
	case ERR_TOO_LARGE:
		return "too_large";
	case ERR_UNSUPPORTED:
		return "unsupported_media_type";
	case ERR_UNPROCESSABLE:
		return "unprocessable";
	case ERR_VERIFY:
		return "verification_failed";
	case ERR_INTERNAL:
		return "internal";
	case ERR_UPSTREAM:
		return "bad_upstream_response";
	case ERR_UNAVAILABLE:
		return "unavailable";
	case ERR_TIMEOUT:
		return "timeout";
	case ERR_CONFIG:
		return "configuration";
	}
	return "internal";
}

const char *err_stage_name(enum err_stage stage)
{
	static const char *const names[STAGE_COUNT] = {
	    [STAGE_NONE] = "none",
	    [STAGE_REQUEST] = "request",
	    [STAGE_CONFIG] = "configuration",
	    [STAGE_EVIDENCE] = "evidence",
	    [STAGE_CERTS] = "certificates",
	    [STAGE_SIDECAR] = "sidecar",
	    [STAGE_ATTESTATION] = "attestation",
	    [STAGE_TOKEN] = "token_verification",
	    [STAGE_IDENTITY] = "identity",
	    [STAGE_VAULT] = "release",
	    [STAGE_RELEASE_PROOF] = "verification",
	    [STAGE_UNWRAP] = "unwrap",
	    [STAGE_CUSTODY] = "custody",
	    [STAGE_CRYPTO] = "crypto",
	    [STAGE_STORE] = "store",
	    [STAGE_RECORDS] = "records",
	    [STAGE_DATA] = "data",
	};
	return (unsigned)stage < STAGE_COUNT && names[stage] ? names[stage] : "none";
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
