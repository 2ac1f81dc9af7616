/*
 * The record store: shape, timestamps, Python-compatible output, merge rules; the segmented
 * layout (sealing, a crash between seal and restart, a foreign segment), the original's
 * single-file layout, paging across segment boundaries (also while a writer appends), clear,
 * de-duplication by source, cursors and limits.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* ---- the segmented store ---- */

#define B RECORDS_SEGMENT_MAX

static char *tmpdir_new(void)
{
	char tmpl[] = "/tmp/test-records.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	return xstrdup(tmpl);
}

static void tmpdir_rm(char *d)
{
	char *cmd = xasprintf("rm -rf '%s'", d);
	CHECK(system(cmd) == 0);
	free(cmd);
	free(d);
}

static struct blob_store *store_at(const char *dir)
{
	struct blob_store *s = NULL;
	struct err e;
	err_clear(&e);
	CHECK_MSG(blob_open_dir(&s, dir, &e) == 0, "%s", e.msg);
	return s;
}

/* A record with a recognisable ciphertext: company and a number. */
/* A record whose ciphertext is "<company>-<i>", or with tag >= 0 "<company>-<tag>-<i:06>"
 * (one width, so that two versions of a segment can have the same size and numbers). */
static struct json_object *rec_tagged(const char *company, int tag, int i)
{
	char ct[48];
	if (tag < 0)
		snprintf(ct, sizeof(ct), "%s-%d", company, i);
	else
		snprintf(ct, sizeof(ct), "%s-%d-%06d", company, tag, i);
	return records_new(company, ct, NULL);
}

static struct json_object *rec(const char *company, int i)
{
	return rec_tagged(company, -1, i);
}

/* Records from..from+n-1 of company (tagged as rec_tagged) in appends of batch records. */
static int append_batches(struct blob_store *s, const char *blob, const char *company, int tag,
                          int from, int n, int batch)
{
	struct err e;
	for (int i = 0; i < n; i += batch) {
		struct json_object *add = json_object_new_array();
		for (int j = i; j < n && j < i + batch; j++)
			json_object_array_add(add, rec_tagged(company, tag, from + j));
		err_clear(&e);
		int rc = records_append(s, blob, add, NULL, &e);
		json_object_put(add);
		if (rc < 0) {
			fprintf(stderr, "  append: %s\n", e.msg);
			return -1;
		}
	}
	return 0;
}

static int append_n(struct blob_store *s, const char *blob, const char *company, int from, int n,
                    int batch)
{
	return append_batches(s, blob, company, -1, from, n, batch);
}

/* Every record of the store, paged with limit; NULL on an error. Checks the page invariants. */
static struct json_object *page_all(struct blob_store *s, const char *blob, long long limit,
                                    long long *total, int *pages)
{
	struct json_object *all = json_object_new_array();
	long long after = 0, prev = 0;
	int n = 0;
	for (;;) {
		struct records_page p;
		struct err e;
		err_clear(&e);
		if (records_page(s, blob, after, limit, &p, &e) < 0) {
			fprintf(stderr, "  page after %lld: %s\n", after, e.msg);
			json_object_put(all);
			return NULL;
		}
		n++;
		CHECK((long long)json_object_array_length(p.records) <= limit);
		for (size_t i = 0; i < json_object_array_length(p.records); i++) {
			struct json_object *r = json_object_array_get_idx(p.records, i);
			long long ln = 0;
			CHECK(jsonx_int(r, "line_number", &ln) && ln > prev);
			CHECK(!json_object_object_get_ex(r, "seq", NULL));
			prev = ln;
			json_object_array_add(all, json_object_get(r));
		}
		if (total)
			*total = p.total;
		CHECK(!p.next || p.next > after);
		after = p.next;
		records_page_free(&p);
		if (!after || n > 100000)
			break;
	}
	if (pages)
		*pages = n;
	return all;
}

static const char *ct_of(struct json_object *all, size_t i)
{
	return jsonx_str(json_object_array_get_idx(all, i), "name_encrypted");
}

static long long line_of(struct json_object *all, size_t i)
{
	long long v = 0;
	(void)jsonx_int(json_object_array_get_idx(all, i), "line_number", &v);
	return v;
}

static int blob_exists(struct blob_store *s, const char *name)
{
	struct buf b;
	struct err e;
	buf_init(&b);
	err_clear(&e);
	int rc = blob_get(s, name, &b, NULL, NULL, &e);
	buf_free(&b);
	return rc == 0;
}

