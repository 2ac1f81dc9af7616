/* JWS/JWK primitives and RS256 verification: every way a token must be refused. */
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "codec.h"
#include "jsonx.h"
#include "jwt.h"
#include "testlib.h"

#define ISS "https://sharedeus.eus.attest.azure.net"

static EVP_PKEY *good_key, *evil_key;
static long long now;

static EVP_PKEY *keygen(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (!k) {
		fprintf(stderr, "RSA keygen failed\n");
		exit(1);
	}
	return k;
}

static void setup(void)
{
	if (good_key)
		return;
	good_key = keygen(2048);
	evil_key = keygen(2048);
	now = now_unix();
}

static struct json_object *jwks_of(EVP_PKEY *k)
{
	struct json_object *jwks = json_object_new_object(), *keys = json_object_new_array();
	struct json_object *jwk = jwk_public(k);
	jsonx_add_str(jwk, "use", "sig");
	jsonx_add_str(jwk, "alg", "RS256");
	json_object_array_add(keys, jwk);
	jsonx_add(jwks, "keys", keys);
	return jwks;
}

static struct json_object *claims(const char *iss, long long iat, long long nbf, long long exp)
{
	struct json_object *c = json_object_new_object();
	if (iss)
		jsonx_add_str(c, "iss", iss);
	jsonx_add_int(c, "iat", iat);
	jsonx_add_int(c, "nbf", nbf);
	if (exp)
		jsonx_add_int(c, "exp", exp);
	jsonx_add_str(c, "x-ms-attestation-type", "sevsnpvm");
	return c;
}

static char *good_kid(void)
{
	return jwk_thumbprint(good_key);
}

/* A token with a hand-made header, signed with md and padding (or unsigned if !key). */
static char *forge(const char *header, const char *payload, EVP_PKEY *key, const EVP_MD *md,
                   int padding)
{
	char *h = b64_encode(header, strlen(header), B64_URL, B64_PAD_NONE);
	char *p = b64_encode(payload, strlen(payload), B64_URL, B64_PAD_NONE);
	char *input = xasprintf("%s.%s", h, p);
	free(h);
	free(p);
	char *s64 = xstrdup("");
	if (key) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		unsigned char sig[1024];
		size_t siglen = sizeof(sig);
		if (EVP_DigestSignInit(ctx, &pctx, md, NULL, key) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1 ||
		    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input)) != 1) {
			fprintf(stderr, "forge: signing failed\n");
			exit(1);
		}
		EVP_MD_CTX_free(ctx);
		free(s64);
		s64 = b64_encode(sig, siglen, B64_URL, B64_PAD_NONE);
	}
	char *out = xasprintf("%s.%s", input, s64);
	free(input);
	free(s64);
	return out;
}

static char *good_payload(void)
{
	struct json_object *c = claims(ISS, now, now, now + 3600);
	char *s = jsonx_dump(c);
	json_object_put(c);
	return s;
}

/* Verify against the good key's JWKS; returns rc and leaves the message in e. */
static int verify(const char *tok, struct err *e)
{
	struct json_object *jwks = jwks_of(good_key), *c = NULL;
	err_clear(e);
	int rc = jwt_verify_with_jwks(tok, jwks, ISS, now, &c, e);
	json_object_put(jwks);
	json_object_put(c);
	if (rc == 0)
		return 0;
	if (e->code != ERR_UNAUTHORIZED) {
		fprintf(stderr, "  wrong error code %d for: %s\n", e->code, e->msg);
		return -2;
	}
	return rc;
}

#define REJECTED(tok, substr)                                                                      \
	do {                                                                                       \
		struct err tl_e;                                                                   \
		CHECK_INT(verify((tok), &tl_e), -1);                                               \
		CHECK_MSG(strstr(tl_e.msg, (substr)) != NULL, "message \"%s\" lacks \"%s\"",       \
		          tl_e.msg, (substr));                                                     \
	} while (0)

