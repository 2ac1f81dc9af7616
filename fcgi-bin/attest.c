/*
 * attest: /attest/maa /attest/raw /sidecar/status /info /health /container/info
 *
 * Request and response fields follow the original demo (PROTOCOLS.md §7);
 * fields are added, never renamed.  Differences: attestation_token is the JWT
 * itself, tokens are verified here before their claims are shown, the raw
 * report is decoded and checked, and /info really attests.
 */
#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest.h"
#include "codec.h"
#include "config.h"
#include "evidence.h"
#include "http.h"
#include "jsonx.h"
#include "log.h"
#include "sidecar.h"
#include "thim.h"
#include "token.h"

#define MAX_RUNTIME_B64 16384

static const struct field_spec attest_fields[] = {
	{"maa_endpoint", FIELD_STRING, 0, 260, 1},
	{"runtime_data", FIELD_STRING, 0, MAX_RUNTIME_B64, 1},
};

/*
 * Decode runtime_data (standard base64, as the original page's btoa sends it).
 * Missing or empty: a fresh JSON document, so a bare POST still attests.
 */
static int runtime_from(struct json_object *body, const char *purpose, unsigned char **rt,
			size_t *n, struct err *e)
{
	const char *b64 = jsonx_str(body, "runtime_data");
	if (b64 && *b64) {
		if (b64_decode(b64, strlen(b64), B64_STD, B64_PAD_ANY, rt, n) < 0 &&
		    b64_decode(b64, strlen(b64), B64_URL, B64_PAD_ANY, rt, n) < 0)
			return err_set(e, ERR_BAD_REQUEST,
				       "runtime_data is not valid base64 (standard or URL alphabet)");
		return 0;
	}
	char *doc = xasprintf("{\"purpose\":\"%s\",\"timestamp\":%lld}", purpose, now_unix());
	*n = strlen(doc);
	*rt = (unsigned char *)doc;
	return 0;
}

/* A request may name the attestation service only if it is the configured one. */
static int check_maa_choice(struct json_object *body, struct err *e)
{
	const char *req = jsonx_str(body, "maa_endpoint");
	if (!req || !*req)
		return 0;
	struct endpoint ep;
	if (config_parse_endpoint("maa_endpoint", req, &ep, e) < 0)
		return -1;
	int same = ep.set && !strcmp(ep.url, cfg.maa.url);
	endpoint_free(&ep);
	if (!same)
		return err_set(e, ERR_BAD_REQUEST,
			       "maa_endpoint '%.100s' is not this server's attestation service (%s); "
			       "the server's configuration (SKR_MAA_ENDPOINT) decides",
			       req, cfg.maa.host);
	return 0;
}

/* The runtime data a request asks to bind: its JSON body checked against attest_fields
 * (and, when maa_choice, its maa_endpoint), then runtime_from(purpose). */
static int request_runtime(struct http_req *rq, const char *purpose, int maa_choice,
			   unsigned char **rt, size_t *n, struct err *e)
{
	struct json_object *body = NULL;
	int bad = http_body_json(rq, &body, e) < 0 ||
		  http_validate(body, attest_fields, NELEM(attest_fields), e) < 0 ||
		  (maa_choice && check_maa_choice(body, e) < 0) ||
		  runtime_from(body, purpose, rt, n, e) < 0;
	json_object_put(body);
	return bad ? -1 : 0;
}

static struct json_object *timing_json(const struct attest_timing *t, double verify_ms)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "report", json_object_new_double(t->report_ms));
	json_object_object_add(o, "certificates", json_object_new_double(t->certs_ms));
	json_object_object_add(o, "attestation_service", json_object_new_double(t->maa_ms));
	json_object_object_add(o, "verification", json_object_new_double(verify_ms));
	json_object_object_add(o, "total", json_object_new_double(t->total_ms + verify_ms));
	return o;
}

static int source_is_emulated(const char *source)
{
	return source && !strcmp(source, "virtual");
}

