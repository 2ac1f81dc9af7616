/* snp_chain_load: PEM certificates in any order, or THIM JSON. */
#include "fuzz.h"
#include "snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	char *pem = NULL, *tcbm = NULL;
	struct err e;
	if (snp_chain_load(text, size, &pem, &tcbm, &e) == 0) {
		FUZZ_ASSERT(pem != NULL);
		/* Normalised output must load again and give the same PEM. */
		char *pem2 = NULL, *tcbm2 = NULL;
		if (snp_chain_load(pem, strlen(pem), &pem2, &tcbm2, &e) == 0) {
			FUZZ_ASSERT(strcmp(pem, pem2) == 0);
			free(pem2);
			free(tcbm2);
		}
	} else {
		FUZZ_ASSERT(e.msg[0] != '\0');
	}
	free(pem);
	free(tcbm);
	free(text);
	return 0;
}
