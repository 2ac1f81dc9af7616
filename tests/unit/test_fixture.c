/* The fixture server itself (fixture.h), driven by libcurl directly rather than lib/fetch.c:
 * kept-alive and parallel connections, chunked bodies both ways, 100-continue, binary
 * bodies, the misbehaviours (no answer, closed, cut short), and the judging functions,
 * which must fail on every kind of mismatch. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "testlib.h"

struct got {
	struct buf body;
	char *etag;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	buf_append(&((struct got *)ud)->body, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct got *g = ud;
	if (size * n > 6 && !strncasecmp(p, "ETag: ", 6)) {
		free(g->etag);
		g->etag = xstrndup(p + 6, strcspn(p + 6, "\r\n"));
	}
	return size * n;
}

/* One request on h (reused between calls: keep-alive); the curl code, status in *st. */
static CURLcode perform(CURL *h, const char *path, const char *method, const char *body,
                        struct curl_slist *hdrs, struct got *g, long *st)
{
	char *url = xasprintf("%s%s", fx_url(), path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, g);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
	buf_free(&g->body);
	buf_append(&g->body, "", 0);
	CURLcode rc = curl_easy_perform(h);
	*st = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, st);
	free(url);
	return rc;
}

static void test_keep_alive_and_chunked_answers(void)
{
	static const struct fx_exchange ex[] = {
	    {{.method = "GET", .target = "/a?x=1", .headers = {"X-Test: one", "!X-Other"}},
	     {200, {"ETag: \"e1\"", "Content-Type: text/plain"}, "first"}},
	    {{.method = "PUT", .target = "/b", .body = "payload"},
	     {201,
	      {0},
	      "a longer body that goes out in several uneven chunks: 0123456789",
	      0,
	      FX_CHUNKED}},
	    /* NUL bytes in a body need its length. */
	    {{.method = "GET", .target = "/c"}, {200, {0}, "bin\0ary", 7}},
	};
	fx_script(ex, NELEM(ex));
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "X-Test: one");
	struct got g = {0};
	buf_init(&g.body);
	long st;
	CHECK_INT(perform(h, "/a?x=1", "GET", NULL, hd, &g, &st), CURLE_OK);
	CHECK_INT(st, 200);
	CHECK_STR((char *)g.body.p, "first");
	CHECK_STR(g.etag, "\"e1\"");
	CHECK_INT(perform(h, "/b", "PUT", "payload", NULL, &g, &st), CURLE_OK);
	CHECK_INT(st, 201);
	CHECK_STR((char *)g.body.p, ex[1].reply.body);
	CHECK_INT(perform(h, "/c", "GET", NULL, NULL, &g, &st), CURLE_OK);
	CHECK(g.body.len == 7 && !memcmp(g.body.p, "bin\0ary", 7));
	FX_CHECK_REQUESTS("keep-alive");
	/* One connection for all three: the server keeps it open. */
	CHECK_INT(fx_request_count(), 3);
	CHECK(fx_request(0)->conn == fx_request(2)->conn);
	CHECK_STR(fx_header(fx_request(0), "x-test"), "one");
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	buf_free(&g.body);
	free(g.etag);
}

static size_t read_chunks(char *p, size_t size, size_t n, void *ud)
{
	int *left = ud;
	if (!*left || size * n < 5)
		return 0;
	(*left)--;
	memcpy(p, "part-", 5);
	return 5;
}

