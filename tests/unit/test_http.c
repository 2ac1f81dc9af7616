/* The request layer's input checks: JSON bodies and declared field tables. */
#include "http.h"
#include "jsonx.h"
#include "outcome.h"
#include "testlib.h"

static int body(const char *text, struct json_object **out, struct err *e)
{
	struct http_req rq = {0};
	rq.body = (unsigned char *)text;
	rq.body_len = strlen(text);
	err_clear(e);
	return http_body_json(&rq, out, e);
}

static void test_body_json(void)
{
	struct json_object *o = NULL;
	struct err e;
	CHECK(body("", &o, &e) == 0 && json_object_is_type(o, json_type_object) &&
	      json_object_object_length(o) == 0);
	json_object_put(o);
	CHECK(body(" \r\n\t", &o, &e) == 0 && json_object_object_length(o) == 0);
	json_object_put(o);
	CHECK(body("{\"a\":1}\n", &o, &e) == 0 && json_object_object_length(o) == 1);
	json_object_put(o);
	static const char *const good[] = {
	    "{\"a\":[1,-0.5e+3,0,1E2,true,false,null,{},[]],\"b\":\"\\\"\\\\\\/"
	    "\\b\\f\\n\\r\\t\\u00e9\"}",
	    " { \"x\" : { \"y\" : [ ] } } ",
	    "{\"\u00e9\":\"\xc3\xa9\xf0\x9f\x94\x92\"}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		o = NULL;
		CHECK_MSG(body(good[i], &o, &e) == 0 && o, "%s refused: %s", good[i], e.msg);
		json_object_put(o);
	}
	/* Not objects; not JSON; and what json-c's strict mode alone would let through. */
	static const char *const bad[] = {
	    "[1,2]",
	    "\"x\"",
	    "42",
	    "null",
	    "{\"a\":",
	    "{\"a\":1}x",
	    "{\"a\":1,}",
	    "{a:1}",
	    "{\"a\":\"\xff\"}",
	    "{'a':1}",
	    "{\"a\":NaN}",
	    "{\"a\":Infinity}",
	    "{\"a\":-Infinity}",
	    "{\"a\":5.}",
	    "{\"a\":.5}",
	    "{\"a\":01}",
	    "{\"a\":+1}",
	    "{\"a\":\"x\ty\"}",
	    "{\"a\":\"\\x41\"}",
	    "{\"a\":\"\\u12\"}",
	    "{\"a\":True}",
	    "/*c*/{}",
	    "{\"a\":1}//c",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = NULL;
		CHECK_MSG(body(bad[i], &o, &e) < 0 && !o && e.code == ERR_BAD_REQUEST &&
		              outcome_status(&e) == 400,
		          "%s accepted", bad[i]);
	}
}

static const struct field_spec spec[] = {
    {"name", FIELD_STRING, 1, 8, 0},
    {"note", FIELD_STRING, 0, 0, 1},
    {"flag", FIELD_BOOL, 0, 0, 0},
    {"count", FIELD_INT, 0, 0, 0},
};

static const char *validate(const char *text)
{
	static struct err e;
	struct json_object *o = NULL;
	err_clear(&e);
	if (jsonx_parse(text, strlen(text), &o, &e) < 0)
		return "unparsable test input";
	int rc = http_validate(o, spec, sizeof(spec) / sizeof(spec[0]), NULL, &e);
	json_object_put(o);
	return rc == 0 ? NULL : e.msg;
}

static void test_validate(void)
{
	CHECK(validate("{\"name\":\"ab\"}") == NULL);
	CHECK(validate("{\"name\":\"ab\",\"note\":\"\",\"flag\":true,\"count\":3,\"extra\":[1]}") ==
	      NULL);
	const char *m;
	CHECK((m = validate("{}")) && strstr(m, "missing field 'name'"));
	CHECK((m = validate("{\"name\":\"\"}")) && strstr(m, "must not be empty"));
	CHECK((m = validate("{\"name\":\"123456789\"}")) && strstr(m, "limit is 8"));
	CHECK((m = validate("{\"name\":7}")) && strstr(m, "must be a string"));
	CHECK((m = validate("{\"name\":null}")) && strstr(m, "missing field 'name'"));
	CHECK((m = validate("{\"name\":\"a\",\"flag\":\"true\"}")) && strstr(m, "true or false"));
	CHECK((m = validate("{\"name\":\"a\",\"count\":1.5}")) && strstr(m, "integer"));
	CHECK((m = validate("{\"name\":\"a\\u0000b\"}")) && strstr(m, "NUL"));
}

