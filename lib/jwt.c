#include "jwt.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "jsonx.h"

#define JWT_MIN_RSA_BITS 2048

void jwt_free(struct jwt *j)
{
	if (!j)
		return;
	json_object_put(j->header);
	json_object_put(j->payload);
	free(j->signing_input);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}

/* Decode one b64url-raw segment holding a JSON object. */
static int segment_json(const char *s, size_t n, const char *what, struct json_object **out,
                        struct err *e)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	*out = NULL;
	if (b64_decode(s, n, B64_URL, B64_PAD_NONE, &raw, &rawlen) != 0)
		return err_set(e, ERR_UNAUTHORIZED, "malformed token: %s is not base64url", what);
	struct json_object *o = NULL;
	int rc = jsonx_parse((const char *)raw, rawlen, &o, e);
	free(raw);
	if (rc != 0) {
		e->code = ERR_UNAUTHORIZED;
		return err_wrap(e, "malformed token %s", what);
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return err_set(e, ERR_UNAUTHORIZED, "malformed token: %s is not a JSON object",
		               what);
	}
	*out = o;
	return 0;
}

int jwt_parse(const char *compact, struct jwt *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!compact || !*compact)
		return err_set(e, ERR_UNAUTHORIZED, "no token");
	size_t len = strnlen(compact, JWT_MAX_LEN + 1);
	if (len > JWT_MAX_LEN)
		return err_set(e, ERR_UNAUTHORIZED, "token longer than %d bytes", JWT_MAX_LEN);
	const char *d1 = memchr(compact, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - compact)) : NULL;
	if (!d2)
		return err_set(e, ERR_UNAUTHORIZED,
		               "malformed token: not three dot-separated parts");
	const char *sig = d2 + 1;
	size_t siglen = len - (size_t)(sig - compact);
	if (memchr(sig, '.', siglen))
		return err_set(e, ERR_UNAUTHORIZED, "malformed token: more than three parts");

	struct jwt j = {0};
	if (segment_json(compact, (size_t)(d1 - compact), "header", &j.header, e) != 0 ||
	    segment_json(d1 + 1, (size_t)(d2 - d1 - 1), "payload", &j.payload, e) != 0)
		goto fail;
	if (b64_decode(sig, siglen, B64_URL, B64_PAD_NONE, &j.sig, &j.sig_len) != 0) {
		err_set(e, ERR_UNAUTHORIZED, "malformed token: signature is not base64url");
		goto fail;
	}
	j.signing_input = xstrndup(compact, (size_t)(d2 - compact));
	*out = j;
	return 0;
fail:
	jwt_free(&j);
	return -1;
}

static int rsa_pkcs1_ctx(EVP_MD_CTX *ctx, EVP_PKEY *key, int sign)
{
	EVP_PKEY_CTX *pctx = NULL;
	int ok = sign ? EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key)
	              : EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key);
	/* Pin the padding: the key object must not be able to select PSS. */
	return ok == 1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 ? 0 : -1;
}

char *jwt_sign_rs256_header(EVP_PKEY *key, struct json_object *header, struct json_object *payload)
{
	const char *alg = jsonx_str(header, "alg");
	if (!key || !payload || !EVP_PKEY_is_a(key, "RSA") || !alg || strcmp(alg, "RS256"))
		return NULL;
	char *h = jsonx_dump(header), *p = jsonx_dump(payload);
	char *h64 = b64_encode(h, strlen(h), B64_URL, B64_PAD_NONE);
	char *p64 = b64_encode(p, strlen(p), B64_URL, B64_PAD_NONE);
	char *input = xasprintf("%s.%s", h64, p64);
	free(h);
	free(p);
	free(h64);
	free(p64);

	char *out = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || rsa_pkcs1_ctx(ctx, key, 1) != 0 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1)
		goto done;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1)
		goto done;
	char *s64 = b64_encode(sig, siglen, B64_URL, B64_PAD_NONE);
	out = xasprintf("%s.%s", input, s64);
	free(s64);
done:
	EVP_MD_CTX_free(ctx);
	free(sig);
	free(input);
	return out;
}

char *jwt_sign_rs256(EVP_PKEY *key, const char *kid, const char *jku, struct json_object *payload)
{
	struct json_object *hdr = json_object_new_object();
	jsonx_add_str(hdr, "alg", "RS256");
	if (jku)
		jsonx_add_str(hdr, "jku", jku);
	if (kid)
		jsonx_add_str(hdr, "kid", kid);
	jsonx_add_str(hdr, "typ", "JWT");
	char *out = jwt_sign_rs256_header(key, hdr, payload);
	json_object_put(hdr);
	return out;
}

