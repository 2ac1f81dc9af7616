/* crypto: both ciphertext formats, limits, tampering, foreign keys, a known answer. */
#include "crypto.h"

#include <openssl/pem.h>

#include "codec.h"
#include "outcome.h"
#include "testlib.h"

/* A throwaway test key and a ciphertext made by `openssl pkeyutl -encrypt -pkeyopt
 * rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256`
 * of "Alice,555-0100": the original demo's record format. */
static const char kat_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDIxJRoaQwFg/wS\n"
                              "NcYViqLpzfOXp6Bgy6x9iYtJ/c2oUy6jMSm9pnnk+GEq69RCgiHY9MGHrgZdIoVU\n"
                              "5DdVk4+v2xsJKm9K0hM7dm5sYukM10pdqlOJPEc6ZDNUbDoAL47wsYdm2/53U3FE\n"
                              "U/aCn5hB9z+lqzrJW1wF4v45q65mSiaPKXRrBMh1DU1POKgXvu6ZfmNxEJyx1g4W\n"
                              "X6KmVMvnyAT3W7rrKRZCdvH/RvaMGyOBGcP/HXsqYJk7dQKIVMGHdolTwQ7KpFz/\n"
                              "nEHchIxWFqf/k2UHPnUi/uIEj1taoadUQxnY4tiKHGWNiHj780pyqcKYMzncm6S2\n"
                              "hUv0EWGNAgMBAAECggEAEJ5K/YiCdPtrlFNMqfBPk2RXjzxSF2kMhliqBa4jRZVb\n"
                              "FSmG37qluNkBbATYzUeJxzRdR56VSsTGfhQk62m7OU584qmXTD1u15tyQPj/+u7g\n"
                              "Kjgk0YWCjNgJ8qlBtM26+nvrbg10NwraY5JCo6XTu9QcOdmeVFgCWj9jlUD7ft5r\n"
                              "YXby9pVgPZx5K8WsMK4jsCktx4xgww841dFawEnUMvieDhLGPJcsHL8Xd3wHd+ZM\n"
                              "4f5D100WAjQsl2UFPcHMK2A5O2OeN0bCyCPrGbpgBU4W3o9BRkSYVKjwnpmbcEUF\n"
                              "8Ucgf/bAKdFjR6MJOJii/9tnYSPHDxK55ftshM+AYQKBgQDlSp+l0EQzFhG+klR0\n"
                              "psS44NObHoX2zRWgKAz+nhCNP2485PPDwvLUC9kPXKtmEqCJ1qP7xVHY5r+LFtJH\n"
                              "uRu/lsZjWCFPK1lxO/m4uXzvll6MeWQbE1iEn1mkpkr0mAJxbODPMuRDsZdoW/u0\n"
                              "I5EMaXAO3udiIIa8o2aONR14YQKBgQDgJ2TfIbPuyXiZx+Hs/e75B/1nuSm8/Bmp\n"
                              "NoEk86Dkr3Ytc/hR+5XSqEpe3LlF/Jk5y4i5sxeDq7BOwZyToLPEVfcbXxMXJ6oO\n"
                              "NOJWqLYmEQk7jFBOkIgbbCq67htX45k4FYKOpYK+9erJlsKJwXemmZx2PlgdZVS4\n"
                              "2aNNDeQIrQKBgE75pgVpt6PU7SWzpw1Kx6VaIuhh2giI2PMB+H/Wl6Le/yxQO7no\n"
                              "stTgg9HrvEl7DvqLCI5Wh3tq9vyETsdPdcRGvWxIVai8KKF84+WBVgv7wfMmeJlu\n"
                              "z2VWsXypnlWi6eyBcOlNARxj1d+nFwoT2gjpZCRrGE1PILlmmpNOrijhAoGAP+W6\n"
                              "8Yhv/G/eOygplR9GEiNe70RvS3op7nylD92LTeVesNJQRT6MlQJ4QNZ20iaRn1IP\n"
                              "5a/R0i0NE0ZJ1iOHWz6ONHVDweQCrA4TP1TUp8FPenQjKGI3CmopPCRIEyPEN6Ka\n"
                              "FwPDY6BCj7i0OAS4kPtVCLf48lhCcHdJ/9sn1/kCgYACeZ+j2Z3IUy++3EhN4V9R\n"
                              "TzoiKtmYxH6UrL6t95d9oGs6SIyD1gJaFpioA6VzIvyrvtIN8DF1Tb7AGoXjR5kN\n"
                              "IsWdPLXR9fPNu+PfBag79YU5w+WnCvPEkFAiDJ3AVIq6Y02uVfGXJmaCGg2HCmG+\n"
                              "FZZPcRRrQScrBR7TZFaHlw==\n"
                              "-----END PRIVATE KEY-----\n";
