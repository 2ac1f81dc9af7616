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
 *     body naming other values is answered from the configured ones and says
 *     that it ignored them.
 *   - /skr/release-other discards a key it unexpectedly obtained.
 *   - /encrypt takes any length up to the real limit (envelope encryption past
 *     the RSA-OAEP block size); /decrypt answers 400, not 500, for tampered or
 *     foreign ciphertext.
 *   - /skr/policy-check (new) evaluates a configured key's release policy
 *     against a fresh attestation token without releasing anything.
 */
#include <ctype.h>
#include <fcgiapp.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "config.h"
#include "crypto.h"
#include "custody.h"
#include "evidence.h"
#include "http.h"
#include "jsonx.h"
#include "keyrelease.h"
#include "log.h"
#include "outcome.h"
#include "policycheck.h"

#define KEEP_NOTE                                                                                  \
	"The private key stays inside this attested instance: responses carry only "               \
	"its public facts."

static const struct field_spec release_fields[] = {
    {"maa_endpoint", FIELD_STRING, 0, 256, 1, CHECK_ENDPOINT, NULL},
    {"akv_endpoint", FIELD_STRING, 0, 256, 1, CHECK_ENDPOINT, NULL},
    {"kid", FIELD_STRING, 0, 256, 1, CHECK_KEY_NAME, NULL},
};
static const struct field_spec no_fields[] = {{NULL, FIELD_STRING, 0, 0, 0, CHECK_NONE, NULL}};
static const struct field_spec encrypt_fields[] = {
    {"plaintext", FIELD_STRING, 1, 0, 0, CHECK_NONE, NULL},
};
static const struct field_spec decrypt_fields[] = {
    {"ciphertext", FIELD_STRING, 1, 0, 0, CHECK_NONE, NULL},
};
static const char *const own_or_other[] = {"own", "other", NULL};
static const struct field_spec policy_fields[] = {
    {"key", FIELD_STRING, 0, 16, 0, CHECK_ENUM, own_or_other},
};

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

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get(v);
}

/* The request's own choices are ignored (the configuration decides) and reported. */
static void note_choices(struct json_object *o, const struct http_form *f)
{
	const char *maa = http_form_str(f, "maa_endpoint"), *akv = http_form_str(f, "akv_endpoint");
	const char *kid = http_form_str(f, "kid");
	if (config_differs(&cfg.maa, maa))
		http_note_ignored(o, "maa_endpoint", maa, cfg.maa.host, "SKR_MAA_ENDPOINT");
	if (config_differs(&cfg.akv, akv))
		http_note_ignored(o, "akv_endpoint", akv, cfg.akv.host, "SKR_AKV_ENDPOINT");
	if (kid && *kid && strcmp(kid, cfg.key_name))
		http_note_ignored(o, "kid", kid, cfg.key_name, "SKR_KEY_NAME");
}

static struct json_object *release_json(EVP_PKEY *key, struct json_object *facts)
{
	static const char *const public_facts[] = {"name", "kid",        "kty",
	                                           "size", "thumbprint", "key_ops"};
	struct json_object *o = json_object_new_object(), *k = json_object_new_object();
	for (size_t i = 0; i < NELEM(public_facts); i++)
		jsonx_add(k, public_facts[i], member(facts, public_facts[i]));
	jsonx_add_str(o, "status", "success");
	char *msg = xasprintf("Key '%s' released to this attested instance and kept inside it",
	                      cfg.key_name);
	jsonx_add_str(o, "message", msg);
	free(msg);
	jsonx_add(o, "key", k);
	jsonx_add_str(o, "maa_endpoint", cfg.maa.host);
	jsonx_add_str(o, "akv_endpoint", cfg.akv.host);
	jsonx_add_str(o, "key_name", cfg.key_name);
	jsonx_add_str(o, "note", KEEP_NOTE);
	jsonx_add_bool(o, "encryption_enabled", 1);
	jsonx_add_int(o, "max_plaintext", (long long)crypto_envelope_max(key));
	jsonx_add_int(o, "max_plaintext_oaep", (long long)crypto_oaep_max(key));
	static const char *const copied[] = {"claims", "backend", "evidence_source", "enc",
	                                     "release_policy"};
	for (size_t i = 0; i < NELEM(copied); i++)
		jsonx_add(o, copied[i], member(facts, copied[i]));
	jsonx_add(o, "timing_ms", member(facts, "timing"));
	return o;
}

