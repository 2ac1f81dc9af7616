/* Release-policy grammar: every operator over every value kind, nesting, authorities,
 * malformed documents (with the JSON path in the message), report trees and sentences. */
#include "jsonx.h"
#include "policy.h"
#include "testlib.h"

#define ISS "https://sharedeus.eus.attest.azure.net"
#define HD  "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
#define HD2 "cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"

static const char claims_json[] =
    "{\"iss\":\"" ISS "\",\"x-ms-attestation-type\":\"sevsnpvm\","
    "\"x-ms-sevsnpvm-hostdata\":\"" HD "\",\"x-ms-sevsnpvm-is-debuggable\":false,"
    "\"x-ms-sevsnpvm-vmpl\":0,\"svn\":7,\"svnstr\":\"7\",\"ratio\":2.5,\"word\":\"abc\","
    "\"obj\":{\"inner\":\"v\",\"deeper\":{\"n\":3}},\"arr\":[1],\"nul\":null}";

static struct json_object *claims(void)
{
	struct json_object *c = NULL;
	struct err e;
	err_clear(&e);
	if (jsonx_parse(claims_json, strlen(claims_json), &c, &e) < 0)
		fprintf(stderr, "claims fixture: %s\n", e.msg);
	return c;
}

/* Parse text; evaluate with ISS; return the result and optionally the report/sentence. */
static int eval_text(const char *text, const char *issuer, struct json_object **report, char **fail)
{
	struct json_object *p = NULL, *c = claims();
	struct err e;
	err_clear(&e);
	if (policy_parse(text, strlen(text), &p, &e) < 0) {
		fprintf(stderr, "  parse failed: %s\n  policy: %s\n", e.msg, text);
		json_object_put(c);
		return -2;
	}
	int r = policy_evaluate(p, issuer, c, report, fail, &e);
	json_object_put(p);
	json_object_put(c);
	return r;
}

static char *one_condition(const char *cond)
{
	return xasprintf(
	    "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":[%s]}]}", cond);
}

