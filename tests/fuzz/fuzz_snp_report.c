/* snp_report_parse + snp_report_json over raw bytes; snp_report_load over the same bytes as text.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snp_report r;
	struct err e;
	if (snp_report_parse(data, size, &r, &e) == 0) {
		FUZZ_ASSERT(size == SNP_REPORT_SIZE);
		struct json_object *j = snp_report_json(&r);
		FUZZ_ASSERT(j != NULL);
		FUZZ_ASSERT(json_object_to_json_string(j) != NULL);
		json_object_put(j);
		struct snp_tcb t;
		snp_tcb_decode(r.reported_tcb, snp_report_tcb_layout(&r), &t);
		char tcbm[17];
		uint64_t back;
		snp_tcbm_format(r.current_tcb, tcbm);
		FUZZ_ASSERT(snp_tcbm_parse(tcbm, &back) == 0 && back == r.current_tcb);
	}
	uint8_t raw[SNP_REPORT_SIZE];
	if (snp_report_load(data, size, raw, &e) == 0 && size != SNP_REPORT_SIZE) {
		/* Accepted as hex: parsing the decoded bytes must not crash either. */
		if (snp_report_parse(raw, sizeof(raw), &r, &e) == 0)
			json_object_put(snp_report_json(&r));
	}
	/* tcbm strings are untrusted too (THIM's "tcbm"). */
	char *s = fuzz_cstr(data, size < 32 ? size : 32);
	uint64_t v;
	if (snp_tcbm_parse(s, &v) == 0) {
		char again[17];
		snp_tcbm_format(v, again);
	}
	free(s);
	return 0;
}
