/*
 * Blob-store contract: the same checks against whichever backend the
 * environment configures (tests/blob/run.sh runs it for BLOB_BACKEND=dir and
 * for BLOB_BACKEND=azure against Azurite).
 *
 *   CONTRACT_PREFIX        unique blob-name prefix for this run
 *   CONTRACT_DOWN_CONN     (azure) a connection string whose endpoint refuses connections
 *   CONTRACT_LOAD_SECONDS  seconds of the 2x16-writer record load (default 0: not run)
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "config.h"
#include "jsonx.h"
#include "outcome.h"
#include "records.h"
#include "testlib.h"

static struct blob_store *st;
static const char *prefix = "c";
static int is_azure;

static char *nm(const char *suffix)
{
	return xasprintf("%s/%s", prefix, suffix);
}

static void test_open(void)
{
	struct err e;
	err_clear(&e);
	CHECK_MSG(config_load(&cfg, &e) == 0, "%s", e.msg);
	CHECK_MSG(blob_open(&st, &e) == 0, "%s", e.msg);
	if (!st) {
		fprintf(stderr, "cannot open the store: giving up\n");
		exit(1);
	}
	CHECK_MSG(blob_ensure_container(st, &e) == 0, "%s", e.msg);
	CHECK_MSG(blob_ensure_container(st, &e) == 0, "second ensure: %s", e.msg);
	struct json_object *d = blob_describe(st);
	const char *kind = jsonx_str(d, "backend");
	is_azure = kind && !strcmp(kind, "azure");
	char *txt = jsonx_dump(d);
	CHECK(!strstr(txt, "sig="));
	CHECK(!strstr(txt, "Eby8vdM02x"));
	CHECK(jsonx_str(d, "auth_method") != NULL);
	printf("# store: %s\n", txt);
	free(txt);
	json_object_put(d);
}

static void test_put_get_roundtrip(void)
{
	struct err e;
	char *n = nm("roundtrip.json"), *et = NULL, *et2 = NULL, *ct = NULL;
	const char data[] = "{\"hello\": \"world\"}";
	CHECK_MSG(blob_put(st, n, data, strlen(data), "application/json", NULL, 0, &et, &e) == 0,
	          "%s", e.msg);
	CHECK(et && *et);
	struct buf b;
	buf_init(&b);
	CHECK_MSG(blob_get(st, n, &b, &et2, &ct, &e) == 0, "%s", e.msg);
	CHECK_INT(b.len, strlen(data));
	CHECK(b.p && !memcmp(b.p, data, strlen(data)));
	CHECK_STR(et2, et);
	CHECK(ct && !strncmp(ct, "application/json", 16));
	buf_free(&b);
	free(et);
	free(et2);
	free(ct);
	/* An empty blob is a blob. */
	char *z = nm("empty.bin");
	CHECK_MSG(blob_put(st, z, "", 0, NULL, NULL, 0, NULL, &e) == 0, "%s", e.msg);
	buf_init(&b);
	CHECK_MSG(blob_get(st, z, &b, NULL, NULL, &e) == 0, "%s", e.msg);
	CHECK_INT(b.len, 0);
	buf_free(&b);
	free(z);
	free(n);
}

static void test_etag_changes_on_identical_write(void)
{
	struct err e;
	char *n = nm("same.txt"), *a = NULL, *b = NULL;
	CHECK(blob_put(st, n, "x", 1, "text/plain", NULL, 0, &a, &e) == 0);
	CHECK(blob_put(st, n, "x", 1, "text/plain", NULL, 0, &b, &e) == 0);
	CHECK(a && b && strcmp(a, b));
	free(a);
	free(b);
	free(n);
}

