/*
 * keyvault: local stand-in for an Azure Key Vault (Premium) holding exportable keys
 * with secure-key-release policies (PROTOCOLS.md §5), one vault per lighttpd socket.
 *
 *   GET  /keys/{name}[/{version}]?api-version=7.4           KeyBundle (permission get)
 *   POST /keys/{name}[/{version}]/release?api-version=7.4   {"target","nonce"?,"enc"?}
 *        -> {"value":"<JWS>"}: the key wrapped to the attested runtime key (§5.3)
 *   keyvault init KV_DIR --key NAME --policy FILE [--size BITS] [--grant OID:perms]...
 *        [--force] [--host HOST]                     (from a shell) create keys and grants
 * An empty {version} (/keys/NAME/, /keys/NAME//release) is the latest, as the SDKs send it.
 *
 * Every request is authenticated first, before its api-version, path or body are looked
 * at: a bearer token from the local identity endpoint (RS256 by the local AAD key,
 * audience https://vault.azure.net), else 401 with Key Vault's challenge, which is how
 * the SDKs discover where to get a token.  Then the api-version (one Key Vault serves,
 * 7.3 or later for release) -> 400; the path -> 404; the token's oid holding the
 * operation's permission in this vault's access policy -> 403; the body -> 400; the
 * key -> 404.  A release then needs an attestation token whose issuer is an authority
 * of the key's release policy and that verifies against that authority's /certs (never
 * the token's own jku) -> 403; the release policy satisfied by its claims -> 403 naming
 * the unmet condition.
 * Errors are Key Vault's {"error":{"code","message"}}.  Key material and tokens are
 * never logged or put in a message; the JWS is signed with the vault's own key and
 * carries its self-signed certificate (CN = the vault host) in x5c.
 *
 * State (KV_DIR 0700, private files 0600, written atomically under KV_DIR/.lock):
 *   signing.key signing.pem          the vault's JWS key and certificate
 *   access.json                      {"<oid>":["get","release",...]}
 *   keys/NAME.json                   {"name","version","kty","key_size","key_ops",
 *                                     "created","updated","release_policy":{...}}
 *   keys/NAME.VERSION.key            the key, PKCS#8 PEM
 *
 * Environment when serving: KV_DIR, KV_NAME (default: KV_DIR's last component),
 * KV_URL (its own base URL: kid prefix), AAD_PUBLIC_KEY (PEM of the local AAD key),
 * AAD_ISSUER (default emulator/lib/aad.h), HTTP_TIMEOUT_SECONDS for the /certs fetch.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "aad.h"
#include "codec.h"
#include "config.h"
#include "http.h"
#include "jsonx.h"
#include "jwt.h"
#include "keywrap.h"
#include "log.h"
#include "pki.h"
#include "policy.h"
#include "token.h"

#define SIGNING_KEY  "signing.key"
#define SIGNING_CERT "signing.pem"
#define ACCESS_FILE  "access.json"
#define KEYS_DIR     "keys"
#define AUDIENCE     "https://vault.azure.net"
#define POLICY_CTYPE "application/json; charset=utf-8"
#define STATE_MAX    (256 * 1024)
#define NONCE_MAX    512
#define RECOVERY     "Recoverable+Purgeable"

static const char *const key_ops[] = {"wrapKey", "unwrapKey", "encrypt", "decrypt"};
static const char *const known_perms[] = {
    "get",    "list",    "release",   "create",  "import",  "update",
    "delete", "wrapKey", "unwrapKey", "encrypt", "decrypt", "sign",
    "verify", "backup",  "restore",   "recover", "purge",
};

static struct {
	char *dir, *name;
	struct endpoint url;
	EVP_PKEY *sign_key;
	char *x5c0, *x5t, *kid;
	EVP_PKEY *aad_pub;
	const char *aad_iss;
} kv;

/* ---- shared helpers ---- */

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 127)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

static int known_perm(const char *p)
{
	for (size_t i = 0; i < NELEM(known_perms); i++)
		if (!strcmp(p, known_perms[i]))
			return 1;
	return 0;
}

static int load_json(const char *path, struct json_object **out, struct err *e)
{
	struct buf b;
	buf_init(&b);
	*out = NULL;
	if (read_file(path, STATE_MAX, &b) != 0) {
		int en = errno;
		buf_free(&b);
		return err_set(e, en == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "cannot read %s: %s",
		               path, strerror(en));
	}
	int r = jsonx_parse((const char *)b.p, b.len, out, e);
	buf_free(&b);
	if (r < 0)
		return err_wrap(e, "%s", path);
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return err_set(e, ERR_INTERNAL, "%s is not a JSON object", path);
	}
	return 0;
}

