/* The consolidated record file: shape, timestamps, Python-compatible output, merge rules. */
#include <stdlib.h>
#include <unistd.h>

#include "blob.h"
#include "config.h"
#include "jsonx.h"
#include "records.h"
#include "testlib.h"

static void test_timestamp_format(void)
{
	for (int i = 0; i < 50; i++) {
		char *ts = records_timestamp();
		size_t n = strlen(ts);
		/* 2026-02-07T10:11:12.345678Z, or 2026-02-07T10:11:12Z when microseconds are 0 */
		CHECK_MSG(n == 27 || n == 20, "%s", ts);
		CHECK(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' &&
		      ts[16] == ':');
		CHECK(ts[n - 1] == 'Z');
		if (n == 27) {
			CHECK(ts[19] == '.');
			CHECK(strncmp(ts + 20, "000000", 6) != 0);
		}
		free(ts);
	}
}

static void test_record_shape(void)
{
	struct json_object *r = records_new("contoso", "bmFtZQ==", NULL);
	int i = 0;
	static const char *const keys[] = {"timestamp", "company", "name_encrypted",
	                                   "phone_encrypted"};
	json_object_object_foreach(r, k, v)
	{
		CHECK(i < 4 && !strcmp(k, keys[i]));
		i++;
		(void)v;
	}
	CHECK_INT(i, 4);
	CHECK_STR(jsonx_str(r, "company"), "contoso");
	struct json_object *ph = NULL;
	CHECK(json_object_object_get_ex(r, "phone_encrypted", &ph) && ph == NULL);
	json_object_put(r);
	r = records_new("fabrikam", "YQ==", "Yg==");
	CHECK_STR(jsonx_str(r, "phone_encrypted"), "Yg==");
	json_object_put(r);
}

static void test_serialize_like_python(void)
{
	struct json_object *arr = json_object_new_array();
	char *s = records_serialize(arr);
	CHECK_STR(s, "[]");
	free(s);
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "timestamp", "2026-02-07T10:11:12.345678Z");
	jsonx_add_str(o, "company", "contoso");
	jsonx_add_str(o, "name_encrypted", "QUJD+/==");
	jsonx_add_str(o, "phone_encrypted", NULL);
	json_object_array_add(arr, o);
	o = json_object_new_object();
	jsonx_add_str(o, "company", "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\\/\n\x01");
	jsonx_add_int(o, "n", -5);
	jsonx_add_bool(o, "b", 1);
	jsonx_add(o, "e", json_object_new_object());
	jsonx_add(o, "l", json_object_new_array());
	json_object_array_add(arr, o);
	s = records_serialize(arr);
	/* json.dumps(x, indent=2) in Python 3 gives exactly this. */
	CHECK_STR(s, "[\n"
	             "  {\n"
	             "    \"timestamp\": \"2026-02-07T10:11:12.345678Z\",\n"
	             "    \"company\": \"contoso\",\n"
	             "    \"name_encrypted\": \"QUJD+/==\",\n"
	             "    \"phone_encrypted\": null\n"
	             "  },\n"
	             "  {\n"
	             "    \"company\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\\\\/\\n\\u0001\",\n"
	             "    \"n\": -5,\n"
	             "    \"b\": true,\n"
	             "    \"e\": {},\n"
	             "    \"l\": []\n"
	             "  }\n"
	             "]");
	/* And it reads back as the same records. */
	struct json_object *back = NULL;
	struct err e;
	CHECK(records_parse(s, strlen(s), &back, &e) == 0);
	CHECK_INT(json_object_array_length(back), 2);
	CHECK_STR(jsonx_str(json_object_array_get_idx(back, 1), "company"),
	          "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\\/\n\x01");
	json_object_put(back);
	free(s);
	json_object_put(arr);
}