static void test_if_match(void)
{
	struct err e;
	char *n = nm("ifmatch.txt"), *e1 = NULL, *e2 = NULL, *e3 = NULL;
	CHECK(blob_put(st, n, "v1", 2, "text/plain", NULL, 0, &e1, &e) == 0);
	CHECK_MSG(blob_put(st, n, "v2", 2, "text/plain", e1, 0, &e2, &e) == 0, "%s", e.msg);
	/* e1 is stale now: the write must lose and change nothing. */
	err_clear(&e);
	CHECK(blob_put(st, n, "v3", 2, "text/plain", e1, 0, &e3, &e) < 0);
	CHECK_INT(e.code, ERR_PRECONDITION);
	CHECK_MSG(strstr(e.msg, "changed by another writer") != NULL, "%s", e.msg);
	struct buf b;
	buf_init(&b);
	char *cur = NULL;
	CHECK(blob_get(st, n, &b, &cur, NULL, &e) == 0);
	CHECK(b.len == 2 && !memcmp(b.p, "v2", 2));
	CHECK_STR(cur, e2);
	buf_free(&b);
	/* If-Match on a blob that does not exist loses too. */
	char *missing = nm("ifmatch-missing.txt");
	err_clear(&e);
	CHECK(blob_put(st, missing, "v", 1, NULL, e2, 0, NULL, &e) < 0);
	CHECK(e.code == ERR_PRECONDITION || e.code == ERR_NOT_FOUND);
	free(missing);
	free(cur);
	free(e1);
	free(e2);
	free(e3);
	free(n);
}

static void test_if_none_match_star(void)
{
	struct err e;
	char *n = nm("create-only.txt");
	CHECK_MSG(blob_put(st, n, "first", 5, "text/plain", NULL, 1, NULL, &e) == 0, "%s", e.msg);
	err_clear(&e);
	CHECK(blob_put(st, n, "second", 6, "text/plain", NULL, 1, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_PRECONDITION);
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(st, n, &b, NULL, NULL, &e) == 0);
	CHECK(b.len == 5 && !memcmp(b.p, "first", 5));
	buf_free(&b);
	free(n);
}

static void test_conflict_then_retry(void)
{
	struct err e;
	char *n = nm("conflict.txt"), *mine = NULL, *theirs = NULL, *fresh = NULL, *fin = NULL;
	CHECK(blob_put(st, n, "base", 4, "text/plain", NULL, 0, &mine, &e) == 0);
	/* Another writer gets in between our read and our write. */
	CHECK(blob_put(st, n, "base+theirs", 11, "text/plain", mine, 0, &theirs, &e) == 0);
	err_clear(&e);
	CHECK(blob_put(st, n, "base+mine", 9, "text/plain", mine, 0, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_PRECONDITION);
	/* Retry: re-read, merge, write against the fresh ETag. */
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(st, n, &b, &fresh, NULL, &e) == 0);
	CHECK_STR(fresh, theirs);
	buf_append(&b, "+mine", 5);
	CHECK_MSG(blob_put(st, n, b.p, b.len, "text/plain", fresh, 0, &fin, &e) == 0, "%s", e.msg);
	buf_free(&b);
	buf_init(&b);
	CHECK(blob_get(st, n, &b, NULL, NULL, &e) == 0);
	CHECK(b.len == 16 && !memcmp(b.p, "base+theirs+mine", 16));
	buf_free(&b);
	free(mine);
	free(theirs);
	free(fresh);
	free(fin);
	free(n);
}

/* Longer than the directory store needs before it hands out an ETag to keep (blob_dir.c). */
static void settle(void)
{
	struct timespec ts = {0, 60000000L};
	nanosleep(&ts, NULL);
}

/* blob_get_if_changed: rc; the body must be want when read, and untouched when not. */
static int get_if(const char *name, const char *known, const char *want, char **etag)
{
	struct err e;
	struct buf b;
	buf_init(&b);
	err_clear(&e);
	int rc = blob_get_if_changed(st, name, known, &b, etag, NULL, &e);
	if (rc == 1)
		CHECK_MSG(b.len == 0 && !*etag, "%s: not modified, yet something was read", name);
	else if (rc == 0)
		CHECK_MSG(want && b.len == strlen(want) && !memcmp(b.p, want, b.len),
		          "%s: read %.*s", name, (int)b.len, b.p ? (char *)b.p : "");
	else
		CHECK_MSG(e.code == ERR_NOT_FOUND && !want, "%s: %s", name, e.msg);
	buf_free(&b);
	return rc;
}

