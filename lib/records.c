#include "records.h"

#include "codec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "jsonx.h"
#include "log.h"

char *records_blob_name(void)
{
	if (cfg.resource_group && *cfg.resource_group)
		return xasprintf("consolidated-records-%s.json", cfg.resource_group);
	return xstrdup("consolidated-records.json");
}

char *records_timestamp(void)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	long us = ts.tv_nsec / 1000;
	char frac[16] = "";
	if (us)
		snprintf(frac, sizeof(frac), ".%06ld", us);
	return xasprintf("%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
	                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

struct json_object *records_new(const char *company, const char *name_encrypted,
                                const char *phone_encrypted)
{
	struct json_object *o = json_object_new_object();
	char *ts = records_timestamp();
	jsonx_add_str(o, "timestamp", ts);
	jsonx_add_str(o, "company", company);
	jsonx_add_str(o, "name_encrypted", name_encrypted);
	jsonx_add_str(o, "phone_encrypted", phone_encrypted);
	free(ts);
	return o;
}

int records_parse(const char *text, size_t len, struct json_object **out, struct err *e)
{
	struct json_object *j = NULL;
	*out = NULL;
	struct err pe;
	err_clear(&pe);
	if (jsonx_parse(text, len, &j, &pe) < 0)
		return err_set(e, ERR_UPSTREAM,
		               "the record file is not valid JSON (%s); refusing to overwrite it",
		               pe.msg);
	if (json_object_is_type(j, json_type_object)) {
		struct json_object *arr = json_object_new_array();
		json_object_array_add(arr, j);
		*out = arr;
		return 0;
	}
	if (!json_object_is_type(j, json_type_array)) {
		json_object_put(j);
		return err_set(e, ERR_UPSTREAM,
		               "the record file holds neither a JSON array nor an object; refusing "
		               "to overwrite it");
	}
	size_t n = json_object_array_length(j);
	for (size_t i = 0; i < n; i++) {
		if (!json_object_is_type(json_object_array_get_idx(j, i), json_type_object)) {
			json_object_put(j);
			return err_set(e, ERR_UPSTREAM,
			               "record %zu of the record file is not a JSON object; "
			               "refusing to overwrite the file",
			               i + 1);
		}
	}
	*out = j;
	return 0;
}

char *records_serialize(struct json_object *arr)
{
	return jsonx_dump_pretty(arr);
}

char *records_segment_name(const char *blob, long long n)
{
	size_t len = strlen(blob);
	int stem = len > 5 && !strcmp(blob + len - 5, ".json") ? (int)(len - 5) : (int)len;
	return xasprintf("%.*s.seg-%06lld.json", stem, blob, n);
}

char *records_aux_name(const char *blob, const char *what)
{
	size_t len = strlen(blob);
	int stem = len > 5 && !strcmp(blob + len - 5, ".json") ? (int)(len - 5) : (int)len;
	return xasprintf("%.*s.%s.json", stem, blob, what);
}

int records_read(struct blob_store *s, const char *blob, struct json_object **out, char **etag,
                 struct err *e)
{
	struct buf body;
	char *et = NULL;
	*out = NULL;
	if (etag)
		*etag = NULL;
	buf_init(&body);
	if (blob_get(s, blob, &body, &et, NULL, e) < 0) {
		buf_free(&body);
		return -1;
	}
	struct err pe;
	err_clear(&pe);
	int rc = records_parse(body.p ? (const char *)body.p : "", body.len, out, &pe);
	buf_free(&body);
	if (rc < 0) {
		free(et);
		*e = pe;
		err_wrap(e, "%s", blob);
		return err_in(e, STAGE_RECORDS);
	}
	if (etag)
		*etag = et;
	else
		free(et);
	return 0;
}

/* ---- numbering ---- */

#define SEQ_MAX (1LL << 50)

static long long seg_of(long long seq)
{
	return seq >= 1 ? (seq - 1) / RECORDS_SEGMENT_MAX : 0;
}

static void set_seq(struct json_object *rec, long long seq)
{
	json_object_object_add(rec, "seq", json_object_new_int64(seq));
}

static int not_records(struct err *e, const char *blob, const char *why)
{
	err_clear(e);
	err_set(e, ERR_UPSTREAM, "%s: %s; refusing to use it", blob, why);
	return err_in(e, STAGE_RECORDS);
}

/* The number of sealed segments: one more than the highest S.seg-<k>.json that exists. */
static int sealed_count(struct blob_store *s, const char *blob, long long *n, struct err *e)
{
	char *probe = records_segment_name(blob, 0);
	char *prefix = xstrndup(probe, strlen(probe) - strlen("000000.json"));
	struct json_object *list = NULL;
	*n = 0;
	free(probe);
	if (blob_list(s, prefix, &list, e) < 0) {
		free(prefix);
		return err_wrap(e, "cannot list the record store's sealed segments");
	}
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		const char *name = jsonx_str(json_object_array_get_idx(list, i), "name");
		unsigned long k;
		if (!name || strncmp(name, prefix, plen))
			continue;
		size_t dl = strlen(name + plen);
		if (dl < 11 || strcmp(name + plen + dl - 5, ".json"))
			continue;
		char *digits = xstrndup(name + plen, dl - 5);
		if (parse_ulong(digits, 0, (unsigned long)(SEQ_MAX / RECORDS_SEGMENT_MAX), &k) ==
		        0 &&
		    (long long)k + 1 > *n)
			*n = (long long)k + 1;
		free(digits);
	}
	json_object_put(list);
	free(prefix);
	return 0;
}

