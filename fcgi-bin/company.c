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
 * until it is encrypted with the released key's public half, and is wiped
 * before its memory is freed.  /company/list never decrypts.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "csv.h"
#include "custody.h"
#include "http.h"
#include "jsonx.h"
#include "log.h"
#include "records.h"

#define FIELD_MAX 256
#define CSV_MAX_BYTES (1u << 20)
#define CSV_MAX_ROWS 10000
#define NO_KEY_MSG "No key released: POST /skr/release first"

static const struct field_spec save_fields[] = {
	{"name", FIELD_STRING, 0, FIELD_MAX, 1},
	{"phone", FIELD_STRING, 0, FIELD_MAX, 1},
};

/*
 * 0 if s (n bytes) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF) without control characters (C0, DEL, C1), else -1
 * with a message naming the field and the byte offset.
 */
static int check_text(const char *field, const char *s, size_t n, struct err *e)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned long cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		if (!len)
			return err_set(e, ERR_BAD_REQUEST, "%s is not valid UTF-8 (byte %zu)", field,
				       i);
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
			return err_set(e, ERR_BAD_REQUEST,
				       "%s holds a control character (U+%04lX at byte %zu)", field, cp,
				       i);
		i += len;
	}
	return 0;
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hex_nibble(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

/*
 * json-c turns an unpaired \uD800-\uDFFF escape into U+FFFD instead of
 * failing; reject such a body rather than store a repaired value.  The body
 * has already parsed, so every backslash is inside a string.
 */
static int check_surrogates(const unsigned char *p, size_t n, struct err *e)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\\')
			continue;
		unsigned cp, lo;
		if (p[i + 1] != 'u' || n - i < 6 || hex4(p + i + 2, &cp) < 0) {
			i++;
			continue;
		}
		i += 5;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return err_set(e, ERR_BAD_REQUEST, "unpaired UTF-16 surrogate \\u%04X", cp);
		if (cp < 0xD800 || cp > 0xDBFF)
			continue;
		if (n - i < 7 || p[i + 1] != '\\' || p[i + 2] != 'u' || hex4(p + i + 3, &lo) < 0 ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return err_set(e, ERR_BAD_REQUEST, "unpaired UTF-16 surrogate \\u%04X", cp);
		i += 6;
	}
	return 0;
}

/* The configured company, or ERR_BAD_REQUEST saying how to configure one. */
static int company_of(const char **company, struct err *e)
{
	*company = cfg.company;
	if (!cfg.company || !*cfg.company)
		return err_set(e, ERR_BAD_REQUEST,
			       "Unknown company: set COMPANY_NAME (or SKR_KEY_NAME, e.g. "
			       "contoso-secret-key) in this instance's configuration");
	return 0;
}

/* The released key; "none yet" becomes the original's 400. */
static int released_key(EVP_PKEY **key, struct err *e)
{
	if (custody_load(key, NULL, e) < 0) {
		if (e->code == ERR_NOT_FOUND)
			return err_set(e, ERR_BAD_REQUEST, NO_KEY_MSG);
		return -1;
	}
	return 0;
}

static int key_released(void)
{
	struct json_object *facts = NULL;
	struct err e;
	err_clear(&e);
	if (custody_facts(&facts, &e) < 0)
		return 0;
	json_object_put(facts);
	return 1;
}

/*
 * Encrypt one field: *out is the ciphertext text, or NULL for an empty value
 * (stored as JSON null, as the original stored a missing phone).
 */
static int encrypt_field(EVP_PKEY *key, const char *what, const char *pt, char **out,
			 struct err *e)
{
	const char *alg;
	*out = NULL;
	if (!pt || !*pt)
		return 0;
	if (crypto_encrypt(key, (const uint8_t *)pt, strlen(pt), out, &alg, e) < 0)
		return err_wrap(e, "cannot encrypt %s", what);
	return 0;
}

/* A new record for one (name, phone) pair, encrypted; NULL and e set on failure. */
static struct json_object *make_record(EVP_PKEY *key, const char *company, const char *name,
				       const char *phone, struct err *e)
{
	char *ne = NULL, *pe = NULL;
	if (encrypt_field(key, "name", name, &ne, e) < 0 ||
	    encrypt_field(key, "phone", phone, &pe, e) < 0) {
		free(ne);
		return NULL;
	}
	struct json_object *r = records_new(company, ne, pe);
	free(ne);
	free(pe);
	return r;
}

