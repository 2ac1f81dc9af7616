#include "custody.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "jsonx.h"
#include "jwt.h"
#include "pkcs8.h"

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

/* The refusals every reader applies, to an lstat of the name or an fstat of what was opened. */
static int check_private(const char *p, const struct stat *st, struct err *e)
{
	if (S_ISLNK(st->st_mode))
		return err_set(e, ERR_INTERNAL, "refusing %s: it is a symbolic link", p);
	if (!S_ISREG(st->st_mode))
		return err_set(e, ERR_INTERNAL, "refusing %s: not a regular file", p);
	if (st->st_uid != geteuid())
		return err_set(e, ERR_INTERNAL, "refusing %s: owned by uid %ld, not by us", p,
		               (long)st->st_uid);
	if (st->st_mode & 077)
		return err_set(
		    e, ERR_INTERNAL,
		    "refusing %s: group or others may access it (mode %03o); it must be 0600", p,
		    (unsigned)(st->st_mode & 0777));
	if (st->st_size > MAX_FILE)
		return err_set(e, ERR_INTERNAL, "refusing %s: larger than %d bytes", p, MAX_FILE);
	return 0;
}

/* lstat name and apply the refusals: what a request pays while the held copy is current. */
static int stat_private(const char *name, struct stat *st, struct err *e)
{
	char *p = path_of(name);
	int rc = 0;
	if (lstat(p, st) < 0) {
		if (errno == ENOENT)
			rc = err_set(e, ERR_NOT_FOUND, CUSTODY_NONE_MSG);
		else
			rc = err_set(e, ERR_INTERNAL, "cannot stat %s: %s", p, strerror(errno));
	} else {
		rc = check_private(p, st, e);
	}
	free(p);
	return rc;
}

/*
 * Read a private file: no symlinks, a regular file owned by us that group and
 * other cannot access, at most MAX_FILE bytes.  ERR_NOT_FOUND when missing.
 * *st is the fstat of what was read (its identity).
 */
static int read_private(const char *name, struct buf *out, struct stat *st, struct err *e)
{
	char *p = path_of(name);
	int rc = -1;
	/* O_NONBLOCK: a FIFO planted under the name must be refused, not wait for a writer. */
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			err_set(e, ERR_NOT_FOUND, CUSTODY_NONE_MSG);
		else if (errno == ELOOP)
			err_set(e, ERR_INTERNAL, "refusing %s: it is a symbolic link", p);
		else
			err_set(e, ERR_INTERNAL, "cannot open %s: %s", p, strerror(errno));
		goto done;
	}
	if (fstat(fd, st) < 0) {
		err_set(e, ERR_INTERNAL, "cannot stat %s: %s", p, strerror(errno));
		goto done;
	}
	if (check_private(p, st, e) < 0)
		goto done;
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

/* Members of a release's facts that describe the release, not the key. */
static const char *const per_release[] = {"claims",          "timing",  "wrapping_kid",
                                          "evidence_source", "backend", "stored_at"};

/* The file name (safe, as read_private checks) holds exactly the n bytes at data. */
static int file_holds(const char *name, const void *data, size_t n)
{
	struct buf b;
	struct stat st;
	struct err ignore;
	buf_init(&b);
	int same =
	    read_private(name, &b, &st, &ignore) == 0 && b.len == n && ct_equal(b.p, data, n);
	buf_free(&b);
	return same;
}