/* The segment number of a current segment whose first record has first_seq (0: none). */
static int current_number(struct blob_store *s, const char *blob, long long first_seq, long long *n,
                          struct err *e)
{
	if (first_seq >= 1 && first_seq < SEQ_MAX) {
		*n = seg_of(first_seq);
		return 0;
	}
	return sealed_count(s, blob, n, e);
}

/* ---- the removed counts (S.removed.json) ---- */

int records_read_object(struct blob_store *s, const char *name, struct json_object **out,
                        char **etag, struct err *e)
{
	struct buf b;
	buf_init(&b);
	*out = NULL;
	*etag = NULL;
	int rc = blob_get(s, name, &b, etag, NULL, e);
	if (rc < 0 && e->code == ERR_NOT_FOUND) {
		err_clear(e);
		rc = 0;
	} else if (rc == 0) {
		struct err pe;
		err_clear(&pe);
		if (jsonx_parse(b.p ? (const char *)b.p : "", b.len, out, &pe) < 0 ||
		    !json_object_is_type(*out, json_type_object)) {
			json_object_put(*out);
			*out = NULL;
			rc = not_records(e, name, "not a JSON object");
		}
	}
	if (rc < 0) {
		free(*etag);
		*etag = NULL;
	}
	buf_free(&b);
	return rc;
}

static int stats_read(struct blob_store *s, const char *blob, struct json_object **out, char **etag,
                      struct err *e)
{
	char *name = records_aux_name(blob, "removed");
	int rc = records_read_object(s, name, out, etag, e);
	if (rc == 0 && !*out)
		*out = json_object_new_object();
	free(name);
	return rc;
}

/*
 * Records in the store: n full sealed segments less what clears removed, plus the current.
 * *emptied (may be NULL; caller frees) gets one flag per sealed segment: a clear left it empty.
 */
static int store_count(struct blob_store *s, const char *blob, long long n, size_t current,
                       long long *total, unsigned char **emptied, struct err *e)
{
	*total = (long long)current;
	if (emptied)
		*emptied = NULL;
	if (n <= 0)
		return 0;
	struct json_object *st = NULL;
	char *etag = NULL;
	if (stats_read(s, blob, &st, &etag, e) < 0)
		return -1;
	long long removed = 0;
	struct json_object *m = jsonx_obj(st, "removed");
	if (emptied)
		*emptied = xcalloc((size_t)n, 1);
	if (m) {
		json_object_object_foreach(m, k, v)
		{
			unsigned long seg;
			long long c = json_object_get_int64(v);
			if (parse_ulong(k, 0, (unsigned long)(n - 1), &seg) < 0 || c <= 0 ||
			    c > RECORDS_SEGMENT_MAX)
				continue;
			removed += c;
			if (emptied && c == RECORDS_SEGMENT_MAX)
				(*emptied)[seg] = 1;
		}
	}
	json_object_put(st);
	free(etag);
	*total = n * RECORDS_SEGMENT_MAX - removed + (long long)current;
	return 0;
}

static int store_total(struct blob_store *s, const char *blob, long long n, size_t current,
                       long long *total, struct err *e)
{
	return store_count(s, blob, n, current, total, NULL, e);
}

/* ---- taking turns and backing off ---- */

static long rand_between(long lo, long hi)
{
	unsigned int r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned int)now_ms();
	return hi > lo ? lo + (long)(r % (unsigned int)(hi - lo + 1)) : lo;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Decorrelated jitter: the next sleep is random in [base, 3 * previous], capped. */
static long next_backoff(long prev)
{
	const long base = 2, cap = 250;
	long hi = prev < base ? base * 3 : prev * 3;
	long ms = rand_between(base, hi > cap ? cap : hi);
	return ms;
}

/* This instance's writers take turns (STATE_DIR/records.lock); -1 means no lock is kept
 * (no STATE_DIR, or it cannot hold the file): writers then only race, which is still safe. */
static int turn_take(double deadline, int *turn, struct err *e)
{
	*turn = -1;
	if (!cfg.state_dir || !*cfg.state_dir)
		return 0;
	char *path = xasprintf("%s/records.lock", cfg.state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (fd < 0)
		return 0;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return 0;
		}
		if (now_ms() > deadline) {
			close(fd);
			err_clear(e);
			err_set(
			    e, ERR_CONFLICT,
			    "this instance's other writers of the record store kept it busy for "
			    "%d s; nothing written: try again",
			    RECORDS_BUDGET_MS / 1000);
			return err_in(e, STAGE_RECORDS);
		}
		sleep_ms(rand_between(1, 3));
	}
	*turn = fd;
	return 0;
}

