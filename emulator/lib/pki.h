/*
 * pki: the key and certificate files of the local stand-ins: the local AAD key
 * (emulator/identity), the signing key and self-signed certificate of the vault
 * (emulator/keyvault) and of MAA (emulator/maa), and the virtual SEV-SNP CA and VCEK
 * (emulator/lib/vsnp).
 *
 * Files are PEM.  Private keys are written as PKCS#8, mode 0600, atomically, from a
 * buffer that is cleansed when freed; certificates and public keys are 0644.  A file
 * that is absent fails with ERR_NOT_FOUND and one that is there but does not parse
 * with ERR_INTERNAL, so "create it" and "never overwrite what we cannot read" stay
 * apart.  Every returned key or certificate belongs to the caller (EVP_PKEY_free,
 * X509_free).  Nothing here prints; callers say what they created.  Linked only into
 * emulator programs and unit tests.
 */
#ifndef PKI_H
#define PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"

/* Exclusive flock on dir/.lock (created 0600); returns the fd to close (unlocks), or -1. */
int pki_lock_dir(const char *dir, struct err *e) MUST_CHECK;

/* The private key in a PEM file; NULL with e set (ERR_NOT_FOUND when absent). */
EVP_PKEY *pki_load_private_key(const char *path, struct err *e);
/* The public key in a PEM file holding a public key or a certificate; NULL with e set. */
EVP_PKEY *pki_load_public_key(const char *path, struct err *e);
/* The certificate in a PEM file; NULL with e set (ERR_NOT_FOUND when absent). */
X509 *pki_load_cert(const char *path, struct err *e);

/* Write key as PKCS#8 PEM (0600) or its public part (0644), atomically. */
int pki_write_key(const char *path, EVP_PKEY *key, int private_part, struct err *e) MUST_CHECK;
/* Write cert as PEM (0644), atomically. */
int pki_write_cert(const char *path, X509 *cert, struct err *e) MUST_CHECK;

/*
 * A self-signed end-entity certificate for a token-signing key: subject O=org, CN=cn,
 * random 127-bit serial, valid from a minute ago for ten years, CA:FALSE,
 * digitalSignature only, SHA-256; with a subjectAltName for host (IP or DNS, by its
 * form) when host is not NULL.  NULL on failure.
 */
X509 *pki_self_signed(EVP_PKEY *key, const char *org, const char *cn, const char *host);

/*
 * The RSA key in path, or a new one of bits written there when the file is absent
 * (*created set to 1).  A file that is there but does not load is an error and is
 * never overwritten: whatever it signed may still be in use.
 */
EVP_PKEY *pki_ensure_rsa_key(const char *path, int bits, int *created, struct err *e);

/*
 * Make path hold pki_self_signed(key, org, cn, host), unless the certificate there is
 * already for key (and, when host is not NULL, valid for host).  Returns 1 when it
 * wrote a new one, 0 when it kept the old, -1 on failure.
 */
int pki_ensure_self_signed(const char *path, EVP_PKEY *key, const char *org, const char *cn,
                           const char *host, struct err *e) MUST_CHECK;

#endif