static void test_conditional_read(void)
{
	struct err e;
	char *n = nm("conditional.json"), *e1 = NULL, *e2 = NULL, *got = NULL;
	CHECK(blob_put(st, n, "[1]", 3, "application/json", NULL, 0, &e1, &e) == 0);
	settle();
	CHECK_INT(get_if(n, NULL, "[1]", &got), 0);
	CHECK_STR(got, e1);
	free(got);
	CHECK_INT(get_if(n, e1, NULL, &got), 1);
	/* Any put is a new version, even of the same bytes. */
	CHECK(blob_put(st, n, "[1]", 3, "application/json", e1, 0, &e2, &e) == 0);
	CHECK_INT(get_if(n, e1, "[1]", &got), 0);
	CHECK(!got || !strcmp(got, e2));
	free(got);
	settle();
	CHECK_INT(get_if(n, e1, "[1]", &got), 0);
	CHECK_STR(got, e2);
	free(got);
	CHECK_INT(get_if(n, e2, NULL, &got), 1);
	CHECK(blob_put(st, n, "[2, 3]", 6, "application/json", e2, 0, NULL, &e) == 0);
	CHECK_INT(get_if(n, e2, "[2, 3]", &got), 0);
	free(got);
	char *missing = nm("conditional-missing.json");
	CHECK_INT(get_if(missing, e2, NULL, &got), -1);
	CHECK(got == NULL);
	free(missing);
	free(e1);
	free(e2);
	free(n);
}

/* A page served from another handle's cache (another process) after this one appended. */
static void test_records_page_cache(void)
{
	struct err e;
	char *n = nm("records-paged.json");
	struct blob_store *other = NULL;
	CHECK_MSG(blob_open(&other, &e) == 0, "%s", e.msg);
	if (!other)
		return;
	for (int round = 0; round < 3; round++) {
		struct json_object *add = json_object_new_array();
		for (int i = 0; i < 150; i++) {
			char ct[32];
			snprintf(ct, sizeof(ct), "r%d-%03d", round, i);
			json_object_array_add(add, records_new("contoso", ct, NULL));
		}
		CHECK_MSG(records_append(st, n, add, NULL, &e) == 0, "%s", e.msg);
		json_object_put(add);
		settle();
		struct records_cache_stats before, after;
		records_cache_stats(other, &before);
		for (int twice = 0; twice < 2; twice++) {
			struct records_page p;
			long long last = (round + 1) * 150;
			CHECK_MSG(records_page(other, n, last - 5, 10, &p, &e) == 0, "%s", e.msg);
			CHECK_INT(p.total, last);
			CHECK_INT(json_object_array_length(p.records), 5);
			char want[32];
			snprintf(want, sizeof(want), "r%d-149", round);
			CHECK_STR(
			    jsonx_str(json_object_array_get_idx(p.records, 4), "name_encrypted"),
			    want);
			records_page_free(&p);
		}
		/* The second page read nothing: the store said the segments had not changed. */
		records_cache_stats(other, &after);
		CHECK_MSG(after.hits > before.hits, "round %d: no hits", round);
	}
	blob_close(other);
	free(n);
}

