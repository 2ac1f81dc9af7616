/*
 * maa: local stand-in for Microsoft Azure Attestation (SEV-SNP container
 * flavour, PROTOCOLS.md §4), served by lighttpd on a loopback port.
 *
 *   POST /attest/SevSnpVm?api-version=...   evidence in, RS256 token out
 *   GET  /certs                              the token signing keys (JWKS)
 *   GET  /.well-known/openid-configuration   issuer metadata
 *   maa init DIR                             (from a shell) create the signing key + cert
 *
 * It checks what MAA checks: the report parses, its signature and VCEK chain
 * verify up to a trusted ARK (the pinned AMD ARKs, plus MAA_TRUSTED_ROOTS, the
 * virtual SEV-SNP CA, always marked emulated), the TCB and chip id match the
 * VCEK, and report_data = sha256(runtime data) || zeros.  Every token it
 * issues carries "x-demo-emulated": true and an issuer on loopback, so it can
 * never be mistaken for an Azure token.  Errors use MAA's envelope
 * {"error":{"code","message"}} because clients written for Azure parse it.
 *
 * Environment (read at start; a bad value stops the program naming it):
 *   MAA_ISSUER          its own base URL, e.g. http://127.0.0.1:8010 (iss; jku = iss/certs)
 *   MAA_KEY_DIR         holds signing.key (0600) and signing.pem, made by `maa init`
 *   MAA_TRUSTED_ROOTS   PEM file of extra trusted ARKs (emulated), optional
 *   MAA_TOKEN_LIFETIME  seconds, default 28800
 */
#include <errno.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "codec.h"
#include "config.h"
#include "http.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"
#include "pki.h"
#include "snp.h"

#define KEY_FILE         "signing.key"
#define CERT_FILE        "signing.pem"
#define KEY_BITS         2048
#define DEFAULT_LIFETIME 28800
#define NONCE_MAX        1024

/* MAA's default SEV-SNP policy: permit all, no extra issuance rules. */
static const char default_policy[] =
    "version= 1.0;\nauthorizationrules\n{\n\t=> permit();\n};\nissuancerules\n{\n};\n";

static struct {
	struct endpoint issuer;
	char *jku;
	char *kid;
	EVP_PKEY *key;
	X509 *cert;
	struct snp_roots *roots;
	unsigned long lifetime;
	char *policy_hash;
} maa;

#define die(...) config_die("maa", __VA_ARGS__)

/* ---- key directory ---- */

static char *dir_file(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* `maa init DIR`: create the signing key and certificate; keeps what is already valid. */
static int init_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "maa init: cannot create %s: %s\n", dir, strerror(errno));
		return 2;
	}
	char *kpath = dir_file(dir, KEY_FILE), *cpath = dir_file(dir, CERT_FILE);
	struct err e = {0};
	int rc = 2, created, made = -1;
	/* Never overwrites a key it cannot read: someone may depend on it. */
	EVP_PKEY *key = pki_ensure_rsa_key(kpath, KEY_BITS, &created, &e);
	if (key && created)
		printf("created %s\n", kpath);
	if (key)
		made = pki_ensure_self_signed(cpath, key, "confidential-aci-demo local stand-ins",
		                              "Emulated MAA token signing", NULL, &e);
	if (made < 0) {
		fprintf(stderr, "maa init: %s\n", e.msg);
	} else {
		if (made)
			printf("created %s\n", cpath);
		rc = 0;
	}
	EVP_PKEY_free(key);
	free(kpath);
	free(cpath);
	return rc;
}

/* ---- configuration ---- */

