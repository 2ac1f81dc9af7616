/*
 * pkcs8: an RSA private key to and from PKCS#8 PrivateKeyInfo DER (RFC 5208,
 * the two-prime RSAPrivateKey of RFC 8017 A.1.2), the format of the custody
 * file and of a key the vault releases.
 *
 * Why not i2d/d2i through OpenSSL's encoders and decoders: in OpenSSL 3.0
 * they pass the key through intermediate buffers that are freed without
 * being cleared, so every encoding or decoding left the private numbers in
 * freed heap memory.  Here the numbers travel only through buffers this
 * module owns and wipes, and OSSL_PARAMs that point into them
 * (EVP_PKEY_fromdata, EVP_PKEY_get_params); OpenSSL's own copy is freed with
 * the key (EVP_PKEY_free clears it).
 *
 * Decoding is strict DER: definite minimal lengths, minimal non-negative
 * INTEGERs, version 0 (or 1, whose optional public key is ignored) and
 * rsaEncryption with NULL or absent parameters, nothing after the last
 * element; the numbers must form one key pair (n = pq, the exponents and the
 * coefficient agree), checked with a few multiplications, not OpenSSL's
 * primality tests.
 */
#ifndef PKCS8_H
#define PKCS8_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The key (caller EVP_PKEY_free), or NULL with e set: ERR_UNPROCESSABLE for anything that
 * is not a PKCS#8 two-prime RSA private key, ERR_UNSUPPORTED for another algorithm. */
EVP_PKEY *pkcs8_rsa_decode(const uint8_t *der, size_t n, struct err *e);
/* *der (n bytes; caller wipes and frees) of an RSA private key; -1 with e set if key is
 * not one. */
int pkcs8_rsa_encode(EVP_PKEY *key, uint8_t **der, size_t *n, struct err *e) MUST_CHECK;

#endif
