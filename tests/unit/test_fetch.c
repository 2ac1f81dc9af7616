/* fetch: every guarantee of an outbound call (timeouts, the request's budget, size cap, no
 * redirects, http/https only) holds while connections are reused, and nothing of one call
 * (method, headers, body) reaches the next; against a keep-alive HTTP peer on loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "fetch.h"
#include "testlib.h"

/* ---- a keep-alive peer: /ok, /redirect, /big, /slow (never answers) ---- */

static int srv_fd = -1, srv_port;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static int connections, requests;
static char last_head[4096];

static void counters(int *conns, int *reqs)
{
	pthread_mutex_lock(&srv_lock);
	*conns = connections;
	*reqs = requests;
	pthread_mutex_unlock(&srv_lock);
}

static void reply(int c, int status, const char *extra, size_t body_len)
{
	char head[256];
	int n =
	    snprintf(head, sizeof(head),
	             "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%sContent-Type: text/plain\r\n\r\n",
	             status, body_len, extra);
	ssize_t w = write(c, head, (size_t)n);
	static char body[8192];
	memset(body, 'b', sizeof(body));
	for (size_t left = body_len; left && w > 0; left -= (size_t)w)
		w = write(c, body, left < sizeof(body) ? left : sizeof(body));
}

/* One request head (and its Content-Length body) from c into in; 0 at EOF. */
static size_t read_request(int c, char *in, size_t cap)
{
	size_t got = 0;
	char *end = NULL;
	while (!end && got < cap - 1) {
		ssize_t r = read(c, in + got, cap - 1 - got);
		if (r <= 0)
			return 0;
		got += (size_t)r;
		in[got] = 0;
		end = strstr(in, "\r\n\r\n");
	}
	if (!end)
		return 0;
	const char *cl = strcasestr(in, "\r\nContent-Length:");
	size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
	size_t have = got - (size_t)(end + 4 - in);
	char sink[512];
	while (have < body) {
		ssize_t r = read(c, sink, sizeof(sink));
		if (r <= 0)
			return 0;
		have += (size_t)r;
	}
	*end = 0;
	return got;
}

static void *conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char in[4096];
	while (read_request(c, in, sizeof(in))) {
		pthread_mutex_lock(&srv_lock);
		requests++;
		snprintf(last_head, sizeof(last_head), "%s", in);
		pthread_mutex_unlock(&srv_lock);
		if (strstr(in, " /slow ")) {
			while (read(c, in, sizeof(in)) > 0)
				;
			break;
		}
		if (strstr(in, " /redirect "))
			reply(c, 302, "Location: /ok\r\n", 0);
		else if (strstr(in, " /big "))
			reply(c, 200, "", 5000);
		else
			reply(c, 200, "", 2);
	}
	close(c);
	return NULL;
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv_fd, NULL, NULL);
		if (c < 0)
			return NULL;
		pthread_mutex_lock(&srv_lock);
		connections++;
		pthread_mutex_unlock(&srv_lock);
		pthread_t t;
		pthread_create(&t, NULL, conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
}

static void srv_start(void)
{
	if (srv_fd >= 0)
		return;
	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(srv_fd, 16) != 0 || getsockname(srv_fd, (struct sockaddr *)&a, &al) != 0) {
		perror("test server");
		exit(1);
	}
	srv_port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, serve, NULL);
	pthread_detach(t);
	cfg.http_timeout = 10;
}

static int get(const char *path, const char *method, const char *const *headers, size_t max,
               long timeout_s, struct fetch_resp *rs, struct err *e)
{
	char *url = xasprintf("http://127.0.0.1:%d%s", srv_port, path);
	struct fetch_req rq = {.method = method,
	                       .url = url,
	                       .headers = headers,
	                       .body = method ? "{\"a\":1}" : NULL,
	                       .body_len = method ? 7 : 0,
	                       .max_resp = max,
	                       .timeout_s = timeout_s};
	err_clear(e);
	int rc = fetch(&rq, rs, e);
	free(url);
	return rc;
}

static void test_connections_reused(void)
{
	srv_start();
	struct fetch_resp rs;
	struct err e;
	int c0, r0, c1, r1;
	/* Whatever an earlier test left open, the next calls share one connection. */
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0);
	fetch_resp_free(&rs);
	counters(&c0, &r0);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0);
		CHECK_INT(rs.status, 200);
		fetch_resp_free(&rs);
	}
	counters(&c1, &r1);
	CHECK_INT(r1 - r0, 5);
	CHECK_MSG(c1 == c0, "%d new connections for 5 calls to one host", c1 - c0);
}

