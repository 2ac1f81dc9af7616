/*
 * snp: the AMD SEV-SNP attestation report (PROTOCOLS.md §3) and its verifier.
 *
 * A report is 1184 raw bytes, every integer little-endian.  snp_report_parse
 * decodes a copy into struct snp_report for display and policy checks, but the
 * signature is always checked over the RAW bytes as received (never a
 * re-serialised struct), so reserved or unknown fields cannot be altered.
 *
 * Trust: a report is believed only when its ECDSA P-384 signature checks
 * against the VCEK, the VCEK against the ASK and the ASK against an ARK that
 * is in a struct snp_roots the caller built.  The chain's own ARK is never
 * trusted: it must equal (same certificate or same public key) one of the
 * roots.  snp_roots_new(1) holds the real AMD ARKs (Milan, Genoa, Turin);
 * emulated roots (the virtual SEV-SNP CA in emulator/) are added explicitly
 * and are flagged "emulated_root" in every verdict, so an emulated TEE can
 * never pass for a real one.
 *
 * TCB values are kept as the raw little-endian u64 ("tcbm" when printed as
 * 16 hex digits); snp_tcb_decode splits one into components for a layout.
 */
#ifndef SNP_H
#define SNP_H

#include <stdint.h>

#include <json-c/json.h>

#include "err.h"

#define SNP_REPORT_SIZE 1184
#define SNP_SIGNED_SIZE 0x2A0 /* bytes 0..0x29F are covered by the signature */

/* Policy bits (§3). */
#define SNP_POLICY_SMT           (1ULL << 16)
#define SNP_POLICY_RESERVED1     (1ULL << 17)
#define SNP_POLICY_MIGRATE_MA    (1ULL << 18)
#define SNP_POLICY_DEBUG         (1ULL << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ULL << 20)

/* key_info bits. */
#define SNP_KEYINFO_AUTHOR_KEY_EN 0x1u
#define SNP_KEYINFO_MASK_CHIP_KEY 0x2u
#define SNP_SIGNING_KEY_VCEK      0
#define SNP_SIGNING_KEY_VLEK      1
#define SNP_SIGNING_KEY_NONE      7

/* Which byte layout a TCB_VERSION uses (§3.1). */
enum snp_tcb_layout {
	SNP_TCB_MILAN, /* Milan and Genoa: [0] bl, [1] tee, [6] snp, [7] ucode */
	SNP_TCB_TURIN, /* [0] fmc, [1] bl, [2] tee, [3] snp, [7] ucode (a real Turin v5
	                * report and its KDS VCEK verify with this layout) */
};

struct snp_tcb {
	uint8_t fmc; /* Turin only, 0 otherwise */
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

struct snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t signature_algo;
	uint64_t current_tcb;
	uint64_t platform_info;
	uint32_t key_info;    /* raw; the three fields below are decoded from it */
	int author_key_en;    /* bit 0 */
	int mask_chip_key;    /* bit 1: chip_id is zeroed */
	unsigned signing_key; /* bits 4:2: 0 VCEK, 1 VLEK, 7 none */
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	uint64_t reported_tcb;
	uint8_t cpuid_fam_id; /* v3+, zero in v2 */
	uint8_t cpuid_mod_id;
	uint8_t cpuid_step;
	uint8_t chip_id[64];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	uint64_t launch_tcb;
	uint64_t launch_mit_vector;  /* v5 only, 0 otherwise */
	uint64_t current_mit_vector; /* v5 only, 0 otherwise */
	uint8_t sig_r[72];           /* little-endian, as in the report */
	uint8_t sig_s[72];
};

/* Decode exactly SNP_REPORT_SIZE bytes; rejects other lengths, version < 2, signature_algo != 1. */
int snp_report_parse(const uint8_t *raw, size_t len, struct snp_report *out,
                     struct err *e) MUST_CHECK;
/* Every decoded field as JSON (byte arrays hex, policy/TCB/key_info decoded); caller puts. */
struct json_object *snp_report_json(const struct snp_report *r);
/* The TCB layout the report's CPUID fields imply (Turin for family 0x1A, Milan/Genoa otherwise). */
enum snp_tcb_layout snp_report_tcb_layout(const struct snp_report *r);
/* Split a raw TCB value into components for the given layout. */
void snp_tcb_decode(uint64_t tcb, enum snp_tcb_layout layout, struct snp_tcb *out);
/* The tcbm form: 16 lowercase hex digits of the LE u64; buf must hold 17 bytes. */
void snp_tcbm_format(uint64_t tcb, char buf[17]);
/* Parse a tcbm string (exactly 16 hex digits, optional 0x prefix). */
int snp_tcbm_parse(const char *s, uint64_t *out) MUST_CHECK;

