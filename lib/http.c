#include "http.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"
#include "fetch.h"
#include "jsonx.h"
#include "log.h"
#include "outcome.h"

extern char **environ;

struct http_resp {
	int sent;
	int status;
	struct buf headers;
	struct buf body;
};

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
	struct json_object *x = outcome_envelope(e);
	if (extra) {
		json_object_object_foreach(extra, k, v)
		{
			json_object_object_add(x, k, json_object_get(v));
		}
		json_object_put(extra);
	}
	http_send_error(rs, outcome_status(e), e->msg, x);
}

void http_note_ignored(struct json_object *answer, const char *field, const char *requested,
                       const char *used, const char *variable)
{
	char *key = xasprintf("%s_requested", field);
	char *shown = err_printable(requested, 200);
	jsonx_add_str(answer, key, shown);
	struct json_object *notes = jsonx_arr(answer, "configuration_notes");
	if (!notes) {
		notes = json_object_new_array();
		jsonx_add(answer, "configuration_notes", notes);
	}
	char *note =
	    xasprintf("%s '%s' in the request was ignored: this server uses its configured "
	              "%s (%s), so a request cannot redirect trust",
	              field, shown, used, variable);
	json_object_array_add(notes, json_object_new_string(note));
	free(note);
	free(shown);
	free(key);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int http_body_json(const struct http_req *rq, struct json_object **out, struct err *e)
{
	*out = NULL;
	size_t i = 0;
	while (i < rq->body_len && is_space(rq->body[i]))
		i++;
	if (i == rq->body_len) {
		*out = json_object_new_object();
		return 0;
	}
	if (jsonx_parse((const char *)rq->body, rq->body_len, out, e) < 0)
		return err_in(e, STAGE_REQUEST);
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		err_set(e, ERR_BAD_REQUEST, "request body must be a JSON object");
		return err_in(e, STAGE_REQUEST);
	}
	return 0;
}

/* A request field's fault: ERR_BAD_REQUEST at STAGE_REQUEST. */
#define bad_field(e, ...) err_at(e, ERR_BAD_REQUEST, STAGE_REQUEST, __VA_ARGS__)

/* Bytes of UTF-8 text s to quote in at most max bytes without splitting a character. */
static int quote_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return (int)n;
}