static int save_json(const char *path, struct json_object *o, struct err *e)
{
	char *s = jsonx_dump_pretty(o);
	int r = write_file_atomic(path, s, strlen(s), 0600);
	free(s);
	if (r != 0)
		return err_set(e, ERR_INTERNAL, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

static char *record_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s/%s.json", dir, KEYS_DIR, name);
}

static char *keyfile_path(const char *dir, const char *name, const char *version)
{
	return xasprintf("%s/%s/%s.%s.key", dir, KEYS_DIR, name, version);
}

/* ---- `keyvault init` ---- */

static int ensure_signing(const char *dir, const char *host, struct err *e)
{
	char *kpath = xasprintf("%s/%s", dir, SIGNING_KEY),
	     *cpath = xasprintf("%s/%s", dir, SIGNING_CERT);
	int rc = -1, created;
	EVP_PKEY *key = pki_ensure_rsa_key(kpath, 2048, &created, e);
	if (!key)
		goto done;
	if (created)
		printf("created %s\n", kpath);
	int made = pki_ensure_self_signed(cpath, key, "Emulated Key Vault (local stand-in)", host,
	                                  host, e);
	if (made < 0)
		goto done;
	if (made)
		printf("created %s (CN=%s)\n", cpath, host);
	rc = 0;
done:
	EVP_PKEY_free(key);
	free(kpath);
	free(cpath);
	ERR_clear_error();
	return rc;
}

static char *new_version(void)
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof(r)) != 1)
		return NULL;
	return hex_encode(r, sizeof(r));
}

/* Create or update one key: new key material only when absent or forced. */
static int ensure_key(const char *dir, const char *name, unsigned long bits,
                      struct json_object *policy, int force, struct err *e)
{
	char *rpath = record_path(dir, name);
	struct json_object *rec = NULL;
	struct err tmp;
	err_clear(&tmp);
	int rc = -1;
	EVP_PKEY *key = NULL;
	char *kpath = NULL, *old_kpath = NULL, *version = NULL;
	if (load_json(rpath, &rec, &tmp) < 0 && tmp.code != ERR_NOT_FOUND) {
		err_set(e, ERR_INTERNAL, "%s", tmp.msg);
		goto done;
	}
	long long now = now_unix();
	if (rec && !force) {
		struct json_object *old = jsonx_obj(rec, "release_policy");
		if (old && json_object_equal(old, policy)) {
			printf("key %s: unchanged\n", name);
			rc = 0;
			goto done;
		}
		jsonx_add(rec, "release_policy", json_object_get(policy));
		jsonx_add_int(rec, "updated", now);
		if (save_json(rpath, rec, e) < 0)
			goto done;
		printf("key %s: release policy updated (key material kept)\n", name);
		rc = 0;
		goto done;
	}
	if (rec && jsonx_str(rec, "version"))
		old_kpath = keyfile_path(dir, name, jsonx_str(rec, "version"));
	version = new_version();
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (!version || !key) {
		err_set(e, ERR_INTERNAL, "cannot generate an RSA-%lu key", bits);
		goto done;
	}
	kpath = keyfile_path(dir, name, version);
	if (pki_write_key(kpath, key, 1, e) < 0)
		goto done;
	json_object_put(rec);
	rec = json_object_new_object();
	jsonx_add_str(rec, "name", name);
	jsonx_add_str(rec, "version", version);
	jsonx_add_str(rec, "kty", "RSA-HSM");
	jsonx_add_int(rec, "key_size", (long long)bits);
	struct json_object *ops = json_object_new_array();
	for (size_t i = 0; i < NELEM(key_ops); i++)
		json_object_array_add(ops, json_object_new_string(key_ops[i]));
	jsonx_add(rec, "key_ops", ops);
	jsonx_add_int(rec, "created", now);
	jsonx_add_int(rec, "updated", now);
	jsonx_add(rec, "release_policy", json_object_get(policy));
	/* The record names the key file, so a reader sees the old pair or the new one. */
	if (save_json(rpath, rec, e) < 0)
		goto done;
	if (old_kpath)
		unlink(old_kpath);
	printf("key %s: created RSA-%lu version %s\n", name, bits, version);
	rc = 0;
done:
	EVP_PKEY_free(key);
	json_object_put(rec);
	free(rpath);
	free(kpath);
	free(old_kpath);
	free(version);
	return rc;
}

static int apply_grant(struct json_object *access, const char *spec, struct err *e)
{
	const char *colon = strchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		return err_set(e, ERR_BAD_REQUEST, "--grant '%s': use OID:perm[,perm...]", spec);
	char *oid = xstrndup(spec, (size_t)(colon - spec));
	struct json_object *perms = json_object_new_array();
	const char *p = colon + 1;
	int rc = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		char *perm = xstrndup(p, n);
		if (!known_perm(perm))
			rc = err_set(e, ERR_BAD_REQUEST,
			             "--grant '%s': unknown key permission '%s'", spec, perm);
		else
			json_object_array_add(perms, json_object_new_string(perm));
		free(perm);
		if (rc < 0)
			break;
		p += n;
		if (*p == ',')
			p++;
	}
	if (rc == 0)
		json_object_object_add(access, oid, json_object_get(perms));
	json_object_put(perms);
	free(oid);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: keyvault init KV_DIR [--key NAME --policy FILE [--size 2048|3072|4096]]\n"
	    "                            [--grant OID:get,release]... [--force] [--host HOST]\n"
	    "       keyvault             serve (FastCGI or CGI; KV_DIR, KV_URL, "
	    "AAD_PUBLIC_KEY...)\n"
	    "init is idempotent: an existing key keeps its material unless --force (its release\n"
	    "policy is updated in place); grants replace that oid's permissions.\n");
}

