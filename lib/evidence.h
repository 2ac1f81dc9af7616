/*
 * evidence: obtain a raw, signed AMD SEV-SNP attestation report from the
 * platform.  Three providers sit behind one call:
 *
 *   "sev-guest"  /dev/sev-guest, SNP_GET_REPORT ioctl (Linux >= 6.x)
 *   "sev"        /dev/sev, SEV_SNP_GUEST_MSG_REPORT ioctl (older 5.x SNP kernels)
 *   "virtual"    the local virtual SEV-SNP host on a Unix socket (SNP_VIRTUAL_SOCKET);
 *                its reports are signed by a test VCEK chain and never pass for real ones
 *
 * cfg.evidence (SNP_EVIDENCE) selects one, or "auto" takes the first that
 * exists in the order above.  Reports are always requested at VMPL 0.  This
 * module only fetches bytes: it checks sizes and status words, not
 * signatures (that is the verifier's job).
 */
#ifndef EVIDENCE_H
#define EVIDENCE_H

#include <json-c/json.h>
#include <stdint.h>

#include "err.h"

#include "snp.h"

/* Seconds the virtual provider waits for the whole exchange. */
#define EVIDENCE_VIRTUAL_TIMEOUT_S 5

/* Provider cfg.evidence selects now ("sev-guest", "sev", "virtual"), or NULL if none is there. */
const char *evidence_source(void);

/*
 * Fetch a report whose REPORT_DATA is report_data, into out.  On success
 * *source (may be NULL) names the provider tried, or NULL if none was.
 * Failure codes: ERR_UNAVAILABLE (no device, device cannot be opened, host
 * not reachable), ERR_TIMEOUT (virtual host silent), ERR_UPSTREAM (ioctl or
 * firmware failure, malformed or refused answer).
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
