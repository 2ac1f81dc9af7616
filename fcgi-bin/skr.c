/*
 * skr: /skr/release /skr/release-other /skr/config /skr/key-status
 *      /skr/policy-check /encrypt /decrypt
 *
 * Fields follow the original multi-party demo (PROTOCOLS.md §7); fields are
 * added, never renamed.  Differences, all from §9:
 *   - /skr/release answers the key's PUBLIC facts (name, kid, kty, size,
 *     thumbprint, key_ops) and the claims that satisfied the policy; the
 *     private key stays in this instance's custody (lib/custody) and is never
 *     sent, logged or put in an error message.
 *   - The vault, key and attestation service come from the configuration; a
 *     body naming other values gets a 400 and releases nothing.
 *   - /skr/release-other discards a key it unexpectedly obtained.
 *   - /encrypt takes any length up to the real limit (envelope encryption past
 *     the RSA-OAEP block size); /decrypt answers 400, not 500, for tampered or
 *     foreign ciphertext.
 *   - /skr/policy-check (new) evaluates a configured key's release policy
 *     against a fresh attestation token without releasing anything.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "custody.h"
#include "evidence.h"
#include "http.h"
#include "jsonx.h"
#include "keyrelease.h"
#include "log.h"
#include "sidecar.h"

#define ENDPOINT_MAX 256
#define NO_KEY_MSG   "No key released: POST /skr/release first"
#define NO_KEY_HINT                                                                                \
	"Press \"Test Secure Key Release\" (POST /skr/release); the key is released "              \
	"only to an instance whose attestation satisfies the key's release policy."
#define KEEP_NOTE                                                                                  \
	"The private key stays inside this attested instance: responses carry only "               \
	"its public facts."
#define ERROR_DETAIL_MAX 1000

static const struct field_spec release_fields[] = {
    {"maa_endpoint", FIELD_STRING, 0, ENDPOINT_MAX, 1},
    {"akv_endpoint", FIELD_STRING, 0, ENDPOINT_MAX, 1},
    {"kid", FIELD_STRING, 0, ENDPOINT_MAX, 1},
};
static const struct field_spec encrypt_fields[] = {
    {"plaintext", FIELD_STRING, 1, 0, 0},
};
static const struct field_spec decrypt_fields[] = {
    {"ciphertext", FIELD_STRING, 1, 0, 0},
};
static const struct field_spec policy_fields[] = {
    {"key", FIELD_STRING, 0, 16, 0},
};

/* ------------------------------------------------------------- helpers */

static char *title_case(const char *s)
{
	char *t = xstrdup(s ? s : "");
	if (*t)
		t[0] = (char)toupper((unsigned char)t[0]);
	return t;
}

static const char *host_or(const struct endpoint *ep, const char *dflt)
{
	return ep->set ? ep->host : dflt;
}

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
	return utf8_invalid_at(s, n) == n;
}

/* Bytes of UTF-8 text s to quote in at most max bytes without splitting a character. */
static int quote_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		n = max;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return (int)n;
}

/* A request may name an endpoint only if it is the configured one. */
static int check_endpoint_choice(struct json_object *body, const char *field, const char *var,
                                 const struct endpoint *configured, struct err *e)
{
	const char *req = jsonx_str(body, field);
	if (!req || !*req)
		return 0;
	struct endpoint ep;
	if (config_parse_endpoint(field, req, &ep, e) < 0)
		return -1;
	int same = ep.set && configured->set && !strcmp(ep.url, configured->url);
	endpoint_free(&ep);
	if (!same)
		return err_set(
		    e, ERR_BAD_REQUEST,
		    "%s '%.*s' is not this server's (%s); the server's configuration (%s) "
		    "decides",
		    field, quote_len(req, 100), req, host_or(configured, "(not configured)"), var);
	return 0;
}

static int check_release_choices(struct json_object *body, struct err *e)
{
	if (check_endpoint_choice(body, "maa_endpoint", "SKR_MAA_ENDPOINT", &cfg.maa, e) < 0 ||
	    check_endpoint_choice(body, "akv_endpoint", "SKR_AKV_ENDPOINT", &cfg.akv, e) < 0)
		return -1;
	const char *kid = jsonx_str(body, "kid");
	if (kid && *kid && strcmp(kid, cfg.key_name))
		return err_set(
		    e, ERR_BAD_REQUEST,
		    "kid '%.*s' is not this server's key (%s); the server's configuration "
		    "(SKR_KEY_NAME) decides",
		    quote_len(kid, 100), kid, *cfg.key_name ? cfg.key_name : "(not configured)");
	return 0;
}

