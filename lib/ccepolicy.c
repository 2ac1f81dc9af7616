#include "ccepolicy.h"

#include <errno.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "jsonx.h"

#define MAX_FOUND 16

/* What a walk over an ARM document found. */
struct found {
	size_t n;
	char *path[MAX_FOUND];
	const char *value[MAX_FOUND]; /* borrowed from the document */
	char *empty_at;               /* first empty ccePolicy, or NULL */
	char *expr_at;                /* first ARM-expression ccePolicy, or NULL */
	const char *expr;
};

static void found_free(struct found *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->path[i]);
	free(f->empty_at);
	free(f->expr_at);
}

static void note_value(struct found *f, const char *path, const char *v)
{
	if (!*v) {
		if (!f->empty_at)
			f->empty_at = xstrdup(path);
	} else if (v[0] == '[') {
		/* ARM evaluates "[...]" as an expression: the policy lives elsewhere. */
		if (!f->expr_at) {
			f->expr_at = xstrdup(path);
			f->expr = v;
		}
	} else if (f->n < MAX_FOUND) {
		f->path[f->n] = xstrdup(path);
		f->value[f->n++] = v;
	}
}

/* Every member named ccePolicy (ARM names are case-insensitive), at any depth. */
static void walk(struct json_object *o, const char *path, struct found *f)
{
	if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++) {
			char *p = xasprintf("%s[%zu]", path, i);
			walk(json_object_array_get_idx(o, i), p, f);
			free(p);
		}
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, key, val)
	{
		char *p = xasprintf("%s%s%s", path, *path ? "." : "", key);
		if (!strcasecmp(key, "ccePolicy")) {
			if (json_object_is_type(val, json_type_string)) {
				note_value(f, p, json_object_get_string(val));
			} else if (json_object_is_type(val, json_type_object)) {
				/* A parameters file: {"ccePolicy": {"value": "..."}}. */
				const char *v = jsonx_str(val, "value");
				char *vp = xasprintf("%s.value", p);
				if (v)
					note_value(f, vp, v);
				free(vp);
			}
		} else {
			walk(val, p, f);
		}
		free(p);
	}
}

static void finish(struct ccepolicy *out, const unsigned char *policy, size_t n)
{
	SHA256(policy, n, out->host_data);
	char *hex = hex_encode(out->host_data, sizeof(out->host_data));
	memcpy(out->host_data_hex, hex, sizeof(out->host_data_hex));
	free(hex);
	out->policy_len = n;
}

/* Decode base64 policy text (standard alphabet, as acipolicygen writes it) and hash it. */
static int from_b64(const char *b64, size_t n, const char *what, struct ccepolicy *out,
                    struct err *e)
{
	unsigned char *raw = NULL;
	size_t rn = 0;
	if (b64_decode(b64, n, B64_STD, B64_PAD_ANY, &raw, &rn) < 0)
		return err_set(e, ERR_BAD_REQUEST,
		               "%s is not valid base64: it must be the base64 of the Rego policy, "
		               "as az confcom acipolicygen writes it",
		               what);
	if (rn == 0 || utf8_invalid_at(raw, rn) != rn) {
		free(raw);
		return err_set(e, ERR_BAD_REQUEST,
		               "%s does not decode to policy text (empty or not UTF-8)", what);
	}
	finish(out, raw, rn);
	free(raw);
	return 0;
}

