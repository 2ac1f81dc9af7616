/*
 * identity: managed-identity access tokens from IMDS (PROTOCOLS.md §5.1).
 *
 * GET {IMDS_ENDPOINT}/metadata/identity/oauth2/token?api-version=2018-02-01
 * &resource=<resource>[&client_id=AZURE_CLIENT_ID] with "Metadata: true".
 * Transport failures and 5xx answers are retried (3 attempts, 1 s then 4 s
 * apart, as the sidecar does); any other non-200 is final.  A token is cached
 * per process and resource until 5 minutes before its expires_on.
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

#endif
