#include "maa.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "codec.h"
#include "evidence.h"
#include "fetch.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"

#define MAA_MAX_RESP (256 * 1024)

static char *b64url_pad(const void *p, size_t n)
{
	return b64_encode(p, n, B64_URL, B64_PAD_REQUIRED);
}

static int is_json_object(const uint8_t *p, size_t n)
{
	struct json_object *o = NULL;
	struct err e = {0};
	if (n == 0 || jsonx_parse((const char *)p, n, &o, &e) != 0)
		return 0;
	int ok = json_object_is_type(o, json_type_object);
	json_object_put(o);
	return ok;
}

/* Endorsements = b64url(JSON {"Uvm":[b64url(COSE_Sign1)]}), the sidecar's shape. */
static int endorsements(const char *uvm_b64, char **out, struct err *e)
{
	unsigned char *cose = NULL;
	size_t n = 0;
	size_t len = strlen(uvm_b64);
	if (b64_decode(uvm_b64, len, B64_STD, B64_PAD_ANY, &cose, &n) != 0 &&
	    b64_decode(uvm_b64, len, B64_URL, B64_PAD_ANY, &cose, &n) != 0)
		/* Local state, not the caller's input: a 400 would blame the wrong party. */
		return err_set(e, ERR_INTERNAL,
		               "the UVM endorsement (reference-info-base64 in the security-context "
		               "directory, or UVM_REFERENCE_INFO) is not base64: fix or unset it");
	char *c64 = b64url_pad(cose, n);
	free(cose);
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_string(c64));
	jsonx_add(o, "Uvm", arr);
	char *js = jsonx_dump(o);
	*out = b64url_pad(js, strlen(js));
	free(js);
	free(c64);
	json_object_put(o);
	return 0;
}

/*
 * b64url of the chain and the endorsement, remembered for the text they came from: every
 * attestation sends the same ones, several kilobytes each.
 */
struct memo {
	char *from, *b64;
};
static struct memo chain_memo, endorse_memo;
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

/* A copy of memo's b64 for text, computed by make when text is another. */
static int memo_get(struct memo *m, const char *text,
                    int (*make)(const char *, char **, struct err *), char **out, struct err *e)
{
	pthread_mutex_lock(&memo_lock);
	int rc = 0;
	if (!m->from || strcmp(m->from, text)) {
		char *b = NULL;
		if ((rc = make(text, &b, e)) == 0) {
			free(m->from);
			free(m->b64);
			m->from = xstrdup(text);
			m->b64 = b;
		}
	}
	*out = rc == 0 ? xstrdup(m->b64) : NULL;
	pthread_mutex_unlock(&memo_lock);
	return rc;
}

static int chain_b64(const char *pem, char **out, struct err *e)
{
	(void)e;
	*out = b64url_pad(pem, strlen(pem));
	return 0;
}

/* The strings one after another, in one allocation (not printed: vsnprintf of several
 * kilobytes of %s was a tenth of an attestation call's CPU). */
static char *concat(const char *const *parts, size_t n)
{
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(parts[i]);
	char *out = xmalloc(total), *p = out;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(parts[i]);
		memcpy(p, parts[i], l);
		p += l;
	}
	*p = '\0';
	return out;
}

int maa_request_text(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                     const uint8_t *runtime, size_t runtime_len, const char *uvm_endorsement_b64,
                     uint64_t nonce, char **out, struct err *e)
{
	*out = NULL;
	if (!report || !chain_pem || !*chain_pem)
		return err_set(e, ERR_BAD_REQUEST, "attestation needs a report and its VCEK chain");
	if (!runtime && runtime_len)
		return err_set(e, ERR_INTERNAL, "runtime data pointer is NULL");
	char *endorse = NULL, *chain = NULL;
	if (uvm_endorsement_b64 && *uvm_endorsement_b64 &&
	    memo_get(&endorse_memo, uvm_endorsement_b64, endorsements, &endorse, e) != 0)
		return -1;
	(void)memo_get(&chain_memo, chain_pem, chain_b64, &chain, e);
	/* Written out, not through json-c: every string is base64url (nothing to escape), and
	 * json-c's escaping walked the ten kilobytes byte by byte.  The same text as json-c
	 * writes the object (maa_build_request). */
	char *rep = b64url_pad(report, SNP_REPORT_SIZE);
	const char *const in_parts[] = {"{\"SnpReport\":\"",
	                                rep,
	                                "\",\"VcekCertChain\":\"",
	                                chain,
	                                endorse ? "\",\"Endorsements\":\"" : "",
	                                endorse ? endorse : "",
	                                "\"}"};
	char *inner = concat(in_parts, NELEM(in_parts));
	char *report64 = b64url_pad(inner, strlen(inner));
	char *data64 = b64url_pad(runtime ? (const void *)runtime : "", runtime_len);
	char tail[80];
	snprintf(tail, sizeof(tail),
	         "\"},\"initTimeData\":{\"data\":\"\",\"dataType\":\"\"},\"nonce\":%llu}",
	         (unsigned long long)nonce);
	const char *const parts[] = {"{\"report\":\"",
	                             report64,
	                             "\",\"runtimeData\":{\"data\":\"",
	                             data64,
	                             "\",\"dataType\":\"",
	                             is_json_object(runtime, runtime_len) ? "JSON" : "Binary",
	                             tail};
	*out = concat(parts, NELEM(parts));
	free(inner);
	free(data64);
	free(report64);
	free(rep);
	free(chain);
	free(endorse);
	return 0;
}

