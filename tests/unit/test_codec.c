/* Codecs, exhaustively over every 0-, 1- and 2-byte input, plus malformed inputs. */
#include "codec.h"
#include "testlib.h"

static int roundtrip(const unsigned char *in, size_t n, enum b64_alphabet a, enum b64_pad enc_pad,
                     enum b64_pad dec_pad)
{
	char *s = b64_encode(in, n, a, enc_pad);
	unsigned char *out = NULL;
	size_t outlen = 0;
	int ok = b64_decode(s, strlen(s), a, dec_pad, &out, &outlen) == 0 && outlen == n &&
	         !memcmp(out, in, n);
	free(s);
	free(out);
	return ok;
}

static void test_b64_exhaustive_small(void)
{
	unsigned char in[2] = {0, 0};
	int bad = 0;
	CHECK(roundtrip(in, 0, B64_STD, B64_PAD_REQUIRED, B64_PAD_REQUIRED));
	for (int i = 0; i < 256; i++) {
		in[0] = (unsigned char)i;
		bad += !roundtrip(in, 1, B64_STD, B64_PAD_REQUIRED, B64_PAD_REQUIRED);
		bad += !roundtrip(in, 1, B64_URL, B64_PAD_NONE, B64_PAD_NONE);
		bad += !roundtrip(in, 1, B64_URL, B64_PAD_REQUIRED, B64_PAD_ANY);
		for (int j = 0; j < 256; j++) {
			in[1] = (unsigned char)j;
			bad += !roundtrip(in, 2, B64_STD, B64_PAD_REQUIRED, B64_PAD_REQUIRED);
			bad += !roundtrip(in, 2, B64_URL, B64_PAD_NONE, B64_PAD_NONE);
			bad += !roundtrip(in, 2, B64_URL, B64_PAD_NONE, B64_PAD_ANY);
		}
	}
	CHECK_INT(bad, 0);
}

static void test_b64_known_answers(void)
{
	static const struct {
		const char *in, *std, *url_raw;
	} kat[] = {
	    {"", "", ""},
	    {"f", "Zg==", "Zg"},
	    {"fo", "Zm8=", "Zm8"},
	    {"foo", "Zm9v", "Zm9v"},
	    {"foob", "Zm9vYg==", "Zm9vYg"},
	    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
	    {"\xfb\xff", "+/8=", "-_8"},
	};
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		char *s = b64_encode(kat[i].in, strlen(kat[i].in), B64_STD, B64_PAD_REQUIRED);
		CHECK_STR(s, kat[i].std);
		free(s);
		s = b64_encode(kat[i].in, strlen(kat[i].in), B64_URL, B64_PAD_NONE);
		CHECK_STR(s, kat[i].url_raw);
		free(s);
	}
}

static int decodes(const char *s, enum b64_alphabet a, enum b64_pad pad)
{
	unsigned char *out = NULL;
	size_t n;
	int ok = b64_decode(s, strlen(s), a, pad, &out, &n) == 0;
	free(out);
	return ok;
}

static void test_b64_rejects_malformed(void)
{
	CHECK(!decodes("Zg=", B64_STD, B64_PAD_ANY));      /* short padding */
	CHECK(!decodes("Zg", B64_STD, B64_PAD_REQUIRED));  /* padding required */
	CHECK(!decodes("Zg==", B64_URL, B64_PAD_NONE));    /* padding forbidden */
	CHECK(!decodes("Z", B64_STD, B64_PAD_ANY));        /* impossible length */
	CHECK(!decodes("Zh==", B64_STD, B64_PAD_ANY));     /* non-zero trailing bits */
	CHECK(!decodes("-_8=", B64_STD, B64_PAD_ANY));     /* wrong alphabet */
	CHECK(!decodes("+/8=", B64_URL, B64_PAD_ANY));     /* wrong alphabet */
	CHECK(!decodes("Zm9v\n", B64_STD, B64_PAD_ANY));   /* whitespace */
	CHECK(!decodes("Zg==Zg==", B64_STD, B64_PAD_ANY)); /* data after padding */
	CHECK(!decodes("Z===", B64_STD, B64_PAD_ANY));
	CHECK(!decodes("====", B64_STD, B64_PAD_ANY));
	CHECK(decodes("", B64_STD, B64_PAD_REQUIRED));
	/* Every single character: accepted exactly when it is in the alphabet (as 2-char pairs). */
	int bad = 0;
	for (int c = 1; c < 256; c++) {
		char s[3] = {(char)c, 'A', 0};
		int valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		            (c >= '0' && c <= '9') || c == '+' || c == '/';
		/* 2 chars decode to 1 byte; second char 'A' keeps low bits zero. */
		bad += decodes(s, B64_STD, B64_PAD_ANY) != valid;
	}
	CHECK_INT(bad, 0);
}

