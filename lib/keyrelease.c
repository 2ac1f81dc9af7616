#include "keyrelease.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "attest.h"
#include "codec.h"
#include "jsonx.h"
#include "jwkpriv.h"
#include "jwt.h"
#include "keywrap.h"
#include "kvclient.h"
#include "log.h"
#include "pkcs8.h"
#include "policy.h"
#include "releaseproof.h"
#include "sidecar.h"

#define WRAP_BITS 2048

/* Claims always reported when present, besides the ones the release policy names. */
static const char *const shown_claims[] = {
    "iss",
    "x-ms-attestation-type",
    "x-ms-compliance-status",
    "x-ms-sevsnpvm-hostdata",
    "x-ms-sevsnpvm-is-debuggable",
    "x-ms-sevsnpvm-vmpl",
    "x-ms-sevsnpvm-guestsvn",
    "x-ms-sevsnpvm-launchmeasurement",
    "x-ms-emulated",
    "iat",
    "exp",
};

static struct json_object *str_array(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *copy_json(struct json_object *o)
{
	struct json_object *c = NULL;
	if (o && json_object_deep_copy(o, &c, NULL) != 0)
		c = NULL;
	return c;
}

struct json_object *keyrelease_runtime_jwks(EVP_PKEY *wrap_key)
{
	struct json_object *pub = jwk_public(wrap_key);
	if (!pub)
		return NULL;
	/* Members in lexicographic order, as the sidecar's JWK library writes them. */
	static const char *const ops[] = {"encrypt"};
	struct json_object *jwk = json_object_new_object();
	jsonx_add_str(jwk, "e", jsonx_str(pub, "e"));
	jsonx_add(jwk, "key_ops", str_array(ops, 1));
	jsonx_add_str(jwk, "kid", jsonx_str(pub, "kid"));
	jsonx_add_str(jwk, "kty", "RSA");
	jsonx_add_str(jwk, "n", jsonx_str(pub, "n"));
	json_object_put(pub);
	struct json_object *keys = json_object_new_array();
	json_object_array_add(keys, jwk);
	struct json_object *o = json_object_new_object();
	jsonx_add(o, "keys", keys);
	return o;
}

static int kid_names(const char *kid, const char *name)
{
	if (!kid)
		return 0;
	char *seg = xasprintf("/keys/%s", name);
	const char *p = strstr(kid, seg);
	size_t sl = strlen(seg);
	int ok = p && (p[sl] == '\0' || p[sl] == '/');
	free(seg);
	return ok;
}

/* The ciphertext inside key_hsm (b64url JSON {"ciphertext":...}); *enc_hint from its header. */
static int key_hsm_ciphertext(const char *key_hsm, uint8_t **ct, size_t *n, char **enc_hint,
                              struct err *e)
{
	unsigned char *js = NULL;
	size_t jl = 0;
	struct json_object *o = NULL;
	int rc = -1;
	*enc_hint = NULL;
	if (b64_decode(key_hsm, strlen(key_hsm), B64_URL, B64_PAD_ANY, &js, &jl) < 0 ||
	    jsonx_parse((const char *)js, jl, &o, e) < 0) {
		err_set(e, ERR_UNPROCESSABLE, "the release answer's key_hsm is not b64url JSON");
		goto done;
	}
	const char *c = jsonx_str(o, "ciphertext");
	if (!c || b64_decode(c, strlen(c), B64_URL, B64_PAD_ANY, ct, n) < 0) {
		err_set(e, ERR_UNPROCESSABLE,
		        "the release answer's key_hsm has no b64url ciphertext");
		goto done;
	}
	const char *enc = jsonx_str(jsonx_obj(o, "header"), "enc");
	if (enc)
		*enc_hint = xstrdup(enc);
	rc = 0;
done:
	json_object_put(o);
	free(js);
	return rc;
}

int keyrelease_unwrap_payload(struct json_object *payload, EVP_PKEY *wrap_key, const char *key_name,
                              EVP_PKEY **key, struct json_object *facts, struct err *e)
{
	*key = NULL;
	struct json_object *bundle = jsonx_obj(jsonx_obj(payload, "response"), "key");
	struct json_object *k = jsonx_obj(bundle, "key");
	const char *kid = jsonx_str(k, "kid"), *kty = jsonx_str(k, "kty");
	const char *key_hsm = jsonx_str(k, "key_hsm");
	const char *enc = jsonx_str(jsonx_obj(payload, "request"), "enc");
	if (!k || !kty || !key_hsm)
		return err_set(e, ERR_UNPROCESSABLE,
		               "the release answer has no response.key.key with kty and key_hsm");
	if (!kid_names(kid, key_name))
		return err_set(e, ERR_UNPROCESSABLE,
		               "the release answer is for key '%.200s', not '%s'",
		               kid ? kid : "(none)", key_name);
	if (strcmp(kty, "RSA") && strcmp(kty, "RSA-HSM"))
		return err_set(e, ERR_UNSUPPORTED,
		               "released key '%s' has type %.20s; this demo encrypts with RSA keys",
		               key_name, kty);
	uint8_t *ct = NULL, *der = NULL;
	size_t ctlen = 0, derlen = 0;
	char *enc_hint = NULL;
	enum keywrap_alg alg;
	int rc = -1;
	if (key_hsm_ciphertext(key_hsm, &ct, &ctlen, &enc_hint, e) < 0)
		goto done;
	if (!enc)
		enc = enc_hint ? enc_hint : "CKM_RSA_AES_KEY_WRAP";
	if (keywrap_alg_parse(enc, &alg, e) < 0) {
		e->code = ERR_UNPROCESSABLE;
		err_wrap(e, "the release answer's enc");
		goto done;
	}
	if (keywrap_unwrap(wrap_key, alg, ct, ctlen, &der, &derlen, e) < 0) {
		err_wrap(e, "unwrapping the released key");
		goto done;
	}
	/* Not EVP_PKCS82PKEY: OpenSSL 3.0's decoders leave the numbers in freed memory. */
	struct err perr;
	*key = pkcs8_rsa_decode(der, derlen, &perr);
	if (!*key) {
		err_set(e, ERR_UNPROCESSABLE, "the unwrapped key is not a PKCS#8 RSA private key");
		goto done;
	}
	/* The vault also sent n and e: they must describe the key we unwrapped. */
	if (jsonx_str(k, "n") && jsonx_str(k, "e")) {
		struct json_object *pubjwk = json_object_new_object();
		jsonx_add_str(pubjwk, "kty", "RSA");
		jsonx_add_str(pubjwk, "n", jsonx_str(k, "n"));
		jsonx_add_str(pubjwk, "e", jsonx_str(k, "e"));
		struct err ignore;
		EVP_PKEY *pub = jwk_to_public_pkey(pubjwk, &ignore);
		json_object_put(pubjwk);
		int same = pub && EVP_PKEY_eq(pub, *key) == 1;
		EVP_PKEY_free(pub);
		if (!same) {
			err_set(
			    e, ERR_UNPROCESSABLE,
			    "the unwrapped key does not match the public key the vault described");
			goto done;
		}
	}
	char *tp = jwk_thumbprint(*key);
	jsonx_add_str(facts, "name", key_name);
	jsonx_add_str(facts, "kid", kid);
	jsonx_add_str(facts, "kty", kty);
	jsonx_add_int(facts, "size", EVP_PKEY_get_bits(*key));
	jsonx_add_str(facts, "thumbprint", tp);
	free(tp);
	struct json_object *ops = copy_json(jsonx_arr(k, "key_ops"));
	jsonx_add(facts, "key_ops", ops ? ops : json_object_new_array());
	jsonx_add_str(facts, "enc", keywrap_alg_name(alg));
	struct json_object *pol = kv_bundle_policy(bundle);
	if (pol)
		jsonx_add(facts, "release_policy", pol);
	rc = 0;
done:
	if (rc < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	if (der) {
		wipe(der, derlen);
		free(der);
	}
	free(ct);
	free(enc_hint);
	return rc;
}

static struct json_object *timing_obj(double att, double id, double rel, double unw, double total)
{
	struct json_object *t = json_object_new_object();
	json_object_object_add(t, "attestation", json_object_new_double(att));
	json_object_object_add(t, "identity", json_object_new_double(id));
	json_object_object_add(t, "release", json_object_new_double(rel));
	json_object_object_add(t, "unwrap", json_object_new_double(unw));
	json_object_object_add(t, "total", json_object_new_double(total));
	return t;
}

struct json_object *keyrelease_token_claims(const char *jwt, struct json_object *policy)
{
	struct jwt j;
	struct err ignore;
	if (!jwt || jwt_parse(jwt, &j, &ignore) < 0)
		return NULL;
	struct json_object *names = json_object_new_array();
	for (size_t i = 0; i < NELEM(shown_claims); i++)
		json_object_array_add(names, json_object_new_string(shown_claims[i]));
	if (policy)
		policy_claim_names(policy, names);
	struct json_object *out = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(names); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(names, i));
		struct json_object *v = NULL;
		if (json_object_object_get_ex(j.payload, n, &v) &&
		    !json_object_object_get_ex(out, n, NULL))
			jsonx_add(out, n, copy_json(v));
	}
	json_object_put(names);
	jwt_free(&j);
	return out;
}