static void test_not_found(void)
{
	struct err e;
	char *n = nm("no-such-blob.json"), *et = (char *)"x";
	struct buf b;
	buf_init(&b);
	err_clear(&e);
	CHECK(blob_get(st, n, &b, &et, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_NOT_FOUND);
	CHECK_INT(outcome_status(&e), 404);
	CHECK(et == NULL);
	buf_free(&b);
	struct json_object *arr = NULL;
	CHECK_INT(records_read(st, n, &arr, NULL, &e), -1);
	CHECK_INT(e.code, ERR_NOT_FOUND);
	free(n);
}

static void test_bad_names(void)
{
	static const char *const bad[] = {"",      "../x",  "a/../b",      "/abs", "a\\b",
	                                  "a%2fb", "a b",   "a\nb",        "a//b", "a/",
	                                  "./a",   "a/./b", "caf\xc3\xa9", "a?b",  "a#b"};
	struct err e;
	struct buf b;
	for (size_t i = 0; i < NELEM(bad); i++) {
		buf_init(&b);
		err_clear(&e);
		CHECK_MSG(blob_get(st, bad[i], &b, NULL, NULL, &e) < 0 && e.code == ERR_BAD_REQUEST,
		          "name %zu accepted", i);
		err_clear(&e);
		CHECK_MSG(blob_put(st, bad[i], "x", 1, NULL, NULL, 0, NULL, &e) < 0 &&
		              e.code == ERR_BAD_REQUEST,
		          "put name %zu accepted", i);
		buf_free(&b);
	}
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	longname[257] = '\0';
	CHECK(blob_name_check(longname, &e) < 0);
	longname[256] = '\0';
	CHECK(blob_name_check(longname, &e) == 0);
}

static void test_list_paging(void)
{
	struct err e;
	char *pre = nm("page/");
	for (int i = 0; i < 23; i++) {
		char *n = xasprintf("%sblob-%02d.txt", pre, i);
		char data[40];
		int len = snprintf(data, sizeof(data), "payload %d", i);
		CHECK(blob_put(st, n, data, (size_t)len, "text/plain", NULL, 0, NULL, &e) == 0);
		free(n);
	}
	blob_set_page_size(st, 5);
	struct json_object *arr = NULL;
	CHECK_MSG(blob_list(st, pre, &arr, &e) == 0, "%s", e.msg);
	blob_set_page_size(st, 0);
	CHECK_INT(arr ? json_object_array_length(arr) : 0, 23);
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		char *want = xasprintf("%sblob-%02zu.txt", pre, i);
		CHECK_STR(jsonx_str(o, "name"), want);
		long long size = -1;
		CHECK(jsonx_int(o, "size", &size) && size == (i < 10 ? 9 : 10));
		CHECK(jsonx_str(o, "etag") && jsonx_str(o, "etag")[0] == '"');
		CHECK(jsonx_str(o, "last_modified") &&
		      strstr(jsonx_str(o, "last_modified"), "GMT"));
		CHECK(jsonx_str(o, "content_type") &&
		      !strcmp(jsonx_str(o, "content_type"), "text/plain"));
		free(want);
	}
	json_object_put(arr);
	/* The whole container lists too, and includes what we wrote. */
	CHECK_MSG(blob_list(st, NULL, &arr, &e) == 0, "%s", e.msg);
	CHECK(arr && json_object_array_length(arr) >= 23);
	json_object_put(arr);
	free(pre);
}

static int count_records(const char *blob)
{
	struct json_object *arr = NULL;
	struct err e;
	if (records_read(st, blob, &arr, NULL, &e) < 0)
		return -1;
	int n = (int)json_object_array_length(arr);
	json_object_put(arr);
	return n;
}

static void test_records_create_and_append(void)
{
	struct err e;
	char *n = nm("records-a.json");
	struct json_object *add = json_object_new_array();
	json_object_array_add(add, records_new("contoso", "Y2lwaGVy", NULL));
	json_object_array_add(add, records_new("contoso", "Y2lwaGVy", "cGhvbmU="));
	int total = 0;
	CHECK_MSG(records_append(st, n, add, &total, &e) == 0, "%s", e.msg);
	CHECK_INT(total, 2);
	CHECK_MSG(records_append(st, n, add, &total, &e) == 0, "%s", e.msg);
	CHECK_INT(total, 4);
	json_object_put(add);
	CHECK_INT(count_records(n), 4);
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(st, n, &b, NULL, NULL, &e) == 0);
	CHECK(b.p && !strncmp((char *)b.p, "[\n  {\n    \"timestamp\": \"", 24));
	buf_free(&b);
	free(n);
}

