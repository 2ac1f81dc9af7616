/*
 * jsonx: small conveniences over json-c.
 *
 * Getters return borrowed pointers owned by the object they came from, or
 * NULL when the member is missing or has another type.  jsonx_parse is the
 * one strict parser for untrusted text: a whole document, depth-limited, no
 * trailing bytes.
 */
#ifndef JSONX_H
#define JSONX_H

#include <json-c/json.h>

#include "err.h"

/* Parse exactly len bytes as one JSON value; caller owns the result. */
int jsonx_parse(const char *text, size_t len, struct json_object **out, struct err *e) MUST_CHECK;

const char *jsonx_str(struct json_object *o, const char *key);
struct json_object *jsonx_obj(struct json_object *o, const char *key);
struct json_object *jsonx_arr(struct json_object *o, const char *key);
/* 1 and *out set if the member is an integer (or an integral number). */
int jsonx_int(struct json_object *o, const char *key, long long *out);

void jsonx_add_str(struct json_object *o, const char *key, const char *val); /* NULL -> null */
void jsonx_add_int(struct json_object *o, const char *key, long long val);
void jsonx_add_bool(struct json_object *o, const char *key, int val);
void jsonx_add(struct json_object *o, const char *key, struct json_object *val); /* takes val */

/* Serialise compactly (slashes not escaped); caller frees. */
char *jsonx_dump(struct json_object *o);
/* Indented as Python's json.dumps(indent=2): non-ASCII as \uXXXX escapes; caller frees. */
char *jsonx_dump_pretty(struct json_object *o);

#endif