static int key_name_ok(const char *s, size_t n)
{
	size_t slash = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' && !slash && i > 0 && i + 1 < n)
			slash = i;
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		           (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return n > 0;
}

/* The declared check of one non-empty string field. */
static int check_string(const struct field_spec *f, const char *s, size_t len,
                        struct field_value *v, struct err *e)
{
	switch (f->check) {
	case CHECK_NONE:
		return 0;
	case CHECK_TEXT: {
		unsigned long cp;
		size_t at = utf8_text_invalid_at(s, len, &cp);
		if (at == len)
			return 0;
		if (cp == (unsigned long)-1)
			return bad_field(e, "field '%s' is not valid UTF-8 (byte %zu)", f->name,
			                 at);
		return bad_field(e, "field '%s' holds a control character (U+%04lX at byte %zu)",
		                 f->name, cp, at);
	}
	case CHECK_BASE64: {
		unsigned char *b = NULL;
		size_t nb = 0;
		if (b64_decode(s, len, B64_STD, B64_PAD_ANY, &b, &nb) < 0 &&
		    b64_decode(s, len, B64_URL, B64_PAD_ANY, &b, &nb) < 0)
			return bad_field(
			    e, "field '%s' is not valid base64 (standard or URL alphabet)",
			    f->name);
		if (v) {
			v->bytes = b;
			v->nbytes = nb;
		} else {
			free(b);
		}
		return 0;
	}
	case CHECK_ENUM:
		for (int i = 0; f->choices && f->choices[i]; i++)
			if (!strcmp(s, f->choices[i])) {
				if (v)
					v->choice = i;
				return 0;
			}
		{
			struct buf list;
			buf_init(&list);
			for (int i = 0; f->choices && f->choices[i]; i++)
				buf_appendf(&list, "%s\"%s\"", i ? " or " : "", f->choices[i]);
			bad_field(e, "field '%s' must be %s, not '%.*s'", f->name,
			          list.p ? (char *)list.p : "(nothing)", quote_len(s, 40), s);
			buf_free(&list);
		}
		return -1;
	case CHECK_ENDPOINT: {
		struct endpoint ep;
		struct err pe;
		err_clear(&pe);
		if (config_parse_endpoint(f->name, s, &ep, &pe) < 0)
			return bad_field(e, "%s", pe.msg);
		endpoint_free(&ep);
		return 0;
	}
	case CHECK_KEY_NAME:
		if (!key_name_ok(s, len))
			return bad_field(e,
			                 "field '%s' is not a key name (letters, digits and '-', "
			                 "optionally /version): '%.*s'",
			                 f->name, quote_len(s, 100), s);
		return 0;
	}
	return 0;
}

static int check_field(const struct field_spec *f, struct json_object *v, struct field_value *out,
                       struct err *e)
{
	switch (f->type) {
	case FIELD_STRING: {
		if (!json_object_is_type(v, json_type_string))
			return bad_field(e, "field '%s' must be a string", f->name);
		const char *s = json_object_get_string(v);
		size_t len = (size_t)json_object_get_string_len(v);
		if (!len && !f->allow_empty)
			return bad_field(e, "field '%s' must not be empty", f->name);
		if (f->max_len && len > f->max_len)
			return bad_field(e, "field '%s' is %zu bytes long; the limit is %zu",
			                 f->name, len, f->max_len);
		if (memchr(s, '\0', len))
			return bad_field(e, "field '%s' holds a NUL character", f->name);
		if (out) {
			out->str = s;
			out->len = len;
		}
		return len ? check_string(f, s, len, out, e) : 0;
	}
	case FIELD_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return bad_field(e, "field '%s' must be true or false", f->name);
		if (out)
			out->boolean = json_object_get_boolean(v);
		return 0;
	case FIELD_INT:
		if (!json_object_is_type(v, json_type_int))
			return bad_field(e, "field '%s' must be an integer", f->name);
		if (out)
			out->integer = (long long)json_object_get_int64(v);
		return 0;
	}
	return 0;
}

int http_validate(struct json_object *body, const struct field_spec *spec, size_t n,
                  struct field_value *values, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = NULL;
		struct field_value *out = values ? &values[i] : NULL;
		int present = json_object_object_get_ex(body, spec[i].name, &v) && v;
		if (!present) {
			if (spec[i].required)
				return bad_field(e, "missing field '%s'", spec[i].name);
			continue;
		}
		if (check_field(&spec[i], v, out, e) < 0)
			return -1;
		if (out)
			out->present = 1;
	}
	return 0;
}

static int form_init(struct http_form *f, const struct field_spec *spec, size_t n, struct err *e)
{
	memset(f, 0, sizeof(*f));
	if (n > HTTP_FORM_MAX)
		return err_set(e, ERR_INTERNAL, "an endpoint declares %zu fields; the limit is %d",
		               n, HTTP_FORM_MAX);
	f->spec = spec;
	f->n = n;
	return 0;
}

int http_form_read(const struct http_req *rq, const struct field_spec *spec, size_t n,
                   struct http_form *f, struct err *e)
{
	if (form_init(f, spec, n, e) < 0)
		return -1;
	if (http_body_json(rq, &f->body, e) < 0)
		return -1;
	return http_validate(f->body, spec, n, f->v, e);
}

static const struct field_spec *spec_named(const struct field_spec *spec, size_t n,
                                           const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(spec[i].name, name))
			return &spec[i];
	return NULL;
}

/* A query value as JSON: a decimal integer for FIELD_INT (else the string, which the
 * check then refuses), a string for everything else. */
static struct json_object *query_value(const struct field_spec *f, const char *v)
{
	size_t i = v[0] == '-', n = strlen(v);
	if (f->type == FIELD_INT && n > i && n - i <= 18 && strspn(v + i, "0123456789") == n - i)
		return json_object_new_int64(strtoll(v, NULL, 10));
	return json_object_new_string(v);
}

