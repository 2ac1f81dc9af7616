/*
 * The fixture server (fixture.h): one thread polling the listening socket and
 * every open connection.  Only that thread touches the connections; the
 * script and the recorded requests are shared with the test thread under
 * fx.lock, and fx.cond is signalled on every request recorded.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "outcome.h"
#include "util.h"

#define FX_MAX_CONNS     16
#define FX_MAX_HEAD      (64u << 10)
#define FX_MAX_BODY      (16u << 20)
#define FX_UNSCRIPTED    599
#define FX_TRUNCATE_SEND 2 /* FX_TRUNCATE sends 1/2 of the body */

struct conn {
	int fd; /* -1: a free slot */
	int id;
	struct buf in; /* bytes read and not yet parsed */
	int hung;      /* its request gets no answer: what follows is ignored */
	int continued; /* "100 Continue" sent for the request being read */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int started;
	int lfd, wake[2];
	char url[64];
	int port;
	const struct fx_exchange *script; /* guarded by lock */
	size_t nscript;
	struct fx_request *req[FX_MAX_REQUESTS];
	size_t nreq, dropped;            /* dropped: read beyond FX_MAX_REQUESTS */
	struct conn conns[FX_MAX_CONNS]; /* the server thread's */
	int conn_ids;
} fx = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .lfd = -1};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* ---- requests ---- */

static void request_free(struct fx_request *r)
{
	if (!r)
		return;
	free(r->target);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->hname[i]);
		free(r->hvalue[i]);
	}
	free(r->body);
	free(r);
}

const char *fx_header(const struct fx_request *r, const char *name)
{
	for (size_t i = 0; r && i < r->nheaders; i++)
		if (!strcasecmp(r->hname[i], name))
			return r->hvalue[i];
	return NULL;
}

static const char *find(const char *p, size_t n, const char *what)
{
	return memmem(p, n, what, strlen(what));
}

static void add_header(struct fx_request *r, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	if (!colon || r->nheaders == FX_MAX_HEADERS)
		return;
	const char *v = colon + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	r->hname[r->nheaders] = xstrndup(line, (size_t)(colon - line));
	r->hvalue[r->nheaders] = xstrndup(v, (size_t)(end - v));
	r->nheaders++;
}

/* A chunked body at p[0..n): 1 complete (decoded into body, *used bytes), 0 incomplete,
 * -1 malformed. */
