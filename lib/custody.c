#include "custody.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "jsonx.h"
#include "jwt.h"

/* Far above a 4096-bit PKCS#8 RSA key (about 2.4 KB) or its facts. */
#define MAX_FILE (64 * 1024)

static const char *state_dir(void)
{
	return cfg.state_dir && *cfg.state_dir ? cfg.state_dir : ".";
}

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", state_dir(), name);
}

/* Create the state directory if needed and check nobody else can replace our files. */
static int check_dir(struct err *e)
{
	const char *d = state_dir();
	struct stat st;
	if (mkdir(d, 0700) < 0 && errno != EEXIST)
		return err_set(e, ERR_INTERNAL, "STATE_DIR %s cannot be created: %s", d,
		               strerror(errno));
	if (lstat(d, &st) < 0)
		return err_set(e, ERR_INTERNAL, "STATE_DIR %s: %s", d, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_INTERNAL, "STATE_DIR %s is not a directory", d);
	if (st.st_uid != geteuid())
		return err_set(e, ERR_INTERNAL, "STATE_DIR %s is owned by uid %ld, not by us (%ld)",
		               d, (long)st.st_uid, (long)geteuid());
	if (st.st_mode & 022)
		return err_set(
		    e, ERR_INTERNAL,
		    "STATE_DIR %s is writable by group or others (mode %03o): chmod 700 it", d,
		    (unsigned)(st.st_mode & 0777));
	return 0;
}

/*
 * Read a private file: no symlinks, a regular file owned by us that group and
 * other cannot access, at most MAX_FILE bytes.  ERR_NOT_FOUND when missing.
 */
static int read_private(const char *name, struct buf *out, struct err *e)
{
	char *p = path_of(name);
	int rc = -1;
	/* O_NONBLOCK: a FIFO planted under the name must be refused, not wait for a writer. */
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ENOENT)
			err_set(e, ERR_NOT_FOUND, CUSTODY_NONE_MSG);
		else if (errno == ELOOP)
			err_set(e, ERR_INTERNAL, "refusing %s: it is a symbolic link", p);
		else
			err_set(e, ERR_INTERNAL, "cannot open %s: %s", p, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		err_set(e, ERR_INTERNAL, "cannot stat %s: %s", p, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, ERR_INTERNAL, "refusing %s: not a regular file", p);
		goto done;
	}
	if (st.st_uid != geteuid()) {
		err_set(e, ERR_INTERNAL, "refusing %s: owned by uid %ld, not by us", p,
		        (long)st.st_uid);
		goto done;
	}
	if (st.st_mode & 077) {
		err_set(e, ERR_INTERNAL,
		        "refusing %s: group or others may access it (mode %03o); it must be 0600",
		        p, (unsigned)(st.st_mode & 0777));
		goto done;
	}
	if (st.st_size > MAX_FILE) {
		err_set(e, ERR_INTERNAL, "refusing %s: larger than %d bytes", p, MAX_FILE);
		goto done;
	}
	unsigned char tmp[4096];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(e, ERR_INTERNAL, "cannot read %s: %s", p, strerror(errno));
			break;
		}
		if (n == 0) {
			rc = 0;
			break;
		}
		if (out->len + (size_t)n > MAX_FILE) {
			err_set(e, ERR_INTERNAL, "refusing %s: larger than %d bytes", p, MAX_FILE);
			break;
		}
		buf_append(out, tmp, (size_t)n);
	}
	wipe(tmp, sizeof(tmp));
	if (rc == 0 && !out->p)
		buf_append(out, "", 0);
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		buf_free(out);
	free(p);
	return rc;
}

/* Replace name atomically with n bytes, mode 0600 whatever the umask (write_file_atomic). */
static int write_private(const char *name, const void *data, size_t n, struct err *e)
{
	char *p = path_of(name);
	int rc = write_file_atomic(p, data, n, 0600);
	if (rc < 0)
		err_set(e, ERR_INTERNAL, "cannot write %s: %s", p, strerror(errno));
	free(p);
	return rc;
}

static int custody_store_do(EVP_PKEY *key, struct json_object *facts, struct err *e)
{
	if (!key)
		return err_set(e, ERR_INTERNAL, "no key to keep");
	if (check_dir(e) < 0)
		return -1;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *der = NULL;
	int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (len <= 0)
		return err_set(e, ERR_INTERNAL, "the released key cannot be encoded as PKCS#8");
	int rc = -1;
	/* Key first, facts second: a reader that sees new facts always finds the new key. */
	if (write_private(CUSTODY_KEY_FILE, der, (size_t)len, e) < 0)
		goto done;
	struct json_object *f = NULL;
	if (facts)
		f = json_tokener_parse(json_object_to_json_string(facts));
	if (!f || !json_object_is_type(f, json_type_object)) {
		json_object_put(f);
		f = json_object_new_object();
	}
	char *tp = jwk_thumbprint(key);
	jsonx_add_str(f, "thumbprint", tp);
	jsonx_add_int(f, "stored_at", now_unix());
	free(tp);
	char *text = jsonx_dump(f);
	json_object_put(f);
	if (write_private(CUSTODY_FACTS_FILE, text, strlen(text), e) == 0)
		rc = 0;
	free(text);
done:
	OPENSSL_clear_free(der, (size_t)len);
	return rc;
}

