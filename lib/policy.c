#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

static const char *const ops[] = {"equals",  "notEquals",       "less",  "lessOrEquals",
                                  "greater", "greaterOrEquals", "exists"};
enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_EXISTS, OP_NONE };

/* Longest value quoted in a failure sentence; longer ones are cut with "...". */
#define QUOTE_MAX 80

static enum op op_of(const char *k)
{
	for (size_t i = 0; i < NELEM(ops); i++)
		if (!strcmp(k, ops[i]))
			return (enum op)i;
	return OP_NONE;
}

static const char *where(const char *path)
{
	return *path ? path : "policy";
}

static char *child_path(const char *path, const char *key, size_t i)
{
	return *path ? xasprintf("%s.%s[%zu]", path, key, i) : xasprintf("%s[%zu]", key, i);
}

/* "true"/"false" as a JSON boolean or (as Microsoft's samples write it) a string. */
static int bool_value(struct json_object *v, int *out)
{
	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (!strcmp(s, "true") || !strcmp(s, "false")) {
			*out = s[0] == 't';
			return 0;
		}
	}
	return -1;
}

/* Exactly one of anyOf/allOf, a non-empty array.  Sets *key and *arr. */
static int group_of(struct json_object *o, const char *path, const char **key,
                    struct json_object **arr, struct err *e)
{
	struct json_object *any = NULL, *all = NULL;
	int has_any = json_object_object_get_ex(o, "anyOf", &any);
	int has_all = json_object_object_get_ex(o, "allOf", &all);
	if (has_any && has_all)
		return err_set(e, ERR_BAD_REQUEST,
		               "%s: has both 'anyOf' and 'allOf'; use one and nest the other",
		               where(path));
	if (!has_any && !has_all)
		return err_set(e, ERR_BAD_REQUEST, "%s: needs 'anyOf' or 'allOf'", where(path));
	*key = has_any ? "anyOf" : "allOf";
	*arr = has_any ? any : all;
	if (!json_object_is_type(*arr, json_type_array))
		return err_set(e, ERR_BAD_REQUEST, "%s: '%s' must be an array", where(path), *key);
	if (json_object_array_length(*arr) == 0)
		return err_set(e, ERR_BAD_REQUEST, "%s: '%s' must not be empty", where(path), *key);
	return 0;
}

static int validate_condition(struct json_object *o, const char *path, struct err *e)
{
	struct json_object *claim = NULL;
	if (!json_object_object_get_ex(o, "claim", &claim))
		return err_set(e, ERR_BAD_REQUEST, "%s: condition has no 'claim' name", path);
	if (!json_object_is_type(claim, json_type_string) || !json_object_get_string_len(claim))
		return err_set(e, ERR_BAD_REQUEST, "%s: 'claim' must be a non-empty string", path);
	const char *first = NULL;
	json_object_object_foreach(o, k, v)
	{
		if (!strcmp(k, "claim"))
			continue;
		enum op op = op_of(k);
		if (op == OP_NONE)
			return err_set(e, ERR_BAD_REQUEST, "%s: unknown operator '%.60s'", path, k);
		if (first)
			return err_set(
			    e, ERR_BAD_REQUEST,
			    "%s: condition has two operators '%s' and '%s'; use one each", path,
			    first, k);
		first = k;
		int b;
		if (op == OP_EXISTS) {
			if (bool_value(v, &b) < 0)
				return err_set(e, ERR_BAD_REQUEST,
				               "%s: 'exists' must be true or false", path);
			continue;
		}
		if (!v || !(json_object_is_type(v, json_type_string) ||
		            json_object_is_type(v, json_type_int) ||
		            json_object_is_type(v, json_type_double) ||
		            json_object_is_type(v, json_type_boolean)))
			return err_set(e, ERR_BAD_REQUEST,
			               "%s: value of '%s' must be a string, number or boolean",
			               path, k);
	}
	if (!first)
		return err_set(e, ERR_BAD_REQUEST,
		               "%s: condition on claim '%.100s' has no operator", path,
		               json_object_get_string(claim));
	return 0;
}

static int validate_group(struct json_object *o, const char *path, int depth, int authorities,
                          struct err *e);

static int validate_node(struct json_object *o, const char *path, int depth, struct err *e)
{
	if (!json_object_is_type(o, json_type_object))
		return err_set(e, ERR_BAD_REQUEST, "%s: must be an object", path);
	if (json_object_object_get_ex(o, "claim", NULL))
		return validate_condition(o, path, e);
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		if (strcmp(k, "anyOf") && strcmp(k, "allOf")) {
			if (op_of(k) != OP_NONE)
				return err_set(e, ERR_BAD_REQUEST,
				               "%s: condition has no 'claim' name", path);
			return err_set(e, ERR_BAD_REQUEST, "%s: unknown member '%.60s'", path, k);
		}
	}
	return validate_group(o, path, depth, 0, e);
}

