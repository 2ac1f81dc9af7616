/* pkcs8: byte for byte what OpenSSL writes, reads what OpenSSL writes, refuses every
 * truncation, every changed byte that does not leave the same key, other algorithms and
 * multi-prime keys, trailing bytes and non-minimal encodings. */
#include "pkcs8.h"

#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "testlib.h"

static uint8_t *openssl_der(EVP_PKEY *k, size_t *n)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	unsigned char *der = NULL;
	int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
	PKCS8_PRIV_KEY_INFO_free(p8);
	*n = len > 0 ? (size_t)len : 0;
	return der;
}

/* The same public and private halves. */
static int same_key(EVP_PKEY *a, EVP_PKEY *b)
{
	BIGNUM *da = NULL, *db = NULL;
	int ok = a && b && EVP_PKEY_eq(a, b) == 1 &&
	         EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_RSA_D, &da) == 1 &&
	         EVP_PKEY_get_bn_param(b, OSSL_PKEY_PARAM_RSA_D, &db) == 1 && !BN_cmp(da, db);
	BN_clear_free(da);
	BN_clear_free(db);
	return ok;
}

static EVP_PKEY *key2048;

static void test_matches_openssl(void)
{
	static const unsigned bits[] = {2048, 3072, 1024};
	for (size_t i = 0; i < NELEM(bits); i++) {
		EVP_PKEY *k = EVP_RSA_gen(bits[i]);
		size_t on = 0, mn = 0;
		uint8_t *od = openssl_der(k, &on), *md = NULL;
		struct err e;
		CHECK(pkcs8_rsa_encode(k, &md, &mn, &e) == 0);
		CHECK_MSG(on && on == mn && !memcmp(od, md, on), "%u bits: %zu vs %zu bytes",
		          bits[i], on, mn);
		EVP_PKEY *back = pkcs8_rsa_decode(od, on, &e);
		CHECK_MSG(same_key(back, k), "%u bits: decoded OpenSSL's encoding", bits[i]);
		/* The private half works: it decrypts what the public half encrypted. */
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
		unsigned char ct[512], pt[512];
		size_t ctl = sizeof(ct), ptl = sizeof(pt);
		CHECK(c && EVP_PKEY_encrypt_init(c) == 1 &&
		      EVP_PKEY_encrypt(c, ct, &ctl, (const unsigned char *)"abc", 3) == 1);
		EVP_PKEY_CTX_free(c);
		c = EVP_PKEY_CTX_new_from_pkey(NULL, back, NULL);
		CHECK(c && EVP_PKEY_decrypt_init(c) == 1 &&
		      EVP_PKEY_decrypt(c, pt, &ptl, ct, ctl) == 1 && ptl == 3 &&
		      !memcmp(pt, "abc", 3));
		EVP_PKEY_CTX_free(c);
		EVP_PKEY_free(back);
		OPENSSL_clear_free(od, on);
		wipe(md, mn);
		free(md);
		if (bits[i] == 2048)
			key2048 = k;
		else
			EVP_PKEY_free(k);
	}
}

static void test_truncations_and_changes(void)
{
	struct err e;
	uint8_t *der = NULL;
	size_t n = 0;
	CHECK(pkcs8_rsa_encode(key2048, &der, &n, &e) == 0 && n > 1000);
	if (!der)
		return;
	int accepted = 0;
	for (size_t len = 0; len < n; len++) {
		EVP_PKEY *k = pkcs8_rsa_decode(der, len, &e);
		accepted += k != NULL;
		EVP_PKEY_free(k);
	}
	CHECK_INT(accepted, 0);
	CHECK(pkcs8_rsa_decode(NULL, 0, &e) == NULL && e.code == ERR_UNPROCESSABLE);
	/* Every changed byte: refused, or (the version 0 -> 1) still exactly the same key. */
	int changed_key = 0, same = 0;
	static const uint8_t flips[] = {0x01, 0x80};
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < NELEM(flips); f++) {
			der[i] ^= flips[f];
			EVP_PKEY *k = pkcs8_rsa_decode(der, n, &e);
			if (k && same_key(k, key2048))
				same++;
			else if (k)
				changed_key++;
			EVP_PKEY_free(k);
			der[i] ^= flips[f];
		}
	CHECK_INT(changed_key, 0);
	CHECK(same <= 1);
	/* Trailing bytes after the structure. */
	uint8_t *longer = xmalloc(n + 1);
	memcpy(longer, der, n);
	longer[n] = 0;
	CHECK(pkcs8_rsa_decode(longer, n + 1, &e) == NULL && e.code == ERR_UNPROCESSABLE);
	wipe(longer, n + 1);
	free(longer);
	wipe(der, n);
	free(der);
}

