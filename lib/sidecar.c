#include "sidecar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "config.h"
#include "fetch.h"
#include "jsonx.h"

/* Where the sidecar's fixed "please read the docs" tail begins. */
static const char *const suffix_markers[] = {
    "ERROR: Please refer to the documentation",
    "Please refer to the documentation",
    "Troubleshooting: https://",
};

/* Cut s to at most max UTF-8 characters, never inside a multi-byte sequence. */
static void cut_chars(char *s, size_t max)
{
	size_t chars = 0;
	for (char *p = s; *p; p++) {
		if (((unsigned char)*p & 0xC0) == 0x80)
			continue;
		if (chars++ == max) {
			*p = '\0';
			return;
		}
	}
}

char *sidecar_error_text(const char *body, size_t len)
{
	char *text = NULL;
	struct json_tokener *tok = json_tokener_new_ex(16);
	if (tok && len && len <= INT32_MAX && !memchr(body, '\0', len)) {
		/*
		 * Only the first value: gin may have written a second object after
		 * it.  Strict mode would reject that tail, so json-c's lenient mode
		 * is used; this text is only shown, never trusted.
		 */
		struct json_object *o = json_tokener_parse_ex(tok, body, (int)len);
		struct json_object *v;
		if (json_tokener_get_error(tok) == json_tokener_success &&
		    json_object_is_type(o, json_type_object) &&
		    json_object_object_get_ex(o, "error", &v)) {
			if (json_object_is_type(v, json_type_string))
				text = xstrdup(json_object_get_string(v));
			else
				text = xasprintf(
				    "(no detail: the sidecar's error value was %s)",
				    v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)
				      : "null");
		}
		json_object_put(o);
	}
	json_tokener_free(tok);
	if (!text)
		text = len ? xstrndup(body, len) : xstrdup("(empty body)");
	for (size_t i = 0; i < NELEM(suffix_markers); i++) {
		char *m = strcasestr(text, suffix_markers[i]);
		if (m)
			*m = '\0';
	}
	err_blank_controls(text);
	size_t n = strlen(text);
	while (n && (text[n - 1] == ' ' || text[n - 1] == ':'))
		text[--n] = '\0';
	if (!n) {
		free(text);
		text = xstrdup("(no detail)");
	}
	cut_chars(text, SIDECAR_ERR_MAX_CHARS);
	return text;
}

static int answer_error(long status, const struct buf *body, struct err *e)
{
	char *t = sidecar_error_text((const char *)body->p, body->len);
	enum err_code c = status == 403   ? ERR_FORBIDDEN
	                  : status == 400 ? ERR_BAD_REQUEST
	                                  : ERR_UPSTREAM;
	err_set(e, c, "sidecar answered %ld: %s", status, t);
	err_upstream(e, status, NULL, NULL);
	free(t);
	return -1;
}

/* fetch's failure as the sidecar's: the timeout it hit is in fetch's message. */
static int transport_error(struct err *e)
{
	char detail[sizeof(e->msg)];
	snprintf(detail, sizeof(detail), "%s", e->msg);
	if (e->code == ERR_TIMEOUT)
		return err_set(e, ERR_TIMEOUT, "SKR sidecar at %s did not answer (%s)",
		               cfg.sidecar.url, detail);
	return err_set(e, ERR_UNAVAILABLE, "SKR sidecar not reachable at %s (%s)", cfg.sidecar.url,
	               detail);
}

/*
 * One call: method+path, optional JSON body.  0 with resp filled on an HTTP
 * 200; -1 with e set otherwise (resp already freed).
 */
