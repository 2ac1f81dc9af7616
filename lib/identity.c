#include "identity.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "fetch.h"
#include "jsonx.h"
#include "log.h"

#define IMDS_MAX_RESP  (1024 * 1024)
#define IMDS_TIMEOUT_S 10

struct slot {
	char *resource;
	char *token;
	long long renew_at;
};

static struct slot slots[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Waits before attempts 2 and 3; the unit tests shorten them. */
static unsigned retry_ms[2] = {1000, 4000};

const char *identity_resource_for(const char *vault_host)
{
	return vault_host && strstr(vault_host, "managedhsm") ? IDENTITY_RESOURCE_MHSM
	                                                      : IDENTITY_RESOURCE_VAULT;
}

static void slot_clear(struct slot *s)
{
	free(s->resource);
	free_secret_str(s->token);
	memset(s, 0, sizeof(*s));
}

static char *cache_get(const char *resource)
{
	char *t = NULL;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < NELEM(slots); i++)
		if (slots[i].token && !strcmp(slots[i].resource, resource)) {
			if (now_unix() < slots[i].renew_at)
				t = xstrdup(slots[i].token);
			else
				slot_clear(&slots[i]);
		}
	pthread_mutex_unlock(&lock);
	return t;
}

static void cache_put(const char *resource, const char *token, long long renew_at)
{
	pthread_mutex_lock(&lock);
	struct slot *s = &slots[0];
	for (size_t i = 0; i < NELEM(slots); i++)
		if (!slots[i].token || !strcmp(slots[i].resource, resource)) {
			s = &slots[i];
			break;
		}
	slot_clear(s);
	s->resource = xstrdup(resource);
	s->token = xstrdup(token);
	s->renew_at = renew_at;
	pthread_mutex_unlock(&lock);
}

/* A number sent as a JSON string ("1700000000") or a number; 0 if absent. */
static long long num_member(struct json_object *o, const char *key)
{
	long long v = 0;
	unsigned long u;
	const char *s = jsonx_str(o, key);
	if (s && parse_ulong(s, 0, 1UL << 40, &u) == 0)
		return (long long)u;
	if (jsonx_int(o, key, &v))
		return v;
	return 0;
}

/* json-c keeps its own copy of the token: wipe it before the object goes, on every path. */
static void put_answer(struct json_object *o)
{
	struct json_object *v = NULL;
	if (json_object_object_get_ex(o, "access_token", &v) &&
	    json_object_is_type(v, json_type_string))
		wipe((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
	json_object_put(o);
}

static int parse_answer(const struct fetch_resp *rs, const char *resource, char **token,
                        struct err *e)
{
	struct json_object *o = NULL;
	if (jsonx_parse((const char *)rs->body.p, rs->body.len, &o, e) < 0 ||
	    !json_object_is_type(o, json_type_object)) {
		put_answer(o);
		return err_set(e, ERR_UPSTREAM,
		               "managed identity token: IMDS answered 200 without JSON");
	}
	const char *at = jsonx_str(o, "access_token");
	if (!at || !*at) {
		put_answer(o);
		return err_set(e, ERR_UPSTREAM,
		               "managed identity token: IMDS answered 200 without an access_token");
	}
	const char *type = jsonx_str(o, "token_type");
	if (type && strcasecmp(type, "Bearer")) {
		put_answer(o);
		return err_set(e, ERR_UPSTREAM, "managed identity token: token_type is not Bearer");
	}
	long long now = now_unix(), exp = num_member(o, "expires_on");
	if (!exp) {
		long long in = num_member(o, "expires_in");
		exp = in ? now + in : 0;
	}
	*token = xstrdup(at);
	if (exp - IDENTITY_RENEW_MARGIN > now)
		cache_put(resource, at, exp - IDENTITY_RENEW_MARGIN);
	put_answer(o);
	return 0;
}

static int refusal(const struct fetch_resp *rs, struct err *e)
{
	struct json_object *o = NULL;
	struct err ignore;
	const char *why = NULL;
	if (jsonx_parse((const char *)rs->body.p, rs->body.len, &o, &ignore) == 0) {
		why = jsonx_str(o, "error_description");
		if (!why)
			why = jsonx_str(o, "error");
	}
	char *msg = err_printable(why ? why : "(no error_description)", 300);
	err_set(e, rs->status >= 500 ? ERR_UNAVAILABLE : ERR_UNAUTHORIZED,
	        "managed identity token: IMDS answered HTTP %ld: %s%s", rs->status, msg,
	        rs->status == 400 && !*cfg.client_id
	            ? " (does this container group have a managed identity? set "
	              "AZURE_CLIENT_ID for a user-assigned one)"
	            : "");
	e->upstream_status = (int)rs->status;
	free(msg);
	json_object_put(o);
	return -1;
}

int identity_token(const char *resource, char **access_token, struct err *e)
{
	*access_token = NULL;
	if (!resource || !*resource)
		return err_set(e, ERR_INTERNAL, "identity_token: no resource");
	if ((*access_token = cache_get(resource)))
		return 0;
	if (!cfg.imds.set)
		return err_set(e, ERR_UNAVAILABLE,
		               "IMDS_ENDPOINT is empty: no managed identity endpoint");
	char *res = fetch_escape(resource);
	char *cid = cfg.client_id && *cfg.client_id ? fetch_escape(cfg.client_id) : NULL;
	char *url =
	    xasprintf("%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s%s%s",
	              cfg.imds.url, res, cid ? "&client_id=" : "", cid ? cid : "");
	free(res);
	free(cid);
	static const char *const hdrs[] = {"Metadata: true", "Accept: application/json", NULL};
	struct fetch_req rq = {.method = "GET",
	                       .url = url,
	                       .headers = hdrs,
	                       .timeout_s = IMDS_TIMEOUT_S,
	                       .max_resp = IMDS_MAX_RESP};
	int rc = -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (attempt) {
			unsigned ms = retry_ms[attempt - 1];
			struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		struct fetch_resp rs;
		if (fetch(&rq, &rs, e) < 0) {
			err_wrap(e, "managed identity token");
			continue;
		}
		if (rs.status == 200) {
			rc = parse_answer(&rs, resource, access_token, e);
			fetch_resp_free(&rs);
			break;
		}
		refusal(&rs, e);
		long st = rs.status;
		fetch_resp_free(&rs);
		if (st < 500)
			break;
	}
	if (rc < 0) {
		log_warn("managed identity token for %s failed: %s", resource, e->msg);
		err_in(e, STAGE_IDENTITY);
	}
	free(url);
	return rc;
}
