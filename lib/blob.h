/*
 * blob: one blob-store interface, two implementations.
 *
 *   azure  Azure Blob Storage REST (and Azurite): SAS or SharedKey from
 *          AZURE_STORAGE_CONNECTION_STRING, or a managed-identity bearer
 *          token when only AZURE_STORAGE_ACCOUNT_URL is set.
 *   dir    a local directory (BLOB_DIR): atomic writes, the same ETag
 *          semantics, safe under concurrent processes (flock).
 *
 * Invariants shared by both:
 *  - every blob name is checked by blob_name_check() before any I/O, so no
 *    name can leave the container (no "..", no leading '/', no '%', ...);
 *  - every successful get and put yields a strong ETag that changes on every
 *    write, even when the bytes written are identical;
 *  - a conditional put that loses (If-Match mismatch, If-None-Match:* on an
 *    existing blob) fails with ERR_PRECONDITION and writes nothing;
 *  - a store that cannot be reached fails with ERR_UNAVAILABLE (HTTP 503);
 *    a missing blob fails with ERR_NOT_FOUND; nothing else is reported as
 *    "not found", so a caller may treat ERR_NOT_FOUND as "empty";
 *  - no secret (SAS signature, account key, bearer token) ever appears in an
 *    error message, a log line or blob_describe().
 *
 * Strings handed out (*etag, *content_type) are owned by the caller (free).
 * A struct blob_store is used by one thread at a time.
 */
#ifndef BLOB_H
#define BLOB_H

#include <json-c/json.h>

#include "config.h"
#include "err.h"

#define BLOB_NAME_MAX 256

struct blob_store;

/*
 * Open the store the configuration names (cfg, after config_init/load):
 * BLOB_BACKEND=dir uses BLOB_DIR (default STATE_DIR/blobs); =azure uses
 * AZURE_STORAGE_CONNECTION_STRING, else AZURE_STORAGE_ACCOUNT_URL with a
 * managed identity; the container is STORAGE_CONTAINER (default
 * "privateappdata") unless the account URL names one.  No network I/O,
 * except with BLOB_CREATE_CONTAINER=1, which creates a missing container
 * (for a fresh emulator).
 */
int blob_open(struct blob_store **out, struct err *e) MUST_CHECK;
/*
 * The process's store, opened by the first call with blob_open() and kept
 * for the life of the process (FastCGI programs keep it, and a managed-
 * identity token, across requests).  NULL with e set if it cannot be opened;
 * a later call tries again.  Never close it.
 */
struct blob_store *blob_default(struct err *e);
/* A directory store rooted at dir (created if missing). */
int blob_open_dir(struct blob_store **out, const char *dir, struct err *e) MUST_CHECK;
/* An Azure store from a connection string and a container name. */
int blob_open_conn(struct blob_store **out, const char *conn, const char *container,
                   struct err *e) MUST_CHECK;
/* An Azure store at "https://acct.blob.core.windows.net/container" with managed identity. */
int blob_open_account_url(struct blob_store **out, const char *url, struct err *e) MUST_CHECK;
/* Wipe credentials and free; NULL is fine. */
void blob_close(struct blob_store *s);

/* 0 if name is an acceptable blob name, else -1 with ERR_BAD_REQUEST saying why. */
int blob_name_check(const char *name, struct err *e) MUST_CHECK;

/*
 * Read a whole blob into body (appended; caller frees with buf_free).
 * etag and content_type may be NULL; when set they receive new strings.
 * Missing blob: ERR_NOT_FOUND.
 */
int blob_get(struct blob_store *s, const char *name, struct buf *body, char **etag,
             char **content_type, struct err *e) MUST_CHECK;

/*
 * A conditional read, for a cache: 1 when the blob is still the version whose ETag is
 * known_etag (If-None-Match; nothing is downloaded, body is untouched and *etag and
 * *content_type are NULL), else 0 with body, *etag and *content_type as blob_get gives them.
 * known_etag NULL, or not one an earlier call gave: always 0.  The *etag of a 0 is what to
 * pass next time; it is NULL when the store could not tell a later change from this version by
 * its ETag (the directory store, for a file that was modified in the last few milliseconds,
 * behind its back or not: see blob_dir.c), so such a version is read again next time.
 * Missing blob: ERR_NOT_FOUND.
 */