static int cmd_init(int argc, char **argv)
{
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	const char *dir = argv[2], *name = NULL, *policy_file = NULL, *host = NULL;
	const char *size_s = config_env("KEY_SIZE_BITS");
	int force = 0;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--force")) {
			force = 1;
		} else if (i + 1 < argc && !strcmp(a, "--key")) {
			name = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--policy")) {
			policy_file = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--size")) {
			size_s = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--host")) {
			host = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--grant")) {
			i++; /* applied below, once the directory is locked */
		} else {
			fprintf(stderr, "keyvault init: unexpected argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	unsigned long bits = 2048;
	if (size_s && *size_s &&
	    (parse_ulong(size_s, 2048, 4096, &bits) < 0 ||
	     (bits != 2048 && bits != 3072 && bits != 4096))) {
		fprintf(stderr, "keyvault init: key size '%s' is not 2048, 3072 or 4096\n", size_s);
		return 2;
	}
	if (name && !valid_name(name)) {
		fprintf(stderr,
		        "keyvault init: key name '%s' must be 1-127 letters, digits or '-'\n",
		        name);
		return 2;
	}
	if (name && !policy_file) {
		fprintf(stderr, "keyvault init: an exportable key needs --policy FILE\n");
		return 2;
	}
	struct err e;
	err_clear(&e);
	struct json_object *policy = NULL;
	if (policy_file) {
		struct buf b;
		buf_init(&b);
		if (read_file(policy_file, POLICY_MAX_BYTES, &b) != 0) {
			fprintf(stderr, "keyvault init: cannot read %s: %s\n", policy_file,
			        strerror(errno));
			buf_free(&b);
			return 2;
		}
		int r = policy_parse((const char *)b.p, b.len, &policy, &e);
		buf_free(&b);
		if (r < 0) {
			fprintf(stderr, "keyvault init: %s: %s\n", policy_file, e.msg);
			return 2;
		}
		/* Each authority must be an attestation service base URL the vault can reach
		 * for its /certs; refuse it here rather than fail every release later. */
		struct json_object *any = jsonx_arr(policy, "anyOf");
		for (size_t i = 0; any && i < json_object_array_length(any); i++) {
			const char *a = jsonx_str(json_object_array_get_idx(any, i), "authority");
			struct endpoint ep;
			if (!a || config_parse_endpoint("authority", a, &ep, &e) < 0) {
				fprintf(stderr, "keyvault init: %s: anyOf[%zu].authority: %s\n",
				        policy_file, i, a ? e.msg : "missing");
				json_object_put(policy);
				return 2;
			}
			endpoint_free(&ep);
		}
	}
	char *host_owned = NULL;
	if (!host) {
		struct endpoint ep;
		const char *u = config_env("KV_URL");
		if (u && *u && config_parse_endpoint("KV_URL", u, &ep, &e) == 0 && ep.set) {
			size_t hl = strcspn(ep.host, ":");
			if (ep.host[0] == '[')
				hl = strcspn(ep.host, "]") + 1;
			host_owned = xstrndup(ep.host, hl);
			endpoint_free(&ep);
		}
		host = host_owned ? host_owned : "localhost";
	}
	int rc = 1, fd = -1;
	struct json_object *access = NULL;
	char *apath = xasprintf("%s/%s", dir, ACCESS_FILE),
	     *kdir = xasprintf("%s/%s", dir, KEYS_DIR);
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || chmod(dir, 0700) != 0 ||
	    (mkdir(kdir, 0700) != 0 && errno != EEXIST)) {
		fprintf(stderr, "keyvault init: cannot create %s: %s\n", kdir, strerror(errno));
		goto done;
	}
	if ((fd = pki_lock_dir(dir, &e)) < 0 || ensure_signing(dir, host, &e) < 0 ||
	    (name && ensure_key(dir, name, bits, policy, force, &e) < 0))
		goto fail;
	struct err tmp;
	err_clear(&tmp);
	if (load_json(apath, &access, &tmp) < 0) {
		if (tmp.code != ERR_NOT_FOUND) {
			e = tmp;
			goto fail;
		}
		access = json_object_new_object();
	}
	int grants = 0;
	for (int i = 3; i < argc; i++)
		if (!strcmp(argv[i], "--grant") && i + 1 < argc) {
			if (apply_grant(access, argv[++i], &e) < 0)
				goto fail;
			grants++;
		}
	if (save_json(apath, access, &e) < 0)
		goto fail;
	if (grants)
		printf("access policy: %d grant(s) written to %s\n", grants, apath);
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "keyvault init: %s\n", e.msg);
done:
	if (fd >= 0)
		close(fd);
	json_object_put(policy);
	json_object_put(access);
	free(apath);
	free(kdir);
	free(host_owned);
	return rc;
}

