#include "keyrelease.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "codec.h"
#include "fetch.h"
#include "identity.h"
#include "jsonx.h"
#include "jwt.h"
#include "keywrap.h"
#include "log.h"
#include "policy.h"
#include "sidecar.h"
#include "token.h"

#define WRAP_BITS         2048
#define MAX_X5C           10
#define VAULT_MSG_MAX     500
#define RELEASE_TIMEOUT_S 60

/* Claims always reported when present, besides the ones the release policy names. */
static const char *const shown_claims[] = {
    "iss",
    "x-ms-attestation-type",
    "x-ms-compliance-status",
    "x-ms-sevsnpvm-hostdata",
    "x-ms-sevsnpvm-is-debuggable",
    "x-ms-sevsnpvm-vmpl",
    "x-ms-sevsnpvm-guestsvn",
    "x-ms-sevsnpvm-launchmeasurement",
    "x-ms-emulated",
    "iat",
    "exp",
};

/* ---------------------------------------------------------------- helpers */

/* "h[:p]" -> "h" (for certificate host name checks). */
static char *host_only(const char *hostport)
{
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');
		return end ? xstrndup(hostport + 1, (size_t)(end - hostport - 1))
		           : xstrdup(hostport);
	}
	const char *colon = strrchr(hostport, ':');
	return colon ? xstrndup(hostport, (size_t)(colon - hostport)) : xstrdup(hostport);
}

static struct json_object *str_array(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *copy_json(struct json_object *o)
{
	struct json_object *c = NULL;
	if (o && json_object_deep_copy(o, &c, NULL) != 0)
		c = NULL;
	return c;
}

struct json_object *keyrelease_runtime_jwks(EVP_PKEY *wrap_key)
{
	struct json_object *pub = jwk_public(wrap_key);
	if (!pub)
		return NULL;
	/* Members in lexicographic order, as the sidecar's JWK library writes them. */
	static const char *const ops[] = {"encrypt"};
	struct json_object *jwk = json_object_new_object();
	jsonx_add_str(jwk, "e", jsonx_str(pub, "e"));
	jsonx_add(jwk, "key_ops", str_array(ops, 1));
	jsonx_add_str(jwk, "kid", jsonx_str(pub, "kid"));
	jsonx_add_str(jwk, "kty", "RSA");
	jsonx_add_str(jwk, "n", jsonx_str(pub, "n"));
	json_object_put(pub);
	struct json_object *keys = json_object_new_array();
	json_object_array_add(keys, jwk);
	struct json_object *o = json_object_new_object();
	jsonx_add(o, "keys", keys);
	return o;
}

int keyrelease_vault_error(long status, const char *body, size_t len, const char *what,
                           struct err *e)
{
	struct json_object *o = NULL;
	struct err ignore;
	const char *code = NULL, *msg = NULL;
	if (body && len && jsonx_parse(body, len, &o, &ignore) == 0) {
		struct json_object *er = jsonx_obj(o, "error");
		code = jsonx_str(er, "code");
		msg = jsonx_str(er, "message");
	}
	enum err_code c;
	switch (status) {
	case 401:
		c = ERR_UNAUTHORIZED;
		break;
	case 403:
		c = ERR_FORBIDDEN;
		break;
	case 404:
		c = ERR_NOT_FOUND;
		break;
	case 408:
	case 429:
	case 503:
		c = ERR_UNAVAILABLE;
		break;
	case 504:
		c = ERR_TIMEOUT;
		break;
	default:
		c = ERR_UPSTREAM;
		break;
	}
	char *m = err_printable(msg ? msg : "(no error message)", VAULT_MSG_MAX);
	char *cd = err_printable(code ? code : "", 64);
	err_set(e, c, "%s: the key vault answered HTTP %ld%s%s%s: %s", what, status,
	        *cd ? " (" : "", cd, *cd ? ")" : "", m);
	e->upstream_status = (int)status;
	free(m);
	free(cd);
	json_object_put(o);
	return -1;
}

/* ------------------------------------------------------------ JWS checks */

static X509 *cert_from_b64(const char *s)
{
	unsigned char *der = NULL;
	size_t len = 0;
	if (!s || b64_decode(s, strlen(s), B64_STD, B64_PAD_ANY, &der, &len) < 0)
		return NULL;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	free(der);
	return x;
}

static int sig_ok(X509 *leaf, const struct jwt *j)
{
	EVP_PKEY *pk = X509_get0_pubkey(leaf);
	if (!pk || !EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < 2048)
		return 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
	         EVP_DigestVerify(ctx, j->sig, j->sig_len, (const unsigned char *)j->signing_input,
	                          strlen(j->signing_input)) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/*
 * Loopback vaults: the leaf must be exactly one of the certificates in the PEM
 * bundle AKV_TRUST_CERT names, and valid for the vault's host (or IP address).
 */
static int trust_local(X509 *leaf, const char *hostport, struct err *e)
{
	const char *path = getenv(KEYRELEASE_TRUST_ENV);
	if (!path || !*path)
		return err_set(
		    e, ERR_VERIFY,
		    "the local key vault's signing certificate is not trusted: %s is not set",
		    KEYRELEASE_TRUST_ENV);
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(e, ERR_VERIFY, "%s=%s cannot be read", KEYRELEASE_TRUST_ENV, path);
	int found = 0, certs = 0;
	X509 *want;
	while (!found && (want = PEM_read_X509(f, NULL, NULL, NULL))) {
		certs++;
		found = X509_cmp(leaf, want) == 0;
		X509_free(want);
	}
	fclose(f);
	ERR_clear_error();
	if (!certs)
		return err_set(e, ERR_VERIFY, "%s=%s holds no PEM certificate",
		               KEYRELEASE_TRUST_ENV, path);
	if (!found)
		return err_set(e, ERR_VERIFY,
		               "the release answer was signed by a certificate that is not in %s",
		               KEYRELEASE_TRUST_ENV);
	char *host = host_only(hostport);
	int ok = X509_check_ip_asc(leaf, host, 0) == 1 ||
	         X509_check_host(leaf, host, strlen(host), 0, NULL) == 1;
	ERR_clear_error();
	if (!ok)
		err_set(e, ERR_VERIFY, "the local key vault's certificate is not valid for %s",
		        host);
	free(host);
	return ok ? 0 : -1;
}

/* Azure vaults: chain to the system roots, leaf valid for the vault's host name. */
static int trust_system(X509 *leaf, STACK_OF(X509) * chain, const char *hostport, struct err *e)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char *host = host_only(hostport);
	int rc = -1;
	if (!store || !ctx || X509_STORE_set_default_paths(store) != 1 ||
	    X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
		err_set(e, ERR_INTERNAL, "cannot set up certificate verification");
		goto done;
	}
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) {
		err_set(e, ERR_INTERNAL, "cannot set the host name to verify");
		goto done;
	}
	if (X509_verify_cert(ctx) != 1) {
		int v = X509_STORE_CTX_get_error(ctx);
		err_set(e, ERR_VERIFY,
		        "the release answer's certificate chain does not verify for %s: %s", host,
		        X509_verify_cert_error_string(v));
		goto done;
	}
	rc = 0;
done:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	free(host);
	return rc;
}

