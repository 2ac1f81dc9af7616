/*
 * releaseproof: is a key vault's release answer really from the vault?
 *
 * The answer is a compact JWS (PROTOCOLS.md §5.3): RS256 with the key of
 * x5c[0], and x5c[0] must be the vault's: for an Azure vault the x5c chain
 * verifies to the system roots with the vault's host name; for a loopback
 * (local) vault only, x5c[0] is one of the PEM certificates that
 * AKV_TRUST_CERT names and is valid for the vault's host or address.  crit
 * extensions are refused.  Failures are ERR_VERIFY at STAGE_RELEASE_PROOF.
 */
#ifndef RELEASEPROOF_H
#define RELEASEPROOF_H

#include <json-c/json.h>

#include "config.h"
#include "err.h"

/* The variable naming the PEM certificates of loopback (local) vaults. */
#define RELEASEPROOF_TRUST_VAR "AKV_TRUST_CERT"

/* Check jws as described above (akv decides which trust rule applies) and hand back its
 * payload (caller puts). */
int releaseproof_verify(const char *jws, const struct endpoint *akv, struct json_object **payload,
                        struct err *e) MUST_CHECK;

#endif
