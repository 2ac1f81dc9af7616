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

enum attest_via attest_choose(void)
{
	switch (cfg.backend) {
	case BACKEND_NATIVE: return ATTEST_NATIVE;
	case BACKEND_SIDECAR: return ATTEST_SIDECAR;
	case BACKEND_AUTO: break;
	}
	return evidence_source() ? ATTEST_NATIVE : ATTEST_SIDECAR;
}

const char *attest_via_name(enum attest_via via)
{
	return via == ATTEST_NATIVE ? "native" : "sidecar";
}

/*
 * In auto mode the sidecar is the fallback when no device exists; if it is
 * not there either, the real story is "no TEE", so say that first.
 */
static void explain_no_tee(struct err *e)
{
	if (cfg.backend == BACKEND_AUTO && e->code == ERR_UNAVAILABLE && !evidence_source())
		err_wrap(e, "no SEV-SNP device (/dev/sev-guest, /dev/sev) and no SKR sidecar");
}

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

int attest_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE], const char **source,
	       struct attest_timing *t, struct err *e)
{
	double t0 = now_ms();
	memset(t, 0, sizeof(*t));
	int rc;
	if (attest_choose() == ATTEST_SIDECAR) {
		*source = "sidecar";
		rc = sidecar_attest_raw(runtime, n, report, e);
		if (rc < 0)
			explain_no_tee(e);
	} else {
		uint8_t rd[64];
		report_data_for(runtime, n, rd);
		rc = evidence_report(rd, report, source, e);
	}
	t->report_ms = t->total_ms = now_ms() - t0;
	return rc;
}

int attest_token(const uint8_t *runtime, size_t n, char **jwt, const char **source,
		 struct attest_timing *t, struct err *e)
{
	memset(t, 0, sizeof(*t));
	*jwt = NULL;
	if (!cfg.maa.set)
		return err_set(e, ERR_BAD_REQUEST,
			       "SKR_MAA_ENDPOINT is empty: set it to the attestation service, e.g. sharedeus.eus.attest.azure.net");
	double t0 = now_ms();
	if (attest_choose() == ATTEST_SIDECAR) {
		*source = "sidecar";
		int rc = sidecar_attest_maa(cfg.maa.host, runtime, n, jwt, e);
		if (rc < 0)
			explain_no_tee(e);
		t->maa_ms = t->total_ms = now_ms() - t0;
		return rc;
	}
	uint8_t rd[64], report[SNP_REPORT_SIZE];
	report_data_for(runtime, n, rd);
	if (evidence_report(rd, report, source, e) < 0)
		return -1;
	double t1 = now_ms();
	t->report_ms = t1 - t0;
	char *pem = NULL, *tcbm = NULL;
	const char *chain_source;
	if (thim_chain(&pem, &tcbm, &chain_source, e) < 0)
		return err_wrap(e, "cannot get the VCEK certificate chain");
	double t2 = now_ms();
	t->certs_ms = t2 - t1;
	int rc = maa_attest(&cfg.maa, report, pem, runtime, n, thim_uvm_endorsement(), jwt, e);
	t->maa_ms = now_ms() - t2;
	t->total_ms = now_ms() - t0;
	free(pem);
	free(tcbm);
	return rc;
}

int attest_verify_report(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
			 struct json_object **checks, struct err *e)
{
	/* The trusted roots come from the pins and the configuration: load them once per process. */
	static struct snp_roots *roots;
	if (!roots) {
		struct snp_roots *r = snp_roots_new(1);
		if (*cfg.extra_roots && snp_roots_add_file(r, cfg.extra_roots, 1, e) < 0) {
			snp_roots_free(r);
			*checks = NULL;
			return err_wrap(e, "SNP_EXTRA_ROOTS");
		}
		roots = r;
	}
	return snp_verify_cached(report, chain_pem, roots, checks, e);
}

const char *attest_failure_reason(const struct err *e)
{
	if (strstr(e->msg, "no SEV-SNP device") || strstr(e->msg, "SEV") || strstr(e->msg, "SNP"))
		if (e->code == ERR_UNAVAILABLE)
			return "No AMD SEV-SNP hardware: this container is not running in a TEE";
	switch (e->code) {
	case ERR_UNAVAILABLE: return "A required service is not reachable";
	case ERR_TIMEOUT: return "A required service did not answer in time";
	case ERR_BAD_REQUEST: return "Bad request";
	case ERR_UNAUTHORIZED:
	case ERR_FORBIDDEN: return "Attestation was refused";
	case ERR_VERIFY: return "The evidence failed verification";
	case ERR_UPSTREAM: return "A service answered something unusable";
	default: return "Internal error";
	}
}