int keyrelease_verify_jws(const char *jws, const struct endpoint *akv, struct json_object **payload,
                          struct err *e)
{
	struct jwt j;
	*payload = NULL;
	if (jwt_parse(jws, &j, e) < 0) {
		e->code = ERR_VERIFY;
		return err_wrap(e, "the key vault's release answer");
	}
	int rc = -1;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	const char *alg = jsonx_str(j.header, "alg");
	struct json_object *x5c = jsonx_arr(j.header, "x5c");
	size_t n = x5c ? json_object_array_length(x5c) : 0;
	if (!alg || strcmp(alg, "RS256")) {
		err_set(e, ERR_VERIFY, "the release answer is signed with \"%.20s\", not RS256",
		        alg ? alg : "(none)");
		goto done;
	}
	/* RFC 7515 §4.1.11: a critical extension we do not implement must be refused. */
	if (json_object_object_get_ex(j.header, "crit", NULL)) {
		err_set(e, ERR_VERIFY,
		        "the release answer's header has crit extensions; none are supported");
		goto done;
	}
	if (n == 0 || n > MAX_X5C) {
		err_set(e, ERR_VERIFY,
		        "the release answer carries %zu x5c certificates (1..%d expected)", n,
		        MAX_X5C);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		X509 *x = cert_from_b64(json_object_get_string(json_object_array_get_idx(x5c, i)));
		if (!x) {
			err_set(e, ERR_VERIFY,
			        "x5c[%zu] of the release answer is not a DER certificate", i);
			goto done;
		}
		if (i == 0)
			leaf = x;
		else
			sk_X509_push(chain, x);
	}
	if (!sig_ok(leaf, &j)) {
		err_set(e, ERR_VERIFY,
		        "the release answer's signature does not verify with x5c[0]");
		goto done;
	}
	if (akv->loopback ? trust_local(leaf, akv->host, e) < 0
	                  : trust_system(leaf, chain, akv->host, e) < 0)
		goto done;
	*payload = j.payload;
	j.payload = NULL;
	rc = 0;
done:
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	jwt_free(&j);
	return rc;
}