static int dechunk(const char *p, size_t n, struct buf *body, size_t *used)
{
	size_t pos = 0;
	for (;;) {
		const char *le = find(p + pos, n - pos, "\r\n");
		if (!le)
			return 0;
		char *endp;
		unsigned long size = strtoul(p + pos, &endp, 16);
		if (endp == p + pos || (endp != le && *endp != ';') || size > FX_MAX_BODY)
			return -1;
		pos = (size_t)(le - p) + 2;
		if (size == 0)
			break;
		if (n - pos < size + 2)
			return 0;
		if (memcmp(p + pos + size, "\r\n", 2))
			return -1;
		buf_append(body, p + pos, size);
		pos += size + 2;
	}
	/* Trailer lines, then the empty line. */
	for (;;) {
		const char *le = find(p + pos, n - pos, "\r\n");
		if (!le)
			return 0;
		int empty = le == p + pos;
		pos = (size_t)(le - p) + 2;
		if (empty)
			break;
	}
	*used = pos;
	return 1;
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

/*
 * The request at the start of c->in: 1 and *out, *used when it is all there,
 * 0 when more must be read, -1 when it is not HTTP.
 */
static int parse_request(struct conn *c, struct fx_request **out, size_t *used)
{
	const char *p = (const char *)c->in.p;
	size_t len = c->in.len;
	*out = NULL;
	const char *hend = p ? find(p, len, "\r\n\r\n") : NULL;
	if (!hend)
		return len > FX_MAX_HEAD ? -1 : 0;
	size_t hlen = (size_t)(hend - p) + 4;
	const char *eol = find(p, hlen, "\r\n");
	const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp2 || sp1 == p || (size_t)(sp1 - p) >= sizeof(((struct fx_request *)0)->method))
		return -1;
	struct fx_request *r = xcalloc(1, sizeof(*r));
	memcpy(r->method, p, (size_t)(sp1 - p));
	r->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	for (const char *q = eol + 2; q < hend + 2;) {
		const char *le = find(q, (size_t)(hend + 2 - q), "\r\n");
		if (!le || le == q)
			break;
		add_header(r, q, (size_t)(le - q));
		q = le + 2;
	}
	const char *te = fx_header(r, "Transfer-Encoding"), *cl = fx_header(r, "Content-Length");
	const char *b = p + hlen;
	size_t avail = len - hlen, blen = 0;
	struct buf body;
	buf_init(&body);
	int rc = 1;
	if (te && strcasestr(te, "chunked")) {
		r->chunked = 1;
		rc = dechunk(b, avail, &body, &blen);
	} else if (cl) {
		char *endp;
		unsigned long n = strtoul(cl, &endp, 10);
		if (endp == cl || *endp || n > FX_MAX_BODY)
			rc = -1;
		else if (avail < n)
			rc = 0;
		else {
			buf_append(&body, b, n);
			blen = n;
		}
	}
	if (rc == 0) {
		const char *ex = fx_header(r, "Expect");
		if (ex && !strcasecmp(ex, "100-continue") && !c->continued) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			send_all(c->fd, cont, sizeof(cont) - 1);
			c->continued = 1;
		}
	}
	if (rc <= 0) {
		buf_free(&body);
		request_free(r);
		return rc;
	}
	if (!body.p)
		buf_append(&body, "", 0);
	r->body_len = body.len;
	r->body = (unsigned char *)buf_steal(&body, NULL);
	r->conn = c->id;
	*out = r;
	*used = hlen + blen;
	return 1;
}

/* ---- answers ---- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 404:
		return "Not Found";
	default:
		return "Fixture";
	}
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}

static void answer(struct conn *c, const struct fx_reply *rep)
{
	const char *body = rep->body ? rep->body : "";
	size_t blen = rep->body_len ? rep->body_len : strlen(body);
	struct buf out;
	buf_init(&out);
	buf_appendf(&out, "HTTP/1.1 %d %s\r\n", rep->status, reason(rep->status));
	for (size_t i = 0; i < FX_MAX_REPLY_H && rep->headers[i]; i++)
		buf_appendf(&out, "%s\r\n", rep->headers[i]);
	if (rep->action == FX_CHUNKED) {
		buf_appendf(&out, "Transfer-Encoding: chunked\r\n\r\n");
		/* Uneven chunks, one with an extension, so a decoder is really exercised. */
		static const size_t sizes[] = {1, 7, 64};
		size_t off = 0;
		for (size_t i = 0; off < blen; i++) {
			size_t n = i < NELEM(sizes) ? sizes[i] : blen - off;
			if (n > blen - off)
				n = blen - off;
			buf_appendf(&out, i == 1 ? "%zx;ext=1\r\n" : "%zx\r\n", n);
			buf_append(&out, body + off, n);
			buf_append(&out, "\r\n", 2);
			off += n;
		}
		buf_appendf(&out, "0\r\n\r\n");
	} else {
		size_t announced = rep->action == FX_TRUNCATE && !blen ? 64 : blen;
		size_t sent = rep->action == FX_TRUNCATE ? blen / FX_TRUNCATE_SEND : blen;
		buf_appendf(&out, "Content-Length: %zu\r\n\r\n", announced);
		buf_append(&out, body, sent);
	}
	send_all(c->fd, out.p, out.len);
	buf_free(&out);
	if (rep->action == FX_TRUNCATE)
		conn_close(c);
}

