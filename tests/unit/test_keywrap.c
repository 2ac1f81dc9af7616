/* RSA-AES key wrap: RFC 5649 vectors, fixed-key known answers made by another
 * implementation (data/keywrap-README.md), round trips, and every kind of tampering. */
#include <openssl/pem.h>

#include "codec.h"
#include "keywrap.h"
#include "testlib.h"

static const char *data_dir(void)
{
	const char *d = getenv("TEST_DATA_DIR");
	return d && *d ? d : "tests/unit/data";
}

static unsigned char *hex(const char *s, size_t *n)
{
	unsigned char *out = NULL;
	if (hex_decode(s, strlen(s), &out, n) < 0)
		return NULL;
	return out;
}

static unsigned char *hex_file(const char *name, size_t *n)
{
	char *path = xasprintf("%s/%s", data_dir(), name);
	struct buf b;
	buf_init(&b);
	unsigned char *out = NULL;
	if (read_file(path, 1 << 20, &b) == 0) {
		while (b.len && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r'))
			b.p[--b.len] = '\0';
		if (hex_decode((char *)b.p, b.len, &out, n) < 0)
			out = NULL;
	}
	if (!out)
		fprintf(stderr, "  cannot read fixture %s\n", path);
	buf_free(&b);
	free(path);
	return out;
}

static EVP_PKEY *fixture_key(void)
{
	char *path = xasprintf("%s/keywrap-rsa.pem", data_dir());
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!k)
		fprintf(stderr, "  cannot read %s\n", path);
	free(path);
	return k;
}

