/*
 * companyrec: importing the same CSV twice adds nothing; what an import leaves after a crash
 * (a pending ledger entry without records, or records without the ledger's "done") is
 * completed without losing or duplicating a row; sources name the file and line only; a large
 * CSV imports over several calls; clear removes the company's rows and its import state.
 */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <unistd.h>

#include "blob.h"
#include "companyrec.h"
#include "config.h"
#include "crypto.h"
#include "jsonx.h"
#include "records.h"
#include "testlib.h"

static char *dir;
static struct blob_store *st;
static EVP_PKEY *key;

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void setup(void)
{
	char tmpl[] = "/tmp/test-companyrec.XXXXXX";
	CHECK(mkdtemp(tmpl) != NULL);
	dir = xstrdup(tmpl);
	memset(&cfg, 0, sizeof(cfg));
	cfg.resource_group = (char *)"t";
	cfg.company = (char *)"contoso";
	cfg.data_dir = dir;
	char *csv = xasprintf("%s/contoso-data.csv", dir), *blobs = xasprintf("%s/blobs", dir);
	write_text(csv, "name,phone\nAda One,+1 1\nBo Two,+1 2\n\"Cy, Three\",+1 3\n");
	struct err e;
	CHECK_MSG(blob_open_dir(&st, blobs, &e) == 0, "%s", e.msg);
	key = EVP_RSA_gen(2048);
	CHECK(key != NULL);
	free(csv);
	free(blobs);
}

/* This company's records in the store (decrypted names) and their sources. */
static struct json_object *own_rows(void)
{
	struct json_object *out = json_object_new_array();
	long long after = 0;
	do {
		struct records_page p;
		struct err e;
		err_clear(&e);
		CHECK_MSG(records_page(st, "consolidated-records-t.json", after, 500, &p, &e) == 0,
		          "%s", e.msg);
		for (size_t i = 0; i < json_object_array_length(p.records); i++) {
			struct json_object *r = json_object_array_get_idx(p.records, i);
			if (strcmp(jsonx_str(r, "company"), "contoso"))
				continue;
			uint8_t *pt = NULL;
			size_t n = 0;
			const char *alg;
			struct json_object *row = json_object_new_object();
			CHECK(crypto_decrypt_text(key, jsonx_str(r, "name_encrypted"), &pt, &n,
			                          &alg, &e) == 0);
			jsonx_add_str(row, "name", pt ? (char *)pt : "?");
			jsonx_add_str(row, "source", jsonx_str(r, "source"));
			json_object_array_add(out, row);
			free(pt);
		}
		after = p.next;
		records_page_free(&p);
	} while (after);
	return out;
}

static void import_ok(size_t added, size_t already, int complete)
{
	struct companyrec_import r;
	struct err e;
	err_clear(&e);
	CHECK_MSG(companyrec_import(st, key, "contoso", &r, &e) == 0, "%s", e.msg);
	CHECK_MSG(r.added == added && r.already == already && r.complete == complete,
	          "added %zu already %zu complete %d, expected %zu %zu %d", r.added, r.already,
	          r.complete, added, already, complete);
	CHECK_STR(r.source_file, "contoso-data.csv");
	companyrec_import_free(&r);
}

static void ledger_put(const char *text)
{
	struct err e;
	CHECK(blob_put(st, "consolidated-records-t.import-contoso.json", text, strlen(text), NULL,
	               NULL, 0, NULL, &e) == 0);
}

static void clear_all(void)
{
	long long removed = 0, total = 0;
	struct err e;
	CHECK(companyrec_clear(st, "contoso", &removed, &total, &e) == 0);
}

static void test_import_twice_adds_nothing(void)
{
	import_ok(3, 0, 1);
	import_ok(0, 3, 1);
	struct json_object *rows = own_rows();
	CHECK_INT(json_object_array_length(rows), 3);
	static const char *const names[] = {"Ada One", "Bo Two", "Cy, Three"};
	for (size_t i = 0; i < 3 && i < json_object_array_length(rows); i++) {
		struct json_object *r = json_object_array_get_idx(rows, i);
		char want[40];
		snprintf(want, sizeof(want), "contoso-data.csv:%zu", i + 2);
		CHECK_STR(jsonx_str(r, "name"), names[i]);
		CHECK_STR(jsonx_str(r, "source"), want);
	}
	json_object_put(rows);
	/* A row added to the CSV later is imported, the others are not again. */
	char *csv = xasprintf("%s/contoso-data.csv", dir);
	write_text(csv, "name,phone\nAda One,+1 1\nBo Two,+1 2\n\"Cy, Three\",+1 3\nDi Four,4\n");
	free(csv);
	import_ok(1, 3, 1);
	import_ok(0, 4, 1);
	rows = own_rows();
	CHECK_INT(json_object_array_length(rows), 4);
	json_object_put(rows);
}