static void test_segments_seal_and_number(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	/* 700 records in batches of 9: the current segment never holds more than B + 8. */
	CHECK(append_n(s, "r.json", "contoso", 0, 700, 9) == 0);
	char *seg0 = records_segment_name("r.json", 0), *seg1 = records_segment_name("r.json", 1);
	char *seg2 = records_segment_name("r.json", 2);
	CHECK_STR(seg0, "r.seg-000000.json");
	CHECK(blob_exists(s, seg0) && blob_exists(s, seg1) && !blob_exists(s, seg2));
	struct json_object *arr = NULL;
	struct err e;
	CHECK(records_read(s, seg1, &arr, NULL, &e) == 0);
	CHECK_INT(arr ? json_object_array_length(arr) : 0, B);
	long long q = 0;
	CHECK(arr && jsonx_int(json_object_array_get_idx(arr, 0), "seq", &q) && q == B + 1);
	CHECK_STR(jsonx_str(json_object_array_get_idx(arr, 0), "name_encrypted"), "contoso-256");
	json_object_put(arr);
	CHECK(records_read(s, "r.json", &arr, NULL, &e) == 0);
	CHECK_INT(arr ? json_object_array_length(arr) : 0, 700 - 2 * B);
	CHECK(arr && jsonx_int(json_object_array_get_idx(arr, 0), "seq", &q) && q == 2 * B + 1);
	json_object_put(arr);
	struct records_head h;
	CHECK(records_head(s, "r.json", &h, &e) == 0);
	CHECK_INT(h.segment, 2);
	CHECK_INT(h.next_seq, 701);
	CHECK_INT(h.total, 700);
	/* One page at a time, in several sizes: every record once, in order, numbered 1..700. */
	static const long long limits[] = {1, 7, 100, B - 1, B, B + 1, 500};
	for (size_t l = 0; l < NELEM(limits); l++) {
		long long total = 0;
		int pages = 0;
		struct json_object *all = page_all(s, "r.json", limits[l], &total, &pages);
		CHECK_MSG(all && json_object_array_length(all) == 700, "limit %lld", limits[l]);
		CHECK_INT(total, 700);
		CHECK_MSG(pages == (int)((700 + limits[l] - 1) / limits[l]) ||
		              pages == (int)((700 + limits[l] - 1) / limits[l]) + 1,
		          "limit %lld: %d pages", limits[l], pages);
		for (size_t i = 0; all && i < json_object_array_length(all); i++) {
			char want[32];
			snprintf(want, sizeof(want), "contoso-%zu", i);
			CHECK_STR(ct_of(all, i), want);
			CHECK_INT(line_of(all, i), (long long)i + 1);
		}
		json_object_put(all);
	}
	free(seg0);
	free(seg1);
	free(seg2);
	blob_close(s);
	tmpdir_rm(dir);
}

/* The current segment as a sealer leaves it between its two writes. */
static void write_intermediate(struct blob_store *s, int n, int seal_it, const char *seg_text)
{
	struct json_object *cur = json_object_new_array(), *seg = json_object_new_array();
	struct err e;
	for (int i = 0; i < n; i++) {
		struct json_object *r = rec("fabrikam", i);
		json_object_object_add(r, "seq", json_object_new_int64(i + 1));
		json_object_array_add(cur, r);
		if (i < B)
			json_object_array_add(seg, json_object_get(r));
	}
	char *t = records_serialize(cur);
	CHECK(blob_put(s, "c.json", t, strlen(t), "application/json", NULL, 0, NULL, &e) == 0);
	free(t);
	if (seal_it) {
		t = seg_text ? xstrdup(seg_text) : records_serialize(seg);
		CHECK(blob_put(s, "c.seg-000000.json", t, strlen(t), "application/json", NULL, 1,
		               NULL, &e) == 0);
		free(t);
	}
	json_object_put(cur);
	json_object_put(seg);
}