static void test_hex(void)
{
	unsigned char in[2], *out = NULL;
	size_t n;
	int bad = 0;
	for (int i = 0; i < 65536; i++) {
		in[0] = (unsigned char)(i >> 8);
		in[1] = (unsigned char)i;
		char *h = hex_encode(in, 2);
		bad += strlen(h) != 4;
		if (hex_decode(h, 4, &out, &n) != 0 || n != 2 || memcmp(out, in, 2))
			bad++;
		free(out);
		out = NULL;
		free(h);
	}
	CHECK_INT(bad, 0);
	CHECK(hex_decode("ABcd", 4, &out, &n) == 0 && n == 2 && out[0] == 0xab && out[1] == 0xcd);
	free(out);
	out = NULL;
	CHECK(hex_decode("abc", 3, &out, &n) != 0);
	CHECK(hex_decode("zz", 2, &out, &n) != 0);
	CHECK(hex_decode("0x", 2, &out, &n) != 0);
	CHECK(hex_decode("a\0", 2, &out, &n) != 0);
	/* Every non-hex character is rejected in either position. */
	for (int c = 0; c < 256; c++) {
		int valid =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		unsigned char b;
		char s1[2] = {(char)c, '0'}, s2[2] = {'0', (char)c};
		bad += (hex_decode_fixed(s1, &b, 1) == 0) != valid;
		bad += (hex_decode_fixed(s2, &b, 1) == 0) != valid;
	}
	CHECK_INT(bad, 0);
}

static void test_hex_nibble(void)
{
	int bad = 0;
	for (int c = -128; c < 256; c++) {
		int want = c >= '0' && c <= '9'   ? c - '0'
		           : c >= 'a' && c <= 'f' ? c - 'a' + 10
		           : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                                  : -1;
		bad += hex_nibble(c) != want;
	}
	CHECK_INT(bad, 0);
}

/* 0 and the decoded text, or -1 and the refused byte (-1 when malformed). */
static int pct(const char *s, unsigned flags, char **out, int *refused)
{
	return pct_decode(s, strlen(s), flags, out, refused);
}

