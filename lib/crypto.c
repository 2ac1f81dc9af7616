#include "crypto.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>

#include "codec.h"
#include "config.h"

#define ENV_VERSION             1
#define ENV_ALG_OAEP256_A256GCM 1
#define ENV_FIXED               24 /* version, alg, wrapped_len, key_id, iv */
#define ENV_IV                  12
#define ENV_TAG                 16
#define ENV_DEK                 32
/* Room for {"ciphertext":"..."} and a little whitespace around the text. */
#define DECRYPT_BODY_SLACK 64

static int is_rsa(EVP_PKEY *key)
{
	/* The id, not EVP_PKEY_is_a(): that looks the name up on every call. */
	return key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
}

size_t crypto_oaep_max(EVP_PKEY *key)
{
	if (!is_rsa(key))
		return 0;
	int k = EVP_PKEY_get_size(key);
	/* OAEP overhead is 2*hLen + 2 = 66 bytes for SHA-256. */
	return k > 66 ? (size_t)k - 66 : 0;
}

size_t crypto_envelope_max(EVP_PKEY *key)
{
	if (!is_rsa(key))
		return 0;
	size_t k = (size_t)EVP_PKEY_get_size(key);
	size_t body = cfg.max_body ? cfg.max_body : 65536;
	size_t oaep = crypto_oaep_max(key);
	size_t prefix = strlen(CRYPTO_ENVELOPE_PREFIX);
	if (body < DECRYPT_BODY_SLACK + prefix + 4)
		return oaep;
	/* text = prefix + 4*ceil(m/3), m = ENV_FIXED + k + n + ENV_TAG */
	size_t m = 3 * ((body - DECRYPT_BODY_SLACK - prefix) / 4);
	if (m <= ENV_FIXED + k + ENV_TAG)
		return oaep;
	size_t n = m - ENV_FIXED - k - ENV_TAG;
	return n > oaep ? n : oaep;
}