/* ------------------------------------------------------------------ unwrap */

static int kid_names(const char *kid, const char *name)
{
	if (!kid)
		return 0;
	char *seg = xasprintf("/keys/%s", name);
	const char *p = strstr(kid, seg);
	size_t sl = strlen(seg);
	int ok = p && (p[sl] == '\0' || p[sl] == '/');
	free(seg);
	return ok;
}

/* The ciphertext inside key_hsm (b64url JSON {"ciphertext":...}); *enc_hint from its header. */
static int key_hsm_ciphertext(const char *key_hsm, uint8_t **ct, size_t *n, char **enc_hint,
                              struct err *e)
{
	unsigned char *js = NULL;
	size_t jl = 0;
	struct json_object *o = NULL;
	int rc = -1;
	*enc_hint = NULL;
	if (b64_decode(key_hsm, strlen(key_hsm), B64_URL, B64_PAD_ANY, &js, &jl) < 0 ||
	    jsonx_parse((const char *)js, jl, &o, e) < 0) {
		err_set(e, ERR_UNPROCESSABLE, "the release answer's key_hsm is not b64url JSON");
		goto done;
	}
	const char *c = jsonx_str(o, "ciphertext");
	if (!c || b64_decode(c, strlen(c), B64_URL, B64_PAD_ANY, ct, n) < 0) {
		err_set(e, ERR_UNPROCESSABLE,
		        "the release answer's key_hsm has no b64url ciphertext");
		goto done;
	}
	const char *enc = jsonx_str(jsonx_obj(o, "header"), "enc");
	if (enc)
		*enc_hint = xstrdup(enc);
	rc = 0;
done:
	json_object_put(o);
	free(js);
	return rc;
}

/* Names of every "claim" in a release policy tree, without repeats. */
static void policy_claims(struct json_object *node, struct json_object *names)
{
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			policy_claims(json_object_array_get_idx(node, i), names);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	const char *c = jsonx_str(node, "claim");
	if (c) {
		for (size_t i = 0; i < json_object_array_length(names); i++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(names, i)), c))
				return;
		json_object_array_add(names, json_object_new_string(c));
	}
	policy_claims(jsonx_arr(node, "anyOf"), names);
	policy_claims(jsonx_arr(node, "allOf"), names);
}

/* The release policy from a KeyBundle's release_policy.data (b64url JSON), or NULL. */
static struct json_object *bundle_policy(struct json_object *bundle)
{
	const char *data = jsonx_str(jsonx_obj(bundle, "release_policy"), "data");
	unsigned char *js = NULL;
	size_t jl = 0;
	struct json_object *p = NULL;
	struct err ignore;
	if (data && b64_decode(data, strlen(data), B64_URL, B64_PAD_ANY, &js, &jl) == 0 &&
	    jsonx_parse((const char *)js, jl, &p, &ignore) == 0 &&
	    !json_object_is_type(p, json_type_object)) {
		json_object_put(p);
		p = NULL;
	}
	free(js);
	return p;
}

