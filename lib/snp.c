#include "snp.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "codec.h"
#include "jsonx.h"

/* Field offsets (§3 table). */
#define OFF_VERSION           0x000
#define OFF_GUEST_SVN         0x004
#define OFF_POLICY            0x008
#define OFF_FAMILY_ID         0x010
#define OFF_IMAGE_ID          0x020
#define OFF_VMPL              0x030
#define OFF_SIG_ALGO          0x034
#define OFF_CURRENT_TCB       0x038
#define OFF_PLATFORM_INFO     0x040
#define OFF_KEY_INFO          0x048
#define OFF_REPORT_DATA       0x050
#define OFF_MEASUREMENT       0x090
#define OFF_HOST_DATA         0x0C0
#define OFF_ID_KEY_DIGEST     0x0E0
#define OFF_AUTHOR_KEY_DIGEST 0x110
#define OFF_REPORT_ID         0x140
#define OFF_REPORT_ID_MA      0x160
#define OFF_REPORTED_TCB      0x180
#define OFF_CPUID_FAM         0x188
#define OFF_CPUID_MOD         0x189
#define OFF_CPUID_STEP        0x18A
#define OFF_CHIP_ID           0x1A0
#define OFF_COMMITTED_TCB     0x1E0
#define OFF_CURRENT_VER       0x1E8
#define OFF_COMMITTED_VER     0x1EC
#define OFF_LAUNCH_TCB        0x1F0
#define OFF_LAUNCH_MIT        0x1F8
#define OFF_CURRENT_MIT       0x200
#define OFF_SIG_R             0x2A0
#define OFF_SIG_S             0x2E8

#define SNP_MAX_KNOWN_VERSION 5
#define SNP_MAX_CHAIN_CERTS   8
#define AMD_OID_ARC           "1.3.6.1.4.1.3704.1."

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int snp_report_parse(const uint8_t *raw, size_t len, struct snp_report *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!raw || len != SNP_REPORT_SIZE)
		return err_set(e, ERR_BAD_REQUEST,
		               "SEV-SNP report must be exactly %d bytes, got %zu", SNP_REPORT_SIZE,
		               raw ? len : 0);
	out->version = le32(raw + OFF_VERSION);
	if (out->version < 2)
		return err_set(e, ERR_BAD_REQUEST,
		               "SEV-SNP report version %u is not supported (need 2 or later)",
		               out->version);
	out->signature_algo = le32(raw + OFF_SIG_ALGO);
	if (out->signature_algo != 1)
		return err_set(e, ERR_BAD_REQUEST,
		               "SEV-SNP report signature_algo %u is not 1 (ECDSA P-384 SHA-384)",
		               out->signature_algo);
	out->guest_svn = le32(raw + OFF_GUEST_SVN);
	out->policy = le64(raw + OFF_POLICY);
	memcpy(out->family_id, raw + OFF_FAMILY_ID, sizeof(out->family_id));
	memcpy(out->image_id, raw + OFF_IMAGE_ID, sizeof(out->image_id));
	out->vmpl = le32(raw + OFF_VMPL);
	out->current_tcb = le64(raw + OFF_CURRENT_TCB);
	out->platform_info = le64(raw + OFF_PLATFORM_INFO);
	out->key_info = le32(raw + OFF_KEY_INFO);
	out->author_key_en = !!(out->key_info & SNP_KEYINFO_AUTHOR_KEY_EN);
	out->mask_chip_key = !!(out->key_info & SNP_KEYINFO_MASK_CHIP_KEY);
	out->signing_key = (out->key_info >> 2) & 7u;
	memcpy(out->report_data, raw + OFF_REPORT_DATA, sizeof(out->report_data));
	memcpy(out->measurement, raw + OFF_MEASUREMENT, sizeof(out->measurement));
	memcpy(out->host_data, raw + OFF_HOST_DATA, sizeof(out->host_data));
	memcpy(out->id_key_digest, raw + OFF_ID_KEY_DIGEST, sizeof(out->id_key_digest));
	memcpy(out->author_key_digest, raw + OFF_AUTHOR_KEY_DIGEST, sizeof(out->author_key_digest));
	memcpy(out->report_id, raw + OFF_REPORT_ID, sizeof(out->report_id));
	memcpy(out->report_id_ma, raw + OFF_REPORT_ID_MA, sizeof(out->report_id_ma));
	out->reported_tcb = le64(raw + OFF_REPORTED_TCB);
	if (out->version >= 3) {
		out->cpuid_fam_id = raw[OFF_CPUID_FAM];
		out->cpuid_mod_id = raw[OFF_CPUID_MOD];
		out->cpuid_step = raw[OFF_CPUID_STEP];
	}
	memcpy(out->chip_id, raw + OFF_CHIP_ID, sizeof(out->chip_id));
	out->committed_tcb = le64(raw + OFF_COMMITTED_TCB);
	out->current_build = raw[OFF_CURRENT_VER];
	out->current_minor = raw[OFF_CURRENT_VER + 1];
	out->current_major = raw[OFF_CURRENT_VER + 2];
	out->committed_build = raw[OFF_COMMITTED_VER];
	out->committed_minor = raw[OFF_COMMITTED_VER + 1];
	out->committed_major = raw[OFF_COMMITTED_VER + 2];
	out->launch_tcb = le64(raw + OFF_LAUNCH_TCB);
	if (out->version >= 5) {
		out->launch_mit_vector = le64(raw + OFF_LAUNCH_MIT);
		out->current_mit_vector = le64(raw + OFF_CURRENT_MIT);
	}
	memcpy(out->sig_r, raw + OFF_SIG_R, sizeof(out->sig_r));
	memcpy(out->sig_s, raw + OFF_SIG_S, sizeof(out->sig_s));
	return 0;
}

enum snp_tcb_layout snp_report_tcb_layout(const struct snp_report *r)
{
	/* Zen 5 (Turin) is family 0x1A; v2 reports carry no CPUID and predate Turin. */
	return r->version >= 3 && r->cpuid_fam_id == 0x1A ? SNP_TCB_TURIN : SNP_TCB_MILAN;
}

