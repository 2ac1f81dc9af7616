#include "platform.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"
#include "evidence.h"
#include "jsonx.h"
#include "sidecar.h"

#define SKR_BINARY "/usr/local/bin/skr"

char *platform_container_id(void)
{
	struct buf b;
	buf_init(&b);
	char *cid = NULL;
	if (read_file("/proc/self/cgroup", 65536, &b) == 0) {
		/* The last path component of a 64-hex cgroup is the container id. */
		for (const char *p = (const char *)b.p; p && *p; p++) {
			size_t n = strspn(p, "0123456789abcdef");
			if (n == 64) {
				cid = xstrndup(p, 64);
				break;
			}
			p += n;
			if (!*p)
				break;
		}
	}
	buf_free(&b);
	return cid;
}

static char *os_release_field(const struct buf *b, const char *key)
{
	size_t kl = strlen(key);
	const char *p = (const char *)b->p;
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1, *end = strchr(v, '\n');
			size_t n = end ? (size_t)(end - v) : strlen(v);
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
				v++;
				n -= 2;
			}
			return xstrndup(v, n);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

struct json_object *platform_os_release(void)
{
	static const struct {
		const char *field, *key;
	} fields[] = {{"NAME", "name"}, {"VERSION", "version"}, {"PRETTY_NAME", "pretty_name"}};
	struct json_object *os = json_object_new_object();
	struct buf b;
	buf_init(&b);
	if (read_file("/etc/os-release", 65536, &b) == 0)
		for (size_t i = 0; i < NELEM(fields); i++) {
			char *v = os_release_field(&b, fields[i].field);
			if (v)
				jsonx_add_str(os, fields[i].key, v);
			free(v);
		}
	buf_free(&b);
	return os;
}

static struct json_object *digests(const struct buf *b)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	struct json_object *f = json_object_new_object();
	EVP_Digest(b->p, b->len, md, &len, EVP_md5(), NULL);
	char *h = hex_encode(md, len);
	jsonx_add_str(f, "md5", h);
	free(h);
	EVP_Digest(b->p, b->len, md, &len, EVP_sha256(), NULL);
	h = hex_encode(md, len);
	jsonx_add_str(f, "sha256", h);
	free(h);
	jsonx_add_int(f, "size_bytes", (long long)b->len);
	return f;
}

/* Only what an image ships: no build objects, dependency files or editor leftovers. */
static int shipped(const char *name)
{
	static const char *const skip[] = {".o", ".d", ".a", "~", ".swp", ".tmp"};
	size_t n = strlen(name);
	if (name[0] == '.')
		return 0;
	for (size_t i = 0; i < NELEM(skip); i++) {
		size_t k = strlen(skip[i]);
		if (n >= k && !strcmp(name + n - k, skip[i]))
			return 0;
	}
	return 1;
}

static void file_digests(struct json_object *out, const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!shipped(de->d_name))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		struct buf b;
		buf_init(&b);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    read_file(path, 64u << 20, &b) == 0) {
			char *key = xasprintf("%s/%s", prefix, de->d_name);
			jsonx_add(out, key, digests(&b));
			free(key);
		}
		buf_free(&b);
		free(path);
	}
	closedir(d);
}

static char *self_dir(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup(".");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return xstrdup(exe);
}

struct json_object *platform_app_checksums(void)
{
	static struct json_object *sums;
	if (!sums) {
		sums = json_object_new_object();
		char *dir = self_dir();
		file_digests(sums, dir, "fcgi-bin");
		char *www = xasprintf("%s/../www", dir);
		file_digests(sums, www, "www");
		free(www);
		free(dir);
	}
	return json_object_get(sums);
}

/* MD5 and SHA-256 of a file read in chunks (the sidecar binary is tens of MB); -1 if unreadable. */
static int stream_digests(FILE *f, char **md5, char **sha256)
{
	EVP_MD_CTX *c[2] = {EVP_MD_CTX_new(), EVP_MD_CTX_new()};
	const EVP_MD *md[2] = {EVP_md5(), EVP_sha256()};
	int ok = c[0] && c[1];
	for (int i = 0; ok && i < 2; i++)
		ok = EVP_DigestInit_ex(c[i], md[i], NULL) == 1;
	unsigned char chunk[65536];
	size_t n;
	while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ok = EVP_DigestUpdate(c[0], chunk, n) == 1 && EVP_DigestUpdate(c[1], chunk, n) == 1;
	ok = ok && !ferror(f);
	char **out[2] = {md5, sha256};
	for (int i = 0; i < 2; i++) {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int len = 0;
		*out[i] = ok && EVP_DigestFinal_ex(c[i], d, &len) == 1 ? hex_encode(d, len) : NULL;
		EVP_MD_CTX_free(c[i]);
	}
	if (*md5 && *sha256)
		return 0;
	free(*md5);
	free(*sha256);
	*md5 = *sha256 = NULL;
	return -1;
}