int keyrelease_unwrap_payload(struct json_object *payload, EVP_PKEY *wrap_key, const char *key_name,
                              EVP_PKEY **key, struct json_object *facts, struct err *e)
{
	*key = NULL;
	struct json_object *bundle = jsonx_obj(jsonx_obj(payload, "response"), "key");
	struct json_object *k = jsonx_obj(bundle, "key");
	const char *kid = jsonx_str(k, "kid"), *kty = jsonx_str(k, "kty");
	const char *key_hsm = jsonx_str(k, "key_hsm");
	const char *enc = jsonx_str(jsonx_obj(payload, "request"), "enc");
	if (!k || !kty || !key_hsm)
		return err_set(e, ERR_UNPROCESSABLE,
		               "the release answer has no response.key.key with kty and key_hsm");
	if (!kid_names(kid, key_name))
		return err_set(e, ERR_UNPROCESSABLE,
		               "the release answer is for key '%.200s', not '%s'",
		               kid ? kid : "(none)", key_name);
	if (strcmp(kty, "RSA") && strcmp(kty, "RSA-HSM"))
		return err_set(e, ERR_UNSUPPORTED,
		               "released key '%s' has type %.20s; this demo encrypts with RSA keys",
		               key_name, kty);
	uint8_t *ct = NULL, *der = NULL;
	size_t ctlen = 0, derlen = 0;
	char *enc_hint = NULL;
	enum keywrap_alg alg;
	int rc = -1;
	if (key_hsm_ciphertext(key_hsm, &ct, &ctlen, &enc_hint, e) < 0)
		goto done;
	if (!enc)
		enc = enc_hint ? enc_hint : "CKM_RSA_AES_KEY_WRAP";
	if (keywrap_alg_parse(enc, &alg, e) < 0) {
		e->code = ERR_UNPROCESSABLE;
		err_wrap(e, "the release answer's enc");
		goto done;
	}
	if (keywrap_unwrap(wrap_key, alg, ct, ctlen, &der, &derlen, e) < 0) {
		err_wrap(e, "unwrapping the released key");
		goto done;
	}
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)derlen);
	if (p8 && p == der + derlen)
		*key = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	ERR_clear_error();
	if (!*key || !EVP_PKEY_is_a(*key, "RSA")) {
		err_set(e, ERR_UNPROCESSABLE, "the unwrapped key is not a PKCS#8 RSA private key");
		goto done;
	}
	/* The vault also sent n and e: they must describe the key we unwrapped. */
	if (jsonx_str(k, "n") && jsonx_str(k, "e")) {
		struct json_object *pubjwk = json_object_new_object();
		jsonx_add_str(pubjwk, "kty", "RSA");
		jsonx_add_str(pubjwk, "n", jsonx_str(k, "n"));
		jsonx_add_str(pubjwk, "e", jsonx_str(k, "e"));
		struct err ignore;
		EVP_PKEY *pub = jwk_to_public_pkey(pubjwk, &ignore);
		json_object_put(pubjwk);
		int same = pub && EVP_PKEY_eq(pub, *key) == 1;
		EVP_PKEY_free(pub);
		if (!same) {
			err_set(
			    e, ERR_UNPROCESSABLE,
			    "the unwrapped key does not match the public key the vault described");
			goto done;
		}
	}
	char *tp = jwk_thumbprint(*key);
	jsonx_add_str(facts, "name", key_name);
	jsonx_add_str(facts, "kid", kid);
	jsonx_add_str(facts, "kty", kty);
	jsonx_add_int(facts, "size", EVP_PKEY_get_bits(*key));
	jsonx_add_str(facts, "thumbprint", tp);
	free(tp);
	struct json_object *ops = copy_json(jsonx_arr(k, "key_ops"));
	jsonx_add(facts, "key_ops", ops ? ops : json_object_new_array());
	jsonx_add_str(facts, "enc", keywrap_alg_name(alg));
	struct json_object *pol = bundle_policy(bundle);
	if (pol)
		jsonx_add(facts, "release_policy", pol);
	rc = 0;
done:
	if (rc < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	if (der) {
		wipe(der, derlen);
		free(der);
	}
	free(ct);
	free(enc_hint);
	return rc;
}

/* ------------------------------------------------------------ sidecar JWK */

/* Wipe the string values of a parsed JWK: json-c keeps its own copies. */
static void wipe_json_strings(struct json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v)
	{
		(void)k;
		if (json_object_is_type(v, json_type_string))
			wipe((char *)json_object_get_string(v),
			     (size_t)json_object_get_string_len(v));
	}
}

static BIGNUM *jwk_bn(struct json_object *jwk, const char *name, int secret)
{
	const char *s = jsonx_str(jwk, name);
	unsigned char *raw = NULL;
	size_t len = 0;
	if (!s || b64_decode(s, strlen(s), B64_URL, B64_PAD_ANY, &raw, &len) < 0 || len == 0) {
		free(raw);
		return NULL;
	}
	/* Secure BIGNUMs make OSSL_PARAM_BLD put the value where OSSL_PARAM_free clears it. */
	BIGNUM *bn = secret ? BN_secure_new() : BN_new();
	if (bn && !BN_bin2bn(raw, (int)len, bn)) {
		BN_clear_free(bn);
		bn = NULL;
	}
	wipe(raw, len);
	free(raw);
	return bn;
}

