#include "http.h"

#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "jsonx.h"
#include "log.h"

extern char **environ;

struct http_resp {
	int sent;
	int status;
	struct buf headers;
	struct buf body;
};

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

static const char *env_in(char **envp, const char *name)
{
	size_t n = strlen(name);
	for (char **p = envp; p && *p; p++)
		if (!strncmp(*p, name, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

const char *http_env(const struct http_req *rq, const char *name)
{
	return env_in(rq->envp, name);
}

void http_add_header(struct http_resp *rs, const char *name, const char *value)
{
	/* Header injection guard: values come from our own code, but be sure. */
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return;
	buf_appendf(&rs->headers, "%s: %s\r\n", name, value);
}

void http_send_raw(struct http_resp *rs, int status, const char *ctype, const void *data, size_t n)
{
	if (rs->sent)
		return;
	rs->sent = 1;
	rs->status = status;
	http_add_header(rs, "Content-Type", ctype);
	buf_append(&rs->body, data, n);
}

void http_send_json(struct http_resp *rs, int status, struct json_object *obj)
{
	char *s = jsonx_dump_pretty(obj);
	json_object_put(obj);
	http_send_raw(rs, status, "application/json", s, strlen(s));
	buf_append(&rs->body, "\n", 1);
	free_secret_str(s); /* a body may carry decrypted plaintext */
}

void http_send_error(struct http_resp *rs, int status, const char *msg, struct json_object *extra)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "error");
	jsonx_add_str(o, "message", msg);
	if (extra) {
		json_object_object_foreach(extra, k, v)
		{
			if (strcmp(k, "status") && strcmp(k, "message"))
				json_object_object_add(o, k, json_object_get(v));
		}
		json_object_put(extra);
	}
	http_send_json(rs, status, o);
}

void http_send_err(struct http_resp *rs, const struct err *e, struct json_object *extra)
{
	if (!extra)
		extra = json_object_new_object();
	jsonx_add_str(extra, "error_code", err_code_name(e->code));
	http_send_error(rs, err_http_status(e->code), e->msg, extra);
}

int http_body_json(const struct http_req *rq, struct json_object **out, struct err *e)
{
	*out = NULL;
	size_t i = 0;
	while (i < rq->body_len && strchr(" \t\r\n", rq->body[i]))
		i++;
	if (i == rq->body_len) {
		*out = json_object_new_object();
		return 0;
	}
	if (jsonx_parse((const char *)rq->body, rq->body_len, out, e) < 0)
		return -1;
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return err_set(e, ERR_BAD_REQUEST, "request body must be a JSON object");
	}
	return 0;
}

int http_validate(struct json_object *body, const struct field_spec *spec, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = NULL;
		int present = json_object_object_get_ex(body, spec[i].name, &v) && v;
		if (!present) {
			if (spec[i].required)
				return err_set(e, ERR_BAD_REQUEST, "missing field '%s'", spec[i].name);
			continue;
		}
		switch (spec[i].type) {
		case FIELD_STRING: {
			if (!json_object_is_type(v, json_type_string))
				return err_set(e, ERR_BAD_REQUEST, "field '%s' must be a string",
					       spec[i].name);
			size_t len = (size_t)json_object_get_string_len(v);
			if (!len && !spec[i].allow_empty)
				return err_set(e, ERR_BAD_REQUEST, "field '%s' must not be empty",
					       spec[i].name);
			if (spec[i].max_len && len > spec[i].max_len)
				return err_set(e, ERR_BAD_REQUEST,
					       "field '%s' is %zu bytes long; the limit is %zu",
					       spec[i].name, len, spec[i].max_len);
			if (memchr(json_object_get_string(v), '\0', len))
				return err_set(e, ERR_BAD_REQUEST, "field '%s' holds a NUL character",
					       spec[i].name);
			break;
		}
		case FIELD_BOOL:
			if (!json_object_is_type(v, json_type_boolean))
				return err_set(e, ERR_BAD_REQUEST, "field '%s' must be true or false",
					       spec[i].name);
			break;
		case FIELD_INT:
			if (!json_object_is_type(v, json_type_int))
				return err_set(e, ERR_BAD_REQUEST, "field '%s' must be an integer",
					       spec[i].name);
			break;
		}
	}
	return 0;
}