/* Context a failed release adds to the outcome envelope (the original page shows all three). */
static struct json_object *release_context(const struct endpoint *akv, const char *key,
                                           struct json_object *facts)
{
	struct json_object *x = json_object_new_object();
	jsonx_add_str(x, "maa_endpoint", host_or(&cfg.maa, "(not configured)"));
	jsonx_add_str(x, "akv_endpoint", host_or(akv, "(not configured)"));
	jsonx_add_str(x, "key_name", key && *key ? key : "(not configured)");
	jsonx_add(x, "timing_ms", member(facts, "timing"));
	return x;
}

static void release(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	EVP_PKEY *key = NULL;
	struct json_object *facts = NULL;
	err_clear(&e);
	if (http_form_read(rq, release_fields, NELEM(release_fields), &f, &e) < 0) {
		http_send_err(rs, &e, NULL);
	} else if (keyrelease_configured(0, &e) < 0 ||
	           keyrelease_release(&cfg.akv, cfg.key_name, &key, &facts, &e) < 0 ||
	           custody_store(key, facts, &e) < 0) {
		struct json_object *x = release_context(&cfg.akv, cfg.key_name, facts);
		note_choices(x, &f);
		http_send_err(rs, &e, x);
	} else {
		struct json_object *o = release_json(key, facts);
		note_choices(o, &f);
		http_send_json(rs, 200, o);
	}
	EVP_PKEY_free(key);
	json_object_put(facts);
	http_form_free(&f);
}

/* Who tried which key, under the original server's names and the original page's. */
static void add_attempt(struct json_object *o)
{
	char *ours = title_case(cfg.company), *theirs = title_case(cfg.other_company);
	jsonx_add_str(o, "our_company", ours);
	jsonx_add_str(o, "other_company", theirs);
	jsonx_add_str(o, "other_key_name", cfg.other_key_name);
	jsonx_add_str(o, "attempted_key", cfg.other_key_name);
	jsonx_add_str(o, "attempted_keyvault", cfg.other_akv.host);
	jsonx_add_str(o, "attempted_akv", cfg.other_akv.host);
	free(ours);
	free(theirs);
}

static struct json_object *other_json(int released)
{
	char *ours = title_case(cfg.company), *theirs = title_case(cfg.other_company);
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", released ? "unexpected_success" : "access_denied");
	char *m = released ? xasprintf("%s obtained %s's key '%s': the isolation between companies "
	                               "failed",
	                               ours, theirs, cfg.other_key_name)
	                   : xasprintf("Access denied: %s cannot release %s's key '%s'", ours,
	                               theirs, cfg.other_key_name);
	jsonx_add_str(o, "message", m);
	add_attempt(o);
	free(m);
	free(ours);
	free(theirs);
	return o;
}

/* Why the other company's key was not released, in the shape the original page reads. */
static struct json_object *denied_json(const struct err *e)
{
	struct json_object *o = other_json(0);
	jsonx_add_int(o, "http_status",
	              e->upstream_status ? e->upstream_status : outcome_status(e));
	jsonx_add_str(o, "error_detail", e->msg);
	jsonx_add_str(o, "error", e->msg);
	jsonx_add_str(o, "stage", err_stage_name(e->stage));
	jsonx_add_str(o, "failure_reason", outcome_rule(e)->failure_reason);
	jsonx_add_str(
	    o, "explanation",
	    e->stage == STAGE_VAULT
	        ? "The other company's vault refused: this instance's identity lacks "
	          "permission on that key, or its attestation does not satisfy that key's "
	          "release policy (which pins the other company's TEE measurement). This "
	          "is the expected result."
	        : "The release did not reach the other company's vault: this instance "
	          "could not complete the attestation or identity step, so nothing was "
	          "released. This is the expected result.");
	return o;
}

