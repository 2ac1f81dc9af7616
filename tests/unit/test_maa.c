/* The MAA client: the request body it builds, maa_attest against scripted answers (every
 * status the outcome table tells apart, malformed bodies, a timeout, a cut answer, nobody
 * listening), and token_fetch_jwks / token_verify with its JWKS cache (fixture.h). */
#include <openssl/evp.h>

#include "codec.h"
#include "fixture.h"
#include "jsonx.h"
#include "jwt.h"
#include "maa.h"
#include "testlib.h"
#include "token.h"

static void endpoint_at(struct endpoint *ep, const char *url)
{
	struct err e;
	if (config_parse_endpoint("TEST_MAA", url, ep, &e) != 0) {
		fprintf(stderr, "endpoint: %s\n", e.msg);
		exit(1);
	}
}

/* ---- request shape ---- */

static unsigned char *b64u(const char *s, size_t *n)
{
	unsigned char *out = NULL;
	CHECK(s && strlen(s) % 4 == 0); /* padded */
	CHECK(s && !strpbrk(s, "+/"));  /* URL alphabet */
	if (!s || b64_decode(s, strlen(s), B64_URL, B64_PAD_REQUIRED, &out, n) != 0)
		return NULL;
	return out;
}

static void fake_report(uint8_t r[SNP_REPORT_SIZE])
{
	for (size_t i = 0; i < SNP_REPORT_SIZE; i++)
		r[i] = (uint8_t)(i * 7 + 3);
}

static const char *chain = "-----BEGIN CERTIFICATE-----\nVCEK\n-----END CERTIFICATE-----\n"
                           "-----BEGIN CERTIFICATE-----\nASK\n-----END CERTIFICATE-----\n";

