#include "blob.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "connstr.h"
#include "jsonx.h"

struct blob_store {
	const struct blob_ops *ops;
	void *impl;
	unsigned page_size;
	void *cache; /* blob_cache_set */
	void (*cache_free)(void *);
};

static struct blob_store *wrap(const struct blob_ops *ops, void *impl)
{
	struct blob_store *s = xcalloc(1, sizeof(*s));
	s->ops = ops;
	s->impl = impl;
	return s;
}

int blob_open_dir(struct blob_store **out, const char *dir, struct err *e)
{
	const struct blob_ops *ops;
	void *impl;
	*out = NULL;
	if (blob_dir_new(dir, &ops, &impl, e) < 0)
		return -1;
	*out = wrap(ops, impl);
	return 0;
}

static int open_connstr(struct blob_store **out, const struct connstr *cs, const char *container,
                        struct err *e)
{
	const struct blob_ops *ops;
	void *impl;
	*out = NULL;
	if (blob_azure_new_conn(cs, container, &ops, &impl, e) < 0)
		return -1;
	*out = wrap(ops, impl);
	return 0;
}

int blob_open_conn(struct blob_store **out, const char *conn, const char *container, struct err *e)
{
	struct connstr cs;
	*out = NULL;
	if (connstr_parse(conn, &cs, e) < 0)
		return -1;
	int rc = open_connstr(out, &cs, container, e);
	connstr_free(&cs);
	return rc;
}

int blob_open_account_url(struct blob_store **out, const char *url, struct err *e)
{
	const struct blob_ops *ops;
	void *impl;
	*out = NULL;
	if (blob_azure_new_url(url, &ops, &impl, e) < 0)
		return -1;
	*out = wrap(ops, impl);
	return 0;
}

static int open_from_cfg(struct blob_store **out, struct err *e)
{
	*out = NULL;
	if (cfg.blob_kind == BLOB_KIND_AZURE) {
		if (cfg.storage.endpoint)
			return open_connstr(out, &cfg.storage, cfg.storage_container, e);
		if (*cfg.storage_account_url)
			return blob_open_account_url(out, cfg.storage_account_url, e);
		return err_set(
		    e, ERR_CONFIG,
		    "BLOB_BACKEND=azure but neither AZURE_STORAGE_CONNECTION_STRING nor "
		    "AZURE_STORAGE_ACCOUNT_URL is set: set one, or use BLOB_BACKEND=dir");
	}
	if (*cfg.blob_dir)
		return blob_open_dir(out, cfg.blob_dir, e);
	if (!*cfg.state_dir)
		return err_set(e, ERR_CONFIG, "BLOB_DIR and STATE_DIR are empty: set BLOB_DIR");
	char *dir = xasprintf("%s/blobs", cfg.state_dir);
	int rc = blob_open_dir(out, dir, e);
	free(dir);
	return rc;
}

int blob_open(struct blob_store **out, struct err *e)
{
	if (open_from_cfg(out, e) < 0) {
		/* A connection string or URL that does not parse is this server's configuration. */
		if (e->code == ERR_BAD_REQUEST)
			e->code = ERR_CONFIG;
		return err_in(e, e->code == ERR_CONFIG ? STAGE_CONFIG : STAGE_STORE);
	}
	/* For a fresh emulator (make run with Azurite): create the container on first use. */
	if (cfg.blob_create_container && blob_ensure_container(*out, e) < 0) {
		blob_close(*out);
		*out = NULL;
		return err_in(e, STAGE_STORE);
	}
	return 0;
}

struct blob_store *blob_default(struct err *e)
{
	static struct blob_store *s;
	if (!s && blob_open(&s, e) < 0)
		return NULL;
	return s;
}

void blob_close(struct blob_store *s)
{
	if (!s)
		return;
	blob_cache_set(s, NULL, NULL);
	s->ops->close(s->impl);
	free(s);
}

static int name_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '/';
}

int blob_name_check(const char *name, struct err *e)
{
	if (!name || !*name)
		return err_set(e, ERR_BAD_REQUEST, "blob name is empty");
	size_t n = strnlen(name, BLOB_NAME_MAX + 1);
	if (n > BLOB_NAME_MAX)
		return err_set(e, ERR_BAD_REQUEST, "blob name is longer than %d bytes",
		               BLOB_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '\\')
			return err_set(e, ERR_BAD_REQUEST, "blob name may not contain '\\'");
		if (c < 0x20 || c == 0x7f)
			return err_set(e, ERR_BAD_REQUEST,
			               "blob name may not contain control characters");
		if (c == '%')
			return err_set(e, ERR_BAD_REQUEST, "blob name may not contain '%%'");
		if (!name_char_ok(c))
			return err_set(e, ERR_BAD_REQUEST,
			               "blob name may contain only letters, digits, '.', '_', '-' "
			               "and '/'");
	}
	if (name[0] == '/')
		return err_set(e, ERR_BAD_REQUEST, "blob name may not start with '/'");
	if (name[n - 1] == '/')
		return err_set(e, ERR_BAD_REQUEST, "blob name may not end with '/'");
	if (strstr(name, ".."))
		return err_set(e, ERR_BAD_REQUEST, "blob name may not contain '..'");
	if (strstr(name, "//"))
		return err_set(e, ERR_BAD_REQUEST, "blob name may not contain an empty segment");
	/* A "." segment would alias another name on a file system and on some proxies. */
	for (const char *seg = name; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (seg[0] == '.' && (seg[1] == '/' || seg[1] == '\0'))
			return err_set(e, ERR_BAD_REQUEST,
			               "blob name may not contain a '.' segment");
	return 0;
}

