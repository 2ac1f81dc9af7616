/*
 * codec: base64 (standard and URL alphabets), hex, percent-encoding.
 *
 * Decoders are strict: one alphabet only, no whitespace, no characters after
 * padding, and the unused low bits of the last symbol must be zero, so every
 * byte string has exactly one accepted encoding per (alphabet, padding) pair.
 * Padding is optional on input (B64_PAD_ANY) or can be required/forbidden.
 * Outputs are NUL-terminated and owned by the caller (free, or wipe+free for
 * secrets).
 *
 * Percent-decoding is strict too: every '%' must begin a complete "%XX"
 * escape (hex digits of either case) or the whole input is refused; what
 * else to refuse (NUL, anything but unreserved bytes) the caller says in
 * flags, because a query value and a path segment have different rules.
 */
#ifndef CODEC_H
#define CODEC_H

#include "util.h"

enum b64_alphabet { B64_STD, B64_URL };
enum b64_pad { B64_PAD_ANY, B64_PAD_REQUIRED, B64_PAD_NONE };

/* Encode n bytes; pad selects whether '=' is written (B64_PAD_ANY = yes). */
char *b64_encode(const void *data, size_t n, enum b64_alphabet a, enum b64_pad pad);
/* Decode len chars; returns 0, or -1 on any malformed input. *out is NUL-terminated. */
int b64_decode(const char *s, size_t len, enum b64_alphabet a, enum b64_pad pad,
               unsigned char **out, size_t *outlen) MUST_CHECK;

/* Lowercase hex of n bytes. */
char *hex_encode(const void *data, size_t n);
/* Decode exactly len hex chars (either case) into *out (len/2 bytes). */
int hex_decode(const char *s, size_t len, unsigned char **out, size_t *outlen) MUST_CHECK;
/* Decode into a fixed buffer: s must be exactly 2*n hex chars. */
int hex_decode_fixed(const char *s, unsigned char *out, size_t n) MUST_CHECK;
/* Value 0-15 of one hex digit (either case), or -1 for any other character. */
int hex_nibble(int c);

enum pct_flags {
	PCT_PLUS_SPACE = 1 << 0,      /* '+' means ' ' (query strings, HTML forms) */
	PCT_NO_NUL = 1 << 1,          /* "%00" is refused */
	PCT_ONLY_UNRESERVED = 1 << 2, /* an escape may only stand for A-Z a-z 0-9 '-' '_' */
};
/*
 * Percent-decode n chars of s into *out (NUL-terminated, caller frees).
 * -1 on a malformed escape or one the flags refuse; then *out is NULL and,
 * if refused is not NULL, *refused is the byte a well-formed but refused
 * escape stood for, or -1 when the escape was malformed.
 */
int pct_decode(const char *s, size_t n, unsigned flags, char **out, int *refused) MUST_CHECK;

/*
 * UTF-8, strictly (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
 * utf8_decode: the length (1-4) of the well-formed sequence at p, within avail bytes,
 * with its code point in *cp; 0 if it is malformed or cut short.
 */
size_t utf8_decode(const unsigned char *p, size_t avail, unsigned long *cp);
/* Offset of the first byte of s[0..n) that is not part of well-formed UTF-8, or n. */
size_t utf8_invalid_at(const void *s, size_t n);
/*
 * The same for text: also stops at a control character (C0, DEL, C1), with its code
 * point in *cp; at malformed UTF-8 *cp is (unsigned long)-1.  n when all is text.
 */
size_t utf8_text_invalid_at(const void *s, size_t n, unsigned long *cp);

#endif