/* I/O of one request: FastCGI streams, or stdin/stdout in CGI mode. */
struct io {
	FCGX_Stream *in, *out; /* NULL in CGI mode */
};

static int io_read(struct io *io, unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		if (io->in) {
			int r = FCGX_GetStr((char *)p + got, (int)(n - got), io->in);
			if (r <= 0)
				return -1;
			got += (size_t)r;
		} else {
			ssize_t r = read(STDIN_FILENO, p + got, n - got);
			if (r <= 0)
				return -1;
			got += (size_t)r;
		}
	}
	return 0;
}

static void io_write(struct io *io, const void *p, size_t n)
{
	if (io->out) {
		FCGX_PutStr(p, (int)n, io->out);
		return;
	}
	const unsigned char *c = p;
	while (n) {
		ssize_t w = write(STDOUT_FILENO, c, n);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static const struct http_route *route(const struct http_route *routes, size_t n, const char *method,
				      const char *path, int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < n; i++) {
		const struct http_route *r = &routes[i];
		int match = r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path);
		if (!match)
			continue;
		*path_known = 1;
		if (!r->method || !strcmp(r->method, method) ||
		    (!strcmp(method, "HEAD") && !strcmp(r->method, "GET")))
			return r;
	}
	return NULL;
}

static void allowed_methods(const struct http_route *routes, size_t n, const char *path,
			    struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct http_route *r = &routes[i];
		int match = r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path);
		if (match && r->method)
			buf_appendf(out, "%s%s", out->len ? ", " : "", r->method);
	}
}

/*
 * The answer to every request when the configuration is bad: 500, naming the variable (the
 * message config_load wrote starts with it) and the fix.  config_load never puts the value of a
 * secret (AZURE_STORAGE_CONNECTION_STRING) into a message.
 */
