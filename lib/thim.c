#include "thim.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "config.h"
#include "fetch.h"
#include "jsonx.h"

#define THIM_MAX_TEXT  (1u << 20)
#define THIM_IMDS_PATH "/metadata/THIM/amd/certification"

static char *cached_pem, *cached_tcbm;
static const char *cached_source;
static char *cached_endorsement;
static int endorsement_looked;

void thim_reset(void)
{
	free(cached_pem);
	free(cached_tcbm);
	free(cached_endorsement);
	cached_pem = cached_tcbm = cached_endorsement = NULL;
	cached_source = NULL;
	endorsement_looked = 0;
}

int thim_parse(const char *json, size_t len, char **pem, char **tcbm, struct err *e)
{
	struct json_object *o;
	*pem = *tcbm = NULL;
	if (jsonx_parse(json, len, &o, e) < 0)
		return err_wrap(e, "THIM certificate JSON");
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return err_set(e, ERR_UPSTREAM, "THIM certificate JSON is not an object");
	}
	const char *vcek = jsonx_str(o, "vcekCert");
	const char *chain = jsonx_str(o, "certificateChain");
	const char *t = jsonx_str(o, "tcbm");
	int ret = 0;
	if (!vcek || !*vcek) {
		ret = err_set(e, ERR_UPSTREAM, "THIM certificate JSON has no vcekCert");
	} else if (!strstr(vcek, "-----BEGIN CERTIFICATE-----")) {
		ret = err_set(e, ERR_UPSTREAM, "THIM vcekCert is not a PEM certificate");
	} else if (json_object_object_get_ex(o, "certificateChain", NULL) && !chain) {
		ret = err_set(e, ERR_UPSTREAM, "THIM certificateChain is not a string");
	} else if (json_object_object_get_ex(o, "tcbm", NULL) && !t) {
		ret = err_set(e, ERR_UPSTREAM, "THIM tcbm is not a string");
	} else {
		size_t tl = t ? strlen(t) : 0;
		for (size_t i = 0; i < tl && ret == 0; i++)
			if (!isxdigit((unsigned char)t[i]))
				ret = err_set(e, ERR_UPSTREAM, "THIM tcbm '%.40s' is not hex", t);
		if (ret == 0 && tl > 16)
			ret = err_set(e, ERR_UPSTREAM,
			              "THIM tcbm '%.40s' is longer than 16 hex digits", t);
		if (ret == 0) {
			size_t vl = strlen(vcek);
			/* PEM blocks must be line-separated to concatenate into one bundle. */
			int nl = vcek[vl - 1] != '\n' && chain && *chain;
			*pem = xasprintf("%s%s%s", vcek, nl ? "\n" : "", chain ? chain : "");
			*tcbm = tl ? xstrdup(t) : NULL;
		}
	}
	json_object_put(o);
	return ret;
}

/* Copy b64 text without line breaks and outer blanks, as Go's decoder tolerates them. */
static char *clean_b64(const char *s, size_t len, size_t *outlen)
{
	char *c = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] != '\r' && s[i] != '\n' && s[i] != ' ' && s[i] != '\t')
			c[n++] = s[i];
	c[n] = '\0';
	*outlen = n;
	return c;
}

int thim_parse_b64(const char *b64, size_t len, const char *what, char **pem, char **tcbm,
                   struct err *e)
{
	size_t n;
	*pem = *tcbm = NULL;
	char *c = clean_b64(b64, len, &n);
	unsigned char *json = NULL;
	size_t jl;
	int ret;
	if (!n)
		ret = err_set(e, ERR_UNAVAILABLE, "%s is empty", what);
	else if (b64_decode(c, n, B64_STD, B64_PAD_ANY, &json, &jl) < 0)
		ret = err_set(e, ERR_UPSTREAM, "%s is not valid base64", what);
	else if (thim_parse((const char *)json, jl, pem, tcbm, e) < 0)
		ret = err_wrap(e, "%s", what);
	else
		ret = 0;
	free(c);
	free(json);
	return ret;
}

/* $UVM_SECURITY_CONTEXT_DIR, else the first /security-context-* directory; caller frees. */
static char *security_context_dir(void)
{
	if (*cfg.uvm_security_context)
		return xstrdup(cfg.uvm_security_context);
	glob_t g;
	char *out = NULL;
	if (glob("/security-context-*", GLOB_ONLYDIR, NULL, &g) == 0 && g.gl_pathc > 0)
		out = xstrdup(g.gl_pathv[0]);
	globfree(&g);
	return out;
}

