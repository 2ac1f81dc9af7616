/* The Key Vault client against scripted answers (fixture.h): the managed-identity bearer
 * (kv_bearer, through lib/identity.c) and then the release call (kv_release) or the key
 * read (kv_get_key), with every status kvclient.h names, malformed answers, a timeout, a
 * cut answer and nobody listening. */
#include "codec.h"
#include "config.h"
#include "fixture.h"
#include "jsonx.h"
#include "kvclient.h"
#include "testlib.h"

static void set_endpoint(const char *name, const char *url, struct endpoint *ep)
{
	struct err e;
	endpoint_free(ep);
	if (config_parse_endpoint(name, url, ep, &e) != 0) {
		fprintf(stderr, "endpoint: %s\n", e.msg);
		exit(1);
	}
}

/* The IMDS exchange before each vault call: a token for the vault's resource (100 s:
 * inside the renewal margin, so never cached and every row asks). */
#define IMDS_REQ                                                                                   \
	{                                                                                          \
		.method = "GET",                                                                   \
		.target = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="       \
		          "https%3A%2F%2Fvault.azure.net",                                         \
		.headers = {                                                                       \
			"Metadata: true"                                                           \
		}                                                                                  \
	}
#define IMDS_OK                                                                                    \
	{                                                                                          \
		IMDS_REQ,                                                                          \
		{                                                                                  \
			200, {0},                                                                  \
			    "{\"access_token\":\"tok-kv\",\"expires_in\":\"100\",\"token_type\":"  \
			    "\"Bearer\"}"                                                          \
		}                                                                                  \
	}

#define RELEASE_BODY "{\"target\":\"att.tok.en\",\"enc\":\"RSA_AES_KEY_WRAP_256\"}"
#define RELEASE_REQ                                                                                \
	{                                                                                          \
		.method = "POST", .target = "/keys/k1/release?api-version=7.4",                    \
		.headers = {"Authorization: Bearer tok-kv", "Accept: application/json",            \
		            "Content-Type: application/json"},                                     \
		.body = RELEASE_BODY                                                               \
	}
#define GET_REQ                                                                                    \
	{                                                                                          \
		.method = "GET", .target = "/keys/k1?api-version=7.4",                             \
		.headers = {"Authorization: Bearer tok-kv", "Accept: application/json",            \
		            "!Content-Type"},                                                      \
		.body = ""                                                                         \
	}
#define VAULT_ERR(c, st, h, ...)                                                                   \
	{                                                                                          \
		.rc = -1, .code = (c), .stage = STAGE_VAULT, .upstream = (st), .http = (h),        \
		__VA_ARGS__                                                                        \
	}
#define AKV_ERROR(code, msg) "{\"error\":{\"code\":\"" code "\",\"message\":\"" msg "\"}}"

enum kv_op { KV_RELEASE, KV_GET };

struct kv_case {
	const char *name;
	enum kv_op op;
	struct fx_exchange ex[3];
	int vault_refused, imds_refused;
	unsigned long timeout; /* HTTP_TIMEOUT_SECONDS (default 30) */
	const char *key;       /* NULL: k1 */
	struct fx_result want; /* of the bearer and then the vault call */
	const char *jws;       /* KV_RELEASE: the JWS returned */
	const char *kty;       /* KV_GET: the bundle's key.kty */
	int policy;            /* KV_GET: the bundle has a release policy */
};

/* {"version":"1.0.0","anyOf":[{"authority":"https://maa",...}]} in b64url, as a key bundle
 * carries its release policy. */
#define POLICY_B64                                                                                 \
	"eyJ2ZXJzaW9uIjoiMS4wLjAiLCJhbnlPZiI6W3siYXV0aG9yaXR5IjoiaHR0cHM6Ly9tYWEiLCJhbGxPZiI6W3si" \
	"Y2xhaW0iOiJ4IiwiZXF1YWxzIjoidHJ1ZSJ9XX1dfQ"

static const struct kv_case kv_cases[] = {
    {"release 200",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {200, {"Content-Type: application/json"}, "{\"value\":\"a.b.c\"}"}}},
     .jws = "a.b.c"},
    {"release 200 chunked",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {200, {0}, "{\"value\":\"a.b.c\"}", 0, FX_CHUNKED}}},
     .jws = "a.b.c"},
    {"release: the key name is escaped",
     KV_RELEASE,
     {IMDS_OK,
      {{.method = "POST",
        .target = "/keys/k%201%2Fx/release?api-version=7.4",
        .body = RELEASE_BODY},
       {200, {0}, "{\"value\":\"a.b.c\"}"}}},
     .key = "k 1/x",
     .jws = "a.b.c"},
    {"release 401",
     KV_RELEASE,
     {IMDS_OK,
      {RELEASE_REQ,
       {401,
        {"x-ms-request-id: rq-401"},
        AKV_ERROR("Unauthorized", "AKV10022: Invalid audience")}}},
     .want = VAULT_ERR(ERR_UNAUTHORIZED, 401, 401,
                       .msg_is = "release of key 'k1' from 127.0.0.1:PORT: the key vault answered "
                                 "HTTP 401 (Unauthorized): AKV10022: Invalid audience",
                       .upstream_code = "Unauthorized", .request_id = "rq-401")},
    {"release 403: policy not satisfied",
     KV_RELEASE,
     {IMDS_OK,
      {RELEASE_REQ,
       {403,
        {0},
        AKV_ERROR("Forbidden", "Target environment attestation "
                               "statement cannot be verified")}}},
     .want = VAULT_ERR(ERR_FORBIDDEN, 403, 403,
                       .msg = "HTTP 403 (Forbidden): Target environment attestation statement",
                       .upstream_code = "Forbidden")},
    {"release 404",
     KV_RELEASE,
     {IMDS_OK,
      {RELEASE_REQ,
       {404,
        {0},
        AKV_ERROR("KeyNotFound", "A key with (name/id) k1 was "
                                 "not found")}}},
     .want = VAULT_ERR(ERR_NOT_FOUND, 404, 404, .msg = "(KeyNotFound)")},
    {"release 400",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {400, {0}, AKV_ERROR("BadParameter", "bad target")}}},
     .want = VAULT_ERR(ERR_UPSTREAM, 400, 502, .msg = "HTTP 400 (BadParameter): bad target")},
    {"release 408",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {408, {0}, ""}}},
     .want = VAULT_ERR(ERR_UNAVAILABLE, 408, 503, .msg = "HTTP 408: (no error message)")},
    {"release 429",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {429, {0}, AKV_ERROR("Throttled", "x")}}},
     .want = VAULT_ERR(ERR_UNAVAILABLE, 429, 503, .upstream_code = "Throttled")},
    {"release 500 with an HTML page",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {500, {0}, "<html><body>secret-ish page</body></html>"}}},
     .want = VAULT_ERR(ERR_UPSTREAM, 500, 502, .msg = "HTTP 500: (no error message)",
                       .not_msg = "page")},
    {"release 503",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {503, {0}, ""}}},
     .want = VAULT_ERR(ERR_UNAVAILABLE, 503, 503)},
    {"release 504",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {504, {0}, ""}}},
     .want = VAULT_ERR(ERR_TIMEOUT, 504, 504)},
    {"release 200 without value",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {200, {0}, "{\"novalue\":1}"}}},
     .want = VAULT_ERR(ERR_UPSTREAM, 0, 502, .msg = "answer has no \"value\"")},
    {"release 200 not JSON",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {200, {"x-ms-request-id: rq-bad"}, "{\"value\":"}}},
     .want = VAULT_ERR(ERR_UPSTREAM, 200, 502, .msg = "a body that is not a JSON object",
                       .request_id = "rq-bad")},
    {"release 200 an array",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {200, {0}, "[\"a.b.c\"]"}}},
     .want = VAULT_ERR(ERR_UPSTREAM, 200, 502, .msg = "not a JSON object")},
    {"release, no answer",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {.action = FX_HANG}}},
     .timeout = 1,
     .want = VAULT_ERR(ERR_TIMEOUT, -1, 504, .msg = "(SKR_AKV_ENDPOINT 127.0.0.1:PORT)")},
    /* A release may go on a kept connection (the token call's, here: one server plays both):
     * when that one closes before any answer, libcurl sends it once more on a fresh one, which
     * is harmless for a release (kvclient marks it repeatable).  Closed again: unavailable. */
    {"release, connection closed",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {.action = FX_CLOSE}}, {RELEASE_REQ, {.action = FX_CLOSE}}},
     .want = VAULT_ERR(ERR_UNAVAILABLE, -1, 503)},
    {"release, kept connection closed, sent again",
     KV_RELEASE,
     {IMDS_OK,
      {RELEASE_REQ, {.action = FX_CLOSE}},
      {RELEASE_REQ, {200, {0}, "{\"value\":\"a.b.c\"}"}}},
     .jws = "a.b.c"},
    {"release, answer cut short",
     KV_RELEASE,
     {IMDS_OK, {RELEASE_REQ, {200, {0}, "{\"value\":\"a.b.c\"}", 0, FX_TRUNCATE}}},
     .want = VAULT_ERR(ERR_UNAVAILABLE, -1, 503)},
    {"release, vault refused",
     KV_RELEASE,
     {IMDS_OK},
     .vault_refused = 1,
     .want = VAULT_ERR(ERR_UNAVAILABLE, -1, 503, .msg = "cannot connect")},

    /* The bearer first: a vault call is never made without it. */
    {"identity refused: no vault call",
     KV_RELEASE,
     {{IMDS_REQ,
       {400,
        {0},
        "{\"error\":\"invalid_request\",\"error_description\":\"Identity "
        "not found\"}"}}},
     .want = {.rc = -1,
              .code = ERR_UNAUTHORIZED,
              .stage = STAGE_IDENTITY,
              .upstream = 400,
              .msg = "Identity not found",
              .http = 401}},
    {"identity answer not JSON: no vault call",
     KV_GET,
     {{IMDS_REQ, {200, {0}, "<html>"}}},
     .want = {.rc = -1, .code = ERR_UPSTREAM, .stage = STAGE_IDENTITY, .http = 503}},
    {"IMDS refused: no vault call", KV_RELEASE, .imds_refused = 1, .timeout = 2,
     .want = {.rc = -1,
              .code = ERR_UNAVAILABLE,
              .stage = STAGE_IDENTITY,
              .msg = "gave up after 2 attempts",
              .http = 503}},

    /* GET the key bundle. */
    {"get 200",
     KV_GET,
     {IMDS_OK,
      {GET_REQ,
       {200,
        {0},
        "{\"key\":{\"kty\":\"RSA-HSM\"},\"release_policy\":{\"data\":\"" POLICY_B64 "\"}}"}}},
     .kty = "RSA-HSM",
     .policy = 1},
    {"get 200 without a policy",
     KV_GET,
     {IMDS_OK, {GET_REQ, {200, {0}, "{\"key\":{\"kty\":\"RSA\"}}"}}},
     .kty = "RSA"},
    {"get 403: no get permission",
     KV_GET,
     {IMDS_OK,
      {GET_REQ,
       {403,
        {0},
        AKV_ERROR("Forbidden", "The user does not have keys get "
                               "permission")}}},
     .want = VAULT_ERR(ERR_FORBIDDEN, 403, 403,
                       .msg = "reading key 'k1' from 127.0.0.1:PORT: the key vault answered HTTP "
                              "403 (Forbidden)")},
    {"get 404",
     KV_GET,
     {IMDS_OK, {GET_REQ, {404, {0}, AKV_ERROR("KeyNotFound", "gone")}}},
     .want = VAULT_ERR(ERR_NOT_FOUND, 404, 404)},
    {"get 200 not JSON",
     KV_GET,
     {IMDS_OK, {GET_REQ, {200, {0}, "not json"}}},
     .want = VAULT_ERR(ERR_UPSTREAM, 200, 502)},
    {"get, no answer",
     KV_GET,
     {IMDS_OK, {GET_REQ, {.action = FX_HANG}}},
     .timeout = 1,
     .want = VAULT_ERR(ERR_TIMEOUT, -1, 504, .msg = "within 1 s")},
};