static void test_crash_between_seal_and_restart(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	/* The sealed segment was written; the restart of the current one never happened. */
	write_intermediate(s, B + 44, 1, NULL);
	long long total = 0;
	struct json_object *all = page_all(s, "c.json", 50, &total, NULL);
	CHECK_INT(all ? json_object_array_length(all) : 0, B + 44);
	CHECK_INT(total, B + 44);
	json_object_put(all);
	struct buf before, after;
	struct err e;
	buf_init(&before);
	buf_init(&after);
	CHECK(blob_get(s, "c.seg-000000.json", &before, NULL, NULL, &e) == 0);
	/* The next writer completes the seal: nothing lost, nothing twice. */
	CHECK(append_n(s, "c.json", "contoso", 0, 1, 1) == 0);
	CHECK(blob_get(s, "c.seg-000000.json", &after, NULL, NULL, &e) == 0);
	CHECK(before.len == after.len && !memcmp(before.p, after.p, before.len));
	struct json_object *cur = NULL;
	CHECK(records_read(s, "c.json", &cur, NULL, &e) == 0);
	CHECK_INT(cur ? json_object_array_length(cur) : 0, 45);
	json_object_put(cur);
	all = page_all(s, "c.json", 100, &total, NULL);
	CHECK_INT(all ? json_object_array_length(all) : 0, B + 45);
	CHECK_INT(total, B + 45);
	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		char want[32];
		snprintf(want, sizeof(want), i < B + 44 ? "fabrikam-%zu" : "contoso-0", i);
		CHECK_STR(ct_of(all, i), want);
		CHECK_INT(line_of(all, i), (long long)i + 1);
	}
	json_object_put(all);
	buf_free(&before);
	buf_free(&after);

	/* A segment of that name with other records: an error, and nothing written. */
	write_intermediate(s, B + 3, 0, NULL);
	CHECK(blob_put(s, "c.seg-000000.json", "[]", 2, "application/json", NULL, 0, NULL, &e) ==
	      0);
	buf_init(&before);
	CHECK(blob_get(s, "c.json", &before, NULL, NULL, &e) == 0);
	struct json_object *add = json_object_new_array();
	json_object_array_add(add, rec("contoso", 99));
	err_clear(&e);
	CHECK(records_append(s, "c.json", add, NULL, &e) < 0);
	CHECK_MSG(e.code == ERR_UPSTREAM && strstr(e.msg, "nothing written"), "%s", e.msg);
	json_object_put(add);
	buf_init(&after);
	CHECK(blob_get(s, "c.json", &after, NULL, NULL, &e) == 0);
	CHECK(before.len == after.len && !memcmp(before.p, after.p, before.len));
	buf_free(&before);
	buf_free(&after);
	blob_close(s);
	tmpdir_rm(dir);
}

static void test_original_single_file_layout(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	struct err e;
	/* The original's file: no seq, any length; read as segment 0, numbered by position. */
	struct json_object *old = json_object_new_array();
	for (int i = 0; i < 600; i++)
		json_object_array_add(old, rec(i % 2 ? "fabrikam" : "contoso", i));
	char *t = records_serialize(old);
	CHECK(blob_put(s, "o.json", t, strlen(t), "application/json", NULL, 0, NULL, &e) == 0);
	free(t);
	json_object_put(old);
	long long total = 0;
	struct json_object *all = page_all(s, "o.json", 77, &total, NULL);
	CHECK_INT(all ? json_object_array_length(all) : 0, 600);
	CHECK_INT(total, 600);
	CHECK(all && line_of(all, 599) == 600 && !strcmp(ct_of(all, 599), "fabrikam-599"));
	json_object_put(all);
	/* The first write seals it into segments and numbers everything. */
	CHECK(append_n(s, "o.json", "contoso", 600, 1, 1) == 0);
	CHECK(blob_exists(s, "o.seg-000000.json") && blob_exists(s, "o.seg-000001.json"));
	all = page_all(s, "o.json", 500, &total, NULL);
	CHECK_INT(all ? json_object_array_length(all) : 0, 601);
	CHECK_INT(total, 601);
	for (size_t i = 0; all && i < json_object_array_length(all); i++)
		CHECK_INT(line_of(all, i), (long long)i + 1);
	json_object_put(all);
	/* Compact JSON (not our layout) and one object read too. */
	const char *compact = "[{\"company\":\"contoso\",\"name_encrypted\":\"QQ==\"},"
	                      "{\"company\":\"fabrikam\",\"name_encrypted\":\"Qg==\"}]";
	CHECK(blob_put(s, "k.json", compact, strlen(compact), NULL, NULL, 0, NULL, &e) == 0);
	all = page_all(s, "k.json", 1, &total, NULL);
	CHECK(all && json_object_array_length(all) == 2 && !strcmp(ct_of(all, 1), "Qg==") &&
	      line_of(all, 1) == 2);
	json_object_put(all);
	const char *one = "{\"company\": \"contoso\", \"name_encrypted\": \"QQ==\"}";
	CHECK(blob_put(s, "1.json", one, strlen(one), NULL, NULL, 0, NULL, &e) == 0);
	all = page_all(s, "1.json", 10, &total, NULL);
	CHECK(all && json_object_array_length(all) == 1 && total == 1);
	json_object_put(all);
	/* No file: an empty first page that says so. */
	struct records_page p;
	CHECK(records_page(s, "none.json", 0, 10, &p, &e) == 0);
	CHECK(!p.exists && p.total == 0 && !p.next && json_object_array_length(p.records) == 0);
	records_page_free(&p);
	blob_close(s);
	tmpdir_rm(dir);
}