static void test_parse_rules(void)
{
	struct json_object *out = NULL;
	struct err e;
	const char *one = "{\"company\": \"contoso\", \"name_encrypted\": \"x\"}";
	CHECK(records_parse(one, strlen(one), &out, &e) == 0);
	CHECK(json_object_is_type(out, json_type_array) && json_object_array_length(out) == 1);
	CHECK_STR(jsonx_str(json_object_array_get_idx(out, 0), "company"), "contoso");
	json_object_put(out);
	CHECK(records_parse("[]", 2, &out, &e) == 0 && json_object_array_length(out) == 0);
	json_object_put(out);
	static const char *const bad[] = {"",    "null",    "\"x\"",      "42",
	                                  "[1]", "[{}, 2]", "[{\"a\":1}", "{\"a\":1} x"};
	for (size_t i = 0; i < NELEM(bad); i++) {
		out = (struct json_object *)1;
		err_clear(&e);
		CHECK_MSG(records_parse(bad[i], strlen(bad[i]), &out, &e) < 0, "'%s' accepted",
		          bad[i]);
		CHECK(out == NULL);
		CHECK(e.code == ERR_UPSTREAM);
		CHECK(strstr(e.msg, "refusing to overwrite") != NULL);
	}
}

static void test_blob_name(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.resource_group = (char *)"";
	char *n = records_blob_name();
	CHECK_STR(n, "consolidated-records.json");
	free(n);
	cfg.resource_group = (char *)"demo42acr-rg";
	n = records_blob_name();
	CHECK_STR(n, "consolidated-records-demo42acr-rg.json");
	free(n);
	memset(&cfg, 0, sizeof(cfg));
}

static void test_append_merges_and_wraps(void)
{
	char tmpl[] = "/tmp/test-records.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	struct blob_store *s = NULL;
	struct err e;
	CHECK_MSG(blob_open_dir(&s, tmpl, &e) == 0, "%s", e.msg);
	if (!s)
		return;
	/* A file the original wrote holding one object. */
	const char *one = "{\"timestamp\": \"2026-02-07T10:11:12Z\", \"company\": \"fabrikam\", "
	                  "\"name_encrypted\": \"QQ==\", \"phone_encrypted\": null}";
	CHECK(blob_put(s, "r.json", one, strlen(one), "application/json", NULL, 0, NULL, &e) == 0);
	struct json_object *add = json_object_new_array();
	json_object_array_add(add, records_new("contoso", "Qg==", "Qw=="));
	json_object_array_add(add, records_new("contoso", "RA==", NULL));
	int total = 0;
	CHECK_MSG(records_append(s, "r.json", add, &total, &e) == 0, "%s", e.msg);
	CHECK_INT(total, 3);
	struct json_object *arr = NULL;
	char *et = NULL;
	CHECK(records_read(s, "r.json", &arr, &et, &e) == 0);
	CHECK(et && *et);
	CHECK_INT(json_object_array_length(arr), 3);
	CHECK_STR(jsonx_str(json_object_array_get_idx(arr, 0), "company"), "fabrikam");
	CHECK_STR(jsonx_str(json_object_array_get_idx(arr, 2), "name_encrypted"), "RA==");
	json_object_put(arr);
	free(et);
	/* New file: created with If-None-Match:*. */
	CHECK(records_append(s, "new.json", add, &total, &e) == 0);
	CHECK_INT(total, 2);
	/* Not an array of records: an error, and nothing written. */
	CHECK(blob_put(s, "bad.json", "[1,2]", 5, NULL, NULL, 0, NULL, &e) == 0);
	err_clear(&e);
	CHECK(records_append(s, "bad.json", add, &total, &e) < 0);
	CHECK_MSG(strstr(e.msg, "nothing written") != NULL, "%s", e.msg);
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(s, "bad.json", &b, NULL, NULL, &e) == 0);
	CHECK(b.len == 5 && !memcmp(b.p, "[1,2]", 5));
	buf_free(&b);
	/* Not an array to add: refused. */
	struct json_object *notarr = json_object_new_object();
	CHECK(records_append(s, "new.json", notarr, &total, &e) < 0);
	json_object_put(notarr);
	json_object_put(add);
	blob_close(s);
	char *cmd = xasprintf("rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
	free(cmd);
}

TESTS(test_timestamp_format, test_record_shape, test_serialize_like_python, test_parse_rules,
      test_blob_name, test_append_merges_and_wraps)
