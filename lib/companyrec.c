#include "companyrec.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "csv.h"
#include "custody.h"
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

/* The company's data file's fault: at STAGE_DATA. */
#define data_error(e, code, ...) err_at(e, code, STAGE_DATA, __VA_ARGS__)

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

/* ---- the import ledger: which CSV lines are in the store ---- */

/* A set of line numbers, sorted. */
struct lines {
	unsigned long *v;
	size_t n, cap;
};

static void lines_free(struct lines *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int lines_has(const struct lines *l, unsigned long x)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->v[mid] == x)
			return 1;
		if (l->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int by_value(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

/* Add x (callers add in any order; lines_sort() before lookups). */
static void lines_add(struct lines *l, unsigned long x)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = x;
}

static void lines_sort(struct lines *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), by_value);
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!w || l->v[w - 1] != l->v[i])
			l->v[w++] = l->v[i];
	l->n = w;
}

/* [[first, last], ...] as the ledger stores them. */
static struct json_object *lines_json(const struct lines *l)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < l->n;) {
		size_t j = i;
		while (j + 1 < l->n && l->v[j + 1] == l->v[j] + 1)
			j++;
		struct json_object *r = json_object_new_array();
		json_object_array_add(r, json_object_new_int64((int64_t)l->v[i]));
		json_object_array_add(r, json_object_new_int64((int64_t)l->v[j]));
		json_object_array_add(a, r);
		i = j + 1;
	}
	return a;
}

static int lines_from_json(struct json_object *a, struct lines *l)
{
	memset(l, 0, sizeof(*l));
	if (!a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *r = json_object_array_get_idx(a, i);
		if (!json_object_is_type(r, json_type_array) || json_object_array_length(r) != 2)
			return -1;
		int64_t lo = json_object_get_int64(json_object_array_get_idx(r, 0));
		int64_t hi = json_object_get_int64(json_object_array_get_idx(r, 1));
		if (lo < 1 || hi < lo || hi - lo > COMPANYREC_CSV_MAX_ROWS * 4L || hi > 1L << 30)
			return -1;
		for (int64_t x = lo; x <= hi; x++)
			lines_add(l, (unsigned long)x);
	}
	lines_sort(l);
	return 0;
}

static char *ledger_name(const char *company)
{
	char *blob = records_blob_name(), *what = xasprintf("import-%s", company);
	char *name = records_aux_name(blob, what);
	free(what);
	free(blob);
	return name;
}

static struct json_object *ledger_new(const char *company)
{
	struct json_object *l = json_object_new_object();
	jsonx_add_str(l, "company", company);
	jsonx_add_str(l, "about",
	              "Which lines of this company's CSV files are in the record store "
	              "(POST /company/populate); pending: imports that started, with the "
	              "sequence number their records cannot precede.");
	jsonx_add(l, "files", json_object_new_object());
	jsonx_add(l, "pending", json_object_new_array());
	return l;
}

static int ledger_bad(struct err *e, const char *name)
{
	err_clear(e);
	err_set(e, ERR_UPSTREAM, "%s is not an import ledger; nothing imported", name);
	return err_in(e, STAGE_RECORDS);
}

/* Read the ledger (a new one when it does not exist: *etag NULL). */
static int ledger_read(struct blob_store *s, const char *name, const char *company,
                       struct json_object **out, char **etag, struct err *e)
{
	if (records_read_object(s, name, out, etag, e) < 0)
		return -1;
	if (!*out) {
		*out = ledger_new(company);
	} else if (!jsonx_obj(*out, "files") || !jsonx_arr(*out, "pending")) {
		json_object_put(*out);
		*out = NULL;
		free(*etag);
		*etag = NULL;
		return ledger_bad(e, name);
	}
	return 0;
}

static int ledger_write(struct blob_store *s, const char *name, struct json_object *l,
                        const char *etag, struct err *e)
{
	char *text = jsonx_dump_pretty(l);
	int rc = blob_put(s, name, text, strlen(text), "application/json", etag, !etag, NULL, e);
	free(text);
	return rc;
}

