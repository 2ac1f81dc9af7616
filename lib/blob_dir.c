/*
 * The directory backend of blob.h.
 *
 * Layout under the root:   <name>                    the blob's bytes
 *                          .blobstore/<enc>.lock     flock()ed by every reader and writer
 *                          .blobstore/<enc>.info     "v1\n<etag>\n<content type>\n<stat>\n"
 * where <enc> is the name with '/' replaced by '%' (which names cannot contain).
 *
 * A write holds the exclusive lock, checks the condition against the current
 * ETag, writes the bytes to a temporary file beside the target, fsyncs it,
 * records the new ETag (a fresh random value, so it changes even when the
 * bytes do not) together with the temporary file's inode, size and mtime,
 * then renames the file into place and fsyncs the directory.  A reader holds
 * the shared lock.  The recorded stat ties the ETag to one file: if the bytes
 * were replaced behind our back (or a crash hit between the two renames) the
 * stat no longer matches, and the ETag is derived from the file's stat
 * instead, which differs from every recorded one, so a stale If-Match loses.
 * Names whose segments start with '.' are refused: they would collide with
 * the metadata and the temporary files.
 *
 * A conditional read (blob_get_if_changed) answers "not modified" from the
 * ETag alone, that is from the stat and the info file, without reading the
 * bytes.  A put always records a fresh ETag; a file edited in place behind our
 * back gets a new one from its size and mtime, except when two edits of the
 * same size fall within one tick of the file system's clock, which leaves the
 * stat as it was.  So a conditional read hands out an ETag only for a file
 * whose mtime is older than that (settled()): any later change then stamps a
 * later time.  A file modified moments ago is read again next time.
 */
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "jsonx.h"

#define DIR_MAX_BLOB  (64u << 20)
#define DIR_MAX_DEPTH 16
#define DIR_MAX_LIST  100000

struct dir_store {
	char *root;
	char *meta;
};

static int unavailable(struct err *e, const char *what, const char *path)
{
	return err_set(e, ERR_UNAVAILABLE, "blob directory not usable: cannot %s %s: %s", what,
	               path, strerror(errno));
}

static int mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, mode);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int root_ok(struct dir_store *d, struct err *e)
{
	struct stat st;
	if (stat(d->meta, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (errno == 0)
			errno = ENOTDIR;
		return unavailable(e, "open", d->meta);
	}
	return 0;
}

static int dir_name_check(const char *name, struct err *e)
{
	for (const char *seg = name; seg;) {
		if (*seg == '.')
			return err_set(e, ERR_BAD_REQUEST,
			               "blob names in the directory store may not have a segment "
			               "starting with '.'");
		const char *slash = strchr(seg, '/');
		seg = slash ? slash + 1 : NULL;
	}
	return 0;
}

static char *meta_path(struct dir_store *d, const char *name, const char *suffix)
{
	char *p = xasprintf("%s/%s.%s", d->meta, name, suffix);
	for (char *c = p + strlen(d->meta) + 1; *c; c++)
		if (*c == '/')
			*c = '%';
	return p;
}

static char *etag_random(void)
{
	unsigned char r[8];
	if (RAND_bytes(r, sizeof(r)) != 1) {
		/* Uniqueness, not secrecy, is what matters here. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		unsigned long long v = ((unsigned long long)ts.tv_sec * 1000000000ull +
		                        (unsigned long long)ts.tv_nsec) ^
		                       ((unsigned long long)getpid() << 40);
		memcpy(r, &v, sizeof(r));
	}
	return xasprintf("\"0x%02X%02X%02X%02X%02X%02X%02X%02X\"", r[0], r[1], r[2], r[3], r[4],
	                 r[5], r[6], r[7]);
}

static char *stat_line(const struct stat *st)
{
	return xasprintf("%llu %lld %lld %ld", (unsigned long long)st->st_ino,
	                 (long long)st->st_size, (long long)st->st_mtim.tv_sec,
	                 (long)st->st_mtim.tv_nsec);
}

static char *etag_from_stat(const struct stat *st)
{
	char *line = stat_line(st);
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (EVP_Digest(line, strlen(line), md, &mdlen, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	free(line);
	/* "0xF..." cannot be confused with a recorded one only by luck; fine for a fallback. */
	return xasprintf("\"0xF%02X%02X%02X%02X%02X%02X%02X\"", md[0], md[1], md[2], md[3], md[4],
	                 md[5], md[6]);
}

static const char *guess_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && !strcmp(dot, ".json"))
		return "application/json";
	if (dot && !strcmp(dot, ".csv"))
		return "text/csv";
	if (dot && !strcmp(dot, ".txt"))
		return "text/plain";
	return "application/octet-stream";
}