static int configured(void)
{
	return cfg.maa.set && cfg.akv.set && *cfg.key_name;
}

/* Key release without its variables is the server's misconfiguration, not a bad request:
 * 500 naming each missing variable and where to set it. */
static void send_not_configured(struct http_resp *rs)
{
	static const char *const names[] = {"SKR_MAA_ENDPOINT", "SKR_AKV_ENDPOINT", "SKR_KEY_NAME"};
	const int unset[] = {!cfg.maa.set, !cfg.akv.set, !*cfg.key_name};
	struct json_object *x = json_object_new_object(), *missing = json_object_new_array();
	struct buf list;
	buf_init(&list);
	int n = 0;
	for (size_t i = 0; i < NELEM(names); i++)
		if (unset[i]) {
			n++;
			buf_appendf(&list, "%s%s", list.len ? ", " : "", names[i]);
			json_object_array_add(missing, json_object_new_string(names[i]));
		}
	jsonx_add(x, "missing", missing);
	jsonx_add_str(x, "note", "Set SKR_MAA_ENDPOINT, SKR_AKV_ENDPOINT and SKR_KEY_NAME.");
	jsonx_add_str(x, "maa_endpoint", host_or(&cfg.maa, "(not configured)"));
	jsonx_add_str(x, "akv_endpoint", host_or(&cfg.akv, "(not configured)"));
	jsonx_add_str(x, "key_name", cfg.key_name);
	char *msg = xasprintf("Secure key release is not configured: %s %s not set in the skr "
	                      "program's environment; set %s where the web server passes the "
	                      "environment to the program (README: Drop into your own server)",
	                      (char *)list.p, n > 1 ? "are" : "is", n > 1 ? "them" : "it");
	buf_free(&list);
	http_send_error(rs, 500, msg, x);
	free(msg);
}

/* The public facts the page shows as "key". */
static struct json_object *public_key_facts(struct json_object *facts)
{
	static const char *const keep[] = {"name", "kid", "kty", "size", "thumbprint", "key_ops"};
	struct json_object *k = json_object_new_object();
	for (size_t i = 0; i < NELEM(keep); i++) {
		struct json_object *v = NULL;
		if (json_object_object_get_ex(facts, keep[i], &v))
			jsonx_add(k, keep[i], json_object_get(v));
	}
	return k;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get(v);
}

/* ----------------------------------------------------- failure envelope */

static const char *failure_reason(const char *stage, const struct err *e)
{
	if (!strcmp(stage, "attestation"))
		return attest_failure_reason(e);
	if (!strcmp(stage, "identity"))
		return "The managed identity token could not be obtained";
	if (!strcmp(stage, "verification"))
		return "The key vault's signed release answer failed verification";
	if (!strcmp(stage, "unwrap"))
		return "The released key could not be unwrapped";
	if (!strcmp(stage, "configuration"))
		return "Secure key release is not configured";
	switch (e->code) {
	case ERR_UNAUTHORIZED:
		return "The key vault did not accept the identity or attestation token";
	case ERR_FORBIDDEN:
		return "The key vault refused the release: its access policy or the key's "
		       "release policy is not satisfied";
	case ERR_NOT_FOUND:
		return "The key does not exist in the key vault";
	case ERR_UNAVAILABLE:
		return "The key vault (or SKR sidecar) is not reachable";
	case ERR_TIMEOUT:
		return "The key vault (or SKR sidecar) did not answer in time";
	default:
		return "The key vault answered something unusable";
	}
}