static int call(const char *method, const char *path, struct json_object *body,
                struct fetch_resp *resp, struct err *e)
{
	if (!cfg.sidecar.set)
		return err_set(e, ERR_UNAVAILABLE,
		               "SKR_SIDECAR_URL is empty: no SKR sidecar configured");
	static const char *const json_hdrs[] = {"Content-Type: application/json",
	                                        "Accept: application/json", NULL};
	static const char *const get_hdrs[] = {"Accept: application/json", NULL};
	char *url = xasprintf("%s%s", cfg.sidecar.url, path);
	char *text = body ? jsonx_dump(body) : NULL;
	struct fetch_req rq = {
	    .method = method,
	    .url = url,
	    .headers = body ? json_hdrs : get_hdrs,
	    .body = text,
	    .body_len = text ? strlen(text) : 0,
	};
	int ret = 0;
	if (fetch(&rq, resp, e) < 0)
		ret = transport_error(e);
	else if (resp->status != 200) {
		ret = answer_error(resp->status, &resp->body, e);
		fetch_resp_free(resp);
	}
	free(text);
	free(url);
	return ret;
}

static struct json_object *runtime_body(const uint8_t *runtime, size_t n)
{
	struct json_object *o = json_object_new_object();
	char *b = b64_encode(runtime, n, B64_STD, B64_PAD_REQUIRED);
	jsonx_add_str(o, "runtime_data", b);
	free(b);
	return o;
}

static int check_runtime(const uint8_t *runtime, size_t n, struct err *e)
{
	if (!runtime || n == 0)
		return err_set(
		    e, ERR_BAD_REQUEST,
		    "runtime data is empty: the SKR sidecar rejects an empty runtime_data");
	return 0;
}

static int check_host(const char *name, const char *v, struct err *e)
{
	if (!v || !*v)
		return err_set(e, ERR_BAD_REQUEST, "%s is empty", name);
	if (strstr(v, "://") || strchr(v, '/') || strchr(v, '"'))
		return err_set(e, ERR_BAD_REQUEST,
		               "%s '%.100s' must be host[:port] without scheme or path", name, v);
	return 0;
}

static int sidecar_status_once(long *http_status, char **body, struct err *e)
{
	*http_status = 0;
	*body = NULL;
	if (!cfg.sidecar.set)
		return err_set(e, ERR_UNAVAILABLE,
		               "SKR_SIDECAR_URL is empty: no SKR sidecar configured");
	char *url = xasprintf("%s/status", cfg.sidecar.url);
	struct fetch_req rq = {.url = url};
	struct fetch_resp rs;
	int ret = 0;
	if (fetch(&rq, &rs, e) < 0) {
		ret = transport_error(e);
	} else {
		*http_status = rs.status;
		*body = buf_steal(&rs.body, NULL);
		fetch_resp_free(&rs);
	}
	free(url);
	return ret;
}

/* The first object of a 200 body; a caller-owned object, or -1 with ERR_UPSTREAM. */
static int ok_body(const char *path, struct fetch_resp *rs, struct json_object **out, struct err *e)
{
	if (jsonx_parse((const char *)rs->body.p, rs->body.len, out, e) < 0)
		return err_set(e, ERR_UPSTREAM, "sidecar %s answered 200 with malformed JSON",
		               path);
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return err_set(e, ERR_UPSTREAM, "sidecar %s answered 200 with a non-object", path);
	}
	return 0;
}

static int sidecar_attest_raw_once(const uint8_t *runtime, size_t n,
                                   uint8_t report[SNP_REPORT_SIZE], struct err *e)
{
	if (check_runtime(runtime, n, e) < 0)
		return -1;
	struct json_object *body = runtime_body(runtime, n);
	struct fetch_resp rs;
	int ret = call("POST", "/attest/raw", body, &rs, e);
	json_object_put(body);
	if (ret < 0)
		return -1;
	struct json_object *o;
	if (ok_body("/attest/raw", &rs, &o, e) < 0) {
		fetch_resp_free(&rs);
		return -1;
	}
	const char *hex = jsonx_str(o, "report");
	if (!hex)
		ret =
		    err_set(e, ERR_UPSTREAM, "sidecar /attest/raw answered 200 without \"report\"");
	else if (strlen(hex) != 2 * SNP_REPORT_SIZE ||
	         hex_decode_fixed(hex, report, SNP_REPORT_SIZE) < 0)
		ret =
		    err_set(e, ERR_UPSTREAM,
		            "sidecar /attest/raw returned a report of %zu hex characters; expected "
		            "%d",
		            strlen(hex), 2 * SNP_REPORT_SIZE);
	json_object_put(o);
	fetch_resp_free(&rs);
	return ret;
}