static void test_request_shape(void)
{
	uint8_t rep[SNP_REPORT_SIZE];
	fake_report(rep);
	const char *rt = "{\"keys\":[{\"e\":\"AQAB\",\"key_ops\":[\"encrypt\"],\"kid\":\"k\","
	                 "\"kty\":\"RSA\",\"n\":\"nn\"}]}";
	struct json_object *body = NULL, *inner = NULL;
	struct err e;
	CHECK_INT(maa_build_request(rep, chain, (const uint8_t *)rt, strlen(rt), NULL, UINT64_MAX,
	                            &body, &e),
	          0);
	size_t n = 0;
	unsigned char *ij = b64u(jsonx_str(body, "report"), &n);
	CHECK(ij && jsonx_parse((char *)ij, n, &inner, &e) == 0);
	unsigned char *r = b64u(jsonx_str(inner, "SnpReport"), &n);
	CHECK(r && n == SNP_REPORT_SIZE && !memcmp(r, rep, n));
	free(r);
	unsigned char *c = b64u(jsonx_str(inner, "VcekCertChain"), &n);
	CHECK(c && n == strlen(chain) && !memcmp(c, chain, n));
	free(c);
	CHECK(!json_object_object_get_ex(inner, "Endorsements", NULL));
	CHECK_INT(json_object_object_length(inner), 2);
	json_object_put(inner);
	free(ij);

	struct json_object *rd = jsonx_obj(body, "runtimeData");
	CHECK_STR(jsonx_str(rd, "dataType"), "JSON");
	unsigned char *d = b64u(jsonx_str(rd, "data"), &n);
	CHECK(d && n == strlen(rt) && !memcmp(d, rt, n));
	free(d);
	struct json_object *it = jsonx_obj(body, "initTimeData");
	CHECK_STR(jsonx_str(it, "data"), "");
	CHECK_STR(jsonx_str(it, "dataType"), "");
	struct json_object *nonce;
	CHECK(json_object_object_get_ex(body, "nonce", &nonce) &&
	      json_object_is_type(nonce, json_type_int));
	char *js = jsonx_dump(body);
	CHECK(strstr(js, "\"nonce\":18446744073709551615") != NULL);
	free(js);
	CHECK_INT(json_object_object_length(body), 4);
	json_object_put(body);

	/* Binary runtime data, and a JSON array is not "JSON" runtime data. */
	static const char *bins[] = {"\x01\x02\x00\x03", "[1,2]", "not json", ""};
	static const size_t binlen[] = {4, 5, 8, 0};
	for (size_t i = 0; i < NELEM(bins); i++) {
		CHECK_INT(maa_build_request(rep, chain, (const uint8_t *)bins[i], binlen[i], NULL,
		                            1, &body, &e),
		          0);
		rd = jsonx_obj(body, "runtimeData");
		CHECK_STR(jsonx_str(rd, "dataType"), "Binary");
		d = b64u(jsonx_str(rd, "data"), &n);
		CHECK(n == binlen[i] && (n == 0 || !memcmp(d, bins[i], n)));
		free(d);
		json_object_put(body);
	}

	/* UVM endorsement: std base64 in, b64url {"Uvm":[b64url(COSE)]} out. */
	const unsigned char cose[] = {0xd2, 0x84, 0x59, 0xff, 0xfe, 0x3e, 0x3f};
	char *std = b64_encode(cose, sizeof(cose), B64_STD, B64_PAD_REQUIRED);
	CHECK(strpbrk(std, "+/") != NULL);
	CHECK_INT(maa_build_request(rep, chain, NULL, 0, std, 1, &body, &e), 0);
	ij = b64u(jsonx_str(body, "report"), &n);
	CHECK(ij && jsonx_parse((char *)ij, n, &inner, &e) == 0);
	unsigned char *en = b64u(jsonx_str(inner, "Endorsements"), &n);
	struct json_object *eo = NULL;
	CHECK(en && jsonx_parse((char *)en, n, &eo, &e) == 0);
	struct json_object *uvm = jsonx_arr(eo, "Uvm");
	CHECK(uvm && json_object_array_length(uvm) == 1);
	unsigned char *cb =
	    uvm ? b64u(json_object_get_string(json_object_array_get_idx(uvm, 0)), &n) : NULL;
	CHECK(cb && n == sizeof(cose) && !memcmp(cb, cose, n));
	free(cb);
	json_object_put(eo);
	free(en);
	json_object_put(inner);
	free(ij);
	json_object_put(body);

	/* The text sent is exactly what json-c writes for the object; a new chain or
	 * endorsement is not answered from the remembered base64url of the last one. */
	static const char *const chains[] = {
	    "-----BEGIN CERTIFICATE-----\nVCEK\n-----END CERTIFICATE-----\n",
	    "-----BEGIN CERTIFICATE-----\nOTHER\n-----END CERTIFICATE-----\n"};
	const char *uvms[] = {NULL, std, "AQID"};
	for (size_t i = 0; i < 2; i++)
		for (size_t u = 0; u < NELEM(uvms); u++) {
			char *text = NULL;
			CHECK_INT(maa_request_text(rep, chains[i], (const uint8_t *)rt, strlen(rt),
			                           uvms[u], 42, &text, &e),
			          0);
			CHECK_INT(maa_build_request(rep, chains[i], (const uint8_t *)rt, strlen(rt),
			                            uvms[u], 42, &body, &e),
			          0);
			char *dumped = jsonx_dump(body);
			CHECK_STR(text, dumped);
			ij = b64u(jsonx_str(body, "report"), &n);
			CHECK(ij && jsonx_parse((char *)ij, n, &inner, &e) == 0);
			c = b64u(jsonx_str(inner, "VcekCertChain"), &n);
			CHECK(c && n == strlen(chains[i]) && !memcmp(c, chains[i], n));
			CHECK(json_object_object_get_ex(inner, "Endorsements", NULL) ==
			      (uvms[u] != NULL));
			free(c);
			json_object_put(inner);
			free(ij);
			free(dumped);
			free(text);
			json_object_put(body);
		}

	CHECK_INT(maa_build_request(rep, chain, NULL, 0, "not base64!", 1, &body, &e), -1);
	CHECK_INT(maa_build_request(rep, "", NULL, 0, NULL, 1, &body, &e), -1);
	CHECK(body == NULL);
	free(std);
}

