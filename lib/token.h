/*
 * token: verifying attestation tokens (MAA JWTs) against the configured issuer.
 *
 * The signing keys come only from the configured attestation endpoint
 * (issuer->url + "/certs"); the token's jku, x5u, jwk and x5c headers are
 * never followed.  Each issuer's JWKS is cached in process memory for
 * TOKEN_JWKS_TTL seconds; a token naming a kid the cache lacks (key
 * rotation) triggers at most one refetch per TOKEN_REFETCH_MIN seconds, so
 * tokens with made-up kids cannot turn us into a request amplifier.
 * A signature that a cached key carrying the token's kid does not verify
 * triggers a refetch under the same limit (an issuer may replace a key
 * under its kid).  With each JWKS its RS256 keys are decoded once (per
 * issuer and kid, from the configured /certs only), so verifying a token
 * is one RSA verification.  The cache is guarded by a mutex; a fetched
 * JWKS and its keys are shared read-only, reference-counted, and freed
 * when the last verification using them ends.
 */
#ifndef TOKEN_H
#define TOKEN_H

#include <json-c/json.h>

#include "config.h"
#include "err.h"

#define TOKEN_JWKS_TTL    600
#define TOKEN_REFETCH_MIN 30

/*
 * Verify compact (RS256, kid in issuer's JWKS, iss == issuer->url, in date).
 * On success *claims is the payload (caller puts).  Token faults are
 * ERR_UNAUTHORIZED; failing to get the keys is the fetch error (ERR_UNAVAILABLE,
 * ERR_TIMEOUT) or ERR_UPSTREAM for an unusable /certs answer.
 */
int token_verify(const char *compact, const struct endpoint *issuer, struct json_object **claims,
                 struct err *e) MUST_CHECK;
/* Fetch issuer->url + "/certs" now, bypassing the cache; caller puts *jwks. */
int token_fetch_jwks(const struct endpoint *issuer, struct json_object **jwks,
                     struct err *e) MUST_CHECK;
/* Forget every cached JWKS (tests, and after a configuration change). */
void token_cache_clear(void);
/* How many times the cache fetched a JWKS (tests, diagnosis). */
unsigned long token_cache_fetches(void);

#endif
