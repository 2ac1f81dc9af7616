#include "aad.h"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "codec.h"
#include "jsonx.h"
#include "jwt.h"
#include "pki.h"

const char *aad_issuer(void)
{
	const char *v = config_env("AAD_ISSUER");
	return v && *v ? v : AAD_DEFAULT_ISSUER;
}

int aad_init_dir(const char *dir, struct err *e)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
	int fd = pki_lock_dir(dir, e);
	if (fd < 0)
		return -1;
	char *kpath = xasprintf("%s/%s", dir, AAD_KEY_FILE);
	char *ppath = xasprintf("%s/%s", dir, AAD_PUB_FILE);
	int rc = -1, created;
	struct err tmp;
	EVP_PKEY *pub = NULL;
	/* An unreadable key is kept, not replaced: tokens in flight depend on it. */
	EVP_PKEY *key = pki_ensure_rsa_key(kpath, AAD_KEY_BITS, &created, e);
	if (!key)
		goto done;
	if (created)
		printf("created %s\n", kpath);
	err_clear(&tmp);
	pub = pki_load_public_key(ppath, &tmp);
	if (!pub || EVP_PKEY_eq(pub, key) != 1) {
		if (pki_write_key(ppath, key, 0, e) < 0)
			goto done;
		printf("created %s\n", ppath);
	}
	rc = 0;
done:
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	free(kpath);
	free(ppath);
	close(fd);
	return rc;
}

static int same_audience(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncmp(a, b, la);
}

int aad_verify_bearer(const char *authorization, EVP_PKEY *pub, const char *issuer,
                      const char *audience, struct json_object **claims, struct err *e)
{
	*claims = NULL;
	if (!authorization || !*authorization)
		return err_set(e, ERR_UNAUTHORIZED,
		               "no bearer token: send 'Authorization: Bearer <access token>' from "
		               "the identity endpoint");
	if (strncasecmp(authorization, "Bearer ", 7) || !authorization[7])
		return err_set(e, ERR_UNAUTHORIZED,
		               "the Authorization header is not 'Bearer <token>'");
	struct json_object *jwks = json_object_new_object(), *keys = json_object_new_array();
	struct json_object *jwk = jwk_public(pub);
	if (!jwk) {
		json_object_put(jwks);
		json_object_put(keys);
		return err_set(e, ERR_INTERNAL, "the local AAD public key is not an RSA key");
	}
	json_object_array_add(keys, jwk);
	jsonx_add(jwks, "keys", keys);
	struct json_object *c = NULL;
	int r = jwt_verify_with_jwks(authorization + 7, jwks, issuer, now_unix(), &c, e);
	json_object_put(jwks);
	if (r < 0) {
		e->code = ERR_UNAUTHORIZED;
		return err_wrap(e, "bearer token rejected");
	}
	struct json_object *aud = NULL;
	int ok = 0;
	if (json_object_object_get_ex(c, "aud", &aud) && aud) {
		if (json_object_is_type(aud, json_type_string)) {
			ok = same_audience(json_object_get_string(aud), audience);
		} else if (json_object_is_type(aud, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(aud) && !ok; i++) {
				struct json_object *v = json_object_array_get_idx(aud, i);
				ok = json_object_is_type(v, json_type_string) &&
				     same_audience(json_object_get_string(v), audience);
			}
		}
	}
	if (!ok) {
		json_object_put(c);
		return err_set(e, ERR_UNAUTHORIZED,
		               "bearer token rejected: its audience is not %s (ask the identity "
		               "endpoint for resource=%s)",
		               audience, audience);
	}
	if (!jsonx_str(c, "oid")) {
		json_object_put(c);
		return err_set(e, ERR_UNAUTHORIZED, "bearer token rejected: it has no oid claim");
	}
	*claims = c;
	return 0;
}

int aad_query_get(const char *query, const char *name, char **out)
{
	*out = NULL;
	size_t nl = strlen(name);
	for (const char *p = query ? query : ""; *p;) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		size_t kl = eq ? (size_t)(eq - p) : n;
		if (kl == nl && !strncmp(p, name, nl)) {
			if (!eq) {
				*out = xstrdup("");
				return 1;
			}
			return pct_decode(eq + 1, n - kl - 1, PCT_PLUS_SPACE | PCT_NO_NUL, out,
			                  NULL) < 0
			           ? -1
			           : 1;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}
