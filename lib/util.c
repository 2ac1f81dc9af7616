#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "fatal: out of memory\n";
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more can be done */
	}
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		oom();
	char *p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void free_secret_str(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

int ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void buf_init(struct buf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
}

static void buf_reserve(struct buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		oom();
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* Grow by copying so the old block can be wiped: it may hold secrets. */
	unsigned char *np = xmalloc(cap);
	if (b->p) {
		memcpy(np, b->p, b->len);
		wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = np;
	b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	/* p is NULL only while cap is 0 (buf_init), and then buf_reserve has allocated; the
	 * analyzer, starting from an arbitrary struct buf, assumes p NULL with cap > 0.
	 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	b->p[b->len] = '\0';
}

void buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_append(b, s, strlen(s));
	free_secret_str(s); /* the buffer may hold secrets: so did this copy */
}

void buf_free(struct buf *b)
{
	if (b->p) {
		wipe(b->p, b->cap);
		free(b->p);
	}
	buf_init(b);
}

char *buf_steal(struct buf *b, size_t *len)
{
	buf_reserve(b, 0);
	/* A buf nothing was appended to has fresh, unterminated storage here. */
	b->p[b->len] = '\0';
	char *s = (char *)b->p;
	if (len)
		*len = b->len;
	buf_init(b);
	return s;
}

int read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	unsigned char tmp[8192];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			wipe(tmp, sizeof(tmp));
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max) {
			close(fd);
			wipe(tmp, sizeof(tmp));
			errno = EFBIG;
			return -1;
		}
		buf_append(out, tmp, (size_t)n);
	}
	wipe(tmp, sizeof(tmp));
	close(fd);
	if (!out->p)
		buf_append(out, "", 0);
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t n, int mode)
{
	/*
	 * The temporary file gets an unpredictable name and is created exclusively
	 * (mkostemp), so nothing planted under a guessable name (a symbolic link, a
	 * file with looser permissions) can receive the bytes; its mode is set
	 * explicitly, whatever the umask.  The directory is synced after the rename
	 * so the new file survives a crash.
	 */
	char *tmp = xasprintf("%s.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		free(tmp);
		errno = saved;
		return -1;
	}
	const unsigned char *p = data;
	size_t off = 0;
	if (fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0) {
			/* the data is in place; only its durability across a crash is unsure */
		}
		close(dfd);
	}
	free(dir);
	free(tmp);
	return 0;
fail:;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	errno = saved;
	return -1;
}

int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

long long now_unix(void)
{
	return (long long)time(NULL);
}

static __thread unsigned long request_no;
static unsigned long request_counter;

unsigned long request_current(void)
{
	return request_no;
}

void request_begin(void)
{
	request_no = __atomic_add_fetch(&request_counter, 1, __ATOMIC_RELAXED);
}

void request_end(void)
{
	request_no = 0;
}

double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

const char *http_reason_phrase(long status)
{
	static const struct {
		long status;
		const char *text;
	} phrases[] = {
	    {200, "OK"},
	    {201, "Created"},
	    {204, "No Content"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {410, "Gone"},
	    {411, "Length Required"},
	    {412, "Precondition Failed"},
	    {413, "Payload Too Large"},
	    {415, "Unsupported Media Type"},
	    {422, "Unprocessable Entity"},
	    {429, "Too Many Requests"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	};
	for (size_t i = 0; i < NELEM(phrases); i++)
		if (phrases[i].status == status)
			return phrases[i].text;
	return "";
}