static int validate_authority(struct json_object *o, const char *path, int depth, struct err *e)
{
	if (!json_object_is_type(o, json_type_object))
		return err_set(e, ERR_BAD_REQUEST, "%s: must be an object", path);
	const char *auth = jsonx_str(o, "authority");
	if (!auth || !*auth)
		return err_set(e, ERR_BAD_REQUEST,
		               "%s: 'authority' (the attestation service URL) must be a non-empty "
		               "string",
		               path);
	for (const char *p = auth; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return err_set(e, ERR_BAD_REQUEST, "%s: 'authority' is not a URL", path);
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		if (strcmp(k, "authority") && strcmp(k, "anyOf") && strcmp(k, "allOf"))
			return err_set(e, ERR_BAD_REQUEST, "%s: unknown member '%.60s'", path, k);
	}
	return validate_group(o, path, depth, 0, e);
}

static int validate_group(struct json_object *o, const char *path, int depth, int authorities,
                          struct err *e)
{
	const char *key = NULL;
	struct json_object *arr = NULL;
	if (group_of(o, path, &key, &arr, e) < 0)
		return -1;
	if (depth >= POLICY_MAX_DEPTH)
		return err_set(e, ERR_BAD_REQUEST, "%s: anyOf/allOf nested deeper than %d levels",
		               where(path), POLICY_MAX_DEPTH);
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		char *cp = child_path(path, key, i);
		struct json_object *c = json_object_array_get_idx(arr, i);
		int r = authorities ? validate_authority(c, cp, depth + 1, e)
		                    : validate_node(c, cp, depth + 1, e);
		free(cp);
		if (r < 0)
			return -1;
	}
	return 0;
}

int policy_validate(struct json_object *policy, struct err *e)
{
	if (!policy || !json_object_is_type(policy, json_type_object))
		return err_set(e, ERR_BAD_REQUEST, "policy: must be a JSON object");
	struct json_object *ver = NULL;
	if (!json_object_object_get_ex(policy, "version", &ver))
		return err_set(e, ERR_BAD_REQUEST, "policy: missing 'version' (use \"1.0.0\")");
	if (!json_object_is_type(ver, json_type_string) ||
	    (strcmp(json_object_get_string(ver), "1.0.0") &&
	     strcmp(json_object_get_string(ver), "1.0")))
		return err_set(e, ERR_BAD_REQUEST,
		               "policy: version %.40s is not supported (use \"1.0.0\")",
		               json_object_to_json_string_ext(ver, JSON_C_TO_STRING_PLAIN));
	json_object_object_foreach(policy, k, v)
	{
		(void)v;
		if (strcmp(k, "version") && strcmp(k, "anyOf") && strcmp(k, "allOf"))
			return err_set(e, ERR_BAD_REQUEST, "policy: unknown member '%.60s'", k);
	}
	return validate_group(policy, "", 0, 1, e);
}

int policy_parse(const char *text, size_t len, struct json_object **policy, struct err *e)
{
	*policy = NULL;
	if (len > POLICY_MAX_BYTES)
		return err_set(e, ERR_BAD_REQUEST, "policy: %zu bytes; the limit is %d", len,
		               POLICY_MAX_BYTES);
	struct json_object *o;
	if (jsonx_parse(text, len, &o, e) < 0)
		return err_wrap(e, "policy");
	if (policy_validate(o, e) < 0) {
		json_object_put(o);
		return -1;
	}
	*policy = o;
	return 0;
}

char *policy_normalise_authority(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *scheme = "https", *rest = url;
	size_t scheme_len = 5;
	if (sep) {
		scheme = url;
		scheme_len = (size_t)(sep - url);
		rest = sep + 3;
	}
	size_t hlen = strcspn(rest, "/?#");
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < scheme_len; i++)
		buf_appendf(&b, "%c", tolower((unsigned char)scheme[i]));
	buf_append(&b, "://", 3);
	size_t start = b.len;
	for (size_t i = 0; i < hlen; i++)
		buf_appendf(&b, "%c", tolower((unsigned char)rest[i]));
	/* A default port says nothing: https://h:443 is https://h. */
	const char *host = (const char *)b.p + start;
	size_t blen = b.len - start;
	const char *dflt = !strncmp((const char *)b.p, "https:", 6)  ? ":443"
	                   : !strncmp((const char *)b.p, "http:", 5) ? ":80"
	                                                             : NULL;
	if (dflt && blen > strlen(dflt) && !strcmp(host + blen - strlen(dflt), dflt)) {
		b.len -= strlen(dflt);
		b.p[b.len] = '\0';
	}
	const char *path = rest + hlen;
	size_t plen = strlen(path);
	while (plen && path[plen - 1] == '/')
		plen--;
	buf_append(&b, path, plen);
	return buf_steal(&b, NULL);
}

