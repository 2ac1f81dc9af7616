/* The directory blob store: ETags, conditional writes, concurrency across processes, listing. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "jsonx.h"
#include "outcome.h"
#include "records.h"
#include "testlib.h"

static char root[64];

static struct blob_store *open_store(void)
{
	struct blob_store *s = NULL;
	struct err e;
	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/test-blob-dir.XXXXXX");
		if (!mkdtemp(root))
			abort();
	}
	if (blob_open_dir(&s, root, &e) < 0) {
		fprintf(stderr, "open: %s\n", e.msg);
		abort();
	}
	return s;
}

static void test_etag_changes_every_write(void)
{
	struct blob_store *s = open_store();
	struct err e;
	char *tags[5];
	for (int i = 0; i < 5; i++) {
		CHECK(blob_put(s, "same.json", "[]", 2, "application/json", NULL, 0, &tags[i],
		               &e) == 0);
		CHECK(tags[i] && tags[i][0] == '"' && !strncmp(tags[i], "\"0x", 3));
		for (int j = 0; j < i; j++)
			CHECK(strcmp(tags[i], tags[j]));
	}
	char *got = NULL, *ct = NULL;
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(s, "same.json", &b, &got, &ct, &e) == 0);
	CHECK_STR(got, tags[4]);
	CHECK_STR(ct, "application/json");
	buf_free(&b);
	free(got);
	free(ct);
	for (int i = 0; i < 5; i++)
		free(tags[i]);
	blob_close(s);
}

static void test_conditions(void)
{
	struct blob_store *s = open_store();
	struct err e;
	char *a = NULL, *b2 = NULL;
	CHECK(blob_put(s, "cond.txt", "a", 1, NULL, NULL, 1, &a, &e) == 0);
	err_clear(&e);
	CHECK(blob_put(s, "cond.txt", "b", 1, NULL, NULL, 1, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_PRECONDITION);
	err_clear(&e);
	CHECK(blob_put(s, "cond.txt", "b", 1, NULL, "\"0xDEADBEEF00000000\"", 0, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_PRECONDITION);
	CHECK_INT(outcome_status(&e), 412);
	CHECK(blob_put(s, "cond.txt", "b", 1, NULL, a, 0, &b2, &e) == 0);
	err_clear(&e);
	CHECK(blob_put(s, "cond.txt", "c", 1, NULL, a, 0, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_PRECONDITION);
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(s, "cond.txt", &b, NULL, NULL, &e) == 0);
	CHECK(b.len == 1 && b.p[0] == 'b');
	buf_free(&b);
	/* No temporary files are left behind by the losers. */
	struct json_object *arr = NULL;
	CHECK(blob_list(s, "cond", &arr, &e) == 0);
	CHECK_INT(json_object_array_length(arr), 1);
	json_object_put(arr);
	free(a);
	free(b2);
	blob_close(s);
}

static void test_replaced_behind_our_back(void)
{
	struct blob_store *s = open_store();
	struct err e;
	char *a = NULL, *now = NULL;
	CHECK(blob_put(s, "hand.txt", "one", 3, NULL, NULL, 0, &a, &e) == 0);
	/* Someone edits the file directly: its ETag must change, and a stale If-Match lose. */
	char *path = xasprintf("%s/hand.txt", root);
	char *tmp = xasprintf("%s/hand.new", root);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "two", 3) == 3);
	close(fd);
	CHECK(rename(tmp, path) == 0);
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(s, "hand.txt", &b, &now, NULL, &e) == 0);
	CHECK(now && strcmp(now, a));
	err_clear(&e);
	CHECK(blob_put(s, "hand.txt", "three", 5, NULL, a, 0, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_PRECONDITION);
	CHECK(blob_put(s, "hand.txt", "three", 5, NULL, now, 0, NULL, &e) == 0);
	buf_free(&b);
	free(path);
	free(tmp);
	free(a);
	free(now);
	blob_close(s);
}

/* A conditional read: rc, the body (NULL: must be untouched), and *etag (the caller frees). */
static int get_if(struct blob_store *s, const char *name, const char *known, const char *want,
                  char **etag, struct err *e)
{
	struct buf b;
	char *ct = NULL;
	buf_init(&b);
	err_clear(e);
	int rc = blob_get_if_changed(s, name, known, &b, etag, &ct, e);
	if (rc == 1) {
		CHECK_MSG(b.len == 0 && !*etag && !ct, "%s: not modified, yet something was read",
		          name);
	} else if (rc == 0 && want) {
		CHECK_MSG(b.len == strlen(want) && !memcmp(b.p, want, b.len), "%s: read %.*s", name,
		          (int)b.len, b.p ? (char *)b.p : "");
		CHECK(ct != NULL);
	}
	buf_free(&b);
	free(ct);
	return rc;
}