/* Failure envelope shared by the attestation endpoints (original §7 shape). */
static void send_attest_failure(struct http_resp *rs, const struct err *e, enum attest_via via,
				const char *what, int with_logs)
{
	struct json_object *x = json_object_new_object();
	jsonx_add_str(x, "failure_reason", attest_failure_reason(e));
	jsonx_add(x, "diagnosis", attest_diagnosis(e, via));
	jsonx_add_str(x, "maa_endpoint", cfg.maa.host);
	jsonx_add_str(x, "attestation_backend", attest_via_name(via));
	if (via == ATTEST_SIDECAR && e->upstream_status) {
		jsonx_add_int(x, "sidecar_status_code", e->upstream_status);
		jsonx_add_str(x, "sidecar_response", e->msg);
	}
	jsonx_add_str(x, "note",
		      "Attestation only succeeds inside an AMD SEV-SNP TEE (Confidential SKU) or the local "
		      "virtual SEV-SNP host.");
	if (with_logs)
		jsonx_add(x, "logs", attest_logs());
	int status = err_http_status(e->code);
	if (e->code == ERR_VERIFY || e->code == ERR_UNAUTHORIZED)
		status = 403;
	char *msg = xasprintf("%s: %s", what, e->msg);
	jsonx_add_str(x, "error_code", err_code_name(e->code));
	http_send_error(rs, status, msg, x);
	free(msg);
}

static void attest_maa(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	unsigned char *rt = NULL;
	size_t rtn = 0;
	if (request_runtime(rq, "attest", 1, &rt, &rtn, &e) < 0) {
		http_send_err(rs, &e, NULL);
		return;
	}
	enum attest_via via = attest_choose();
	char *jwt = NULL;
	const char *source = NULL;
	struct attest_timing t;
	if (attest_token(rt, rtn, &jwt, &source, &t, &e) < 0) {
		log_warn("attestation failed: %s", e.msg);
		send_attest_failure(rs, &e, via, "Attestation failed", 1);
		free(rt);
		return;
	}
	double v0 = now_ms();
	struct json_object *claims = NULL;
	struct err ve;
	err_clear(&ve);
	int verified = token_verify(jwt, &cfg.maa, &claims, &ve) == 0;
	double verify_ms = now_ms() - v0;

	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "attestation_token", jwt);
	jsonx_add_str(o, "maa_endpoint", cfg.maa.host);
	jsonx_add_bool(o, "token_verified", verified);
	jsonx_add_bool(o, "signature_verified", verified);
	if (verified) {
		char *digest = attest_runtime_digest_hex(rt, rtn);
		const char *rd = jsonx_str(claims, "x-ms-sevsnpvm-reportdata");
		jsonx_add_bool(o, "runtime_data_bound", rd && !strncmp(rd, digest, 64));
		free(digest);
		struct json_object *em = NULL;
		json_object_object_get_ex(claims, "x-demo-emulated", &em);
		jsonx_add_bool(o, "emulated", em && json_object_get_boolean(em));
		jsonx_add(o, "claims", claims);
	} else {
		jsonx_add_str(o, "verification_error", ve.msg);
		json_object_put(claims);
	}
	struct json_object *how = json_object_new_object();
	char *certs = xasprintf("%s/certs", cfg.maa.url);
	jsonx_add_str(how, "issuer", cfg.maa.url);
	jsonx_add_str(how, "jwks_uri", certs);
	jsonx_add_str(how, "algorithm", "RS256");
	free(certs);
	jsonx_add(o, "verification", how);
	jsonx_add_str(o, "attestation_backend", attest_via_name(via));
	jsonx_add_str(o, "evidence_source", source);
	char *rt64 = b64_encode(rt, rtn, B64_STD, B64_PAD_REQUIRED);
	jsonx_add_str(o, "runtime_data", rt64);
	free(rt64);
	jsonx_add(o, "timing_ms", timing_json(&t, verify_ms));
	http_send_json(rs, 200, o);
	free(jwt);
	free(rt);
}

