/*
 * Regression tests for parser bugs found by the fuzz targets in tests/fuzz (one test per
 * finding; the crashing input is also kept as a seed in tests/fuzz/corpus/<target>/).
 */
#include "testlib.h"

#include <string.h>

#include "csv.h"
#include "jsonx.h"
#include "policy.h"
#include "records.h"

/* jsonx_parse let invalid UTF-8 through; records_serialize then wrote a file it refused. */
static void test_jsonx_rejects_invalid_utf8(void)
{
	static const char *const bad[] = {
	    "\"\xff\"",     "\"\xc3\"",      "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
	    "\"\xc0\xaf\"", "{\"a\xfe\":1}",
	};
	struct json_object *o;
	struct err e;
	for (size_t i = 0; i < NELEM(bad); i++) {
		CHECK_INT(jsonx_parse(bad[i], strlen(bad[i]), &o, &e), -1);
		CHECK(o == NULL);
	}
	const char *good = "[\"\xc3\xa9\",\"\xf0\x9f\x98\x80\",\"\\ud83d\\ude00\"]";
	CHECK_INT(jsonx_parse(good, strlen(good), &o, &e), 0);
	json_object_put(o);
}

/* Strings built in-process may hold any bytes: the output must always parse back. */
static void test_records_serialize_invalid_utf8(void)
{
	static const char *const bad[] = {
	    "\xff",     "a\xc3",    "\xed\xa0\x80", "\xf4\x90\x80\x80",
	    "\xc0\xaf", "\xe2\x82", "x\xf0\x9f\x98"};
	for (size_t i = 0; i < NELEM(bad); i++) {
		struct json_object *arr = json_object_new_array();
		struct json_object *rec = records_new("contoso", bad[i], NULL);
		json_object_array_add(arr, rec);
		char *s = records_serialize(arr);
		struct json_object *back = NULL;
		struct err e;
		CHECK_MSG(records_parse(s, strlen(s), &back, &e) == 0, "input %zu: %s", i, e.msg);
		json_object_put(back);
		free(s);
		json_object_put(arr);
	}
}

/* A header "name, Name " has two columns csv_col cannot tell apart: refused. */
static void test_csv_duplicate_header_modulo_spaces(void)
{
	struct csv_table t;
	struct err e;
	const char *in = "name, Name \nx,y\n";
	CHECK_INT(csv_parse(in, strlen(in), &t, &e), -1);
	CHECK(strstr(e.msg, "appears twice") != NULL);
	const char *ok = " name ,phone\nx,y\n";
	CHECK_INT(csv_parse(ok, strlen(ok), &t, &e), 0);
	CHECK_INT(csv_col(&t, "name"), 0);
	CHECK_INT(csv_col(&t, " phone "), 1);
	csv_free(&t);
}

/* buf_steal of a buf nothing was appended to returned unterminated memory; policy
 * explanations hit it with {"equals":""} (an ASan heap overflow under libFuzzer). */
static void test_buf_steal_empty_and_policy_empty_string(void)
{
	struct buf b;
	buf_init(&b);
	size_t n = 1;
	char *s = buf_steal(&b, &n);
	CHECK(s != NULL && s[0] == '\0' && n == 0);
	free(s);
	const char *text = "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"https://a.example\","
	                   "\"allOf\":[{\"claim\":\"x\",\"equals\":\"\"}]}]}";
	struct json_object *p = NULL, *claims = json_object_new_object(), *report = NULL;
	char *why = NULL;
	struct err e;
	CHECK_INT(policy_parse(text, strlen(text), &p, &e), 0);
	jsonx_add_str(claims, "x", "y");
	CHECK_INT(policy_evaluate(p, "https://a.example", claims, &report, &why, &e), 0);
	CHECK(why != NULL && strstr(why, "''") != NULL);
	free(why);
	json_object_put(report);
	json_object_put(claims);
	json_object_put(p);
}

/* Every JSON answer and the record file: byte for byte what Python's json.dumps(indent=2)
 * writes (the expected text is its output for the same object), and it parses back. */
static void test_jsonx_dump_pretty_is_python_indent2(void)
{
	static const char in[] =
	    "{\"status\":\"ok\",\"empty_o\":{},\"empty_a\":[],\"n\":[1,-2,true,false,null],"
	    "\"s\":\"a/b \\\"q\\\" \\\\ \\n\\t\xc3\xa9\xf0\x9f\x98\x80\\u0001\x7f\","
	    "\"nest\":{\"k\":[{\"x\":1}]}}";
	static const char want[] =
	    "{\n  \"status\": \"ok\",\n  \"empty_o\": {},\n  \"empty_a\": [],\n  \"n\": [\n"
	    "    1,\n    -2,\n    true,\n    false,\n    null\n  ],\n"
	    "  \"s\": \"a/b \\\"q\\\" \\\\ \\n\\t\\u00e9\\ud83d\\ude00\\u0001\\u007f\",\n"
	    "  \"nest\": {\n    \"k\": [\n      {\n        \"x\": 1\n      }\n    ]\n  }\n}";
	struct json_object *o, *back;
	struct err e;
	CHECK_INT(jsonx_parse(in, strlen(in), &o, &e), 0);
	char *s = jsonx_dump_pretty(o);
	CHECK_STR(s, want);
	CHECK_INT(jsonx_parse(s, strlen(s), &back, &e), 0);
	CHECK(json_object_equal(o, back));
	free(s);
	json_object_put(back);
	json_object_put(o);
}

TESTS(test_buf_steal_empty_and_policy_empty_string, test_jsonx_dump_pretty_is_python_indent2,
      test_jsonx_rejects_invalid_utf8, test_records_serialize_invalid_utf8,
      test_csv_duplicate_header_modulo_spaces)