static struct json_object *diagnosis(const char *stage, const struct err *e, enum attest_via via,
                                     const char *vault, const char *key)
{
	struct json_object *d;
	const char *cause, *expl, *sol;
	char *cmd = NULL;
	if (!strcmp(stage, "attestation")) {
		d = attest_diagnosis(e, via);
		jsonx_add_str(
		    d, "explanation",
		    "A key is released only against an attestation token that proves this "
		    "container runs in an AMD SEV-SNP TEE; no token could be obtained.");
		return d;
	}
	d = json_object_new_object();
	if (!strcmp(stage, "identity")) {
		cause = "This instance has no usable managed identity, or the identity endpoint "
		        "(IMDS) refused it.";
		expl = "Key Vault needs an access token of an identity holding the `release` key "
		       "permission, in addition to the attestation token.";
		sol =
		    "Assign the user-assigned identity to the container group (identityResourceId) "
		    "and set AZURE_CLIENT_ID if there is more than one.";
		cmd = xstrdup("az container show -g <rg> -n <name> --query identity");
	} else if (e->code == ERR_FORBIDDEN) {
		cause = "The vault refused the release; its message names the unmet condition.";
		expl = "A release needs both: the caller's identity holds `release` on the key "
		       "(access "
		       "policy), and the attestation token satisfies every condition of the key's "
		       "release policy (authority, attestation type, host data, debuggability...).";
		sol =
		    "If the message names a policy claim, this container's TEE measurement differs "
		    "from what the policy pins (expected for another company or a non-confidential "
		    "container); if it names permissions, grant `get release` to the identity.";
		cmd = xasprintf("az keyvault key show --vault-name <vault> --name %s --query "
		                "release_policy  # vault %s",
		                key, vault);
	} else if (e->code == ERR_UNAUTHORIZED) {
		cause = "The vault rejected the bearer token or the attestation token (signature, "
		        "issuer or validity).";
		expl =
		    "The identity token must be for the vault's resource and the attestation token "
		    "must come from an authority the vault trusts.";
		sol = "Check the identity and that SKR_MAA_ENDPOINT is the authority the release "
		      "policy names.";
		cmd = xasprintf(
		    "az keyvault show --name <vault> --query properties.accessPolicies  # %s",
		    vault);
	} else if (e->code == ERR_NOT_FOUND) {
		cause = "The key named by SKR_KEY_NAME does not exist in SKR_AKV_ENDPOINT.";
		expl = "Keys are created exportable with a release policy at deployment.";
		sol = "Create the key or correct SKR_KEY_NAME / SKR_AKV_ENDPOINT.";
		cmd = xasprintf("az keyvault key list --vault-name <vault>  # %s", vault);
	} else if (!strcmp(stage, "verification") || !strcmp(stage, "unwrap")) {
		cause = "The vault's answer did not pass this instance's checks.";
		expl =
		    "The release answer must be signed by the vault's certificate (Azure roots and "
		    "the vault's host name; for the local vault, AKV_TRUST_CERT) and must unwrap "
		    "with this release's ephemeral key.";
		sol = "Make sure SKR_AKV_ENDPOINT points at the real vault.";
		cmd = xasprintf("curl -sv %s/healthstatus", cfg.akv.set ? cfg.akv.url : vault);
	} else {
		cause = "The key vault or the SKR sidecar could not be used.";
		expl = "The release call did not complete.";
		sol = "Check network egress to the vault (and the sidecar, if used) and retry.";
		cmd = xasprintf("curl -s -o /dev/null -w '%%{http_code}' %s/",
		                cfg.akv.set ? cfg.akv.url : vault);
	}
	jsonx_add_str(d, "likely_cause", cause);
	jsonx_add_str(d, "explanation", expl);
	jsonx_add_str(d, "solution", sol);
	jsonx_add_str(d, "command", cmd);
	free(cmd);
	return d;
}

static void send_release_failure(struct http_resp *rs, const struct err *e,
                                 struct json_object *facts)
{
	const char *stage = jsonx_str(facts, "stage");
	if (!stage)
		stage = "release";
	enum attest_via via = attest_choose();
	struct json_object *x = json_object_new_object();
	/* An unreachable sidecar is the sign of no TEE at all: diagnose it as attestation. */
	int no_tee = via == ATTEST_SIDECAR && e->code == ERR_UNAVAILABLE && !e->upstream_status;
	if (no_tee)
		stage = "attestation";
	jsonx_add_str(x, "failure_reason",
	              no_tee
	                  ? "No TEE: neither an AMD SEV-SNP device nor the SKR sidecar is available"
	                  : failure_reason(stage, e));
	jsonx_add_str(x, "stage", stage);
	if (via == ATTEST_SIDECAR && e->upstream_status) {
		jsonx_add_str(x, "sidecar_response", e->msg);
		jsonx_add_int(x, "sidecar_status_code", e->upstream_status);
	} else if (e->upstream_status) {
		jsonx_add_int(x, "vault_status", e->upstream_status);
	}
	jsonx_add_str(x, "maa_endpoint", cfg.maa.host);
	jsonx_add_str(x, "akv_endpoint", host_or(&cfg.akv, "(not configured)"));
	jsonx_add_str(x, "key_name", cfg.key_name);
	jsonx_add_str(x, "attestation_backend", attest_via_name(via));
	jsonx_add(x, "diagnosis",
	          diagnosis(stage, e, via, host_or(&cfg.akv, "<vault>"), cfg.key_name));
	jsonx_add_str(
	    x, "note",
	    "Secure key release succeeds only in a confidential container whose attestation "
	    "satisfies the key's release policy and whose identity may release the key.");
	jsonx_add(x, "timing_ms", member(facts, "timing"));
	jsonx_add(x, "logs", attest_logs());
	jsonx_add_str(x, "error_code", err_code_name(e->code));
	http_send_error(rs, err_http_status(e->code), e->msg, x);
}

