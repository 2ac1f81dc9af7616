#include "token.h"

#include <pthread.h>
#include <string.h>

#include "fetch.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"

#define TOKEN_CACHE_SLOTS 4
#define TOKEN_JWKS_MAX    (1024 * 1024)

/* One fetched JWKS and its keys, decoded once; shared by the verifications using it. */
struct jwks_gen {
	int refs;                 /* guarded by cache_lock */
	struct json_object *jwks; /* as fetched */
	struct jwk_keyset keys;   /* its RS256 keys, per kid */
};

struct jwks_slot {
	char *issuer;         /* base URL; NULL = free slot */
	struct jwks_gen *gen; /* last good JWKS, or NULL */
	double fetched_ms;    /* monotonic time gen was fetched */
	double tried_ms;      /* monotonic time of the last fetch attempt */
	double kid_retry_ms;  /* ...of the last one an unknown kid or a failed signature
	                         caused, 0 = never */
};

static struct jwks_slot slots[TOKEN_CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long fetches;

/* Under cache_lock. */
static void gen_put(struct jwks_gen *g)
{
	if (g && --g->refs == 0) {
		json_object_put(g->jwks);
		jwk_keyset_free(&g->keys);
		free(g);
	}
}

static struct jwks_gen *gen_new(struct json_object *jwks)
{
	struct jwks_gen *g = xcalloc(1, sizeof(*g));
	g->refs = 1;
	g->jwks = jwks;
	jwk_keyset_from_jwks(jwks, NULL, &g->keys);
	return g;
}

static int gen_has_kid(const struct jwks_gen *g, const char *kid)
{
	for (size_t i = 0; g && kid && i < g->keys.n; i++)
		if (!strcmp(g->keys.v[i].kid, kid))
			return 1;
	return 0;
}

int token_fetch_jwks(const struct endpoint *issuer, struct json_object **jwks, struct err *e)
{
	*jwks = NULL;
	if (!issuer || !issuer->set || !issuer->url)
		return err_set(e, ERR_INTERNAL,
		               "no attestation endpoint configured to fetch keys from");
	char *url = xasprintf("%s/certs", issuer->url);
	static const char *const hdrs[] = {"Accept: application/json", NULL};
	struct fetch_req rq = {
	    .method = "GET", .url = url, .headers = hdrs, .max_resp = TOKEN_JWKS_MAX};
	struct fetch_resp rs;
	int rc = -1;
	if (fetch(&rq, &rs, e) != 0) {
		err_wrap(e, "fetching token signing keys from %s", url);
		free(url);
		return -1;
	}
	struct json_object *o = NULL;
	if (rs.status != 200) {
		err_set(e, ERR_UPSTREAM, "token signing keys: %s answered HTTP %ld", url,
		        rs.status);
		e->upstream_status = (int)rs.status;
	} else if (jsonx_parse((const char *)rs.body.p, rs.body.len, &o, e) != 0) {
		e->code = ERR_UPSTREAM;
		err_wrap(e, "token signing keys from %s", url);
	} else if (!jsonx_arr(o, "keys")) {
		err_set(e, ERR_UPSTREAM, "token signing keys from %s: no \"keys\" array", url);
	} else {
		*jwks = o;
		o = NULL;
		rc = 0;
	}
	json_object_put(o);
	fetch_resp_free(&rs);
	free(url);
	return rc;
}

static struct jwks_slot *slot_for(const char *issuer)
{
	struct jwks_slot *free_slot = NULL, *oldest = &slots[0];
	for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
		if (slots[i].issuer && !strcmp(slots[i].issuer, issuer))
			return &slots[i];
		if (!slots[i].issuer && !free_slot)
			free_slot = &slots[i];
		if (slots[i].tried_ms < oldest->tried_ms)
			oldest = &slots[i];
	}
	struct jwks_slot *s = free_slot ? free_slot : oldest;
	free(s->issuer);
	gen_put(s->gen);
	memset(s, 0, sizeof(*s));
	s->issuer = xstrdup(issuer);
	return s;
}