/* Add one "name=value" pair of the query (n bytes at p) to body if spec declares it. */
static int query_pair(struct json_object *body, const struct field_spec *spec, size_t nspec,
                      const char *p, size_t n, struct err *e)
{
	const char *eq = memchr(p, '=', n);
	size_t klen = eq ? (size_t)(eq - p) : n;
	char *k = NULL, *v = NULL;
	int rc = 0;
	if (pct_decode(p, klen, PCT_PLUS_SPACE | PCT_NO_NUL, &k, NULL) < 0 ||
	    pct_decode(eq ? eq + 1 : p + n, eq ? n - klen - 1 : 0, PCT_PLUS_SPACE | PCT_NO_NUL, &v,
	               NULL) < 0) {
		rc = bad_field(e, "the query string has a malformed %%-escape");
	} else {
		const struct field_spec *f = spec_named(spec, nspec, k);
		if (f && json_object_object_get_ex(body, k, NULL))
			rc = bad_field(e, "query parameter '%s' is given more than once", f->name);
		else if (f)
			json_object_object_add(body, f->name, query_value(f, v));
	}
	free(k);
	free_secret_str(v);
	return rc;
}

int http_query_read(const struct http_req *rq, const struct field_spec *spec, size_t n,
                    struct http_form *f, struct err *e)
{
	if (form_init(f, spec, n, e) < 0)
		return -1;
	f->body = json_object_new_object();
	for (const char *p = rq->query ? rq->query : ""; *p;) {
		size_t len = strcspn(p, "&");
		if (len && query_pair(f->body, spec, n, p, len, e) < 0)
			return -1;
		p += len + (p[len] == '&');
	}
	return http_validate(f->body, spec, n, f->v, e);
}

const struct field_value *http_form_get(const struct http_form *f, const char *name)
{
	static const struct field_value absent;
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->spec[i].name, name))
			return &f->v[i];
	return &absent;
}

const char *http_form_str(const struct http_form *f, const char *name)
{
	const struct field_value *v = http_form_get(f, name);
	return v->present ? v->str : NULL;
}

static void wipe_strings(struct json_object *o)
{
	if (json_object_is_type(o, json_type_string)) {
		wipe((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			wipe_strings(json_object_array_get_idx(o, i));
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			wipe_strings(v);
		}
	}
}

void http_form_free(struct http_form *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].bytes) {
			wipe(f->v[i].bytes, f->v[i].nbytes);
			free(f->v[i].bytes);
		}
	if (f->body) {
		wipe_strings(f->body);
		json_object_put(f->body);
	}
	memset(f, 0, sizeof(*f));
}

/* I/O of one request: FastCGI streams, or stdin/stdout in CGI mode. */
struct io {
	FCGX_Stream *in, *out, *err; /* NULL in CGI mode */
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

/*
 * The answer is complete: under FastCGI, close the output streams now, which sends the end of
 * the request, so the server has the whole answer while the access log line is written
 * (FCGX_Finish_r, afterwards, finds them closed).  A CGI answer is written as it goes.
 */
static void io_end(struct io *io)
{
	if (io->out) {
		FCGX_FClose(io->err);
		FCGX_FClose(io->out);
	}
}

static const struct http_route *route(const struct http_route *routes, size_t n, const char *method,
                                      const char *path, int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < n; i++) {
		const struct http_route *r = &routes[i];
		int match =
		    r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path);
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
		int match =
		    r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path);
		if (match && r->method)
			buf_appendf(out, "%s%s", out->len ? ", " : "", r->method);
	}
}

/*
 * Route the request and read its body: 0 with rq->route set and the body in
 * body, or -1 with the request's fault in e (and the Allow header added to rs
 * for a known path with another method).
 */
static int read_request(struct io *io, char **envp, const struct http_route *routes, size_t n,
                        struct http_req *rq, struct http_resp *rs, struct buf *body, struct err *e)
{
	const char *cl = env_in(envp, "CONTENT_LENGTH");
	unsigned long clen = 0;
	int path_known;
	rq->route = route(routes, n, rq->method, rq->path, &path_known);
	if (cl && *cl && parse_ulong(cl, 0, (unsigned long)-1 >> 1, &clen) < 0)
		return bad_field(e, "invalid Content-Length");
	if (clen > cfg.max_body)
		return err_at(e, ERR_TOO_LARGE, STAGE_REQUEST,
		              "request body is %lu bytes; the limit is %lu bytes", clen,
		              cfg.max_body);
	if (!rq->route && path_known) {
		struct buf allow;
		buf_init(&allow);
		allowed_methods(routes, n, rq->path, &allow);
		http_add_header(rs, "Allow", allow.len ? (char *)allow.p : "");
		err_at(e, ERR_METHOD, STAGE_REQUEST,
		       "method %.10s is not allowed on %.100s; use %s", rq->method, rq->path,
		       allow.len ? (char *)allow.p : "another method");
		buf_free(&allow);
		return -1;
	}
	if (!rq->route)
		return err_at(e, ERR_NOT_FOUND, STAGE_REQUEST, "no endpoint %.150s", rq->path);
	if (clen) {
		unsigned char *p = xmalloc(clen + 1);
		int short_body = io_read(io, p, clen) < 0;
		if (!short_body)
			buf_append(body, p, clen);
		wipe(p, clen);
		free(p);
		if (short_body)
			return bad_field(e, "request body shorter than Content-Length");
	}
	if (!body->p)
		buf_append(body, "", 0);
	return 0;
}