static void test_operators_table(void)
{
	static const struct {
		const char *cond;
		int want;
		const char *reason;
	} t[] = {
	    /* equals */
	    {"{\"claim\":\"x-ms-sevsnpvm-hostdata\",\"equals\":\"" HD "\"}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-hostdata\",\"equals\":\"" HD2 "\"}", 0, "value differs"},
	    {"{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":\"0\"}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":0}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":0.0}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":\"0.0\"}", 0, "value differs"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":\"false\"}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":false}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":\"False\"}", 0,
	     "value differs"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":0}", 0, "value differs"},
	    {"{\"claim\":\"svnstr\",\"equals\":7}", 1, "ok"},
	    {"{\"claim\":\"x-ms-attestation-type\",\"equals\":\"SEVSNPVM\"}", 0, "value differs"},
	    {"{\"claim\":\"nope\",\"equals\":\"x\"}", 0, "claim missing"},
	    {"{\"claim\":\"obj\",\"equals\":\"x\"}", 0, "type mismatch"},
	    {"{\"claim\":\"arr\",\"equals\":1}", 0, "type mismatch"},
	    {"{\"claim\":\"nul\",\"equals\":\"null\"}", 0, "type mismatch"},
	    /* notEquals */
	    {"{\"claim\":\"x-ms-attestation-type\",\"notEquals\":\"sevsnpvm\"}", 0,
	     "value equals the excluded value"},
	    {"{\"claim\":\"x-ms-attestation-type\",\"notEquals\":\"azurevm\"}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"notEquals\":\"1\"}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"notEquals\":0}", 0,
	     "value equals the excluded value"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"notEquals\":true}", 1, "ok"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"notEquals\":\"false\"}", 0,
	     "value equals the excluded value"},
	    {"{\"claim\":\"nope\",\"notEquals\":\"x\"}", 0, "claim missing"},
	    {"{\"claim\":\"obj\",\"notEquals\":\"x\"}", 0, "type mismatch"},
	    /* less */
	    {"{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"less\":1}", 1, "ok"},
	    {"{\"claim\":\"svn\",\"less\":\"10\"}", 1, "ok"}, /* numeric, not "7" < "10" */
	    {"{\"claim\":\"svn\",\"less\":7}", 0, "comparison false"},
	    {"{\"claim\":\"svnstr\",\"less\":8}", 1, "ok"},
	    {"{\"claim\":\"ratio\",\"less\":3}", 1, "ok"},
	    {"{\"claim\":\"word\",\"less\":5}", 0, "type mismatch"},
	    {"{\"claim\":\"svn\",\"less\":\"ten\"}", 0, "type mismatch"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"less\":1}", 0, "type mismatch"},
	    {"{\"claim\":\"svn\",\"less\":true}", 0, "type mismatch"},
	    {"{\"claim\":\"nope\",\"less\":1}", 0, "claim missing"},
	    /* lessOrEquals */
	    {"{\"claim\":\"svn\",\"lessOrEquals\":7}", 1, "ok"},
	    {"{\"claim\":\"svn\",\"lessOrEquals\":\"6\"}", 0, "comparison false"},
	    {"{\"claim\":\"svnstr\",\"lessOrEquals\":\"7.0\"}", 1, "ok"},
	    {"{\"claim\":\"word\",\"lessOrEquals\":\"z\"}", 0, "type mismatch"},
	    {"{\"claim\":\"nope\",\"lessOrEquals\":1}", 0, "claim missing"},
	    /* greater */
	    {"{\"claim\":\"svn\",\"greater\":6}", 1, "ok"},
	    {"{\"claim\":\"svn\",\"greater\":7}", 0, "comparison false"},
	    {"{\"claim\":\"svnstr\",\"greater\":\"6.5\"}", 1, "ok"},
	    {"{\"claim\":\"svn\",\"greater\":\"1e3\"}", 0, "comparison false"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"greater\":\"0\"}", 0, "type mismatch"},
	    {"{\"claim\":\"nope\",\"greater\":0}", 0, "claim missing"},
	    /* greaterOrEquals */
	    {"{\"claim\":\"svn\",\"greaterOrEquals\":7}", 1, "ok"},
	    {"{\"claim\":\"ratio\",\"greaterOrEquals\":3}", 0, "comparison false"},
	    {"{\"claim\":\"svn\",\"greaterOrEquals\":\"-1\"}", 1, "ok"},
	    {"{\"claim\":\"svn\",\"greaterOrEquals\":\" 7\"}", 0, "type mismatch"},
	    {"{\"claim\":\"obj\",\"greaterOrEquals\":1}", 0, "type mismatch"},
	    {"{\"claim\":\"nope\",\"greaterOrEquals\":0}", 0, "claim missing"},
	    /* exists */
	    {"{\"claim\":\"x-ms-sevsnpvm-hostdata\",\"exists\":true}", 1, "ok"},
	    {"{\"claim\":\"nope\",\"exists\":true}", 0, "claim missing"},
	    {"{\"claim\":\"nope\",\"exists\":false}", 1, "ok"},
	    {"{\"claim\":\"svn\",\"exists\":false}", 0, "claim present"},
	    {"{\"claim\":\"svn\",\"exists\":\"true\"}", 1, "ok"},
	    {"{\"claim\":\"nul\",\"exists\":true}", 1, "ok"},
	    /* dotted paths into nested claims */
	    {"{\"claim\":\"obj.inner\",\"equals\":\"v\"}", 1, "ok"},
	    {"{\"claim\":\"obj.deeper.n\",\"greaterOrEquals\":3}", 1, "ok"},
	    {"{\"claim\":\"obj.missing\",\"equals\":\"v\"}", 0, "claim missing"},
	    {"{\"claim\":\"word.x\",\"exists\":false}", 1, "ok"},
	};
	for (size_t i = 0; i < NELEM(t); i++) {
		char *text = one_condition(t[i].cond);
		struct json_object *rep = NULL;
		char *fail = NULL;
		int r = eval_text(text, ISS, &rep, &fail);
		CHECK_MSG(r == t[i].want, "case %zu %s: got %d want %d", i, t[i].cond, r,
		          t[i].want);
		struct json_object *auth = json_object_array_get_idx(jsonx_arr(rep, "anyOf"), 0);
		struct json_object *cond = json_object_array_get_idx(jsonx_arr(auth, "allOf"), 0);
		const char *reason = jsonx_str(cond, "reason");
		CHECK_MSG(reason && !strcmp(reason, t[i].reason), "case %zu %s: reason %s want %s",
		          i, t[i].cond, reason ? reason : "(null)", t[i].reason);
		CHECK_MSG((fail != NULL) == (t[i].want == 0), "case %zu: first_failure %s", i,
		          fail ? fail : "(null)");
		free(fail);
		json_object_put(rep);
		free(text);
	}
}