static void serve_request(struct conn *c, struct fx_request *r)
{
	struct fx_reply rep = {.status = FX_UNSCRIPTED, .body = "fixture: request not scripted"};
	pthread_mutex_lock(&fx.lock);
	size_t k = fx.nreq + fx.dropped;
	if (k < fx.nscript)
		rep = fx.script[k].reply;
	if (fx.nreq < FX_MAX_REQUESTS) {
		fx.req[fx.nreq++] = r;
	} else {
		fx.dropped++;
		request_free(r);
	}
	pthread_cond_broadcast(&fx.cond);
	pthread_mutex_unlock(&fx.lock);
	switch (rep.action) {
	case FX_HANG:
		c->hung = 1;
		break;
	case FX_CLOSE:
		conn_close(c);
		break;
	default:
		answer(c, &rep);
		break;
	}
}

/* New bytes on c: serve every whole request in c->in. */
static void on_input(struct conn *c)
{
	while (c->fd >= 0 && !c->hung) {
		struct fx_request *r;
		size_t used = 0;
		int rc = parse_request(c, &r, &used);
		if (rc == 0)
			return;
		if (rc < 0) {
			static const char bad[] = "HTTP/1.1 400 Fixture\r\nContent-Length: 0\r\n"
			                          "Connection: close\r\n\r\n";
			send_all(c->fd, bad, sizeof(bad) - 1);
			conn_close(c);
			return;
		}
		memmove(c->in.p, c->in.p + used, c->in.len - used);
		c->in.len -= used;
		c->continued = 0;
		serve_request(c, r);
	}
}

static void on_accept(void)
{
	int fd = accept(fx.lfd, NULL, NULL);
	if (fd < 0)
		return;
	for (size_t i = 0; i < FX_MAX_CONNS; i++)
		if (fx.conns[i].fd < 0) {
			fx.conns[i] = (struct conn){.fd = fd, .id = ++fx.conn_ids};
			buf_init(&fx.conns[i].in);
			return;
		}
	close(fd); /* more at once than any test needs */
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pf[2 + FX_MAX_CONNS];
		size_t map[2 + FX_MAX_CONNS], n = 2;
		pf[0] = (struct pollfd){.fd = fx.lfd, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = fx.wake[0], .events = POLLIN};
		for (size_t i = 0; i < FX_MAX_CONNS; i++)
			if (fx.conns[i].fd >= 0) {
				pf[n] = (struct pollfd){.fd = fx.conns[i].fd, .events = POLLIN};
				map[n++] = i;
			}
		if (poll(pf, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("fixture: poll");
		}
		if (pf[1].revents)
			return NULL;
		if (pf[0].revents & POLLIN)
			on_accept();
		for (size_t j = 2; j < n; j++) {
			struct conn *c = &fx.conns[map[j]];
			if (!pf[j].revents || c->fd < 0)
				continue;
			char tmp[16384];
			ssize_t got = read(c->fd, tmp, sizeof(tmp));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				conn_close(c);
				continue;
			}
			if (c->hung)
				continue;
			buf_append(&c->in, tmp, (size_t)got);
			on_input(c);
		}
	}
}

/* ---- the test thread's side ---- */

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0)
		die("fixture: bind 127.0.0.1");
	*port = ntohs(a.sin_port);
	return fd;
}

void fx_start(void)
{
	if (fx.started)
		return;
	int port;
	fx.lfd = listen_loopback(&port);
	if (listen(fx.lfd, 16) != 0 || pipe(fx.wake) != 0)
		die("fixture: listen");
	snprintf(fx.url, sizeof(fx.url), "http://127.0.0.1:%d", port);
	fx.port = port;
	for (size_t i = 0; i < FX_MAX_CONNS; i++)
		fx.conns[i].fd = -1;
	if (pthread_create(&fx.thread, NULL, serve, NULL) != 0)
		die("fixture: thread");
	fx.started = 1;
	atexit(fx_stop);
}

const char *fx_url(void)
{
	fx_start();
	return fx.url;
}

int fx_port(void)
{
	fx_start();
	return fx.port;
}

char *fx_refused_url(void)
{
	int port, fd = listen_loopback(&port);
	close(fd); /* bound, never listening, and closed: connecting is refused */
	return xasprintf("http://127.0.0.1:%d", port);
}