/* ---- the spare wrapping key ---- */

/*
 * One slot, refilled by one thread.  The thread touches only this struct (under lock) and
 * OpenSSL; it never logs and never reads cfg, so the request path's state stays the request
 * path's.  A key leaves the slot exactly once: take_wrap_key empties it under the lock.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* the slot changed, the thread ended, or stop */
	EVP_PKEY *key;       /* the spare, or NULL */
	pthread_t thread;
	int joinable;   /* thread was created and not joined yet */
	int running;    /* the thread is in its loop */
	int generating; /* a key is on its way: generating, or about to start */
	int stop;       /* it must end (the keygen callback reads it without the lock) */
	struct keyrelease_spare_stats stats;
} spare = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

/* OpenSSL asks while it searches for primes whether to go on: 0 abandons the key. */
static int keygen_go_on(EVP_PKEY_CTX *ctx)
{
	(void)ctx;
	return !__atomic_load_n(&spare.stop, __ATOMIC_RELAXED);
}

static EVP_PKEY *gen_wrap_key(int abortable)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *k = NULL;
	if (c && EVP_PKEY_keygen_init(c) == 1 &&
	    EVP_PKEY_CTX_set_rsa_keygen_bits(c, WRAP_BITS) == 1) {
		if (abortable)
			EVP_PKEY_CTX_set_cb(c, keygen_go_on);
		if (EVP_PKEY_generate(c, &k) != 1)
			k = NULL;
	}
	EVP_PKEY_CTX_free(c);
	ERR_clear_error();
	return k;
}

