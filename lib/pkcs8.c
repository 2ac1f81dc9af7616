#include "pkcs8.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <string.h>

#define NUMS    8
#define NUM_MAX 1024 /* bytes of one number: keys up to 8192 bits */

/* RSAPrivateKey's numbers in their DER order, as OpenSSL names them. */
static const char *const names[NUMS] = {
    OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
    OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
    OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
    OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
};

/* rsaEncryption, 1.2.840.113549.1.1.1 */
static const uint8_t rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

struct der {
	const uint8_t *p;
	size_t n;
};

/* Take the next element, which must have tag; *v is its contents. */
static int take(struct der *d, uint8_t tag, struct der *v)
{
	if (d->n < 2 || d->p[0] != tag)
		return -1;
	size_t len = d->p[1], hl = 2;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		/* Long form only when needed, no leading zero octet, at most 3 octets. */
		if (k == 0 || k > 3 || d->n < 2 + k || d->p[2] == 0)
			return -1;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | d->p[2 + i];
		if (len < 0x80)
			return -1;
		hl = 2 + k;
	}
	if (d->n - hl < len)
		return -1;
	v->p = d->p + hl;
	v->n = len;
	d->p += hl + len;
	d->n -= hl + len;
	return 0;
}

/* A non-negative minimal INTEGER; *v its magnitude without the sign octet (empty for 0). */
static int take_uint(struct der *d, struct der *v)
{
	if (take(d, 0x02, v) < 0 || v->n == 0 || (v->p[0] & 0x80))
		return -1;
	if (v->p[0] == 0) {
		if (v->n > 1 && !(v->p[1] & 0x80))
			return -1;
		v->p++;
		v->n--;
	}
	return 0;
}

static int is_small(const struct der *v, uint8_t value)
{
	return value == 0 ? v->n == 0 : v->n == 1 && v->p[0] == value;
}

static int little_endian(void)
{
	const uint16_t one = 1;
	uint8_t first;
	memcpy(&first, &one, 1);
	return first == 1;
}

/* n big-endian bytes as an n-byte native-endian number (OSSL_PARAM's unsigned integers). */
static void be_to_native(const uint8_t *be, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = little_endian() ? be[n - 1 - i] : be[i];
}

/* An n-byte native-endian number as minimal big-endian (at least one byte); its length. */
static size_t native_to_be(const uint8_t *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = little_endian() ? in[n - 1 - i] : in[i];
	size_t z = 0;
	while (z + 1 < n && out[z] == 0)
		z++;
	memmove(out, out + z, n - z);
	return n - z;
}

static int bad(struct err *e)
{
	return err_set(e, ERR_UNPROCESSABLE, "not a DER PKCS#8 RSA private key");
}

/* The eight numbers of the RSAPrivateKey inside PrivateKeyInfo der. */
static int parse(const uint8_t *der, size_t n, struct der num[NUMS], struct err *e)
{
	struct der in = {der, n}, info, ver, alg, oid, key, rsa, v;
	if (take(&in, 0x30, &info) < 0 || in.n || take_uint(&info, &ver) < 0 ||
	    !(is_small(&ver, 0) || is_small(&ver, 1)) || take(&info, 0x30, &alg) < 0 ||
	    take(&alg, 0x06, &oid) < 0)
		return bad(e);
	if (oid.n != sizeof(rsa_oid) || memcmp(oid.p, rsa_oid, sizeof(rsa_oid)))
		return err_set(e, ERR_UNSUPPORTED, "the private key is not an rsaEncryption key");
	if (alg.n && (take(&alg, 0x05, &v) < 0 || v.n || alg.n))
		return bad(e);
	if (take(&info, 0x04, &key) < 0)
		return bad(e);
	/* [0] attributes and, in version 1, [1] the public key: not needed. */
	if (info.n && info.p[0] == 0xa0 && take(&info, 0xa0, &v) < 0)
		return bad(e);
	if (info.n && is_small(&ver, 1) && take(&info, 0x81, &v) < 0)
		return bad(e);
	if (info.n || take(&key, 0x30, &rsa) < 0 || key.n || take_uint(&rsa, &v) < 0)
		return bad(e);
	if (!is_small(&v, 0))
		return err_set(e, ERR_UNSUPPORTED, "multi-prime RSA keys are not supported");
	for (size_t i = 0; i < NUMS; i++)
		if (take_uint(&rsa, &num[i]) < 0 || num[i].n > NUM_MAX)
			return bad(e);
	return rsa.n ? bad(e) : 0;
}

/*
 * The numbers form one two-prime key: n = p q, d e = 1 mod p-1 and mod q-1, dp and dq are
 * d mod p-1 and q-1, qi q = 1 mod p.  What OpenSSL's pairwise check proves, without its
 * primality tests (tens of milliseconds for every key loaded).
 */