void snp_tcb_decode(uint64_t tcb, enum snp_tcb_layout layout, struct snp_tcb *out)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(tcb >> (8 * i));
	memset(out, 0, sizeof(*out));
	if (layout == SNP_TCB_TURIN) {
		out->fmc = b[0];
		out->bootloader = b[1];
		out->tee = b[2];
		out->snp = b[3];
	} else {
		out->bootloader = b[0];
		out->tee = b[1];
		out->snp = b[6];
	}
	out->microcode = b[7];
}

void snp_tcbm_format(uint64_t tcb, char buf[17])
{
	snprintf(buf, 17, "%016llx", (unsigned long long)tcb);
}

int snp_tcbm_parse(const char *s, uint64_t *out)
{
	if (!s)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (strlen(s) != 16)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		int d = hex_nibble(s[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void add_hex(struct json_object *o, const char *key, const uint8_t *p, size_t n)
{
	char *h = hex_encode(p, n);
	jsonx_add_str(o, key, h);
	free(h);
}

static void add_hex64(struct json_object *o, const char *key, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	jsonx_add_str(o, key, buf);
}

static struct json_object *tcb_json(uint64_t tcb, enum snp_tcb_layout layout)
{
	struct json_object *o = json_object_new_object();
	struct snp_tcb t;
	char tcbm[17];
	snp_tcbm_format(tcb, tcbm);
	snp_tcb_decode(tcb, layout, &t);
	jsonx_add_str(o, "tcbm", tcbm);
	jsonx_add_str(o, "layout", layout == SNP_TCB_TURIN ? "turin" : "milan");
	if (layout == SNP_TCB_TURIN)
		jsonx_add_int(o, "fmc", t.fmc);
	jsonx_add_int(o, "bootloader", t.bootloader);
	jsonx_add_int(o, "tee", t.tee);
	jsonx_add_int(o, "snp", t.snp);
	jsonx_add_int(o, "microcode", t.microcode);
	return o;
}

static struct json_object *policy_json(uint64_t p)
{
	struct json_object *o = json_object_new_object();
	add_hex64(o, "raw", p);
	jsonx_add_int(o, "abi_minor", (long long)(p & 0xff));
	jsonx_add_int(o, "abi_major", (long long)((p >> 8) & 0xff));
	jsonx_add_bool(o, "smt", !!(p & SNP_POLICY_SMT));
	jsonx_add_bool(o, "reserved_bit17", !!(p & SNP_POLICY_RESERVED1));
	jsonx_add_bool(o, "migrate_ma", !!(p & SNP_POLICY_MIGRATE_MA));
	jsonx_add_bool(o, "debug", !!(p & SNP_POLICY_DEBUG));
	jsonx_add_bool(o, "single_socket", !!(p & SNP_POLICY_SINGLE_SOCKET));
	/* Bits 21+ were added by later ABI revisions (1.57/1.58). */
	jsonx_add_bool(o, "cxl_allow", !!(p & (1ULL << 21)));
	jsonx_add_bool(o, "mem_aes_256_xts", !!(p & (1ULL << 22)));
	jsonx_add_bool(o, "rapl_dis", !!(p & (1ULL << 23)));
	jsonx_add_bool(o, "ciphertext_hiding", !!(p & (1ULL << 24)));
	jsonx_add_bool(o, "page_swap_disable", !!(p & (1ULL << 25)));
	return o;
}

static struct json_object *platform_info_json(uint64_t p)
{
	struct json_object *o = json_object_new_object();
	add_hex64(o, "raw", p);
	jsonx_add_bool(o, "smt_en", !!(p & 1));
	jsonx_add_bool(o, "tsme_en", !!(p & 2));
	jsonx_add_bool(o, "ecc_en", !!(p & 4));
	jsonx_add_bool(o, "rapl_dis", !!(p & 8));
	jsonx_add_bool(o, "ciphertext_hiding_en", !!(p & 16));
	jsonx_add_bool(o, "alias_check_complete", !!(p & 32));
	jsonx_add_bool(o, "tio_en", !!(p & 128)); /* SEV-TIO enabled (ABI 1.58) */
	return o;
}

static const char *signing_key_name(unsigned k)
{
	switch (k) {
	case SNP_SIGNING_KEY_VCEK:
		return "vcek";
	case SNP_SIGNING_KEY_VLEK:
		return "vlek";
	case SNP_SIGNING_KEY_NONE:
		return "none";
	default:
		return "reserved";
	}
}

struct json_object *snp_report_json(const struct snp_report *r)
{
	struct json_object *o = json_object_new_object();
	enum snp_tcb_layout layout = snp_report_tcb_layout(r);
	char ver[32];

	jsonx_add_int(o, "version", r->version);
	jsonx_add_bool(o, "version_known", r->version <= SNP_MAX_KNOWN_VERSION);
	jsonx_add_int(o, "guest_svn", r->guest_svn);
	jsonx_add(o, "policy", policy_json(r->policy));
	add_hex(o, "family_id", r->family_id, sizeof(r->family_id));
	add_hex(o, "image_id", r->image_id, sizeof(r->image_id));
	jsonx_add_int(o, "vmpl", r->vmpl);
	jsonx_add_int(o, "signature_algo", r->signature_algo);
	jsonx_add(o, "current_tcb", tcb_json(r->current_tcb, layout));
	jsonx_add(o, "platform_info", platform_info_json(r->platform_info));

	struct json_object *ki = json_object_new_object();
	jsonx_add_int(ki, "raw", r->key_info);
	jsonx_add_bool(ki, "author_key_en", r->author_key_en);
	jsonx_add_bool(ki, "mask_chip_key", r->mask_chip_key);
	jsonx_add_int(ki, "signing_key", r->signing_key);
	jsonx_add_str(ki, "signing_key_name", signing_key_name(r->signing_key));
	jsonx_add(o, "key_info", ki);

	add_hex(o, "report_data", r->report_data, sizeof(r->report_data));
	add_hex(o, "measurement", r->measurement, sizeof(r->measurement));
	add_hex(o, "host_data", r->host_data, sizeof(r->host_data));
	add_hex(o, "id_key_digest", r->id_key_digest, sizeof(r->id_key_digest));
	add_hex(o, "author_key_digest", r->author_key_digest, sizeof(r->author_key_digest));
	add_hex(o, "report_id", r->report_id, sizeof(r->report_id));
	add_hex(o, "report_id_ma", r->report_id_ma, sizeof(r->report_id_ma));
	jsonx_add(o, "reported_tcb", tcb_json(r->reported_tcb, layout));
	jsonx_add_int(o, "cpuid_fam_id", r->cpuid_fam_id);
	jsonx_add_int(o, "cpuid_mod_id", r->cpuid_mod_id);
	jsonx_add_int(o, "cpuid_step", r->cpuid_step);
	add_hex(o, "chip_id", r->chip_id, sizeof(r->chip_id));
	jsonx_add(o, "committed_tcb", tcb_json(r->committed_tcb, layout));
	jsonx_add_int(o, "current_build", r->current_build);
	jsonx_add_int(o, "current_minor", r->current_minor);
	jsonx_add_int(o, "current_major", r->current_major);
	snprintf(ver, sizeof(ver), "%u.%u.%u", r->current_major, r->current_minor,
	         r->current_build);
	jsonx_add_str(o, "current_version", ver);
	jsonx_add_int(o, "committed_build", r->committed_build);
	jsonx_add_int(o, "committed_minor", r->committed_minor);
	jsonx_add_int(o, "committed_major", r->committed_major);
	snprintf(ver, sizeof(ver), "%u.%u.%u", r->committed_major, r->committed_minor,
	         r->committed_build);
	jsonx_add_str(o, "committed_version", ver);
	jsonx_add(o, "launch_tcb", tcb_json(r->launch_tcb, layout));
	if (r->version >= 5) {
		add_hex64(o, "launch_mit_vector", r->launch_mit_vector);
		add_hex64(o, "current_mit_vector", r->current_mit_vector);
	}
	struct json_object *sig = json_object_new_object();
	jsonx_add_str(sig, "algorithm", "ECDSA P-384 SHA-384");
	add_hex(sig, "r_le", r->sig_r, sizeof(r->sig_r));
	add_hex(sig, "s_le", r->sig_s, sizeof(r->sig_s));
	jsonx_add(o, "signature", sig);
	return o;
}

/* ---- loading ------------------------------------------------------------------------- */

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int snp_report_load(const void *data, size_t n, uint8_t out[SNP_REPORT_SIZE], struct err *e)
{
	const char *s = data;
	if (!data)
		n = 0;
	if (n == SNP_REPORT_SIZE) {
		memcpy(out, data, SNP_REPORT_SIZE);
		return 0;
	}
	while (n && is_ws((unsigned char)s[0])) {
		s++;
		n--;
	}
	while (n && is_ws((unsigned char)s[n - 1]))
		n--;
	if (n != 2 * SNP_REPORT_SIZE)
		return err_set(
		    e, ERR_BAD_REQUEST,
		    "SEV-SNP report must be %d raw bytes or %d hex digits, got %zu bytes",
		    SNP_REPORT_SIZE, 2 * SNP_REPORT_SIZE, n);
	uint8_t tmp[SNP_REPORT_SIZE];
	if (hex_decode_fixed(s, tmp, SNP_REPORT_SIZE) < 0)
		return err_set(e, ERR_BAD_REQUEST, "SEV-SNP report hex has a non-hex character");
	memcpy(out, tmp, SNP_REPORT_SIZE);
	return 0;
}

struct chain {
	X509 *vcek, *ask, *ark;
};

static void chain_free(struct chain *c)
{
	X509_free(c->vcek);
	X509_free(c->ask);
	X509_free(c->ark);
	memset(c, 0, sizeof(*c));
}

static int is_self_issued(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

static int key_type(X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	return pk ? EVP_PKEY_get_base_id(pk) : EVP_PKEY_NONE;
}

static void subject_cn(X509 *x, char *buf, size_t n)
{
	buf[0] = '\0';
	if (x &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, (int)n) < 0)
		buf[0] = '\0';
}

/* Read every PEM certificate in text; at most max.  Returns the count or -1. */
static int read_pem_certs(const char *text, size_t len, X509 **out, int max, struct err *e)
{
	if (len > 1024 * 1024)
		return err_set(e, ERR_TOO_LARGE, "certificate chain larger than 1 MiB");
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	if (!bio)
		return err_set(e, ERR_INTERNAL, "out of memory");
	int n = 0;
	ERR_clear_error();
	for (;;) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (!x)
			break;
		if (n == max) {
			X509_free(x);
			for (int i = 0; i < n; i++)
				X509_free(out[i]);
			BIO_free(bio);
			return err_set(e, ERR_BAD_REQUEST, "more than %d certificates in chain",
			               max);
		}
		out[n++] = x;
	}
	unsigned long le = ERR_peek_last_error();
	BIO_free(bio);
	/* Running out of input shows up as "no start line"; anything else is a broken PEM. */
	if (le && !(ERR_GET_LIB(le) == ERR_LIB_PEM && ERR_GET_REASON(le) == PEM_R_NO_START_LINE)) {
		ERR_clear_error();
		for (int i = 0; i < n; i++)
			X509_free(out[i]);
		return err_set(e, ERR_BAD_REQUEST, "malformed PEM certificate (certificate %d)",
		               n + 1);
	}
	ERR_clear_error();
	if (n == 0)
		return err_set(e, ERR_BAD_REQUEST, "no PEM certificate found in chain");
	return n;
}

/* Sort PEM certificates into VCEK (EC key), ARK (self-issued RSA) and ASK (other RSA). */
static int chain_parse(const char *text, size_t len, struct chain *c, struct err *e)
{
	X509 *v[SNP_MAX_CHAIN_CERTS];
	memset(c, 0, sizeof(*c));
	int n = read_pem_certs(text, len, v, SNP_MAX_CHAIN_CERTS, e);
	if (n < 0)
		return -1;
	const char *dup = NULL;
	for (int i = 0; i < n; i++) {
		int t = key_type(v[i]);
		X509 **slot;
		const char *name;
		if (t == EVP_PKEY_EC) {
			slot = &c->vcek;
			name = "VCEK (EC key)";
		} else if ((t == EVP_PKEY_RSA || t == EVP_PKEY_RSA_PSS) && is_self_issued(v[i])) {
			slot = &c->ark;
			name = "ARK (self-issued RSA)";
		} else if (t == EVP_PKEY_RSA || t == EVP_PKEY_RSA_PSS) {
			slot = &c->ask;
			name = "ASK (RSA, issued by another)";
		} else {
			for (int j = i; j < n; j++)
				X509_free(v[j]);
			chain_free(c);
			return err_set(e, ERR_BAD_REQUEST,
			               "certificate %d in chain has neither an EC nor an RSA key",
			               i + 1);
		}
		if (*slot) {
			dup = name;
			X509_free(v[i]);
			continue;
		}
		*slot = v[i];
	}
	if (dup) {
		chain_free(c);
		return err_set(e, ERR_BAD_REQUEST, "chain holds more than one %s", dup);
	}
	if (!c->vcek || !c->ask) {
		const char *missing = !c->vcek ? "VCEK" : "ASK";
		chain_free(c);
		return err_set(e, ERR_BAD_REQUEST, "chain has no %s certificate", missing);
	}
	return 0;
}

static void bio_write_x509(BIO *b, X509 *x)
{
	if (x && !PEM_write_bio_X509(b, x))
		abort();
}

int snp_chain_load(const char *text, size_t len, char **pem, char **tcbm, struct err *e)
{
	*pem = NULL;
	*tcbm = NULL;
	size_t i = 0;
	while (i < len && is_ws((unsigned char)text[i]))
		i++;
	struct buf joined;
	buf_init(&joined);
	if (i < len && text[i] == '{') {
		struct json_object *o;
		if (jsonx_parse(text, len, &o, e) < 0)
			return err_wrap(e, "THIM certificate JSON");
		const char *vcek = jsonx_str(o, "vcekCert");
		const char *rest = jsonx_str(o, "certificateChain");
		const char *t = jsonx_str(o, "tcbm");
		if (!vcek || !rest) {
			json_object_put(o);
			return err_set(e, ERR_BAD_REQUEST,
			               "THIM certificate JSON needs string members vcekCert and "
			               "certificateChain");
		}
		buf_append(&joined, vcek, strlen(vcek));
		buf_append(&joined, "\n", 1);
		buf_append(&joined, rest, strlen(rest));
		if (t)
			*tcbm = xstrdup(t);
		json_object_put(o);
	} else {
		buf_append(&joined, text, len);
	}
	struct chain c;
	if (chain_parse((const char *)joined.p, joined.len, &c, e) < 0) {
		buf_free(&joined);
		free(*tcbm);
		*tcbm = NULL;
		return -1;
	}
	buf_free(&joined);
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		abort();
	bio_write_x509(b, c.vcek);
	bio_write_x509(b, c.ask);
	bio_write_x509(b, c.ark);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	*pem = xstrndup(p, (size_t)n);
	BIO_free(b);
	chain_free(&c);
	return 0;
}

/* ---- roots --------------------------------------------------------------------------- */

struct snp_root {
	X509 *cert;
	int emulated;
	int pinned;
	char cn[128];
};

struct snp_roots {
	struct snp_root *v;
	size_t n;
	unsigned long id; /* new for every set and every change: what the chain cache keys on */
};

static unsigned long roots_next_id(void)
{
	static unsigned long next;
	return __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
}

static int name_looks_emulated(X509 *x)
{
	char *s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	int r = s && (strstr(s, "Virtual") || strstr(s, "Emulated") || strstr(s, "NOT AMD"));
	OPENSSL_free(s);
	return r;
}

static void roots_push(struct snp_roots *r, X509 *x, int emulated, int pinned)
{
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	struct snp_root *t = &r->v[r->n++];
	t->cert = x;
	t->emulated = emulated || name_looks_emulated(x);
	t->pinned = pinned;
	subject_cn(x, t->cn, sizeof(t->cn));
	r->id = roots_next_id();
}

struct snp_roots *snp_roots_new(int with_amd_pins)
{
	static const char *const products[] = {"Milan", "Genoa", "Turin"};
	struct snp_roots *r = xcalloc(1, sizeof(*r));
	r->id = roots_next_id();
	if (!with_amd_pins)
		return r;
	for (size_t i = 0; i < NELEM(products); i++) {
		const char *pem = snp_amd_ark_pem(products[i]);
		BIO *b = BIO_new_mem_buf(pem, -1);
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (!x)
			abort(); /* compiled-in constant: failing to parse it is a build bug */
		roots_push(r, x, 0, 1);
	}
	return r;
}

int snp_roots_add_pem(struct snp_roots *r, const char *pem, size_t len, int emulated, struct err *e)
{
	X509 *v[SNP_MAX_CHAIN_CERTS];
	int n = read_pem_certs(pem, len, v, SNP_MAX_CHAIN_CERTS, e);
	if (n < 0)
		return err_wrap(e, "trusted root");
	for (int i = 0; i < n; i++) {
		int t = key_type(v[i]);
		EVP_PKEY *pk = X509_get0_pubkey(v[i]);
		if ((t != EVP_PKEY_RSA && t != EVP_PKEY_RSA_PSS) || !is_self_issued(v[i]) ||
		    X509_verify(v[i], pk) != 1) {
			char cn[128];
			subject_cn(v[i], cn, sizeof(cn));
			for (int j = 0; j < n; j++)
				X509_free(v[j]);
			ERR_clear_error();
			return err_set(e, ERR_BAD_REQUEST,
			               "trusted root \"%s\" is not a self-signed RSA certificate",
			               cn);
		}
	}
	for (int i = 0; i < n; i++)
		roots_push(r, v[i], emulated, 0);
	return 0;
}

int snp_roots_add_file(struct snp_roots *r, const char *path, int emulated, struct err *e)
{
	struct buf b;
	buf_init(&b);
	if (read_file(path, 1024 * 1024, &b) < 0) {
		buf_free(&b);
		return err_set(e, ERR_BAD_REQUEST, "cannot read trusted root file %s", path);
	}
	int rc = snp_roots_add_pem(r, (const char *)b.p, b.len, emulated, e);
	buf_free(&b);
	if (rc < 0)
		return err_wrap(e, "%s", path);
	return 0;
}

size_t snp_roots_count(const struct snp_roots *r)
{
	return r ? r->n : 0;
}

void snp_roots_free(struct snp_roots *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		X509_free(r->v[i].cert);
	free(r->v);
	free(r);
}

/* ---- verification -------------------------------------------------------------------- */

static const char *const check_names[] = {
    "report_signature", "vcek_signed_by_ask", "ask_signed_by_ark",
    "ark_trusted",      "tcb_matches_vcek",   "chip_id_matches_vcek",
};
enum { CK_SIG, CK_VCEK, CK_ASK, CK_ARK, CK_TCB, CK_CHIP, CK_N };

struct verdict {
	struct json_object *root;
	const char *ek; /* the report's signing key, as the details name it: "VCEK" or "VLEK" */
	const char *ik; /* the key that certifies it: "ASK" (VCEK) or "ASVK" (VLEK) */
	int ok[CK_N];
	int set[CK_N];
};

static void PRINTF_LIKE(4, 5) put_check(struct verdict *v, int which, int ok, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	struct json_object *c = json_object_new_object();
	jsonx_add_bool(c, "ok", ok);
	jsonx_add_str(c, "detail", detail);
	jsonx_add(v->root, check_names[which], c);
	v->ok[which] = ok;
	v->set[which] = 1;
}

/* ECDSA P-384 / SHA-384 over the raw signed bytes; r and s are 72-byte little-endian. */
static int verify_report_sig(const uint8_t *raw, X509 *vcek, const char *ek, char *why, size_t wn)
{
	EVP_PKEY *pk = X509_get0_pubkey(vcek);
	char group[64] = "";
	size_t glen = 0;
	if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) ||
	    strcmp(group, "secp384r1") != 0) {
		snprintf(why, wn, "%s key is not EC P-384 (%s)", ek, group[0] ? group : "not EC");
		return 0;
	}
	int ok = 0;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(raw + OFF_SIG_R, 72, NULL);
	BIGNUM *s = BN_lebin2bn(raw + OFF_SIG_S, 72, NULL);
	unsigned char *der = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!sig || !r || !s || !ctx || !ECDSA_SIG_set0(sig, r, s)) {
		BN_free(r);
		BN_free(s);
		snprintf(why, wn, "out of memory");
		goto out;
	}
	int dl = i2d_ECDSA_SIG(sig, &der);
	if (dl <= 0 || EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, pk) != 1) {
		snprintf(why, wn, "cannot set up ECDSA verification");
		goto out;
	}
	ok = EVP_DigestVerify(ctx, der, (size_t)dl, raw, SNP_SIGNED_SIZE) == 1;
	if (!ok)
		snprintf(why, wn, "ECDSA P-384 signature does not match the %s key", ek);
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* cert signed by issuer_key with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 (AMD's scheme). */
static int verify_pss(X509 *cert, EVP_PKEY *issuer_key, char *why, size_t wn)
{
	int mdnid = NID_undef, pknid = NID_undef;
	uint32_t flags = 0;
	int t = issuer_key ? EVP_PKEY_get_base_id(issuer_key) : EVP_PKEY_NONE;
	if (t != EVP_PKEY_RSA && t != EVP_PKEY_RSA_PSS) {
		snprintf(why, wn, "issuer key is not RSA");
		return 0;
	}
	/* X509_SIG_INFO_TLS for PSS means MGF1 digest == digest and salt length == digest size. */
	if (!X509_get_signature_info(cert, &mdnid, &pknid, NULL, &flags) ||
	    pknid != EVP_PKEY_RSA_PSS || mdnid != NID_sha384 || !(flags & X509_SIG_INFO_TLS)) {
		ERR_clear_error();
		snprintf(why, wn,
		         "not signed with RSASSA-PSS SHA-384, MGF1-SHA-384, salt 48 (sig alg %s)",
		         OBJ_nid2sn(X509_get_signature_nid(cert)));
		return 0;
	}
	int ok = X509_verify(cert, issuer_key) == 1;
	ERR_clear_error();
	if (!ok)
		snprintf(why, wn, "RSASSA-PSS signature does not verify with the issuer's key");
	return ok;
}

static const ASN1_OCTET_STRING *amd_ext(X509 *x, const char *suffix)
{
	char oid[64];
	snprintf(oid, sizeof(oid), AMD_OID_ARC "%s", suffix);
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	if (!o)
		return NULL;
	int idx = X509_get_ext_by_OBJ(x, o, -1);
	ASN1_OBJECT_free(o);
	if (idx < 0)
		return NULL;
	return X509_EXTENSION_get_data(X509_get_ext(x, idx));
}

/* A VCEK SPL: the extension value is a DER INTEGER (02 01 XX, or 02 02 00 XX for >= 0x80). */
static int amd_ext_spl(X509 *x, const char *suffix, int *out)
{
	const ASN1_OCTET_STRING *v = amd_ext(x, suffix);
	if (!v)
		return -1;
	const unsigned char *p = ASN1_STRING_get0_data(v), *start = p;
	long n = ASN1_STRING_length(v);
	ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p, n);
	uint64_t u = 0;
	int ok = ai && p == start + n && ASN1_INTEGER_get_uint64(&u, ai) == 1 && u <= 255;
	ASN1_INTEGER_free(ai);
	ERR_clear_error();
	if (!ok)
		return -1;
	*out = (int)u;
	return 0;
}