static void load_config(void)
{
	struct err e = {0};
	const char *v = config_env("MAA_ISSUER");
	if (!v || !*v)
		die("MAA_ISSUER", "not set: set it to this service's base URL, e.g. "
		                  "http://127.0.0.1:8010");
	if (config_parse_endpoint("MAA_ISSUER", v, &maa.issuer, &e) != 0)
		die(NULL, "%s", e.msg);
	maa.jku = xasprintf("%s/certs", maa.issuer.url);

	const char *dir = config_env("MAA_KEY_DIR");
	if (!dir || !*dir)
		die("MAA_KEY_DIR", "not set: set it to a directory made by `maa init DIR`");
	char *kpath = dir_file(dir, KEY_FILE), *cpath = dir_file(dir, CERT_FILE);
	struct err ke = {0};
	if (!(maa.key = pki_load_private_key(kpath, &ke)))
		die("MAA_KEY_DIR", "%s: run `maa init %s`", ke.msg, dir);
	if (!(maa.cert = pki_load_cert(cpath, &ke)))
		die("MAA_KEY_DIR", "%s: run `maa init %s`", ke.msg, dir);
	if (X509_check_private_key(maa.cert, maa.key) != 1)
		die("MAA_KEY_DIR", "%s does not match %s: run `maa init %s`", cpath, kpath, dir);
	if (!EVP_PKEY_is_a(maa.key, "RSA") || EVP_PKEY_get_bits(maa.key) < 2048)
		die("MAA_KEY_DIR", "%s must be an RSA key of at least 2048 bits", kpath);
	free(kpath);
	free(cpath);
	maa.kid = jwk_thumbprint(maa.key);

	maa.roots = snp_roots_new(1);
	v = config_env("MAA_TRUSTED_ROOTS");
	if (v && *v && snp_roots_add_file(maa.roots, v, 1, &e) != 0)
		die("MAA_TRUSTED_ROOTS", "%s", e.msg);

	maa.lifetime = DEFAULT_LIFETIME;
	v = config_env("MAA_TOKEN_LIFETIME");
	if (v && *v && parse_ulong(v, 60, 7UL * 86400, &maa.lifetime) != 0)
		die("MAA_TOKEN_LIFETIME", "'%.40s' is not a number of seconds in [60, 604800]", v);

	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)default_policy, strlen(default_policy), md);
	maa.policy_hash = b64_encode(md, sizeof(md), B64_URL, B64_PAD_NONE);
}

/* ---- handlers ---- */

static void maa_error(struct http_req *rq, struct http_resp *rs, int status, const char *code,
                      const char *msg)
{
	log_info("attestation rejected for %s: %s: %s", *rq->remote_addr ? rq->remote_addr : "?",
	         code, msg);
	struct json_object *o = json_object_new_object(), *err = json_object_new_object();
	jsonx_add_str(err, "code", code);
	jsonx_add_str(err, "message", msg);
	jsonx_add(o, "error", err);
	http_send_json(rs, status, o);
}

/* Exactly MAA's shape (REST spec example Get_Certs): kid, kty and the x5c chain only; no
 * n/e/use/alg, so a verifier must take the key from x5c[0] as it must on Azure. */
static void certs(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *k = json_object_new_object(), *x5c = json_object_new_array();
	jsonx_add_str(k, "kid", maa.kid);
	jsonx_add_str(k, "kty", "RSA");
	unsigned char *der = NULL;
	int n = i2d_X509(maa.cert, &der);
	if (n > 0) {
		char *b = b64_encode(der, (size_t)n, B64_STD, B64_PAD_REQUIRED);
		json_object_array_add(x5c, json_object_new_string(b));
		free(b);
	}
	OPENSSL_free(der);
	jsonx_add(k, "x5c", x5c);
	struct json_object *o = json_object_new_object(), *keys = json_object_new_array();
	json_object_array_add(keys, k);
	jsonx_add(o, "keys", keys);
	http_send_json(rs, 200, o);
}

static const char *const claim_names[] = {
    "iss",
    "iat",
    "nbf",
    "exp",
    "jti",
    "x-ms-ver",
    "x-ms-attestation-type",
    "x-ms-compliance-status",
    "x-ms-policy-hash",
    "nonce",
    "x-ms-runtime",
    "x-ms-sevsnpvm-hostdata",
    "x-ms-sevsnpvm-reportdata",
    "x-ms-sevsnpvm-launchmeasurement",
    "x-ms-sevsnpvm-is-debuggable",
    "x-ms-sevsnpvm-vmpl",
    "x-ms-sevsnpvm-guestsvn",
    "x-ms-sevsnpvm-bootloader-svn",
    "x-ms-sevsnpvm-tee-svn",
    "x-ms-sevsnpvm-snpfw-svn",
    "x-ms-sevsnpvm-microcode-svn",
    "x-ms-sevsnpvm-familyId",
    "x-ms-sevsnpvm-imageId",
    "x-ms-sevsnpvm-idkeydigest",
    "x-ms-sevsnpvm-authorkeydigest",
    "x-ms-sevsnpvm-reportid",
    "x-ms-sevsnpvm-migration-allowed",
    "x-ms-sevsnpvm-smt-allowed",
    "x-demo-emulated",
    "x-demo-emulated-root",
};