static int from_json(const char *text, size_t n, struct ccepolicy *out, struct err *e)
{
	struct json_object *doc = NULL;
	if (jsonx_parse(text, n, &doc, e) < 0) {
		e->code = ERR_BAD_REQUEST;
		return err_wrap(e, "the file looks like JSON (an ARM template or parameters file) "
		                   "but does not parse");
	}
	struct found f = {0};
	walk(doc, "", &f);
	int rc = -1;
	size_t distinct = 0;
	for (size_t i = 0; i < f.n; i++) {
		int seen = 0;
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(f.value[i], f.value[j]);
		distinct += !seen;
	}
	if (distinct > 1) {
		err_set(e, ERR_BAD_REQUEST,
		        "the file holds %zu different ccePolicy values (%s, %s%s): give the "
		        "template or parameters file of one container group",
		        distinct, f.path[0], f.path[1], distinct > 2 ? ", ..." : "");
	} else if (distinct == 1) {
		char *what = xasprintf("ccePolicy at %s", f.path[0]);
		rc = from_b64(f.value[0], strlen(f.value[0]), what, out, e);
		free(what);
		if (rc == 0)
			out->where = xstrdup(f.path[0]);
	} else if (f.expr_at) {
		err_set(e, ERR_BAD_REQUEST,
		        "ccePolicy at %s is the ARM expression %.80s: pass the parameters file "
		        "that gives it a value, or the template after az confcom acipolicygen "
		        "filled it in",
		        f.expr_at, f.expr);
	} else if (f.empty_at) {
		err_set(e, ERR_BAD_REQUEST,
		        "ccePolicy at %s is empty: run az confcom acipolicygen on the template "
		        "first (arm/deploy.sh --deploy leaves the filled-in template in "
		        ".deploy/<prefix>/template-<name>.json)",
		        f.empty_at);
	} else {
		err_set(e, ERR_BAD_REQUEST,
		        "the JSON file has no ccePolicy member: give the ARM template that az "
		        "confcom acipolicygen filled in, or a parameters file with ccePolicy");
	}
	found_free(&f);
	json_object_put(doc);
	return rc;
}

static int is_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1 if some line of the text begins with the Rego "package" declaration. */
static int has_package_line(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((i == 0 || t[i - 1] == '\n') && n - i > 8 && !memcmp(t + i, "package", 7) &&
		    (t[i + 7] == ' ' || t[i + 7] == '\t'))
			return 1;
	}
	return 0;
}

int ccepolicy_from_text(const char *text, size_t n, struct ccepolicy *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	size_t a = 0, b = n;
	while (a < b && is_space((unsigned char)text[a]))
		a++;
	while (b > a && is_space((unsigned char)text[b - 1]))
		b--;
	if (a == b)
		return err_set(e, ERR_BAD_REQUEST, "the policy file is empty");
	if (text[a] == '{') {
		out->form = CCEPOLICY_ARM_JSON;
		return from_json(text, n, out, e);
	}
	size_t i = a;
	while (i < b && is_b64_char((unsigned char)text[i]))
		i++;
	if (i == b) {
		out->form = CCEPOLICY_BASE64;
		return from_b64(text + a, b - a, "the base64 policy", out, e);
	}
	if (utf8_invalid_at(text, n) != n || memchr(text, '\0', n) || !has_package_line(text, n))
		return err_set(
		    e, ERR_BAD_REQUEST,
		    "the file is neither an ARM template or parameters file (JSON with "
		    "ccePolicy), nor a base64 policy, nor Rego policy text (no 'package' "
		    "line)");
	/* Raw Rego: hashed exactly as stored, as the host hashes the policy it is given. */
	out->form = CCEPOLICY_REGO;
	finish(out, (const unsigned char *)text, n);
	return 0;
}

int ccepolicy_from_file(const char *path, struct ccepolicy *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct buf b;
	buf_init(&b);
	if (read_file(path, CCEPOLICY_MAX_FILE, &b) < 0) {
		int saved = errno;
		buf_free(&b);
		return err_set(e, ERR_BAD_REQUEST, "cannot read policy file %s: %s", path,
		               saved == EFBIG ? "larger than 8 MiB" : strerror(saved));
	}
	int rc = ccepolicy_from_text((const char *)b.p, b.len, out, e);
	buf_free(&b);
	if (rc < 0)
		err_wrap(e, "%s", path);
	return rc;
}

void ccepolicy_free(struct ccepolicy *p)
{
	if (!p)
		return;
	free(p->where);
	p->where = NULL;
}

const char *ccepolicy_form_name(enum ccepolicy_form f)
{
	switch (f) {
	case CCEPOLICY_ARM_JSON:
		return "ARM template/parameters JSON";
	case CCEPOLICY_BASE64:
		return "base64 policy";
	case CCEPOLICY_REGO:
		return "raw Rego text";
	}
	return "?";
}
