/*
 * custody: the released key, shared by every FastCGI process of one instance.
 *
 * The private key lives in one file, cfg.state_dir/released-key, as PKCS#8
 * DER, mode 0600 in a directory owned by us that nobody else may write
 * (created 0700 when missing); its public facts (name, kid, kty, size,
 * thumbprint, key_ops, enc, release_policy: the key's, not one release's
 * claims or timing) sit beside it in released-key.json.  Both
 * are replaced atomically (temp file + rename), so any process sees either
 * the old or the new key, and they survive a program restart for the life
 * of the instance's state directory.  A reader refuses a symlink, a file
 * owned by someone else or one that group or other may access.
 *
 * Each process holds one decoded copy of the key (and of the facts) after
 * its first use, so a request does not read, decode and fingerprint the key
 * again.  Every use still lstats both names and applies every refusal above;
 * when a file is another version than the copy (device, inode, size, mtime
 * or ctime differ: a rename-replace always changes the inode, a write in
 * place the ctime) the copy is reloaded, so a key replaced by any process is
 * used by every process from its next request on.  The copy it replaces,
 * the copy of a file that went missing or is refused, and the copy at exit
 * (atexit) are wiped: EVP_PKEY_free of the last reference clears the private
 * numbers, and every DER buffer is wiped once decoded.  The copy is never
 * logged.  The facts hold public values only and may be shown to anyone.
 */
#ifndef CUSTODY_H
#define CUSTODY_H

#include <json-c/json.h>
#include <openssl/evp.h>

#include "err.h"

#define CUSTODY_KEY_FILE   "released-key"
#define CUSTODY_FACTS_FILE "released-key.json"
#define CUSTODY_NONE_MSG   "No key released: POST /skr/release first"

/* Replace the held key and its facts (facts is not taken; "thumbprint" is set from key;
 * claims, timing, wrapping_kid, evidence_source and backend are not kept).  Another key
 * replaces the key file and this process's copy is wiped; the key already held, released
 * again, writes nothing unless its facts changed. */
int custody_store(EVP_PKEY *key, struct json_object *facts, struct err *e) MUST_CHECK;
/* The held key (a reference to the process's copy: caller EVP_PKEY_free) and, when facts
 * is non-NULL, its facts (a reference, READ-ONLY: it is shared with the copy; caller puts).
 * ERR_NOT_FOUND with CUSTODY_NONE_MSG when no key is held; ERR_INTERNAL for unsafe files. */
int custody_load(EVP_PKEY **key, struct json_object **facts, struct err *e) MUST_CHECK;
/* The facts only (read-only reference, caller puts), without touching the private key
 * file; same errors. */
int custody_facts(struct json_object **facts, struct err *e) MUST_CHECK;
/* Overwrite both files with zeros and remove them; nothing held afterwards. */
void custody_clear(void);
/* Wipe this process's copies (the files stay): what exit does. */
void custody_forget(void);

/* What this process did with its copy, for tests and diagnosis. */
struct custody_stats {
	unsigned long key_loads;   /* times the key file was read and decoded */
	unsigned long facts_loads; /* times the facts file was read and parsed */
	unsigned long key_wipes;   /* copies of the key wiped (replaced, dropped, at exit) */
	int held;                  /* a copy of the key is held now */
};
void custody_get_stats(struct custody_stats *out);

#endif