static void test_chunked_request_and_continue(void)
{
	static const struct fx_exchange ex[] = {
	    {{.method = "POST", .target = "/up", .body = "part-part-part-"}, {200, {0}, "ok"}},
	    {{.method = "POST",
	      .target = "/cont",
	      .headers = {"Expect: 100-continue"},
	      .body = "after continue"},
	     {200, {0}, "ok"}},
	};
	fx_script(ex, NELEM(ex));
	CURL *h = curl_easy_init();
	char *url = xasprintf("%s/up", fx_url());
	int left = 3;
	struct curl_slist *hd = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_chunks);
	curl_easy_setopt(h, CURLOPT_READDATA, &left);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
	struct got g = {0};
	buf_init(&g.body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
	CHECK_INT(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
	curl_slist_free_all(hd);
	free(url);
	CHECK(fx_request(0) && fx_request(0)->chunked);

	/* libcurl waits up to a second for "100 Continue" before it sends the body anyway. */
	h = curl_easy_init();
	hd = curl_slist_append(NULL, "Expect: 100-continue");
	long st;
	double t0 = now_ms();
	CHECK_INT(perform(h, "/cont", "POST", "after continue", hd, &g, &st), CURLE_OK);
	CHECK_MSG(now_ms() - t0 < 900, "%.0f ms: 100 Continue not sent", now_ms() - t0);
	FX_CHECK_REQUESTS("chunked request, 100-continue");
	curl_easy_cleanup(h);
	curl_slist_free_all(hd);
	buf_free(&g.body);
}

/* A connection that sends nothing does not keep another from being served. */
static void test_parallel_connections(void)
{
	static const struct fx_exchange ex[] = {{{.target = "/p"}, {200, {0}, "served"}}};
	fx_script(ex, NELEM(ex));
	int idle = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	a.sin_port = htons((uint16_t)fx_port());
	CHECK(connect(idle, (struct sockaddr *)&a, sizeof(a)) == 0);
	CURL *h = curl_easy_init();
	struct got g = {0};
	buf_init(&g.body);
	long st;
	CHECK_INT(perform(h, "/p", "GET", NULL, NULL, &g, &st), CURLE_OK);
	CHECK_STR((char *)g.body.p, "served");
	FX_CHECK_REQUESTS("parallel");
	CHECK(fx_request(0)->conn != 0);
	close(idle);
	curl_easy_cleanup(h);
	buf_free(&g.body);
}

static void test_misbehaviours(void)
{
	static const struct fx_exchange ex[] = {
	    {{.target = "/hang"}, {.action = FX_HANG}},
	    {{.target = "/close"}, {.action = FX_CLOSE}},
	    {{.target = "/cut"}, {200, {0}, "0123456789", 0, FX_TRUNCATE}},
	};
	fx_script(ex, NELEM(ex));
	struct got g = {0};
	buf_init(&g.body);
	long st;
	CURL *h = curl_easy_init();
	char *url = xasprintf("%s/hang", fx_url());
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
	CHECK_INT(curl_easy_perform(h), CURLE_OPERATION_TIMEDOUT);
	CHECK(fx_wait_requests(1, 3000));
	curl_easy_cleanup(h);
	free(url);
	h = curl_easy_init();
	CHECK_INT(perform(h, "/close", "GET", NULL, NULL, &g, &st), CURLE_GOT_NOTHING);
	curl_easy_cleanup(h);
	h = curl_easy_init();
	CHECK_INT(perform(h, "/cut", "GET", NULL, NULL, &g, &st), CURLE_PARTIAL_FILE);
	CHECK_INT(st, 200);
	CHECK(g.body.len == 5 && !memcmp(g.body.p, "01234", 5));
	curl_easy_cleanup(h);
	FX_CHECK_REQUESTS("misbehaviours");

	/* Nothing listens at a refused URL. */
	char *refused = fx_refused_url();
	h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, refused);
	CHECK_INT(curl_easy_perform(h), CURLE_COULDNT_CONNECT);
	curl_easy_cleanup(h);
	free(refused);
	buf_free(&g.body);
}

static int pred_never(const struct fx_request *r, char *why, size_t n)
{
	snprintf(why, n, "predicate refused %s", r->target);
	return 0;
}

