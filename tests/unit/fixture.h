/*
 * fixture: declarative tests of the project's clients of other services, in
 * curl's style.  A test is a table; each row scripts the exchanges a call
 * makes (for each: the exact request expected and the canned answer) and
 * the result expected (return code, err code and stage, upstream status, a
 * message fragment, the HTTP status lib/outcome.c gives, the outputs).  The
 * real client code runs against one server thread on 127.0.0.1.
 *
 *   static const struct fx_exchange ok[] = {
 *       {.req = {.method = "GET", .target = "/certs", .headers = {"Accept: application/json"}},
 *        .reply = {.status = 200, .body = "{\"keys\":[]}"}},
 *   };
 *   fx_script(ok, NELEM(ok));   ... call the client ...   FX_CHECK_REQUESTS("certs ok");
 *
 * The server speaks HTTP/1.1 and nothing else: it knows nothing of
 * lib/fetch.c.  Request bodies may come with Content-Length or chunked, an
 * "Expect: 100-continue" is answered, connections are kept alive (a client
 * may reuse one or open several at once: every open connection is served),
 * and answers carry Content-Length (FX_ANSWER) or are chunked (FX_CHUNKED).
 * The k-th request read, on whatever connection, gets the k-th exchange of
 * the script; a request beyond the script is recorded and answered 599.
 *
 * No sleeping for synchronisation: a request is recorded before its answer
 * is written, so when a client call has returned after an answer, the server
 * has its request.  For an answer that never comes (FX_HANG), wait with
 * fx_wait_requests(), a condition variable.
 *
 * Ownership: scripts are the caller's (static tables) and must outlive their
 * run; recorded requests belong to the harness and stay valid until the
 * next fx_script().  One test thread drives the harness.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stddef.h>

#include "err.h"

#define FX_MAX_HEADERS  48 /* recorded per request */
#define FX_MAX_EXPECT   8  /* header expectations per request */
#define FX_MAX_REPLY_H  6  /* extra headers per answer */
#define FX_MAX_REQUESTS 64 /* recorded per script */

enum fx_action {
	FX_ANSWER = 0, /* status, headers, body with Content-Length */
	FX_CHUNKED,    /* the same body in chunked transfer encoding (uneven chunks) */
	FX_HANG,       /* read the request, never answer: the client must time out */
	FX_CLOSE,      /* read the request, close the connection without a byte */
	FX_TRUNCATE,   /* status and headers announcing the whole body, half of it, close */
};

/* What the server answers. */
struct fx_reply {
	int status;
	const char *headers[FX_MAX_REPLY_H]; /* "Name: value", unused ones NULL */
	const char *body;                    /* NULL = empty */
	size_t body_len;                     /* 0 = strlen(body); for bodies holding NUL */
	enum fx_action action;
};

/* One request as the server read it. */
struct fx_request {
	char method[16];
	char *target; /* path and query, as sent */
	size_t nheaders;
	char *hname[FX_MAX_HEADERS], *hvalue[FX_MAX_HEADERS]; /* values trimmed */
	unsigned char *body;                                  /* NUL-terminated */
	size_t body_len;
	int chunked; /* the body came chunked */
	int conn;    /* which connection (1, 2, ... since fx_start) */
};

/* A further check of a request: 1 if good, else 0 with why filled. */
typedef int (*fx_pred)(const struct fx_request *r, char *why, size_t n);

/* The request expected.  NULL members are not checked. */
struct fx_want {
	const char *method;
	const char *target; /* exact path and query */
	/*
	 * "Name: value": present with exactly this value (names case-insensitive);
	 * "Name": present; "!Name": absent.
	 */
	const char *headers[FX_MAX_EXPECT];
	const char *body; /* exact body */
	fx_pred check;
};

struct fx_exchange {
	struct fx_want req;
	struct fx_reply reply;
};

/* The result a client call should have.  0 / NULL members are not checked, except rc. */
struct fx_result {
	int rc;                    /* the call's return value */
	enum err_code code;        /* when rc != 0 */
	enum err_stage stage;      /* when rc != 0 and code is set: STAGE_NONE is checked too */
	int upstream;              /* e.upstream_status; -1 = must be 0 */
	const char *msg;           /* a fragment e.msg contains */
	const char *msg2;          /* another fragment it contains */
	const char *msg_is;        /* e.msg exactly */
	const char *not_msg;       /* a fragment e.msg must not contain (a body, a secret) */
	const char *upstream_code; /* e.upstream_code exactly */
	const char *request_id;    /* e.request_id exactly */
	int http;                  /* the HTTP status lib/outcome.c gives e */
};

/* Start the server (once per process); its base URL "http://127.0.0.1:<port>". */
void fx_start(void);
const char *fx_url(void);
int fx_port(void);
/* A loopback URL nobody listens on (a port bound and closed again); caller frees. */
char *fx_refused_url(void);
/* Stop the server, close every connection, free what it recorded. */
void fx_stop(void);

/* Serve ex[0..n-1] from now on (n stops early at an all-zero exchange); forgets
 * the requests recorded so far. */
void fx_script(const struct fx_exchange *ex, size_t n);
/* Requests recorded since fx_script, and the i-th of them (NULL past the end). */
size_t fx_request_count(void);
const struct fx_request *fx_request(size_t i);
/* Wait (no longer than timeout_ms) until n requests are recorded; 1 if they are. */
int fx_wait_requests(size_t n, int timeout_ms);
/* A request's header value (first of that name, case-insensitive), or NULL. */
const char *fx_header(const struct fx_request *r, const char *name);

/* 1 if r is what w expects, else 0 and why. */
int fx_match(const struct fx_request *r, const struct fx_want *w, char *why, size_t n);
/*
 * 1 if the server read exactly one request per scripted exchange, each as expected.
 * Waits first (on the condition variable, at most settle_ms; fx_verify: 3 s) for
 * scripted requests not read yet: a client that timed out may have returned before the
 * server read what it sent.
 */
int fx_verify(char *why, size_t n);
int fx_verify_within(int settle_ms, char *why, size_t n);
/* 1 if a call's rc and e are what want says, else 0 and why. */
int fx_result_check(int rc, const struct err *e, const struct fx_result *want, char *why, size_t n);

/* testlib CHECKs (the caller includes testlib.h): name labels the failure. */
#define FX_CHECK_REQUESTS(name)                                                                    \
	do {                                                                                       \
		char fx_why_[1024];                                                                \
		CHECK_MSG(fx_verify(fx_why_, sizeof(fx_why_)), "%s: %s", (name), fx_why_);         \
	} while (0)
#define FX_CHECK_RESULT(name, rc, e, want)                                                         \
	do {                                                                                       \
		char fx_why_[1024];                                                                \
		CHECK_MSG(fx_result_check((rc), (e), (want), fx_why_, sizeof(fx_why_)), "%s: %s",  \
		          (name), fx_why_);                                                        \
	} while (0)

#endif