/* hwID: an OCTET STRING inside the extension value (AMD), or the bare bytes. */
static int amd_ext_hwid(X509 *x, uint8_t *out, size_t *outlen)
{
	const ASN1_OCTET_STRING *v = amd_ext(x, "4");
	if (!v)
		return -1;
	const unsigned char *p = ASN1_STRING_get0_data(v), *start = p;
	long n = ASN1_STRING_length(v);
	ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, n);
	ERR_clear_error();
	if (os && p == start + n && ASN1_STRING_length(os) <= 64) {
		*outlen = (size_t)ASN1_STRING_length(os);
		memcpy(out, ASN1_STRING_get0_data(os), *outlen);
		ASN1_OCTET_STRING_free(os);
		return 0;
	}
	ASN1_OCTET_STRING_free(os);
	if (n == 64 || n == 8) {
		memcpy(out, start, (size_t)n);
		*outlen = (size_t)n;
		return 0;
	}
	return -1;
}

/* productName "Milan-B0" -> "Milan"; else the ARK CN ("ARK-Milan", "ARK-Virtual-Milan"). */
static void product_name(X509 *vcek, X509 *ark, char *buf, size_t n)
{
	snprintf(buf, n, "unknown");
	const ASN1_OCTET_STRING *v = amd_ext(vcek, "2");
	if (v) {
		const unsigned char *p = ASN1_STRING_get0_data(v);
		ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &p, ASN1_STRING_length(v));
		ERR_clear_error();
		if (s) {
			int len = ASN1_STRING_length(s);
			const unsigned char *d = ASN1_STRING_get0_data(s);
			int k = 0;
			while (k < len && d[k] != '-' && isalnum(d[k]))
				k++;
			if (k > 0) {
				snprintf(buf, n, "%.*s", k, (const char *)d);
				ASN1_IA5STRING_free(s);
				return;
			}
			ASN1_IA5STRING_free(s);
		}
	}
	char cn[128];
	subject_cn(ark, cn, sizeof(cn));
	const char *dash = strrchr(cn, '-');
	if (dash && dash[1])
		snprintf(buf, n, "%s", dash + 1);
}

