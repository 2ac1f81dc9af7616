/*
 * csv: RFC 4180 text with a header row, as the companies' data files are.
 *
 * Accepted: fields separated by ','; a field may be quoted with '"' and then
 * hold commas, CR/LF and doubled quotes ("" for one '"'); records end with
 * CRLF or LF; the last record may lack a line end; a UTF-8 byte-order mark
 * is skipped; empty lines are not records.  Everything else is rejected,
 * never repaired: invalid UTF-8, a NUL byte, a bare CR, a quote inside an
 * unquoted field, text after a closing quote, an unterminated quote, a
 * record whose field count differs from the header's, an empty or repeated
 * header name.  The error message names the (1-based) line where it is.
 *
 * A csv_table owns all its strings; csv_free releases them (and wipes them,
 * as the cells may be plaintext personal data).
 */
#ifndef CSV_H
#define CSV_H

#include "err.h"

#define CSV_MAX_FIELDS 256

struct csv_table {
	size_t ncols;
	char **header; /* ncols names */
	size_t nrows;
	char ***rows; /* rows[i][j], j < ncols */
	size_t *line; /* line[i]: the line on which row i starts */
};

/* Parse len bytes of text.  On failure *out is empty and e says what and where. */
int csv_parse(const char *text, size_t len, struct csv_table *out, struct err *e) MUST_CHECK;
/* Column index of a header name (ASCII case-insensitive, surrounding spaces ignored), or -1. */
int csv_col(const struct csv_table *t, const char *name);
/* The cell of row r in the named column, or NULL if there is no such column or row. */
const char *csv_get(const struct csv_table *t, size_t r, const char *name);
void csv_free(struct csv_table *t);

#endif