static void test_sentences(void)
{
	static const struct {
		const char *cond, *sentence;
	} t[] = {
	    {"{\"claim\":\"x-ms-sevsnpvm-hostdata\",\"equals\":\"" HD2 "\"}",
	     "claim x-ms-sevsnpvm-hostdata is '" HD "' but the policy requires '" HD2 "'"},
	    {"{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":\"true\"}",
	     "claim x-ms-sevsnpvm-is-debuggable is false but the policy requires 'true'"},
	    {"{\"claim\":\"x-ms-attestation-type\",\"notEquals\":\"sevsnpvm\"}",
	     "claim x-ms-attestation-type is 'sevsnpvm' but the policy requires it to differ "
	     "from 'sevsnpvm'"},
	    {"{\"claim\":\"svn\",\"greaterOrEquals\":8}",
	     "claim svn is 7 but the policy requires it to be at least 8"},
	    {"{\"claim\":\"svn\",\"less\":\"3\"}",
	     "claim svn is 7 but the policy requires it to be less than '3'"},
	    {"{\"claim\":\"word\",\"greater\":1}",
	     "claim word is 'abc', which cannot be compared as a number with 1 (type mismatch)"},
	    {"{\"claim\":\"x-ms-compliance-status\",\"equals\":\"azure-compliant-uvm\"}",
	     "claim x-ms-compliance-status is not in the token but the policy requires it to be "
	     "'azure-compliant-uvm'"},
	    {"{\"claim\":\"nope\",\"exists\":true}",
	     "claim nope is not in the token but the policy requires it to be present"},
	    {"{\"claim\":\"svn\",\"exists\":false}",
	     "claim svn is in the token (7) but the policy requires it to be absent"},
	    {"{\"claim\":\"obj\",\"equals\":\"v\"}",
	     "claim obj is an object, which cannot be compared with 'v' (type mismatch)"},
	};
	for (size_t i = 0; i < NELEM(t); i++) {
		char *text = one_condition(t[i].cond);
		char *fail = NULL;
		CHECK_INT(eval_text(text, ISS, NULL, &fail), 0);
		CHECK_STR(fail, t[i].sentence);
		free(fail);
		free(text);
	}
}

static void test_allof_reports_first_failure(void)
{
	char *fail = NULL;
	int r =
	    eval_text("{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	              "{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"},"
	              "{\"claim\":\"svn\",\"equals\":8},{\"claim\":\"word\",\"equals\":\"x\"}]}]}",
	              ISS, NULL, &fail);
	CHECK_INT(r, 0);
	CHECK_STR(fail, "claim svn is 7 but the policy requires 8");
	free(fail);
}

/* anyOf -> authority allOf -> [cond, anyOf[cond(false), allOf[cond, cond]]] */
static const char nested[] =
    "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
    "{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"},"
    "{\"anyOf\":[{\"claim\":\"svn\",\"greater\":100},"
    "{\"allOf\":[{\"claim\":\"x-ms-sevsnpvm-vmpl\",\"equals\":\"0\"},"
    "{\"claim\":\"x-ms-sevsnpvm-is-debuggable\",\"equals\":\"%s\"}]}]}]}]}";

