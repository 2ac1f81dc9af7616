#include "vsnp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "jsonx.h"
#include "pki.h"

#define VSNP_ORG     "Emulated SEV-SNP (NOT AMD)"
#define VSNP_PRODUCT "Milan-B0"
#define AMD_OID_ARC  "1.3.6.1.4.1.3704.1."

static int mkdir_p(const char *dir, struct err *e)
{
	char *p = xstrdup(dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			free(p);
			return err_set(e, ERR_INTERNAL, "cannot create directory %s: %s", dir,
			               strerror(errno));
		}
		*s = '/';
	}
	int rc = mkdir(p, 0700);
	free(p);
	if (rc < 0 && errno != EEXIST)
		return err_set(e, ERR_INTERNAL, "cannot create directory %s: %s", dir,
		               strerror(errno));
	return 0;
}

static int exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int r = stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
	free(p);
	return r;
}

/* Write dir/name: the private key when key is set, else the certificate. */
static int write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key, struct err *e)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = key ? pki_write_key(path, key, 1, e) : pki_write_cert(path, cert, e);
	free(path);
	return rc;
}

static X509 *load_cert(const char *dir, const char *name, struct err *e)
{
	char *path = xasprintf("%s/%s", dir, name);
	X509 *x = pki_load_cert(path, e);
	free(path);
	return x;
}

static EVP_PKEY *load_key_in(const char *dir, const char *name, struct err *e)
{
	char *path = xasprintf("%s/%s", dir, name);
	EVP_PKEY *k = pki_load_private_key(path, e);
	free(path);
	return k;
}

static X509_NAME *make_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	if (!n ||
	    !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)"Virtual",
	                                -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)VSNP_ORG, -1,
	                                -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	                                0))
		abort();
	return n;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext || !X509_add_ext(x, ext, -1))
		abort();
	X509_EXTENSION_free(ext);
}

static void add_amd_ext(X509 *x, const char *suffix, const unsigned char *der, int n)
{
	char oid[64];
	snprintf(oid, sizeof(oid), AMD_OID_ARC "%s", suffix);
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	if (!o || !os || !ASN1_OCTET_STRING_set(os, der, n))
		abort();
	X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
	if (!ext || !X509_add_ext(x, ext, -1))
		abort();
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
}

/* DER INTEGER for an SPL: 02 01 XX, or 02 02 00 XX when XX >= 0x80. */
static int spl_der(unsigned v, unsigned char out[8])
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	unsigned char *p = out;
	if (!ai || !ASN1_INTEGER_set_uint64(ai, v))
		abort();
	int n = i2d_ASN1_INTEGER(ai, &p);
	ASN1_INTEGER_free(ai);
	if (n <= 0 || n > 8)
		abort();
	return n;
}

static int hwid_der(const uint8_t chip_id[64], unsigned char out[66])
{
	out[0] = 0x04;
	out[1] = 64;
	memcpy(out + 2, chip_id, 64);
	return 66;
}