/* Overwrite a JSON string member's bytes in place: it held plaintext. */
static void wipe_member(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		wipe((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

static void put_body(struct json_object *body)
{
	wipe_member(body, "name");
	wipe_member(body, "phone");
	json_object_put(body);
}

static char *csv_path(const char *company)
{
	return xasprintf("%s/%s-data.csv", cfg.data_dir && *cfg.data_dir ? cfg.data_dir : ".",
			 company);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
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
	char *csv = company ? csv_path(company) : NULL;
	jsonx_add_str(o, "source_file", csv);
	free(csv);
	char *blob = records_blob_name();
	jsonx_add_str(o, "blob_name", blob);
	free(blob);
	http_send_json(rs, 200, o);
}

static void company_save(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	struct json_object *body = NULL;
	const char *company;
	EVP_PKEY *key = NULL;
	struct blob_store *bs = NULL;
	char *blob = NULL;
	struct json_object *recs = NULL;
	int total = 0;

	if (http_body_json(rq, &body, &e) < 0 ||
	    check_surrogates(rq->body, rq->body_len, &e) < 0 ||
	    http_validate(body, save_fields, NELEM(save_fields), &e) < 0)
		goto fail;
	const char *name = jsonx_str(body, "name"), *phone = jsonx_str(body, "phone");
	if (!name)
		name = "";
	if (!phone)
		phone = "";
	if (check_text("name", name, strlen(name), &e) < 0 ||
	    check_text("phone", phone, strlen(phone), &e) < 0)
		goto fail;
	if (!*name && !*phone) {
		err_set(&e, ERR_BAD_REQUEST, "Name or phone is required (both are empty)");
		goto fail;
	}
	if (company_of(&company, &e) < 0 || released_key(&key, &e) < 0)
		goto fail;
	struct json_object *rec = make_record(key, company, name, phone, &e);
	EVP_PKEY_free(key);
	key = NULL;
	put_body(body);
	body = NULL;
	if (!rec)
		goto fail;
	recs = json_object_new_array();
	json_object_array_add(recs, rec);
	blob = records_blob_name();
	if (blob_open(&bs, &e) < 0 || records_append(bs, blob, recs, &total, &e) < 0)
		goto fail;
	log_info("company %s: saved 1 record to %s (%d in file)", company, blob, total);

	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	char *msg = xasprintf("Data saved to %s", blob);
	jsonx_add_str(o, "message", msg);
	free(msg);
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "blob_name", blob);
	jsonx_add_int(o, "record_count", total);
	jsonx_add_int(o, "records_added", 1);
	jsonx_add_str(o, "note",
		      "Each field was encrypted inside this instance with the released key's public "
		      "half; only the holder of that key can decrypt it.");
	http_send_json(rs, 200, o);
	goto done;
fail:
	log_warn("company save: %s", e.msg);
	http_send_err(rs, &e, NULL);
done:
	put_body(body);
	EVP_PKEY_free(key);
	json_object_put(recs);
	blob_close(bs);
	free(blob);
}

/* Read and parse the company's CSV; ERR_NOT_FOUND when missing. */
static int load_csv(const char *path, struct csv_table *t, struct err *e)
{
	struct buf b;
	buf_init(&b);
	memset(t, 0, sizeof(*t));
	if (read_file(path, CSV_MAX_BYTES, &b) < 0) {
		int err = errno;
		buf_free(&b);
		if (err == ENOENT)
			return err_set(e, ERR_NOT_FOUND, "CSV file not found: %s", path);
		if (err == EFBIG)
			return err_set(e, ERR_UNPROCESSABLE, "%s is larger than %u bytes", path,
				       CSV_MAX_BYTES);
		return err_set(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(err));
	}
	int rc = csv_parse(b.p ? (const char *)b.p : "", b.len, t, e);
	buf_free(&b);
	if (rc < 0) {
		/* The request is fine; the data file in the image is not. */
		e->code = ERR_UNPROCESSABLE;
		return err_wrap(e, "%s", path);
	}
	if (csv_col(t, "name") < 0 || csv_col(t, "phone") < 0)
		return err_set(e, ERR_UNPROCESSABLE,
			       "%s: line 1: the header must name the columns 'name' and 'phone'", path);
	if (!t->nrows)
		return err_set(e, ERR_BAD_REQUEST, "%s holds no records (only a header)", path);
	if (t->nrows > CSV_MAX_ROWS)
		return err_set(e, ERR_UNPROCESSABLE, "%s holds %zu records; the limit is %d", path,
			       t->nrows, CSV_MAX_ROWS);
	return 0;
}

/* Check every row with the same rules as /company/save; the message names the line. */
static int check_row(const char *name, const char *phone, struct err *e)
{
	size_t nl = strlen(name), pl = strlen(phone);
	if (nl > FIELD_MAX || pl > FIELD_MAX)
		return err_set(e, ERR_UNPROCESSABLE, "%s is %zu bytes long; the limit is %d",
			       nl > FIELD_MAX ? "name" : "phone", nl > FIELD_MAX ? nl : pl,
			       FIELD_MAX);
	if (!nl && !pl)
		return err_set(e, ERR_UNPROCESSABLE, "both name and phone are empty");
	if (check_text("name", name, nl, e) < 0 || check_text("phone", phone, pl, e) < 0) {
		e->code = ERR_UNPROCESSABLE;
		return -1;
	}
	return 0;
}

static int check_rows(const char *path, const struct csv_table *t, struct err *e)
{
	for (size_t r = 0; r < t->nrows; r++)
		if (check_row(csv_get(t, r, "name"), csv_get(t, r, "phone"), e) < 0)
			return err_wrap(e, "%s: line %zu", path, t->line[r]);
	return 0;
}

static void company_populate(struct http_req *rq, struct http_resp *rs)
{
	struct err e;
	err_clear(&e);
	const char *company;
	EVP_PKEY *key = NULL;
	struct blob_store *bs = NULL;
	struct json_object *recs = NULL, *body = NULL;
	struct csv_table t;
	memset(&t, 0, sizeof(t));
	char *path = NULL, *blob = NULL;
	int total = 0;

	/* No fields are read, but a body that is not a JSON object is still an error. */
	if (http_body_json(rq, &body, &e) < 0)
		goto fail;
	if (company_of(&company, &e) < 0 || released_key(&key, &e) < 0)
		goto fail;
	path = csv_path(company);
	if (load_csv(path, &t, &e) < 0 || check_rows(path, &t, &e) < 0)
		goto fail;
	recs = json_object_new_array();
	for (size_t r = 0; r < t.nrows; r++) {
		struct json_object *rec = make_record(key, company, csv_get(&t, r, "name"),
						      csv_get(&t, r, "phone"), &e);
		if (!rec) {
			err_wrap(&e, "%s: line %zu", path, t.line[r]);
			goto fail;
		}
		json_object_array_add(recs, rec);
	}
	size_t added = t.nrows;
	csv_free(&t);
	EVP_PKEY_free(key);
	key = NULL;
	blob = records_blob_name();
	if (blob_open(&bs, &e) < 0 || records_append(bs, blob, recs, &total, &e) < 0)
		goto fail;
	log_info("company %s: populated %zu records from %s into %s (%d in file)", company, added,
		 path, blob, total);

	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	char *msg = xasprintf("Populated %zu records from %s", added, base_name(path));
	jsonx_add_str(o, "message", msg);
	free(msg);
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "source_file", path);
	jsonx_add_int(o, "records_added", (long long)added);
	jsonx_add_int(o, "total_records", total);
	char *url = blob_public_url(bs, blob);
	jsonx_add_str(o, "destination", url);
	free(url);
	jsonx_add_str(o, "blob_name", blob);
	jsonx_add_str(o, "note",
		      "Every name and phone was encrypted inside this instance with the released "
		      "key before it was written; the shared file holds ciphertext only.");
	http_send_json(rs, 200, o);
	goto done;
fail:
	log_warn("company populate: %s", e.msg);
	http_send_err(rs, &e, NULL);
done:
	json_object_put(body);
	csv_free(&t);
	EVP_PKEY_free(key);
	json_object_put(recs);
	blob_close(bs);
	free(path);
	free(blob);
}

static void company_list(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct err e;
	err_clear(&e);
	const char *company;
	struct blob_store *bs = NULL;
	struct json_object *all = NULL;
	char *blob = records_blob_name(), *url = NULL;

	if (company_of(&company, &e) < 0 || blob_open(&bs, &e) < 0)
		goto fail;
	url = blob_public_url(bs, blob);
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "success");
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "blob_name", blob);
	jsonx_add_str(o, "full_blob_url", url);
	if (records_read(bs, blob, &all, NULL, &e) < 0) {
		if (e.code != ERR_NOT_FOUND) {
			json_object_put(o);
			goto fail;
		}
		jsonx_add_int(o, "record_count", 0);
		jsonx_add_int(o, "total_records_in_file", 0);
		jsonx_add(o, "records", json_object_new_array());
		jsonx_add_bool(o, "key_released", key_released());
		char *msg = xasprintf("No records yet: %s does not exist", blob);
		jsonx_add_str(o, "message", msg);
		free(msg);
		http_send_json(rs, 200, o);
		goto done;
	}
	/*
	 * Every row of the shared file, as the original listed them: the page marks this
	 * company's rows and shows the others as what they are to us, undecryptable.
	 */
	size_t n = json_object_array_length(all);
	long long own = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(all, i);
		const char *c = jsonx_str(r, "company");
		if (c && !strcmp(c, company))
			own++;
		jsonx_add_int(r, "line_number", (long long)i + 1);
	}
	jsonx_add_int(o, "record_count", own);
	jsonx_add_int(o, "total_records_in_file", (long long)n);
	jsonx_add(o, "records", json_object_get(all));
	jsonx_add_bool(o, "key_released", key_released());
	jsonx_add_str(o, "note",
		      "Records are shown encrypted; decrypt them with POST /decrypt, which works only "
		      "for records written with this company's released key.");
	http_send_json(rs, 200, o);
	goto done;
fail:
	http_send_err(rs, &e, NULL);
done:
	json_object_put(all);
	blob_close(bs);
	free(blob);
	free(url);
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
