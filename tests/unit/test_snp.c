/*
 * SEV-SNP report parsing and verification, against the virtual SEV-SNP platform
 * (emulator/lib/vsnp) and a real Milan known-answer report.
 *
 * Fixture provenance (tests/unit/data): snp_milan_report.hex and snp_milan_chain.pem are
 * a genuine AMD Milan report (version 2, tcbm 7308000000000003) and its KDS VCEK, ASK and
 * ARK, as published in the test data of a public SPIRE SEV-SNP node attestor plugin.
 * Their signatures verify with openssl independently of this code.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "codec.h"
#include "jsonx.h"
#include "pki.h"
#include "snp.h"
#include "testlib.h"
#include "vsnp.h"

static char tmp_root[64];
static char ca1[128], ca2[128];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The virtual CAs are made once per test binary: RSA-4096 key generation is slow. */
static const char *ca_dir(int which)
{
	if (!tmp_root[0]) {
		snprintf(tmp_root, sizeof(tmp_root), "/tmp/test_snp.XXXXXX");
		if (!mkdtemp(tmp_root)) {
			perror("mkdtemp");
			exit(1);
		}
		atexit(cleanup);
		snprintf(ca1, sizeof(ca1), "%s/ca1", tmp_root);
		snprintf(ca2, sizeof(ca2), "%s/ca2", tmp_root);
	}
	const char *d = which == 2 ? ca2 : ca1;
	struct err e = {0};
	if (vsnp_ca_ensure(d, &e) < 0) {
		fprintf(stderr, "vsnp_ca_ensure: %s\n", e.msg);
		exit(1);
	}
	return d;
}

static char *slurp(const char *path)
{
	struct buf b;
	buf_init(&b);
	if (read_file(path, 1 << 20, &b) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	return buf_steal(&b, NULL);
}

static char *data_path(const char *name)
{
	const char *d = getenv("TEST_DATA_DIR");
	return xasprintf("%s/%s", d && *d ? d : "tests/unit/data", name);
}

struct inst {
	char *chain; /* VCEK + ASK + ARK PEM */
	char *thim;
	EVP_PKEY *key;
};

static void inst_make(struct inst *in, int ca, const char *name, const uint8_t chip[64],
                      uint64_t tcb)
{
	struct err e = {0};
	const char *cd = ca_dir(ca);
	char *dir = xasprintf("%s/%s", tmp_root, name);
	if (vsnp_vcek_ensure(cd, dir, chip, tcb, &e) < 0) {
		fprintf(stderr, "vsnp_vcek_ensure: %s\n", e.msg);
		exit(1);
	}
	char *p1 = xasprintf("%s/vcek.pem", dir), *p2 = xasprintf("%s/ask.pem", cd),
	     *p3 = xasprintf("%s/ark.pem", cd), *p4 = xasprintf("%s/vcek.key", dir),
	     *p5 = xasprintf("%s/thim.json", dir);
	char *a = slurp(p1), *b = slurp(p2), *c = slurp(p3);
	in->chain = xasprintf("%s%s%s", a, b, c);
	in->thim = slurp(p5);
	in->key = pki_load_private_key(p4, &e);
	if (!in->key)
		exit(1);
	free(a);
	free(b);
	free(c);
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	free(p5);
	free(dir);
}

static void inst_free(struct inst *in)
{
	free(in->chain);
	free(in->thim);
	EVP_PKEY_free(in->key);
}

static struct snp_roots *roots_with(int amd, int ca)
{
	struct snp_roots *r = snp_roots_new(amd);
	struct err e = {0};
	if (ca) {
		char *p = xasprintf("%s/ark.pem", ca_dir(ca));
		int rc = snp_roots_add_file(r, p, 1, &e);
		CHECK_MSG(rc == 0, "%s", e.msg);
		free(p);
	}
	return r;
}

static const uint64_t TCB = 0x7308000000000003ULL;

static void fill_launch(struct vsnp_launch *l, const uint8_t chip[64])
{
	memset(l, 0, sizeof(*l));
	l->version = 3;
	l->guest_svn = 7;
	l->policy = 0x30000 | SNP_POLICY_SINGLE_SOCKET | 0x0201;
	for (int i = 0; i < 16; i++) {
		l->family_id[i] = (uint8_t)(0x10 + i);
		l->image_id[i] = (uint8_t)(0x20 + i);
	}
	l->tcb = TCB;
	for (int i = 0; i < 48; i++) {
		l->measurement[i] = (uint8_t)(0x40 + i);
		l->id_key_digest[i] = (uint8_t)(0x80 + i);
		l->author_key_digest[i] = (uint8_t)(0xC0 + i / 2);
	}
	for (int i = 0; i < 32; i++)
		l->host_data[i] = (uint8_t)(0xA0 + i);
	memcpy(l->chip_id, chip, 64);
}

static void chip_of(uint8_t chip[64], uint8_t seed)
{
	for (int i = 0; i < 64; i++)
		chip[i] = (uint8_t)(seed * 3 + i);
}

static void sign_ok(const struct vsnp_launch *l, EVP_PKEY *key, uint8_t out[SNP_REPORT_SIZE])
{
	uint8_t rd[64];
	struct err e = {0};
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0xFF - i);
	int rc = vsnp_report_sign(l, rd, 1, key, out, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
}

/* Re-sign a modified report with the VCEK key (to test fields the launch struct cannot set). */
static void resign(uint8_t r[SNP_REPORT_SIZE], EVP_PKEY *key)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[128];
	size_t dl = sizeof(der);
	CHECK(EVP_DigestSignInit(ctx, NULL, EVP_sha384(), NULL, key) == 1);
	CHECK(EVP_DigestSign(ctx, der, &dl, r, SNP_SIGNED_SIZE) == 1);
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dl);
	const BIGNUM *br, *bs;
	ECDSA_SIG_get0(sig, &br, &bs);
	CHECK(BN_bn2lebinpad(br, r + 0x2A0, 72) == 72);
	CHECK(BN_bn2lebinpad(bs, r + 0x2E8, 72) == 72);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
}

