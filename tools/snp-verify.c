/*
 * snp-verify: check an AMD SEV-SNP attestation report against its certificate chain.
 * Prints one JSON document {"report": ..., "verification": ...}; exit 0 verified,
 * 1 not verified, 2 usage or input error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "jsonx.h"
#include "snp.h"
#include "util.h"

#define MAX_INPUT (4 * 1024 * 1024)

static void usage(FILE *f)
{
	fprintf(f, "usage: snp-verify [--root PEMFILE]... [--no-amd-roots] REPORT CERTS\n"
	           "  REPORT  a raw 1184-byte SEV-SNP attestation report, or its hex\n"
	           "  CERTS   PEM chain (VCEK, ASK, ARK in any order) or THIM JSON\n"
	           "          (vcekCert + certificateChain); one of the two may be - for stdin\n"
	           "  --root PEMFILE   also trust this ARK (marked emulated if its subject says\n"
	           "                   Virtual/Emulated); may be repeated\n"
	           "  --no-amd-roots   do not trust the built-in AMD ARKs (Milan, Genoa, Turin)\n"
	           "Prints {\"report\": {...}, \"verification\": {...}} and exits 0 only if every\n"
	           "check passes, 1 if verification fails, 2 on usage or input errors.\n");
}

/* A file, or standard input for "-". */
static int slurp(const char *path, struct buf *b)
{
	return read_file(strcmp(path, "-") ? path : "/dev/stdin", MAX_INPUT, b);
}

int main(int argc, char **argv)
{
	const char *roots_files[32];
	size_t nroots = 0;
	int amd = 1;
	const char *pos[2];
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--root")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "snp-verify: --root needs a PEM file\n");
				return 2;
			}
			if (nroots == NELEM(roots_files)) {
				fprintf(stderr, "snp-verify: --root: too many roots\n");
				return 2;
			}
			roots_files[nroots++] = argv[++i];
		} else if (!strcmp(argv[i], "--no-amd-roots")) {
			amd = 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "snp-verify: %s: unknown option (see --help)\n", argv[i]);
			return 2;
		} else if (npos < 2) {
			pos[npos++] = argv[i];
		} else {
			fprintf(stderr, "snp-verify: %s: too many arguments (see --help)\n",
			        argv[i]);
			return 2;
		}
	}
	if (npos != 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(pos[0], "-") && !strcmp(pos[1], "-")) {
		fprintf(stderr, "snp-verify: only one of REPORT and CERTS can be stdin\n");
		return 2;
	}

	struct err e = {0};
	struct buf rb, cb;
	buf_init(&rb);
	buf_init(&cb);
	uint8_t raw[SNP_REPORT_SIZE];
	char *pem = NULL, *tcbm = NULL;
	struct snp_roots *roots = snp_roots_new(amd);
	int rc = 2;

	if (slurp(pos[0], &rb) < 0) {
		fprintf(stderr, "snp-verify: %s: %s\n", pos[0], strerror(errno));
		goto out;
	}
	if (slurp(pos[1], &cb) < 0) {
		fprintf(stderr, "snp-verify: %s: %s\n", pos[1], strerror(errno));
		goto out;
	}
	if (snp_report_load(rb.p, rb.len, raw, &e) < 0) {
		fprintf(stderr, "snp-verify: %s: %s\n", pos[0], e.msg);
		goto out;
	}
	struct snp_report rep;
	if (snp_report_parse(raw, sizeof(raw), &rep, &e) < 0) {
		fprintf(stderr, "snp-verify: %s: %s\n", pos[0], e.msg);
		goto out;
	}
	if (snp_chain_load((const char *)cb.p, cb.len, &pem, &tcbm, &e) < 0) {
		fprintf(stderr, "snp-verify: %s: %s\n", pos[1], e.msg);
		goto out;
	}
	for (size_t i = 0; i < nroots; i++) {
		if (snp_roots_add_file(roots, roots_files[i], 0, &e) < 0) {
			fprintf(stderr, "snp-verify: --root %s\n", e.msg);
			goto out;
		}
	}

	struct json_object *checks = NULL;
	int vrc = snp_verify(raw, pem, roots, &checks, &e);
	if (tcbm) {
		uint64_t t;
		jsonx_add_str(checks, "thim_tcbm", tcbm);
		jsonx_add_bool(checks, "thim_tcbm_matches_reported_tcb",
		               snp_tcbm_parse(tcbm, &t) == 0 && t == rep.reported_tcb);
	}
	struct json_object *doc = json_object_new_object();
	jsonx_add(doc, "report", snp_report_json(&rep));
	jsonx_add(doc, "verification", checks);
	char *s = jsonx_dump_pretty(doc);
	printf("%s\n", s);
	free(s);
	json_object_put(doc);
	if (vrc < 0)
		fprintf(stderr, "snp-verify: %s\n", e.msg);
	rc = vrc < 0 ? 1 : 0;
out:
	buf_free(&rb);
	buf_free(&cb);
	free(pem);
	free(tcbm);
	snp_roots_free(roots);
	return rc;
}