static void handle_one(struct io *io, char **envp, const struct http_route *routes, size_t n,
                       int is_cgi)
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
	struct err e;
	err_clear(&e);
	request_begin();
	fetch_request_begin(1000.0 * (double)cfg.request_timeout);
	if (config_error()) {
		/* Nothing is routed or read: the answer is why this program cannot work. */
		e = *config_error();
		err_wrap(&e, "configuration error");
		http_send_err(&rs, &e, NULL);
	} else if (read_request(io, envp, routes, n, &rq, &rs, &body, &e) < 0) {
		http_send_err(&rs, &e, NULL);
	} else {
		rq.body = body.p;
		rq.body_len = body.len;
		rq.route->fn(&rq, &rs);
		if (!rs.sent) {
			err_set(&e, ERR_INTERNAL, "handler produced no response");
			http_send_err(&rs, &e, NULL);
		}
	}

	struct buf head;
	buf_init(&head);
	buf_appendf(&head, "Status: %d %s\r\n", rs.status, http_reason_phrase(rs.status));
	buf_append(&head, rs.headers.p, rs.headers.len);
	buf_appendf(&head,
	            "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	            "X-Content-Type-Options: nosniff\r\n\r\n",
	            rs.body.len);
	io_write(io, head.p, head.len);
	if (strcmp(rq.method, "HEAD"))
		io_write(io, rs.body.p, rs.body.len);
	io_end(io);
	fetch_request_end();
	request_end();
	log_info("%s %s -> %d (%.1f ms)", rq.method, rq.path, rs.status, now_ms() - t0);
	buf_free(&head);
	buf_free(&rs.headers);
	buf_free(&rs.body);
	buf_free(&body);
	free(path);
}

/*
 * A FastCGI program spawned by a server that names itself in FCGI_SPAWNER_PID
 * (lighttpd.conf passes var.PID) dies with that server: SIGKILL when it goes,
 * and an immediate exit when it is already gone (it died between our fork and
 * the prctl), so no program outlives its lighttpd or serves a server that did
 * not spawn it.  Programs started by spawn-fcgi, supervisord or a web server's
 * own manager do not set it and are left alone (their starter exits or owns
 * them by design).
 */
static void die_with_spawner(void)
{
	if (!cfg.spawner_pid)
		return;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		log_warn("cannot ask to die with the server (prctl): %s", strerror(errno));
	if (getppid() != (pid_t)cfg.spawner_pid) {
		log_error("the server that spawned this program (pid %lu) is gone; exiting so "
		          "that a new server spawns its own programs",
		          cfg.spawner_pid);
		_exit(0);
	}
}

int http_main(const char *prog, const struct http_route *routes, size_t nroutes)
{
	config_init();
	log_init(prog, cfg.log_file, cfg.log_level);
	if (config_error())
		log_error("configuration error: %s (every request is answered with it)",
		          config_error()->msg);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_IsCGI()) {
		struct io io = {NULL, NULL, NULL};
		handle_one(&io, environ, routes, nroutes, 1);
		return 0;
	}
	die_with_spawner();
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 1;
	}
	FCGX_Request req;
	FCGX_InitRequest(&req, 0, 0);
	log_info("serving FastCGI");
	while (FCGX_Accept_r(&req) >= 0) {
		struct io io = {req.in, req.out, req.err};
		handle_one(&io, req.envp, routes, nroutes, 0);
		FCGX_Finish_r(&req);
	}
	return 0;
}
