/*
 * The Azure Blob backend's requests, through blob.c, against scripted answers
 * (fixture.h): get, put (conditional) and list (paged) with SharedKey, SAS and a
 * managed identity; every status blob_azure.c tells apart, malformed answers, a
 * timeout, a cut answer and nobody listening.  SharedKey signatures are recomputed here
 * from the specification (PROTOCOLS.md §6), not with the client's code.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <strings.h>

#include "blob.h"
#include "codec.h"
#include "config.h"
#include "fixture.h"
#include "jsonx.h"
#include "testlib.h"

#define ACCOUNT "devstoreaccount1"
#define KEY                                                                                        \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define SAS     "sv=2022-11-02&sp=rwl&se=2099-01-01T00:00:00Z&sig=c2VjcmV0%2Bc2ln%3D"
#define SAS_OLD "sv=2022-11-02&sp=rwl&se=2020-01-01T00:00:00Z&sig=b2xkc2ln"
#define SAS_SIG "c2VjcmV0"
#define VERSION "x-ms-version: 2021-08-06"

/* ---- SharedKey, from the specification ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *pct_decoded(const char *s, size_t n)
{
	char *o = xmalloc(n + 1), *w = o;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (s[i] == '%' && i + 2 < n + 1 && sscanf(s + i + 1, "%2x", &v) == 1) {
			*w++ = (char)v;
			i += 2;
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	return o;
}

static const char *hv(const struct fx_request *r, const char *name)
{
	const char *v = fx_header(r, name);
	return v ? v : "";
}

/* Authorization: SharedKey devstoreaccount1:<b64(HMAC-SHA256(key, StringToSign))>. */
static int shared_key_ok(const struct fx_request *r, char *why, size_t n)
{
	struct buf s;
	buf_init(&s);
	const char *cl = hv(r, "Content-Length");
	buf_appendf(&s, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n", r->method,
	            hv(r, "Content-Encoding"), hv(r, "Content-Language"), strcmp(cl, "0") ? cl : "",
	            hv(r, "Content-MD5"), hv(r, "Content-Type"), hv(r, "Date"),
	            hv(r, "If-Modified-Since"), hv(r, "If-Match"), hv(r, "If-None-Match"),
	            hv(r, "If-Unmodified-Since"), hv(r, "Range"));
	char *lines[FX_MAX_HEADERS];
	size_t nl = 0;
	for (size_t i = 0; i < r->nheaders; i++)
		if (!strncasecmp(r->hname[i], "x-ms-", 5)) {
			char *l = xasprintf("%s:%s\n", r->hname[i], r->hvalue[i]);
			for (char *p = l; *p != ':'; p++)
				*p = (char)tolower((unsigned char)*p);
			lines[nl++] = l;
		}
	qsort(lines, nl, sizeof(*lines), cmp_str);
	for (size_t i = 0; i < nl; i++) {
		buf_appendf(&s, "%s", lines[i]);
		free(lines[i]);
	}
	const char *q = strchr(r->target, '?');
	size_t plen = q ? (size_t)(q - r->target) : strlen(r->target);
	char *path = pct_decoded(r->target, plen);
	buf_appendf(&s, "/%s%s", ACCOUNT, path);
	free(path);
	char *params[16];
	size_t np = 0;
	for (const char *p = q ? q + 1 : NULL; p && *p && np < NELEM(params);) {
		size_t len = strcspn(p, "&");
		char *kv = pct_decoded(p, len);
		char *eq = strchr(kv, '=');
		for (char *c = kv; c < (eq ? eq : kv + strlen(kv)); c++)
			*c = (char)tolower((unsigned char)*c);
		if (eq)
			*eq = ':';
		params[np++] = kv;
		p = p[len] ? p + len + 1 : NULL;
	}
	qsort(params, np, sizeof(*params), cmp_str);
	for (size_t i = 0; i < np; i++) {
		buf_appendf(&s, "\n%s", params[i]);
		free(params[i]);
	}
	unsigned char *key = NULL, mac[EVP_MAX_MD_SIZE];
	size_t keylen = 0;
	unsigned maclen = 0;
	int ok = b64_decode(KEY, strlen(KEY), B64_STD, B64_PAD_ANY, &key, &keylen) == 0 &&
	         HMAC(EVP_sha256(), key, (int)keylen, s.p, s.len, mac, &maclen) != NULL;
	char *sig = ok ? b64_encode(mac, maclen, B64_STD, B64_PAD_REQUIRED) : xstrdup("");
	char *want = xasprintf("SharedKey " ACCOUNT ":%s", sig);
	const char *got = fx_header(r, "Authorization");
	ok = ok && got && !strcmp(got, want);
	if (!ok)
		snprintf(why, n, "Authorization \"%s\", expected \"%s\" for\n%s",
		         got ? got : "(none)", want, (char *)s.p);
	free(want);
	free(sig);
	free(key);
	buf_free(&s);
	return ok;
}

