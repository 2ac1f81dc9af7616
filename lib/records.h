/*
 * records: the record store shared by the companies.
 *
 * A record is, as in the original demo,
 *   {"timestamp": "2026-02-07T10:11:12.345678Z", "company": "contoso",
 *    "name_encrypted": "<b64>", "phone_encrypted": "<b64>" | null}
 * plus added fields: "seq" (its sequence number, 1-based, = line_number in
 * /company/list) and, for imported rows, "source" ("contoso-data.csv:3").
 * Records arrive already encrypted: this module never sees plaintext.
 *
 * Layout.  For the record blob B = `consolidated-records-<rg>.json` (stem S =
 * B without ".json"), with N = RECORDS_SEGMENT_MAX:
 *
 *   S.json                the current segment, in the original's shape: a JSON
 *                         array of records, written like Python's
 *                         json.dumps(indent=2), so the original demo (and the
 *                         snooper) read it as "the" record file.  Its records
 *                         have the sequence numbers n*N+1, n*N+2, ... in file
 *                         order, where n is the segment number, read from the
 *                         first record's seq ((seq-1)/N).  Normally it holds at
 *                         most N records; one append may take it past N.
 *   S.seg-000000.json     sealed segments, same shape, never appended to:
 *   S.seg-000001.json     segment k holds the records numbered k*N+1 .. k*N+N
 *   ...                   (fewer after a clear removed some).
 *   S.removed.json        {"removed": {"<k>": count}}: how many records clears
 *                         removed from sealed segment k; written by clears only,
 *                         so that the total is O(1): n*N - removed + current.
 *
 * A file written by the original demo (no seq, any length, or one object) is
 * segment 0 of a store with no sealed segments, numbered by position; so are
 * records the original appends to the current segment later.  When the current
 * segment is empty, missing, or has no seq, n is the number of sealed segments
 * (one list call).
 *
 * Writes.  Every write of the current segment is conditional on the ETag read
 * (If-Match, or If-None-Match:* when it does not exist) and retried after a
 * lost race with decorrelated-jitter backoff, within RECORDS_BUDGET_MS; the
 * writers of one instance (STATE_DIR/records.lock) take turns, so at most one
 * writer per instance races the others.  Before any change, a writer that finds
 * more than N records seals: it writes the first N as S.seg-<n>.json with
 * If-None-Match:* (their content is fixed by the current version: every writer
 * seals before it changes anything), then writes the rest, renumbered from
 * (n+1)*N+1, with its own change, conditionally.  If the segment exists it
 * must hold exactly the bytes this writer would write (another writer or a
 * crashed one sealed the same version); otherwise the current version changed
 * (re-read) or the store holds a foreign segment (error, nothing written).  A
 * crash between the two writes leaves the current segment as it was: the next
 * writer finds the sealed copy and completes the seal, so nothing is lost or
 * duplicated.  A failed or unparsable read is an error and nothing is written;
 * only "the blob does not exist" means empty.
 *
 * Reads.  A page reads the current segment, S.removed.json, and at most
 * RECORDS_PAGE_SEGMENTS sealed ones (each at most N records, so its cost does
 * not depend on the store's size), skipping those the removed counts say a
 * clear emptied; a page may hold fewer records than asked for when it ends
 * early, and "next" (resume after that sequence number) is 0 only at the end.
 * The segments pages load stay in a small cache kept with the store (at most
 * RECORDS_PAGE_SEGMENTS + 2 of them and 4 MiB, the least recently used dropped
 * first), and a page reads each one conditionally, with the ETag its cached
 * copy was loaded at (blob_get_if_changed): a segment that has not changed is
 * neither downloaded nor split again, so when nothing was written since, a
 * page costs the same whatever the store's size and the current segment's
 * fill (S.removed.json, a few bytes or none, is read as it is).  Every write
 * (an append, a seal, a clear; by this process, another, or another instance)
 * gives the blob a new ETag, so a page never serves an older version than the
 * store holds.  The directory store gives no ETag to keep for a file modified
 * in the last few milliseconds: it is read again next time.  Writers read what
 * they change whole, without the cache.
 *
 * Clear.  Removing a company's records rewrites the current segment (renumbered,
 * conditionally) and then each sealed segment that holds its records (If-Match;
 * kept, possibly as []), then S.removed.json.  A crash midway is completed by
 * running the clear again.  After a clear emptied the current segment, new
 * records reuse the removed records' numbers.
 *
 * Strings and objects handed out are owned by the caller.
 */