static void test_good_token_verifies(void)
{
	setup();
	char *kid = good_kid();
	struct json_object *c = claims(ISS, now, now, now + 3600), *jwks = jwks_of(good_key);
	char *tok = jwt_sign_rs256(good_key, kid, ISS "/certs", c);
	CHECK(tok != NULL);
	struct json_object *out = NULL;
	struct err e = {0};
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now, &out, &e), 0);
	CHECK_STR(jsonx_str(out, "iss"), ISS);
	CHECK_STR(jsonx_str(out, "x-ms-attestation-type"), "sevsnpvm");

	struct jwt j;
	CHECK_INT(jwt_parse(tok, &j, &e), 0);
	CHECK_STR(jsonx_str(j.header, "alg"), "RS256");
	CHECK_STR(jsonx_str(j.header, "kid"), kid);
	CHECK_STR(jsonx_str(j.header, "jku"), ISS "/certs");
	CHECK_STR(jsonx_str(j.header, "typ"), "JWT");
	CHECK_INT(j.sig_len, 256);
	CHECK(!strncmp(tok, j.signing_input, strlen(j.signing_input)));
	jwt_free(&j);

	/* Within the 60 s skew either side. */
	json_object_put(out);
	out = NULL;
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now + 3600 + 30, &out, &e), 0);
	json_object_put(out);
	out = NULL;
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now - 30, &out, &e), 0);
	json_object_put(out);
	free(tok);
	free(kid);
	json_object_put(c);
	json_object_put(jwks);
}

static void test_alg_none_rejected(void)
{
	setup();
	char *kid = good_kid(), *p = good_payload();
	char *hdr = xasprintf("{\"alg\":\"none\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
	char *tok = forge(hdr, p, NULL, NULL, 0);
	REJECTED(tok, "unsupported alg none");
	free(tok);
	/* "None" and a missing alg too. */
	free(hdr);
	hdr = xasprintf("{\"alg\":\"None\",\"kid\":\"%s\"}", kid);
	tok = forge(hdr, p, NULL, NULL, 0);
	REJECTED(tok, "unsupported alg");
	free(tok);
	free(hdr);
	hdr = xasprintf("{\"kid\":\"%s\"}", kid);
	tok = forge(hdr, p, good_key, EVP_sha256(), RSA_PKCS1_PADDING);
	REJECTED(tok, "no alg");
	free(tok);
	free(hdr);
	free(kid);
	free(p);
}

static void test_hs256_key_confusion_rejected(void)
{
	setup();
	char *kid = good_kid(), *p = good_payload();
	char *hdr = xasprintf("{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
	char *h = b64_encode(hdr, strlen(hdr), B64_URL, B64_PAD_NONE);
	char *p64 = b64_encode(p, strlen(p), B64_URL, B64_PAD_NONE);
	char *input = xasprintf("%s.%s", h, p64);

	/* The classic: HMAC keyed with the verifier's public key (PEM text). */
	BIO *bio = BIO_new(BIO_s_mem());
	CHECK(PEM_write_bio_PUBKEY(bio, good_key) == 1);
	char *pem = NULL;
	long pemlen = BIO_get_mem_data(bio, &pem);
	unsigned char mac[32];
	size_t maclen = 0;
	CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem, (size_t)pemlen,
	                (unsigned char *)input, strlen(input), mac, sizeof(mac), &maclen) != NULL);
	char *m64 = b64_encode(mac, maclen, B64_URL, B64_PAD_NONE);
	char *tok = xasprintf("%s.%s", input, m64);
	REJECTED(tok, "unsupported alg HS256");
	free(tok);
	/* Even labelled RS256, an HMAC is not an RSA signature. */
	free(hdr);
	hdr = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
	free(h);
	h = b64_encode(hdr, strlen(hdr), B64_URL, B64_PAD_NONE);
	tok = xasprintf("%s.%s.%s", h, p64, m64);
	REJECTED(tok, "does not verify");
	free(tok);
	BIO_free(bio);
	free(m64);
	free(input);
	free(p64);
	free(h);
	free(hdr);
	free(kid);
	free(p);
}