/* ------------------------------------------------------------ handlers */

static void release(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	struct json_object *body = NULL;
	if (http_body_json(rq, &body, &e) < 0 ||
	    http_validate(body, release_fields, NELEM(release_fields), &e) < 0 ||
	    check_release_choices(body, &e) < 0) {
		json_object_put(body);
		http_send_err(rs, &e, NULL);
		return;
	}
	json_object_put(body);
	if (!configured()) {
		send_not_configured(rs);
		return;
	}
	EVP_PKEY *key = NULL;
	struct json_object *facts = NULL;
	if (keyrelease_release(&cfg.akv, cfg.key_name, &key, &facts, &e) < 0) {
		send_release_failure(rs, &e, facts);
		json_object_put(facts);
		return;
	}
	if (custody_store(key, facts, &e) < 0) {
		EVP_PKEY_free(key);
		json_object_put(facts);
		log_error("keeping the released key failed: %s", e.msg);
		http_send_err(rs, &e, NULL);
		return;
	}
	size_t max_env = crypto_envelope_max(key), max_oaep = crypto_oaep_max(key);
	EVP_PKEY_free(key);

	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	char *msg = xasprintf("Key '%s' released to this attested instance and kept inside it",
	                      cfg.key_name);
	jsonx_add_str(o, "message", msg);
	free(msg);
	jsonx_add(o, "key", public_key_facts(facts));
	jsonx_add_str(o, "maa_endpoint", cfg.maa.host);
	jsonx_add_str(o, "akv_endpoint", cfg.akv.host);
	jsonx_add_str(o, "key_name", cfg.key_name);
	jsonx_add_str(o, "note", KEEP_NOTE);
	jsonx_add_bool(o, "encryption_enabled", 1);
	jsonx_add(o, "claims", member(facts, "claims"));
	jsonx_add(o, "timing_ms", member(facts, "timing"));
	jsonx_add_int(o, "max_plaintext", (long long)max_env);
	jsonx_add_int(o, "max_plaintext_oaep", (long long)max_oaep);
	jsonx_add(o, "backend", member(facts, "backend"));
	jsonx_add(o, "evidence_source", member(facts, "evidence_source"));
	jsonx_add(o, "enc", member(facts, "enc"));
	jsonx_add(o, "release_policy", member(facts, "release_policy"));
	json_object_put(facts);
	http_send_json(rs, 200, o);
}

