/* records_parse; what parses serialises (Python json.dumps style) and parses back the same. */
#include "fuzz.h"
#include "jsonx.h"
#include "records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *arr = NULL;
	struct err e;
	if (records_parse((const char *)data, size, &arr, &e) < 0) {
		FUZZ_ASSERT(arr == NULL && e.msg[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(json_object_is_type(arr, json_type_array));
	char *s = records_serialize(arr);
	FUZZ_ASSERT(s != NULL);
	struct json_object *back = NULL;
	FUZZ_ASSERT(records_parse(s, strlen(s), &back, &e) == 0);
	FUZZ_ASSERT(json_object_array_length(back) == json_object_array_length(arr));
	char *s2 = records_serialize(back);
	FUZZ_ASSERT(strcmp(s, s2) == 0);
	free(s2);
	free(s);
	json_object_put(back);
	json_object_put(arr);
	return 0;
}