static void release_other(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	EVP_PKEY *key = NULL;
	struct json_object *facts = NULL;
	err_clear(&e);
	if (http_form_read(rq, no_fields, 0, &f, &e) < 0 || keyrelease_configured(1, &e) < 0) {
		http_send_err(rs, &e, NULL);
	} else if (keyrelease_release(&cfg.other_akv, cfg.other_key_name, &key, &facts, &e) == 0) {
		/* Never kept, never used: the release itself is the finding. */
		log_error("SECURITY: key %s of %s was released to %s", cfg.other_key_name,
		          cfg.other_company, cfg.company);
		http_send_json(rs, 200, other_json(1));
	} else if (e.code == ERR_UNAVAILABLE || e.code == ERR_TIMEOUT) {
		struct json_object *x = release_context(&cfg.other_akv, cfg.other_key_name, facts);
		add_attempt(x);
		http_send_err(rs, &e, x);
	} else {
		http_send_json(rs, 200, denied_json(&e));
	}
	EVP_PKEY_free(key);
	json_object_put(facts);
	http_form_free(&f);
}

static void config_handler(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "maa_endpoint", host_or(&cfg.maa, ""));
	jsonx_add_str(o, "akv_endpoint", host_or(&cfg.akv, ""));
	jsonx_add_str(o, "key_name", cfg.key_name);
	char *name = title_case(cfg.company);
	jsonx_add_str(o, "company_name", name);
	free(name);
	struct err e;
	err_clear(&e);
	jsonx_add_bool(o, "is_confidential", attest_can_attest());
	jsonx_add_bool(o, "configured", keyrelease_configured(0, &e) == 0);
	struct json_object *oc = NULL;
	if (cfg.other_akv.set && *cfg.other_key_name) {
		oc = json_object_new_object();
		name = title_case(cfg.other_company);
		jsonx_add_str(oc, "name", name);
		free(name);
		jsonx_add_str(oc, "key_name", cfg.other_key_name);
		jsonx_add_str(oc, "akv_endpoint", cfg.other_akv.host);
	}
	jsonx_add(o, "other_company", oc);
	jsonx_add_bool(o, "emulated", attest_is_emulated(evidence_source(), NULL));
	http_send_json(rs, 200, o);
}

static void key_status(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	static const char *const shown[][2] = {
	    {"key_type", "kty"},          {"key_id", "kid"},
	    {"key_name", "name"},         {"size", "size"},
	    {"thumbprint", "thumbprint"}, {"key_ops", "key_ops"}};
	struct err e;
	err_clear(&e);
	struct json_object *facts = NULL, *o = json_object_new_object();
	int held = custody_facts(&facts, &e) == 0;
	if (!held && e.code != ERR_NOT_FOUND) {
		json_object_put(o);
		http_send_err(rs, &e, NULL);
		return;
	}
	jsonx_add_bool(o, "released", held);
	if (!held)
		jsonx_add_str(o, "message", "No key has been released yet");
	for (size_t i = 0; held && i < NELEM(shown); i++)
		jsonx_add(o, shown[i][0], member(facts, shown[i][1]));
	json_object_put(facts);
	http_send_json(rs, 200, o);
}

static struct json_object *encrypted_json(EVP_PKEY *key, const char *kid, const char *ct,
                                          const char *alg, size_t n)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "ciphertext", ct);
	jsonx_add_str(o, "algorithm", alg);
	jsonx_add_str(o, "key_id", kid ? kid : "unknown");
	jsonx_add_int(o, "plaintext_length", (long long)n);
	jsonx_add_int(o, "ciphertext_length", (long long)crypto_ciphertext_bytes(ct));
	jsonx_add_int(o, "ciphertext_base64_length", (long long)strlen(ct));
	jsonx_add_int(o, "max_length", (long long)crypto_envelope_max(key));
	jsonx_add_int(o, "max_length_oaep", (long long)crypto_oaep_max(key));
	return o;
}