int crypto_key_id(EVP_PKEY *key, uint8_t id[8])
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(key, &der);
	if (len <= 0)
		return -1;
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);
	int ok = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if (!ok)
		return -1;
	memcpy(id, md, 8);
	return 0;
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *key, int encrypt)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!ctx)
		return NULL;
	if ((encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * The OAEP contexts of the one key kept (crypto_keep_contexts): made once, used for every
 * operation with that key (a context serves any number of them), under the lock.  They
 * hold a reference to the key, so crypto_forget() must free them before the key can go.
 */
static struct {
	EVP_PKEY *key;
	EVP_PKEY_CTX *ctx[2]; /* [0] decrypt, [1] encrypt; NULL until first needed */
} kept;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

void crypto_keep_contexts(EVP_PKEY *key)
{
	crypto_forget(NULL);
	pthread_mutex_lock(&kept_lock);
	kept.key = key;
	pthread_mutex_unlock(&kept_lock);
}

void crypto_forget(EVP_PKEY *key)
{
	pthread_mutex_lock(&kept_lock);
	if (!key || key == kept.key) {
		EVP_PKEY_CTX_free(kept.ctx[0]);
		EVP_PKEY_CTX_free(kept.ctx[1]);
		memset(&kept, 0, sizeof(kept));
	}
	pthread_mutex_unlock(&kept_lock);
}

/* The context for key, locked when it is the kept one (*locked), else a new one. */
static EVP_PKEY_CTX *ctx_for(EVP_PKEY *key, int encrypt, int *locked)
{
	pthread_mutex_lock(&kept_lock);
	if (key == kept.key) {
		if (!kept.ctx[encrypt])
			kept.ctx[encrypt] = oaep_ctx(key, encrypt);
		if (kept.ctx[encrypt]) {
			*locked = 1;
			return kept.ctx[encrypt];
		}
	}
	pthread_mutex_unlock(&kept_lock);
	*locked = 0;
	return oaep_ctx(key, encrypt);
}

static void ctx_done(EVP_PKEY_CTX *ctx, int locked)
{
	if (locked)
		pthread_mutex_unlock(&kept_lock);
	else
		EVP_PKEY_CTX_free(ctx);
}

/* RSA-OAEP-256 of n bytes into out (k bytes); 0 or -1. */
static int oaep_encrypt(EVP_PKEY *key, const uint8_t *in, size_t n, uint8_t *out, size_t k)
{
	int locked;
	EVP_PKEY_CTX *ctx = ctx_for(key, 1, &locked);
	if (!ctx)
		return -1;
	size_t outlen = k;
	int ok = EVP_PKEY_encrypt(ctx, out, &outlen, in, n) > 0 && outlen == k;
	ctx_done(ctx, locked);
	return ok ? 0 : -1;
}

/* RSA-OAEP-256 decryption of one k-byte block; *out (wipe it) and *outlen. */
static int oaep_decrypt(EVP_PKEY *key, const uint8_t *in, size_t k, uint8_t **out, size_t *outlen)
{
	int locked;
	EVP_PKEY_CTX *ctx = ctx_for(key, 0, &locked);
	if (!ctx)
		return -1;
	uint8_t *buf = xmalloc(k + 1);
	size_t len = k;
	int ok = EVP_PKEY_decrypt(ctx, buf, &len, in, k) > 0;
	ctx_done(ctx, locked);
	ERR_clear_error();
	if (!ok) {
		wipe(buf, k + 1);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static int bad_ciphertext(struct err *e)
{
	return err_set(e, ERR_BAD_REQUEST, CRYPTO_BAD_CIPHERTEXT);
}

/* AES-256-GCM one-shot; enc=1 writes the tag, enc=0 checks it.  0 or -1. */
static int gcm(int enc, const uint8_t key[ENV_DEK], const uint8_t iv[ENV_IV], const uint8_t *aad,
               size_t aadlen, const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[ENV_TAG])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, ok = 0;
	if (!ctx)
		return -1;
	if (n > INT32_MAX || aadlen > INT32_MAX)
		goto done;
	if (!EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ENV_IV, NULL) ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) ||
	    !EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aadlen))
		goto done;
	if (n && !EVP_CipherUpdate(ctx, out, &len, in, (int)n))
		goto done;
	if (!enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ENV_TAG, tag))
		goto done;
	if (!EVP_CipherFinal_ex(ctx, out + (n ? (size_t)len : 0), &len))
		goto done;
	if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ENV_TAG, tag))
		goto done;
	ok = 1;
done:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -1;
}

static int envelope_encrypt(EVP_PKEY *key, const uint8_t *pt, size_t n, char **out, struct err *e)
{
	size_t k = (size_t)EVP_PKEY_get_size(key);
	size_t total = ENV_FIXED + k + n + ENV_TAG;
	uint8_t *blob = xmalloc(total);
	uint8_t dek[ENV_DEK];
	int rc = -1;
	blob[0] = ENV_VERSION;
	blob[1] = ENV_ALG_OAEP256_A256GCM;
	blob[2] = (uint8_t)(k >> 8);
	blob[3] = (uint8_t)k;
	if (crypto_key_id(key, blob + 4) < 0 || RAND_bytes(blob + 12, ENV_IV) != 1 ||
	    RAND_bytes(dek, sizeof(dek)) != 1) {
		err_set(e, ERR_INTERNAL, "envelope encryption: no key id or random bytes");
		goto done;
	}
	if (oaep_encrypt(key, dek, sizeof(dek), blob + ENV_FIXED, k) < 0) {
		err_set(e, ERR_INTERNAL, "envelope encryption: wrapping the data key failed");
		goto done;
	}
	size_t aadlen = ENV_FIXED + k;
	if (gcm(1, dek, blob + 12, blob, aadlen, pt, n, blob + aadlen, blob + aadlen + n) < 0) {
		err_set(e, ERR_INTERNAL, "envelope encryption: AES-256-GCM failed");
		goto done;
	}
	char *b64 = b64_encode(blob, total, B64_STD, B64_PAD_REQUIRED);
	*out = xasprintf("%s%s", CRYPTO_ENVELOPE_PREFIX, b64);
	free(b64);
	rc = 0;
done:
	wipe(dek, sizeof(dek));
	free(blob);
	return rc;
}