static void turn_give(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- the current segment ---- */

struct cur {
	struct json_object *arr; /* its records */
	char *etag;              /* NULL: it does not exist */
	long long n;             /* its segment number */
};

static void cur_free(struct cur *c)
{
	json_object_put(c->arr);
	free(c->etag);
	memset(c, 0, sizeof(*c));
}

static int cur_read(struct blob_store *s, const char *blob, struct cur *c, struct err *e)
{
	memset(c, 0, sizeof(*c));
	if (records_read(s, blob, &c->arr, &c->etag, e) < 0) {
		if (e->code != ERR_NOT_FOUND)
			return -1;
		err_clear(e);
		c->arr = json_object_new_array();
	}
	long long first = 0;
	if (json_object_array_length(c->arr) &&
	    !jsonx_int(json_object_array_get_idx(c->arr, 0), "seq", &first))
		first = 0;
	if (current_number(s, blob, first, &c->n, e) < 0) {
		cur_free(c);
		return -1;
	}
	return 0;
}

static void renumber(struct cur *c)
{
	size_t len = json_object_array_length(c->arr);
	for (size_t i = 0; i < len; i++)
		set_seq(json_object_array_get_idx(c->arr, i),
		        c->n * RECORDS_SEGMENT_MAX + (long long)i + 1);
}

/*
 * Seal the first RECORDS_SEGMENT_MAX records of c as segment c->n: 0 when the
 * segment holds them (written now, or found with exactly these bytes) and c
 * has moved on to the next segment; 1 when it exists with other content.
 */
static int seal_one(struct blob_store *s, const char *blob, struct cur *c, struct err *e)
{
	struct json_object *seg = json_object_new_array();
	for (int i = 0; i < RECORDS_SEGMENT_MAX; i++) {
		struct json_object *r = json_object_array_get_idx(c->arr, (size_t)i);
		set_seq(r, c->n * RECORDS_SEGMENT_MAX + i + 1);
		json_object_array_add(seg, json_object_get(r));
	}
	char *text = records_serialize(seg), *name = records_segment_name(blob, c->n);
	size_t len = strlen(text);
	json_object_put(seg);
	int rc = blob_put(s, name, text, len, "application/json", NULL, 1, NULL, e);
	if (rc < 0 && e->code == ERR_PRECONDITION) {
		struct buf have;
		err_clear(e);
		buf_init(&have);
		rc = blob_get(s, name, &have, NULL, NULL, e);
		if (rc == 0)
			rc = have.len == len && !memcmp(have.p, text, len) ? 0 : 1;
		buf_free(&have);
	}
	if (rc == 0) {
		json_object_array_del_idx(c->arr, 0, RECORDS_SEGMENT_MAX);
		log_info("records: sealed %s", name);
		c->n++;
	} else if (rc < 0) {
		err_wrap(e, "cannot seal %s", name);
	}
	free(text);
	free(name);
	return rc;
}

/*
 * One change of the current segment: edit gets it after any pending seal and
 * answers 1 (write it), 0 (nothing to write) or -1.  *total (may be NULL) gets
 * the records in the store after.
 */
typedef int (*edit_fn)(struct blob_store *s, const char *blob, struct cur *c, void *ctx,
                       struct err *e);

static int conflict(struct err *e, const char *blob)
{
	err_clear(e);
	err_set(e, ERR_CONFLICT,
	        "the record store %s kept changing under concurrent writers for %d s; nothing "
	        "written: try again",
	        blob, RECORDS_BUDGET_MS / 1000);
	return err_in(e, STAGE_RECORDS);
}

/* One attempt: 0 done, 1 lost a race (retry), -1 error.  *mismatch keeps the ETag of a
 * version whose seal found a foreign segment, to tell a moving store from a broken one. */
static int attempt(struct blob_store *s, const char *blob, edit_fn edit, void *ctx,
                   long long *total, char **mismatch, struct err *e)
{
	struct cur c;
	if (cur_read(s, blob, &c, e) < 0)
		return err_wrap(e, "cannot read the record store %s; nothing written", blob);
	int rc = 0, sealed = 0;
	while (rc == 0 && json_object_array_length(c.arr) > RECORDS_SEGMENT_MAX) {
		rc = seal_one(s, blob, &c, e);
		sealed += rc == 0;
	}
	if (rc == 1) {
		int same = *mismatch && c.etag && !strcmp(*mismatch, c.etag);
		free(*mismatch);
		*mismatch = c.etag ? xstrdup(c.etag) : NULL;
		if (same) {
			char *seg = records_segment_name(blob, c.n);
			rc = not_records(e, seg,
			                 "this sealed segment exists but does not hold the records "
			                 "the current segment says it holds; nothing written");
			free(seg);
		}
	}
	if (rc == 0) {
		rc = edit(s, blob, &c, ctx, e);
		if (rc == 1 || (rc == 0 && sealed)) {
			renumber(&c);
			char *text = records_serialize(c.arr);
			rc = blob_put(s, blob, text, strlen(text), "application/json", c.etag,
			              !c.etag, NULL, e);
			free(text);
			if (rc < 0 && e->code == ERR_PRECONDITION) {
				err_clear(e);
				rc = 1;
			} else if (rc < 0)
				err_wrap(e, "cannot write the record store %s", blob);
		}
	}
	if (rc == 0 && total)
		rc = store_total(s, blob, c.n, json_object_array_length(c.arr), total, e);
	cur_free(&c);
	return rc;
}

static int update(struct blob_store *s, const char *blob, edit_fn edit, void *ctx, long long *total,
                  struct err *e)
{
	double deadline = now_ms() + RECORDS_BUDGET_MS;
	int turn;
	if (turn_take(deadline, &turn, e) < 0)
		return -1;
	char *mismatch = NULL;
	long pause = 0;
	int rc, tries = 0;
	while ((rc = attempt(s, blob, edit, ctx, total, &mismatch, e)) == 1) {
		tries++;
		if (now_ms() > deadline) {
			rc = conflict(e, blob);
			break;
		}
		pause = next_backoff(pause);
		sleep_ms(pause);
	}
	if (rc == 0 && tries)
		log_info("records: wrote %s after %d lost races", blob, tries);
	free(mismatch);
	turn_give(turn);
	return rc;
}

/* ---- appending ---- */

struct append_ctx {
	struct json_object *add;
	const struct records_dedupe *d;
	struct json_object *seen; /* sources of d->company in the sealed segments scanned */
	long long scanned_to;     /* sealed segments below this one are in seen */
	size_t added, skipped;
};

static void note_sources(struct json_object *set, struct json_object *arr, const char *company)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);
		const char *c = jsonx_str(r, "company"), *src = jsonx_str(r, "source");
		if (c && src && !strcmp(c, company))
			json_object_object_add(set, src, NULL);
	}
}

