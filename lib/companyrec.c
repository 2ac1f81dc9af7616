#include "companyrec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "csv.h"
#include "jsonx.h"
#include "log.h"
#include "records.h"

int companyrec_company(const char **company, struct err *e)
{
	*company = cfg.company;
	if (cfg.company && *cfg.company)
		return 0;
	err_set(e, ERR_CONFIG,
	        "Unknown company: set COMPANY_NAME (or SKR_KEY_NAME, e.g. "
	        "contoso-secret-key) in this instance's configuration");
	return err_in(e, STAGE_CONFIG);
}

char *companyrec_csv_path(const char *company)
{
	return xasprintf("%s/%s-data.csv", cfg.data_dir && *cfg.data_dir ? cfg.data_dir : ".",
	                 company);
}

/* One field's ciphertext, or NULL for an empty value (stored as JSON null, as the original
 * stored a missing phone). */
static int encrypt_field(EVP_PKEY *key, const char *what, const char *pt, char **out, struct err *e)
{
	const char *alg;
	*out = NULL;
	if (!pt || !*pt)
		return 0;
	if (crypto_encrypt(key, (const uint8_t *)pt, strlen(pt), out, &alg, e) < 0)
		return err_wrap(e, "cannot encrypt %s", what);
	return 0;
}

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

static int append(struct blob_store *s, struct json_object *recs, int *total, struct err *e)
{
	char *blob = records_blob_name();
	int rc = records_append(s, blob, recs, total, e);
	free(blob);
	return rc;
}

int companyrec_save(struct blob_store *s, EVP_PKEY *key, const char *company, const char *name,
                    const char *phone, int *total, struct err *e)
{
	if ((!name || !*name) && (!phone || !*phone)) {
		err_set(e, ERR_BAD_REQUEST, "Name or phone is required (both are empty)");
		return err_in(e, STAGE_REQUEST);
	}
	struct json_object *rec = make_record(key, company, name, phone, e);
	if (!rec)
		return -1;
	struct json_object *recs = json_object_new_array();
	json_object_array_add(recs, rec);
	int rc = append(s, recs, total, e);
	json_object_put(recs);
	if (rc == 0)
		log_info("company %s: saved 1 record (%d in file)", company, *total);
	return rc;
}

static int data_error(struct err *e, enum err_code code, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int data_error(struct err *e, enum err_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return err_in(e, STAGE_DATA);
}

/* Read and parse the company's CSV; ERR_NOT_FOUND when missing. */
static int load_csv(const char *path, struct csv_table *t, struct err *e)
{
	struct buf b;
	buf_init(&b);
	memset(t, 0, sizeof(*t));
	if (read_file(path, COMPANYREC_CSV_MAX_BYTES, &b) < 0) {
		int en = errno;
		buf_free(&b);
		if (en == ENOENT)
			return data_error(e, ERR_NOT_FOUND, "CSV file not found: %s", path);
		if (en == EFBIG)
			return data_error(e, ERR_UNPROCESSABLE, "%s is larger than %u bytes", path,
			                  COMPANYREC_CSV_MAX_BYTES);
		return data_error(e, ERR_INTERNAL, "cannot read %s: %s", path, strerror(en));
	}
	int rc = csv_parse(b.p ? (const char *)b.p : "", b.len, t, e);
	buf_free(&b);
	if (rc < 0) {
		/* The request is fine; the data file in the image is not. */
		e->code = ERR_UNPROCESSABLE;
		err_wrap(e, "%s", path);
		return err_in(e, STAGE_DATA);
	}
	if (csv_col(t, "name") < 0 || csv_col(t, "phone") < 0)
		return data_error(e, ERR_UNPROCESSABLE,
		                  "%s: line 1: the header must name the columns 'name' and 'phone'",
		                  path);
	if (!t->nrows)
		return data_error(e, ERR_BAD_REQUEST, "%s holds no records (only a header)", path);
	if (t->nrows > COMPANYREC_CSV_MAX_ROWS)
		return data_error(e, ERR_UNPROCESSABLE, "%s holds %zu records; the limit is %d",
		                  path, t->nrows, COMPANYREC_CSV_MAX_ROWS);
	return 0;
}

/* The rules of a saved form for one cell: 0, or -1 with the reason in why. */
static int cell_ok(const char *what, const char *s, char *why, size_t cap)
{
	size_t n = strlen(s);
	unsigned long cp;
	size_t at = utf8_text_invalid_at(s, n, &cp);
	if (n > COMPANYREC_FIELD_MAX)
		snprintf(why, cap, "%s is %zu bytes long; the limit is %d", what, n,
		         COMPANYREC_FIELD_MAX);
	else if (at < n && cp == (unsigned long)-1)
		snprintf(why, cap, "%s is not valid UTF-8 (byte %zu)", what, at);
	else if (at < n)
		snprintf(why, cap, "%s holds a control character (U+%04lX at byte %zu)", what, cp,
		         at);
	else
		return 0;
	return -1;
}

static int check_rows(const char *path, const struct csv_table *t, struct err *e)
{
	char why[200];
	for (size_t r = 0; r < t->nrows; r++) {
		const char *name = csv_get(t, r, "name"), *phone = csv_get(t, r, "phone");
		if (!*name && !*phone)
			snprintf(why, sizeof(why), "both name and phone are empty");
		else if (cell_ok("name", name, why, sizeof(why)) == 0 &&
		         cell_ok("phone", phone, why, sizeof(why)) == 0)
			continue;
		return data_error(e, ERR_UNPROCESSABLE, "%s: line %zu: %s", path, t->line[r], why);
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int companyrec_import(struct blob_store *s, EVP_PKEY *key, const char *company,
                      struct companyrec_import *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	char *path = companyrec_csv_path(company);
	struct csv_table t;
	struct json_object *recs = json_object_new_array();
	int rc = -1;
	if (load_csv(path, &t, e) < 0 || check_rows(path, &t, e) < 0)
		goto done;
	for (size_t i = 0; i < t.nrows; i++) {
		struct json_object *rec =
		    make_record(key, company, csv_get(&t, i, "name"), csv_get(&t, i, "phone"), e);
		if (!rec) {
			err_wrap(e, "%s: line %zu", path, t.line[i]);
			goto done;
		}
		json_object_array_add(recs, rec);
	}
	if (append(s, recs, &r->total, e) < 0)
		goto done;
	r->added = t.nrows;
	r->source_file = xstrdup(base_name(path));
	log_info("company %s: imported %zu records from %s (%d in file)", company, r->added, path,
	         r->total);
	rc = 0;
done:
	csv_free(&t);
	json_object_put(recs);
	free(path);
	return rc;
}

void companyrec_import_free(struct companyrec_import *r)
{
	free(r->source_file);
	memset(r, 0, sizeof(*r));
}
