/*
 * blob_xml: List Blobs pages and error bodies through libexpat (see blob_xml.h).
 *
 * One pass with SAX callbacks.  The parser keeps a stack of what each open
 * element is to us (a role); an element's role comes from its name and its
 * parent's role only, so the same name elsewhere in the tree means nothing.
 * A callback that refuses the input records why, stops the parser and every
 * later callback returns at once; the entries read so far are kept apart
 * and handed out only when the whole document parsed.
 */
#include "blob_xml.h"

#include <expat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jsonx.h"

enum doc { DOC_LIST, DOC_ERROR };

enum role {
	R_SKIP,  /* read nothing in it */
	R_ROOT,  /* EnumerationResults or Error */
	R_BLOBS, /* EnumerationResults/Blobs */
	R_BLOB,  /* .../Blobs/Blob */
	R_PROPS, /* .../Blob/Properties */
	R_TEXT,  /* an element whose text is read into px.f[px.cur] */
};

/* The texts read.  F_NAME..F_ETAG belong to the current <Blob> and are reset after it. */
enum field { F_NAME, F_SIZE, F_CTYPE, F_LMOD, F_ETAG, F_NEXT, F_CODE, F_MSG, F_N };
static const char *const field_tag[F_N] = {
    "Name", "Content-Length", "Content-Type", "Last-Modified",
    "Etag", "NextMarker",     "Code",         "Message",
};

struct px {
	XML_Parser p;
	enum doc doc;
	enum role stack[BLOB_XML_MAX_DEPTH];
	int depth;
	enum field cur;
	struct buf text;  /* text of the R_TEXT element open now */
	char *f[F_N];     /* NULL: element not seen; "" when it was empty */
	int name_encoded; /* the current <Name> has Encoded="true" */
	struct json_object *entries;
	unsigned nentries;
	int failed;
	char why[320];
	unsigned long long line, col;
};

static void PRINTF_LIKE(2, 3) refuse(struct px *x, const char *fmt, ...)
{
	if (x->failed)
		return;
	x->failed = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	x->line = (unsigned long long)XML_GetCurrentLineNumber(x->p);
	x->col = (unsigned long long)XML_GetCurrentColumnNumber(x->p) + 1;
	XML_StopParser(x->p, XML_FALSE);
}

static void clear_blob_fields(struct px *x)
{
	for (int i = F_NAME; i <= F_ETAG; i++) {
		free(x->f[i]);
		x->f[i] = NULL;
	}
	x->name_encoded = 0;
}