static int check_ok(struct json_object *c, const char *name)
{
	struct json_object *o = jsonx_obj(c, name), *ok;
	return o && json_object_object_get_ex(o, "ok", &ok) && json_object_get_boolean(ok);
}

static int verified(struct json_object *c)
{
	struct json_object *v;
	return json_object_object_get_ex(c, "verified", &v) && json_object_get_boolean(v);
}

static int emulated(struct json_object *c)
{
	struct json_object *v;
	return json_object_object_get_ex(c, "emulated_root", &v) && json_object_get_boolean(v);
}

/* Run snp_verify; returns its rc and leaves the checks in *out (caller puts). */
static int run_verify(const uint8_t *r, const char *chain, const struct snp_roots *roots,
                      struct json_object **out, struct err *e)
{
	int rc = snp_verify(r, chain, roots, out, e);
	CHECK(*out != NULL);
	CHECK_INT(verified(*out), rc == 0);
	if (rc < 0)
		CHECK(e->code == ERR_VERIFY || e->code == ERR_BAD_REQUEST);
	/* The opt-in chain cache gives the same verdict, word for word, on a miss and a hit. */
	const char *want = json_object_to_json_string(*out);
	for (int i = 0; i < 2; i++) {
		struct json_object *c2 = NULL;
		struct err e2 = {0};
		int rc2 = snp_verify_cached(r, chain, roots, &c2, &e2);
		CHECK_INT(rc2, rc);
		CHECK_STR(c2 ? json_object_to_json_string(c2) : "(none)", want);
		if (rc < 0)
			CHECK_STR(e2.msg, e->msg);
		json_object_put(c2);
	}
	return rc;
}

/* snp_verify_cached and the cache counters; returns rc, puts the checks in *out. */
static int run_cached(const uint8_t *r, const char *chain, const struct snp_roots *roots,
                      struct json_object **out, struct snp_cache_stats *st)
{
	struct err e = {0};
	int rc = snp_verify_cached(r, chain, roots, out, &e);
	snp_cache_stats(st);
	return rc;
}

static void test_pinned_amd_arks(void)
{
	static const char *const p[] = {"Milan", "Genoa", "Turin"};
	for (size_t i = 0; i < 3; i++) {
		const char *pem = snp_amd_ark_pem(p[i]);
		CHECK(pem != NULL);
		BIO *b = BIO_new_mem_buf(pem, -1);
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
		CHECK(x != NULL);
		if (!x)
			continue;
		char cn[64], want[64];
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
		snprintf(want, sizeof(want), "ARK-%s", p[i]);
		CHECK_STR(cn, want);
		CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0);
		CHECK(X509_verify(x, X509_get0_pubkey(x)) == 1);
		int md = 0, pk = 0;
		uint32_t fl = 0;
		CHECK(X509_get_signature_info(x, &md, &pk, NULL, &fl) == 1);
		CHECK_INT(pk, EVP_PKEY_RSA_PSS);
		CHECK_INT(md, NID_sha384);
		CHECK(fl & X509_SIG_INFO_TLS); /* MGF1-SHA-384, salt 48 */
		CHECK_INT(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 4096);
		X509_free(x);
	}
	CHECK(snp_amd_ark_pem("Bergamo") == NULL);
	CHECK(snp_amd_ark_pem(NULL) == NULL);
	struct snp_roots *r = snp_roots_new(1);
	CHECK_INT(snp_roots_count(r), 3);
	snp_roots_free(r);
	r = snp_roots_new(0);
	CHECK_INT(snp_roots_count(r), 0);
	snp_roots_free(r);
}