static const struct snp_root *find_root(const struct snp_roots *roots, X509 *ark, X509 *ask,
                                        int *how)
{
	*how = 0;
	for (size_t i = 0; roots && i < roots->n; i++) {
		const struct snp_root *t = &roots->v[i];
		if (ark) {
			if (X509_cmp(t->cert, ark) == 0) {
				*how = 1;
				return t;
			}
			if (X509_NAME_cmp(X509_get_subject_name(t->cert),
			                  X509_get_subject_name(ark)) == 0 &&
			    EVP_PKEY_eq(X509_get0_pubkey(t->cert), X509_get0_pubkey(ark)) == 1) {
				*how = 2;
				return t;
			}
		} else if (X509_NAME_cmp(X509_get_subject_name(t->cert),
		                         X509_get_issuer_name(ask)) == 0) {
			/* Names are not unique (every virtual CA is "ARK-Virtual-Milan"): the
			 * root must also have signed this ASK. */
			char why[256];
			if (verify_pss(ask, X509_get0_pubkey(t->cert), why, sizeof(why))) {
				*how = 3;
				return t;
			}
		}
	}
	ERR_clear_error();
	return NULL;
}

static void tcb_checks(struct verdict *v, const struct snp_report *rep, X509 *vcek,
                       const char *product)
{
	enum snp_tcb_layout layout = !strcmp(product, "Turin") ? SNP_TCB_TURIN : SNP_TCB_MILAN;
	struct snp_tcb t;
	snp_tcb_decode(rep->reported_tcb, layout, &t);
	struct {
		const char *oid, *name;
		int want;
	} spl[] = {
	    {"3.1", "blSPL", t.bootloader},   {"3.2", "teeSPL", t.tee}, {"3.3", "snpSPL", t.snp},
	    {"3.8", "ucodeSPL", t.microcode}, {"3.9", "fmcSPL", t.fmc},
	};
	size_t nspl = layout == SNP_TCB_TURIN ? 5 : 4;
	char tcbm[17];
	snp_tcbm_format(rep->reported_tcb, tcbm);
	for (size_t i = 0; i < nspl; i++) {
		int got;
		if (amd_ext_spl(vcek, spl[i].oid, &got) < 0) {
			put_check(v, CK_TCB, 0, "%s has no valid %s extension (" AMD_OID_ARC "%s)",
			          v->ek, spl[i].name, spl[i].oid);
			return;
		}
		if (got != spl[i].want) {
			put_check(v, CK_TCB, 0, "reported_tcb %s has %s=%d but the %s is for %s=%d",
			          tcbm, spl[i].name, spl[i].want, v->ek, spl[i].name, got);
			return;
		}
	}
	if (layout == SNP_TCB_TURIN)
		put_check(v, CK_TCB, 1,
		          "reported_tcb %s = %s SPLs (fmc %d, bl %d, tee %d, snp %d, ucode %d)",
		          tcbm, v->ek, t.fmc, t.bootloader, t.tee, t.snp, t.microcode);
	else
		put_check(v, CK_TCB, 1,
		          "reported_tcb %s = %s SPLs (bl %d, tee %d, snp %d, ucode %d)", tcbm,
		          v->ek, t.bootloader, t.tee, t.snp, t.microcode);
}

