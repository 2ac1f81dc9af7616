#include "jwkpriv.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <string.h>

#include "codec.h"
#include "jsonx.h"

void jwkpriv_wipe_strings(struct json_object *o)
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

EVP_PKEY *jwkpriv_to_pkey(const char *jwk_json, struct err *e)
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
	jwkpriv_wipe_strings(jwk);
	json_object_put(jwk);
	return key;
}
