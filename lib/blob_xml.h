/*
 * blob_xml: the two XML documents the Azure Blob REST API answers with that
 * blob_azure.c reads (PROTOCOLS.md §6), parsed with libexpat.  Pure: no I/O,
 * no global state, safe on any bytes.
 *
 *   List Blobs  <EnumerationResults><Blobs><Blob><Name/><Properties>
 *               <Content-Length/><Content-Type/><Last-Modified/><Etag/>
 *               </Properties></Blob>...</Blobs><NextMarker/></EnumerationResults>
 *   an error    <Error><Code/><Message/></Error>
 *
 * Elements are matched by their place in the tree, not by name alone, so a
 * metadata key called "Name" or a BlobPrefix is never taken for a blob.
 * Other elements and attributes are skipped.
 *
 * Refused, as ERR_UPSTREAM with a message naming the reason (and the line and
 * column): malformed XML; any DOCTYPE, hence any entity declaration (no
 * entity expansion, no billion laughs); a reference to an entity other than
 * the five XML predefines (&amp; &lt; &gt; &quot; &apos;) or a character
 * reference; input that is not UTF-8; an element inside one whose text is
 * read; the same text element twice where it is read; text longer than
 * BLOB_XML_MAX_TEXT; nesting deeper than BLOB_XML_MAX_DEPTH; a document
 * longer than BLOB_XML_MAX_DOC.  Nothing is guessed: a failed parse hands out
 * nothing.
 */
#ifndef BLOB_XML_H
#define BLOB_XML_H

#include <json-c/json.h>
#include <stddef.h>

#include "err.h"

/* Longest element text read, in bytes: a blob name is at most 1,024 characters,
 * and percent-encoded (Encoded="true") up to 12 bytes each. */
#define BLOB_XML_MAX_TEXT (16u << 10)
/* Azure returns at most 5,000 entries per List Blobs page. */
#define BLOB_XML_MAX_ENTRIES 5000u
/* The answers are five or six levels deep (Blob/Tags/TagSet/Tag/Key). */
#define BLOB_XML_MAX_DEPTH 32
#define BLOB_XML_MAX_DOC   (64u << 20)

/*
 * One List Blobs page.  Appends to append_to (a JSON array) one object per
 * <Blob>, in document order:
 *   name          <Name> (percent-decoded when Encoded="true"); required, not empty
 *   size          <Properties><Content-Length>, decimal digits only; required
 *   content_type  <Content-Type>, "application/octet-stream" when absent or empty
 *   last_modified <Last-Modified> as sent (RFC 1123), null when absent
 *   etag          <Etag> in double quotes (added when the service sent none),
 *                 null when absent or empty
 * *next_marker becomes a new string (caller frees) when <NextMarker> is not
 * empty, else NULL.  On failure nothing is appended, *next_marker is NULL and
 * e holds ERR_UPSTREAM.
 */
int blob_xml_parse_list(const char *xml, size_t len, struct json_object *append_to,
                        char **next_marker, struct err *e) MUST_CHECK;

/*
 * An error body.  *code and *message become new strings (caller frees) with
 * the texts of <Error><Code> and <Error><Message>, each NULL when absent or
 * empty; the message is as sent (Azure's spans lines: RequestId, Time).  On
 * failure (not an <Error> document, or anything refused above) both are NULL
 * and e holds ERR_UPSTREAM.
 */
int blob_xml_parse_error(const char *xml, size_t len, char **code, char **message,
                         struct err *e) MUST_CHECK;

#endif