/* Sealed segments from d->scan_from on that this append has not looked at yet. */
static int scan_sealed(struct blob_store *s, const char *blob, struct append_ctx *a, long long n,
                       struct err *e)
{
	long long k = seg_of(a->d->scan_from);
	if (k < a->scanned_to)
		k = a->scanned_to;
	for (; k < n; k++) {
		char *name = records_segment_name(blob, k);
		struct json_object *arr = NULL;
		int rc = records_read(s, name, &arr, NULL, e);
		free(name);
		if (rc < 0 && e->code != ERR_NOT_FOUND)
			return -1;
		err_clear(e);
		if (arr)
			note_sources(a->seen, arr, a->d->company);
		json_object_put(arr);
	}
	if (n > a->scanned_to)
		a->scanned_to = n;
	return 0;
}

static int append_edit(struct blob_store *s, const char *blob, struct cur *c, void *ctx,
                       struct err *e)
{
	struct append_ctx *a = ctx;
	a->added = a->skipped = 0;
	struct json_object *here = NULL;
	if (a->d) {
		if (scan_sealed(s, blob, a, c->n, e) < 0)
			return -1;
		here = json_object_new_object();
		note_sources(here, c->arr, a->d->company);
	}
	for (size_t i = 0; i < json_object_array_length(a->add); i++) {
		struct json_object *r = json_object_array_get_idx(a->add, i);
		const char *src = a->d ? jsonx_str(r, "source") : NULL;
		if (src && (json_object_object_get_ex(a->seen, src, NULL) ||
		            json_object_object_get_ex(here, src, NULL))) {
			a->skipped++;
			continue;
		}
		if (src)
			json_object_object_add(here, src, NULL);
		json_object_array_add(c->arr, json_object_get(r));
		a->added++;
	}
	json_object_put(here);
	return a->added > 0;
}

int records_append_unique(struct blob_store *s, const char *blob, struct json_object *new_records,
                          const struct records_dedupe *d, struct records_appended *out,
                          struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(new_records, json_type_array))
		return err_set(e, ERR_INTERNAL, "records_append: new records are not an array");
	size_t add = json_object_array_length(new_records);
	for (size_t i = 0; i < add; i++)
		if (!json_object_is_type(json_object_array_get_idx(new_records, i),
		                         json_type_object))
			return err_set(e, ERR_INTERNAL,
			               "records_append: record %zu is not an object", i + 1);
	struct append_ctx a = {
	    new_records, d && d->company ? d : NULL, json_object_new_object(), 0, 0, 0};
	int rc = update(s, blob, append_edit, &a, &out->total, e);
	json_object_put(a.seen);
	if (rc == 0) {
		out->added = a.added;
		out->skipped = a.skipped;
	}
	return rc;
}

int records_append(struct blob_store *s, const char *blob, struct json_object *new_records,
                   int *total_after, struct err *e)
{
	struct records_appended r;
	if (records_append_unique(s, blob, new_records, NULL, &r, e) < 0)
		return -1;
	if (total_after)
		*total_after = r.total > INT32_MAX ? INT32_MAX : (int)r.total;
	return 0;
}

/* ---- clearing ---- */

struct clear_ctx {
	const char *company;
	long long removed; /* from the current segment */
	long long n;       /* its number: the sealed segments are 0 .. n-1 */
};

static long long drop_company(struct json_object *arr, const char *company)
{
	long long removed = 0;
	for (size_t i = json_object_array_length(arr); i-- > 0;) {
		const char *c = jsonx_str(json_object_array_get_idx(arr, i), "company");
		if (c && !strcasecmp(c, company)) { /* as the page tells its own rows */
			json_object_array_del_idx(arr, i, 1);
			removed++;
		}
	}
	return removed;
}

static int clear_edit(struct blob_store *s, const char *blob, struct cur *c, void *ctx,
                      struct err *e)
{
	(void)s, (void)blob, (void)e;
	struct clear_ctx *k = ctx;
	k->n = c->n;
	k->removed = drop_company(c->arr, k->company);
	return k->removed > 0;
}