static void release_other(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	char *ours = title_case(cfg.company), *theirs = title_case(cfg.other_company);
	if (!cfg.other_akv.set || !*cfg.other_key_name) {
		struct json_object *x = json_object_new_object();
		jsonx_add_str(x, "our_key_name", cfg.key_name);
		http_send_error(
		    rs, 400, "No other company is configured (OTHER_KEY_NAME, OTHER_AKV_ENDPOINT)",
		    x);
		free(ours);
		free(theirs);
		return;
	}
	struct err e;
	err_clear(&e);
	EVP_PKEY *key = NULL;
	struct json_object *facts = NULL, *o = json_object_new_object();
	int rc = keyrelease_release(&cfg.other_akv, cfg.other_key_name, &key, &facts, &e);
	if (rc == 0) {
		/* Never kept, never used: the release itself is the finding. */
		EVP_PKEY_free(key);
		log_error("SECURITY: key %s of %s was released to %s", cfg.other_key_name,
		          cfg.other_company, cfg.company);
		jsonx_add_str(o, "status", "unexpected_success");
		char *m =
		    xasprintf("%s obtained %s's key '%s': the isolation between companies failed",
		              ours, theirs, cfg.other_key_name);
		jsonx_add_str(o, "message", m);
		free(m);
		jsonx_add_str(o, "our_company", ours);
		jsonx_add_str(o, "other_company", theirs);
		jsonx_add_str(o, "other_key_name", cfg.other_key_name);
		jsonx_add_str(o, "attempted_key", cfg.other_key_name);
		jsonx_add_str(o, "attempted_keyvault", cfg.other_akv.host);
		jsonx_add_str(o, "attempted_akv", cfg.other_akv.host);
		jsonx_add_str(
		    o, "security_warning",
		    "The other company's vault released its key to this instance. Its "
		    "release policy or access policy is too weak (PROTOCOLS.md §9). The key "
		    "was discarded without being stored or used.");
		http_send_json(rs, 200, o);
	} else if (e.code == ERR_UNAVAILABLE || e.code == ERR_TIMEOUT) {
		json_object_put(o);
		struct json_object *x = json_object_new_object();
		jsonx_add_str(x, "hint",
		              "A service on the release path (attestation, identity or the other "
		              "vault) could not be reached; retry, or check the logs.");
		jsonx_add(x, "stage", member(facts, "stage"));
		jsonx_add_str(x, "error_detail", e.msg);
		http_send_error(rs, err_http_status(e.code), e.msg, x);
	} else {
		const char *stage = jsonx_str(facts, "stage");
		int status = e.upstream_status ? e.upstream_status : err_http_status(e.code);
		jsonx_add_str(o, "status", "access_denied");
		char *m = xasprintf("Access denied: %s cannot release %s's key '%s'", ours, theirs,
		                    cfg.other_key_name);
		jsonx_add_str(o, "message", m);
		free(m);
		jsonx_add_str(o, "our_company", ours);
		jsonx_add_str(o, "other_company", theirs);
		jsonx_add_str(o, "attempted_key", cfg.other_key_name);
		jsonx_add_str(o, "attempted_keyvault", cfg.other_akv.host);
		jsonx_add_str(o, "attempted_akv", cfg.other_akv.host);
		jsonx_add_int(o, "http_status", status);
		char *detail = xstrndup(e.msg, ERROR_DETAIL_MAX);
		jsonx_add_str(o, "error_detail", detail);
		jsonx_add_str(o, "error", detail);
		free(detail);
		jsonx_add_str(o, "stage", stage);
		jsonx_add_str(o, "explanation",
		              stage && !strcmp(stage, "release")
		                  ? "The other company's vault refused: this instance's identity "
		                    "lacks permission on that key, or its attestation does not "
		                    "satisfy that key's release policy (which pins the other "
		                    "company's TEE measurement). This is the expected result."
		                  : "The release did not reach the other company's vault: this "
		                    "instance could not complete the attestation or identity step, "
		                    "so nothing was released. This is the expected result.");
		http_send_json(rs, 200, o);
	}
	json_object_put(facts);
	free(ours);
	free(theirs);
}

static int is_confidential(void)
{
	if (evidence_source())
		return 1;
	if (cfg.backend == BACKEND_NATIVE)
		return 0;
	long st = 0;
	char *body = NULL;
	struct err e;
	int up = sidecar_status(&st, &body, &e) == 0 && st == 200;
	free(body);
	return up;
}

static void config_handler(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *o = json_object_new_object();
	const char *source = evidence_source();
	jsonx_add_str(o, "maa_endpoint", host_or(&cfg.maa, ""));
	jsonx_add_str(o, "akv_endpoint", host_or(&cfg.akv, ""));
	jsonx_add_str(o, "key_name", cfg.key_name);
	char *name = title_case(cfg.company);
	jsonx_add_str(o, "company_name", name);
	free(name);
	jsonx_add_bool(o, "is_confidential", is_confidential());
	jsonx_add_bool(o, "configured", configured());
	if (cfg.other_akv.set && *cfg.other_key_name) {
		struct json_object *oc = json_object_new_object();
		char *other = title_case(cfg.other_company);
		jsonx_add_str(oc, "name", other);
		free(other);
		jsonx_add_str(oc, "key_name", cfg.other_key_name);
		jsonx_add_str(oc, "akv_endpoint", cfg.other_akv.host);
		jsonx_add(o, "other_company", oc);
	} else {
		jsonx_add(o, "other_company", NULL);
	}
	jsonx_add_bool(o, "emulated",
	               (source && !strcmp(source, "virtual")) ||
	                   (cfg.maa.set && cfg.maa.loopback) || (cfg.akv.set && cfg.akv.loopback));
	http_send_json(rs, 200, o);
}

