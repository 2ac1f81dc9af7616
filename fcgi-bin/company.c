/*
 * company: /company/info /company/save /company/populate /company/list /company/clear
 *
 * Request and response fields follow the original multi-party demo
 * (PROTOCOLS.md §7); fields are added, never renamed.  Differences, all from
 * §9: the company comes from the configuration (COMPANY_NAME, the key-name
 * rule only as config's fallback); records are appended with a conditional
 * write that retries on conflict, so concurrent writers lose nothing; a
 * failed or unparsable read of the record file is an error and writes
 * nothing, never an empty list; a bad CSV row is reported, not dropped.
 *
 * Plaintext (request fields, CSV cells) lives only in this process, only
 * until it is encrypted with the released key's public half (lib/companyrec),
 * and is wiped before its memory is freed.  /company/list pages through the
 * store (lib/records) and, with ?decrypt=own, decrypts this company's rows.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "companyrec.h"
#include "config.h"
#include "custody.h"
#include "http.h"
#include "jsonx.h"
#include "records.h"

static const struct field_spec save_fields[] = {
    {"name", FIELD_STRING, 0, COMPANYREC_FIELD_MAX, 1, CHECK_TEXT, NULL},
    {"phone", FIELD_STRING, 0, COMPANYREC_FIELD_MAX, 1, CHECK_TEXT, NULL},
};

static int key_released(void)
{
	struct json_object *facts = NULL;
	struct err e;
	err_clear(&e);
	int held = custody_facts(&facts, &e) == 0;
	json_object_put(facts);
	return held;
}

/* The company, its released key and the store: what saving and importing need. */
static struct blob_store *ready(const char **company, EVP_PKEY **key, struct err *e)
{
	struct blob_store *s = NULL;
	if (companyrec_company(company, e) < 0 || custody_load(key, NULL, e) < 0 ||
	    !(s = blob_default(e)))
		return NULL;
	return s;
}

static void company_info(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	const char *company = cfg.company && *cfg.company ? cfg.company : NULL;
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "key_name", cfg.key_name && *cfg.key_name ? cfg.key_name : NULL);
	jsonx_add_bool(o, "key_released", key_released());
	char *df = company ? xasprintf("%s-data.json", company) : NULL;
	jsonx_add_str(o, "data_file", df);
	free(df);
	char *csv = company ? xasprintf("%s-data.csv", company) : NULL;
	jsonx_add_str(o, "source_file", csv);
	free(csv);
	char *blob = records_blob_name();
	jsonx_add_str(o, "blob_name", blob);
	free(blob);
	http_send_json(rs, 200, o);
}

static struct json_object *saved_json(const char *company, int total)
{
	struct json_object *o = json_object_new_object();
	char *blob = records_blob_name(), *msg = xasprintf("Data saved to %s", blob);
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "message", msg);
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "blob_name", blob);
	jsonx_add_int(o, "record_count", total);
	jsonx_add_int(o, "records_added", 1);
	jsonx_add_str(o, "note",
	              "Each field was encrypted inside this instance with the released "
	              "key's public half; only the holder of that key can decrypt it.");
	free(msg);
	free(blob);
	return o;
}

static void company_save(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	const char *company = NULL;
	EVP_PKEY *key = NULL;
	struct blob_store *s = NULL;
	int total = 0;
	err_clear(&e);
	if (http_form_read(rq, save_fields, NELEM(save_fields), &f, &e) < 0 ||
	    !(s = ready(&company, &key, &e)) ||
	    companyrec_save(s, key, company, http_form_str(&f, "name"), http_form_str(&f, "phone"),
	                    &total, &e) < 0)
		http_send_err(rs, &e, NULL);
	else
		http_send_json(rs, 200, saved_json(company, total));
	EVP_PKEY_free(key);
	http_form_free(&f);
}

static struct json_object *imported_json(struct blob_store *s, const char *company,
                                         const struct companyrec_import *r)
{
	struct json_object *o = json_object_new_object();
	char *blob = records_blob_name(), *url = blob_public_url(s, blob);
	char *msg = r->added || !r->complete
	                ? xasprintf("Populated %zu records from %s", r->added, r->source_file)
	                : xasprintf("Nothing new was imported: all %zu records of %s are "
	                            "already in the store",
	                            r->rows, r->source_file);
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "message", msg);
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "source_file", r->source_file);
	jsonx_add_int(o, "records_added", (long long)r->added);
	jsonx_add_int(o, "already_imported", (long long)r->already);
	jsonx_add_bool(o, "import_complete", r->complete);
	jsonx_add_int(o, "total_records", r->total);
	jsonx_add_str(o, "destination", blob); /* the original's: the blob's name */
	jsonx_add_str(o, "destination_url", url);
	jsonx_add_str(o, "blob_name", blob);
	jsonx_add_str(o, "note",
	              "Every name and phone was encrypted inside this instance with the "
	              "released key before it was written; the shared file holds "
	              "ciphertext only.");
	free(msg);
	free(url);
	free(blob);
	return o;
}

