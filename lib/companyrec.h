/*
 * companyrec: a company's plaintext becomes encrypted records in the shared
 * record file.  A record is made from a (name, phone) pair, each field
 * encrypted with the released key's public half (crypto, the original's
 * RSA-OAEP format), stamped and tagged with the company (records), and
 * appended with records_append's conflict-safe write.
 *
 * The company's CSV (DATA_DIR/<company>-data.csv, columns name and phone) is
 * imported whole or not at all: every row is checked first with the rules of
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

struct companyrec_import {
	char *source_file; /* the CSV's file name (no directory) */
	size_t added;      /* records appended */
	int total;         /* records in the file written */
};
/* Import the company's CSV as described above. */
int companyrec_import(struct blob_store *s, EVP_PKEY *key, const char *company,
                      struct companyrec_import *r, struct err *e) MUST_CHECK;
void companyrec_import_free(struct companyrec_import *r);

#endif