static void test_other_rsa_algs_rejected(void)
{
	setup();
	char *kid = good_kid(), *p = good_payload();
	static const struct {
		const char *alg;
		int sha;
		int pad;
	} cases[] = {
	    {"RS384", 384, RSA_PKCS1_PADDING},
	    {"RS512", 512, RSA_PKCS1_PADDING},
	    {"PS256", 256, RSA_PKCS1_PSS_PADDING},
	    {"rs256", 256, RSA_PKCS1_PADDING},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		const EVP_MD *md = cases[i].sha == 384   ? EVP_sha384()
		                   : cases[i].sha == 512 ? EVP_sha512()
		                                         : EVP_sha256();
		char *hdr = xasprintf("{\"alg\":\"%s\",\"kid\":\"%s\"}", cases[i].alg, kid);
		char *tok = forge(hdr, p, good_key, md, cases[i].pad);
		REJECTED(tok, "unsupported alg");
		free(tok);
		free(hdr);
		/* The same signature under an RS256 label must not verify either. */
		hdr = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
		tok = forge(hdr, p, good_key, md, cases[i].pad);
		if (cases[i].sha != 256 || cases[i].pad != RSA_PKCS1_PADDING)
			REJECTED(tok, "does not verify");
		free(tok);
		free(hdr);
	}
	free(kid);
	free(p);
}

static char *signed_claims(struct json_object *c)
{
	char *kid = good_kid();
	char *tok = jwt_sign_rs256(good_key, kid, NULL, c);
	free(kid);
	json_object_put(c);
	return tok;
}

static void test_time_checks(void)
{
	setup();
	char *tok = signed_claims(claims(ISS, now - 7200, now - 7200, now - 120));
	REJECTED(tok, "token expired at ");
	free(tok);
	tok = signed_claims(claims(ISS, now, now, 0));
	REJECTED(tok, "no numeric exp");
	free(tok);
	tok = signed_claims(claims(ISS, now, now + 600, now + 3600));
	REJECTED(tok, "not valid before");
	free(tok);
	tok = signed_claims(claims(ISS, now + 600, now, now + 3600));
	REJECTED(tok, "issued in the future");
	free(tok);
	/* A string exp is not a time. */
	struct json_object *c = claims(ISS, now, now, 0);
	jsonx_add_str(c, "exp", "99999999999");
	tok = signed_claims(c);
	REJECTED(tok, "no numeric exp");
	free(tok);
	/* Extreme values must not overflow the arithmetic. */
	c = claims(ISS, now, now, 0);
	jsonx_add_int(c, "exp", INT64_MIN);
	json_object_object_add(c, "nbf", json_object_new_int64(INT64_MAX));
	tok = signed_claims(c);
	REJECTED(tok, "expired");
	free(tok);
	c = claims(ISS, INT64_MAX, INT64_MAX, INT64_MAX);
	tok = signed_claims(c);
	REJECTED(tok, "not valid before");
	free(tok);
}

static void test_wrong_issuer_rejected(void)
{
	setup();
	char *tok = signed_claims(claims("https://evil.attest.azure.net", now, now, now + 3600));
	REJECTED(tok, "token issuer https://evil.attest.azure.net is not the trusted " ISS);
	free(tok);
	tok = signed_claims(claims(ISS "/", now, now, now + 3600));
	REJECTED(tok, "is not the trusted");
	free(tok);
	tok = signed_claims(claims(NULL, now, now, now + 3600));
	REJECTED(tok, "no iss");
	free(tok);
}

static void test_unknown_kid_rejected(void)
{
	setup();
	struct json_object *c = claims(ISS, now, now, now + 3600);
	char *tok = jwt_sign_rs256(good_key, "some-other-kid", NULL, c);
	REJECTED(tok, "unknown signing key kid some-other-kid");
	free(tok);
	tok = jwt_sign_rs256(good_key, NULL, NULL, c);
	REJECTED(tok, "no kid");
	free(tok);
	json_object_put(c);
}

static void test_tampered_payload_rejected(void)
{
	setup();
	char *tok = signed_claims(claims(ISS, now, now, now + 3600));
	char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
	struct json_object *c = claims(ISS, now, now, now + 3600);
	jsonx_add_str(c, "x-ms-attestation-type", "azurevm");
	char *p = jsonx_dump(c);
	char *p64 = b64_encode(p, strlen(p), B64_URL, B64_PAD_NONE);
	char *forged = xasprintf("%.*s.%s%s", (int)(d1 - tok), tok, p64, d2);
	REJECTED(forged, "token signature does not verify");
	free(forged);
	free(p64);
	free(p);
	json_object_put(c);
	free(tok);
}