static void set_serial(X509 *x)
{
	unsigned char r[8];
	if (RAND_bytes(r, sizeof(r)) != 1)
		abort();
	r[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(r, sizeof(r), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		abort();
	BN_free(bn);
}

/* AMD's certificate signature: RSASSA-PSS, SHA-384, MGF1-SHA-384, salt length 48. */
static int sign_pss(X509 *x, EVP_PKEY *key)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = mctx && EVP_DigestSignInit(mctx, &pctx, EVP_sha384(), NULL, key) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1 &&
	         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1 &&
	         X509_sign_ctx(x, mctx) > 0;
	EVP_MD_CTX_free(mctx);
	return ok;
}

static X509 *new_cert(const char *cn, X509 *issuer, EVP_PKEY *pub, long days)
{
	X509 *x = X509_new();
	if (!x || !X509_set_version(x, 2))
		abort();
	set_serial(x);
	X509_NAME *n = make_name(cn);
	if (!X509_set_subject_name(x, n) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_pubkey(x, pub))
		abort();
	X509_NAME_free(n);
	return x;
}

int vsnp_ca_ensure(const char *dir, struct err *e)
{
	if (mkdir_p(dir, e) < 0)
		return -1;
	int lock = pki_lock_dir(dir, e);
	if (lock < 0)
		return -1;
	if (exists(dir, "ark.pem") && exists(dir, "ark.key") && exists(dir, "ask.pem") &&
	    exists(dir, "ask.key")) {
		close(lock);
		return 0;
	}
	int rc = -1;
	EVP_PKEY *ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	EVP_PKEY *ask_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	X509 *ark = NULL, *ask = NULL;
	if (!ark_key || !ask_key) {
		err_set(e, ERR_INTERNAL, "RSA-4096 key generation failed");
		goto out;
	}
	ark = new_cert("ARK-Virtual-Milan", NULL, ark_key, 25 * 365);
	add_ext(ark, NULL, NID_subject_key_identifier, "hash");
	add_ext(ark, NULL, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(ark, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
	ask = new_cert("SEV-Virtual-Milan", ark, ask_key, 25 * 365);
	add_ext(ask, ark, NID_subject_key_identifier, "hash");
	add_ext(ask, ark, NID_authority_key_identifier, "keyid:always");
	add_ext(ask, ark, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
	add_ext(ask, ark, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (!sign_pss(ark, ark_key) || !sign_pss(ask, ark_key)) {
		err_set(e, ERR_INTERNAL, "RSASSA-PSS certificate signing failed");
		goto out;
	}
	/* Keys first: a crash in between leaves no certificate without its key. */
	if (write_pem(dir, "ark.key", NULL, ark_key, e) < 0 ||
	    write_pem(dir, "ask.key", NULL, ask_key, e) < 0 ||
	    write_pem(dir, "ark.pem", ark, NULL, e) < 0 ||
	    write_pem(dir, "ask.pem", ask, NULL, e) < 0)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	X509_free(ark);
	X509_free(ask);
	EVP_PKEY_free(ark_key);
	EVP_PKEY_free(ask_key);
	close(lock);
	return rc;
}

static int ext_equals(X509 *x, const char *suffix, const unsigned char *der, int n)
{
	char oid[64];
	snprintf(oid, sizeof(oid), AMD_OID_ARC "%s", suffix);
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	int idx = o ? X509_get_ext_by_OBJ(x, o, -1) : -1;
	ASN1_OBJECT_free(o);
	if (idx < 0)
		return 0;
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(x, idx));
	return ASN1_STRING_length(v) == n && !memcmp(ASN1_STRING_get0_data(v), der, (size_t)n);
}

struct vcek_exts {
	unsigned char spl[4][8];
	int spl_len[4];
	unsigned char hwid[66];
	int hwid_len;
};

static const char *const spl_oids[4] = {"3.1", "3.2", "3.3", "3.8"};

static void vcek_exts_make(const uint8_t chip_id[64], uint64_t tcb, struct vcek_exts *x)
{
	struct snp_tcb t;
	snp_tcb_decode(tcb, SNP_TCB_MILAN, &t);
	unsigned v[4] = {t.bootloader, t.tee, t.snp, t.microcode};
	for (int i = 0; i < 4; i++)
		x->spl_len[i] = spl_der(v[i], x->spl[i]);
	x->hwid_len = hwid_der(chip_id, x->hwid);
}

/* An existing VCEK is reusable if it is for this chip and TCB, from this ASK, with its key. */
static int vcek_reusable(const char *out_dir, X509 *ask, const struct vcek_exts *want)
{
	struct err ignore;
	if (!exists(out_dir, "vcek.pem") || !exists(out_dir, "vcek.key") ||
	    !exists(out_dir, "thim.json"))
		return 0;
	X509 *v = load_cert(out_dir, "vcek.pem", &ignore);
	EVP_PKEY *k = v ? load_key_in(out_dir, "vcek.key", &ignore) : NULL;
	int ok = v && k && X509_verify(v, X509_get0_pubkey(ask)) == 1 &&
	         X509_check_private_key(v, k) == 1 &&
	         ext_equals(v, "4", want->hwid, want->hwid_len);
	for (int i = 0; ok && i < 4; i++)
		ok = ext_equals(v, spl_oids[i], want->spl[i], want->spl_len[i]);
	X509_free(v);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok;
}

static char *pem_text(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509(b, x))
		abort();
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s = xstrndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

int vsnp_vcek_ensure(const char *ca_dir, const char *out_dir, const uint8_t chip_id[64],
                     uint64_t tcb, struct err *e)
{
	if (vsnp_ca_ensure(ca_dir, e) < 0)
		return -1;
	X509 *ask = load_cert(ca_dir, "ask.pem", e), *ark = NULL, *vcek = NULL;
	EVP_PKEY *ask_key = NULL, *vkey = NULL;
	int rc = -1, lock = -1;
	char *vpem = NULL, *askpem = NULL, *arkpem = NULL, *thim = NULL;
	if (!ask || !(ark = load_cert(ca_dir, "ark.pem", e)) ||
	    !(ask_key = load_key_in(ca_dir, "ask.key", e)))
		goto out;
	if (mkdir_p(out_dir, e) < 0 || (lock = pki_lock_dir(out_dir, e)) < 0)
		goto out;
	struct vcek_exts want = {0};
	vcek_exts_make(chip_id, tcb, &want);
	if (vcek_reusable(out_dir, ask, &want)) {
		rc = 0;
		goto out;
	}
	vkey = EVP_EC_gen("P-384");
	if (!vkey) {
		err_set(e, ERR_INTERNAL, "EC P-384 key generation failed");
		goto out;
	}
	vcek = new_cert("SEV-VCEK", ask, vkey, 7 * 365);
	static const unsigned char struct_version[] = {0x02, 0x01, 0x00};
	unsigned char product[2 + sizeof(VSNP_PRODUCT) - 1];
	product[0] = 0x16; /* IA5String */
	product[1] = (unsigned char)(sizeof(VSNP_PRODUCT) - 1);
	memcpy(product + 2, VSNP_PRODUCT, sizeof(VSNP_PRODUCT) - 1);
	add_amd_ext(vcek, "1", struct_version, sizeof(struct_version));
	add_amd_ext(vcek, "2", product, sizeof(product));
	for (int i = 0; i < 4; i++)
		add_amd_ext(vcek, spl_oids[i], want.spl[i], want.spl_len[i]);
	add_amd_ext(vcek, "4", want.hwid, want.hwid_len);
	if (!sign_pss(vcek, ask_key)) {
		err_set(e, ERR_INTERNAL, "RSASSA-PSS signing of the VCEK failed");
		goto out;
	}
	vpem = pem_text(vcek);
	askpem = pem_text(ask);
	arkpem = pem_text(ark);
	char tcbm[17];
	snp_tcbm_format(tcb, tcbm);
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "vcekCert", vpem);
	jsonx_add_str(o, "tcbm", tcbm);
	char *chain = xasprintf("%s%s", askpem, arkpem);
	jsonx_add_str(o, "certificateChain", chain);
	free(chain);
	jsonx_add_str(o, "cacheControl", "86400");
	thim = jsonx_dump(o);
	json_object_put(o);
	char *tpath = xasprintf("%s/thim.json", out_dir);
	int wrc = write_file_atomic(tpath, thim, strlen(thim), 0644);
	free(tpath);
	if (write_pem(out_dir, "vcek.key", NULL, vkey, e) < 0 ||
	    write_pem(out_dir, "vcek.pem", vcek, NULL, e) < 0)
		goto out;
	if (wrc < 0) {
		err_set(e, ERR_INTERNAL, "cannot write %s/thim.json: %s", out_dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	if (lock >= 0)
		close(lock);
	free(vpem);
	free(askpem);
	free(arkpem);
	free(thim);
	X509_free(ask);
	X509_free(ark);
	X509_free(vcek);
	EVP_PKEY_free(ask_key);
	EVP_PKEY_free(vkey);
	return rc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int vsnp_report_sign(const struct vsnp_launch *l, const uint8_t report_data[64], uint32_t vmpl,
                     EVP_PKEY *vcek, uint8_t out[SNP_REPORT_SIZE], struct err *e)
{
	char group[64] = "";
	size_t glen;
	if (vmpl > 3)
		return err_set(e, ERR_BAD_REQUEST, "vmpl %u is out of range (0..3)", vmpl);
	if (!vcek || EVP_PKEY_get_base_id(vcek) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_group_name(vcek, group, sizeof(group), &glen) ||
	    strcmp(group, "secp384r1") != 0)
		return err_set(e, ERR_INTERNAL, "VCEK signing key is not EC P-384");
	uint32_t version = l->version ? l->version : 3;
	if (version < 2)
		return err_set(e, ERR_BAD_REQUEST, "report version %u is not supported", version);

	uint8_t r[SNP_REPORT_SIZE];
	memset(r, 0, sizeof(r));
	put32(r + 0x000, version);
	put32(r + 0x004, l->guest_svn);
	put64(r + 0x008, l->policy);
	memcpy(r + 0x010, l->family_id, 16);
	memcpy(r + 0x020, l->image_id, 16);
	put32(r + 0x030, vmpl);
	put32(r + 0x034, 1); /* ECDSA P-384 with SHA-384 */
	put64(r + 0x038, l->tcb);
	put64(r + 0x040, 0x3); /* SMT_EN | TSME_EN, like a typical Milan host */
	int author = !all_zero(l->author_key_digest, 48);
	put32(r + 0x048, (uint32_t)author | (uint32_t)SNP_SIGNING_KEY_VCEK << 2);
	memcpy(r + 0x050, report_data, 64);
	memcpy(r + 0x090, l->measurement, 48);
	memcpy(r + 0x0C0, l->host_data, 32);
	memcpy(r + 0x0E0, l->id_key_digest, 48);
	memcpy(r + 0x110, l->author_key_digest, 48);
	if (RAND_bytes(r + 0x140, 32) != 1)
		return err_set(e, ERR_INTERNAL, "no randomness for report_id");
	memset(r + 0x160, 0xff, 32); /* no migration agent */
	put64(r + 0x180, l->tcb);
	if (version >= 3) {
		r[0x188] = 0x19; /* family 19h (Zen 3, Milan) */
		r[0x189] = 0x01;
		r[0x18A] = 0x01;
	}
	memcpy(r + 0x1A0, l->chip_id, 64);
	put64(r + 0x1E0, l->tcb);
	/* Firmware 1.55.21, the first with report version 3. */
	r[0x1E8] = 21;
	r[0x1E9] = 55;
	r[0x1EA] = 1;
	memcpy(r + 0x1EC, r + 0x1E8, 3);
	put64(r + 0x1F0, l->tcb);

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[128];
	size_t dl = sizeof(der);
	ECDSA_SIG *sig = NULL;
	int rc = -1;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha384(), NULL, vcek) != 1 ||
	    EVP_DigestSign(ctx, der, &dl, r, SNP_SIGNED_SIZE) != 1) {
		err_set(e, ERR_INTERNAL, "ECDSA signing failed");
		goto out;
	}
	const unsigned char *p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)dl);
	const BIGNUM *br, *bs;
	if (!sig) {
		err_set(e, ERR_INTERNAL, "ECDSA signature did not decode");
		goto out;
	}
	ECDSA_SIG_get0(sig, &br, &bs);
	if (BN_bn2lebinpad(br, r + 0x2A0, 72) != 72 || BN_bn2lebinpad(bs, r + 0x2E8, 72) != 72) {
		err_set(e, ERR_INTERNAL, "ECDSA signature does not fit");
		goto out;
	}
	memcpy(out, r, SNP_REPORT_SIZE);
	rc = 0;
out:
	ERR_clear_error();
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	return rc;
}
