/*
 * attest: /attest/maa /attest/raw /sidecar/status /info /health /container/info
 *
 * Request and response fields follow the original demo (PROTOCOLS.md §7);
 * fields are added, never renamed.  Differences: attestation_token is the JWT
 * itself, tokens are verified here before their claims are shown, the raw
 * report is decoded and checked, and /info really attests.  Each handler
 * validates its input (lib/http field tables), calls lib/attest or
 * lib/platform, and writes JSON; lib/outcome decides every failure.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest.h"
#include "codec.h"
#include "config.h"
#include "evidence.h"
#include "http.h"
#include "jsonx.h"
#include "outcome.h"
#include "platform.h"
#include "sidecar.h"

#define MAX_RUNTIME_B64 16384

static const struct field_spec attest_fields[] = {
    {"maa_endpoint", FIELD_STRING, 0, 256, 1, CHECK_ENDPOINT, NULL},
    {"runtime_data", FIELD_STRING, 0, MAX_RUNTIME_B64, 1, CHECK_BASE64, NULL},
};

/* The runtime bytes to bind: the request's (standard base64, as the original page's btoa
 * sends it) or, when absent or empty, a fresh JSON document, so a bare POST still attests. */
static uint8_t *runtime_of(const struct http_form *f, const char *purpose, size_t *n)
{
	const struct field_value *v = http_form_get(f, "runtime_data");
	if (!v->nbytes)
		return attest_fresh_runtime(purpose, n);
	*n = v->nbytes;
	uint8_t *rt = xmalloc(v->nbytes + 1);
	memcpy(rt, v->bytes, v->nbytes);
	return rt;
}

static void add_common(struct json_object *o, enum attest_via via, const char *source,
                       const uint8_t *rt, size_t n, const struct attest_timing *t)
{
	jsonx_add_str(o, "attestation_backend", attest_via_name(via));
	jsonx_add_str(o, "evidence_source", source);
	char *rt64 = b64_encode(rt, n, B64_STD, B64_PAD_REQUIRED);
	jsonx_add_str(o, "runtime_data", rt64);
	free(rt64);
	struct json_object *tm = json_object_new_object();
	json_object_object_add(tm, "report", json_object_new_double(t->report_ms));
	json_object_object_add(tm, "certificates", json_object_new_double(t->certs_ms));
	json_object_object_add(tm, "attestation_service", json_object_new_double(t->maa_ms));
	json_object_object_add(tm, "verification", json_object_new_double(t->verification_ms));
	json_object_object_add(tm, "total", json_object_new_double(t->total_ms));
	jsonx_add(o, "timing_ms", tm);
}

static struct json_object *maa_json(struct attest_token_result *r, const uint8_t *rt, size_t n)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "attestation_token", r->jwt);
	jsonx_add_str(o, "maa_endpoint", cfg.maa.host);
	jsonx_add_bool(o, "token_verified", r->verified);
	jsonx_add_bool(o, "signature_verified", r->verified);
	jsonx_add_bool(o, "runtime_data_bound", r->bound);
	jsonx_add_bool(o, "emulated", r->emulated);
	jsonx_add_str(o, "verification_error", r->verified ? NULL : r->verify_error);
	if (r->verified)
		jsonx_add(o, "claims", json_object_get(r->claims));
	struct json_object *how = json_object_new_object();
	char *certs = xasprintf("%s/certs", cfg.maa.url);
	jsonx_add_str(how, "issuer", cfg.maa.url);
	jsonx_add_str(how, "jwks_uri", certs);
	jsonx_add_str(how, "algorithm", "RS256");
	free(certs);
	jsonx_add(o, "verification", how);
	add_common(o, r->via, r->source, rt, n, &r->timing);
	return o;
}

/* The original page always sends its default attestation service: ignored, and said so. */
static struct json_object *noted(struct json_object *o, const struct http_form *f)
{
	const char *asked = http_form_str(f, "maa_endpoint");
	if (config_differs(&cfg.maa, asked))
		http_note_ignored(o, "maa_endpoint", asked, cfg.maa.host, "SKR_MAA_ENDPOINT");
	return o;
}