static void test_tampered_signature_rejected(void)
{
	setup();
	char *tok = signed_claims(claims(ISS, now, now, now + 3600));
	char *sig = strrchr(tok, '.') + 1;
	sig[10] = sig[10] == 'A' ? 'B' : 'A';
	REJECTED(tok, "does not verify");
	/* A truncated signature. */
	sig[12] = '\0';
	REJECTED(tok, "does not verify");
	/* An empty signature. */
	sig[0] = '\0';
	REJECTED(tok, "does not verify");
	free(tok);
}

static void test_malformed_rejected(void)
{
	setup();
	char *good = signed_claims(claims(ISS, now, now, now + 3600));
	char *two = xstrndup(good, (size_t)(strrchr(good, '.') - good));
	REJECTED(two, "three");
	char *four = xasprintf("%s.AAAA", good);
	REJECTED(four, "more than three");
	REJECTED("", "no token");
	REJECTED("..", "malformed");
	REJECTED("!!!.e30.AAAA", "not base64url");
	REJECTED("eyJhbGciOiJSUzI1NiJ9.e30=.AAAA", "not base64url"); /* padding forbidden */
	REJECTED("eyJhbGciOiJSUzI1NiJ9.e30.AA+A", "not base64url");
	/* Header "[1]" and payload "[1]", "\"s\"": valid JSON, not objects. */
	REJECTED("WzFd.e30.AAAA", "header is not a JSON object");
	REJECTED("eyJhbGciOiJSUzI1NiJ9.WzFd.AAAA", "payload is not a JSON object");
	REJECTED("eyJhbGciOiJSUzI1NiJ9.InMi.AAAA", "payload is not a JSON object");
	/* Header {"alg":"RS256"} followed by trailing garbage. */
	REJECTED("eyJhbGciOiJSUzI1NiJ9eA.e30.AAAA", "malformed");
	size_t big = JWT_MAX_LEN + 100;
	char *huge = xmalloc(big + 1);
	memset(huge, 'A', big);
	huge[10] = '.';
	huge[20] = '.';
	huge[big] = '\0';
	REJECTED(huge, "longer than");
	struct jwt j;
	struct err e;
	CHECK_INT(jwt_parse(NULL, &j, &e), -1);
	free(huge);
	free(four);
	free(two);
	free(good);
}

static void test_token_key_hints_ignored(void)
{
	setup();
	/* Attacker signs with their key and points jku/jwk/x5c at it: judged only by our JWKS. */
	char *evil_kid = jwk_thumbprint(evil_key), *kid = good_kid(), *p = good_payload();
	struct json_object *evil_jwk = jwk_public(evil_key);
	char *ej = jsonx_dump(evil_jwk);
	char *hdr =
	    xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jku\":\"https://evil.example/certs\","
	              "\"jwk\":%s}",
	              evil_kid, ej);
	char *tok = forge(hdr, p, evil_key, EVP_sha256(), RSA_PKCS1_PADDING);
	REJECTED(tok, "unknown signing key kid");
	free(tok);
	free(hdr);
	/* Same, claiming our kid. */
	hdr = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jku\":\"https://evil.example/certs\","
	                "\"jwk\":%s}",
	                kid, ej);
	tok = forge(hdr, p, evil_key, EVP_sha256(), RSA_PKCS1_PADDING);
	REJECTED(tok, "does not verify");
	free(tok);
	free(hdr);
	/* And a token with a header we do not understand (crit) is refused even if signed well. */
	hdr = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}", kid);
	tok = forge(hdr, p, good_key, EVP_sha256(), RSA_PKCS1_PADDING);
	REJECTED(tok, "crit");
	free(tok);
	free(hdr);
	/* Sanity: the forge helper makes tokens that do verify when signed right. */
	hdr = xasprintf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"jku\":\"https://evil.example/certs\"}",
	                kid);
	tok = forge(hdr, p, good_key, EVP_sha256(), RSA_PKCS1_PADDING);
	struct err e;
	CHECK_INT(verify(tok, &e), 0);
	free(tok);
	free(hdr);
	free(ej);
	json_object_put(evil_jwk);
	free(evil_kid);
	free(kid);
	free(p);
}

