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
		"{\"a\":[1,-0.5e+3,0,1E2,true,false,null,{},[]],\"b\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}",
		" { \"x\" : { \"y\" : [ ] } } ", "{\"\u00e9\":\"\xc3\xa9\xf0\x9f\x94\x92\"}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		o = NULL;
		CHECK_MSG(body(good[i], &o, &e) == 0 && o, "%s refused: %s", good[i], e.msg);
		json_object_put(o);
	}
	/* Not objects; not JSON; and what json-c's strict mode alone would let through. */
	static const char *const bad[] = {
		"[1,2]", "\"x\"", "42", "null", "{\"a\":", "{\"a\":1}x", "{\"a\":1,}", "{a:1}",
		"{\"a\":\"\xff\"}", "{'a':1}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}",
		"{\"a\":5.}", "{\"a\":.5}", "{\"a\":01}", "{\"a\":+1}", "{\"a\":\"x\ty\"}",
		"{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}", "{\"a\":True}", "/*c*/{}", "{\"a\":1}//c",
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
	CHECK(validate("{\"name\":\"ab\",\"note\":\"\",\"flag\":true,\"count\":3,\"extra\":[1]}") == NULL);
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

TESTS(test_body_json, test_validate)