/* "127.0.0.1:PORT" in an expected message stands for the fixture's host. */
static struct fx_result with_host(const struct fx_result *w, const char *host, char **a, char **b)
{
	struct fx_result r = *w;
	*a = *b = NULL;
	char *s[2] = {(char *)w->msg, (char *)w->msg_is};
	char **out[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		const char *p = s[i] ? strstr(s[i], "127.0.0.1:PORT") : NULL;
		if (p)
			*out[i] = xasprintf("%.*s%s%s", (int)(p - s[i]), s[i], host, p + 14);
	}
	if (*a)
		r.msg = *a;
	if (*b)
		r.msg_is = *b;
	return r;
}

static void test_kv_fixtures(void)
{
	for (size_t i = 0; i < NELEM(kv_cases); i++) {
		const struct kv_case *c = &kv_cases[i];
		fx_script(c->ex, NELEM(c->ex));
		char *vault = c->vault_refused ? fx_refused_url() : xstrdup(fx_url());
		char *imds = c->imds_refused ? fx_refused_url() : xstrdup(fx_url());
		struct endpoint akv = {0};
		set_endpoint("SKR_AKV_ENDPOINT", vault, &akv);
		set_endpoint("IMDS_ENDPOINT", imds, &cfg.imds);
		cfg.http_timeout = c->timeout ? c->timeout : 30;
		cfg.client_id = "";
		const char *key = c->key ? c->key : "k1";
		struct err e;
		err_clear(&e);
		char *bearer = NULL, *jws = (char *)1;
		struct json_object *bundle = (struct json_object *)1;
		double ms;
		int rc = kv_bearer(&akv, &bearer, &ms, &e);
		if (rc == 0)
			CHECK_MSG(bearer && !strcmp(bearer, "Authorization: Bearer tok-kv"),
			          "%s: bearer", c->name);
		if (rc == 0 && c->op == KV_RELEASE)
			rc = kv_release(&akv, key, bearer, "att.tok.en", &jws, &e);
		else if (rc == 0)
			rc = kv_get_key(&akv, key, bearer, &bundle, &e);
		char *m1, *m2;
		struct fx_result want = with_host(&c->want, akv.host, &m1, &m2);
		FX_CHECK_RESULT(c->name, rc, &e, &want);
		free(m1);
		free(m2);
		if (c->op == KV_RELEASE && bearer) {
			if (c->jws)
				CHECK_MSG(jws && !strcmp(jws, c->jws), "%s: jws", c->name);
			else
				CHECK_MSG(jws == NULL, "%s: a JWS on failure", c->name);
			free(rc == 0 ? jws : NULL);
		}
		if (c->op == KV_GET && bearer) {
			if (c->kty) {
				CHECK_MSG(
				    bundle &&
				        !strcmp(jsonx_str(jsonx_obj(bundle, "key"), "kty"), c->kty),
				    "%s: bundle", c->name);
				struct json_object *p = kv_bundle_policy(bundle);
				CHECK_MSG(c->policy ? p && !strcmp(jsonx_str(p, "version"), "1.0.0")
				                    : p == NULL,
				          "%s: policy", c->name);
				json_object_put(p);
			} else {
				CHECK_MSG(bundle == NULL, "%s: a bundle on failure", c->name);
			}
			json_object_put(rc == 0 ? bundle : NULL);
		}
		FX_CHECK_REQUESTS(c->name);
		free_secret_str(bearer);
		endpoint_free(&akv);
		free(vault);
		free(imds);
	}
}

/* kv_error alone: an Azure error document, or anything else, never quoted raw. */
static void test_kv_error(void)
{
	struct err e;
	err_clear(&e);
	const char *body =
	    "{\"error\":{\"code\":\"Bad\\u0001Code\",\"message\":\"line1\\nline2\"}}";
	CHECK_INT(kv_error(409, body, strlen(body), "rid-1", "what", &e), -1);
	CHECK_INT(e.code, ERR_UPSTREAM);
	CHECK_INT(e.stage, STAGE_VAULT);
	CHECK_INT(e.upstream_status, 409);
	CHECK_STR(e.request_id, "rid-1");
	CHECK_STR(e.msg, "what: the key vault answered HTTP 409 (Bad Code): line1 line2");
	err_clear(&e);
	CHECK_INT(kv_error(401, NULL, 0, NULL, "what", &e), -1);
	CHECK_INT(e.code, ERR_UNAUTHORIZED);
	CHECK_STR(e.msg, "what: the key vault answered HTTP 401: (no error message)");
}

static void test_teardown(void)
{
	fx_stop();
	endpoint_free(&cfg.imds);
	cfg.client_id = NULL;
	cfg.http_timeout = 0;
}

TESTS(test_kv_fixtures, test_kv_error, test_teardown)
