#include "attest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "evidence.h"
#include "jsonx.h"
#include "log.h"
#include "maa.h"
#include "sidecar.h"
#include "thim.h"
#include "token.h"

/* One attestation backend: where reports and tokens come from. */
struct backend {
	enum attest_via via;
	const char *name;
	int (*raw)(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE],
	           const char **source, struct attest_timing *t, struct err *e);
	int (*token)(const uint8_t *runtime, size_t n, char **jwt, const char **source,
	             struct attest_timing *t, struct err *e);
};

static void report_data_for(const uint8_t *runtime, size_t n, uint8_t out[64])
{
	unsigned int len = 32;
	memset(out, 0, 64);
	EVP_Digest(runtime, n, out, &len, EVP_sha256(), NULL);
}

char *attest_runtime_digest_hex(const uint8_t *runtime, size_t n)
{
	uint8_t rd[64];
	report_data_for(runtime, n, rd);
	return hex_encode(rd, 32);
}

uint8_t *attest_fresh_runtime(const char *purpose, size_t *n)
{
	char *doc = xasprintf("{\"purpose\":\"%s\",\"timestamp\":%lld}", purpose, now_unix());
	*n = strlen(doc);
	return (uint8_t *)doc;
}

/* ---- native: evidence provider + VCEK chain + attestation service ---- */

static int native_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE],
                      const char **source, struct attest_timing *t, struct err *e)
{
	uint8_t rd[64];
	report_data_for(runtime, n, rd);
	double t0 = now_ms();
	int rc = evidence_report(rd, report, source, e);
	t->report_ms = now_ms() - t0;
	return rc;
}

static int native_token(const uint8_t *runtime, size_t n, char **jwt, const char **source,
                        struct attest_timing *t, struct err *e)
{
	uint8_t report[SNP_REPORT_SIZE];
	if (!cfg.maa.set) {
		err_set(e, ERR_CONFIG,
		        "SKR_MAA_ENDPOINT is empty: set it to the attestation service, "
		        "e.g. sharedeus.eus.attest.azure.net");
		return err_in(e, STAGE_CONFIG);
	}
	if (native_raw(runtime, n, report, source, t, e) < 0)
		return -1;
	double t1 = now_ms();
	char *pem = NULL, *tcbm = NULL;
	const char *chain_source;
	if (thim_chain(&pem, &tcbm, &chain_source, e) < 0) {
		err_wrap(e, "cannot get the VCEK certificate chain");
		return err_in(e, STAGE_CERTS);
	}
	double t2 = now_ms();
	t->certs_ms = t2 - t1;
	int rc = maa_attest(&cfg.maa, report, pem, runtime, n, thim_uvm_endorsement(), jwt, e);
	t->maa_ms = now_ms() - t2;
	free(pem);
	free(tcbm);
	return rc;
}

/* ---- sidecar: Microsoft's SKR sidecar on loopback ---- */

int attest_sidecar_failed(struct err *e)
{
	if (cfg.backend == BACKEND_AUTO && e->code == ERR_UNAVAILABLE && !e->upstream_status) {
		err_wrap(e, "no SEV-SNP device (/dev/sev-guest, /dev/sev) and no SKR sidecar");
		e->stage = STAGE_EVIDENCE;
	}
	return -1;
}

static int sidecar_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE],
                       const char **source, struct attest_timing *t, struct err *e)
{
	double t0 = now_ms();
	*source = "sidecar";
	int rc = sidecar_attest_raw(runtime, n, report, e);
	t->report_ms = now_ms() - t0;
	return rc < 0 ? attest_sidecar_failed(e) : 0;
}

static int sidecar_token(const uint8_t *runtime, size_t n, char **jwt, const char **source,
                         struct attest_timing *t, struct err *e)
{
	double t0 = now_ms();
	*source = "sidecar";
	int rc = sidecar_attest_maa(cfg.maa.host, runtime, n, jwt, e);
	t->maa_ms = now_ms() - t0;
	return rc < 0 ? attest_sidecar_failed(e) : 0;
}

static const struct backend backends[] = {
    [ATTEST_NATIVE] = {ATTEST_NATIVE, "native", native_raw, native_token},
    [ATTEST_SIDECAR] = {ATTEST_SIDECAR, "sidecar", sidecar_raw, sidecar_token},
};

enum attest_via attest_backend_now(void)
{
	switch (cfg.backend) {
	case BACKEND_NATIVE:
		return ATTEST_NATIVE;
	case BACKEND_SIDECAR:
		return ATTEST_SIDECAR;
	case BACKEND_AUTO:
		break;
	}
	return evidence_provider() || evidence_virtual_configured() ? ATTEST_NATIVE
	                                                            : ATTEST_SIDECAR;
}

const char *attest_via_name(enum attest_via via)
{
	return backends[via].name;
}

int attest_can_attest(void)
{
	if (evidence_provider())
		return 1;
	if (cfg.backend == BACKEND_NATIVE)
		return 0;
	long st = 0;
	char *body = NULL;
	struct err e;
	err_clear(&e);
	int up = sidecar_status(&st, &body, &e) == 0 && st == 200;
	free(body);
	return up;
}