static void key_status(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	err_clear(&e);
	struct json_object *facts = NULL, *o = json_object_new_object();
	if (custody_facts(&facts, &e) < 0) {
		if (e.code != ERR_NOT_FOUND) {
			json_object_put(o);
			http_send_err(rs, &e, NULL);
			return;
		}
		jsonx_add_bool(o, "released", 0);
		jsonx_add_str(o, "message", "No key has been released yet");
		http_send_json(rs, 200, o);
		return;
	}
	jsonx_add_bool(o, "released", 1);
	jsonx_add(o, "key_type", member(facts, "kty"));
	jsonx_add(o, "key_id", member(facts, "kid"));
	jsonx_add(o, "key_name", member(facts, "name"));
	jsonx_add(o, "size", member(facts, "size"));
	jsonx_add(o, "thumbprint", member(facts, "thumbprint"));
	jsonx_add(o, "key_ops", member(facts, "key_ops"));
	json_object_put(facts);
	http_send_json(rs, 200, o);
}

/* The held key, or the original's 400 "no key" answer already sent (returns NULL). */
static EVP_PKEY *held_key(struct http_resp *rs, struct json_object **facts)
{
	EVP_PKEY *key = NULL;
	struct err e;
	err_clear(&e);
	if (custody_load(&key, facts, &e) == 0)
		return key;
	if (e.code == ERR_NOT_FOUND) {
		struct json_object *x = json_object_new_object();
		jsonx_add_str(x, "hint", NO_KEY_HINT);
		http_send_error(rs, 400, NO_KEY_MSG, x);
	} else {
		http_send_err(rs, &e, NULL);
	}
	return NULL;
}