EVP_PKEY *keyrelease_private_from_jwk(const char *jwk_json, struct err *e)
{
	static const struct {
		const char *jwk, *param;
		int secret;
	} members[] = {
	    {"n", OSSL_PKEY_PARAM_RSA_N, 0},          {"e", OSSL_PKEY_PARAM_RSA_E, 0},
	    {"d", OSSL_PKEY_PARAM_RSA_D, 1},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1, 1},
	    {"q", OSSL_PKEY_PARAM_RSA_FACTOR2, 1},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1, 1},
	    {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2, 1}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 1},
	};
	BIGNUM *bn[NELEM(members)] = {0};
	struct json_object *jwk = NULL;
	EVP_PKEY *key = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (!jwk_json || jsonx_parse(jwk_json, strlen(jwk_json), &jwk, e) < 0 ||
	    !json_object_is_type(jwk, json_type_object)) {
		err_set(e, ERR_UPSTREAM, "the released key is not a JWK object");
		goto done;
	}
	const char *kty = jsonx_str(jwk, "kty");
	if (!kty || (strcmp(kty, "RSA") && strcmp(kty, "RSA-HSM"))) {
		err_set(e, ERR_UNSUPPORTED, "the released key has type %.20s; this demo needs RSA",
		        kty ? kty : "(none)");
		goto done;
	}
	bld = OSSL_PARAM_BLD_new();
	for (size_t i = 0; i < NELEM(members); i++) {
		bn[i] = jwk_bn(jwk, members[i].jwk, members[i].secret);
		if (!bn[i]) {
			err_set(e, ERR_UPSTREAM, "the released JWK has no valid \"%s\" member",
			        members[i].jwk);
			goto done;
		}
		if (!bld || OSSL_PARAM_BLD_push_BN(bld, members[i].param, bn[i]) != 1) {
			err_set(e, ERR_INTERNAL, "cannot build the key parameters");
			goto done;
		}
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
		err_set(e, ERR_UPSTREAM, "the released JWK is not a valid RSA private key");
		goto done;
	}
	/* A JWK whose numbers do not form a key pair must not be used. */
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!ctx || EVP_PKEY_pairwise_check(ctx) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
		err_set(e, ERR_UPSTREAM,
		        "the released JWK's private and public parts do not match");
	}
done:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	for (size_t i = 0; i < NELEM(members); i++)
		BN_clear_free(bn[i]);
	wipe_json_strings(jwk);
	json_object_put(jwk);
	return key;
}

/* -------------------------------------------------------------- the calls */

static struct json_object *timing_obj(double att, double id, double rel, double unw, double total)
{
	struct json_object *t = json_object_new_object();
	json_object_object_add(t, "attestation", json_object_new_double(att));
	json_object_object_add(t, "identity", json_object_new_double(id));
	json_object_object_add(t, "release", json_object_new_double(rel));
	json_object_object_add(t, "unwrap", json_object_new_double(unw));
	json_object_object_add(t, "total", json_object_new_double(total));
	return t;
}

/* Public claims of our own attestation token: the shown list plus every claim policy names. */
static struct json_object *token_claims(const char *jwt, struct json_object *policy)
{
	struct jwt j;
	struct err ignore;
	if (!jwt || jwt_parse(jwt, &j, &ignore) < 0)
		return NULL;
	struct json_object *names = json_object_new_array();
	for (size_t i = 0; i < NELEM(shown_claims); i++)
		json_object_array_add(names, json_object_new_string(shown_claims[i]));
	if (policy) {
		policy_claims(jsonx_arr(policy, "anyOf"), names);
		policy_claims(jsonx_arr(policy, "allOf"), names);
	}
	struct json_object *out = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(names); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(names, i));
		struct json_object *v = NULL;
		if (json_object_object_get_ex(j.payload, n, &v) &&
		    !json_object_object_get_ex(out, n, NULL))
			jsonx_add(out, n, copy_json(v));
	}
	json_object_put(names);
	jwt_free(&j);
	return out;
}

static char *key_url(const struct endpoint *akv, const char *key_name, const char *suffix)
{
	char *n = fetch_escape(key_name);
	char *u = xasprintf("%s/keys/%s%s?%s", akv->url, n, suffix, KEYRELEASE_API);
	free(n);
	return u;
}

