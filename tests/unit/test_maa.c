/* MAA client request shape and error mapping, and token_verify's JWKS cache, against a
 * canned HTTP peer on a loopback port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "jsonx.h"
#include "jwt.h"
#include "maa.h"
#include "testlib.h"
#include "token.h"

/* ---- a one-connection-at-a-time HTTP peer with canned answers ---- */

static int srv_fd = -1, srv_port;
static pthread_t srv_thread;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static int certs_status = 200, attest_status = 200;
static char *certs_body, *attest_body; /* guarded by srv_lock */
static int certs_hits, attest_hits;
static char *last_target, *last_ctype, *last_body;

static void set_str(char **dst, const char *v)
{
	pthread_mutex_lock(&srv_lock);
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
	pthread_mutex_unlock(&srv_lock);
}

static void serve_one(int c)
{
	struct buf in;
	buf_init(&in);
	char tmp[4096];
	char *hend = NULL;
	size_t clen = 0;
	for (;;) {
		ssize_t n = read(c, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		buf_append(&in, tmp, (size_t)n);
		if (!hend && (hend = strstr((char *)in.p, "\r\n\r\n"))) {
			char *cl = strcasestr((char *)in.p, "\r\nContent-Length:");
			if (cl && cl < hend)
				clen = strtoul(cl + 17, NULL, 10);
		}
		if (hend && in.len >= (size_t)(hend + 4 - (char *)in.p) + clen)
			break;
		hend = NULL;
	}
	hend = strstr((char *)in.p ? (char *)in.p : "", "\r\n\r\n");
	if (!hend) {
		buf_free(&in);
		return;
	}
	char *sp1 = strchr((char *)in.p, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	char *target = sp2 ? xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1)) : xstrdup("");
	char *ct = strcasestr((char *)in.p, "\r\nContent-Type: ");
	int status;
	char *body;
	pthread_mutex_lock(&srv_lock);
	free(last_target);
	free(last_ctype);
	free(last_body);
	last_target = xstrdup(target);
	last_ctype = ct && ct < hend ? xstrndup(ct + 16, strcspn(ct + 16, "\r")) : NULL;
	last_body = xstrdup(hend + 4);
	if (!strncmp(target, "/certs", 6)) {
		certs_hits++;
		status = certs_status;
		body = xstrdup(certs_body ? certs_body : "{}");
	} else if (!strncmp(target, "/attest/", 8)) {
		attest_hits++;
		status = attest_status;
		body = xstrdup(attest_body ? attest_body : "{}");
	} else {
		status = 404;
		body = xstrdup("{}");
	}
	pthread_mutex_unlock(&srv_lock);
	char *resp = xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
	                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                       status, strlen(body), body);
	ssize_t w = write(c, resp, strlen(resp));
	(void)w;
	free(resp);
	free(body);
	free(target);
	buf_free(&in);
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

static void srv_start(void)
{
	if (srv_fd >= 0)
		return;
	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(srv_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(srv_fd, 8) != 0 ||
	    getsockname(srv_fd, (struct sockaddr *)&a, &al) != 0) {
		perror("test server");
		exit(1);
	}
	srv_port = ntohs(a.sin_port);
	pthread_create(&srv_thread, NULL, serve, NULL);
}