static const char kat_ct[] = "QkFn6fORyTE94iStSaItrUkqD3nKZzDQhMU7LKA1qqEjcPHqIEZHfXge5tUd3NXV"
                             "OWkCPzLCRx0nbwzZU0erha9GD1SBSnuW8Klh7/qMA9MFn9nZGnGD4rzkMaEDYERl"
                             "cixVzmDAmn0dFTtLiZHNoDDS8GnO3y4Va1ddE0kGwzmo5BXQJqDkVW6/evo8f5WL"
                             "+1cIZ2/h+4nTUngIAsGCrrvUFD4GkRLYdg/GAJr5ZljVQDT6dOazlZVV9/IupuoF"
                             "2QH/r33ujULhMqvDXW0p/3K3LVWIVArw8UBN5gOrjSmPVw9kaeLHvB3HHHGp2rwk"
                             "aBnzDitgMQH+FWLMDGhWEg==";

static EVP_PKEY *key_a, *key_b, *key_3072;

static EVP_PKEY *keys(void)
{
	if (!key_a) {
		key_a = EVP_RSA_gen(2048);
		key_b = EVP_RSA_gen(2048);
		key_3072 = EVP_RSA_gen(3072);
	}
	return key_a;
}

static uint8_t *pattern(size_t n)
{
	uint8_t *p = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)('a' + i % 26);
	return p;
}

static int roundtrip(EVP_PKEY *k, size_t n, const char *want_alg)
{
	uint8_t *pt = pattern(n), *back = NULL;
	char *ct = NULL;
	const char *alg = NULL, *alg2 = NULL;
	size_t m = 0;
	struct err e;
	int ok = crypto_encrypt(k, pt, n, &ct, &alg, &e) == 0 && !strcmp(alg, want_alg) &&
	         crypto_decrypt(k, ct, &back, &m, &alg2, &e) == 0 && !strcmp(alg2, want_alg) &&
	         m == n && !memcmp(back, pt, n) && back[n] == '\0';
	free(pt);
	free(ct);
	free(back);
	return ok;
}

static void test_limits(void)
{
	EVP_PKEY *k = keys();
	CHECK_INT(crypto_oaep_max(k), 190);
	CHECK_INT(crypto_oaep_max(key_3072), 318);
	/* MAX_BODY_BYTES default: the envelope text must fit a 64 KiB /decrypt body. */
	size_t max = crypto_envelope_max(k);
	CHECK(max > 40000 && max < 49152);
	CHECK_INT(crypto_oaep_max(NULL), 0);
}

static void test_roundtrip_sizes(void)
{
	EVP_PKEY *k = keys();
	CHECK(roundtrip(k, 1, CRYPTO_ALG_OAEP));
	CHECK(roundtrip(k, 190, CRYPTO_ALG_OAEP));
	CHECK(roundtrip(k, 191, CRYPTO_ALG_ENVELOPE));
	CHECK(roundtrip(k, 3000, CRYPTO_ALG_ENVELOPE));
	CHECK(roundtrip(k, crypto_envelope_max(k), CRYPTO_ALG_ENVELOPE));
	CHECK(roundtrip(key_3072, 318, CRYPTO_ALG_OAEP));
	CHECK(roundtrip(key_3072, 319, CRYPTO_ALG_ENVELOPE));
}

static void test_original_format_shape(void)
{
	EVP_PKEY *k = keys();
	char *ct = NULL;
	const char *alg = NULL;
	struct err e;
	CHECK(crypto_encrypt(k, (const uint8_t *)"hi", 2, &ct, &alg, &e) == 0);
	CHECK_INT(strlen(ct), 344);
	CHECK(ct[343] == '=');
	free(ct);
}

static void test_envelope_max_text_fits_body(void)
{
	EVP_PKEY *k = keys();
	size_t n = crypto_envelope_max(k);
	uint8_t *pt = pattern(n);
	char *ct = NULL;
	const char *alg;
	struct err e;
	CHECK(crypto_encrypt(k, pt, n, &ct, &alg, &e) == 0);
	CHECK(ct && strlen(ct) + strlen("{\"ciphertext\":\"\"}") <= 65536);
	free(ct);
	CHECK(crypto_encrypt(k, pt, n + 1, &ct, &alg, &e) < 0 && e.code == ERR_TOO_LARGE);
	CHECK(strstr(e.msg, "limit") != NULL);
	free(pt);
}

