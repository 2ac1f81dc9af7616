/*
 * err: the one error type every library call reports through.
 *
 * A failing call returns -1 and fills a caller-owned struct err with:
 *   code   what kind of failure (bad input, refused, unreachable, ...);
 *   stage  which step of the work failed (the request, the evidence, the
 *          attestation service, the vault, the record store, ...);
 *   upstream  what a remote service answered, summarised: its HTTP status,
 *          its error code and its request id, never its body;
 *   msg    a message a user can act on.
 * Code, stage and the attestation backend together decide the HTTP status,
 * failure_reason and diagnosis in exactly one place: lib/outcome.c.  Nothing
 * else maps an error to HTTP, and nothing matches on message text.
 *
 * The stage is set where the step is known: by the module that talks to the
 * party (err_in() keeps a stage already set by a deeper call, so the first,
 * most precise, classification wins).  Messages never hold secret material:
 * callers format only public facts into them.
 */
#ifndef ERR_H
#define ERR_H

#include "util.h"

enum err_code {
	ERR_NONE = 0,
	ERR_BAD_REQUEST,   /* the caller's input is wrong */
	ERR_UNAUTHORIZED,  /* a credential or token was not accepted */
	ERR_FORBIDDEN,     /* refused by policy */
	ERR_NOT_FOUND,     /* no such thing */
	ERR_METHOD,        /* wrong HTTP method */
	ERR_CONFLICT,      /* state changed under us */
	ERR_PRECONDITION,  /* conditional write lost */
	ERR_TOO_LARGE,     /* over a size limit */
	ERR_UNSUPPORTED,   /* a type or format this program does not handle */
	ERR_UNPROCESSABLE, /* well-formed but fails a check */
	ERR_INTERNAL,      /* a bug or broken local state */
	ERR_UPSTREAM,      /* a service answered something unusable */
	ERR_UNAVAILABLE,   /* a service or device is not there */
	ERR_TIMEOUT,       /* a service did not answer in time */
	ERR_VERIFY,        /* evidence, a token or a signature failed verification */
	ERR_CONFIG,        /* this server's configuration is missing or wrong */
};

enum err_stage {
	STAGE_NONE = 0,      /* not classified: the code alone decides */
	STAGE_REQUEST,       /* the caller's request: body, fields, path */
	STAGE_CONFIG,        /* this server's configuration */
	STAGE_EVIDENCE,      /* TEE evidence: the device ioctl or the virtual host */
	STAGE_CERTS,         /* the VCEK certificate chain (THIM, security context) */
	STAGE_SIDECAR,       /* Microsoft's SKR sidecar */
	STAGE_ATTESTATION,   /* the attestation service (MAA) */
	STAGE_TOKEN,         /* verifying the attestation token and its signing keys */
	STAGE_IDENTITY,      /* the managed identity token (IMDS) */
	STAGE_VAULT,         /* the key vault: release or key read */
	STAGE_RELEASE_PROOF, /* verifying the vault's signed release answer */
	STAGE_UNWRAP,        /* unwrapping the released key */
	STAGE_CUSTODY,       /* the key this instance holds */
	STAGE_CRYPTO,        /* encrypting or decrypting with the held key */
	STAGE_STORE,         /* the blob store */
	STAGE_RECORDS,       /* the shared record file's content */
	STAGE_DATA,          /* the company's CSV file */
	STAGE_COUNT
};

struct err {
	enum err_code code;
	enum err_stage stage;
	int upstream_status;    /* HTTP status a remote service returned, 0 if none */
	char upstream_code[64]; /* its error code (printable), "" if none */
	char request_id[80];    /* its request id (printable), "" if none */
	char variable[96]; /* ERR_CONFIG: the variables at fault, space-separated, "" if none */
	char msg[768];
};

/* Empty: no code, no stage, no upstream. */
void err_clear(struct err *e);
/* Set code and message (stage and upstream are kept); returns -1 for `return err_set(...)`. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...) PRINTF_LIKE(3, 4);
#if defined(__clang_analyzer__) && !defined(ERR_IMPLEMENTATION)
/* The analyzer sees one file at a time: tell it what lib/err.c guarantees. */
#define err_set(...) (err_set(__VA_ARGS__), -1)
#endif
/* Prefix the existing message with more context: "ctx: old message"; returns -1. */
int err_wrap(struct err *e, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Set code, message and stage at once (the stage replaces any); returns -1. */
int err_at(struct err *e, enum err_code code, enum err_stage stage, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
/* A bad value of configuration variable var: ERR_CONFIG at STAGE_CONFIG, message "var: ...",
 * e->variable = var; returns -1. */
int err_config(struct err *e, const char *var, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Classify the failure as happening at stage unless a deeper call already did; returns -1. */
int err_in(struct err *e, enum err_stage stage);
/* Record what a remote service answered (code and request id may be NULL; kept printable). */
void err_upstream(struct err *e, long status, const char *code, const char *request_id);

/* Stable names for the wire ("bad_request", "attestation"...). */
const char *err_code_name(enum err_code code);
const char *err_stage_name(enum err_stage stage);

/* Blank the control characters (C0 and DEL) of untrusted text in place, so it is safe
 * in a message, JSON, a log line or a terminal. */
void err_blank_controls(char *s);
/* The same on a copy of at most max bytes of s; caller frees. */
char *err_printable(const char *s, size_t max);

#endif