static void set_mtime(const char *path, long long delta_s)
{
	struct timespec t[2];
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec += (time_t)delta_s;
	t[1] = t[0];
	CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
}

/*
 * Put body over the version prev (NULL: a new blob) and check what conditional reads say of
 * the new version: read while it is just written (the put's ETag or none: not settled yet),
 * read with the put's ETag once settled, then "not modified" for that ETag.  Its ETag.
 */
static char *new_version(struct blob_store *s, const char *name, const char *prev, const char *body)
{
	struct err e;
	char *etag = NULL, *got = NULL;
	CHECK(blob_put(s, name, body, strlen(body), "application/json", prev, 0, &etag, &e) == 0);
	CHECK_INT(get_if(s, name, prev, body, &got, &e), 0);
	CHECK(!got || (etag && !strcmp(got, etag)));
	free(got);
	tl_settle_file_clock();
	CHECK_INT(get_if(s, name, prev, body, &got, &e), 0);
	CHECK_STR(got, etag);
	free(got);
	CHECK_INT(get_if(s, name, etag, NULL, &got, &e), 1);
	free(got);
	return etag;
}

static void test_conditional_read(void)
{
	struct blob_store *s = open_store();
	struct err e;
	char *got = NULL;
	char *e1 = new_version(s, "cond-read.json", NULL, "[1]");
	/* A put of the same bytes is a new version. */
	char *e2 = new_version(s, "cond-read.json", e1, "[1]");
	char *e3 = new_version(s, "cond-read.json", e2, "[2]");
	/* Edited in place behind our back, same size: its stat says so. */
	char *path = xasprintf("%s/cond-read.json", root);
	int fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "[3]", 3) == 3);
	close(fd);
	CHECK_INT(get_if(s, "cond-read.json", e3, "[3]", &got, &e), 0);
	CHECK(!got || strcmp(got, e3));
	free(got);
	/* A time in the future, or a moment ago, gives no ETag to keep; an old one does. */
	set_mtime(path, 60);
	CHECK_INT(get_if(s, "cond-read.json", NULL, "[3]", &got, &e), 0);
	CHECK(got == NULL);
	free(got);
	set_mtime(path, -60);
	CHECK_INT(get_if(s, "cond-read.json", NULL, "[3]", &got, &e), 0);
	CHECK(got && strcmp(got, e3));
	char *plain = NULL;
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(s, "cond-read.json", &b, &plain, NULL, &e) == 0);
	CHECK_STR(plain, got);
	free(plain);
	CHECK_INT(get_if(s, "cond-read.json", got, NULL, &plain, &e), 1);
	free(plain);
	plain = NULL;
	free(got);
	/* An ETag no store gives is forgotten, not compared; a missing blob is not found. */
	CHECK_INT(get_if(s, "cond-read.json", "\"a b\"", "[3]", &got, &e), 0);
	free(got);
	CHECK(unlink(path) == 0);
	CHECK_INT(get_if(s, "cond-read.json", e3, NULL, &got, &e), -1);
	CHECK_INT(e.code, ERR_NOT_FOUND);
	CHECK(got == NULL);
	CHECK_INT(get_if(s, "never-written.json", e3, NULL, &got, &e), -1);
	CHECK_INT(e.code, ERR_NOT_FOUND);
	buf_free(&b);
	free(path);
	free(e1);
	free(e2);
	free(e3);
	blob_close(s);
}