static int parse_facts(struct buf *b, struct json_object **facts, struct err *e)
{
	if (jsonx_parse((const char *)b->p, b->len, facts, e) < 0 ||
	    !json_object_is_type(*facts, json_type_object)) {
		json_object_put(*facts);
		*facts = NULL;
		return err_set(e, ERR_INTERNAL, "%s/%s is not a JSON object", state_dir(),
		               CUSTODY_FACTS_FILE);
	}
	return 0;
}

static int custody_facts_do(struct json_object **facts, struct err *e)
{
	struct buf b;
	buf_init(&b);
	*facts = NULL;
	if (read_private(CUSTODY_FACTS_FILE, &b, e) < 0)
		return -1;
	int rc = parse_facts(&b, facts, e);
	buf_free(&b);
	return rc;
}

static EVP_PKEY *decode_key(struct buf *b, struct err *e)
{
	const unsigned char *p = b->p;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)b->len);
	EVP_PKEY *k = NULL;
	if (p8 && p == b->p + b->len)
		k = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (!k)
		err_set(e, ERR_INTERNAL, "%s/%s does not hold a PKCS#8 private key", state_dir(),
		        CUSTODY_KEY_FILE);
	return k;
}

static int custody_load_do(EVP_PKEY **key, struct json_object **facts, struct err *e)
{
	*key = NULL;
	if (facts)
		*facts = NULL;
	/* A concurrent store may pair a new key with old facts for an instant: retry. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct buf b;
		buf_init(&b);
		if (read_private(CUSTODY_KEY_FILE, &b, e) < 0)
			return -1;
		EVP_PKEY *k = decode_key(&b, e);
		buf_free(&b);
		if (!k)
			return -1;
		if (!facts) {
			*key = k;
			return 0;
		}
		struct json_object *f = NULL;
		if (custody_facts(&f, e) < 0) {
			if (e->code != ERR_NOT_FOUND) {
				EVP_PKEY_free(k);
				return -1;
			}
			/* Facts lost (a crash between the two writes): the key is still good. */
			char *tp = jwk_thumbprint(k);
			f = json_object_new_object();
			jsonx_add_str(f, "thumbprint", tp);
			free(tp);
			*key = k;
			*facts = f;
			err_clear(e);
			return 0;
		} else {
			char *tp = jwk_thumbprint(k);
			const char *ftp = jsonx_str(f, "thumbprint");
			int match = tp && ftp && !strcmp(tp, ftp);
			free(tp);
			if (match) {
				*key = k;
				*facts = f;
				return 0;
			}
			EVP_PKEY_free(k);
			json_object_put(f);
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return err_set(e, ERR_CONFLICT, "the released key is being replaced: try again");
}

static void wipe_file(const char *name)
{
	char *p = path_of(name);
	int fd = open(p, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd >= 0) {
		/* Only our own regular file: never zero something planted under the name. */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		    st.st_size > 0 && st.st_size <= MAX_FILE) {
			static const unsigned char zeros[4096];
			off_t left = st.st_size;
			while (left > 0) {
				size_t chunk =
				    left > (off_t)sizeof(zeros) ? sizeof(zeros) : (size_t)left;
				ssize_t w = write(fd, zeros, chunk);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					break;
				left -= w;
			}
			(void)fsync(fd);
		}
		close(fd);
	}
	unlink(p);
	free(p);
}

void custody_clear(void)
{
	wipe_file(CUSTODY_KEY_FILE);
	wipe_file(CUSTODY_FACTS_FILE);
}

int custody_store(EVP_PKEY *key, struct json_object *facts, struct err *e)
{
	return custody_store_do(key, facts, e) < 0 ? err_in(e, STAGE_CUSTODY) : 0;
}

int custody_facts(struct json_object **facts, struct err *e)
{
	return custody_facts_do(facts, e) < 0 ? err_in(e, STAGE_CUSTODY) : 0;
}

int custody_load(EVP_PKEY **key, struct json_object **facts, struct err *e)
{
	return custody_load_do(key, facts, e) < 0 ? err_in(e, STAGE_CUSTODY) : 0;
}
