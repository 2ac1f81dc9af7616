/*
 * crypto: the ciphertext formats of /encrypt, /decrypt and the record file.
 *
 * Two formats, told apart by their first characters:
 *
 *   original   std base64 (padded) of one RSA-OAEP block: SHA-256 for the
 *              OAEP hash and MGF1, empty label.  Exactly what the original
 *              demo wrote, so either side reads the other's records.  Holds
 *              at most k - 66 bytes (190 for RSA-2048).
 *
 *   envelope   "env1:" + std base64 (padded) of
 *                version(1)=1 | alg(1)=1 | wrapped_len(2, BE) | key_id(8) | iv(12) |
 *                wrapped data key (wrapped_len) | AES-256-GCM ciphertext | tag(16)
 *              The data key is a fresh AES-256 key wrapped with RSA-OAEP-256
 *              (same parameters as above); key_id is the first 8 bytes of
 *              SHA-256 over the RSA public key's SubjectPublicKeyInfo DER; the
 *              GCM AAD is every byte before the GCM ciphertext, so no header
 *              field can be changed without failing the tag.  ':' is not in
 *              the base64 alphabet, so the two formats cannot be confused.
 *
 * Every decryption failure that depends on key material (a foreign key, any
 * modified byte, a wrong tag) is ERR_BAD_REQUEST with the one message
 * CRYPTO_BAD_CIPHERTEXT, so the answer is no oracle.  Outputs are owned by
 * the caller; plaintext buffers must be wiped (wipe) before free.
 */
#ifndef CRYPTO_H
#define CRYPTO_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CRYPTO_ALG_OAEP        "RSA-OAEP-SHA256"
#define CRYPTO_ALG_ENVELOPE    "RSA-OAEP-256+A256GCM"
#define CRYPTO_ENVELOPE_PREFIX "env1:"
#define CRYPTO_BAD_CIPHERTEXT  "ciphertext was not produced with this key or was modified"

/* Largest plaintext of the original one-block format: k - 66 bytes (0 if not RSA). */
size_t crypto_oaep_max(EVP_PKEY *key);
/* Largest plaintext of the envelope format, chosen so that the ciphertext
 * still fits in a /decrypt request of cfg.max_body bytes (0 if not RSA). */
size_t crypto_envelope_max(EVP_PKEY *key);

/*
 * Encrypt n bytes (1 <= n <= crypto_envelope_max) with the public half of
 * key: the original format when n <= crypto_oaep_max, else the envelope.
 * *out is NUL-terminated text (caller frees); *algorithm is a static name.
 * ERR_BAD_REQUEST for n = 0, ERR_TOO_LARGE (message states the limit).
 */
int crypto_encrypt(EVP_PKEY *key, const uint8_t *pt, size_t n, char **out, const char **algorithm,
                   struct err *e) MUST_CHECK;

/*
 * Decrypt text in either format with the private key.  *pt (n bytes, also
 * NUL-terminated; caller wipes and frees) and *algorithm on success.
 * Malformed text, a foreign key or any modification: ERR_BAD_REQUEST.
 */
int crypto_decrypt(EVP_PKEY *key, const char *text, uint8_t **pt, size_t *n, const char **algorithm,
                   struct err *e) MUST_CHECK;

/* The same, for text: plaintext that is not UTF-8 is ERR_UNPROCESSABLE (and wiped). */
int crypto_decrypt_text(EVP_PKEY *key, const char *text, uint8_t **pt, size_t *n,
                        const char **algorithm, struct err *e) MUST_CHECK;

/* Bytes of ciphertext text stands for, from its base64 length (without the envelope
 * prefix): 256 for one RSA-2048 block, as the original reported it. */
size_t crypto_ciphertext_bytes(const char *text);

/* First 8 bytes of SHA-256(SubjectPublicKeyInfo DER) of key; 0 or -1. */
int crypto_key_id(EVP_PKEY *key, uint8_t id[8]) MUST_CHECK;

/*
 * key will be used for many operations (custody's held copy): keep its OAEP contexts
 * (one per direction, made on first use) instead of making them for every operation.
 * One key at a time; the contexts hold a reference to it, so whoever calls this calls
 * crypto_forget(key) before dropping the key, or the key (private numbers included) would
 * outlive its owner's reference.  crypto_forget(NULL) forgets whatever is kept.
 */
void crypto_keep_contexts(EVP_PKEY *key);
void crypto_forget(EVP_PKEY *key);

#endif
