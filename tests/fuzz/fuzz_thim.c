/* thim_parse over the input as JSON, and thim_parse_b64 over it as the b64 (env) form. */
#include "fuzz.h"
#include "thim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *pem = NULL, *tcbm = NULL;
	struct err e;
	if (thim_parse((const char *)data, size, &pem, &tcbm, &e) == 0)
		FUZZ_ASSERT(pem != NULL && pem[0] != '\0');
	else
		FUZZ_ASSERT(e.msg[0] != '\0');
	free(pem);
	free(tcbm);
	pem = tcbm = NULL;
	if (thim_parse_b64((const char *)data, size, "fuzz input", &pem, &tcbm, &e) == 0)
		FUZZ_ASSERT(pem != NULL);
	free(pem);
	free(tcbm);
	return 0;
}
