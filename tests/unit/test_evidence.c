/*
 * Evidence providers (virtual SEV-SNP socket client, provider selection, against a
 * one-shot stand-in of the virtual host's binary protocol in a forked child), the
 * THIM certificate source, and the SKR sidecar client; THIM's IMDS call and the
 * sidecar's calls run against scripted HTTP answers (fixture.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"
#include "evidence.h"
#include "fixture.h"
#include "jsonx.h"
#include "sidecar.h"
#include "testlib.h"
#include "thim.h"

static char tmpdir[64];
static char sock_path[128];

static void reload(void)
{
	struct err e;
	err_clear(&e);
	config_free(&cfg);
	if (config_load(&cfg, &e) < 0) {
		fprintf(stderr, "config_load: %s\n", e.msg);
		exit(2);
	}
}

static void setup_dir(void)
{
	if (*tmpdir)
		return;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_evidence.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(sock_path, sizeof(sock_path), "%s/vsnp.sock", tmpdir);
}

static void use_virtual(const char *path)
{
	setenv("SNP_EVIDENCE", "virtual", 1);
	setenv("SNP_VIRTUAL_SOCKET", path, 1);
	reload();
}

/* ---- virtual SEV-SNP host stand-in ---- */

enum vmode { V_GOOD, V_ERRMSG, V_SHORT_HDR, V_SHORT_BODY, V_WRONG_LEN, V_SILENT };

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void write_full(int fd, const void *p, size_t n)
{
	const uint8_t *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static size_t read_full(int fd, void *p, size_t n)
{
	uint8_t *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void vsnp_child(int lfd, enum vmode mode)
{
	int c = accept(lfd, NULL, NULL);
	if (c < 0)
		_exit(1);
	uint8_t req[72];
	size_t got = read_full(c, req, sizeof(req));
	uint8_t hdr[8];
	int bad = got != 72 || memcmp(req, "VSNP", 4) || req[4] || req[5] || req[6] || req[7];
	if (bad) {
		static const char m[] = "bad request";
		put32(hdr, 99);
		put32(hdr + 4, sizeof(m) - 1);
		write_full(c, hdr, 8);
		write_full(c, m, sizeof(m) - 1);
		_exit(0);
	}
	static uint8_t rep[SNP_REPORT_SIZE];
	memset(rep, 0xA5, sizeof(rep));
	memcpy(rep + 0x50, req + 8, 64);
	switch (mode) {
	case V_GOOD:
		put32(hdr, 0);
		put32(hdr + 4, SNP_REPORT_SIZE);
		write_full(c, hdr, 8);
		write_full(c, rep, sizeof(rep));
		break;
	case V_ERRMSG: {
		static const char m[] = "VMPL 3 not permitted\n";
		put32(hdr, 22);
		put32(hdr + 4, sizeof(m) - 1);
		write_full(c, hdr, 8);
		write_full(c, m, sizeof(m) - 1);
		break;
	}
	case V_SHORT_HDR:
		write_full(c, "\0\0\0", 3);
		break;
	case V_SHORT_BODY:
		put32(hdr, 0);
		put32(hdr + 4, SNP_REPORT_SIZE);
		write_full(c, hdr, 8);
		write_full(c, rep, 100);
		break;
	case V_WRONG_LEN:
		put32(hdr, 0);
		put32(hdr + 4, 1000);
		write_full(c, hdr, 8);
		write_full(c, rep, 1000);
		break;
	case V_SILENT:
		pause();
		break;
	}
	_exit(0);
}

static pid_t start_vsnp(enum vmode mode)
{
	setup_dir();
	unlink(sock_path);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		perror("vsnp socket");
		exit(2);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		vsnp_child(lfd, mode);
	close(lfd);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int run_report(uint8_t out[SNP_REPORT_SIZE], struct err *e, const char **src)
{
	uint8_t rd[64];
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(i * 7 + 1);
	err_clear(e);
	return evidence_report(rd, out, src, e);
}

static void test_virtual_good(void)
{
	pid_t pid = start_vsnp(V_GOOD);
	use_virtual(sock_path);
	CHECK_STR(evidence_source(), "virtual");
	static uint8_t out[SNP_REPORT_SIZE];
	struct err e;
	const char *src = NULL;
	CHECK_INT(run_report(out, &e, &src), 0);
	CHECK_STR(src, "virtual");
	CHECK_INT(out[0], 0xA5);
	CHECK_INT(out[0x50], 1);
	CHECK_INT(out[0x50 + 63], (63 * 7 + 1) & 0xff);
	CHECK_INT(out[SNP_REPORT_SIZE - 1], 0xA5);
	stop(pid);
}

static void expect_fail(enum vmode mode, enum err_code code, const char *needle)
{
	pid_t pid = start_vsnp(mode);
	use_virtual(sock_path);
	static uint8_t out[SNP_REPORT_SIZE];
	struct err e;
	CHECK_INT(run_report(out, &e, NULL), -1);
	CHECK_MSG(e.code == code, "mode %d: code %s, expected %s (%s)", mode, err_code_name(e.code),
	          err_code_name(code), e.msg);
	CHECK_MSG(strstr(e.msg, needle) != NULL, "mode %d: '%s' lacks '%s'", mode, e.msg, needle);
	stop(pid);
}

static void test_virtual_error_status(void)
{
	expect_fail(V_ERRMSG, ERR_UPSTREAM, "(status 22): VMPL 3 not permitted");
}

static void test_virtual_truncated(void)
{
	expect_fail(V_SHORT_HDR, ERR_UPSTREAM, "truncated");
	expect_fail(V_SHORT_BODY, ERR_UPSTREAM, "truncated");
}

static void test_virtual_wrong_length(void)
{
	expect_fail(V_WRONG_LEN, ERR_UPSTREAM, "1000-byte report");
}

static void test_virtual_timeout(void)
{
	double t0 = now_ms();
	expect_fail(V_SILENT, ERR_TIMEOUT, "did not answer within 5 s");
	double dt = now_ms() - t0;
	CHECK_MSG(dt >= 4900 && dt < 6500, "took %.0f ms", dt);
}

/* A socket file at sock_path that nobody listens on. */
static void plant_socket(void)
{
	unlink(sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
}

static void test_virtual_no_socket(void)
{
	setup_dir();
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/absent.sock", tmpdir);
	use_virtual(missing);
	CHECK(evidence_source() == NULL);
	static uint8_t out[SNP_REPORT_SIZE];
	struct err e;
	const char *src = "x";
	CHECK_INT(run_report(out, &e, &src), -1);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK(src == NULL);
	CHECK(strstr(e.msg, "does not exist") != NULL);

	/* A socket file nobody listens on: refused, still "unavailable". */
	plant_socket();
	use_virtual(sock_path);
	CHECK_STR(evidence_source(), "virtual");
	CHECK_INT(run_report(out, &e, NULL), -1);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK_MSG(strstr(e.msg, "not reachable") != NULL, "%s", e.msg);
	unlink(sock_path);
}

/* Within one request the provider is looked for once; the next request looks again. */
static void test_provider_per_request(void)
{
	setup_dir();
	plant_socket();
	use_virtual(sock_path);
	request_begin();
	CHECK_STR(evidence_source(), "virtual");
	unlink(sock_path);
	CHECK_STR(evidence_source(), "virtual"); /* the same request */
	request_begin();
	CHECK(evidence_source() == NULL); /* the next one */
	plant_socket();
	CHECK(evidence_source() == NULL);
	request_end();
	CHECK_STR(evidence_source(), "virtual"); /* outside a request: every call looks */
	unlink(sock_path);
	CHECK(evidence_source() == NULL);
}

static void test_source_none_and_auto(void)
{
	setenv("SNP_EVIDENCE", "none", 1);
	reload();
	CHECK(evidence_source() == NULL);
	static uint8_t out[SNP_REPORT_SIZE];
	struct err e;
	CHECK_INT(run_report(out, &e, NULL), -1);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK(strstr(e.msg, "SNP_EVIDENCE=none") != NULL);
	struct json_object *st = evidence_device_status();
	CHECK(json_object_is_type(jsonx_arr(st, "dev_listing"), json_type_array));
	CHECK(jsonx_str(st, "explanation") != NULL);
	json_object_put(st);

	struct stat sb;
	if (stat("/dev/sev-guest", &sb) == 0 || stat("/dev/sev", &sb) == 0)
		return; /* running on SEV-SNP hardware: auto picks it, nothing more to check */
	setenv("SNP_EVIDENCE", "auto", 1);
	unsetenv("SNP_VIRTUAL_SOCKET");
	reload();
	CHECK(evidence_source() == NULL);
	CHECK_INT(run_report(out, &e, NULL), -1);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK_STR(e.msg,
	          "no SEV-SNP device: this container is not running on confidential hardware "
	          "(checked /dev/sev-guest, /dev/sev; SNP_VIRTUAL_SOCKET not set)");
	st = evidence_device_status();
	struct json_object *v;
	CHECK(json_object_object_get_ex(st, "available", &v) && !json_object_get_boolean(v));
	CHECK(json_object_object_get_ex(st, "provider", &v) && v == NULL);
	json_object_put(st);
}

static void test_device_status_virtual(void)
{
	pid_t pid = start_vsnp(V_GOOD);
	setenv("SNP_EVIDENCE", "auto", 1);
	setenv("SNP_VIRTUAL_SOCKET", sock_path, 1);
	reload();
	struct stat sb;
	int hw = stat("/dev/sev-guest", &sb) == 0 || stat("/dev/sev", &sb) == 0;
	if (!hw) {
		CHECK_STR(evidence_source(), "virtual");
		struct json_object *st = evidence_device_status(), *v;
		CHECK(json_object_object_get_ex(st, "available", &v) && json_object_get_boolean(v));
		CHECK(json_object_object_get_ex(st, "emulated", &v) && json_object_get_boolean(v));
		CHECK_STR(jsonx_str(st, "provider"), "virtual");
		CHECK_STR(jsonx_str(st, "device_path"), sock_path);
		struct json_object *di = jsonx_obj(st, "device_info");
		CHECK_STR(jsonx_str(di, "type"), "socket");
		CHECK(jsonx_str(di, "mode") && !strncmp(jsonx_str(di, "mode"), "0o14", 4));
		json_object_put(st);
	}
	stop(pid);
	unlink(sock_path);
}

/* ---- THIM ---- */

static const char thim_json[] =
    "{\"vcekCert\":\"-----BEGIN CERTIFICATE-----\\nVCEK\\n-----END CERTIFICATE-----\\n\","
    "\"tcbm\":\"7308000000000003\","
    "\"certificateChain\":\"-----BEGIN CERTIFICATE-----\\nASK\\n-----END CERTIFICATE-----\\n"
    "-----BEGIN CERTIFICATE-----\\nARK\\n-----END CERTIFICATE-----\\n\","
    "\"cacheControl\":\"86400\"}";

static void set_thim_env(const char *json)
{
	char *b = b64_encode(json, strlen(json), B64_STD, B64_PAD_REQUIRED);
	setenv("UVM_HOST_AMD_CERTIFICATE", b, 1);
	free(b);
	reload();
	thim_reset();
}

static void test_thim_env_good(void)
{
	unsetenv("UVM_SECURITY_CONTEXT_DIR");
	set_thim_env(thim_json);
	char *pem = NULL, *tcbm = NULL;
	const char *src = NULL;
	struct err e;
	err_clear(&e);
	CHECK_INT(thim_chain(&pem, &tcbm, &src, &e), 0);
	CHECK_STR(src, "env");
	CHECK_STR(tcbm, "7308000000000003");
	CHECK(pem && !strncmp(pem, "-----BEGIN CERTIFICATE-----\nVCEK\n", 33));
	CHECK(pem && strstr(pem, "\nASK\n") && strstr(pem, "\nARK\n") &&
	      strstr(pem, "VCEK") < strstr(pem, "ASK"));
	free(pem);
	free(tcbm);
	/* Cached for the process: a changed environment is not read again. */
	setenv("UVM_HOST_AMD_CERTIFICATE", "!!!", 1);
	CHECK_INT(thim_chain(&pem, &tcbm, &src, &e), 0);
	CHECK_STR(tcbm, "7308000000000003");
	free(pem);
	free(tcbm);
	reload();
	thim_reset();
}

static void thim_env_fails(const char *env_value, const char *needle)
{
	setenv("UVM_HOST_AMD_CERTIFICATE", env_value, 1);
	reload();
	thim_reset();
	char *pem = (char *)1, *tcbm = (char *)1;
	struct err e;
	err_clear(&e);
	CHECK_INT(thim_chain(&pem, &tcbm, NULL, &e), -1);
	CHECK(pem == NULL && tcbm == NULL);
	CHECK_MSG(strstr(e.msg, needle) != NULL, "'%s' lacks '%s'", e.msg, needle);
}

static void test_thim_env_bad(void)
{
	thim_env_fails("not base64!", "UVM_HOST_AMD_CERTIFICATE is not valid base64");
	char *b = b64_encode("{\"vcekCert\":", 12, B64_STD, B64_PAD_REQUIRED);
	thim_env_fails(b, "malformed JSON");
	free(b);
	static const char novcek[] = "{\"certificateChain\":\"x\",\"tcbm\":\"01\"}";
	b = b64_encode(novcek, strlen(novcek), B64_STD, B64_PAD_REQUIRED);
	thim_env_fails(b, "no vcekCert");
	free(b);
	static const char badtcbm[] =
	    "{\"vcekCert\":\"-----BEGIN CERTIFICATE-----\\n\",\"tcbm\":\"zz\"}";
	b = b64_encode(badtcbm, strlen(badtcbm), B64_STD, B64_PAD_REQUIRED);
	thim_env_fails(b, "not hex");
	free(b);
	unsetenv("UVM_HOST_AMD_CERTIFICATE");
	reload();
	thim_reset();
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_thim_security_context_and_imds(void)
{
	setup_dir();
	char ctx[128];
	snprintf(ctx, sizeof(ctx), "%s/security-context-x", tmpdir);
	mkdir(ctx, 0700);
	char *b = b64_encode(thim_json, strlen(thim_json), B64_STD, B64_PAD_REQUIRED);
	size_t bl = strlen(b);
	char *wrapped = xasprintf("%.*s\n%s\n", (int)(bl / 2), b, b + bl / 2);
	write_text(ctx, "host-amd-cert-base64", wrapped);
	write_text(ctx, "reference-info-base64", "  ZW5kb3JzZW1lbnQ=\n");
	free(wrapped);
	free(b);
	unsetenv("UVM_HOST_AMD_CERTIFICATE");
	setenv("UVM_SECURITY_CONTEXT_DIR", ctx, 1);
	setenv("UVM_REFERENCE_INFO", "ZW52", 1);
	reload();
	thim_reset();
	char *pem = NULL, *tcbm = NULL;
	const char *src = NULL;
	struct err e;
	err_clear(&e);
	CHECK_INT(thim_chain(&pem, &tcbm, &src, &e), 0);
	CHECK_STR(src, "security-context");
	CHECK_STR(tcbm, "7308000000000003");
	free(pem);
	free(tcbm);
	CHECK_STR(thim_uvm_endorsement(), "ZW5kb3JzZW1lbnQ=");

	/* No file: the endorsement falls back to the environment, the chain to IMDS. */
	char empty[160];
	snprintf(empty, sizeof(empty), "%s/empty-ctx", tmpdir);
	mkdir(empty, 0700);
	setenv("UVM_SECURITY_CONTEXT_DIR", empty, 1);
	setenv("IMDS_ENDPOINT", "http://127.0.0.1:1", 1);
	reload();
	thim_reset();
	CHECK_STR(thim_uvm_endorsement(), "ZW52");
	err_clear(&e);
	CHECK_INT(thim_chain(&pem, &tcbm, &src, &e), -1);
	CHECK_INT(e.code, ERR_UNAVAILABLE);
	CHECK_MSG(strstr(e.msg, "/metadata/THIM/amd/certification") != NULL, "%s", e.msg);
	unsetenv("UVM_REFERENCE_INFO");
	unsetenv("IMDS_ENDPOINT");
	unsetenv("UVM_SECURITY_CONTEXT_DIR");
	reload();
	thim_reset();
	reload();
}

/* ---- THIM from IMDS, against scripted answers (fixture.h) ---- */

#define THIM_REQ                                                                                   \
	{                                                                                          \
		.method = "GET", .target = "/metadata/THIM/amd/certification",                     \
		.headers = {"Metadata: true", "!Authorization"}, .body = ""                        \
	}

struct thim_case {
	const char *name;
	struct fx_exchange ex[1];
	int refused;
	struct fx_result want; /* after attest.c's err_in(STAGE_CERTS) */
	const char *tcbm;
};

#define CERTS_ERR(c, st, ...)                                                                      \
	{                                                                                          \
		.rc = -1, .code = (c), .stage = STAGE_CERTS, .upstream = (st), .http = 503,        \
		__VA_ARGS__                                                                        \
	}

static const struct thim_case thim_cases[] = {
    {"200",
     {{THIM_REQ, {200, {"Content-Type: application/json"}, thim_json}}},
     .tcbm = "7308000000000003"},
    {"200 chunked", {{THIM_REQ, {200, {0}, thim_json, 0, FX_CHUNKED}}}, .tcbm = "7308000000000003"},
    {"404: not a confidential host",
     {{THIM_REQ, {404, {0}, "{\"error\":\"not_found\"}"}}},
     .want = CERTS_ERR(ERR_UNAVAILABLE, 404, .msg = "answered 404")},
    {"500",
     {{THIM_REQ, {500, {0}, "oops"}}},
     .want = CERTS_ERR(ERR_UPSTREAM, 500, .msg = "/metadata/THIM/amd/certification answered 500",
                       .not_msg = "oops")},
    /* jsonx_parse's code for text that is not JSON, passed through. */
    {"200 not JSON",
     {{THIM_REQ, {200, {0}, "{\"vcekCert\":"}}},
     .want = CERTS_ERR(ERR_BAD_REQUEST, -1, .msg = "THIM certificate JSON")},
    {"200 without vcekCert",
     {{THIM_REQ, {200, {0}, "{\"tcbm\":\"01\"}"}}},
     .want = CERTS_ERR(ERR_UPSTREAM, -1, .msg = "has no vcekCert")},
    /* Bounded: today by THIM's own 10 s, whatever HTTP_TIMEOUT_SECONDS says. */
    {"no answer",
     {{THIM_REQ, {.action = FX_HANG}}},
     .want = CERTS_ERR(ERR_TIMEOUT, -1, .msg = "no answer from")},
    {"answer cut short",
     {{THIM_REQ, {200, {0}, thim_json, 0, FX_TRUNCATE}}},
     .want = CERTS_ERR(ERR_UNAVAILABLE, -1, .msg = "partial")},
    {"connection refused", .refused = 1,
     .want = CERTS_ERR(ERR_UNAVAILABLE, -1, .msg = "/metadata/THIM/amd/certification")},
};

static void test_thim_from_imds(void)
{
	setup_dir();
	char empty[160];
	snprintf(empty, sizeof(empty), "%s/empty-ctx2", tmpdir);
	mkdir(empty, 0700);
	unsetenv("UVM_HOST_AMD_CERTIFICATE");
	setenv("UVM_SECURITY_CONTEXT_DIR", empty, 1);
	setenv("HTTP_TIMEOUT_SECONDS", "1", 1);
	for (size_t i = 0; i < NELEM(thim_cases); i++) {
		const struct thim_case *c = &thim_cases[i];
		fx_script(c->ex, NELEM(c->ex));
		char *url = c->refused ? fx_refused_url() : xstrdup(fx_url());
		setenv("IMDS_ENDPOINT", url, 1);
		reload();
		thim_reset();
		char *pem = (char *)1, *tcbm = (char *)1;
		const char *src = "x";
		struct err e;
		err_clear(&e);
		int rc = thim_chain(&pem, &tcbm, &src, &e);
		if (rc < 0)
			err_in(&e, STAGE_CERTS); /* as attest.c classifies it */
		FX_CHECK_RESULT(c->name, rc, &e, &c->want);
		if (c->tcbm) {
			CHECK_MSG(src && !strcmp(src, "imds"), "%s: source %s", c->name, src);
			CHECK_MSG(tcbm && !strcmp(tcbm, c->tcbm), "%s: tcbm", c->name);
			CHECK_MSG(pem && !strncmp(pem, "-----BEGIN CERTIFICATE-----\nVCEK\n", 33) &&
			              strstr(pem, "\nASK\n") && strstr(pem, "\nARK\n"),
			          "%s: chain", c->name);
		} else {
			CHECK_MSG(pem == NULL && tcbm == NULL && src == NULL,
			          "%s: outputs on failure", c->name);
		}
		FX_CHECK_REQUESTS(c->name);
		free(rc == 0 ? pem : NULL);
		free(rc == 0 ? tcbm : NULL);
		free(url);
	}
	unsetenv("HTTP_TIMEOUT_SECONDS");
	unsetenv("IMDS_ENDPOINT");
	unsetenv("UVM_SECURITY_CONTEXT_DIR");
	reload();
	thim_reset();
}

/* ---- sidecar ---- */

static void error_text_is(const char *body, const char *want)
{
	char *t = sidecar_error_text(body, strlen(body));
	CHECK_MSG(!strcmp(t, want), "body %s -> \"%s\", expected \"%s\"", body, t, want);
	free(t);
}

static void test_sidecar_error_text(void)
{
	error_text_is("{\"error\":\"attestation failed\"}{\"token\":\"\"}", "attestation failed");
	error_text_is("{\"error\":{}}", "(no detail: the sidecar's error value was {})");
	error_text_is("{\"error\":\"secure key release failed\\nfetching: 404\\n\\nERROR: Please "
	              "refer to the documentation for troubleshooting.\\nTroubleshooting: "
	              "https://example/TROUBLESHOOTING.md\"}",
	              "secure key release failed fetching: 404");
	error_text_is("404 page not found", "404 page not found");
	error_text_is("", "(empty body)");
	error_text_is("{\"message\":\"x\"}", "{\"message\":\"x\"}");
	error_text_is("{\"error\":\"\"}", "(no detail)");
	/* 600 two-byte characters: cut to 500 characters, on a character boundary. */
	struct buf b;
	buf_init(&b);
	buf_appendf(&b, "{\"error\":\"");
	for (int i = 0; i < 600; i++)
		buf_appendf(&b, "\xc3\xa9");
	buf_appendf(&b, "\"}");
	char *t = sidecar_error_text((const char *)b.p, b.len);
	CHECK_INT(strlen(t), 1000);
	free(t);
	buf_free(&b);
}

/* The sidecar client against scripted answers (fixture.h). */

enum sc_op { SC_STATUS, SC_RAW, SC_MAA, SC_RELEASE };

struct sidecar_case {
	const char *name;
	enum sc_op op;
	struct fx_exchange ex[1];
	int refused;
	const char *runtime;         /* SC_RAW, SC_MAA; NULL: "hello" */
	const char *maa, *akv, *kid; /* NULL: maa.example, v.vault.azure.net, k1 */
	struct fx_result want;
	long status;     /* SC_STATUS: the HTTP status returned */
	const char *out; /* SC_STATUS: the body; SC_MAA: the token; SC_RELEASE: the JWK;
	                  * SC_RAW: non-NULL for "the report of raw_report()" */
};

/* {"report":"<hex of raw_report()>"}, filled before the table runs. */
static char raw_ok_body[2 * SNP_REPORT_SIZE + 16];

static void raw_report(uint8_t r[SNP_REPORT_SIZE])
{
	for (size_t i = 0; i < SNP_REPORT_SIZE; i++)
		r[i] = (uint8_t)(i * 13);
}

/* "hello" -> aGVsbG8= */
#define RAW_REQ                                                                                    \
	{                                                                                          \
		.method = "POST", .target = "/attest/raw",                                         \
		.headers = {"Content-Type: application/json", "Accept: application/json"},         \
		.body = "{\"runtime_data\":\"aGVsbG8=\"}"                                          \
	}
#define MAA_REQ                                                                                    \
	{                                                                                          \
		.method = "POST", .target = "/attest/maa",                                         \
		.headers = {"Content-Type: application/json"},                                     \
		.body = "{\"runtime_data\":\"aGVsbG8=\",\"maa_endpoint\":\"maa.example\"}"         \
	}
#define RELEASE_REQ                                                                                \
	{                                                                                          \
		.method = "POST", .target = "/key/release",                                        \
		.headers = {"Content-Type: application/json"},                                     \
		.body =                                                                            \
		    "{\"maa_endpoint\":\"maa.example\",\"akv_endpoint\":\"v.vault.azure.net\","    \
		    "\"kid\":\"k1\"}"                                                              \
	}
#define STATUS_REQ                                                                                 \
	{                                                                                          \
		.method = "GET", .target = "/status", .body = ""                                   \
	}
#define SC_ERR(c, st, h, ...)                                                                      \
	{                                                                                          \
		.rc = -1, .code = (c), .stage = STAGE_SIDECAR, .upstream = (st), .http = (h),      \
		__VA_ARGS__                                                                        \
	}

static const struct sidecar_case sidecar_cases[] = {
    /* GET /status: any status is an answer. */
    {"status 200",
     SC_STATUS,
     {{STATUS_REQ, {200, {0}, "{\"message\":\"Status OK\"}"}}},
     .status = 200,
     .out = "{\"message\":\"Status OK\"}"},
    {"status 503",
     SC_STATUS,
     {{STATUS_REQ, {503, {0}, "Status NOT OK"}}},
     .status = 503,
     .out = "Status NOT OK"},
    {"status chunked",
     SC_STATUS,
     {{STATUS_REQ, {200, {0}, "{\"message\":\"Status OK\"}", 0, FX_CHUNKED}}},
     .status = 200,
     .out = "{\"message\":\"Status OK\"}"},
    /* Bounded: today by the sidecar client's own 5 s for /status. */
    {"status, no answer",
     SC_STATUS,
     {{STATUS_REQ, {.action = FX_HANG}}},
     .want = SC_ERR(ERR_TIMEOUT, -1, 504, .msg = "did not answer")},
    {"status, connection closed",
     SC_STATUS,
     {{STATUS_REQ, {.action = FX_CLOSE}}},
     .want = SC_ERR(ERR_UNAVAILABLE, -1, 503, .msg = "SKR sidecar not reachable at")},
    {"status, refused", SC_STATUS, .refused = 1,
     .want = SC_ERR(ERR_UNAVAILABLE, -1, 503, .msg = "SKR sidecar not reachable at")},

    /* POST /attest/raw */
    {"raw 200",
     SC_RAW,
     {{RAW_REQ, {200, {"Content-Type: application/json"}, raw_ok_body}}},
     .out = "report"},
    {"raw 200 chunked",
     SC_RAW,
     {{RAW_REQ, {200, {0}, raw_ok_body, 0, FX_CHUNKED}}},
     .out = "report"},
    {"raw 200, short report",
     SC_RAW,
     {{RAW_REQ, {200, {0}, "{\"report\":\"abcd\"}"}}},
     .want = SC_ERR(ERR_UPSTREAM, -1, 502,
                    .msg = "returned a report of 4 hex characters; expected 2368")},
    {"raw 200 without report",
     SC_RAW,
     {{RAW_REQ, {200, {0}, "{\"x\":1}"}}},
     .want = SC_ERR(ERR_UPSTREAM, -1, 502, .msg = "answered 200 without \"report\"")},
    {"raw 200 not JSON",
     SC_RAW,
     {{RAW_REQ, {200, {0}, "{\"report\":"}}},
     .want = SC_ERR(ERR_UPSTREAM, -1, 502, .msg = "answered 200 with malformed JSON")},
    {"raw 200 not an object",
     SC_RAW,
     {{RAW_REQ, {200, {0}, "[1]"}}},
     .want = SC_ERR(ERR_UPSTREAM, -1, 502, .msg = "answered 200 with a non-object")},
    {"raw 400",
     SC_RAW,
     {{RAW_REQ, {400, {0}, "{\"error\":\"invalid request format\"}"}}},
     .want = SC_ERR(ERR_BAD_REQUEST, 400, 502,
                    .msg_is = "sidecar answered 400: invalid request format")},
    /* Two objects back to back (the sidecar's missing return), and its troubleshooting
     * tail cut. */
    {"raw 403",
     SC_RAW,
     {{RAW_REQ,
       {403,
        {0},
        "{\"error\":\"attestation failed\\n\\nERROR: Please refer to the "
        "documentation\"}{\"report\":\"\"}"}}},
     .want = SC_ERR(ERR_FORBIDDEN, 403, 403, .msg_is = "sidecar answered 403: attestation failed")},
    {"raw 500",
     SC_RAW,
     {{RAW_REQ, {500, {0}, "panic"}}},
     .want = SC_ERR(ERR_UPSTREAM, 500, 502, .msg_is = "sidecar answered 500: panic")},
    {"raw, answer cut short",
     SC_RAW,
     {{RAW_REQ, {200, {0}, raw_ok_body, 0, FX_TRUNCATE}}},
     .want = SC_ERR(ERR_UNAVAILABLE, -1, 503, .msg = "SKR sidecar not reachable at")},
    {"raw, empty runtime data: not sent", SC_RAW, .runtime = "",
     .want = SC_ERR(ERR_BAD_REQUEST, -1, 502, .msg = "rejects an empty runtime_data")},

    /* POST /attest/maa */
    {"maa 200", SC_MAA, {{MAA_REQ, {200, {0}, "{\"token\":\"h.p.s\"}"}}}, .out = "h.p.s"},
    {"maa 403",
     SC_MAA,
     {{MAA_REQ,
       {403,
        {0},
        "{\"error\":\"attestation failed\\n\\nERROR: Please refer to the "
        "documentation\"}{\"token\":\"\"}"}}},
     .want = SC_ERR(ERR_FORBIDDEN, 403, 403, .msg_is = "sidecar answered 403: attestation failed")},
    {"maa 200 without a token",
     SC_MAA,
     {{MAA_REQ, {200, {0}, "{\"token\":\"\"}"}}},
     .want = SC_ERR(ERR_UPSTREAM, -1, 502, .msg = "answered 200 without a token")},
    {"maa, endpoint with a scheme: not sent", SC_MAA, .maa = "https://maa.example",
     .want = SC_ERR(ERR_BAD_REQUEST, -1, 502, .msg = "must be host[:port]")},

    /* POST /key/release */
    {"release 200",
     SC_RELEASE,
     {{RELEASE_REQ,
       {200, {0}, "{\"key\":\"{\\\"k\\\":\\\"c2VjcmV0\\\",\\\"kty\\\":\\\"oct\\\"}\"}"}}},
     .out = "{\"k\":\"c2VjcmV0\",\"kty\":\"oct\"}"},
    /* A 400's error may be an object, which gin writes as {}. */
    {"release 400",
     SC_RELEASE,
     {{RELEASE_REQ, {400, {0}, "{\"error\":{}}"}}},
     .want =
         SC_ERR(ERR_BAD_REQUEST, 400, 502, .msg = "(no detail: the sidecar's error value was {})")},
    {"release 403",
     SC_RELEASE,
     {{RELEASE_REQ,
       {403,
        {0},
        "{\"error\":\"secure key release failed\\nfetching: 404\\n\\nERROR: "
        "Please refer to the documentation for troubleshooting.\"}"}}},
     .want = SC_ERR(ERR_FORBIDDEN, 403, 403,
                    .msg_is = "sidecar answered 403: secure key release failed fetching: 404")},
    {"release 200, key not a string",
     SC_RELEASE,
     {{RELEASE_REQ, {200, {0}, "{\"key\":{\"kty\":\"oct\"}}"}}},
     .want = SC_ERR(ERR_UPSTREAM, -1, 502, .msg = "without a key")},
    {"release, endpoint with a scheme: not sent", SC_RELEASE, .maa = "https://maa.example",
     .akv = "v", .want = SC_ERR(ERR_BAD_REQUEST, -1, 502, .msg = "maa_endpoint")},
    {"release, no kid: not sent", SC_RELEASE, .kid = "",
     .want = SC_ERR(ERR_BAD_REQUEST, -1, 502, .msg = "kid (the key name) is empty")},
};

static int run_sidecar(const struct sidecar_case *c, struct err *e, long *st, char **out,
                       uint8_t rep[SNP_REPORT_SIZE])
{
	const char *rt = c->runtime ? c->runtime : "hello";
	const char *maa = c->maa ? c->maa : "maa.example";
	switch (c->op) {
	case SC_STATUS:
		return sidecar_status(st, out, e);
	case SC_RAW:
		return sidecar_attest_raw((const uint8_t *)rt, strlen(rt), rep, e);
	case SC_MAA:
		return sidecar_attest_maa(maa, (const uint8_t *)rt, strlen(rt), out, e);
	case SC_RELEASE:
		return sidecar_key_release(maa, c->akv ? c->akv : "v.vault.azure.net",
		                           c->kid ? c->kid : "k1", out, e);
	}
	return -2;
}

static void test_sidecar_fixtures(void)
{
	uint8_t want[SNP_REPORT_SIZE];
	raw_report(want);
	char *hex = hex_encode(want, sizeof(want));
	snprintf(raw_ok_body, sizeof(raw_ok_body), "{\"report\":\"%s\"}", hex);
	free(hex);
	setenv("HTTP_TIMEOUT_SECONDS", "1", 1);
	for (size_t i = 0; i < NELEM(sidecar_cases); i++) {
		const struct sidecar_case *c = &sidecar_cases[i];
		fx_script(c->ex, NELEM(c->ex));
		char *url = c->refused ? fx_refused_url() : xstrdup(fx_url());
		setenv("SKR_SIDECAR_URL", url, 1);
		reload();
		long st = -1;
		char *out = NULL;
		static uint8_t rep[SNP_REPORT_SIZE];
		memset(rep, 0, sizeof(rep));
		struct err e;
		err_clear(&e);
		int rc = run_sidecar(c, &e, &st, &out, rep);
		FX_CHECK_RESULT(c->name, rc, &e, &c->want);
		if (c->refused) {
			char *prefix = xasprintf("SKR sidecar not reachable at %s (", url);
			CHECK_MSG(!strncmp(e.msg, prefix, strlen(prefix)), "%s: %s", c->name,
			          e.msg);
			free(prefix);
		}
		if (c->op == SC_STATUS && rc == 0)
			CHECK_MSG(st == c->status, "%s: status %ld", c->name, st);
		if (c->op == SC_RAW && c->out)
			CHECK_MSG(!memcmp(rep, want, sizeof(rep)), "%s: report", c->name);
		else if (c->op != SC_RAW && c->out)
			CHECK_MSG(out && !strcmp(out, c->out), "%s: \"%s\"", c->name,
			          out ? out : "NULL");
		else if (c->op != SC_RAW)
			CHECK_MSG(out == NULL, "%s: output on failure", c->name);
		FX_CHECK_REQUESTS(c->name);
		free_secret_str(out);
		free(url);
	}
	unsetenv("SKR_SIDECAR_URL");
	unsetenv("HTTP_TIMEOUT_SECONDS");
	reload();
}

static void test_cleanup(void)
{
	fx_stop();
	if (*tmpdir) {
		char *cmd = xasprintf("rm -rf '%s'", tmpdir);
		CHECK_INT(system(cmd), 0);
		free(cmd);
	}
	reload();
	thim_reset();
	config_free(&cfg);
}

TESTS(test_virtual_good, test_provider_per_request, test_virtual_error_status,
      test_virtual_truncated, test_virtual_wrong_length, test_virtual_timeout,
      test_virtual_no_socket, test_source_none_and_auto, test_device_status_virtual,
      test_thim_env_good, test_thim_env_bad, test_thim_security_context_and_imds,
      test_thim_from_imds, test_sidecar_error_text, test_sidecar_fixtures, test_cleanup)