static void encrypt_handler(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	EVP_PKEY *key = NULL;
	struct json_object *facts = NULL;
	char *ct = NULL;
	const char *alg = NULL;
	err_clear(&e);
	if (http_form_read(rq, encrypt_fields, NELEM(encrypt_fields), &f, &e) < 0 ||
	    custody_load(&key, &facts, &e) < 0 ||
	    crypto_encrypt(key, (const uint8_t *)f.v[0].str, f.v[0].len, &ct, &alg, &e) < 0)
		http_send_err(rs, &e, NULL);
	else
		http_send_json(rs, 200,
		               encrypted_json(key, jsonx_str(facts, "kid"), ct, alg, f.v[0].len));
	free(ct);
	EVP_PKEY_free(key);
	json_object_put(facts);
	http_form_free(&f);
}

static void decrypt_handler(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	EVP_PKEY *key = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	const char *alg = NULL;
	err_clear(&e);
	if (http_form_read(rq, decrypt_fields, NELEM(decrypt_fields), &f, &e) < 0 ||
	    custody_load(&key, NULL, &e) < 0 ||
	    crypto_decrypt_text(key, f.v[0].str, &pt, &n, &alg, &e) < 0) {
		http_send_err(rs, &e, NULL);
	} else {
		struct json_object *o = json_object_new_object();
		jsonx_add_str(o, "status", "success");
		jsonx_add(o, "plaintext", json_object_new_string_len((const char *)pt, (int)n));
		jsonx_add_str(o, "algorithm", alg);
		jsonx_add_int(o, "ciphertext_length",
		              (long long)crypto_ciphertext_bytes(f.v[0].str));
		jsonx_add_int(o, "ciphertext_base64_length", (long long)f.v[0].len);
		jsonx_add_int(o, "plaintext_length", (long long)n);
		http_send_json(rs, 200, o);
	}
	if (pt)
		wipe(pt, n);
	free(pt);
	EVP_PKEY_free(key);
	http_form_free(&f);
}

static struct json_object *verdict_json(struct policycheck_result *r, int other)
{
	struct json_object *o = json_object_new_object();
	const struct endpoint *ep = other ? &cfg.other_akv : &cfg.akv;
	jsonx_add_str(o, "status", policycheck_outcome_name(r->outcome));
	jsonx_add_str(o, "key", other ? "other" : "own");
	jsonx_add_str(o, "key_name", other ? cfg.other_key_name : cfg.key_name);
	jsonx_add_str(o, "akv_endpoint", ep->host);
	jsonx_add_str(o, "evidence_source", r->evidence_source);
	jsonx_add_bool(o, "policy_readable", r->policy != NULL);
	if (r->outcome == PC_WOULD_RELEASE || r->outcome == PC_WOULD_REFUSE)
		jsonx_add_bool(o, "would_release", r->outcome == PC_WOULD_RELEASE);
	else
		jsonx_add(o, "would_release", NULL);
	jsonx_add(o, "policy", json_object_get(r->policy));
	jsonx_add(o, "evaluation", json_object_get(r->evaluation));
	jsonx_add_str(o, "first_failure", r->first_failure);
	jsonx_add_str(o, "message", policycheck_explanation(r->outcome));
	jsonx_add_str(o, "detail", r->detail[0] ? r->detail : NULL);
	if (r->vault_status)
		jsonx_add_int(o, "vault_status", r->vault_status);
	jsonx_add(o, "claims", json_object_get(r->claims));
	return o;
}

static void policy_check(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	struct policycheck_result r = {0};
	err_clear(&e);
	int other = 0;
	if (http_form_read(rq, policy_fields, NELEM(policy_fields), &f, &e) < 0 ||
	    keyrelease_configured(other = http_form_get(&f, "key")->choice == 1, &e) < 0 ||
	    policycheck_run(other ? &cfg.other_akv : &cfg.akv,
	                    other ? cfg.other_key_name : cfg.key_name, &r, &e) < 0)
		http_send_err(rs, &e, NULL);
	else
		http_send_json(rs, 200, verdict_json(&r, other));
	policycheck_free(&r);
	http_form_free(&f);
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
	/* A FastCGI process serves many releases: keep a wrapping key ready for the next one.
	 * A CGI process serves one request and would only pay for a key it never uses. */
	if (!FCGX_IsCGI())
		keyrelease_spare_start();
	return http_main("skr", routes, NELEM(routes));
}