static void test_nested_depth3(void)
{
	char *ok = xasprintf(nested, "false"), *bad = xasprintf(nested, "true");
	struct json_object *rep = NULL;
	char *fail = NULL;
	CHECK_INT(eval_text(ok, ISS, &rep, &fail), 1);
	CHECK(fail == NULL);
	struct json_object *a0 = json_object_array_get_idx(jsonx_arr(rep, "anyOf"), 0);
	struct json_object *inner = json_object_array_get_idx(jsonx_arr(a0, "allOf"), 1);
	struct json_object *alt0 = json_object_array_get_idx(jsonx_arr(inner, "anyOf"), 0);
	struct json_object *alt1 = json_object_array_get_idx(jsonx_arr(inner, "anyOf"), 1);
	CHECK(json_object_get_boolean(json_object_object_get(rep, "satisfied")));
	CHECK(json_object_get_boolean(json_object_object_get(inner, "satisfied")));
	CHECK(!json_object_get_boolean(json_object_object_get(alt0, "satisfied")));
	CHECK(json_object_get_boolean(json_object_object_get(alt1, "satisfied")));
	CHECK_INT(json_object_array_length(jsonx_arr(alt1, "allOf")), 2);
	json_object_put(rep);

	CHECK_INT(eval_text(bad, ISS, NULL, &fail), 0);
	/* Both alternatives fail: the sentence names the first one. */
	CHECK_STR(fail, "claim svn is 7 but the policy requires it to be greater than 100");
	free(fail);
	free(ok);
	free(bad);
}

static void test_authorities(void)
{
	static const char one[] = "{\"version\":\"1.0\",\"anyOf\":[{\"authority\":\"%s\","
	                          "\"allOf\":[{\"claim\":\"svn\",\"equals\":7}]}]}";
	static const struct {
		const char *authority, *issuer;
		int want;
	} t[] = {
	    {ISS, ISS, 1},
	    {"HTTPS://SharedEUS.eus.attest.azure.net/", ISS, 1},
	    {"sharedeus.eus.attest.azure.net", ISS, 1},
	    {"https://sharedeus.eus.attest.azure.net:443", ISS, 1},
	    {"http://127.0.0.1:8010/", "http://127.0.0.1:8010", 1},
	    {"http://127.0.0.1:8010", "http://127.0.0.1:8011", 0},
	    {"https://127.0.0.1:8010", "http://127.0.0.1:8010", 0},
	    {"https://sharedweu.weu.attest.azure.net", ISS, 0},
	    {ISS, "", 0},
	};
	for (size_t i = 0; i < NELEM(t); i++) {
		char *text = xasprintf(one, t[i].authority);
		struct json_object *rep = NULL;
		char *fail = NULL;
		int r = eval_text(text, t[i].issuer, &rep, &fail);
		CHECK_MSG(r == t[i].want, "case %zu: %s vs %s -> %d", i, t[i].authority,
		          t[i].issuer, r);
		struct json_object *a0 = json_object_array_get_idx(jsonx_arr(rep, "anyOf"), 0);
		CHECK_INT(json_object_get_boolean(json_object_object_get(a0, "authority_matches")),
		          t[i].want);
		/* Conditions are still evaluated under a wrong authority, for the report. */
		struct json_object *c0 = json_object_array_get_idx(jsonx_arr(a0, "allOf"), 0);
		CHECK(json_object_get_boolean(json_object_object_get(c0, "satisfied")));
		if (!t[i].want)
			CHECK(fail && strstr(fail, "is not the policy authority"));
		free(fail);
		json_object_put(rep);
		free(text);
	}
	char *fail = NULL;
	char *text = xasprintf(one, "https://x.attest.azure.net");
	CHECK_INT(eval_text(text, "http://127.0.0.1:8010", NULL, &fail), 0);
	CHECK_STR(fail, "token issuer http://127.0.0.1:8010 is not the policy authority "
	                "https://x.attest.azure.net");
	free(fail);
	free(text);
}

static void test_multiple_authorities(void)
{
	static const char two[] =
	    "{\"version\":\"1.0.0\",\"anyOf\":["
	    "{\"authority\":\"https://a.attest.azure.net\",\"allOf\":[{\"claim\":\"svn\","
	    "\"equals\":7}]},"
	    "{\"authority\":\"" ISS "\",\"allOf\":[{\"claim\":\"svn\",\"equals\":%d}]}]}";
	char *good = xasprintf(two, 7), *bad = xasprintf(two, 8);
	char *fail = NULL;
	CHECK_INT(eval_text(good, ISS, NULL, &fail), 1);
	CHECK_INT(eval_text(bad, ISS, NULL, &fail), 0);
	/* The matching authority's condition is the informative failure. */
	CHECK_STR(fail, "claim svn is 7 but the policy requires 8");
	free(fail);
	fail = NULL;
	CHECK_INT(eval_text(good, "https://evil.example", NULL, &fail), 0);
	CHECK_STR(fail, "token issuer https://evil.example is not one of the policy authorities "
	                "https://a.attest.azure.net, " ISS);
	free(fail);
	free(good);
	free(bad);
}