static int crypto_encrypt_do(EVP_PKEY *key, const uint8_t *pt, size_t n, char **out,
                             const char **algorithm, struct err *e)
{
	*out = NULL;
	if (!is_rsa(key))
		return err_set(e, ERR_INTERNAL, "the released key is not an RSA key");
	if (n == 0)
		return err_set(e, ERR_BAD_REQUEST, "plaintext is empty");
	size_t oaep = crypto_oaep_max(key), env = crypto_envelope_max(key);
	if (n <= oaep) {
		size_t k = (size_t)EVP_PKEY_get_size(key);
		uint8_t *ct = xmalloc(k);
		if (oaep_encrypt(key, pt, n, ct, k) < 0) {
			free(ct);
			return err_set(e, ERR_INTERNAL, "RSA-OAEP encryption failed");
		}
		*out = b64_encode(ct, k, B64_STD, B64_PAD_REQUIRED);
		free(ct);
		*algorithm = CRYPTO_ALG_OAEP;
		return 0;
	}
	if (n > env)
		return err_set(
		    e, ERR_TOO_LARGE,
		    "plaintext is %zu bytes; the limit is %zu bytes (%zu in the original "
		    "RSA-OAEP format, more with envelope encryption)",
		    n, env, oaep);
	if (envelope_encrypt(key, pt, n, out, e) < 0)
		return -1;
	*algorithm = CRYPTO_ALG_ENVELOPE;
	return 0;
}

static int envelope_decrypt(EVP_PKEY *key, const char *b64, uint8_t **pt, size_t *n, struct err *e)
{
	size_t k = (size_t)EVP_PKEY_get_size(key);
	unsigned char *blob = NULL;
	size_t len = 0;
	uint8_t id[8];
	uint8_t *dek = NULL;
	size_t deklen = 0;
	int rc = -1;
	if (b64_decode(b64, strlen(b64), B64_STD, B64_PAD_ANY, &blob, &len) < 0)
		return err_set(e, ERR_BAD_REQUEST,
		               "ciphertext is not valid: after \"%s\" standard base64 must follow",
		               CRYPTO_ENVELOPE_PREFIX);
	if (len < ENV_FIXED + ENV_TAG) {
		err_set(e, ERR_BAD_REQUEST, "ciphertext is not valid: the envelope is truncated");
		goto done;
	}
	if (blob[0] != ENV_VERSION || blob[1] != ENV_ALG_OAEP256_A256GCM) {
		err_set(e, ERR_BAD_REQUEST,
		        "ciphertext is not valid: unknown envelope version %u or algorithm %u",
		        blob[0], blob[1]);
		goto done;
	}
	size_t wl = ((size_t)blob[2] << 8) | blob[3];
	if (len < ENV_FIXED + wl + ENV_TAG) {
		err_set(e, ERR_BAD_REQUEST, "ciphertext is not valid: the envelope is truncated");
		goto done;
	}
	/* A wrong size or key id means another key: the same answer as a bad tag. */
	if (wl != k || crypto_key_id(key, id) < 0 || !ct_equal(id, blob + 4, 8) ||
	    oaep_decrypt(key, blob + ENV_FIXED, k, &dek, &deklen) < 0) {
		bad_ciphertext(e);
		goto done;
	}
	if (deklen != ENV_DEK) {
		bad_ciphertext(e);
		goto done;
	}
	size_t aadlen = ENV_FIXED + k, clen = len - aadlen - ENV_TAG;
	uint8_t *out = xmalloc(clen + 1);
	if (gcm(0, dek, blob + 12, blob, aadlen, blob + aadlen, clen, out, blob + len - ENV_TAG) <
	    0) {
		wipe(out, clen + 1);
		free(out);
		bad_ciphertext(e);
		goto done;
	}
	out[clen] = '\0';
	*pt = out;
	*n = clen;
	rc = 0;
done:
	if (dek) {
		wipe(dek, deklen);
		free(dek);
	}
	free(blob);
	return rc;
}

