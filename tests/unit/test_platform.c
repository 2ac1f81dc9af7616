/*
 * platform: the SKR sidecar binary's facts as the original page's "SKR Binary"
 * table reads them (path, md5, sha256, size_bytes, executable), or {error}.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "jsonx.h"
#include "platform.h"
#include "testlib.h"

static char *tmp_file(const void *data, size_t n, mode_t mode)
{
	char tmpl[] = "/tmp/test_platform.XXXXXX";
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	if (fd < 0)
		return NULL;
	CHECK((size_t)write(fd, data, n) == n);
	close(fd);
	CHECK(chmod(tmpl, mode) == 0);
	return xstrdup(tmpl);
}

/* 1 or 0 if the member is a boolean, else -1. */
static int bool_of(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v);
}

static char *digest_hex(const EVP_MD *md, const void *data, size_t n)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_Digest(data, n, d, &len, md, NULL);
	return hex_encode(d, len);
}

static void test_small_file(void)
{
	char *p = tmp_file("abc", 3, 0644);
	struct json_object *o = platform_skr_binary_at(p);
	CHECK_STR(jsonx_str(o, "path"), p);
	CHECK_STR(jsonx_str(o, "md5"), "900150983cd24fb0d6963f7d28e17f72");
	CHECK_STR(jsonx_str(o, "sha256"),
	          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	long long size = 0;
	CHECK(jsonx_int(o, "size_bytes", &size) && size == 3);
	CHECK_INT(bool_of(o, "executable"), 0);
	CHECK(jsonx_str(o, "error") == NULL);
	json_object_put(o);
	CHECK(chmod(p, 0755) == 0);
	o = platform_skr_binary_at(p);
	CHECK_INT(bool_of(o, "executable"), 1);
	json_object_put(o);
	unlink(p);
	free(p);
}

/* Larger than one read chunk: the streamed digests equal one-shot ones. */
static void test_chunked_file(void)
{
	size_t n = 200003;
	unsigned char *data = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 131 + 7);
	char *p = tmp_file(data, n, 0755);
	char *md5 = digest_hex(EVP_md5(), data, n), *sha = digest_hex(EVP_sha256(), data, n);
	struct json_object *o = platform_skr_binary_at(p);
	CHECK_STR(jsonx_str(o, "md5"), md5);
	CHECK_STR(jsonx_str(o, "sha256"), sha);
	long long size = 0;
	CHECK(jsonx_int(o, "size_bytes", &size) && size == (long long)n);
	json_object_put(o);
	unlink(p);
	free(p);
	free(md5);
	free(sha);
	free(data);
}

static void test_missing_or_not_a_file(void)
{
	static const char *const paths[] = {"/nonexistent/skr", "/tmp"};
	for (size_t i = 0; i < NELEM(paths); i++) {
		struct json_object *o = platform_skr_binary_at(paths[i]);
		const char *err = jsonx_str(o, "error");
		CHECK_MSG(err && strstr(err, paths[i]), "%s: %s", paths[i], err ? err : "(none)");
		CHECK(jsonx_str(o, "md5") == NULL && jsonx_str(o, "path") == NULL);
		json_object_put(o);
	}
}

TESTS(test_small_file, test_chunked_file, test_missing_or_not_a_file)
