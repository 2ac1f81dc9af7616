/*
 * jwt: compact JWS parsing, RS256 signing and verification, RSA JWKs.
 *
 * Only RS256 (RSASSA-PKCS1-v1_5 with SHA-256) exists here: verification
 * fails closed on every other "alg", and the verifying key is chosen by
 * "kid" from a JWKS the caller fetched from a configured endpoint.  The
 * token's own key hints (jku, x5u, jwk, x5c) are never followed or trusted.
 *
 * Ownership: a struct jwt owns its members (jwt_free releases them); every
 * returned char * and json_object is owned by the caller; borrowed pointers
 * are marked as such.  Nothing here ever serialises private key members.
 */
#ifndef JWT_H
#define JWT_H

#include <json-c/json.h>
#include <openssl/evp.h>

#include "err.h"

/* Largest compact token accepted, in bytes. */
#define JWT_MAX_LEN (64 * 1024)
/* Allowed clock skew for exp, nbf and iat, in seconds. */
#define JWT_SKEW 60

struct jwt {
	struct json_object *header;  /* always a JSON object after jwt_parse */
	struct json_object *payload; /* always a JSON object after jwt_parse */
	char *signing_input;         /* "b64header.b64payload" exactly as received */
	unsigned char *sig;          /* decoded signature, may be empty (sig_len 0) */
	size_t sig_len;
};

/* Split and decode a compact JWS (three b64url-raw segments, JSON object header
 * and payload, at most JWT_MAX_LEN bytes).  Checks the form only, not the
 * signature.  On failure *out is empty and needs no jwt_free. */
int jwt_parse(const char *compact, struct jwt *out, struct err *e) MUST_CHECK;
/* Release the members; the struct may be reused. NULL members are fine. */
void jwt_free(struct jwt *j);

/* Sign payload as {"alg":"RS256","jku":jku,"kid":kid,"typ":"JWT"} (jku omitted when
 * NULL, kid when NULL).  Returns the compact token (caller frees) or NULL on failure. */
char *jwt_sign_rs256(EVP_PKEY *key, const char *kid, const char *jku, struct json_object *payload);
/* Sign payload as RS256 under header (borrowed; serialised as given, so its member order
 * is the caller's); NULL unless header says "alg":"RS256" and key is RSA.  Caller frees. */
char *jwt_sign_rs256_header(EVP_PKEY *key, struct json_object *header, struct json_object *payload);

/* Public JWK {"kty":"RSA","e","n","kid":<RFC 7638 thumbprint>} of an RSA key,
 * public members only; NULL if key is not RSA.  Caller owns the result. */
struct json_object *jwk_public(EVP_PKEY *key);
/* RFC 7638 SHA-256 thumbprint of an RSA key, b64url raw; NULL if not RSA. Caller frees. */
char *jwk_thumbprint(EVP_PKEY *key);
/* RSA public key from a JWK's n/e or, without them, from its x5c[0] certificate.
 * When both are present they must agree.  Keys under 2048 bits are refused.
 * Caller frees with EVP_PKEY_free; NULL with e set on failure. */
EVP_PKEY *jwk_to_public_pkey(struct json_object *jwk, struct err *e);
/* The first member of jwks.keys[] whose "kid" equals kid (borrowed), or NULL. */
struct json_object *jwks_find_kid(struct json_object *jwks, const char *kid);

/*
 * Verify a compact RS256 token against the keys of jwks (chosen by kid), that
 * iss equals issuer exactly, and that it is in date at time now (exp required,
 * now < exp + JWT_SKEW; nbf and iat, when present, <= now + JWT_SKEW).  On
 * success *claims is the payload (caller frees).  Every failure is
 * ERR_UNAUTHORIZED with a message saying which check failed.
 */
int jwt_verify_with_jwks(const char *compact, struct json_object *jwks, const char *issuer,
                         long long now, struct json_object **claims, struct err *e) MUST_CHECK;

#endif