static void test_records_single_object_and_garbage(void)
{
	struct err e;
	char *n = nm("records-single.json");
	const char *one = "{\"timestamp\": \"2026-02-07T10:11:12Z\", \"company\": \"fabrikam\", "
	                  "\"name_encrypted\": \"QQ==\", \"phone_encrypted\": null}";
	CHECK(blob_put(st, n, one, strlen(one), "application/json", NULL, 0, NULL, &e) == 0);
	struct json_object *add = json_object_new_array();
	json_object_array_add(add, records_new("contoso", "Qg==", NULL));
	int total = 0;
	CHECK_MSG(records_append(st, n, add, &total, &e) == 0, "%s", e.msg);
	CHECK_INT(total, 2);
	CHECK_INT(count_records(n), 2);
	/* An unparsable file is an error and stays as it is. */
	char *g = nm("records-garbage.json"), *et = NULL, *et2 = NULL;
	CHECK(blob_put(st, g, "[{\"oops\"", 8, "application/json", NULL, 0, &et, &e) == 0);
	err_clear(&e);
	CHECK(records_append(st, g, add, &total, &e) < 0);
	CHECK(e.code != ERR_NOT_FOUND && e.code != ERR_NONE);
	struct buf b;
	buf_init(&b);
	CHECK(blob_get(st, g, &b, &et2, NULL, &e) == 0);
	CHECK(b.len == 8 && !memcmp(b.p, "[{\"oops\"", 8));
	CHECK_STR(et2, et);
	buf_free(&b);
	json_object_put(add);
	free(et);
	free(et2);
	free(g);
	free(n);
}

/* Two processes append 15 records each at the same time: exactly 30 arrive. */
static void test_records_concurrent_appenders(void)
{
	char *n = nm("records-concurrent.json");
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			struct blob_store *mine = NULL;
			struct err e;
			if (blob_open(&mine, &e) < 0)
				_exit(10);
			for (int i = 0; i < 15; i++) {
				struct json_object *add = json_object_new_array();
				json_object_array_add(
				    add, records_new(k ? "fabrikam" : "contoso", "Y2lwaGVy", NULL));
				int rc = records_append(mine, n, add, NULL, &e);
				json_object_put(add);
				if (rc < 0) {
					fprintf(stderr, "child %d append %d: %s\n", k, i, e.msg);
					_exit(11);
				}
			}
			blob_close(mine);
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		int status = 0;
		CHECK(kids[k] > 0 && waitpid(kids[k], &status, 0) == kids[k]);
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", k,
		          status);
	}
	CHECK_INT(count_records(n), 30);
	free(n);
}

/* Two processes append 100 records each, one at a time: exactly 200 arrive. */
static void test_records_concurrent_100(void)
{
	char *n = nm("records-concurrent-100.json");
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			struct blob_store *mine = NULL;
			struct err e;
			if (blob_open(&mine, &e) < 0)
				_exit(10);
			for (int i = 0; i < 100; i++) {
				struct json_object *add = json_object_new_array();
				json_object_array_add(
				    add, records_new(k ? "fabrikam" : "contoso", "QQ==", NULL));
				int rc = records_append(mine, n, add, NULL, &e);
				json_object_put(add);
				if (rc < 0) {
					fprintf(stderr, "child %d append %d: %s\n", k, i, e.msg);
					_exit(11);
				}
			}
			blob_close(mine);
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		int status = 0;
		CHECK(kids[k] > 0 && waitpid(kids[k], &status, 0) == kids[k]);
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d", k,
		          status);
	}
	CHECK_INT(count_records(n), 200);
	free(n);
}

/*
 * Two instances (each its own STATE_DIR, so its own turn-taking) of 16 writer processes
 * each, appending one record at a time for CONTRACT_LOAD_SECONDS: no append gives up,
 * the store holds exactly the records appended, each once, in files that parse.
 */
#define LOAD_GROUPS  2
#define LOAD_WRITERS 16

static void load_writer(const char *blob, int g, int w, double stop, int fd)
{
	struct blob_store *mine = NULL;
	struct err e;
	int done = 0, failed = 0;
	char line[600];
	err_clear(&e);
	if (blob_open(&mine, &e) < 0)
		failed = 1;
	while (!failed && now_ms() < stop) {
		char ct[48];
		snprintf(ct, sizeof(ct), "g%d-w%d-%d", g, w, done);
		struct json_object *add = json_object_new_array();
		json_object_array_add(add, records_new(g ? "fabrikam" : "contoso", ct, NULL));
		if (records_append(mine, blob, add, NULL, &e) < 0)
			failed = 1;
		else
			done++;
		json_object_put(add);
	}
	int n = snprintf(line, sizeof(line), "%d %d %d %d %.400s\n", g, w, done, failed,
	                 failed ? e.msg : "");
	if (write(fd, line, (size_t)n) != n)
		_exit(3);
	blob_close(mine);
	_exit(failed ? 1 : 0);
}