/* ---- evaluation ---- */

struct num {
	int is_int;
	long long i;
	double d;
};

/* Strict decimal: -?digits(.digits)?([eE][+-]?digits)? */
static int numeric_string(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == '\0';
}

static int as_number(struct json_object *v, struct num *n)
{
	memset(n, 0, sizeof(*n));
	if (!v)
		return -1;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		n->i = json_object_get_int64(v);
		n->d = json_object_get_double(v);
		/* json-c keeps values above INT64_MAX as uint64; compare those as doubles. */
		n->is_int = n->i != INT64_MAX || json_object_get_uint64(v) == (uint64_t)INT64_MAX;
		if (!n->is_int)
			n->d = (double)json_object_get_uint64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_double)) {
		n->d = json_object_get_double(v);
		return isfinite(n->d) ? 0 : -1;
	}
	if (!json_object_is_type(v, json_type_string))
		return -1;
	const char *s = json_object_get_string(v);
	if (!numeric_string(s))
		return -1;
	char *end;
	if (!strpbrk(s, ".eE")) {
		errno = 0;
		long long i = strtoll(s, &end, 10);
		if (!errno && *end == '\0') {
			n->is_int = 1;
			n->i = i;
			n->d = (double)i;
			return 0;
		}
	}
	errno = 0;
	n->d = strtod(s, &end);
	return *end == '\0' && isfinite(n->d) ? 0 : -1;
}

static int num_cmp(const struct num *a, const struct num *b)
{
	if (a->is_int && b->is_int)
		return (a->i > b->i) - (a->i < b->i);
	return (a->d > b->d) - (a->d < b->d);
}

static int is_scalar(struct json_object *v)
{
	return v &&
	       (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int) ||
	        json_object_is_type(v, json_type_double) ||
	        json_object_is_type(v, json_type_boolean));
}

static int is_number(struct json_object *v)
{
	return v &&
	       (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double));
}

