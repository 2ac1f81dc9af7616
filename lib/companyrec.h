/*
 * companyrec: a company's plaintext becomes encrypted records in the shared
 * record file.  A record is made from a (name, phone) pair, each field
 * encrypted with the released key's public half (crypto, the original's
 * RSA-OAEP format), stamped and tagged with the company (records), and
 * appended with records_append's conflict-safe write.
 *
 * The company's CSV (DATA_DIR/<company>-data.csv, columns name and phone) is
 * imported only if every row passes: every row is checked first with the rules of
 * a saved form (UTF-8 text without control characters, at most
 * COMPANYREC_FIELD_MAX bytes, not both empty) and a bad row is reported with
 * its line (ERR_UNPROCESSABLE at STAGE_DATA).  Plaintext lives only in this
 * process until it is encrypted, and is wiped before its memory is freed.
 */
#ifndef COMPANYREC_H
#define COMPANYREC_H

#include <openssl/evp.h>

#include "blob.h"
#include "err.h"
#include "records.h"

#define COMPANYREC_FIELD_MAX     256
#define COMPANYREC_CSV_MAX_BYTES (1u << 20)
#define COMPANYREC_CSV_MAX_ROWS  10000

/* The configured company (lowercase), or ERR_CONFIG saying how to configure one. */
int companyrec_company(const char **company, struct err *e) MUST_CHECK;
/* DATA_DIR/<company>-data.csv (caller frees). */
char *companyrec_csv_path(const char *company);

/* Append one record for (name, phone); empty fields are stored as null, both empty is
 * ERR_BAD_REQUEST.  *total is the record count of the file written. */
int companyrec_save(struct blob_store *s, EVP_PKEY *key, const char *company, const char *name,
                    const char *phone, int *total, struct err *e) MUST_CHECK;

/*
 * Import.  Every imported record carries "source": "<csv file name>:<line>",
 * never anything derived from its plaintext.  A per-company ledger beside the
 * record blob (records_aux_name "import-<company>": the CSV lines that are in
 * the store, and pending imports) makes importing the same CSV again add
 * nothing, without reading the store:
 *   1. the rows whose lines the ledger does not list are planned, and a pending
 *      entry {id, file, lines, from_seq} is added to the ledger (conditional
 *      write); from_seq is the first number of the current segment, so this
 *      import's records cannot precede it;
 *   2. the records are appended, skipping any whose source a record of this
 *      company already has at from_seq or later (the smallest from_seq of the
 *      file's pending entries): only the records written since an unfinished
 *      import are read;
 *   3. the lines are marked done and the pending entries seen in step 1 removed
 *      (conditional write).
 * A crash before step 2 lands leaves a pending entry and no records: the next
 * import writes them.  A crash after it leaves the records and a pending entry:
 * the next import finds them (scanning from from_seq) and writes nothing.  So a
 * crash loses no row and duplicates none.  At most COMPANYREC_IMPORT_MAX rows
 * are imported per call (import_complete says whether all are in).
 */
#define COMPANYREC_IMPORT_MAX 1000

struct companyrec_import {
	char *source_file; /* the CSV's file name (no directory) */
	size_t rows;       /* rows in the CSV */
	size_t added;      /* records appended now */
	size_t already;    /* rows that were in the store before */
	int complete;      /* every row of the CSV is in the store */
	long long total;   /* records in the store after */
};
/* Import the company's CSV as described above. */
int companyrec_import(struct blob_store *s, EVP_PKEY *key, const char *company,
                      struct companyrec_import *r, struct err *e) MUST_CHECK;
void companyrec_import_free(struct companyrec_import *r);

/* Remove the company's records from the store (records_clear) and reset its import
 * ledger.  *removed and *total (may be NULL): records removed and left. */
int companyrec_clear(struct blob_store *s, const char *company, long long *removed,
                     long long *total, struct err *e) MUST_CHECK;

/* A page of /company/list: records numbered after `after`, at most limit; with
 * decrypt_own, the company's rows decrypted with the released key. */
struct companyrec_query {
	long long after;
	long long limit;
	int decrypt_own;
};
/*
 * One page (records_page) plus, in *own, how many of its rows are the company's
 * (company names compared ignoring case, as the original page does).  With
 * decrypt_own every row gets "decrypted": true with "name" and "phone" (null
 * when stored as null), or false with "reason": "not_ours" (another company's),
 * "no_key" (no key released yet) or "not_decryptable" (not written with the key
 * this instance holds).  Plaintext is only ever in the page the caller sends.
 */
int companyrec_list(struct blob_store *s, const char *company, const struct companyrec_query *q,
                    struct records_page *p, long long *own, struct err *e) MUST_CHECK;

#endif
