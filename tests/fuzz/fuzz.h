/*
 * fuzz.h: what every target in tests/fuzz shares.  A target is one file defining
 * LLVMFuzzerTestOneInput; it links either with libFuzzer (clang -fsanitize=fuzzer) or with
 * driver.c (any compiler).  Targets must not leak, must not keep state between inputs
 * except read-only fixtures, and must not print.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a heap C string of exactly size+1 bytes (ASan catches a read past the NUL). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A property a target checks failed: abort so both drivers report the input. */
#define FUZZ_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#endif