/* b64url-raw of an RSA key parameter ("n" or "e") as an unsigned big-endian integer. */
static char *rsa_param_b64(EVP_PKEY *key, const char *name)
{
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1 || !bn)
		return NULL;
	int n = BN_num_bytes(bn);
	unsigned char *raw = xmalloc(n > 0 ? (size_t)n : 1);
	BN_bn2bin(bn, raw);
	char *s = b64_encode(raw, (size_t)n, B64_URL, B64_PAD_NONE);
	free(raw);
	BN_free(bn);
	return s;
}

char *jwk_thumbprint(EVP_PKEY *key)
{
	if (!key || !EVP_PKEY_is_a(key, "RSA"))
		return NULL;
	char *n = rsa_param_b64(key, OSSL_PKEY_PARAM_RSA_N);
	char *e = rsa_param_b64(key, OSSL_PKEY_PARAM_RSA_E);
	char *out = NULL;
	if (n && e) {
		/* RFC 7638 §3: required members only, lexicographic order, no whitespace. */
		char *canon = xasprintf("{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, n);
		unsigned char md[SHA256_DIGEST_LENGTH];
		SHA256((const unsigned char *)canon, strlen(canon), md);
		out = b64_encode(md, sizeof(md), B64_URL, B64_PAD_NONE);
		free(canon);
	}
	free(n);
	free(e);
	return out;
}

struct json_object *jwk_public(EVP_PKEY *key)
{
	if (!key || !EVP_PKEY_is_a(key, "RSA"))
		return NULL;
	char *n = rsa_param_b64(key, OSSL_PKEY_PARAM_RSA_N);
	char *e = rsa_param_b64(key, OSSL_PKEY_PARAM_RSA_E);
	char *kid = jwk_thumbprint(key);
	struct json_object *o = NULL;
	if (n && e && kid) {
		o = json_object_new_object();
		jsonx_add_str(o, "kty", "RSA");
		jsonx_add_str(o, "e", e);
		jsonx_add_str(o, "n", n);
		jsonx_add_str(o, "kid", kid);
	}
	free(n);
	free(e);
	free(kid);
	return o;
}

static BIGNUM *b64_bn(const char *s)
{
	unsigned char *raw = NULL;
	size_t n = 0;
	if (!s || !*s || b64_decode(s, strlen(s), B64_URL, B64_PAD_ANY, &raw, &n) != 0)
		return NULL;
	BIGNUM *bn = n <= INT32_MAX ? BN_bin2bn(raw, (int)n, NULL) : NULL;
	free(raw);
	return bn;
}

static EVP_PKEY *pkey_from_ne(const char *n64, const char *e64, struct err *e)
{
	BIGNUM *n = b64_bn(n64), *ex = b64_bn(e64);
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	if (!n || !ex || BN_is_zero(n) || !BN_is_odd(ex)) {
		err_set(e, ERR_UNAUTHORIZED, "JWK n/e are not valid base64url RSA parameters");
		goto done;
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex) != 1 ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
		err_set(e, ERR_UNAUTHORIZED, "JWK n/e do not form an RSA public key");
	}
done:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(ex);
	return pk;
}

static EVP_PKEY *pkey_from_x5c(struct json_object *x5c, struct err *e)
{
	struct json_object *first =
	    json_object_array_length(x5c) > 0 ? json_object_array_get_idx(x5c, 0) : NULL;
	const char *s = first && json_object_is_type(first, json_type_string)
	                    ? json_object_get_string(first)
	                    : NULL;
	unsigned char *der = NULL;
	size_t n = 0;
	if (!s || b64_decode(s, strlen(s), B64_STD, B64_PAD_ANY, &der, &n) != 0 || n > INT32_MAX) {
		free(der);
		err_set(e, ERR_UNAUTHORIZED, "JWK x5c[0] is not a base64 certificate");
		return NULL;
	}
	const unsigned char *p = der;
	X509 *cert = d2i_X509(NULL, &p, (long)n);
	int whole = cert && p == der + n;
	free(der);
	if (!whole) {
		X509_free(cert);
		err_set(e, ERR_UNAUTHORIZED, "JWK x5c[0] is not a DER certificate");
		return NULL;
	}
	EVP_PKEY *pk = X509_get_pubkey(cert);
	X509_free(cert);
	if (!pk)
		err_set(e, ERR_UNAUTHORIZED, "JWK x5c[0] certificate has no usable public key");
	return pk;
}

