/*
 * driver: a main() for the libFuzzer targets in this folder, for machines or builds without
 * libFuzzer (gcc + ASan/UBSan).  It runs the target once over every corpus file, then over
 * N deterministic pseudo-random mutations of them, so a run is repeatable: a crash found
 * with "-s SEED -n N" is found again with the same arguments.
 *
 *   fuzz_x [-n mutations] [-s seed] [-v] dir-or-file...
 *
 * Exit 0 when every input returned; a sanitizer report aborts the process (the build uses
 * -fno-sanitize-recover), so any non-zero exit is a finding.  Before each mutated input the
 * driver writes it to $FUZZ_CRASH_FILE (if set), so the input that killed the run is on disk.
 *
 * Not linked into anything but the fuzz programs; compiled out under -fsanitize=fuzzer
 * (libFuzzer brings its own main).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Mutations never grow an input past this, like libFuzzer's default -max_len order. */
#define FUZZ_MAX_LEN (128 * 1024)

struct input {
	uint8_t *p;
	size_t n;
	char *name;
};

static struct input *inputs;
static size_t ninputs;
static int verbose;

static void *must(void *p)
{
	if (p == NULL) {
		fputs("driver: out of memory\n", stderr);
		exit(2);
	}
	return p;
}

static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	uint8_t *p = must(malloc(FUZZ_MAX_LEN));
	size_t n = fread(p, 1, FUZZ_MAX_LEN, f);
	fclose(f);
	inputs = must(realloc(inputs, (ninputs + 1) * sizeof(*inputs)));
	inputs[ninputs].p = p;
	inputs[ninputs].n = n;
	inputs[ninputs].name = must(strdup(path));
	ninputs++;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries sorted, so the mutation sequence does not depend on readdir order. */
static void add_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	DIR *d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = must(realloc(names, (n + 1) * sizeof(*names)));
		size_t l = strlen(path) + strlen(de->d_name) + 2;
		names[n] = must(malloc(l));
		snprintf(names[n], l, "%s/%s", path, de->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		add_path(names[i]);
		free(names[i]);
	}
	free(names);
}

static uint64_t rng_state;

/* xorshift64*: small, fast and the same on every platform. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* Bytes that tend to matter to the parsers here: delimiters, quotes, escapes, padding. */
static const char specials[] = "\"\\{}[]:,.=%+-/_\r\n\t 0123456789aAfFzZ\x00\x7f\x80\xc3\xff";
static const char *const tokens[] = {
    "null",
    "true",
    "false",
    "\"\"",
    "{}",
    "[]",
    "%00",
    "%zz",
    "\\u0000",
    "\\ud800",
    "==",
    "\"\"\"",
    "\r\n",
    "1e999",
    "-0",
    "18446744073709551616",
    "9223372036854775807",
    "\"anyOf\"",
    "\"allOf\"",
    "\"claim\"",
    "\"equals\"",
    "\"exists\"",
    "-----BEGIN CERTIFICATE-----\n",
    "-----END CERTIFICATE-----\n",
    "\xef\xbb\xbf",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
};