/*
 * The keys to judge a token with kid by (a new reference), refreshed per the cache rules:
 * expired, or (at most once per TOKEN_REFETCH_MIN) a kid the cache lacks or, with suspect
 * set, a signature the cached key did not verify (an issuer that rotated a key in place).
 */
static int keys_for(const struct endpoint *issuer, const char *kid, int suspect,
                    struct jwks_gen **out, struct err *e)
{
	*out = NULL;
	pthread_mutex_lock(&cache_lock);
	struct jwks_slot *s = slot_for(issuer->url);
	double now = now_ms();
	int expired = !s->gen || now - s->fetched_ms >= TOKEN_JWKS_TTL * 1000.0;
	int unknown_kid = s->gen && kid && !gen_has_kid(s->gen, kid);
	int may_retry = s->kid_retry_ms == 0 || now - s->kid_retry_ms >= TOKEN_REFETCH_MIN * 1000.0;
	int rc = 0;
	/* A fetch is held under the lock on purpose: concurrent verifiers wait for one
	 * fetch instead of each starting their own. */
	if (expired || ((unknown_kid || suspect) && may_retry)) {
		struct json_object *fresh = NULL;
		s->tried_ms = now;
		if (!expired)
			s->kid_retry_ms = now;
		fetches++;
		if (token_fetch_jwks(issuer, &fresh, e) == 0) {
			gen_put(s->gen);
			s->gen = gen_new(fresh);
			s->fetched_ms = now;
			if (unknown_kid || suspect)
				log_info("token signing keys of %s refetched for kid %.80s%s",
				         issuer->url, kid,
				         suspect ? " (signature did not verify)" : "");
		} else if (expired) {
			/* Stale keys are not served: a withdrawn key must stop working. */
			gen_put(s->gen);
			s->gen = NULL;
			rc = -1;
		} else {
			log_warn("token signing keys of %s: refetch failed: %s", issuer->url,
			         e->msg);
		}
	} else if (suspect) {
		rc = 1; /* nothing new to try */
	}
	if (rc == 0) {
		s->gen->refs++;
		*out = s->gen;
	}
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

static void keys_put(struct jwks_gen *g)
{
	pthread_mutex_lock(&cache_lock);
	gen_put(g);
	pthread_mutex_unlock(&cache_lock);
}

int token_verify(const char *compact, const struct endpoint *issuer, struct json_object **claims,
                 struct err *e)
{
	*claims = NULL;
	if (!issuer || !issuer->set || !issuer->url)
		return err_set(e, ERR_INTERNAL,
		               "no attestation endpoint configured: set SKR_MAA_ENDPOINT");
	struct jwt j;
	if (jwt_parse(compact, &j, e) != 0)
		return -1;
	const char *kid = jsonx_str(j.header, "kid");
	struct jwks_gen *g = NULL;
	int rc = keys_for(issuer, kid, 0, &g, e);
	if (rc == 0) {
		rc = jwt_verify_signature(&j, &g->keys, e);
		/* A known kid whose cached key fails: the issuer may have replaced it in place. */
		if (rc == JWT_SIG_NO_MATCH) {
			struct jwks_gen *again = NULL;
			struct err fe;
			err_clear(&fe);
			if (keys_for(issuer, kid, 1, &again, &fe) == 0) {
				keys_put(g);
				g = again;
				rc = jwt_verify_signature(&j, &g->keys, e);
			}
		}
		if (rc == 0)
			rc = jwt_check_claims(&j, issuer->url, now_unix(), claims, e);
		keys_put(g);
	}
	jwt_free(&j);
	return rc == 0 ? 0 : -1;
}

unsigned long token_cache_fetches(void)
{
	pthread_mutex_lock(&cache_lock);
	unsigned long n = fetches;
	pthread_mutex_unlock(&cache_lock);
	return n;
}

void token_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
		free(slots[i].issuer);
		gen_put(slots[i].gen);
		memset(&slots[i], 0, sizeof(slots[i]));
	}
	pthread_mutex_unlock(&cache_lock);
}