static void test_empty_plaintext(void)
{
	char *ct = NULL;
	const char *alg;
	struct err e;
	CHECK(crypto_encrypt(keys(), (const uint8_t *)"", 0, &ct, &alg, &e) < 0);
	CHECK_INT(e.code, ERR_BAD_REQUEST);
	CHECK(ct == NULL);
}

/* Flip one bit of the decoded envelope at offset off and re-encode. */
static char *tamper_envelope(const char *ct, size_t off)
{
	size_t pl = strlen(CRYPTO_ENVELOPE_PREFIX);
	unsigned char *blob = NULL;
	size_t len = 0;
	if (b64_decode(ct + pl, strlen(ct + pl), B64_STD, B64_PAD_ANY, &blob, &len) < 0 ||
	    off >= len) {
		free(blob);
		return NULL;
	}
	blob[off] ^= 0x01;
	char *b = b64_encode(blob, len, B64_STD, B64_PAD_REQUIRED);
	char *out = xasprintf("%s%s", CRYPTO_ENVELOPE_PREFIX, b);
	free(b);
	free(blob);
	return out;
}

static int rejected(EVP_PKEY *k, const char *text, int want_generic)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	const char *alg = NULL;
	struct err e;
	err_clear(&e);
	int rc = crypto_decrypt(k, text, &pt, &n, &alg, &e);
	free(pt);
	if (rc == 0 || outcome_status(&e) < 400 || outcome_status(&e) >= 500)
		return 0;
	return !want_generic || !strcmp(e.msg, CRYPTO_BAD_CIPHERTEXT);
}

static void test_tamper_every_part(void)
{
	EVP_PKEY *k = keys();
	uint8_t *pt = pattern(3000);
	char *ct = NULL;
	const char *alg;
	struct err e;
	CHECK(crypto_encrypt(k, pt, 3000, &ct, &alg, &e) == 0);
	/* version, alg, length, key id, iv, wrapped key (first, last), body, tag (first, last) */
	static const struct {
		size_t off;
		int generic;
	} where[] = {{0, 0},  {1, 0},   {3, 1},   {4, 1},    {11, 1},   {12, 1},   {23, 1},
	             {24, 1}, {279, 1}, {280, 1}, {1500, 1}, {3279, 1}, {3280, 1}, {3295, 1}};
	for (size_t i = 0; i < NELEM(where); i++) {
		char *bad = tamper_envelope(ct, where[i].off);
		CHECK_MSG(bad && rejected(k, bad, where[i].generic), "offset %zu", where[i].off);
		free(bad);
	}
	/* Truncation and extension */
	size_t len = strlen(ct);
	char *cut = xstrndup(ct, len - 8);
	CHECK(rejected(k, cut, 0));
	free(cut);
	char *longer = xasprintf("%sAAAA", ct);
	CHECK(rejected(k, longer, 0));
	free(longer);
	free(ct);

	/* The original format: flip a bit in every 16th byte. */
	CHECK(crypto_encrypt(k, pt, 100, &ct, &alg, &e) == 0);
	unsigned char *raw = NULL;
	size_t rl = 0;
	CHECK(b64_decode(ct, strlen(ct), B64_STD, B64_PAD_ANY, &raw, &rl) == 0);
	int all = 1;
	for (size_t off = 0; off < rl; off += 16) {
		raw[off] ^= 0x80;
		char *bad = b64_encode(raw, rl, B64_STD, B64_PAD_REQUIRED);
		all &= rejected(k, bad, 1);
		free(bad);
		raw[off] ^= 0x80;
	}
	CHECK(all);
	free(raw);
	free(ct);
	free(pt);
}

static void test_foreign_key(void)
{
	EVP_PKEY *k = keys();
	uint8_t *pt = pattern(3000);
	char *ct = NULL;
	const char *alg;
	struct err e;
	CHECK(crypto_encrypt(k, pt, 50, &ct, &alg, &e) == 0);
	CHECK(rejected(key_b, ct, 1));
	CHECK(rejected(key_3072, ct, 1));
	free(ct);
	CHECK(crypto_encrypt(k, pt, 3000, &ct, &alg, &e) == 0);
	CHECK(rejected(key_b, ct, 1));
	CHECK(rejected(key_3072, ct, 1));
	free(ct);
	free(pt);
}