/* Content-Length: decimal digits only, no sign, no space, within long long. */
static int parse_size(const char *s, long long *out)
{
	long long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		int d = *s - '0';
		if (v > (LLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* </Blob>: check the entry and keep it. */
static void finish_blob(struct px *x)
{
	char *name = x->f[F_NAME];
	if (!name || !*name) {
		refuse(x, "a <Blob> has %s <Name>", name ? "an empty" : "no");
		return;
	}
	if (x->name_encoded) {
		char *dec = NULL;
		if (pct_decode(name, strlen(name), PCT_NO_NUL, &dec, NULL) < 0 || !*dec ||
		    utf8_invalid_at(dec, strlen(dec)) != strlen(dec)) {
			free(dec);
			refuse(x, "a <Name Encoded=\"true\"> is not percent-encoded UTF-8");
			return;
		}
		free(name);
		name = x->f[F_NAME] = dec;
	}
	long long size;
	if (!x->f[F_SIZE] || parse_size(x->f[F_SIZE], &size) < 0) {
		char *shown = err_printable(name, 80);
		refuse(x, "blob '%s' has %s <Content-Length>", shown,
		       x->f[F_SIZE] ? "a non-numeric" : "no");
		free(shown);
		return;
	}
	const char *ct = x->f[F_CTYPE];
	const char *et = x->f[F_ETAG];
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "name", name);
	jsonx_add_int(o, "size", size);
	jsonx_add_str(o, "content_type", ct && *ct ? ct : "application/octet-stream");
	jsonx_add_str(o, "last_modified", x->f[F_LMOD]);
	if (et && *et && et[0] != '"') {
		char *q = xasprintf("\"%s\"", et);
		jsonx_add_str(o, "etag", q);
		free(q);
	} else {
		jsonx_add_str(o, "etag", et && *et ? et : NULL);
	}
	json_object_array_add(x->entries, o);
	x->nentries++;
	clear_blob_fields(x);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct px *x = ud;
	if (x->failed)
		return;
	if (x->depth == BLOB_XML_MAX_DEPTH) {
		refuse(x, "elements nested deeper than %d levels", BLOB_XML_MAX_DEPTH);
		return;
	}
	enum role r = R_SKIP;
	int fld = -1;
	if (x->depth == 0) {
		const char *want = x->doc == DOC_LIST ? "EnumerationResults" : "Error";
		if (strcmp(name, want)) {
			refuse(x, "the document is <%.64s>, not <%s>", name, want);
			return;
		}
		r = R_ROOT;
	} else {
		switch (x->stack[x->depth - 1]) {
		case R_TEXT:
			refuse(x, "element <%.64s> inside <%s>", name, field_tag[x->cur]);
			return;
		case R_ROOT:
			if (x->doc == DOC_LIST && !strcmp(name, "Blobs"))
				r = R_BLOBS;
			else if (x->doc == DOC_LIST && !strcmp(name, "NextMarker"))
				fld = F_NEXT;
			else if (x->doc == DOC_ERROR && !strcmp(name, "Code"))
				fld = F_CODE;
			else if (x->doc == DOC_ERROR && !strcmp(name, "Message"))
				fld = F_MSG;
			break;
		case R_BLOBS:
			if (!strcmp(name, "Blob")) {
				if (x->nentries == BLOB_XML_MAX_ENTRIES) {
					refuse(x, "more than %u <Blob> entries in one page",
					       BLOB_XML_MAX_ENTRIES);
					return;
				}
				r = R_BLOB;
			}
			break;
		case R_BLOB:
			if (!strcmp(name, "Name"))
				fld = F_NAME;
			else if (!strcmp(name, "Properties"))
				r = R_PROPS;
			break;
		case R_PROPS:
			for (int i = F_SIZE; i <= F_ETAG; i++)
				if (!strcmp(name, field_tag[i]))
					fld = i;
			break;
		case R_SKIP:
			break;
		}
	}
	if (fld >= 0) {
		if (x->f[fld]) {
			refuse(x, "two <%s> elements in %s", field_tag[fld],
			       fld <= F_ETAG ? "one <Blob>" : "the document");
			return;
		}
		if (fld == F_NAME) {
			for (const XML_Char **a = attrs; a[0]; a += 2) {
				if (strcmp(a[0], "Encoded"))
					continue;
				if (strcmp(a[1], "true") && strcmp(a[1], "false")) {
					refuse(x,
					       "<Name Encoded> is neither \"true\" nor \"false\"");
					return;
				}
				x->name_encoded = !strcmp(a[1], "true");
			}
		}
		r = R_TEXT;
		x->cur = (enum field)fld;
		buf_free(&x->text);
	}
	x->stack[x->depth++] = r;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct px *x = ud;
	(void)name; /* expat has matched it to its start tag */
	if (x->failed || x->depth == 0)
		return;
	enum role r = x->stack[--x->depth];
	if (r == R_TEXT) {
		x->f[x->cur] = x->text.len ? buf_steal(&x->text, NULL) : xstrdup("");
	} else if (r == R_BLOB) {
		finish_blob(x);
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct px *x = ud;
	if (x->failed || x->depth == 0 || x->stack[x->depth - 1] != R_TEXT || len <= 0)
		return;
	if ((size_t)len > BLOB_XML_MAX_TEXT - x->text.len) {
		refuse(x, "the text of <%s> is longer than %u bytes", field_tag[x->cur],
		       BLOB_XML_MAX_TEXT);
		return;
	}
	buf_append(&x->text, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	refuse(ud, "a DOCTYPE is not accepted (no entity declarations)");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	refuse(ud, "an entity declaration is not accepted");
}

static void XMLCALL on_skipped_entity(void *ud, const XML_Char *name, int is_param)
{
	(void)is_param;
	refuse(ud, "reference to the undeclared entity '%.64s'", name);
}

static void px_init(struct px *x, enum doc doc)
{
	memset(x, 0, sizeof(*x));
	x->doc = doc;
	buf_init(&x->text);
	x->entries = json_object_new_array();
}

static void px_free(struct px *x)
{
	buf_free(&x->text);
	for (int i = 0; i < F_N; i++)
		free(x->f[i]);
	json_object_put(x->entries);
}

static const XML_Memory_Handling_Suite xmem = {xmalloc, xrealloc, free};

static int run(struct px *x, const char *xml, size_t len, struct err *e)
{
	const char *what =
	    x->doc == DOC_LIST ? "blob storage list answer" : "blob storage error answer";
	if (len > BLOB_XML_MAX_DOC)
		return err_set(e, ERR_UPSTREAM, "%s is longer than %u bytes", what,
		               BLOB_XML_MAX_DOC);
	/* Expat would follow a UTF-16 byte order mark over the encoding given to it. */
	if (len >= 2 && (((unsigned char)xml[0] == 0xff && (unsigned char)xml[1] == 0xfe) ||
	                 ((unsigned char)xml[0] == 0xfe && (unsigned char)xml[1] == 0xff)))
		return err_set(e, ERR_UPSTREAM, "%s is UTF-16; only UTF-8 is accepted", what);
	/* The encoding is fixed: a document declaring another one is read as UTF-8 all the same. */
	XML_Parser p = XML_ParserCreate_MM("UTF-8", &xmem, NULL);
	if (!p)
		return err_set(e, ERR_INTERNAL, "cannot create an XML parser");
	x->p = p;
	XML_SetUserData(p, x);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	XML_SetEntityDeclHandler(p, on_entity_decl);
	XML_SetSkippedEntityHandler(p, on_skipped_entity);
	if (XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER) != 1) {
		XML_ParserFree(p);
		return err_set(e, ERR_INTERNAL, "cannot turn off XML parameter entities");
	}
	enum XML_Status st = XML_Parse(p, xml, (int)len, XML_TRUE);
	int rc = 0;
	if (x->failed)
		rc = err_set(e, ERR_UPSTREAM, "%s refused: %s (line %llu, column %llu)", what,
		             x->why, x->line, x->col);
	else if (st != XML_STATUS_OK)
		rc = err_set(e, ERR_UPSTREAM,
		             "%s is not well-formed XML: %s (line %llu, column %llu)", what,
		             XML_ErrorString(XML_GetErrorCode(p)),
		             (unsigned long long)XML_GetCurrentLineNumber(p),
		             (unsigned long long)XML_GetCurrentColumnNumber(p) + 1);
	XML_ParserFree(p);
	x->p = NULL;
	return rc;
}

static char *take_nonempty(char **f)
{
	char *s = *f;
	*f = NULL;
	if (s && !*s) {
		free(s);
		s = NULL;
	}
	return s;
}

int blob_xml_parse_list(const char *xml, size_t len, struct json_object *append_to,
                        char **next_marker, struct err *e)
{
	*next_marker = NULL;
	struct px x;
	px_init(&x, DOC_LIST);
	int rc = run(&x, xml, len, e);
	if (rc == 0) {
		for (size_t i = 0; i < x.nentries; i++)
			json_object_array_add(
			    append_to, json_object_get(json_object_array_get_idx(x.entries, i)));
		*next_marker = take_nonempty(&x.f[F_NEXT]);
	}
	px_free(&x);
	return rc;
}

int blob_xml_parse_error(const char *xml, size_t len, char **code, char **message, struct err *e)
{
	*code = NULL;
	*message = NULL;
	struct px x;
	px_init(&x, DOC_ERROR);
	int rc = run(&x, xml, len, e);
	if (rc == 0) {
		*code = take_nonempty(&x.f[F_CODE]);
		*message = take_nonempty(&x.f[F_MSG]);
	}
	px_free(&x);
	return rc;
}
