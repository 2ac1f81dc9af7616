#include "jsonx.h"

#include "codec.h"

#include <string.h>

#define JSONX_MAX_DEPTH 32

/*
 * RFC 8259 syntax, checked before json-c sees the text: even in strict mode json-c
 * accepts single-quoted strings, NaN and Infinity, "5." and raw control characters
 * inside strings.  A recursive descent over the grammar, depth-bounded like json-c.
 */
struct syn {
	const char *p, *end, *start;
	const char *why; /* NULL while all is well */
};

static void syn_ws(struct syn *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int syn_fail(struct syn *s, const char *why)
{
	if (!s->why)
		s->why = s->p >= s->end ? "unexpected end of input" : why;
	return -1;
}

static int syn_digits(struct syn *s)
{
	const char *b = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > b ? 0 : syn_fail(s, "a digit was expected");
}

static int syn_number(struct syn *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (syn_digits(s) < 0)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (syn_digits(s) < 0)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (syn_digits(s) < 0)
			return -1;
	}
	return 0;
}

/* The four hex digits after \u (s->p at the 'u'); -1 if they are not there. */
static long syn_hex4(struct syn *s)
{
	long v = 0;
	for (int i = 1; i <= 4; i++) {
		if (s->p + i >= s->end || hex_nibble(s->p[i]) < 0) {
			s->p += i;
			syn_fail(s, "\\u needs four hex digits");
			return -1;
		}
		v = v << 4 | hex_nibble(s->p[i]);
	}
	s->p += 5;
	return v;
}

/*
 * A \u escape (s->p at the 'u').  json-c turns an unpaired surrogate into
 * U+FFFD; a repaired value must never be stored or encrypted, so refuse it.
 */
static int syn_escape(struct syn *s)
{
	long hi = syn_hex4(s);
	if (hi < 0)
		return -1;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return syn_fail(s,
		                "unpaired UTF-16 surrogate (a low surrogate without a high one)");
	if (hi < 0xD800 || hi > 0xDBFF)
		return 0;
	if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
		return syn_fail(s,
		                "unpaired UTF-16 surrogate (a high surrogate without a low one)");
	s->p++;
	long lo = syn_hex4(s);
	if (lo < 0)
		return -1;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return syn_fail(s,
		                "unpaired UTF-16 surrogate (a high surrogate without a low one)");
	return 0;
}

static int syn_string(struct syn *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return syn_fail(s, "a control character must be escaped inside a string");
		if (c == '\\') {
			if (++s->p >= s->end)
				break;
			if (*s->p == 'u') {
				if (syn_escape(s) < 0)
					return -1;
				continue;
			}
			if (!strchr("\"\\/bfnrt", *s->p) || !*s->p)
				return syn_fail(s, "unknown escape in a string");
		}
		s->p++;
	}
	return syn_fail(s, "unterminated string");
}

static int syn_literal(struct syn *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
		return syn_fail(s, "unexpected character");
	s->p += n;
	return 0;
}

static int syn_value(struct syn *s, int depth)
{
	syn_ws(s);
	if (s->p >= s->end)
		return syn_fail(s, "a value was expected");
	char c = *s->p;
	int rc;
	if (c == '{' || c == '[') {
		if (depth >= JSONX_MAX_DEPTH)
			return syn_fail(s, "nesting is too deep");
		char close = c == '{' ? '}' : ']';
		s->p++;
		syn_ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			rc = 0;
		} else {
			for (;;) {
				if (c == '{') {
					syn_ws(s);
					if (s->p >= s->end || *s->p != '"')
						return syn_fail(
						    s,
						    "a member name in double quotes was expected");
					if (syn_string(s) < 0)
						return -1;
					syn_ws(s);
					if (s->p >= s->end || *s->p != ':')
						return syn_fail(s, "':' was expected");
					s->p++;
				}
				if (syn_value(s, depth + 1) < 0)
					return -1;
				syn_ws(s);
				if (s->p < s->end && *s->p == ',') {
					s->p++;
					continue;
				}
				if (s->p < s->end && *s->p == close) {
					s->p++;
					break;
				}
				return syn_fail(s, c == '{' ? "',' or '}' was expected"
				                            : "',' or ']' was expected");
			}
			rc = 0;
		}
	} else if (c == '"') {
		rc = syn_string(s);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		rc = syn_number(s);
	} else if (c == 't') {
		rc = syn_literal(s, "true");
	} else if (c == 'f') {
		rc = syn_literal(s, "false");
	} else if (c == 'n') {
		rc = syn_literal(s, "null");
	} else {
		rc = syn_fail(s, "unexpected character");
	}
	if (rc == 0)
		syn_ws(s);
	return rc;
}

/* 0 if text[0..len) is exactly one RFC 8259 JSON value, else -1 with e set. */
static int syntax_check(const char *text, size_t len, struct err *e)
{
	struct syn s = {text, text + len, text, NULL};
	if (syn_value(&s, 0) == 0 && s.p < s.end)
		syn_fail(&s, "trailing data after the value");
	if (!s.why)
		return 0;
	if (s.p >= s.end)
		return err_set(e, ERR_BAD_REQUEST, "malformed JSON: %s", s.why);
	return err_set(e, ERR_BAD_REQUEST, "malformed JSON at byte %zu: %s",
	               (size_t)(s.p - s.start), s.why);
}

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
		return err_set(e, ERR_BAD_REQUEST, "malformed JSON: invalid UTF-8 at byte %zu",
		               bad);
	if (syntax_check(text, len, e) < 0)
		return -1;
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
			return err_set(e, ERR_BAD_REQUEST,
			               "malformed JSON: unexpected end of input");
		return err_set(e, ERR_BAD_REQUEST, "malformed JSON at byte %zu: %s", used,
		               json_tokener_error_desc(jerr));
	}
	for (size_t i = used; i < len; i++)
		if (!strchr(" \t\r\n", text[i])) {
			json_object_put(o);
			return err_set(e, ERR_BAD_REQUEST,
			               "malformed JSON: trailing data at byte %zu", i);
		}
	*out = o;
	return 0;
}

const char *jsonx_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

struct json_object *jsonx_obj(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

struct json_object *jsonx_arr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
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

/*
 * ---- Python's json.dumps(indent=2, ensure_ascii=True), as the original's Flask answers and
 * record file are written.  Runs of plain characters are copied at once: an answer carrying a
 * certificate chain or a hex report is mostly such runs (json-c escapes byte by byte). ----
 */

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

/* The two-character escape of c, as Python writes it, or NULL. */
static const char *short_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	default:
		return NULL;
	}
}

static void put_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	buf_append(b, "\"", 1);
	while (p < end) {
		/* A run of characters written as they are (base64 ciphertext is one run). */
		const unsigned char *run = p;
		while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			p++;
		if (p > run) {
			buf_append(b, run, (size_t)(p - run));
			continue;
		}
		unsigned char c = *p;
		const char *esc = short_escape(c);
		if (esc) {
			buf_append(b, esc, 2);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
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

char *jsonx_dump_pretty(struct json_object *o)
{
	struct buf b;
	buf_init(&b);
	put_value(&b, o, 0);
	return buf_steal(&b, NULL);
}
