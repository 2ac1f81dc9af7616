/*
 * attest: the one entry point for "prove this instance runs in a TEE".
 *
 * It picks the path once per call from configuration (ATTESTATION_BACKEND):
 * native = evidence provider (device ioctl or the virtual host) + VCEK chain
 * (THIM) + MAA REST call, all in-process; sidecar = Microsoft's SKR sidecar
 * on loopback.  auto = native when an evidence provider exists, else the
 * sidecar.  report_data is always sha256(runtime bytes) followed by 32 zero
 * bytes, so MAA (and anyone holding the token) can check the binding.
 */
#ifndef ATTEST_H
#define ATTEST_H

#include <json-c/json.h>
#include <stdint.h>

#include "err.h"
#include "snp.h"

enum attest_via { ATTEST_NATIVE, ATTEST_SIDECAR };

struct attest_timing {
	double report_ms; /* evidence from the PSP (or virtual host) */
	double certs_ms;  /* VCEK chain from THIM */
	double maa_ms;    /* attestation service round trip */
	double total_ms;
};

/* The path a call would take now, and its name ("native", "sidecar"). */
enum attest_via attest_choose(void);
const char *attest_via_name(enum attest_via via);

/* A signed report bound to the runtime bytes; *source names the provider. */
int attest_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE], const char **source,
	       struct attest_timing *t, struct err *e) MUST_CHECK;
/* An attestation token for the runtime bytes from cfg.maa; caller frees *jwt. */
int attest_token(const uint8_t *runtime, size_t n, char **jwt, const char **source,
		 struct attest_timing *t, struct err *e) MUST_CHECK;

/* Verify a report against the pinned AMD roots plus SNP_EXTRA_ROOTS (marked emulated). */
int attest_verify_report(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
			 struct json_object **checks, struct err *e) MUST_CHECK;

/*
 * The original's failure envelope pieces: failure_reason (one line) and
 * diagnosis {likely_cause, solution, command} for an attestation error.
 */
const char *attest_failure_reason(const struct err *e);
struct json_object *attest_diagnosis(const struct err *e, enum attest_via via);
/* Tails of the service logs and the SEV device status, as the logs panel shows them. */
struct json_object *attest_logs(void);

/* sha256(runtime) as 64 lowercase hex chars; caller frees. */
char *attest_runtime_digest_hex(const uint8_t *runtime, size_t n);

#endif
