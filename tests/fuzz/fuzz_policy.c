/* policy_parse, then policy_evaluate of what parsed against fixed claims of an MAA token. */
#include "fuzz.h"
#include "jsonx.h"
#include "policy.h"

static const char claims_json[] =
    "{\"iss\":\"https://sharedeus2.eus2.attest.azure.net\",\"exp\":1900000000,"
    "\"x-ms-attestation-type\":\"sevsnpvm\",\"x-ms-compliance-status\":\"azure-compliant-uvm\","
    "\"x-ms-sevsnpvm-is-debuggable\":false,\"x-ms-sevsnpvm-guestsvn\":2,"
    "\"x-ms-sevsnpvm-hostdata\":"
    "\"0000000000000000000000000000000000000000000000000000000000000000\","
    "\"x-ms-sevsnpvm-tee-svn\":1.5e0,\"x-ms-ver\":\"1.0\",\"nested\":{\"a\":{\"b\":\"c\"}},"
    "\"x-ms-isolation-tee\":{\"x-ms-attestation-type\":\"sevsnpvm\","
    "\"x-ms-compliance-status\":\"azure-compliant-uvm\"},\"arr\":[1,2],\"nul\":null,"
    "\"a.b\":\"dotted\",\"big\":18446744073709551615,\"neg\":-9223372036854775808}";

static struct json_object *claims;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	if (claims == NULL && jsonx_parse(claims_json, strlen(claims_json), &claims, &e) < 0)
		abort();
	struct json_object *p = NULL;
	if (policy_parse((const char *)data, size, &p, &e) < 0) {
		FUZZ_ASSERT(p == NULL && e.msg[0] != '\0');
		return 0;
	}
	static const char *const issuers[] = {
	    "https://sharedeus2.eus2.attest.azure.net",
	    "sharedeus2.eus2.attest.azure.net",
	    "HTTPS://SHAREDEUS2.EUS2.ATTEST.AZURE.NET:443/",
	    "",
	};
	for (size_t i = 0; i < sizeof(issuers) / sizeof(issuers[0]); i++) {
		struct json_object *report = NULL;
		char *why = NULL;
		int r = policy_evaluate(p, issuers[i], claims, &report, &why, &e);
		FUZZ_ASSERT(r >= -1 && r <= 1);
		FUZZ_ASSERT(r != 0 || why != NULL);
		FUZZ_ASSERT(r != 1 || why == NULL);
		if (report != NULL)
			free(jsonx_dump(report));
		json_object_put(report);
		free(why);
	}
	FUZZ_ASSERT(policy_validate(p, &e) == 0);
	json_object_put(p);
	return 0;
}
