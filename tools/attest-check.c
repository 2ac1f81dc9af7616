/*
 * attest-check: verify a live instance from the relying party's own machine,
 * trusting nothing the instance says.
 *
 *   attest-check [--expect-hostdata HEX | --policy FILE] [--maa HOST] [--allow-emulated]
 *                [--emulated-root PEMFILE] [--raw] [--json] [--timeout S] URL
 *
 * It makes a fresh random nonce, sends it as runtime_data to URL/attest/maa
 * and takes only the JWT from the answer.  The token's signing keys come from
 * the attestation service itself (--maa HOST's OpenID metadata, or else the
 * token's issuer when that is an Azure Attestation host), never from the
 * token's jku and never through the instance.  Claims are read only after the
 * RS256 signature verifies.  Then: issuer, dates, the nonce echoed in
 * x-ms-runtime, sha256(runtime data) at the start of report_data, the TEE
 * type, debugging off, the container compliance status and host_data (the
 * policy hash) against what the caller pinned.  --raw also fetches the raw
 * report for the same nonce and checks it against the pinned AMD roots.
 *
 * Emulated evidence (the local demo: loopback issuers, the x-demo-emulated
 * claim, the virtual root) fails unless --allow-emulated is given, and then
 * every output says EMULATED.  The virtual root is never taken from the
 * instance: only from --emulated-root.
 *
 * Exit: 0 verified, 1 a check failed (or no policy pinned), 2 usage, 3 network
 * or service error.  Every string that came from the instance or the token is
 * made printable before it reaches the terminal.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ccepolicy.h"
#include "codec.h"
#include "config.h"
#include "err.h"
#include "fetch.h"
#include "jsonx.h"
#include "jwt.h"
#include "snp.h"
#include "util.h"

#define PROG           "attest-check"
#define MAX_ANSWER     (4u << 20)
#define MAX_JWKS       (1u << 20)
#define SHOWN_MAX      600  /* bytes of an untrusted value kept for display */
#define DETAIL_MAX     2400 /* bytes of a check's explanation */
#define AZURE_MAA_TAIL ".attest.azure.net"

enum exit_code { EXIT_VERIFIED = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_SERVICE = 3 };

/* ST_ERROR: the check could not be made (network or service), not failed. */
enum status { ST_SKIP, ST_PASS, ST_FAIL, ST_WARN, ST_ERROR };

enum check_id {
	C_TOKEN,
	C_SERVICE,
	C_ALG,
	C_SIGNATURE,
	C_ISSUER,
	C_VALIDITY,
	C_NONCE,
	C_BINDING,
	C_TYPE,
	C_DEBUG,
	C_COMPLIANCE,
	C_HOSTDATA,
	C_GENUINE,
	C_RAW_REPORT,
	C_RAW_BINDING,
	C_RAW_LAUNCH,
	C_COUNT
};

struct check {
	const char *id;
	const char *label;
	int raw_only;
	enum status st;
	char *expected;
	char *actual;
	char *detail; /* cause and fix, shown below the table */
};

static struct check checks[C_COUNT] = {
    [C_TOKEN] = {"token", "token received", 0},
    [C_SERVICE] = {"attestation_service", "attestation service", 0},
    [C_ALG] = {"algorithm", "signature algorithm", 0},
    [C_SIGNATURE] = {"signature", "token signature", 0},
    [C_ISSUER] = {"issuer", "issuer (iss)", 0},
    [C_VALIDITY] = {"validity", "in date (nbf, exp)", 0},
    [C_NONCE] = {"nonce", "fresh (nonce echoed)", 0},
    [C_BINDING] = {"report_data", "bound (report_data)", 0},
    [C_TYPE] = {"attestation_type", "TEE type", 0},
    [C_DEBUG] = {"debuggable", "debugging disabled", 0},
    [C_COMPLIANCE] = {"compliance", "container platform", 0},
    [C_HOSTDATA] = {"hostdata", "policy (host_data)", 0},
    [C_GENUINE] = {"not_emulated", "real hardware", 0},
    [C_RAW_REPORT] = {"raw_report", "raw report signature", 1},
    [C_RAW_BINDING] = {"raw_report_data", "raw report bound", 1},
    [C_RAW_LAUNCH] = {"same_launch", "same launch as token", 1},
};

static struct {
	const char *url_arg;
	const char *expect_hex;
	const char *policy_file;
	const char *maa;
	const char *emulated_root;
	int allow_emulated;
	int raw;
	int json;
	long timeout;
} opt = {.timeout = 30};

static struct {
	char *base; /* instance URL, no trailing slash */
	char nonce[65];
	char *runtime; /* the runtime data document sent (JSON text) */
	size_t runtime_len;
	char *runtime_b64;
	char digest_hex[65]; /* sha256(runtime) */
	char expected_hostdata[65];
	int pinned;
	struct ccepolicy policy;
	int have_policy;
	struct endpoint maa; /* --maa */
	char *issuer;        /* the issuer trusted for this token */
	char *jwks_uri;
	int loopback_issuer;
	int emulated;
	char *emulated_why;
	struct json_object *claims;         /* verified claims, or NULL */
	struct json_object *instance_error; /* the instance's failure answer (unverified) */
	struct json_object *raw_verification;
	char *error_fix; /* for a service error: what to do */
} run;

/* ---- output helpers ---- */

/* A copy of at most max bytes of untrusted text, safe for a terminal: valid UTF-8 only, no
 * C0/C1 controls (no escape sequences), "…" when cut. */
static char *printable(const char *s, size_t max)
{
	if (!s)
		return xstrdup("(none)");
	size_t n = strnlen(s, max), i = 0;
	struct buf b;
	buf_init(&b);
	while (i < n) {
		unsigned long cp;
		size_t l = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (!l) {
			buf_append(&b, "?", 1);
			i++;
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			buf_append(&b, "?", 1);
		else
			buf_append(&b, s + i, l);
		i += l;
	}
	if (strlen(s) > n)
		buf_append(&b, "…", strlen("…"));
	return buf_steal(&b, NULL);
}

static void set_check(enum check_id id, enum status st, const char *expected, const char *actual,
                      const char *fmt, ...) PRINTF_LIKE(5, 6);

static void set_check(enum check_id id, enum status st, const char *expected, const char *actual,
                      const char *fmt, ...)
{
	struct check *c = &checks[id];
	free(c->expected);
	free(c->actual);
	free(c->detail);
	c->st = st;
	c->expected = expected ? printable(expected, SHOWN_MAX) : NULL;
	c->actual = actual ? printable(actual, SHOWN_MAX) : NULL;
	c->detail = NULL;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		char *d = xvasprintf(fmt, ap);
		va_end(ap);
		c->detail = printable(d, DETAIL_MAX);
		free(d);
	}
}

static int any_status(enum status st)
{
	for (int i = 0; i < C_COUNT; i++)
		if (checks[i].st == st && (!checks[i].raw_only || opt.raw))
			return 1;
	return 0;
}

static void fmt_time(long long t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "%lld", t);
}

