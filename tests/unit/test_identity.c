/* Managed-identity tokens from IMDS against scripted answers (fixture.h): the request,
 * every answer the client tells apart, the per-process cache, the retry policy
 * (azure-identity's statuses and backoff) and its bound (HTTP_TIMEOUT_SECONDS covers the
 * whole call). */
#include "config.h"
#include "fixture.h"
#include "identity.h"
#include "testlib.h"

static void use_imds(const char *url, unsigned long timeout_s, const char *client_id)
{
	struct err e;
	endpoint_free(&cfg.imds);
	if (config_parse_endpoint("IMDS_ENDPOINT", url, &cfg.imds, &e) != 0) {
		fprintf(stderr, "endpoint: %s\n", e.msg);
		exit(1);
	}
	cfg.http_timeout = timeout_s;
	cfg.client_id = (char *)client_id;
}

/* One token request for resource: rc, and the seconds it took. */
static int ask_for(const char *resource, char **tok, struct err *e, double *secs)
{
	double t0 = now_ms();
	err_clear(e);
	int rc = identity_token(resource, tok, e);
	*secs = (now_ms() - t0) / 1000.0;
	return rc;
}

static int ask(char **tok, struct err *e, double *secs)
{
	return ask_for(IDENTITY_RESOURCE_VAULT, tok, e, secs);
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

/* ---- identity_token against scripted answers ---- */

#define VAULT_TOKEN_TARGET                                                                         \
	"/metadata/identity/oauth2/"                                                               \
	"token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
#define TOKEN_REQ                                                                                  \
	{                                                                                          \
		.method = "GET", .target = VAULT_TOKEN_TARGET,                                     \
		.headers = {"Metadata: true", "Accept: application/json", "!Authorization"},       \
		.body = ""                                                                         \
	}
/* expires_in 100 s is inside the renewal margin: never cached, so rows do not leak. */
#define TOKEN_OK(t)                                                                                \
	"{\"access_token\":\"" t                                                                   \
	"\",\"expires_in\":\"100\",\"resource\":\"https://vault.azure.net\","                      \
	"\"token_type\":\"Bearer\"}"
#define REFUSED(st)                                                                                \
	{                                                                                          \
		TOKEN_REQ,                                                                         \
		{                                                                                  \
			(st), {0}, "{\"error\":\"e\",\"error_description\":\"scripted " #st "\"}"  \
		}                                                                                  \
	}
#define ID_ERR(c, st, h, ...)                                                                      \
	{                                                                                          \
		.rc = -1, .code = (c), .stage = STAGE_IDENTITY, .upstream = (st), .http = (h),     \
		__VA_ARGS__                                                                        \
	}

struct token_case {
	const char *name;
	struct fx_exchange ex[6];
	int refused;
	unsigned long timeout; /* HTTP_TIMEOUT_SECONDS, the whole call's budget (default 30) */
	const char *client_id; /* AZURE_CLIENT_ID (default "") */
	struct fx_result want;
	const char *token;
	double min_s, max_s; /* bounds of the call's duration (0: not checked) */
};

static const struct token_case token_cases[] = {
    {"200",
     {{TOKEN_REQ, {200, {"Content-Type: application/json"}, TOKEN_OK("tok-1")}}},
     .token = "tok-1"},
    {"200 chunked", {{TOKEN_REQ, {200, {0}, TOKEN_OK("tok-2"), 0, FX_CHUNKED}}}, .token = "tok-2"},
    {"200, expires_on as a number",
     {{TOKEN_REQ,
       {200,
        {0},
        "{\"access_token\":\"tok-n\","
        "\"expires_on\":1,\"token_type\":"
        "\"bearer\"}"}}},
     .token = "tok-n"},
    {"user-assigned identity",
     {{{.method = "GET",
        .target = VAULT_TOKEN_TARGET "&client_id=11111111-2222-3333-4444-555555555555",
        .headers = {"Metadata: true"}},
       {200, {0}, TOKEN_OK("tok-u")}}},
     .client_id = "11111111-2222-3333-4444-555555555555",
     .token = "tok-u"},
    {"200 not JSON",
     {{TOKEN_REQ, {200, {0}, "<html>"}}},
     .want = ID_ERR(ERR_UPSTREAM, -1, 503, .msg = "IMDS answered 200 without JSON")},
    {"200 without access_token",
     {{TOKEN_REQ, {200, {0}, "{\"token_type\":\"Bearer\"}"}}},
     .want = ID_ERR(ERR_UPSTREAM, -1, 503, .msg = "without an access_token")},
    {"200, not a Bearer token",
     {{TOKEN_REQ, {200, {0}, "{\"access_token\":\"s3cr3t\",\"token_type\":\"MAC\"}"}}},
     .want = ID_ERR(ERR_UPSTREAM, -1, 503, .msg = "token_type is not Bearer", .not_msg = "s3cr3t")},
    /* Final answers: one attempt, IMDS's error_description quoted. */
    {"400: no identity",
     {REFUSED(400)},
     .want = ID_ERR(ERR_UNAUTHORIZED, 400, 401, .msg = "scripted 400",
                    .msg2 = "does this container group have a managed identity?",
                    .not_msg = "attempt")},
    /* With a client id, no hint about assigning an identity. */
    {"400 with a client id",
     {{{.method = "GET", .target = VAULT_TOKEN_TARGET "&client_id=abc"},
       {400, {0}, "{\"error\":\"invalid_request\",\"error_description\":\"scripted 400\"}"}}},
     .client_id = "abc",
     .want = ID_ERR(ERR_UNAUTHORIZED, 400, 401,
                    .msg_is = "managed identity token: IMDS answered HTTP 400: scripted 400")},
    {"401",
     {REFUSED(401)},
     .want = ID_ERR(ERR_UNAUTHORIZED, 401, 401, .msg = "scripted 401", .not_msg = "attempt")},
    {"403",
     {REFUSED(403)},
     .want = ID_ERR(ERR_UNAUTHORIZED, 403, 401, .msg = "scripted 403", .not_msg = "attempt")},
    {"405",
     {REFUSED(405)},
     .want = ID_ERR(ERR_UNAUTHORIZED, 405, 401, .msg = "scripted 405", .not_msg = "attempt")},
    /* Retried: at once, then after 1.6 s of backoff. */
    {"500, 404, then a token",
     {REFUSED(500), REFUSED(404), {TOKEN_REQ, {200, {0}, TOKEN_OK("tok-3")}}},
     .token = "tok-3",
     .min_s = 1.5,
     .max_s = 3.0},
    {"410, 429, then a token",
     {REFUSED(410), REFUSED(429), {TOKEN_REQ, {200, {0}, TOKEN_OK("tok-3")}}},
     .token = "tok-3"},
    /* No answer is retried too. */
    {"connection closed, then a token",
     {{TOKEN_REQ, {.action = FX_CLOSE}}, {TOKEN_REQ, {200, {0}, TOKEN_OK("tok-4")}}},
     .token = "tok-4",
     .max_s = 1.0},
    {"answer cut short, then a token",
     {{TOKEN_REQ, {200, {0}, TOKEN_OK("tok-5"), 0, FX_TRUNCATE}},
      {TOKEN_REQ, {200, {0}, TOKEN_OK("tok-5")}}},
     .token = "tok-5",
     .max_s = 1.0},
    /* 410: retry 1 at once, then 5 s would not leave a second of a 2 s budget. */
    {"410 within 2 s",
     {REFUSED(410), REFUSED(410)},
     .timeout = 2,
     .want = ID_ERR(ERR_UNAVAILABLE, 410, 503, .msg = "gave up after 2 attempts",
                    .msg2 = "HTTP_TIMEOUT_SECONDS=2"),
     .max_s = 1.0},
    /* 503 with 3 s: attempts at 0 s, 0 s and 1.6 s; the 3.2 s wait does not fit. */
    {"503 within 3 s",
     {REFUSED(503), REFUSED(503), REFUSED(503)},
     .timeout = 3,
     .want = ID_ERR(ERR_UNAVAILABLE, 503, 503, .msg = "HTTP_TIMEOUT_SECONDS=3"),
     .min_s = 1.5,
     .max_s = 3.0},
    /* A peer that never answers: the one attempt gets the whole 1 s budget, no more. */
    {"no answer within 1 s",
     {{TOKEN_REQ, {.action = FX_HANG}}},
     .timeout = 1,
     .want = ID_ERR(ERR_TIMEOUT, -1, 504, .msg = "managed identity token"),
     .min_s = 0.9,
     .max_s = 1.8},
    /* Nobody listening: retried (no wait, then 1.6 s does not fit in 2 s). */
    {"refused within 2 s", .refused = 1, .timeout = 2,
     .want = ID_ERR(ERR_UNAVAILABLE, -1, 503, .msg = "gave up after 2 attempts"), .max_s = 1.0},
};

static void test_token_fixtures(void)
{
	for (size_t i = 0; i < NELEM(token_cases); i++) {
		const struct token_case *c = &token_cases[i];
		fx_script(c->ex, NELEM(c->ex));
		char *url = c->refused ? fx_refused_url() : xstrdup(fx_url());
		use_imds(url, c->timeout ? c->timeout : 30, c->client_id ? c->client_id : "");
		char *tok = (char *)1;
		struct err e;
		double secs;
		int rc = ask(&tok, &e, &secs);
		FX_CHECK_RESULT(c->name, rc, &e, &c->want);
		if (c->token)
			CHECK_MSG(tok && !strcmp(tok, c->token), "%s: token", c->name);
		else
			CHECK_MSG(tok == NULL, "%s: a token on failure", c->name);
		if (c->min_s || c->max_s)
			CHECK_MSG(secs >= c->min_s && secs < c->max_s, "%s: took %.2f s", c->name,
			          secs);
		FX_CHECK_REQUESTS(c->name);
		free_secret_str(rc == 0 ? tok : NULL);
		free(url);
	}
}

/* A token good for an hour is kept for the process, per resource. */
static void test_token_cached(void)
{
	static const struct fx_exchange once[] = {
	    {{.method = "GET",
	      .target = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
	                "https%3A%2F%2Fcache.example%2F"},
	     {200,
	      {0},
	      "{\"access_token\":\"tok-c\",\"expires_in\":\"3600\",\"token_type\":\"Bearer\"}"}},
	};
	use_imds(fx_url(), 30, "");
	fx_script(once, NELEM(once));
	for (int i = 0; i < 3; i++) {
		char *tok = NULL;
		struct err e;
		double secs;
		CHECK_INT(ask_for("https://cache.example/", &tok, &e, &secs), 0);
		CHECK_STR(tok, "tok-c");
		free_secret_str(tok);
	}
	FX_CHECK_REQUESTS("cached token");
	/* Another resource is asked for. */
	static const struct fx_exchange other[] = {{TOKEN_REQ, {200, {0}, TOKEN_OK("tok-v")}}};
	fx_script(other, NELEM(other));
	char *tok = NULL;
	struct err e;
	double secs;
	CHECK_INT(ask(&tok, &e, &secs), 0);
	CHECK_STR(tok, "tok-v");
	free_secret_str(tok);
	FX_CHECK_REQUESTS("other resource");
}

static void test_teardown(void)
{
	fx_stop();
	endpoint_free(&cfg.imds);
	cfg.client_id = NULL;
	cfg.http_timeout = 0;
}

TESTS(test_policy_statuses, test_policy_backoff, test_token_fixtures, test_token_cached,
      test_teardown)