static void openid(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *o = json_object_new_object(), *algs = json_object_new_array(),
	                   *claims = json_object_new_array();
	jsonx_add_str(o, "issuer", maa.issuer.url);
	jsonx_add_str(o, "jwks_uri", maa.jku);
	json_object_array_add(algs, json_object_new_string("RS256"));
	jsonx_add(o, "id_token_signing_alg_values_supported", algs);
	for (size_t i = 0; i < NELEM(claim_names); i++)
		json_object_array_add(claims, json_object_new_string(claim_names[i]));
	jsonx_add(o, "claims_supported", claims);
	http_send_json(rs, 200, o);
}

/* 1 if the raw query string has a non-empty api-version parameter. */
static int has_api_version(const char *q)
{
	static const char key[] = "api-version=";
	for (const char *p = q; p && *p;) {
		size_t n = strcspn(p, "&");
		if (n > sizeof(key) - 1 && !strncmp(p, key, sizeof(key) - 1))
			return 1;
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* Decode a b64url member (padded or raw) of o; -1 with a message when absent or bad. */
static int b64url_member(struct json_object *o, const char *key, const char *where,
                         unsigned char **out, size_t *n, char *msg, size_t msgsz)
{
	const char *s = jsonx_str(o, key);
	*out = NULL;
	if (!s) {
		snprintf(msg, msgsz, "%s%s is missing or not a string", where, key);
		return -1;
	}
	if (b64_decode(s, strlen(s), B64_URL, B64_PAD_ANY, out, n) != 0) {
		snprintf(msg, msgsz, "%s%s is not base64url", where, key);
		return -1;
	}
	return 0;
}

static char *hex(const void *p, size_t n)
{
	return hex_encode(p, n);
}

static void add_hex(struct json_object *o, const char *key, const void *p, size_t n)
{
	char *h = hex(p, n);
	jsonx_add_str(o, key, h);
	free(h);
}

/* Everything the request carries, decoded; owned buffers. */
struct evidence_in {
	unsigned char *report;
	size_t report_len;
	unsigned char *chain;
	size_t chain_len;
	unsigned char *runtime;
	size_t runtime_len;
	struct json_object *runtime_json; /* when dataType is JSON */
	unsigned char *inittime;
	size_t inittime_len;
	int has_endorsements;
	char *nonce; /* the request's nonce as text, echoed in the "nonce" claim; or NULL */
};

static void evidence_free(struct evidence_in *ev)
{
	free(ev->report);
	free(ev->chain);
	free(ev->runtime);
	free(ev->inittime);
	free(ev->nonce);
	json_object_put(ev->runtime_json);
	memset(ev, 0, sizeof(*ev));
}

/* Decode the body into ev; -1 with msg on any malformed part. */
static int decode_body(struct json_object *body, struct evidence_in *ev, char *msg, size_t msgsz)
{
	unsigned char *inner_raw = NULL;
	size_t inner_len = 0;
	struct json_object *inner = NULL;
	struct err e = {0};
	int rc = -1;
	if (b64url_member(body, "report", "", &inner_raw, &inner_len, msg, msgsz) != 0)
		goto done;
	if (jsonx_parse((const char *)inner_raw, inner_len, &inner, &e) != 0 ||
	    !json_object_is_type(inner, json_type_object)) {
		snprintf(msg, msgsz, "report does not decode to a JSON object%s%s",
		         e.code ? ": " : "", e.code ? e.msg : "");
		goto done;
	}
	if (b64url_member(inner, "SnpReport", "report.", &ev->report, &ev->report_len, msg,
	                  msgsz) != 0 ||
	    b64url_member(inner, "VcekCertChain", "report.", &ev->chain, &ev->chain_len, msg,
	                  msgsz) != 0)
		goto done;
	if (json_object_object_get_ex(inner, "Endorsements", NULL)) {
		unsigned char *en = NULL;
		size_t en_len = 0;
		if (b64url_member(inner, "Endorsements", "report.", &en, &en_len, msg, msgsz) != 0)
			goto done;
		free(en);
		ev->has_endorsements = 1;
	}

	struct json_object *rt = jsonx_obj(body, "runtimeData");
	if (!rt) {
		snprintf(msg, msgsz, "runtimeData is missing or not an object");
		goto done;
	}
	if (b64url_member(rt, "data", "runtimeData.", &ev->runtime, &ev->runtime_len, msg, msgsz) !=
	    0)
		goto done;
	const char *dt = jsonx_str(rt, "dataType");
	if (!dt || (strcasecmp(dt, "JSON") && strcasecmp(dt, "Binary"))) {
		snprintf(msg, msgsz, "runtimeData.dataType must be \"JSON\" or \"Binary\"");
		goto done;
	}
	if (!strcasecmp(dt, "JSON") &&
	    (jsonx_parse((const char *)ev->runtime, ev->runtime_len, &ev->runtime_json, &e) != 0 ||
	     !json_object_is_type(ev->runtime_json, json_type_object))) {
		snprintf(msg, msgsz, "runtimeData.dataType is JSON but data is not a JSON object");
		goto done;
	}

	struct json_object *it;
	if (json_object_object_get_ex(body, "initTimeData", &it) &&
	    !json_object_is_type(it, json_type_null)) {
		const char *d = jsonx_str(it, "data");
		if (!json_object_is_type(it, json_type_object) || !d) {
			snprintf(msg, msgsz, "initTimeData must be an object with a data string");
			goto done;
		}
		if (*d && b64url_member(it, "data", "initTimeData.", &ev->inittime,
		                        &ev->inittime_len, msg, msgsz) != 0)
			goto done;
	}
	/* The REST spec types nonce as a string; the SKR sidecar sends a JSON number (a
	 * random u64).  The service takes both and echoes the text in the token. */
	struct json_object *nonce;
	if (json_object_object_get_ex(body, "nonce", &nonce) &&
	    !json_object_is_type(nonce, json_type_null)) {
		int is_num = json_object_is_type(nonce, json_type_int) ||
		             json_object_is_type(nonce, json_type_double);
		if (!is_num && !json_object_is_type(nonce, json_type_string)) {
			snprintf(msg, msgsz, "nonce must be a string or a number");
			goto done;
		}
		/* json-c saturates integers past 64 bits: refuse rather than echo another value. */
		if (json_object_is_type(nonce, json_type_int) &&
		    (json_object_get_uint64(nonce) == UINT64_MAX ||
		     json_object_get_int64(nonce) == INT64_MIN)) {
			snprintf(msg, msgsz,
			         "nonce is a number outside the 64-bit range: send it as a string");
			goto done;
		}
		const char *text = json_object_get_string(nonce);
		if (strlen(text) > NONCE_MAX) {
			snprintf(msg, msgsz, "nonce is longer than %d characters", NONCE_MAX);
			goto done;
		}
		ev->nonce = xstrdup(text);
	}
	rc = 0;
done:
	json_object_put(inner);
	free(inner_raw);
	return rc;
}

static int body_is_json(const char *ctype)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;
	return !strncasecmp(ctype, want, n) && (ctype[n] == '\0' || ctype[n] == ';');
}

static struct json_object *make_claims(const struct snp_report *r, struct json_object *checks,
                                       struct json_object *runtime_json, const char *nonce,
                                       long long now)
{
	struct json_object *c = json_object_new_object();
	unsigned char jti[32];
	if (RAND_bytes(jti, sizeof(jti)) != 1) {
		json_object_put(c);
		return NULL;
	}
	const char *product = jsonx_str(checks, "product");
	struct snp_tcb tcb;
	snp_tcb_decode(r->reported_tcb,
	               product && !strcmp(product, "Turin") ? SNP_TCB_TURIN : SNP_TCB_MILAN, &tcb);
	struct json_object *er;
	int emulated_root =
	    !json_object_object_get_ex(checks, "emulated_root", &er) || json_object_get_boolean(er);

	jsonx_add_str(c, "iss", maa.issuer.url);
	jsonx_add_int(c, "iat", now);
	jsonx_add_int(c, "nbf", now);
	jsonx_add_int(c, "exp", now + (long long)maa.lifetime);
	add_hex(c, "jti", jti, sizeof(jti));
	jsonx_add_str(c, "x-ms-ver", "1.0");
	jsonx_add_str(c, "x-ms-attestation-type", "sevsnpvm");
	jsonx_add_str(c, "x-ms-compliance-status", "azure-compliant-uvm");
	jsonx_add_str(c, "x-ms-policy-hash", maa.policy_hash);
	if (nonce)
		jsonx_add_str(c, "nonce", nonce);
	if (runtime_json)
		jsonx_add(c, "x-ms-runtime", json_object_get(runtime_json));
	add_hex(c, "x-ms-sevsnpvm-hostdata", r->host_data, sizeof(r->host_data));
	add_hex(c, "x-ms-sevsnpvm-reportdata", r->report_data, sizeof(r->report_data));
	add_hex(c, "x-ms-sevsnpvm-launchmeasurement", r->measurement, sizeof(r->measurement));
	jsonx_add_bool(c, "x-ms-sevsnpvm-is-debuggable", !!(r->policy & SNP_POLICY_DEBUG));
	jsonx_add_int(c, "x-ms-sevsnpvm-vmpl", r->vmpl);
	jsonx_add_int(c, "x-ms-sevsnpvm-guestsvn", r->guest_svn);
	jsonx_add_int(c, "x-ms-sevsnpvm-bootloader-svn", tcb.bootloader);
	jsonx_add_int(c, "x-ms-sevsnpvm-tee-svn", tcb.tee);
	jsonx_add_int(c, "x-ms-sevsnpvm-snpfw-svn", tcb.snp);
	jsonx_add_int(c, "x-ms-sevsnpvm-microcode-svn", tcb.microcode);
	add_hex(c, "x-ms-sevsnpvm-familyId", r->family_id, sizeof(r->family_id));
	add_hex(c, "x-ms-sevsnpvm-imageId", r->image_id, sizeof(r->image_id));
	add_hex(c, "x-ms-sevsnpvm-idkeydigest", r->id_key_digest, sizeof(r->id_key_digest));
	add_hex(c, "x-ms-sevsnpvm-authorkeydigest", r->author_key_digest,
	        sizeof(r->author_key_digest));
	add_hex(c, "x-ms-sevsnpvm-reportid", r->report_id, sizeof(r->report_id));
	jsonx_add_bool(c, "x-ms-sevsnpvm-migration-allowed", !!(r->policy & SNP_POLICY_MIGRATE_MA));
	jsonx_add_bool(c, "x-ms-sevsnpvm-smt-allowed", !!(r->policy & SNP_POLICY_SMT));
	jsonx_add_bool(c, "x-demo-emulated", 1);
	jsonx_add_bool(c, "x-demo-emulated-root", emulated_root);
	return c;
}

static void attest(struct http_req *rq, struct http_resp *rs)
{
	char msg[600];
	struct json_object *body = NULL, *checks = NULL, *claims = NULL;
	struct evidence_in ev = {0};
	struct err e = {0};
	char *pem = NULL, *tcbm = NULL, *tok = NULL;

	if (!has_api_version(rq->query)) {
		maa_error(rq, rs, 400, "InvalidParameter",
		          "the api-version query parameter is required");
		return;
	}
	if (!body_is_json(rq->content_type)) {
		maa_error(rq, rs, 415, "UnsupportedMediaType",
		          "Content-Type must be application/json");
		return;
	}
	if (jsonx_parse((const char *)rq->body, rq->body_len, &body, &e) != 0 ||
	    !json_object_is_type(body, json_type_object)) {
		snprintf(msg, sizeof(msg), "request body is not a JSON object%s%s",
		         e.code ? ": " : "", e.code ? e.msg : "");
		maa_error(rq, rs, 400, "InvalidParameter", msg);
		goto done;
	}
	if (decode_body(body, &ev, msg, sizeof(msg)) != 0) {
		maa_error(rq, rs, 400, "InvalidParameter", msg);
		goto done;
	}
	struct snp_report r;
	if (snp_report_parse(ev.report, ev.report_len, &r, &e) != 0) {
		snprintf(msg, sizeof(msg), "report.SnpReport: %s", e.msg);
		maa_error(rq, rs, 400, "InvalidParameter", msg);
		goto done;
	}
	if (snp_chain_load_cached((const char *)ev.chain, ev.chain_len, &pem, &tcbm, &e) != 0) {
		snprintf(msg, sizeof(msg), "report.VcekCertChain: %s", e.msg);
		maa_error(rq, rs, 400, "InvalidParameter", msg);
		goto done;
	}
	if (snp_verify_cached(ev.report, pem, maa.roots, &checks, &e) != 0) {
		maa_error(rq, rs, 400, "AttestationFailure", e.msg);
		goto done;
	}

	/* The report must bind the runtime data: sha256(runtime) || 32 zero bytes. */
	unsigned char md[SHA256_DIGEST_LENGTH], zero[32] = {0};
	SHA256(ev.runtime, ev.runtime_len, md);
	if (memcmp(r.report_data, md, sizeof(md)) || memcmp(r.report_data + 32, zero, 32)) {
		char *want = hex(md, sizeof(md)), *got = hex(r.report_data, sizeof(r.report_data));
		snprintf(msg, sizeof(msg),
		         "report_data %s is not sha256(runtimeData) %s followed by 32 zero bytes",
		         got, want);
		free(want);
		free(got);
		maa_error(rq, rs, 400, "AttestationFailure", msg);
		goto done;
	}
	if (ev.inittime) {
		SHA256(ev.inittime, ev.inittime_len, md);
		if (memcmp(r.host_data, md, sizeof(md))) {
			maa_error(rq, rs, 400, "AttestationFailure",
			          "host_data is not sha256(initTimeData)");
			goto done;
		}
	}

	long long now = now_unix();
	if (!(claims = make_claims(&r, checks, ev.runtime_json, ev.nonce, now)) ||
	    !(tok = jwt_sign_rs256(maa.key, maa.kid, maa.jku, claims))) {
		maa_error(rq, rs, 500, "InternalError", "could not issue the token");
		goto done;
	}
	char *mhex = hex(r.measurement, sizeof(r.measurement));
	char *hhex = hex(r.host_data, sizeof(r.host_data));
	log_info("attested for %s: product=%s emulated_root=%s measurement=%.16s... "
	         "hostdata=%.16s... endorsements=%s jti=%s",
	         *rq->remote_addr ? rq->remote_addr : "?",
	         jsonx_str(checks, "product") ? jsonx_str(checks, "product") : "?",
	         json_object_get_boolean(json_object_object_get(claims, "x-demo-emulated-root"))
	             ? "yes"
	             : "no",
	         mhex, hhex, ev.has_endorsements ? "yes" : "no", jsonx_str(claims, "jti"));
	free(mhex);
	free(hhex);
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "token", tok);
	http_send_json(rs, 200, o);
done:
	free(tok);
	free(pem);
	free(tcbm);
	json_object_put(claims);
	json_object_put(checks);
	json_object_put(body);
	evidence_free(&ev);
}

static const struct http_route routes[] = {
    {"POST", "/attest/SevSnpVm", 0, attest},
    {"POST", "/attest/SevSnpVM", 0, attest},
    {"GET", "/certs", 0, certs},
    {"GET", "/.well-known/openid-configuration", 0, openid},
};

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "init"))
		return init_dir(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: maa init DIR      create the token signing key in DIR\n"
		                "       maa               serve (FastCGI or CGI; configured by "
		                "MAA_ISSUER, MAA_KEY_DIR, ...)\n");
		return 2;
	}
	load_config();
	return http_main("maa", routes, NELEM(routes));
}