/* ---- serving ---- */

#define die(...) config_die("keyvault", __VA_ARGS__)

static void load_config(void)
{
	struct err e;
	err_clear(&e);
	const char *v = config_env("KV_DIR");
	if (!v || !*v)
		die("KV_DIR", "not set: set it to a directory made by `keyvault init DIR`");
	kv.dir = xstrdup(v);
	v = config_env("KV_NAME");
	if (v && *v) {
		kv.name = xstrdup(v);
	} else {
		const char *slash = strrchr(kv.dir, '/');
		kv.name = xstrdup(slash && slash[1] ? slash + 1 : kv.dir);
	}
	v = config_env("KV_URL");
	if (!v || !*v || config_parse_endpoint("KV_URL", v, &kv.url, &e) != 0 || !kv.url.set)
		die("KV_URL", "%s", *e.msg ? e.msg : "not set: set it to this vault's base URL");
	char *kpath = xasprintf("%s/%s", kv.dir, SIGNING_KEY);
	char *cpath = xasprintf("%s/%s", kv.dir, SIGNING_CERT);
	if (!(kv.sign_key = pki_load_private_key(kpath, &e)))
		die("KV_DIR", "%s: run `keyvault init %s`", e.msg, kv.dir);
	X509 *cert = pki_load_cert(cpath, &e);
	if (!cert || X509_check_private_key(cert, kv.sign_key) != 1)
		die("KV_DIR", "%s is missing or does not match %s: run `keyvault init %s`", cpath,
		    kpath, kv.dir);
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);
	if (n <= 0)
		die("KV_DIR", "cannot encode %s", cpath);
	kv.x5c0 = b64_encode(der, (size_t)n, B64_STD, B64_PAD_REQUIRED);
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(der, (size_t)n, md);
	kv.x5t = b64_encode(md, sizeof(md), B64_URL, B64_PAD_NONE);
	OPENSSL_free(der);
	X509_free(cert);
	kv.kid = jwk_thumbprint(kv.sign_key);
	free(kpath);
	free(cpath);
	v = config_env("AAD_PUBLIC_KEY");
	if (!v || !*v)
		die("AAD_PUBLIC_KEY",
		    "not set: set it to the local AAD public key (aad.pem made by "
		    "`identity init DIR`)");
	if (!(kv.aad_pub = pki_load_public_key(v, &e)))
		die("AAD_PUBLIC_KEY", "%s", e.msg);
	kv.aad_iss = aad_issuer();
	ERR_clear_error();
}

static void kv_error(struct http_resp *rs, int status, const char *code, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
static void kv_error(struct http_resp *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status == 401) {
		char *ch =
		    xasprintf("Bearer authorization=\"%s\", resource=\"%s\"", kv.aad_iss, AUDIENCE);
		http_add_header(rs, "WWW-Authenticate", ch);
		free(ch);
	}
	struct json_object *o = json_object_new_object(), *err = json_object_new_object();
	jsonx_add_str(err, "code", code);
	jsonx_add_str(err, "message", msg);
	jsonx_add(o, "error", err);
	http_send_json(rs, status, o);
}

/* One line per request: who, which key, what happened. */
static void outcome(const char *op, const char *oid, const char *key, const char *what)
{
	log_info("%s key=%.127s caller=oid:%.64s outcome=%s", op, key ? key : "-", oid ? oid : "-",
	         what);
}

struct target {
	char *name, *version;
};

/* /keys/NAME[/VERSION][/OP]: returns 0 and fills t, or -1.  An empty VERSION means the
 * latest, as in Key Vault: the SDKs send /keys/NAME/ and /keys/NAME//release for it. */
static int parse_path(const char *path, struct target *t, const char *want_op)
{
	memset(t, 0, sizeof(*t));
	const char *p = path + strlen("/keys/");
	char *segs[4] = {0};
	int n = 0;
	while (*p && n < 4) {
		size_t l = strcspn(p, "/");
		segs[n++] = xstrndup(p, l);
		p += l;
		if (*p == '/')
			p++;
	}
	int rc = -1;
	if (*p)
		goto done;
	int want = want_op ? 1 : 0;
	if (n - want < 1 || n - want > 2 || (want && strcmp(segs[n - 1], want_op)))
		goto done;
	if (!valid_name(segs[0]) || (n - want == 2 && *segs[1] && !valid_name(segs[1])))
		goto done;
	t->name = segs[0];
	segs[0] = NULL;
	if (n - want == 2 && *segs[1]) {
		t->version = segs[1];
		segs[1] = NULL;
	}
	rc = 0;
done:
	for (int i = 0; i < n; i++)
		free(segs[i]);
	return rc;
}

static void target_free(struct target *t)
{
	free(t->name);
	free(t->version);
}