static void test_jwks_key_filters(void)
{
	setup();
	char *kid = good_kid();
	struct json_object *c = claims(ISS, now, now, now + 3600);
	char *tok = jwt_sign_rs256(good_key, kid, NULL, c);
	struct json_object *out = NULL;
	struct err e;
	/* A key marked for encryption or another alg is not a signing key. */
	struct json_object *jwks = jwks_of(good_key);
	struct json_object *k = json_object_array_get_idx(jsonx_arr(jwks, "keys"), 0);
	jsonx_add_str(k, "use", "enc");
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now, &out, &e), -1);
	CHECK(strstr(e.msg, "unknown signing key") != NULL);
	jsonx_add_str(k, "use", "sig");
	jsonx_add_str(k, "alg", "PS256");
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now, &out, &e), -1);
	json_object_put(jwks);
	/* Two keys with the same kid (rotation): the right one is found. */
	jwks = jwks_of(evil_key);
	struct json_object *mine = jwk_public(good_key);
	jsonx_add_str(json_object_array_get_idx(jsonx_arr(jwks, "keys"), 0), "kid", kid);
	json_object_array_add(jsonx_arr(jwks, "keys"), mine);
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now, &out, &e), 0);
	json_object_put(out);
	out = NULL;
	CHECK(jwks_find_kid(jwks, kid) != NULL);
	CHECK(jwks_find_kid(jwks, "nope") == NULL);
	json_object_put(jwks);
	/* No JWKS at all. */
	CHECK_INT(jwt_verify_with_jwks(tok, NULL, ISS, now, &out, &e), -1);
	CHECK_INT(jwt_verify_with_jwks(tok, NULL, NULL, now, &out, &e), -1);
	CHECK(out == NULL);
	free(tok);
	json_object_put(c);
	free(kid);
}

static void test_rfc7638_thumbprint(void)
{
	static const char *n =
	    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc"
	    "_"
	    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
	    "65YGjQR0_"
	    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk"
	    "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
	    "kEgU8awapJzKnqDKgw";
	struct json_object *jwk = json_object_new_object();
	jsonx_add_str(jwk, "kty", "RSA");
	jsonx_add_str(jwk, "n", n);
	jsonx_add_str(jwk, "e", "AQAB");
	jsonx_add_str(jwk, "alg", "RS256");
	jsonx_add_str(jwk, "kid", "2011-04-29");
	struct err e;
	EVP_PKEY *pk = jwk_to_public_pkey(jwk, &e);
	CHECK(pk != NULL);
	char *tp = jwk_thumbprint(pk);
	CHECK_STR(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	struct json_object *pub = jwk_public(pk);
	CHECK_STR(jsonx_str(pub, "n"), n);
	CHECK_STR(jsonx_str(pub, "e"), "AQAB");
	CHECK_STR(jsonx_str(pub, "kid"), tp);
	CHECK_INT(json_object_object_length(pub), 4);
	json_object_put(pub);
	free(tp);
	EVP_PKEY_free(pk);
	json_object_put(jwk);
}

static void test_jwk_public_has_no_private_members(void)
{
	setup();
	struct json_object *pub = jwk_public(good_key);
	static const char *priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};
	for (size_t i = 0; i < NELEM(priv); i++)
		CHECK(!json_object_object_get_ex(pub, priv[i], NULL));
	json_object_put(pub);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(jwk_public(ec) == NULL);
	CHECK(jwk_thumbprint(ec) == NULL);
	struct json_object *c = json_object_new_object();
	CHECK(jwt_sign_rs256(ec, "k", NULL, c) == NULL);
	json_object_put(c);
	EVP_PKEY_free(ec);
}

static char *self_signed_b64(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	X509_sign(x, k, EVP_sha256());
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	char *s = b64_encode(der, (size_t)n, B64_STD, B64_PAD_REQUIRED);
	OPENSSL_free(der);
	X509_free(x);
	return s;
}