static void test_pct_decode(void)
{
	char *out = NULL;
	int refused = 99;
	CHECK(pct("a%41%62+c", 0, &out, &refused) == 0 && !strcmp(out, "aAb+c"));
	free(out);
	CHECK(pct("a%41%62+c", PCT_PLUS_SPACE, &out, NULL) == 0 && !strcmp(out, "aAb c"));
	free(out);
	CHECK(pct("", 0, &out, NULL) == 0 && !strcmp(out, ""));
	free(out);
	CHECK(pct("%2f%2F", 0, &out, NULL) == 0 && !strcmp(out, "//"));
	free(out);
	/* Malformed: truncated or non-hex escapes, whatever the flags. */
	const char *const malformed[] = {"%", "%4", "a%", "a%4", "%G1", "%1G", "%%41", "% 41"};
	for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
		refused = 99;
		out = (char *)"x";
		CHECK(pct(malformed[i], 0, &out, &refused) == -1 && refused == -1 && !out);
		CHECK(pct(malformed[i], PCT_ONLY_UNRESERVED, &out, &refused) == -1 &&
		      refused == -1);
	}
	/* %00 only refused when asked; decoding is not repeated (%2541 is "%41"). */
	CHECK(pct("%00", 0, &out, NULL) == 0 && out[0] == '\0');
	free(out);
	CHECK(pct("%00", PCT_NO_NUL, &out, &refused) == -1 && refused == 0 && !out);
	CHECK(pct("%2541", 0, &out, NULL) == 0 && !strcmp(out, "%41"));
	free(out);
	CHECK(pct("%2541", PCT_ONLY_UNRESERVED, &out, &refused) == -1 && refused == '%');
	CHECK(pct("..%2e", PCT_ONLY_UNRESERVED, &out, &refused) == -1 && refused == '.');
	/* PCT_ONLY_UNRESERVED, every byte: accepted exactly for A-Z a-z 0-9 '-' '_'. */
	int bad = 0;
	for (int c = 0; c < 256; c++) {
		char s[4];
		s[0] = '%';
		s[1] = "0123456789ABCDEF"[c >> 4];
		s[2] = "0123456789abcdef"[c & 15];
		s[3] = '\0';
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		         (c >= '0' && c <= '9') || c == '-' || c == '_';
		refused = 99;
		int r = pct(s, PCT_ONLY_UNRESERVED, &out, &refused);
		if (ok)
			bad += r != 0 || (unsigned char)out[0] != c || out[1];
		else
			bad += r != -1 || refused != c;
		if (r == 0)
			free(out);
		r = pct(s, 0, &out, NULL);
		bad += r != 0 || (unsigned char)out[0] != c;
		free(out);
	}
	CHECK_INT(bad, 0);
}

static void test_utf8_strict(void)
{
	int bad = 0;
	unsigned char b[4];
	/* Every 1- and 2-byte input against the definition. */
	for (int i = 0; i < 256; i++) {
		b[0] = (unsigned char)i;
		bad += (utf8_invalid_at(b, 1) == 1) != (i < 0x80);
		for (int j = 0; j < 256; j++) {
			b[1] = (unsigned char)j;
			int valid = (i < 0x80 && j < 0x80) ||
			            (i >= 0xC2 && i <= 0xDF && j >= 0x80 && j <= 0xBF);
			bad += (utf8_invalid_at(b, 2) == 2) != valid;
		}
	}
	CHECK_INT(bad, 0);
	static const struct {
		const char *s;
		size_t valid_prefix; /* offset of the first bad byte, or the length */
	} cases[] = {
	    {"\xE2\x82\xAC", 3},     /* U+20AC */
	    {"\xE0\x80\x80", 0},     /* overlong */
	    {"\xED\xA0\x80", 0},     /* surrogate */
	    {"\xEF\xBF\xBF", 3},     /* U+FFFF */
	    {"\xF0\x90\x80\x80", 4}, /* U+10000 */
	    {"\xF4\x8F\xBF\xBF", 4}, /* U+10FFFF */
	    {"\xF4\x90\x80\x80", 0}, /* past U+10FFFF */
	    {"\xF0\x8F\xBF\xBF", 0}, /* overlong */
	    {"a\xE2\x82", 1},        /* cut short */
	    {"ab\xC0\xAF", 2},       /* overlong '/' */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_INT(utf8_invalid_at(cases[i].s, strlen(cases[i].s)), cases[i].valid_prefix);
	unsigned long cp = 0;
	CHECK(utf8_decode((const unsigned char *)"\xF0\x9F\x94\x92", 4, &cp) == 4 && cp == 0x1F512);
	CHECK(utf8_decode((const unsigned char *)"\xF0\x9F\x94\x92", 3, &cp) == 0);
}

TESTS(test_utf8_strict, test_b64_exhaustive_small, test_b64_known_answers,
      test_b64_rejects_malformed, test_hex, test_hex_nibble, test_pct_decode)
