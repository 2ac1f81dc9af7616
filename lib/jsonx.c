#include "jsonx.h"

#include "codec.h"

#include <string.h>

#define JSONX_MAX_DEPTH 32


int jsonx_parse(const char *text, size_t len, struct json_object **out, struct err *e)
{
	*out = NULL;
	if (len > INT32_MAX)
		return err_set(e, ERR_TOO_LARGE, "JSON document too large");
	if (memchr(text, '\0', len))
		return err_set(e, ERR_BAD_REQUEST, "malformed JSON: NUL byte in input");
	/* json-c's own check (JSON_TOKENER_VALIDATE_UTF8) lets surrogates, overlong forms and
	 * code points past U+10FFFF through; passed on, they reach responses and record files
	 * that strict readers (ours included) then refuse. */
	size_t bad = utf8_invalid_at(text, len);
	if (bad < len)
		return err_set(e, ERR_BAD_REQUEST, "malformed JSON: invalid UTF-8 at byte %zu", bad);
	struct json_tokener *tok = json_tokener_new_ex(JSONX_MAX_DEPTH);
	if (!tok)
		return err_set(e, ERR_INTERNAL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	if (!o && jerr == json_tokener_continue) {
		/* A bare top-level number ends only at a terminator: feed one. */
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		used = len;
	}
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(o);
		if (jerr == json_tokener_continue)
			return err_set(e, ERR_BAD_REQUEST, "malformed JSON: unexpected end of input");
		return err_set(e, ERR_BAD_REQUEST, "malformed JSON at byte %zu: %s", used,
			       json_tokener_error_desc(jerr));
	}
	for (size_t i = used; i < len; i++)
		if (!strchr(" \t\r\n", text[i])) {
			json_object_put(o);
			return err_set(e, ERR_BAD_REQUEST, "malformed JSON: trailing data at byte %zu", i);
		}
	*out = o;
	return 0;
}

const char *jsonx_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

struct json_object *jsonx_obj(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

struct json_object *jsonx_arr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

int jsonx_int(struct json_object *o, const char *key, long long *out)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = (long long)json_object_get_int64(v);
		return 1;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		/* Casting an out-of-range double is undefined: bound it first. */
		if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d) {
			*out = (long long)d;
			return 1;
		}
	}
	return 0;
}

void jsonx_add_str(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, val ? json_object_new_string(val) : NULL);
}

void jsonx_add_int(struct json_object *o, const char *key, long long val)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)val));
}

void jsonx_add_bool(struct json_object *o, const char *key, int val)
{
	json_object_object_add(o, key, json_object_new_boolean(val ? 1 : 0));
}

void jsonx_add(struct json_object *o, const char *key, struct json_object *val)
{
	json_object_object_add(o, key, val);
}

char *jsonx_dump(struct json_object *o)
{
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
}

char *jsonx_dump_pretty(struct json_object *o)
{
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
}