static int sidecar_attest_maa_once(const char *maa_host, const uint8_t *runtime, size_t n,
                                   char **jwt, struct err *e)
{
	*jwt = NULL;
	if (check_host("maa_endpoint", maa_host, e) < 0 || check_runtime(runtime, n, e) < 0)
		return -1;
	struct json_object *body = runtime_body(runtime, n);
	jsonx_add_str(body, "maa_endpoint", maa_host);
	struct fetch_resp rs;
	int ret = call("POST", "/attest/maa", body, &rs, e);
	json_object_put(body);
	if (ret < 0)
		return -1;
	struct json_object *o;
	if (ok_body("/attest/maa", &rs, &o, e) < 0) {
		fetch_resp_free(&rs);
		return -1;
	}
	const char *tok = jsonx_str(o, "token");
	if (!tok || !*tok)
		ret = err_set(e, ERR_UPSTREAM, "sidecar /attest/maa answered 200 without a token");
	else
		*jwt = xstrdup(tok);
	json_object_put(o);
	fetch_resp_free(&rs);
	return ret;
}

/* Overwrite a json-c string value in place before the object is freed. */
static void wipe_json_string(struct json_object *v)
{
	if (v && json_object_is_type(v, json_type_string))
		wipe((void *)(uintptr_t)json_object_get_string(v),
		     (size_t)json_object_get_string_len(v));
}

static int sidecar_key_release_once(const char *maa_host, const char *akv_host, const char *kid,
                                    char **jwk_json, struct err *e)
{
	*jwk_json = NULL;
	if (check_host("maa_endpoint", maa_host, e) < 0 ||
	    check_host("akv_endpoint", akv_host, e) < 0)
		return -1;
	if (!kid || !*kid)
		return err_set(e, ERR_BAD_REQUEST, "kid (the key name) is empty");
	struct json_object *body = json_object_new_object();
	jsonx_add_str(body, "maa_endpoint", maa_host);
	jsonx_add_str(body, "akv_endpoint", akv_host);
	jsonx_add_str(body, "kid", kid);
	struct fetch_resp rs;
	int ret = call("POST", "/key/release", body, &rs, e);
	json_object_put(body);
	if (ret < 0)
		return -1;
	struct json_object *o;
	if (ok_body("/key/release", &rs, &o, e) < 0) {
		fetch_resp_free(&rs);
		return -1;
	}
	struct json_object *k = NULL;
	json_object_object_get_ex(o, "key", &k);
	if (k && json_object_is_type(k, json_type_string) && json_object_get_string_len(k) > 0) {
		*jwk_json = xstrdup(json_object_get_string(k));
		wipe_json_string(k);
	} else {
		ret = err_set(e, ERR_UPSTREAM,
		              "sidecar /key/release answered 200 without a key (expected \"key\" "
		              "to be the JWK as a JSON string)");
	}
	json_object_put(o);
	fetch_resp_free(&rs);
	return ret;
}

int sidecar_status(long *http_status, char **body, struct err *e)
{
	return sidecar_status_once(http_status, body, e) < 0 ? err_in(e, STAGE_SIDECAR) : 0;
}

int sidecar_attest_raw(const uint8_t *runtime, size_t n, uint8_t report[SNP_REPORT_SIZE],
                       struct err *e)
{
	return sidecar_attest_raw_once(runtime, n, report, e) < 0 ? err_in(e, STAGE_SIDECAR) : 0;
}

int sidecar_attest_maa(const char *maa_host, const uint8_t *runtime, size_t n, char **jwt,
                       struct err *e)
{
	return sidecar_attest_maa_once(maa_host, runtime, n, jwt, e) < 0 ? err_in(e, STAGE_SIDECAR)
	                                                                 : 0;
}

int sidecar_key_release(const char *maa_host, const char *akv_host, const char *kid,
                        char **jwk_json, struct err *e)
{
	return sidecar_key_release_once(maa_host, akv_host, kid, jwk_json, e) < 0
	           ? err_in(e, STAGE_SIDECAR)
	           : 0;
}
