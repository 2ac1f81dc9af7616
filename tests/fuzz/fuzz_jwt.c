/* jwt_parse: the form of a compact JWS from an untrusted party (signature not checked here). */
#include "fuzz.h"
#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct jwt j;
	struct err e;
	if (jwt_parse(s, &j, &e) == 0) {
		FUZZ_ASSERT(json_object_is_type(j.header, json_type_object));
		FUZZ_ASSERT(json_object_is_type(j.payload, json_type_object));
		FUZZ_ASSERT(j.signing_input != NULL && strlen(j.signing_input) < size);
		jwt_free(&j);
	} else {
		FUZZ_ASSERT(e.msg[0] != '\0');
	}
	free(s);
	return 0;
}
