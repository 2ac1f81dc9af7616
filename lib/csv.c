#include "csv.h"

#include "codec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct row {
	char **f;
	size_t n, cap;
};

static void row_add(struct row *r, struct buf *field)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->f = xrealloc(r->f, r->cap * sizeof(*r->f));
	}
	if (!field->p)
		buf_append(field, "", 0);
	r->f[r->n++] = buf_steal(field, NULL);
}

static void row_free(struct row *r)
{
	for (size_t i = 0; i < r->n; i++)
		free_secret_str(r->f[i]);
	free(r->f);
	memset(r, 0, sizeof(*r));
}

static int fail(struct csv_table *t, struct row *r, struct buf *field)
{
	row_free(r);
	buf_free(field);
	csv_free(t);
	return -1;
}

/* Header names match ASCII case-insensitively, surrounding spaces ignored. */
static int same_name(const char *a, const char *b)
{
	while (*a == ' ')
		a++;
	while (*b == ' ')
		b++;
	size_t na = strlen(a), nb = strlen(b);
	while (na && a[na - 1] == ' ')
		na--;
	while (nb && b[nb - 1] == ' ')
		nb--;
	return na == nb && !strncasecmp(a, b, na);
}

static int add_row(struct csv_table *t, struct row *r, size_t line, struct err *e)
{
	if (!t->header) {
		for (size_t i = 0; i < r->n; i++) {
			const char *h = r->f[i];
			while (*h == ' ')
				h++;
			if (!*h)
				return err_set(e, ERR_BAD_REQUEST,
				               "line %zu: header column %zu is empty", line, i + 1);
			/* Compared as csv_col looks names up, or a second column would be
			 * unreachable. */
			for (size_t j = 0; j < i; j++)
				if (same_name(r->f[j], r->f[i]))
					return err_set(
					    e, ERR_BAD_REQUEST,
					    "line %zu: header column '%.60s' appears twice", line,
					    r->f[i]);
		}
		t->header = r->f;
		t->ncols = r->n;
		memset(r, 0, sizeof(*r));
		return 0;
	}
	if (r->n != t->ncols)
		return err_set(e, ERR_BAD_REQUEST, "line %zu: %zu fields, but the header has %zu",
		               line, r->n, t->ncols);
	t->rows = xrealloc(t->rows, (t->nrows + 1) * sizeof(*t->rows));
	t->line = xrealloc(t->line, (t->nrows + 1) * sizeof(*t->line));
	t->rows[t->nrows] = r->f;
	t->line[t->nrows] = line;
	t->nrows++;
	memset(r, 0, sizeof(*r));
	return 0;
}

int csv_parse(const char *text, size_t len, struct csv_table *out, struct err *e)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	memset(out, 0, sizeof(*out));
	struct row r = {0};
	struct buf field;
	buf_init(&field);
	size_t line = 1, rec_line = 1;
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	/* Validate encoding first, so every later error is about structure. */
	for (const unsigned char *q = p; q < end;) {
		if (*q == '\0') {
			err_set(e, ERR_BAD_REQUEST, "line %zu: NUL byte", line);
			return fail(out, &r, &field);
		}
		unsigned long cp;
		size_t n = utf8_decode(q, (size_t)(end - q), &cp);
		if (!n) {
			err_set(e, ERR_BAD_REQUEST, "line %zu: invalid UTF-8", line);
			return fail(out, &r, &field);
		}
		if (*q == '\n')
			line++;
		q += n;
	}
	line = 1;
	while (p < end) {
		rec_line = line;
		int quoted_any = 0;
		/* One record. */
		for (;;) {
			if (p < end && *p == '"') {
				quoted_any = 1;
				size_t qline = line;
				p++;
				for (;;) {
					if (p >= end) {
						err_set(e, ERR_BAD_REQUEST,
						        "line %zu: quoted field never closed",
						        qline);
						return fail(out, &r, &field);
					}
					if (*p == '"') {
						if (p + 1 < end && p[1] == '"') {
							buf_append(&field, "\"", 1);
							p += 2;
							continue;
						}
						p++;
						break;
					}
					if (*p == '\n')
						line++;
					buf_append(&field, p, 1);
					p++;
				}
			} else {
				while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
					if (*p == '"') {
						err_set(e, ERR_BAD_REQUEST,
						        "line %zu: '\"' inside an unquoted field; "
						        "quote the "
						        "field and double the '\"'",
						        line);
						return fail(out, &r, &field);
					}
					buf_append(&field, p, 1);
					p++;
				}
			}
			if (r.n >= CSV_MAX_FIELDS) {
				err_set(e, ERR_BAD_REQUEST, "line %zu: more than %d fields",
				        rec_line, CSV_MAX_FIELDS);
				return fail(out, &r, &field);
			}
			row_add(&r, &field);
			if (p >= end)
				break;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '\r') {
				if (p + 1 < end && p[1] == '\n') {
					p += 2;
					line++;
					break;
				}
				err_set(e, ERR_BAD_REQUEST, "line %zu: bare CR (use CRLF or LF)",
				        line);
				return fail(out, &r, &field);
			}
			if (*p == '\n') {
				p++;
				line++;
				break;
			}
			/* Only reachable right after a closing quote. */
			err_set(e, ERR_BAD_REQUEST, "line %zu: text after a closing quote", line);
			return fail(out, &r, &field);
		}
		if (r.n == 1 && !r.f[0][0] && !quoted_any) {
			row_free(&r);
			continue;
		}
		if (add_row(out, &r, rec_line, e) < 0)
			return fail(out, &r, &field);
	}
	buf_free(&field);
	if (!out->header)
		return err_set(e, ERR_BAD_REQUEST, "line 1: no header row");
	return 0;
}

int csv_col(const struct csv_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++) {
		if (same_name(t->header[i], name))
			return (int)i;
	}
	return -1;
}

const char *csv_get(const struct csv_table *t, size_t r, const char *name)
{
	int c = csv_col(t, name);
	if (c < 0 || r >= t->nrows)
		return NULL;
	return t->rows[r][c];
}

void csv_free(struct csv_table *t)
{
	for (size_t i = 0; i < t->nrows; i++) {
		for (size_t j = 0; j < t->ncols; j++)
			free_secret_str(t->rows[i][j]);
		free(t->rows[i]);
	}
	for (size_t j = 0; j < t->ncols; j++)
		free(t->header[j]);
	free(t->header);
	free(t->rows);
	free(t->line);
	memset(t, 0, sizeof(*t));
}