#ifndef RECORDS_H
#define RECORDS_H

#include <json-c/json.h>

#include "blob.h"

#define RECORDS_SEGMENT_MAX   256
#define RECORDS_PAGE_DEFAULT  100
#define RECORDS_PAGE_MAX      500
#define RECORDS_PAGE_SEGMENTS 8
#define RECORDS_BUDGET_MS     20000

/* The record blob's name for cfg.resource_group; caller frees. */
char *records_blob_name(void);
/* Sealed segment n of blob ("<stem>.seg-000003.json"); caller frees. */
char *records_segment_name(const char *blob, long long n);
/* Another blob beside blob: "<stem>.<what>.json"; caller frees. */
char *records_aux_name(const char *blob, const char *what);

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
 * Read one record file (a segment).  *out gets the array (caller owns), *etag
 * (may be NULL) its ETag.  A missing file is ERR_NOT_FOUND: the caller decides
 * whether that means "no records yet".
 */
int records_read(struct blob_store *s, const char *blob, struct json_object **out, char **etag,
                 struct err *e) MUST_CHECK;

/*
 * Append the records of new_records (a JSON array of objects; borrowed, its
 * elements are shared by reference and get their "seq") to the store.
 * *total_after (may be NULL) gets the number of records in the store after.
 * Out of time budget after lost races: ERR_CONFLICT, nothing written.
 */
int records_append(struct blob_store *s, const char *blob, struct json_object *new_records,
                   int *total_after, struct err *e) MUST_CHECK;

/* For an idempotent import: a new record whose "source" a record of company already
 * has, at sequence number scan_from or later, is not appended again. */
struct records_dedupe {
	const char *company;
	long long scan_from;
};
struct records_appended {
	size_t added;   /* records written */
	size_t skipped; /* records already there (by source) */
	long long total;
};
/* records_append, skipping what d says is already there (d may be NULL). */
int records_append_unique(struct blob_store *s, const char *blob, struct json_object *new_records,
                          const struct records_dedupe *d, struct records_appended *out,
                          struct err *e) MUST_CHECK;

/* Where the store stands: the current segment's number, the sequence number the
 * next record gets, and the number of records. */
struct records_head {
	long long segment;
	long long next_seq;
	long long total;
	int exists; /* the current segment or a sealed one exists */
};
int records_head(struct blob_store *s, const char *blob, struct records_head *h,
                 struct err *e) MUST_CHECK;

/* Remove every record of company (names compared ignoring case), as described above; *removed and
 * *total (either may be NULL) get the records removed and the records left in the store. */
int records_clear(struct blob_store *s, const char *blob, const char *company, long long *removed,
                  long long *total, struct err *e) MUST_CHECK;

/* One page of records in store order: the records numbered after `after`. */
struct records_page {
	struct json_object *records; /* copies of the records, each with "line_number" */
	long long total;             /* records in the store */
	long long next;              /* resume after this number; 0: this page is the last */
	int exists;                  /* as in records_head */
};
/* limit must be 1..RECORDS_PAGE_MAX and after >= 0 (else ERR_BAD_REQUEST). */
int records_page(struct blob_store *s, const char *blob, long long after, long long limit,
                 struct records_page *p, struct err *e) MUST_CHECK;
void records_page_free(struct records_page *p);

/* What the page cache (Reads, above) of store s did so far: segments used again because the
 * store said they had not changed, and segments read. */
struct records_cache_stats {
	unsigned long long hits, reads;
};
void records_cache_stats(struct blob_store *s, struct records_cache_stats *out);

/* The opaque continuation cursor for "after n" (n >= 1); caller frees. */
char *records_cursor(long long n);
/* Parse a cursor from records_cursor; anything else is ERR_BAD_REQUEST. */
int records_cursor_parse(const char *cursor, long long *n, struct err *e) MUST_CHECK;

/*
 * A small JSON object kept beside the records (the removed counts, an import ledger): 0 with the
 * object (caller puts) and its ETag (caller frees), or 0 with both NULL when the blob does not
 * exist; a blob that is not a JSON object is ERR_UPSTREAM at STAGE_RECORDS and is never used.
 */
int records_read_object(struct blob_store *s, const char *name, struct json_object **out,
                        char **etag, struct err *e) MUST_CHECK;

#endif