/* A scalar written as JSON would write it, strings without quotes. Borrowed. */
static const char *scalar_text(struct json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

/* Text for a sentence: control characters replaced and long values cut, since
 * claims come from outside. */
static char *clean(const char *s)
{
	struct buf b;
	buf_init(&b);
	size_t n = strlen(s);
	for (size_t i = 0; i < n && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_appendf(&b, "%c", c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
	if (n > QUOTE_MAX)
		buf_append(&b, "...", 3);
	return buf_steal(&b, NULL);
}

/* A value for a sentence: strings in single quotes, others as JSON. */
static char *quote(struct json_object *v)
{
	if (!v)
		return xstrdup("null");
	if (!json_object_is_type(v, json_type_string))
		return clean(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	char *c = clean(json_object_get_string(v));
	char *q = xasprintf("'%s'", c);
	free(c);
	return q;
}

static const char *type_name(struct json_object *v)
{
	if (!v)
		return "null";
	if (json_object_is_type(v, json_type_object))
		return "an object";
	if (json_object_is_type(v, json_type_array))
		return "an array";
	return "a scalar";
}

/* The claim's value; *found says whether it is present (a JSON null is present, v NULL). */
static struct json_object *claim_lookup(struct json_object *claims, const char *name, int *found)
{
	struct json_object *v = NULL;
	*found = 0;
	if (!claims || !json_object_is_type(claims, json_type_object))
		return NULL;
	if (json_object_object_get_ex(claims, name, &v)) {
		*found = 1;
		return v;
	}
	if (!strchr(name, '.'))
		return NULL;
	struct json_object *cur = claims;
	const char *p = name;
	for (;;) {
		size_t seg = strcspn(p, ".");
		char *k = xstrndup(p, seg);
		int ok = cur && json_object_is_type(cur, json_type_object) &&
		         json_object_object_get_ex(cur, k, &v);
		free(k);
		if (!ok)
			return NULL;
		cur = v;
		if (!p[seg])
			break;
		p += seg + 1;
	}
	*found = 1;
	return cur;
}

static const char *op_phrase(enum op op)
{
	switch (op) {
	case OP_EQ:
		return "be";
	case OP_NE:
		return "differ from";
	case OP_LT:
		return "be less than";
	case OP_LE:
		return "be at most";
	case OP_GT:
		return "be greater than";
	case OP_GE:
		return "be at least";
	default:
		return "";
	}
}

struct result {
	int sat;
	int auth_mismatch; /* unsatisfied only because the authority is not the issuer */
	char *fail;        /* sentence when !sat */
};

static void eval_condition(struct json_object *o, struct json_object *claims,
                           struct json_object *rep, struct result *r)
{
	const char *name = jsonx_str(o, "claim");
	enum op op = OP_NONE;
	struct json_object *want = NULL;
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, "claim")) {
			op = op_of(k);
			want = v;
		}
	}
	int found;
	struct json_object *have = claim_lookup(claims, name, &found);
	const char *reason = "ok";
	char *nm = clean(name);
	char *qw = quote(want), *qh = found ? quote(have) : NULL;
	r->sat = 0;
	if (op == OP_EXISTS) {
		int b = 0;
		(void)bool_value(want, &b);
		r->sat = b ? found : !found;
		if (!r->sat) {
			reason = b ? "claim missing" : "claim present";
			r->fail =
			    b ? xasprintf("claim %s is not in the token but the policy requires "
			                  "it to be present",
			                  nm)
			      : xasprintf("claim %s is in the token (%s) but the policy "
			                  "requires it to be absent",
			                  nm, qh);
		}
	} else if (!found) {
		reason = "claim missing";
		r->fail =
		    xasprintf("claim %s is not in the token but the policy requires it to %s %s",
		              nm, op_phrase(op), qw);
	} else if (!is_scalar(have)) {
		reason = "type mismatch";
		r->fail =
		    xasprintf("claim %s is %s, which cannot be compared with %s (type mismatch)",
		              nm, type_name(have), qw);
	} else if (op == OP_EQ || op == OP_NE) {
		int eq;
		if (is_number(have) && is_number(want)) {
			struct num a, b;
			eq = as_number(have, &a) == 0 && as_number(want, &b) == 0 &&
			     !num_cmp(&a, &b);
		} else {
			eq = !strcmp(scalar_text(have), scalar_text(want));
		}
		r->sat = op == OP_EQ ? eq : !eq;
		if (!r->sat) {
			reason = op == OP_EQ ? "value differs" : "value equals the excluded value";
			r->fail =
			    op == OP_EQ
			        ? xasprintf("claim %s is %s but the policy requires %s", nm, qh, qw)
			        : xasprintf("claim %s is %s but the policy requires it to "
			                    "differ from %s",
			                    nm, qh, qw);
		}
	} else {
		struct num a, b;
		if (as_number(have, &a) < 0 || as_number(want, &b) < 0) {
			reason = "type mismatch";
			r->fail = xasprintf("claim %s is %s, which cannot be compared as a number "
			                    "with %s (type mismatch)",
			                    nm, qh, qw);
		} else {
			int c = num_cmp(&a, &b);
			r->sat = op == OP_LT   ? c < 0
			         : op == OP_LE ? c <= 0
			         : op == OP_GT ? c > 0
			                       : c >= 0;
			if (!r->sat) {
				reason = "comparison false";
				r->fail =
				    xasprintf("claim %s is %s but the policy requires it to %s %s",
				              nm, qh, op_phrase(op), qw);
			}
		}
	}
	jsonx_add_str(rep, "claim", name);
	jsonx_add_str(rep, "operator", op < OP_NONE ? ops[op] : "");
	jsonx_add(rep, "expected", json_object_get(want));
	jsonx_add(rep, "actual", found ? json_object_get(have) : NULL);
	jsonx_add_bool(rep, "satisfied", r->sat);
	jsonx_add_str(rep, "reason", r->sat ? "ok" : reason);
	free(nm);
	free(qw);
	free(qh);
}

static void eval_group(struct json_object *o, const char *issuer, struct json_object *claims,
                       int authorities, struct json_object *rep, struct result *r);

static void eval_authority(struct json_object *o, const char *issuer, struct json_object *claims,
                           struct json_object *rep, struct result *r)
{
	const char *auth = jsonx_str(o, "authority");
	char *na = policy_normalise_authority(auth);
	char *ni = policy_normalise_authority(issuer ? issuer : "");
	int match = issuer && *issuer && !strcmp(na, ni);
	free(na);
	free(ni);
	jsonx_add_str(rep, "authority", auth);
	jsonx_add_bool(rep, "authority_matches", match);
	struct result inner = {0};
	eval_group(o, issuer, claims, 0, rep, &inner);
	r->sat = match && inner.sat;
	if (!match) {
		char *ci = clean(issuer && *issuer ? issuer : "(none)"), *ca = clean(auth);
		r->fail = xasprintf("token issuer %s is not the policy authority %s", ci, ca);
		free(ci);
		free(ca);
		r->auth_mismatch = 1;
		free(inner.fail);
	} else {
		r->fail = inner.fail;
	}
	/* The node's own verdict includes the authority check. */
	json_object_object_add(rep, "satisfied", json_object_new_boolean(r->sat));
}

static void eval_group(struct json_object *o, const char *issuer, struct json_object *claims,
                       int authorities, struct json_object *rep, struct result *r)
{
	const char *key = json_object_object_get_ex(o, "anyOf", NULL) ? "anyOf" : "allOf";
	int any = key[1] == 'n';
	struct json_object *arr = json_object_object_get(o, key);
	struct json_object *out = json_object_new_array();
	size_t n = json_object_array_length(arr);
	int sat = any ? 0 : 1;
	char *first = NULL, *first_real = NULL; /* first failure; first not about the authority */
	struct buf auths;
	buf_init(&auths);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(arr, i);
		struct json_object *crep = json_object_new_object();
		struct result cr = {0};
		if (authorities) {
			eval_authority(c, issuer, claims, crep, &cr);
			char *ca = clean(jsonx_str(c, "authority"));
			buf_appendf(&auths, "%s%s", auths.len ? ", " : "", ca);
			free(ca);
		} else if (json_object_object_get_ex(c, "claim", NULL)) {
			eval_condition(c, claims, crep, &cr);
		} else {
			eval_group(c, issuer, claims, 0, crep, &cr);
			json_object_object_add(crep, "satisfied", json_object_new_boolean(cr.sat));
		}
		json_object_array_add(out, crep);
		sat = any ? sat | cr.sat : sat & cr.sat;
		if (cr.fail && !cr.auth_mismatch && !first_real)
			first_real = xstrdup(cr.fail);
		if (cr.fail && !first)
			first = cr.fail;
		else
			free(cr.fail);
	}
	r->sat = sat;
	if (sat) {
		free(first);
		free(first_real);
	} else if (!any) {
		/* allOf: its first failing member, in document order. */
		r->fail = first;
		r->auth_mismatch = !first_real;
		free(first_real);
	} else if (first_real) {
		/* anyOf: the first alternative whose authority is right says more. */
		r->fail = first_real;
		free(first);
	} else {
		r->auth_mismatch = 1;
		if (authorities && n > 1) {
			char *ci = clean(issuer && *issuer ? issuer : "(none)");
			r->fail =
			    xasprintf("token issuer %s is not one of the policy authorities %s", ci,
			              (char *)auths.p);
			free(ci);
			free(first);
		} else {
			r->fail = first;
		}
	}
	buf_free(&auths);
	jsonx_add(rep, key, out);
}