static int crypto_decrypt_do(EVP_PKEY *key, const char *text, uint8_t **pt, size_t *n,
                             const char **algorithm, struct err *e)
{
	*pt = NULL;
	*n = 0;
	if (!is_rsa(key))
		return err_set(e, ERR_INTERNAL, "the released key is not an RSA key");
	if (!text || !*text)
		return err_set(e, ERR_BAD_REQUEST, "ciphertext is empty");
	size_t plen = strlen(CRYPTO_ENVELOPE_PREFIX);
	if (!strncmp(text, CRYPTO_ENVELOPE_PREFIX, plen)) {
		if (envelope_decrypt(key, text + plen, pt, n, e) < 0)
			return -1;
		*algorithm = CRYPTO_ALG_ENVELOPE;
		return 0;
	}
	size_t k = (size_t)EVP_PKEY_get_size(key);
	unsigned char *ct = NULL;
	size_t len = 0;
	if (b64_decode(text, strlen(text), B64_STD, B64_PAD_ANY, &ct, &len) < 0)
		return err_set(e, ERR_BAD_REQUEST,
		               "ciphertext is not valid: expected standard base64 (RSA-OAEP) or "
		               "\"%s...\" (envelope)",
		               CRYPTO_ENVELOPE_PREFIX);
	int rc;
	/* Another key size is another key: the same answer as a failed decryption, on purpose.
	 * NOLINTNEXTLINE(bugprone-branch-clone) */
	if (len != k) {
		rc = bad_ciphertext(e);
	} else if (oaep_decrypt(key, ct, k, pt, n) < 0) {
		rc = bad_ciphertext(e);
	} else {
		*algorithm = CRYPTO_ALG_OAEP;
		rc = 0;
	}
	free(ct);
	return rc;
}

int crypto_encrypt(EVP_PKEY *key, const uint8_t *pt, size_t n, char **out, const char **algorithm,
                   struct err *e)
{
	return crypto_encrypt_do(key, pt, n, out, algorithm, e) < 0 ? err_in(e, STAGE_CRYPTO) : 0;
}

int crypto_decrypt(EVP_PKEY *key, const char *text, uint8_t **pt, size_t *n, const char **algorithm,
                   struct err *e)
{
	return crypto_decrypt_do(key, text, pt, n, algorithm, e) < 0 ? err_in(e, STAGE_CRYPTO) : 0;
}

int crypto_decrypt_text(EVP_PKEY *key, const char *text, uint8_t **pt, size_t *n,
                        const char **algorithm, struct err *e)
{
	if (crypto_decrypt(key, text, pt, n, algorithm, e) < 0)
		return -1;
	if (utf8_invalid_at(*pt, *n) == *n)
		return 0;
	wipe(*pt, *n);
	free(*pt);
	*pt = NULL;
	*n = 0;
	err_set(e, ERR_UNPROCESSABLE, "the decrypted data is not UTF-8 text");
	return err_in(e, STAGE_CRYPTO);
}

size_t crypto_ciphertext_bytes(const char *text)
{
	size_t plen = strlen(CRYPTO_ENVELOPE_PREFIX);
	if (!strncmp(text, CRYPTO_ENVELOPE_PREFIX, plen))
		text += plen;
	size_t len = strlen(text);
	while (len && text[len - 1] == '=')
		len--;
	return len % 4 == 1 ? 0 : len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}
