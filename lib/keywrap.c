#include "keywrap.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define UNWRAP_FAILED "the wrapped key cannot be unwrapped with this key"

static const struct {
	const char *name;
	const char *md;
} algs[] = {
    [KEYWRAP_RSA_AES] = {"CKM_RSA_AES_KEY_WRAP", "SHA1"},
    [KEYWRAP_RSA_AES_256] = {"RSA_AES_KEY_WRAP_256", "SHA256"},
    [KEYWRAP_RSA_AES_384] = {"RSA_AES_KEY_WRAP_384", "SHA384"},
};

int keywrap_alg_parse(const char *name, enum keywrap_alg *out, struct err *e)
{
	for (size_t i = 0; i < NELEM(algs); i++)
		if (name && !strcmp(name, algs[i].name)) {
			*out = (enum keywrap_alg)i;
			return 0;
		}
	return err_set(e, ERR_BAD_REQUEST,
	               "unsupported key wrap algorithm '%.60s': use CKM_RSA_AES_KEY_WRAP, "
	               "RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384",
	               name ? name : "");
}

const char *keywrap_alg_name(enum keywrap_alg a)
{
	return (size_t)a < NELEM(algs) ? algs[a].name : "unknown";
}

static const EVP_CIPHER *kwp_cipher(size_t keklen)
{
	switch (keklen) {
	case 16:
		return EVP_aes_128_wrap_pad();
	case 24:
		return EVP_aes_192_wrap_pad();
	case 32:
		return EVP_aes_256_wrap_pad();
	}
	return NULL;
}

/* One pass of AES-KWP; RFC 5649's default AIV is used when iv is NULL. */
static int kwp(int enc, const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n,
               uint8_t **out, size_t *outlen)
{
	const EVP_CIPHER *c = kwp_cipher(keklen);
	*out = NULL;
	*outlen = 0;
	if (!c || n > KEYWRAP_MAX_KEY + 16 || (!enc && (n < 16 || n % 8)) || (enc && n == 0))
		return -1;
	size_t cap = n + 16;
	uint8_t *buf = xmalloc(cap);
	int l1 = 0, l2 = 0, ok = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx) {
		EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
		ok = EVP_CipherInit_ex(ctx, c, NULL, kek, NULL, enc) == 1 &&
		     EVP_CipherUpdate(ctx, buf, &l1, in, (int)n) == 1 && l1 > 0 &&
		     EVP_CipherFinal_ex(ctx, buf + l1, &l2) == 1;
		EVP_CIPHER_CTX_free(ctx);
	}
	if (!ok || (size_t)l1 + (size_t)l2 > cap) {
		wipe(buf, cap);
		free(buf);
		ERR_clear_error();
		return -1;
	}
	*out = buf;
	*outlen = (size_t)l1 + (size_t)l2;
	return 0;
}

int keywrap_aes_kwp_wrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n,
                         uint8_t **out, size_t *outlen, struct err *e)
{
	if (kwp(1, kek, keklen, in, n, out, outlen) < 0)
		return err_set(e, ERR_INTERNAL, "AES key wrap failed (key of %zu bytes)", n);
	return 0;
}