static void *refill(void *arg)
{
	(void)arg;
	/* Background work: a release in progress (and everything it waits for on this machine)
	 * goes first.  On Linux a thread id names one thread: only this one is lowered. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	pthread_mutex_lock(&spare.lock);
	while (!spare.stop) {
		if (spare.key) {
			pthread_cond_wait(&spare.cond, &spare.lock);
			continue;
		}
		spare.generating = 1;
		pthread_mutex_unlock(&spare.lock);
		EVP_PKEY *k = gen_wrap_key(1);
		pthread_mutex_lock(&spare.lock);
		spare.generating = 0;
		pthread_cond_broadcast(&spare.cond);
		if (spare.stop || !k) {
			EVP_PKEY_free(k);
			/* Failing to generate (it should not) must not spin: requests make their
			 * own. */
			spare.stats.failed += !spare.stop;
			break;
		}
		spare.key = k;
		spare.stats.generated++;
	}
	spare.running = 0;
	pthread_cond_broadcast(&spare.cond);
	pthread_mutex_unlock(&spare.lock);
	return NULL;
}

void keyrelease_spare_stop(void)
{
	pthread_mutex_lock(&spare.lock);
	__atomic_store_n(&spare.stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&spare.cond);
	int joinable = spare.joinable;
	spare.joinable = 0;
	pthread_mutex_unlock(&spare.lock);
	if (joinable)
		pthread_join(spare.thread, NULL);
	pthread_mutex_lock(&spare.lock);
	EVP_PKEY_free(spare.key); /* clears the private numbers */
	spare.key = NULL;
	pthread_mutex_unlock(&spare.lock);
}

static void spare_at_exit(void)
{
	keyrelease_spare_stop();
}

static void register_spare_exit(void)
{
	/* OpenSSL's own atexit cleanup must come after ours, which joins a thread using it:
	 * initialised first, it registered first, so it runs last. */
	OPENSSL_init_crypto(0, NULL);
	atexit(spare_at_exit);
}

