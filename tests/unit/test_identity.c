/* Managed-identity tokens from IMDS: the retry policy (azure-identity's statuses and
 * backoff) and its bound (HTTP_TIMEOUT_SECONDS covers the whole call), against a scripted
 * HTTP peer on a loopback port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "identity.h"
#include "testlib.h"

/* ---- a peer that answers each request with the next status of a script ---- */

static int srv_fd = -1, srv_port;
static pthread_t srv_thread;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static int script[8], script_len, hits; /* the last status repeats */
static char *last_request;

static void script_set(const int *s, int n)
{
	pthread_mutex_lock(&srv_lock);
	memcpy(script, s, (size_t)n * sizeof(*s));
	script_len = n;
	hits = 0;
	pthread_mutex_unlock(&srv_lock);
}

static int hits_now(void)
{
	pthread_mutex_lock(&srv_lock);
	int h = hits;
	pthread_mutex_unlock(&srv_lock);
	return h;
}

static void serve_one(int c)
{
	char in[4096];
	size_t got = 0;
	while (got < sizeof(in) - 1) {
		ssize_t n = read(c, in + got, sizeof(in) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		in[got] = 0;
		if (strstr(in, "\r\n\r\n"))
			break;
	}
	in[got] = 0;
	pthread_mutex_lock(&srv_lock);
	int status = script[hits < script_len ? hits : script_len - 1];
	hits++;
	free(last_request);
	last_request = xstrdup(in);
	pthread_mutex_unlock(&srv_lock);
	char *body;
	if (status == 200)
		body = xasprintf("{\"access_token\":\"tok-%d\",\"expires_in\":\"100\","
		                 "\"expires_on\":\"%lld\",\"resource\":\"https://vault.azure.net\","
		                 "\"token_type\":\"Bearer\"}",
		                 hits, now_unix() + 100);
	else
		body = xasprintf("{\"error\":\"e%d\",\"error_description\":\"scripted %d\"}",
		                 status, status);
	char *resp = xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
	                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                       status, strlen(body), body);
	ssize_t w = write(c, resp, strlen(resp));
	(void)w;
	free(resp);
	free(body);
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		serve_one(c);
		close(c);
	}
}

/* A listening loopback socket; its port in *port. */
static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
		perror("test server");
		exit(1);
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void srv_start(void)
{
	if (srv_fd >= 0)
		return;
	srv_fd = listen_any(&srv_port);
	pthread_create(&srv_thread, NULL, serve, NULL);
}

static void use_imds(int port, unsigned long timeout_s)
{
	struct err e;
	char *url = xasprintf("http://127.0.0.1:%d", port);
	endpoint_free(&cfg.imds);
	if (config_parse_endpoint("IMDS_ENDPOINT", url, &cfg.imds, &e) != 0) {
		fprintf(stderr, "endpoint: %s\n", e.msg);
		exit(1);
	}
	free(url);
	cfg.http_timeout = timeout_s;
	cfg.client_id = "";
}

/* One token request against the current script: rc, and the seconds it took. */
static int ask(char **tok, struct err *e, double *secs)
{
	double t0 = now_ms();
	err_clear(e);
	int rc = identity_token(IDENTITY_RESOURCE_VAULT, tok, e);
	*secs = (now_ms() - t0) / 1000.0;
	return rc;
}

/* ---- the policy itself ---- */

static void test_policy_statuses(void)
{
	for (long s = 0; s < 1000; s++) {
		if (s > 0 && s < 100)
			continue;
		struct identity_retry st = {0};
		int want = s == 0 || s == 404 || s == 408 || s == 410 || s == 429 ||
		           (s >= 500 && s <= 599);
		long w = identity_retry_next(&st, s);
		CHECK_MSG((w >= 0) == want, "status %ld: wait %ld", s, w);
		if (want)
			CHECK_MSG(w == 0 && st.total == 1, "status %ld: first retry waits %ld", s,
			          w);
		else
			CHECK_MSG(st.total == 0, "status %ld counted a retry", s);
	}
}

static void test_policy_backoff(void)
{
	/* azure-core: 0, then factor * 2^(n-1); factor 0.8 s, 2.5 s after a 410. */
	static const long w503[] = {0, 1600, 3200, 6400, 12800, -1};
	static const long w410[] = {0, 5000, 10000, 20000, 40000, -1};
	static const long wnet[] = {0, 1600, 3200, -1};
	struct identity_retry a = {0}, b = {0}, c = {0};
	long sum410 = 0;
	for (size_t i = 0; i < NELEM(w503); i++)
		CHECK_INT(identity_retry_next(&a, 503), w503[i]);
	for (size_t i = 0; i < NELEM(w410); i++) {
		long w = identity_retry_next(&b, 410);
		CHECK_INT(w, w410[i]);
		sum410 += w > 0 ? w : 0;
	}
	CHECK_MSG(sum410 >= 70000, "410 is retried for %ld ms, at least 70 s", sum410);
	for (size_t i = 0; i < NELEM(wnet); i++)
		CHECK_INT(identity_retry_next(&c, 0), wnet[i]);
	/* Answers and no-answers share the total of 5; no-answers have 3 of their own. */
	struct identity_retry d = {0};
	CHECK_INT(identity_retry_next(&d, 0), 0);
	CHECK_INT(identity_retry_next(&d, 0), 1600);
	CHECK_INT(identity_retry_next(&d, 0), 3200);
	CHECK_INT(identity_retry_next(&d, 0), -1);
	CHECK_INT(identity_retry_next(&d, 500), 6400);
	CHECK_INT(identity_retry_next(&d, 410), 40000);
	CHECK_INT(identity_retry_next(&d, 500), -1);
	/* A final status stays final whatever came before. */
	struct identity_retry f = {0};
	CHECK_INT(identity_retry_next(&f, 503), 0);
	CHECK_INT(identity_retry_next(&f, 400), -1);
	CHECK_INT(identity_retry_next(&f, 403), -1);
	CHECK_INT(f.total, 1);
}