static void chip_check(struct verdict *v, const struct snp_report *rep, X509 *vcek,
                       const char *product)
{
	uint8_t hw[64];
	size_t hwlen = 0;
	if (rep->mask_chip_key) {
		put_check(v, CK_CHIP, 1, "skipped: MASK_CHIP_KEY is set, chip_id is zeroed");
		return;
	}
	if (amd_ext_hwid(vcek, hw, &hwlen) < 0) {
		if (rep->signing_key == SNP_SIGNING_KEY_VLEK)
			put_check(v, CK_CHIP, 1, "skipped: signed by a VLEK, which has no hwID");
		else
			put_check(v, CK_CHIP, 0,
			          "%s has no valid hwID extension (" AMD_OID_ARC "4)", v->ek);
		return;
	}
	/* Turin VCEKs carry only the first 8 bytes of chip_id as hwID (§3.4; confirmed by a
	 * real Turin v5 report and its VCEK from AMD's KDS). */
	if (hwlen == 64 || (hwlen == 8 && !strcmp(product, "Turin"))) {
		if (!memcmp(hw, rep->chip_id, hwlen))
			put_check(v, CK_CHIP, 1, "chip_id equals the %s hwID (%zu bytes)", v->ek,
			          hwlen);
		else
			put_check(
			    v, CK_CHIP, 0,
			    "chip_id differs from the %s hwID: the %s belongs to another chip",
			    v->ek, v->ek);
		return;
	}
	put_check(v, CK_CHIP, 0, "%s hwID has unexpected length %zu", v->ek, hwlen);
}