/* ---- maa_attest against scripted answers ---- */

static const char rt[] = "{\"keys\":[]}";

/* The body MAA gets: the report and chain of this test, the runtime data as JSON, nothing
 * else (PROTOCOLS.md §4). */
static int attest_body_ok(const struct fx_request *r, char *why, size_t n)
{
	struct json_object *o = NULL, *inner = NULL, *nonce = NULL;
	struct err e;
	unsigned char *ij = NULL, *rep = NULL, *ch = NULL, *rd = NULL;
	size_t ijn = 0, repn = 0, chn = 0, rdn = 0;
	uint8_t want[SNP_REPORT_SIZE];
	fake_report(want);
	const char *s;
	int ok = 0;
	if (jsonx_parse((const char *)r->body, r->body_len, &o, &e) != 0)
		snprintf(why, n, "body is not JSON: %s", e.msg);
	else if (json_object_object_length(o) != 4)
		snprintf(why, n, "body has %d members, expected 4", json_object_object_length(o));
	else if (!(s = jsonx_str(o, "report")) ||
	         b64_decode(s, strlen(s), B64_URL, B64_PAD_REQUIRED, &ij, &ijn) != 0 ||
	         jsonx_parse((const char *)ij, ijn, &inner, &e) != 0)
		snprintf(why, n, "report is not padded b64url JSON");
	else if (!(s = jsonx_str(inner, "SnpReport")) ||
	         b64_decode(s, strlen(s), B64_URL, B64_PAD_REQUIRED, &rep, &repn) != 0 ||
	         repn != SNP_REPORT_SIZE || memcmp(rep, want, repn))
		snprintf(why, n, "SnpReport is not this report");
	else if (!(s = jsonx_str(inner, "VcekCertChain")) ||
	         b64_decode(s, strlen(s), B64_URL, B64_PAD_REQUIRED, &ch, &chn) != 0 ||
	         chn != strlen(chain) || memcmp(ch, chain, chn))
		snprintf(why, n, "VcekCertChain is not this chain");
	else if (!(s = jsonx_str(jsonx_obj(o, "runtimeData"), "data")) ||
	         b64_decode(s, strlen(s), B64_URL, B64_PAD_REQUIRED, &rd, &rdn) != 0 ||
	         rdn != strlen(rt) || memcmp(rd, rt, rdn))
		snprintf(why, n, "runtimeData.data is not the runtime data");
	else if (!(s = jsonx_str(jsonx_obj(o, "runtimeData"), "dataType")) || strcmp(s, "JSON"))
		snprintf(why, n, "runtimeData.dataType is not JSON");
	else if (!json_object_object_get_ex(o, "nonce", &nonce) ||
	         !json_object_is_type(nonce, json_type_int))
		snprintf(why, n, "nonce is not a JSON number");
	else
		ok = 1;
	json_object_put(o);
	json_object_put(inner);
	free(ij);
	free(rep);
	free(ch);
	free(rd);
	return ok;
}

#define ATTEST_REQ                                                                                 \
	{                                                                                          \
		.method = "POST", .target = "/attest/SevSnpVm?api-version=2022-08-01",             \
		.headers = {"Content-Type: application/json", "Accept: application/json",          \
		            "!Authorization"},                                                     \
		.check = attest_body_ok                                                            \
	}

struct attest_case {
	const char *name;
	struct fx_exchange ex[1];
	int refused;      /* nobody listens at the endpoint */
	int unset;        /* SKR_MAA_ENDPOINT empty */
	unsigned timeout; /* HTTP_TIMEOUT_SECONDS (default 30) */
	struct fx_result want;
	const char *jwt;
};

