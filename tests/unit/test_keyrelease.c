/*
 * keyrelease, offline: the runtime JWKS, the release JWS checks against a
 * self-signed x5c trusted through AKV_TRUST_CERT, unwrapping a release payload
 * built with keywrap_wrap, the sidecar's private JWK, and vault error mapping.
 */
#include "config.h"
#include "jwkpriv.h"
#include "keyrelease.h"
#include "kvclient.h"
#include "releaseproof.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include "codec.h"
#include "jsonx.h"
#include "jwt.h"
#include "keywrap.h"
#include "testlib.h"

static EVP_PKEY *signer, *wrap, *target;
static X509 *cert, *other_vault, *wrong_host;
static char pem_path[] = "/tmp/test_keyrelease.XXXXXX";
static struct endpoint local_vault = {1, "http://127.0.0.1:18021", "127.0.0.1:18021", 1};
static struct endpoint azure_vault = {1, "https://kvdemo.vault.azure.net", "kvdemo.vault.azure.net",
                                      0};

static X509 *self_signed(EVP_PKEY *k, const char *cn, const char *san_value)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san_value);
	X509_add_ext(x, san, -1);
	X509_EXTENSION_free(san);
	X509_sign(x, k, EVP_sha256());
	return x;
}

static void setup(void)
{
	if (signer)
		return;
	signer = EVP_RSA_gen(2048);
	wrap = EVP_RSA_gen(2048);
	target = EVP_RSA_gen(2048);
	cert = self_signed(signer, "local key vault", "IP:127.0.0.1");
	other_vault = self_signed(target, "another local vault", "IP:127.0.0.1");
	int fd = mkstemp(pem_path);
	FILE *f = fdopen(fd, "w");
	/* A bundle, as make run writes it: one certificate per local vault. */
	PEM_write_X509(f, other_vault);
	PEM_write_X509(f, cert);
	wrong_host = self_signed(wrap, "vault elsewhere", "DNS:vault.example.com");
	PEM_write_X509(f, wrong_host);
	fclose(f);
}

static char *b64url_json(struct json_object *o)
{
	char *t = jsonx_dump(o);
	char *b = b64_encode(t, strlen(t), B64_URL, B64_PAD_NONE);
	free(t);
	return b;
}

static char *cert_b64(X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	char *b = b64_encode(der, (size_t)len, B64_STD, B64_PAD_REQUIRED);
	OPENSSL_free(der);
	return b;
}

/* A compact RS256 JWS with header {"alg":alg,"x5c":[x]} (plus crit when set) signed by k. */
static char *make_jws_crit(EVP_PKEY *k, X509 *x, const char *alg, const char *crit,
                           struct json_object *payload)
{
	struct json_object *h = json_object_new_object();
	jsonx_add_str(h, "alg", alg);
	if (crit) {
		struct json_object *c = json_object_new_array();
		json_object_array_add(c, json_object_new_string(crit));
		jsonx_add(h, "crit", c);
		jsonx_add_str(h, crit, "must be understood");
	}
	struct json_object *x5c = json_object_new_array();
	char *cb = cert_b64(x);
	json_object_array_add(x5c, json_object_new_string(cb));
	free(cb);
	jsonx_add(h, "x5c", x5c);
	char *hb = b64url_json(h), *pb = b64url_json(payload);
	json_object_put(h);
	char *input = xasprintf("%s.%s", hb, pb);
	free(hb);
	free(pb);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t slen = 512;
	unsigned char sig[512];
	EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k);
	EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)input, strlen(input));
	EVP_MD_CTX_free(ctx);
	char *sb = b64_encode(sig, slen, B64_URL, B64_PAD_NONE);
	char *out = xasprintf("%s.%s", input, sb);
	free(sb);
	free(input);
	return out;
}

static char *make_jws(EVP_PKEY *k, X509 *x, const char *alg, struct json_object *payload)
{
	return make_jws_crit(k, x, alg, NULL, payload);
}

