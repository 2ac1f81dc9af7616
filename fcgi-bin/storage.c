/*
 * storage: /storage/config /storage/list /storage/download/<blob>
 *
 * Fields follow the original demo (PROTOCOLS.md §7), with additions (backend,
 * etag).  Differences from the original: the store and container come from
 * configuration; /storage/config never shows a credential; the blob name in
 * a download path is percent-decoded here, strictly, and then checked by
 * blob_name_check, so no traversal or encoded trick reaches the store; a
 * store that is down answers 503 with a message saying which store.
 */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"
#include "config.h"
#include "http.h"
#include "jsonx.h"
#include "records.h"

#define DOWNLOAD_PREFIX "/storage/download/"
#define MAX_DOWNLOAD    (4u << 20)

static const char security_note[] =
    "Everyone with access to the storage account sees these bytes. The record fields are "
    "RSA-OAEP ciphertexts: only the owning company's key, released to its attested TEE, "
    "decrypts them.";

static void add_location(struct json_object *o, struct blob_store *s)
{
	struct json_object *d = blob_describe(s);
	jsonx_add_str(o, "storage_account", jsonx_str(d, "storage_account"));
	jsonx_add_str(o, "container", jsonx_str(d, "container_name"));
	jsonx_add_str(o, "backend", jsonx_str(d, "backend"));
	json_object_put(d);
}

static void config(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	err_clear(&e);
	struct blob_store *s = blob_default(&e);
	if (!s) {
		struct json_object *x = json_object_new_object();
		jsonx_add_bool(x, "configured", 0);
		jsonx_add_str(x, "backend", config_blob_kind_name(cfg.blob_kind));
		http_send_err(rs, &e, x);
		return;
	}
	struct json_object *o = blob_describe(s);
	char *blob = records_blob_name();
	jsonx_add_str(o, "consolidated_blob_name", blob);
	jsonx_add_bool(o, "configured", 1);
	free(blob);
	http_send_json(rs, 200, o);
}

static struct json_object *listing_json(struct blob_store *s, struct json_object *arr)
{
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(arr, i);
		char *url = blob_public_url(s, jsonx_str(b, "name"));
		jsonx_add_str(b, "url", url);
		free(url);
	}
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	add_location(o, s);
	jsonx_add_int(o, "blob_count", (long long)n);
	jsonx_add(o, "blobs", json_object_get(arr));
	char *msg = xasprintf("Found %zu blob%s", n, n == 1 ? "" : "s");
	jsonx_add_str(o, "message", msg);
	free(msg);
	jsonx_add_str(o, "security_note", security_note);
	jsonx_add_bool(o, "authenticated", 1);
	return o;
}

static void list(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	err_clear(&e);
	struct blob_store *s = blob_default(&e);
	struct json_object *arr = NULL;
	if (!s || blob_list(s, NULL, &arr, &e) < 0)
		http_send_err(rs, &e, NULL);
	else
		http_send_json(rs, 200, listing_json(s, arr));
	json_object_put(arr);
}

/*
 * Decode the path's blob part.  Only letters, digits and '-' '_' may come
 * percent-encoded: an encoded '.', '/', '%', '\\' or control byte has no
 * honest use here (names never need it) and is how traversal hides.
 */
static char *decode_name(const char *raw, struct err *e)
{
	size_t n = strlen(raw);
	if (!n) {
		err_set(e, ERR_BAD_REQUEST, "no blob name after " DOWNLOAD_PREFIX);
		return NULL;
	}
	if (n > 3 * BLOB_NAME_MAX) {
		err_set(e, ERR_BAD_REQUEST, "blob name longer than %d bytes", BLOB_NAME_MAX);
		return NULL;
	}
	char *out;
	int refused;
	if (pct_decode(raw, n, PCT_ONLY_UNRESERVED, &out, &refused) < 0) {
		if (refused < 0)
			err_set(e, ERR_BAD_REQUEST, "malformed percent-encoding in the blob name");
		else
			err_set(e, ERR_BAD_REQUEST,
			        "the blob name may not hide '%%%02X' in percent-encoding", refused);
		return NULL;
	}
	if (blob_name_check(out, e) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Text the page can show as it is: UTF-8 without NUL bytes. */
static int is_text(const unsigned char *p, size_t n)
{
	return !memchr(p, '\0', n) && utf8_invalid_at(p, n) == n;
}

static struct json_object *blob_json(const char *name, const struct buf *body, const char *etag,
                                     const char *ctype)
{
	struct json_object *o = json_object_new_object();
	int text = is_text(body->p, body->len);
	jsonx_add_str(o, "blob_name", name);
	jsonx_add_str(o, "status", "success");
	if (text) {
		jsonx_add(o, "content",
		          json_object_new_string_len((const char *)body->p, (int)body->len));
	} else {
		char *b64 = b64_encode(body->p, body->len, B64_STD, B64_PAD_REQUIRED);
		jsonx_add_str(o, "content", b64);
		jsonx_add_str(o, "content_encoding", "base64");
		free(b64);
	}
	jsonx_add_bool(o, "is_text", text);
	jsonx_add_int(o, "size", (long long)body->len);
	jsonx_add_str(o, "content_type", ctype);
	jsonx_add_str(o, "etag", etag);
	jsonx_add_str(o, "security_note", security_note);
	jsonx_add_bool(o, "authenticated", 1);
	return o;
}

static int within_limit(const char *name, const struct buf *body, struct err *e)
{
	if (body->len <= MAX_DOWNLOAD)
		return 0;
	err_set(e, ERR_TOO_LARGE, "blob '%s' is %zu bytes; downloads here stop at %u", name,
	        body->len, MAX_DOWNLOAD);
	return err_in(e, STAGE_STORE);
}

static void download(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct blob_store *s = NULL;
	struct buf body;
	char *etag = NULL, *ctype = NULL;
	err_clear(&e);
	buf_init(&body);
	char *name = decode_name(rq->path + strlen(DOWNLOAD_PREFIX), &e);
	if (!name || !(s = blob_default(&e)) || blob_get(s, name, &body, &etag, &ctype, &e) < 0 ||
	    within_limit(name, &body, &e) < 0) {
		struct json_object *x = json_object_new_object();
		jsonx_add_str(x, "blob_name", name);
		http_send_err(rs, &e, x);
	} else {
		if (!body.p)
			buf_append(&body, "", 0);
		http_send_json(rs, 200, blob_json(name, &body, etag, ctype));
	}
	buf_free(&body);
	free(etag);
	free(ctype);
	free(name);
}

static const struct http_route routes[] = {
    {"GET", "/storage/config", 0, config},
    {"GET", "/storage/list", 0, list},
    {"GET", DOWNLOAD_PREFIX, 1, download},
};

int main(void)
{
	return http_main("storage", routes, NELEM(routes));
}
