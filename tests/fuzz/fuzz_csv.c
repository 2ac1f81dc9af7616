/* csv_parse, then every lookup over the table it returns. */
#include "csv.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_table t;
	struct err e;
	if (csv_parse((const char *)data, size, &t, &e) < 0) {
		FUZZ_ASSERT(t.nrows == 0 && t.ncols == 0 && e.msg[0] != '\0');
		csv_free(&t);
		return 0;
	}
	FUZZ_ASSERT(t.ncols >= 1 && t.ncols <= CSV_MAX_FIELDS);
	for (size_t j = 0; j < t.ncols; j++) {
		FUZZ_ASSERT(t.header[j] != NULL);
		/* Header names are unique as csv_col sees them. */
		FUZZ_ASSERT(csv_col(&t, t.header[j]) == (int)j);
	}
	for (size_t i = 0; i < t.nrows; i++) {
		FUZZ_ASSERT(t.line[i] >= 2);
		for (size_t j = 0; j < t.ncols; j++) {
			FUZZ_ASSERT(t.rows[i][j] != NULL);
			(void)strlen(t.rows[i][j]);
		}
		(void)csv_get(&t, i, t.header[0]);
		(void)csv_get(&t, i, "name");
	}
	FUZZ_ASSERT(csv_get(&t, t.nrows, t.header[0]) == NULL);
	csv_free(&t);
	return 0;
}