static void test_jwk_from_x5c(void)
{
	setup();
	char *cert = self_signed_b64(good_key), *kid = good_kid();
	struct json_object *jwk = json_object_new_object(), *x5c = json_object_new_array();
	json_object_array_add(x5c, json_object_new_string(cert));
	jsonx_add_str(jwk, "kty", "RSA");
	jsonx_add_str(jwk, "kid", kid);
	jsonx_add(jwk, "x5c", x5c);
	struct err e;
	EVP_PKEY *pk = jwk_to_public_pkey(jwk, &e);
	CHECK(pk != NULL && EVP_PKEY_eq(pk, good_key) == 1);
	EVP_PKEY_free(pk);

	/* An MAA-style JWKS (x5c, no n/e) verifies a token. */
	struct json_object *jwks = json_object_new_object(), *keys = json_object_new_array();
	json_object_array_add(keys, json_object_get(jwk));
	jsonx_add(jwks, "keys", keys);
	struct json_object *c = claims(ISS, now, now, now + 3600), *out = NULL;
	char *tok = jwt_sign_rs256(good_key, kid, NULL, c);
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now, &out, &e), 0);
	json_object_put(out);

	/* n/e of another key next to this x5c: refused. */
	struct json_object *evil = jwk_public(evil_key);
	jsonx_add_str(jwk, "n", jsonx_str(evil, "n"));
	jsonx_add_str(jwk, "e", jsonx_str(evil, "e"));
	CHECK(jwk_to_public_pkey(jwk, &e) == NULL);
	CHECK(strstr(e.msg, "different keys") != NULL);
	json_object_put(evil);

	/* Broken x5c, other kty, small keys. */
	struct json_object *bad = json_object_new_object(), *bx = json_object_new_array();
	json_object_array_add(bx, json_object_new_string("AAAA"));
	jsonx_add(bad, "x5c", bx);
	CHECK(jwk_to_public_pkey(bad, &e) == NULL);
	jsonx_add_str(bad, "kty", "EC");
	CHECK(jwk_to_public_pkey(bad, &e) == NULL);
	CHECK(strstr(e.msg, "not RSA") != NULL);
	json_object_put(bad);
	EVP_PKEY *small = keygen(1024);
	struct json_object *sj = jwk_public(small);
	CHECK(jwk_to_public_pkey(sj, &e) == NULL);
	CHECK(strstr(e.msg, "bits") != NULL);
	json_object_put(sj);
	EVP_PKEY_free(small);
	CHECK(jwk_to_public_pkey(NULL, &e) == NULL);

	free(tok);
	json_object_put(c);
	json_object_put(jwks);
	json_object_put(jwk);
	free(kid);
	free(cert);
}

/* A decoded key set: filters, decoded once, why a member is unusable, and what the
 * signature check answers (JWT_SIG_NO_MATCH only when keys carry the kid). */