static void send_config_error(struct http_resp *rs, const struct err *ce)
{
	struct json_object *x = json_object_new_object();
	size_t vlen = strspn(ce->msg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	if (vlen && ce->msg[vlen] == ':') {
		char *var = xstrndup(ce->msg, vlen);
		jsonx_add_str(x, "variable", var);
		free(var);
	}
	jsonx_add_str(x, "fix",
		      "Correct the variable in the environment the web server gives this program "
		      "(README: Configuration, and Drop into your own server), then restart or "
		      "reload the server.");
	jsonx_add_str(x, "error_code", "configuration");
	char *msg = xasprintf("configuration error: %s", ce->msg);
	http_send_error(rs, 500, msg, x);
	free(msg);
}

static void handle_one(struct io *io, char **envp, const struct http_route *routes, size_t n,
		       int is_cgi, const struct err *config_error)
{
	double t0 = now_ms();
	struct http_resp rs = {0};
	struct http_req rq = {0};
	buf_init(&rs.headers);
	buf_init(&rs.body);
	rq.envp = envp;
	rq.method = env_in(envp, "REQUEST_METHOD");
	if (!rq.method)
		rq.method = "GET";
	rq.content_type = env_in(envp, "CONTENT_TYPE");
	if (!rq.content_type)
		rq.content_type = "";
	rq.remote_addr = env_in(envp, "REMOTE_ADDR");
	if (!rq.remote_addr)
		rq.remote_addr = "";

	/*
	 * Route on the raw path the client sent (REQUEST_URI), so handlers decode
	 * it exactly once.  Mounted as a plain CGI script (/cgi-bin/attest/health),
	 * the script's own name is a prefix of that path: strip it, leaving the part
	 * the server calls PATH_INFO.  (Under FastCGI the server's split of
	 * SCRIPT_NAME and PATH_INFO depends on its configuration: ignore it.)
	 */
	char *path = NULL;
	const char *uri = env_in(envp, "REQUEST_URI");
	const char *sn = env_in(envp, "SCRIPT_NAME"), *pi = env_in(envp, "PATH_INFO");
	if (uri && *uri == '/') {
		const char *q = strchr(uri, '?');
		size_t plen = q ? (size_t)(q - uri) : strlen(uri);
		size_t snlen = sn ? strlen(sn) : 0;
		if (is_cgi && pi && *pi == '/' && snlen > 1 && snlen < plen &&
		    !strncmp(uri, sn, snlen) && uri[snlen] == '/')
			path = xstrndup(uri + snlen, plen - snlen);
		else
			path = xstrndup(uri, plen);
		rq.query = q ? q + 1 : "";
	} else {
		path = xasprintf("%s%s", sn ? sn : "", pi ? pi : "");
		if (!*path) {
			free(path);
			path = xstrdup("/");
		}
		const char *qs = env_in(envp, "QUERY_STRING");
		rq.query = qs ? qs : "";
	}
	rq.path = path;

	struct buf body;
	buf_init(&body);
	const char *cl = env_in(envp, "CONTENT_LENGTH");
	unsigned long clen = 0;
	int path_known;
	const struct http_route *r = route(routes, n, rq.method, rq.path, &path_known);
	if (config_error) {
		send_config_error(&rs, config_error);
	} else if (cl && *cl && parse_ulong(cl, 0, (unsigned long)-1 >> 1, &clen) < 0) {
		http_send_error(&rs, 400, "invalid Content-Length", NULL);
	} else if (clen > cfg.max_body) {
		char msg[160];
		snprintf(msg, sizeof(msg), "request body is %lu bytes; the limit is %lu bytes", clen,
			 cfg.max_body);
		http_send_error(&rs, 413, msg, NULL);
	} else if (!r) {
		if (path_known) {
			struct buf allow;
			buf_init(&allow);
			allowed_methods(routes, n, rq.path, &allow);
			http_add_header(&rs, "Allow", allow.len ? (char *)allow.p : "");
			char msg[200];
			snprintf(msg, sizeof(msg), "method %.10s is not allowed on %.100s; use %s",
				 rq.method, rq.path, allow.len ? (char *)allow.p : "another method");
			buf_free(&allow);
			http_send_error(&rs, 405, msg, NULL);
		} else {
			char msg[200];
			snprintf(msg, sizeof(msg), "no endpoint %.150s", rq.path);
			http_send_error(&rs, 404, msg, NULL);
		}
	} else {
		if (clen) {
			unsigned char *p = xmalloc(clen + 1);
			if (io_read(io, p, clen) < 0) {
				free(p);
				http_send_error(&rs, 400, "request body shorter than Content-Length", NULL);
			} else {
				buf_append(&body, p, clen);
				wipe(p, clen);
				free(p);
			}
		}
		if (!rs.sent) {
			if (!body.p)
				buf_append(&body, "", 0);
			rq.body = body.p;
			rq.body_len = body.len;
			r->fn(&rq, &rs);
			if (!rs.sent)
				http_send_error(&rs, 500, "handler produced no response", NULL);
		}
	}

	struct buf head;
	buf_init(&head);
	buf_appendf(&head, "Status: %d %s\r\n", rs.status, status_text(rs.status));
	buf_append(&head, rs.headers.p, rs.headers.len);
	buf_appendf(&head,
		    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
		    "X-Content-Type-Options: nosniff\r\n\r\n",
		    rs.body.len);
	io_write(io, head.p, head.len);
	if (strcmp(rq.method, "HEAD"))
		io_write(io, rs.body.p, rs.body.len);
	log_info("%s %s -> %d (%.1f ms)", rq.method, rq.path, rs.status, now_ms() - t0);
	buf_free(&head);
	buf_free(&rs.headers);
	buf_free(&rs.body);
	buf_free(&body);
	free(path);
}

int http_main(const char *prog, const struct http_route *routes, size_t nroutes)
{
	log_init(prog);
	/* A bad configuration is logged once and answered to every request (500 JSON), so a
	 * CGI caller sees why and a FastCGI program does not crash-loop under its server. */
	struct err ce;
	err_clear(&ce);
	const struct err *config_error = NULL;
	if (config_load(&cfg, &ce) < 0) {
		log_error("configuration error: %s; every request is answered 500 until it is fixed",
			  ce.msg);
		config_error = &ce;
	}
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_IsCGI()) {
		struct io io = {NULL, NULL};
		handle_one(&io, environ, routes, nroutes, 1, config_error);
		return 0;
	}
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 1;
	}
	FCGX_Request req;
	FCGX_InitRequest(&req, 0, 0);
	log_info("serving FastCGI");
	while (FCGX_Accept_r(&req) >= 0) {
		struct io io = {req.in, req.out};
		handle_one(&io, req.envp, routes, nroutes, 0, config_error);
		FCGX_Finish_r(&req);
	}
	return 0;
}