/* ---- the per-process chain cache (snp_verify_cached, snp_chain_load_cached) ------------- */

#define CACHE_SLOTS 4

/* What a chain alone decides, remembered for a chain whose three checks passed. */
struct chain_memo {
	char *key; /* the exact chain bytes; NULL = free slot */
	size_t key_len;
	unsigned long roots_id;
	int vlek;   /* the details name the VLEK/ASVK, not the VCEK/ASK */
	X509 *vcek; /* a reference of our own */
	char product[32], cn[128];
	int emulated;
	char detail[3][512]; /* CK_VCEK, CK_ARK, CK_ASK, each ok */
	unsigned long used;
};

/* A chain text snp_chain_load accepted, and what it made of it. */
struct load_memo {
	char *key;
	size_t key_len;
	char *pem, *tcbm;
	unsigned long used;
};

static struct {
	pthread_mutex_t mu;
	struct chain_memo chains[CACHE_SLOTS];
	struct load_memo loads[CACHE_SLOTS];
	unsigned long clock;
	struct snp_cache_stats stats;
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const int memo_checks[3] = {CK_VCEK, CK_ARK, CK_ASK};

/* Under cache.mu: the slot to overwrite (a free one, else the least recently used). */
static size_t lru_slot(const unsigned long *used, const int *free_slot, size_t n)
{
	size_t pick = 0;
	for (size_t i = 0; i < n; i++) {
		if (free_slot[i])
			return i;
		if (used[i] < used[pick])
			pick = i;
	}
	return pick;
}

/* A hit copies the memo into *out, with a reference to its VCEK the caller frees. */
static int chain_memo_find(const char *pem, size_t len, const struct snp_roots *roots, int vlek,
                           struct chain_memo *out)
{
	int hit = 0;
	pthread_mutex_lock(&cache.mu);
	for (size_t i = 0; i < CACHE_SLOTS && !hit; i++) {
		struct chain_memo *m = &cache.chains[i];
		if (m->key && m->key_len == len && m->roots_id == roots->id && m->vlek == vlek &&
		    !memcmp(m->key, pem, len)) {
			m->used = ++cache.clock;
			*out = *m;
			X509_up_ref(m->vcek);
			hit = 1;
		}
	}
	if (hit)
		cache.stats.chain_hits++;
	else
		cache.stats.chain_misses++;
	pthread_mutex_unlock(&cache.mu);
	return hit;
}

static void chain_memo_store(const char *pem, size_t len, const struct snp_roots *roots, X509 *vcek,
                             const char *product, const char *cn, int emulated,
                             const struct verdict *v)
{
	struct chain_memo m = {.key_len = len,
	                       .roots_id = roots->id,
	                       .vlek = !strcmp(v->ek, "VLEK"),
	                       .emulated = emulated};
	snprintf(m.product, sizeof(m.product), "%s", product);
	snprintf(m.cn, sizeof(m.cn), "%s", cn);
	for (int i = 0; i < 3; i++) {
		struct json_object *c = jsonx_obj(v->root, check_names[memo_checks[i]]);
		const char *d = c ? jsonx_str(c, "detail") : NULL;
		snprintf(m.detail[i], sizeof(m.detail[i]), "%s", d ? d : "");
	}
	m.key = xmalloc(len + 1);
	memcpy(m.key, pem, len);
	m.key[len] = '\0';
	X509_up_ref(vcek);
	m.vcek = vcek;
	pthread_mutex_lock(&cache.mu);
	unsigned long used[CACHE_SLOTS];
	int free_slot[CACHE_SLOTS];
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		used[i] = cache.chains[i].used;
		free_slot[i] = !cache.chains[i].key;
	}
	struct chain_memo *slot = &cache.chains[lru_slot(used, free_slot, CACHE_SLOTS)];
	struct chain_memo old = *slot;
	m.used = ++cache.clock;
	*slot = m;
	pthread_mutex_unlock(&cache.mu);
	free(old.key);
	X509_free(old.vcek);
}