#define MAA_ERR(c, st, ...)                                                                        \
	{                                                                                          \
		.rc = -1, .code = (c), .stage = STAGE_ATTESTATION, .upstream = (st), __VA_ARGS__   \
	}

static const struct attest_case attest_cases[] = {
    {"200 token",
     {{ATTEST_REQ, {200, {"Content-Type: application/json"}, "{\"token\":\"aaa.bbb.ccc\"}"}}},
     .want = {0},
     .jwt = "aaa.bbb.ccc"},
    {"200 token, chunked",
     {{ATTEST_REQ, {200, {0}, "{\"token\":\"aaa.bbb.ccc\"}", 0, FX_CHUNKED}}},
     .jwt = "aaa.bbb.ccc"},
    {"400 rejected evidence",
     {{ATTEST_REQ,
       {400,
        {"x-ms-request-id: req-400"},
        "{\"error\":{\"code\":\"InvalidParameter\","
        "\"message\":\"report_data does not match runtime data\"}}"}}},
     .want = MAA_ERR(ERR_VERIFY, 400,
                     .msg_is = "attestation service rejected the evidence: InvalidParameter: "
                               "report_data does not match runtime data",
                     .upstream_code = "InvalidParameter", .request_id = "req-400", .http = 403)},
    {"400 without an error document",
     {{ATTEST_REQ, {400, {0}, "<html>bad</html>"}}},
     .want = MAA_ERR(ERR_VERIFY, 400, .msg = "HTTP 400 with no error document", .not_msg = "html",
                     .http = 403)},
    {"401",
     {{ATTEST_REQ, {401, {0}, ""}}},
     .want = MAA_ERR(ERR_FORBIDDEN, 401, .msg = "answered HTTP 401 Unauthorized", .http = 403)},
    {"403",
     {{ATTEST_REQ, {403, {0}, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"no\"}}"}}},
     .want = MAA_ERR(ERR_FORBIDDEN, 403, .msg = "HTTP 403 Forbidden: Forbidden: no", .http = 403)},
    {"404",
     {{ATTEST_REQ, {404, {0}, "not here"}}},
     .want =
         MAA_ERR(ERR_UPSTREAM, 404, .msg = "HTTP 404 Not Found", .not_msg = "here", .http = 502)},
    {"429 busy",
     {{ATTEST_REQ, {429, {0}, ""}}},
     .want = MAA_ERR(ERR_UNAVAILABLE, 429, .msg = "HTTP 429 Too Many Requests", .http = 503)},
    {"500",
     {{ATTEST_REQ, {500, {0}, "{\"code\":\"Boom\",\"message\":\"internal\"}"}}},
     .want = MAA_ERR(ERR_UPSTREAM, 500, .msg = "HTTP 500 Internal Server Error: Boom: internal",
                     .upstream_code = "Boom", .http = 502)},
    {"502",
     {{ATTEST_REQ, {502, {0}, ""}}},
     .want = MAA_ERR(ERR_UNAVAILABLE, 502, .msg = "HTTP 502 Bad Gateway", .http = 503)},
    /* A busy service: unavailable, and its body (an error page, say) is summarised, never
     * quoted. */
    {"503 with a binary page",
     {{ATTEST_REQ, {503, {0}, "upstream \x01 down"}}},
     .want = MAA_ERR(ERR_UNAVAILABLE, 503, .msg = "HTTP 503 Service Unavailable", .not_msg = "down",
                     .http = 503)},
    {"504",
     {{ATTEST_REQ, {504, {0}, ""}}},
     .want = MAA_ERR(ERR_TIMEOUT, 504, .msg = "HTTP 504 Gateway Timeout", .http = 504)},
    {"200, token not a string",
     {{ATTEST_REQ, {200, {0}, "{\"token\":42}"}}},
     .want =
         MAA_ERR(ERR_UPSTREAM, 200, .msg = "answered 200 without a usable \"token\"", .http = 502)},
    {"200, empty token",
     {{ATTEST_REQ, {200, {0}, "{\"token\":\"\"}"}}},
     .want = MAA_ERR(ERR_UPSTREAM, 200, .msg = "without a usable \"token\"", .http = 502)},
    {"200, not JSON",
     {{ATTEST_REQ, {200, {"x-ms-request-id: req-bad"}, "{\"token\":"}}},
     .want = MAA_ERR(ERR_UPSTREAM, 200, .msg = "without a usable \"token\"",
                     .request_id = "req-bad", .http = 502)},
    {"no answer",
     {{ATTEST_REQ, {.action = FX_HANG}}},
     .timeout = 1,
     .want = MAA_ERR(ERR_TIMEOUT, -1, .msg = "within 1 s", .http = 504)},
    {"connection closed, no answer",
     {{ATTEST_REQ, {.action = FX_CLOSE}}},
     .want = MAA_ERR(ERR_UNAVAILABLE, -1, .msg = "(SKR_MAA_ENDPOINT)", .http = 503)},
    {"answer cut short",
     {{ATTEST_REQ, {200, {0}, "{\"token\":\"aaa.bbb.ccc\"}", 0, FX_TRUNCATE}}},
     .want = MAA_ERR(ERR_UNAVAILABLE, -1, .msg = "(SKR_MAA_ENDPOINT)", .http = 503)},
    /* Nobody listening. */
    {"connection refused", .refused = 1,
     .want = MAA_ERR(ERR_UNAVAILABLE, -1, .msg = "cannot connect", .http = 503)},
    {"SKR_MAA_ENDPOINT empty", .unset = 1,
     .want = {.rc = -1,
              .code = ERR_CONFIG,
              .stage = STAGE_CONFIG,
              .msg = "SKR_MAA_ENDPOINT",
              .http = 500}},
};