/* ---- identity_token against the peer ---- */

static void test_retried_then_token(void)
{
	srv_start();
	use_imds(srv_port, 30);
	char *tok = NULL;
	struct err e;
	double secs;
	static const int s1[] = {500, 404, 200};
	script_set(s1, NELEM(s1));
	CHECK_INT(ask(&tok, &e, &secs), 0);
	CHECK_STR(tok, "tok-3");
	CHECK_INT(hits_now(), 3);
	CHECK_MSG(secs >= 1.5 && secs < 3.0, "0 s then 1.6 s of backoff took %.2f s", secs);
	free_secret_str(tok);
	pthread_mutex_lock(&srv_lock);
	CHECK(strstr(last_request, "GET /metadata/identity/oauth2/token?api-version=2018-02-01"
	                           "&resource=https%3A%2F%2Fvault.azure.net HTTP/1.1") != NULL);
	CHECK(strstr(last_request, "\r\nMetadata: true\r\n") != NULL);
	pthread_mutex_unlock(&srv_lock);

	static const int s2[] = {410, 429, 200};
	script_set(s2, NELEM(s2));
	tok = NULL;
	CHECK(ask(&tok, &e, &secs) == 0 && tok && !strcmp(tok, "tok-3"));
	CHECK_INT(hits_now(), 3);
	free_secret_str(tok);
}

static void test_final_answers(void)
{
	srv_start();
	use_imds(srv_port, 30);
	static const int codes[] = {400, 401, 403, 405};
	for (size_t i = 0; i < NELEM(codes); i++) {
		char *tok = NULL;
		struct err e;
		double secs;
		script_set(&codes[i], 1);
		CHECK_INT(ask(&tok, &e, &secs), -1);
		CHECK(tok == NULL);
		CHECK_MSG(hits_now() == 1, "%d is final: %d attempts", codes[i], hits_now());
		CHECK_INT(e.code, ERR_UNAUTHORIZED);
		CHECK_INT(e.upstream_status, codes[i]);
		char want[32];
		snprintf(want, sizeof(want), "scripted %d", codes[i]);
		CHECK_MSG(strstr(e.msg, want) != NULL, "%s", e.msg);
		CHECK(strstr(e.msg, "attempt") == NULL);
	}
}

static void test_bounded_by_http_timeout(void)
{
	srv_start();
	char *tok = NULL;
	struct err e;
	double secs;
	/* 410: retry 1 at once, then 5 s would not leave a second of a 2 s budget. */
	use_imds(srv_port, 2);
	static const int gone[] = {410};
	script_set(gone, 1);
	CHECK_INT(ask(&tok, &e, &secs), -1);
	CHECK_INT(hits_now(), 2);
	CHECK_MSG(secs < 1.0, "gave up at once instead of waiting: %.2f s", secs);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK_INT(e.upstream_status, 410);
	CHECK_MSG(strstr(e.msg, "gave up after 2 attempts") &&
	              strstr(e.msg, "HTTP_TIMEOUT_SECONDS=2"),
	          "%s", e.msg);

	/* 503 with 3 s: attempts at 0 s, 0 s and 1.6 s; the 3.2 s wait does not fit. */
	use_imds(srv_port, 3);
	static const int busy[] = {503};
	script_set(busy, 1);
	CHECK_INT(ask(&tok, &e, &secs), -1);
	CHECK_INT(hits_now(), 3);
	CHECK_MSG(secs >= 1.5 && secs < 3.0, "took %.2f s within a 3 s budget", secs);
	CHECK_INT(e.code, ERR_UNAVAILABLE);

	/* Nobody listening: retried (no wait, then 1.6 s does not fit in 2 s). */
	int closed_port, fd = listen_any(&closed_port);
	close(fd);
	use_imds(closed_port, 2);
	CHECK_INT(ask(&tok, &e, &secs), -1);
	CHECK_MSG(secs < 1.0, "%.2f s", secs);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK_MSG(strstr(e.msg, "gave up after 2 attempts"), "%s", e.msg);

	/* A peer that never answers: the one attempt gets the whole 1 s budget, no more. */
	int mute_port, mute = listen_any(&mute_port);
	use_imds(mute_port, 1);
	CHECK_INT(ask(&tok, &e, &secs), -1);
	CHECK_MSG(secs >= 0.9 && secs < 1.8, "%.2f s for a 1 s budget", secs);
	CHECK_INT(e.code, ERR_TIMEOUT);
	CHECK(tok == NULL);
	close(mute);
}

TESTS(test_policy_statuses, test_policy_backoff, test_retried_then_token, test_final_answers,
      test_bounded_by_http_timeout)
