/* Configuration: endpoints, choices and numbers are validated, and errors name the variable. */
#include <stdlib.h>

#include "config.h"
#include "testlib.h"

static int endpoint_ok(const char *v, const char *url, const char *host, int loopback)
{
	struct endpoint ep;
	struct err e;
	err_clear(&e);
	if (config_parse_endpoint("X", v, &ep, &e) < 0)
		return 0;
	int ok =
	    ep.set && !strcmp(ep.url, url) && !strcmp(ep.host, host) && ep.loopback == loopback;
	endpoint_free(&ep);
	return ok;
}

static const char *endpoint_err(const char *v)
{
	static struct err e;
	struct endpoint ep;
	err_clear(&e);
	if (config_parse_endpoint("SKR_MAA_ENDPOINT", v, &ep, &e) == 0) {
		endpoint_free(&ep);
		return NULL;
	}
	return e.msg;
}

static void test_endpoints(void)
{
	CHECK(endpoint_ok("sharedeus.eus.attest.azure.net",
	                  "https://sharedeus.eus.attest.azure.net",
	                  "sharedeus.eus.attest.azure.net", 0));
	CHECK(endpoint_ok("https://kv.vault.azure.net/", "https://kv.vault.azure.net",
	                  "kv.vault.azure.net", 0));
	CHECK(endpoint_ok("http://127.0.0.1:8010", "http://127.0.0.1:8010", "127.0.0.1:8010", 1));
	CHECK(endpoint_ok("http://localhost:1", "http://localhost:1", "localhost:1", 1));
	CHECK(
	    endpoint_ok("http://169.254.169.254", "http://169.254.169.254", "169.254.169.254", 0));
	struct endpoint ep;
	struct err e;
	CHECK(config_parse_endpoint("X", "", &ep, &e) == 0 && !ep.set);
	/* Plain http to anything but loopback (or IMDS) would silently downgrade a real endpoint.
	 */
	const char *m = endpoint_err("http://evil.example.com");
	CHECK(m && strstr(m, "SKR_MAA_ENDPOINT") && strstr(m, "loopback"));
	CHECK(endpoint_err("http://127.0.0.1.evil.com") != NULL);
	CHECK(endpoint_err("ftp://x") != NULL);
	CHECK(endpoint_err("host/path") != NULL);
	CHECK(endpoint_err("host:0") != NULL);
	CHECK(endpoint_err("host:65536") != NULL);
	CHECK(endpoint_err("host:") != NULL);
	CHECK(endpoint_err("ho st") != NULL);
	CHECK(endpoint_err("https://") != NULL);
}

static const char *load_err(const char *var, const char *val)
{
	static struct err e;
	struct config c;
	err_clear(&e);
	setenv(var, val, 1);
	int rc = config_load(&c, &e);
	unsetenv(var);
	if (rc == 0) {
		config_free(&c);
		return NULL;
	}
	return e.msg;
}

static void test_load_names_the_variable(void)
{
	static const struct {
		const char *var, *val;
	} bad[] = {
	    {"SKR_AKV_ENDPOINT", "http://kv.example.com"},
	    {"ATTESTATION_BACKEND", "magic"},
	    {"SNP_EVIDENCE", "tpm"},
	    {"MAX_BODY_BYTES", "12x"},
	    {"MAX_BODY_BYTES", "10"},
	    {"HTTP_TIMEOUT_SECONDS", "-1"},
	    {"KEY_SIZE_BITS", "2500"},
	    {"SKR_KEY_NAME", "../etc/passwd"},
	    {"COMPANY_NAME", "a b"},
	    {"BLOB_BACKEND", "s3"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *m = load_err(bad[i].var, bad[i].val);
		CHECK_MSG(m && strstr(m, bad[i].var), "%s=%s -> %s", bad[i].var, bad[i].val,
		          m ? m : "accepted");
	}
	/* SNP_EVIDENCE=virtual needs the socket. */
	const char *m = load_err("SNP_EVIDENCE", "virtual");
	CHECK(m && strstr(m, "SNP_VIRTUAL_SOCKET"));
}

static void test_defaults_and_company_rule(void)
{
	struct config c;
	struct err e;
	setenv("SKR_KEY_NAME", "fabrikam-secret-key", 1);
	CHECK(config_load(&c, &e) == 0);
	CHECK_STR(c.maa.url, "https://sharedeus.eus.attest.azure.net");
	CHECK_STR(c.company, "fabrikam");
	CHECK_STR(c.sidecar.url, "http://127.0.0.1:8080");
	CHECK_INT(c.max_body, 65536);
	config_free(&c);
	setenv("SKR_KEY_NAME", "skr-demo-key", 1);
	setenv("COMPANY_NAME", "", 1);
	CHECK(config_load(&c, &e) == 0);
	CHECK_STR(c.company, "skr-demo");
	config_free(&c);
	setenv("COMPANY_NAME", "Contoso", 1);
	CHECK(config_load(&c, &e) == 0);
	CHECK_STR(c.company, "contoso");
	config_free(&c);
	unsetenv("COMPANY_NAME");
	unsetenv("SKR_KEY_NAME");
}

TESTS(test_endpoints, test_load_names_the_variable, test_defaults_and_company_rule)