static void test_keyset(void)
{
	setup();
	char *kid = good_kid();
	struct json_object *jwks = jwks_of(good_key), *keys = jsonx_arr(jwks, "keys");
	struct json_object *unusable = json_object_new_object();
	jsonx_add_str(unusable, "kid", "broken");
	jsonx_add_str(unusable, "kty", "RSA");
	jsonx_add_str(unusable, "n", "AAAA");
	jsonx_add_str(unusable, "e", "AQAB");
	json_object_array_add(keys, unusable);
	struct json_object *enc = jwk_public(evil_key);
	jsonx_add_str(enc, "use", "enc");
	json_object_array_add(keys, enc);
	struct jwk_keyset ks;
	jwk_keyset_from_jwks(jwks, NULL, &ks);
	CHECK_INT(ks.n, 2); /* the "enc" key is not a signing key */
	CHECK(ks.n == 2 && ks.v[0].pk && !strcmp(ks.v[0].kid, kid));
	CHECK(ks.n == 2 && !ks.v[1].pk && ks.v[1].why[0]);

	struct json_object *c = claims(ISS, now, now, now + 3600), *out = NULL;
	char *tok = jwt_sign_rs256(good_key, kid, NULL, c);
	char *forged = jwt_sign_rs256(evil_key, kid, NULL, c);
	char *broken = jwt_sign_rs256(good_key, "broken", NULL, c);
	char *nokey = jwt_sign_rs256(good_key, "nokey", NULL, c);
	struct jwt j;
	struct err e = {0};
	CHECK(jwt_parse(tok, &j, &e) == 0);
	CHECK_INT(jwt_verify_signature(&j, &ks, &e), 0);
	CHECK_INT(jwt_check_claims(&j, ISS, now, &out, &e), 0);
	CHECK_STR(jsonx_str(out, "iss"), ISS);
	json_object_put(out);
	CHECK_INT(jwt_check_claims(&j, "https://other", now, &out, &e), -1);
	CHECK(out == NULL);
	jwt_free(&j);
	CHECK(jwt_parse(forged, &j, &e) == 0);
	CHECK_INT(jwt_verify_signature(&j, &ks, &e), JWT_SIG_NO_MATCH);
	CHECK_STR(e.msg, "token signature does not verify");
	jwt_free(&j);
	CHECK(jwt_parse(broken, &j, &e) == 0);
	CHECK_INT(jwt_verify_signature(&j, &ks, &e), JWT_SIG_NO_MATCH);
	CHECK(strstr(e.msg, "is unusable") != NULL);
	jwt_free(&j);
	CHECK(jwt_parse(nokey, &j, &e) == 0);
	CHECK_INT(jwt_verify_signature(&j, &ks, &e), -1);
	CHECK(strstr(e.msg, "unknown signing key kid nokey") != NULL);
	jwt_free(&j);
	jwk_keyset_free(&ks);

	/* Filtered by kid: only that member is decoded. */
	jwk_keyset_from_jwks(jwks, "broken", &ks);
	CHECK(ks.n == 1 && !strcmp(ks.v[0].kid, "broken"));
	jwk_keyset_free(&ks);
	jwk_keyset_from_jwks(NULL, NULL, &ks);
	CHECK_INT(ks.n, 0);
	jwk_keyset_free(&ks);
	free(tok);
	free(forged);
	free(broken);
	free(nokey);
	json_object_put(c);
	json_object_put(jwks);
	free(kid);
}

static void test_teardown(void)
{
	EVP_PKEY_free(good_key);
	EVP_PKEY_free(evil_key);
	good_key = evil_key = NULL;
}

/* A caller's own header is signed as given (member order kept); alg must say RS256. */
static void test_sign_with_caller_header(void)
{
	setup();
	char *kid = good_kid();
	struct json_object *c = claims(ISS, now, now, now + 3600), *jwks = jwks_of(good_key);
	struct json_object *hdr = json_object_new_object();
	jsonx_add_str(hdr, "alg", "RS256");
	jsonx_add_str(hdr, "kid", kid);
	jsonx_add_str(hdr, "x5t#S256", "abc");
	char *tok = jwt_sign_rs256_header(good_key, hdr, c);
	CHECK(tok != NULL);
	char *h = jsonx_dump(hdr);
	char *h64 = b64_encode(h, strlen(h), B64_URL, B64_PAD_NONE);
	CHECK(tok && !strncmp(tok, h64, strlen(h64)) && tok[strlen(h64)] == '.');
	struct json_object *out = NULL;
	struct err e = {0};
	CHECK_INT(jwt_verify_with_jwks(tok, jwks, ISS, now, &out, &e), 0);
	json_object_put(out);
	free(tok);
	free(h);
	free(h64);
	static const char *const bad_alg[] = {"none", "RS384", "PS256", "HS256", "rs256"};
	for (size_t i = 0; i < NELEM(bad_alg); i++) {
		jsonx_add_str(hdr, "alg", bad_alg[i]);
		CHECK(jwt_sign_rs256_header(good_key, hdr, c) == NULL);
	}
	json_object_object_del(hdr, "alg");
	CHECK(jwt_sign_rs256_header(good_key, hdr, c) == NULL);
	json_object_put(hdr);
	json_object_put(c);
	json_object_put(jwks);
	free(kid);
}

TESTS(test_good_token_verifies, test_alg_none_rejected, test_hs256_key_confusion_rejected,
      test_other_rsa_algs_rejected, test_time_checks, test_wrong_issuer_rejected,
      test_unknown_kid_rejected, test_tampered_payload_rejected, test_tampered_signature_rejected,
      test_malformed_rejected, test_token_key_hints_ignored, test_jwks_key_filters,
      test_rfc7638_thumbprint, test_jwk_public_has_no_private_members, test_jwk_from_x5c,
      test_sign_with_caller_header, test_keyset, test_teardown)