/* Accept a raw 1184-byte report or its hex (2368 digits, surrounding whitespace allowed). */
int snp_report_load(const void *data, size_t n, uint8_t out[SNP_REPORT_SIZE],
                    struct err *e) MUST_CHECK;

/*
 * Read a certificate chain: PEM certificates (VCEK, ASK, ARK in any order; the ARK may
 * be absent) or THIM JSON (§3.6).  *pem gets normalised PEM text, VCEK then ASK then ARK
 * (if present); *tcbm gets the THIM tcbm string or NULL.  Caller frees both.
 */
int snp_chain_load(const char *text, size_t len, char **pem, char **tcbm, struct err *e) MUST_CHECK;

/* A set of trusted ARK certificates. */
struct snp_roots;
/* An empty set, or one holding the pinned real AMD ARKs for Milan, Genoa and Turin. */
struct snp_roots *snp_roots_new(int with_amd_pins);
/*
 * Add every certificate in the PEM text; each must be a self-signed RSA certificate.
 * emulated marks them as not-AMD; a subject naming "Virtual" or "Emulated" is marked
 * emulated regardless.
 */
int snp_roots_add_pem(struct snp_roots *r, const char *pem, size_t len, int emulated,
                      struct err *e) MUST_CHECK;
int snp_roots_add_file(struct snp_roots *r, const char *path, int emulated,
                       struct err *e) MUST_CHECK;
/* Number of roots in the set. */
size_t snp_roots_count(const struct snp_roots *r);
void snp_roots_free(struct snp_roots *r);
/* The pinned AMD ARK PEM for "Milan", "Genoa" or "Turin"; NULL for anything else. */
const char *snp_amd_ark_pem(const char *product);

/*
 * Verify a report against a chain (PEM as snp_chain_load produces, or any PEM order).
 * 0 only if every check passes: report signature, VCEK<-ASK, ASK<-ARK, ARK trusted,
 * VCEK TCB SPLs == reported_tcb, VCEK hwID == chip_id (skipped with a note when
 * MASK_CHIP_KEY is set).  *checks is always set (caller puts):
 *   {"verified","product","emulated_root","root","report_signature":{"ok","detail"},
 *    "vcek_signed_by_ask","ask_signed_by_ark","ark_trusted","tcb_matches_vcek",
 *    "chip_id_matches_vcek"}
 * On failure e is ERR_VERIFY naming the first failed check (ERR_BAD_REQUEST when the
 * report or chain cannot even be parsed).
 */
int snp_verify(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
               const struct snp_roots *roots, struct json_object **checks,
               struct err *e) MUST_CHECK;

/*
 * Opt-in per-process cache, for a verifier that sees the same chain again and again (it
 * changes only with a TCB update).  Thread-safe; at most 4 chains and 4 chain texts, least
 * recently used out.
 *
 * snp_verify_cached: the same checks and the same *checks JSON as snp_verify, but the three
 * checks that depend on the chain alone (VCEK<-ASK, ARK trusted, ASK<-ARK) are remembered
 * for a chain that passed all three, keyed by its exact bytes and the root set (every
 * snp_roots_new and every add makes a new set).  A remembered chain costs only the report's
 * own checks (its signature with the remembered VCEK, TCB and chip id); any other bytes, any
 * other or changed root set, and a chain that failed are verified in full.
 *
 * snp_chain_load_cached: snp_chain_load, remembering the output for each input text it
 * accepted (a refused text is parsed again every time).
 */
int snp_verify_cached(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                      const struct snp_roots *roots, struct json_object **checks,
                      struct err *e) MUST_CHECK;
int snp_chain_load_cached(const char *text, size_t len, char **pem, char **tcbm,
                          struct err *e) MUST_CHECK;
/* Hits and misses since the start or the last snp_cache_clear. */
struct snp_cache_stats {
	unsigned long chain_hits, chain_misses, load_hits, load_misses;
};
void snp_cache_stats(struct snp_cache_stats *out);
/* Forget every remembered chain and text, and zero the counters. */
void snp_cache_clear(void);

#endif
