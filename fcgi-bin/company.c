/*
 * company: /company/info /company/save /company/populate /company/list
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
 * and is wiped before its memory is freed.  /company/list never decrypts.
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
	char *msg = xasprintf("Populated %zu records from %s", r->added, r->source_file);
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "message", msg);
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "source_file", r->source_file);
	jsonx_add_int(o, "records_added", (long long)r->added);
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

/*
 * Every row of the shared file, as the original listed them: the page marks
 * this company's rows and shows the others as what they are to us,
 * undecryptable.  A file that does not exist yet is an empty list.
 */
/* Number the rows as the original did (line_number, from 1); the count of company's own. */
static long long number_rows(struct json_object *all, const char *company)
{
	size_t n = all ? json_object_array_length(all) : 0;
	long long own = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(all, i);
		const char *c = jsonx_str(r, "company");
		own += c && !strcmp(c, company);
		jsonx_add_int(r, "line_number", (long long)i + 1);
	}
	return own;
}

static struct json_object *list_json(struct blob_store *s, const char *company,
                                     struct json_object *all)
{
	struct json_object *o = json_object_new_object();
	char *blob = records_blob_name(), *url = blob_public_url(s, blob);
	size_t n = all ? json_object_array_length(all) : 0;
	long long own = number_rows(all, company);
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "blob_name", blob);
	jsonx_add_str(o, "full_blob_url", url);
	jsonx_add_int(o, "record_count", own);
	jsonx_add_int(o, "total_records_in_file", (long long)n);
	jsonx_add(o, "records", all ? json_object_get(all) : json_object_new_array());
	jsonx_add_bool(o, "key_released", key_released());
	char *msg = all ? NULL : xasprintf("No records yet: %s does not exist", blob);
	jsonx_add_str(
	    o, all ? "note" : "message",
	    all ? "Records are shown encrypted; decrypt them with POST /decrypt, which works "
	          "only for records written with this company's released key."
	        : msg);
	free(msg);
	free(url);
	free(blob);
	return o;
}

static void company_list(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	const char *company = NULL;
	struct blob_store *s = NULL;
	struct json_object *all = NULL;
	char *blob = records_blob_name();
	err_clear(&e);
	if (companyrec_company(&company, &e) < 0 || !(s = blob_default(&e)) ||
	    (records_read(s, blob, &all, NULL, &e) < 0 && e.code != ERR_NOT_FOUND))
		http_send_err(rs, &e, NULL);
	else
		http_send_json(rs, 200, list_json(s, company, all));
	json_object_put(all);
	free(blob);
}

static const struct http_route routes[] = {
    {"GET", "/company/info", 0, company_info},
    {"POST", "/company/save", 0, company_save},
    {"POST", "/company/populate", 0, company_populate},
    {"GET", "/company/list", 0, company_list},
};

int main(void)
{
	return http_main("company", routes, NELEM(routes));
}