/* A fresh wrapping key and an attestation token whose runtime data carries it. */
static int fresh_token(EVP_PKEY **wrap, char **jwt, const char **source, double *ms, struct err *e)
{
	*jwt = NULL;
	*wrap = EVP_RSA_gen(WRAP_BITS);
	if (!*wrap)
		return err_set(e, ERR_INTERNAL, "cannot generate the ephemeral wrapping key");
	struct json_object *rt = keyrelease_runtime_jwks(*wrap);
	char *text = rt ? jsonx_dump(rt) : NULL;
	json_object_put(rt);
	if (!text) {
		EVP_PKEY_free(*wrap);
		*wrap = NULL;
		return err_set(e, ERR_INTERNAL, "cannot describe the wrapping key");
	}
	struct attest_timing t;
	int rc = attest_token((const uint8_t *)text, strlen(text), jwt, source, &t, e);
	*ms = t.total_ms;
	free(text);
	if (rc < 0) {
		EVP_PKEY_free(*wrap);
		*wrap = NULL;
	}
	return rc;
}

/* A bearer header line for the vault (secret: free with free_secret_str). */
static int bearer(const struct endpoint *akv, char **hdr, double *ms, struct err *e)
{
	char *tok = NULL;
	double t0 = now_ms();
	int rc = identity_token(identity_resource_for(akv->host), &tok, e);
	*ms = now_ms() - t0;
	if (rc < 0)
		return -1;
	*hdr = xasprintf("Authorization: Bearer %s", tok);
	free_secret_str(tok);
	return 0;
}

static int release_sidecar(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                           struct json_object *facts, struct err *e)
{
	double t0 = now_ms();
	char *jwk = NULL;
	jsonx_add_str(facts, "stage", "release");
	if (sidecar_key_release(cfg.maa.host, akv->host, key_name, &jwk, e) < 0) {
		jsonx_add(facts, "timing", timing_obj(0, 0, now_ms() - t0, 0, now_ms() - t0));
		return -1;
	}
	double t1 = now_ms();
	jsonx_add_str(facts, "stage", "unwrap");
	*key = keyrelease_private_from_jwk(jwk, e);
	/* key_ops are public: keep them before the text is wiped. */
	struct json_object *pub = NULL, *ops = NULL;
	struct err ignore;
	if (*key && jsonx_parse(jwk, strlen(jwk), &pub, &ignore) == 0) {
		ops = copy_json(jsonx_arr(pub, "key_ops"));
		wipe_json_strings(pub);
		json_object_put(pub);
	}
	free_secret_str(jwk);
	double t2 = now_ms();
	jsonx_add(facts, "timing", timing_obj(0, 0, t1 - t0, t2 - t1, t2 - t0));
	if (!*key) {
		json_object_put(ops);
		return -1;
	}
	json_object_object_del(facts, "stage");
	char *tp = jwk_thumbprint(*key);
	char *kid = xasprintf("%s/keys/%s", akv->url, key_name);
	jsonx_add_str(facts, "name", key_name);
	jsonx_add_str(facts, "kid", kid);
	jsonx_add_str(facts, "kty", "RSA");
	jsonx_add_int(facts, "size", EVP_PKEY_get_bits(*key));
	jsonx_add_str(facts, "thumbprint", tp);
	jsonx_add(facts, "key_ops", ops ? ops : json_object_new_array());
	jsonx_add(facts, "claims", NULL);
	free(tp);
	free(kid);
	return 0;
}