static char *b64url_param(EVP_PKEY *k, const char *name)
{
	BIGNUM *bn = NULL;
	EVP_PKEY_get_bn_param(k, name, &bn);
	int n = BN_num_bytes(bn);
	unsigned char *raw = xmalloc((size_t)n + 1);
	BN_bn2bin(bn, raw);
	char *s = b64_encode(raw, (size_t)n, B64_URL, B64_PAD_NONE);
	free(raw);
	BN_clear_free(bn);
	return s;
}

/* A release payload (§5.3) for key `name` wrapping `k` to `to` with `enc`. */
static struct json_object *make_payload(EVP_PKEY *k, EVP_PKEY *to, const char *name,
                                        const char *enc)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	unsigned char *der = NULL;
	int dl = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	enum keywrap_alg a;
	struct err e;
	uint8_t *ct = NULL;
	size_t ctl = 0;
	if (keywrap_alg_parse(enc, &a, &e) < 0 ||
	    keywrap_wrap(to, a, der, (size_t)dl, &ct, &ctl, &e) < 0)
		fprintf(stderr, "wrap failed: %s\n", e.msg);
	OPENSSL_clear_free(der, (size_t)dl);
	char *ctb = b64_encode(ct, ctl, B64_URL, B64_PAD_NONE);
	free(ct);
	struct json_object *hsm = json_object_new_object(), *hh = json_object_new_object();
	jsonx_add_str(hh, "kid", "wrapping");
	jsonx_add_str(hh, "alg", "dir");
	jsonx_add_str(hh, "enc", enc);
	jsonx_add_str(hsm, "schema_version", "1.0");
	jsonx_add(hsm, "header", hh);
	jsonx_add_str(hsm, "ciphertext", ctb);
	free(ctb);
	char *hsmb = b64url_json(hsm);
	json_object_put(hsm);

	char *kid = xasprintf("https://kvdemo.vault.azure.net/keys/%s/0123abcd", name);
	struct json_object *key = json_object_new_object();
	jsonx_add_str(key, "kid", kid);
	jsonx_add_str(key, "kty", "RSA-HSM");
	struct json_object *ops = json_object_new_array();
	json_object_array_add(ops, json_object_new_string("encrypt"));
	json_object_array_add(ops, json_object_new_string("decrypt"));
	jsonx_add(key, "key_ops", ops);
	char *n = b64url_param(k, "n"), *ee = b64url_param(k, "e");
	jsonx_add_str(key, "n", n);
	jsonx_add_str(key, "e", ee);
	free(n);
	free(ee);
	jsonx_add_str(key, "key_hsm", hsmb);
	free(hsmb);
	const char *pol =
	    "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"http://127.0.0.1:18010\","
	    "\"allOf\":[{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}]}]}";
	char *polb = b64_encode(pol, strlen(pol), B64_URL, B64_PAD_NONE);
	struct json_object *rp = json_object_new_object();
	jsonx_add_str(rp, "contentType", "application/json; charset=utf-8");
	jsonx_add_str(rp, "data", polb);
	free(polb);
	struct json_object *bundle = json_object_new_object();
	jsonx_add(bundle, "key", key);
	jsonx_add(bundle, "release_policy", rp);
	struct json_object *resp = json_object_new_object();
	jsonx_add(resp, "key", bundle);
	struct json_object *req = json_object_new_object();
	jsonx_add_str(req, "api-version", "7.4");
	jsonx_add_str(req, "enc", enc);
	jsonx_add_str(req, "kid", kid);
	free(kid);
	struct json_object *p = json_object_new_object();
	jsonx_add(p, "request", req);
	jsonx_add(p, "response", resp);
	return p;
}