/* Display width of UTF-8 text: one column per code point (the table uses no wide glyphs). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* s cut to at most w columns: long hex keeps its head and tail, other text its head. */
static char *fit(const char *s, size_t w)
{
	if (!s)
		return xstrdup("");
	if (width(s) <= w)
		return xstrdup(s);
	size_t n = strlen(s);
	/* Hex always the same way, so two columns compare at a glance. */
	int hex = strspn(s, "0123456789abcdefABCDEF") == n;
	if (hex && w >= 21)
		return xasprintf("%.12s…%s", s, s + n - 8);
	struct buf b;
	buf_init(&b);
	size_t cols = 0;
	for (const char *p = s; *p && cols < w - 1; cols++) {
		const char *q = p + 1;
		while (((unsigned char)*q & 0xC0) == 0x80)
			q++;
		buf_append(&b, p, (size_t)(q - p));
		p = q;
	}
	buf_append(&b, "…", strlen("…"));
	return buf_steal(&b, NULL);
}

/* Print text wrapped at WRAP columns; continuation lines are indented by indent. */
#define WRAP 100
static void print_wrapped(const char *first, const char *text, size_t indent)
{
	fputs(first, stdout);
	size_t col = width(first);
	const char *p = text;
	while (*p) {
		size_t wl = strcspn(p, " ");
		char *word = xstrndup(p, wl);
		size_t ww = width(word);
		if (col > indent && col + 1 + ww > WRAP) {
			printf("\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent || (col == indent && p != text)) {
			putchar(' ');
			col++;
		}
		fputs(word, stdout);
		col += ww;
		free(word);
		p += wl;
		while (*p == ' ')
			p++;
	}
	putchar('\n');
}

static void pad(const char *s, size_t w)
{
	fputs(s, stdout);
	for (size_t i = width(s); i < w; i++)
		putchar(' ');
}

static const char *mark(enum status st)
{
	switch (st) {
	case ST_PASS:
		return "✓";
	case ST_FAIL:
		return "✗";
	case ST_WARN:
		return "!";
	case ST_ERROR:
		return "?";
	case ST_SKIP:
		break;
	}
	return "–";
}

static const char *status_name(enum status st)
{
	switch (st) {
	case ST_PASS:
		return "pass";
	case ST_FAIL:
		return "fail";
	case ST_WARN:
		return "warn";
	case ST_ERROR:
		return "error";
	case ST_SKIP:
		break;
	}
	return "not_checked";
}

/* ---- arguments ---- */

static void usage(FILE *f)
{
	static const char *const lines[] = {
	    "usage: " PROG " [--expect-hostdata HEX | --policy FILE] [--maa HOST]",
	    "                    [--allow-emulated] [--emulated-root PEMFILE] [--raw] [--json]",
	    "                    [--timeout SECONDS] URL",
	    "",
	    "Proves, from this machine, that the container at URL runs the expected confidential",
	    "computing policy in a genuine AMD SEV-SNP TEE, right now.  Nothing the instance",
	    "says is trusted: only the attestation token it relays for a fresh nonce made here,",
	    "checked against the attestation service's own signing keys.",
	    "",
	    "  URL                     the instance, e.g. "
	    "http://<dns-label>.<region>.azurecontainer.io",
	    "  --policy FILE           pin the policy: an ARM template or parameters file holding",
	    "                          ccePolicy (as az confcom acipolicygen writes it), a file",
	    "                          with the base64 policy, or raw Rego text (the local demo's",
	    "                          emulator/policies/<company>.rego); host_data = its SHA-256",
	    "  --expect-hostdata HEX   pin the policy by its hash (64 hex digits)",
	    "  --maa HOST              the attestation service to trust, e.g.",
	    "                          sharedeus.eus.attest.azure.net; default: the token's",
	    "                          issuer, only if it is an Azure Attestation host",
	    "                          (https://*" AZURE_MAA_TAIL ")",
	    "  --allow-emulated        accept the local demo's emulated TEE (loopback issuer,",
	    "                          x-demo-emulated claim, virtual root); the verdict then",
	    "                          says EMULATED",
	    "  --raw                   also check the raw SEV-SNP report against the pinned AMD",
	    "                          roots, and that it describes the same launch as the token",
	    "  --emulated-root PEMFILE with --allow-emulated --raw: also trust this virtual ARK",
	    "                          (the local demo's var/public/virtual-ark.pem); the",
	    "                          instance's own ARK is never trusted",
	    "  --json                  one JSON document on stdout instead of the table",
	    "  --timeout SECONDS       per request (default 30)",
	    "",
	    "Exit status: 0 verified, 1 a check failed (or no policy was pinned), 2 usage error,",
	    "3 network or service error.",
	};
	for (size_t i = 0; i < NELEM(lines); i++)
		fprintf(f, "%s\n", lines[i]);
}

static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n(run " PROG " --help for usage)\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

/* "--name VALUE" or "--name=VALUE"; 1 if argv[*i] is that option (value in *val). */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val, int *bad)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		*bad = 1;
		usage_error("%s needs a value", name);
		return 1;
	}
	*val = argv[++*i];
	return 1;
}

static int parse_args(int argc, char **argv)
{
	const char *timeout = NULL;
	for (int i = 1; i < argc; i++) {
		int bad = 0;
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (opt_value(argc, argv, &i, "--expect-hostdata", &opt.expect_hex, &bad) ||
		           opt_value(argc, argv, &i, "--policy", &opt.policy_file, &bad) ||
		           opt_value(argc, argv, &i, "--maa", &opt.maa, &bad) ||
		           opt_value(argc, argv, &i, "--emulated-root", &opt.emulated_root, &bad) ||
		           opt_value(argc, argv, &i, "--timeout", &timeout, &bad)) {
			if (bad)
				return EXIT_USAGE;
		} else if (!strcmp(a, "--allow-emulated")) {
			opt.allow_emulated = 1;
		} else if (!strcmp(a, "--raw")) {
			opt.raw = 1;
		} else if (!strcmp(a, "--json")) {
			opt.json = 1;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("%s: unknown option", a);
		} else if (opt.url_arg) {
			return usage_error("%s: only one URL may be given (already have %s)", a,
			                   opt.url_arg);
		} else {
			opt.url_arg = a;
		}
	}
	if (!opt.url_arg)
		return usage_error(
		    "no URL: give the instance to check, e.g. http://127.0.0.1:8001");
	if (opt.expect_hex && opt.policy_file)
		return usage_error("give --expect-hostdata or --policy, not both");
	if (opt.emulated_root && !opt.allow_emulated)
		return usage_error(
		    "--emulated-root trusts a non-AMD root: it needs --allow-emulated");
	if (opt.emulated_root && !opt.raw)
		return usage_error(
		    "--emulated-root is only used to check the raw report: add --raw");
	if (timeout) {
		unsigned long t;
		if (parse_ulong(timeout, 1, 300, &t) < 0)
			return usage_error("--timeout '%s': give whole seconds between 1 and 300",
			                   timeout);
		opt.timeout = (long)t;
	}

	const char *u = opt.url_arg;
	if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
		return usage_error(
		    "URL '%s' must start with http:// or https:// (a demo instance on "
		    "Azure is http://<fqdn>)",
		    u);
	const char *host = u + (u[4] == 's' ? 8 : 7);
	if (!*host || *host == '/' || strpbrk(u, "?# \t\r\n\"\\"))
		return usage_error("URL '%s' must be scheme://host[:port][/path], without query, "
		                   "fragment or spaces",
		                   u);
	size_t n = strlen(u);
	while (n && u[n - 1] == '/')
		n--;
	run.base = xstrndup(u, n);

	if (opt.expect_hex) {
		unsigned char hd[32];
		if (strlen(opt.expect_hex) != 64 || hex_decode_fixed(opt.expect_hex, hd, 32) < 0)
			return usage_error(
			    "--expect-hostdata '%s' is not 64 hex digits (the SHA-256 "
			    "of the policy; az confcom acipolicygen prints it)",
			    opt.expect_hex);
		char *h = hex_encode(hd, 32);
		memcpy(run.expected_hostdata, h, 65);
		free(h);
		run.pinned = 1;
	} else if (opt.policy_file) {
		struct err e = {0};
		if (ccepolicy_from_file(opt.policy_file, &run.policy, &e) < 0)
			return usage_error("--policy %s", e.msg);
		run.have_policy = 1;
		memcpy(run.expected_hostdata, run.policy.host_data_hex, 65);
		run.pinned = 1;
	}

	if (opt.maa) {
		struct err e = {0};
		if (config_parse_endpoint("--maa", opt.maa, &run.maa, &e) < 0)
			return usage_error("%s", e.msg);
		if (!strncmp(run.maa.url, "http://", 7)) {
			if (!run.maa.loopback)
				return usage_error(
				    "--maa %s: plain http is only for the local stand-in on "
				    "loopback; use https://",
				    opt.maa);
			if (!opt.allow_emulated)
				return usage_error(
				    "--maa %s is the local (emulated) attestation stand-in: "
				    "add --allow-emulated",
				    opt.maa);
		}
	}
	return 0;
}

