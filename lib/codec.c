#include "codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char B64_STD_CHARS[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_URL_CHARS[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *b64_encode(const void *data, size_t n, enum b64_alphabet a, enum b64_pad pad)
{
	const char *tab = a == B64_URL ? B64_URL_CHARS : B64_STD_CHARS;
	const unsigned char *p = data;
	char *out = xmalloc((n + 2) / 3 * 4 + 1);
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	size_t rem = n - i;
	if (rem) {
		unsigned v = (unsigned)p[i] << 16 | (rem == 2 ? (unsigned)p[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (rem == 2)
			out[o++] = tab[v >> 6 & 63];
		if (pad != B64_PAD_NONE) {
			out[o++] = '=';
			if (rem == 1)
				out[o++] = '=';
		}
	}
	out[o] = '\0';
	return out;
}

/* Each alphabet's value of a byte plus one; 0 for a byte outside it (NUL included). */
static const unsigned char B64_STD_VAL[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};
static const unsigned char B64_URL_VAL[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

int b64_decode(const char *s, size_t len, enum b64_alphabet a, enum b64_pad pad,
               unsigned char **out, size_t *outlen)
{
	size_t npad = 0;
	while (npad < 2 && len > npad && s[len - 1 - npad] == '=')
		npad++;
	size_t body = len - npad;
	if (npad) {
		if (pad == B64_PAD_NONE || len % 4 != 0)
			return -1;
	} else if (pad == B64_PAD_REQUIRED && len % 4 != 0) {
		return -1;
	}
	if (body % 4 == 1)
		return -1;
	if (npad && (body % 4) + npad != 4)
		return -1;
	unsigned char *o = xmalloc(body / 4 * 3 + 3);
	const unsigned char *t = a == B64_URL ? B64_URL_VAL : B64_STD_VAL;
	const unsigned char *in = (const unsigned char *)s;
	size_t n = 0, i = 0;
	/* Four symbols, three bytes at a time (a lookup each, one test for all four). */
	for (; i + 4 <= body; i += 4) {
		unsigned c0 = t[in[i]], c1 = t[in[i + 1]], c2 = t[in[i + 2]], c3 = t[in[i + 3]];
		if (!c0 || !c1 || !c2 || !c3)
			goto bad;
		unsigned v = (c0 - 1) << 18 | (c1 - 1) << 12 | (c2 - 1) << 6 | (c3 - 1);
		o[n++] = (unsigned char)(v >> 16);
		o[n++] = (unsigned char)(v >> 8);
		o[n++] = (unsigned char)v;
	}
	size_t rem = body - i; /* 0, 2 or 3 (1 was refused above) */
	if (rem) {
		unsigned c0 = t[in[i]], c1 = t[in[i + 1]], c2 = rem == 3 ? t[in[i + 2]] : 1;
		if (!c0 || !c1 || !c2)
			goto bad;
		unsigned v = (c0 - 1) << 18 | (c1 - 1) << 12 | (c2 - 1) << 6;
		/* Leftover bits must be zero: one canonical encoding per input. */
		if (v & (rem == 2 ? 0xffffu : 0xffu))
			goto bad;
		o[n++] = (unsigned char)(v >> 16);
		if (rem == 3)
			o[n++] = (unsigned char)(v >> 8);
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
bad:
	wipe(o, body / 4 * 3 + 3);
	free(o);
	return -1;
}

char *hex_encode(const void *data, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	char *out = xmalloc(n * 2 + 1);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode_fixed(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_nibble(s[2 * i]), lo = hi < 0 ? -1 : hex_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int hex_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	if (len % 2)
		return -1;
	unsigned char *o = xmalloc(len / 2 + 1);
	if (memchr(s, '\0', len) || hex_decode_fixed(s, o, len / 2) < 0) {
		free(o);
		return -1;
	}
	o[len / 2] = '\0';
	*out = o;
	*outlen = len / 2;
	return 0;
}

static int pct_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int pct_decode(const char *s, size_t n, unsigned flags, char **out, int *refused)
{
	char *o = xmalloc(n + 1);
	size_t k = 0;
	*out = NULL;
	if (refused)
		*refused = -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			o[k++] = (flags & PCT_PLUS_SPACE) && s[i] == '+' ? ' ' : s[i];
			continue;
		}
		int hi = i + 2 < n ? hex_nibble(s[i + 1]) : -1;
		int lo = hi >= 0 ? hex_nibble(s[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			goto bad;
		unsigned char c = (unsigned char)(hi << 4 | lo);
		if (((flags & PCT_NO_NUL) && c == 0) ||
		    ((flags & PCT_ONLY_UNRESERVED) && !pct_unreserved(c))) {
			if (refused)
				*refused = c;
			goto bad;
		}
		o[k++] = (char)c;
		i += 2;
	}
	o[k] = '\0';
	*out = o;
	return 0;
bad:
	free(o);
	return -1;
}

size_t utf8_decode(const unsigned char *p, size_t avail, unsigned long *cp)
{
	static const unsigned long min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (!avail)
		return 0;
	unsigned char c = p[0];
	size_t n;
	unsigned long v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if (v < min_cp[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

size_t utf8_invalid_at(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0;
	unsigned long cp;
	while (i < n) {
		/* ASCII, the bulk of every JSON document: eight bytes at a time. */
		uint64_t w;
		if (i + 8 <= n && (memcpy(&w, p + i, 8), !(w & 0x8080808080808080ull))) {
			i += 8;
			continue;
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t len = utf8_decode(p + i, n - i, &cp);
		if (!len)
			return i;
		i += len;
	}
	return n;
}

size_t utf8_text_invalid_at(const void *s, size_t n, unsigned long *cp)
{
	const unsigned char *p = s;
	size_t i = 0;
	while (i < n) {
		size_t len = utf8_decode(p + i, n - i, cp);
		if (!len) {
			*cp = (unsigned long)-1;
			return i;
		}
		if (*cp < 0x20 || *cp == 0x7F || (*cp >= 0x80 && *cp <= 0x9F))
			return i;
		i += len;
	}
	return n;
}