/* Remove company's records from sealed segment k; *live gets the records it keeps. */
static int clear_sealed(struct blob_store *s, const char *blob, long long k, const char *company,
                        long long *removed, long long *live, double deadline, struct err *e)
{
	char *name = records_segment_name(blob, k);
	long pause = 0;
	int rc;
	*removed = 0;
	*live = RECORDS_SEGMENT_MAX;
	for (;;) {
		struct json_object *arr = NULL;
		char *etag = NULL;
		rc = records_read(s, name, &arr, &etag, e);
		if (rc < 0) {
			if (e->code == ERR_NOT_FOUND) {
				log_warn("records: sealed segment %s is missing", name);
				err_clear(e);
				rc = 0;
			}
			break;
		}
		long long gone = drop_company(arr, company);
		*live = (long long)json_object_array_length(arr);
		if (gone) {
			char *text = records_serialize(arr);
			rc = blob_put(s, name, text, strlen(text), "application/json", etag, 0,
			              NULL, e);
			free(text);
		}
		json_object_put(arr);
		free(etag);
		if (rc == 0) {
			*removed = gone;
			break;
		}
		if (e->code != ERR_PRECONDITION)
			break;
		err_clear(e);
		if (now_ms() > deadline) {
			rc = conflict(e, name);
			break;
		}
		pause = next_backoff(pause);
		sleep_ms(pause);
	}
	if (rc < 0)
		err_wrap(e, "cannot clear %s", name);
	free(name);
	return rc;
}

/* Record, for each sealed segment k < n, how many of its numbers are gone (live[k] kept);
 * counts only grow, so concurrent clears merge by maximum. */
static int stats_merge(struct blob_store *s, const char *blob, const long long *live, long long n,
                       double deadline, struct err *e)
{
	char *name = records_aux_name(blob, "removed");
	long pause = 0;
	int rc;
	for (;;) {
		struct json_object *st = NULL, *m;
		char *etag = NULL;
		if ((rc = stats_read(s, blob, &st, &etag, e)) < 0)
			break;
		if (!(m = jsonx_obj(st, "removed"))) {
			m = json_object_new_object();
			jsonx_add(st, "removed", m);
		}
		for (long long k = 0; k < n; k++) {
			char key[24];
			long long have = 0, gone = RECORDS_SEGMENT_MAX - live[k];
			snprintf(key, sizeof(key), "%lld", k);
			have = json_object_get_int64(json_object_object_get(m, key));
			if (gone > have)
				json_object_object_add(m, key, json_object_new_int64(gone));
		}
		char *text = jsonx_dump_pretty(st);
		rc =
		    blob_put(s, name, text, strlen(text), "application/json", etag, !etag, NULL, e);
		free(text);
		free(etag);
		json_object_put(st);
		if (rc == 0 || e->code != ERR_PRECONDITION)
			break;
		err_clear(e);
		if (now_ms() > deadline) {
			rc = conflict(e, name);
			break;
		}
		pause = next_backoff(pause);
		sleep_ms(pause);
	}
	free(name);
	return rc;
}

int records_clear(struct blob_store *s, const char *blob, const char *company, long long *removed,
                  long long *total, struct err *e)
{
	struct clear_ctx k = {company, 0, 0};
	long long left = 0, gone = 0;
	if (update(s, blob, clear_edit, &k, &left, e) < 0)
		return err_wrap(e, "cannot clear %s's records", company);
	gone = k.removed;
	double deadline = now_ms() + RECORDS_BUDGET_MS;
	long long *live = k.n ? xcalloc((size_t)k.n, sizeof(*live)) : NULL;
	int rc = 0;
	for (long long i = 0; rc == 0 && i < k.n; i++) {
		long long r = 0;
		rc = clear_sealed(s, blob, i, company, &r, &live[i], deadline, e);
		gone += r;
	}
	if (rc == 0 && k.n)
		rc = stats_merge(s, blob, live, k.n, deadline, e);
	free(live);
	if (rc == 0 && k.n) {
		struct records_head h;
		rc = records_head(s, blob, &h, e);
		left = h.total;
	}
	if (rc < 0)
		return err_wrap(e,
		                "clearing %s's records stopped after removing %lld (run it again)",
		                company, gone);
	if (removed)
		*removed = gone;
	if (total)
		*total = left;
	log_info("records: cleared %lld records of %s from %s (%lld left)", gone, company, blob,
	         left);
	return 0;
}

/* ---- reading pages ---- */

/*
 * A segment as bytes with the span of each record.  Files in our layout (json.dumps
 * indent=2: each record starts with "\n  {" and ends with "\n  }", its keys at four
 * spaces; a raw newline is never inside a JSON string) are split without parsing, so a
 * page parses only the records it returns.  Anything else is parsed whole.
 *
 * A view is not changed once loaded, and it is counted: the page cache (below) holds one
 * reference and each page reading it another, so a view the cache lets go of while a page
 * reads it lives until that page is done with it.
 */
struct span {
	size_t off, len;
	long long seq; /* 0 when the record has no "seq" */
};
struct view {
	struct buf body; /* freed once the file is parsed whole */
	struct span *el;
	size_t n;
	struct json_object *parsed; /* set when the file was parsed whole */
	char *name;
	int split;    /* 1 or 2: split as view_index's fast says; 0: read whole, right for any */
	size_t bytes; /* about what it holds, for the cache's bound */
	int refs;
};

static struct view *view_new(const char *name, struct buf *body)
{
	struct view *v = xcalloc(1, sizeof(*v));
	v->body = *body;
	buf_init(body);
	v->name = xstrdup(name);
	v->refs = 1;
	return v;
}

static void view_release(struct view *v)
{
	if (!v || --v->refs > 0)
		return;
	buf_free(&v->body);
	free(v->el);
	json_object_put(v->parsed);
	free(v->name);
	free(v);
}