struct json_object *platform_skr_binary_at(const char *path)
{
	struct json_object *skr = json_object_new_object();
	struct stat st;
	FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
	char *md5 = NULL, *sha256 = NULL;
	if (f && stream_digests(f, &md5, &sha256) == 0) {
		jsonx_add_str(skr, "path", path);
		jsonx_add_str(skr, "md5", md5);
		jsonx_add_str(skr, "sha256", sha256);
		jsonx_add_int(skr, "size_bytes", (long long)st.st_size);
		jsonx_add_bool(skr, "executable", access(path, X_OK) == 0);
	} else {
		char *m = xasprintf("SKR sidecar binary not present at %s", path);
		jsonx_add_str(skr, "error", m);
		free(m);
	}
	if (f)
		fclose(f);
	free(md5);
	free(sha256);
	return skr;
}

struct json_object *platform_skr_binary(void)
{
	/* Hashed once per process, as the programs' own files are. */
	static struct json_object *skr;
	if (!skr)
		skr = platform_skr_binary_at(SKR_BINARY);
	return json_object_get(skr);
}

static struct json_object *native_status(void)
{
	const struct evidence_provider *p = evidence_provider();
	struct json_object *ss = json_object_new_object();
	jsonx_add_bool(ss, "running", p != NULL);
	jsonx_add_str(ss, "mode", "native");
	jsonx_add_str(ss, "evidence_source", p ? p->name : NULL);
	if (p) {
		char *m =
		    xasprintf("Attesting natively through %s%s: this instance talks to the "
		              "attestation service and the key vault itself, so no SKR sidecar "
		              "is needed.",
		              p->device ? p->device : "the virtual SEV-SNP host",
		              p->emulated ? " (emulated)" : "");
		jsonx_add_str(ss, "explanation", m);
		free(m);
		return ss;
	}
	jsonx_add_str(ss, "reason", "no SEV-SNP evidence provider is present");
	jsonx_add_str(ss, "explanation",
	              "Native attestation needs /dev/sev-guest (or /dev/sev), or "
	              "the local virtual SEV-SNP host.");
	jsonx_add_str(ss, "solution", "Deploy with the Confidential SKU, or run the local demo.");
	jsonx_add_str(ss, "technical_detail",
	              cfg.virtual_socket && *cfg.virtual_socket ? cfg.virtual_socket
	                                                        : "/dev/sev-guest, /dev/sev");
	return ss;
}

static struct json_object *sidecar_mode_status(void)
{
	struct json_object *ss = json_object_new_object();
	struct err e;
	err_clear(&e);
	long status = 0;
	char *body = NULL;
	int answered = sidecar_status(&status, &body, &e) == 0;
	jsonx_add_bool(ss, "running", answered && status == 200);
	jsonx_add_str(ss, "mode", "sidecar");
	if (answered) {
		char *shown = err_printable(body, 1000);
		jsonx_add_int(ss, "status_code", status);
		jsonx_add_str(ss, "response", shown);
		free(shown);
	} else {
		jsonx_add_str(ss, "reason", e.msg);
		jsonx_add_str(ss, "explanation",
		              "The SKR sidecar is not listening on its loopback port, and this "
		              "instance has no SEV-SNP device to attest natively.");
		jsonx_add_str(ss, "solution",
		              "In the container, supervisord starts /usr/local/bin/skr; "
		              "check skr_error.log. On standard hardware there is "
		              "nothing to attest with.");
		jsonx_add_str(ss, "technical_detail", cfg.sidecar.url);
	}
	free(body);
	return ss;
}

struct json_object *platform_skr_status(void)
{
	return attest_backend_now() == ATTEST_NATIVE ? native_status() : sidecar_mode_status();
}

struct json_object *platform_attestation_backend(void)
{
	const char *source = evidence_source();
	struct json_object *ab = json_object_new_object();
	jsonx_add_str(ab, "configured", config_backend_name(cfg.backend));
	jsonx_add_str(ab, "selected", attest_via_name(attest_backend_now()));
	jsonx_add_str(ab, "evidence_source", source);
	jsonx_add_bool(ab, "emulated", attest_is_emulated(source, NULL));
	jsonx_add_str(ab, "maa_endpoint", cfg.maa.host);
	return ab;
}

void platform_probe(struct platform_probe *p)
{
	memset(p, 0, sizeof(*p));
	struct err se, ae;
	err_clear(&se);
	err_clear(&ae);
	long status = 0;
	char *body = NULL;
	p->sidecar_up = sidecar_status(&status, &body, &se) == 0 && status == 200;
	if (body)
		p->sidecar_body = err_printable(body, 1000);
	free(body);
	snprintf(p->sidecar_error, sizeof(p->sidecar_error), "%s",
	         p->sidecar_up ? ""
	         : *se.msg     ? se.msg
	                       : "sidecar did not answer 200");
	size_t n;
	uint8_t *rt = attest_fresh_runtime("info-probe", &n);
	struct attest_token_result r;
	if (attest_token_verified(rt, n, &r, &ae) == 0) {
		p->works = r.verified;
		p->emulated = r.emulated;
		if (!r.verified) {
			snprintf(p->error, sizeof(p->error), "%s", r.verify_error);
			err_set(&ae, ERR_VERIFY, "%s", p->error);
			err_in(&ae, STAGE_TOKEN);
		}
	} else {
		snprintf(p->error, sizeof(p->error), "%s", ae.msg);
	}
	p->failure = ae;
	p->source = evidence_source();
	p->via = attest_backend_now();
	attest_token_result_free(&r);
	free(rt);
}

void platform_probe_free(struct platform_probe *p)
{
	free(p->sidecar_body);
	memset(p, 0, sizeof(*p));
}