/* ---- HTTP ---- */

/* GET or POST (JSON body) url; 0 with *json parsed and *status set, or -1 with e set
 * (transport failure, or an answer that is not JSON: then *status is still set). */
static int http_json(const char *method, const char *url, const char *body, size_t max,
                     long *status, struct json_object **json, struct err *e)
{
	static const char *const post_hdrs[] = {"Content-Type: application/json",
	                                        "Accept: application/json", NULL};
	static const char *const get_hdrs[] = {"Accept: application/json", NULL};
	struct fetch_req rq = {.method = method,
	                       .url = url,
	                       .headers = body ? post_hdrs : get_hdrs,
	                       .body = body,
	                       .body_len = body ? strlen(body) : 0,
	                       .timeout_s = opt.timeout,
	                       .max_resp = max};
	struct fetch_resp rs;
	*json = NULL;
	*status = 0;
	if (fetch(&rq, &rs, e) < 0)
		return -1;
	*status = rs.status;
	int rc = jsonx_parse((const char *)rs.body.p, rs.body.len, json, e);
	if (rc < 0)
		err_wrap(e, "%s answered HTTP %ld that is not JSON", url, rs.status);
	fetch_resp_free(&rs);
	return rc;
}

/* ---- the run ---- */

static int make_nonce(void)
{
	unsigned char r[32];
	if (RAND_bytes(r, sizeof(r)) != 1) {
		fprintf(stderr, PROG ": the system random generator failed\n");
		return -1;
	}
	char *h = hex_encode(r, sizeof(r));
	memcpy(run.nonce, h, 65);
	free(h);
	/* Strings only: the service echoes it in x-ms-runtime, where it is compared as JSON. */
	run.runtime = xasprintf("{\"nonce\":\"%s\",\"purpose\":\"attest-check\"}", run.nonce);
	run.runtime_len = strlen(run.runtime);
	run.runtime_b64 = b64_encode(run.runtime, run.runtime_len, B64_STD, B64_PAD_REQUIRED);
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)run.runtime, run.runtime_len, md);
	h = hex_encode(md, sizeof(md));
	memcpy(run.digest_hex, h, 65);
	free(h);
	return 0;
}

/* Remember one more sign of emulation (each reason once). */
static void note_emulated(const char *why)
{
	run.emulated = 1;
	if (!run.emulated_why) {
		run.emulated_why = xstrdup(why);
	} else if (!strstr(run.emulated_why, why)) {
		char *s = xasprintf("%s; %s", run.emulated_why, why);
		free(run.emulated_why);
		run.emulated_why = s;
	}
}

/* Append "label text." to b (a space first when b is not empty); NULL text adds nothing. */
static void sentence(struct buf *b, const char *label, const char *text)
{
	if (!text || !*text)
		return;
	size_t n = strlen(text);
	buf_appendf(b, "%s%s%s%s", b->len ? " " : "", label, text,
	            strchr(".!?", text[n - 1]) ? "" : ".");
}

/* Ask the instance for a token for our nonce; *jwt is the only thing taken from it. */
static void get_token(char **jwt)
{
	*jwt = NULL;
	char *url = xasprintf("%s/attest/maa", run.base);
	char *body = xasprintf("{\"runtime_data\":\"%s\"}", run.runtime_b64);
	struct json_object *ans = NULL;
	long status = 0;
	struct err e = {0};
	const char *want = "a JWT";
	int rc = http_json("POST", url, body, MAX_ANSWER, &status, &ans, &e);
	if (rc < 0 && !status) {
		set_check(
		    C_TOKEN, ST_ERROR, want, "no answer",
		    "%s. Fix: check the URL and that the instance is running (curl %s/health).",
		    e.msg, run.base);
		run.error_fix = xasprintf("cannot reach %s", run.base);
	} else if (rc < 0) {
		char *a = xasprintf("HTTP %ld, not JSON", status);
		set_check(C_TOKEN, status >= 500 ? ST_ERROR : ST_FAIL, want, a,
		          "%s. Fix: is %s an instance of the attestation demo?", e.msg, run.base);
		free(a);
		if (status >= 500)
			run.error_fix = xasprintf("%s answered HTTP %ld", url, status);
	} else if (status != 200 || !jsonx_str(ans, "attestation_token")) {
		/* The instance's own words, shown as such: they prove nothing. */
		struct json_object *d = jsonx_obj(ans, "diagnosis");
		const char *msg = jsonx_str(ans, "message");
		const char *reason = jsonx_str(ans, "failure_reason");
		char *a = xasprintf("HTTP %ld, no token", status);
		/* 502/504: its attestation service failed or was slow: try again later. */
		int transient = status == 502 || status == 504;
		struct buf said;
		buf_init(&said);
		sentence(&said, "", reason ? reason : msg ? msg : "(no message)");
		sentence(&said, "Cause: ", jsonx_str(d, "likely_cause"));
		sentence(&said, "Solution: ", jsonx_str(d, "solution"));
		if (reason)
			sentence(&said, "Detail: ", msg);
		set_check(C_TOKEN, transient ? ST_ERROR : ST_FAIL, want, a,
		          "no attestation token. The instance says (unverified): %s",
		          (const char *)said.p);
		buf_free(&said);
		free(a);
		if (transient)
			run.error_fix =
			    xasprintf("%s answered HTTP %ld: try again later", url, status);
		run.instance_error = json_object_new_object();
		jsonx_add_int(run.instance_error, "http_status", status);
		jsonx_add_str(run.instance_error, "message", msg);
		jsonx_add_str(run.instance_error, "failure_reason", reason);
		if (d)
			jsonx_add(run.instance_error, "diagnosis", json_object_get(d));
	} else {
		*jwt = xstrdup(jsonx_str(ans, "attestation_token"));
	}
	json_object_put(ans);
	free(body);
	free(url);
}