/* ETag and content type of the file whose stat is st, from the info file when it matches. */
static void read_info(struct dir_store *d, const char *name, const struct stat *st, char **etag,
                      char **ctype)
{
	char *ip = meta_path(d, name, "info");
	struct buf b;
	buf_init(&b);
	char *want = stat_line(st);
	*etag = NULL;
	*ctype = NULL;
	if (read_file(ip, 4096, &b) == 0 && b.len) {
		char *l[4] = {NULL, NULL, NULL, NULL};
		char *c = (char *)b.p;
		for (int i = 0; i < 4 && c; i++) {
			char *nl = strchr(c, '\n');
			if (!nl)
				break;
			*nl = '\0';
			l[i] = c;
			c = nl + 1;
		}
		char *l0 = l[0], *l1 = l[1], *l2 = l[2], *l3 = l[3];
		if (l0 && l1 && l2 && l3 && !strcmp(l0, "v1")) {
			*ctype = xstrdup(l2);
			if (!strcmp(l3, want))
				*etag = xstrdup(l1);
		}
	}
	if (!*etag)
		*etag = etag_from_stat(st);
	if (!*ctype)
		*ctype = xstrdup(guess_type(name));
	free(want);
	buf_free(&b);
	free(ip);
}

/* Open and lock name's lock file; create it only when asked (writers) or the blob exists. */
static int lock_blob(struct dir_store *d, const char *name, int op, int create, int *fd_out,
                     struct err *e)
{
	char *lp = meta_path(d, name, "lock");
	int fd = open(lp, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0660);
	if (fd < 0 && errno == ENOENT && !create) {
		char *dp = xasprintf("%s/%s", d->root, name);
		struct stat st;
		int exists = stat(dp, &st) == 0;
		free(dp);
		if (!exists) {
			free(lp);
			*fd_out = -1;
			return err_set(e, ERR_NOT_FOUND, "blob '%s' not found", name);
		}
		fd = open(lp, O_RDWR | O_CLOEXEC | O_CREAT, 0660);
	}
	if (fd < 0) {
		int rc = unavailable(e, "open lock file", lp);
		free(lp);
		*fd_out = -1;
		return rc;
	}
	free(lp);
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		*fd_out = -1;
		return err_set(e, ERR_UNAVAILABLE, "cannot lock blob '%s': %s", name,
		               strerror(errno));
	}
	*fd_out = fd;
	return 0;
}