static void test_paging_while_appending(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	CHECK(append_n(s, "w.json", "contoso", 0, 500, 50) == 0);
	pid_t kid = fork();
	if (kid == 0) {
		struct blob_store *mine = store_at(dir);
		int rc = mine ? append_n(mine, "w.json", "fabrikam", 0, 400, 1) : -1;
		blob_close(mine);
		_exit(rc == 0 ? 0 : 1);
	}
	/* Pages while the other process appends one record at a time across two seals. */
	int rounds = 0;
	for (;;) {
		long long total = 0;
		struct json_object *all = page_all(s, "w.json", 13, &total, NULL);
		size_t n = all ? json_object_array_length(all) : 0;
		CHECK(n >= 500);
		for (size_t i = 0; i < 500 && i < n; i++) {
			char want[32];
			snprintf(want, sizeof(want), "contoso-%zu", i);
			CHECK_STR(ct_of(all, i), want);
		}
		/* What was appended meanwhile is there in order, once: fabrikam-0, 1, 2, ... */
		for (size_t i = 500; i < n; i++) {
			char want[32];
			snprintf(want, sizeof(want), "fabrikam-%zu", i - 500);
			CHECK_STR(ct_of(all, i), want);
		}
		json_object_put(all);
		rounds++;
		if (n == 900 || rounds > 2000)
			break;
	}
	int st = 0;
	CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(rounds > 1);
	blob_close(s);
	tmpdir_rm(dir);
}

static void test_clear(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	struct err e;
	/* 3 sealed segments and a current one, the companies interleaved: 810 records. */
	for (int i = 0; i < 810; i += 10) {
		CHECK(append_n(s, "x.json", "contoso", i, 6, 6) == 0);
		CHECK(append_n(s, "x.json", "fabrikam", i, 4, 4) == 0);
	}
	long long total = 0, removed = -1;
	struct json_object *before = page_all(s, "x.json", 500, &total, NULL);
	CHECK_INT(total, 810);
	CHECK(records_clear(s, "x.json", "contoso", &removed, &total, &e) == 0);
	CHECK_INT(removed, 486);
	CHECK_INT(total, 324);
	struct json_object *after = page_all(s, "x.json", 33, &total, NULL);
	CHECK_INT(total, 324);
	size_t j = 0, sealed_kept = 0;
	for (size_t i = 0; before && after && i < json_object_array_length(before); i++) {
		struct json_object *r = json_object_array_get_idx(before, i);
		if (!strcmp(jsonx_str(r, "company"), "contoso"))
			continue;
		CHECK(j < json_object_array_length(after) &&
		      !strcmp(ct_of(after, j), ct_of(before, i)));
		/* Sealed records keep their numbers. */
		if (line_of(before, i) <= 3 * B) {
			CHECK_INT(line_of(after, j), line_of(before, i));
			sealed_kept++;
		}
		j++;
	}
	CHECK(sealed_kept > 0);
	CHECK_INT(j, after ? json_object_array_length(after) : 0);
	json_object_put(before);
	json_object_put(after);
	CHECK(records_clear(s, "x.json", "contoso", &removed, &total, &e) == 0);
	CHECK_INT(removed, 0);
	/* The other company too: the current segment is empty, numbering goes on after the
	 * sealed segments and the total stays right. */
	CHECK(records_clear(s, "x.json", "fabrikam", &removed, &total, &e) == 0);
	CHECK_INT(total, 0);
	CHECK(append_n(s, "x.json", "contoso", 1000, 3, 3) == 0);
	struct json_object *all = page_all(s, "x.json", 2, &total, NULL);
	CHECK_INT(total, 3);
	CHECK(all && json_object_array_length(all) == 3 && line_of(all, 0) == 3 * B + 1 &&
	      !strcmp(ct_of(all, 2), "contoso-1002"));
	json_object_put(all);
	struct records_head h;
	CHECK(records_head(s, "x.json", &h, &e) == 0);
	CHECK_INT(h.total, 3);
	CHECK_INT(h.segment, 3);
	blob_close(s);
	tmpdir_rm(dir);
}