static int consistent(const struct der num[NUMS])
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *b[NUMS] = {0}, *t = BN_secure_new(), *u = BN_secure_new(), *pm1 = BN_secure_new(),
	       *qm1 = BN_secure_new();
	int ok = ctx && t && u && pm1 && qm1;
	for (size_t i = 0; ok && i < NUMS; i++)
		ok = (b[i] = BN_secure_new()) && BN_bin2bn(num[i].p, (int)num[i].n, b[i]);
	if (ok) {
		BIGNUM *n = b[0], *e = b[1], *d = b[2], *p = b[3], *q = b[4], *dp = b[5],
		       *dq = b[6], *qi = b[7];
		BN_set_flags(d, BN_FLG_CONSTTIME);
		ok = !BN_is_zero(p) && !BN_is_zero(q) && !BN_is_one(p) && !BN_is_one(q) &&
		     BN_is_odd(e) && BN_mul(t, p, q, ctx) && !BN_cmp(t, n) && BN_copy(pm1, p) &&
		     BN_sub_word(pm1, 1) && BN_copy(qm1, q) && BN_sub_word(qm1, 1) &&
		     BN_mod(t, d, pm1, ctx) && !BN_cmp(t, dp) && BN_mod(t, d, qm1, ctx) &&
		     !BN_cmp(t, dq) && BN_mod_mul(u, e, dp, pm1, ctx) && BN_is_one(u) &&
		     BN_mod_mul(u, e, dq, qm1, ctx) && BN_is_one(u) &&
		     BN_mod_mul(u, qi, q, p, ctx) && BN_is_one(u);
	}
	for (size_t i = 0; i < NUMS; i++)
		BN_clear_free(b[i]);
	BN_clear_free(t);
	BN_clear_free(u);
	BN_clear_free(pm1);
	BN_clear_free(qm1);
	BN_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

EVP_PKEY *pkcs8_rsa_decode(const uint8_t *der, size_t n, struct err *e)
{
	struct der num[NUMS];
	if (!der) {
		bad(e);
		return NULL;
	}
	if (parse(der, n, num, e) < 0)
		return NULL;
	/* Numbers that do not form a key pair must not be used. */
	if (!consistent(num)) {
		err_set(e, ERR_UNPROCESSABLE, "the PKCS#8 numbers do not form an RSA key pair");
		return NULL;
	}
	uint8_t *blk = xcalloc(NUMS, NUM_MAX);
	OSSL_PARAM ps[NUMS + 1];
	for (size_t i = 0; i < NUMS; i++) {
		uint8_t *at = blk + i * NUM_MAX;
		be_to_native(num[i].p, num[i].n, at);
		ps[i] = OSSL_PARAM_construct_BN(names[i], at, num[i].n ? num[i].n : 1);
	}
	ps[NUMS] = OSSL_PARAM_construct_end();
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, ps) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	wipe(blk, NUMS * NUM_MAX);
	free(blk);
	if (!key)
		err_set(e, ERR_UNPROCESSABLE,
		        "the PKCS#8 numbers are not an RSA key OpenSSL takes");
	return key;
}

static size_t len_octets(size_t len)
{
	return len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 4;
}

static uint8_t *put_hdr(uint8_t *p, uint8_t tag, size_t len)
{
	*p++ = tag;
	size_t k = len_octets(len) - 1;
	if (!k) {
		*p++ = (uint8_t)len;
		return p;
	}
	*p++ = (uint8_t)(0x80 | k);
	for (size_t i = k; i > 0; i--)
		*p++ = (uint8_t)(len >> (8 * (i - 1)));
	return p;
}

int pkcs8_rsa_encode(EVP_PKEY *key, uint8_t **der, size_t *n, struct err *e)
{
	*der = NULL;
	*n = 0;
	if (!key || !EVP_PKEY_is_a(key, "RSA"))
		return err_set(e, ERR_INTERNAL, "not an RSA key");
	/* Native numbers from the key, then each as big-endian. */
	uint8_t *blk = xcalloc(2 * NUMS, NUM_MAX), *be[NUMS];
	size_t bl[NUMS], content = 3; /* RSAPrivateKey: version 0 first */
	OSSL_PARAM ps[NUMS + 1];
	for (size_t i = 0; i < NUMS; i++)
		ps[i] = OSSL_PARAM_construct_BN(names[i], blk + i * NUM_MAX, NUM_MAX);
	ps[NUMS] = OSSL_PARAM_construct_end();
	int rc = -1;
	if (EVP_PKEY_get_params(key, ps) != 1)
		goto done;
	for (size_t i = 0; i < NUMS; i++) {
		if (!OSSL_PARAM_modified(&ps[i]))
			goto done;
		be[i] = blk + (NUMS + i) * NUM_MAX;
		bl[i] = native_to_be(blk + i * NUM_MAX, NUM_MAX, be[i]);
		size_t il = bl[i] + (be[i][0] & 0x80 ? 1 : 0);
		content += 1 + len_octets(il) + il;
	}
	size_t rsa = 1 + len_octets(content) + content, oct = 1 + len_octets(rsa) + rsa;
	size_t info = 3 + 15 + oct, total = 1 + len_octets(info) + info;
	uint8_t *out = xmalloc(total), *p = out;
	p = put_hdr(p, 0x30, info);
	static const uint8_t head[] = {0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09};
	memcpy(p, head, sizeof(head));
	p += sizeof(head);
	memcpy(p, rsa_oid, sizeof(rsa_oid));
	p += sizeof(rsa_oid);
	*p++ = 0x05;
	*p++ = 0x00;
	p = put_hdr(p, 0x04, rsa);
	p = put_hdr(p, 0x30, content);
	memcpy(p, head, 3);
	p += 3;
	for (size_t i = 0; i < NUMS; i++) {
		int sign = be[i][0] & 0x80 ? 1 : 0;
		p = put_hdr(p, 0x02, bl[i] + (size_t)sign);
		if (sign)
			*p++ = 0;
		memcpy(p, be[i], bl[i]);
		p += bl[i];
	}
	if ((size_t)(p - out) != total) {
		wipe(out, total);
		free(out);
		goto done;
	}
	*der = out;
	*n = total;
	rc = 0;
done:
	ERR_clear_error();
	wipe(blk, 2 * NUMS * NUM_MAX);
	free(blk);
	if (rc < 0)
		err_set(e, ERR_INTERNAL, "the key's private numbers cannot be read");
	return rc;
}