static void test_attest_fixtures(void)
{
	uint8_t rep[SNP_REPORT_SIZE];
	fake_report(rep);
	for (size_t i = 0; i < NELEM(attest_cases); i++) {
		const struct attest_case *c = &attest_cases[i];
		fx_script(c->ex, NELEM(c->ex));
		struct endpoint ep = {0};
		char *url = c->refused ? fx_refused_url() : xstrdup(fx_url());
		if (!c->unset)
			endpoint_at(&ep, url);
		cfg.http_timeout = c->timeout ? c->timeout : 30;
		char *jwt = (char *)1;
		struct err e;
		err_clear(&e);
		double t0 = now_ms();
		int rc =
		    maa_attest(&ep, rep, chain, (const uint8_t *)rt, strlen(rt), NULL, &jwt, &e);
		double ms = now_ms() - t0;
		FX_CHECK_RESULT(c->name, rc, &e, &c->want);
		if (c->jwt)
			CHECK_MSG(jwt && !strcmp(jwt, c->jwt), "%s: jwt %s", c->name,
			          jwt ? jwt : "NULL");
		else
			CHECK_MSG(jwt == NULL, "%s: a token on failure", c->name);
		if (c->timeout)
			CHECK_MSG(ms >= 900 && ms < 3000, "%s: %.0f ms for a %u s timeout", c->name,
			          ms, c->timeout);
		FX_CHECK_REQUESTS(c->name);
		free(jwt);
		free(url);
		endpoint_free(&ep);
	}
	cfg.http_timeout = 0;
}

/* ---- token_fetch_jwks ---- */

#define CERTS_REQ                                                                                  \
	{                                                                                          \
		.method = "GET", .target = "/certs",                                               \
		.headers = {"Accept: application/json", "!Authorization"}, .body = ""              \
	}

struct jwks_case {
	const char *name;
	struct fx_exchange ex[1];
	int refused;
	unsigned timeout;
	struct fx_result want;
	int keys; /* keys in the JWKS returned */
};

#define JWKS_ERR(c, st, ...)                                                                       \
	{                                                                                          \
		.rc = -1, .code = (c), .stage = STAGE_NONE, .upstream = (st), __VA_ARGS__          \
	}

