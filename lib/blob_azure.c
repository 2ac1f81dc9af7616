/*
 * The Azure Blob Storage REST backend of blob.h (also Azurite).
 *
 * Credentials, one per store:
 *   SAS          the connection string's SharedAccessSignature, appended to each URL;
 *   Shared Key   the connection string's AccountKey, an HMAC-SHA256 over the
 *                canonical request (PROTOCOLS.md §6) in an Authorization header;
 *   Managed Id   a bearer token for https://storage.azure.com/ from identity_token
 *                (IMDS, cached there until five minutes before it expires).
 * The SAS, the key bytes and the token are secrets: they are wiped when done,
 * never put into an error message (URLs in messages are the public ones,
 * without the query string), and never described.
 *
 * Plain http is accepted only for loopback endpoints (Azurite), so a
 * connection string can never send a real account's credentials in clear.
 * List pages and error bodies are read by blob_xml (libexpat), never here.
 */
#include "blob.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blob_xml.h"
#include "codec.h"
#include "config.h"
#include "connstr.h"
#include "fetch.h"
#include "identity.h"
#include "jsonx.h"

#define AZ_VERSION       "2021-08-06"
#define STORAGE_RESOURCE "https://storage.azure.com/"
#define AZ_MAX_BLOB      (64u << 20)
#define AZ_MAX_PAGES     10000
enum az_auth { AUTH_SAS, AUTH_KEY, AUTH_MI };

struct az_store {
	enum az_auth auth;
	char *endpoint;   /* "scheme://host[:port][/path]", no trailing '/' */
	const char *path; /* the /path part of endpoint, "" when none */
	char *account;
	char *container;
	char *sas;          /* secret: query string without '?' */
	unsigned char *key; /* secret: decoded account key */
	size_t keylen;
};

/* ---- small parsers ---- */

static int host_is_loopback(const char *h, size_t n)
{
	/* Without the port: "127.0.0.1:10000", "[::1]:10000". */
	const char *colon = h[0] == '[' ? memchr(h, ']', n) : memchr(h, ':', n);
	if (colon && h[0] == '[')
		colon++;
	if (colon && colon < h + n)
		n = (size_t)(colon - h);
	if ((n == 9 && !strncasecmp(h, "localhost", 9)) || (n == 5 && !strncmp(h, "[::1]", 5)))
		return 1;
	if (n < 4 || strncmp(h, "127.", 4))
		return 0;
	for (size_t i = 4; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			return 0;
	return 1;
}

/*
 * Split "scheme://host[:port][/path]" into a normalised endpoint (without
 * trailing '/'), checking every character.  what names the variable.
 */
static int parse_url(const char *what, const char *url, char **endpoint, char **path_out,
                     char **host_out, struct err *e)
{
	const char *h;
	int http = 0;
	if (!strncasecmp(url, "https://", 8)) {
		h = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		h = url + 7;
		http = 1;
	} else {
		return err_set(e, ERR_BAD_REQUEST, "%s: the blob endpoint must start with https://",
		               what);
	}
	size_t hl = strcspn(h, "/");
	if (!hl || hl > 253)
		return err_set(e, ERR_BAD_REQUEST, "%s: the blob endpoint has no host", what);
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr(".-:[]", h[i]))
			return err_set(e, ERR_BAD_REQUEST,
			               "%s: invalid character in the blob endpoint's host", what);
	if (http && !host_is_loopback(h, hl))
		return err_set(
		    e, ERR_BAD_REQUEST,
		    "%s: plain http is allowed only for a loopback emulator; use https://", what);
	const char *p = h + hl;
	size_t pl = strlen(p);
	while (pl && p[pl - 1] == '/')
		pl--;
	for (size_t i = 0; i < pl; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr("/._-", p[i]))
			return err_set(e, ERR_BAD_REQUEST,
			               "%s: invalid character in the blob endpoint's path", what);
	if (pl > 512)
		return err_set(e, ERR_BAD_REQUEST, "%s: blob endpoint path too long", what);
	*endpoint = xasprintf("%s://%.*s%.*s", http ? "http" : "https", (int)hl, h, (int)pl, p);
	if (path_out)
		*path_out = xstrndup(p, pl);
	if (host_out)
		*host_out = xstrndup(h, hl);
	return 0;
}