static void attest_raw_handler(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	unsigned char *rt = NULL;
	size_t rtn = 0;
	if (request_runtime(rq, "raw-report", 0, &rt, &rtn, &e) < 0) {
		http_send_err(rs, &e, NULL);
		return;
	}
	enum attest_via via = attest_choose();
	uint8_t report[SNP_REPORT_SIZE];
	const char *source = NULL;
	struct attest_timing t;
	if (attest_raw(rt, rtn, report, &source, &t, &e) < 0) {
		send_attest_failure(rs, &e, via, "Raw attestation report failed", 0);
		free(rt);
		return;
	}
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	char *hex = hex_encode(report, SNP_REPORT_SIZE);
	jsonx_add_str(o, "attestation_report", hex);
	free(hex);
	struct snp_report r;
	if (snp_report_parse(report, SNP_REPORT_SIZE, &r, &e) == 0) {
		jsonx_add(o, "report", snp_report_json(&r));
		char *digest = attest_runtime_digest_hex(rt, rtn);
		char *rd = hex_encode(r.report_data, 32);
		jsonx_add_bool(o, "report_data_bound", !strcmp(digest, rd));
		free(digest);
		free(rd);
	} else {
		jsonx_add_str(o, "parse_error", e.msg);
	}
	/* Check the report here too, so the page can show which checks pass. */
	double v0 = now_ms();
	char *pem = NULL, *tcbm = NULL;
	const char *chain_source = NULL;
	struct err ce;
	err_clear(&ce);
	if (thim_chain(&pem, &tcbm, &chain_source, &ce) == 0) {
		struct json_object *checks = NULL;
		if (attest_verify_report(report, pem, &checks, &ce) < 0 && !checks) {
			checks = json_object_new_object();
			jsonx_add_str(checks, "error", ce.msg);
		}
		jsonx_add(o, "verification", checks);
		jsonx_add_str(o, "certificate_source", chain_source);
		/* Public certificates (VCEK, ASK, ARK) so a relying party can check the report
		 * itself against its own pinned roots (tools/attest-check --raw). */
		jsonx_add_str(o, "vcek_chain_pem", pem);
	} else {
		struct json_object *v = json_object_new_object();
		jsonx_add_bool(v, "verified", 0);
		jsonx_add_str(v, "error", ce.msg);
		jsonx_add(o, "verification", v);
	}
	free(pem);
	free(tcbm);
	jsonx_add_str(o, "attestation_backend", attest_via_name(via));
	jsonx_add_str(o, "evidence_source", source);
	jsonx_add_bool(o, "emulated", source_is_emulated(source));
	char *rt64 = b64_encode(rt, rtn, B64_STD, B64_PAD_REQUIRED);
	jsonx_add_str(o, "runtime_data", rt64);
	free(rt64);
	jsonx_add(o, "timing_ms", timing_json(&t, now_ms() - v0));
	http_send_json(rs, 200, o);
	free(rt);
}

