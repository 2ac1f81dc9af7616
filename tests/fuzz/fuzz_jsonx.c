/* jsonx_parse: the strict parser for untrusted JSON; what it accepts must serialise and re-parse.
 */
#include "fuzz.h"
#include "jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL;
	struct err e;
	if (jsonx_parse((const char *)data, size, &o, &e) < 0) {
		FUZZ_ASSERT(o == NULL && e.msg[0] != '\0');
		return 0;
	}
	char *s = jsonx_dump(o);
	struct json_object *again = NULL;
	FUZZ_ASSERT(jsonx_parse(s, strlen(s), &again, &e) == 0);
	json_object_put(again);
	free(s);
	s = jsonx_dump_pretty(o);
	free(s);
	if (json_object_is_type(o, json_type_object)) {
		long long v;
		(void)jsonx_str(o, "a");
		(void)jsonx_obj(o, "a");
		(void)jsonx_arr(o, "a");
		(void)jsonx_int(o, "a", &v);
	}
	json_object_put(o);
	return 0;
}