struct json_object *attest_diagnosis(const struct err *e, enum attest_via via)
{
	struct json_object *d = json_object_new_object();
	const char *cause, *solution, *command;
	if (e->code == ERR_UNAVAILABLE && via == ATTEST_NATIVE) {
		cause = "No SEV-SNP evidence provider could be used.";
		solution = "Deploy with the Confidential SKU (sku: Confidential) so /dev/sev-guest exists, or run the "
			   "local demo with `make run`, which provides a virtual SEV-SNP host.";
		command = "az container show -g <rg> -n <name> --query sku";
	} else if (e->code == ERR_UNAVAILABLE) {
		cause = "Neither an SEV-SNP device nor the SKR sidecar is available: this container runs on "
			"standard hardware.";
		solution = "Deploy with the Confidential SKU; on standard hardware attestation cannot succeed, "
			   "which is what this instance demonstrates.";
		command = "az container show -g <rg> -n <name> --query sku";
	} else if (e->code == ERR_TIMEOUT) {
		cause = "The attestation service or sidecar did not answer in time.";
		solution = "Check network egress to the attestation endpoint and retry.";
		command = "curl -s https://<maa-endpoint>/.well-known/openid-configuration";
	} else if (e->code == ERR_VERIFY || e->code == ERR_FORBIDDEN || e->code == ERR_UNAUTHORIZED) {
		cause = "The attestation service rejected the evidence (signature, certificate chain, TCB or "
			"report_data binding).";
		solution = "Check the VCEK chain (THIM) matches the report's TCB; run snp-verify on the raw "
			   "report to see which check fails.";
		command = "snp-verify report.hex thim.json";
	} else if (e->code == ERR_BAD_REQUEST) {
		cause = "The request or configuration is invalid.";
		solution = "Read the message; fix the named field or environment variable.";
		command = "env | grep -E 'SKR_|ATTESTATION_|SNP_'";
	} else {
		cause = "An unexpected error occurred.";
		solution = "See the service logs below.";
		command = "tail -n 100 $LOG_DIR/app.log";
	}
	jsonx_add_str(d, "likely_cause", cause);
	jsonx_add_str(d, "solution", solution);
	jsonx_add_str(d, "command", command);
	jsonx_add_str(d, "detail", e->msg);
	jsonx_add_str(d, "attestation_backend", attest_via_name(via));
	return d;
}

/* Last `lines` lines of a file, at most 16 KiB, or a note saying why not. */
static char *tail_file(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return xasprintf("(file not found: %s)", path);
	enum { MAXB = 16384 };
	char *buf = xmalloc(MAXB + 1);
	long size = 0;
	if (fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	long start = size > MAXB ? size - MAXB : 0;
	if (fseek(f, start, SEEK_SET) != 0)
		start = 0;
	size_t n = fread(buf, 1, MAXB, f);
	fclose(f);
	buf[n] = '\0';
	if (n == 0) {
		free(buf);
		return xstrdup("(empty)");
	}
	char *p = buf + n;
	int seen = 0;
	while (p > buf) {
		p--;
		if (*p == '\n' && p != buf + n - 1 && ++seen == lines) {
			p++;
			break;
		}
	}
	char *out = xstrdup(p);
	free(buf);
	return out;
}

struct json_object *attest_logs(void)
{
	static const struct {
		const char *key, *file;
	} files[] = {
		{"skr", "skr.log"},
		{"skr_error", "skr_error.log"},
		{"app", "app.log"},
		{"lighttpd_error", "lighttpd_error.log"},
		{"supervisord", "supervisord.log"},
	};
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < NELEM(files); i++) {
		char *path = xasprintf("%s/%s", cfg.log_dir, files[i].file);
		char *t = tail_file(path, 100);
		jsonx_add_str(o, files[i].key, t);
		free(t);
		free(path);
	}
	jsonx_add(o, "sev_device", evidence_device_status());
	return o;
}
