/*
 * thim: where the VCEK certificate chain (and the UVM endorsement) comes
 * from, in the order the SKR sidecar uses (PROTOCOLS.md §1.1, §3.6):
 *
 *   1. env UVM_HOST_AMD_CERTIFICATE (b64 of the THIM JSON)         "env"
 *   2. host-amd-cert-base64 in $UVM_SECURITY_CONTEXT_DIR, else in
 *      the first /security-context-* directory                      "security-context"
 *   3. GET {IMDS_ENDPOINT}/metadata/THIM/amd/certification          "imds"
 *
 * The THIM JSON is {"vcekCert","certificateChain","tcbm","cacheControl"}.
 * A successful result is cached for the life of the process: it changes
 * only with a TCB update, which restarts the container.  Certificates are
 * public, so nothing here is secret.  Not thread-safe (the programs are
 * single-threaded FastCGI loops).
 */
#ifndef THIM_H
#define THIM_H

#include <stddef.h>

#include "err.h"

/*
 * The chain as PEM text (vcekCert followed by certificateChain) and the
 * tcbm hex string (NULL when THIM gave none).  *pem and *tcbm are fresh
 * copies the caller frees; *source is static ("env", "security-context",
 * "imds").
 */
int thim_chain(char **pem, char **tcbm, const char **source, struct err *e) MUST_CHECK;

/*
 * Parse THIM JSON text: vcekCert must be a non-empty string, certificateChain
 * a string (may be empty), tcbm an optional string of hex digits.  Caller
 * frees *pem and *tcbm (NULL if absent).
 */
int thim_parse(const char *json, size_t len, char **pem, char **tcbm, struct err *e) MUST_CHECK;

/*
 * Parse the b64 form (as in UVM_HOST_AMD_CERTIFICATE / host-amd-cert-base64);
 * surrounding whitespace is ignored.  what names the origin in messages.
 */
int thim_parse_b64(const char *b64, size_t len, const char *what, char **pem, char **tcbm,
                   struct err *e) MUST_CHECK;

/*
 * The UVM endorsement, b64 text exactly as stored (reference-info-base64 in
 * the security-context directory, else env UVM_REFERENCE_INFO), or NULL.
 * Sent to MAA unchanged as Endorsements.  The string is cached; do not free.
 */
const char *thim_uvm_endorsement(void);

/* Forget the cached chain and endorsement (tests; after a TCB update). */
void thim_reset(void);

#endif