static void attest_maa(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	struct attest_token_result r = {0};
	size_t n = 0;
	uint8_t *rt = NULL;
	err_clear(&e);
	if (http_form_read(rq, attest_fields, NELEM(attest_fields), &f, &e) < 0) {
		http_send_err(rs, &e, NULL);
	} else if (rt = runtime_of(&f, "attest", &n), attest_token_verified(rt, n, &r, &e) < 0) {
		err_wrap(&e, "Attestation failed");
		http_send_err(rs, &e, noted(json_object_new_object(), &f));
	} else {
		http_send_json(rs, 200, noted(maa_json(&r, rt, n), &f));
	}
	attest_token_result_free(&r);
	http_form_free(&f);
	free(rt);
}

static struct json_object *raw_json(struct attest_report_result *r, const uint8_t *rt, size_t n)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	char *hex = hex_encode(r->report, SNP_REPORT_SIZE);
	jsonx_add_str(o, "attestation_report", hex);
	free(hex);
	if (r->fields)
		jsonx_add(o, "report", json_object_get(r->fields));
	else
		jsonx_add_str(o, "parse_error", r->parse_error);
	jsonx_add_bool(o, "report_data_bound", r->bound);
	jsonx_add(o, "verification", json_object_get(r->checks));
	jsonx_add_str(o, "certificate_source", r->chain_source);
	/* Public certificates (VCEK, ASK, ARK) so a relying party can check the report itself
	 * against its own pinned roots (tools/attest-check --raw). */
	jsonx_add_str(o, "vcek_chain_pem", r->chain_pem);
	jsonx_add_bool(o, "emulated", r->emulated);
	add_common(o, r->via, r->source, rt, n, &r->timing);
	return o;
}

static void attest_raw_handler(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	struct attest_report_result r = {0};
	size_t n = 0;
	uint8_t *rt = NULL;
	err_clear(&e);
	if (http_form_read(rq, attest_fields, NELEM(attest_fields), &f, &e) < 0) {
		http_send_err(rs, &e, NULL);
	} else if (rt = runtime_of(&f, "raw-report", &n), attest_report(rt, n, &r, &e) < 0) {
		err_wrap(&e, "Raw attestation report failed");
		http_send_err(rs, &e, NULL);
	} else {
		http_send_json(rs, 200, raw_json(&r, rt, n));
	}
	attest_report_result_free(&r);
	http_form_free(&f);
	free(rt);
}

static void sidecar_status_handler(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	err_clear(&e);
	long status = 0;
	char *body = NULL;
	int answered = sidecar_status(&status, &body, &e) == 0;
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", answered && status == 200 ? "available" : "unavailable");
	char *shown = body ? err_printable(body, 1000) : NULL;
	jsonx_add_str(o, answered ? "sidecar_response" : "message", answered ? shown : e.msg);
	if (answered)
		jsonx_add_int(o, "sidecar_status_code", status);
	jsonx_add_str(o, "sidecar_url", cfg.sidecar.url);
	jsonx_add_str(o, "attestation_backend", attest_via_name(attest_backend_now()));
	http_send_json(rs, answered && status == 200 ? 200 : 503, o);
	free(shown);
	free(body);
}

static void health(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "healthy");
	jsonx_add_str(o, "service", "confidential-aci-attestation-demo");
	http_send_json(rs, 200, o);
}

static struct json_object *info_status(const struct platform_probe *p)
{
	struct json_object *st = json_object_new_object();
	jsonx_add_str(st, "platform_status",
	              p->works                     ? "running_in_tee"
	              : p->sidecar_up || p->source ? "sidecar_present_attestation_failed"
	                                           : "sidecar_unavailable");
	jsonx_add_bool(st, "sidecar_available", p->sidecar_up);
	jsonx_add_bool(st, "attestation_works", p->works);
	jsonx_add_str(st, "sidecar_error", p->sidecar_up ? NULL : p->sidecar_error);
	jsonx_add_str(st, "attestation_error", p->works ? NULL : p->error);
	jsonx_add_str(st, "sidecar_status_response", p->sidecar_body);
	jsonx_add_str(st, "attestation_backend", attest_via_name(p->via));
	jsonx_add_str(st, "evidence_source", p->source);
	jsonx_add_bool(st, "emulated", p->emulated);
	/* Why not, as an /attest/maa failure would say it (failure_reason, diagnosis, logs), in a
	 * 200 answer: a page on standard hardware shows the expected refusal without an error. */
	if (!p->works)
		jsonx_add(st, "attestation_failure", outcome_envelope(&p->failure));
	return st;
}

