/*
 * keyrelease: Key Vault secure key release (PROTOCOLS.md §5), orchestrated
 * the same way for Azure and the local stand-ins.
 *
 * Native path (attest_backend_now() == ATTEST_NATIVE):
 *   fresh RSA-2048 wrapping key -> runtime data {"keys":[its public JWK]} ->
 *   attestation token (attest_token) -> managed identity token (kvclient) ->
 *   release call (kvclient) -> release answer verified (releaseproof) ->
 *   key_hsm ciphertext -> keywrap_unwrap with the payload's request.enc ->
 *   PKCS#8 DER -> EVP_PKEY.
 * Sidecar path: the sidecar's /key/release JWK (§1.4) -> EVP_PKEY (jwkpriv).
 *
 * Every buffer that held private material (wrapping key, unwrapped DER, the
 * sidecar's JWK text) is wiped; the identity token is never logged.  Only the
 * returned EVP_PKEY holds the private key, and the caller frees it.
 *
 * Facts are PUBLIC values only: {name, kid, kty, size, thumbprint, key_ops,
 * enc, release_policy, claims{...}, backend, evidence_source, timing{attestation,
 * identity, release, unwrap, total}}; on failure {backend, timing}, and the
 * struct err says at which stage it failed.
 */
#ifndef KEYRELEASE_H
#define KEYRELEASE_H

#include <json-c/json.h>
#include <openssl/evp.h>

#include "config.h"
#include "err.h"

/*
 * 0 if this instance is configured to release its own key (other == 0: SKR_MAA_ENDPOINT,
 * SKR_AKV_ENDPOINT, SKR_KEY_NAME) or to try the other company's (OTHER_AKV_ENDPOINT,
 * OTHER_KEY_NAME); else ERR_CONFIG naming every missing variable (e->variable lists them).
 */
int keyrelease_configured(int other, struct err *e) MUST_CHECK;

/*
 * Release key_name from the vault akv.  *key (caller EVP_PKEY_free) on success;
 * *facts (caller puts) on success and on failure.  Failures keep their stage
 * (evidence, attestation, identity, release, verification, unwrap) and code.
 */
int keyrelease_release(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                       struct json_object **facts, struct err *e) MUST_CHECK;

/* A fresh wrapping key and an attestation token whose runtime data carries it
 * (caller frees both: EVP_PKEY_free clears the key); *ms is the attestation's time.
 * The key is the spare (below) when one is ready, else generated here; either way it is
 * used for this token only and never stored or written anywhere. */
int keyrelease_fresh_token(EVP_PKEY **wrap, char **jwt, const char **source, double *ms,
                           struct err *e) MUST_CHECK;

/*
 * The spare wrapping key: RSA key generation (about 100 ms) is the slowest step of a
 * release, so a long-running process keeps one key ready.  keyrelease_spare_start() starts
 * a thread that generates one now and another each time keyrelease_fresh_token takes it
 * (one slot, a mutex and a condition variable; the thread touches nothing else but
 * OpenSSL).  A release that finds the slot empty waits for the key being generated, or
 * generates its own when no thread runs.  Call it once at start in FastCGI mode only: a
 * process that serves one request (CGI) would generate a key it never uses.
 * keyrelease_spare_stop() (also run at exit) abandons a generation in progress, joins the
 * thread and frees (clears) the spare.
 */
void keyrelease_spare_start(void);
void keyrelease_spare_stop(void);

struct keyrelease_spare_stats {
	unsigned long generated;   /* keys the thread generated */
	unsigned long taken;       /* releases that took the spare */
	unsigned long made_inline; /* releases that generated their own (no thread) */
	unsigned long failed;      /* generations that failed */
	int ready;                 /* a spare is in the slot now */
	int running;               /* the thread runs */
};
void keyrelease_spare_get_stats(struct keyrelease_spare_stats *out);

/* The public claims of our own token jwt: the usual ones plus every claim policy (may be
 * NULL) names.  NULL if jwt does not parse.  Caller puts. */
struct json_object *keyrelease_token_claims(const char *jwt, struct json_object *policy);

/* ---- building blocks, public for the unit tests ---- */

/* The wrapping key of one release (caller EVP_PKEY_free): the spare if one is ready or on
 * its way, else generated here; NULL if generation fails.  Never the same key twice. */
EVP_PKEY *keyrelease_take_wrap_key(void);

/* {"keys":[{"e","key_ops":["encrypt"],"kid":<RFC 7638 thumbprint>,"kty":"RSA","n"}]}. */
struct json_object *keyrelease_runtime_jwks(EVP_PKEY *wrap_key);

/*
 * Unwrap the key of a verified release payload with the wrapping key.  The kid
 * must name key_name.  Fills the public facts into facts (an object owned by
 * the caller).  ERR_UNPROCESSABLE / ERR_UNSUPPORTED (not an RSA key).
 */
int keyrelease_unwrap_payload(struct json_object *payload, EVP_PKEY *wrap_key, const char *key_name,
                              EVP_PKEY **key, struct json_object *facts, struct err *e) MUST_CHECK;

#endif