static EVP_PKEY *keygen(unsigned bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

static void test_rfc5649_vectors(void)
{
	static const struct {
		const char *key, *wrapped;
	} v[] = {
	    {"c37b7e6492584340bed12207808941155068f738",
	     "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
	    {"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	};
	size_t kn;
	unsigned char *kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", &kn);
	CHECK_INT(kn, 24);
	for (size_t i = 0; i < NELEM(v); i++) {
		size_t pn, wn, on = 0;
		unsigned char *p = hex(v[i].key, &pn), *w = hex(v[i].wrapped, &wn), *o = NULL;
		struct err e;
		err_clear(&e);
		CHECK_INT(keywrap_aes_kwp_wrap(kek, kn, p, pn, &o, &on, &e), 0);
		CHECK(on == wn && o && !memcmp(o, w, wn));
		free(o);
		o = NULL;
		CHECK_INT(keywrap_aes_kwp_unwrap(kek, kn, w, wn, &o, &on, &e), 0);
		CHECK(on == pn && o && !memcmp(o, p, pn));
		free(o);
		/* A flipped bit anywhere fails the integrity check. */
		for (size_t j = 0; j < wn; j++) {
			w[j] ^= 0x01;
			o = NULL;
			CHECK_INT(keywrap_aes_kwp_unwrap(kek, kn, w, wn, &o, &on, &e), -1);
			CHECK(o == NULL);
			w[j] ^= 0x01;
		}
		free(p);
		free(w);
	}
	free(kek);
}

static void test_fixture_unwrap(void)
{
	static const struct {
		const char *file;
		enum keywrap_alg alg;
	} f[] = {
	    {"keywrap-ckm.hex", KEYWRAP_RSA_AES},
	    {"keywrap-256.hex", KEYWRAP_RSA_AES_256},
	    {"keywrap-384.hex", KEYWRAP_RSA_AES_384},
	    {"keywrap-ckm-kek128.hex", KEYWRAP_RSA_AES},
	};
	EVP_PKEY *k = fixture_key();
	size_t pn = 0;
	unsigned char *plain = hex_file("keywrap-plain.hex", &pn);
	CHECK(k && plain && pn == 37);
	for (size_t i = 0; k && plain && i < NELEM(f); i++) {
		size_t cn = 0, on = 0;
		unsigned char *ct = hex_file(f[i].file, &cn), *o = NULL;
		struct err e;
		err_clear(&e);
		CHECK_MSG(keywrap_unwrap(k, f[i].alg, ct, cn, &o, &on, &e) == 0, "%s: %s",
		          f[i].file, e.msg);
		CHECK(o && on == pn && !memcmp(o, plain, pn));
		free(o);
		/* The wrong OAEP hash is refused, with the same message as any other failure. */
		enum keywrap_alg other =
		    f[i].alg == KEYWRAP_RSA_AES ? KEYWRAP_RSA_AES_256 : KEYWRAP_RSA_AES;
		o = NULL;
		err_clear(&e);
		CHECK_INT(keywrap_unwrap(k, other, ct, cn, &o, &on, &e), -1);
		CHECK_INT(e.code, ERR_UNPROCESSABLE);
		CHECK(o == NULL);
		free(ct);
	}
	free(plain);
	EVP_PKEY_free(k);
}

static void test_roundtrip_all_algs(void)
{
	EVP_PKEY *k2 = keygen(2048), *k3 = keygen(3072);
	CHECK(k2 && k3);
	static const size_t sizes[] = {1, 7, 8, 9, 32, 1217, 2375};
	for (int a = KEYWRAP_RSA_AES; a <= KEYWRAP_RSA_AES_384; a++) {
		for (size_t s = 0; s < NELEM(sizes); s++) {
			EVP_PKEY *k = s % 2 ? k3 : k2;
			size_t n = sizes[s], wn = 0, on = 0;
			unsigned char *p = xmalloc(n), *w = NULL, *o = NULL;
			for (size_t i = 0; i < n; i++)
				p[i] = (unsigned char)(i * 7 + s);
			struct err e;
			err_clear(&e);
			CHECK_INT(keywrap_wrap(k, (enum keywrap_alg)a, p, n, &w, &wn, &e), 0);
			size_t mod = (size_t)EVP_PKEY_get_size(k);
			CHECK_INT(wn, mod + 8 + (n + 7) / 8 * 8);
			CHECK_INT(keywrap_unwrap(k, (enum keywrap_alg)a, w, wn, &o, &on, &e), 0);
			CHECK(o && on == n && !memcmp(o, p, n));
			free(p);
			free(w);
			free(o);
		}
	}
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

static void test_tampering(void)
{
	EVP_PKEY *k = keygen(2048), *wrong = keygen(2048);
	unsigned char secret[48];
	memset(secret, 0x5a, sizeof(secret));
	unsigned char *w = NULL, *o = NULL;
	size_t wn = 0, on = 0;
	struct err e;
	err_clear(&e);
	CHECK_INT(keywrap_wrap(k, KEYWRAP_RSA_AES_256, secret, sizeof(secret), &w, &wn, &e), 0);
	/* Flipped bytes: in the RSA part (start, middle, end), in the AIV, in the payload. */
	const size_t at[] = {0, 100, 255, 256, 263, 264, wn - 1};
	char first_msg[sizeof(e.msg)] = "";
	for (size_t i = 0; i < NELEM(at); i++) {
		w[at[i]] ^= 0x80;
		err_clear(&e);
		o = NULL;
		CHECK_MSG(keywrap_unwrap(k, KEYWRAP_RSA_AES_256, w, wn, &o, &on, &e) == -1,
		          "flip at %zu accepted", at[i]);
		CHECK(o == NULL && e.code == ERR_UNPROCESSABLE);
		/* Same words whichever part was hit: no oracle. */
		if (!*first_msg)
			snprintf(first_msg, sizeof(first_msg), "%s", e.msg);
		CHECK_STR(e.msg, first_msg);
		w[at[i]] ^= 0x80;
	}
	/* Truncated, extended, and too short for even the RSA part. */
	const size_t lens[] = {wn - 1, wn - 8, 256 + 8, 255, 0};
	for (size_t i = 0; i < NELEM(lens); i++) {
		o = NULL;
		CHECK_INT(keywrap_unwrap(k, KEYWRAP_RSA_AES_256, w, lens[i], &o, &on, &e), -1);
		CHECK(o == NULL && e.code == ERR_UNPROCESSABLE);
	}
	unsigned char *longer = xcalloc(wn + 8, 1);
	memcpy(longer, w, wn);
	CHECK_INT(keywrap_unwrap(k, KEYWRAP_RSA_AES_256, longer, wn + 8, &o, &on, &e), -1);
	free(longer);
	/* Wrong private key and wrong algorithm. */
	CHECK_INT(keywrap_unwrap(wrong, KEYWRAP_RSA_AES_256, w, wn, &o, &on, &e), -1);
	CHECK_STR(e.msg, first_msg);
	CHECK_INT(keywrap_unwrap(k, KEYWRAP_RSA_AES_384, w, wn, &o, &on, &e), -1);
	CHECK(o == NULL);
	/* Sanity: untouched it still unwraps. */
	CHECK_INT(keywrap_unwrap(k, KEYWRAP_RSA_AES_256, w, wn, &o, &on, &e), 0);
	CHECK(on == sizeof(secret) && !memcmp(o, secret, on));
	free(o);
	free(w);
	EVP_PKEY_free(k);
	EVP_PKEY_free(wrong);
}

static void test_refusals(void)
{
	struct err e;
	err_clear(&e);
	enum keywrap_alg a;
	CHECK_INT(keywrap_alg_parse("CKM_RSA_AES_KEY_WRAP", &a, &e), 0);
	CHECK_INT(a, KEYWRAP_RSA_AES);
	CHECK_INT(keywrap_alg_parse("RSA_AES_KEY_WRAP_256", &a, &e), 0);
	CHECK_INT(a, KEYWRAP_RSA_AES_256);
	CHECK_INT(keywrap_alg_parse("RSA_AES_KEY_WRAP_384", &a, &e), 0);
	CHECK_INT(a, KEYWRAP_RSA_AES_384);
	CHECK_INT(keywrap_alg_parse("rsa_aes_key_wrap_256", &a, &e), -1);
	CHECK_INT(e.code, ERR_BAD_REQUEST);
	CHECK_INT(keywrap_alg_parse("RSA-OAEP", &a, &e), -1);
	CHECK_INT(keywrap_alg_parse(NULL, &a, &e), -1);
	CHECK_STR(keywrap_alg_name(KEYWRAP_RSA_AES), "CKM_RSA_AES_KEY_WRAP");
	CHECK_STR(keywrap_alg_name(KEYWRAP_RSA_AES_384), "RSA_AES_KEY_WRAP_384");

	/* Wrapping to a weak key or an EC key is refused; so is an empty key. */
	EVP_PKEY *small = keygen(1024), *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *k = keygen(2048);
	unsigned char key[16] = {1}, *w = NULL;
	size_t wn;
	CHECK_INT(keywrap_wrap(small, KEYWRAP_RSA_AES, key, sizeof(key), &w, &wn, &e), -1);
	CHECK_INT(keywrap_wrap(ec, KEYWRAP_RSA_AES, key, sizeof(key), &w, &wn, &e), -1);
	CHECK_INT(keywrap_wrap(k, KEYWRAP_RSA_AES, key, 0, &w, &wn, &e), -1);
	CHECK(w == NULL);
	/* The KEK length is not ours to pick when unwrapping, but must be an AES size. */
	unsigned char kek[20] = {0}, *o = NULL;
	size_t on;
	CHECK_INT(keywrap_aes_kwp_wrap(kek, sizeof(kek), key, sizeof(key), &o, &on, &e), -1);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(k);
}

TESTS(test_rfc5649_vectors, test_fixture_unwrap, test_roundtrip_all_algs, test_tampering,
      test_refusals)