static void test_dedupe_by_source(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	struct err e;
	struct json_object *add = json_object_new_array();
	for (int i = 0; i < 5; i++) {
		struct json_object *r = rec("contoso", i);
		char src[32];
		snprintf(src, sizeof(src), "c.csv:%d", i + 2);
		jsonx_add_str(r, "source", src);
		json_object_array_add(add, r);
	}
	struct records_dedupe d = {"contoso", 1};
	struct records_appended a;
	CHECK(records_append_unique(s, "d.json", add, &d, &a, &e) == 0);
	CHECK(a.added == 5 && a.skipped == 0 && a.total == 5);
	/* Push them into a sealed segment; the scan from 1 still finds them. */
	CHECK(append_n(s, "d.json", "fabrikam", 0, B + 10, 50) == 0);
	CHECK(append_n(s, "d.json", "fabrikam", 0, 1, 1) == 0);
	CHECK(blob_exists(s, "d.seg-000000.json"));
	CHECK(records_append_unique(s, "d.json", add, &d, &a, &e) == 0);
	CHECK(a.added == 0 && a.skipped == 5);
	/* Another company's rows with the same source are not ours; a scan that starts later
	 * does not look at the sealed segment. */
	struct records_dedupe other = {"fabrikam", 1}, late = {"contoso", B + 1};
	CHECK(records_append_unique(s, "d.json", add, &late, &a, &e) == 0);
	CHECK(a.added == 5);
	CHECK(records_append_unique(s, "d.json", add, &late, &a, &e) == 0);
	CHECK(a.added == 0 && a.skipped == 5);
	CHECK(records_append_unique(s, "d.json", add, &other, &a, &e) == 0);
	CHECK(a.added == 5);
	json_object_put(add);
	blob_close(s);
	tmpdir_rm(dir);
}

static void test_cursor_and_limits(void)
{
	struct err e;
	long long n = 0;
	char *c = records_cursor(12345);
	CHECK(records_cursor_parse(c, &n, &e) == 0 && n == 12345);
	free(c);
	static const char *const bad[] = {"",   "r",    "r0",  "r-1", "12",
	                                  "x1", "r01",  "r1 ", "r1x", "r99999999999999999",
	                                  "R1", "r1.5", "r+1", " r1"};
	for (size_t i = 0; i < NELEM(bad); i++) {
		err_clear(&e);
		CHECK_MSG(records_cursor_parse(bad[i], &n, &e) < 0 && e.code == ERR_BAD_REQUEST,
		          "'%s' accepted", bad[i]);
	}
	struct records_page p;
	static const long long limits[] = {0, -1, RECORDS_PAGE_MAX + 1};
	for (size_t i = 0; i < NELEM(limits); i++) {
		err_clear(&e);
		CHECK(records_page(NULL, "x.json", 0, limits[i], &p, &e) < 0 &&
		      e.code == ERR_BAD_REQUEST && e.stage == STAGE_REQUEST);
	}
}

/* After a clear emptied more sealed segments than a page reads, the first page still holds the
 * records that are left (it skips what the removed counts say is empty). */
static void test_page_after_clear_skips_empty_segments(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	struct err e;
	CHECK(append_n(s, "z.json", "contoso", 0, (RECORDS_PAGE_SEGMENTS + 2) * B + 5, B) == 0);
	CHECK(append_n(s, "z.json", "contoso", 0, 1, 1) == 0);
	long long removed = 0, total = 0;
	CHECK(records_clear(s, "z.json", "contoso", &removed, &total, &e) == 0);
	CHECK_INT(total, 0);
	CHECK(append_n(s, "z.json", "fabrikam", 0, 2, 1) == 0);
	struct records_page p;
	CHECK(records_page(s, "z.json", 0, 10, &p, &e) == 0);
	CHECK_INT(json_object_array_length(p.records), 2);
	CHECK_INT(p.total, 2);
	CHECK_INT(p.next, 0);
	records_page_free(&p);
	blob_close(s);
	tmpdir_rm(dir);
}

/* The page reader splits files in our layout without parsing them: for every file the parser
 * accepts it must answer the same records, whatever the bytes (mutations of a file in our
 * layout, truncations, other formatting); for the others it may fail, but never crash. */
static int page_matches_parse(struct blob_store *s, const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	struct json_object *want = NULL;
	struct err e;
	err_clear(&e);
	int ok_parse = records_parse(text, len, &want, &e) == 0;
	struct records_page p;
	err_clear(&e);
	int ok_page = records_page(s, "m.json", 0, RECORDS_PAGE_MAX, &p, &e) == 0;
	int agree = 1;
	if (ok_parse) {
		agree = ok_page &&
		        json_object_array_length(p.records) == json_object_array_length(want);
		for (size_t i = 0; agree && i < json_object_array_length(want); i++) {
			const char *a =
			    jsonx_str(json_object_array_get_idx(want, i), "name_encrypted");
			const char *b =
			    jsonx_str(json_object_array_get_idx(p.records, i), "name_encrypted");
			agree = (!a && !b) || (a && b && !strcmp(a, b));
		}
	}
	for (size_t i = 0; ok_page && i < json_object_array_length(p.records); i++)
		agree &=
		    json_object_is_type(json_object_array_get_idx(p.records, i), json_type_object);
	if (ok_page)
		records_page_free(&p);
	json_object_put(want);
	return agree ? 0 : -1;
}

