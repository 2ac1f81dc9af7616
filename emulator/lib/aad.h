/*
 * aad: what the local identity endpoint (emulator/identity) and the local key vault
 * (emulator/keyvault) share about the stand-in for Azure AD: its signing key, its
 * issuer, checking a bearer token, and the small pieces of HTTP plumbing both need.
 *
 * The "local AAD" is one RSA key: AAD_KEY_DIR/aad.key (0600, made by `identity init`)
 * signs managed-identity tokens; AAD_KEY_DIR/aad.pem is its public key, which a vault
 * loads (AAD_PUBLIC_KEY) to check bearer tokens.  Tokens carry the issuer
 * aad_issuer() and "x-demo-emulated": true.  Linked only into emulator programs.
 */
#ifndef AAD_H
#define AAD_H

#include <json-c/json.h>
#include <openssl/evp.h>

#include "err.h"

#define AAD_DEFAULT_ISSUER "http://127.0.0.1/local-aad/"
#define AAD_KEY_FILE       "aad.key"
#define AAD_PUB_FILE       "aad.pem"
#define AAD_KEY_BITS       2048

/* AAD_ISSUER from the environment, else AAD_DEFAULT_ISSUER (static storage). */
const char *aad_issuer(void);

/* Create dir (0700) and its aad.key/aad.pem unless both are there and match. */
int aad_init_dir(const char *dir, struct err *e) MUST_CHECK;

/*
 * Check an "Authorization" header value ("Bearer <jwt>"): RS256 by pub (kid = its
 * RFC 7638 thumbprint), iss == issuer, in date, and aud == audience (a trailing
 * slash on either is ignored).  On success *claims is the payload (caller puts).
 * Every failure is ERR_UNAUTHORIZED with a message that names the check, never the
 * token.
 */
int aad_verify_bearer(const char *authorization, EVP_PKEY *pub, const char *issuer,
                      const char *audience, struct json_object **claims, struct err *e) MUST_CHECK;

/* Query parameter name of the raw query string, percent-decoded: 1 and *out (caller
 * frees) when present, 0 when absent, -1 when malformed (bad escape or a NUL). */
int aad_query_get(const char *query, const char *name, char **out) MUST_CHECK;

#endif