static void test_garbage(void)
{
	EVP_PKEY *k = keys();
	static const char *const junk[] = {
	    "",
	    "x",
	    "not base64!",
	    "env1:",
	    "env1:!!!!",
	    "env1:AAAA",
	    "AAAA",
	    "env2:AAAA",
	    "ZW52MTo=",
	    "env1:AQEBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	for (size_t i = 0; i < NELEM(junk); i++)
		CHECK_MSG(rejected(k, junk[i], 0), "input %zu", i);
	/* base64url instead of standard base64 is not accepted silently */
	char *ct = NULL;
	const char *alg;
	struct err e;
	CHECK(crypto_encrypt(k, (const uint8_t *)"hello", 5, &ct, &alg, &e) == 0);
	for (char *p = ct; *p; p++)
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	if (strpbrk(ct, "-_"))
		CHECK(rejected(k, ct, 0));
	free(ct);
}

static void test_known_answer_original_format(void)
{
	BIO *bio = BIO_new_mem_buf(kat_pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	CHECK(k != NULL);
	uint8_t *pt = NULL;
	size_t n = 0;
	const char *alg = NULL;
	struct err e;
	CHECK(crypto_decrypt(k, kat_ct, &pt, &n, &alg, &e) == 0);
	CHECK_INT(n, 14);
	CHECK(pt && !memcmp(pt, "Alice,555-0100", 14));
	CHECK_STR(alg, CRYPTO_ALG_OAEP);
	free(pt);
	EVP_PKEY_free(k);
}

static void test_key_id(void)
{
	uint8_t a[8], b[8], a2[8];
	CHECK(crypto_key_id(keys(), a) == 0);
	CHECK(crypto_key_id(key_b, b) == 0);
	CHECK(crypto_key_id(key_a, a2) == 0);
	CHECK(memcmp(a, b, 8) != 0);
	CHECK(memcmp(a, a2, 8) == 0);
}

/* Kept contexts: the same answers as fresh ones, across failures, for both formats; another
 * key is never answered with the kept key's contexts. */
static void test_kept_contexts(void)
{
	keys();
	struct err e;
	crypto_keep_contexts(key_a);
	for (int round = 0; round < 3; round++) {
		static const size_t sizes[] = {1, 190, 191, 3000};
		for (size_t i = 0; i < NELEM(sizes); i++) {
			uint8_t *pt = xmalloc(sizes[i]), *back = NULL;
			memset(pt, 'a' + (int)i, sizes[i]);
			char *ct = NULL, *ct_b = NULL;
			const char *alg;
			size_t n = 0;
			CHECK(crypto_encrypt(key_a, pt, sizes[i], &ct, &alg, &e) == 0);
			CHECK(crypto_encrypt(key_b, pt, sizes[i], &ct_b, &alg, &e) == 0);
			/* key_b's ciphertext does not open with key_a, and the reverse. */
			CHECK(crypto_decrypt(key_a, ct_b, &back, &n, &alg, &e) < 0 &&
			      e.code == ERR_BAD_REQUEST);
			CHECK(crypto_decrypt(key_b, ct, &back, &n, &alg, &e) < 0);
			/* A failure leaves the kept context usable. */
			CHECK(crypto_decrypt(key_a, ct, &back, &n, &alg, &e) == 0 &&
			      n == sizes[i] && !memcmp(back, pt, n));
			free(back);
			back = NULL;
			CHECK(crypto_decrypt(key_b, ct_b, &back, &n, &alg, &e) == 0 &&
			      n == sizes[i]);
			free(back);
			free(ct);
			free(ct_b);
			free(pt);
		}
	}
	crypto_forget(key_b); /* not the kept one: nothing happens */
	char *ct = NULL;
	const char *alg;
	CHECK(crypto_encrypt(key_a, (const uint8_t *)"x", 1, &ct, &alg, &e) == 0);
	crypto_forget(key_a);
	uint8_t *back = NULL;
	size_t n = 0;
	CHECK(ct && crypto_decrypt(key_a, ct, &back, &n, &alg, &e) == 0 && n == 1);
	free(back);
	free(ct);
}

static void test_cleanup(void)
{
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	EVP_PKEY_free(key_3072);
	key_a = key_b = key_3072 = NULL;
}

TESTS(test_limits, test_roundtrip_sizes, test_original_format_shape,
      test_envelope_max_text_fits_body, test_empty_plaintext, test_tamper_every_part,
      test_foreign_key, test_garbage, test_known_answer_original_format, test_key_id,
      test_kept_contexts, test_cleanup)