/* The api-versions Key Vault serves, and whether each has the release operation (7.3 on). */
static const struct {
	const char *v;
	int release;
} api_versions[] = {
    {"2016-10-01", 0},    {"7.0", 0}, {"7.1", 0},           {"7.2", 0},
    {"7.3-preview", 1},   {"7.3", 1}, {"7.4-preview.1", 1}, {"7.4", 1},
    {"7.5-preview.1", 1}, {"7.5", 1}, {"7.6-preview.1", 1}, {"7.6-preview.2", 1},
    {"7.6", 1},
};
#define API_LATEST "7.6"

/* 1 if the request's api-version is one Key Vault serves (with release, if need_release);
 * otherwise a 400 is sent and 0 returned. */
static int api_version_ok(struct http_req *rq, struct http_resp *rs, int need_release)
{
	char *v = NULL;
	int r = aad_query_get(rq->query, "api-version", &v), known = -1;
	for (size_t i = 0; r == 1 && i < NELEM(api_versions) && known < 0; i++)
		if (!strcmp(v, api_versions[i].v))
			known = (int)i;
	int ok = known >= 0 && (!need_release || api_versions[known].release);
	if (r != 1)
		kv_error(rs, 400, "BadParameter",
		         "The 'api-version' query parameter is required (e.g. " API_LATEST ")");
	else if (known < 0)
		kv_error(rs, 400, "BadParameter",
		         "The specified version (%.30s) is not recognized. Consider using the "
		         "latest supported version (" API_LATEST ").",
		         v);
	else if (!ok)
		kv_error(rs, 400, "BadParameter",
		         "The release operation needs api-version 7.3 or later, not %.30s", v);
	free(v);
	return ok;
}

/*
 * The caller's token claims, or NULL with a 401 and the challenge sent.  This comes
 * before every other check, as on Key Vault: the SDKs learn where to get a token by
 * sending a first request without Authorization and without a body, and must get the
 * challenge back whatever the api-version, path or body.
 */
static struct json_object *authenticate(struct http_req *rq, struct http_resp *rs, const char *op)
{
	struct json_object *claims = NULL;
	struct err e;
	err_clear(&e);
	if (aad_verify_bearer(http_env(rq, "HTTP_AUTHORIZATION"), kv.aad_pub, kv.aad_iss, AUDIENCE,
	                      &claims, &e) < 0) {
		outcome(op, NULL, NULL, "401 bad bearer token");
		kv_error(rs, 401, "Unauthorized", "%s", e.msg);
		return NULL;
	}
	return claims;
}

/* 1 if the caller (claims' oid) holds perm in this vault's access policy; else 403 sent. */
static int permitted(struct http_resp *rs, struct json_object *claims, const char *perm,
                     const char *op, const char *key)
{
	struct json_object *access = NULL;
	struct err e;
	err_clear(&e);
	const char *oid = jsonx_str(claims, "oid");
	char *apath = xasprintf("%s/%s", kv.dir, ACCESS_FILE);
	int granted = 0;
	if (load_json(apath, &access, &e) == 0) {
		struct json_object *perms = jsonx_arr(access, oid);
		for (size_t i = 0; perms && i < json_object_array_length(perms); i++) {
			struct json_object *p = json_object_array_get_idx(perms, i);
			granted |= json_object_is_type(p, json_type_string) &&
			           !strcmp(json_object_get_string(p), perm);
		}
	} else if (e.code != ERR_NOT_FOUND) {
		log_error("access policy: %s", e.msg);
	}
	free(apath);
	json_object_put(access);
	if (!granted) {
		char *what = xasprintf("403 no %s permission", perm);
		outcome(op, oid, key, what);
		free(what);
		kv_error(
		    rs, 403, "Forbidden",
		    "The user, group or application 'oid=%.64s' does not have keys %s permission "
		    "on key vault '%.100s'",
		    oid, perm, kv.name);
	}
	return granted;
}

struct key {
	struct json_object *rec;
	EVP_PKEY *pkey;
	char *kid;
};

static void key_free(struct key *k)
{
	json_object_put(k->rec);
	EVP_PKEY_free(k->pkey);
	free(k->kid);
	memset(k, 0, sizeof(*k));
}

/* Load the key named by t; ERR_NOT_FOUND when absent or the version differs. */
static int key_load(const struct target *t, struct key *k, struct err *e)
{
	memset(k, 0, sizeof(*k));
	char *rpath = record_path(kv.dir, t->name);
	int r = load_json(rpath, &k->rec, e);
	free(rpath);
	const char *ver = r == 0 ? jsonx_str(k->rec, "version") : NULL;
	if (r == 0 && (!ver || (t->version && strcmp(t->version, ver)))) {
		key_free(k);
		r = err_set(e, ERR_NOT_FOUND, "no such version");
	}
	if (r < 0) {
		if (e->code == ERR_NOT_FOUND)
			return err_set(
			    e, ERR_NOT_FOUND,
			    "A key with (name/id) %s%s%s was not found in this key vault. "
			    "If you recently deleted this key you may be able to recover it "
			    "using the correct recovery command.",
			    t->name, t->version ? "/" : "", t->version ? t->version : "");
		key_free(k);
		return -1;
	}
	char *kpath = keyfile_path(kv.dir, t->name, ver);
	k->pkey = pki_load_private_key(kpath, e);
	free(kpath);
	if (!k->pkey) {
		key_free(k);
		return err_set(e, ERR_INTERNAL, "key %s: its key material is unreadable", t->name);
	}
	k->kid = xasprintf("%s/keys/%s/%s", kv.url.url, t->name, ver);
	return 0;
}