/* ---- the requests ---- */

#define P_KEY "/" ACCOUNT "/privateappdata"
#define P_SAS "/acct1/privateappdata"

#define KEY_REQ(m, t, ...)                                                                         \
	{                                                                                          \
		.method = (m), .target = (t), .headers = {VERSION, "x-ms-date", __VA_ARGS__},      \
		.check = shared_key_ok                                                             \
	}
#define SAS_REQ(m, t, ...)                                                                         \
	{                                                                                          \
		.method = (m), .target = (t), .headers = { "!Authorization", __VA_ARGS__ }         \
	}
#define MI_REQ(m, t, ...)                                                                          \
	{                                                                                          \
		.method = (m), .target = (t), .headers = {                                         \
			"Authorization: Bearer tok-st",                                            \
			VERSION,                                                                   \
			__VA_ARGS__                                                                \
		}                                                                                  \
	}
#define IMDS_OK                                                                                    \
	{                                                                                          \
		{.method = "GET",                                                                  \
		 .target = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="      \
		           "https%3A%2F%2Fstorage.azure.com%2F",                                   \
		 .headers = {"Metadata: true"}},                                                   \
		{                                                                                  \
			200, {0},                                                                  \
			    "{\"access_token\":\"tok-st\",\"expires_in\":\"100\",\"token_type\":"  \
			    "\"Bearer\"}"                                                          \
		}                                                                                  \
	}
#define XML_ERROR(code, msg)                                                                       \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>" code "</Code><Message>" msg      \
	"\nRequestId:0000</Message></Error>"
#define AZ_CODE(code) "x-ms-error-code: " code
#define STORE_ERR(c, st, h, ...)                                                                   \
	{                                                                                          \
		.rc = -1, .code = (c), .stage = STAGE_STORE, .upstream = (st), .http = (h),        \
		__VA_ARGS__                                                                        \
	}

#define BLOB_ENTRY(name)                                                                           \
	"<Blob><Name>" name "</Name><Properties><Last-Modified>Mon, 01 Jan 2024 00:00:00 "         \
	"GMT</Last-Modified><Etag>0x8D1</Etag><Content-Length>2</Content-Length><Content-Type>"    \
	"application/json</Content-Type><BlobType>BlockBlob</BlobType></Properties></Blob>"
#define LIST_PAGE(blobs, next)                                                                     \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults "                           \
	"ContainerName=\"privateappdata\"><Blobs>" blobs "</Blobs><NextMarker>" next               \
	"</NextMarker></EnumerationResults>"

enum blob_auth { A_KEY, A_SAS, A_SAS_EXPIRED, A_MI };
enum blob_op { B_GET, B_PUT, B_LIST, B_GET_IF };

struct blob_case {
	const char *name;
	enum blob_auth auth;
	enum blob_op op;
	struct fx_exchange ex[3];
	int refused;
	unsigned long timeout;
	const char *blob;     /* NULL: records.json */
	const char *data;     /* B_PUT: NULL: "[]" */
	const char *if_match; /* B_PUT */
	const char *known;    /* B_GET_IF: the ETag known */
	int if_none_match;    /* B_PUT */
	const char *prefix;   /* B_LIST */
	unsigned page;        /* B_LIST: maxresults */
	struct fx_result want;
	const char *body, *etag, *ctype; /* B_GET, B_GET_IF outputs; B_PUT: etag */
	const char *names;               /* B_LIST: the names, comma-separated */
};

static const struct blob_case blob_cases[] = {
    /* ---- get ---- */
    {"key: get 200",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json", "!x-ms-blob-type", "!Content-Type"),
       {200, {"ETag: \"0x8D1\"", "Content-Type: application/json"}, "[1]"}}},
     .body = "[1]",
     .etag = "\"0x8D1\"",
     .ctype = "application/json"},
    {"key: get 200 chunked, nested name",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/dir/sub/x.json"), {200, {"ETag: \"e\""}, "[1,2,3]", 0, FX_CHUNKED}}},
     .blob = "dir/sub/x.json",
     .body = "[1,2,3]",
     .etag = "\"e\"",
     .ctype = "application/octet-stream"},
    {"key: get 404 BlobNotFound",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"),
       {404,
        {AZ_CODE("BlobNotFound")},
        XML_ERROR("BlobNotFound", "The specified blob does not exist.")}}},
     .want = STORE_ERR(ERR_NOT_FOUND, 404, 404,
                       .msg_is = "blob 'records.json' not found (BlobNotFound)")},
    {"key: get 404 ContainerNotFound",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"),
       {404, {AZ_CODE("ContainerNotFound")}, XML_ERROR("ContainerNotFound", "no container")}}},
     .want = STORE_ERR(ERR_UNAVAILABLE, 404, 503,
                       .msg = "storage container 'privateappdata' does not exist in account "
                              "'devstoreaccount1'")},
    {"key: get 403 AuthenticationFailed",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"),
       {403, {AZ_CODE("AuthenticationFailed")}, XML_ERROR("AuthenticationFailed", "sig")}}},
     .want = STORE_ERR(ERR_FORBIDDEN, 403, 403,
                       .msg = "storage rejected the credentials (AuthenticationFailed)")},
    {"key: get 403 AuthorizationPermissionMismatch",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"),
       {403, {0}, XML_ERROR("AuthorizationPermissionMismatch", "no")}}},
     .want = STORE_ERR(ERR_FORBIDDEN, 403, 403,
                       .msg = "storage refused to read 'records.json' "
                              "(AuthorizationPermissionMismatch)")},
    {"key: get 400 with a message",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"),
       {400, {0}, XML_ERROR("InvalidHeaderValue", "The value for one of the HTTP headers")}}},
     .want = STORE_ERR(ERR_UPSTREAM, 400, 502,
                       .msg = "HTTP 400 InvalidHeaderValue: The value for one of the HTTP headers",
                       .not_msg = "RequestId")},
    {"key: get 400, not XML",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"), {400, {0}, "<html><body>proxy</body>"}}},
     .want = STORE_ERR(ERR_UPSTREAM, 400, 502, .msg = "refused to read 'records.json': HTTP 400",
                       .not_msg = "proxy")},
    {"key: get 500",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"), {500, {AZ_CODE("InternalError")}, ""}}},
     .want = STORE_ERR(ERR_UNAVAILABLE, 500, 503,
                       .msg = "got HTTP 500 (InternalError); try again later")},
    {"key: get 503",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"), {503, {0}, ""}}},
     .want = STORE_ERR(ERR_UNAVAILABLE, 503, 503)},
    {"key: get 200 without an ETag",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"), {200, {0}, "[]"}}},
     .want = STORE_ERR(ERR_UPSTREAM, 0, 502, .msg = "without an ETag")},
    {"key: get, no answer",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"), {.action = FX_HANG}}},
     .timeout = 1,
     .want = STORE_ERR(ERR_TIMEOUT, -1, 504, .msg = "within 1 s")},
    {"key: get, connection closed",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"), {.action = FX_CLOSE}}},
     .want = STORE_ERR(ERR_UNAVAILABLE, -1, 503, .msg = "blob storage")},
    {"key: get, answer cut short",
     A_KEY,
     B_GET,
     {{KEY_REQ("GET", P_KEY "/records.json"), {200, {"ETag: \"e\""}, "[1,2,3,4]", 0, FX_TRUNCATE}}},
     .want = STORE_ERR(ERR_UNAVAILABLE, -1, 503)},
    {"key: get, refused", A_KEY, B_GET, .refused = 1,
     .want = STORE_ERR(ERR_UNAVAILABLE, -1, 503, .msg = "cannot connect")},
    {"bad blob name: nothing sent", A_KEY, B_GET, .blob = "../x",
     .want =
         {.rc = -1, .code = ERR_BAD_REQUEST, .stage = STAGE_REQUEST, .msg = "'..'", .http = 400}},

    /* ---- conditional get: If-None-Match with the ETag known, signed; 304 is "not modified" ----
     */
    {"key: get if changed, 304",
     A_KEY,
     B_GET_IF,
     {{KEY_REQ("GET", P_KEY "/records.json", "If-None-Match: \"0x8D1\"", "!If-Match"),
       {304, {"ETag: \"0x8D1\""}, NULL}}},
     .known = "\"0x8D1\"",
     .want = {.rc = 1}},
    {"key: get if changed, 200",
     A_KEY,
     B_GET_IF,
     {{KEY_REQ("GET", P_KEY "/records.json", "If-None-Match: \"0x8D1\""),
       {200, {"ETag: \"0x8D2\"", "Content-Type: application/json"}, "[2]"}}},
     .known = "\"0x8D1\"",
     .body = "[2]",
     .etag = "\"0x8D2\"",
     .ctype = "application/json"},
    {"key: get if changed, nothing known",
     A_KEY,
     B_GET_IF,
     {{KEY_REQ("GET", P_KEY "/records.json", "!If-None-Match"), {200, {"ETag: \"0x8D1\""}, "[1]"}}},
     .body = "[1]",
     .etag = "\"0x8D1\""},
    {"key: get if changed, a 304 never asked for is not \"not modified\"",
     A_KEY,
     B_GET_IF,
     {{KEY_REQ("GET", P_KEY "/records.json", "!If-None-Match"), {304, {0}, NULL}}},
     .want = STORE_ERR(ERR_UPSTREAM, 304, 502)},
    {"key: get if changed, an ETag no store gives is not sent",
     A_KEY,
     B_GET_IF,
     {{KEY_REQ("GET", P_KEY "/records.json", "!If-None-Match"), {200, {"ETag: \"e\""}, "[]"}}},
     .known = "\"a\r\nx-ms-meta: b\"",
     .body = "[]",
     .etag = "\"e\""},
    {"key: get if changed, gone",
     A_KEY,
     B_GET_IF,
     {{KEY_REQ("GET", P_KEY "/records.json", "If-None-Match: \"0x8D1\""),
       {404,
        {AZ_CODE("BlobNotFound")},
        XML_ERROR("BlobNotFound", "The specified blob does not exist.")}}},
     .known = "\"0x8D1\"",
     .want = STORE_ERR(ERR_NOT_FOUND, 404, 404)},
    {"key: get if changed, 200 without an ETag",
     A_KEY,
     B_GET_IF,
     {{KEY_REQ("GET", P_KEY "/records.json", "If-None-Match: \"0x8D1\""), {200, {0}, "[]"}}},
     .known = "\"0x8D1\"",
     .want = STORE_ERR(ERR_UPSTREAM, 0, 502, .msg = "without an ETag")},

    /* ---- put ---- */
    {"key: put 201",
     A_KEY,
     B_PUT,
     {{{.method = "PUT",
        .target = P_KEY "/records.json",
        .headers = {VERSION, "x-ms-blob-type: BlockBlob", "Content-Type: application/json",
                    "Content-Length: 7", "!If-Match", "!If-None-Match"},
        .body = "[\"new\"]",
        .check = shared_key_ok},
       {201, {"ETag: \"0x8D2\""}, ""}}},
     .data = "[\"new\"]",
     .etag = "\"0x8D2\""},
    {"key: put If-Match 201",
     A_KEY,
     B_PUT,
     {{KEY_REQ("PUT", P_KEY "/records.json", "If-Match: \"0x8D1\"", "!If-None-Match"),
       {201, {"ETag: \"0x8D3\""}, ""}}},
     .if_match = "\"0x8D1\"",
     .etag = "\"0x8D3\""},
    {"key: put If-Match 412",
     A_KEY,
     B_PUT,
     {{KEY_REQ("PUT", P_KEY "/records.json", "If-Match: \"0x8D1\""),
       {412, {AZ_CODE("ConditionNotMet")}, XML_ERROR("ConditionNotMet", "changed")}}},
     .if_match = "\"0x8D1\"",
     .want = STORE_ERR(ERR_PRECONDITION, 412, 412,
                       .msg_is = "blob 'records.json' was changed by another writer "
                                 "(ConditionNotMet)")},
    {"key: put If-None-Match 409 BlobAlreadyExists",
     A_KEY,
     B_PUT,
     {{KEY_REQ("PUT", P_KEY "/records.json", "If-None-Match: *", "!If-Match"),
       {409, {AZ_CODE("BlobAlreadyExists")}, XML_ERROR("BlobAlreadyExists", "exists")}}},
     .if_none_match = 1,
     .want = STORE_ERR(ERR_PRECONDITION, 409, 412, .msg = "(BlobAlreadyExists)")},
    {"key: put 409 other conflict",
     A_KEY,
     B_PUT,
     {{KEY_REQ("PUT", P_KEY "/records.json"),
       {409, {AZ_CODE("LeaseIdMissing")}, XML_ERROR("LeaseIdMissing", "lease")}}},
     .want = STORE_ERR(ERR_CONFLICT, 409, 409,
                       .msg = "write 'records.json': storage reports a conflict (LeaseIdMissing)")},
    {"key: put 403",
     A_KEY,
     B_PUT,
     {{KEY_REQ("PUT", P_KEY "/records.json"), {403, {AZ_CODE("AuthorizationFailure")}, ""}}},
     .want = STORE_ERR(ERR_FORBIDDEN, 403, 403, .msg = "storage refused to write 'records.json'")},
    {"key: put, no answer",
     A_KEY,
     B_PUT,
     {{KEY_REQ("PUT", P_KEY "/records.json"), {.action = FX_HANG}}},
     .timeout = 1,
     .want = STORE_ERR(ERR_TIMEOUT, -1, 504)},

    /* ---- list, followed page by page ---- */
    {"key: list with a prefix, two pages",
     A_KEY,
     B_LIST,
     {{KEY_REQ("GET", P_KEY "?restype=container&comp=list&prefix=r&maxresults=1"),
       {200, {"Content-Type: application/xml"}, LIST_PAGE(BLOB_ENTRY("r2.json"), "2!8!MDAw")}},
      {KEY_REQ("GET",
               P_KEY "?restype=container&comp=list&prefix=r&marker=2%218%21MDAw&maxresults=1"),
       {200, {0}, LIST_PAGE(BLOB_ENTRY("r1.json"), ""), 0, FX_CHUNKED}}},
     .prefix = "r",
     .page = 1,
     .names = "r1.json,r2.json"},
    {"key: list, all, one page",
     A_KEY,
     B_LIST,
     {{KEY_REQ("GET", P_KEY "?restype=container&comp=list"),
       {200, {0}, LIST_PAGE(BLOB_ENTRY("b") BLOB_ENTRY("a"), "")}}},
     .names = "a,b"},
    {"key: list, malformed XML",
     A_KEY,
     B_LIST,
     {{KEY_REQ("GET", P_KEY "?restype=container&comp=list"),
       {200, {0}, "<EnumerationResults><Blobs>"}}},
     .want = STORE_ERR(ERR_UPSTREAM, 0, 502)},
    {"key: list, second page fails",
     A_KEY,
     B_LIST,
     {{KEY_REQ("GET", P_KEY "?restype=container&comp=list"),
       {200, {0}, LIST_PAGE(BLOB_ENTRY("a"), "m2")}},
      {KEY_REQ("GET", P_KEY "?restype=container&comp=list&marker=m2"), {503, {0}, ""}}},
     .want = STORE_ERR(ERR_UNAVAILABLE, 503, 503, .msg = "list 'privateappdata'")},
    {"key: list 404 ContainerNotFound",
     A_KEY,
     B_LIST,
     {{KEY_REQ("GET", P_KEY "?restype=container&comp=list"),
       {404, {AZ_CODE("ContainerNotFound")}, ""}}},
     .want = STORE_ERR(ERR_UNAVAILABLE, 404, 503, .msg = "(ContainerNotFound)")},

    /* ---- SAS: the token rides in the query, never in a message ---- */
    {"sas: get 200",
     A_SAS,
     B_GET,
     {{SAS_REQ("GET", P_SAS "/records.json?" SAS, VERSION, "x-ms-date"),
       {200, {"ETag: \"s1\""}, "[]"}}},
     .body = "[]",
     .etag = "\"s1\"",
     .ctype = "application/octet-stream"},
    {"sas: get if changed, 304",
     A_SAS,
     B_GET_IF,
     {{SAS_REQ("GET", P_SAS "/records.json?" SAS, "If-None-Match: \"s1\""), {304, {0}, NULL}}},
     .known = "\"s1\"",
     .want = {.rc = 1}},
    {"sas: put 201",
     A_SAS,
     B_PUT,
     {{SAS_REQ("PUT", P_SAS "/records.json?" SAS, "x-ms-blob-type: BlockBlob", "If-Match: \"s1\""),
       {201, {"ETag: \"s2\""}, ""}}},
     .if_match = "\"s1\"",
     .etag = "\"s2\""},
    {"sas: list",
     A_SAS,
     B_LIST,
     {{SAS_REQ("GET", P_SAS "?restype=container&comp=list&" SAS),
       {200, {0}, LIST_PAGE(BLOB_ENTRY("x"), "")}}},
     .names = "x"},
    {"sas: get 403",
     A_SAS,
     B_GET,
     {{SAS_REQ("GET", P_SAS "/records.json?" SAS), {403, {AZ_CODE("AuthenticationFailed")}, ""}}},
     .want = STORE_ERR(ERR_FORBIDDEN, 403, 403, .msg = "(SAS expired?)", .not_msg = SAS_SIG)},
    {"sas: get 403, the SAS has expired",
     A_SAS_EXPIRED,
     B_GET,
     {{SAS_REQ("GET", P_SAS "/records.json?" SAS_OLD),
       {403, {AZ_CODE("AuthenticationFailed")}, ""}}},
     .want = STORE_ERR(ERR_FORBIDDEN, 403, 403, .msg = "has expired; create a new one")},
    {"sas: get, no answer",
     A_SAS,
     B_GET,
     {{SAS_REQ("GET", P_SAS "/records.json?" SAS), {.action = FX_HANG}}},
     .timeout = 1,
     .want = STORE_ERR(ERR_TIMEOUT, -1, 504, .not_msg = "sig=")},
    {"sas: get, refused", A_SAS, B_GET, .refused = 1,
     .want = STORE_ERR(ERR_UNAVAILABLE, -1, 503, .not_msg = "sig=")},

    /* ---- managed identity: a storage token from IMDS first ---- */
    {"mi: get 200",
     A_MI,
     B_GET,
     {IMDS_OK, {MI_REQ("GET", P_SAS "/records.json", "x-ms-date"), {200, {"ETag: \"m\""}, "[]"}}},
     .body = "[]",
     .etag = "\"m\""},
    {"mi: get if changed, 304",
     A_MI,
     B_GET_IF,
     {IMDS_OK, {MI_REQ("GET", P_SAS "/records.json", "If-None-Match: \"m\""), {304, {0}, NULL}}},
     .known = "\"m\"",
     .want = {.rc = 1}},
    {"mi: get 403",
     A_MI,
     B_GET,
     {IMDS_OK,
      {MI_REQ("GET", P_SAS "/records.json"), {403, {AZ_CODE("InvalidAuthenticationInfo")}, ""}}},
     .want = STORE_ERR(ERR_FORBIDDEN, 403, 403,
                       .msg = "storage rejected the managed identity's "
                              "token (InvalidAuthenticationInfo)")},
    {"mi: IMDS refuses",
     A_MI,
     B_GET,
     {{{.target = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                  "https%3A%2F%2Fstorage.azure.com%2F"},
       {403, {0}, "{\"error\":\"forbidden\",\"error_description\":\"no identity\"}"}}},
     .want = {.rc = -1,
              .code = ERR_UPSTREAM,
              .stage = STAGE_IDENTITY,
              .upstream = 403,
              .msg = "managed identity for blob storage",
              .http = 503}},
};

