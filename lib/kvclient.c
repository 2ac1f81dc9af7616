#include "kvclient.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fetch.h"
#include "identity.h"
#include "jsonx.h"

#define VAULT_MSG_MAX 500

static char *key_url(const struct endpoint *akv, const char *key_name, const char *suffix)
{
	char *n = fetch_escape(key_name);
	char *u = xasprintf("%s/keys/%s%s?%s", akv->url, n, suffix, KV_API);
	free(n);
	return u;
}

int kv_bearer(const struct endpoint *akv, char **header, double *ms, struct err *e)
{
	char *tok = NULL;
	double t0 = now_ms();
	int rc = identity_token(identity_resource_for(akv->host), &tok, e);
	*ms = now_ms() - t0;
	if (rc < 0)
		return err_in(e, STAGE_IDENTITY);
	*header = xasprintf("Authorization: Bearer %s", tok);
	free_secret_str(tok);
	return 0;
}

int kv_error(long status, const char *body, size_t len, const char *request_id, const char *what,
             struct err *e)
{
	struct json_object *o = NULL;
	struct err ignore;
	const char *code = NULL, *msg = NULL;
	if (body && len && jsonx_parse(body, len, &o, &ignore) == 0) {
		struct json_object *er = jsonx_obj(o, "error");
		code = jsonx_str(er, "code");
		msg = jsonx_str(er, "message");
	}
	enum err_code c;
	switch (status) {
	case 401:
		c = ERR_UNAUTHORIZED;
		break;
	case 403:
		c = ERR_FORBIDDEN;
		break;
	case 404:
		c = ERR_NOT_FOUND;
		break;
	case 408:
	case 429:
	case 503:
		c = ERR_UNAVAILABLE;
		break;
	case 504:
		c = ERR_TIMEOUT;
		break;
	default:
		c = ERR_UPSTREAM;
		break;
	}
	char *m = err_printable(msg ? msg : "(no error message)", VAULT_MSG_MAX);
	char *cd = err_printable(code ? code : "", 64);
	err_set(e, c, "%s: the key vault answered HTTP %ld%s%s%s: %s", what, status,
	        *cd ? " (" : "", cd, *cd ? ")" : "", m);
	err_upstream(e, status, code, request_id);
	free(m);
	free(cd);
	json_object_put(o);
	return err_in(e, STAGE_VAULT);
}

/* One vault call: 0 with the 200 body parsed into *answer, else -1 at STAGE_VAULT. */
static int call(const struct endpoint *akv, const char *method, const char *url, const char *bearer,
                const char *body, const char *what, struct json_object **answer, struct err *e)
{
	const char *hdrs[] = {bearer, "Accept: application/json",
	                      body ? "Content-Type: application/json" : NULL, NULL};
	struct fetch_req rq = {.method = method,
	                       .url = url,
	                       .headers = hdrs,
	                       .body = body,
	                       .body_len = body ? strlen(body) : 0,
	                       /* A key read or release changes nothing in the vault. */
	                       .repeatable = 1};
	struct fetch_resp rs;
	*answer = NULL;
	if (fetch(&rq, &rs, e) < 0) {
		err_wrap(e, "%s (SKR_AKV_ENDPOINT %s)", what, akv->host);
		return err_in(e, STAGE_VAULT);
	}
	int rc = 0;
	if (rs.status != 200) {
		rc = kv_error(rs.status, (const char *)rs.body.p, rs.body.len, rs.request_id, what,
		              e);
	} else if (jsonx_parse((const char *)rs.body.p, rs.body.len, answer, e) < 0 ||
	           !json_object_is_type(*answer, json_type_object)) {
		json_object_put(*answer);
		*answer = NULL;
		err_set(e, ERR_UPSTREAM,
		        "%s: the key vault answered 200 with a body that is not a "
		        "JSON object",
		        what);
		err_upstream(e, 200, NULL, rs.request_id);
		rc = err_in(e, STAGE_VAULT);
	}
	fetch_resp_free(&rs);
	return rc;
}

int kv_release(const struct endpoint *akv, const char *key_name, const char *bearer,
               const char *attestation_token, char **jws, struct err *e)
{
	*jws = NULL;
	char *url = key_url(akv, key_name, "/release");
	char *what = xasprintf("release of key '%s' from %s", key_name, akv->host);
	struct json_object *rb = json_object_new_object();
	jsonx_add_str(rb, "target", attestation_token);
	/*
	 * Ask for the SHA-256 OAEP variant: left to itself the vault picks
	 * CKM_RSA_AES_KEY_WRAP, whose OAEP uses SHA-1 (the sidecar sends no enc).
	 * The answer's request.enc says what was used, and all three unwrap.
	 */
	jsonx_add_str(rb, "enc", "RSA_AES_KEY_WRAP_256");
	char *body = jsonx_dump(rb);
	json_object_put(rb);
	struct json_object *ans = NULL;
	int rc = call(akv, "POST", url, bearer, body, what, &ans, e);
	if (rc == 0) {
		const char *v = jsonx_str(ans, "value");
		if (v && *v) {
			*jws = xstrdup(v);
		} else {
			err_set(e, ERR_UPSTREAM, "%s: the key vault's answer has no \"value\"",
			        what);
			rc = err_in(e, STAGE_VAULT);
		}
	}
	json_object_put(ans);
	free(body);
	free(what);
	free(url);
	return rc;
}

int kv_get_key(const struct endpoint *akv, const char *key_name, const char *bearer,
               struct json_object **bundle, struct err *e)
{
	char *url = key_url(akv, key_name, "");
	char *what = xasprintf("reading key '%s' from %s", key_name, akv->host);
	int rc = call(akv, "GET", url, bearer, NULL, what, bundle, e);
	free(what);
	free(url);
	return rc;
}

struct json_object *kv_bundle_policy(struct json_object *bundle)
{
	const char *data = jsonx_str(jsonx_obj(bundle, "release_policy"), "data");
	unsigned char *js = NULL;
	size_t jl = 0;
	struct json_object *p = NULL;
	struct err ignore;
	if (data && b64_decode(data, strlen(data), B64_URL, B64_PAD_ANY, &js, &jl) == 0 &&
	    jsonx_parse((const char *)js, jl, &p, &ignore) == 0 &&
	    !json_object_is_type(p, json_type_object)) {
		json_object_put(p);
		p = NULL;
	}
	free(js);
	return p;
}
