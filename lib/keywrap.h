/*
 * keywrap: the RSA-AES key wrap of Key Vault secure key release (PROTOCOLS.md §5.3),
 * i.e. PKCS#11 CKM_RSA_AES_KEY_WRAP, in both directions.
 *
 *   wrapped = RSA-OAEP(wrapping public key, KEK) || AES-KWP(KEK, key)   (RFC 5649)
 *
 * The OAEP hash and its MGF1 hash are SHA-1, SHA-256 or SHA-384 by algorithm; the
 * OAEP label is empty.  wrap draws a fresh AES-256 KEK per call; unwrap accepts a
 * 128-, 192- or 256-bit KEK.  The split point is the wrapping key's modulus size.
 *
 * Unwrap failures are all ERR_UNPROCESSABLE with one fixed message: which step failed
 * (OAEP padding, KEK length, integrity check) is never told, so the caller cannot
 * become a padding oracle.  KEKs are wiped; the unwrapped key is secret and the
 * caller wipes and frees it.
 */
#ifndef KEYWRAP_H
#define KEYWRAP_H

#include <openssl/evp.h>

#include "err.h"

enum keywrap_alg {
	KEYWRAP_RSA_AES,     /* "CKM_RSA_AES_KEY_WRAP": OAEP SHA-1 */
	KEYWRAP_RSA_AES_256, /* "RSA_AES_KEY_WRAP_256": OAEP SHA-256 */
	KEYWRAP_RSA_AES_384, /* "RSA_AES_KEY_WRAP_384": OAEP SHA-384 */
};

/* Largest key accepted for wrapping or produced by unwrapping, in bytes. */
#define KEYWRAP_MAX_KEY (64 * 1024)

/* The algorithm named by a Key Vault "enc" value (exact match); ERR_BAD_REQUEST otherwise. */
int keywrap_alg_parse(const char *name, enum keywrap_alg *out, struct err *e) MUST_CHECK;
/* Its Key Vault name (static string). */
const char *keywrap_alg_name(enum keywrap_alg a);

/* Wrap key[0..n) to an RSA public key (>= 2048 bits); *out (caller frees) holds
 * modulus-size bytes of OAEP then the RFC 5649 wrapping. */
int keywrap_wrap(EVP_PKEY *rsa_pub, enum keywrap_alg a, const uint8_t *key, size_t n, uint8_t **out,
                 size_t *outlen, struct err *e) MUST_CHECK;

/* Inverse of keywrap_wrap with the private key.  *key is secret: caller wipes and frees. */
int keywrap_unwrap(EVP_PKEY *rsa_priv, enum keywrap_alg a, const uint8_t *ct, size_t n,
                   uint8_t **key, size_t *keylen, struct err *e) MUST_CHECK;

/* The AES-KWP building blocks (RFC 5649), exposed for known-answer tests.  kek is 16, 24
 * or 32 bytes.  wrap output is 8 + n rounded up to 8 bytes; unwrap output is secret. */
int keywrap_aes_kwp_wrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n,
                         uint8_t **out, size_t *outlen, struct err *e) MUST_CHECK;
int keywrap_aes_kwp_unwrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n,
                           uint8_t **out, size_t *outlen, struct err *e) MUST_CHECK;

#endif