static void unlock_blob(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

/*
 * Whether a change after `before` would give the file whose stat is st another ETag: its mtime
 * is more than two ticks of the coarse clock (which file times come from, a tick late at most)
 * older than before, and 2 s more on a file system with whole-second times (FAT's are two
 * seconds apart).  A time in the future is never settled.
 */
static int settled(const struct stat *st, const struct timespec *before)
{
	struct timespec tick = {0, 10000000L};
	(void)clock_getres(CLOCK_REALTIME_COARSE, &tick);
	long long margin = 2 * ((long long)tick.tv_sec * 1000000000LL + tick.tv_nsec);
	if (st->st_mtim.tv_nsec == 0)
		margin += 2000000000LL;
	long long m = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	long long b = (long long)before->tv_sec * 1000000000LL + before->tv_nsec;
	return m < b - margin;
}

/* Read the bytes unless known is the blob's ETag (1); conditional: hand out an ETag only for
 * a settled file. */
static int dir_read(void *impl, const char *name, int conditional, const char *known,
                    struct buf *body, char **etag, char **ctype, struct err *e)
{
	struct dir_store *d = impl;
	int lfd;
	if (dir_name_check(name, e) < 0 || root_ok(d, e) < 0)
		return -1;
	if (lock_blob(d, name, LOCK_SH, 0, &lfd, e) < 0)
		return -1;
	char *dp = xasprintf("%s/%s", d->root, name), *et = NULL, *ct = NULL;
	int rc = -1;
	struct timespec before = {0, 0};
	if (conditional)
		clock_gettime(CLOCK_REALTIME, &before);
	int fd = open(dp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			err_set(e, ERR_NOT_FOUND, "blob '%s' not found", name);
		else
			unavailable(e, "open", dp);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set(e, ERR_NOT_FOUND, "blob '%s' not found", name);
		goto out;
	}
	/* Under the shared lock no put runs, so the info file and the bytes agree. */
	read_info(d, name, &st, &et, &ct);
	if (known && !strcmp(known, et)) {
		rc = 1;
		goto out;
	}
	if ((unsigned long long)st.st_size > DIR_MAX_BLOB) {
		err_set(e, ERR_TOO_LARGE, "blob '%s' is larger than %u bytes", name, DIR_MAX_BLOB);
		goto out;
	}
	size_t start = body->len;
	char chunk[65536];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			body->len = start;
			unavailable(e, "read", dp);
			goto out;
		}
		if (r == 0)
			break;
		buf_append(body, chunk, (size_t)r);
	}
	if (!body->p)
		buf_append(body, "", 0);
	if (etag && (!conditional || settled(&st, &before))) {
		*etag = et;
		et = NULL;
	}
	if (ctype) {
		*ctype = ct;
		ct = NULL;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(dp);
	free(et);
	free(ct);
	unlock_blob(lfd);
	return rc;
}

static int dir_get(void *impl, const char *name, struct buf *body, char **etag, char **ctype,
                   struct err *e)
{
	return dir_read(impl, name, 0, NULL, body, etag, ctype, e);
}

