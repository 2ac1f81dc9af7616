#include "releaseproof.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jsonx.h"
#include "jwt.h"

#define MAX_X5C 10

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
	const char *path = cfg.akv_trust_cert;
	if (!path || !*path)
		return err_set(
		    e, ERR_VERIFY,
		    "the local key vault's signing certificate is not trusted: %s is not set",
		    RELEASEPROOF_TRUST_VAR);
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(e, ERR_VERIFY, "%s=%s cannot be read", RELEASEPROOF_TRUST_VAR, path);
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
		               RELEASEPROOF_TRUST_VAR, path);
	if (!found)
		return err_set(e, ERR_VERIFY,
		               "the release answer was signed by a certificate that is not in %s",
		               RELEASEPROOF_TRUST_VAR);
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

static int verify_once(const char *jws, const struct endpoint *akv, struct json_object **payload,
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

int releaseproof_verify(const char *jws, const struct endpoint *akv, struct json_object **payload,
                        struct err *e)
{
	return verify_once(jws, akv, payload, e) < 0 ? err_in(e, STAGE_RELEASE_PROOF) : 0;
}