static void test_page_reader_agrees_with_parser(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	char *path = xasprintf("%s/m.json", dir);
	struct json_object *arr = json_object_new_array();
	for (int i = 0; i < 3; i++) {
		struct json_object *r = rec(i ? "fabrikam" : "contoso", i);
		json_object_object_add(r, "seq", json_object_new_int64(i + 1));
		json_object_array_add(arr, r);
	}
	char *base = records_serialize(arr);
	json_object_put(arr);
	size_t n = strlen(base);
	int bad = 0, cases = 0;
	static const char subst[] = "\n }{,\"1x]";
	char *t = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < sizeof(subst) - 1; j++) {
			memcpy(t, base, n);
			t[i] = subst[j];
			cases++;
			if (page_matches_parse(s, path, t, n) < 0 && bad++ < 5)
				fprintf(stderr, "  disagree: byte %zu -> '%c'\n", i, subst[j]);
		}
		cases++;
		if (page_matches_parse(s, path, base, i) < 0 && bad++ < 5)
			fprintf(stderr, "  disagree: truncated to %zu\n", i);
	}
	/* Valid JSON in other layouts, some close to ours. */
	static const char *const other[] = {
	    "[\n  {\n    \"seq\": 1,\n    \"name_encrypted\": \"A\",\n    \"x\": {\n  }\n  }\n]",
	    "[\n  {\n    \"seq\": 1,\n    \"x\": [\n  {\n  }\n  ],\n    \"name_encrypted\": "
	    "\"B\"\n  }\n]",
	    "[\n  {\n    \"seq\": 1,\n    \"name_encrypted\": \"A\"\n  },\n  {\n    \"seq\": 2,\n  "
	    "  "
	    "\"y\": {\n  },\n  {\n  }\n  }\n]",
	    "[\n  {\n    \"seq\": 2,\n    \"name_encrypted\": \"A\"\n  },\n  {\n    \"seq\": 1\n  "
	    "}\n]",
	    "[\n  {\n    \"seq\": 1\n  },\n  {\n    \"name_encrypted\": \"no seq\"\n  }\n]",
	    "[{\"seq\": 1}, {\"seq\": 2}]",
	    "[\n  {}\n]",
	    "[\n\n  {\n    \"seq\": 1\n  }\n]",
	};
	for (size_t i = 0; i < NELEM(other); i++) {
		cases++;
		if (page_matches_parse(s, path, other[i], strlen(other[i])) < 0 && bad++ < 10)
			fprintf(stderr, "  disagree: layout %zu\n", i);
	}
	CHECK_MSG(bad == 0, "%d of %d files read differently", bad, cases);
	free(t);
	free(base);
	free(path);
	blob_close(s);
	tmpdir_rm(dir);
}

/* ---- the page cache ---- */

static struct records_cache_stats stats_of(struct blob_store *s)
{
	struct records_cache_stats st;
	records_cache_stats(s, &st);
	return st;
}

/* n records of company in batches, each ciphertext "<company>-<tag>-<i>" of one width. */
static int append_tagged(struct blob_store *s, const char *blob, const char *company, int tag,
                         int n, int batch)
{
	return append_batches(s, blob, company, tag, 0, n, batch);
}

/*
 * The pages of r (warm) are exactly those of a store opened now (cold), and hold want records;
 * *tagged (may be NULL) gets how many have tag in their ciphertext.
 */
static void check_as_cold(struct blob_store *r, const char *dir, const char *blob, long long limit,
                          long long want, const char *tag, long long *tagged, const char *label)
{
	struct blob_store *cold = store_at(dir);
	long long wt = -1, ct = -2;
	struct json_object *warm = page_all(r, blob, limit, &wt, NULL);
	struct json_object *fresh = cold ? page_all(cold, blob, limit, &ct, NULL) : NULL;
	size_t n = warm ? json_object_array_length(warm) : 0;
	CHECK_MSG(warm && fresh && n == json_object_array_length(fresh) && (long long)n == want,
	          "%s: %zu records, a cold read has %zu, expected %lld", label, n,
	          fresh ? json_object_array_length(fresh) : 0, want);
	CHECK_MSG(wt == ct && wt == want, "%s: total %lld, cold %lld", label, wt, ct);
	long long t = 0;
	for (size_t i = 0; warm && fresh && i < n && i < json_object_array_length(fresh); i++) {
		CHECK_MSG(!strcmp(ct_of(warm, i), ct_of(fresh, i)) &&
		              line_of(warm, i) == line_of(fresh, i),
		          "%s: record %zu is %s (%lld), a cold read has %s (%lld)", label, i,
		          ct_of(warm, i), line_of(warm, i), ct_of(fresh, i), line_of(fresh, i));
		t += tag && strstr(ct_of(warm, i), tag) != NULL;
	}
	if (tagged)
		*tagged = t;
	json_object_put(warm);
	json_object_put(fresh);
	blob_close(cold);
}

