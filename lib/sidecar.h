/*
 * sidecar: client for Microsoft's SKR sidecar (PROTOCOLS.md §1.4) at
 * cfg.sidecar.url (SKR_SIDECAR_URL, default http://127.0.0.1:8080).
 *
 * The sidecar's quirks are absorbed here so callers see one error shape:
 * runtime_data "" is refused by the sidecar, so an empty runtime is refused
 * here first (ERR_BAD_REQUEST); error bodies may be two JSON objects back to
 * back (the first object's "error" counts); a 400's "error" may be {}; and
 * every error string ends in a fixed troubleshooting suffix, which is cut.
 *
 * A non-200 answer fails with ERR_FORBIDDEN (403), ERR_BAD_REQUEST (400) or
 * ERR_UPSTREAM (other), e->upstream_status = the status, and the message
 * "sidecar answered <status>: <error text, at most 500 characters>".  A
 * sidecar that cannot be reached gives ERR_UNAVAILABLE, a silent one
 * ERR_TIMEOUT.  Every call is bounded like any outbound call (fetch): by
 * HTTP_TIMEOUT_SECONDS and by what is left of the request's budget.
 */
#ifndef SIDECAR_H
#define SIDECAR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#include "snp.h"

/* Longest error text kept from a sidecar answer, in characters. */
#define SIDECAR_ERR_MAX_CHARS 500

/* GET /status.  0 with any HTTP status in *http_status and the body (caller frees) in *body. */
int sidecar_status(long *http_status, char **body, struct err *e) MUST_CHECK;

/* POST /attest/raw: the 1184-byte report whose REPORT_DATA is sha256(runtime) || 0^32. */
int sidecar_attest_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE],
                       struct err *e) MUST_CHECK;

/* POST /attest/maa: an MAA token (JWT text, caller frees) whose runtime claim is runtime. */
int sidecar_attest_maa(const char *maa_host, const uint8_t *runtime, size_t n, char **jwt,
                       struct err *e) MUST_CHECK;

/*
 * POST /key/release.  *jwk_json is the released key as JWK JSON text: it
 * holds PRIVATE key material.  Never log it; the caller wipes and frees it
 * (free_secret_str).  Hosts are "host[:port]" without a scheme.
 */
int sidecar_key_release(const char *maa_host, const char *akv_host, const char *kid,
                        char **jwk_json, struct err *e) MUST_CHECK;

/*
 * The error text of a sidecar error body (pure; for callers and tests): the
 * first JSON object's "error" (a non-string value is shown as its JSON), or
 * the body itself when it is not JSON; troubleshooting suffix removed,
 * control characters turned into spaces, cut to SIDECAR_ERR_MAX_CHARS
 * characters.  Never NULL; caller frees.
 */
char *sidecar_error_text(const char *body, size_t len);

#endif