static const struct jwks_case jwks_cases[] = {
    {"200 keys",
     {{CERTS_REQ, {200, {0}, "{\"keys\":[{\"kid\":\"a\"},{\"kid\":\"b\"}]}"}}},
     .keys = 2},
    {"200 keys, chunked",
     {{CERTS_REQ,
       {200, {0}, "{\"keys\":[{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"x\"}]}", 0, FX_CHUNKED}}},
     .keys = 1},
    {"200 without keys",
     {{CERTS_REQ, {200, {0}, "{\"nokeys\":1}"}}},
     .want = JWKS_ERR(ERR_UPSTREAM, 0, .msg = "no \"keys\" array", .http = 502)},
    {"200 not JSON",
     {{CERTS_REQ, {200, {0}, "<html>"}}},
     .want = JWKS_ERR(ERR_UPSTREAM, 0, .msg = "token signing keys from", .http = 502)},
    {"404",
     {{CERTS_REQ, {404, {0}, "{}"}}},
     .want = JWKS_ERR(ERR_UPSTREAM, 404, .msg = "answered HTTP 404", .http = 502)},
    {"500",
     {{CERTS_REQ, {500, {0}, "{}"}}},
     .want = JWKS_ERR(ERR_UPSTREAM, 500, .msg = "answered HTTP 500", .http = 502)},
    {"503",
     {{CERTS_REQ, {503, {0}, ""}}},
     .want = JWKS_ERR(ERR_UPSTREAM, 503, .msg = "answered HTTP 503", .http = 502)},
    {"no answer",
     {{CERTS_REQ, {.action = FX_HANG}}},
     .timeout = 1,
     .want = JWKS_ERR(ERR_TIMEOUT, -1, .msg = "within 1 s", .http = 504)},
    {"answer cut short",
     {{CERTS_REQ, {200, {0}, "{\"keys\":[]}", 0, FX_TRUNCATE}}},
     .want = JWKS_ERR(ERR_UNAVAILABLE, -1, .msg = "fetching token signing keys", .http = 503)},
    {"connection refused", .refused = 1,
     .want = JWKS_ERR(ERR_UNAVAILABLE, -1, .msg = "cannot connect", .http = 503)},
};

static void test_jwks_fixtures(void)
{
	for (size_t i = 0; i < NELEM(jwks_cases); i++) {
		const struct jwks_case *c = &jwks_cases[i];
		fx_script(c->ex, NELEM(c->ex));
		struct endpoint ep;
		char *url = c->refused ? fx_refused_url() : xstrdup(fx_url());
		endpoint_at(&ep, url);
		cfg.http_timeout = c->timeout ? c->timeout : 30;
		struct json_object *jwks = (struct json_object *)1;
		struct err e;
		err_clear(&e);
		int rc = token_fetch_jwks(&ep, &jwks, &e);
		FX_CHECK_RESULT(c->name, rc, &e, &c->want);
		if (c->keys)
			CHECK_MSG(jwks && json_object_array_length(jsonx_arr(jwks, "keys")) ==
			                      (size_t)c->keys,
			          "%s: keys", c->name);
		else
			CHECK_MSG(jwks == NULL, "%s: keys on failure", c->name);
		FX_CHECK_REQUESTS(c->name);
		json_object_put(jwks);
		free(url);
		endpoint_free(&ep);
	}
	cfg.http_timeout = 0;
	struct endpoint unset = {0};
	struct json_object *jwks;
	struct err e;
	CHECK_INT(token_fetch_jwks(&unset, &jwks, &e), -1);
	CHECK(jwks == NULL);
}

/* ---- token_verify and its JWKS cache ---- */

/* One call of a sequence: the answers the call gets, the token, the result. */
struct verify_step {
	const char *name;
	struct fx_exchange ex[1]; /* empty: the call must not fetch */
	int clear_cache;          /* token_cache_clear() first */
	int token;                /* 0 signed with a known kid, 1 an unknown kid, 2 garbage */
	struct fx_result want;
};