int maa_build_request(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                      const uint8_t *runtime, size_t runtime_len, const char *uvm_endorsement_b64,
                      uint64_t nonce, struct json_object **out, struct err *e)
{
	*out = NULL;
	char *text = NULL;
	if (maa_request_text(report, chain_pem, runtime, runtime_len, uvm_endorsement_b64, nonce,
	                     &text, e) != 0)
		return -1;
	int rc = jsonx_parse(text, strlen(text), out, e);
	free(text);
	return rc;
}

static int attest_once(const struct endpoint *maa, const uint8_t report[SNP_REPORT_SIZE],
                       const char *chain_pem, const uint8_t *runtime, size_t runtime_len,
                       const char *uvm_endorsement_b64, char **jwt, struct err *e)
{
	*jwt = NULL;
	if (!maa || !maa->set || !maa->url) {
		err_set(e, ERR_CONFIG,
		        "SKR_MAA_ENDPOINT is empty: set it to the attestation service, "
		        "e.g. sharedeus.eus.attest.azure.net");
		return err_in(e, STAGE_CONFIG);
	}
	uint64_t nonce;
	if (RAND_bytes((unsigned char *)&nonce, sizeof(nonce)) != 1)
		return err_set(e, ERR_INTERNAL, "no randomness for the attestation nonce");
	char *js = NULL;
	if (maa_request_text(report, chain_pem, runtime, runtime_len, uvm_endorsement_b64, nonce,
	                     &js, e) != 0)
		return -1;
	char *url =
	    xasprintf("%s%s?api-version=%s", maa->url, tee_sev_snp.maa_path, MAA_API_VERSION);
	static const char *const hdrs[] = {"Content-Type: application/json",
	                                   "Accept: application/json", NULL};
	struct fetch_req rq = {.method = "POST",
	                       .url = url,
	                       .headers = hdrs,
	                       .body = js,
	                       .body_len = strlen(js),
	                       .max_resp = MAA_MAX_RESP,
	                       /* The same evidence twice gives two equivalent tokens. */
	                       .repeatable = 1};
	struct fetch_resp rs;
	int rc = -1;
	if (fetch(&rq, &rs, e) != 0) {
		err_wrap(e, "attestation service %s (SKR_MAA_ENDPOINT)", maa->url);
		free(js);
		free(url);
		return -1;
	}
	free(js);
	if (rs.status == 200) {
		struct json_object *o = NULL;
		const char *tok;
		if (jsonx_parse((const char *)rs.body.p, rs.body.len, &o, e) != 0 ||
		    !(tok = jsonx_str(o, "token")) || !*tok || strlen(tok) > JWT_MAX_LEN) {
			err_set(e, ERR_UPSTREAM,
			        "attestation service %s answered 200 without a usable \"token\"",
			        maa->url);
			err_upstream(e, 200, NULL, rs.request_id);
		} else {
			*jwt = xstrdup(tok);
			rc = 0;
		}
		json_object_put(o);
	} else {
		char *d = fetch_error_detail(&rs, e);
		const char *reason = http_reason_phrase(rs.status);
		enum err_code c = rs.status == 400                       ? ERR_VERIFY
		                  : rs.status == 401 || rs.status == 403 ? ERR_FORBIDDEN
		                  : rs.status == 429 || rs.status == 502 || rs.status == 503
		                      ? ERR_UNAVAILABLE
		                  : rs.status == 504 ? ERR_TIMEOUT
		                                     : ERR_UPSTREAM;
		if (c == ERR_VERIFY)
			err_set(e, c, "attestation service rejected the evidence: %s",
			        d ? d : "HTTP 400 with no error document");
		else
			err_set(e, c, "attestation service %s answered HTTP %ld%s%s%s%s", maa->url,
			        rs.status, *reason ? " " : "", reason, d ? ": " : "", d ? d : "");
		log_warn("attestation at %s failed: %s", maa->url, e->msg);
		free(d);
	}
	log_debug("attestation call to %s took %.0f ms", maa->url, rs.elapsed_ms);
	fetch_resp_free(&rs);
	free(url);
	return rc;
}

int maa_attest(const struct endpoint *maa, const uint8_t report[SNP_REPORT_SIZE],
               const char *chain_pem, const uint8_t *runtime, size_t runtime_len,
               const char *uvm_endorsement_b64, char **jwt, struct err *e)
{
	if (attest_once(maa, report, chain_pem, runtime, runtime_len, uvm_endorsement_b64, jwt, e) <
	    0)
		return err_in(e, STAGE_ATTESTATION);
	return 0;
}
