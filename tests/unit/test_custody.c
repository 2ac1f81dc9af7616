/* custody: store and load in a temporary STATE_DIR, file modes, refusals, clearing. */
#include "custody.h"

#include <errno.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "jsonx.h"
#include "jwt.h"
#include "testlib.h"

static char tmpl[] = "/tmp/test_custody.XXXXXX";
static char *dir;
static EVP_PKEY *key;

static char *file(const char *name)
{
	return xasprintf("%s/%s", cfg.state_dir, name);
}

static void setup(void)
{
	if (!dir) {
		dir = mkdtemp(tmpl);
		key = EVP_RSA_gen(2048);
	}
	free(cfg.state_dir);
	cfg.state_dir = xasprintf("%s/run", dir);
}

static void test_none_yet(void)
{
	setup();
	EVP_PKEY *k = NULL;
	struct json_object *f = NULL;
	struct err e;
	CHECK(custody_load(&k, &f, &e) < 0);
	CHECK_INT(e.code, ERR_NOT_FOUND);
	CHECK_STR(e.msg, CUSTODY_NONE_MSG);
	CHECK(custody_facts(&f, &e) < 0 && e.code == ERR_NOT_FOUND);
}

static void test_store_load(void)
{
	setup();
	struct err e;
	struct json_object *facts = json_object_new_object();
	jsonx_add_str(facts, "name", "contoso-secret-key");
	jsonx_add_int(facts, "size", 2048);
	CHECK(custody_store(key, facts, &e) == 0);
	json_object_put(facts);

	struct stat st;
	CHECK(stat(cfg.state_dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	char *kp = file(CUSTODY_KEY_FILE), *fp = file(CUSTODY_FACTS_FILE);
	CHECK(stat(kp, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(fp, &st) == 0 && (st.st_mode & 0777) == 0600);

	EVP_PKEY *k = NULL;
	struct json_object *f = NULL;
	CHECK(custody_load(&k, &f, &e) == 0);
	CHECK(k && EVP_PKEY_eq(k, key) == 1);
	char *tp = jwk_thumbprint(key);
	CHECK_STR(jsonx_str(f, "thumbprint"), tp);
	CHECK_STR(jsonx_str(f, "name"), "contoso-secret-key");
	/* The private half came back too: it can sign. */
	BIGNUM *d = NULL;
	CHECK(EVP_PKEY_get_bn_param(k, "d", &d) == 1 && d);
	BN_clear_free(d);
	EVP_PKEY_free(k);
	json_object_put(f);

	CHECK(custody_facts(&f, &e) == 0);
	CHECK_STR(jsonx_str(f, "thumbprint"), tp);
	CHECK(!jsonx_str(f, "d") && !jsonx_str(f, "p"));
	json_object_put(f);

	/* Loading without facts */
	CHECK(custody_load(&k, NULL, &e) == 0 && k);
	EVP_PKEY_free(k);
	free(tp);
	free(kp);
	free(fp);
}

static void test_replace(void)
{
	setup();
	struct err e;
	EVP_PKEY *other = EVP_RSA_gen(2048);
	CHECK(custody_store(other, NULL, &e) == 0);
	EVP_PKEY *k = NULL;
	struct json_object *f = NULL;
	CHECK(custody_load(&k, &f, &e) == 0);
	CHECK(k && EVP_PKEY_eq(k, other) == 1);
	EVP_PKEY_free(k);
	json_object_put(f);
	CHECK(custody_store(key, NULL, &e) == 0);
	EVP_PKEY_free(other);
}

static void test_refuses_group_readable(void)
{
	setup();
	struct err e;
	CHECK(custody_store(key, NULL, &e) == 0);
	char *kp = file(CUSTODY_KEY_FILE);
	CHECK(chmod(kp, 0640) == 0);
	EVP_PKEY *k = NULL;
	CHECK(custody_load(&k, NULL, &e) < 0);
	CHECK_INT(e.code, ERR_INTERNAL);
	CHECK(strstr(e.msg, "0600") != NULL);
	CHECK(k == NULL);
	CHECK(chmod(kp, 0604) == 0);
	CHECK(custody_load(&k, NULL, &e) < 0);
	CHECK(chmod(kp, 0600) == 0);
	CHECK(custody_load(&k, NULL, &e) == 0);
	EVP_PKEY_free(k);
	free(kp);
}

static void test_refuses_symlink(void)
{
	setup();
	struct err e;
	CHECK(custody_store(key, NULL, &e) == 0);
	char *kp = file(CUSTODY_KEY_FILE);
	char *moved = xasprintf("%s/elsewhere", dir);
	CHECK(rename(kp, moved) == 0);
	CHECK(symlink(moved, kp) == 0);
	EVP_PKEY *k = NULL;
	CHECK(custody_load(&k, NULL, &e) < 0);
	CHECK(strstr(e.msg, "symbolic link") != NULL);
	unlink(kp);
	unlink(moved);
	free(moved);
	free(kp);
}

static void test_refuses_open_dir(void)
{
	setup();
	struct err e;
	CHECK(chmod(cfg.state_dir, 0770) == 0);
	CHECK(custody_store(key, NULL, &e) < 0);
	CHECK(strstr(e.msg, "writable by group") != NULL);
	CHECK(chmod(cfg.state_dir, 0700) == 0);
}

static void test_garbage_file(void)
{
	setup();
	struct err e;
	char *kp = file(CUSTODY_KEY_FILE);
	CHECK(write_file_atomic(kp, "not a key", 9, 0600) == 0);
	EVP_PKEY *k = NULL;
	CHECK(custody_load(&k, NULL, &e) < 0 && e.code == ERR_INTERNAL);
	free(kp);
}

static void test_clear_wipes(void)
{
	setup();
	struct err e;
	CHECK(custody_store(key, NULL, &e) == 0);
	char *kp = file(CUSTODY_KEY_FILE);
	char *link_path = xasprintf("%s/hardlink", dir);
	unlink(link_path);
	CHECK(link(kp, link_path) == 0);
	custody_clear();
	struct stat st;
	CHECK(stat(kp, &st) < 0 && errno == ENOENT);
	EVP_PKEY *k = NULL;
	CHECK(custody_load(&k, NULL, &e) < 0 && e.code == ERR_NOT_FOUND);
	/* The bytes themselves were overwritten before the name went away. */
	struct buf b;
	buf_init(&b);
	CHECK(read_file(link_path, 1 << 16, &b) == 0);
	int zero = b.len > 1000;
	for (size_t i = 0; i < b.len; i++)
		zero &= b.p[i] == 0;
	CHECK(zero);
	buf_free(&b);
	unlink(link_path);
	free(link_path);
	free(kp);
}

static void hung(int sig)
{
	(void)sig;
	static const char msg[] = "  FAIL test_custody.c: reading a FIFO hung\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

/* A FIFO under the key's name is refused at once, not read until a writer comes. */
static void test_refuses_fifo(void)
{
	setup();
	struct err e;
	CHECK(custody_store(key, NULL, &e) == 0);
	char *kp = file(CUSTODY_KEY_FILE), *fp = file(CUSTODY_FACTS_FILE);
	CHECK(unlink(kp) == 0 && mkfifo(kp, 0600) == 0);
	CHECK(unlink(fp) == 0 && mkfifo(fp, 0600) == 0);
	signal(SIGALRM, hung);
	alarm(5);
	EVP_PKEY *k = NULL;
	struct json_object *f = NULL;
	CHECK(custody_load(&k, NULL, &e) < 0 && e.code == ERR_INTERNAL);
	CHECK(strstr(e.msg, "not a regular file") != NULL);
	CHECK(custody_facts(&f, &e) < 0 && e.code == ERR_INTERNAL);
	custody_clear();
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	struct stat st;
	CHECK(lstat(kp, &st) < 0 && errno == ENOENT);
	free(kp);
	free(fp);
}

/* A link planted under a temporary name the writer might use never receives the key. */
static void test_store_ignores_planted_temp(void)
{
	setup();
	struct err e;
	char *victim = xasprintf("%s/victim", dir);
	CHECK(write_file_atomic(victim, "victim", 6, 0644) == 0);
	char *kp = file(CUSTODY_KEY_FILE);
	char *planted = xasprintf("%s.tmp.%ld", kp, (long)getpid());
	unlink(planted);
	CHECK(symlink(victim, planted) == 0);
	CHECK(custody_store(key, NULL, &e) == 0);
	struct buf b;
	buf_init(&b);
	CHECK(read_file(victim, 1 << 16, &b) == 0);
	CHECK(b.len == 6 && !memcmp(b.p, "victim", 6));
	buf_free(&b);
	EVP_PKEY *k = NULL;
	CHECK(custody_load(&k, NULL, &e) == 0 && k && EVP_PKEY_eq(k, key) == 1);
	EVP_PKEY_free(k);
	unlink(planted);
	unlink(victim);
	free(planted);
	free(victim);
	free(kp);
}

static void test_cleanup(void)
{
	custody_clear();
	char *p = xasprintf("%s/run", dir);
	rmdir(p);
	free(p);
	rmdir(dir);
	EVP_PKEY_free(key);
	free(cfg.state_dir);
	cfg.state_dir = NULL;
}

TESTS(test_none_yet, test_store_load, test_replace, test_refuses_group_readable,
      test_refuses_symlink, test_refuses_open_dir, test_garbage_file, test_clear_wipes,
      test_refuses_fifo, test_store_ignores_planted_temp, test_cleanup)