/* Apply 1-4 random edits to buf (n bytes, capacity FUZZ_MAX_LEN); returns the new length. */
static size_t mutate(uint8_t *buf, size_t n)
{
	int edits = 1 + (int)rnd_below(4);
	for (int k = 0; k < edits; k++) {
		size_t pos = rnd_below(n + 1);
		switch (rnd_below(10)) {
		case 0: /* flip a bit */
			if (n > 0)
				buf[rnd_below(n)] ^= (uint8_t)(1u << rnd_below(8));
			break;
		case 1: /* random byte */
			if (n > 0)
				buf[rnd_below(n)] = (uint8_t)rnd();
			break;
		case 2: /* special byte */
			if (n > 0)
				buf[rnd_below(n)] =
				    (uint8_t)specials[rnd_below(sizeof(specials) - 1)];
			break;
		case 3: { /* delete a range */
			if (n == 0)
				break;
			size_t at = rnd_below(n), len = 1 + rnd_below(n - at < 16 ? n - at : 16);
			memmove(buf + at, buf + at + len, n - at - len);
			n -= len;
			break;
		}
		case 4: { /* insert a token */
			const char *t = tokens[rnd_below(sizeof(tokens) / sizeof(tokens[0]))];
			size_t len = strlen(t);
			if (n + len > FUZZ_MAX_LEN)
				break;
			memmove(buf + pos + len, buf + pos, n - pos);
			memcpy(buf + pos, t, len);
			n += len;
			break;
		}
		case 5: { /* duplicate a chunk */
			if (n == 0)
				break;
			size_t at = rnd_below(n), len = 1 + rnd_below(n - at < 64 ? n - at : 64);
			if (n + len > FUZZ_MAX_LEN)
				break;
			uint8_t tmp[64];
			memcpy(tmp, buf + at, len);
			memmove(buf + pos + len, buf + pos, n - pos);
			memcpy(buf + pos, tmp, len);
			n += len;
			break;
		}
		case 6: /* truncate */
			n = pos;
			break;
		case 7: { /* splice in part of another input */
			const struct input *o = &inputs[rnd_below(ninputs)];
			if (o->n == 0)
				break;
			size_t at = rnd_below(o->n), len = 1 + rnd_below(o->n - at);
			if (n + len > FUZZ_MAX_LEN)
				len = FUZZ_MAX_LEN - n;
			memmove(buf + pos + len, buf + pos, n - pos);
			memcpy(buf + pos, o->p + at, len);
			n += len;
			break;
		}
		case 8: /* set a little-endian word to an edge value */
			if (n >= 4) {
				static const uint32_t edge[] = {0,          1,          0x7f,
				                                0x80,       0xff,       0xffff,
				                                0x7fffffff, 0x80000000, 0xffffffff};
				uint32_t v = edge[rnd_below(sizeof(edge) / sizeof(edge[0]))];
				memcpy(buf + rnd_below(n - 3), &v, 4);
			}
			break;
		default: { /* repeat one byte many times: long runs, deep nesting */
			if (n == 0)
				break;
			uint8_t c = buf[rnd_below(n)];
			size_t len = 1 + rnd_below(2048);
			if (n + len > FUZZ_MAX_LEN)
				break;
			memmove(buf + pos + len, buf + pos, n - pos);
			memset(buf + pos, c, len);
			n += len;
			break;
		}
		}
	}
	return n;
}

static void save(const char *path, const uint8_t *p, size_t n)
{
	if (path == NULL)
		return;
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(p, 1, n, f);
	fclose(f);
}

/* A heap copy of exactly n bytes, so ASan sees a read one past the input. */
static void run_one(const uint8_t *p, size_t n)
{
	uint8_t *copy = must(malloc(n ? n : 1));
	memcpy(copy, p, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
}

int main(int argc, char **argv)
{
	unsigned long mutations = 2000;
	uint64_t seed = 1;
	int c;
	while ((c = getopt(argc, argv, "n:s:v")) != -1) {
		switch (c) {
		case 'n':
			mutations = strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-n mutations] [-s seed] [-v] dir-or-file...\n",
			        argv[0]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [-n mutations] [-s seed] [-v] dir-or-file...\n",
		        argv[0]);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		add_path(argv[i]);
	if (ninputs == 0) {
		fputs("driver: empty corpus\n", stderr);
		return 2;
	}
	const char *crash = getenv("FUZZ_CRASH_FILE");
	for (size_t i = 0; i < ninputs; i++) {
		if (verbose)
			fprintf(stderr, "seed %s\n", inputs[i].name);
		save(crash, inputs[i].p, inputs[i].n);
		run_one(inputs[i].p, inputs[i].n);
	}
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	uint8_t *buf = must(malloc(FUZZ_MAX_LEN));
	for (unsigned long m = 0; m < mutations; m++) {
		const struct input *in = &inputs[m % ninputs];
		memcpy(buf, in->p, in->n);
		size_t n = mutate(buf, in->n);
		/* Sometimes stack mutations so inputs drift further from the seeds. */
		while (rnd_below(4) == 0)
			n = mutate(buf, n);
		if (verbose)
			fprintf(stderr, "mutation %lu of %s (%zu bytes)\n", m, in->name, n);
		save(crash, buf, n);
		run_one(buf, n);
	}
	free(buf);
	if (crash != NULL)
		unlink(crash);
	printf("%s: %zu seeds, %lu mutations, no crash\n", argv[0], ninputs, mutations);
	for (size_t i = 0; i < ninputs; i++) {
		free(inputs[i].p);
		free(inputs[i].name);
	}
	free(inputs);
	return 0;
}
