/*
 * blob_xml: List Blobs pages and error bodies.  Fixtures in TEST_DATA_DIR: blob-azurite-*
 * were captured from Azurite (tests/blob/run.sh's setup, then curl with an account SAS),
 * blob-azure-* follow the shape of Azure's documented List Blobs and error answers.
 */
#include <stdlib.h>

#include "blob_xml.h"
#include "jsonx.h"
#include "testlib.h"
#include "util.h"

static char *fixture(const char *name, size_t *len)
{
	const char *d = getenv("TEST_DATA_DIR");
	char *path = xasprintf("%s/%s", d && *d ? d : "tests/unit/data", name);
	struct buf b;
	buf_init(&b);
	int rc = read_file(path, 1 << 20, &b);
	CHECK_MSG(rc == 0, "cannot read %s", path);
	free(path);
	if (rc < 0)
		return NULL;
	return buf_steal(&b, len);
}

/* Parse a list page into a fresh array; NULL (and e set) on failure. */
static struct json_object *list(const char *xml, size_t len, char **next, struct err *e)
{
	struct json_object *arr = json_object_new_array();
	err_clear(e);
	if (blob_xml_parse_list(xml, len, arr, next, e) < 0) {
		CHECK_INT(json_object_array_length(arr), 0);
		CHECK(*next == NULL);
		CHECK_INT(e->code, ERR_UPSTREAM);
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

static struct json_object *list_str(const char *xml, char **next, struct err *e)
{
	return list(xml, strlen(xml), next, e);
}

/* The list must be refused with a message containing want. */
static void refused(const char *xml, const char *want)
{
	struct err e;
	char *next = NULL;
	struct json_object *arr = list_str(xml, &next, &e);
	CHECK_MSG(arr == NULL, "accepted: %s", xml);
	CHECK_MSG(strstr(e.msg, want) != NULL, "%s: message \"%s\" lacks \"%s\"", xml, e.msg, want);
	json_object_put(arr);
	free(next);
}

static const char *entry_str(struct json_object *arr, size_t i, const char *key)
{
	struct json_object *o = json_object_array_get_idx(arr, i);
	return o ? jsonx_str(o, key) : NULL;
}

static long long entry_size(struct json_object *arr, size_t i)
{
	struct json_object *o = json_object_array_get_idx(arr, i);
	long long v = -1;
	if (!o || !jsonx_int(o, "size", &v))
		return -1;
	return v;
}

static int starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

static int entry_is_null(struct json_object *arr, size_t i, const char *key)
{
	struct json_object *o = json_object_array_get_idx(arr, i), *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) && v == NULL;
}

#define PAGE_HEAD         "<?xml version=\"1.0\" encoding=\"UTF-8\"?><EnumerationResults><Blobs>"
#define PAGE_TAIL         "</Blobs><NextMarker/></EnumerationResults>"
#define BLOB(name, props) "<Blob><Name>" name "</Name><Properties>" props "</Properties></Blob>"
#define LEN7              "<Content-Length>7</Content-Length>"

static void test_azure_documented_shape(void)
{
	size_t len = 0;
	char *xml = fixture("blob-azure-list-example.xml", &len);
	if (!xml)
		return;
	struct err e;
	char *next = NULL;
	struct json_object *arr = list(xml, len, &next, &e);
	CHECK_MSG(arr != NULL, "%s", e.msg);
	/* Two blobs; the BlobPrefix and the metadata key "Name" are not entries. */
	CHECK_INT(arr ? json_object_array_length(arr) : 0, 2);
	CHECK_STR(entry_str(arr, 0, "name"), "consolidated-records-rg1.json");
	CHECK_INT(entry_size(arr, 0), 1234);
	CHECK_STR(entry_str(arr, 0, "content_type"), "application/json");
	CHECK_STR(entry_str(arr, 0, "last_modified"), "Tue, 10 Feb 2026 08:15:42 GMT");
	CHECK_STR(entry_str(arr, 0, "etag"), "\"0x8DE4A2B3C4D5E6F\"");
	CHECK_STR(entry_str(arr, 1, "name"), "consolidated-records-rg2.json");
	CHECK_INT(entry_size(arr, 1), 0);
	/* <Content-Type /> is the service's default type; a quoted Etag stays as it is. */
	CHECK_STR(entry_str(arr, 1, "content_type"), "application/octet-stream");
	CHECK_STR(entry_str(arr, 1, "etag"), "\"0x8DE4A2B3C4D5E70\"");
	CHECK_STR(next, "2!108!MDAwMDI5IWNvbnNvbGlkYXRlZC1yZWNvcmRzLXJnMy5qc29uITAwMDAyOCE5OTk5LTEy"
	                "LTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ--");
	/* Exactly the five keys blob_list has always returned. */
	struct json_object *o = arr ? json_object_array_get_idx(arr, 0) : NULL;
	CHECK_INT(o ? json_object_object_length(o) : 0, 5);
	free(next);
	json_object_put(arr);
	free(xml);
}

static void test_azurite_paging(void)
{
	size_t len = 0;
	char *p1 = fixture("blob-azurite-list-page1.xml", &len);
	if (!p1)
		return;
	struct err e;
	char *next = NULL;
	struct json_object *arr = json_object_new_array();
	CHECK_MSG(blob_xml_parse_list(p1, len, arr, &next, &e) == 0, "%s", e.msg);
	CHECK_INT(json_object_array_length(arr), 2);
	CHECK_STR(entry_str(arr, 0, "name"), "a/one.json");
	CHECK_INT(entry_size(arr, 0), 7);
	CHECK_STR(entry_str(arr, 0, "content_type"), "application/json");
	CHECK_STR(entry_str(arr, 0, "last_modified"), "Tue, 01 Dec 2026 20:33:59 GMT");
	CHECK_STR(entry_str(arr, 0, "etag"), "\"0x2688431E93FFDA0\"");
	CHECK_STR(entry_str(arr, 1, "name"), "b&c.txt");
	/* Azurite's marker is the last name, escaped like it. */
	CHECK_STR(next, "b&c.txt");
	free(next);
	next = NULL;
	free(p1);
	/* The next page appends after the first. */
	char *p2 = fixture("blob-azurite-list-page2.xml", &len);
	if (p2) {
		CHECK_MSG(blob_xml_parse_list(p2, len, arr, &next, &e) == 0, "%s", e.msg);
		CHECK_INT(json_object_array_length(arr), 3);
		CHECK_STR(entry_str(arr, 2, "name"), "z.bin");
		CHECK(next == NULL);
	}
	free(p2);
	json_object_put(arr);

	char *meta = fixture("blob-azurite-list-metadata.xml", &len);
	if (meta) {
		arr = list(meta, len, &next, &e);
		CHECK_MSG(arr != NULL, "%s", e.msg);
		CHECK_INT(arr ? json_object_array_length(arr) : 0, 1);
		CHECK_STR(entry_str(arr, 0, "name"), "m.txt");
		CHECK_INT(entry_size(arr, 0), 5);
		json_object_put(arr);
	}
	free(meta);
}

static void test_empty_container(void)
{
	size_t len = 0;
	char *xml = fixture("blob-azurite-list-empty.xml", &len);
	struct err e;
	char *next = (char *)"not touched";
	struct json_object *arr = xml ? list(xml, len, &next, &e) : NULL;
	CHECK_MSG(arr != NULL, "%s", e.msg);
	CHECK_INT(arr ? (long long)json_object_array_length(arr) : -1, 0);
	CHECK(next == NULL);
	json_object_put(arr);
	free(xml);
	/* No <Blobs> at all, an empty <Blobs></Blobs>, no <NextMarker>. */
	static const char *const empties[] = {
	    "<EnumerationResults/>",
	    "<EnumerationResults><Blobs></Blobs><NextMarker></NextMarker></EnumerationResults>",
	    "<EnumerationResults ContainerName=\"c\"><Prefix/><Blobs/></EnumerationResults>",
	};
	for (size_t i = 0; i < NELEM(empties); i++) {
		next = NULL;
		arr = list_str(empties[i], &next, &e);
		CHECK_MSG(arr != NULL, "%s: %s", empties[i], e.msg);
		CHECK_INT(arr ? (long long)json_object_array_length(arr) : -1, 0);
		CHECK(next == NULL);
		json_object_put(arr);
	}
}

static void test_entities(void)
{
	struct err e;
	char *next = NULL;
	struct json_object *arr = list_str(
	    PAGE_HEAD BLOB("a&amp;b&lt;c&gt;&#x41;&#66;&quot;&apos;&#xE9;&#x1F600;",
	                   LEN7 "<Content-Type>text/plain; charset=&quot;utf-8&quot;</Content-Type>"
	                        "<Etag>&quot;0x1&quot;</Etag>")
	        BLOB("<![CDATA[x&amp;<y>]]>", LEN7) "</Blobs><NextMarker>m&amp;n</NextMarker>"
	                                            "</EnumerationResults>",
	    &next, &e);
	CHECK_MSG(arr != NULL, "%s", e.msg);
	CHECK_STR(entry_str(arr, 0, "name"), "a&b<c>AB\"'\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_STR(entry_str(arr, 0, "content_type"), "text/plain; charset=\"utf-8\"");
	CHECK_STR(entry_str(arr, 0, "etag"), "\"0x1\"");
	CHECK_STR(entry_str(arr, 1, "name"), "x&amp;<y>");
	CHECK(entry_is_null(arr, 1, "etag"));
	CHECK(entry_is_null(arr, 1, "last_modified"));
	CHECK_STR(next, "m&n");
	free(next);
	json_object_put(arr);

	/* Encoded="true": Azure percent-encodes a name that XML cannot carry. */
	next = NULL;
	arr = list_str(PAGE_HEAD "<Blob><Name Encoded=\"true\">a%01b%2Fc</Name><Properties>" LEN7
	                         "</Properties></Blob>"
	                         "<Blob><Name Encoded=\"false\">d%01</Name><Properties>" LEN7
	                         "</Properties></Blob>" PAGE_TAIL,
	               &next, &e);
	CHECK_MSG(arr != NULL, "%s", e.msg);
	CHECK_STR(entry_str(arr, 0, "name"), "a\001b/c");
	CHECK_STR(entry_str(arr, 1, "name"), "d%01");
	json_object_put(arr);
}

static void test_unknown_entity_and_doctype(void)
{
	/* A good entry before the bad one: nothing is appended all the same. */
	refused(PAGE_HEAD BLOB("ok", LEN7) BLOB("a&nbsp;b", LEN7) PAGE_TAIL, "undefined entity");
	refused(PAGE_HEAD BLOB("a&bogus;", LEN7) PAGE_TAIL, "undefined entity");
	refused(PAGE_HEAD BLOB("a&#0;", LEN7) PAGE_TAIL, "not well-formed");
	refused(PAGE_HEAD BLOB("a&#xD800;", LEN7) PAGE_TAIL, "not well-formed");
	refused(PAGE_HEAD BLOB("a & b", LEN7) PAGE_TAIL, "not well-formed");
	/* Billion laughs, an external entity, and a DOCTYPE with nothing in it. */
	refused("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
	        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
	        "<EnumerationResults><Blobs>" BLOB("&lol3;", LEN7) PAGE_TAIL,
	        "DOCTYPE");
	refused("<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><EnumerationResults><Blobs>" BLOB(
	            "&x;", LEN7) PAGE_TAIL,
	        "DOCTYPE");
	refused("<!DOCTYPE EnumerationResults><EnumerationResults/>", "DOCTYPE");
	struct err e;
	char *code = NULL, *msg = NULL;
	const char *doc =
	    "<!DOCTYPE Error [<!ENTITY c \"BlobNotFound\">]><Error><Code>&c;</Code></Error>";
	CHECK(blob_xml_parse_error(doc, strlen(doc), &code, &msg, &e) < 0);
	CHECK(code == NULL && msg == NULL);
	CHECK_MSG(strstr(e.msg, "DOCTYPE") != NULL, "%s", e.msg);
}

static void test_truncated(void)
{
	size_t len = 0;
	char *xml = fixture("blob-azurite-list-page1.xml", &len);
	if (!xml)
		return;
	/* Every proper prefix is refused, with nothing appended (list() checks). */
	int accepted = 0;
	for (size_t n = 0; n < len; n++) {
		struct err e;
		char *next = NULL;
		struct json_object *arr = list(xml, n, &next, &e);
		if (arr) {
			accepted++;
			json_object_put(arr);
			free(next);
		}
	}
	CHECK_INT(accepted, 0);
	struct err e;
	char *next = NULL;
	struct json_object *arr = list(xml, len / 2, &next, &e);
	CHECK(arr == NULL);
	CHECK_MSG(strstr(e.msg, "not well-formed XML") && strstr(e.msg, "line 1"), "%s", e.msg);
	free(xml);
}

static void test_bad_entries(void)
{
	static const struct {
		const char *xml, *want;
	} cases[] = {
	    {PAGE_HEAD "<Blob><Properties>" LEN7 "</Properties></Blob>" PAGE_TAIL, "no <Name>"},
	    {PAGE_HEAD BLOB("", LEN7) PAGE_TAIL, "empty <Name>"},
	    {PAGE_HEAD BLOB("a", "") PAGE_TAIL, "'a' has no <Content-Length>"},
	    {PAGE_HEAD "<Blob><Name>a</Name></Blob>" PAGE_TAIL, "no <Content-Length>"},
	    {PAGE_HEAD BLOB("a", "<Content-Length>12a</Content-Length>") PAGE_TAIL, "non-numeric"},
	    {PAGE_HEAD BLOB("a", "<Content-Length>-1</Content-Length>") PAGE_TAIL, "non-numeric"},
	    {PAGE_HEAD BLOB("a", "<Content-Length>+1</Content-Length>") PAGE_TAIL, "non-numeric"},
	    {PAGE_HEAD BLOB("a", "<Content-Length> 7</Content-Length>") PAGE_TAIL, "non-numeric"},
	    {PAGE_HEAD BLOB("a", "<Content-Length>0x10</Content-Length>") PAGE_TAIL, "non-numeric"},
	    {PAGE_HEAD BLOB("a", "<Content-Length/>") PAGE_TAIL, "non-numeric"},
	    {PAGE_HEAD BLOB("a", "<Content-Length>9223372036854775808</Content-Length>") PAGE_TAIL,
	     "non-numeric"},
	    {PAGE_HEAD BLOB("a", LEN7 LEN7) PAGE_TAIL, "two <Content-Length>"},
	    {PAGE_HEAD "<Blob><Name>a</Name><Name>b</Name><Properties>" LEN7
	               "</Properties></Blob>" PAGE_TAIL,
	     "two <Name>"},
	    {PAGE_HEAD BLOB("a<b/>", LEN7) PAGE_TAIL, "element <b> inside <Name>"},
	    {PAGE_HEAD BLOB("a",
	                    LEN7) "</Blobs><NextMarker>x</NextMarker><NextMarker>y</NextMarker>"
	                          "</EnumerationResults>",
	     "two <NextMarker>"},
	    {PAGE_HEAD "<Blob><Name Encoded=\"true\">a%zz</Name><Properties>" LEN7
	               "</Properties></Blob>" PAGE_TAIL,
	     "percent-encoded"},
	    {PAGE_HEAD "<Blob><Name Encoded=\"true\">a%00</Name><Properties>" LEN7
	               "</Properties></Blob>" PAGE_TAIL,
	     "percent-encoded"},
	    {PAGE_HEAD "<Blob><Name Encoded=\"true\">a%ff</Name><Properties>" LEN7
	               "</Properties></Blob>" PAGE_TAIL,
	     "percent-encoded"},
	    {PAGE_HEAD "<Blob><Name Encoded=\"yes\">a</Name><Properties>" LEN7
	               "</Properties></Blob>" PAGE_TAIL,
	     "Encoded"},
	    {"<Error><Code>BlobNotFound</Code></Error>", "is <Error>, not <EnumerationResults>"},
	    {"<x:EnumerationResults xmlns:x=\"urn:x\"/>", "not <EnumerationResults>"},
	    {"", "no element found"},
	    {"   ", "no element found"},
	    {"<html><body>502 Bad Gateway</body></html>", "not <EnumerationResults>"},
	    {"<EnumerationResults/><EnumerationResults/>", "junk after document element"},
	    {PAGE_HEAD BLOB("a\xff", LEN7) PAGE_TAIL, "not well-formed"},
	    {PAGE_HEAD BLOB("a\xc3\x28", LEN7) PAGE_TAIL, "not well-formed"},
	    {"\xff\xfe<\0E\0", "UTF-16"},
	};
	for (size_t i = 0; i < NELEM(cases); i++)
		refused(cases[i].xml, cases[i].want);
	/* A NUL byte inside the text. */
	static const char nul[] =
	    PAGE_HEAD "<Blob><Name>a\0b</Name><Properties>" LEN7 "</Properties></Blob>" PAGE_TAIL;
	struct err e;
	char *next = NULL;
	CHECK(list(nul, sizeof(nul) - 1, &next, &e) == NULL);
	/* UTF-16 (expat would follow its byte order mark), and a declared Latin-1 read as UTF-8. */
	const char *doc = PAGE_HEAD BLOB("a", LEN7) PAGE_TAIL;
	char u16[2 * sizeof(PAGE_HEAD BLOB("a", LEN7) PAGE_TAIL) + 2];
	size_t n = 0;
	u16[n++] = (char)0xff;
	u16[n++] = (char)0xfe;
	for (const char *p = doc; *p; p++) {
		u16[n++] = *p;
		u16[n++] = '\0';
	}
	CHECK(list(u16, n, &next, &e) == NULL);
	CHECK_MSG(strstr(e.msg, "UTF-16") != NULL, "%s", e.msg);
	u16[0] = (char)0xfe;
	u16[1] = (char)0xff;
	CHECK(list(u16, n, &next, &e) == NULL);
	refused("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><EnumerationResults><Blobs>" BLOB(
	            "caf\xe9", LEN7) PAGE_TAIL,
	        "not well-formed");
	/* The largest Content-Length that fits. */
	struct json_object *arr = list_str(
	    PAGE_HEAD BLOB("a", "<Content-Length>9223372036854775807</Content-Length>") PAGE_TAIL,
	    &next, &e);
	CHECK_MSG(arr != NULL, "%s", e.msg);
	CHECK_INT(entry_size(arr, 0), 9223372036854775807LL);
	json_object_put(arr);
}

static void test_bounds(void)
{
	struct buf b;
	/* Text just at the limit is read; one byte more is refused. */
	for (int over = 0; over <= 1; over++) {
		buf_init(&b);
		buf_appendf(&b, "%s<Blob><Name>", PAGE_HEAD);
		for (size_t i = 0; i < BLOB_XML_MAX_TEXT + (size_t)over; i++)
			buf_append(&b, i % 2 ? "&amp;" : "n", i % 2 ? 5 : 1);
		buf_appendf(&b, "</Name><Properties>%s</Properties></Blob>%s", LEN7, PAGE_TAIL);
		struct err e;
		char *next = NULL;
		struct json_object *arr = list((const char *)b.p, b.len, &next, &e);
		if (over) {
			CHECK(arr == NULL);
			CHECK_MSG(strstr(e.msg, "longer than") != NULL, "%s", e.msg);
		} else {
			CHECK_MSG(arr != NULL, "%s", e.msg);
			const char *n = entry_str(arr, 0, "name");
			CHECK(n && strlen(n) == BLOB_XML_MAX_TEXT);
		}
		json_object_put(arr);
		buf_free(&b);
	}
	/* At most BLOB_XML_MAX_ENTRIES per page. */
	for (int over = 0; over <= 1; over++) {
		buf_init(&b);
		buf_appendf(&b, "%s", PAGE_HEAD);
		for (unsigned i = 0; i < BLOB_XML_MAX_ENTRIES + (unsigned)over; i++)
			buf_appendf(&b, "<Blob><Name>b%u</Name><Properties>%s</Properties></Blob>",
			            i, LEN7);
		buf_appendf(&b, "%s", PAGE_TAIL);
		struct err e;
		char *next = NULL;
		struct json_object *arr = list((const char *)b.p, b.len, &next, &e);
		if (over) {
			CHECK(arr == NULL);
			CHECK_MSG(strstr(e.msg, "more than 5000") != NULL, "%s", e.msg);
		} else {
			CHECK_INT(arr ? json_object_array_length(arr) : 0, BLOB_XML_MAX_ENTRIES);
			CHECK_STR(entry_str(arr, BLOB_XML_MAX_ENTRIES - 1, "name"), "b4999");
		}
		json_object_put(arr);
		buf_free(&b);
	}
	/* Nesting: deep inside a skipped element is refused, not walked. */
	buf_init(&b);
	buf_appendf(&b, "<EnumerationResults>");
	for (int i = 0; i < BLOB_XML_MAX_DEPTH; i++)
		buf_appendf(&b, "<d>");
	for (int i = 0; i < BLOB_XML_MAX_DEPTH; i++)
		buf_appendf(&b, "</d>");
	buf_appendf(&b, "</EnumerationResults>");
	refused((const char *)b.p, "nested deeper than 32");
	buf_free(&b);
}

static void test_error_bodies(void)
{
	struct err e;
	char *code = NULL, *msg = NULL;
	size_t len = 0;
	char *xml = fixture("blob-azurite-error-blobnotfound.xml", &len);
	if (xml) {
		CHECK_MSG(blob_xml_parse_error(xml, len, &code, &msg, &e) == 0, "%s", e.msg);
		CHECK_STR(code, "BlobNotFound");
		CHECK(starts_with(msg, "The specified blob does not exist.\nRequestId:"));
		free(code);
		free(msg);
	}
	free(xml);
	xml = fixture("blob-azure-error-authentication.xml", &len);
	if (xml) {
		/* UTF-8 BOM, and AuthenticationErrorDetail is skipped. */
		CHECK_MSG(blob_xml_parse_error(xml, len, &code, &msg, &e) == 0, "%s", e.msg);
		CHECK_STR(code, "AuthenticationFailed");
		CHECK(starts_with(msg, "Server failed to authenticate the request. "));
		CHECK(msg && !strstr(msg, "Signature did not match"));
		free(code);
		free(msg);
	}
	free(xml);
	/* Without a Message; with an empty one; with neither. */
	static const char *const nomsg[] = {
	    "<Error><Code>ContainerNotFound</Code></Error>",
	    "<?xml version=\"1.0\"?>\n<Error>\n  <Code>ContainerNotFound</Code>\n  "
	    "<Message/>\n</Error>",
	};
	for (size_t i = 0; i < NELEM(nomsg); i++) {
		code = msg = (char *)"x";
		CHECK_MSG(blob_xml_parse_error(nomsg[i], strlen(nomsg[i]), &code, &msg, &e) == 0,
		          "%s", e.msg);
		CHECK_STR(code, "ContainerNotFound");
		CHECK(msg == NULL);
		free(code);
	}
	CHECK(blob_xml_parse_error("<Error/>", 8, &code, &msg, &e) == 0);
	CHECK(code == NULL && msg == NULL);
	const char *ent = "<Error><Code>A&amp;B</Code><Message>x &lt; y</Message></Error>";
	CHECK(blob_xml_parse_error(ent, strlen(ent), &code, &msg, &e) == 0);
	CHECK_STR(code, "A&B");
	CHECK_STR(msg, "x < y");
	free(code);
	free(msg);
	/* Refused, with both outputs NULL. */
	static const struct {
		const char *xml, *want;
	} bad[] = {
	    {"", "no element found"},
	    {"Internal Server Error", "not well-formed"},
	    {"<html><title>403</title></html>", "is <html>, not <Error>"},
	    {"<EnumerationResults/>", "not <Error>"},
	    {"<Error><Code>A</Code><Code>B</Code></Error>", "two <Code>"},
	    {"<Error><Code>A&unknown;</Code></Error>", "undefined entity"},
	    {"<Error><Code>A</Code><Message>cut", "not well-formed"},
	    {"<Error><Code><b>A</b></Code></Error>", "inside <Code>"},
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		code = msg = (char *)"x";
		err_clear(&e);
		CHECK_MSG(blob_xml_parse_error(bad[i].xml, strlen(bad[i].xml), &code, &msg, &e) < 0,
		          "accepted %s", bad[i].xml);
		CHECK(code == NULL && msg == NULL);
		CHECK_INT(e.code, ERR_UPSTREAM);
		CHECK_MSG(strstr(e.msg, bad[i].want) && strstr(e.msg, "blob storage error answer"),
		          "%s: %s", bad[i].xml, e.msg);
	}
}

TESTS(test_azure_documented_shape, test_azurite_paging, test_empty_container, test_entities,
      test_unknown_entity_and_doctype, test_truncated, test_bad_entries, test_bounds,
      test_error_bodies)
