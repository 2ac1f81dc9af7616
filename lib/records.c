#include "records.h"

#include "codec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "config.h"
#include "jsonx.h"
#include "log.h"

#define RECORDS_MAX_FILE (64u << 20)

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

/* ---- Python json.dumps(indent=2, ensure_ascii=True) ---- */

static void put_indent(struct buf *b, int level)
{
	buf_append(b, "\n", 1);
	for (int i = 0; i < level; i++)
		buf_append(b, "  ", 2);
}

/*
 * Decode one UTF-8 sequence.  json-c strings from jsonx_parse are valid UTF-8, but objects
 * built in-process need not be: a malformed, overlong, surrogate or out-of-range sequence
 * becomes U+FFFD and consumes one byte, so the output always parses again.
 */
static unsigned long utf8_next(const unsigned char **pp, const unsigned char *end)
{
	unsigned long cp;
	size_t n = utf8_decode(*pp, (size_t)(end - *pp), &cp);
	*pp += n ? n : 1;
	return n ? cp : 0xFFFD;
}

static void put_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	buf_append(b, "\"", 1);
	while (p < end) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			buf_appendf(b, "\\%c", c);
			p++;
		} else if (c == '\n') {
			buf_append(b, "\\n", 2);
			p++;
		} else if (c == '\r') {
			buf_append(b, "\\r", 2);
			p++;
		} else if (c == '\t') {
			buf_append(b, "\\t", 2);
			p++;
		} else if (c == '\b') {
			buf_append(b, "\\b", 2);
			p++;
		} else if (c == '\f') {
			buf_append(b, "\\f", 2);
			p++;
		} else if (c < 0x20) {
			buf_appendf(b, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			buf_append(b, p, 1);
			p++;
		} else {
			unsigned long cp = utf8_next(&p, end);
			if (cp >= 0x10000) {
				cp -= 0x10000;
				buf_appendf(b, "\\u%04lx\\u%04lx", 0xD800 + (cp >> 10),
				            0xDC00 + (cp & 0x3FF));
			} else {
				buf_appendf(b, "\\u%04lx", cp);
			}
		}
	}
	buf_append(b, "\"", 1);
}

static void put_value(struct buf *b, struct json_object *o, int level)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		buf_append(b, "null", 4);
		break;
	case json_type_boolean:
		buf_appendf(b, "%s", json_object_get_boolean(o) ? "true" : "false");
		break;
	case json_type_int:
		buf_appendf(b, "%lld", (long long)json_object_get_int64(o));
		break;
	case json_type_double: {
		const char *d = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		buf_appendf(b, "%s", d);
		break;
	}
	case json_type_string:
		put_string(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
		break;
	case json_type_array: {
		size_t n = json_object_array_length(o);
		if (!n) {
			buf_append(b, "[]", 2);
			break;
		}
		buf_append(b, "[", 1);
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_append(b, ",", 1);
			put_indent(b, level + 1);
			put_value(b, json_object_array_get_idx(o, i), level + 1);
		}
		put_indent(b, level);
		buf_append(b, "]", 1);
		break;
	}
	case json_type_object: {
		if (!json_object_object_length(o)) {
			buf_append(b, "{}", 2);
			break;
		}
		buf_append(b, "{", 1);
		int first = 1;
		json_object_object_foreach(o, k, v)
		{
			if (!first)
				buf_append(b, ",", 1);
			first = 0;
			put_indent(b, level + 1);
			put_string(b, k, strlen(k));
			buf_append(b, ": ", 2);
			put_value(b, v, level + 1);
		}
		put_indent(b, level);
		buf_append(b, "}", 1);
		break;
	}
	}
}

char *records_serialize(struct json_object *arr)
{
	struct buf b;
	buf_init(&b);
	put_value(&b, arr, 0);
	return buf_steal(&b, NULL);
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
	int rc = records_parse(body.p ? (const char *)body.p : "", body.len, out, e);
	buf_free(&body);
	if (rc < 0) {
		free(et);
		return err_in(e, STAGE_RECORDS);
	}
	if (etag)
		*etag = et;
	else
		free(et);
	return 0;
}

static void backoff(int attempt)
{
	unsigned int r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned int)now_ms();
	/* Jittered and growing, capped: writers that collided stop colliding. */
	long cap_ms = 5L << (attempt < 6 ? attempt : 6);
	long ms = 1 + (long)(r % (unsigned int)cap_ms);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int records_append(struct blob_store *s, const char *blob, struct json_object *new_records,
                   int *total_after, struct err *e)
{
	if (!json_object_is_type(new_records, json_type_array))
		return err_set(e, ERR_INTERNAL, "records_append: new records are not an array");
	size_t add = json_object_array_length(new_records);
	for (size_t i = 0; i < add; i++)
		if (!json_object_is_type(json_object_array_get_idx(new_records, i),
		                         json_type_object))
			return err_set(e, ERR_INTERNAL,
			               "records_append: record %zu is not an object", i + 1);
	for (int attempt = 0; attempt < RECORDS_MAX_ATTEMPTS; attempt++) {
		struct json_object *arr = NULL;
		char *etag = NULL;
		int create = 0;
		if (records_read(s, blob, &arr, &etag, e) < 0) {
			if (e->code != ERR_NOT_FOUND)
				return err_wrap(
				    e, "cannot read the record file %s; nothing written", blob);
			arr = json_object_new_array();
			create = 1;
		}
		for (size_t i = 0; i < add; i++)
			json_object_array_add(
			    arr, json_object_get(json_object_array_get_idx(new_records, i)));
		int total = (int)json_object_array_length(arr);
		char *text = records_serialize(arr);
		json_object_put(arr);
		size_t len = strlen(text);
		int rc;
		if (len > RECORDS_MAX_FILE) {
			err_set(e, ERR_TOO_LARGE, "the record file would exceed %u bytes",
			        RECORDS_MAX_FILE);
			rc = err_in(e, STAGE_RECORDS);
		} else {
			rc = blob_put(s, blob, text, len, "application/json", create ? NULL : etag,
			              create, NULL, e);
		}
		free(text);
		free(etag);
		if (rc == 0) {
			if (total_after)
				*total_after = total;
			if (attempt)
				log_info("records: appended %zu to %s after %d retries", add, blob,
				         attempt);
			return 0;
		}
		if (e->code != ERR_PRECONDITION)
			return err_wrap(e, "cannot write the record file %s", blob);
		backoff(attempt);
	}
	err_set(e, ERR_CONFLICT,
	        "the record file %s kept changing under concurrent writers; gave up after %d "
	        "attempts, nothing written: try again",
	        blob, RECORDS_MAX_ATTEMPTS);
	return err_in(e, STAGE_RECORDS);
}