static int release_native(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                          struct json_object *facts, struct err *e)
{
	double t0 = now_ms(), t_att = 0, t_id = 0, t_rel = 0, t_unw = 0;
	EVP_PKEY *wrap = NULL;
	char *jwt = NULL, *auth = NULL, *url = NULL, *body = NULL;
	const char *source = NULL;
	struct json_object *payload = NULL;
	struct fetch_resp rs = {0};
	int have_resp = 0, rc = -1;

	jsonx_add_str(facts, "stage", "attestation");
	if (fresh_token(&wrap, &jwt, &source, &t_att, e) < 0)
		goto done;
	jsonx_add_str(facts, "evidence_source", source);
	jsonx_add_str(facts, "stage", "identity");
	if (bearer(akv, &auth, &t_id, e) < 0)
		goto done;

	jsonx_add_str(facts, "stage", "release");
	url = key_url(akv, key_name, "/release");
	struct json_object *rb = json_object_new_object();
	jsonx_add_str(rb, "target", jwt);
	/*
	 * Ask for the SHA-256 OAEP variant: left to itself the vault picks
	 * CKM_RSA_AES_KEY_WRAP, whose OAEP uses SHA-1 (the sidecar sends no enc).
	 * The answer's request.enc says what was used, and all three unwrap.
	 */
	jsonx_add_str(rb, "enc", "RSA_AES_KEY_WRAP_256");
	body = jsonx_dump(rb);
	json_object_put(rb);
	const char *hdrs[] = {auth, "Content-Type: application/json", "Accept: application/json",
	                      NULL};
	struct fetch_req rq = {.method = "POST",
	                       .url = url,
	                       .headers = hdrs,
	                       .body = body,
	                       .body_len = strlen(body),
	                       .timeout_s = RELEASE_TIMEOUT_S};
	double t1 = now_ms();
	if (fetch(&rq, &rs, e) < 0) {
		err_wrap(e, "key release");
		goto done;
	}
	have_resp = 1;
	t_rel = now_ms() - t1;
	if (rs.status != 200) {
		jsonx_add_int(facts, "vault_status", rs.status);
		char *what = xasprintf("release of key '%s' from %s", key_name, akv->host);
		keyrelease_vault_error(rs.status, (const char *)rs.body.p, rs.body.len, what, e);
		free(what);
		goto done;
	}
	struct json_object *ans = NULL;
	if (jsonx_parse((const char *)rs.body.p, rs.body.len, &ans, e) < 0 ||
	    !jsonx_str(ans, "value")) {
		json_object_put(ans);
		err_set(e, ERR_UPSTREAM, "the key vault's release answer has no \"value\"");
		goto done;
	}
	jsonx_add_str(facts, "stage", "verification");
	int vr = keyrelease_verify_jws(jsonx_str(ans, "value"), akv, &payload, e);
	json_object_put(ans);
	if (vr < 0)
		goto done;

	/*
	 * The key must be this vault's: a certificate does not name a port, so on loopback
	 * another local vault's signature would pass; its kid still names its own URL.
	 */
	{
		const char *kid = jsonx_str(jsonx_obj(jsonx_obj(jsonx_obj(payload, "response"), "key"),
						      "key"),
					    "kid");
		char *want = xasprintf("%s/keys/", akv->url);
		int ours = kid && !strncmp(kid, want, strlen(want));
		free(want);
		if (!ours) {
			err_set(e, ERR_UPSTREAM,
				"the released key's kid does not belong to the vault %s", akv->host);
			goto done;
		}
	}
	jsonx_add_str(facts, "stage", "unwrap");
	double t2 = now_ms();
	if (keyrelease_unwrap_payload(payload, wrap, key_name, key, facts, e) < 0)
		goto done;
	t_unw = now_ms() - t2;
	json_object_object_del(facts, "stage");
	jsonx_add(facts, "claims", token_claims(jwt, jsonx_obj(facts, "release_policy")));
	rc = 0;
done:
	jsonx_add(facts, "timing", timing_obj(t_att, t_id, t_rel, t_unw, now_ms() - t0));
	if (have_resp)
		fetch_resp_free(&rs);
	json_object_put(payload);
	EVP_PKEY_free(wrap);
	free_secret_str(auth);
	free(url);
	free(body);
	free(jwt);
	return rc;
}

int keyrelease_release(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                       struct json_object **facts, struct err *e)
{
	*key = NULL;
	*facts = json_object_new_object();
	enum attest_via via = attest_choose();
	jsonx_add_str(*facts, "backend", attest_via_name(via));
	if (!akv || !akv->set || !key_name || !*key_name) {
		jsonx_add_str(*facts, "stage", "configuration");
		return err_set(
		    e, ERR_BAD_REQUEST,
		    "no key vault or key name is configured (SKR_AKV_ENDPOINT, SKR_KEY_NAME)");
	}
	int rc = via == ATTEST_SIDECAR ? release_sidecar(akv, key_name, key, *facts, e)
	                               : release_native(akv, key_name, key, *facts, e);
	if (rc == 0)
		log_info("released key %s from %s (%s path)", key_name, akv->host,
		         attest_via_name(via));
	else
		log_warn("release of key %s from %s failed at %s: %s", key_name, akv->host,
		         jsonx_str(*facts, "stage") ? jsonx_str(*facts, "stage") : "?", e->msg);
	return rc;
}

