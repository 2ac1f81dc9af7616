/*
 * keytool: test helper for tests/company/run.sh.  Puts a fresh RSA key in
 * custody (as /skr/release would) and decrypts record fields with it, so the
 * company program can be checked as plain CGI without the key-release stack.
 *
 *   STATE_DIR=dir keytool store [bits]     hold a new key in dir
 *   STATE_DIR=dir keytool decrypt TEXT     print the plaintext of TEXT
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "custody.h"
#include "jsonx.h"

int main(int argc, char **argv)
{
	struct err e;
	err_clear(&e);
	config_init();
	if (argc >= 2 && !strcmp(argv[1], "store")) {
		unsigned long bits = 2048;
		if (argc > 2 && parse_ulong(argv[2], 1024, 8192, &bits) < 0)
			return 2;
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		if (!k)
			return 1;
		struct json_object *facts = json_object_new_object();
		jsonx_add_str(facts, "key_name", "test-secret-key");
		int rc = custody_store(k, facts, &e);
		json_object_put(facts);
		EVP_PKEY_free(k);
		if (rc < 0) {
			fprintf(stderr, "store: %s\n", e.msg);
			return 1;
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "decrypt")) {
		EVP_PKEY *k = NULL;
		uint8_t *pt = NULL;
		size_t n = 0;
		const char *alg;
		if (custody_load(&k, NULL, &e) < 0 ||
		    crypto_decrypt(k, argv[2], &pt, &n, &alg, &e) < 0) {
			fprintf(stderr, "decrypt: %s\n", e.msg);
			EVP_PKEY_free(k);
			return 1;
		}
		fwrite(pt, 1, n, stdout);
		putchar('\n');
		wipe(pt, n);
		free(pt);
		EVP_PKEY_free(k);
		return 0;
	}
	fprintf(stderr, "usage: keytool store [bits] | keytool decrypt TEXT\n");
	return 2;
}