static void pause_before_retry(long *prev)
{
	long hi = *prev < 2 ? 6 : *prev * 3;
	unsigned char r = 0;
	if (RAND_bytes(&r, 1) != 1)
		r = 7;
	*prev = 2 + (long)r % (hi > 250 ? 249 : hi - 1);
	struct timespec ts = {*prev / 1000, (*prev % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The rows of one import: what the ledger says is done, what is left. */
struct plan {
	const char *file;
	struct lines done;       /* lines of file the ledger lists */
	size_t *todo;            /* row indexes to import now */
	size_t ntodo, left;      /* left: rows still to import after these */
	size_t already;          /* rows the ledger lists */
	char id[33];             /* this import's pending entry */
	long long scan_from;     /* where records of this file's pending imports can start */
	struct json_object *ids; /* pending entries of this file seen when ours was added */
};

static void plan_free(struct plan *p)
{
	lines_free(&p->done);
	free(p->todo);
	json_object_put(p->ids);
	memset(p, 0, sizeof(*p));
}

/* Decide from ledger l which rows of t to import now; add our pending entry to l. */
static void plan_rows(struct plan *p, struct json_object *l, const struct csv_table *t,
                      long long from_seq)
{
	lines_free(&p->done);
	free(p->todo);
	json_object_put(p->ids);
	if (lines_from_json(json_object_object_get(jsonx_obj(l, "files"), p->file), &p->done) < 0)
		lines_free(&p->done);
	p->todo = xcalloc(t->nrows ? t->nrows : 1, sizeof(*p->todo));
	p->ntodo = p->left = p->already = 0;
	for (size_t i = 0; i < t->nrows; i++) {
		if (lines_has(&p->done, t->line[i]))
			p->already++;
		else if (p->ntodo < COMPANYREC_IMPORT_MAX)
			p->todo[p->ntodo++] = i;
		else
			p->left++;
	}
	p->scan_from = from_seq;
	p->ids = json_object_new_object();
	struct json_object *pend = jsonx_arr(l, "pending");
	for (size_t i = 0; i < json_object_array_length(pend); i++) {
		struct json_object *q = json_object_array_get_idx(pend, i);
		long long f = 0;
		const char *file = jsonx_str(q, "file"), *id = jsonx_str(q, "id");
		if (!file || strcmp(file, p->file) || !id)
			continue;
		json_object_object_add(p->ids, id, NULL);
		if (jsonx_int(q, "from_seq", &f) && f >= 1 && f < p->scan_from)
			p->scan_from = f;
	}
	if (!p->ntodo)
		return;
	struct lines mine = {0};
	for (size_t i = 0; i < p->ntodo; i++)
		lines_add(&mine, t->line[p->todo[i]]);
	lines_sort(&mine);
	struct json_object *q = json_object_new_object();
	char *ts = records_timestamp();
	jsonx_add_str(q, "id", p->id);
	jsonx_add_str(q, "file", p->file);
	jsonx_add(q, "lines", lines_json(&mine));
	jsonx_add_int(q, "from_seq", from_seq);
	jsonx_add_str(q, "started", ts);
	json_object_array_add(pend, q);
	free(ts);
	lines_free(&mine);
}

/* Step 1: the ledger gets our pending entry (or says there is nothing to do). */
static int plan_import(struct blob_store *s, const char *lname, const char *company,
                       const struct csv_table *t, struct plan *p, struct err *e)
{
	double deadline = now_ms() + RECORDS_BUDGET_MS;
	long pause = 0;
	for (;;) {
		struct json_object *l = NULL;
		char *etag = NULL, *blob = records_blob_name();
		struct records_head h;
		int rc = ledger_read(s, lname, company, &l, &etag, e);
		if (rc == 0)
			rc = records_head(s, blob, &h, e);
		free(blob);
		if (rc == 0) {
			plan_rows(p, l, t, h.segment * RECORDS_SEGMENT_MAX + 1);
			rc = p->ntodo ? ledger_write(s, lname, l, etag, e) : 0;
		}
		json_object_put(l);
		free(etag);
		if (rc == 0 || e->code != ERR_PRECONDITION)
			return rc;
		err_clear(e);
		if (now_ms() > deadline) {
			err_set(e, ERR_CONFLICT,
			        "the import ledger %s kept changing; nothing imported", lname);
			return err_in(e, STAGE_RECORDS);
		}
		pause_before_retry(&pause);
	}
}

/* Step 3: the lines are done; our pending entry and those we covered go. */
static int finish_import(struct blob_store *s, const char *lname, const char *company,
                         const struct csv_table *t, const struct plan *p, struct err *e)
{
	double deadline = now_ms() + RECORDS_BUDGET_MS;
	long pause = 0;
	for (;;) {
		struct json_object *l = NULL;
		char *etag = NULL;
		if (ledger_read(s, lname, company, &l, &etag, e) < 0)
			return -1;
		struct json_object *files = jsonx_obj(l, "files"), *pend = jsonx_arr(l, "pending");
		struct lines done;
		if (lines_from_json(json_object_object_get(files, p->file), &done) < 0)
			lines_free(&done);
		for (size_t i = 0; i < p->ntodo; i++)
			lines_add(&done, t->line[p->todo[i]]);
		lines_sort(&done);
		json_object_object_add(files, p->file, lines_json(&done));
		lines_free(&done);
		for (size_t i = json_object_array_length(pend); i-- > 0;) {
			const char *id = jsonx_str(json_object_array_get_idx(pend, i), "id");
			if (id &&
			    (!strcmp(id, p->id) || json_object_object_get_ex(p->ids, id, NULL)))
				json_object_array_del_idx(pend, i, 1);
		}
		int rc = ledger_write(s, lname, l, etag, e);
		json_object_put(l);
		free(etag);
		if (rc == 0 || e->code != ERR_PRECONDITION)
			return rc;
		err_clear(e);
		if (now_ms() > deadline) {
			err_set(e, ERR_CONFLICT,
			        "the import ledger %s kept changing; the records are in the store, "
			        "a later import finds them",
			        lname);
			return err_in(e, STAGE_RECORDS);
		}
		pause_before_retry(&pause);
	}
}

/* Step 2: encrypt the planned rows and append them, a segment's worth at a time. */
static int write_rows(struct blob_store *s, EVP_PKEY *key, const char *company, const char *path,
                      const struct csv_table *t, const struct plan *p, struct companyrec_import *r,
                      struct err *e)
{
	char *blob = records_blob_name();
	struct records_dedupe d = {company, p->scan_from};
	int rc = 0;
	for (size_t at = 0; rc == 0 && at < p->ntodo; at += RECORDS_SEGMENT_MAX) {
		struct json_object *recs = json_object_new_array();
		for (size_t i = at; rc == 0 && i < p->ntodo && i < at + RECORDS_SEGMENT_MAX; i++) {
			size_t row = p->todo[i];
			struct json_object *rec = make_record(key, company, csv_get(t, row, "name"),
			                                      csv_get(t, row, "phone"), e);
			if (!rec) {
				rc = err_wrap(e, "%s: line %zu", path, t->line[row]);
				break;
			}
			char *src = xasprintf("%s:%zu", p->file, t->line[row]);
			jsonx_add_str(rec, "source", src);
			free(src);
			json_object_array_add(recs, rec);
		}
		struct records_appended a;
		if (rc == 0 && (rc = records_append_unique(s, blob, recs, &d, &a, e)) == 0) {
			r->added += a.added;
			r->already += a.skipped;
			r->total = a.total;
		}
		json_object_put(recs);
	}
	free(blob);
	return rc;
}

int companyrec_import(struct blob_store *s, EVP_PKEY *key, const char *company,
                      struct companyrec_import *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	char *path = companyrec_csv_path(company), *lname = ledger_name(company);
	struct csv_table t;
	struct plan p = {0};
	int rc = -1;
	unsigned char rnd[16];
	if (load_csv(path, &t, e) < 0 || check_rows(path, &t, e) < 0)
		goto done;
	p.file = base_name(path);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		err_set(e, ERR_INTERNAL, "no random bytes for an import id");
		goto done;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(p.id + 2 * i, 3, "%02x", rnd[i]);
	if (plan_import(s, lname, company, &t, &p, e) < 0)
		goto done;
	r->rows = t.nrows;
	r->already = p.already;
	if (p.ntodo && (write_rows(s, key, company, path, &t, &p, r, e) < 0 ||
	                finish_import(s, lname, company, &t, &p, e) < 0))
		goto done;
	if (!p.ntodo) {
		char *blob = records_blob_name();
		struct records_head h;
		rc = records_head(s, blob, &h, e);
		free(blob);
		if (rc < 0)
			goto done;
		r->total = h.total;
	}
	r->complete = p.left == 0;
	r->source_file = xstrdup(p.file);
	log_info("company %s: imported %zu records from %s, %zu already there (%lld in the store)",
	         company, r->added, path, r->already, r->total);
	rc = 0;
done:
	csv_free(&t);
	plan_free(&p);
	free(lname);
	free(path);
	return rc;
}

/* ---- clearing ---- */

static int ledger_reset(struct blob_store *s, const char *company, struct err *e)
{
	char *name = ledger_name(company);
	double deadline = now_ms() + RECORDS_BUDGET_MS;
	long pause = 0;
	int rc;
	for (;;) {
		struct json_object *l = NULL;
		char *etag = NULL;
		struct buf b;
		buf_init(&b);
		rc = blob_get(s, name, &b, &etag, NULL, e);
		buf_free(&b);
		if (rc < 0) {
			if (e->code == ERR_NOT_FOUND) {
				err_clear(e);
				rc = 0;
			}
			break;
		}
		l = ledger_new(company);
		rc = ledger_write(s, name, l, etag, e);
		json_object_put(l);
		free(etag);
		if (rc == 0 || e->code != ERR_PRECONDITION)
			break;
		err_clear(e);
		if (now_ms() > deadline) {
			err_set(e, ERR_CONFLICT, "the import ledger %s kept changing", name);
			rc = err_in(e, STAGE_RECORDS);
			break;
		}
		pause_before_retry(&pause);
	}
	if (rc < 0)
		err_wrap(e, "the records are removed, but not the import state: clear again");
	free(name);
	return rc;
}

int companyrec_clear(struct blob_store *s, const char *company, long long *removed,
                     long long *total, struct err *e)
{
	char *blob = records_blob_name();
	int rc = records_clear(s, blob, company, removed, total, e);
	free(blob);
	if (rc == 0)
		rc = ledger_reset(s, company, e);
	return rc;
}

/* ---- listing ---- */

static int is_own(struct json_object *rec, const char *company)
{
	const char *c = jsonx_str(rec, "company");
	return c && !strcasecmp(c, company);
}

/* One field's plaintext, or NULL when it was null; -1 when it does not decrypt. */
static int decrypt_field(EVP_PKEY *key, struct json_object *rec, const char *field,
                         struct json_object **out)
{
	const char *ct = jsonx_str(rec, field);
	uint8_t *pt = NULL;
	size_t n = 0;
	const char *alg;
	struct err e;
	err_clear(&e);
	*out = NULL;
	if (!ct)
		return 0;
	if (crypto_decrypt_text(key, ct, &pt, &n, &alg, &e) < 0)
		return -1;
	*out = json_object_new_string_len((const char *)pt, (int)n);
	wipe(pt, n);
	free(pt);
	return 0;
}

static void decorate(struct json_object *rec, const char *company, EVP_PKEY *key)
{
	struct json_object *name = NULL, *phone = NULL;
	const char *why = !is_own(rec, company) ? "not_ours" : !key ? "no_key" : NULL;
	if (!why && (decrypt_field(key, rec, "name_encrypted", &name) < 0 ||
	             decrypt_field(key, rec, "phone_encrypted", &phone) < 0))
		why = "not_decryptable";
	jsonx_add_bool(rec, "decrypted", !why);
	if (why) {
		json_object_put(name);
		json_object_put(phone);
		jsonx_add_str(rec, "reason", why);
		return;
	}
	jsonx_add(rec, "name", name);
	jsonx_add(rec, "phone", phone);
}

int companyrec_list(struct blob_store *s, const char *company, const struct companyrec_query *q,
                    struct records_page *p, long long *own, struct err *e)
{
	char *blob = records_blob_name();
	int rc = records_page(s, blob, q->after, q->limit, p, e);
	free(blob);
	if (rc < 0)
		return -1;
	EVP_PKEY *key = NULL;
	if (q->decrypt_own && custody_load(&key, NULL, e) < 0) {
		if (e->code != ERR_NOT_FOUND) {
			records_page_free(p);
			return -1;
		}
		err_clear(e);
	}
	*own = 0;
	for (size_t i = 0; i < json_object_array_length(p->records); i++) {
		struct json_object *rec = json_object_array_get_idx(p->records, i);
		*own += is_own(rec, company);
		if (q->decrypt_own)
			decorate(rec, company, key);
	}
	EVP_PKEY_free(key);
	return 0;
}

void companyrec_import_free(struct companyrec_import *r)
{
	free(r->source_file);
	memset(r, 0, sizeof(*r));
}