void keyrelease_spare_start(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_spare_exit);
	pthread_mutex_lock(&spare.lock);
	if (!spare.joinable) {
		__atomic_store_n(&spare.stop, 0, __ATOMIC_RELAXED);
		/* Signals are the request loop's: the thread blocks them all. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		spare.joinable = pthread_create(&spare.thread, NULL, refill, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		spare.running = spare.generating = spare.joinable;
	}
	pthread_mutex_unlock(&spare.lock);
}

/*
 * The wrapping key of one release: the spare when there is one, or the one being generated
 * (waiting for it rather than generating a second beside it), else one made here.
 */
EVP_PKEY *keyrelease_take_wrap_key(void)
{
	pthread_mutex_lock(&spare.lock);
	while (!spare.key && spare.running && spare.generating && !spare.stop)
		pthread_cond_wait(&spare.cond, &spare.lock);
	EVP_PKEY *k = spare.key;
	spare.key = NULL;
	if (k)
		spare.stats.taken++;
	else
		spare.stats.made_inline++;
	/* The thread refills the slot: a release arriving before it wakes waits for that key. */
	if (k && spare.running && !spare.stop)
		spare.generating = 1;
	pthread_cond_broadcast(&spare.cond);
	pthread_mutex_unlock(&spare.lock);
	return k ? k : gen_wrap_key(0);
}

void keyrelease_spare_get_stats(struct keyrelease_spare_stats *out)
{
	pthread_mutex_lock(&spare.lock);
	*out = spare.stats;
	out->ready = spare.key != NULL;
	out->running = spare.running;
	pthread_mutex_unlock(&spare.lock);
}

int keyrelease_fresh_token(EVP_PKEY **wrap, char **jwt, const char **source, double *ms,
                           struct err *e)
{
	*jwt = NULL;
	*wrap = keyrelease_take_wrap_key();
	if (!*wrap)
		return err_set(e, ERR_INTERNAL, "cannot generate the ephemeral wrapping key");
	struct json_object *rt = keyrelease_runtime_jwks(*wrap);
	char *text = rt ? jsonx_dump(rt) : NULL;
	json_object_put(rt);
	if (!text) {
		EVP_PKEY_free(*wrap);
		*wrap = NULL;
		return err_set(e, ERR_INTERNAL, "cannot describe the wrapping key");
	}
	struct attest_timing t;
	int rc = attest_token((const uint8_t *)text, strlen(text), jwt, source, &t, e);
	*ms = t.total_ms;
	free(text);
	if (rc < 0) {
		EVP_PKEY_free(*wrap);
		*wrap = NULL;
	}
	return rc;
}

/* The public facts of a released key the sidecar handed over as a private JWK. */
static void sidecar_facts(const struct endpoint *akv, const char *key_name, EVP_PKEY *key,
                          struct json_object *ops, struct json_object *facts)
{
	char *tp = jwk_thumbprint(key);
	char *kid = xasprintf("%s/keys/%s", akv->url, key_name);
	jsonx_add_str(facts, "name", key_name);
	jsonx_add_str(facts, "kid", kid);
	jsonx_add_str(facts, "kty", "RSA");
	jsonx_add_int(facts, "size", EVP_PKEY_get_bits(key));
	jsonx_add_str(facts, "thumbprint", tp);
	jsonx_add(facts, "key_ops", ops ? ops : json_object_new_array());
	jsonx_add(facts, "claims", NULL);
	free(tp);
	free(kid);
}

static int release_sidecar(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                           struct json_object *facts, struct err *e)
{
	double t0 = now_ms();
	char *jwk = NULL;
	if (sidecar_key_release(cfg.maa.host, akv->host, key_name, &jwk, e) < 0) {
		jsonx_add(facts, "timing", timing_obj(0, 0, now_ms() - t0, 0, now_ms() - t0));
		return attest_sidecar_failed(e);
	}
	double t1 = now_ms();
	*key = jwkpriv_to_pkey(jwk, e);
	/* key_ops are public: keep them before the text is wiped. */
	struct json_object *pub = NULL, *ops = NULL;
	struct err ignore;
	if (*key && jsonx_parse(jwk, strlen(jwk), &pub, &ignore) == 0) {
		ops = copy_json(jsonx_arr(pub, "key_ops"));
		jwkpriv_wipe_strings(pub);
		json_object_put(pub);
	}
	free_secret_str(jwk);
	double t2 = now_ms();
	jsonx_add(facts, "timing", timing_obj(0, 0, t1 - t0, t2 - t1, t2 - t0));
	if (!*key) {
		json_object_put(ops);
		return err_in(e, STAGE_UNWRAP);
	}
	sidecar_facts(akv, key_name, *key, ops, facts);
	return 0;
}

/*
 * The key must be this vault's: a certificate does not name a port, so on loopback
 * another local vault's signature would pass; its kid still names its own URL.
 */
static int kid_of_vault(struct json_object *payload, const struct endpoint *akv, struct err *e)
{
	const char *kid =
	    jsonx_str(jsonx_obj(jsonx_obj(jsonx_obj(payload, "response"), "key"), "key"), "kid");
	char *want = xasprintf("%s/keys/", akv->url);
	int ours = kid && !strncmp(kid, want, strlen(want));
	free(want);
	if (ours)
		return 0;
	err_set(e, ERR_VERIFY, "the released key's kid does not belong to the vault %s", akv->host);
	return err_in(e, STAGE_RELEASE_PROOF);
}

static int release_native(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                          struct json_object *facts, struct err *e)
{
	double t0 = now_ms(), t_att = 0, t_id = 0, t_rel = 0, t_unw = 0;
	EVP_PKEY *wrap = NULL;
	char *jwt = NULL, *auth = NULL, *jws = NULL;
	const char *source = NULL;
	struct json_object *payload = NULL;
	int rc = -1;

	if (keyrelease_fresh_token(&wrap, &jwt, &source, &t_att, e) < 0)
		goto done;
	jsonx_add_str(facts, "evidence_source", source);
	/* Public: the kid of the runtime data's key, which says no two releases shared one. */
	char *wrap_kid = jwk_thumbprint(wrap);
	jsonx_add_str(facts, "wrapping_kid", wrap_kid);
	free(wrap_kid);
	if (kv_bearer(akv, &auth, &t_id, e) < 0)
		goto done;
	double t1 = now_ms();
	if (kv_release(akv, key_name, auth, jwt, &jws, e) < 0)
		goto done;
	t_rel = now_ms() - t1;
	if (releaseproof_verify(jws, akv, &payload, e) < 0 || kid_of_vault(payload, akv, e) < 0)
		goto done;
	double t2 = now_ms();
	if (keyrelease_unwrap_payload(payload, wrap, key_name, key, facts, e) < 0) {
		err_in(e, STAGE_UNWRAP);
		goto done;
	}
	t_unw = now_ms() - t2;
	jsonx_add(facts, "claims",
	          keyrelease_token_claims(jwt, jsonx_obj(facts, "release_policy")));
	rc = 0;
done:
	jsonx_add(facts, "timing", timing_obj(t_att, t_id, t_rel, t_unw, now_ms() - t0));
	json_object_put(payload);
	EVP_PKEY_free(wrap);
	free_secret_str(auth);
	free(jws);
	free(jwt);
	return rc;
}

int keyrelease_configured(int other, struct err *e)
{
	const struct {
		int missing;
		const char *var;
	} need[] = {
	    {!cfg.maa.set, "SKR_MAA_ENDPOINT"},
	    {!other && !cfg.akv.set, "SKR_AKV_ENDPOINT"},
	    {!other && !*cfg.key_name, "SKR_KEY_NAME"},
	    {other && !cfg.other_akv.set, "OTHER_AKV_ENDPOINT"},
	    {other && !*cfg.other_key_name, "OTHER_KEY_NAME"},
	};
	struct buf names;
	buf_init(&names);
	for (size_t i = 0; i < NELEM(need); i++)
		if (need[i].missing)
			buf_appendf(&names, "%s%s", names.len ? " " : "", need[i].var);
	if (!names.len)
		return 0;
	err_set(e, ERR_CONFIG, "%s is not configured: set %s",
	        other ? "The other company's key" : "Secure key release", (char *)names.p);
	snprintf(e->variable, sizeof(e->variable), "%s", (char *)names.p);
	buf_free(&names);
	return err_in(e, STAGE_CONFIG);
}

typedef int (*release_fn)(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                          struct json_object *facts, struct err *e);
static const release_fn release_by_backend[] = {
    [ATTEST_NATIVE] = release_native,
    [ATTEST_SIDECAR] = release_sidecar,
};

int keyrelease_release(const struct endpoint *akv, const char *key_name, EVP_PKEY **key,
                       struct json_object **facts, struct err *e)
{
	*key = NULL;
	*facts = json_object_new_object();
	enum attest_via via = attest_backend_now();
	jsonx_add_str(*facts, "backend", attest_via_name(via));
	if (!akv || !akv->set || !key_name || !*key_name) {
		err_set(e, ERR_CONFIG,
		        "no key vault or key name is configured: set SKR_AKV_ENDPOINT and "
		        "SKR_KEY_NAME");
		return err_in(e, STAGE_CONFIG);
	}
	int rc = release_by_backend[via](akv, key_name, key, *facts, e);
	const char *wrap_kid = jsonx_str(*facts, "wrapping_kid");
	if (rc == 0)
		log_info("released key %s from %s (%s path, wrapping key %s)", key_name, akv->host,
		         attest_via_name(via), wrap_kid ? wrap_kid : "none");
	else
		log_warn("release of key %s from %s failed at %s: %s", key_name, akv->host,
		         err_stage_name(e->stage), e->msg);
	return rc;
}