/* 1 and *text filled if dir/name exists, 0 if it does not, -1 with e on a read error. */
static int read_context_file(const char *name, char **path, struct buf *text, struct err *e)
{
	char *dir = security_context_dir();
	*path = NULL;
	buf_init(text);
	if (!dir)
		return 0;
	*path = xasprintf("%s/%s", dir, name);
	free(dir);
	if (read_file(*path, THIM_MAX_TEXT, text) == 0)
		return 1;
	int en = errno;
	buf_free(text);
	if (en == ENOENT || en == ENOTDIR)
		return 0;
	return err_set(e, ERR_UNAVAILABLE, "cannot read %s: %s", *path, strerror(en));
}

static int from_imds(char **pem, char **tcbm, struct err *e)
{
	if (!cfg.imds.set)
		return err_set(e, ERR_UNAVAILABLE, "IMDS_ENDPOINT is empty");
	static const char *const hdrs[] = {"Metadata: true", NULL};
	char *url = xasprintf("%s%s", cfg.imds.url, THIM_IMDS_PATH);
	struct fetch_req rq = {.url = url, .headers = hdrs};
	struct fetch_resp rs;
	int ret;
	if (fetch(&rq, &rs, e) < 0) {
		ret = -1;
	} else {
		if (rs.status == 200)
			ret = thim_parse((const char *)rs.body.p, rs.body.len, pem, tcbm, e) < 0
			          ? err_wrap(e, "from %s", url)
			          : 0;
		else if (rs.status == 404)
			ret =
			    err_set(e, ERR_UNAVAILABLE,
			            "%s answered 404: this host offers no AMD certificates (not a "
			            "confidential container host)",
			            url);
		else
			ret = err_set(e, ERR_UPSTREAM, "%s answered %ld", url, rs.status);
		if (ret < 0 && e && rs.status != 200)
			e->upstream_status = (int)rs.status;
		fetch_resp_free(&rs);
	}
	free(url);
	return ret;
}

int thim_chain(char **pem, char **tcbm, const char **source, struct err *e)
{
	*pem = *tcbm = NULL;
	if (source)
		*source = NULL;
	if (!cached_pem) {
		const char *env = cfg.uvm_host_amd_cert;
		const char *src;
		char *p = NULL, *t = NULL;
		if (env && *env) {
			src = "env";
			if (thim_parse_b64(env, strlen(env), "UVM_HOST_AMD_CERTIFICATE", &p, &t,
			                   e) < 0)
				return -1;
		} else {
			char *path;
			struct buf text;
			int r = read_context_file("host-amd-cert-base64", &path, &text, e);
			if (r < 0) {
				free(path);
				return -1;
			}
			if (r > 0) {
				src = "security-context";
				r = thim_parse_b64((const char *)text.p, text.len, path, &p, &t, e);
				buf_free(&text);
				free(path);
				if (r < 0)
					return -1;
			} else {
				free(path);
				src = "imds";
				if (from_imds(&p, &t, e) < 0)
					return err_wrap(
					    e, "no VCEK certificate chain "
					       "(UVM_HOST_AMD_CERTIFICATE unset, no "
					       "host-amd-cert-base64 in a security-context "
					       "directory, and IMDS failed)");
			}
		}
		cached_pem = p;
		cached_tcbm = t;
		cached_source = src;
	}
	*pem = xstrdup(cached_pem);
	*tcbm = cached_tcbm ? xstrdup(cached_tcbm) : NULL;
	if (source)
		*source = cached_source;
	return 0;
}

/* The stored b64 text with line breaks and blanks removed, or NULL if empty. */
static char *trimmed_or_null(const char *s, size_t len)
{
	size_t n;
	char *c = clean_b64(s, len, &n);
	if (!n) {
		free(c);
		return NULL;
	}
	return c;
}

const char *thim_uvm_endorsement(void)
{
	if (endorsement_looked)
		return cached_endorsement;
	char *path;
	struct buf text;
	struct err e;
	err_clear(&e);
	int r = read_context_file("reference-info-base64", &path, &text, &e);
	free(path);
	if (r > 0) {
		cached_endorsement = trimmed_or_null((const char *)text.p, text.len);
		buf_free(&text);
	}
	if (!cached_endorsement) {
		const char *env = cfg.uvm_reference_info;
		if (*env)
			cached_endorsement = trimmed_or_null(env, strlen(env));
	}
	endorsement_looked = 1;
	return cached_endorsement;
}
