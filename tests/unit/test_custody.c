/*
 * custody: store and load in a temporary STATE_DIR, file modes, refusals, clearing; the
 * process's held copy: reused while the file is the same version, replaced (in every
 * process) when another process stores a key, and wiped from memory, checked by watching
 * every allocation OpenSSL makes for the private exponent and prime of the replaced key.
 */
#include "custody.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "jsonx.h"
#include "jwt.h"
#include "testlib.h"

/* ---- every OpenSSL allocation, live or freed, checked for watched secret bytes ---- */

struct blk {
	struct blk *prev, *next;
	size_t n, pad; /* keeps the payload 16-byte aligned */
};
static struct blk live = {&live, &live, 0, 0};
static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static int mem_hooked;
#define NWATCH 4
static unsigned char watched[NWATCH][32]; /* byte runs of the watched key's d and p */
static int nwatched;
static unsigned long dirty_frees; /* blocks freed while holding a watched run */

static int holds_watched(const void *p, size_t n)
{
	for (int i = 0; i < nwatched; i++)
		if (memmem(p, n, watched[i], sizeof(watched[i])))
			return 1;
	return 0;
}

static void *t_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	struct blk *b = malloc(sizeof(*b) + (n ? n : 1));
	if (!b)
		return NULL;
	b->n = n;
	pthread_mutex_lock(&mem_lock);
	b->next = live.next;
	b->prev = &live;
	live.next->prev = b;
	live.next = b;
	pthread_mutex_unlock(&mem_lock);
	return b + 1;
}

static void t_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (!p)
		return;
	struct blk *b = (struct blk *)p - 1;
	pthread_mutex_lock(&mem_lock);
	if (holds_watched(p, b->n))
		dirty_frees++;
	b->prev->next = b->next;
	b->next->prev = b->prev;
	pthread_mutex_unlock(&mem_lock);
	free(b);
}

static void *t_realloc(void *p, size_t n, const char *file, int line)
{
	if (!p)
		return t_malloc(n, file, line);
	if (!n) {
		t_free(p, file, line);
		return NULL;
	}
	void *q = t_malloc(n, file, line);
	if (q) {
		size_t old = ((struct blk *)p - 1)->n;
		memcpy(q, p, old < n ? old : n);
		t_free(p, file, line);
	}
	return q;
}

/* Before main: OpenSSL takes the hooks only before its first allocation. */
__attribute__((constructor)) static void hook_openssl_memory(void)
{
	mem_hooked = CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free);
}

/* Live OpenSSL allocations holding a watched run. */
static int live_holding(void)
{
	int n = 0;
	pthread_mutex_lock(&mem_lock);
	for (struct blk *b = live.next; b != &live; b = b->next)
		n += holds_watched(b + 1, b->n);
	pthread_mutex_unlock(&mem_lock);
	return n;
}

/* Watch k's private exponent and first prime, as BIGNUM limbs (little-endian) and as DER. */
static void watch_key(EVP_PKEY *k)
{
	static const char *const names[] = {"d", "rsa-factor1"};
	unsigned char be[256], le[256];
	nwatched = 0;
	dirty_frees = 0;
	for (size_t i = 0; i < 2; i++) {
		BIGNUM *bn = NULL;
		CHECK(EVP_PKEY_get_bn_param(k, names[i], &bn) == 1 && bn);
		int len = BN_num_bytes(bn);
		CHECK(len >= 96 && BN_bn2binpad(bn, be, len) == len &&
		      BN_bn2lebinpad(bn, le, len) == len);
		memcpy(watched[nwatched++], be + 32, 32);
		memcpy(watched[nwatched++], le + 32, 32);
		BN_clear_free(bn);
	}
	OPENSSL_cleanse(be, sizeof(be));
	OPENSSL_cleanse(le, sizeof(le));
}

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

/* ---- the held copy ---- */