static void test_malformed(void)
{
	static const struct {
		const char *text, *msg;
	} t[] = {
	    {"[]", "policy: must be a JSON object"},
	    {"\"x\"", "policy: must be a JSON object"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"a\",\"equals\":\"1\"},{\"claim\":\"b\",\"equals\":\"1\"},"
	     "{\"claim\":\"c\",\"eq\":\"1\"}]}]}",
	     "anyOf[0].allOf[2]: unknown operator 'eq'"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"a\",\"equals\":\"1\",\"notEquals\":\"2\"}]}]}",
	     "anyOf[0].allOf[0]: condition has two operators"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"equals\":\"1\"}]}]}",
	     "anyOf[0].allOf[0]: condition has no 'claim' name"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"\",\"equals\":\"1\"}]}]}",
	     "anyOf[0].allOf[0]: 'claim' must be a non-empty string"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"a\"}]}]}",
	     "anyOf[0].allOf[0]: condition on claim 'a' has no operator"},
	    {"{\"version\":\"2.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"a\",\"equals\":\"1\"}]}]}",
	     "policy: version \"2.0.0\" is not supported"},
	    {"{\"anyOf\":[]}", "policy: missing 'version'"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[]}", "policy: 'anyOf' must not be empty"},
	    {"{\"version\":\"1.0.0\"}", "policy: needs 'anyOf' or 'allOf'"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[1]}", "anyOf[0]: must be an object"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"allOf\":[{\"claim\":\"a\",\"exists\":true}]}]}",
	     "anyOf[0]: 'authority'"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "\"x\"]}]}",
	     "anyOf[0].allOf[0]: must be an object"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"a\",\"exists\":\"yes\"}]}]}",
	     "anyOf[0].allOf[0]: 'exists' must be true or false"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"a\",\"equals\":null}]}]}",
	     "anyOf[0].allOf[0]: value of 'equals' must be a string, number or boolean"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"claim\":\"a\",\"equals\":{}}]}]}",
	     "anyOf[0].allOf[0]: value of 'equals' must be"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"anyOf\":[{\"claim\":\"a\",\"exists\":true}],\"allOf\":[]}]}]}",
	     "anyOf[0].allOf[0]: has both 'anyOf' and 'allOf'"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allof\":["
	     "{\"claim\":\"a\",\"exists\":true}]}]}",
	     "anyOf[0]: unknown member 'allof'"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":["
	     "{\"allOf\":[]}]}]}",
	     "anyOf[0].allOf[0]: 'allOf' must not be empty"},
	    {"{\"version\":\"1.0.0\",\"extra\":1,\"anyOf\":[]}", "policy: unknown member 'extra'"},
	    {"{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISS "\",\"allOf\":"
	     "{\"claim\":\"a\",\"exists\":true}}]}",
	     "anyOf[0]: 'allOf' must be an array"},
	    {"{\"version\":\"1.0.0\",", "policy: malformed JSON"},
	};
	for (size_t i = 0; i < NELEM(t); i++) {
		struct json_object *p = NULL;
		struct err e;
		err_clear(&e);
		CHECK_INT(policy_parse(t[i].text, strlen(t[i].text), &p, &e), -1);
		CHECK(p == NULL);
		CHECK_INT(e.code, ERR_BAD_REQUEST);
		CHECK_MSG(!strncmp(e.msg, t[i].msg, strlen(t[i].msg)),
		          "case %zu: \"%s\" want \"%s\"", i, e.msg, t[i].msg);
	}
}