/* The request's string field (validated) and its length; borrowed from body. */
static const char *field(struct json_object *body, const char *name, size_t *len)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(body, name, &v);
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static void wipe_put(struct json_object *body, const char *name)
{
	struct json_object *v = NULL;
	if (json_object_object_get_ex(body, name, &v) && json_object_is_type(v, json_type_string))
		wipe((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
	json_object_put(body);
}

static void encrypt_handler(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	struct json_object *body = NULL;
	if (http_body_json(rq, &body, &e) < 0 ||
	    http_validate(body, encrypt_fields, NELEM(encrypt_fields), &e) < 0) {
		wipe_put(body, "plaintext");
		http_send_err(rs, &e, NULL);
		return;
	}
	size_t n = 0;
	const char *pt = field(body, "plaintext", &n);
	if (!utf8_ok((const unsigned char *)pt, n)) {
		wipe_put(body, "plaintext");
		http_send_error(rs, 400, "plaintext is not valid UTF-8", NULL);
		return;
	}
	struct json_object *facts = NULL;
	EVP_PKEY *key = held_key(rs, &facts);
	if (!key) {
		wipe_put(body, "plaintext");
		return;
	}
	size_t max = crypto_envelope_max(key);
	if (n > max) {
		struct json_object *x = json_object_new_object();
		jsonx_add_int(x, "plaintext_length", (long long)n);
		jsonx_add_int(x, "max_length", (long long)max);
		jsonx_add_int(x, "max_length_oaep", (long long)crypto_oaep_max(key));
		char *m =
		    xasprintf("Plaintext too long: %zu bytes, the limit is %zu bytes", n, max);
		http_send_error(rs, 400, m, x);
		free(m);
	} else {
		char *ct = NULL;
		const char *alg = NULL;
		if (crypto_encrypt(key, (const uint8_t *)pt, n, &ct, &alg, &e) < 0) {
			http_send_err(rs, &e, NULL);
		} else {
			struct json_object *o = json_object_new_object();
			const char *kid = jsonx_str(facts, "kid");
			jsonx_add_str(o, "status", "success");
			jsonx_add_str(o, "ciphertext", ct);
			jsonx_add_str(o, "algorithm", alg);
			jsonx_add_str(o, "key_id", kid ? kid : "unknown");
			jsonx_add_int(o, "plaintext_length", (long long)n);
			jsonx_add_int(o, "ciphertext_length", (long long)strlen(ct));
			jsonx_add_int(o, "max_length", (long long)max);
			jsonx_add_int(o, "max_length_oaep", (long long)crypto_oaep_max(key));
			http_send_json(rs, 200, o);
			free(ct);
		}
	}
	EVP_PKEY_free(key);
	json_object_put(facts);
	wipe_put(body, "plaintext");
}

static void decrypt_handler(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	struct json_object *body = NULL;
	if (http_body_json(rq, &body, &e) < 0 ||
	    http_validate(body, decrypt_fields, NELEM(decrypt_fields), &e) < 0) {
		json_object_put(body);
		http_send_err(rs, &e, NULL);
		return;
	}
	size_t clen = 0;
	const char *ct = field(body, "ciphertext", &clen);
	EVP_PKEY *key = held_key(rs, NULL);
	if (!key) {
		json_object_put(body);
		return;
	}
	uint8_t *pt = NULL;
	size_t n = 0;
	const char *alg = NULL;
	if (crypto_decrypt(key, ct, &pt, &n, &alg, &e) < 0) {
		http_send_err(rs, &e, NULL);
	} else if (!utf8_ok(pt, n)) {
		http_send_error(rs, 422, "the decrypted data is not UTF-8 text", NULL);
	} else {
		struct json_object *o = json_object_new_object();
		jsonx_add_str(o, "status", "success");
		jsonx_add(o, "plaintext", json_object_new_string_len((const char *)pt, (int)n));
		jsonx_add_str(o, "algorithm", alg);
		jsonx_add_int(o, "ciphertext_length", (long long)clen);
		jsonx_add_int(o, "plaintext_length", (long long)n);
		http_send_json(rs, 200, o);
	}
	if (pt) {
		wipe(pt, n);
		free(pt);
	}
	EVP_PKEY_free(key);
	json_object_put(body);
}

static void policy_check(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	struct json_object *body = NULL;
	if (http_body_json(rq, &body, &e) < 0 ||
	    http_validate(body, policy_fields, NELEM(policy_fields), &e) < 0) {
		json_object_put(body);
		http_send_err(rs, &e, NULL);
		return;
	}
	const char *which = jsonx_str(body, "key");
	int other = which && !strcmp(which, "other");
	if (which && !other && strcmp(which, "own")) {
		json_object_put(body);
		http_send_error(rs, 400,
		                "key must be \"own\" or \"other\": the configuration decides "
		                "which vault and key each means",
		                NULL);
		return;
	}
	json_object_put(body);
	const struct endpoint *ep = other ? &cfg.other_akv : &cfg.akv;
	const char *name = other ? cfg.other_key_name : cfg.key_name;
	if (!other && !configured()) {
		send_not_configured(rs);
		return;
	}
	if (!ep->set || !*name) {
		http_send_error(rs, 400,
		                "No other company is configured (OTHER_KEY_NAME, OTHER_AKV_ENDPOINT)",
		                NULL);
		return;
	}
	struct json_object *r = NULL;
	if (keyrelease_policy_check(ep, name, &r, &e) < 0) {
		enum attest_via via = attest_choose();
		struct json_object *x = json_object_new_object();
		jsonx_add_str(x, "failure_reason", attest_failure_reason(&e));
		jsonx_add(x, "diagnosis", diagnosis("attestation", &e, via, ep->host, name));
		jsonx_add_str(x, "key_name", name);
		jsonx_add_str(x, "akv_endpoint", ep->host);
		jsonx_add(x, "logs", attest_logs());
		http_send_err(rs, &e, x);
		return;
	}
	jsonx_add_str(r, "status", "success");
	jsonx_add_str(r, "key", other ? "other" : "own");
	http_send_json(rs, 200, r);
}

static const struct http_route routes[] = {
    {"POST", "/skr/release", 0, release},
    {"POST", "/skr/release-other", 0, release_other},
    {"GET", "/skr/config", 0, config_handler},
    {"GET", "/skr/key-status", 0, key_status},
    {"POST", "/skr/policy-check", 0, policy_check},
    {"POST", "/encrypt", 0, encrypt_handler},
    {"POST", "/decrypt", 0, decrypt_handler},
};

int main(void)
{
	return http_main("skr", routes, NELEM(routes));
}