static void test_names_and_listing(void)
{
	struct blob_store *s = open_store();
	struct err e;
	CHECK(blob_put(s, "dir/a/one.json", "{}", 2, "application/json", NULL, 0, NULL, &e) == 0);
	CHECK(blob_put(s, "dir/two.csv", "x,y", 3, "text/csv", NULL, 0, NULL, &e) == 0);
	err_clear(&e);
	CHECK(blob_put(s, ".blobstore/x", "x", 1, NULL, NULL, 0, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_BAD_REQUEST);
	CHECK(blob_put(s, "dir/.hidden", "x", 1, NULL, NULL, 0, NULL, &e) < 0);
	/* A name that is a folder of other blobs is not a blob. */
	struct buf b;
	buf_init(&b);
	err_clear(&e);
	CHECK(blob_get(s, "dir/a", &b, NULL, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_NOT_FOUND);
	err_clear(&e);
	CHECK(blob_put(s, "dir/a", "x", 1, NULL, NULL, 0, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_CONFLICT);
	buf_free(&b);
	struct json_object *arr = NULL;
	CHECK(blob_list(s, "dir/", &arr, &e) == 0);
	CHECK_INT(json_object_array_length(arr), 2);
	struct json_object *o = json_object_array_get_idx(arr, 0);
	CHECK_STR(jsonx_str(o, "name"), "dir/a/one.json");
	CHECK_STR(jsonx_str(o, "content_type"), "application/json");
	long long size = 0;
	CHECK(jsonx_int(o, "size", &size) && size == 2);
	CHECK(strstr(jsonx_str(o, "last_modified"), " GMT") != NULL);
	CHECK_STR(jsonx_str(json_object_array_get_idx(arr, 1), "name"), "dir/two.csv");
	json_object_put(arr);
	struct json_object *d = blob_describe(s);
	CHECK_STR(jsonx_str(d, "auth_method"), "Local directory");
	CHECK_STR(jsonx_str(d, "backend"), "dir");
	json_object_put(d);
	/* A directory has no URL: a blob's is where the instances serve it. */
	char *u = blob_public_url(s, "dir/a/one.json");
	CHECK_STR(u, "/storage/download/dir/a/one.json");
	free(u);
	u = blob_public_url(s, "odd name/x?.json");
	CHECK_STR(u, "/storage/download/odd%20name/x%3F.json");
	free(u);
	blob_close(s);
}

static void test_concurrent_appenders(void)
{
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			struct blob_store *s = open_store();
			struct err e;
			for (int i = 0; i < 15; i++) {
				struct json_object *add = json_object_new_array();
				json_object_array_add(
				    add, records_new(k ? "fabrikam" : "contoso", "QQ==", NULL));
				int rc = records_append(s, "race.json", add, NULL, &e);
				json_object_put(add);
				if (rc < 0) {
					fprintf(stderr, "child %d: %s\n", k, e.msg);
					_exit(1);
				}
			}
			blob_close(s);
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		int st = 0;
		CHECK(waitpid(kids[k], &st, 0) == kids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	struct blob_store *s = open_store();
	struct json_object *arr = NULL;
	struct err e;
	CHECK(records_read(s, "race.json", &arr, NULL, &e) == 0);
	CHECK_INT(arr ? json_object_array_length(arr) : 0, 30);
	int contoso = 0;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		contoso +=
		    !strcmp(jsonx_str(json_object_array_get_idx(arr, i), "company"), "contoso");
	CHECK_INT(contoso, 15);
	json_object_put(arr);
	blob_close(s);
}

/* Raw compare-and-swap counters from 4 processes: every increment lands exactly once. */
static void test_concurrent_cas(void)
{
	struct blob_store *s0 = open_store();
	struct err e;
	CHECK(blob_put(s0, "counter", "0", 1, NULL, NULL, 0, NULL, &e) == 0);
	blob_close(s0);
	pid_t kids[4];
	for (int k = 0; k < 4; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			struct blob_store *s = open_store();
			for (int done = 0; done < 25;) {
				struct buf b;
				char *et = NULL;
				buf_init(&b);
				if (blob_get(s, "counter", &b, &et, NULL, &e) < 0)
					_exit(1);
				unsigned long v = strtoul((char *)b.p, NULL, 10);
				char next[32];
				int n = snprintf(next, sizeof(next), "%lu", v + 1);
				int rc =
				    blob_put(s, "counter", next, (size_t)n, NULL, et, 0, NULL, &e);
				if (rc == 0)
					done++;
				else if (e.code != ERR_PRECONDITION)
					_exit(2);
				buf_free(&b);
				free(et);
			}
			blob_close(s);
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++) {
		int st = 0;
		CHECK(waitpid(kids[k], &st, 0) == kids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	struct blob_store *s = open_store();
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(s, "counter", &b, NULL, NULL, &e) == 0);
	CHECK_STR((char *)b.p, "100");
	buf_free(&b);
	blob_close(s);
}

static void test_cleanup(void)
{
	char *cmd = xasprintf("rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
	free(cmd);
}

TESTS(test_etag_changes_every_write, test_conditions, test_replaced_behind_our_back,
      test_conditional_read, test_names_and_listing, test_concurrent_appenders, test_concurrent_cas,
      test_cleanup)