/* A POST goes on a connection of its own, closed after it, unless it is repeatable. */
static void test_post_connections(void)
{
	srv_start();
	struct fetch_resp rs;
	struct err e;
	int c0, r0, c1, r1;
	char *url = xasprintf("http://127.0.0.1:%d/ok", srv_port);
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0); /* a kept connection */
	fetch_resp_free(&rs);
	counters(&c0, &r0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(get("/ok", "POST", NULL, 0, 0, &rs, &e), 0);
		fetch_resp_free(&rs);
	}
	counters(&c1, &r1);
	CHECK_INT(r1 - r0, 3);
	CHECK_MSG(c1 - c0 == 3, "%d new connections for 3 POSTs", c1 - c0);
	/* The GET still finds the connection kept before them. */
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0);
	fetch_resp_free(&rs);
	counters(&c0, &r0);
	CHECK_MSG(c0 == c1, "%d new connections for a GET after POSTs", c0 - c1);
	for (int i = 0; i < 3; i++) {
		struct fetch_req rq = {
		    .method = "POST", .url = url, .body = "{}", .body_len = 2, .repeatable = 1};
		err_clear(&e);
		CHECK_INT(fetch(&rq, &rs, &e), 0);
		CHECK_INT(rs.status, 200);
		fetch_resp_free(&rs);
	}
	counters(&c1, &r1);
	CHECK_INT(r1 - r0, 3);
	CHECK_MSG(c1 == c0, "%d new connections for 3 repeatable POSTs", c1 - c0);
	free(url);
}

static void test_nothing_carries_over(void)
{
	srv_start();
	struct fetch_resp rs;
	struct err e;
	static const char *const auth[] = {"Authorization: Bearer secret-token-1", NULL};
	CHECK_INT(get("/ok", "POST", auth, 0, 0, &rs, &e), 0);
	fetch_resp_free(&rs);
	pthread_mutex_lock(&srv_lock);
	CHECK(!strncmp(last_head, "POST /ok ", 9));
	CHECK(strstr(last_head, "secret-token-1") != NULL);
	pthread_mutex_unlock(&srv_lock);
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0);
	fetch_resp_free(&rs);
	pthread_mutex_lock(&srv_lock);
	CHECK_MSG(!strncmp(last_head, "GET /ok ", 8), "%.40s", last_head);
	CHECK_MSG(strstr(last_head, "secret-token-1") == NULL,
	          "header of the last call sent again");
	CHECK(strcasestr(last_head, "Content-Length") == NULL);
	pthread_mutex_unlock(&srv_lock);
}

static void test_no_redirect_cap_protocols(void)
{
	srv_start();
	struct fetch_resp rs;
	struct err e;
	int c0, r0, c1, r1;
	counters(&c0, &r0);
	CHECK_INT(get("/redirect", NULL, NULL, 0, 0, &rs, &e), 0);
	CHECK_INT(rs.status, 302);
	fetch_resp_free(&rs);
	counters(&c1, &r1);
	CHECK_MSG(r1 - r0 == 1, "%d requests: the redirect was followed", r1 - r0);

	CHECK_INT(get("/big", NULL, NULL, 100, 0, &rs, &e), -1);
	CHECK_INT(e.code, ERR_UPSTREAM);
	CHECK_MSG(strstr(e.msg, "exceeds 100 bytes") != NULL, "%s", e.msg);
	/* The cut connection is not reused in a broken state. */
	CHECK_INT(get("/big", NULL, NULL, 0, 0, &rs, &e), 0);
	CHECK_INT(rs.body.len, 5000);
	fetch_resp_free(&rs);

	static const char *const bad[] = {"file:///etc/passwd", "ftp://127.0.0.1/x",
	                                  "gopher://127.0.0.1/x"};
	for (size_t i = 0; i < NELEM(bad); i++) {
		struct fetch_req rq = {.url = bad[i]};
		err_clear(&e);
		CHECK_MSG(fetch(&rq, &rs, &e) == -1, "%s was fetched", bad[i]);
	}
	/* After all that, the kept handle still does a plain GET. */
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0);
	CHECK_INT(rs.status, 200);
	fetch_resp_free(&rs);
}