static void test_runtime_jwks_shape(void)
{
	setup();
	struct json_object *o = keyrelease_runtime_jwks(wrap);
	CHECK(o != NULL);
	struct json_object *keys = jsonx_arr(o, "keys");
	CHECK(keys && json_object_array_length(keys) == 1);
	struct json_object *k = json_object_array_get_idx(keys, 0);
	char *tp = jwk_thumbprint(wrap);
	CHECK_STR(jsonx_str(k, "kid"), tp);
	CHECK_STR(jsonx_str(k, "kty"), "RSA");
	CHECK_STR(jsonx_str(k, "e"), "AQAB");
	CHECK(jsonx_str(k, "n") && strlen(jsonx_str(k, "n")) == 342);
	CHECK(!jsonx_str(k, "d") && !jsonx_str(k, "p") && !jsonx_str(k, "q"));
	struct json_object *ops = jsonx_arr(k, "key_ops");
	CHECK(ops && json_object_array_length(ops) == 1 &&
	      !strcmp(json_object_get_string(json_object_array_get_idx(ops, 0)), "encrypt"));
	/* Sorted members, as the sidecar writes them */
	const char *order[] = {"e", "key_ops", "kid", "kty", "n"};
	size_t i = 0;
	int sorted = 1;
	json_object_object_foreach(k, name, val)
	{
		(void)val;
		sorted &= i < NELEM(order) && !strcmp(name, order[i]);
		i++;
	}
	CHECK(sorted && i == 5);
	/* The thumbprint is RFC 7638's: SHA-256 of {"e","kty","n"} */
	char *canon = xasprintf("{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", jsonx_str(k, "e"),
	                        jsonx_str(k, "n"));
	unsigned char md[32];
	unsigned int ml = 32;
	EVP_Digest(canon, strlen(canon), md, &ml, EVP_sha256(), NULL);
	char *b = b64_encode(md, 32, B64_URL, B64_PAD_NONE);
	CHECK_STR(tp, b);
	free(b);
	free(canon);
	free(tp);
	json_object_put(o);
}

/* Trust the loopback vault certificates in path (NULL: none), as AKV_TRUST_CERT does. */
static void trust(const char *path)
{
	free(cfg.akv_trust_cert);
	cfg.akv_trust_cert = xstrdup(path ? path : "");
}

static int verify(const char *jws, const struct endpoint *ep, enum err_code *code)
{
	struct json_object *p = NULL;
	struct err e;
	err_clear(&e);
	int rc = releaseproof_verify(jws, ep, &p, &e);
	*code = e.code;
	json_object_put(p);
	return rc;
}

static void test_jws_local_trust(void)
{
	setup();
	struct json_object *pl = json_object_new_object();
	jsonx_add_str(pl, "hello", "world");
	char *jws = make_jws(signer, cert, "RS256", pl);
	enum err_code c;

	trust(NULL);
	CHECK(verify(jws, &local_vault, &c) < 0 && c == ERR_VERIFY);
	trust(pem_path);
	struct json_object *p = NULL;
	struct err e;
	CHECK(releaseproof_verify(jws, &local_vault, &p, &e) == 0);
	CHECK_STR(jsonx_str(p, "hello"), "world");
	json_object_put(p);

	/* An Azure vault never takes the local rule: self-signed fails the system roots. */
	CHECK(verify(jws, &azure_vault, &c) < 0 && c == ERR_VERIFY);

	/* Payload changed after signing */
	char *bad = xstrdup(jws);
	char *dot = strchr(bad, '.');
	dot[2] = dot[2] == 'A' ? 'B' : 'A';
	CHECK(verify(bad, &local_vault, &c) < 0 && c == ERR_VERIFY);
	free(bad);

	/* Signed by another key that carries the trusted certificate */
	char *forged = make_jws(wrap, cert, "RS256", pl);
	CHECK(verify(forged, &local_vault, &c) < 0 && c == ERR_VERIFY);
	free(forged);

	/* A valid signature under a certificate that is not the trusted one */
	X509 *other = self_signed(wrap, "someone else", "IP:127.0.0.1");
	char *foreign = make_jws(wrap, other, "RS256", pl);
	CHECK(verify(foreign, &local_vault, &c) < 0 && c == ERR_VERIFY);
	free(foreign);
	X509_free(other);

	/* The second certificate of the bundle is trusted too */
	char *second = make_jws(target, other_vault, "RS256", pl);
	CHECK(verify(second, &local_vault, &c) == 0);
	free(second);

	/* A bundled certificate for another host name is not valid for 127.0.0.1 */
	char *elsewhere = make_jws(wrap, wrong_host, "RS256", pl);
	CHECK(verify(elsewhere, &local_vault, &c) < 0 && c == ERR_VERIFY);
	free(elsewhere);

	/* Only RS256 */
	char *hs = make_jws(signer, cert, "RS384", pl);
	CHECK(verify(hs, &local_vault, &c) < 0 && c == ERR_VERIFY);
	free(hs);

	/* A critical header extension we do not implement */
	char *crit = make_jws_crit(signer, cert, "RS256", "exp-policy", pl);
	CHECK(verify(crit, &local_vault, &c) < 0 && c == ERR_VERIFY);
	free(crit);

	CHECK(verify("not.a.jws", &local_vault, &c) < 0 && c == ERR_VERIFY);
	json_object_put(pl);
	free(jws);
}