static int dir_get_if_changed(void *impl, const char *name, const char *known, struct buf *body,
                              char **etag, char **ctype, struct err *e)
{
	return dir_read(impl, name, 1, known, body, etag, ctype, e);
}

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int dir_put(void *impl, const char *name, const void *data, size_t len, const char *ctype,
                   const char *if_match, int if_none_match_star, char **new_etag, struct err *e)
{
	struct dir_store *d = impl;
	int lfd = -1, tfd = -1, rc = -1;
	char *dp = NULL, *parent = NULL, *tmp = NULL, *cur = NULL, *curtype = NULL, *et = NULL;
	char *ip = NULL, *info = NULL, *sl = NULL;
	if (dir_name_check(name, e) < 0 || root_ok(d, e) < 0)
		return -1;
	dp = xasprintf("%s/%s", d->root, name);
	parent = xstrdup(dp);
	*strrchr(parent, '/') = '\0';
	if (mkdir_p(parent, 02770) < 0) {
		if (errno == ENOTDIR || errno == EEXIST)
			err_set(e, ERR_CONFLICT,
			        "blob '%s': a blob exists where a folder is needed", name);
		else
			unavailable(e, "create folder", parent);
		goto out;
	}
	if (lock_blob(d, name, LOCK_EX, 1, &lfd, e) < 0)
		goto out;
	struct stat st;
	int exists = 0;
	if (lstat(dp, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			err_set(e, ERR_CONFLICT, "blob '%s': the name is a folder of other blobs",
			        name);
			goto out;
		}
		exists = 1;
		read_info(d, name, &st, &cur, &curtype);
	} else if (errno != ENOENT) {
		unavailable(e, "stat", dp);
		goto out;
	}
	if (if_none_match_star && exists) {
		err_set(e, ERR_PRECONDITION,
		        "blob '%s' was changed by another writer (it exists now)", name);
		goto out;
	}
	if (if_match && (!exists || strcmp(if_match, cur))) {
		err_set(e, ERR_PRECONDITION, "blob '%s' was changed by another writer (ETag %s)",
		        name, exists ? "differs" : "gone");
		goto out;
	}
	const char *base = strrchr(dp, '/') + 1;
	tmp = xasprintf("%s/.%s.tmp.XXXXXX", parent, base);
	tfd = mkostemp(tmp, O_CLOEXEC);
	if (tfd < 0) {
		unavailable(e, "create temporary file in", parent);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	struct stat tst;
	if (write_all(tfd, data, len) < 0 || fchmod(tfd, 0640) < 0 || fsync(tfd) < 0 ||
	    fstat(tfd, &tst) < 0) {
		unavailable(e, "write", tmp);
		goto out;
	}
	et = etag_random();
	sl = stat_line(&tst);
	info = xasprintf("v1\n%s\n%s\n%s\n", et, ctype, sl);
	ip = meta_path(d, name, "info");
	if (write_file_atomic(ip, info, strlen(info), 0660) < 0) {
		unavailable(e, "write", ip);
		goto out;
	}
	if (rename(tmp, dp) < 0) {
		unavailable(e, "rename into", dp);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (fsync_dir(parent) < 0) {
		unavailable(e, "sync", parent);
		goto out;
	}
	if (new_etag) {
		*new_etag = et;
		et = NULL;
	}
	rc = 0;
out:
	if (tfd >= 0)
		close(tfd);
	if (tmp)
		unlink(tmp);
	unlock_blob(lfd);
	free(tmp);
	free(dp);
	free(parent);
	free(cur);
	free(curtype);
	free(et);
	free(ip);
	free(info);
	free(sl);
	return rc;
}

static char *rfc1123(time_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	gmtime_r(&t, &tm);
	return xasprintf("%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
	                 mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int walk(struct dir_store *d, const char *rel, const char *prefix, int depth,
                struct json_object *arr, struct err *e)
{
	char *path = *rel ? xasprintf("%s/%s", d->root, rel) : xstrdup(d->root);
	DIR *dh = opendir(path);
	if (!dh) {
		int rc = unavailable(e, "list", path);
		free(path);
		return rc;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		char *name = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		char *full = xasprintf("%s/%s", d->root, name);
		struct stat st;
		if (lstat(full, &st) < 0) {
			/* Gone between readdir and lstat: a concurrent writer's rename. */
		} else if (S_ISDIR(st.st_mode)) {
			/* Descend only where the prefix can still match. */
			size_t nl = strlen(name);
			if (depth < DIR_MAX_DEPTH && (strncmp(name, prefix, nl) == 0 ||
			                              strncmp(name, prefix, strlen(prefix)) == 0))
				rc = walk(d, name, prefix, depth + 1, arr, e);
		} else if (S_ISREG(st.st_mode) && !strncmp(name, prefix, strlen(prefix)) &&
		           strlen(name) <= BLOB_NAME_MAX) {
			if (json_object_array_length(arr) >= DIR_MAX_LIST) {
				rc = err_set(e, ERR_TOO_LARGE, "more than %d blobs", DIR_MAX_LIST);
			} else {
				char *et, *ct;
				read_info(d, name, &st, &et, &ct);
				char *lm = rfc1123(st.st_mtim.tv_sec);
				struct json_object *o = json_object_new_object();
				jsonx_add_str(o, "name", name);
				jsonx_add_int(o, "size", (long long)st.st_size);
				jsonx_add_str(o, "content_type", ct);
				jsonx_add_str(o, "last_modified", lm);
				jsonx_add_str(o, "etag", et);
				json_object_array_add(arr, o);
				free(et);
				free(ct);
				free(lm);
			}
		}
		free(name);
		free(full);
	}
	closedir(dh);
	free(path);
	return rc;
}

static int dir_list(void *impl, const char *prefix, unsigned page_size, struct json_object *arr,
                    struct err *e)
{
	struct dir_store *d = impl;
	(void)page_size;
	if (root_ok(d, e) < 0)
		return -1;
	return walk(d, "", prefix, 0, arr, e);
}

static int dir_ensure(void *impl, struct err *e)
{
	struct dir_store *d = impl;
	char *p = xstrdup(d->meta);
	int rc = mkdir_p(p, 02770);
	free(p);
	if (rc < 0)
		return unavailable(e, "create", d->meta);
	return 0;
}

static void dir_describe(void *impl, struct json_object *o)
{
	struct dir_store *d = impl;
	const char *base = strrchr(d->root, '/');
	char *url = xasprintf("file://%s", d->root);
	jsonx_add_str(o, "storage_account", "(local directory)");
	jsonx_add_str(o, "container_name", base && base[1] ? base + 1 : d->root);
	jsonx_add_str(o, "blob_endpoint", url);
	jsonx_add_str(o, "container_url", url);
	jsonx_add_str(o, "auth_method", "Local directory");
	jsonx_add_bool(o, "authenticated", 1);
	jsonx_add(o, "sas_expiry", NULL);
	free(url);
}

/*
 * A directory has no URL of its own, and a file:// path would name this
 * machine's layout and open nothing in a browser.  Every instance sharing the
 * directory serves the blob at /storage/download/<name> (the storage
 * program), so that path, relative to the instance, is the honest URL: the
 * original page's link works, and a script resolves it against the instance.
 */
static char *dir_public_url(void *impl, const char *name)
{
	(void)impl;
	struct buf b;
	buf_init(&b);
	buf_appendf(&b, "/storage/download/");
	/* Checked names need no escaping, but a listed file may have any name. */
	for (const char *seg = name;;) {
		size_t n = strcspn(seg, "/");
		char *part = xstrndup(seg, n), *esc = fetch_escape(part);
		buf_appendf(&b, "%s%s", esc, seg[n] ? "/" : "");
		free(part);
		free(esc);
		if (!seg[n])
			break;
		seg += n + 1;
	}
	return buf_steal(&b, NULL);
}

static void dir_close(void *impl)
{
	struct dir_store *d = impl;
	free(d->root);
	free(d->meta);
	free(d);
}

static const struct blob_ops dir_ops = {
    .kind = BLOB_KIND_DIR,
    .get = dir_get,
    .get_if_changed = dir_get_if_changed,
    .put = dir_put,
    .list = dir_list,
    .ensure_container = dir_ensure,
    .describe = dir_describe,
    .public_url = dir_public_url,
    .close = dir_close,
};

int blob_dir_new(const char *dir, const struct blob_ops **ops, void **impl, struct err *e)
{
	if (!dir || !*dir)
		return err_set(e, ERR_UNAVAILABLE,
		               "BLOB_DIR is empty: set it to the blob directory");
	if (strlen(dir) > 3000)
		return err_set(e, ERR_BAD_REQUEST, "BLOB_DIR is too long");
	char *tmp = xstrdup(dir);
	size_t n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	if (mkdir_p(tmp, 02770) < 0) {
		int rc = err_set(e, ERR_UNAVAILABLE, "BLOB_DIR: cannot create %s: %s", tmp,
		                 strerror(errno));
		free(tmp);
		return rc;
	}
	char *real = realpath(tmp, NULL);
	free(tmp);
	if (!real)
		return err_set(e, ERR_UNAVAILABLE, "BLOB_DIR: cannot resolve %s: %s", dir,
		               strerror(errno));
	struct dir_store *d = xcalloc(1, sizeof(*d));
	d->root = xstrdup(real);
	free(real);
	d->meta = xasprintf("%s/.blobstore", d->root);
	if (dir_ensure(d, e) < 0) {
		dir_close(d);
		return -1;
	}
	*ops = &dir_ops;
	*impl = d;
	return 0;
}
