/* lib/outcome: one table decides every failure; README.md's error section is that table. */
#include "outcome.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "jsonx.h"
#include "testlib.h"

static struct err at(enum err_code code, enum err_stage stage)
{
	struct err e;
	err_clear(&e);
	err_set(&e, code, "test message");
	e.stage = stage;
	return e;
}

static void load_config(const char *virtual_socket)
{
	struct err e;
	err_clear(&e);
	config_free(&cfg);
	if (virtual_socket)
		setenv("SNP_VIRTUAL_SOCKET", virtual_socket, 1);
	else
		unsetenv("SNP_VIRTUAL_SOCKET");
	setenv("SKR_MAA_ENDPOINT", "https://example.attest.azure.net", 1);
	setenv("ATTESTATION_BACKEND", "native", 1);
	setenv("LOG_DIR", "/nonexistent-log-dir", 1);
	CHECK_MSG(config_load(&cfg, &e) == 0, "%s", e.msg);
}

static void test_every_code_has_a_default(void)
{
	size_t n;
	const struct outcome_rule *r = outcome_rules(&n);
	for (int c = ERR_BAD_REQUEST; c <= ERR_CONFIG; c++) {
		int found = 0;
		for (size_t i = 0; i < n; i++)
			found += r[i].code == (enum err_code)c && r[i].stage == STAGE_NONE &&
			         r[i].path == PATH_ANY;
		CHECK_MSG(found == 1, "%s has %d default rows", err_code_name(c), found);
	}
	/* No two rows with the same key: the lookup would depend on their order. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			CHECK_MSG(!(r[i].code == r[j].code && r[i].stage == r[j].stage &&
			            r[i].path == r[j].path),
			          "rows %zu and %zu have the same key", i, j);
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(r[i].status >= 400 && r[i].status < 600 && r[i].failure_reason &&
		              r[i].likely_cause && r[i].solution,
		          "row %zu is incomplete", i);
}

static void test_specific_rows_win(void)
{
	load_config(NULL);
	struct err e = at(ERR_UNAVAILABLE, STAGE_ATTESTATION);
	CHECK_INT(outcome_status(&e), 503);
	CHECK_STR(outcome_rule(&e)->failure_reason, "The attestation service is not reachable");
	e = at(ERR_VERIFY, STAGE_ATTESTATION);
	CHECK_INT(outcome_status(&e), 403);
	e = at(ERR_VERIFY, STAGE_RELEASE_PROOF);
	CHECK_INT(outcome_status(&e), 502);
	e = at(ERR_VERIFY, STAGE_NONE);
	CHECK_INT(outcome_status(&e), 422);
	e = at(ERR_NOT_FOUND, STAGE_CUSTODY);
	CHECK_INT(outcome_status(&e), 400);
	e = at(ERR_NOT_FOUND, STAGE_STORE);
	CHECK_INT(outcome_status(&e), 404);
	e = at(ERR_CONFIG, STAGE_CONFIG);
	CHECK_INT(outcome_status(&e), 500);
	e = at(ERR_TIMEOUT, STAGE_CERTS);
	CHECK_INT(outcome_status(&e), 503);
	/* A stage's catch-all row beats the code's default. */
	e = at(ERR_INTERNAL, STAGE_UNWRAP);
	CHECK_INT(outcome_status(&e), 502);
}

static void test_path_decides_evidence_rows(void)
{
	load_config(NULL);
	struct err e = at(ERR_UNAVAILABLE, STAGE_EVIDENCE);
	CHECK_STR(outcome_rule(&e)->failure_reason,
	          "No AMD SEV-SNP hardware: this container is not running in a TEE");
	load_config("/nonexistent/vsnp.sock");
	CHECK_INT(outcome_path_now(), PATH_VIRTUAL);
	CHECK_STR(outcome_rule(&e)->failure_reason, "The virtual SEV-SNP host is not running");
}

static void test_envelope(void)
{
	load_config(NULL);
	struct err e = at(ERR_UNAVAILABLE, STAGE_ATTESTATION);
	err_upstream(&e, 503, "ServiceUnavailable\n", "req-1");
	struct json_object *o = outcome_envelope(&e);
	CHECK_STR(jsonx_str(o, "error_code"), "unavailable");
	CHECK_STR(jsonx_str(o, "stage"), "attestation");
	struct json_object *d = jsonx_obj(o, "diagnosis");
	CHECK(strstr(jsonx_str(d, "likely_cause"),
	             "SKR_MAA_ENDPOINT (https://example.attest.azure.net)"));
	CHECK(strstr(jsonx_str(d, "command"), "https://example.attest.azure.net/.well-known"));
	CHECK_STR(jsonx_str(d, "detail"), "test message");
	struct json_object *u = jsonx_obj(o, "upstream");
	long long st = 0;
	CHECK(jsonx_int(u, "status", &st) && st == 503);
	CHECK_STR(jsonx_str(u, "code"), "ServiceUnavailable?");
	CHECK_STR(jsonx_str(u, "request_id"), "req-1");
	struct json_object *logs = jsonx_obj(o, "logs");
	CHECK(logs && jsonx_str(logs, "flask") && jsonx_str(logs, "flask_error") &&
	      jsonx_obj(logs, "sev_device"));
	json_object_put(o);
	/* A bad request is not an attestation story: no logs, no upstream. */
	e = at(ERR_BAD_REQUEST, STAGE_REQUEST);
	o = outcome_envelope(&e);
	CHECK(!jsonx_obj(o, "logs") && !jsonx_obj(o, "upstream") && jsonx_str(o, "failure_reason"));
	json_object_put(o);
}

/* README.md's error section is the table, between its two markers. */
static void test_readme_matches(void)
{
	const char *data = getenv("TEST_DATA_DIR");
	char *path = xasprintf("%s/../../../README.md", data ? data : "tests/unit/data");
	struct buf b;
	buf_init(&b);
	CHECK_MSG(read_file(path, 1 << 20, &b) == 0, "cannot read %s", path);
	char *want = outcome_markdown();
	static const char begin[] = "<!-- outcome table: begin -->\n",
	                  end[] = "<!-- outcome table: end -->";
	const char *s = b.p ? strstr((const char *)b.p, begin) : NULL;
	const char *t = s ? strstr(s, end) : NULL;
	int same = s && t && (size_t)(t - s - strlen(begin)) == strlen(want) &&
	           !strncmp(s + strlen(begin), want, strlen(want));
	CHECK_MSG(same, "README.md's outcome table differs from lib/outcome.c; it should be:\n%s",
	          want);
	free(want);
	buf_free(&b);
	free(path);
}

TESTS(test_every_code_has_a_default, test_specific_rows_win, test_path_decides_evidence_rows,
      test_envelope, test_readme_matches)