/* 1 if s is exactly https://<label>[.<label>...].attest.azure.net (lowercase, no port or path). */
static int is_azure_maa(const char *s)
{
	if (strncmp(s, "https://", 8))
		return 0;
	const char *h = s + 8;
	size_t n = strlen(h), tl = strlen(AZURE_MAA_TAIL);
	if (n <= tl || strcmp(h + n - tl, AZURE_MAA_TAIL))
		return 0;
	size_t label = 0;
	for (size_t i = 0; i < n - tl; i++) {
		char c = h[i];
		if (c == '.') {
			if (!label || h[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		           (c == '-' && label)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && h[n - tl - 1] != '-';
}

/* 1 if s is exactly http://127.0.0.1:PORT (the local attestation stand-in). */
static int is_loopback_issuer(const char *s)
{
	static const char pfx[] = "http://127.0.0.1:";
	unsigned long port;
	return !strncmp(s, pfx, sizeof(pfx) - 1) && s[sizeof(pfx) - 1] != '0' &&
	       parse_ulong(s + sizeof(pfx) - 1, 1, 65535, &port) == 0;
}

/* jwks_uri must be on the issuer's own origin: keys from nowhere else. */
static int same_origin(const char *base, const char *uri)
{
	size_t n = strlen(base);
	return !strncmp(uri, base, n) && uri[n] == '/';
}

/* Decide which issuer to trust for this token and fetch its keys; 0 with *jwks set. */
static int get_keys(const char *claimed_iss, struct json_object **jwks)
{
	*jwks = NULL;
	const char *base;
	char *expect;
	if (run.maa.set) {
		base = run.maa.url;
		expect = xasprintf("%s (--maa)", run.maa.url);
		run.loopback_issuer = run.maa.loopback;
	} else {
		expect = xstrdup("https://*" AZURE_MAA_TAIL);
		if (!claimed_iss) {
			set_check(
			    C_SERVICE, ST_FAIL, expect, "token has no iss",
			    "without --maa the keys come from the token's issuer, and this token "
			    "names none. Fix: give --maa HOST.");
			free(expect);
			return -1;
		}
		if (is_azure_maa(claimed_iss)) {
			base = claimed_iss;
		} else if (is_loopback_issuer(claimed_iss)) {
			run.loopback_issuer = 1;
			note_emulated(
			    "the token's issuer is on loopback (the local attestation stand-in)");
			if (!opt.allow_emulated) {
				set_check(
				    C_SERVICE, ST_FAIL, expect, claimed_iss,
				    "%s is the local demo's attestation stand-in (EMULATED), not "
				    "Azure Attestation. Fix: add --allow-emulated to check the "
				    "local "
				    "demo; a real deployment's token comes from *" AZURE_MAA_TAIL
				    ".",
				    claimed_iss);
				set_check(
				    C_GENUINE, ST_FAIL, "no emulation marks", "EMULATED",
				    "the token comes from the local stand-in on loopback. Fix: add "
				    "--allow-emulated to accept the local demo's emulated TEE.");
				free(expect);
				return -1;
			}
			free(expect);
			expect = xstrdup("Azure or loopback");
			base = claimed_iss;
		} else {
			set_check(
			    C_SERVICE, ST_FAIL, expect, claimed_iss,
			    "the token's issuer %s is not an Azure Attestation host, so its keys "
			    "are "
			    "not fetched (anyone can run a service that signs tokens). Fix: if you "
			    "trust that service, name it with --maa HOST.",
			    claimed_iss);
			free(expect);
			return -1;
		}
	}
	if (run.loopback_issuer)
		note_emulated("the token's issuer is on loopback (the local attestation stand-in)");

	char *meta_url = xasprintf("%s/.well-known/openid-configuration", base);
	struct json_object *meta = NULL;
	long status;
	struct err e = {0};
	int rc = -1;
	if (http_json("GET", meta_url, NULL, MAX_JWKS, &status, &meta, &e) < 0 || status != 200) {
		if (status != 200 && !e.msg[0])
			err_set(&e, ERR_UPSTREAM, "%s answered HTTP %ld", meta_url, status);
		set_check(
		    C_SERVICE, ST_ERROR, expect, base,
		    "cannot read the attestation service's OpenID metadata: %s. Fix: check the "
		    "network to %s (or the --maa value) and try again.",
		    e.msg, base);
		run.error_fix = xasprintf("the attestation service %s did not answer", base);
		goto out;
	}
	const char *m_iss = jsonx_str(meta, "issuer"), *m_jwks = jsonx_str(meta, "jwks_uri");
	if (!m_iss || strcmp(m_iss, base) || !m_jwks || !same_origin(base, m_jwks)) {
		set_check(
		    C_SERVICE, ST_FAIL, expect, base,
		    "the OpenID metadata of %s names issuer %s and jwks_uri %s; both must be on "
		    "%s itself. Fix: check that --maa names the attestation service (its base "
		    "URL, e.g. sharedeus.eus.attest.azure.net).",
		    base, m_iss ? m_iss : "(none)", m_jwks ? m_jwks : "(none)", base);
		goto out;
	}
	run.issuer = xstrdup(m_iss);
	run.jwks_uri = xstrdup(m_jwks);
	if (http_json("GET", run.jwks_uri, NULL, MAX_JWKS, &status, jwks, &e) < 0 ||
	    status != 200 || !jsonx_arr(*jwks, "keys")) {
		if (!e.msg[0])
			err_set(&e, ERR_UPSTREAM, "%s answered HTTP %ld%s", run.jwks_uri, status,
			        status == 200 ? " without a \"keys\" array" : "");
		json_object_put(*jwks);
		*jwks = NULL;
		set_check(
		    C_SERVICE, ST_ERROR, expect, base,
		    "cannot fetch the token signing keys: %s. Fix: check the network to %s and "
		    "try again.",
		    e.msg, base);
		run.error_fix = xasprintf(
		    "the attestation service's keys (%s) could not be fetched", run.jwks_uri);
		goto out;
	}
	char *act = xasprintf("%s%s", base, run.loopback_issuer ? " (EMULATED)" : "");
	set_check(C_SERVICE, run.loopback_issuer ? ST_WARN : ST_PASS, expect, act, NULL);
	free(act);
	rc = 0;
out:
	json_object_put(meta);
	free(meta_url);
	free(expect);
	return rc;
}

static int rs256_verifies(EVP_PKEY *pk, const struct jwt *j)
{
	if (j->sig_len == 0 || j->sig_len != (size_t)EVP_PKEY_get_size(pk))
		return 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	/* The padding is pinned: the key object must not be able to select PSS. */
	int ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pk) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	         EVP_DigestVerify(ctx, j->sig, j->sig_len, (const unsigned char *)j->signing_input,
	                          strlen(j->signing_input)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* Algorithm and signature rows; 0 only if the token verifies with a key of jwks. */
static int check_signature(const struct jwt *j, struct json_object *jwks)
{
	const char *alg = jsonx_str(j->header, "alg");
	if (!alg || strcmp(alg, "RS256")) {
		set_check(C_ALG, ST_FAIL, "RS256", alg ? alg : "(none)",
		          "%s. Nothing in it can be believed: a real attestation token is RS256.",
		          alg && !strcasecmp(alg, "none")
		              ? "alg none: the token is unsigned, so anyone could have written it"
		              : "the token is not signed with RS256");
		return -1;
	}
	if (json_object_object_get_ex(j->header, "crit", NULL)) {
		set_check(C_ALG, ST_FAIL, "RS256, no crit", "crit extensions",
		          "the token header has crit extensions, none of which are supported.");
		return -1;
	}
	set_check(C_ALG, ST_PASS, "RS256", alg, NULL);

	const char *kid = jsonx_str(j->header, "kid");
	char *expect = xstrdup("valid, issuer's key");
	struct json_object *keys = jsonx_arr(jwks, "keys");
	size_t n = json_object_array_length(keys);
	int candidates = 0, ok = 0;
	struct err ke = {0};
	for (size_t i = 0; kid && i < n && !ok; i++) {
		struct json_object *k = json_object_array_get_idx(keys, i);
		const char *kk = jsonx_str(k, "kid"), *use = jsonx_str(k, "use"),
		           *kalg = jsonx_str(k, "alg");
		if (!kk || strcmp(kk, kid) || (use && strcmp(use, "sig")) ||
		    (kalg && strcmp(kalg, "RS256")))
			continue;
		candidates++;
		/* Real MAA keys carry only kid/kty/x5c: the key is x5c[0]'s (n/e when present). */
		EVP_PKEY *pk = jwk_to_public_pkey(k, &ke);
		if (pk)
			ok = rs256_verifies(pk, j);
		EVP_PKEY_free(pk);
	}
	int rc = -1;
	if (!kid) {
		set_check(C_SIGNATURE, ST_FAIL, expect, "no kid in header",
		          "the token names no signing key, so it cannot be checked.");
	} else if (!candidates) {
		char *a = xasprintf("unknown kid %s", kid);
		set_check(C_SIGNATURE, ST_FAIL, expect, a,
		          "%s has no signing key with kid %s: the token was not signed by this "
		          "attestation service (it comes from another issuer, or was forged).",
		          run.jwks_uri, kid);
		free(a);
	} else if (!ok) {
		set_check(C_SIGNATURE, ST_FAIL, expect,
		          ke.msg[0] && candidates == 1 ? ke.msg : "does not verify",
		          "the RS256 signature does not match the token's contents under the key "
		          "%s of %s: the token was altered after it was signed, or forged.",
		          kid, run.jwks_uri);
	} else {
		char *a = xasprintf("valid (kid %s)", kid);
		set_check(C_SIGNATURE, ST_PASS, expect, a, NULL);
		free(a);
		rc = 0;
	}
	free(expect);
	return rc;
}

static void check_dates(struct json_object *c)
{
	long long now = now_unix(), exp = 0, nbf = 0, iat = 0;
	char ts_now[32], ts_exp[32], ts_nbf[32];
	fmt_time(now, ts_now, sizeof(ts_now));
	char *expect = xasprintf("valid at %s", ts_now);
	int has_exp = jsonx_int(c, "exp", &exp);
	int has_nbf = json_object_object_get_ex(c, "nbf", NULL);
	int has_iat = json_object_object_get_ex(c, "iat", NULL);
	fmt_time(exp, ts_exp, sizeof(ts_exp));
	if (!has_exp) {
		set_check(C_VALIDITY, ST_FAIL, expect, "no exp claim",
		          "the token has no numeric exp (expiry) claim.");
	} else if (now - JWT_SKEW >= exp) {
		char *a = xasprintf("expired %s", ts_exp);
		set_check(C_VALIDITY, ST_FAIL, expect, a,
		          "the token expired at %s (clock skew allowed: %d s). Fix: check this "
		          "machine's clock.",
		          ts_exp, JWT_SKEW);
		free(a);
	} else if (has_nbf && (!jsonx_int(c, "nbf", &nbf) || nbf > now + JWT_SKEW)) {
		fmt_time(nbf, ts_nbf, sizeof(ts_nbf));
		char *a = xasprintf("not before %s", ts_nbf);
		set_check(C_VALIDITY, ST_FAIL, expect, a,
		          "the token is not valid yet (nbf %s). Fix: check this machine's clock.",
		          ts_nbf);
		free(a);
	} else if (has_iat && (!jsonx_int(c, "iat", &iat) || iat > now + JWT_SKEW)) {
		set_check(C_VALIDITY, ST_FAIL, expect, "issued in the future",
		          "the token's iat is later than now. Fix: check this machine's clock.");
	} else {
		char *a = xasprintf("until %s", ts_exp);
		set_check(C_VALIDITY, ST_PASS, expect, a, NULL);
		free(a);
	}
	free(expect);
}

/* "what the claim holds" for display: its string, its JSON, or "(missing)". */
static char *claim_text(struct json_object *c, const char *name)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(c, name, &v))
		return xstrdup("(missing)");
	if (json_object_is_type(v, json_type_string))
		return xstrdup(json_object_get_string(v));
	return xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/* Issuer: exactly the service whose keys check the signature. */
static void issuer_check(const char *iss)
{
	if (iss && !strcmp(iss, run.issuer))
		set_check(C_ISSUER, ST_PASS, run.issuer, iss, NULL);
	else
		set_check(
		    C_ISSUER, ST_FAIL, run.issuer, iss ? iss : "(missing)",
		    "the token names issuer %s, but the attestation service trusted here is %s. "
		    "Fix: if you trust %s, name it with --maa.",
		    iss ? iss : "(none)", run.issuer, iss ? iss : "its issuer");
}

static void check_claims(struct json_object *c)
{
	issuer_check(jsonx_str(c, "iss"));
	check_dates(c);

	/* Freshness: our nonce, in the runtime data the service saw. */
	struct json_object *rt = jsonx_obj(c, "x-ms-runtime"), *sent = NULL;
	struct err e = {0};
	const char *got = jsonx_str(rt, "nonce");
	if (jsonx_parse(run.runtime, run.runtime_len, &sent, &e) < 0)
		abort(); /* our own document: cannot fail */
	if (got && !strcmp(got, run.nonce) && json_object_equal(rt, sent))
		set_check(C_NONCE, ST_PASS, run.nonce, got, NULL);
	else if (got && !strcmp(got, run.nonce))
		set_check(C_NONCE, ST_FAIL, run.nonce, "nonce, other data",
		          "x-ms-runtime holds this run's nonce but not the runtime data that was "
		          "sent: the instance changed what it attested.");
	else
		set_check(
		    C_NONCE, ST_FAIL, run.nonce,
		    got  ? got
		    : rt ? "other runtime data"
		         : "(no x-ms-runtime)",
		    "the token was not issued for this run's fresh nonce: it is a replay of an "
		    "old token, or was issued for another request. Nothing proves the instance "
		    "is in a TEE right now.");
	json_object_put(sent);

	/* Binding: the hardware report carried sha256(runtime data). */
	const char *rd = jsonx_str(c, "x-ms-sevsnpvm-reportdata");
	/* Shown as its first 32 bytes, the part that must equal the digest. */
	char *head = rd ? xstrndup(rd, 64) : xstrdup("(missing)");
	if (rd && strlen(rd) >= 64 && !strncasecmp(rd, run.digest_hex, 64))
		set_check(C_BINDING, ST_PASS, run.digest_hex, head, NULL);
	else
		set_check(C_BINDING, ST_FAIL, run.digest_hex, head,
		          "x-ms-sevsnpvm-reportdata does not start with sha256 of the runtime data "
		          "sent (%s): the SEV-SNP report behind this token was not made for this "
		          "request (replayed or substituted evidence).",
		          run.digest_hex);
	free(head);

	char *v = claim_text(c, "x-ms-attestation-type");
	set_check(C_TYPE, !strcmp(v, "sevsnpvm") ? ST_PASS : ST_FAIL, "sevsnpvm", v,
	          strcmp(v, "sevsnpvm") ? "x-ms-attestation-type is not sevsnpvm: this is not AMD "
	                                  "SEV-SNP evidence."
	                                : NULL);
	free(v);

	struct json_object *dbg = NULL;
	json_object_object_get_ex(c, "x-ms-sevsnpvm-is-debuggable", &dbg);
	v = claim_text(c, "x-ms-sevsnpvm-is-debuggable");
	int nodebug =
	    dbg && json_object_is_type(dbg, json_type_boolean) && !json_object_get_boolean(dbg);
	set_check(C_DEBUG, nodebug ? ST_PASS : ST_FAIL, "false", v,
	          nodebug
	              ? NULL
	              : "x-ms-sevsnpvm-is-debuggable is not false: the guest's debug policy bit "
	                "lets the host read and change its memory, so the TEE protects nothing.");
	free(v);

	v = claim_text(c, "x-ms-compliance-status");
	int uvm = !strcmp(v, "azure-compliant-uvm");
	set_check(C_COMPLIANCE, uvm ? ST_PASS : ST_FAIL, "azure-compliant-uvm", v,
	          uvm ? NULL
	              : "x-ms-compliance-status is not azure-compliant-uvm: this is not Azure's "
	                "confidential container platform (utility VM) as the attestation service "
	                "judged it.");
	free(v);

	v = claim_text(c, "x-ms-sevsnpvm-hostdata");
	if (!run.pinned) {
		set_check(C_HOSTDATA, ST_WARN, "(not pinned)", v,
		          "the policy was NOT pinned: the instance runs the policy with hash %s, "
		          "but nothing says that is the one you expect. This is not a full "
		          "verification. Fix: give --policy FILE (the deployment's template or "
		          "parameters file) or --expect-hostdata HEX.",
		          v);
	} else if (!strcasecmp(v, run.expected_hostdata) && strlen(v) == 64) {
		set_check(C_HOSTDATA, ST_PASS, run.expected_hostdata, v, NULL);
	} else {
		set_check(
		    C_HOSTDATA, ST_FAIL, run.expected_hostdata, v,
		    "the instance runs a different confidential computing policy: host_data "
		    "%s, expected %s%s%s. Different containers, settings or a debug policy give "
		    "a different hash. Fix: if you changed the deployment, pin its new policy "
		    "(.deploy/<prefix>/template-<name>.json).",
		    v, run.expected_hostdata, run.have_policy ? " from " : "",
		    run.have_policy ? opt.policy_file : "");
	}
	free(v);

	struct json_object *em = NULL;
	if (json_object_object_get_ex(c, "x-demo-emulated", &em) && json_object_get_boolean(em))
		note_emulated(
		    "the token carries \"x-demo-emulated\": true (the local virtual SEV-SNP "
		    "host)");
}

static void check_genuine(void)
{
	if (checks[C_GENUINE].st == ST_FAIL)
		return;
	if (!run.claims && !run.emulated)
		return; /* nothing was verified, so nothing can be said */
	if (!run.emulated)
		set_check(C_GENUINE, ST_PASS, "no emulation marks", "none", NULL);
	else if (opt.allow_emulated)
		set_check(
		    C_GENUINE, ST_WARN, "no emulation marks", "EMULATED (allowed)",
		    "EMULATED: %s. Accepted only because of --allow-emulated: this is the local "
		    "demo, not real hardware.",
		    run.emulated_why);
	else
		set_check(
		    C_GENUINE, ST_FAIL, "no emulation marks", "EMULATED",
		    "%s. Fix: add --allow-emulated to check the local demo; a real deployment "
		    "never carries these marks.",
		    run.emulated_why);
}

/* --raw: the report itself, for the same nonce, against the pinned AMD roots. */
static void check_raw(void)
{
	char *url = xasprintf("%s/attest/raw", run.base);
	char *body = xasprintf("{\"runtime_data\":\"%s\"}", run.runtime_b64);
	struct json_object *ans = NULL;
	long status = 0;
	struct err e = {0};
	struct snp_roots *roots = NULL;
	char *pem = NULL, *tcbm = NULL;
	const char *want = "VCEK, chain to AMD root";
	int rc = http_json("POST", url, body, MAX_ANSWER, &status, &ans, &e);
	const char *hex = rc == 0 ? jsonx_str(ans, "attestation_report") : NULL;
	const char *chain = rc == 0 ? jsonx_str(ans, "vcek_chain_pem") : NULL;
	uint8_t raw[SNP_REPORT_SIZE];
	struct snp_report rep;
	if (rc < 0 || status != 200 || !hex) {
		int service = rc < 0 && (!status || status >= 500);
		char *a = rc < 0 && !status ? xstrdup("no answer")
		                            : xasprintf("HTTP %ld, no report", status);
		set_check(C_RAW_REPORT, service ? ST_ERROR : ST_FAIL, want, a,
		          "POST %s gave no report: %s", url,
		          rc < 0                      ? e.msg
		          : jsonx_str(ans, "message") ? jsonx_str(ans, "message")
		                                      : "no attestation_report");
		free(a);
		if (service)
			run.error_fix = xasprintf("%s did not answer", url);
		goto out;
	}
	if (!chain) {
		set_check(
		    C_RAW_REPORT, ST_FAIL, want, "no vcek_chain_pem",
		    "the instance sent no VCEK certificate chain (vcek_chain_pem), so the report "
		    "cannot be checked here. Fix: update the instance to a version whose "
		    "/attest/raw answers vcek_chain_pem, or omit --raw.");
		goto out;
	}
	if (snp_report_load(hex, strlen(hex), raw, &e) < 0 ||
	    snp_report_parse(raw, sizeof(raw), &rep, &e) < 0 ||
	    snp_chain_load(chain, strlen(chain), &pem, &tcbm, &e) < 0) {
		set_check(C_RAW_REPORT, ST_FAIL, want, "malformed", "%s", e.msg);
		goto out;
	}
	roots = snp_roots_new(1);
	if (opt.emulated_root && snp_roots_add_file(roots, opt.emulated_root, 1, &e) < 0) {
		set_check(C_RAW_REPORT, ST_FAIL, want, "bad --emulated-root",
		          "--emulated-root %s. Fix: give the local demo's virtual ARK "
		          "(var/public/virtual-ark.pem).",
		          e.msg);
		goto out;
	}
	/* The chain's own ARK is never trusted: snp_verify pins it to roots. */
	int vrc = snp_verify(raw, pem, roots, &run.raw_verification, &e);
	struct json_object *er = NULL;
	int emulated_root = json_object_object_get_ex(run.raw_verification, "emulated_root", &er) &&
	                    json_object_get_boolean(er);
	const char *product = jsonx_str(run.raw_verification, "product");
	const char *root = jsonx_str(run.raw_verification, "root");
	if (vrc < 0) {
		set_check(C_RAW_REPORT, ST_FAIL, want, "not verified", "%s.%s", e.msg,
		          opt.allow_emulated && !opt.emulated_root
		              ? " For the local demo, pass its virtual root with --emulated-root "
		                "var/public/virtual-ark.pem (the instance is never asked for it)."
		              : "");
	} else {
		char *a = xasprintf("%s, root %s%s", product ? product : "?", root ? root : "?",
		                    emulated_root ? " (EMULATED)" : "");
		set_check(C_RAW_REPORT, emulated_root ? ST_WARN : ST_PASS, want, a,
		          emulated_root ? "EMULATED: the chain ends at the virtual root given with "
		                          "--emulated-root, not at AMD's."
		                        : NULL);
		free(a);
		if (emulated_root)
			note_emulated("the raw report chains to the emulated virtual root");
	}

	char *rd = hex_encode(rep.report_data, 32);
	int bound = !strcmp(rd, run.digest_hex);
	set_check(C_RAW_BINDING, bound ? ST_PASS : ST_FAIL, run.digest_hex, rd,
	          bound ? NULL
	                : "the report's report_data does not start with sha256 of the runtime data "
	                  "sent: it was not made for this request.");
	free(rd);

	/*
	 * Same launch: the fields the host and firmware fix when the guest is launched must
	 * agree between the token and the report.  (REPORT_ID is left out: the local virtual
	 * host draws a new one per report.  Tokens carry no chip id; the report's chip id is
	 * checked against its VCEK certificate above.)
	 */
	struct {
		const char *name, *claim;
		const uint8_t *bytes;
		size_t n;
	} same[] = {
	    {"measurement", "x-ms-sevsnpvm-launchmeasurement", rep.measurement,
	     sizeof(rep.measurement)},
	    {"host_data", "x-ms-sevsnpvm-hostdata", rep.host_data, sizeof(rep.host_data)},
	    {"family_id", "x-ms-sevsnpvm-familyId", rep.family_id, sizeof(rep.family_id)},
	    {"image_id", "x-ms-sevsnpvm-imageId", rep.image_id, sizeof(rep.image_id)},
	    {"id_key_digest", "x-ms-sevsnpvm-idkeydigest", rep.id_key_digest,
	     sizeof(rep.id_key_digest)},
	    {"author_key_digest", "x-ms-sevsnpvm-authorkeydigest", rep.author_key_digest,
	     sizeof(rep.author_key_digest)},
	};
	struct buf diff;
	buf_init(&diff);
	for (size_t i = 0; i < NELEM(same); i++) {
		char *h = hex_encode(same[i].bytes, same[i].n);
		const char *t = jsonx_str(run.claims, same[i].claim);
		if (!t || strcasecmp(t, h))
			buf_appendf(&diff, "%s%s: report %s, token %s", diff.len ? "; " : "",
			            same[i].name, h, t ? t : "(missing)");
		free(h);
	}
	long long svn = -1;
	if (!jsonx_int(run.claims, "x-ms-sevsnpvm-guestsvn", &svn) ||
	    svn != (long long)rep.guest_svn)
		buf_appendf(&diff, "%sguest_svn: report %u, token %lld", diff.len ? "; " : "",
		            rep.guest_svn, svn);
	struct json_object *dbg = NULL;
	int tdebug = json_object_object_get_ex(run.claims, "x-ms-sevsnpvm-is-debuggable", &dbg) &&
	             json_object_get_boolean(dbg);
	int rdebug = (rep.policy & SNP_POLICY_DEBUG) != 0;
	if (tdebug != rdebug)
		buf_appendf(&diff, "%sdebug policy bit: report %d, token %d", diff.len ? "; " : "",
		            rdebug, tdebug);
	const char *fields = "launch fields";
	if (diff.len) {
		set_check(C_RAW_LAUNCH, ST_FAIL, fields, "differ",
		          "the raw report and the token describe different guests (%s): the "
		          "instance relayed evidence of another launch.",
		          (const char *)diff.p);
	} else {
		char *chip = hex_encode(rep.chip_id, sizeof(rep.chip_id));
		char *a = xasprintf("same (chip %.12s…)", chip);
		set_check(C_RAW_LAUNCH, ST_PASS, fields, a, NULL);
		free(a);
		free(chip);
	}
	buf_free(&diff);
out:
	snp_roots_free(roots);
	free(pem);
	free(tcbm);
	json_object_put(ans);
	free(body);
	free(url);
}

/* ---- verdict and output ---- */

static const char *verdict_word(int code)
{
	if (code == EXIT_VERIFIED)
		return run.emulated ? "VERIFIED (EMULATED)" : "VERIFIED";
	if (code == EXIT_SERVICE)
		return run.emulated ? "COULD NOT VERIFY (EMULATED)" : "COULD NOT VERIFY";
	return run.emulated ? "NOT VERIFIED (EMULATED)" : "NOT VERIFIED";
}

static int exit_code(void)
{
	if (any_status(ST_FAIL))
		return EXIT_FAILED;
	if (any_status(ST_ERROR))
		return EXIT_SERVICE;
	if (!run.pinned)
		return EXIT_FAILED;
	for (int i = 0; i < C_COUNT; i++)
		if (checks[i].st == ST_SKIP && (!checks[i].raw_only || opt.raw))
			return EXIT_FAILED; /* cannot happen: every path sets a status */
	return EXIT_VERIFIED;
}

static char *verdict_text(int code)
{
	struct buf b;
	buf_init(&b);
	buf_appendf(&b, "%s: ", verdict_word(code));
	if (code == EXIT_VERIFIED) {
		buf_appendf(&b,
		            "%s runs the pinned policy (host_data %.16s…) in %s, attested by %s "
		            "for a nonce made here just now",
		            run.base, run.expected_hostdata,
		            run.emulated
		                ? "an EMULATED SEV-SNP TEE (the local demo's virtual host: "
		                  "not real hardware; accepted because of --allow-emulated)"
		                : "a genuine AMD SEV-SNP TEE",
		            run.issuer);
		if (opt.raw)
			buf_appendf(&b, "; its raw report checks against %s",
			            run.emulated ? "the emulated root" : "AMD's pinned roots");
		buf_appendf(&b, ".");
	} else if (code == EXIT_SERVICE) {
		buf_appendf(&b, "%s. Nothing was proven either way; try again.",
		            run.error_fix ? run.error_fix : "a service did not answer");
	} else if (!any_status(ST_FAIL) && !run.pinned) {
		buf_appendf(&b,
		            "every check passed, but the policy was NOT pinned: %s runs host_data "
		            "%s in %s TEE. Give --policy FILE or --expect-hostdata HEX to prove it "
		            "is the policy you expect.",
		            run.base, checks[C_HOSTDATA].actual ? checks[C_HOSTDATA].actual : "?",
		            run.emulated ? "an EMULATED" : "a SEV-SNP");
	} else {
		int n = 0;
		for (int i = 0; i < C_COUNT; i++)
			if (checks[i].st == ST_FAIL)
				n++;
		buf_appendf(&b, "%d check%s failed:", n, n == 1 ? "" : "s");
		for (int i = 0, k = 0; i < C_COUNT; i++)
			if (checks[i].st == ST_FAIL)
				buf_appendf(&b, "%s %s", k++ ? "," : "", checks[i].id);
		buf_appendf(&b, ". Do not trust %s with anything that needs the TEE.", run.base);
	}
	char *s = buf_steal(&b, NULL);
	char *p = printable(s, DETAIL_MAX);
	free(s);
	return p;
}

#define W_LABEL  22
#define W_EXPECT 24
#define W_ACTUAL 38

static void print_human(int code)
{
	printf("attest-check %s  (nothing the instance says is trusted)\n", run.base);
	printf("  nonce         %s (fresh, random, made here)\n", run.nonce);
	if (run.have_policy)
		printf("  policy        %s: %s%s%s -> host_data %s\n", opt.policy_file,
		       ccepolicy_form_name(run.policy.form), run.policy.where ? " at " : "",
		       run.policy.where ? run.policy.where : "", run.expected_hostdata);
	else if (run.pinned)
		printf("  policy        --expect-hostdata %s\n", run.expected_hostdata);
	else
		printf("  policy        NOT PINNED (no --policy or --expect-hostdata)\n");
	if (run.jwks_uri) {
		char *k = printable(run.jwks_uri, SHOWN_MAX);
		printf("  signing keys  %s (fetched from the attestation service itself)\n", k);
		free(k);
	}
	printf("\n     ");
	pad("check", W_LABEL);
	printf("  ");
	pad("expected", W_EXPECT);
	printf("  actual\n");
	for (int i = 0; i < C_COUNT; i++) {
		struct check *c = &checks[i];
		if (c->raw_only && !opt.raw)
			continue;
		char *ex = fit(c->expected ? c->expected : "", W_EXPECT);
		char *ac = fit(c->st == ST_SKIP ? "(not checked)"
		               : c->actual      ? c->actual
		                                : "",
		               W_ACTUAL);
		printf("  %s  ", mark(c->st));
		pad(c->label, W_LABEL);
		printf("  ");
		pad(ex, W_EXPECT);
		printf("  %s\n", ac);
		free(ex);
		free(ac);
	}
	int notes = 0;
	for (int i = 0; i < C_COUNT; i++) {
		struct check *c = &checks[i];
		if (!c->detail || (c->raw_only && !opt.raw))
			continue;
		if (!notes++)
			printf("\n");
		char *first = xasprintf("  %s %s:", mark(c->st), c->id);
		print_wrapped(first, c->detail, 6);
		free(first);
	}
	printf("\n  (✓ passed  ✗ failed  ! accepted with a warning  ? could not check  – not "
	       "checked)\n");
	char *v = verdict_text(code);
	putchar('\n');
	print_wrapped("", v, 2);
	free(v);
}

static void print_json(int code)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array(),
	                   *failed = json_object_new_array();
	jsonx_add_str(o, "verdict", verdict_word(code));
	jsonx_add_bool(o, "verified", code == EXIT_VERIFIED);
	jsonx_add_bool(o, "emulated", run.emulated);
	char *v = verdict_text(code);
	jsonx_add_str(o, "summary", v);
	free(v);
	jsonx_add_int(o, "exit_code", code);
	jsonx_add_str(o, "url", run.base);
	jsonx_add_str(o, "nonce", run.nonce);
	jsonx_add_str(o, "runtime_data", run.runtime_b64);
	jsonx_add_str(o, "issuer", run.issuer);
	jsonx_add_str(o, "jwks_uri", run.jwks_uri);
	struct json_object *p = json_object_new_object();
	jsonx_add_bool(p, "pinned", run.pinned);
	jsonx_add_str(p, "expected_hostdata", run.pinned ? run.expected_hostdata : NULL);
	jsonx_add_str(p, "file", run.have_policy ? opt.policy_file : NULL);
	jsonx_add_str(p, "form",
	              run.have_policy ? ccepolicy_form_name(run.policy.form)
	              : run.pinned    ? "--expect-hostdata"
	                              : NULL);
	jsonx_add_str(p, "where", run.have_policy ? run.policy.where : NULL);
	jsonx_add(o, "policy", p);
	for (int i = 0; i < C_COUNT; i++) {
		struct check *c = &checks[i];
		if (c->raw_only && !opt.raw)
			continue;
		struct json_object *k = json_object_new_object();
		jsonx_add_str(k, "id", c->id);
		jsonx_add_str(k, "label", c->label);
		jsonx_add_str(k, "status", status_name(c->st));
		jsonx_add_bool(k, "ok", c->st == ST_PASS || c->st == ST_WARN);
		jsonx_add_str(k, "expected", c->expected);
		jsonx_add_str(k, "actual", c->actual);
		jsonx_add_str(k, "detail", c->detail);
		json_object_array_add(arr, k);
		if (c->st == ST_FAIL)
			json_object_array_add(failed, json_object_new_string(c->id));
	}
	jsonx_add(o, "checks", arr);
	jsonx_add(o, "failed_checks", failed);
	jsonx_add(o, "claims", run.claims ? json_object_get(run.claims) : NULL);
	jsonx_add(o, "instance_error",
	          run.instance_error ? json_object_get(run.instance_error) : NULL);
	if (opt.raw)
		jsonx_add(o, "report_verification",
		          run.raw_verification ? json_object_get(run.raw_verification) : NULL);
	char *s = jsonx_dump_pretty(o);
	printf("%s\n", s);
	free(s);
	json_object_put(o);
}

int main(int argc, char **argv)
{
	int rc = parse_args(argc, argv);
	if (rc)
		return rc;
	if (make_nonce() < 0)
		return EXIT_SERVICE;

	char *jwt = NULL;
	struct json_object *jwks = NULL;
	struct jwt j = {0};
	get_token(&jwt);
	if (jwt) {
		struct err e = {0};
		if (jwt_parse(jwt, &j, &e) < 0) {
			set_check(C_TOKEN, ST_FAIL, "a JWT", "not a JWT",
			          "attestation_token is not a compact JWS: %s.", e.msg);
		} else {
			char *a = xasprintf("JWT, %zu bytes", strlen(jwt));
			set_check(C_TOKEN, ST_PASS, "a JWT", a, NULL);
			free(a);
			/* Unverified: only used to find where to get the keys. */
			const char *iss = jsonx_str(j.payload, "iss");
			int keys = get_keys(iss, &jwks) == 0;
			/* Refusing on an unverified claim is safe (accepting one is not): a token
			 * naming another issuer is wrong whatever its signature says. */
			if (keys && (!iss || strcmp(iss, run.issuer)))
				issuer_check(iss);
			if (keys && check_signature(&j, jwks) == 0) {
				run.claims = json_object_get(j.payload);
				check_claims(run.claims);
				if (!any_status(ST_FAIL)) {
					/* The project's own verifier must agree with the checks
					 * above. */
					struct json_object *again = NULL;
					if (jwt_verify_with_jwks(jwt, jwks, run.issuer, now_unix(),
					                         &again, &e) < 0)
						set_check(C_SIGNATURE, ST_FAIL, "verifies",
						          "rejected",
						          "lib/jwt rejects the token: %s", e.msg);
					json_object_put(again);
				}
				if (opt.raw)
					check_raw();
			}
		}
	}
	check_genuine();
	int code = exit_code();
	if (opt.json)
		print_json(code);
	else
		print_human(code);
	jwt_free(&j);
	json_object_put(jwks);
	free(jwt);
	return code;
}