EVP_PKEY *jwk_to_public_pkey(struct json_object *jwk, struct err *e)
{
	if (!jwk || !json_object_is_type(jwk, json_type_object)) {
		err_set(e, ERR_UNAUTHORIZED, "JWK is not a JSON object");
		return NULL;
	}
	const char *kty = jsonx_str(jwk, "kty");
	if (json_object_object_get_ex(jwk, "kty", NULL) && (!kty || strcmp(kty, "RSA"))) {
		err_set(e, ERR_UNAUTHORIZED, "JWK kty is not RSA");
		return NULL;
	}
	const char *n = jsonx_str(jwk, "n"), *ex = jsonx_str(jwk, "e");
	struct json_object *x5c = jsonx_arr(jwk, "x5c");
	EVP_PKEY *pk = NULL;
	if (n || ex) {
		if (!(pk = pkey_from_ne(n, ex, e)))
			return NULL;
		if (x5c) {
			EVP_PKEY *pc = pkey_from_x5c(x5c, e);
			int same = pc && EVP_PKEY_eq(pk, pc) == 1;
			EVP_PKEY_free(pc);
			if (!same) {
				EVP_PKEY_free(pk);
				err_set(e, ERR_UNAUTHORIZED,
				        "JWK n/e and x5c[0] hold different keys");
				return NULL;
			}
		}
	} else if (x5c) {
		if (!(pk = pkey_from_x5c(x5c, e)))
			return NULL;
	} else {
		err_set(e, ERR_UNAUTHORIZED, "JWK has neither n/e nor x5c");
		return NULL;
	}
	if (!EVP_PKEY_is_a(pk, "RSA")) {
		EVP_PKEY_free(pk);
		err_set(e, ERR_UNAUTHORIZED, "JWK key is not RSA");
		return NULL;
	}
	if (EVP_PKEY_get_bits(pk) < JWT_MIN_RSA_BITS) {
		err_set(e, ERR_UNAUTHORIZED, "JWK RSA key has %d bits, fewer than %d",
		        EVP_PKEY_get_bits(pk), JWT_MIN_RSA_BITS);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

struct json_object *jwks_find_kid(struct json_object *jwks, const char *kid)
{
	struct json_object *keys = jsonx_arr(jwks, "keys");
	if (!keys || !kid)
		return NULL;
	size_t n = json_object_array_length(keys);
	for (size_t i = 0; i < n; i++) {
		struct json_object *k = json_object_array_get_idx(keys, i);
		const char *kk = jsonx_str(k, "kid");
		if (kk && !strcmp(kk, kid))
			return k;
	}
	return NULL;
}

static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int sig_verifies(EVP_PKEY *pk, const struct jwt *j)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (j->sig_len == 0 || j->sig_len != (size_t)EVP_PKEY_get_size(pk))
		return 0;
	/* Fetched once: an implicit fetch of EVP_sha256() per token costs a lookup each time. */
	pthread_once(&once, fetch_sha256);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok =
	    ctx &&
	    EVP_DigestVerifyInit(ctx, &pctx, sha256_md ? sha256_md : EVP_sha256(), NULL, pk) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_DigestVerify(ctx, j->sig, j->sig_len, (const unsigned char *)j->signing_input,
	                     strlen(j->signing_input)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

void jwk_keyset_from_jwks(struct json_object *jwks, const char *kid, struct jwk_keyset *out)
{
	memset(out, 0, sizeof(*out));
	struct json_object *keys = jsonx_arr(jwks, "keys");
	size_t n = keys ? json_object_array_length(keys) : 0;
	out->v = xcalloc(n ? n : 1, sizeof(*out->v));
	for (size_t i = 0; i < n; i++) {
		struct json_object *k = json_object_array_get_idx(keys, i);
		const char *kk = jsonx_str(k, "kid"), *use = jsonx_str(k, "use"),
		           *alg = jsonx_str(k, "alg");
		if (!kk || (kid && strcmp(kk, kid)) || (use && strcmp(use, "sig")) ||
		    (alg && strcmp(alg, "RS256")))
			continue;
		struct jwk_key *jk = &out->v[out->n++];
		struct err kerr = {0};
		jk->kid = xstrdup(kk);
		jk->pk = jwk_to_public_pkey(k, &kerr);
		if (!jk->pk)
			snprintf(jk->why, sizeof(jk->why), "%s", kerr.msg);
	}
}

void jwk_keyset_free(struct jwk_keyset *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		free(s->v[i].kid);
		EVP_PKEY_free(s->v[i].pk);
	}
	if (s) {
		free(s->v);
		memset(s, 0, sizeof(*s));
	}
}

int jwt_verify_signature(const struct jwt *j, const struct jwk_keyset *keys, struct err *e)
{
	const char *alg = jsonx_str(j->header, "alg");
	if (!alg)
		return err_set(e, ERR_UNAUTHORIZED, "token header has no alg");
	if (strcmp(alg, "RS256"))
		return err_set(e, ERR_UNAUTHORIZED,
		               "unsupported alg %.32s (only RS256 is accepted)", alg);
	/* RFC 7515 §4.1.11: an extension we do not understand must be rejected. */
	if (json_object_object_get_ex(j->header, "crit", NULL))
		return err_set(e, ERR_UNAUTHORIZED,
		               "token header has crit extensions, none are supported");
	const char *kid = jsonx_str(j->header, "kid");
	if (!kid)
		return err_set(e, ERR_UNAUTHORIZED, "token header has no kid");
	/* Every key carrying the token's kid (a JWKS may repeat a kid during rotation). */
	int candidates = 0;
	const char *why = NULL;
	for (size_t i = 0; keys && i < keys->n; i++) {
		const struct jwk_key *k = &keys->v[i];
		if (strcmp(k->kid, kid))
			continue;
		candidates++;
		if (!k->pk) {
			why = k->why;
			continue;
		}
		if (sig_verifies(k->pk, j))
			return 0;
	}
	if (!candidates)
		return err_set(e, ERR_UNAUTHORIZED, "unknown signing key kid %.100s", kid);
	if (why && candidates == 1)
		err_set(e, ERR_UNAUTHORIZED, "signing key kid %.100s is unusable: %s", kid, why);
	else
		err_set(e, ERR_UNAUTHORIZED, "token signature does not verify");
	return JWT_SIG_NO_MATCH;
}

static void fmt_time(long long t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "%lld", t);
}

/* Time claims: exp required, nbf and iat optional; all must be integral numbers. */
static int check_times(struct json_object *c, long long now, struct err *e)
{
	long long exp, nbf, iat;
	char ts[64];
	if (!jsonx_int(c, "exp", &exp))
		return err_set(e, ERR_UNAUTHORIZED, "token has no numeric exp claim");
	if (now - JWT_SKEW >= exp) {
		fmt_time(exp, ts, sizeof(ts));
		return err_set(e, ERR_UNAUTHORIZED, "token expired at %s", ts);
	}
	if (json_object_object_get_ex(c, "nbf", NULL)) {
		if (!jsonx_int(c, "nbf", &nbf))
			return err_set(e, ERR_UNAUTHORIZED, "token nbf claim is not a number");
		if (nbf > now + JWT_SKEW) {
			fmt_time(nbf, ts, sizeof(ts));
			return err_set(e, ERR_UNAUTHORIZED, "token is not valid before %s", ts);
		}
	}
	if (json_object_object_get_ex(c, "iat", NULL)) {
		if (!jsonx_int(c, "iat", &iat))
			return err_set(e, ERR_UNAUTHORIZED, "token iat claim is not a number");
		if (iat > now + JWT_SKEW) {
			fmt_time(iat, ts, sizeof(ts));
			return err_set(e, ERR_UNAUTHORIZED, "token was issued in the future (%s)",
			               ts);
		}
	}
	return 0;
}

int jwt_check_claims(const struct jwt *j, const char *issuer, long long now,
                     struct json_object **claims, struct err *e)
{
	*claims = NULL;
	if (!issuer || !*issuer)
		return err_set(e, ERR_UNAUTHORIZED, "no trusted token issuer configured");
	const char *iss = jsonx_str(j->payload, "iss");
	if (!iss)
		return err_set(e, ERR_UNAUTHORIZED, "token has no iss claim");
	if (strcmp(iss, issuer))
		return err_set(e, ERR_UNAUTHORIZED, "token issuer %.200s is not the trusted %.200s",
		               iss, issuer);
	if (check_times(j->payload, now, e) != 0)
		return -1;
	*claims = json_object_get(j->payload);
	return 0;
}

int jwt_verify_with_jwks(const char *compact, struct json_object *jwks, const char *issuer,
                         long long now, struct json_object **claims, struct err *e)
{
	*claims = NULL;
	if (!issuer || !*issuer)
		return err_set(e, ERR_UNAUTHORIZED, "no trusted token issuer configured");
	struct jwt j;
	if (jwt_parse(compact, &j, e) != 0)
		return -1;
	struct jwk_keyset keys;
	const char *kid = jsonx_str(j.header, "kid");
	jwk_keyset_from_jwks(kid ? jwks : NULL, kid, &keys);
	/* Only with the signature checked are the claims worth reading. */
	int rc = jwt_verify_signature(&j, &keys, e) == 0 &&
	                 jwt_check_claims(&j, issuer, now, claims, e) == 0
	             ? 0
	             : -1;
	jwk_keyset_free(&keys);
	jwt_free(&j);
	return rc;
}