/* Encrypt with the held key and decrypt with it: the copy works and its RSA contexts exist. */
static void use_held(EVP_PKEY *want)
{
	EVP_PKEY *k = NULL;
	struct json_object *f = NULL;
	struct err e;
	CHECK(custody_load(&k, &f, &e) == 0 && k && f);
	if (!k)
		return;
	CHECK(!want || EVP_PKEY_eq(k, want) == 1);
	char *ct = NULL;
	const char *alg = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	CHECK(crypto_encrypt(k, (const uint8_t *)"held", 4, &ct, &alg, &e) == 0);
	CHECK(ct && crypto_decrypt(k, ct, &pt, &n, &alg, &e) == 0 && n == 4 &&
	      !memcmp(pt, "held", 4));
	free(ct);
	free(pt);
	EVP_PKEY_free(k);
	json_object_put(f);
}

static void test_held_copy_reused(void)
{
	setup();
	struct err e;
	struct custody_stats s0, s1;
	CHECK(custody_store(key, NULL, &e) == 0);
	custody_forget();
	custody_get_stats(&s0);
	CHECK(!s0.held);
	for (int i = 0; i < 5; i++)
		use_held(key);
	custody_get_stats(&s1);
	CHECK(s1.held);
	CHECK_INT(s1.key_loads - s0.key_loads, 1);
	CHECK_INT(s1.facts_loads - s0.facts_loads, 1);
	/* Facts alone do not touch the key file: a second process's status page needs no key. */
	struct json_object *f = NULL;
	CHECK(custody_facts(&f, &e) == 0 && jsonx_str(f, "thumbprint"));
	json_object_put(f);
	custody_get_stats(&s0);
	CHECK_INT(s0.key_loads, s1.key_loads);
	CHECK_INT(s0.facts_loads, s1.facts_loads);
}

/* Store in a child process (as the other skr process does when it serves a release). */
static void store_in_child(EVP_PKEY *k)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct err e;
		_exit(custody_store(k, NULL, &e) == 0 ? 0 : 1);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Both directions: a process holding a copy sees another process's store on its next use. */
static void test_replaced_by_another_process(void)
{
	setup();
	struct err e;
	EVP_PKEY *other = EVP_RSA_gen(2048);
	CHECK(custody_store(key, NULL, &e) == 0);
	use_held(key);
	struct custody_stats s0, s1;
	custody_get_stats(&s0);
	store_in_child(other);
	use_held(other);
	custody_get_stats(&s1);
	CHECK_INT(s1.key_loads - s0.key_loads, 1);
	CHECK_INT(s1.key_wipes - s0.key_wipes, 1);

	/* The child holds a copy of `other`, the parent replaces it, the child must notice. */
	int go[2], done[2];
	CHECK(pipe(go) == 0 && pipe(done) == 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		EVP_PKEY *k = NULL;
		struct err ce;
		int ok = custody_load(&k, NULL, &ce) == 0 && EVP_PKEY_eq(k, other) == 1;
		EVP_PKEY_free(k);
		ok &= write(done[1], "1", 1) == 1 && read(go[0], &c, 1) == 1;
		struct custody_stats a, b;
		custody_get_stats(&a);
		ok &= custody_load(&k, NULL, &ce) == 0 && EVP_PKEY_eq(k, key) == 1;
		EVP_PKEY_free(k);
		custody_get_stats(&b);
		ok &= b.key_loads == a.key_loads + 1 && b.key_wipes == a.key_wipes + 1;
		_exit(ok ? 0 : 1);
	}
	char c;
	CHECK(read(done[0], &c, 1) == 1);
	CHECK(custody_store(key, NULL, &e) == 0);
	CHECK(write(go[1], "1", 1) == 1);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	EVP_PKEY_free(other);
}