/* Hand-made structures around small numbers (not a real key: the checks before it). */
static void test_refusals(void)
{
	struct err e;
	/* An EC key. */
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	size_t n = 0;
	uint8_t *der = openssl_der(ec, &n);
	CHECK(der && pkcs8_rsa_decode(der, n, &e) == NULL && e.code == ERR_UNSUPPORTED);
	OPENSSL_clear_free(der, n);
	EVP_PKEY_free(ec);
	CHECK(pkcs8_rsa_encode(NULL, &der, &n, &e) < 0 && !der);
	/* A multi-prime RSAPrivateKey (version 1). */
	static const uint8_t multi[] = {0x30, 0x1c, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a,
	                                0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
	                                0x04, 0x08, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05};
	CHECK(pkcs8_rsa_decode(multi, sizeof(multi), &e) == NULL && e.code == ERR_UNSUPPORTED);
	/* A non-minimal length (0x81 0x05 for 5) and a non-minimal INTEGER (00 05). */
	static const uint8_t longlen[] = {0x30, 0x81, 0x05, 0x02, 0x01, 0x00, 0x30, 0x00};
	CHECK(pkcs8_rsa_decode(longlen, sizeof(longlen), &e) == NULL &&
	      e.code == ERR_UNPROCESSABLE);
	static const uint8_t padint[] = {0x30, 0x04, 0x02, 0x02, 0x00, 0x00};
	CHECK(pkcs8_rsa_decode(padint, sizeof(padint), &e) == NULL && e.code == ERR_UNPROCESSABLE);
	/* A negative version. */
	static const uint8_t neg[] = {0x30, 0x03, 0x02, 0x01, 0xff};
	CHECK(pkcs8_rsa_decode(neg, sizeof(neg), &e) == NULL && e.code == ERR_UNPROCESSABLE);
}

/* PKCS#8 attributes ([0]) after the key are allowed and ignored. */
static void test_attributes_ignored(void)
{
	struct err e;
	uint8_t *der = NULL;
	size_t n = 0;
	CHECK(pkcs8_rsa_encode(key2048, &der, &n, &e) == 0);
	if (!der)
		return;
	/* 30 82 hi lo <content>: two more content bytes, a0 00. */
	CHECK(der[0] == 0x30 && der[1] == 0x82);
	size_t len = (size_t)der[2] << 8 | der[3];
	uint8_t *with = xmalloc(n + 2);
	memcpy(with, der, n);
	with[2] = (uint8_t)((len + 2) >> 8);
	with[3] = (uint8_t)(len + 2);
	with[n] = 0xa0;
	with[n + 1] = 0x00;
	EVP_PKEY *k = pkcs8_rsa_decode(with, n + 2, &e);
	CHECK(same_key(k, key2048));
	EVP_PKEY_free(k);
	/* But not another element there. */
	with[n] = 0x04;
	CHECK(pkcs8_rsa_decode(with, n + 2, &e) == NULL);
	wipe(with, n + 2);
	free(with);
	wipe(der, n);
	free(der);
}

static void test_cleanup(void)
{
	EVP_PKEY_free(key2048);
}

TESTS(test_matches_openssl, test_truncations_and_changes, test_refusals, test_attributes_ignored,
      test_cleanup)