static void test_records_load(void)
{
	const char *v = getenv("CONTRACT_LOAD_SECONDS");
	int secs = v ? (int)strtol(v, NULL, 10) : 0;
	if (secs <= 0) {
		printf("# 2x16 load: not run (CONTRACT_LOAD_SECONDS unset)\n");
		return;
	}
	char *blob = nm("records-load.json"), *dirs[LOAD_GROUPS];
	int fds[2];
	CHECK(pipe(fds) == 0);
	double stop = now_ms() + secs * 1000.0;
	pid_t kids[LOAD_GROUPS * LOAD_WRITERS];
	for (int g = 0; g < LOAD_GROUPS; g++) {
		char tmpl[] = "/tmp/blob-load.XXXXXX";
		dirs[g] = xstrdup(mkdtemp(tmpl));
		for (int w = 0; w < LOAD_WRITERS; w++) {
			pid_t pid = fork();
			if (pid == 0) {
				close(fds[0]);
				cfg.state_dir = dirs[g];
				load_writer(blob, g, w, stop, fds[1]);
			}
			kids[g * LOAD_WRITERS + w] = pid;
		}
	}
	close(fds[1]);
	int done[LOAD_GROUPS][LOAD_WRITERS] = {{0}}, gaveup = 0, reports = 0, total = 0;
	FILE *f = fdopen(fds[0], "r");
	char line[700];
	while (f && fgets(line, sizeof(line), f)) {
		int g, w, n, bad;
		char msg[500] = "";
		if (sscanf(line, "%d %d %d %d %499[^\n]", &g, &w, &n, &bad, msg) < 4 || g < 0 ||
		    g >= LOAD_GROUPS || w < 0 || w >= LOAD_WRITERS)
			continue;
		done[g][w] = n;
		total += n;
		gaveup += bad;
		reports++;
		if (bad)
			fprintf(stderr, "  writer %d/%d gave up after %d: %s\n", g, w, n, msg);
	}
	if (f)
		fclose(f);
	for (size_t i = 0; i < NELEM(kids); i++) {
		int status = 0;
		CHECK(kids[i] > 0 && waitpid(kids[i], &status, 0) == kids[i]);
	}
	CHECK_INT(reports, LOAD_GROUPS * LOAD_WRITERS);
	CHECK_INT(gaveup, 0);
	CHECK_MSG(total > 100, "only %d appends", total);
	/* Page through everything: each record once, every file parses. */
	struct json_object *seen = json_object_new_object();
	long long after = 0, pages = 0, stored = 0, dups = 0, total_said = -1;
	struct err e;
	do {
		struct records_page p;
		err_clear(&e);
		if (records_page(st, blob, after, 500, &p, &e) < 0) {
			CHECK_MSG(0, "page after %lld: %s", after, e.msg);
			break;
		}
		for (size_t i = 0; i < json_object_array_length(p.records); i++) {
			const char *ct =
			    jsonx_str(json_object_array_get_idx(p.records, i), "name_encrypted");
			dups += ct && json_object_object_get_ex(seen, ct, NULL);
			if (ct)
				json_object_object_add(seen, ct, NULL);
			stored++;
		}
		total_said = p.total;
		after = p.next;
		records_page_free(&p);
		pages++;
	} while (after && pages < 100000);
	CHECK_INT(stored, total);
	CHECK_INT(total_said, total);
	CHECK_INT(dups, 0);
	int missing = 0;
	for (int g = 0; g < LOAD_GROUPS; g++)
		for (int w = 0; w < LOAD_WRITERS; w++)
			for (int i = 0; i < done[g][w]; i++) {
				char ct[48];
				snprintf(ct, sizeof(ct), "g%d-w%d-%d", g, w, i);
				missing += !json_object_object_get_ex(seen, ct, NULL);
			}
	CHECK_INT(missing, 0);
	struct records_head h;
	CHECK(records_head(st, blob, &h, &e) == 0);
	int files_ok = count_records(blob) >= 0;
	for (long long k = 0; k < h.segment; k++) {
		char *seg = records_segment_name(blob, k);
		files_ok &= count_records(seg) == RECORDS_SEGMENT_MAX;
		free(seg);
	}
	CHECK(files_ok);
	CHECK_MSG(h.segment >= 1, "the load crossed a segment boundary (%lld sealed)", h.segment);
	printf("# 2x16 load: %d appends in %d s, %lld sealed segments, %lld pages, 0 gave up\n",
	       total, secs, h.segment, pages);
	json_object_put(seen);
	for (int g = 0; g < LOAD_GROUPS; g++) {
		char *cmd = xasprintf("rm -rf '%s'", dirs[g]);
		CHECK(system(cmd) == 0);
		free(cmd);
		free(dirs[g]);
	}
	free(blob);
}