int snp_chain_load_cached(const char *text, size_t len, char **pem, char **tcbm, struct err *e)
{
	int hit = 0;
	pthread_mutex_lock(&cache.mu);
	for (size_t i = 0; i < CACHE_SLOTS && !hit; i++) {
		struct load_memo *m = &cache.loads[i];
		if (m->key && m->key_len == len && !memcmp(m->key, text, len)) {
			m->used = ++cache.clock;
			*pem = xstrdup(m->pem);
			*tcbm = m->tcbm ? xstrdup(m->tcbm) : NULL;
			hit = 1;
		}
	}
	if (hit)
		cache.stats.load_hits++;
	else
		cache.stats.load_misses++;
	pthread_mutex_unlock(&cache.mu);
	if (hit)
		return 0;
	if (snp_chain_load(text, len, pem, tcbm, e) < 0)
		return -1;
	struct load_memo m = {.key_len = len, .pem = xstrdup(*pem)};
	m.tcbm = *tcbm ? xstrdup(*tcbm) : NULL;
	m.key = xmalloc(len + 1);
	memcpy(m.key, text, len);
	m.key[len] = '\0';
	pthread_mutex_lock(&cache.mu);
	unsigned long used[CACHE_SLOTS];
	int free_slot[CACHE_SLOTS];
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		used[i] = cache.loads[i].used;
		free_slot[i] = !cache.loads[i].key;
	}
	struct load_memo *slot = &cache.loads[lru_slot(used, free_slot, CACHE_SLOTS)];
	struct load_memo old = *slot;
	m.used = ++cache.clock;
	*slot = m;
	pthread_mutex_unlock(&cache.mu);
	free(old.key);
	free(old.pem);
	free(old.tcbm);
	return 0;
}

void snp_cache_clear(void)
{
	pthread_mutex_lock(&cache.mu);
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		free(cache.chains[i].key);
		X509_free(cache.chains[i].vcek);
		free(cache.loads[i].key);
		free(cache.loads[i].pem);
		free(cache.loads[i].tcbm);
	}
	memset(cache.chains, 0, sizeof(cache.chains));
	memset(cache.loads, 0, sizeof(cache.loads));
	memset(&cache.stats, 0, sizeof(cache.stats));
	pthread_mutex_unlock(&cache.mu);
}

void snp_cache_stats(struct snp_cache_stats *out)
{
	pthread_mutex_lock(&cache.mu);
	*out = cache.stats;
	pthread_mutex_unlock(&cache.mu);
}

/* ---- snp_verify ---------------------------------------------------------------------- */