static struct blob_store *open_store(enum blob_auth auth, const char *url)
{
	struct blob_store *s = NULL;
	struct err e;
	err_clear(&e);
	char *conn = NULL;
	int rc;
	if (auth == A_MI) {
		char *u = xasprintf("%s/acct1/privateappdata", url);
		rc = blob_open_account_url(&s, u, &e);
		free(u);
	} else {
		if (auth == A_KEY)
			conn = xasprintf("DefaultEndpointsProtocol=http;AccountName=" ACCOUNT
			                 ";AccountKey=" KEY ";BlobEndpoint=%s/" ACCOUNT ";",
			                 url);
		else
			conn = xasprintf("BlobEndpoint=%s/acct1;SharedAccessSignature=%s", url,
			                 auth == A_SAS ? SAS : SAS_OLD);
		rc = blob_open_conn(&s, conn, "privateappdata", &e);
	}
	free(conn);
	if (rc != 0) {
		fprintf(stderr, "blob store: %s\n", e.msg);
		exit(2);
	}
	return s;
}

static char *joined_names(struct json_object *arr)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		buf_appendf(&b, "%s%s", i ? "," : "",
		            jsonx_str(json_object_array_get_idx(arr, i), "name"));
	return buf_steal(&b, NULL);
}

static void run_blob_case(const struct blob_case *c)
{
	fx_script(c->ex, NELEM(c->ex));
	char *url = c->refused ? fx_refused_url() : xstrdup(fx_url());
	struct endpoint imds = cfg.imds;
	struct err pe;
	if (config_parse_endpoint("IMDS_ENDPOINT", url, &cfg.imds, &pe) != 0)
		exit(2);
	cfg.http_timeout = c->timeout ? c->timeout : 30;
	cfg.client_id = "";
	struct blob_store *s = open_store(c->auth, url);
	const char *name = c->blob ? c->blob : "records.json";
	struct err e;
	err_clear(&e);
	int rc;
	if (c->op == B_GET || c->op == B_GET_IF) {
		struct buf body;
		buf_init(&body);
		char *etag = (char *)1, *ctype = (char *)1;
		if (c->op == B_GET)
			rc = blob_get(s, name, &body, &etag, &ctype, &e);
		else
			rc = blob_get_if_changed(s, name, c->known, &body, &etag, &ctype, &e);
		if (rc == 1) {
			/* Not modified: nothing read, nothing handed out. */
			CHECK_MSG(!body.len && !etag && !ctype, "%s: output on 304", c->name);
		} else if (c->body) {
			CHECK_MSG(rc == 0 && body.p && !strcmp((char *)body.p, c->body), "%s: body",
			          c->name);
			CHECK_MSG(etag && !strcmp(etag, c->etag), "%s: etag %s", c->name,
			          etag ? etag : "NULL");
			if (c->ctype)
				CHECK_MSG(ctype && !strcmp(ctype, c->ctype), "%s: type %s", c->name,
				          ctype ? ctype : "NULL");
		} else {
			/* (A 200 without an ETag still leaves the body and type it read.) */
			CHECK_MSG(rc != 0 && !etag, "%s: an etag on failure", c->name);
		}
		/* blob_get sets both before anything else; like its callers, free what is set. */
		free(etag);
		free(ctype);
		buf_free(&body);
	} else if (c->op == B_PUT) {
		char *etag = (char *)1;
		const char *data = c->data ? c->data : "[]";
		rc = blob_put(s, name, data, strlen(data), "application/json", c->if_match,
		              c->if_none_match, &etag, &e);
		if (c->etag)
			CHECK_MSG(etag && !strcmp(etag, c->etag), "%s: etag", c->name);
		else
			CHECK_MSG(etag == NULL, "%s: an etag on failure", c->name);
		free(etag);
	} else {
		if (c->page)
			blob_set_page_size(s, c->page);
		struct json_object *arr = (struct json_object *)1;
		rc = blob_list(s, c->prefix, &arr, &e);
		if (c->names) {
			char *got = rc == 0 ? joined_names(arr) : xstrdup("(failed)");
			CHECK_MSG(!strcmp(got, c->names), "%s: names %s", c->name, got);
			free(got);
		} else {
			CHECK_MSG(arr == NULL, "%s: a list on failure", c->name);
		}
		json_object_put(rc == 0 ? arr : NULL);
	}
	FX_CHECK_RESULT(c->name, rc, &e, &c->want);
	FX_CHECK_REQUESTS(c->name);
	blob_close(s);
	endpoint_free(&cfg.imds);
	cfg.imds = imds;
	free(url);
}

static void test_blob_fixtures(void)
{
	for (size_t i = 0; i < NELEM(blob_cases); i++)
		run_blob_case(&blob_cases[i]);
}

static void test_teardown(void)
{
	fx_stop();
	cfg.client_id = NULL;
	cfg.http_timeout = 0;
}

TESTS(test_blob_fixtures, test_teardown)
