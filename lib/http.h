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
	char **envp;                    /* the CGI environment of this request */
	const struct http_route *route; /* the route that matched */
};

struct http_resp;

typedef void (*http_handler)(struct http_req *rq, struct http_resp *rs);

struct http_route {
	const char *method; /* NULL: any method */
	const char *path;   /* exact path, or a prefix when it ends in '/' and prefix is set */
	int prefix;
	http_handler fn;
};

/*
 * Run the program: config_init(), log_init(), then serve until the server
 * stops us.  With a bad configuration every request is answered with the
 * 500 that names the variable (outcome), in CGI and FastCGI mode alike.
 */
int http_main(const char *prog, const struct http_route *routes, size_t nroutes);

/* Look up a CGI variable of this request ("HTTP_IF_MATCH", "SERVER_PORT", ...). */
const char *http_env(const struct http_req *rq, const char *name);

/*
 * The JSON body as an object.  An empty body (or only spaces, tabs and line
 * breaks) is {}; anything else must be a JSON object.  On failure the 4xx
 * error is in e.  Caller owns *out.
 */
int http_body_json(const struct http_req *rq, struct json_object **out, struct err *e) MUST_CHECK;

/*
 * Declarative input checking, kcgi-style: each endpoint declares its body's
 * fields with a type, bounds and a check; http_form_read() parses the body,
 * refuses a field that is missing (when required), of the wrong JSON type,
 * too long or failing its check, and hands back the values, so a handler
 * never sees an unchecked field and never checks one again.  Fields the
 * table does not name are ignored, as the original ignored them.  Every
 * failure is ERR_BAD_REQUEST at STAGE_REQUEST naming the field.
 */
enum field_type { FIELD_STRING, FIELD_BOOL, FIELD_INT };
enum field_check {
	CHECK_NONE = 0, /* any string without NUL (the parser already refused bad UTF-8) */
	CHECK_TEXT,     /* text: no control characters (C0, DEL, C1) */
	CHECK_BASE64,   /* standard or URL-alphabet base64; the value carries the bytes */
	CHECK_ENUM,     /* one of choices (NULL-terminated); the value carries the index */
	CHECK_ENDPOINT, /* host[:port] or an http(s) URL, as the configuration writes them */
	CHECK_KEY_NAME, /* a Key Vault key name, optionally "/version": [A-Za-z0-9-] */
};
struct field_spec {
	const char *name;
	enum field_type type;
	int required;
	size_t max_len;  /* strings: maximum bytes; 0 = no limit beyond the body limit */
	int allow_empty; /* strings: whether "" is accepted (and then not checked) */
	enum field_check check;
	const char *const *choices; /* CHECK_ENUM */
};

#define HTTP_FORM_MAX 8
struct field_value {
	int present;
	const char *str;      /* FIELD_STRING: borrowed from the form */
	size_t len;           /* its length in bytes */
	unsigned char *bytes; /* CHECK_BASE64: the decoded bytes (the form owns them) */
	size_t nbytes;
	int choice;        /* CHECK_ENUM: index into choices */
	int boolean;       /* FIELD_BOOL */
	long long integer; /* FIELD_INT */
};
struct http_form {
	struct json_object *body; /* the parsed body (owned) */
	const struct field_spec *spec;
	size_t n;
	struct field_value v[HTTP_FORM_MAX]; /* v[i] belongs to spec[i] */
};
/* Check an already parsed body against spec; values (n of them) may be NULL. */
int http_validate(struct json_object *body, const struct field_spec *spec, size_t n,
                  struct field_value *values, struct err *e) MUST_CHECK;
/* Parse and check rq's body against spec (n <= HTTP_FORM_MAX); free f even on failure. */
int http_form_read(const struct http_req *rq, const struct field_spec *spec, size_t n,
                   struct http_form *f, struct err *e) MUST_CHECK;
/*
 * The query string read as a form against spec: "a=1&b=x" is {"a": 1, "b": "x"}
 * (percent-decoded, '+' as space; a FIELD_INT value written in decimal is an
 * integer), then checked like a body.  A declared name given twice or a
 * malformed escape is ERR_BAD_REQUEST; undeclared names are ignored.
 */
int http_query_read(const struct http_req *rq, const struct field_spec *spec, size_t n,
                    struct http_form *f, struct err *e) MUST_CHECK;
/* The value of the declared field name (absent fields have present == 0). */
const struct field_value *http_form_get(const struct http_form *f, const char *name);
/* The string of a present field, or NULL. */
const char *http_form_str(const struct http_form *f, const char *name);
/* Wipe every string of the body and every decoded value (they may be plaintext), free. */
void http_form_free(struct http_form *f);

/*
 * A request named field = requested where the configuration uses used instead:
 * add "<field>_requested" and a sentence to the answer's "configuration_notes"
 * array, so the caller sees that the value was ignored, not followed.
 */
void http_note_ignored(struct json_object *answer, const char *field, const char *requested,
                       const char *used, const char *variable);

/* Send obj (takes ownership) with the given status. */
void http_send_json(struct http_resp *rs, int status, struct json_object *obj);
/* {"status":"error","message":msg} plus the members of extra (taken; may be NULL). */
void http_send_error(struct http_resp *rs, int status, const char *msg, struct json_object *extra);
/* The error e as lib/outcome decides it: its status, e->msg and the outcome envelope, plus
 * the members of extra (context such as the key name; taken, may be NULL). */
void http_send_err(struct http_resp *rs, const struct err *e, struct json_object *extra);
/* Any bytes with a content type (for downloads and static files). */
void http_send_raw(struct http_resp *rs, int status, const char *ctype, const void *data, size_t n);
/* Add a response header (before sending); name and value must be plain tokens. */
void http_add_header(struct http_resp *rs, const char *name, const char *value);

#endif