static int container_ok(const char *c)
{
	size_t n = strlen(c);
	if (!strcmp(c, "$root"))
		return 1;
	if (n < 3 || n > 63 || c[0] == '-' || c[n - 1] == '-' || strstr(c, "--"))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)c[i]) || isdigit((unsigned char)c[i]) || c[i] == '-'))
			return 0;
	return 1;
}

/* The URL-decoded value of query parameter name in q, or NULL. */
static char *query_param(const char *q, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = q; p && *p;) {
		size_t len = strcspn(p, "&");
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			char *v;
			if (pct_decode(p + nl + 1, len - nl - 1, PCT_PLUS_SPACE, &v, NULL) < 0)
				return NULL;
			return v;
		}
		p = p[len] ? p + len + 1 : NULL;
	}
	return NULL;
}

/* ISO 8601 date or date-time in UTC ("2026-02-10", "2026-02-10T00:00Z", "...:00.5Z"). */
static int parse_iso(const char *s, time_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -1;
	const char *p = s + n;
	if (*p == 'T') {
		int m = 0;
		if (sscanf(p, "T%2d:%2d%n", &h, &mi, &m) != 2 || m != 6)
			return -1;
		p += m;
		if (*p == ':') {
			if (sscanf(p, ":%2d%n", &sec, &m) != 1 || m != 3)
				return -1;
			p += m;
			if (*p == '.')
				for (p++; isdigit((unsigned char)*p); p++)
					;
		}
		if (*p == 'Z')
			p++;
		else if (!strcmp(p, "+00:00"))
			p += 6;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return 0;
}

static char *rfc1123_now(void)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	return xasprintf("%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
	                 mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- requests ---- */

struct qparam {
	const char *name;  /* lowercase */
	const char *value; /* not encoded */
};

static char *blob_path(struct az_store *a, const char *name)
{
	struct buf b;
	buf_init(&b);
	buf_appendf(&b, "%s/%s", a->path, a->container);
	if (name) {
		buf_append(&b, "/", 1);
		/* Names are checked to [A-Za-z0-9._-/]; escape per segment all the same. */
		const char *seg = name;
		for (;;) {
			const char *slash = strchr(seg, '/');
			char *part = xstrndup(seg, slash ? (size_t)(slash - seg) : strlen(seg));
			char *esc = fetch_escape(part);
			buf_append(&b, esc, strlen(esc));
			free(part);
			free(esc);
			if (!slash)
				break;
			buf_append(&b, "/", 1);
			seg = slash + 1;
		}
	}
	return buf_steal(&b, NULL);
}

static int qcmp(const void *x, const void *y)
{
	return strcmp(((const struct qparam *)x)->name, ((const struct qparam *)y)->name);
}

static int sign_shared_key(struct az_store *a, const char *method, const char *path,
                           struct qparam *q, size_t nq, size_t len, const char *ctype,
                           const char *if_match, const char *if_none_match, const char *date,
                           int blob_type, char **auth)
{
	struct buf s;
	buf_init(&s);
	char clen[32] = "";
	if (len)
		snprintf(clen, sizeof(clen), "%zu", len);
	buf_appendf(&s, "%s\n\n\n%s\n\n%s\n\n\n%s\n%s\n\n\n", method, clen, ctype ? ctype : "",
	            if_match ? if_match : "", if_none_match ? if_none_match : "");
	if (blob_type)
		buf_appendf(&s, "x-ms-blob-type:BlockBlob\n");
	buf_appendf(&s, "x-ms-date:%s\nx-ms-version:%s\n", date, AZ_VERSION);
	buf_appendf(&s, "/%s%s", a->account, path);
	qsort(q, nq, sizeof(*q), qcmp);
	for (size_t i = 0; i < nq; i++)
		buf_appendf(&s, "\n%s:%s", q[i].name, q[i].value);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int ok = HMAC(EVP_sha256(), a->key, (int)a->keylen, s.p, s.len, mac, &maclen) != NULL;
	buf_free(&s);
	if (!ok)
		return -1;
	char *sig = b64_encode(mac, maclen, B64_STD, B64_PAD_REQUIRED);
	*auth = xasprintf("Authorization: SharedKey %s:%s", a->account, sig);
	free(sig);
	return 0;
}

/* ---- managed identity ---- */

/*
 * A bearer token for storage from identity_token (which caches it); caller frees
 * with free_secret_str.  It goes into a header line, so it must be one word of
 * visible ASCII.
 */
static int mi_token(char **token, struct err *e)
{
	if (identity_token(STORAGE_RESOURCE, token, e) < 0) {
		/* IMDS refusing is storage's dependency failing, not the browser's fault. */
		if (e->code == ERR_UNAUTHORIZED)
			e->code = ERR_UPSTREAM;
		return err_wrap(e, "managed identity for blob storage");
	}
	int ok = strlen(*token) <= 16384;
	for (const char *p = *token; ok && *p; p++)
		ok = (unsigned char)*p > 0x20 && (unsigned char)*p <= 0x7e;
	if (!ok) {
		free_secret_str(*token);
		*token = NULL;
		return err_set(e, ERR_UPSTREAM, "managed identity: malformed access_token");
	}
	return 0;
}

/* scheme://host[:port] of the endpoint followed by path (a blob_path). */
static char *origin_url(const struct az_store *a, const char *path)
{
	const char *host_end = strstr(a->endpoint, "://") + 3;
	host_end += strcspn(host_end, "/");
	return xasprintf("%.*s%s", (int)(host_end - a->endpoint), a->endpoint, path);
}

struct az_call {
	const char *method;
	const char *name; /* NULL: the container itself */
	struct qparam q[6];
	size_t nq;
	const void *body;
	size_t len;
	const char *ctype; /* PUT only */
	const char *if_match;
	const char *if_none_match; /* "*" (PUT: only a new blob) or an ETag (GET: 304 if it is) */
	int blob_type;
};

static int az_do(struct az_store *a, struct az_call *c, struct fetch_resp *resp, struct err *e)
{
	char *token = NULL;
	if (a->auth == AUTH_MI && mi_token(&token, e) < 0)
		return -1;
	char *path = blob_path(a, c->name);
	char *public_url = origin_url(a, path);
	struct buf url;
	buf_init(&url);
	buf_append(&url, public_url, strlen(public_url));
	for (size_t i = 0; i < c->nq; i++) {
		char *v = fetch_escape(c->q[i].value);
		buf_appendf(&url, "%c%s=%s", i ? '&' : '?', c->q[i].name, v);
		free(v);
	}
	if (a->auth == AUTH_SAS)
		buf_appendf(&url, "%c%s", c->nq ? '&' : '?', a->sas);

	char *date = rfc1123_now();
	char *h_date = xasprintf("x-ms-date: %s", date);
	char *h_ctype = NULL, *h_im = NULL, *h_inm = NULL, *auth = NULL;
	const char *headers[10];
	size_t nh = 0;
	headers[nh++] = h_date;
	headers[nh++] = "x-ms-version: " AZ_VERSION;
	if (c->blob_type)
		headers[nh++] = "x-ms-blob-type: BlockBlob";
	if (!strcmp(c->method, "PUT")) {
		/* "Content-Type:" with no value stops libcurl adding a form type we did not sign.
		 */
		h_ctype =
		    c->ctype ? xasprintf("Content-Type: %s", c->ctype) : xstrdup("Content-Type:");
		headers[nh++] = h_ctype;
	}
	if (c->if_match) {
		h_im = xasprintf("If-Match: %s", c->if_match);
		headers[nh++] = h_im;
	}
	if (c->if_none_match) {
		h_inm = xasprintf("If-None-Match: %s", c->if_none_match);
		headers[nh++] = h_inm;
	}
	int rc = 0;
	if (a->auth == AUTH_KEY) {
		if (sign_shared_key(a, c->method, path, c->q, c->nq, c->len, c->ctype, c->if_match,
		                    c->if_none_match, date, c->blob_type, &auth) < 0)
			rc = err_set(e, ERR_INTERNAL, "cannot compute the SharedKey signature");
	} else if (a->auth == AUTH_MI) {
		auth = xasprintf("Authorization: Bearer %s", token);
	}
	if (auth)
		headers[nh++] = auth;
	headers[nh] = NULL;
	if (rc == 0) {
		struct fetch_req rq = {
		    .method = c->method,
		    .url = (char *)url.p,
		    .headers = headers,
		    .body = c->body,
		    .body_len = c->len,
		    .max_resp = AZ_MAX_BLOB,
		    /* The URL may carry a SAS: messages name the public one. */
		    .shown_url = public_url,
		};
		rc = fetch(&rq, resp, e);
		if (rc < 0)
			err_wrap(e, "blob storage");
	}
	free_secret_str(auth);
	free_secret_str(token);
	free(h_date);
	free(h_ctype);
	free(h_im);
	free(h_inm);
	free(date);
	free(path);
	free(public_url);
	wipe(url.p, url.len);
	buf_free(&url);
	return rc;
}

/* Map a service error response to an err a user can act on. */
static int az_fail(struct az_store *a, const char *op, const char *name, struct fetch_resp *r,
                   struct err *e)
{
	char *code = NULL, *msg = NULL;
	struct err xe;
	/* A body that is not an <Error> document (a proxy's HTML page...) is said so, not mined. */
	if (r->body.len &&
	    blob_xml_parse_error((const char *)r->body.p, r->body.len, &code, &msg, &xe) < 0)
		msg = xstrdup(xe.msg);
	if (r->ms_error_code) {
		free(code);
		code = xstrdup(r->ms_error_code);
	}
	if (!code)
		code = xstrdup("");
	err_blank_controls(code);
	if (msg) {
		msg[strcspn(msg, "\r\n")] = '\0';
		err_blank_controls(msg);
	}
	const char *what = name ? name : a->container;
	long st = r->status;
	int rc;
	if (st == 404 && !strcmp(code, "ContainerNotFound"))
		rc = err_set(e, ERR_UNAVAILABLE,
		             "storage container '%s' does not exist in account '%s' "
		             "(ContainerNotFound): create it or set STORAGE_CONTAINER",
		             a->container, a->account);
	else if (st == 404)
		rc = err_set(e, ERR_NOT_FOUND, "blob '%s' not found%s%s%s", what, *code ? " (" : "",
		             code, *code ? ")" : "");
	else if (st == 412 || (st == 409 && !strcmp(code, "BlobAlreadyExists")))
		rc = err_set(e, ERR_PRECONDITION, "blob '%s' was changed by another writer (%s)",
		             what, *code ? code : "precondition failed");
	else if (st == 409)
		rc = err_set(e, ERR_CONFLICT, "%s '%s': storage reports a conflict (%s)", op, what,
		             code);
	else if ((st == 401 || st == 403) && (!strcmp(code, "AuthorizationPermissionMismatch") ||
	                                      !strcmp(code, "AuthorizationFailure") ||
	                                      !strcmp(code, "AuthorizationResourceTypeMismatch") ||
	                                      !strcmp(code, "AuthorizationServiceMismatch")))
		rc =
		    err_set(e, ERR_FORBIDDEN, "storage refused to %s '%s' (%s): %s", op, what, code,
		            a->auth == AUTH_MI
		                ? "give the managed identity the 'Storage Blob Data "
		                  "Contributor' role on the account"
		                : "the SAS needs read, write and list permissions (sp=rwl) on "
		                  "blobs and the container");
	else if (st == 401 || st == 403) {
		int expired = 0;
		if (a->auth == AUTH_SAS) {
			char *se = query_param(a->sas, "se");
			time_t t;
			expired = se && parse_iso(se, &t) == 0 && t < time(NULL);
			free(se);
		}
		if (a->auth == AUTH_MI)
			rc = err_set(e, ERR_FORBIDDEN,
			             "storage rejected the managed identity's token (%s): check "
			             "AZURE_CLIENT_ID and the identity's role assignments",
			             *code ? code : "HTTP 403");
		else if (expired)
			rc =
			    err_set(e, ERR_FORBIDDEN,
			            "storage rejected the credentials (%s): the SAS in "
			            "AZURE_STORAGE_CONNECTION_STRING has expired; create a new one",
			            *code ? code : "HTTP 403");
		else
			rc = err_set(e, ERR_FORBIDDEN,
			             "storage rejected the credentials (%s): check "
			             "AZURE_STORAGE_CONNECTION_STRING (SAS expired?)",
			             *code ? code : "HTTP 403");
	} else if (st >= 500)
		rc = err_set(
		    e, ERR_UNAVAILABLE,
		    "blob storage is unavailable: %s '%s' got HTTP %ld%s%s%s; try again later", op,
		    what, st, *code ? " (" : "", code, *code ? ")" : "");
	else
		rc = err_set(e, ERR_UPSTREAM,
		             "blob storage refused to %s '%s': HTTP %ld%s%s%s%.200s", op, what, st,
		             *code ? " " : "", code, msg && *msg ? ": " : "", msg ? msg : "");
	e->upstream_status = (int)st;
	free(code);
	free(msg);
	return rc;
}

/* ---- operations ---- */

/* GET, with If-None-Match: known when known is set: 1 when the service answers 304. */
static int az_read(void *impl, const char *name, const char *known, struct buf *body, char **etag,
                   char **ctype, struct err *e)
{
	struct az_store *a = impl;
	struct az_call c = {.method = "GET", .name = name, .if_none_match = known};
	struct fetch_resp r = {0};
	if (az_do(a, &c, &r, e) < 0)
		return -1;
	int rc;
	if (known && r.status == 304) {
		rc = 1;
	} else if (r.status == 200) {
		buf_append(body, r.body.p, r.body.len);
		if (etag)
			*etag = r.etag ? xstrdup(r.etag) : NULL;
		if (ctype)
			*ctype =
			    xstrdup(r.content_type ? r.content_type : "application/octet-stream");
		rc = 0;
		if (etag && !*etag)
			rc = err_set(e, ERR_UPSTREAM, "blob storage sent '%s' without an ETag",
			             name);
	} else {
		rc = az_fail(a, "read", name, &r, e);
	}
	fetch_resp_free(&r);
	return rc;
}

static int az_get(void *impl, const char *name, struct buf *body, char **etag, char **ctype,
                  struct err *e)
{
	return az_read(impl, name, NULL, body, etag, ctype, e);
}

static int az_put(void *impl, const char *name, const void *data, size_t len, const char *ctype,
                  const char *if_match, int if_none_match_star, char **new_etag, struct err *e)
{
	struct az_store *a = impl;
	struct az_call c = {
	    .method = "PUT",
	    .name = name,
	    .body = data,
	    .len = len,
	    .ctype = ctype,
	    .if_match = if_match,
	    .if_none_match = if_none_match_star ? "*" : NULL,
	    .blob_type = 1,
	};
	struct fetch_resp r = {0};
	if (az_do(a, &c, &r, e) < 0)
		return -1;
	int rc;
	if (r.status == 201 || r.status == 200) {
		rc = 0;
		if (new_etag)
			*new_etag = r.etag ? xstrdup(r.etag) : NULL;
	} else {
		rc = az_fail(a, "write", name, &r, e);
	}
	fetch_resp_free(&r);
	return rc;
}

static int az_list(void *impl, const char *prefix, unsigned page_size, struct json_object *arr,
                   struct err *e)
{
	struct az_store *a = impl;
	char *marker = NULL;
	char maxres[16];
	snprintf(maxres, sizeof(maxres), "%u", page_size);
	for (int page = 0; page < AZ_MAX_PAGES; page++) {
		struct az_call c = {.method = "GET"};
		c.q[c.nq++] = (struct qparam){"restype", "container"};
		c.q[c.nq++] = (struct qparam){"comp", "list"};
		if (*prefix)
			c.q[c.nq++] = (struct qparam){"prefix", prefix};
		if (marker)
			c.q[c.nq++] = (struct qparam){"marker", marker};
		if (page_size)
			c.q[c.nq++] = (struct qparam){"maxresults", maxres};
		struct fetch_resp r = {0};
		int rc = az_do(a, &c, &r, e);
		if (rc == 0 && r.status != 200)
			rc = az_fail(a, "list", NULL, &r, e);
		free(marker);
		marker = NULL;
		if (rc == 0)
			rc = blob_xml_parse_list((const char *)r.body.p, r.body.len, arr, &marker,
			                         e);
		fetch_resp_free(&r);
		if (rc < 0) {
			free(marker);
			return -1;
		}
		if (!marker)
			return 0;
	}
	free(marker);
	return err_set(e, ERR_UPSTREAM, "blob storage listing did not end after %d pages",
	               AZ_MAX_PAGES);
}

static int az_ensure(void *impl, struct err *e)
{
	struct az_store *a = impl;
	struct az_call c = {.method = "PUT"};
	c.q[c.nq++] = (struct qparam){"restype", "container"};
	struct fetch_resp r = {0};
	if (az_do(a, &c, &r, e) < 0)
		return -1;
	int rc = 0;
	if (r.status != 201 && !(r.status == 409 && r.ms_error_code &&
	                         !strcmp(r.ms_error_code, "ContainerAlreadyExists")))
		rc = az_fail(a, "create container", NULL, &r, e);
	fetch_resp_free(&r);
	return rc;
}

static void az_describe(void *impl, struct json_object *o)
{
	struct az_store *a = impl;
	static const char *const methods[] = {"SAS Token", "Shared Key", "Managed Identity"};
	char *curl = xasprintf("%s/%s", a->endpoint, a->container);
	jsonx_add_str(o, "storage_account", a->account);
	jsonx_add_str(o, "container_name", a->container);
	jsonx_add_str(o, "blob_endpoint", a->endpoint);
	jsonx_add_str(o, "container_url", curl);
	jsonx_add_str(o, "auth_method", methods[a->auth]);
	jsonx_add_bool(o, "authenticated", 1);
	free(curl);
	if (a->auth != AUTH_SAS) {
		jsonx_add(o, "sas_expiry", NULL);
		return;
	}
	struct json_object *x = json_object_new_object();
	char *se = query_param(a->sas, "se");
	time_t t;
	if (!se) {
		jsonx_add_str(x, "error", "the SAS has no expiry (se) parameter");
	} else if (parse_iso(se, &t) < 0) {
		jsonx_add_str(x, "error", "the SAS expiry (se) is not an ISO 8601 date");
	} else {
		struct tm tm;
		char fmt[64];
		gmtime_r(&t, &tm);
		strftime(fmt, sizeof(fmt), "%Y-%m-%d %H:%M:%S UTC", &tm);
		long long left = (long long)t - now_unix();
		/* Python's timedelta.days floors, as the original computed it. */
		long long days = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
		jsonx_add_str(x, "expiry_date", se);
		jsonx_add_str(x, "expiry_formatted", fmt);
		jsonx_add_int(x, "days_remaining", days);
		jsonx_add_bool(x, "is_expired", left < 0);
		jsonx_add_bool(x, "is_expiring_soon", left >= 0 && days <= 7);
	}
	free(se);
	jsonx_add(o, "sas_expiry", x);
}

static char *az_public_url(void *impl, const char *name)
{
	struct az_store *a = impl;
	char *path = blob_path(a, name);
	char *u = origin_url(a, path);
	free(path);
	return u;
}

static void az_close(void *impl)
{
	struct az_store *a = impl;
	if (!a)
		return;
	free(a->endpoint);
	free((char *)a->path);
	free(a->account);
	free(a->container);
	free_secret_str(a->sas);
	if (a->key) {
		wipe(a->key, a->keylen);
		free(a->key);
	}
	free(a);
}

static const struct blob_ops az_ops = {
    .kind = BLOB_KIND_AZURE,
    .get = az_get,
    .get_if_changed = az_read,
    .put = az_put,
    .list = az_list,
    .ensure_container = az_ensure,
    .describe = az_describe,
    .public_url = az_public_url,
    .close = az_close,
};

/* ---- construction ---- */

/* Account from a path-style endpoint ("/devstoreaccount1") or the host's first label. */
static char *account_from(const char *path, const char *host)
{
	if (*path)
		return xstrndup(path + 1, strcspn(path + 1, "/"));
	return xstrndup(host, strcspn(host, ".:"));
}

int blob_azure_new_conn(const struct connstr *cs, const char *container,
                        const struct blob_ops **ops, void **impl, struct err *e)
{
	char *host = NULL, *path = NULL;
	if (!container || !container_ok(container))
		return err_set(e, ERR_CONFIG,
		               "STORAGE_CONTAINER: not a valid container name (3-63 lowercase "
		               "letters, digits and '-')");
	struct az_store *a = xcalloc(1, sizeof(*a));
	if (parse_url(CONNSTR_VAR, cs->endpoint, &a->endpoint, &path, &host, e) < 0) {
		az_close(a);
		return -1;
	}
	a->path = path;
	a->account = cs->account ? xstrdup(cs->account) : account_from(a->path, host);
	free(host);
	if (!connstr_account_ok(a->account)) {
		az_close(a);
		return err_set(e, ERR_CONFIG,
		               CONNSTR_VAR ": AccountName must be 1-64 letters and digits");
	}
	a->container = xstrdup(container);
	if (cs->auth == CONNSTR_SAS) {
		a->sas = xstrdup(cs->sas);
		a->auth = AUTH_SAS;
	} else {
		a->key = xmalloc(cs->keylen);
		memcpy(a->key, cs->key, cs->keylen);
		a->keylen = cs->keylen;
		a->auth = AUTH_KEY;
	}
	*ops = &az_ops;
	*impl = a;
	return 0;
}

int blob_azure_new_url(const char *url, const struct blob_ops **ops, void **impl, struct err *e)
{
	char *ep = NULL, *path = NULL, *host = NULL;
	if (!url || !*url)
		return err_set(e, ERR_UNAVAILABLE, "AZURE_STORAGE_ACCOUNT_URL is empty");
	if (strchr(url, '?'))
		return err_set(e, ERR_BAD_REQUEST,
		               "AZURE_STORAGE_ACCOUNT_URL: no query string (put a SAS into "
		               "AZURE_STORAGE_CONNECTION_STRING instead)");
	if (parse_url("AZURE_STORAGE_ACCOUNT_URL", url, &ep, &path, &host, e) < 0)
		return -1;
	char *slash = strrchr(path, '/');
	if (!slash || !slash[1] || !container_ok(slash + 1)) {
		free(ep);
		free(path);
		free(host);
		return err_set(e, ERR_BAD_REQUEST,
		               "AZURE_STORAGE_ACCOUNT_URL: write it as "
		               "https://<account>.blob.core.windows.net/<container>");
	}
	struct az_store *a = xcalloc(1, sizeof(*a));
	a->container = xstrdup(slash + 1);
	size_t eplen = strlen(ep) - strlen(slash);
	ep[eplen] = '\0';
	*slash = '\0';
	a->endpoint = ep;
	a->path = path;
	a->account = account_from(path, host);
	free(host);
	a->auth = AUTH_MI;
	if (!connstr_account_ok(a->account)) {
		az_close(a);
		return err_set(e, ERR_BAD_REQUEST,
		               "AZURE_STORAGE_ACCOUNT_URL: no account name in it");
	}
	*ops = &az_ops;
	*impl = a;
	return 0;
}