int blob_get_if_changed(struct blob_store *s, const char *name, const char *known_etag,
                        struct buf *body, char **etag, char **content_type,
                        struct err *e) MUST_CHECK;

/*
 * Write a whole blob.  if_match: write only if the blob's ETag is this one
 * (NULL: no condition); if_none_match_star: write only if the blob does not
 * exist.  On a lost condition ERR_PRECONDITION and nothing is written.
 * new_etag may be NULL; content_type NULL means application/octet-stream.
 */
int blob_put(struct blob_store *s, const char *name, const void *data, size_t len,
             const char *content_type, const char *if_match, int if_none_match_star,
             char **new_etag, struct err *e) MUST_CHECK;

/*
 * List blobs whose name starts with prefix (NULL or "" for all), following
 * the service's paging to the end.  *out is a new JSON array of
 * {name, size, content_type, last_modified (RFC 1123), etag}.
 */
int blob_list(struct blob_store *s, const char *prefix, struct json_object **out,
              struct err *e) MUST_CHECK;

/* Create the container (Azure) or directory if it does not exist yet. */
int blob_ensure_container(struct blob_store *s, struct err *e) MUST_CHECK;

/*
 * Public facts for /storage/config, never a secret: backend, storage_account,
 * container_name, blob_endpoint, container_url, auth_method ("SAS Token",
 * "Shared Key", "Managed Identity", "Local directory"), authenticated, and
 * sas_expiry (null, or {expiry_date, expiry_formatted, days_remaining,
 * is_expired, is_expiring_soon}, or {error}).  Caller owns the object.
 */
struct json_object *blob_describe(struct blob_store *s);
/*
 * URL of one blob without any credential; caller frees.  Azure:
 * <account URL>/<container>/<name>; dir: /storage/download/<name>, the path
 * at which each instance serves it (relative to the instance).
 */
char *blob_public_url(struct blob_store *s, const char *name);

/* Ask list calls for at most n entries per page (0 = service default); for tests. */
void blob_set_page_size(struct blob_store *s, unsigned n);

/*
 * One cache kept per store by the layer above (records.c keeps its page's segments here), so
 * that it lives as long as the store and two threads with two stores share nothing.  NULL
 * until set; the store owns what is set and frees it with free_fn in blob_close (or when it is
 * set again).
 */
void *blob_cache(struct blob_store *s);
void blob_cache_set(struct blob_store *s, void *cache, void (*free_fn)(void *));

/*
 * Between blob.c and its backends only.  Names reaching these are already
 * checked; impl is the backend's own state.
 */
struct blob_ops {
	enum blob_kind kind;
	int (*get)(void *impl, const char *name, struct buf *body, char **etag, char **ctype,
	           struct err *e);
	/* blob_get_if_changed; known is NULL or a well-formed ETag. */
	int (*get_if_changed)(void *impl, const char *name, const char *known, struct buf *body,
	                      char **etag, char **ctype, struct err *e);
	int (*put)(void *impl, const char *name, const void *data, size_t len, const char *ctype,
	           const char *if_match, int if_none_match_star, char **new_etag, struct err *e);
	int (*list)(void *impl, const char *prefix, unsigned page_size, struct json_object *arr,
	            struct err *e);
	int (*ensure_container)(void *impl, struct err *e);
	void (*describe)(void *impl, struct json_object *o);
	char *(*public_url)(void *impl, const char *name);
	void (*close)(void *impl);
};
int blob_dir_new(const char *dir, const struct blob_ops **ops, void **impl,
                 struct err *e) MUST_CHECK;
struct connstr;
int blob_azure_new_conn(const struct connstr *conn, const char *container,
                        const struct blob_ops **ops, void **impl, struct err *e) MUST_CHECK;
int blob_azure_new_url(const char *url, const struct blob_ops **ops, void **impl,
                       struct err *e) MUST_CHECK;

#endif
