/*
 * b64_decode, hex_decode, pct_decode.  The first byte picks decoder and options; the rest is
 * the input.  Checks the header's promise that decoding is strict: whatever decodes encodes
 * back to the same text (modulo optional padding and hex case).
 */
#include <ctype.h>

#include "codec.h"
#include "fuzz.h"

static void check_b64(const char *s, size_t n, enum b64_alphabet a, enum b64_pad pad)
{
	unsigned char *out = NULL;
	size_t outlen = 0;
	if (b64_decode(s, n, a, pad, &out, &outlen) < 0)
		return;
	FUZZ_ASSERT(out != NULL && out[outlen] == '\0');
	int padded = n > 0 && s[n - 1] == '=';
	FUZZ_ASSERT(!(padded && pad == B64_PAD_NONE));
	char *enc = b64_encode(out, outlen, a, padded ? B64_PAD_ANY : B64_PAD_NONE);
	FUZZ_ASSERT(strlen(enc) == n && memcmp(enc, s, n) == 0);
	free(enc);
	free(out);
}

static void check_hex(const char *s, size_t n)
{
	unsigned char *out = NULL;
	size_t outlen = 0;
	if (hex_decode(s, n, &out, &outlen) < 0)
		return;
	FUZZ_ASSERT(outlen * 2 == n);
	char *enc = hex_encode(out, outlen);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(enc[i] == tolower((unsigned char)s[i]));
	free(enc);
	if (outlen > 0 && outlen <= 64) {
		unsigned char fixed[64];
		FUZZ_ASSERT(hex_decode_fixed(s, fixed, outlen) == 0 || memchr(s, 0, n) != NULL);
	}
	free(out);
}

static void check_pct(const char *s, size_t n, unsigned flags)
{
	char *out = NULL;
	int refused = 0;
	if (pct_decode(s, n, flags, &out, &refused) < 0) {
		FUZZ_ASSERT(out == NULL && refused >= -1 && refused <= 255);
		return;
	}
	FUZZ_ASSERT(out != NULL && strlen(out) <= n);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned sel = data[0];
	/* Heap copy without a NUL: the decoders take a length and must not read past it. */
	size_t n = size - 1;
	char *s = malloc(n ? n : 1);
	if (s == NULL)
		abort();
	memcpy(s, data + 1, n);
	switch (sel % 3) {
	case 0:
		check_b64(s, n, (sel >> 2) & 1 ? B64_URL : B64_STD, (enum b64_pad)((sel >> 3) % 3));
		break;
	case 1:
		check_hex(s, n);
		break;
	default:
		check_pct(s, n, (sel >> 2) & 7);
		break;
	}
	free(s);
	return 0;
}