static const char *line_at(const char *p, const char *end, const char *want)
{
	size_t n = strlen(want);
	return (size_t)(end - p) >= n && !memcmp(p, want, n) ? p + n : NULL;
}

static long long seq_digits(const char *p, const char *end)
{
	long long v = 0;
	const char *b = p;
	while (p < end && *p >= '0' && *p <= '9' && v < SEQ_MAX)
		v = v * 10 + (*p++ - '0');
	return p > b && p < end && (*p == ',' || *p == '\n') && v < SEQ_MAX ? v : 0;
}

/* Split v->body in our layout; -1 when it is not in it. */
static int view_split(struct view *v)
{
	const char *t = (const char *)v->body.p, *end = t + v->body.len, *p;
	size_t cap = 0;
	if (v->body.len == 2 && !memcmp(t, "[]", 2))
		return 0;
	if (v->body.len < 4 || t[0] != '[')
		return -1;
	p = t + 1;
	for (;;) {
		const char *s = line_at(p, end, "\n  {"), *q;
		if (!s)
			return -1;
		s--; /* at the '{' */
		struct span sp = {(size_t)(s - t), 0, 0};
		if (s + 1 < end && s[1] == '}') {
			q = s + 2;
		} else {
			for (q = s;; q++) {
				q = memchr(q, '\n', (size_t)(end - q));
				if (!q)
					return -1;
				const char *k = line_at(q, end, "\n    \"seq\": ");
				if (k)
					sp.seq = seq_digits(k, end);
				if (line_at(q, end, "\n  }")) {
					q += 4;
					break;
				}
			}
		}
		sp.len = (size_t)(q - s);
		if (v->n == cap) {
			cap = cap ? cap * 2 : 64;
			v->el = xrealloc(v->el, cap * sizeof(*v->el));
		}
		v->el[v->n++] = sp;
		if (q < end && *q == ',') {
			p = q + 1;
			continue;
		}
		return line_at(q, end, "\n]") == end ? 0 : -1;
	}
}

/* The split is trusted only for what our writers write: every record numbered, in order
 * (consecutively in the current segment).  Anything else (the original's appends, other
 * formatting) is parsed whole. */
static int view_numbered(const struct view *v, int consecutive)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->el[i].seq <= 0 || (i && (consecutive ? v->el[i].seq != v->el[i - 1].seq + 1
		                                            : v->el[i].seq <= v->el[i - 1].seq)))
			return 0;
	return 1;
}

/* Index the bytes read: fast 0 parse whole, 1 split a sealed segment, 2 split the current one. */
static int view_index(struct view *v, int fast, struct err *e)
{
	if (!v->body.p || (fast && view_split(v) == 0 && view_numbered(v, fast == 2))) {
		v->split = v->body.p ? fast : 0;
		v->bytes = v->body.len + v->n * sizeof(*v->el);
		return 0;
	}
	free(v->el);
	v->el = NULL;
	v->n = 0;
	if (records_parse((const char *)v->body.p, v->body.len, &v->parsed, e) < 0) {
		err_wrap(e, "%s", v->name);
		return err_in(e, STAGE_RECORDS);
	}
	v->n = json_object_array_length(v->parsed);
	v->el = xcalloc(v->n ? v->n : 1, sizeof(*v->el));
	for (size_t i = 0; i < v->n; i++) {
		long long q = 0;
		if (jsonx_int(json_object_array_get_idx(v->parsed, i), "seq", &q) && q > 0 &&
		    q < SEQ_MAX)
			v->el[i].seq = q;
	}
	/* json-c holds a parsed segment in about 2.5 times its text, which is not needed again. */
	v->bytes = 3 * v->body.len + v->n * sizeof(*v->el);
	buf_free(&v->body);
	return 0;
}

/* ---- the page cache ---- */

/*
 * The views pages loaded, kept per store (blob_cache: a store is used by one thread at a
 * time, and so is its cache) for the next pages.  A view is used again only when a
 * conditional read with the ETag it was loaded at says the blob is still that version;
 * every put changes the ETag (blob.h), so whatever another process, instance or clear wrote
 * since is read again, never served from here.  Bounded in entries (a page reads the current
 * segment and at most RECORDS_PAGE_SEGMENTS sealed ones) and in bytes; the least recently
 * used goes first.
 */
#define CACHE_ENTRIES (RECORDS_PAGE_SEGMENTS + 2)
#define CACHE_BYTES   ((size_t)4 << 20)

struct cache_entry {
	struct view *v; /* NULL: a free slot; v->name is the blob's */
	char *etag;     /* the version v holds */
	unsigned long long used;
};
struct page_cache {
	struct cache_entry slot[CACHE_ENTRIES];
	size_t bytes;
	unsigned long long clock;
	struct records_cache_stats st;
};

static void cache_drop(struct page_cache *c, struct cache_entry *ce)
{
	c->bytes -= ce->v->bytes;
	view_release(ce->v);
	free(ce->etag);
	memset(ce, 0, sizeof(*ce));
}

static void cache_free(void *p)
{
	struct page_cache *c = p;
	for (size_t i = 0; i < CACHE_ENTRIES; i++)
		if (c->slot[i].v)
			cache_drop(c, &c->slot[i]);
	free(c);
}

static struct page_cache *cache_of(struct blob_store *s)
{
	struct page_cache *c = blob_cache(s);
	if (!c) {
		c = xcalloc(1, sizeof(*c));
		blob_cache_set(s, c, cache_free);
	}
	return c;
}