static const char *const colours[] = {"red", "green", NULL};
static const struct field_spec checked[] = {
    {"text", FIELD_STRING, 0, 0, 1, CHECK_TEXT, NULL},
    {"data", FIELD_STRING, 0, 0, 1, CHECK_BASE64, NULL},
    {"colour", FIELD_STRING, 0, 0, 0, CHECK_ENUM, colours},
    {"endpoint", FIELD_STRING, 0, 256, 1, CHECK_ENDPOINT, NULL},
    {"key", FIELD_STRING, 0, 256, 1, CHECK_KEY_NAME, NULL},
};

static int form(const char *text, struct http_form *f, struct err *e)
{
	struct http_req rq = {0};
	rq.body = (unsigned char *)text;
	rq.body_len = strlen(text);
	err_clear(e);
	return http_form_read(&rq, checked, sizeof(checked) / sizeof(checked[0]), f, e);
}

static void test_checks(void)
{
	struct http_form f;
	struct err e;
	CHECK_MSG(
	    form("{\"text\":\"Zo\u00eb \u00d8stergaard\",\"data\":\"aGk=\",\"colour\":\"green\","
	         "\"endpoint\":\"kv.vault.azure.net\",\"key\":\"contoso-secret-key/abc123\"}",
	         &f, &e) == 0,
	    "%s", e.msg);
	CHECK_STR(http_form_str(&f, "text"), "Zo\u00eb \u00d8stergaard");
	CHECK(http_form_get(&f, "data")->nbytes == 2 &&
	      !memcmp(http_form_get(&f, "data")->bytes, "hi", 2));
	CHECK_INT(http_form_get(&f, "colour")->choice, 1);
	CHECK(!http_form_get(&f, "missing")->present);
	http_form_free(&f);
	/* URL-alphabet base64 too, as a script may send. */
	CHECK(form("{\"data\":\"-_8\"}", &f, &e) == 0 && http_form_get(&f, "data")->nbytes == 2);
	http_form_free(&f);
	static const char *const bad[][2] = {
	    {"{\"text\":\"a\\u0007b\"}", "control character (U+0007"},
	    {"{\"text\":\"a\\nb\"}", "control character (U+000A"},
	    {"{\"text\":\"a\\u0085b\"}", "control character (U+0085"},
	    {"{\"data\":\"%%%\"}", "not valid base64"},
	    {"{\"colour\":\"blue\"}", "must be \"red\" or \"green\""},
	    {"{\"endpoint\":\"https://a.example/path\"}", "host[:port]"},
	    {"{\"endpoint\":\"ftp://a.example\"}", "unsupported scheme"},
	    {"{\"key\":\"../etc/passwd\"}", "not a key name"},
	    {"{\"key\":\"a/b/c\"}", "not a key name"},
	    /* Reject, never repair: json-c would store U+FFFD for these. */
	    {"{\"text\":\"a\\ud800b\"}", "unpaired UTF-16 surrogate"},
	    {"{\"text\":\"a\\udc00b\"}", "unpaired UTF-16 surrogate"},
	    {"{\"text\":\"a\\ud800\\u0041\"}", "unpaired UTF-16 surrogate"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = form(bad[i][0], &f, &e);
		CHECK_MSG(rc < 0 && e.code == ERR_BAD_REQUEST && e.stage == STAGE_REQUEST &&
		              strstr(e.msg, bad[i][1]),
		          "%s: rc %d, %s", bad[i][0], rc, e.msg);
		http_form_free(&f);
	}
	/* A surrogate pair is fine. */
	CHECK(form("{\"text\":\"\\ud83d\\udd12\"}", &f, &e) == 0);
	CHECK_STR(http_form_str(&f, "text"), "\xf0\x9f\x94\x92");
	http_form_free(&f);
}

/* A body of NUL bytes is not an empty body (it used to pass for {}). */
static void test_nul_body(void)
{
	struct http_req rq = {0};
	static const unsigned char nuls[3] = {0, 0, 0};
	struct json_object *o = NULL;
	struct err e;
	err_clear(&e);
	rq.body = (unsigned char *)nuls;
	rq.body_len = sizeof(nuls);
	CHECK(http_body_json(&rq, &o, &e) < 0 && !o && e.code == ERR_BAD_REQUEST);
	rq.body_len = 1;
	CHECK(http_body_json(&rq, &o, &e) < 0 && !o);
}

TESTS(test_body_json, test_validate, test_checks, test_nul_body)
