/*
 * util: checked allocation, byte buffers, wiping and constant-time compare.
 *
 * Out-of-memory is not a recoverable condition in these small programs:
 * every x* allocator aborts through one place, so ordinary code has no
 * allocation-failure branches.  A struct buf owns its bytes; buf_free()
 * wipes them before freeing, so a buffer may hold secrets.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NELEM(a)          (sizeof(a) / sizeof((a)[0]))
#define MUST_CHECK        __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* Allocate or abort; never returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Allocate a formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF_LIKE(1, 0);

/* Overwrite n bytes so the compiler cannot elide it (OPENSSL_cleanse). */
void wipe(void *p, size_t n);
/* Wipe a NUL-terminated string and free it; NULL is fine. */
void free_secret_str(char *s);
/* 1 if the n bytes are equal, 0 otherwise, in time independent of content. */
int ct_equal(const void *a, const void *b, size_t n);

/* Growable byte buffer; always NUL-terminated past len for text use. */
struct buf {
	unsigned char *p;
	size_t len;
	size_t cap;
};
void buf_init(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_appendf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Wipe and free the contents; the buf is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Hand over the contents as a NUL-terminated string; the buf becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

/* Read a whole file (at most max bytes) into *out; 0 or -1 with errno set. */
int read_file(const char *path, size_t max, struct buf *out) MUST_CHECK;
/* Write atomically: temp file in the same directory, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t n, int mode) MUST_CHECK;

/* Parse a decimal unsigned integer in [min,max]; the whole string must match. */
int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out) MUST_CHECK;

/* The standard reason phrase of an HTTP status ("Service Unavailable"), or "" if unknown. */
const char *http_reason_phrase(long status);

/* Seconds since the epoch, and a monotonic clock in milliseconds. */
long long now_unix(void);
double now_ms(void);
/*
 * The request this thread serves: a number that changes with every request http_main()
 * starts (request_begin), 0 outside one.  What a request may take as fixed while it runs
 * (which evidence provider is present) can be remembered under it.
 */
unsigned long request_current(void);
void request_begin(void);
void request_end(void);

#endif