/* A write in place that keeps inode, size and mtime still moves the ctime: reloaded. */
static void test_rewritten_in_place(void)
{
	setup();
	struct err e;
	EVP_PKEY *other = NULL;
	unsigned char *der = NULL;
	int len = 0;
	struct stat st, st2;
	char *kp = file(CUSTODY_KEY_FILE);
	CHECK(custody_store(key, NULL, &e) == 0);
	CHECK(stat(kp, &st) == 0);
	/* Another key whose PKCS#8 encoding has the same length as the held one's. */
	for (int i = 0; i < 20 && len != st.st_size; i++) {
		EVP_PKEY_free(other);
		OPENSSL_clear_free(der, len > 0 ? (size_t)len : 0);
		der = NULL;
		other = EVP_RSA_gen(2048);
		PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(other);
		len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	CHECK(len == st.st_size);
	use_held(key);
	int fd = open(kp, O_WRONLY | O_NOFOLLOW);
	CHECK(fd >= 0 && pwrite(fd, der, (size_t)len, 0) == len);
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	CHECK(fd >= 0 && futimens(fd, times) == 0);
	if (fd >= 0)
		close(fd);
	CHECK(stat(kp, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_size == st.st_size &&
	      st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
	EVP_PKEY *k = NULL;
	CHECK(custody_load(&k, NULL, &e) == 0 && k && EVP_PKEY_eq(k, other) == 1);
	EVP_PKEY_free(k);
	OPENSSL_clear_free(der, len > 0 ? (size_t)len : 0);
	EVP_PKEY_free(other);
	CHECK(custody_store(key, NULL, &e) == 0);
	free(kp);
}

/* Loosened modes or a swapped-in symlink are refused even while a copy is held, and the
 * copy goes. */
static void test_refusals_while_held(void)
{
	setup();
	struct err e;
	struct custody_stats s;
	CHECK(custody_store(key, NULL, &e) == 0);
	use_held(key);
	char *kp = file(CUSTODY_KEY_FILE), *fp = file(CUSTODY_FACTS_FILE);
	EVP_PKEY *k = NULL;
	struct json_object *f = NULL;
	CHECK(chmod(kp, 0640) == 0);
	CHECK(custody_load(&k, NULL, &e) < 0 && e.code == ERR_INTERNAL && strstr(e.msg, "0600"));
	CHECK(k == NULL);
	custody_get_stats(&s);
	CHECK(!s.held);
	CHECK(chmod(kp, 0600) == 0);
	use_held(key);
	char *moved = xasprintf("%s/elsewhere", dir);
	CHECK(rename(kp, moved) == 0 && symlink(moved, kp) == 0);
	CHECK(custody_load(&k, NULL, &e) < 0 && strstr(e.msg, "symbolic link"));
	custody_get_stats(&s);
	CHECK(!s.held);
	CHECK(unlink(kp) == 0 && rename(moved, kp) == 0);
	use_held(key);
	CHECK(chmod(fp, 0644) == 0);
	CHECK(custody_facts(&f, &e) < 0 && e.code == ERR_INTERNAL);
	CHECK(custody_load(&k, &f, &e) < 0 && e.code == ERR_INTERNAL && !k && !f);
	CHECK(chmod(fp, 0600) == 0);
	/* Gone: nothing held, and the copy is wiped. */
	use_held(key);
	custody_clear();
	CHECK(custody_load(&k, NULL, &e) < 0 && e.code == ERR_NOT_FOUND);
	custody_get_stats(&s);
	CHECK(!s.held);
	CHECK(custody_store(key, NULL, &e) == 0);
	free(moved);
	free(kp);
	free(fp);
}

/*
 * The replaced key is gone from memory: after another process stores a new key and this
 * one uses custody again, no live OpenSSL allocation holds the old key's d or p, and no
 * allocation was freed while holding them; at custody_forget (exit) the same for the new.
 */
static void test_old_copy_wiped_from_memory(void)
{
	setup();
	CHECK(mem_hooked == 1);
	if (mem_hooked != 1)
		return;
	struct err e;
	EVP_PKEY *a = EVP_RSA_gen(2048), *b = EVP_RSA_gen(2048);
	char *tpb = jwk_thumbprint(b);
	watch_key(a);
	CHECK(live_holding() >= 1); /* the watch sees the key itself */
	CHECK(custody_store(a, NULL, &e) == 0);
	EVP_PKEY_free(a);
	CHECK_INT(live_holding(), 0);
	use_held(NULL);
	CHECK(live_holding() >= 1); /* the process's copy */
	store_in_child(b);
	CHECK(live_holding() >= 1); /* held until the next use */
	EVP_PKEY *k = NULL;
	struct json_object *f = NULL;
	CHECK(custody_load(&k, &f, &e) == 0 && f);
	CHECK_STR(jsonx_str(f, "thumbprint"), tpb);
	CHECK_INT(live_holding(), 0);
	CHECK_INT(dirty_frees, 0);
	json_object_put(f);
	EVP_PKEY_free(b);
	watch_key(k);
	use_held(NULL);
	EVP_PKEY_free(k);
	CHECK(live_holding() >= 1);
	custody_forget();
	CHECK_INT(live_holding(), 0);
	CHECK_INT(dirty_frees, 0);
	nwatched = 0;
	free(tpb);
	CHECK(custody_store(key, NULL, &e) == 0);
}

/* The same key released again: the key file stays (no private-key write), every copy stays
 * good, the facts are rewritten; a key file that lost its safety is rewritten all the same. */
static void test_same_key_again(void)
{
	setup();
	struct err e;
	struct stat st, st2;
	struct custody_stats a, b;
	char *kp = file(CUSTODY_KEY_FILE);
	CHECK(custody_store(key, NULL, &e) == 0);
	use_held(key);
	CHECK(stat(kp, &st) == 0);
	custody_get_stats(&a);
	struct json_object *facts = json_object_new_object();
	jsonx_add_str(facts, "name", "again");
	CHECK(custody_store(key, facts, &e) == 0);
	json_object_put(facts);
	CHECK(stat(kp, &st2) == 0 && st2.st_ino == st.st_ino &&
	      st2.st_ctim.tv_nsec == st.st_ctim.tv_nsec && st2.st_ctim.tv_sec == st.st_ctim.tv_sec);
	struct json_object *f = NULL;
	EVP_PKEY *k = NULL;
	CHECK(custody_load(&k, &f, &e) == 0 && EVP_PKEY_eq(k, key) == 1);
	CHECK_STR(jsonx_str(f, "name"), "again");
	EVP_PKEY_free(k);
	json_object_put(f);
	custody_get_stats(&b);
	CHECK_INT(b.key_loads, a.key_loads);
	CHECK_INT(b.key_wipes, a.key_wipes);
	/* What describes one release is not kept: released again, nothing is written. */
	char *fp = file(CUSTODY_FACTS_FILE);
	CHECK(stat(fp, &st) == 0);
	for (int i = 0; i < 2; i++) {
		facts = json_object_new_object();
		jsonx_add_str(facts, "name", "again");
		jsonx_add_int(facts, "claims", i);
		jsonx_add_int(facts, "timing", i);
		jsonx_add_str(facts, "wrapping_kid", i ? "one" : "two");
		CHECK(custody_store(key, facts, &e) == 0);
		json_object_put(facts);
	}
	CHECK(stat(fp, &st2) == 0 && st2.st_ino == st.st_ino);
	CHECK(custody_facts(&f, &e) == 0 && !json_object_object_get_ex(f, "claims", NULL) &&
	      !json_object_object_get_ex(f, "wrapping_kid", NULL));
	CHECK_STR(jsonx_str(f, "name"), "again");
	json_object_put(f);
	free(fp);
	CHECK(chmod(kp, 0644) == 0);
	CHECK(custody_store(key, NULL, &e) == 0);
	CHECK(stat(kp, &st2) == 0 && (st2.st_mode & 0777) == 0600 && st2.st_ino != st.st_ino);
	use_held(key);
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
      test_refuses_fifo, test_store_ignores_planted_temp, test_held_copy_reused,
      test_replaced_by_another_process, test_rewritten_in_place, test_refusals_while_held,
      test_old_copy_wiped_from_memory, test_same_key_again, test_cleanup)