int keyrelease_policy_check(const struct endpoint *akv, const char *key_name,
                            struct json_object **result, struct err *e)
{
	*result = NULL;
	if (!akv || !akv->set || !key_name || !*key_name)
		return err_set(e, ERR_BAD_REQUEST, "no key vault or key name is configured");
	EVP_PKEY *wrap = NULL;
	char *jwt = NULL, *auth = NULL, *url = NULL;
	const char *source = NULL;
	double ms = 0;
	if (fresh_token(&wrap, &jwt, &source, &ms, e) < 0)
		return err_wrap(e, "attestation for the policy check");
	EVP_PKEY_free(wrap);

	struct json_object *r = json_object_new_object();
	struct json_object *claims = NULL, *policy = NULL;
	struct err ve;
	err_clear(&ve);
	int verified = token_verify(jwt, &cfg.maa, &claims, &ve) == 0;
	if (!verified)
		jsonx_add_str(r, "token_error", ve.msg);
	/* The claims shown are the token's own, verified when possible. */
	struct json_object *shown = token_claims(jwt, NULL);
	jsonx_add_str(r, "key_name", key_name);
	jsonx_add_str(r, "akv_endpoint", akv->host);
	jsonx_add_str(r, "evidence_source", source);

	struct err ge;
	err_clear(&ge);
	struct fetch_resp rs;
	int got = 0;
	if (bearer(akv, &auth, &ms, &ge) == 0) {
		url = key_url(akv, key_name, "");
		const char *hdrs[] = {auth, "Accept: application/json", NULL};
		struct fetch_req rq = {.method = "GET", .url = url, .headers = hdrs};
		if (fetch(&rq, &rs, &ge) == 0) {
			got = 1;
			if (rs.status != 200) {
				jsonx_add_int(r, "vault_status", rs.status);
				char *what =
				    xasprintf("reading key '%s' from %s", key_name, akv->host);
				keyrelease_vault_error(rs.status, (const char *)rs.body.p,
				                       rs.body.len, what, &ge);
				free(what);
				if (rs.status == 403)
					err_wrap(
					    &ge,
					    "the identity may not read this key's release policy "
					    "(it needs the `get` key permission)");
			} else {
				struct json_object *bundle = NULL;
				if (jsonx_parse((const char *)rs.body.p, rs.body.len, &bundle,
				                &ge) == 0)
					policy = bundle_policy(bundle);
				if (!policy)
					err_set(&ge, ERR_UPSTREAM,
					        "key '%s' has no readable release policy",
					        key_name);
				json_object_put(bundle);
			}
		}
	}
	if (got)
		fetch_resp_free(&rs);

	jsonx_add_bool(r, "policy_readable", policy != NULL);
	if (!policy) {
		json_object_object_add(r, "would_release", NULL);
		jsonx_add(r, "policy", NULL);
		jsonx_add(r, "evaluation", NULL);
		jsonx_add_str(r, "first_failure", ge.msg);
		jsonx_add_str(r, "message", ge.msg);
	} else {
		struct json_object *report = NULL;
		char *first = NULL;
		struct err pe;
		err_clear(&pe);
		int ev = -1;
		if (policy_validate(policy, &pe) == 0 && verified)
			ev = policy_evaluate(policy, jsonx_str(claims, "iss"), claims, &report,
			                     &first, &pe);
		jsonx_add(r, "policy", policy);
		if (ev < 0) {
			json_object_object_add(r, "would_release", NULL);
			jsonx_add(r, "evaluation", NULL);
			const char *why = verified ? pe.msg : ve.msg;
			jsonx_add_str(r, "first_failure", why);
			jsonx_add_str(r, "message", why);
		} else {
			jsonx_add_bool(r, "would_release", ev == 1);
			jsonx_add(r, "evaluation", report);
			jsonx_add_str(r, "first_failure", first);
			jsonx_add_str(r, "message",
			              ev == 1 ? "this instance's attestation token satisfies the "
			                        "release policy"
			                      : first);
		}
		free(first);
	}
	jsonx_add(r, "claims", verified ? token_claims(jwt, policy) : shown);
	if (verified)
		json_object_put(shown);
	json_object_put(claims);
	free_secret_str(auth);
	free(url);
	free(jwt);
	*result = r;
	return 0;
}