static int etag_ok(const char *etag)
{
	size_t n = strlen(etag);
	if (!n || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)etag[i] < 0x21 || (unsigned char)etag[i] > 0x7e)
			return 0;
	return 1;
}

int blob_get(struct blob_store *s, const char *name, struct buf *body, char **etag,
             char **content_type, struct err *e)
{
	if (etag)
		*etag = NULL;
	if (content_type)
		*content_type = NULL;
	if (blob_name_check(name, e) < 0)
		return err_in(e, STAGE_REQUEST);
	if (s->ops->get(s->impl, name, body, etag, content_type, e) < 0)
		return err_in(e, STAGE_STORE);
	return 0;
}

int blob_get_if_changed(struct blob_store *s, const char *name, const char *known_etag,
                        struct buf *body, char **etag, char **content_type, struct err *e)
{
	if (etag)
		*etag = NULL;
	if (content_type)
		*content_type = NULL;
	if (blob_name_check(name, e) < 0)
		return err_in(e, STAGE_REQUEST);
	/* It goes into a request header: an ETag no store gives is never sent, only forgotten. */
	if (known_etag && !etag_ok(known_etag))
		known_etag = NULL;
	int rc = s->ops->get_if_changed(s->impl, name, known_etag, body, etag, content_type, e);
	return rc < 0 ? err_in(e, STAGE_STORE) : rc;
}

int blob_put(struct blob_store *s, const char *name, const void *data, size_t len,
             const char *content_type, const char *if_match, int if_none_match_star,
             char **new_etag, struct err *e)
{
	if (new_etag)
		*new_etag = NULL;
	if (blob_name_check(name, e) < 0)
		return -1;
	if (if_match && if_none_match_star)
		return err_set(e, ERR_INTERNAL, "blob_put: If-Match and If-None-Match together");
	/* Both go into request headers: nothing that could split one. */
	if (if_match && !etag_ok(if_match))
		return err_set(e, ERR_BAD_REQUEST, "malformed ETag for If-Match");
	if (!content_type)
		content_type = "application/octet-stream";
	for (const char *p = content_type; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return err_set(e, ERR_BAD_REQUEST, "malformed content type");
	if (strlen(content_type) > 128)
		return err_set(e, ERR_BAD_REQUEST, "content type longer than 128 bytes");
	if (s->ops->put(s->impl, name, data, len, content_type, if_match, if_none_match_star,
	                new_etag, e) < 0)
		return err_in(e, STAGE_STORE);
	return 0;
}

static const char *name_of(struct json_object *o)
{
	const char *n = jsonx_str(o, "name");
	return n ? n : "";
}

static int by_name(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a;
	struct json_object *y = *(struct json_object *const *)b;
	const char *nx = name_of(x), *ny = name_of(y);
	return strcmp(nx, ny);
}

int blob_list(struct blob_store *s, const char *prefix, struct json_object **out, struct err *e)
{
	*out = NULL;
	if (!prefix)
		prefix = "";
	if (*prefix && strnlen(prefix, BLOB_NAME_MAX + 1) > BLOB_NAME_MAX)
		return err_set(e, ERR_BAD_REQUEST, "prefix longer than %d bytes", BLOB_NAME_MAX);
	for (const char *p = prefix; *p; p++)
		if (!name_char_ok((unsigned char)*p))
			return err_set(
			    e, ERR_BAD_REQUEST,
			    "prefix may contain only letters, digits, '.', '_', '-' and '/'");
	struct json_object *arr = json_object_new_array();
	if (s->ops->list(s->impl, prefix, s->page_size, arr, e) < 0) {
		json_object_put(arr);
		return err_in(e, STAGE_STORE);
	}
	json_object_array_sort(arr, by_name);
	*out = arr;
	return 0;
}

int blob_ensure_container(struct blob_store *s, struct err *e)
{
	return s->ops->ensure_container(s->impl, e) < 0 ? err_in(e, STAGE_STORE) : 0;
}

struct json_object *blob_describe(struct blob_store *s)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "backend", config_blob_kind_name(s->ops->kind));
	s->ops->describe(s->impl, o);
	return o;
}

char *blob_public_url(struct blob_store *s, const char *name)
{
	return s->ops->public_url(s->impl, name);
}

void blob_set_page_size(struct blob_store *s, unsigned n)
{
	s->page_size = n;
}

void *blob_cache(struct blob_store *s)
{
	return s->cache;
}

void blob_cache_set(struct blob_store *s, void *cache, void (*free_fn)(void *))
{
	if (s->cache && s->cache_free)
		s->cache_free(s->cache);
	s->cache = cache;
	s->cache_free = free_fn;
}
