#include "token.h"

#include <pthread.h>
#include <string.h>

#include "fetch.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"

#define TOKEN_CACHE_SLOTS 4
#define TOKEN_JWKS_MAX    (1024 * 1024)

struct jwks_slot {
	char *issuer;             /* base URL; NULL = free slot */
	struct json_object *jwks; /* last good JWKS, or NULL */
	double fetched_ms;        /* monotonic time jwks was fetched */
	double tried_ms;          /* monotonic time of the last fetch attempt */
	double kid_retry_ms;      /* ...of the last one an unknown kid caused, 0 = never */
};

static struct jwks_slot slots[TOKEN_CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

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
	json_object_put(s->jwks);
	memset(s, 0, sizeof(*s));
	s->issuer = xstrdup(issuer);
	return s;
}

/* The JWKS to judge a token with kid by (a new reference), refreshed per the cache rules. */
static int jwks_for(const struct endpoint *issuer, const char *kid, struct json_object **out,
                    struct err *e)
{
	*out = NULL;
	pthread_mutex_lock(&cache_lock);
	struct jwks_slot *s = slot_for(issuer->url);
	double now = now_ms();
	int expired = !s->jwks || now - s->fetched_ms >= TOKEN_JWKS_TTL * 1000.0;
	int unknown_kid = s->jwks && kid && !jwks_find_kid(s->jwks, kid);
	int may_retry = s->kid_retry_ms == 0 || now - s->kid_retry_ms >= TOKEN_REFETCH_MIN * 1000.0;
	int rc = 0;
	/* A fetch is held under the lock on purpose: concurrent verifiers wait for one
	 * fetch instead of each starting their own. */
	if (expired || (unknown_kid && may_retry)) {
		struct json_object *fresh = NULL;
		s->tried_ms = now;
		if (!expired)
			s->kid_retry_ms = now;
		if (token_fetch_jwks(issuer, &fresh, e) == 0) {
			json_object_put(s->jwks);
			s->jwks = fresh;
			s->fetched_ms = now;
			if (unknown_kid)
				log_info("token signing keys of %s refetched for kid %.80s",
				         issuer->url, kid);
		} else if (expired) {
			/* Stale keys are not served: a withdrawn key must stop working. */
			json_object_put(s->jwks);
			s->jwks = NULL;
			rc = -1;
		} else {
			log_warn("token signing keys of %s: refetch failed: %s", issuer->url,
			         e->msg);
		}
	}
	if (rc == 0)
		*out = json_object_get(s->jwks);
	pthread_mutex_unlock(&cache_lock);
	return rc;
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
	struct json_object *jwks = NULL;
	int rc = jwks_for(issuer, kid, &jwks, e);
	jwt_free(&j);
	if (rc != 0)
		return -1;
	rc = jwt_verify_with_jwks(compact, jwks, issuer->url, now_unix(), claims, e);
	json_object_put(jwks);
	return rc;
}

void token_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
		free(slots[i].issuer);
		json_object_put(slots[i].jwks);
		memset(&slots[i], 0, sizeof(slots[i]));
	}
	pthread_mutex_unlock(&cache_lock);
}