static struct json_object *release_policy_json(struct key *k)
{
	struct json_object *rp = json_object_new_object();
	char *text = jsonx_dump(jsonx_obj(k->rec, "release_policy"));
	char *data = b64_encode(text, strlen(text), B64_URL, B64_PAD_NONE);
	jsonx_add_str(rp, "contentType", POLICY_CTYPE);
	jsonx_add_str(rp, "data", data);
	jsonx_add_bool(rp, "immutable", 0);
	free(text);
	free(data);
	return rp;
}

/* KeyBundle: {"key":{kid,kty,key_ops,n,e},"attributes":{...},"release_policy":{...}}. */
static struct json_object *key_bundle(struct key *k)
{
	struct json_object *b = json_object_new_object(), *key = json_object_new_object();
	struct json_object *pub = jwk_public(k->pkey);
	jsonx_add_str(key, "kid", k->kid);
	jsonx_add_str(key, "kty", "RSA-HSM");
	struct json_object *ops = jsonx_arr(k->rec, "key_ops");
	jsonx_add(key, "key_ops", ops ? json_object_get(ops) : json_object_new_array());
	jsonx_add_str(key, "n", jsonx_str(pub, "n"));
	jsonx_add_str(key, "e", jsonx_str(pub, "e"));
	json_object_put(pub);
	struct json_object *at = json_object_new_object();
	long long created = 0, updated = 0;
	(void)jsonx_int(k->rec, "created", &created);
	(void)jsonx_int(k->rec, "updated", &updated);
	jsonx_add_bool(at, "enabled", 1);
	jsonx_add_bool(at, "exportable", 1);
	jsonx_add_int(at, "created", created);
	jsonx_add_int(at, "updated", updated);
	jsonx_add_str(at, "recoveryLevel", RECOVERY);
	jsonx_add_int(at, "recoverableDays", 90);
	jsonx_add(b, "key", key);
	jsonx_add(b, "attributes", at);
	jsonx_add(b, "release_policy", release_policy_json(k));
	return b;
}

static void get_key(struct http_req *rq, struct http_resp *rs)
{
	struct target t = {0};
	struct json_object *claims = NULL;
	struct key k = {0};
	struct err e;
	err_clear(&e);
	if (!(claims = authenticate(rq, rs, "get")) || !api_version_ok(rq, rs, 0))
		goto done;
	if (parse_path(rq->path, &t, NULL) < 0) {
		kv_error(rs, 404, "NotFound", "No such key path: use /keys/{name}[/{version}]");
		goto done;
	}
	if (!permitted(rs, claims, "get", "get", t.name))
		goto done;
	const char *oid = jsonx_str(claims, "oid");
	if (key_load(&t, &k, &e) < 0) {
		outcome("get", oid, t.name, e.code == ERR_NOT_FOUND ? "404" : "500");
		kv_error(rs, e.code == ERR_NOT_FOUND ? 404 : 500,
		         e.code == ERR_NOT_FOUND ? "KeyNotFound" : "InternalError", "%s", e.msg);
		goto done;
	}
	outcome("get", oid, t.name, "200");
	http_send_json(rs, 200, key_bundle(&k));
done:
	key_free(&k);
	json_object_put(claims);
	target_free(&t);
}

/* Compact RS256 JWS with the vault certificate in x5c, as Key Vault signs releases. */
static char *jws_sign(struct json_object *payload)
{
	struct json_object *hdr = json_object_new_object(), *x5c = json_object_new_array();
	jsonx_add_str(hdr, "alg", "RS256");
	jsonx_add_str(hdr, "kid", kv.kid);
	json_object_array_add(x5c, json_object_new_string(kv.x5c0));
	jsonx_add(hdr, "x5c", x5c);
	jsonx_add_str(hdr, "x5t#S256", kv.x5t);
	char *out = jwt_sign_rs256_header(kv.sign_key, hdr, payload);
	json_object_put(hdr);
	ERR_clear_error();
	return out;
}

/* The authority of the policy that names this issuer (borrowed), or NULL. */
static const char *policy_authority_for(struct json_object *policy, const char *iss)
{
	struct json_object *arr = jsonx_arr(policy, "anyOf");
	if (!arr)
		arr = jsonx_arr(policy, "allOf");
	char *ni = policy_normalise_authority(iss);
	const char *found = NULL;
	for (size_t i = 0; arr && i < json_object_array_length(arr) && !found; i++) {
		const char *a = jsonx_str(json_object_array_get_idx(arr, i), "authority");
		char *na = a ? policy_normalise_authority(a) : NULL;
		if (na && !strcmp(na, ni))
			found = a;
		free(na);
	}
	free(ni);
	return found;
}

