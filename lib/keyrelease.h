/*
 * keyrelease: Key Vault secure key release (PROTOCOLS.md §5), the same code
 * for Azure and the local stand-ins.
 *
 * Native path (attest_choose() == ATTEST_NATIVE):
 *   fresh RSA-2048 wrapping key -> runtime data {"keys":[its public JWK]} ->
 *   attestation token (attest_token) -> managed identity token (identity_token)
 *   -> POST {vault}/keys/{name}/release?api-version=7.4 {"target":token} ->
 *   JWS check (RS256 with x5c[0]; x5c chain to the system roots with the vault
 *   host as DNS name, or, for a loopback vault only, x5c[0] equal to the PEM
 *   certificate named by AKV_TRUST_CERT) -> key_hsm ciphertext -> keywrap_unwrap
 *   with the payload's request.enc -> PKCS#8 DER -> EVP_PKEY.
 * Sidecar path: the sidecar's /key/release JWK (§1.4) -> EVP_PKEY.
 *
 * Every buffer that held private material (wrapping key, unwrapped DER, the
 * sidecar's JWK text) is wiped; the identity token is never logged.  Only the
 * returned EVP_PKEY holds the private key, and the caller frees it.
 *
 * Facts are PUBLIC values only: {name, kid, kty, size, thumbprint, key_ops,
 * enc, release_policy, claims{...}, backend, evidence_source, timing{attestation,
 * identity, release, unwrap, total}}.  On failure they are {stage, backend,
 * timing, vault_status?} where stage is "configuration", "attestation",
 * "identity", "release", "verification" or "unwrap", so the page can say
 * which step failed.
 */
#ifndef KEYRELEASE_H
#define KEYRELEASE_H

#include <json-c/json.h>
#include <openssl/evp.h>

#include "config.h"
#include "err.h"

#define KEYRELEASE_API "api-version=7.4"
/* Environment variable naming the PEM certificate of a loopback (local) vault. */
#define KEYRELEASE_TRUST_ENV "AKV_TRUST_CERT"

/*
 * Release key_name from the vault akv.  *key (caller EVP_PKEY_free) on success;
 * *facts (caller puts) on success and on failure.  Vault refusals keep the
 * vault's message: 401 ERR_UNAUTHORIZED, 403 ERR_FORBIDDEN, 404 ERR_NOT_FOUND
 * (e->upstream_status = the vault's status).  A JWS that fails its checks is
 * ERR_VERIFY; attestation and identity failures keep their codes.
 */
int keyrelease_release(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                       struct json_object **facts, struct err *e) MUST_CHECK;

/*
 * Dry run: a fresh attestation token, the key's release policy read with GET
 * {vault}/keys/{name} (needs the `get` permission), the token verified against
 * cfg.maa and the policy evaluated.  *result = {"would_release":bool|null,
 * "policy", "evaluation", "first_failure", "claims", "policy_readable",
 * "vault_status"?, "message"}.  Fails only when no token can be had.
 */
int keyrelease_policy_check(const struct endpoint *akv, const char *key_name,
                            struct json_object **result, struct err *e) MUST_CHECK;

/* ---- building blocks, public for the unit tests ---- */

/* {"keys":[{"e","key_ops":["encrypt"],"kid":<RFC 7638 thumbprint>,"kty":"RSA","n"}]}. */
struct json_object *keyrelease_runtime_jwks(EVP_PKEY *wrap_key);

/*
 * Check a release answer's compact JWS as described above (akv decides which
 * trust rule applies) and hand back its payload (caller puts).  ERR_VERIFY.
 */
int keyrelease_verify_jws(const char *jws, const struct endpoint *akv, struct json_object **payload,
                          struct err *e) MUST_CHECK;

/*
 * Unwrap the key of a verified release payload with the wrapping key.  The kid
 * must name key_name.  Fills the public facts into facts (an object owned by
 * the caller).  ERR_UNPROCESSABLE / ERR_UNSUPPORTED (not an RSA key).
 */
int keyrelease_unwrap_payload(struct json_object *payload, EVP_PKEY *wrap_key, const char *key_name,
                              EVP_PKEY **key, struct json_object *facts, struct err *e) MUST_CHECK;

/* An RSA private key from a private JWK text (n,e,d,p,q,dp,dq,qi); NULL with e set.
 * The text is not modified; the caller wipes it. */
EVP_PKEY *keyrelease_private_from_jwk(const char *jwk_json, struct err *e);

/* Turn a vault error answer ({"error":{"code","message"}}) into e; returns -1. */
int keyrelease_vault_error(long status, const char *body, size_t len, const char *what,
                           struct err *e);

#endif