static int custody_store_do(EVP_PKEY *key, struct json_object *facts, int *replaced, struct err *e)
{
	*replaced = 0;
	if (!key)
		return err_set(e, ERR_INTERNAL, "no key to keep");
	if (check_dir(e) < 0)
		return -1;
	uint8_t *der = NULL;
	size_t len = 0;
	if (pkcs8_rsa_encode(key, &der, &len, e) < 0)
		return err_set(e, ERR_INTERNAL, "the released key cannot be encoded as PKCS#8");
	int rc = -1;
	/* Key first, facts second: a reader that sees new facts always finds the new key.
	 * The same key released again (our encoding is deterministic) is not written again:
	 * no private-key write and its syncs, and every process's copy stays good. */
	*replaced = !file_holds(CUSTODY_KEY_FILE, der, len);
	if (*replaced && write_private(CUSTODY_KEY_FILE, der, len, e) < 0)
		goto done;
	struct json_object *f = NULL;
	if (facts)
		f = json_tokener_parse(json_object_to_json_string(facts));
	if (!f || !json_object_is_type(f, json_type_object)) {
		json_object_put(f);
		f = json_object_new_object();
	}
	/* The key's facts, not the release's: those differ every time and nobody reads them
	 * here (the release answer has them).  So the same key released again has the same
	 * facts, and neither file is written. */
	for (size_t i = 0; i < NELEM(per_release); i++)
		json_object_object_del(f, per_release[i]);
	char *tp = jwk_thumbprint(key);
	jsonx_add_str(f, "thumbprint", tp);
	free(tp);
	char *text = jsonx_dump(f);
	json_object_put(f);
	if ((!*replaced && file_holds(CUSTODY_FACTS_FILE, text, strlen(text))) ||
	    write_private(CUSTODY_FACTS_FILE, text, strlen(text), e) == 0)
		rc = 0;
	free(text);
done:
	wipe(der, len);
	free(der);
	return rc;
}

/* What tells one version of a file from another: a rename-replace gives a new inode, and
 * any write in place (even one that restores the mtime) moves the ctime. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static struct file_id id_of(const struct stat *st)
{
	struct file_id id = {st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim};
	return id;
}

static int same_file(const struct file_id *a, const struct stat *st)
{
	struct file_id b = id_of(st);
	return a->dev == b.dev && a->ino == b.ino && a->size == b.size &&
	       a->mtime.tv_sec == b.mtime.tv_sec && a->mtime.tv_nsec == b.mtime.tv_nsec &&
	       a->ctime.tv_sec == b.ctime.tv_sec && a->ctime.tv_nsec == b.ctime.tv_nsec;
}

/* This process's copy of what custody holds (see the header); guarded by held_lock. */
static struct {
	char *dir;                 /* the state directory the copies came from */
	EVP_PKEY *key;             /* NULL: none held */
	char *thumbprint;          /* of key */
	struct file_id key_id;     /* the version of the key file key came from */
	struct json_object *facts; /* NULL: none held */
	struct file_id facts_id;
	struct custody_stats stats;
} held;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void drop_key(void)
{
	if (held.key) {
		crypto_forget(held.key); /* its OAEP contexts hold a reference */
		EVP_PKEY_free(held.key); /* the last reference clears the private numbers */
		held.stats.key_wipes++;
	}
	held.key = NULL;
	free(held.thumbprint);
	held.thumbprint = NULL;
}

static void drop_facts(void)
{
	json_object_put(held.facts);
	held.facts = NULL;
}

static void at_exit(void)
{
	custody_forget();
}

static void register_exit(void)
{
	atexit(at_exit);
}