/* Another handle (another process, another instance) appends, clears, clears and refills: the
 * reader's next pages hold exactly the store's records, though it served pages from its cache. */
static void test_page_cache_sees_other_writers(void)
{
	char *dir = tmpdir_new();
	struct blob_store *r = store_at(dir), *w = store_at(dir);
	if (!r || !w)
		return;
	struct err e;
	/* 640 records, the companies in turns of 40: two sealed segments and 128 current. */
	for (int i = 0; i < 8; i++)
		CHECK(append_tagged(w, "p.json", i % 2 ? "fabrikam" : "contoso", i / 2, 80, 40) ==
		      0);
	tl_settle_file_clock();
	check_as_cold(r, dir, "p.json", 10, 640, NULL, NULL, "first");
	struct records_cache_stats a = stats_of(r);
	check_as_cold(r, dir, "p.json", 10, 640, NULL, NULL, "again");
	struct records_cache_stats b = stats_of(r);
	/* Served from the cache: nothing read again (the cold reads are another handle's). */
	CHECK_MSG(b.reads == a.reads && b.hits > a.hits, "reads %llu -> %llu, hits %llu -> %llu",
	          a.reads, b.reads, a.hits, b.hits);

	/* Appended meanwhile: the new records are there at once, and after the file settled. */
	CHECK(append_tagged(w, "p.json", "contoso", 9, 7, 7) == 0);
	long long tagged = 0;
	check_as_cold(r, dir, "p.json", 10, 647, "-9-", &tagged, "appended");
	CHECK_INT(tagged, 7);
	tl_settle_file_clock();
	check_as_cold(r, dir, "p.json", 33, 647, "-9-", &tagged, "appended, settled");
	CHECK_INT(tagged, 7);

	/* A clear rewrites the sealed segments and the current one. */
	long long removed = 0, total = 0;
	CHECK(records_clear(w, "p.json", "fabrikam", &removed, &total, &e) == 0);
	CHECK_INT(removed, 320);
	check_as_cold(r, dir, "p.json", 10, 327, "fabrikam", &tagged, "cleared");
	CHECK_INT(tagged, 0);
	tl_settle_file_clock();
	check_as_cold(r, dir, "p.json", 100, 327, "fabrikam", &tagged, "cleared, settled");
	CHECK_INT(tagged, 0);

	/* Cleared and refilled: the new current segment has the old one's numbers, and here even
	 * its size (the ciphertexts have one width); only its ETag tells the versions apart. */
	struct buf before, after;
	buf_init(&before);
	buf_init(&after);
	CHECK(blob_get(w, "p.json", &before, NULL, NULL, &e) == 0);
	CHECK(records_clear(w, "p.json", "contoso", &removed, &total, &e) == 0);
	CHECK_INT(total, 0);
	check_as_cold(r, dir, "p.json", 10, 0, NULL, NULL, "empty");
	struct records_page p;
	CHECK(records_page(r, "p.json", 0, 10, &p, &e) == 0);
	long long first = p.next;
	records_page_free(&p);
	CHECK_INT(first, 0);
	CHECK(append_tagged(w, "p.json", "contoso", 8, 7, 7) == 0);
	CHECK(blob_get(w, "p.json", &after, NULL, NULL, &e) == 0);
	CHECK(before.len > 0 && before.len != after.len); /* 7 records, not the 7 + 120 before */
	tl_settle_file_clock();
	check_as_cold(r, dir, "p.json", 10, 7, "-8-", &tagged, "refilled");
	CHECK_INT(tagged, 7);
	/* Once more, to the same size and numbers as what r has cached now. */
	struct records_page q;
	CHECK(records_page(r, "p.json", 0, 10, &q, &e) == 0);
	records_page_free(&q);
	CHECK(records_clear(w, "p.json", "contoso", &removed, &total, &e) == 0);
	CHECK(append_tagged(w, "p.json", "contoso", 7, 7, 7) == 0);
	buf_free(&before);
	buf_init(&before);
	CHECK(blob_get(w, "p.json", &before, NULL, NULL, &e) == 0);
	CHECK_INT(before.len, after.len);
	tl_settle_file_clock();
	check_as_cold(r, dir, "p.json", 10, 7, "-7-", &tagged, "refilled to the same size");
	CHECK_INT(tagged, 7);
	buf_free(&before);
	buf_free(&after);
	blob_close(r);
	blob_close(w);
	tmpdir_rm(dir);
}

/* With the cache warm, paging gives every record once, in order; also a store with more
 * segments than the cache keeps. */
