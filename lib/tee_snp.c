/*
 * tee_snp: AMD SEV-SNP as a kind of TEE evidence (struct tee_type): the
 * 1184-byte report, the attestation service's SevSnpVm path, the verifier
 * (lib/snp.c snp_verify) and the decoder (snp_report_json).
 */
#include "evidence.h"
#include "snp.h"

/* The chain's own checks are remembered per process (it changes only with a TCB update). */
static int verify(const uint8_t *report, const char *chain_pem, struct snp_roots *roots,
                  struct json_object **checks, struct err *e)
{
	return snp_verify_cached(report, chain_pem, roots, checks, e);
}

static struct json_object *describe(const uint8_t *report, size_t n, struct err *e)
{
	struct snp_report r;
	if (snp_report_parse(report, n, &r, e) < 0)
		return NULL;
	return snp_report_json(&r);
}

const struct tee_type tee_sev_snp = {
    "sev-snp", SNP_REPORT_SIZE, "/attest/SevSnpVm", verify, describe,
};