static struct json_object *info_features(const struct platform_probe *p)
{
	static const char *const ok[] = {"Memory encryption: verified by attestation",
	                                 "Remote attestation: token issued and verified",
	                                 "Secure key release: available",
	                                 "Confidential computing policy: enforced (host_data)"};
	static const char *const no[] = {
	    "Hardware TEE: NOT available", "Memory encryption: NOT verified",
	    "Remote attestation: FAILED", "Secure key release: NOT possible",
	    "Confidential computing policy: NOT enforced"};
	struct json_object *f = json_object_new_array();
	if (p->works)
		json_object_array_add(
		    f, json_object_new_string(p->emulated
		                                  ? "Hardware TEE: virtual AMD SEV-SNP (emulated)"
		                                  : "Hardware TEE: AMD SEV-SNP"));
	for (size_t i = 0; i < (p->works ? NELEM(ok) : NELEM(no)); i++)
		json_object_array_add(f, json_object_new_string(p->works ? ok[i] : no[i]));
	return f;
}

static struct json_object *info_json(const struct platform_probe *p)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "platform", "Azure Container Instances");
	jsonx_add_str(o, "sku", p->works ? "Confidential" : "Standard (no TEE detected)");
	jsonx_add_str(o, "attestation_service", "Microsoft Azure Attestation (MAA)");
	jsonx_add_str(o, "hardware",
	              !p->works     ? "No TEE available"
	              : p->emulated ? "Virtual AMD SEV-SNP (emulated, not a real TEE)"
	                            : "AMD SEV-SNP");
	jsonx_add_str(o, "demo", "Confidential ACI attestation demo (C)");
	jsonx_add(o, "status", info_status(p));
	jsonx_add(o, "features", info_features(p));
	struct json_object *d = json_object_new_object();
	jsonx_add_str(d, "note",
	              p->works ? "A fresh attestation token was issued and verified for "
	                         "this request."
	                       : "Attestation does not work on this instance.");
	jsonx_add_str(d, "recommendation",
	              p->works ? "None needed."
	                       : "Deploy with the Confidential SKU to run in a TEE.");
	jsonx_add_str(d, "maa_endpoint", cfg.maa.host);
	jsonx_add(o, "diagnostics", d);
	return o;
}

static void info(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct platform_probe p;
	platform_probe(&p);
	http_send_json(rs, 200, info_json(&p));
	platform_probe_free(&p);
}

static void container_info(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "image",
	              *cfg.container_image
	                  ? cfg.container_image
	                  : "Not available from environment (set CONTAINER_IMAGE)");
	jsonx_add(o, "image_digest", NULL);
	char *cid = platform_container_id();
	jsonx_add_str(o, "container_id",
	              cid ? cid : "Not running in a container (no id in /proc/self/cgroup)");
	free(cid);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	jsonx_add_str(o, "hostname", host);
	jsonx_add(o, "app_checksums", platform_app_checksums());
	jsonx_add(o, "skr_binary_info", platform_skr_binary());
	jsonx_add(o, "sev_device", evidence_device_status());
	jsonx_add(o, "skr_status", platform_skr_status());
	jsonx_add(o, "attestation_backend", platform_attestation_backend());
	const char *source = evidence_source();
	jsonx_add_str(o, "tee_device", source ? source : "none");
	jsonx_add(o, "os", platform_os_release());
	http_send_json(rs, 200, o);
}

static const struct http_route routes[] = {
    {"POST", "/attest/maa", 0, attest_maa},
    {"POST", "/attest/raw", 0, attest_raw_handler},
    {"GET", "/sidecar/status", 0, sidecar_status_handler},
    {"GET", "/info", 0, info},
    {"GET", "/health", 0, health},
    {"GET", "/container/info", 0, container_info},
};

int main(void)
{
	return http_main("attest", routes, NELEM(routes));
}
