/*
 * Azure backend configuration, offline: connection-string and account-URL parsing,
 * what /storage/config shows (never a secret), SAS expiry.  Requests themselves are
 * tested against scripted answers by test_blob_rest.c and against Azurite by
 * tests/blob/run.sh.
 */
#include <stdlib.h>

#include "blob.h"
#include "jsonx.h"
#include "testlib.h"

#define KEY                                                                                        \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static struct json_object *describe(const char *conn, const char *container, struct err *e)
{
	struct blob_store *s = NULL;
	err_clear(e);
	if (blob_open_conn(&s, conn, container, e) < 0)
		return NULL;
	struct json_object *d = blob_describe(s);
	blob_close(s);
	return d;
}

static void test_sas_connection_string(void)
{
	struct err e;
	/* The SAS ends at ';' (the original kept everything after "SharedAccessSignature="). */
	struct json_object *d = describe(
	    "BlobEndpoint=https://acct1.blob.core.windows.net/;"
	    "SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rwdlac&se=2099-02-10T00:00:00Z"
	    "&st=2024-01-01T00:00:00Z&spr=https&sig=c2VjcmV0%2Bc2ln%3D;QueueEndpoint=https://x/",
	    "privateappdata", &e);
	CHECK_MSG(d != NULL, "%s", e.msg);
	if (!d)
		return;
	CHECK_STR(jsonx_str(d, "auth_method"), "SAS Token");
	CHECK_STR(jsonx_str(d, "storage_account"), "acct1");
	CHECK_STR(jsonx_str(d, "blob_endpoint"), "https://acct1.blob.core.windows.net");
	CHECK_STR(jsonx_str(d, "container_url"),
	          "https://acct1.blob.core.windows.net/privateappdata");
	struct json_object *x = jsonx_obj(d, "sas_expiry");
	CHECK(x != NULL);
	CHECK_STR(jsonx_str(x, "expiry_date"), "2099-02-10T00:00:00Z");
	CHECK_STR(jsonx_str(x, "expiry_formatted"), "2099-02-10 00:00:00 UTC");
	long long days = 0;
	CHECK(jsonx_int(x, "days_remaining", &days) && days > 20000);
	char *txt = jsonx_dump(d);
	CHECK(!strstr(txt, "sig") && !strstr(txt, "c2VjcmV0"));
	free(txt);
	json_object_put(d);
}

static void test_sas_expired_and_soon(void)
{
	struct err e;
	struct json_object *d = describe("BlobEndpoint=https://a.blob.core.windows.net;"
	                                 "SharedAccessSignature=?se=2020-01-01&sig=x",
	                                 "privateappdata", &e);
	CHECK_MSG(d != NULL, "%s", e.msg);
	struct json_object *x = d ? jsonx_obj(d, "sas_expiry") : NULL;
	int b = 0;
	struct json_object *v = NULL;
	CHECK(x && json_object_object_get_ex(x, "is_expired", &v) &&
	      (b = json_object_get_boolean(v)));
	CHECK(b);
	json_object_put(d);
	d = describe("BlobEndpoint=https://a.blob.core.windows.net;"
	             "SharedAccessSignature=se=tomorrow&sig=x",
	             "privateappdata", &e);
	x = d ? jsonx_obj(d, "sas_expiry") : NULL;
	CHECK(x && jsonx_str(x, "error") != NULL);
	json_object_put(d);
}

static void test_shared_key_connection_string(void)
{
	struct err e;
	struct json_object *d =
	    describe("DefaultEndpointsProtocol=https;AccountName=orangeappstore;AccountKey=" KEY
	             ";EndpointSuffix=core.windows.net",
	             "privateappdata", &e);
	CHECK_MSG(d != NULL, "%s", e.msg);
	if (!d)
		return;
	CHECK_STR(jsonx_str(d, "auth_method"), "Shared Key");
	CHECK_STR(jsonx_str(d, "blob_endpoint"), "https://orangeappstore.blob.core.windows.net");
	char *txt = jsonx_dump(d);
	CHECK(!strstr(txt, "Eby8"));
	free(txt);
	struct json_object *se = NULL;
	CHECK(json_object_object_get_ex(d, "sas_expiry", &se) && se == NULL);
	json_object_put(d);
	/* Azurite, path style; and the development-storage shorthand. */
	d = describe("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" KEY
	             ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
	             "privateappdata", &e);
	CHECK_MSG(d != NULL, "%s", e.msg);
	CHECK_STR(d ? jsonx_str(d, "container_url") : NULL,
	          "http://127.0.0.1:10000/devstoreaccount1/privateappdata");
	json_object_put(d);
	d = describe("UseDevelopmentStorage=true", "privateappdata", &e);
	CHECK_MSG(d != NULL, "%s", e.msg);
	CHECK_STR(d ? jsonx_str(d, "storage_account") : NULL, "devstoreaccount1");
	json_object_put(d);
}

