/*
 * maa: the Microsoft Azure Attestation client for SEV-SNP container evidence
 * (PROTOCOLS.md §4).  The same code talks to Azure and to the local stand-in.
 *
 * The request carries the raw report, the VCEK/ASK/ARK chain as PEM text, the
 * runtime data whose SHA-256 the report binds in report_data[0..31], and
 * optionally the UVM endorsement (COSE_Sign1).  Everything is b64url WITH
 * padding, as the Go sidecar sends it.  No auth header: MAA's attest call is
 * anonymous.  The token returned is NOT verified here: use token_verify().
 */
#ifndef MAA_H
#define MAA_H

#include <stdint.h>

#include <json-c/json.h>

#include "config.h"
#include "err.h"
#include "snp.h"

#define MAA_API_VERSION "2022-08-01"

/*
 * Build the attest request body.  runtime (may be empty) goes as dataType "JSON"
 * when it parses as a JSON object, else "Binary".  uvm_endorsement_b64 (std or
 * url base64 of the COSE_Sign1 bytes, as UVM_REFERENCE_INFO holds it) may be
 * NULL or "" to leave "Endorsements" out.  Caller puts *out.
 */
int maa_build_request(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                      const uint8_t *runtime, size_t runtime_len, const char *uvm_endorsement_b64,
                      uint64_t nonce, struct json_object **out, struct err *e) MUST_CHECK;
/* The same body as JSON text (caller frees), what maa_attest sends: written directly, with
 * the chain's and the endorsement's base64url remembered per process. */
int maa_request_text(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                     const uint8_t *runtime, size_t runtime_len, const char *uvm_endorsement_b64,
                     uint64_t nonce, char **out, struct err *e) MUST_CHECK;

/*
 * POST the evidence to {maa->url}/attest/SevSnpVm?api-version=MAA_API_VERSION.
 * 200 {"token"} gives *jwt (caller frees).  A 400 is ERR_VERIFY ("attestation
 * service rejected the evidence: <code>: <message>"), 401/403 ERR_FORBIDDEN,
 * any other status ERR_UPSTREAM; e->upstream_status holds the HTTP status.
 * Transport failures are fetch()'s (ERR_UNAVAILABLE, ERR_TIMEOUT).
 */
int maa_attest(const struct endpoint *maa, const uint8_t report[SNP_REPORT_SIZE],
               const char *chain_pem, const uint8_t *runtime, size_t runtime_len,
               const char *uvm_endorsement_b64, char **jwt, struct err *e) MUST_CHECK;

#endif
