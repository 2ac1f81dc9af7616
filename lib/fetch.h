/*
 * fetch: outbound HTTP(S) over libcurl, the one way this project talks to
 * other services (sidecar, MAA, IMDS, Key Vault, Blob storage, stand-ins).
 *
 * Every call has a timeout (cfg.http_timeout, HTTP_TIMEOUT_SECONDS, unless the
 * request sets one), a response size cap, no redirects, and only http/https.
 * Transport failures map to ERR_UNAVAILABLE (cannot connect) or ERR_TIMEOUT;
 * an HTTP error status is NOT a fetch failure: the caller reads resp->status.
 *
 * The request budget: http_main() calls fetch_request_begin() when a request
 * starts.  From then on every outbound call of that request (fetch(), and any
 * other transport that asks fetch_call_deadline()) must end by the request's
 * deadline as well as within its own per-call timeout; a call that would start
 * after the deadline, or with less than FETCH_MIN_CALL_MS of it left (no service
 * answers in that), fails at once with ERR_TIMEOUT and is not sent.  So a request that chains
 * attestation, identity and vault calls spends at most REQUEST_TIMEOUT_SECONDS
 * waiting on them, which the servers' own limits (lighttpd.conf's read-timeout)
 * are set above.
 *
 * Connections are reused: each thread keeps one libcurl handle (its connection
 * cache, TLS sessions and DNS cache survive between calls) and resets every
 * option before each call, so no setting, header or body of one call reaches
 * the next.  Request headers (they may carry bearer tokens) are wiped after
 * each call.  The handle is freed when its thread exits.  A forked child never
 * touches its parent's handle (the connections in it are the parent's): its
 * first call makes a handle of its own.
 */
#ifndef FETCH_H
#define FETCH_H

#include "err.h"

#define FETCH_MIN_CALL_MS 10

struct fetch_req {
	const char *method; /* default "GET" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" list, may be NULL */
	const void *body;           /* may be NULL */
	size_t body_len;
	long timeout_s;        /* 0 = cfg.http_timeout (or 30 before config) */
	size_t max_resp;       /* 0 = 4 MiB */
	const char *shown_url; /* the URL messages name (NULL: url); for URLs with secrets */
	/*
	 * A POST that does the same when sent twice (an attestation, a key release): it may go
	 * on a kept connection, which libcurl re-sends on a fresh one when the kept one turns
	 * out dead before any answer.  Any other POST always gets a connection of its own.
	 */
	int repeatable;
};

struct fetch_resp {
	long status;
	struct buf body;     /* NUL-terminated */
	char *etag;          /* ETag header, or NULL */
	char *content_type;  /* or NULL */
	char *ms_error_code; /* x-ms-error-code, or NULL */
	char *last_modified; /* or NULL */
	char *request_id;    /* x-ms-request-id, or NULL */
	double elapsed_ms;
};

/*
 * Start a request's budget: outbound calls from now on end within budget_ms
 * (0: no request budget, only the per-call timeouts).  Per thread.
 */
void fetch_request_begin(double budget_ms);
/* End the request's budget (calls are bounded by their own timeouts only). */
void fetch_request_end(void);
/*
 * When a call that starts now must end, on the now_ms() clock: now plus
 * timeout_s (0 = HTTP_TIMEOUT_SECONDS), but no later than the request's
 * deadline.  *by_budget (may be NULL) is set when the request's deadline is
 * what limits it.  For transports other than fetch() (the virtual SEV-SNP
 * host's socket).
 */
double fetch_call_deadline(long timeout_s, int *by_budget);

/* Perform the request.  0 with resp filled (any status), or -1 with e set. */
int fetch(const struct fetch_req *rq, struct fetch_resp *resp, struct err *e) MUST_CHECK;
void fetch_resp_free(struct fetch_resp *resp);
/*
 * What an error answer says, for a message: "<code>: <message>" when the body
 * is an Azure error document ({"error":{"code","message"}} or {"code",
 * "message"}), printable and bounded, else NULL: any other body (an HTML
 * error page...) is never quoted.  Also records the status, the error code
 * (or x-ms-error-code) and the request id in e.  Caller frees.
 */
char *fetch_error_detail(const struct fetch_resp *resp, struct err *e);
/* Percent-encode s for a URL path segment or query value; caller frees. */
char *fetch_escape(const char *s);

#endif