int keywrap_aes_kwp_unwrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n,
                           uint8_t **out, size_t *outlen, struct err *e)
{
	if (kwp(0, kek, keklen, in, n, out, outlen) < 0)
		return err_set(e, ERR_UNPROCESSABLE, UNWRAP_FAILED);
	return 0;
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *k, enum keywrap_alg a, int enc)
{
	if ((size_t)a >= NELEM(algs) || !k || !EVP_PKEY_is_a(k, "RSA"))
		return NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (!ctx)
		return NULL;
	int ok = (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	         EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, algs[a].md, NULL) == 1 &&
	         EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, algs[a].md, NULL) == 1;
	if (!ok) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int keywrap_wrap(EVP_PKEY *rsa_pub, enum keywrap_alg a, const uint8_t *key, size_t n, uint8_t **out,
                 size_t *outlen, struct err *e)
{
	*out = NULL;
	*outlen = 0;
	if (!rsa_pub || !EVP_PKEY_is_a(rsa_pub, "RSA") || EVP_PKEY_get_bits(rsa_pub) < 2048)
		return err_set(e, ERR_BAD_REQUEST,
		               "the wrapping key must be an RSA key of at least 2048 bits");
	if (n == 0 || n > KEYWRAP_MAX_KEY)
		return err_set(e, ERR_BAD_REQUEST, "key to wrap is %zu bytes; 1..%d allowed", n,
		               KEYWRAP_MAX_KEY);
	uint8_t kek[32];
	if (RAND_bytes(kek, sizeof(kek)) != 1)
		return err_set(e, ERR_INTERNAL, "no randomness for the key-encryption key");
	size_t modlen = (size_t)EVP_PKEY_get_size(rsa_pub), rsalen = modlen;
	uint8_t *res = NULL, *kw = NULL;
	size_t kwlen = 0;
	int rc = -1;
	EVP_PKEY_CTX *ctx = oaep_ctx(rsa_pub, a, 1);
	if (!ctx) {
		err_set(e, ERR_INTERNAL, "RSA-OAEP (%s) is not available", keywrap_alg_name(a));
		goto done;
	}
	res = xmalloc(modlen);
	if (EVP_PKEY_encrypt(ctx, res, &rsalen, kek, sizeof(kek)) != 1 || rsalen != modlen) {
		err_set(e, ERR_INTERNAL, "RSA-OAEP encryption of the key-encryption key failed");
		goto done;
	}
	if (keywrap_aes_kwp_wrap(kek, sizeof(kek), key, n, &kw, &kwlen, e) < 0)
		goto done;
	res = xrealloc(res, modlen + kwlen);
	memcpy(res + modlen, kw, kwlen);
	*out = res;
	*outlen = modlen + kwlen;
	res = NULL;
	rc = 0;
done:
	wipe(kek, sizeof(kek));
	EVP_PKEY_CTX_free(ctx);
	free(res);
	free(kw);
	ERR_clear_error();
	return rc;
}

int keywrap_unwrap(EVP_PKEY *rsa_priv, enum keywrap_alg a, const uint8_t *ct, size_t n,
                   uint8_t **key, size_t *keylen, struct err *e)
{
	*key = NULL;
	*keylen = 0;
	if (!rsa_priv || !EVP_PKEY_is_a(rsa_priv, "RSA"))
		return err_set(e, ERR_INTERNAL, "the unwrapping key is not an RSA key");
	size_t modlen = (size_t)EVP_PKEY_get_size(rsa_priv);
	/* The length split is public; every check after it answers the same. */
	if (n < modlen + 16 || (n - modlen) % 8 || n - modlen > KEYWRAP_MAX_KEY + 8)
		return err_set(e, ERR_UNPROCESSABLE,
		               "wrapped key is %zu bytes; expected %zu bytes of RSA-OAEP and a "
		               "multiple of 8 (at least 16) of AES key wrap",
		               n, modlen);
	uint8_t *kek = xmalloc(modlen);
	size_t keklen = modlen;
	int rc = -1;
	EVP_PKEY_CTX *ctx = oaep_ctx(rsa_priv, a, 0);
	if (ctx && EVP_PKEY_decrypt(ctx, kek, &keklen, ct, modlen) == 1 && kwp_cipher(keklen) &&
	    kwp(0, kek, keklen, ct + modlen, n - modlen, key, keylen) == 0)
		rc = 0;
	else
		err_set(e, ERR_UNPROCESSABLE, UNWRAP_FAILED);
	EVP_PKEY_CTX_free(ctx);
	wipe(kek, modlen);
	free(kek);
	ERR_clear_error();
	return rc;
}