/* x-ms-runtime.keys[]: the RSA key meant for encryption, else the first RSA key. */
static struct json_object *runtime_key(struct json_object *claims)
{
	struct json_object *keys = jsonx_arr(jsonx_obj(claims, "x-ms-runtime"), "keys");
	struct json_object *first = NULL;
	for (size_t i = 0; keys && i < json_object_array_length(keys); i++) {
		struct json_object *k = json_object_array_get_idx(keys, i);
		const char *kty = jsonx_str(k, "kty");
		if (!kty || strcmp(kty, "RSA"))
			continue;
		if (!first)
			first = k;
		struct json_object *ops = jsonx_arr(k, "key_ops");
		for (size_t j = 0; ops && j < json_object_array_length(ops); j++) {
			struct json_object *op = json_object_array_get_idx(ops, j);
			if (json_object_is_type(op, json_type_string) &&
			    !strcmp(json_object_get_string(op), "encrypt"))
				return k;
		}
	}
	return first;
}

/* PKCS#8 DER of the key, wrapped to wrap_pub; the DER is wiped. */
static int wrap_key(struct key *k, EVP_PKEY *wrap_pub, enum keywrap_alg alg, char **ct64,
                    struct err *e)
{
	*ct64 = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k->pkey);
	unsigned char *der = NULL;
	int n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0) {
		ERR_clear_error();
		return err_set(e, ERR_INTERNAL, "cannot encode the key for release");
	}
	uint8_t *w = NULL;
	size_t wn = 0;
	int r = keywrap_wrap(wrap_pub, alg, der, (size_t)n, &w, &wn, e);
	OPENSSL_clear_free(der, (size_t)n);
	if (r < 0)
		return -1;
	*ct64 = b64_encode(w, wn, B64_URL, B64_PAD_NONE);
	free(w);
	return 0;
}