static struct cache_entry *cache_find(struct page_cache *c, const char *name)
{
	for (size_t i = 0; i < CACHE_ENTRIES; i++)
		if (c->slot[i].v && !strcmp(c->slot[i].v->name, name))
			return &c->slot[i];
	return NULL;
}

/* A free slot, else (free_only 0) the least recently used entry; NULL when there is none. */
static struct cache_entry *cache_slot(struct page_cache *c, int free_only)
{
	struct cache_entry *lru = NULL;
	for (size_t i = 0; i < CACHE_ENTRIES; i++) {
		struct cache_entry *ce = &c->slot[i];
		if (!ce->v && free_only)
			return ce;
		if (ce->v && !free_only && (!lru || ce->used < lru->used))
			lru = ce;
	}
	return lru;
}

/* Keep v as the version etag of its blob (the caller dropped any other version's entry). */
static void cache_put(struct page_cache *c, struct view *v, const char *etag)
{
	if (v->bytes > CACHE_BYTES)
		return;
	struct cache_entry *ce;
	while (c->bytes + v->bytes > CACHE_BYTES && (ce = cache_slot(c, 0)))
		cache_drop(c, ce);
	if (!(ce = cache_slot(c, 1))) {
		ce = cache_slot(c, 0);
		cache_drop(c, ce);
	}
	v->refs++;
	ce->v = v;
	ce->etag = xstrdup(etag);
	ce->used = ++c->clock;
	c->bytes += v->bytes;
}

/*
 * Blob name as a view (fast as view_index's), the cached one when the blob has not changed
 * since it was loaded; *out gets a reference for the caller to release.  A cached view read
 * another way (split, or whole) is not used: it is replaced.
 */
static int view_acquire(struct blob_store *s, const char *name, int fast, struct view **out,
                        struct err *e)
{
	struct page_cache *c = cache_of(s);
	struct cache_entry *ce = cache_find(c, name);
	const char *known = ce && (!ce->v->split || ce->v->split == fast) ? ce->etag : NULL;
	struct buf body;
	char *etag = NULL;
	*out = NULL;
	buf_init(&body);
	int rc = blob_get_if_changed(s, name, known, &body, &etag, NULL, e);
	if (rc == 1 && ce) {
		ce->used = ++c->clock;
		c->st.hits++;
		ce->v->refs++;
		*out = ce->v;
		return 0;
	}
	if (ce) /* not the blob's version any more, or gone, or read another way */
		cache_drop(c, ce);
	if (rc != 0) {
		buf_free(&body);
		if (rc > 0)
			err_set(e, ERR_INTERNAL, "%s: 'not modified' with no version known", name);
		return -1;
	}
	c->st.reads++;
	struct view *v = view_new(name, &body);
	if (view_index(v, fast, e) < 0) {
		view_release(v);
		free(etag);
		return -1;
	}
	if (etag)
		cache_put(c, v, etag);
	free(etag);
	*out = v;
	return 0;
}

void records_cache_stats(struct blob_store *s, struct records_cache_stats *out)
{
	struct page_cache *c = blob_cache(s);
	memset(out, 0, sizeof(*out));
	if (c)
		*out = c->st;
}

/* Record i of v as a new object (a copy the caller owns); NULL with *mismatch set when the
 * split was wrong about it. */
static struct json_object *view_get(const struct view *v, size_t i, int *mismatch, struct err *e)
{
	struct json_object *o = NULL;
	if (v->parsed) {
		o = json_object_array_get_idx(v->parsed, i);
		struct json_object *copy = NULL;
		if (json_object_deep_copy(o, &copy, NULL) < 0)
			abort();
		return copy;
	}
	struct err pe;
	err_clear(&pe);
	long long q = 0;
	if (jsonx_parse((const char *)v->body.p + v->el[i].off, v->el[i].len, &o, &pe) < 0 ||
	    !json_object_is_type(o, json_type_object) ||
	    (v->el[i].seq && (!jsonx_int(o, "seq", &q) || q != v->el[i].seq))) {
		json_object_put(o);
		*mismatch = 1;
		not_records(e, v->name, "a record is not where the layout says");
		return NULL;
	}
	return o;
}

static int page_add(struct records_page *p, const struct view *v, size_t i, long long seq,
                    struct err *e)
{
	int mismatch = 0;
	struct json_object *o = view_get(v, i, &mismatch, e);
	if (!o)
		return mismatch ? -2 : -1;
	json_object_object_del(o, "seq");
	jsonx_add_int(o, "line_number", seq);
	json_object_array_add(p->records, o);
	return 0;
}

/* Records of sealed segment k numbered after `after` into p, up to limit; *pos gets the
 * number up to which the segment has been looked at. */
static int page_sealed(struct blob_store *s, const char *blob, long long k, long long after,
                       long long limit, struct records_page *p, long long *pos, int fast,
                       struct err *e)
{
	char *name = records_segment_name(blob, k);
	struct view *v = NULL;
	*pos = (k + 1) * RECORDS_SEGMENT_MAX;
	if (view_acquire(s, name, fast, &v, e) < 0) {
		if (e->code == ERR_NOT_FOUND)
			not_records(e, name, "this sealed segment is missing");
		free(name);
		return -1;
	}
	long long prev = k * RECORDS_SEGMENT_MAX;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		long long q = v->el[i].seq;
		if (q <= prev || q > (k + 1) * RECORDS_SEGMENT_MAX) {
			rc = not_records(e, name, "its records are not numbered in order");
			break;
		}
		prev = q;
		if (q <= after)
			continue;
		if ((long long)json_object_array_length(p->records) >= limit) {
			*pos = q - 1;
			break;
		}
		rc = page_add(p, v, i, q, e);
	}
	view_release(v);
	free(name);
	return rc;
}