/* Every kind of mismatch is caught, and says what it was. */
static void test_judging(void)
{
	struct fx_request r = {.method = "POST", .target = "/t?q=1", .nheaders = 2};
	r.hname[0] = "Content-Type";
	r.hvalue[0] = "application/json";
	r.hname[1] = "X-A";
	r.hvalue[1] = "";
	r.body = (unsigned char *)"{}";
	r.body_len = 2;
	static const struct {
		struct fx_want w;
		const char *why; /* NULL: a match */
	} cases[] = {
	    {{.method = "POST",
	      .target = "/t?q=1",
	      .headers = {"content-type: application/json", "X-A", "!X-B"},
	      .body = "{}"},
	     NULL},
	    {{0}, NULL},
	    {{.method = "GET"}, "method POST, expected GET"},
	    {{.target = "/t"}, "target \"/t?q=1\", expected \"/t\""},
	    {{.headers = {"Content-Type: text/plain"}}, "is \"application/json\", expected"},
	    {{.headers = {"X-Missing"}}, "header X-Missing is missing"},
	    {{.headers = {"!X-A"}}, "header X-A is present"},
	    {{.body = "{ }"}, "body \"{}\", expected \"{ }\""},
	    {{.body = ""}, "body"},
	    {{.check = pred_never}, "predicate refused /t?q=1"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		char why[512] = "";
		int ok = fx_match(&r, &cases[i].w, why, sizeof(why));
		CHECK_MSG(ok == !cases[i].why, "case %zu: %d (%s)", i, ok, why);
		if (cases[i].why)
			CHECK_MSG(strstr(why, cases[i].why) != NULL, "case %zu: \"%s\"", i, why);
	}

	struct err e;
	err_clear(&e);
	err_set(&e, ERR_TIMEOUT, "no answer from x within 1 s");
	err_in(&e, STAGE_VAULT);
	static const struct {
		struct fx_result want;
		int ok;
	} results[] = {
	    {{.rc = -1,
	      .code = ERR_TIMEOUT,
	      .stage = STAGE_VAULT,
	      .upstream = -1,
	      .msg = "within",
	      .msg_is = "no answer from x within 1 s",
	      .not_msg = "secret",
	      .http = 504},
	     1},
	    {{.rc = 0}, 0},
	    {{.rc = -1, .code = ERR_UNAVAILABLE, .stage = STAGE_VAULT}, 0},
	    {{.rc = -1, .code = ERR_TIMEOUT, .stage = STAGE_STORE}, 0},
	    {{.rc = -1, .upstream = 504}, 0},
	    {{.rc = -1, .msg = "refused"}, 0},
	    {{.rc = -1, .msg2 = "refused"}, 0},
	    {{.rc = -1, .msg_is = "no answer"}, 0},
	    {{.rc = -1, .not_msg = "answer"}, 0},
	    {{.rc = -1, .upstream_code = "X"}, 0},
	    {{.rc = -1, .request_id = "r"}, 0},
	    {{.rc = -1, .http = 503}, 0},
	};
	for (size_t i = 0; i < NELEM(results); i++) {
		char why[512] = "";
		int ok = fx_result_check(-1, &e, &results[i].want, why, sizeof(why));
		CHECK_MSG(ok == results[i].ok, "result %zu: %d (%s)", i, ok, why);
		CHECK_MSG(ok || *why, "result %zu: no reason given", i);
	}
}

/* Too many requests, or too few, fail the verification. */
static void test_verify_counts(void)
{
	static const struct fx_exchange one[] = {{{.target = "/one"}, {204, {0}, ""}}};
	fx_script(one, NELEM(one));
	CURL *h = curl_easy_init();
	struct got g = {0};
	buf_init(&g.body);
	long st;
	CHECK_INT(perform(h, "/one", "GET", NULL, NULL, &g, &st), CURLE_OK);
	CHECK_INT(perform(h, "/two", "GET", NULL, NULL, &g, &st), CURLE_OK);
	CHECK_INT(st, 599);
	char why[512];
	CHECK(!fx_verify_within(0, why, sizeof(why)));
	CHECK_MSG(strstr(why, "2 requests for 1 scripted exchanges; request 2 was GET /two"), "%s",
	          why);
	fx_script(one, NELEM(one));
	CHECK(!fx_verify_within(0, why, sizeof(why)));
	CHECK_MSG(strstr(why, "0 requests for 1 scripted exchanges; the next expected was (any) "
	                      "/one"),
	          "%s", why);
	/* A new script forgets what the old one saw. */
	CHECK_INT(fx_request_count(), 0);
	curl_easy_cleanup(h);
	buf_free(&g.body);
}

static void test_stop(void)
{
	fx_stop();
	CHECK_INT(fx_request_count(), 0);
	curl_global_cleanup();
}

TESTS(test_keep_alive_and_chunked_answers, test_chunked_request_and_continue,
      test_parallel_connections, test_misbehaviours, test_judging, test_verify_counts, test_stop)
