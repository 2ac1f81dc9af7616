/*
 * kvclient: the Azure Key Vault / Managed HSM REST calls this project makes
 * (PROTOCOLS.md §5), the same code for Azure and the local stand-in:
 *
 *   POST {vault}/keys/{name}/release?api-version=7.4  {"target":<token>,"enc":...}
 *   GET  {vault}/keys/{name}?api-version=7.4          (the key bundle, for its policy)
 *
 * with a managed-identity bearer token for the vault's resource.  Failures
 * are at STAGE_VAULT (STAGE_IDENTITY for the bearer token): a vault refusal
 * keeps the vault's error code and message (bounded, printable), 401
 * ERR_UNAUTHORIZED, 403 ERR_FORBIDDEN, 404 ERR_NOT_FOUND, 408/429/503
 * ERR_UNAVAILABLE, 504 ERR_TIMEOUT, anything else ERR_UPSTREAM; the status,
 * code and request id are in e's upstream summary.  Bearer headers are
 * secrets: free them with free_secret_str and never log them.
 */
#ifndef KVCLIENT_H
#define KVCLIENT_H

#include <json-c/json.h>

#include "config.h"
#include "err.h"

#define KV_API "api-version=7.4"

/* "Authorization: Bearer <token>" for the vault (caller free_secret_str); *ms its time. */
int kv_bearer(const struct endpoint *akv, char **header, double *ms, struct err *e) MUST_CHECK;

/* Ask the vault to release key_name against the attestation token: *jws is the compact
 * JWS of the answer's "value" (caller frees). */
int kv_release(const struct endpoint *akv, const char *key_name, const char *bearer,
               const char *attestation_token, char **jws, struct err *e) MUST_CHECK;

/* The key's bundle (needs the `get` permission); caller puts *bundle. */
int kv_get_key(const struct endpoint *akv, const char *key_name, const char *bearer,
               struct json_object **bundle, struct err *e) MUST_CHECK;

/* The release policy from a key bundle's release_policy.data (b64url JSON), or NULL. */
struct json_object *kv_bundle_policy(struct json_object *bundle);

/* Turn a vault error answer ({"error":{"code","message"}}) into e; returns -1. */
int kv_error(long status, const char *body, size_t len, const char *request_id, const char *what,
             struct err *e);

#endif