static void release(struct http_req *rq, struct http_resp *rs)
{
	struct target t = {0};
	static const struct field_spec spec[] = {
	    {"target", FIELD_STRING, 1, JWT_MAX_LEN, 0},
	    {"nonce", FIELD_STRING, 0, NONCE_MAX, 1},
	    {"enc", FIELD_STRING, 0, 64, 0},
	};
	struct json_object *body = NULL, *claims = NULL, *att = NULL, *payload = NULL;
	struct json_object *bundle = NULL;
	struct key k = {0};
	struct endpoint ep = {0};
	EVP_PKEY *wrap_pub = NULL;
	char *fail = NULL, *ct64 = NULL, *jws = NULL;
	const char *oid = NULL;
	struct jwt unverified = {0};
	struct err e;
	err_clear(&e);
	enum keywrap_alg alg = KEYWRAP_RSA_AES;
	/* Authentication first: the body is checked only for a caller allowed to release. */
	if (!(claims = authenticate(rq, rs, "release")) || !api_version_ok(rq, rs, 1))
		goto done;
	if (parse_path(rq->path, &t, "release") < 0) {
		kv_error(rs, 404, "NotFound",
		         "No such operation: use POST /keys/{name}[/{version}]/release");
		goto done;
	}
	oid = jsonx_str(claims, "oid");
	if (!permitted(rs, claims, "release", "release", t.name))
		goto done;
	if (http_body_json(rq, &body, &e) < 0 ||
	    http_validate(body, spec, NELEM(spec), NULL, &e) < 0) {
		kv_error(rs, 400, "BadParameter", "%s", e.msg);
		goto done;
	}
	const char *enc = jsonx_str(body, "enc"), *nonce = jsonx_str(body, "nonce");
	if (enc && keywrap_alg_parse(enc, &alg, &e) < 0) {
		kv_error(rs, 400, "BadParameter", "%s", e.msg);
		goto done;
	}
	if (key_load(&t, &k, &e) < 0) {
		outcome("release", oid, t.name, e.code == ERR_NOT_FOUND ? "404" : "500");
		kv_error(rs, e.code == ERR_NOT_FOUND ? 404 : 500,
		         e.code == ERR_NOT_FOUND ? "KeyNotFound" : "InternalError", "%s", e.msg);
		goto done;
	}
	struct json_object *policy = jsonx_obj(k.rec, "release_policy");

	/* Which authority to ask for keys: the token names it, but only the policy's count. */
	const char *target = jsonx_str(body, "target");
	if (jwt_parse(target, &unverified, &e) < 0) {
		outcome("release", oid, t.name, "403 malformed target");
		kv_error(rs, 403, "Forbidden", "Target attestation token is invalid: %s", e.msg);
		goto done;
	}
	const char *iss = jsonx_str(unverified.payload, "iss");
	const char *authority = iss ? policy_authority_for(policy, iss) : NULL;
	if (!authority) {
		outcome("release", oid, t.name, "403 issuer not a policy authority");
		kv_error(rs, 403, "Forbidden",
		         "Target attestation token is invalid: its issuer '%.200s' is not an "
		         "authority of the release policy of key '%s'",
		         iss ? iss : "(none)", t.name);
		goto done;
	}
	if (config_parse_endpoint("release policy authority", authority, &ep, &e) < 0 || !ep.set) {
		outcome("release", oid, t.name, "500 unusable authority");
		kv_error(rs, 500, "InternalError", "the release policy's authority is unusable: %s",
		         e.msg);
		goto done;
	}
	if (token_verify(target, &ep, &att, &e) < 0) {
		int infra = e.code != ERR_UNAUTHORIZED;
		outcome("release", oid, t.name,
		        infra ? "503 authority unreachable" : "403 target token invalid");
		if (infra)
			kv_error(rs, 503, "ServiceUnavailable",
			         "Cannot verify the target attestation token: %s", e.msg);
		else
			kv_error(rs, 403, "Forbidden", "Target attestation token is invalid: %s",
			         e.msg);
		goto done;
	}
	int sat = policy_evaluate(policy, jsonx_str(att, "iss"), att, NULL, &fail, &e);
	if (sat < 0) {
		outcome("release", oid, t.name, "500 stored policy malformed");
		kv_error(rs, 500, "InternalError", "the stored release policy is malformed: %s",
		         e.msg);
		goto done;
	}
	if (sat == 0) {
		outcome("release", oid, t.name, "403 release policy not satisfied");
		kv_error(rs, 403, "Forbidden", "Release policy not satisfied: %s", fail);
		goto done;
	}
	struct json_object *rk = runtime_key(att);
	if (!rk) {
		outcome("release", oid, t.name, "400 no runtime key");
		kv_error(rs, 400, "BadParameter",
		         "Target attestation token has no RSA key in x-ms-runtime.keys to wrap the "
		         "released key to");
		goto done;
	}
	if (!(wrap_pub = jwk_to_public_pkey(rk, &e)) ||
	    wrap_key(&k, wrap_pub, alg, &ct64, &e) < 0) {
		outcome("release", oid, t.name, "400 unusable runtime key");
		kv_error(rs, 400, "BadParameter", "The x-ms-runtime wrapping key is unusable: %s",
		         e.msg);
		goto done;
	}

	struct json_object *hsm = json_object_new_object(), *hh = json_object_new_object();
	jsonx_add_str(hsm, "schema_version", "1.0");
	jsonx_add_str(hh, "kid", jsonx_str(rk, "kid"));
	jsonx_add_str(hh, "alg", "dir");
	jsonx_add_str(hh, "enc", keywrap_alg_name(alg));
	jsonx_add(hsm, "header", hh);
	jsonx_add_str(hsm, "ciphertext", ct64);
	char *hsm_text = jsonx_dump(hsm);
	json_object_put(hsm);
	char *hsm64 = b64_encode(hsm_text, strlen(hsm_text), B64_URL, B64_PAD_NONE);
	free(hsm_text);

	bundle = key_bundle(&k);
	jsonx_add_str(jsonx_obj(bundle, "key"), "key_hsm", hsm64);
	free(hsm64);
	payload = json_object_new_object();
	struct json_object *req = json_object_new_object(), *resp = json_object_new_object();
	char *api = NULL;
	if (aad_query_get(rq->query, "api-version", &api) != 1) {
		free(api);
		api = xstrdup("7.4");
	}
	jsonx_add_str(req, "api-version", api);
	free(api);
	jsonx_add_str(req, "enc", keywrap_alg_name(alg));
	jsonx_add_str(req, "kid", k.kid);
	if (nonce)
		jsonx_add_str(req, "nonce", nonce);
	jsonx_add(payload, "request", req);
	jsonx_add(resp, "key", bundle);
	bundle = NULL;
	jsonx_add(payload, "response", resp);
	if (!(jws = jws_sign(payload))) {
		outcome("release", oid, t.name, "500 signing failed");
		kv_error(rs, 500, "InternalError", "the vault could not sign the release");
		goto done;
	}
	char *what = xasprintf("200 released (%s to runtime key %.64s)", keywrap_alg_name(alg),
	                       jsonx_str(rk, "kid") ? jsonx_str(rk, "kid") : "?");
	outcome("release", oid, t.name, what);
	free(what);
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "value", jws);
	http_send_json(rs, 200, o);
done:
	jwt_free(&unverified);
	endpoint_free(&ep);
	EVP_PKEY_free(wrap_pub);
	key_free(&k);
	json_object_put(body);
	json_object_put(claims);
	json_object_put(att);
	json_object_put(payload);
	json_object_put(bundle);
	free(fail);
	free(ct64);
	free(jws);
	target_free(&t);
}

static const struct http_route routes[] = {
    {"GET", "/keys/", 1, get_key},
    {"POST", "/keys/", 1, release},
};

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "init"))
		return cmd_init(argc, argv);
	if (argc != 1) {
		usage(argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout
		                                                                          : stderr);
		return 2;
	}
	load_config();
	return http_main("keyvault", routes, NELEM(routes));
}
