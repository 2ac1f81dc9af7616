/*
 * blob_xml_parse_list and blob_xml_parse_error over the input.  Checked besides memory
 * safety: a failure hands out nothing (no entry appended, no marker, no code or message)
 * and says why with ERR_UPSTREAM; a success gives entries with a non-empty name, a size
 * >= 0 and the five keys, and a marker or code or message that is NULL or not empty.
 */
#include "blob_xml.h"
#include "fuzz.h"
#include "jsonx.h"

static void check_entry(struct json_object *o)
{
	FUZZ_ASSERT(json_object_is_type(o, json_type_object));
	FUZZ_ASSERT(json_object_object_length(o) == 5);
	const char *name = jsonx_str(o, "name");
	FUZZ_ASSERT(name != NULL && name[0] != '\0');
	long long size = -1;
	FUZZ_ASSERT(jsonx_int(o, "size", &size) && size >= 0);
	const char *ct = jsonx_str(o, "content_type");
	FUZZ_ASSERT(ct != NULL && ct[0] != '\0');
	const char *etag = jsonx_str(o, "etag");
	FUZZ_ASSERT(etag == NULL || etag[0] == '"');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	char *next = NULL;
	/* One entry already there: a page must append after it or leave it alone. */
	struct json_object *arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_string("before"));
	err_clear(&e);
	if (blob_xml_parse_list((const char *)data, size, arr, &next, &e) == 0) {
		size_t n = json_object_array_length(arr);
		FUZZ_ASSERT(n >= 1 && n <= 1 + BLOB_XML_MAX_ENTRIES);
		for (size_t i = 1; i < n; i++)
			check_entry(json_object_array_get_idx(arr, i));
		FUZZ_ASSERT(next == NULL || (next[0] != '\0' && strlen(next) <= BLOB_XML_MAX_TEXT));
	} else {
		FUZZ_ASSERT(json_object_array_length(arr) == 1);
		FUZZ_ASSERT(next == NULL);
		FUZZ_ASSERT(e.code == ERR_UPSTREAM && e.msg[0] != '\0');
	}
	free(next);
	json_object_put(arr);

	char *code = NULL, *msg = NULL;
	err_clear(&e);
	if (blob_xml_parse_error((const char *)data, size, &code, &msg, &e) == 0) {
		FUZZ_ASSERT(code == NULL || (code[0] != '\0' && strlen(code) <= BLOB_XML_MAX_TEXT));
		FUZZ_ASSERT(msg == NULL || (msg[0] != '\0' && strlen(msg) <= BLOB_XML_MAX_TEXT));
	} else {
		FUZZ_ASSERT(code == NULL && msg == NULL);
		FUZZ_ASSERT(e.code == ERR_UPSTREAM && e.msg[0] != '\0');
	}
	free(code);
	free(msg);
	return 0;
}
