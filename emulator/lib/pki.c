#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define PEM_MAX (64 * 1024)

int pki_lock_dir(const char *dir, struct err *e)
{
	char *path = xasprintf("%s/.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return err_set(e, ERR_INTERNAL, "cannot open lock file in %s: %s", dir,
		               strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return err_set(e, ERR_INTERNAL, "cannot lock %s: %s", dir, strerror(errno));
		}
	}
	return fd;
}

/* A memory BIO over the file's bytes (kept in b, which the caller frees after the BIO). */
static BIO *file_bio(const char *path, struct buf *b, struct err *e)
{
	buf_init(b);
	if (read_file(path, PEM_MAX, b) != 0) {
		err_set(e, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "cannot read %s: %s",
		        path, strerror(errno));
		return NULL;
	}
	return BIO_new_mem_buf(b->p, (int)b->len);
}

EVP_PKEY *pki_load_private_key(const char *path, struct err *e)
{
	struct buf b;
	BIO *bio = file_bio(path, &b, e);
	if (!bio) {
		buf_free(&b);
		return NULL;
	}
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	wipe(b.p, b.len);
	buf_free(&b);
	ERR_clear_error();
	if (!k)
		err_set(e, ERR_INTERNAL, "%s is not a PEM private key", path);
	return k;
}

EVP_PKEY *pki_load_public_key(const char *path, struct err *e)
{
	struct buf b;
	BIO *bio = file_bio(path, &b, e);
	if (!bio) {
		buf_free(&b);
		return NULL;
	}
	EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!k) {
		(void)BIO_reset(bio);
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		k = x ? X509_get_pubkey(x) : NULL;
		X509_free(x);
	}
	BIO_free(bio);
	buf_free(&b);
	ERR_clear_error();
	if (!k)
		err_set(e, ERR_INTERNAL, "%s holds no PEM public key or certificate", path);
	return k;
}

X509 *pki_load_cert(const char *path, struct err *e)
{
	struct buf b;
	BIO *bio = file_bio(path, &b, e);
	if (!bio) {
		buf_free(&b);
		return NULL;
	}
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	buf_free(&b);
	ERR_clear_error();
	if (!x)
		err_set(e, ERR_INTERNAL, "%s is not a PEM certificate", path);
	return x;
}

/* Write what a PEM writer put into bio; a private key's bio is secmem (cleansed on free). */
static int write_bio(const char *path, BIO *bio, int ok, int mode, struct err *e)
{
	char *data = NULL;
	long n = ok ? BIO_get_mem_data(bio, &data) : 0;
	ok = ok && n > 0 && write_file_atomic(path, data, (size_t)n, mode) == 0;
	int en = errno;
	BIO_free(bio);
	ERR_clear_error();
	if (!ok)
		return err_set(e, ERR_INTERNAL, "cannot write %s: %s", path, strerror(en));
	return 0;
}

int pki_write_key(const char *path, EVP_PKEY *key, int private_part, struct err *e)
{
	BIO *bio = BIO_new(private_part ? BIO_s_secmem() : BIO_s_mem());
	int ok = bio &&
	         (private_part ? PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
	                       : PEM_write_bio_PUBKEY(bio, key)) == 1;
	return write_bio(path, bio, ok, private_part ? 0600 : 0644, e);
}

int pki_write_cert(const char *path, X509 *cert, struct err *e)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ok = bio && cert && PEM_write_bio_X509(bio, cert) == 1;
	return write_bio(path, bio, ok, 0644, e);
}

static int host_is_ip(const char *h)
{
	return strspn(h, "0123456789.") == strlen(h) || strchr(h, ':');
}

X509 *pki_self_signed(EVP_PKEY *key, const char *org, const char *cn, const char *host)
{
	X509 *x = X509_new();
	BIGNUM *serial = BN_new();
	X509V3_CTX ctx;
	if (!x || !serial || BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
		goto fail;
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_set_pubkey(x, key) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	char *san = host ? xasprintf("%s:%s", host_is_ip(host) ? "IP" : "DNS", host) : NULL;
	const struct {
		int nid;
		const char *val;
	} exts[] = {
	    {NID_basic_constraints, "critical,CA:FALSE"},
	    {NID_key_usage, "critical,digitalSignature"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_subject_alt_name, san},
	};
	int ok = 1;
	for (size_t i = 0; i < NELEM(exts) && ok; i++) {
		if (!exts[i].val)
			continue;
		X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].val);
		ok = ex && X509_add_ext(x, ex, -1) == 1;
		X509_EXTENSION_free(ex);
	}
	free(san);
	if (!ok || X509_sign(x, key, EVP_sha256()) <= 0)
		goto fail;
	BN_free(serial);
	return x;
fail:
	BN_free(serial);
	X509_free(x);
	return NULL;
}

EVP_PKEY *pki_ensure_rsa_key(const char *path, int bits, int *created, struct err *e)
{
	struct err tmp;
	err_clear(&tmp);
	*created = 0;
	EVP_PKEY *key = pki_load_private_key(path, &tmp);
	if (key)
		return key;
	if (tmp.code != ERR_NOT_FOUND) {
		err_set(e, ERR_INTERNAL, "%s exists but is not a readable PEM private key", path);
		return NULL;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	if (!key) {
		ERR_clear_error();
		err_set(e, ERR_INTERNAL, "cannot generate an RSA key for %s", path);
		return NULL;
	}
	if (pki_write_key(path, key, 1, e) < 0) {
		EVP_PKEY_free(key);
		return NULL;
	}
	*created = 1;
	return key;
}

static int cert_fits(X509 *x, EVP_PKEY *key, const char *host)
{
	if (!x || X509_check_private_key(x, key) != 1)
		return 0;
	int r = !host              ? 1
	        : host_is_ip(host) ? X509_check_ip_asc(x, host, 0)
	                           : X509_check_host(x, host, 0, 0, NULL);
	ERR_clear_error();
	return r == 1;
}

int pki_ensure_self_signed(const char *path, EVP_PKEY *key, const char *org, const char *cn,
                           const char *host, struct err *e)
{
	struct err ignore;
	X509 *cert = pki_load_cert(path, &ignore);
	int fits = cert_fits(cert, key, host);
	X509_free(cert);
	if (fits)
		return 0;
	cert = pki_self_signed(key, org, cn, host);
	if (!cert) {
		ERR_clear_error();
		return err_set(e, ERR_INTERNAL, "cannot create %s", path);
	}
	int rc = pki_write_cert(path, cert, e);
	X509_free(cert);
	return rc < 0 ? -1 : 1;
}
