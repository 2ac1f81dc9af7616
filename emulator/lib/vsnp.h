/*
 * vsnp: the virtual SEV-SNP platform used when there is no AMD hardware.
 *
 * It plays AMD's part (a CA: ARK -> ASK, RSA-4096, RSASSA-PSS SHA-384 salt 48), the
 * KDS/THIM part (a VCEK certificate for one chip id and TCB, plus THIM JSON) and the
 * PSP's part (signing a 1184-byte report with the VCEK).  The output is byte-for-byte
 * the real format, but every certificate subject says "Virtual" and "Emulated SEV-SNP
 * (NOT AMD)", and the CA is never one of lib/snp's pinned roots: a verifier trusts it
 * only when told to, and then flags the verdict as emulated.
 *
 * Files (private keys mode 0600, created once and reused; creation is serialised by
 * an flock on DIR/.lock so concurrent starters never mix keys from two runs):
 *   CA_DIR/ark.pem ark.key ask.pem ask.key
 *   OUT_DIR/vcek.pem vcek.key thim.json
 * Linked only into emulator programs and unit tests, never into the container image.
 */
#ifndef VSNP_H
#define VSNP_H

#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "snp.h"

/* Create the virtual ARK and ASK in dir unless all four files are already there. */
int vsnp_ca_ensure(const char *dir, struct err *e) MUST_CHECK;

/*
 * Ensure out_dir holds a VCEK for chip_id and tcb (Milan layout) issued by the ASK in
 * ca_dir (created if absent), plus its key and THIM JSON.  An existing VCEK is reused
 * only if it matches chip_id, tcb and the current ASK.
 */
int vsnp_vcek_ensure(const char *ca_dir, const char *out_dir, const uint8_t chip_id[64],
                     uint64_t tcb, struct err *e) MUST_CHECK;

/* Everything the host fixes at launch; the guest supplies only report_data. */
struct vsnp_launch {
	uint32_t version; /* report version; 0 means 3 */
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl; /* informational; the signed VMPL is the one requested per report */
	uint64_t tcb;  /* current = committed = launch = reported */
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t chip_id[64];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
};

/*
 * Fill and sign a report: every field from l, report_data and vmpl (0..3) from the
 * request, a random report_id, signing_key = VCEK.  vcek must be an EC P-384 key.
 */
int vsnp_report_sign(const struct vsnp_launch *l, const uint8_t report_data[64], uint32_t vmpl,
                     EVP_PKEY *vcek, uint8_t out[SNP_REPORT_SIZE], struct err *e) MUST_CHECK;

#endif