static void test_per_call_timeout(void)
{
	srv_start();
	struct fetch_resp rs;
	struct err e;
	double t0 = now_ms();
	CHECK_INT(get("/slow", NULL, NULL, 0, 1, &rs, &e), -1);
	double dt = now_ms() - t0;
	CHECK_INT(e.code, ERR_TIMEOUT);
	CHECK_MSG(dt >= 950 && dt < 2000, "took %.0f ms for a 1 s timeout", dt);
	CHECK_MSG(strstr(e.msg, "within 1 s") != NULL, "%s", e.msg);
}

static void test_request_budget(void)
{
	srv_start();
	struct fetch_resp rs;
	struct err e;
	int by = -1;
	double now = now_ms(), d = fetch_call_deadline(0, &by);
	CHECK_INT(by, 0);
	CHECK_MSG(d - now > 9900 && d - now < 10100, "%.0f ms for HTTP_TIMEOUT_SECONDS=10",
	          d - now);

	fetch_request_begin(1500);
	now = now_ms();
	d = fetch_call_deadline(0, &by);
	CHECK_INT(by, 1);
	CHECK_MSG(d - now > 1400 && d - now <= 1500, "%.0f ms left of a 1.5 s budget", d - now);
	/* A silent peer: the call gets what is left of the budget, not HTTP_TIMEOUT_SECONDS. */
	double t0 = now_ms();
	CHECK_INT(get("/slow", NULL, NULL, 0, 0, &rs, &e), -1);
	double dt = now_ms() - t0;
	CHECK_INT(e.code, ERR_TIMEOUT);
	CHECK_MSG(dt >= 1350 && dt < 2500, "took %.0f ms for a 1.5 s budget", dt);
	CHECK_MSG(strstr(e.msg, "REQUEST_TIMEOUT_SECONDS") != NULL, "%s", e.msg);
	/* Spent, or as good as spent (less than FETCH_MIN_CALL_MS left, as when libcurl gave up
	 * on the slow call a moment before the deadline): the next call is not even sent. */
	int c0, r0, c1, r1;
	counters(&c0, &r0);
	t0 = now_ms();
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), -1);
	CHECK_INT(e.code, ERR_TIMEOUT);
	CHECK_MSG(strstr(e.msg, "was not called") != NULL, "%s", e.msg);
	CHECK(now_ms() - t0 < 100);
	counters(&c1, &r1);
	CHECK_INT(r1 - r0, 0);
	fetch_request_begin(FETCH_MIN_CALL_MS / 2.0);
	counters(&c0, &r0);
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), -1);
	CHECK_MSG(strstr(e.msg, "was not called") != NULL, "%s", e.msg);
	counters(&c1, &r1);
	CHECK_INT(r1 - r0, 0);
	/* The next request starts with a budget of its own. */
	fetch_request_end();
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0);
	fetch_resp_free(&rs);
	fetch_request_begin(30000);
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0);
	fetch_resp_free(&rs);
	fetch_request_end();
}

/* A forked child and its parent call at once: no answer reaches the wrong process. */
static void test_fork_keeps_connections_apart(void)
{
	srv_start();
	struct fetch_resp rs;
	struct err e;
	CHECK_INT(get("/ok", NULL, NULL, 0, 0, &rs, &e), 0); /* the parent holds a connection */
	fetch_resp_free(&rs);
	pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		for (int i = 0; i < 30; i++) {
			if (get("/ok", NULL, NULL, 0, 0, &rs, &e) < 0 || rs.status != 200)
				bad++;
			else
				fetch_resp_free(&rs);
		}
		_exit(bad ? 1 : 0);
	}
	int wrong = 0;
	for (int i = 0; i < 30; i++) {
		if (get("/redirect", NULL, NULL, 0, 0, &rs, &e) < 0 || rs.status != 302)
			wrong++;
		else
			fetch_resp_free(&rs);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK_MSG(wrong == 0, "%d of the parent's answers were wrong", wrong);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child got wrong answers");
}

TESTS(test_connections_reused, test_post_connections, test_fork_keeps_connections_apart,
      test_nothing_carries_over, test_no_redirect_cap_protocols, test_per_call_timeout,
      test_request_budget)