static void sidecar_status_handler(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	err_clear(&e);
	long status = 0;
	char *body = NULL;
	if (sidecar_status(&status, &body, &e) < 0) {
		struct json_object *o = json_object_new_object();
		jsonx_add_str(o, "status", "unavailable");
		jsonx_add_str(o, "message", e.msg);
		jsonx_add_str(o, "sidecar_url", cfg.sidecar.url);
		jsonx_add_str(o, "attestation_backend", attest_via_name(attest_choose()));
		http_send_json(rs, e.code == ERR_TIMEOUT ? 504 : 503, o);
		return;
	}
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", status == 200 ? "available" : "unavailable");
	/* The sidecar's bytes are not ours to trust: printable text only, bounded. */
	char *shown = err_printable(body, 1000);
	jsonx_add_str(o, "sidecar_response", shown);
	free(shown);
	jsonx_add_int(o, "sidecar_status_code", status);
	jsonx_add_str(o, "sidecar_url", cfg.sidecar.url);
	jsonx_add_str(o, "attestation_backend", attest_via_name(attest_choose()));
	http_send_json(rs, status == 200 ? 200 : 503, o);
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

static void info(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	enum attest_via via = attest_choose();
	const char *source = evidence_source();
	struct err se, ae;
	err_clear(&se);
	err_clear(&ae);

	/* Sidecar presence, as the original reported it. */
	long sc_status = 0;
	char *sc_body = NULL;
	int sidecar_up = sidecar_status(&sc_status, &sc_body, &se) == 0 && sc_status == 200;

	/* A real attestation with a fresh runtime document, and a verified token. */
	char *doc = xasprintf("{\"purpose\":\"info-probe\",\"timestamp\":%lld}", now_unix());
	char *jwt = NULL;
	struct attest_timing t;
	const char *used = NULL;
	int works = attest_token((const uint8_t *)doc, strlen(doc), &jwt, &used, &t, &ae) == 0;
	struct json_object *claims = NULL;
	if (works && token_verify(jwt, &cfg.maa, &claims, &ae) < 0)
		works = 0;
	int emulated = 0;
	if (claims) {
		struct json_object *em = NULL;
		emulated = json_object_object_get_ex(claims, "x-demo-emulated", &em) &&
			   json_object_get_boolean(em);
	}

	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "platform", "Azure Container Instances");
	jsonx_add_str(o, "sku", works ? "Confidential" : "Standard (no TEE detected)");
	jsonx_add_str(o, "attestation_service", "Microsoft Azure Attestation (MAA)");
	jsonx_add_str(o, "hardware", works ? (emulated ? "Virtual AMD SEV-SNP (emulated, not a real TEE)"
						      : "AMD SEV-SNP")
					 : "No TEE available");
	jsonx_add_str(o, "demo", "Confidential ACI attestation demo (C)");
	struct json_object *st = json_object_new_object();
	jsonx_add_str(st, "platform_status",
		      works ? "running_in_tee"
			    : (sidecar_up || source ? "sidecar_present_attestation_failed"
						    : "sidecar_unavailable"));
	jsonx_add_bool(st, "sidecar_available", sidecar_up);
	jsonx_add_bool(st, "attestation_works", works);
	jsonx_add_str(st, "sidecar_error", sidecar_up ? NULL : se.msg[0] ? se.msg : "sidecar did not answer 200");
	jsonx_add_str(st, "attestation_error", works ? NULL : ae.msg);
	jsonx_add_str(st, "sidecar_status_response", sc_body);
	jsonx_add_str(st, "attestation_backend", attest_via_name(via));
	jsonx_add_str(st, "evidence_source", source);
	jsonx_add_bool(st, "emulated", emulated);
	jsonx_add(o, "status", st);
	struct json_object *f = json_object_new_array();
	if (works) {
		json_object_array_add(f, json_object_new_string(
					     emulated ? "Hardware TEE: virtual AMD SEV-SNP (emulated)"
						      : "Hardware TEE: AMD SEV-SNP"));
		json_object_array_add(f, json_object_new_string("Memory encryption: verified by attestation"));
		json_object_array_add(f, json_object_new_string("Remote attestation: token issued and verified"));
		json_object_array_add(f, json_object_new_string("Secure key release: available"));
		json_object_array_add(f, json_object_new_string("Confidential computing policy: enforced (host_data)"));
	} else {
		json_object_array_add(f, json_object_new_string("Hardware TEE: NOT available"));
		json_object_array_add(f, json_object_new_string("Memory encryption: NOT verified"));
		json_object_array_add(f, json_object_new_string("Remote attestation: FAILED"));
		json_object_array_add(f, json_object_new_string("Secure key release: NOT possible"));
		json_object_array_add(f, json_object_new_string("Confidential computing policy: NOT enforced"));
	}
	jsonx_add(o, "features", f);
	struct json_object *d = json_object_new_object();
	jsonx_add_str(d, "note", works ? "A fresh attestation token was issued and verified for this request."
				       : "Attestation does not work on this instance.");
	jsonx_add_str(d, "recommendation",
		      works ? "None needed." : "Deploy with the Confidential SKU to run in a TEE.");
	jsonx_add_str(d, "maa_endpoint", cfg.maa.host);
	jsonx_add(o, "diagnostics", d);
	http_send_json(rs, 200, o);
	json_object_put(claims);
	free(jwt);
	free(doc);
	free(sc_body);
}

static void file_digests(struct json_object *out, const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		struct buf b;
		buf_init(&b);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && read_file(path, 64u << 20, &b) == 0) {
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned int len;
			struct json_object *f = json_object_new_object();
			EVP_Digest(b.p, b.len, md, &len, EVP_md5(), NULL);
			char *h = hex_encode(md, len);
			jsonx_add_str(f, "md5", h);
			free(h);
			EVP_Digest(b.p, b.len, md, &len, EVP_sha256(), NULL);
			h = hex_encode(md, len);
			jsonx_add_str(f, "sha256", h);
			free(h);
			jsonx_add_int(f, "size_bytes", (long long)b.len);
			char *key = xasprintf("%s/%s", prefix, de->d_name);
			jsonx_add(out, key, f);
			free(key);
		}
		buf_free(&b);
		free(path);
	}
	closedir(d);
}

static char *self_dir(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup(".");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return xstrdup(exe);
}