static void endpoint_at(struct endpoint *ep, int port)
{
	struct err e;
	char *url = xasprintf("http://127.0.0.1:%d", port);
	if (config_parse_endpoint("TEST_MAA", url, ep, &e) != 0) {
		fprintf(stderr, "endpoint: %s\n", e.msg);
		exit(1);
	}
	free(url);
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

/* ---- maa_attest over HTTP ---- */

static void test_attest_http(void)
{
	srv_start();
	struct endpoint ep;
	endpoint_at(&ep, srv_port);
	uint8_t rep[SNP_REPORT_SIZE];
	fake_report(rep);
	const char *rt = "{\"keys\":[]}";
	char *jwt = NULL;
	struct err e = {0};

	attest_status = 200;
	set_str(&attest_body, "{\"token\":\"aaa.bbb.ccc\"}");
	CHECK_INT(maa_attest(&ep, rep, chain, (const uint8_t *)rt, strlen(rt), NULL, &jwt, &e), 0);
	CHECK_STR(jwt, "aaa.bbb.ccc");
	free(jwt);
	jwt = NULL;
	pthread_mutex_lock(&srv_lock);
	CHECK_STR(last_target, "/attest/SevSnpVm?api-version=2022-08-01");
	CHECK_STR(last_ctype, "application/json");
	struct json_object *sent = NULL;
	CHECK(last_body && jsonx_parse(last_body, strlen(last_body), &sent, &e) == 0);
	pthread_mutex_unlock(&srv_lock);
	CHECK_STR(jsonx_str(jsonx_obj(sent, "runtimeData"), "dataType"), "JSON");
	json_object_put(sent);

	attest_status = 400;
	set_str(&attest_body, "{\"error\":{\"code\":\"InvalidParameter\","
	                      "\"message\":\"report_data does not match runtime data\"}}");
	err_clear(&e);
	CHECK_INT(maa_attest(&ep, rep, chain, (const uint8_t *)rt, strlen(rt), NULL, &jwt, &e), -1);
	CHECK_INT(e.code, ERR_VERIFY);
	CHECK_INT(e.upstream_status, 400);
	CHECK_STR(e.msg, "attestation service rejected the evidence: InvalidParameter: "
	                 "report_data does not match runtime data");
	CHECK(jwt == NULL);

	attest_status = 503;
	set_str(&attest_body, "upstream \x01 down");
	err_clear(&e);
	CHECK_INT(maa_attest(&ep, rep, chain, NULL, 0, NULL, &jwt, &e), -1);
	/* A busy service: unavailable, and its body (an error page, say) is summarised, never
	 * quoted. */
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK_INT(e.upstream_status, 503);
	CHECK(strstr(e.msg, "HTTP 503 Service Unavailable") && !strstr(e.msg, "down"));

	attest_status = 401;
	set_str(&attest_body, "");
	CHECK_INT(maa_attest(&ep, rep, chain, NULL, 0, NULL, &jwt, &e), -1);
	CHECK_INT(e.code, ERR_FORBIDDEN);

	attest_status = 200;
	set_str(&attest_body, "{\"token\":42}");
	CHECK_INT(maa_attest(&ep, rep, chain, NULL, 0, NULL, &jwt, &e), -1);
	CHECK_INT(e.code, ERR_UPSTREAM);
	endpoint_free(&ep);

	/* Nobody listening. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(getsockname(s, (struct sockaddr *)&a, &al) == 0);
	endpoint_at(&ep, ntohs(a.sin_port));
	close(s);
	err_clear(&e);
	CHECK_INT(maa_attest(&ep, rep, chain, NULL, 0, NULL, &jwt, &e), -1);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	endpoint_free(&ep);
	struct endpoint unset = {0};
	CHECK_INT(maa_attest(&unset, rep, chain, NULL, 0, NULL, &jwt, &e), -1);
}

/* ---- token_verify and its JWKS cache ---- */

static void test_token_verify_cache(void)
{
	srv_start();
	token_cache_clear();
	struct endpoint ep;
	endpoint_at(&ep, srv_port);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	char *kid = jwk_thumbprint(k);
	struct json_object *jwks = json_object_new_object(), *keys = json_object_new_array();
	json_object_array_add(keys, jwk_public(k));
	jsonx_add(jwks, "keys", keys);
	char *js = jsonx_dump(jwks);
	json_object_put(jwks);
	certs_status = 200;
	set_str(&certs_body, js);
	free(js);

	long long t = now_unix();
	struct json_object *c = json_object_new_object();
	jsonx_add_str(c, "iss", ep.url);
	jsonx_add_int(c, "iat", t);
	jsonx_add_int(c, "exp", t + 600);
	/* The token's jku points elsewhere: it must not matter. */
	char *tok = jwt_sign_rs256(k, kid, "http://127.0.0.1:1/certs", c);
	char *other = jwt_sign_rs256(k, "rotated-kid", NULL, c);
	json_object_put(c);

	struct json_object *claims = NULL;
	struct err e = {0};
	int hits0 = certs_hits;
	CHECK_INT(token_verify(tok, &ep, &claims, &e), 0);
	CHECK_STR(jsonx_str(claims, "iss"), ep.url);
	json_object_put(claims);
	CHECK_INT(token_verify(tok, &ep, &claims, &e), 0);
	json_object_put(claims);
	CHECK_INT(certs_hits - hits0, 1); /* cached */

	CHECK_INT(token_verify(other, &ep, &claims, &e), -1);
	CHECK(strstr(e.msg, "unknown signing key kid rotated-kid") != NULL);
	CHECK_INT(certs_hits - hits0, 2); /* one refetch for the unknown kid */
	CHECK_INT(token_verify(other, &ep, &claims, &e), -1);
	CHECK_INT(certs_hits - hits0, 2); /* ...and not again within 30 s */
	CHECK(claims == NULL);

	/* Keys unavailable: fail closed. */
	token_cache_clear();
	certs_status = 500;
	err_clear(&e);
	CHECK_INT(token_verify(tok, &ep, &claims, &e), -1);
	CHECK_INT(e.code, ERR_UPSTREAM);
	CHECK_INT(e.upstream_status, 500);
	certs_status = 200;
	set_str(&certs_body, "{\"nokeys\":1}");
	CHECK_INT(token_verify(tok, &ep, &claims, &e), -1);
	CHECK_INT(e.code, ERR_UPSTREAM);
	CHECK_INT(token_verify("garbage", &ep, &claims, &e), -1);
	CHECK_INT(e.code, ERR_UNAUTHORIZED);
	struct endpoint unset = {0};
	CHECK_INT(token_verify(tok, &unset, &claims, &e), -1);

	token_cache_clear();
	free(tok);
	free(other);
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
	char *js = jsonx_dump(jwks);
	json_object_put(jwks);
	certs_status = 200;
	set_str(&certs_body, js);
	free(js);
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
	srv_start();
	token_cache_clear();
	struct endpoint ep;
	endpoint_at(&ep, srv_port);
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
	if (srv_fd >= 0) {
		shutdown(srv_fd, SHUT_RDWR);
		close(srv_fd);
		pthread_join(srv_thread, NULL);
	}
	set_str(&certs_body, NULL);
	set_str(&attest_body, NULL);
	free(last_target);
	free(last_ctype);
	free(last_body);
}

TESTS(test_request_shape, test_attest_http, test_token_verify_cache,
      test_token_keys_follow_rotation, test_teardown)
