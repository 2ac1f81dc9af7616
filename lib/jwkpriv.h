/*
 * jwkpriv: an RSA private key from a private JWK (n, e, d, p, q, dp, dq, qi;
 * PROTOCOLS.md §1.4), as the SKR sidecar's /key/release answers it.  The
 * numbers must form a key pair (pairwise check).  Every buffer that held a
 * private number is wiped; the caller wipes the JWK text it passed.
 */
#ifndef JWKPRIV_H
#define JWKPRIV_H

#include <json-c/json.h>
#include <openssl/evp.h>

#include "err.h"

/* The key (caller EVP_PKEY_free), or NULL with e set: ERR_UPSTREAM for a malformed JWK,
 * ERR_UNSUPPORTED for another key type.  The text is not modified. */
EVP_PKEY *jwkpriv_to_pkey(const char *jwk_json, struct err *e);
/* Overwrite every string value of a parsed JSON object in place (json-c keeps copies). */
void jwkpriv_wipe_strings(struct json_object *o);

#endif