/* The current segment as a view (*v: a reference, NULL on an error), with its number. */
static int current_view(struct blob_store *s, const char *blob, struct view **v, long long *n,
                        int *exists, int fast, struct err *e)
{
	*exists = 1;
	if (view_acquire(s, blob, fast ? 2 : 0, v, e) < 0) {
		struct buf none;
		if (e->code != ERR_NOT_FOUND)
			return -1;
		err_clear(e);
		*exists = 0;
		buf_init(&none);
		*v = view_new(blob, &none); /* no records */
	}
	if (current_number(s, blob, (*v)->n ? (*v)->el[0].seq : 0, n, e) < 0)
		return -1;
	if (*n > 0)
		*exists = 1;
	return 0;
}

int records_head(struct blob_store *s, const char *blob, struct records_head *h, struct err *e)
{
	struct view *v = NULL;
	memset(h, 0, sizeof(*h));
	int rc = current_view(s, blob, &v, &h->segment, &h->exists, 1, e);
	if (rc == 0) {
		h->next_seq = h->segment * RECORDS_SEGMENT_MAX + (long long)v->n + 1;
		rc = store_total(s, blob, h->segment, v->n, &h->total, e);
	}
	view_release(v);
	return rc;
}

static int page_fill(struct blob_store *s, const char *blob, long long after, long long limit,
                     struct records_page *p, int fast, struct err *e)
{
	struct view *v = NULL;
	long long n = 0, pos = after;
	unsigned char *emptied = NULL;
	int rc = current_view(s, blob, &v, &n, &p->exists, fast, e);
	size_t here = rc == 0 ? v->n : 0; /* records in the current segment */
	long long last = n * RECORDS_SEGMENT_MAX + (long long)here;
	if (rc == 0)
		rc = store_count(s, blob, n, here, &p->total, &emptied, e);
	long long k = seg_of(after + 1);
	for (int reads = 0; rc == 0 && k < n && reads < RECORDS_PAGE_SEGMENTS; k++) {
		if ((long long)json_object_array_length(p->records) >= limit)
			break;
		if (emptied && emptied[k]) { /* a clear left it empty: nothing to read */
			pos = (k + 1) * RECORDS_SEGMENT_MAX;
			continue;
		}
		rc = page_sealed(s, blob, k, after, limit, p, &pos, fast, e);
		reads++;
	}
	free(emptied);
	if (rc == 0 && k >= n && (long long)json_object_array_length(p->records) < limit) {
		pos = last;
		for (size_t i = 0; rc == 0 && i < here; i++) {
			long long q = n * RECORDS_SEGMENT_MAX + (long long)i + 1;
			if (q <= after)
				continue;
			if ((long long)json_object_array_length(p->records) >= limit) {
				pos = q - 1;
				break;
			}
			rc = page_add(p, v, i, q, e);
		}
	}
	p->next = rc == 0 && pos < last && pos > after ? pos : 0;
	view_release(v);
	return rc;
}

int records_page(struct blob_store *s, const char *blob, long long after, long long limit,
                 struct records_page *p, struct err *e)
{
	memset(p, 0, sizeof(*p));
	if (limit < 1 || limit > RECORDS_PAGE_MAX) {
		err_set(e, ERR_BAD_REQUEST, "limit must be an integer from 1 to %d",
		        RECORDS_PAGE_MAX);
		return err_in(e, STAGE_REQUEST);
	}
	if (after < 0 || after >= SEQ_MAX) {
		err_set(e, ERR_BAD_REQUEST, "the cursor is out of range");
		return err_in(e, STAGE_REQUEST);
	}
	p->records = json_object_new_array();
	int rc = page_fill(s, blob, after, limit, p, 1, e);
	if (rc == -2) { /* the split was wrong about a file: read them whole */
		records_page_free(p);
		p->records = json_object_new_array();
		err_clear(e);
		rc = page_fill(s, blob, after, limit, p, 0, e);
	}
	if (rc < 0) {
		records_page_free(p);
		return -1;
	}
	return 0;
}

void records_page_free(struct records_page *p)
{
	json_object_put(p->records);
	memset(p, 0, sizeof(*p));
}

/* ---- cursors ---- */

char *records_cursor(long long n)
{
	return xasprintf("r%lld", n);
}

int records_cursor_parse(const char *cursor, long long *n, struct err *e)
{
	unsigned long v;
	*n = 0;
	if (!cursor || cursor[0] != 'r' || cursor[1] < '1' || cursor[1] > '9' ||
	    strlen(cursor) > 17 || parse_ulong(cursor + 1, 1, (unsigned long)SEQ_MAX - 1, &v) < 0) {
		err_set(e, ERR_BAD_REQUEST,
		        "'after' is not a cursor from this store: pass the 'next' of the previous "
		        "page, or leave it out for the first page");
		return err_in(e, STAGE_REQUEST);
	}
	*n = (long long)v;
	return 0;
}
