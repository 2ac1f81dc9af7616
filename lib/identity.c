#include "identity.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "fetch.h"
#include "jsonx.h"
#include "log.h"

#define IMDS_MAX_RESP (1024 * 1024)

struct slot {
	char *resource;
	char *token;
	long long renew_at;
};

static struct slot slots[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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

/* What azure-identity retries for IMDS: no answer (0), 404 (IMDS updating), 408, 410 (IMDS
 * being upgraded), 429 and every 5xx. */
static int retryable(long status)
{
	return status == 0 || status == 404 || status == 408 || status == 410 || status == 429 ||
	       (status >= 500 && status <= 599);
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
	/* What is retried is transient: after the retries it is "not there", not "refused". */
	err_set(e, retryable(rs->status) ? ERR_UNAVAILABLE : ERR_UNAUTHORIZED,
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

long identity_retry_next(struct identity_retry *st, long status)
{
	int transport = status == 0;
	if (!retryable(status) || st->total >= IDENTITY_RETRIES_TOTAL ||
	    (transport && st->transport >= IDENTITY_RETRIES_TRANSPORT) ||
	    (!transport && st->status >= IDENTITY_RETRIES_STATUS))
		return -1;
	st->total++;
	if (transport)
		st->transport++;
	else
		st->status++;
	if (st->total == 1)
		return 0;
	long factor = status == 410 ? IDENTITY_BACKOFF_410_MS : IDENTITY_BACKOFF_MS;
	long wait = factor << (st->total - 1);
	return wait < IDENTITY_BACKOFF_MAX_MS ? wait : IDENTITY_BACKOFF_MAX_MS;
}

/* Say how hard we tried, after the last answer's own message. */
static void note_attempts(struct err *e, int attempts, double ms, int cut_by_budget)
{
	size_t n = strlen(e->msg);
	if (cut_by_budget)
		snprintf(e->msg + n, sizeof(e->msg) - n,
		         " (gave up after %d attempt%s in %.1f s: HTTP_TIMEOUT_SECONDS=%lu bounds "
		         "the whole request)",
		         attempts, attempts == 1 ? "" : "s", ms / 1000.0,
		         cfg.http_timeout ? cfg.http_timeout : 30UL);
	else
		snprintf(e->msg + n, sizeof(e->msg) - n, " (after %d attempts in %.1f s)", attempts,
		         ms / 1000.0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
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
	struct fetch_req rq = {
	    .method = "GET", .url = url, .headers = hdrs, .max_resp = IMDS_MAX_RESP};
	/* The whole call, every attempt and wait, fits in HTTP_TIMEOUT_SECONDS. */
	double budget_ms = 1000.0 * (double)(cfg.http_timeout ? cfg.http_timeout : 30);
	double start = now_ms();
	struct identity_retry st = {0};
	int rc = -1, attempts = 0;
	for (;;) {
		long left_s = (long)((budget_ms - (now_ms() - start)) / 1000.0);
		rq.timeout_s = left_s > 0 ? left_s : 1;
		attempts++;
		struct fetch_resp rs;
		long status = 0;
		if (fetch(&rq, &rs, e) < 0) {
			err_wrap(e, "managed identity token");
		} else if (rs.status == 200) {
			rc = parse_answer(&rs, resource, access_token, e);
			fetch_resp_free(&rs);
			break;
		} else {
			refusal(&rs, e);
			status = rs.status;
			fetch_resp_free(&rs);
		}
		long wait = identity_retry_next(&st, status);
		int over = wait >= 0 && now_ms() - start + (double)wait + 1000.0 > budget_ms;
		if (wait < 0 || over) {
			if (attempts > 1 || over)
				note_attempts(e, attempts, now_ms() - start, over);
			break;
		}
		if (wait)
			sleep_ms(wait);
	}
	if (rc < 0) {
		log_warn("managed identity token for %s failed: %s", resource, e->msg);
		err_in(e, STAGE_IDENTITY);
	}
	free(url);
	return rc;
}