static void forget_requests(void)
{
	for (size_t i = 0; i < fx.nreq; i++)
		request_free(fx.req[i]);
	fx.nreq = fx.dropped = 0;
}

void fx_stop(void)
{
	if (!fx.started)
		return;
	fx.started = 0;
	ssize_t w = write(fx.wake[1], "x", 1);
	(void)w;
	pthread_join(fx.thread, NULL);
	for (size_t i = 0; i < FX_MAX_CONNS; i++)
		conn_close(&fx.conns[i]);
	close(fx.lfd);
	close(fx.wake[0]);
	close(fx.wake[1]);
	fx.lfd = -1;
	pthread_mutex_lock(&fx.lock);
	forget_requests();
	fx.script = NULL;
	fx.nscript = 0;
	pthread_mutex_unlock(&fx.lock);
}

static int exchange_empty(const struct fx_exchange *x)
{
	return !x->req.method && !x->req.target && !x->reply.status && x->reply.action == FX_ANSWER;
}

void fx_script(const struct fx_exchange *ex, size_t n)
{
	fx_start();
	size_t k = 0;
	while (k < n && !exchange_empty(&ex[k]))
		k++;
	pthread_mutex_lock(&fx.lock);
	forget_requests();
	fx.script = ex;
	fx.nscript = k;
	pthread_mutex_unlock(&fx.lock);
}

size_t fx_request_count(void)
{
	pthread_mutex_lock(&fx.lock);
	size_t n = fx.nreq + fx.dropped;
	pthread_mutex_unlock(&fx.lock);
	return n;
}

const struct fx_request *fx_request(size_t i)
{
	pthread_mutex_lock(&fx.lock);
	const struct fx_request *r = i < fx.nreq ? fx.req[i] : NULL;
	pthread_mutex_unlock(&fx.lock);
	return r;
}

int fx_wait_requests(size_t n, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fx.lock);
	int rc = 0;
	while (fx.nreq + fx.dropped < n && rc == 0)
		rc = pthread_cond_timedwait(&fx.cond, &fx.lock, &until);
	int ok = fx.nreq + fx.dropped >= n;
	pthread_mutex_unlock(&fx.lock);
	return ok;
}

/* ---- judging ---- */

static int fail(char *why, size_t n, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return 0;
}

static int header_ok(const struct fx_request *r, const char *want, char *why, size_t n)
{
	if (want[0] == '!') {
		const char *v = fx_header(r, want + 1);
		return v ? fail(why, n, "header %s is present (\"%s\"), expected none", want + 1, v)
		         : 1;
	}
	const char *colon = strchr(want, ':');
	char *name = colon ? xstrndup(want, (size_t)(colon - want)) : xstrdup(want);
	const char *v = fx_header(r, name);
	int ok = 1;
	if (!v) {
		ok = fail(why, n, "header %s is missing", name);
	} else if (colon) {
		const char *wv = colon + 1;
		while (*wv == ' ')
			wv++;
		if (strcmp(v, wv))
			ok = fail(why, n, "header %s is \"%s\", expected \"%s\"", name, v, wv);
	}
	free(name);
	return ok;
}

int fx_match(const struct fx_request *r, const struct fx_want *w, char *why, size_t n)
{
	if (w->method && strcmp(r->method, w->method))
		return fail(why, n, "method %s, expected %s", r->method, w->method);
	if (w->target && strcmp(r->target, w->target))
		return fail(why, n, "target \"%s\", expected \"%s\"", r->target, w->target);
	for (size_t i = 0; i < FX_MAX_EXPECT && w->headers[i]; i++)
		if (!header_ok(r, w->headers[i], why, n))
			return 0;
	if (w->body && (r->body_len != strlen(w->body) || memcmp(r->body, w->body, r->body_len)))
		return fail(why, n, "body \"%.300s\", expected \"%.300s\"", (const char *)r->body,
		            w->body);
	if (w->check && !w->check(r, why, n))
		return 0;
	return 1;
}