static void test_depth_limit(void)
{
	/* Build authority + k nested anyOf levels around one condition. */
	for (int k = 5; k <= 8; k++) {
		struct buf b;
		buf_init(&b);
		buf_appendf(
		    &b, "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"%s\",\"allOf\":[", ISS);
		for (int i = 0; i < k; i++)
			buf_appendf(&b, "{\"anyOf\":[");
		buf_appendf(&b, "{\"claim\":\"svn\",\"equals\":7}");
		for (int i = 0; i < k; i++)
			buf_appendf(&b, "]}");
		buf_appendf(&b, "]}]}");
		struct json_object *p = NULL;
		struct err e;
		err_clear(&e);
		int r = policy_parse((char *)b.p, b.len, &p, &e);
		/* Top-level and authority arrays are 2 levels; 8 in all are allowed. */
		CHECK_MSG(r == (k + 2 <= POLICY_MAX_DEPTH ? 0 : -1), "k=%d r=%d %s", k, r, e.msg);
		if (r < 0)
			CHECK(strstr(e.msg, "nested deeper than 8"));
		json_object_put(p);
		buf_free(&b);
	}
}

static void test_report_tree(void)
{
	char *text = one_condition("{\"claim\":\"x-ms-sevsnpvm-hostdata\",\"equals\":\"" HD2 "\"},"
	                           "{\"claim\":\"nope\",\"exists\":false}");
	struct json_object *rep = NULL;
	char *fail = NULL;
	CHECK_INT(eval_text(text, ISS, &rep, &fail), 0);
	CHECK(!json_object_get_boolean(json_object_object_get(rep, "satisfied")));
	struct json_object *a0 = json_object_array_get_idx(jsonx_arr(rep, "anyOf"), 0);
	CHECK_STR(jsonx_str(a0, "authority"), ISS);
	CHECK(json_object_get_boolean(json_object_object_get(a0, "authority_matches")));
	CHECK(!json_object_get_boolean(json_object_object_get(a0, "satisfied")));
	struct json_object *c0 = json_object_array_get_idx(jsonx_arr(a0, "allOf"), 0);
	struct json_object *c1 = json_object_array_get_idx(jsonx_arr(a0, "allOf"), 1);
	CHECK_STR(jsonx_str(c0, "claim"), "x-ms-sevsnpvm-hostdata");
	CHECK_STR(jsonx_str(c0, "operator"), "equals");
	CHECK_STR(jsonx_str(c0, "expected"), HD2);
	CHECK_STR(jsonx_str(c0, "actual"), HD);
	CHECK_STR(jsonx_str(c0, "reason"), "value differs");
	CHECK(!json_object_get_boolean(json_object_object_get(c0, "satisfied")));
	CHECK_STR(jsonx_str(c1, "operator"), "exists");
	struct json_object *act = (struct json_object *)1;
	CHECK(json_object_object_get_ex(c1, "actual", &act) && act == NULL);
	CHECK(json_object_get_boolean(json_object_object_get(c1, "satisfied")));
	json_object_put(rep);
	free(fail);
	free(text);
}

static void test_evaluate_rejects_malformed_tree(void)
{
	struct json_object *p = json_object_new_object(), *rep = NULL, *c = claims();
	char *fail = NULL;
	struct err e;
	err_clear(&e);
	CHECK_INT(policy_evaluate(p, ISS, c, &rep, &fail, &e), -1);
	CHECK(rep == NULL && fail == NULL);
	CHECK_INT(e.code, ERR_BAD_REQUEST);
	json_object_put(p);
	json_object_put(c);
}

static void test_hostile_claim_values(void)
{
	/* Control characters from a token never reach a sentence; long values are cut. */
	struct json_object *p = NULL, *c = json_object_new_object();
	struct err e;
	err_clear(&e);
	char *text = one_condition("{\"claim\":\"x\",\"equals\":\"y\"}");
	CHECK_INT(policy_parse(text, strlen(text), &p, &e), 0);
	char longv[300];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	longv[3] = '\n';
	jsonx_add_str(c, "x", longv);
	char *fail = NULL;
	CHECK_INT(policy_evaluate(p, ISS, c, NULL, &fail, &e), 0);
	CHECK(fail && !strchr(fail, '\n') && strlen(fail) < 200 && strstr(fail, "..."));
	free(fail);
	free(text);
	json_object_put(p);
	json_object_put(c);
}

TESTS(test_operators_table, test_sentences, test_allof_reports_first_failure, test_nested_depth3,
      test_authorities, test_multiple_authorities, test_malformed, test_depth_limit,
      test_report_tree, test_evaluate_rejects_malformed_tree, test_hostile_claim_values)