static char *os_release_field(const struct buf *b, const char *key)
{
	size_t kl = strlen(key);
	const char *p = (const char *)b->p;
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1, *end = strchr(v, '\n');
			size_t n = end ? (size_t)(end - v) : strlen(v);
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
				v++;
				n -= 2;
			}
			return xstrndup(v, n);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static void container_info(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "image", *cfg.container_image ? cfg.container_image
						       : "Not available from environment (set CONTAINER_IMAGE)");
	jsonx_add(o, "image_digest", NULL);
	struct buf b;
	buf_init(&b);
	char *cid = NULL;
	if (read_file("/proc/self/cgroup", 65536, &b) == 0) {
		/* The last path component of a 64-hex cgroup is the container id. */
		const char *s = (const char *)b.p;
		for (const char *p = s; *p; p++) {
			size_t n = strspn(p, "0123456789abcdef");
			if (n == 64) {
				cid = xstrndup(p, 64);
				break;
			}
			p += n;
		}
	}
	buf_free(&b);
	jsonx_add_str(o, "container_id", cid ? cid : "Not running in a container (no id in /proc/self/cgroup)");
	free(cid);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	jsonx_add_str(o, "hostname", host);

	/*
	 * The installed files do not change under a running program (an upgrade restarts it),
	 * so they are hashed once per process, not on every request.
	 */
	static struct json_object *sums;
	if (!sums) {
		sums = json_object_new_object();
		char *dir = self_dir();
		file_digests(sums, dir, "fcgi-bin");
		char *www = xasprintf("%s/../www", dir);
		file_digests(sums, www, "www");
		free(www);
		free(dir);
	}
	jsonx_add(o, "app_checksums", json_object_get(sums));

	struct json_object *skr = json_object_new_object();
	struct stat st;
	if (stat("/usr/local/bin/skr", &st) == 0) {
		jsonx_add_str(skr, "path", "/usr/local/bin/skr");
		jsonx_add_int(skr, "size_bytes", (long long)st.st_size);
	} else {
		jsonx_add_str(skr, "error", "SKR sidecar binary not present at /usr/local/bin/skr");
	}
	jsonx_add(o, "skr_binary_info", skr);
	jsonx_add(o, "sev_device", evidence_device_status());

	struct json_object *ss = json_object_new_object();
	struct err e;
	err_clear(&e);
	long status = 0;
	char *body = NULL;
	if (sidecar_status(&status, &body, &e) == 0) {
		jsonx_add_bool(ss, "running", status == 200);
		jsonx_add_int(ss, "status_code", status);
		jsonx_add_str(ss, "response", body);
	} else {
		jsonx_add_bool(ss, "running", 0);
		jsonx_add_str(ss, "reason", e.msg);
		jsonx_add_str(ss, "explanation",
			      attest_choose() == ATTEST_NATIVE
				      ? "Not needed: this instance attests natively (no sidecar)."
				      : "The SKR sidecar is not listening on its loopback port.");
		jsonx_add_str(ss, "solution", "In the container, supervisord starts /usr/local/bin/skr; check "
					      "skr_error.log. Natively attesting instances do not need it.");
		jsonx_add_str(ss, "technical_detail", cfg.sidecar.url);
	}
	free(body);
	jsonx_add(o, "skr_status", ss);

	struct json_object *ab = json_object_new_object();
	static const char *const backends[] = {"auto", "sidecar", "native"};
	jsonx_add_str(ab, "configured", backends[cfg.backend]);
	jsonx_add_str(ab, "selected", attest_via_name(attest_choose()));
	jsonx_add_str(ab, "evidence_source", evidence_source());
	jsonx_add_bool(ab, "emulated", source_is_emulated(evidence_source()));
	jsonx_add_str(ab, "maa_endpoint", cfg.maa.host);
	jsonx_add(o, "attestation_backend", ab);
	jsonx_add_str(o, "tee_device", evidence_source() ? evidence_source() : "none");

	struct json_object *os = json_object_new_object();
	buf_init(&b);
	if (read_file("/etc/os-release", 65536, &b) == 0) {
		char *v;
		if ((v = os_release_field(&b, "NAME"))) { jsonx_add_str(os, "name", v); free(v); }
		if ((v = os_release_field(&b, "VERSION"))) { jsonx_add_str(os, "version", v); free(v); }
		if ((v = os_release_field(&b, "PRETTY_NAME"))) { jsonx_add_str(os, "pretty_name", v); free(v); }
	}
	buf_free(&b);
	jsonx_add(o, "os", os);
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
