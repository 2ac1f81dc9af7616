/*
 * records: the consolidated record file shared by the companies.
 *
 * The file is `consolidated-records-<RESOURCE_GROUP_NAME>.json` (or
 * `consolidated-records.json` when the resource group is unset): a JSON
 * array, written like Python's json.dumps(indent=2), of
 *   {"timestamp": "2026-02-07T10:11:12.345678Z", "company": "contoso",
 *    "name_encrypted": "<b64>", "phone_encrypted": "<b64>" | null}
 * so files written by the original demo and by this project are
 * interchangeable.  A file holding one object is read as a list of one, as
 * the original did.
 *
 * Invariant: an append never loses another writer's records.  It reads the
 * file with its ETag, merges, writes conditionally (If-Match, or
 * If-None-Match:* for a new file) and on a lost condition re-reads and
 * retries, a bounded number of times.  A failed or unparsable read is an
 * error and nothing is written; only "the blob does not exist" means empty.
 * Records arrive already encrypted: this module never sees plaintext.
 */
#ifndef RECORDS_H
#define RECORDS_H

#include <json-c/json.h>

#include "blob.h"

#define RECORDS_MAX_ATTEMPTS 10

/* The record blob's name for cfg.resource_group; caller frees. */
char *records_blob_name(void);

/* A timestamp like Python's utcnow().isoformat()+"Z" (microseconds omitted when 0). */
char *records_timestamp(void);

/* A new record object stamped now; phone_encrypted may be NULL (JSON null). */
struct json_object *records_new(const char *company, const char *name_encrypted,
                                const char *phone_encrypted);

/*
 * Parse file contents: a JSON array of objects, or one object (wrapped).
 * Anything else is ERR_UPSTREAM ("not a record file").  Caller owns *out.
 */
int records_parse(const char *text, size_t len, struct json_object **out, struct err *e) MUST_CHECK;

/* Serialise as Python's json.dumps(obj, indent=2) would (ASCII only); caller frees. */
char *records_serialize(struct json_object *arr);

/*
 * Read the record file.  *out gets the array (caller owns), *etag (may be
 * NULL) its ETag.  A missing file is ERR_NOT_FOUND: the caller decides
 * whether that means "no records yet".
 */
int records_read(struct blob_store *s, const char *blob, struct json_object **out, char **etag,
                 struct err *e) MUST_CHECK;

/*
 * Append the records of new_records (a JSON array of objects; borrowed, its
 * elements are shared by reference) to the file, retrying on conflicts.
 * *total_after (may be NULL) gets the record count of the version written.
 * After RECORDS_MAX_ATTEMPTS lost races: ERR_CONFLICT, nothing written.
 */
int records_append(struct blob_store *s, const char *blob, struct json_object *new_records,
                   int *total_after, struct err *e) MUST_CHECK;

#endif
