/*
 * attest: the one entry point for "prove this instance runs in a TEE".
 *
 * Two backends sit behind it, chosen once per call from the configuration
 * (ATTESTATION_BACKEND): native = an evidence provider (device ioctl or the
 * virtual host) + the VCEK chain (THIM) + the attestation service's REST
 * call, all in-process; sidecar = Microsoft's SKR sidecar on loopback.  auto
 * = native when an evidence provider is present (or the instance is set up
 * for the virtual host), else the sidecar; and when neither a device nor the
 * sidecar is there, the failure is "no TEE" (ERR_UNAVAILABLE at
 * STAGE_EVIDENCE), whatever the sidecar's transport said.
 *
 * report_data is always sha256(runtime bytes) followed by 32 zero bytes, so
 * the attestation service (and anyone holding the token) can check the
 * binding.  Whether evidence is emulated is decided here, one way, by
 * attest_is_emulated().
 *
 * Results are structs the handlers only serialise; every member they own is
 * released by the matching *_free (safe on a zeroed struct).
 */
#ifndef ATTEST_H
#define ATTEST_H

#include <json-c/json.h>
#include <stdint.h>

#include "err.h"
#include "snp.h"

enum attest_via { ATTEST_NATIVE, ATTEST_SIDECAR };

struct attest_timing {
	double report_ms;       /* evidence from the PSP (or virtual host) */
	double certs_ms;        /* VCEK chain from THIM */
	double maa_ms;          /* attestation service round trip */
	double verification_ms; /* token or report verification here */
	double total_ms;
};

/* The backend a call would take now, and its name ("native", "sidecar"). */
enum attest_via attest_backend_now(void);
const char *attest_via_name(enum attest_via via);

/* 1 if this instance can produce evidence now: an evidence provider is present, or (when the
 * sidecar may be used) the SKR sidecar answers /status 200.  The original's is_confidential. */
int attest_can_attest(void);

/* A token from the attestation service, verified here. */
struct attest_token_result {
	char *jwt;                  /* the token (caller-owned through this struct) */
	struct json_object *claims; /* its payload when verified, else NULL */
	int verified;               /* signature, issuer and dates checked against cfg.maa */
	char verify_error[512];     /* why not, when !verified */
	int bound;                  /* x-ms-sevsnpvm-reportdata starts with sha256(runtime) */
	int emulated;               /* attest_is_emulated() of this evidence and token */
	const char *source;         /* evidence provider name, or "sidecar" */
	enum attest_via via;
	struct attest_timing timing;
};

/*
 * Attest runtime (n bytes) and verify the token.  Fails only when no token
 * can be had (e set at the failing stage); a token that does not verify is
 * a success with verified == 0 and verify_error set.
 */
int attest_token_verified(const uint8_t *runtime, size_t n, struct attest_token_result *r,
                          struct err *e) MUST_CHECK;
void attest_token_result_free(struct attest_token_result *r);

/*
 * After a failed call to the SKR sidecar: in auto mode the sidecar is only the
 * fallback for a missing device, so if it is not there either the failure is
 * "no TEE" (ERR_UNAVAILABLE at STAGE_EVIDENCE).  Returns -1.
 */
int attest_sidecar_failed(struct err *e);

/* Just the token for runtime (key release); caller frees *jwt. */
int attest_token(const uint8_t *runtime, size_t n, char **jwt, const char **source,
                 struct attest_timing *t, struct err *e) MUST_CHECK;

/* A raw report, decoded and checked here. */
struct attest_report_result {
	uint8_t report[SNP_REPORT_SIZE];
	struct json_object *fields; /* the decoded report, or NULL if it does not parse */
	char parse_error[256];
	int bound;                  /* report_data[0..31] == sha256(runtime) */
	struct json_object *checks; /* each verification check (snp_verify's shape) */
	char *chain_pem;            /* the VCEK chain the checks used, or NULL */
	const char *chain_source;   /* "env", "security-context", "imds" */
	int emulated;
	const char *source;
	enum attest_via via;
	struct attest_timing timing;
};
int attest_report(const uint8_t *runtime, size_t n, struct attest_report_result *r,
                  struct err *e) MUST_CHECK;
void attest_report_result_free(struct attest_report_result *r);

/* Just the report bytes, bound to runtime. */
int attest_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE],
               const char **source, struct attest_timing *t, struct err *e) MUST_CHECK;

/* Verify a report against the pinned AMD roots plus SNP_EXTRA_ROOTS (marked emulated). */
int attest_verify_report(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                         struct json_object **checks, struct err *e) MUST_CHECK;

/*
 * The one rule for "emulated": the evidence came from an emulated provider,
 * or the token (claims, may be NULL) says x-demo-emulated or was issued on
 * loopback, or the configured attestation service or vault is a loopback
 * stand-in.  source may be NULL.
 */
int attest_is_emulated(const char *source, struct json_object *claims);

/* 1 if a token's reportdata claim (claims may be NULL) binds runtime. */
int attest_binds(struct json_object *claims, const uint8_t *runtime, size_t n);
/* sha256(runtime) as 64 lowercase hex chars; caller frees. */
char *attest_runtime_digest_hex(const uint8_t *runtime, size_t n);
/* A fresh runtime document {"purpose":purpose,"timestamp":now} (caller frees; *n its length). */
uint8_t *attest_fresh_runtime(const char *purpose, size_t *n);

#endif