static void test_bad_connection_strings(void)
{
	static const struct {
		const char *conn, *container, *want;
	} cases[] = {
	    {"", "privateappdata", "is empty"},
	    {"AccountName=a;AccountKey=" KEY ";DefaultEndpointsProtocol=http", "privateappdata",
	     "plain http"},
	    {"BlobEndpoint=http://evil.example.com/;SharedAccessSignature=sig=x", "privateappdata",
	     "plain http"},
	    {"BlobEndpoint=ftp://x/;SharedAccessSignature=sig=x", "privateappdata", "https://"},
	    {"AccountName=a;AccountKey=not*base64", "privateappdata", "AccountKey"},
	    {"AccountName=a", "privateappdata", "neither"},
	    {"AccountName=a;AccountName=b;AccountKey=" KEY, "privateappdata", "twice"},
	    {"garbage", "privateappdata", "not key=value"},
	    {"BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=1&se=2",
	     "privateappdata", "not a SAS"},
	    {"BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sig=a b",
	     "privateappdata", "not a SAS"},
	    {"AccountName=a;AccountKey=" KEY, "Bad_Container", "STORAGE_CONTAINER"},
	    {"AccountName=a;AccountKey=" KEY, "ab", "STORAGE_CONTAINER"},
	    {"AccountName=a/b;AccountKey=" KEY, "privateappdata", "AccountName"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct err e;
		struct json_object *d = describe(cases[i].conn, cases[i].container, &e);
		CHECK_MSG(d == NULL, "case %zu accepted", i);
		json_object_put(d);
		CHECK_MSG(strstr(e.msg, cases[i].want) != NULL, "case %zu: %s", i, e.msg);
		CHECK_MSG(!strstr(e.msg, "Eby8"), "case %zu leaks the key", i);
	}
}

static void test_account_url(void)
{
	struct blob_store *s = NULL;
	struct err e;
	CHECK_MSG(blob_open_account_url(&s, "https://acct2.blob.core.windows.net/records/", &e) ==
	              0,
	          "%s", e.msg);
	if (s) {
		struct json_object *d = blob_describe(s);
		CHECK_STR(jsonx_str(d, "auth_method"), "Managed Identity");
		CHECK_STR(jsonx_str(d, "container_name"), "records");
		CHECK_STR(jsonx_str(d, "storage_account"), "acct2");
		CHECK_STR(jsonx_str(d, "blob_endpoint"), "https://acct2.blob.core.windows.net");
		char *u = blob_public_url(s, "a/b.json");
		CHECK_STR(u, "https://acct2.blob.core.windows.net/records/a/b.json");
		free(u);
		json_object_put(d);
		blob_close(s);
	}
	s = NULL;
	CHECK(blob_open_account_url(&s, "http://127.0.0.1:10000/devstoreaccount1/c01", &e) == 0);
	if (s) {
		struct json_object *d = blob_describe(s);
		CHECK_STR(jsonx_str(d, "storage_account"), "devstoreaccount1");
		CHECK_STR(jsonx_str(d, "container_url"),
		          "http://127.0.0.1:10000/devstoreaccount1/c01");
		json_object_put(d);
		blob_close(s);
	}
	static const char *const bad[] = {"https://acct.blob.core.windows.net",
	                                  "https://acct.blob.core.windows.net/c?sig=x",
	                                  "http://acct.blob.core.windows.net/cont", "acct/cont"};
	for (size_t i = 0; i < NELEM(bad); i++) {
		s = NULL;
		CHECK_MSG(blob_open_account_url(&s, bad[i], &e) < 0, "%s accepted", bad[i]);
		blob_close(s);
	}
}

TESTS(test_sas_connection_string, test_sas_expired_and_soon, test_shared_key_connection_string,
      test_bad_connection_strings, test_account_url)