static void test_token_verify_cache(void)
{
	token_cache_clear();
	struct endpoint ep;
	endpoint_at(&ep, fx_url());
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	char *kid = jwk_thumbprint(k);
	struct json_object *jwks = json_object_new_object(), *keys = json_object_new_array();
	json_object_array_add(keys, jwk_public(k));
	jsonx_add(jwks, "keys", keys);
	char *js = jsonx_dump(jwks);
	json_object_put(jwks);

	long long t = now_unix();
	struct json_object *c = json_object_new_object();
	jsonx_add_str(c, "iss", ep.url);
	jsonx_add_int(c, "iat", t);
	jsonx_add_int(c, "exp", t + 600);
	/* The token's jku points elsewhere: it must not matter. */
	char *tok[3] = {jwt_sign_rs256(k, kid, "http://127.0.0.1:1/certs", c),
	                jwt_sign_rs256(k, "rotated-kid", NULL, c), xstrdup("garbage")};
	json_object_put(c);

	const struct fx_want certs = CERTS_REQ;
	const struct verify_step steps[] = {
	    {"first token: keys fetched", {{certs, {200, {0}, js}}}, .token = 0},
	    {"same token: cached", .token = 0},
	    /* One refetch for the unknown kid... */
	    {"unknown kid: one refetch",
	     {{certs, {200, {0}, js}}},
	     .token = 1,
	     .want = {.rc = -1,
	              .code = ERR_UNAUTHORIZED,
	              .msg = "unknown signing key kid rotated-kid"}},
	    /* ...and not again within 30 s. */
	    {"unknown kid again: no refetch", .token = 1,
	     .want = {.rc = -1,
	              .code = ERR_UNAUTHORIZED,
	              .msg = "unknown signing key kid rotated-kid"}},
	    /* Keys unavailable: fail closed. */
	    {"keys 500",
	     {{certs, {500, {0}, "{}"}}},
	     .clear_cache = 1,
	     .want = {.rc = -1, .code = ERR_UPSTREAM, .upstream = 500}},
	    {"keys without \"keys\"",
	     {{certs, {200, {0}, "{\"nokeys\":1}"}}},
	     .want = {.rc = -1, .code = ERR_UPSTREAM}},
	    {"garbage token: nothing fetched", .token = 2,
	     .want = {.rc = -1, .code = ERR_UNAUTHORIZED}},
	    {"keys back", {{certs, {200, {0}, js}}}, .token = 0},
	};
	for (size_t i = 0; i < NELEM(steps); i++) {
		const struct verify_step *s = &steps[i];
		if (s->clear_cache)
			token_cache_clear();
		fx_script(s->ex, NELEM(s->ex));
		struct json_object *claims = (struct json_object *)1;
		struct err e;
		err_clear(&e);
		int rc = token_verify(tok[s->token], &ep, &claims, &e);
		FX_CHECK_RESULT(s->name, rc, &e, &s->want);
		if (rc == 0)
			CHECK_MSG(claims && !strcmp(jsonx_str(claims, "iss"), ep.url), "%s: iss",
			          s->name);
		else
			CHECK_MSG(claims == NULL, "%s: claims on failure", s->name);
		json_object_put(rc == 0 ? claims : NULL);
		FX_CHECK_REQUESTS(s->name);
	}
	struct endpoint unset = {0};
	struct json_object *claims;
	struct err e;
	CHECK_INT(token_verify(tok[0], &unset, &claims, &e), -1);

	token_cache_clear();
	for (size_t i = 0; i < NELEM(tok); i++)
		free(tok[i]);
	free(js);
	free(kid);
	EVP_PKEY_free(k);
	endpoint_free(&ep);
}