/* The copies belong to one state directory: another one (tests) starts afresh. */
static void held_for_dir(void)
{
	if (held.dir && !strcmp(held.dir, state_dir()))
		return;
	drop_key();
	drop_facts();
	free(held.dir);
	held.dir = xstrdup(state_dir());
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

static EVP_PKEY *decode_key(struct buf *b, struct err *e)
{
	struct err ignore;
	EVP_PKEY *k = pkcs8_rsa_decode(b->p, b->len, &ignore);
	if (!k)
		err_set(e, ERR_INTERNAL, "%s/%s does not hold a PKCS#8 private key", state_dir(),
		        CUSTODY_KEY_FILE);
	return k;
}

/*
 * Make held.key the key file's current version: one lstat when it already is, else
 * read and decode it, wiping the copy it replaces.  A missing or refused file drops
 * the copy too: what custody no longer holds safely, this process stops using.
 */
static int fresh_key(struct err *e)
{
	struct stat st;
	held_for_dir();
	if (stat_private(CUSTODY_KEY_FILE, &st, e) < 0) {
		drop_key();
		return -1;
	}
	if (held.key && same_file(&held.key_id, &st))
		return 0;
	struct buf b;
	buf_init(&b);
	if (read_private(CUSTODY_KEY_FILE, &b, &st, e) < 0) {
		drop_key();
		return -1;
	}
	EVP_PKEY *k = decode_key(&b, e);
	buf_free(&b);
	drop_key();
	if (!k)
		return -1;
	pthread_once(&exit_once, register_exit);
	crypto_keep_contexts(k);
	held.key = k;
	held.key_id = id_of(&st);
	held.thumbprint = jwk_thumbprint(k);
	held.stats.key_loads++;
	return 0;
}

/* The same for held.facts and the facts file. */
static int fresh_facts(struct err *e)
{
	struct stat st;
	held_for_dir();
	if (stat_private(CUSTODY_FACTS_FILE, &st, e) < 0) {
		drop_facts();
		return -1;
	}
	if (held.facts && same_file(&held.facts_id, &st))
		return 0;
	struct buf b;
	buf_init(&b);
	struct json_object *f = NULL;
	int rc = read_private(CUSTODY_FACTS_FILE, &b, &st, e) < 0 ? -1 : parse_facts(&b, &f, e);
	buf_free(&b);
	drop_facts();
	if (rc < 0)
		return -1;
	held.facts = f;
	held.facts_id = id_of(&st);
	held.stats.facts_loads++;
	return 0;
}

static int custody_facts_do(struct json_object **facts, struct err *e)
{
	*facts = NULL;
	pthread_mutex_lock(&held_lock);
	int rc = fresh_facts(e);
	if (rc == 0)
		*facts = json_object_get(held.facts);
	pthread_mutex_unlock(&held_lock);
	return rc;
}

/* One attempt: 0 with the pair, 1 when key and facts disagree (a store in progress). */
static int load_pair(EVP_PKEY **key, struct json_object **facts, struct err *e)
{
	if (fresh_key(e) < 0)
		return -1;
	if (!facts) {
		EVP_PKEY_up_ref(held.key);
		*key = held.key;
		return 0;
	}
	if (fresh_facts(e) < 0) {
		if (e->code != ERR_NOT_FOUND)
			return -1;
		/* Facts lost (a crash between the two writes): the key is still good. */
		*facts = json_object_new_object();
		jsonx_add_str(*facts, "thumbprint", held.thumbprint);
		err_clear(e);
	} else {
		const char *ftp = jsonx_str(held.facts, "thumbprint");
		if (!held.thumbprint || !ftp || strcmp(held.thumbprint, ftp))
			return 1;
		*facts = json_object_get(held.facts);
	}
	EVP_PKEY_up_ref(held.key);
	*key = held.key;
	return 0;
}

static int custody_load_do(EVP_PKEY **key, struct json_object **facts, struct err *e)
{
	*key = NULL;
	if (facts)
		*facts = NULL;
	/* A concurrent store may pair a new key with old facts for an instant: retry. */
	for (int attempt = 0; attempt < 5; attempt++) {
		pthread_mutex_lock(&held_lock);
		int rc = load_pair(key, facts, e);
		pthread_mutex_unlock(&held_lock);
		if (rc <= 0)
			return rc;
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

void custody_forget(void)
{
	pthread_mutex_lock(&held_lock);
	drop_key();
	drop_facts();
	free(held.dir);
	held.dir = NULL;
	pthread_mutex_unlock(&held_lock);
}

void custody_clear(void)
{
	custody_forget();
	wipe_file(CUSTODY_KEY_FILE);
	wipe_file(CUSTODY_FACTS_FILE);
}

void custody_get_stats(struct custody_stats *out)
{
	pthread_mutex_lock(&held_lock);
	*out = held.stats;
	out->held = held.key != NULL;
	pthread_mutex_unlock(&held_lock);
}

int custody_store(EVP_PKEY *key, struct json_object *facts, struct err *e)
{
	int replaced = 1;
	int rc = custody_store_do(key, facts, &replaced, e);
	/* A replaced key: wipe this process's copy now, the next use reads the new one. */
	pthread_mutex_lock(&held_lock);
	if (replaced)
		drop_key();
	drop_facts();
	pthread_mutex_unlock(&held_lock);
	return rc < 0 ? err_in(e, STAGE_CUSTODY) : 0;
}

int custody_facts(struct json_object **facts, struct err *e)
{
	return custody_facts_do(facts, e) < 0 ? err_in(e, STAGE_CUSTODY) : 0;
}

int custody_load(EVP_PKEY **key, struct json_object **facts, struct err *e)
{
	return custody_load_do(key, facts, e) < 0 ? err_in(e, STAGE_CUSTODY) : 0;
}
