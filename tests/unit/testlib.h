/*
 * testlib: a tiny unit-test harness.  A test file defines test functions,
 * lists them in TESTS(...) and gets a main() that runs each, counts checks
 * and ends with the line "N passed, N failed" (one per test function).
 *
 *   static void test_x(void) { CHECK(1 + 1 == 2); CHECK_STR("a", "a"); }
 *   TESTS(test_x)
 *
 * Test files may #include a lib .c file directly to reach static functions.
 * TEST_DATA_DIR (env, default tests/unit/data) holds fixtures.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int tl_failed_checks;
static int tl_checks;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		tl_checks++;                                                                       \
		if (!(cond)) {                                                                     \
			tl_failed_checks++;                                                        \
			fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
		}                                                                                  \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                       \
	do {                                                                                       \
		tl_checks++;                                                                       \
		if (!(cond)) {                                                                     \
			tl_failed_checks++;                                                        \
			fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long tl_a = (long long)(a), tl_b = (long long)(b);                            \
		CHECK_MSG(tl_a == tl_b, "%s = %lld, expected %lld", #a, tl_a, tl_b);               \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *tl_a = (a), *tl_b = (b);                                               \
		CHECK_MSG(tl_a &&tl_b && !strcmp(tl_a, tl_b), "%s = \"%s\", expected \"%s\"", #a,  \
		          tl_a ? tl_a : "(null)", tl_b ? tl_b : "(null)");                         \
	} while (0)

/*
 * Sleep until a file written now is settled for the directory store (lib/blob_dir.c): older
 * than two ticks of the coarse clock file times come from, so its ETag may be kept.
 */
static inline void tl_settle_file_clock(void)
{
	struct timespec tick = {0, 10000000L};
	clock_getres(CLOCK_REALTIME_COARSE, &tick);
	long long ns = 3 * ((long long)tick.tv_sec * 1000000000LL + tick.tv_nsec) + 5000000LL;
	struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
	nanosleep(&ts, NULL);
}

typedef void (*tl_fn)(void);
struct tl_test {
	const char *name;
	tl_fn fn;
};

static inline int tl_run(const char *file, const struct tl_test *t, size_t n)
{
	int passed = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		int before = tl_failed_checks;
		t[i].fn();
		if (tl_failed_checks == before) {
			passed++;
			printf("ok %s\n", t[i].name);
		} else {
			failed++;
			printf("not ok %s\n", t[i].name);
		}
	}
	printf("# %s: %d checks\n", file, tl_checks);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define TL_ENTRY(f)    {#f, f},
#define TL_EXPAND(...) __VA_ARGS__
#define TL_MAP1(f)     TL_ENTRY(f)
/* TESTS(a, b, c): up to 40 test functions. */
#define TL_GET(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18,    \
               _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34,     \
               _35, _36, _37, _38, _39, _40, NAME, ...)                                            \
	NAME
