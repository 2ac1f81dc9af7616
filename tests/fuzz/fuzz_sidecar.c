/* sidecar_error_text: an error body from the sidecar (possibly two JSON objects, or not JSON). */
#include "fuzz.h"
#include "sidecar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = sidecar_error_text((const char *)data, size);
	FUZZ_ASSERT(t != NULL);
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	FUZZ_ASSERT(chars <= SIDECAR_ERR_MAX_CHARS);
	free(t);
	return 0;
}