/* The JWKS {"keys":[k under kid]} served at /certs. */
static void serve_keys(EVP_PKEY *k, const char *kid)
{
	struct json_object *jwk = jwk_public(k);
	jsonx_add_str(jwk, "kid", kid);
	struct json_object *jwks = json_object_new_object(), *keys = json_object_new_array();
	json_object_array_add(keys, jwk);
	jsonx_add(jwks, "keys", keys);
	static char *served; /* the fixture server answers from it until the next call */
	free(served);
	served = jsonx_dump(jwks);
	json_object_put(jwks);
	/* fx_script keeps the table: it must outlive this call. */
	static struct fx_exchange ex[1];
	ex[0] = (struct fx_exchange){CERTS_REQ, {200, {0}, served}};
	fx_script(ex, NELEM(ex));
}

static char *token_by(EVP_PKEY *k, const char *kid, const struct endpoint *ep)
{
	long long t = now_unix();
	struct json_object *c = json_object_new_object();
	jsonx_add_str(c, "iss", ep->url);
	jsonx_add_int(c, "iat", t);
	jsonx_add_int(c, "exp", t + 600);
	char *tok = jwt_sign_rs256(k, kid, NULL, c);
	json_object_put(c);
	return tok;
}

static int verifies(const char *tok, const struct endpoint *ep, struct err *e)
{
	struct json_object *claims = NULL;
	int rc = token_verify(tok, ep, &claims, e);
	json_object_put(claims);
	return rc == 0;
}

/* Cached signing keys follow the issuer: a new kid, and a key replaced under its kid. */
static void test_token_keys_follow_rotation(void)
{
	fx_start();
	token_cache_clear();
	struct endpoint ep;
	endpoint_at(&ep, fx_url());
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
	         *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048),
	         *k3 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	char *t1 = token_by(k1, "kid-1", &ep), *t2 = token_by(k2, "kid-2", &ep);
	struct err e = {0};
	serve_keys(k1, "kid-1");
	unsigned long f0 = token_cache_fetches();
	for (int i = 0; i < 5; i++)
		CHECK(verifies(t1, &ep, &e));
	CHECK_INT(token_cache_fetches() - f0, 1); /* keys decoded once, then reused */

	/* The issuer rotates to kid-2 and withdraws kid-1. */
	serve_keys(k2, "kid-2");
	CHECK(verifies(t2, &ep, &e));
	CHECK_INT(token_cache_fetches() - f0, 2);
	CHECK(!verifies(t1, &ep, &e));
	CHECK(strstr(e.msg, "unknown signing key kid kid-1") != NULL);
	CHECK_INT(token_cache_fetches() - f0, 2); /* the refetch limit holds */

	/* A key replaced under the same kid: the cached one fails, one refetch finds the new. */
	token_cache_clear();
	serve_keys(k1, "stable");
	char *old = token_by(k1, "stable", &ep), *fresh = token_by(k3, "stable", &ep);
	CHECK(verifies(old, &ep, &e));
	f0 = token_cache_fetches();
	serve_keys(k3, "stable");
	CHECK(verifies(fresh, &ep, &e));
	CHECK_INT(token_cache_fetches() - f0, 1);
	CHECK(verifies(fresh, &ep, &e));
	/* ...and the replaced key no longer verifies, without another fetch. */
	CHECK(!verifies(old, &ep, &e));
	CHECK(strstr(e.msg, "token signature does not verify") != NULL);
	CHECK_INT(token_cache_fetches() - f0, 1);
	/* A forged signature under a known kid cannot make us fetch again and again. */
	for (int i = 0; i < 3; i++)
		CHECK(!verifies(old, &ep, &e));
	CHECK_INT(token_cache_fetches() - f0, 1);

	token_cache_clear();
	free(t1);
	free(t2);
	free(old);
	free(fresh);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	endpoint_free(&ep);
}

static void test_teardown(void)
{
	fx_stop();
	CHECK(fx_request_count() == 0);
}

TESTS(test_request_shape, test_attest_fixtures, test_jwks_fixtures, test_token_verify_cache,
      test_token_keys_follow_rotation, test_teardown)