int policy_evaluate(struct json_object *policy, const char *issuer, struct json_object *claims,
                    struct json_object **report, char **first_failure, struct err *e)
{
	if (report)
		*report = NULL;
	if (first_failure)
		*first_failure = NULL;
	if (policy_validate(policy, e) < 0)
		return -1;
	struct json_object *rep = json_object_new_object();
	jsonx_add_str(rep, "version", jsonx_str(policy, "version"));
	struct result r = {0};
	eval_group(policy, issuer, claims, 1, rep, &r);
	json_object_object_add(rep, "satisfied", json_object_new_boolean(r.sat));
	if (!r.sat && !r.fail)
		r.fail = xstrdup("the release policy is not satisfied");
	if (first_failure && !r.sat)
		*first_failure = r.fail;
	else
		free(r.fail);
	if (report)
		*report = rep;
	else
		json_object_put(rep);
	return r.sat ? 1 : 0;
}

static void claim_names(struct json_object *node, struct json_object *names)
{
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			claim_names(json_object_array_get_idx(node, i), names);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	const char *c = jsonx_str(node, "claim");
	if (c) {
		size_t i, n = json_object_array_length(names);
		for (i = 0; i < n; i++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(names, i)), c))
				break;
		if (i == n)
			json_object_array_add(names, json_object_new_string(c));
	}
	claim_names(jsonx_arr(node, "anyOf"), names);
	claim_names(jsonx_arr(node, "allOf"), names);
}

void policy_claim_names(struct json_object *policy, struct json_object *names)
{
	claim_names(policy, names);
}