static void test_real_milan_known_answer(void)
{
	char *rp = data_path("snp_milan_report.hex"), *cp = data_path("snp_milan_chain.pem");
	char *hex = slurp(rp), *chain_text = slurp(cp);
	uint8_t raw[SNP_REPORT_SIZE];
	struct err e = {0};
	CHECK(snp_report_load(hex, strlen(hex), raw, &e) == 0);
	struct snp_report r;
	CHECK(snp_report_parse(raw, sizeof(raw), &r, &e) == 0);
	CHECK_INT(r.version, 2);
	CHECK(r.reported_tcb == 0x7308000000000003ULL);
	CHECK_INT(r.policy, 0x30000);
	CHECK_INT(r.chip_id[0], 0x20);
	CHECK_INT(r.chip_id[63], 0xba);
	CHECK_INT(r.current_major, 1);
	CHECK_INT(r.current_minor, 52);
	CHECK_INT(r.current_build, 4);

	char *pem = NULL, *tcbm = NULL;
	CHECK(snp_chain_load(chain_text, strlen(chain_text), &pem, &tcbm, &e) == 0);
	CHECK(tcbm == NULL);
	struct snp_roots *amd = snp_roots_new(1);
	struct json_object *c = NULL;
	int rc = run_verify(raw, pem, amd, &c, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	CHECK_STR(jsonx_str(c, "product"), "Milan");
	CHECK_STR(jsonx_str(c, "root"), "ARK-Milan");
	CHECK(!emulated(c));
	json_object_put(c);

	/* No trusted roots: everything else still checks, but the ARK is not trusted. */
	struct snp_roots *none = snp_roots_new(0);
	rc = run_verify(raw, pem, none, &c, &e);
	CHECK(rc < 0);
	CHECK(!check_ok(c, "ark_trusted"));
	CHECK(check_ok(c, "report_signature"));
	CHECK(strstr(e.msg, "ark_trusted") != NULL);
	json_object_put(c);

	raw[0x50] ^= 1; /* report_data */
	rc = run_verify(raw, pem, amd, &c, &e);
	CHECK(rc < 0);
	CHECK(!check_ok(c, "report_signature"));
	CHECK(check_ok(c, "ark_trusted"));
	json_object_put(c);

	snp_roots_free(amd);
	snp_roots_free(none);
	free(pem);
	free(hex);
	free(chain_text);
	free(rp);
	free(cp);
}

static void test_virtual_good_report(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	sign_ok(&l, in.key, raw);

	struct err e = {0};
	struct snp_roots *roots = roots_with(1, 1);
	struct json_object *c = NULL;
	int rc = run_verify(raw, in.chain, roots, &c, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	CHECK(emulated(c));
	CHECK_STR(jsonx_str(c, "product"), "Milan");
	CHECK_STR(jsonx_str(c, "root"), "ARK-Virtual-Milan");
	json_object_put(c);

	struct snp_report r;
	CHECK(snp_report_parse(raw, sizeof(raw), &r, &e) == 0);
	CHECK_INT(r.version, 3);
	CHECK_INT(r.guest_svn, 7);
	CHECK(r.policy == l.policy);
	CHECK(!memcmp(r.family_id, l.family_id, 16));
	CHECK(!memcmp(r.image_id, l.image_id, 16));
	CHECK_INT(r.vmpl, 1);
	CHECK_INT(r.signature_algo, 1);
	CHECK(r.current_tcb == TCB && r.reported_tcb == TCB && r.committed_tcb == TCB &&
	      r.launch_tcb == TCB);
	CHECK(!memcmp(r.measurement, l.measurement, 48));
	CHECK(!memcmp(r.host_data, l.host_data, 32));
	CHECK(!memcmp(r.chip_id, chip, 64));
	CHECK(!memcmp(r.id_key_digest, l.id_key_digest, 48));
	CHECK(!memcmp(r.author_key_digest, l.author_key_digest, 48));
	CHECK_INT(r.author_key_en, 1);
	CHECK_INT(r.mask_chip_key, 0);
	CHECK_INT(r.signing_key, SNP_SIGNING_KEY_VCEK);
	CHECK_INT(r.report_data[0], 0xFF);
	CHECK_INT(r.report_data[63], 0xFF - 63);
	CHECK_INT(r.cpuid_fam_id, 0x19);
	CHECK_INT(r.report_id_ma[0], 0xFF);
	CHECK_INT(r.launch_mit_vector, 0);

	/* JSON: decoded policy, TCB in tcbm form, key_info. */
	struct json_object *j = snp_report_json(&r);
	struct json_object *pol = jsonx_obj(j, "policy"), *v;
	CHECK(json_object_object_get_ex(pol, "single_socket", &v) && json_object_get_boolean(v));
	CHECK(json_object_object_get_ex(pol, "debug", &v) && !json_object_get_boolean(v));
	long long n = -1;
	CHECK(jsonx_int(pol, "abi_major", &n) && n == 2);
	CHECK(jsonx_int(pol, "abi_minor", &n) && n == 1);
	CHECK_STR(jsonx_str(jsonx_obj(j, "reported_tcb"), "tcbm"), "7308000000000003");
	CHECK(jsonx_int(jsonx_obj(j, "reported_tcb"), "microcode", &n) && n == 0x73);
	CHECK_STR(jsonx_str(jsonx_obj(j, "key_info"), "signing_key_name"), "vcek");
	char *hd = hex_encode(l.host_data, 32);
	CHECK_STR(jsonx_str(j, "host_data"), hd);
	free(hd);
	CHECK(json_object_object_get_ex(j, "version_known", &v) && json_object_get_boolean(v));
	CHECK(!json_object_object_get_ex(j, "launch_mit_vector", &v));
	json_object_put(j);

	/* Same report, only the AMD pins: the virtual root is not trusted. */
	struct snp_roots *amd = snp_roots_new(1);
	rc = run_verify(raw, in.chain, amd, &c, &e);
	CHECK(rc < 0);
	CHECK_INT(e.code, ERR_VERIFY);
	CHECK(!check_ok(c, "ark_trusted"));
	CHECK(check_ok(c, "report_signature"));
	CHECK(emulated(c)); /* the untrusted chain ARK still says what it is */
	CHECK(strstr(e.msg, "ark_trusted") != NULL);
	json_object_put(c);
	snp_roots_free(amd);

	/* A root added without the emulated flag is still marked emulated by its name. */
	struct snp_roots *r2 = snp_roots_new(0);
	char *ap = xasprintf("%s/ark.pem", ca_dir(1));
	CHECK(snp_roots_add_file(r2, ap, 0, &e) == 0);
	rc = run_verify(raw, in.chain, r2, &c, &e);
	CHECK(rc == 0);
	CHECK(emulated(c));
	json_object_put(c);
	snp_roots_free(r2);
	free(ap);

	snp_roots_free(roots);
	inst_free(&in);
}

static void test_tampering(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE], t[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	sign_ok(&l, in.key, raw);
	struct snp_roots *roots = roots_with(0, 1);
	struct err e = {0};
	struct json_object *c;
	static const size_t flips[] = {0x2A0 + 5, 0x2E8 + 47, 0x0C0 + 3,  0x090, 0x050 + 63,
	                               0x004,     0x180,      0x1A0 + 10, 0x29F};
	for (size_t i = 0; i < NELEM(flips); i++) {
		memcpy(t, raw, sizeof(t));
		t[flips[i]] ^= 0x01;
		int rc = run_verify(t, in.chain, roots, &c, &e);
		CHECK_MSG(rc < 0, "flip at 0x%zx verified", flips[i]);
		CHECK_MSG(!check_ok(c, "report_signature"), "flip at 0x%zx", flips[i]);
		json_object_put(c);
	}
	/* Bytes after the signature are not signed (reserved). */
	memcpy(t, raw, sizeof(t));
	t[0x330] ^= 1;
	CHECK(run_verify(t, in.chain, roots, &c, &e) == 0);
	json_object_put(c);
	/* The high 24 bytes of r must be zero: a set bit makes r >= n. */
	memcpy(t, raw, sizeof(t));
	t[0x2A0 + 71] = 0x01;
	CHECK(run_verify(t, in.chain, roots, &c, &e) < 0);
	json_object_put(c);
	snp_roots_free(roots);
	inst_free(&in);
}

static void test_wrong_chain(void)
{
	uint8_t chip[64], chip2[64], raw[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	chip_of(chip2, 2);
	struct inst good, other_chip, other_ca;
	inst_make(&good, 1, "good", chip, TCB);
	inst_make(&other_chip, 1, "chip2", chip2, TCB);
	inst_make(&other_ca, 2, "ca2-chip1", chip, TCB);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	sign_ok(&l, good.key, raw);
	struct err e = {0};
	struct json_object *c;
	struct snp_roots *roots = roots_with(1, 1);

	/* VCEK of another chip under the same CA: wrong key and wrong hwID. */
	CHECK(run_verify(raw, other_chip.chain, roots, &c, &e) < 0);
	CHECK(!check_ok(c, "report_signature"));
	CHECK(!check_ok(c, "chip_id_matches_vcek"));
	CHECK(check_ok(c, "vcek_signed_by_ask"));
	CHECK(check_ok(c, "ark_trusted"));
	json_object_put(c);

	/* A whole chain from another (untrusted) virtual CA. */
	CHECK(run_verify(raw, other_ca.chain, roots, &c, &e) < 0);
	CHECK(!check_ok(c, "ark_trusted"));
	CHECK(!check_ok(c, "report_signature"));
	json_object_put(c);

	/* CA 2's VCEK with CA 1's ASK and ARK: the VCEK signature fails. */
	char *mixed = xstrdup(other_ca.chain);
	char *end = strstr(mixed, "-----END CERTIFICATE-----\n");
	CHECK(end != NULL);
	if (end) {
		end[strlen("-----END CERTIFICATE-----\n")] = '\0';
		char *g = strstr(good.chain, "-----END CERTIFICATE-----\n");
		char *m2 = xasprintf("%s%s", mixed, g + strlen("-----END CERTIFICATE-----\n"));
		CHECK(run_verify(raw, m2, roots, &c, &e) < 0);
		CHECK(!check_ok(c, "vcek_signed_by_ask"));
		CHECK(check_ok(c, "ark_trusted"));
		CHECK(check_ok(c, "ask_signed_by_ark"));
		json_object_put(c);
		free(m2);
	}
	free(mixed);

	/* Trusting both CAs does not make a mixed report pass, but CA 2's own report does. */
	struct snp_roots *both = roots_with(0, 1);
	char *ap = xasprintf("%s/ark.pem", ca_dir(2));
	CHECK(snp_roots_add_file(both, ap, 1, &e) == 0);
	free(ap);
	uint8_t raw2[SNP_REPORT_SIZE];
	sign_ok(&l, other_ca.key, raw2);
	CHECK(run_verify(raw2, other_ca.chain, both, &c, &e) == 0);
	json_object_put(c);
	CHECK(run_verify(raw, other_ca.chain, both, &c, &e) < 0);
	json_object_put(c);
	/* Without an ARK in the chain, the root is the one that signed the ASK, not merely
	 * the first with the right name (both virtual ARKs are "ARK-Virtual-Milan"). */
	const char *endm = "-----END CERTIFICATE-----\n";
	char *e1 = strstr(other_ca.chain, endm) + strlen(endm);
	char *e2 = strstr(e1, endm) + strlen(endm);
	char *noark = xstrndup(other_ca.chain, (size_t)(e2 - other_ca.chain));
	CHECK(run_verify(raw2, noark, both, &c, &e) == 0);
	json_object_put(c);
	free(noark);
	snp_roots_free(both);

	snp_roots_free(roots);
	inst_free(&good);
	inst_free(&other_chip);
	inst_free(&other_ca);
}

static void test_tcb_and_chip_mismatch(void)
{
	uint8_t chip[64], chip2[64], raw[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	chip_of(chip2, 2);
	struct inst old_tcb;
	inst_make(&old_tcb, 1, "oldtcb", chip, 0x6308000000000003ULL);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	sign_ok(&l, old_tcb.key, raw); /* reports TCB ucode 0x73, VCEK says 0x63 */
	struct snp_roots *roots = roots_with(0, 1);
	struct err e = {0};
	struct json_object *c;
	CHECK(run_verify(raw, old_tcb.chain, roots, &c, &e) < 0);
	CHECK(check_ok(c, "report_signature"));
	CHECK(!check_ok(c, "tcb_matches_vcek"));
	CHECK(check_ok(c, "chip_id_matches_vcek"));
	CHECK(strstr(e.msg, "tcb_matches_vcek") != NULL);
	CHECK(strstr(jsonx_str(jsonx_obj(c, "tcb_matches_vcek"), "detail"), "ucodeSPL") != NULL);
	json_object_put(c);

	struct inst good;
	inst_make(&good, 1, "good", chip, TCB);
	fill_launch(&l, chip2); /* the host lies about the chip id */
	sign_ok(&l, good.key, raw);
	CHECK(run_verify(raw, good.chain, roots, &c, &e) < 0);
	CHECK(check_ok(c, "report_signature"));
	CHECK(check_ok(c, "tcb_matches_vcek"));
	CHECK(!check_ok(c, "chip_id_matches_vcek"));
	json_object_put(c);

	/* MASK_CHIP_KEY: chip_id is zero and the hwID check is skipped, not failed. */
	fill_launch(&l, chip);
	sign_ok(&l, good.key, raw);
	raw[0x48] |= SNP_KEYINFO_MASK_CHIP_KEY;
	memset(raw + 0x1A0, 0, 64);
	resign(raw, good.key);
	CHECK(run_verify(raw, good.chain, roots, &c, &e) == 0);
	CHECK(strstr(jsonx_str(jsonx_obj(c, "chip_id_matches_vcek"), "detail"), "skipped") != NULL);
	json_object_put(c);

	/* signing_key = 7 (none): never verified. */
	raw[0x48] = (uint8_t)(SNP_SIGNING_KEY_NONE << 2);
	resign(raw, good.key);
	CHECK(run_verify(raw, good.chain, roots, &c, &e) < 0);
	CHECK(!check_ok(c, "report_signature"));
	json_object_put(c);

	snp_roots_free(roots);
	inst_free(&old_tcb);
	inst_free(&good);
}

static int bool_member(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean)
	           ? json_object_get_boolean(v)
	           : -1;
}

static const char *detail_of(struct json_object *c, const char *check)
{
	const char *d = jsonx_str(jsonx_obj(c, check), "detail");
	return d ? d : "";
}

/* platform_info bit 7 is TIO_EN (SEV-TIO, ABI 1.58), and only bit 7. */
static void test_platform_info_tio_en(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	static const struct {
		uint8_t bits;
		int tio, smt, alias;
	} cases[] = {{0x00, 0, 0, 0}, {0x80, 1, 0, 0}, {0x40, 0, 0, 0}, {0xA1, 1, 1, 1}};
	for (size_t i = 0; i < NELEM(cases); i++) {
		sign_ok(&l, in.key, raw);
		raw[0x40] = cases[i].bits;
		resign(raw, in.key);
		struct snp_report r;
		struct err e = {0};
		CHECK(snp_report_parse(raw, sizeof(raw), &r, &e) == 0);
		CHECK_INT(r.platform_info, cases[i].bits);
		struct json_object *j = snp_report_json(&r), *pi = jsonx_obj(j, "platform_info");
		CHECK_MSG(bool_member(pi, "tio_en") == cases[i].tio, "bits 0x%02x: tio_en %d",
		          cases[i].bits, bool_member(pi, "tio_en"));
		CHECK_INT(bool_member(pi, "smt_en"), cases[i].smt);
		CHECK_INT(bool_member(pi, "alias_check_complete"), cases[i].alias);
		json_object_put(j);
		/* The bit is reported, not judged: the report still verifies. */
		struct snp_roots *roots = roots_with(0, 1);
		struct json_object *c = NULL;
		CHECK(run_verify(raw, in.chain, roots, &c, &e) == 0);
		json_object_put(c);
		snp_roots_free(roots);
	}
	inst_free(&in);
}

/* A VLEK-signed report: every detail names the VLEK (and its ASVK), never the VCEK. */
static void test_vlek_detail_text(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	struct snp_roots *roots = roots_with(0, 1);
	struct err e = {0};
	struct json_object *c = NULL;
	static const char *const named[] = {"report_signature", "vcek_signed_by_ask",
	                                    "tcb_matches_vcek", "chip_id_matches_vcek"};

	sign_ok(&l, in.key, raw);
	CHECK(run_verify(raw, in.chain, roots, &c, &e) == 0);
	for (size_t i = 0; i < NELEM(named); i++)
		CHECK_MSG(strstr(detail_of(c, named[i]), "VCEK") &&
		              !strstr(detail_of(c, named[i]), "VLEK"),
		          "%s: %s", named[i], detail_of(c, named[i]));
	CHECK(strstr(detail_of(c, "vcek_signed_by_ask"), "by the ASK") != NULL);
	json_object_put(c);

	raw[0x48] = (uint8_t)(SNP_SIGNING_KEY_VLEK << 2);
	resign(raw, in.key);
	struct snp_report r;
	CHECK(snp_report_parse(raw, sizeof(raw), &r, &e) == 0);
	CHECK_INT(r.signing_key, SNP_SIGNING_KEY_VLEK);
	struct json_object *j = snp_report_json(&r);
	CHECK_STR(jsonx_str(jsonx_obj(j, "key_info"), "signing_key_name"), "vlek");
	json_object_put(j);
	CHECK(run_verify(raw, in.chain, roots, &c, &e) == 0);
	for (size_t i = 0; i < NELEM(named); i++)
		CHECK_MSG(strstr(detail_of(c, named[i]), "VLEK") &&
		              !strstr(detail_of(c, named[i]), "VCEK"),
		          "%s: %s", named[i], detail_of(c, named[i]));
	CHECK_MSG(strstr(detail_of(c, "report_signature"), "verifies with the VLEK") != NULL, "%s",
	          detail_of(c, "report_signature"));
	CHECK_MSG(strstr(detail_of(c, "vcek_signed_by_ask"), "by the ASVK") != NULL, "%s",
	          detail_of(c, "vcek_signed_by_ask"));
	CHECK(strstr(detail_of(c, "ask_signed_by_ark"), "ASVK") != NULL);
	CHECK(strstr(detail_of(c, "tcb_matches_vcek"), "VLEK SPLs") != NULL);
	json_object_put(c);

	/* A bad signature on a VLEK report says so in VLEK terms. */
	raw[0x2A0] ^= 1;
	CHECK(run_verify(raw, in.chain, roots, &c, &e) < 0);
	CHECK_MSG(strstr(detail_of(c, "report_signature"), "does not match the VLEK key") != NULL,
	          "%s", detail_of(c, "report_signature"));
	CHECK(strstr(e.msg, "VLEK") != NULL);
	json_object_put(c);
	snp_roots_free(roots);
	inst_free(&in);
}

/* SPLs >= 0x80 are DER-encoded 02 02 00 XX; the sidecar's "byte 2" parse gets them wrong. */
static void test_spl_der_high_values(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE];
	chip_of(chip, 3);
	/* bl 0xFF, tee 0x80, snp 0x81, ucode 0xA5 (Milan layout) */
	uint64_t tcb = 0xA5810000000080FFULL;
	struct inst in;
	inst_make(&in, 1, "highspl", chip, tcb);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	l.tcb = tcb;
	sign_ok(&l, in.key, raw);
	struct snp_roots *roots = roots_with(0, 1);
	struct err e = {0};
	struct json_object *c;
	int rc = run_verify(raw, in.chain, roots, &c, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
	CHECK(check_ok(c, "tcb_matches_vcek"));
	json_object_put(c);
	/* One step off in the highest SPL still fails. */
	l.tcb = 0xA4810000000080FFULL;
	sign_ok(&l, in.key, raw);
	CHECK(run_verify(raw, in.chain, roots, &c, &e) < 0);
	CHECK(!check_ok(c, "tcb_matches_vcek"));
	json_object_put(c);
	snp_roots_free(roots);
	inst_free(&in);
}

static void test_report_versions_and_parse_errors(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE], t[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	struct snp_roots *roots = roots_with(0, 1);
	struct err e = {0};
	struct json_object *c;
	struct snp_report r;

	static const uint32_t versions[] = {2, 3, 5};
	for (size_t i = 0; i < NELEM(versions); i++) {
		l.version = versions[i];
		sign_ok(&l, in.key, raw);
		CHECK(snp_report_parse(raw, sizeof(raw), &r, &e) == 0);
		CHECK_INT(r.version, versions[i]);
		CHECK_INT(r.cpuid_fam_id, versions[i] >= 3 ? 0x19 : 0);
		CHECK(run_verify(raw, in.chain, roots, &c, &e) == 0);
		json_object_put(c);
	}
	CHECK(snp_report_parse(raw, SNP_REPORT_SIZE - 1, &r, &e) < 0);
	CHECK_INT(e.code, ERR_BAD_REQUEST);
	CHECK(snp_report_parse(raw, 0, &r, &e) < 0);
	CHECK(snp_report_parse(NULL, SNP_REPORT_SIZE, &r, &e) < 0);
	CHECK(snp_report_parse(raw, SNP_REPORT_SIZE + 1, &r, &e) < 0);
	memcpy(t, raw, sizeof(t));
	t[0] = 1;
	CHECK(snp_report_parse(t, sizeof(t), &r, &e) < 0);
	CHECK(strstr(e.msg, "version 1") != NULL);
	t[0] = 0;
	CHECK(snp_report_parse(t, sizeof(t), &r, &e) < 0);
	CHECK(run_verify(t, in.chain, roots, &c, &e) < 0);
	CHECK_INT(e.code, ERR_BAD_REQUEST);
	CHECK(!check_ok(c, "report_signature"));
	json_object_put(c);
	memcpy(t, raw, sizeof(t));
	t[0x34] = 2;
	CHECK(snp_report_parse(t, sizeof(t), &r, &e) < 0);
	/* Unknown future versions parse but are flagged. */
	memcpy(t, raw, sizeof(t));
	t[0] = 6;
	CHECK(snp_report_parse(t, sizeof(t), &r, &e) == 0);
	struct json_object *j = snp_report_json(&r), *v;
	CHECK(json_object_object_get_ex(j, "version_known", &v) && !json_object_get_boolean(v));
	json_object_put(j);

	CHECK(run_verify(raw, NULL, roots, &c, &e) < 0);
	CHECK(check_ok(c, "report_signature") == 0);
	json_object_put(c);
	CHECK(run_verify(raw, "not a chain", roots, &c, &e) < 0);
	json_object_put(c);

	snp_roots_free(roots);
	inst_free(&in);
}

static void test_report_load(void)
{
	uint8_t raw[SNP_REPORT_SIZE], out[SNP_REPORT_SIZE];
	struct err e = {0};
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 7);
	CHECK(snp_report_load(raw, sizeof(raw), out, &e) == 0);
	CHECK(!memcmp(raw, out, sizeof(raw)));

	char *h = hex_encode(raw, sizeof(raw));
	memset(out, 0, sizeof(out));
	CHECK(snp_report_load(h, strlen(h), out, &e) == 0);
	CHECK(!memcmp(raw, out, sizeof(raw)));
	char *h2 = xasprintf("%s\n", h);
	CHECK(snp_report_load(h2, strlen(h2), out, &e) == 0);
	free(h2);
	h2 = xasprintf(" \t%s\r\n", h);
	CHECK(snp_report_load(h2, strlen(h2), out, &e) == 0);
	CHECK(!memcmp(raw, out, sizeof(raw)));
	free(h2);
	for (char *p = h; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	CHECK(snp_report_load(h, strlen(h), out, &e) == 0);
	CHECK(!memcmp(raw, out, sizeof(raw)));

	memset(out, 0x5A, sizeof(out));
	h[100] = 'g';
	CHECK(snp_report_load(h, strlen(h), out, &e) < 0);
	CHECK_INT(out[0], 0x5A); /* no partial output */
	h[100] = '0';
	CHECK(snp_report_load(h, strlen(h) - 1, out, &e) < 0);
	h[1000] = ' ';
	CHECK(snp_report_load(h, strlen(h), out, &e) < 0);
	CHECK(snp_report_load(raw, sizeof(raw) - 1, out, &e) < 0);
	CHECK(snp_report_load(raw, 0, out, &e) < 0);
	CHECK(snp_report_load(NULL, 5, out, &e) < 0);
	free(h);
}

static int first_cn_is(const char *pem, int index, const char *want)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = NULL;
	for (int i = 0; i <= index; i++) {
		X509_free(x);
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	}
	BIO_free(b);
	char cn[64] = "";
	if (x)
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	X509_free(x);
	return !strcmp(cn, want);
}

static void test_chain_load(void)
{
	uint8_t chip[64];
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct err e = {0};
	char *pem = NULL, *tcbm = NULL;

	/* Reorder to ARK, VCEK, ASK; output is always VCEK, ASK, ARK. */
	const char *end = "-----END CERTIFICATE-----\n";
	char *c1 = strstr(in.chain, end) + strlen(end);
	char *c2 = strstr(c1, end) + strlen(end);
	char *vcek = xstrndup(in.chain, (size_t)(c1 - in.chain));
	char *ask = xstrndup(c1, (size_t)(c2 - c1));
	char *shuffled = xasprintf("junk line before\n%s\n%s%s", c2, vcek, ask);
	CHECK(snp_chain_load(shuffled, strlen(shuffled), &pem, &tcbm, &e) == 0);
	CHECK(tcbm == NULL);
	CHECK(first_cn_is(pem, 0, "SEV-VCEK"));
	CHECK(first_cn_is(pem, 1, "SEV-Virtual-Milan"));
	CHECK(first_cn_is(pem, 2, "ARK-Virtual-Milan"));
	free(pem);

	/* THIM JSON. */
	CHECK(snp_chain_load(in.thim, strlen(in.thim), &pem, &tcbm, &e) == 0);
	CHECK_STR(tcbm, "7308000000000003");
	CHECK(first_cn_is(pem, 0, "SEV-VCEK"));
	CHECK(first_cn_is(pem, 2, "ARK-Virtual-Milan"));
	free(pem);
	free(tcbm);

	/* VCEK + ASK only is accepted; snp_verify then finds the root by the ASK's issuer. */
	char *two = xasprintf("%s%s", vcek, ask);
	CHECK(snp_chain_load(two, strlen(two), &pem, &tcbm, &e) == 0);
	uint8_t raw[SNP_REPORT_SIZE];
	struct vsnp_launch l;
	fill_launch(&l, chip);
	sign_ok(&l, in.key, raw);
	struct snp_roots *roots = roots_with(1, 1);
	struct json_object *c;
	CHECK(run_verify(raw, pem, roots, &c, &e) == 0);
	CHECK(emulated(c));
	json_object_put(c);
	struct snp_roots *amd = snp_roots_new(1);
	CHECK(run_verify(raw, pem, amd, &c, &e) < 0);
	CHECK(!check_ok(c, "ark_trusted"));
	json_object_put(c);
	snp_roots_free(amd);
	snp_roots_free(roots);
	free(pem);

	static const char *const bad[] = {
	    "",
	    "garbage",
	    "{\"tcbm\":\"7308000000000003\"}",
	    "{\"vcekCert\":1,\"certificateChain\":\"x\"}",
	    "{not json",
	    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		pem = tcbm = NULL;
		CHECK_MSG(snp_chain_load(bad[i], strlen(bad[i]), &pem, &tcbm, &e) < 0, "bad[%zu]",
		          i);
		CHECK(pem == NULL && tcbm == NULL);
	}
	/* Missing VCEK, duplicate VCEK. */
	char *noleaf = xasprintf("%s%s", ask, c2);
	CHECK(snp_chain_load(noleaf, strlen(noleaf), &pem, &tcbm, &e) < 0);
	CHECK(strstr(e.msg, "VCEK") != NULL);
	char *dup = xasprintf("%s%s%s", vcek, vcek, ask);
	CHECK(snp_chain_load(dup, strlen(dup), &pem, &tcbm, &e) < 0);

	free(noleaf);
	free(dup);
	free(two);
	free(vcek);
	free(ask);
	free(shuffled);
	inst_free(&in);
}

static void test_roots_add_rejects(void)
{
	uint8_t chip[64];
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct snp_roots *r = snp_roots_new(0);
	struct err e = {0};
	/* The whole chain: the VCEK (EC) is rejected, so nothing is added. */
	CHECK(snp_roots_add_pem(r, in.chain, strlen(in.chain), 1, &e) < 0);
	CHECK_INT(snp_roots_count(r), 0);
	CHECK(snp_roots_add_pem(r, "nope", 4, 1, &e) < 0);
	CHECK(snp_roots_add_file(r, "/nonexistent/ark.pem", 1, &e) < 0);
	const char *pinned = snp_amd_ark_pem("Genoa");
	CHECK(snp_roots_add_pem(r, pinned, strlen(pinned), 0, &e) == 0);
	CHECK_INT(snp_roots_count(r), 1);
	snp_roots_free(r);
	inst_free(&in);
}

static void test_tcb_helpers(void)
{
	struct snp_tcb t;
	snp_tcb_decode(0x7308000000000003ULL, SNP_TCB_MILAN, &t);
	CHECK_INT(t.bootloader, 3);
	CHECK_INT(t.tee, 0);
	CHECK_INT(t.snp, 8);
	CHECK_INT(t.microcode, 0x73);
	CHECK_INT(t.fmc, 0);
	snp_tcb_decode(0x4800000000030201ULL, SNP_TCB_TURIN, &t);
	CHECK_INT(t.fmc, 0x01);
	CHECK_INT(t.bootloader, 0x02);
	CHECK_INT(t.tee, 0x03);
	CHECK_INT(t.snp, 0x00);
	CHECK_INT(t.microcode, 0x48);
	char buf[17];
	snp_tcbm_format(0x7308000000000003ULL, buf);
	CHECK_STR(buf, "7308000000000003");
	snp_tcbm_format(3, buf);
	CHECK_STR(buf, "0000000000000003");
	uint64_t v = 0;
	CHECK(snp_tcbm_parse("7308000000000003", &v) == 0 && v == 0x7308000000000003ULL);
	CHECK(snp_tcbm_parse("0x7308000000000003", &v) == 0);
	CHECK(snp_tcbm_parse("DB18000000000004", &v) == 0 && v == 0xDB18000000000004ULL);
	CHECK(snp_tcbm_parse("730800000000003", &v) < 0);
	CHECK(snp_tcbm_parse("73080000000000030", &v) < 0);
	CHECK(snp_tcbm_parse("730800000000000g", &v) < 0);
	CHECK(snp_tcbm_parse(NULL, &v) < 0);
	struct snp_report r = {.version = 3, .cpuid_fam_id = 0x1A};
	CHECK_INT(snp_report_tcb_layout(&r), SNP_TCB_TURIN);
	r.cpuid_fam_id = 0x19;
	CHECK_INT(snp_report_tcb_layout(&r), SNP_TCB_MILAN);
}

static void test_sign_rejects(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE], rd[64] = {0};
	chip_of(chip, 1);
	struct inst in;
	inst_make(&in, 1, "good", chip, TCB);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	struct err e = {0};
	CHECK(vsnp_report_sign(&l, rd, 4, in.key, raw, &e) < 0);
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	CHECK(vsnp_report_sign(&l, rd, 0, rsa, raw, &e) < 0);
	EVP_PKEY_free(rsa);
	/* Idempotent: ensuring again keeps the same VCEK. */
	char *before = xstrdup(in.chain);
	inst_free(&in);
	inst_make(&in, 1, "good", chip, TCB);
	CHECK(!strcmp(before, in.chain));
	free(before);
	inst_free(&in);
}

/* A remembered chain is used only for its exact bytes and root set: a changed one is re-verified.
 */
static void test_chain_cache(void)
{
	uint8_t chip[64], raw[SNP_REPORT_SIZE], raw2[SNP_REPORT_SIZE];
	chip_of(chip, 1);
	struct inst good, updated;
	inst_make(&good, 1, "good", chip, TCB);
	const uint64_t tcb2 = 0x7408000000000003ULL; /* a microcode update */
	inst_make(&updated, 1, "tcb-update", chip, tcb2);
	struct vsnp_launch l;
	fill_launch(&l, chip);
	sign_ok(&l, good.key, raw);
	struct snp_roots *roots = roots_with(0, 1);
	struct json_object *c;
	struct snp_cache_stats st;

	snp_cache_clear();
	CHECK(run_cached(raw, good.chain, roots, &c, &st) == 0);
	CHECK(st.chain_misses == 1 && st.chain_hits == 0);
	json_object_put(c);
	CHECK(run_cached(raw, good.chain, roots, &c, &st) == 0);
	CHECK(st.chain_misses == 1 && st.chain_hits == 1);
	json_object_put(c);
	/* A hit still checks the report itself: a flipped signature byte fails. */
	uint8_t t[SNP_REPORT_SIZE];
	memcpy(t, raw, sizeof(t));
	t[0x2A0 + 3] ^= 0x10;
	CHECK(run_cached(t, good.chain, roots, &c, &st) < 0);
	CHECK(st.chain_hits == 2);
	CHECK(!check_ok(c, "report_signature"));
	json_object_put(c);

	/* After a TCB update the host sends a new chain: verified in full, then remembered too. */
	l.tcb = tcb2;
	sign_ok(&l, updated.key, raw2);
	CHECK(run_cached(raw2, updated.chain, roots, &c, &st) == 0);
	CHECK(st.chain_misses == 2);
	json_object_put(c);
	/* Old report with the new chain, new report with the old chain: neither passes. */
	CHECK(run_cached(raw, updated.chain, roots, &c, &st) < 0);
	CHECK(!check_ok(c, "report_signature") && !check_ok(c, "tcb_matches_vcek"));
	json_object_put(c);
	CHECK(run_cached(raw2, good.chain, roots, &c, &st) < 0);
	CHECK(!check_ok(c, "report_signature") && !check_ok(c, "tcb_matches_vcek"));
	json_object_put(c);

	/* One base64 character of the VCEK's signature changed: a different chain, and a bad one.
	 */
	char *bad = xstrdup(good.chain);
	char *end = strstr(bad, "\n-----END CERTIFICATE-----");
	CHECK(end != NULL);
	if (end) {
		char *p = end - 8;
		*p = *p == 'A' ? 'B' : 'A';
		unsigned long misses = st.chain_misses;
		CHECK(run_cached(raw, bad, roots, &c, &st) < 0);
		CHECK(!check_ok(c, "vcek_signed_by_ask"));
		CHECK(st.chain_misses == misses + 1);
		json_object_put(c);
		/* A chain that failed is never remembered. */
		CHECK(run_cached(raw, bad, roots, &c, &st) < 0);
		CHECK(!check_ok(c, "vcek_signed_by_ask"));
		CHECK(st.chain_misses == misses + 2);
		json_object_put(c);
	}
	free(bad);

	/* Another root set that does not trust the virtual CA: the remembered verdict is not used.
	 */
	struct snp_roots *amd = snp_roots_new(1);
	CHECK(run_cached(raw, good.chain, amd, &c, &st) < 0);
	CHECK(!check_ok(c, "ark_trusted"));
	json_object_put(c);
	snp_roots_free(amd);
	/* Changing a root set makes it another set: the chain is verified again. */
	unsigned long misses = st.chain_misses;
	struct err e = {0};
	char *ap = xasprintf("%s/ark.pem", ca_dir(2));
	CHECK(snp_roots_add_file(roots, ap, 1, &e) == 0);
	free(ap);
	CHECK(run_cached(raw, good.chain, roots, &c, &st) == 0);
	CHECK(st.chain_misses == misses + 1);
	json_object_put(c);

	/* snp_chain_load_cached: the same output as snp_chain_load, remembered per input text. */
	char *pem = NULL, *tcbm = NULL, *pem2 = NULL, *tcbm2 = NULL;
	CHECK(snp_chain_load(good.thim, strlen(good.thim), &pem, &tcbm, &e) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK(snp_chain_load_cached(good.thim, strlen(good.thim), &pem2, &tcbm2, &e) == 0);
		CHECK_STR(pem2, pem);
		CHECK_STR(tcbm2, tcbm);
		free(pem2);
		free(tcbm2);
	}
	snp_cache_stats(&st);
	CHECK(st.load_misses == 1 && st.load_hits == 1);
	CHECK(snp_chain_load_cached(updated.thim, strlen(updated.thim), &pem2, &tcbm2, &e) == 0);
	CHECK(pem2 && strcmp(pem2, pem) != 0);
	CHECK_STR(tcbm2, "7408000000000003");
	free(pem2);
	free(tcbm2);
	for (int i = 0; i < 2; i++) {
		CHECK(snp_chain_load_cached("{\"vcekCert\": 1}", 15, &pem2, &tcbm2, &e) < 0);
		CHECK(pem2 == NULL);
	}
	snp_cache_stats(&st);
	CHECK(st.load_misses == 4 && st.load_hits == 1);
	free(pem);
	free(tcbm);

	snp_cache_clear();
	snp_cache_stats(&st);
	CHECK(st.chain_hits == 0 && st.chain_misses == 0);
	snp_roots_free(roots);
	inst_free(&good);
	inst_free(&updated);
}

TESTS(test_chain_cache, test_pinned_amd_arks, test_real_milan_known_answer,
      test_virtual_good_report, test_tampering, test_wrong_chain, test_tcb_and_chip_mismatch,
      test_spl_der_high_values, test_report_versions_and_parse_errors, test_report_load,
      test_chain_load, test_roots_add_rejects, test_tcb_helpers, test_sign_rejects,
      test_platform_info_tio_en, test_vlek_detail_text)