/* A store that is not there: ERR_UNAVAILABLE (503) for everything, nothing written. */
static void test_store_down(void)
{
	struct blob_store *down = NULL;
	struct err e;
	char *tmpdir = NULL;
	if (is_azure) {
		const char *conn = getenv("CONTRACT_DOWN_CONN");
		CHECK(conn && *conn);
		if (!conn)
			return;
		CHECK_MSG(blob_open_conn(&down, conn, "privateappdata", &e) == 0, "%s", e.msg);
	} else {
		char tmpl[] = "/tmp/blob-down.XXXXXX";
		tmpdir = xstrdup(mkdtemp(tmpl));
		CHECK_MSG(blob_open_dir(&down, tmpdir, &e) == 0, "%s", e.msg);
		char *cmd = xasprintf("rm -rf '%s'", tmpdir);
		CHECK(system(cmd) == 0);
		free(cmd);
	}
	if (!down)
		return;
	char *n = nm("down.json");
	struct buf b;
	buf_init(&b);
	err_clear(&e);
	CHECK(blob_get(down, n, &b, NULL, NULL, &e) < 0);
	CHECK_MSG(e.code == ERR_UNAVAILABLE, "get: %s (%s)", e.msg, err_code_name(e.code));
	CHECK_INT(outcome_status(&e), 503);
	CHECK(!strstr(e.msg, "sig=") && !strstr(e.msg, "Eby8vdM02x"));
	err_clear(&e);
	CHECK(blob_put(down, n, "x", 1, NULL, NULL, 0, NULL, &e) < 0);
	CHECK_MSG(e.code == ERR_UNAVAILABLE, "put: %s", e.msg);
	struct json_object *arr = NULL;
	err_clear(&e);
	CHECK(blob_list(down, NULL, &arr, &e) < 0);
	CHECK_MSG(e.code == ERR_UNAVAILABLE, "list: %s", e.msg);
	struct json_object *add = json_object_new_array();
	json_object_array_add(add, records_new("contoso", "QQ==", NULL));
	err_clear(&e);
	CHECK(records_append(down, n, add, NULL, &e) < 0);
	CHECK_MSG(e.code == ERR_UNAVAILABLE, "append: %s", e.msg);
	printf("# store down: %s\n", e.msg);
	json_object_put(add);
	buf_free(&b);
	blob_close(down);
	if (tmpdir) {
		struct stat sb;
		CHECK(stat(tmpdir, &sb) < 0 && errno == ENOENT);
		free(tmpdir);
	}
	/* And nothing reached the real store under that name. */
	buf_init(&b);
	err_clear(&e);
	CHECK(blob_get(st, n, &b, NULL, NULL, &e) < 0 && e.code == ERR_NOT_FOUND);
	buf_free(&b);
	free(n);
}

static void test_close(void)
{
	blob_close(st);
	st = NULL;
	config_free(&cfg);
}

static void setup(void) __attribute__((constructor));
static void setup(void)
{
	const char *p = getenv("CONTRACT_PREFIX");
	if (p && *p)
		prefix = p;
}

TESTS(test_open, test_put_get_roundtrip, test_etag_changes_on_identical_write, test_if_match,
      test_if_none_match_star, test_conflict_then_retry, test_conditional_read,
      test_records_page_cache, test_not_found, test_bad_names, test_list_paging,
      test_records_create_and_append, test_records_single_object_and_garbage,
      test_records_concurrent_appenders, test_records_concurrent_100, test_records_load,
      test_store_down, test_close)