int attest_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE],
               const char **source, struct attest_timing *t, struct err *e)
{
	double t0 = now_ms();
	memset(t, 0, sizeof(*t));
	*source = NULL;
	int rc = backends[attest_backend_now()].raw(runtime, n, report, source, t, e);
	t->total_ms = now_ms() - t0;
	return rc;
}

int attest_token(const uint8_t *runtime, size_t n, char **jwt, const char **source,
                 struct attest_timing *t, struct err *e)
{
	double t0 = now_ms();
	memset(t, 0, sizeof(*t));
	*jwt = NULL;
	*source = NULL;
	int rc = backends[attest_backend_now()].token(runtime, n, jwt, source, t, e);
	t->total_ms = now_ms() - t0;
	return rc;
}

int attest_binds(struct json_object *claims, const uint8_t *runtime, size_t n)
{
	const char *rd = jsonx_str(claims, "x-ms-sevsnpvm-reportdata");
	char *digest = attest_runtime_digest_hex(runtime, n);
	int ok = rd && strlen(rd) >= 64 && !strncmp(rd, digest, 64);
	free(digest);
	return ok;
}

int attest_is_emulated(const char *source, struct json_object *claims)
{
	const struct evidence_provider *p = evidence_provider_named(source);
	if (p && p->emulated)
		return 1;
	struct json_object *em = NULL;
	if (claims && json_object_object_get_ex(claims, "x-demo-emulated", &em) &&
	    json_object_get_boolean(em))
		return 1;
	const char *iss = jsonx_str(claims, "iss");
	if (iss && !strncmp(iss, "http://", 7))
		return 1;
	return (cfg.maa.set && cfg.maa.loopback) || (cfg.akv.set && cfg.akv.loopback);
}

int attest_token_verified(const uint8_t *runtime, size_t n, struct attest_token_result *r,
                          struct err *e)
{
	memset(r, 0, sizeof(*r));
	r->via = attest_backend_now();
	if (attest_token(runtime, n, &r->jwt, &r->source, &r->timing, e) < 0)
		return -1;
	double v0 = now_ms();
	struct err ve;
	err_clear(&ve);
	r->verified = token_verify(r->jwt, &cfg.maa, &r->claims, &ve) == 0;
	if (!r->verified)
		snprintf(r->verify_error, sizeof(r->verify_error), "%s", ve.msg);
	r->timing.verification_ms = now_ms() - v0;
	r->timing.total_ms += r->timing.verification_ms;
	r->bound = r->verified && attest_binds(r->claims, runtime, n);
	r->emulated = attest_is_emulated(r->source, r->claims);
	return 0;
}

void attest_token_result_free(struct attest_token_result *r)
{
	free(r->jwt);
	json_object_put(r->claims);
	memset(r, 0, sizeof(*r));
}

int attest_verify_report(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                         struct json_object **checks, struct err *e)
{
	/* The trusted roots come from the pins and the configuration: load them once per process.
	 */
	static struct snp_roots *roots;
	if (!roots) {
		struct snp_roots *rs = snp_roots_new(1);
		if (*cfg.extra_roots && snp_roots_add_file(rs, cfg.extra_roots, 1, e) < 0) {
			snp_roots_free(rs);
			*checks = NULL;
			err_wrap(e, "SNP_EXTRA_ROOTS");
			e->code = ERR_CONFIG;
			return err_in(e, STAGE_CONFIG);
		}
		roots = rs;
	}
	return tee_sev_snp.verify(report, chain_pem, roots, checks, e);
}

/* Decode and check a report the way /attest/raw shows it. */
static void examine(struct attest_report_result *r, const uint8_t *runtime, size_t n)
{
	struct err pe;
	err_clear(&pe);
	r->fields = tee_sev_snp.describe(r->report, SNP_REPORT_SIZE, &pe);
	if (!r->fields)
		snprintf(r->parse_error, sizeof(r->parse_error), "%s", pe.msg);
	uint8_t rd[64];
	report_data_for(runtime, n, rd);
	r->bound = ct_equal(rd, r->report + 0x50, 32);
	double v0 = now_ms();
	char *tcbm = NULL;
	struct err ce;
	err_clear(&ce);
	if (thim_chain(&r->chain_pem, &tcbm, &r->chain_source, &ce) == 0) {
		if (attest_verify_report(r->report, r->chain_pem, &r->checks, &ce) < 0 &&
		    !r->checks) {
			r->checks = json_object_new_object();
			jsonx_add_bool(r->checks, "verified", 0);
			jsonx_add_str(r->checks, "error", ce.msg);
		}
	} else {
		r->checks = json_object_new_object();
		jsonx_add_bool(r->checks, "verified", 0);
		jsonx_add_str(r->checks, "error", ce.msg);
	}
	free(tcbm);
	r->timing.verification_ms = now_ms() - v0;
	r->timing.total_ms += r->timing.verification_ms;
}

int attest_report(const uint8_t *runtime, size_t n, struct attest_report_result *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	r->via = attest_backend_now();
	if (attest_raw(runtime, n, r->report, &r->source, &r->timing, e) < 0)
		return -1;
	r->emulated = attest_is_emulated(r->source, NULL);
	examine(r, runtime, n);
	return 0;
}

void attest_report_result_free(struct attest_report_result *r)
{
	json_object_put(r->fields);
	json_object_put(r->checks);
	free(r->chain_pem);
	memset(r, 0, sizeof(*r));
}
