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

/* The verifying keys of a JWKS, each member decoded once (jwk_to_public_pkey), so that
 * verifying a token is one RSA verification.  Owns its members. */
struct jwk_key {
	char *kid;
	EVP_PKEY *pk;  /* NULL when the member is unusable... */
	char why[200]; /* ...and why */
};
struct jwk_keyset {
	struct jwk_key *v;
	size_t n;
};
/* The members of jwks.keys[] that may verify RS256 tokens (a kid; "use" sig or absent;
 * "alg" RS256 or absent), only those whose kid is kid when kid is not NULL.  jwks NULL:
 * an empty set.  Release with jwk_keyset_free. */
void jwk_keyset_from_jwks(struct json_object *jwks, const char *kid, struct jwk_keyset *out);
void jwk_keyset_free(struct jwk_keyset *s);

/* The header (alg RS256, no crit, a kid) and the signature of a parsed token against the
 * keys carrying its kid: 0, or ERR_UNAUTHORIZED saying which check failed, returning -1
 * (the header, or no key carries the kid) or JWT_SIG_NO_MATCH (keys carry the kid but none
 * verifies the signature: a forgery, or an issuer that replaced the key under its kid). */
#define JWT_SIG_NO_MATCH (-2)
int jwt_verify_signature(const struct jwt *j, const struct jwk_keyset *keys,
                         struct err *e) MUST_CHECK;
/* After jwt_verify_signature: iss equals issuer exactly, in date at now (as below).
 * *claims is the payload (caller puts). */
int jwt_check_claims(const struct jwt *j, const char *issuer, long long now,
                     struct json_object **claims, struct err *e) MUST_CHECK;

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
