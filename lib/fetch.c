#include "fetch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "jsonx.h"

struct sink {
	struct fetch_resp *resp;
	size_t max;
	int overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;

/* This thread's handle (its connection cache lives in it) and request deadline. */
static __thread CURL *handle;
static __thread pid_t handle_pid; /* the process that made it */
/* A parent's handle after fork: its connections are the parent's, so it is never used or
 * freed here (freeing would close them for the parent); kept only to stay reachable. */
static __thread CURL *inherited;
static __thread double req_deadline; /* now_ms() clock; 0 = no request budget */
static __thread double req_budget_ms;

static void free_handle(void *h)
{
	curl_easy_cleanup(h);
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pthread_key_create(&handle_key, free_handle) != 0)
		abort();
}

/* The thread's handle with every option back at its default, or NULL. */
static CURL *thread_handle(void)
{
	if (handle && handle_pid != getpid()) {
		inherited = handle;
		handle = NULL;
		pthread_setspecific(handle_key, NULL);
	}
	if (handle) {
		curl_easy_reset(handle);
		return handle;
	}
	handle = curl_easy_init();
	handle_pid = getpid();
	if (handle)
		pthread_setspecific(handle_key, handle);
	return handle;
}

void fetch_request_begin(double budget_ms)
{
	req_budget_ms = budget_ms > 0 ? budget_ms : 0;
	req_deadline = req_budget_ms ? now_ms() + req_budget_ms : 0;
}

void fetch_request_end(void)
{
	req_deadline = req_budget_ms = 0;
}

static long per_call_s(long timeout_s)
{
	return timeout_s ? timeout_s : (cfg.http_timeout ? (long)cfg.http_timeout : 30);
}

double fetch_call_deadline(long timeout_s, int *by_budget)
{
	double end = now_ms() + 1000.0 * (double)per_call_s(timeout_s);
	int budget = req_deadline && req_deadline < end;
	if (by_budget)
		*by_budget = budget;
	return budget ? req_deadline : end;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	if (s->resp->body.len + n > s->max) {
		s->overflow = 1;
		return 0;
	}
	buf_append(&s->resp->body, p, n);
	return n;
}

static char *header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1;
	const char *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return xstrndup(v, (size_t)(end - v));
}

static void keep(char **slot, char *v)
{
	if (v) {
		free(*slot);
		*slot = v;
	}
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	keep(&s->resp->etag, header_value(p, n, "ETag"));
	keep(&s->resp->content_type, header_value(p, n, "Content-Type"));
	keep(&s->resp->ms_error_code, header_value(p, n, "x-ms-error-code"));
	keep(&s->resp->last_modified, header_value(p, n, "Last-Modified"));
	keep(&s->resp->request_id, header_value(p, n, "x-ms-request-id"));
	return n;
}

/* Every option of one call, on a handle just reset. */
static void set_options(CURL *c, const struct fetch_req *rq, struct curl_slist *hdrs,
                        struct sink *sink, long timeout_ms)
{
	const char *method = rq->method ? rq->method : "GET";
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 8L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, sink);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "confidential-aci-demo-c/1.0");
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	}
	/*
	 * libcurl re-sends a request silently when a kept connection turns out dead before
	 * the answer; a POST is not idempotent unless its caller says so (rq->repeatable):
	 * never on a kept connection.  Nor is its connection kept afterwards: no later POST
	 * could use it, and every call would first have to find it dead or idle in the cache.
	 */
	if (!strcmp(method, "POST") && !rq->repeatable) {
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	}
}