static void test_unwrap_payload(void)
{
	setup();
	static const char *const encs[] = {"CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256",
	                                   "RSA_AES_KEY_WRAP_384"};
	for (size_t i = 0; i < NELEM(encs); i++) {
		struct json_object *p = make_payload(target, wrap, "contoso-secret-key", encs[i]);
		struct json_object *facts = json_object_new_object();
		EVP_PKEY *k = NULL;
		struct err e;
		CHECK_MSG(keyrelease_unwrap_payload(p, wrap, "contoso-secret-key", &k, facts, &e) ==
		              0,
		          "%s: %s", encs[i], e.msg);
		CHECK(k && EVP_PKEY_eq(k, target) == 1);
		CHECK_STR(jsonx_str(facts, "name"), "contoso-secret-key");
		CHECK_STR(jsonx_str(facts, "kty"), "RSA-HSM");
		CHECK_STR(jsonx_str(facts, "enc"), encs[i]);
		long long size = 0;
		CHECK(jsonx_int(facts, "size", &size) && size == 2048);
		char *tp = jwk_thumbprint(target);
		CHECK_STR(jsonx_str(facts, "thumbprint"), tp);
		free(tp);
		CHECK(jsonx_obj(facts, "release_policy") != NULL);
		char *text = jsonx_dump(facts);
		char *d = b64url_param(target, "d");
		CHECK(!strstr(text, d) && !strstr(text, "\"d\"") && !strstr(text, "PRIVATE"));
		free(d);
		free(text);
		EVP_PKEY_free(k);
		json_object_put(facts);
		json_object_put(p);
	}
}

static void test_unwrap_rejects(void)
{
	setup();
	struct json_object *facts = json_object_new_object();
	EVP_PKEY *k = NULL;
	struct err e;
	/* Another key's answer */
	struct json_object *p =
	    make_payload(target, wrap, "fabrikam-secret-key", "RSA_AES_KEY_WRAP_256");
	CHECK(keyrelease_unwrap_payload(p, wrap, "contoso-secret-key", &k, facts, &e) < 0 && !k);
	json_object_put(p);
	/* Wrapped to someone else's wrapping key */
	p = make_payload(target, signer, "contoso-secret-key", "RSA_AES_KEY_WRAP_256");
	CHECK(keyrelease_unwrap_payload(p, wrap, "contoso-secret-key", &k, facts, &e) < 0 && !k);
	CHECK(e.code == ERR_UNPROCESSABLE);
	json_object_put(p);
	/* n in the answer describes another key */
	p = make_payload(target, wrap, "contoso-secret-key", "RSA_AES_KEY_WRAP_256");
	struct json_object *kk = jsonx_obj(jsonx_obj(jsonx_obj(p, "response"), "key"), "key");
	char *n = b64url_param(signer, "n");
	jsonx_add_str(kk, "n", n);
	free(n);
	CHECK(keyrelease_unwrap_payload(p, wrap, "contoso-secret-key", &k, facts, &e) < 0 && !k);
	/* Unknown enc */
	jsonx_add_str(jsonx_obj(p, "request"), "enc", "A256KW");
	CHECK(keyrelease_unwrap_payload(p, wrap, "contoso-secret-key", &k, facts, &e) < 0 && !k);
	json_object_put(p);
	/* Not RSA */
	p = make_payload(target, wrap, "contoso-secret-key", "RSA_AES_KEY_WRAP_256");
	kk = jsonx_obj(jsonx_obj(jsonx_obj(p, "response"), "key"), "key");
	jsonx_add_str(kk, "kty", "oct-HSM");
	CHECK(keyrelease_unwrap_payload(p, wrap, "contoso-secret-key", &k, facts, &e) < 0 &&
	      e.code == ERR_UNSUPPORTED);
	json_object_put(p);
	json_object_put(facts);
}

