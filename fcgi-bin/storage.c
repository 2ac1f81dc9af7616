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
#define MAX_DOWNLOAD (4u << 20)

static const char security_note[] =
	"Everyone with access to the storage account sees these bytes. The record fields are "
	"RSA-OAEP ciphertexts: only the owning company's key, released to its attested TEE, "
	"decrypts them.";

/* One store per process: FastCGI keeps it (and a managed-identity token) across requests. */
static struct blob_store *store(struct err *e)
{
	static struct blob_store *s;
	if (!s && blob_open(&s, e) < 0)
		return NULL;
	return s;
}

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
	struct blob_store *s = store(&e);
	if (!s) {
		struct json_object *x = json_object_new_object();
		jsonx_add_bool(x, "configured", 0);
		jsonx_add_str(x, "backend", cfg.blob_backend);
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

static void list(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	err_clear(&e);
	struct blob_store *s = store(&e);
	if (!s) {
		http_send_err(rs, &e, NULL);
		return;
	}
	struct json_object *arr = NULL;
	if (blob_list(s, NULL, &arr, &e) < 0) {
		struct json_object *x = json_object_new_object();
		add_location(x, s);
		if (e.code == ERR_FORBIDDEN)
			jsonx_add_str(x, "hint", "the credentials need list permission on the container");
		else if (e.code == ERR_UNAVAILABLE)
			jsonx_add_str(x, "hint", "check that the blob store is running and reachable");
		http_send_err(rs, &e, x);
		return;
	}
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
	jsonx_add(o, "blobs", arr);
	char *msg = xasprintf("Found %zu blob%s", n, n == 1 ? "" : "s");
	jsonx_add_str(o, "message", msg);
	free(msg);
	jsonx_add_str(o, "security_note", security_note);
	jsonx_add_bool(o, "authenticated", 1);
	http_send_json(rs, 200, o);
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

static int is_utf8_text(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len = c >= 0xC2 && c <= 0xDF ? 2 : (c & 0xF0) == 0xE0 ? 3
						 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (!len || i + len > n)
			return 0;
		unsigned long cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += len;
	}
	return 1;
}

static void download(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	char *name = decode_name(rq->path + strlen(DOWNLOAD_PREFIX), &e);
	if (!name) {
		http_send_err(rs, &e, NULL);
		return;
	}
	struct json_object *x = json_object_new_object();
	jsonx_add_str(x, "blob_name", name);
	struct blob_store *s = store(&e);
	struct buf body;
	char *etag = NULL, *ctype = NULL;
	buf_init(&body);
	if (!s || blob_get(s, name, &body, &etag, &ctype, &e) < 0) {
		http_send_err(rs, &e, x);
		buf_free(&body);
		free(name);
		return;
	}
	if (!body.p)
		buf_append(&body, "", 0);
	if (body.len > MAX_DOWNLOAD) {
		err_set(&e, ERR_TOO_LARGE, "blob '%s' is %zu bytes; downloads here stop at %u", name,
			body.len, MAX_DOWNLOAD);
		http_send_err(rs, &e, x);
		x = NULL;
	} else {
		struct json_object *o = x;
		int text = is_utf8_text(body.p, body.len);
		jsonx_add_str(o, "status", "success");
		if (text) {
			jsonx_add(o, "content",
				  json_object_new_string_len((const char *)body.p, (int)body.len));
		} else {
			char *b64 = b64_encode(body.p, body.len, B64_STD, B64_PAD_REQUIRED);
			jsonx_add_str(o, "content", b64);
			jsonx_add_str(o, "content_encoding", "base64");
			free(b64);
		}
		jsonx_add_bool(o, "is_text", text);
		jsonx_add_int(o, "size", (long long)body.len);
		jsonx_add_str(o, "content_type", ctype);
		jsonx_add_str(o, "etag", etag);
		jsonx_add_str(o, "security_note", security_note);
		jsonx_add_bool(o, "authenticated", 1);
		x = NULL;
		http_send_json(rs, 200, o);
	}
	json_object_put(x);
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