int fx_verify(char *why, size_t n)
{
	return fx_verify_within(3000, why, n);
}

int fx_verify_within(int settle_ms, char *why, size_t n)
{
	pthread_mutex_lock(&fx.lock);
	size_t scripted = fx.nscript;
	pthread_mutex_unlock(&fx.lock);
	(void)fx_wait_requests(scripted, settle_ms);
	pthread_mutex_lock(&fx.lock);
	int ok = 1;
	size_t got = fx.nreq + fx.dropped;
	for (size_t i = 0; ok && i < fx.nreq && i < fx.nscript; i++) {
		char sub[768];
		if (!fx_match(fx.req[i], &fx.script[i].req, sub, sizeof(sub)))
			ok = fail(why, n, "request %zu (%s %.200s): %s", i + 1, fx.req[i]->method,
			          fx.req[i]->target, sub);
	}
	if (ok && got > fx.nscript)
		ok = fail(why, n,
		          "%zu requests for %zu scripted exchanges; request %zu was %s %.200s", got,
		          fx.nscript, fx.nscript + 1,
		          fx.nscript < fx.nreq ? fx.req[fx.nscript]->method : "?",
		          fx.nscript < fx.nreq ? fx.req[fx.nscript]->target : "?");
	if (ok && got < fx.nscript)
		ok = fail(
		    why, n,
		    "%zu requests for %zu scripted exchanges; the next expected was %s %.200s", got,
		    fx.nscript, fx.script[got].req.method ? fx.script[got].req.method : "(any)",
		    fx.script[got].req.target ? fx.script[got].req.target : "(any)");
	pthread_mutex_unlock(&fx.lock);
	return ok;
}

int fx_result_check(int rc, const struct err *e, const struct fx_result *want, char *why, size_t n)
{
	if (rc != want->rc)
		return fail(why, n, "returned %d, expected %d (error %s at %s: %s)", rc, want->rc,
		            err_code_name(e->code), err_stage_name(e->stage), e->msg);
	if (rc == 0)
		return 1;
	if (want->code && e->code != want->code)
		return fail(why, n, "error code %s, expected %s (%s)", err_code_name(e->code),
		            err_code_name(want->code), e->msg);
	if (want->code && e->stage != want->stage)
		return fail(why, n, "error stage %s, expected %s (%s)", err_stage_name(e->stage),
		            err_stage_name(want->stage), e->msg);
	if (want->upstream > 0 && e->upstream_status != want->upstream)
		return fail(why, n, "upstream status %d, expected %d", e->upstream_status,
		            want->upstream);
	if (want->upstream < 0 && e->upstream_status != 0)
		return fail(why, n, "upstream status %d, expected none", e->upstream_status);
	if (want->msg && !strstr(e->msg, want->msg))
		return fail(why, n, "message \"%s\" lacks \"%s\"", e->msg, want->msg);
	if (want->msg2 && !strstr(e->msg, want->msg2))
		return fail(why, n, "message \"%s\" lacks \"%s\"", e->msg, want->msg2);
	if (want->msg_is && strcmp(e->msg, want->msg_is))
		return fail(why, n, "message \"%s\", expected \"%s\"", e->msg, want->msg_is);
	if (want->upstream_code && strcmp(e->upstream_code, want->upstream_code))
		return fail(why, n, "upstream code \"%s\", expected \"%s\"", e->upstream_code,
		            want->upstream_code);
	if (want->request_id && strcmp(e->request_id, want->request_id))
		return fail(why, n, "request id \"%s\", expected \"%s\"", e->request_id,
		            want->request_id);
	if (want->not_msg && strstr(e->msg, want->not_msg))
		return fail(why, n, "message \"%s\" contains \"%s\"", e->msg, want->not_msg);
	if (want->http && outcome_status(e) != want->http)
		return fail(why, n, "outcome status %d, expected %d (%s at %s)", outcome_status(e),
		            want->http, err_code_name(e->code), err_stage_name(e->stage));
	return 1;
}