static char *private_jwk(EVP_PKEY *k, EVP_PKEY *d_from)
{
	static const char *const names[][2] = {
	    {"d", OSSL_PKEY_PARAM_RSA_D},
	    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
	    {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
	    {"e", "e"},
	    {"n", "n"},
	    {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
	    {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
	    {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
	};
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < NELEM(names); i++) {
		char *v = b64url_param(i == 0 ? d_from : k, names[i][1]);
		jsonx_add_str(o, names[i][0], v);
		if (i == 2) {
			struct json_object *ops = json_object_new_array();
			json_object_array_add(ops, json_object_new_string("decrypt"));
			jsonx_add(o, "key_ops", ops);
		}
		if (i == 4)
			jsonx_add_str(o, "kty", "RSA");
		free(v);
	}
	char *t = jsonx_dump(o);
	json_object_put(o);
	return t;
}

static void test_private_jwk(void)
{
	setup();
	struct err e;
	char *jwk = private_jwk(target, target);
	EVP_PKEY *k = jwkpriv_to_pkey(jwk, &e);
	CHECK_MSG(k != NULL, "%s", e.msg);
	CHECK(k && EVP_PKEY_eq(k, target) == 1);
	EVP_PKEY_free(k);
	free_secret_str(jwk);

	jwk = private_jwk(target, signer); /* d of another key */
	k = jwkpriv_to_pkey(jwk, &e);
	CHECK(k == NULL);
	free_secret_str(jwk);

	CHECK(jwkpriv_to_pkey("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", &e) == NULL);
	CHECK(strstr(e.msg, "\"d\"") != NULL);
	CHECK(jwkpriv_to_pkey("{\"kty\":\"oct\",\"k\":\"AAAA\"}", &e) == NULL &&
	      e.code == ERR_UNSUPPORTED);
	CHECK(jwkpriv_to_pkey("not json", &e) == NULL);
	CHECK(jwkpriv_to_pkey(NULL, &e) == NULL);
}

static void test_vault_errors(void)
{
	struct err e;
	const char *b403 = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Target environment "
	                   "attestation statement cannot be verified: claim x-ms-sevsnpvm-hostdata "
	                   "does not equal 'ab12'\"}}";
	CHECK(kv_error(403, b403, strlen(b403), NULL, "release of key 'k'", &e) == -1);
	CHECK_INT(e.code, ERR_FORBIDDEN);
	CHECK_INT(e.upstream_status, 403);
	CHECK(strstr(e.msg, "x-ms-sevsnpvm-hostdata does not equal") != NULL);
	CHECK(strstr(e.msg, "(Forbidden)") != NULL);
	CHECK(kv_error(401, "", 0, NULL, "w", &e) == -1 && e.code == ERR_UNAUTHORIZED);
	CHECK(kv_error(404, "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"x\"}}", 45, NULL,
	               "w", &e) == -1 &&
	      e.code == ERR_NOT_FOUND);
	CHECK(kv_error(500, "<html>", 6, NULL, "w", &e) == -1 && e.code == ERR_UPSTREAM);
	CHECK(kv_error(503, "", 0, NULL, "w", &e) == -1 && e.code == ERR_UNAVAILABLE);
	/* Control characters from the vault never reach a log line */
	const char *nl = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"a\\nb\"}}";
	CHECK(kv_error(403, nl, strlen(nl), NULL, "w", &e) == -1 && !strchr(e.msg, '\n'));
}

/* ---- the spare wrapping key ---- */

#define SEEN_MAX 16
static char *seen[SEEN_MAX];
static int nseen;

/* Take a wrapping key; it must be RSA-2048 and unlike every one taken before. */
static void take_distinct(void)
{
	EVP_PKEY *k = keyrelease_take_wrap_key();
	CHECK(k && EVP_PKEY_get_bits(k) == 2048);
	if (!k)
		return;
	struct json_object *rt = keyrelease_runtime_jwks(k);
	const char *kid = jsonx_str(json_object_array_get_idx(jsonx_arr(rt, "keys"), 0), "kid");
	CHECK(kid != NULL);
	for (int i = 0; kid && i < nseen; i++)
		CHECK_MSG(strcmp(seen[i], kid), "wrapping key %s used twice", kid);
	if (kid && nseen < SEEN_MAX)
		seen[nseen++] = xstrdup(kid);
	json_object_put(rt);
	EVP_PKEY_free(k);
}

static int wait_ready(void)
{
	struct keyrelease_spare_stats st;
	for (int i = 0; i < 3000; i++) {
		keyrelease_spare_get_stats(&st);
		if (st.ready)
			return 1;
		usleep(10 * 1000);
	}
	return 0;
}

/* Without the thread (CGI): each release generates its own, nothing in the background. */
static void test_wrap_key_without_spare(void)
{
	struct keyrelease_spare_stats a, b;
	keyrelease_spare_get_stats(&a);
	CHECK(!a.running && !a.ready);
	take_distinct();
	take_distinct();
	keyrelease_spare_get_stats(&b);
	CHECK_INT(b.made_inline - a.made_inline, 2);
	CHECK_INT(b.generated, a.generated);
	CHECK(!b.running && !b.ready);
}

/* With it: the spare is ready before the first release, each release takes a new one, and
 * a release that finds the slot empty waits for the key being made instead of its own. */
static void test_spare_never_reused(void)
{
	struct keyrelease_spare_stats a, b;
	keyrelease_spare_get_stats(&a);
	keyrelease_spare_start();
	keyrelease_spare_start(); /* once is enough: still one thread */
	CHECK(wait_ready());
	for (int i = 0; i < 4; i++)
		take_distinct();
	keyrelease_spare_get_stats(&b);
	CHECK(b.running);
	CHECK_INT(b.taken - a.taken, 4);
	CHECK_INT(b.made_inline, a.made_inline);
	CHECK(b.generated - a.generated >= 4);
	CHECK(wait_ready());
	keyrelease_spare_stop();
	keyrelease_spare_get_stats(&b);
	CHECK(!b.running && !b.ready);
	/* Stopped: releases make their own again. */
	take_distinct();
	keyrelease_spare_get_stats(&a);
	CHECK_INT(a.made_inline - b.made_inline, 1);
}

/* Stopping abandons a generation in progress and leaves nothing behind. */
static void test_spare_stop_while_generating(void)
{
	struct keyrelease_spare_stats a, b;
	keyrelease_spare_get_stats(&a);
	keyrelease_spare_start();
	keyrelease_spare_stop();
	keyrelease_spare_get_stats(&b);
	CHECK(!b.running && !b.ready);
	CHECK_INT(b.failed, a.failed);
	/* And it starts again. */
	keyrelease_spare_start();
	CHECK(wait_ready());
	take_distinct();
	keyrelease_spare_stop();
	for (int i = 0; i < nseen; i++)
		free(seen[i]);
	nseen = 0;
}

static void test_cleanup(void)
{
	unlink(pem_path);
	X509_free(cert);
	X509_free(other_vault);
	X509_free(wrong_host);
	EVP_PKEY_free(signer);
	EVP_PKEY_free(wrap);
	EVP_PKEY_free(target);
}

TESTS(test_runtime_jwks_shape, test_jws_local_trust, test_unwrap_payload, test_unwrap_rejects,
      test_private_jwk, test_vault_errors, test_wrap_key_without_spare, test_spare_never_reused,
      test_spare_stop_while_generating, test_cleanup)