static void test_crash_before_records(void)
{
	clear_all();
	/* The ledger says an import started (pending), but its records never landed. */
	ledger_put("{\"company\": \"contoso\", \"files\": {}, \"pending\": [{\"id\": \"dead\", "
	           "\"file\": \"contoso-data.csv\", \"lines\": [[2, 5]], \"from_seq\": 1}]}");
	import_ok(4, 0, 1);
	struct json_object *rows = own_rows();
	CHECK_INT(json_object_array_length(rows), 4);
	json_object_put(rows);
	struct json_object *l = NULL;
	struct err e;
	CHECK(records_read(st, "consolidated-records-t.import-contoso.json", &l, NULL, &e) == 0);
	json_object_put(l);
	import_ok(0, 4, 1);
}

static void test_crash_after_records(void)
{
	clear_all();
	import_ok(4, 0, 1);
	/* Records written, the ledger never told: its pending entry is all that is left.  Other
	 * writers meanwhile push them into a sealed segment. */
	ledger_put("{\"company\": \"contoso\", \"files\": {}, \"pending\": [{\"id\": \"dead\", "
	           "\"file\": \"contoso-data.csv\", \"lines\": [[2, 5]], \"from_seq\": 1}]}");
	struct json_object *add = json_object_new_array();
	for (int i = 0; i < RECORDS_SEGMENT_MAX + 20; i++)
		json_object_array_add(add, records_new("fabrikam", "QQ==", NULL));
	struct err e;
	CHECK(records_append(st, "consolidated-records-t.json", add, NULL, &e) == 0);
	json_object_put(add);
	add = json_object_new_array();
	json_object_array_add(add, records_new("fabrikam", "Qg==", NULL));
	CHECK(records_append(st, "consolidated-records-t.json", add, NULL, &e) == 0);
	json_object_put(add);
	import_ok(0, 4, 1);
	struct json_object *rows = own_rows();
	CHECK_INT(json_object_array_length(rows), 4);
	json_object_put(rows);
	/* The pending entry is gone: the next import reads nothing of the store. */
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(st, "consolidated-records-t.import-contoso.json", &b, NULL, NULL, &e) == 0);
	CHECK(b.p && !strstr((char *)b.p, "dead") && strstr((char *)b.p, "[\n        2,"));
	buf_free(&b);
}

static void test_large_csv_over_calls(void)
{
	clear_all();
	char *csv = xasprintf("%s/contoso-data.csv", dir);
	FILE *f = fopen(csv, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("name,phone\n", f);
	for (int i = 0; i < COMPANYREC_IMPORT_MAX + 30; i++)
		fprintf(f, "Person %d,%d\n", i, i);
	fclose(f);
	free(csv);
	import_ok(COMPANYREC_IMPORT_MAX, 0, 0);
	import_ok(30, COMPANYREC_IMPORT_MAX, 1);
	import_ok(0, COMPANYREC_IMPORT_MAX + 30, 1);
	struct records_head h;
	struct err e;
	CHECK(records_head(st, "consolidated-records-t.json", &h, &e) == 0);
	CHECK_INT(h.total, COMPANYREC_IMPORT_MAX + 30 + RECORDS_SEGMENT_MAX + 21);
}

static void test_clear_resets_import(void)
{
	long long removed = 0, total = 0;
	struct err e;
	CHECK(companyrec_clear(st, "contoso", &removed, &total, &e) == 0);
	CHECK_INT(removed, COMPANYREC_IMPORT_MAX + 30);
	CHECK_INT(total, RECORDS_SEGMENT_MAX + 21);
	CHECK(companyrec_clear(st, "contoso", &removed, &total, &e) == 0);
	CHECK_INT(removed, 0);
	import_ok(COMPANYREC_IMPORT_MAX, 0, 0);
}

static void test_cleanup(void)
{
	blob_close(st);
	EVP_PKEY_free(key);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
	free(dir);
	memset(&cfg, 0, sizeof(cfg));
}

TESTS(setup, test_import_twice_adds_nothing, test_crash_before_records, test_crash_after_records,
      test_large_csv_over_calls, test_clear_resets_import, test_cleanup)
