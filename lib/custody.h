/*
 * custody: the released key, shared by every FastCGI process of one instance.
 *
 * The private key lives in one file, cfg.state_dir/released-key, as PKCS#8
 * DER, mode 0600 in a directory owned by us that nobody else may write
 * (created 0700 when missing); its public facts (name, kid, kty, size,
 * thumbprint, key_ops, claims...) sit beside it in released-key.json.  Both
 * are replaced atomically (temp file + rename), so any process sees either
 * the old or the new key, and they survive a program restart for the life
 * of the instance's state directory.  A reader refuses a symlink, a file
 * owned by someone else or one that group or other may access.
 *
 * Nothing is cached in memory: each use loads the key and the caller frees
 * it (EVP_PKEY_free clears the private numbers); every DER buffer is wiped.
 * The facts hold public values only and may be shown to anyone.
 */
#ifndef CUSTODY_H
#define CUSTODY_H

#include <json-c/json.h>
#include <openssl/evp.h>

#include "err.h"

#define CUSTODY_KEY_FILE   "released-key"
#define CUSTODY_FACTS_FILE "released-key.json"
#define CUSTODY_NONE_MSG   "No key released: POST /skr/release first"

/* Replace the held key and its facts (facts is not taken; "thumbprint" is set from key). */
int custody_store(EVP_PKEY *key, struct json_object *facts, struct err *e) MUST_CHECK;
/* The held key (caller EVP_PKEY_free) and, when facts is non-NULL, its facts (caller puts).
 * ERR_NOT_FOUND with CUSTODY_NONE_MSG when no key is held; ERR_INTERNAL for unsafe files. */
int custody_load(EVP_PKEY **key, struct json_object **facts, struct err *e) MUST_CHECK;
/* The facts only, without touching the private key file; same errors. */
int custody_facts(struct json_object **facts, struct err *e) MUST_CHECK;
/* Overwrite both files with zeros and remove them; nothing held afterwards. */
void custody_clear(void);

#endif
