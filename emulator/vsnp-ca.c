/*
 * vsnp-ca: create the virtual SEV-SNP CA (ARK, ASK) and per-chip VCEKs.
 * Both commands are idempotent: files already there (and matching) are kept.
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "snp.h"
#include "vsnp.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vsnp-ca init CA_DIR\n"
	           "       vsnp-ca vcek CA_DIR OUT_DIR --chip-id HEX128 --tcb HEX16\n"
	           "Creates the EMULATED (not AMD) SEV-SNP CA: CA_DIR/{ark,ask}.{pem,key}, and a\n"
	           "VCEK for one chip id and TCB: OUT_DIR/vcek.pem, vcek.key, thim.json.\n");
}

int main(int argc, char **argv)
{
	struct err e = {0};
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "init")) {
		if (vsnp_ca_ensure(argv[2], &e) < 0) {
			fprintf(stderr, "vsnp-ca: %s\n", e.msg);
			return 1;
		}
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "vcek")) {
		uint8_t chip[64];
		uint64_t tcb = 0;
		int have_chip = 0, have_tcb = 0;
		for (int i = 4; i < argc; i++) {
			if (!strcmp(argv[i], "--chip-id") && i + 1 < argc) {
				const char *s = argv[++i];
				if (strlen(s) != 128 ||
				    hex_decode_fixed(s, chip, sizeof(chip)) < 0) {
					fprintf(stderr,
					        "vsnp-ca: --chip-id: expected 128 hex digits\n");
					return 2;
				}
				have_chip = 1;
			} else if (!strcmp(argv[i], "--tcb") && i + 1 < argc) {
				if (snp_tcbm_parse(argv[++i], &tcb) < 0) {
					fprintf(stderr, "vsnp-ca: --tcb: expected 16 hex digits\n");
					return 2;
				}
				have_tcb = 1;
			} else {
				fprintf(stderr, "vsnp-ca: %s: unknown or incomplete option\n",
				        argv[i]);
				return 2;
			}
		}
		if (!have_chip || !have_tcb) {
			fprintf(stderr, "vsnp-ca: %s: required\n",
			        have_chip ? "--tcb" : "--chip-id");
			return 2;
		}
		if (vsnp_vcek_ensure(argv[2], argv[3], chip, tcb, &e) < 0) {
			fprintf(stderr, "vsnp-ca: %s\n", e.msg);
			return 1;
		}
		return 0;
	}
	usage(stderr);
	return 2;
}