static int transport_error(const struct fetch_req *rq, CURLcode rc, const struct sink *sink,
                           double timeout_ms, int by_budget, struct err *e)
{
	const char *shown = rq->shown_url ? rq->shown_url : rq->url;
	if (sink->overflow)
		return err_set(e, ERR_UPSTREAM, "response from %s exceeds %zu bytes", shown,
		               sink->max);
	if (rc == CURLE_OPERATION_TIMEDOUT && by_budget)
		return err_set(e, ERR_TIMEOUT,
		               "no answer from %s within the %.1f s left of this request's %.0f s "
		               "budget (REQUEST_TIMEOUT_SECONDS)",
		               shown, timeout_ms / 1000.0, req_budget_ms / 1000.0);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return err_set(e, ERR_TIMEOUT, "no answer from %s within %.0f s", shown,
		               timeout_ms / 1000.0);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	    rc == CURLE_COULDNT_RESOLVE_PROXY)
		return err_set(e, ERR_UNAVAILABLE, "cannot connect to %s: %s", shown,
		               curl_easy_strerror(rc));
	return err_set(e, ERR_UNAVAILABLE, "request to %s failed: %s", shown,
	               curl_easy_strerror(rc));
}

int fetch(const struct fetch_req *rq, struct fetch_resp *resp, struct err *e)
{
	pthread_once(&curl_once, curl_init_once);
	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body);
	int by_budget;
	double left = fetch_call_deadline(rq->timeout_s, &by_budget) - now_ms();
	/* libcurl may give up on the call before this one a little before the deadline. */
	if (by_budget && left < FETCH_MIN_CALL_MS)
		return err_set(e, ERR_TIMEOUT,
		               "%s was not called: this request spent its %.0f s budget for "
		               "outbound calls (REQUEST_TIMEOUT_SECONDS) on earlier ones",
		               rq->shown_url ? rq->shown_url : rq->url, req_budget_ms / 1000.0);
	CURL *c = thread_handle();
	if (!c)
		return err_set(e, ERR_INTERNAL, "cannot initialise libcurl");
	struct sink sink = {resp, rq->max_resp ? rq->max_resp : (4u << 20), 0};
	struct curl_slist *hdrs = NULL;
	for (const char *const *h = rq->headers; h && *h; h++)
		hdrs = curl_slist_append(hdrs, *h);
	/* libcurl adds "Expect: 100-continue" to large bodies; no Azure peer needs it. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	long timeout_ms = left > 1.0 ? (long)left : 1L;
	set_options(c, rq, hdrs, &sink, timeout_ms);
	double t0 = now_ms();
	CURLcode rc = curl_easy_perform(c);
	resp->elapsed_ms = now_ms() - t0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	/* Nothing of this call may outlive it in the kept handle: drop the pointers to it. */
	curl_easy_reset(c);
	/* Headers may carry bearer tokens: wipe them before they go back to the heap. */
	for (struct curl_slist *h = hdrs; h; h = h->next)
		if (h->data)
			wipe(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
	if (!resp->body.p)
		buf_append(&resp->body, "", 0);
	if (rc == CURLE_OK)
		return 0;
	int ret = transport_error(rq, rc, &sink, (double)timeout_ms, by_budget, e);
	fetch_resp_free(resp);
	return ret;
}

void fetch_resp_free(struct fetch_resp *resp)
{
	buf_free(&resp->body);
	free(resp->etag);
	free(resp->content_type);
	free(resp->ms_error_code);
	free(resp->last_modified);
	free(resp->request_id);
	resp->etag = resp->content_type = resp->ms_error_code = resp->last_modified = NULL;
	resp->request_id = NULL;
}

char *fetch_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *fetch_error_detail(const struct fetch_resp *resp, struct err *e)
{
	struct json_object *o = NULL;
	struct err ignore;
	const char *code = NULL, *msg = NULL;
	if (resp->body.len &&
	    jsonx_parse((const char *)resp->body.p, resp->body.len, &o, &ignore) == 0 &&
	    json_object_is_type(o, json_type_object)) {
		struct json_object *eo = jsonx_obj(o, "error");
		code = jsonx_str(eo ? eo : o, "code");
		msg = jsonx_str(eo ? eo : o, "message");
	}
	char *out = NULL;
	if (code || msg) {
		char *c = err_printable(code ? code : "(no code)", 100);
		char *m = err_printable(msg ? msg : "(no message)", 400);
		out = xasprintf("%s: %s", c, m);
		free(c);
		free(m);
	}
	err_upstream(e, resp->status, code ? code : resp->ms_error_code, resp->request_id);
	json_object_put(o);
	return out;
}
