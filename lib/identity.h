/*
 * identity: managed-identity access tokens from IMDS (PROTOCOLS.md §5.1).
 *
 * GET {IMDS_ENDPOINT}/metadata/identity/oauth2/token?api-version=2018-02-01
 * &resource=<resource>[&client_id=AZURE_CLIENT_ID] with "Metadata: true".
 *
 * Retries follow Microsoft's azure-identity (ImdsCredential on azure-core's
 * RetryPolicy), see identity_retry_next: no answer, 404, 408, 410, 429 and 5xx
 * are retried, up to 5 retries (3 for no answer), exponential backoff.  Unlike
 * the SDK, the whole call (every attempt and every wait) is bounded by
 * HTTP_TIMEOUT_SECONDS, "the timeout of every outbound call": a wait that would
 * not leave a second for another attempt inside that budget ends the retries,
 * so one call never waits minutes (the SDK's 75 s for a 410 does not fit the
 * default 30 s).  A token is cached per process and resource until 5 minutes
 * before its expires_on.
 *
 * The access token is a bearer secret: it is never logged nor put in an
 * error message; callers wipe and free it (free_secret_str).
 */
#ifndef IDENTITY_H
#define IDENTITY_H

#include "err.h"

#define IDENTITY_RESOURCE_VAULT "https://vault.azure.net"
#define IDENTITY_RESOURCE_MHSM  "https://managedhsm.azure.net"
/* Tokens are renewed this many seconds before they expire. */
#define IDENTITY_RENEW_MARGIN 300

/* The token audience for a vault host: Managed HSM when the host contains "managedhsm". */
const char *identity_resource_for(const char *vault_host);

/*
 * An access token for resource (caller frees with free_secret_str).  Errors:
 * ERR_UNAUTHORIZED when IMDS refuses (no identity, wrong client id: its
 * error_description is quoted), ERR_UNAVAILABLE / ERR_TIMEOUT when it cannot be
 * reached, ERR_UPSTREAM for an unusable answer.
 */
int identity_token(const char *resource, char **access_token, struct err *e) MUST_CHECK;

/* Retries a request may have: in all, after answers, and after no answer (azure-core's
 * retry_total, retry_status and retry_connect as azure-identity sets them for IMDS). */
#define IDENTITY_RETRIES_TOTAL     5
#define IDENTITY_RETRIES_STATUS    5
#define IDENTITY_RETRIES_TRANSPORT 3
/* Backoff factors in ms: 410 (IMDS is being updated) waits longer, 75 s over 5 retries. */
#define IDENTITY_BACKOFF_MS     800
#define IDENTITY_BACKOFF_410_MS 2500
#define IDENTITY_BACKOFF_MAX_MS 60000

/* Retry bookkeeping of one token request; start zeroed. */
struct identity_retry {
	int total, status, transport; /* retries granted so far */
};

/*
 * The retry policy.  After a failed attempt with HTTP status (0 = no answer: no
 * connection or a timeout), the wait in ms before the next attempt, or -1 when the
 * failure is final (any other status, e.g. 400 "Identity not found", 401, 403) or its
 * retries are used up.  The wait before retry n is 0 for n = 1 and
 * factor * 2^(n-1) after (capped at 60 s): 0, 1.6, 3.2, 6.4, 12.8 s, or after a 410
 * 0, 5, 10, 20, 40 s.  (The SDK also honours Retry-After; fetch does not expose it.)
 */
long identity_retry_next(struct identity_retry *st, long status);

#endif