/* VCEK<-ASK, the ARK against the roots, ASK<-ARK: the checks that depend on the chain alone. */
static void chain_checks(struct verdict *v, const struct chain *c, const struct snp_roots *roots,
                         char *cn, size_t cnsz, int *emulated)
{
	char why[256];
	const struct snp_root *root = NULL;
	if (X509_NAME_cmp(X509_get_issuer_name(c->vcek), X509_get_subject_name(c->ask)) != 0)
		put_check(v, CK_VCEK, 0, "%s issuer name is not the %s subject", v->ek, v->ik);
	else if (verify_pss(c->vcek, X509_get0_pubkey(c->ask), why, sizeof(why)))
		put_check(v, CK_VCEK, 1, "the %s's RSASSA-PSS SHA-384 signature by the %s verifies",
		          v->ek, v->ik);
	else
		put_check(v, CK_VCEK, 0, "%s", why);

	int how;
	root = find_root(roots, c->ark, c->ask, &how);
	if (root) {
		static const char *const hows[] = {"", "is the same certificate as",
		                                   "has the same name and key as",
		                                   "is absent; using"};
		put_check(v, CK_ARK, 1, "chain ARK %s %s root \"%s\"%s", hows[how],
		          root->pinned ? "pinned AMD" : "configured", root->cn,
		          root->emulated ? " (EMULATED, not AMD)" : "");
		snprintf(cn, cnsz, "%s", root->cn);
		*emulated = root->emulated;
	} else {
		char acn[128];
		subject_cn(c->ark, acn, sizeof(acn));
		if (c->ark)
			put_check(v, CK_ARK, 0,
			          "chain ARK \"%s\" is not one of the %zu trusted roots", acn,
			          snp_roots_count(roots));
		else
			put_check(v, CK_ARK, 0,
			          "chain has no ARK and no trusted root issued the %s", v->ik);
		snprintf(cn, cnsz, "%s", acn);
		*emulated = c->ark && name_looks_emulated(c->ark);
	}

	/* Verify the ASK with the trusted root's key when there is one, never only the chain's. */
	X509 *issuer = root ? root->cert : c->ark;
	if (!issuer)
		put_check(v, CK_ASK, 0, "no ARK to check the %s against", v->ik);
	else if (X509_NAME_cmp(X509_get_issuer_name(c->ask), X509_get_subject_name(issuer)) != 0)
		put_check(v, CK_ASK, 0, "%s issuer name is not the ARK subject", v->ik);
	else if (verify_pss(c->ask, X509_get0_pubkey(issuer), why, sizeof(why)))
		put_check(v, CK_ASK, 1, "the %s's RSASSA-PSS SHA-384 signature verifies%s", v->ik,
		          root ? " with the trusted root"
		               : " with the chain's own (untrusted) ARK");
	else
		put_check(v, CK_ASK, 0, "%s", why);
}

static int verify(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                  const struct snp_roots *roots, int use_cache, struct json_object **checks,
                  struct err *e)
{
	struct verdict v = {.root = json_object_new_object(), .ek = "VCEK", .ik = "ASK"};
	struct snp_report rep;
	struct chain c = {0};
	struct chain_memo memo = {0};
	char why[256], product[32] = "unknown", cn[128] = "";
	int rc, parse_failed = 0, emulated = 0, hit = 0;
	struct err perr = {0};
	const char *pem = chain_pem ? chain_pem : "";
	size_t pem_len = strlen(pem);
	X509 *vcek;

	*checks = v.root;
	if (snp_report_parse(report, SNP_REPORT_SIZE, &rep, &perr) < 0) {
		parse_failed = 1;
		goto finish;
	}
	hit = use_cache && roots &&
	      chain_memo_find(pem, pem_len, roots, rep.signing_key == SNP_SIGNING_KEY_VLEK, &memo);
	if (hit) {
		vcek = memo.vcek;
		snprintf(product, sizeof(product), "%s", memo.product);
	} else if (chain_parse(pem, pem_len, &c, &perr) < 0) {
		parse_failed = 1;
		goto finish;
	} else {
		vcek = c.vcek;
		product_name(c.vcek, c.ark, product, sizeof(product));
	}
	if (rep.signing_key == SNP_SIGNING_KEY_VLEK) {
		v.ek = "VLEK";
		v.ik = "ASVK";
	}

	if (rep.signing_key != SNP_SIGNING_KEY_VCEK && rep.signing_key != SNP_SIGNING_KEY_VLEK)
		put_check(&v, CK_SIG, 0, "report is not signed (key_info signing_key=%u)",
		          rep.signing_key);
	else if (verify_report_sig(report, vcek, v.ek, why, sizeof(why)))
		put_check(&v, CK_SIG, 1,
		          "ECDSA P-384 SHA-384 over bytes 0x000-0x29F verifies "
		          "with the %s",
		          v.ek);
	else
		put_check(&v, CK_SIG, 0, "%s", why);

	if (hit) {
		for (int i = 0; i < 3; i++)
			put_check(&v, memo_checks[i], 1, "%s", memo.detail[i]);
		snprintf(cn, sizeof(cn), "%s", memo.cn);
		emulated = memo.emulated;
	} else {
		chain_checks(&v, &c, roots, cn, sizeof(cn), &emulated);
		if (use_cache && roots && v.ok[CK_VCEK] && v.ok[CK_ARK] && v.ok[CK_ASK])
			chain_memo_store(pem, pem_len, roots, c.vcek, product, cn, emulated, &v);
	}

	tcb_checks(&v, &rep, vcek, product);
	chip_check(&v, &rep, vcek, product);

finish:;
	int first = -1;
	for (int i = 0; i < CK_N; i++) {
		if (!v.set[i])
			put_check(&v, i, 0, "not checked: %s", perr.msg);
		if (!v.ok[i] && first < 0)
			first = i;
	}
	jsonx_add_bool(v.root, "verified", first < 0);
	jsonx_add_str(v.root, "product", product);
	jsonx_add_bool(v.root, "emulated_root", emulated);
	jsonx_add_str(v.root, "root", cn);
	chain_free(&c);
	X509_free(memo.vcek);
	if (parse_failed) {
		jsonx_add_str(v.root, "error", perr.msg);
		rc = err_set(e, perr.code ? perr.code : ERR_BAD_REQUEST, "%s", perr.msg);
	} else if (first >= 0) {
		struct json_object *f = jsonx_obj(v.root, check_names[first]);
		rc = err_set(e, ERR_VERIFY, "SEV-SNP evidence failed verification: %s: %s",
		             check_names[first], f ? jsonx_str(f, "detail") : "");
	} else {
		rc = 0;
	}
	return rc;
}

int snp_verify(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
               const struct snp_roots *roots, struct json_object **checks, struct err *e)
{
	return verify(report, chain_pem, roots, 0, checks, e);
}

int snp_verify_cached(const uint8_t report[SNP_REPORT_SIZE], const char *chain_pem,
                      const struct snp_roots *roots, struct json_object **checks, struct err *e)
{
	return verify(report, chain_pem, roots, 1, checks, e);
}