#define TL_F1(a)       TL_ENTRY(a)
#define TL_F2(a, ...)  TL_ENTRY(a) TL_F1(__VA_ARGS__)
#define TL_F3(a, ...)  TL_ENTRY(a) TL_F2(__VA_ARGS__)
#define TL_F4(a, ...)  TL_ENTRY(a) TL_F3(__VA_ARGS__)
#define TL_F5(a, ...)  TL_ENTRY(a) TL_F4(__VA_ARGS__)
#define TL_F6(a, ...)  TL_ENTRY(a) TL_F5(__VA_ARGS__)
#define TL_F7(a, ...)  TL_ENTRY(a) TL_F6(__VA_ARGS__)
#define TL_F8(a, ...)  TL_ENTRY(a) TL_F7(__VA_ARGS__)
#define TL_F9(a, ...)  TL_ENTRY(a) TL_F8(__VA_ARGS__)
#define TL_F10(a, ...) TL_ENTRY(a) TL_F9(__VA_ARGS__)
#define TL_F11(a, ...) TL_ENTRY(a) TL_F10(__VA_ARGS__)
#define TL_F12(a, ...) TL_ENTRY(a) TL_F11(__VA_ARGS__)
#define TL_F13(a, ...) TL_ENTRY(a) TL_F12(__VA_ARGS__)
#define TL_F14(a, ...) TL_ENTRY(a) TL_F13(__VA_ARGS__)
#define TL_F15(a, ...) TL_ENTRY(a) TL_F14(__VA_ARGS__)
#define TL_F16(a, ...) TL_ENTRY(a) TL_F15(__VA_ARGS__)
#define TL_F17(a, ...) TL_ENTRY(a) TL_F16(__VA_ARGS__)
#define TL_F18(a, ...) TL_ENTRY(a) TL_F17(__VA_ARGS__)
#define TL_F19(a, ...) TL_ENTRY(a) TL_F18(__VA_ARGS__)
#define TL_F20(a, ...) TL_ENTRY(a) TL_F19(__VA_ARGS__)
#define TL_F21(a, ...) TL_ENTRY(a) TL_F20(__VA_ARGS__)
#define TL_F22(a, ...) TL_ENTRY(a) TL_F21(__VA_ARGS__)
#define TL_F23(a, ...) TL_ENTRY(a) TL_F22(__VA_ARGS__)
#define TL_F24(a, ...) TL_ENTRY(a) TL_F23(__VA_ARGS__)
#define TL_F25(a, ...) TL_ENTRY(a) TL_F24(__VA_ARGS__)
#define TL_F26(a, ...) TL_ENTRY(a) TL_F25(__VA_ARGS__)
#define TL_F27(a, ...) TL_ENTRY(a) TL_F26(__VA_ARGS__)
#define TL_F28(a, ...) TL_ENTRY(a) TL_F27(__VA_ARGS__)
#define TL_F29(a, ...) TL_ENTRY(a) TL_F28(__VA_ARGS__)
#define TL_F30(a, ...) TL_ENTRY(a) TL_F29(__VA_ARGS__)
#define TL_F31(a, ...) TL_ENTRY(a) TL_F30(__VA_ARGS__)
#define TL_F32(a, ...) TL_ENTRY(a) TL_F31(__VA_ARGS__)
#define TL_F33(a, ...) TL_ENTRY(a) TL_F32(__VA_ARGS__)
#define TL_F34(a, ...) TL_ENTRY(a) TL_F33(__VA_ARGS__)
#define TL_F35(a, ...) TL_ENTRY(a) TL_F34(__VA_ARGS__)
#define TL_F36(a, ...) TL_ENTRY(a) TL_F35(__VA_ARGS__)
#define TL_F37(a, ...) TL_ENTRY(a) TL_F36(__VA_ARGS__)
#define TL_F38(a, ...) TL_ENTRY(a) TL_F37(__VA_ARGS__)
#define TL_F39(a, ...) TL_ENTRY(a) TL_F38(__VA_ARGS__)
#define TL_F40(a, ...) TL_ENTRY(a) TL_F39(__VA_ARGS__)
#define TESTS(...)                                                                                 \
	static const struct tl_test tl_tests[] = {                                                 \
	    TL_GET(__VA_ARGS__, TL_F40, TL_F39, TL_F38, TL_F37, TL_F36, TL_F35, TL_F34, TL_F33,    \
	           TL_F32, TL_F31, TL_F30, TL_F29, TL_F28, TL_F27, TL_F26, TL_F25, TL_F24, TL_F23, \
	           TL_F22, TL_F21, TL_F20, TL_F19, TL_F18, TL_F17, TL_F16, TL_F15, TL_F14, TL_F13, \
	           TL_F12, TL_F11, TL_F10, TL_F9, TL_F8, TL_F7, TL_F6, TL_F5, TL_F4, TL_F3, TL_F2, \
	           TL_F1)(__VA_ARGS__)};                                                           \
	int main(void)                                                                             \
	{                                                                                          \
		return tl_run(__FILE__, tl_tests, sizeof(tl_tests) / sizeof(tl_tests[0]));         \
	}

#endif
