/*
 * http: the request/response layer every endpoint program runs on.
 *
 * One binary serves FastCGI (under lighttpd) or plain CGI (any server): libfcgi
 * tells which.  http_main() owns the loop: it reads the request line facts
 * from the CGI environment, reads the body up to cfg.max_body (413 beyond),
 * routes on method and path (404 / 405 as JSON), calls the handler, and logs
 * one line per request.  A handler validates, calls the library and answers
 * with exactly one http_send_* call; if it sends nothing, a 500 is sent.
 *
 * Every response is JSON (or a static asset), never cached, nosniff.
 */
#ifndef HTTP_H
#define HTTP_H

#include <json-c/json.h>

#include "err.h"

struct http_req {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* raw path without the query string, starts with '/' */
	const char *query;        /* raw query string, "" if none */
	const char *content_type; /* "" if none */
	const char *remote_addr;  /* "" if unknown */
	unsigned char *body;      /* NUL-terminated; body_len bytes */
	size_t body_len;
	char **envp;              /* the CGI environment of this request */
};

struct http_resp;

typedef void (*http_handler)(struct http_req *rq, struct http_resp *rs);

struct http_route {
	const char *method; /* NULL: any method */
	const char *path;   /* exact path, or a prefix when it ends in '/' and prefix is set */
	int prefix;
	http_handler fn;
};

/* Run the program: log_init(), config_load(), then serve until the server stops us.  A bad
 * configuration is logged once and every request gets a 500 JSON error naming the variable. */
int http_main(const char *prog, const struct http_route *routes, size_t nroutes);

/* Look up a CGI variable of this request ("HTTP_IF_MATCH", "SERVER_PORT", ...). */
const char *http_env(const struct http_req *rq, const char *name);

/*
 * The JSON body as an object.  An empty body is {}; anything else must be a
 * JSON object.  On failure the matching 4xx is set in e.  Caller owns *out.
 */
int http_body_json(const struct http_req *rq, struct json_object **out, struct err *e) MUST_CHECK;

/*
 * Declarative input checking.  Each field of a request body is declared with
 * its type and bounds; http_validate rejects a body whose declared fields are
 * missing (when required), of the wrong JSON type, or too long.  Fields the
 * table does not name are ignored, as the original ignored them.
 */
enum field_type { FIELD_STRING, FIELD_BOOL, FIELD_INT };
struct field_spec {
	const char *name;
	enum field_type type;
	int required;
	size_t max_len;  /* strings: maximum bytes; 0 = no limit beyond the body limit */
	int allow_empty; /* strings: whether "" is accepted */
};
int http_validate(struct json_object *body, const struct field_spec *spec, size_t n,
		  struct err *e) MUST_CHECK;

/* Send obj (takes ownership) with the given status. */
void http_send_json(struct http_resp *rs, int status, struct json_object *obj);
/* {"status":"error","message":msg} plus the members of extra (taken; may be NULL). */
void http_send_error(struct http_resp *rs, int status, const char *msg, struct json_object *extra);
/* Same, with the status and message taken from e. */
void http_send_err(struct http_resp *rs, const struct err *e, struct json_object *extra);
/* Any bytes with a content type (for downloads and static files). */
void http_send_raw(struct http_resp *rs, int status, const char *ctype, const void *data, size_t n);
/* Add a response header (before sending); name and value must be plain tokens. */
void http_add_header(struct http_resp *rs, const char *name, const char *value);

#endif