static void company_populate(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	const char *company = NULL;
	EVP_PKEY *key = NULL;
	struct blob_store *s = NULL;
	struct companyrec_import r = {0};
	err_clear(&e);
	/* No fields are read, but a body that is not a JSON object is still an error. */
	if (http_form_read(rq, save_fields, 0, &f, &e) < 0 || !(s = ready(&company, &key, &e)) ||
	    companyrec_import(s, key, company, &r, &e) < 0)
		http_send_err(rs, &e, NULL);
	else
		http_send_json(rs, 200, imported_json(s, company, &r));
	companyrec_import_free(&r);
	EVP_PKEY_free(key);
	http_form_free(&f);
}

static const char *const decrypt_choices[] = {"own", NULL};
static const struct field_spec list_fields[] = {
    {"limit", FIELD_INT, 0, 0, 0, CHECK_NONE, NULL},
    {"after", FIELD_STRING, 0, 32, 0, CHECK_TEXT, NULL},
    {"decrypt", FIELD_STRING, 0, 8, 0, CHECK_ENUM, decrypt_choices},
};

/* The page asked for: limit (default RECORDS_PAGE_DEFAULT), after (a cursor), decrypt=own. */
static int list_query(const struct http_req *rq, struct companyrec_query *q, struct err *e)
{
	struct http_form f;
	int rc = http_query_read(rq, list_fields, NELEM(list_fields), &f, e);
	const struct field_value *limit = http_form_get(&f, "limit");
	q->limit = limit->present ? limit->integer : RECORDS_PAGE_DEFAULT;
	q->decrypt_own = http_form_get(&f, "decrypt")->present;
	q->after = 0;
	if (rc == 0 && http_form_str(&f, "after"))
		rc = records_cursor_parse(http_form_str(&f, "after"), &q->after, e);
	http_form_free(&f);
	return rc;
}

/* A page of the store in file order, as the original listed the file: the page marks
 * this company's rows and shows the others as what they are to us. */
static struct json_object *list_json(struct blob_store *s, const char *company,
                                     const struct companyrec_query *q, struct records_page *p,
                                     long long own)
{
	struct json_object *o = json_object_new_object();
	char *blob = records_blob_name(), *url = blob_public_url(s, blob);
	char *next = p->next ? records_cursor(p->next) : NULL;
	char *msg = p->exists ? NULL : xasprintf("No records yet: %s does not exist", blob);
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "blob_name", blob);
	jsonx_add_str(o, "full_blob_url", url);
	jsonx_add_int(o, "record_count", own);
	jsonx_add_int(o, "total_records_in_file", p->total);
	jsonx_add(o, "records", json_object_get(p->records));
	jsonx_add_bool(o, "key_released", key_released());
	jsonx_add_int(o, "limit", q->limit);
	jsonx_add_str(o, "next", next);
	jsonx_add_str(o, p->exists ? "note" : "message",
	              p->exists ? "Records are shown encrypted unless asked for with decrypt=own; "
	                          "only this company's released key decrypts its rows."
	                        : msg);
	free(msg);
	free(next);
	free(url);
	free(blob);
	return o;
}

static void company_list(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	const char *company = NULL;
	struct blob_store *s = NULL;
	struct companyrec_query q;
	struct records_page p = {0};
	long long own = 0;
	err_clear(&e);
	if (list_query(rq, &q, &e) < 0 || companyrec_company(&company, &e) < 0 ||
	    !(s = blob_default(&e)) || companyrec_list(s, company, &q, &p, &own, &e) < 0)
		http_send_err(rs, &e, NULL);
	else
		http_send_json(rs, 200, list_json(s, company, &q, &p, own));
	records_page_free(&p);
}

static void company_clear(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	struct http_form f;
	const char *company = NULL;
	struct blob_store *s = NULL;
	long long removed = 0, total = 0;
	err_clear(&e);
	if (http_form_read(rq, save_fields, 0, &f, &e) < 0 ||
	    companyrec_company(&company, &e) < 0 || !(s = blob_default(&e)) ||
	    companyrec_clear(s, company, &removed, &total, &e) < 0) {
		http_send_err(rs, &e, NULL);
	} else {
		struct json_object *o = json_object_new_object();
		jsonx_add_str(o, "status", "success");
		jsonx_add_str(o, "company", company);
		jsonx_add_int(o, "records_removed", removed);
		jsonx_add_int(o, "total_records", total);
		http_send_json(rs, 200, o);
	}
	http_form_free(&f);
}

static const struct http_route routes[] = {
    {"GET", "/company/info", 0, company_info},          {"POST", "/company/save", 0, company_save},
    {"POST", "/company/populate", 0, company_populate}, {"GET", "/company/list", 0, company_list},
    {"POST", "/company/clear", 0, company_clear},
};

int main(void)
{
	return http_main("company", routes, NELEM(routes));
}
