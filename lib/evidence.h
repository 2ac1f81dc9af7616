/*
 * evidence: obtain raw, signed TEE evidence from the platform.
 *
 * A provider is one way to get a report, described by a struct
 * evidence_provider: its name, the SNP_EVIDENCE value that selects it, the
 * TEE it speaks for (struct tee_type: the report's size, the attestation
 * service's path, its verifier and its decoder), whether it is emulated, and
 * two functions: present() and report().  Today's providers, all SEV-SNP:
 *
 *   "sev-guest"  /dev/sev-guest, SNP_GET_REPORT ioctl (Linux >= 6.x)   evidence_ioctl.c
 *   "sev"        /dev/sev, SEV_SNP_GUEST_MSG_REPORT ioctl (5.x kernels) evidence_ioctl.c
 *   "virtual"    the local virtual SEV-SNP host on a Unix socket        evidence_virtual.c
 *                (SNP_VIRTUAL_SOCKET): reports signed by a test VCEK chain, never real
 *
 * cfg.evidence (SNP_EVIDENCE) selects one, or "auto" takes the first present
 * in the order above.  A new TEE is a new provider file plus its tee_type
 * (verifier, decoder, attestation path) and one line in the table in
 * evidence.c.  This module only fetches bytes: it checks sizes and status
 * words, not signatures (that is the verifier's job).
 */
#ifndef EVIDENCE_H
#define EVIDENCE_H

#include <json-c/json.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "snp.h"

/* Seconds the virtual provider waits for the whole exchange, at most (fetch_call_deadline
 * may leave it less: HTTP_TIMEOUT_SECONDS, the request's budget). */
#define EVIDENCE_VIRTUAL_TIMEOUT_S 5

struct snp_roots;

/* What a kind of TEE evidence is and how it is checked and shown. */
struct tee_type {
	const char *name;     /* "sev-snp" */
	size_t report_size;   /* bytes of one report */
	const char *maa_path; /* the attestation service's path: "/attest/SevSnpVm" */
	/* Check a report against roots and its certificate chain (PEM); *checks always set. */
	int (*verify)(const uint8_t *report, const char *chain_pem, struct snp_roots *roots,
	              struct json_object **checks, struct err *e);
	/* The report's fields as JSON (NULL and e set if it does not parse). */
	struct json_object *(*describe)(const uint8_t *report, size_t n, struct err *e);
};
extern const struct tee_type tee_sev_snp;

struct evidence_provider {
	const char *name;           /* "sev-guest", "sev", "virtual" */
	enum evidence_kind kind;    /* the SNP_EVIDENCE value that selects it */
	const struct tee_type *tee; /* what its reports are */
	int emulated;               /* 1: reports are signed by a local test chain */
	const char *device;         /* its device node, or NULL */
	int (*present)(void);
	/* A report whose REPORT_DATA is report_data, into out (tee->report_size bytes). */
	int (*report)(const uint8_t report_data[64], uint8_t *out, struct err *e);
};
extern const struct evidence_provider evidence_sev_guest, evidence_sev, evidence_virtual;

/* The provider cfg.evidence selects that is present now, or NULL. */
const struct evidence_provider *evidence_provider(void);
/* The provider of this name (any, present or not), or NULL. */
const struct evidence_provider *evidence_provider_named(const char *name);
/* Its name, or NULL. */
const char *evidence_source(void);
/* 1 if this instance is configured for the virtual SEV-SNP host (present or not). */
int evidence_virtual_configured(void);

/*
 * Fetch a report whose REPORT_DATA is report_data, into out.  On success
 * *source (may be NULL) names the provider, or NULL if none was there.
 * Failures are at STAGE_EVIDENCE: ERR_UNAVAILABLE (no device, device cannot
 * be opened, host not reachable), ERR_TIMEOUT (virtual host silent),
 * ERR_UPSTREAM (ioctl or firmware failure, malformed or refused answer).
 */
int evidence_report(const uint8_t report_data[64], uint8_t out[SNP_REPORT_SIZE],
                    const char **source, struct err *e) MUST_CHECK;

/*
 * Device diagnosis in the shape of the original's check_sev_guest_device():
 * {available, device_path, device_info{mode,type,accessible}, explanation,
 *  dev_listing[], emulated, provider}.  Caller owns the object.
 */
struct json_object *evidence_device_status(void);

#endif