static void test_page_cache_every_record_once(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	static const long long limits[] = {10, 7, B, 500};
	static const int sizes[] = {3 * B + 17, (RECORDS_PAGE_SEGMENTS + 8) * B + 100};
	for (size_t z = 0; z < NELEM(sizes); z++) {
		char blob[32];
		snprintf(blob, sizeof(blob), "e%zu.json", z);
		CHECK(append_n(s, blob, "contoso", 0, sizes[z], B) == 0);
		tl_settle_file_clock();
		for (int pass = 0; pass < 2; pass++) {
			for (size_t l = 0; l < NELEM(limits); l++) {
				struct records_cache_stats a = stats_of(s);
				long long total = 0;
				struct json_object *all =
				    page_all(s, blob, limits[l], &total, NULL);
				struct records_cache_stats b = stats_of(s);
				size_t n = all ? json_object_array_length(all) : 0;
				CHECK_MSG(n == (size_t)sizes[z] && total == sizes[z],
				          "size %d, limit %lld, pass %d: %zu records", sizes[z],
				          limits[l], pass, n);
				for (size_t i = 0; i < n; i++) {
					char want[32];
					snprintf(want, sizeof(want), "contoso-%zu", i);
					CHECK_STR(ct_of(all, i), want);
					CHECK_INT(line_of(all, i), (long long)i + 1);
				}
				json_object_put(all);
				/* The second time through a store the cache holds, nothing is read.
				 */
				if (pass && z == 0)
					CHECK_MSG(b.reads == a.reads, "limit %lld: %llu reads",
					          limits[l], b.reads - a.reads);
				if (pass)
					CHECK(b.hits > a.hits);
			}
		}
	}
	blob_close(s);
	tmpdir_rm(dir);
}

/* A file the split gets wrong (a record is not where the layout says) is read whole, and what
 * the cache keeps then is the whole read; a change behind the store's back is seen. */
static void test_page_cache_after_a_mismatch(void)
{
	char *dir = tmpdir_new();
	struct blob_store *s = store_at(dir);
	if (!s)
		return;
	char *path = xasprintf("%s/m.json", dir);
	/* Valid JSON that the split cuts into records numbered 2, 3 (4) that do not parse: the
	 * nested objects' braces are where a record's are. */
#define NESTED(name)                                                                               \
	"[\n  {\n    \"seq\": 1,\n    \"x\": [\n  {\n    \"seq\": 2\n  },\n"                       \
	"  {\n    \"seq\": 3,\n    \"z\": []}],\n    \"name_encrypted\": \"" name "\"\n  }"
	static const char *const text[] = {
	    NESTED("A") "\n]",
	    NESTED("B") ",\n  {\n    \"seq\": 4,\n    \"name_encrypted\": \"C\"\n  }\n]"};
#undef NESTED
	static const char *const want[] = {"A", "BC"};
	for (int v = 0; v < 2; v++) {
		FILE *f = fopen(path, "w");
		CHECK(f && fputs(text[v], f) >= 0);
		if (f)
			fclose(f);
		/* Written long ago, as far as its time says: settled. */
		struct timespec t[2];
		clock_gettime(CLOCK_REALTIME, &t[0]);
		t[0].tv_sec -= 600 - v;
		t[1] = t[0];
		CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
		for (int twice = 0; twice < 2; twice++) {
			struct records_cache_stats a = stats_of(s);
			struct records_page p;
			struct err e;
			int rc = records_page(s, "m.json", 0, 10, &p, &e);
			CHECK_MSG(rc == 0, "%s", e.msg);
			if (rc < 0)
				continue;
			char got[8] = "";
			for (size_t i = 0; i < json_object_array_length(p.records) && i < 7; i++)
				got[i] = *ct_of(p.records, i);
			CHECK_STR(got, want[v]);
			records_page_free(&p);
			struct records_cache_stats b = stats_of(s);
			/* Split, found wrong, read whole; then the whole read from the cache. */
			if (!twice)
				CHECK_MSG(b.reads == a.reads + 2, "version %d: %llu reads", v,
				          b.reads - a.reads);
			else
				CHECK(b.reads == a.reads && b.hits == a.hits + 1);
		}
	}
	free(path);
	blob_close(s);
	tmpdir_rm(dir);
}

TESTS(test_timestamp_format, test_record_shape, test_serialize_like_python, test_parse_rules,
      test_blob_name, test_append_merges_and_wraps, test_segments_seal_and_number,
      test_crash_between_seal_and_restart, test_original_single_file_layout,
      test_paging_while_appending, test_clear, test_dedupe_by_source, test_cursor_and_limits,
      test_page_after_clear_skips_empty_segments, test_page_reader_agrees_with_parser,
      test_page_cache_sees_other_writers, test_page_cache_every_record_once,
      test_page_cache_after_a_mismatch)
