/* connstr: the storage connection string is parsed once, at start, and never quoted. */
#include "connstr.h"

#include <stdlib.h>

#include "config.h"
#include "testlib.h"

static void test_shapes(void)
{
	struct connstr c;
	struct err e;
	err_clear(&e);
	CHECK(connstr_parse("DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey=a2V5;"
	                    "EndpointSuffix=core.windows.net",
	                    &c, &e) == 0);
	CHECK_STR(c.endpoint, "https://acct1.blob.core.windows.net");
	CHECK_STR(c.account, "acct1");
	CHECK(c.auth == CONNSTR_KEY && c.keylen == 3 && !memcmp(c.key, "key", 3));
	connstr_free(&c);
	/* The SAS ends at the next ';' (the original kept everything after it). */
	CHECK(connstr_parse("BlobEndpoint=https://a.blob.core.windows.net;"
	                    "SharedAccessSignature=sv=2022&sig=abc;AccountName=a",
	                    &c, &e) == 0);
	CHECK(c.auth == CONNSTR_SAS);
	CHECK_STR(c.sas, "sv=2022&sig=abc");
	connstr_free(&c);
	CHECK(connstr_parse("UseDevelopmentStorage=true", &c, &e) == 0);
	CHECK_STR(c.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
	connstr_free(&c);
}

static void test_refusals_never_quote_secrets(void)
{
	static const char *const bad[] = {
	    "AccountName=a;AccountKey=!!notbase64SECRET",
	    "AccountName=a;SharedAccessSignature=SECRETnosig",
	    "AccountName=a",
	    "AccountName=a;AccountKey=a2V5;AccountKey=a2V5",
	    "AccountName=bad-name!;AccountKey=a2V5",
	    "justtext",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct connstr c;
		struct err e;
		err_clear(&e);
		CHECK_MSG(connstr_parse(bad[i], &c, &e) < 0 && e.code == ERR_CONFIG &&
		              !strcmp(e.variable, CONNSTR_VAR) && !strstr(e.msg, "SECRET") &&
		              !c.endpoint && !c.sas && !c.key,
		          "%s: %s", bad[i], e.msg);
	}
}

static void test_config_refuses_at_start(void)
{
	struct config c;
	struct err e;
	err_clear(&e);
	setenv(CONNSTR_VAR, "AccountName=a;SharedAccessSignature=SECRETnosig", 1);
	CHECK(config_load(&c, &e) < 0 && e.code == ERR_CONFIG && !strstr(e.msg, "SECRET") &&
	      !strcmp(e.variable, CONNSTR_VAR));
	setenv(CONNSTR_VAR, "AccountName=acct1;SharedAccessSignature=sv=1&sig=x", 1);
	CHECK_MSG(config_load(&c, &e) == 0, "%s", e.msg);
	CHECK(c.blob_kind == BLOB_KIND_AZURE && c.storage.auth == CONNSTR_SAS);
	config_free(&c);
	unsetenv(CONNSTR_VAR);
}

TESTS(test_shapes, test_refusals_never_quote_secrets, test_config_refuses_at_start)
