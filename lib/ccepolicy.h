/*
 * ccepolicy: the host_data a confidential container group launches with,
 * computed from its confidential computing (CCE) policy the way Azure
 * computes it (PROTOCOLS.md §2.3): host_data = SHA-256 of the decoded policy
 * text, i.e. of the Rego bytes that base64-decode from the ARM template's
 * ccePolicy.  MAA reports it as x-ms-sevsnpvm-hostdata.
 *
 * Three forms of input are recognised, and the caller is told which one was
 * read (a relying party must know what it pinned):
 *
 *   ARM JSON   an ARM template or parameters file: the one ccePolicy member
 *              anywhere in it (a string, or a parameter's {"value": string}),
 *              as `az confcom acipolicygen` writes it; an empty value or an
 *              ARM expression ("[parameters('...')]") is refused with the fix
 *   base64     a file holding only the base64 policy (acipolicygen
 *              --print-policy output); surrounding whitespace is ignored
 *   Rego       raw policy text (the local demo's emulator/policies/<company>.rego):
 *              the file's bytes exactly as read are hashed
 *
 * Nothing here is secret; every output is owned by the caller.
 */
#ifndef CCEPOLICY_H
#define CCEPOLICY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Largest policy file read, in bytes (real policies are tens of KiB). */
#define CCEPOLICY_MAX_FILE (8 * 1024 * 1024)

enum ccepolicy_form { CCEPOLICY_ARM_JSON, CCEPOLICY_BASE64, CCEPOLICY_REGO };

struct ccepolicy {
	enum ccepolicy_form form;
	uint8_t host_data[32]; /* SHA-256 of the decoded policy text */
	char host_data_hex[65];
	size_t policy_len; /* bytes of decoded policy text that were hashed */
	char *where;       /* ARM JSON: JSON path of the ccePolicy member; else NULL */
};

/*
 * Compute host_data from the n bytes of text in one of the three forms above.
 * ERR_BAD_REQUEST with a message naming the problem and the fix when the text
 * holds no usable policy.  On success the caller frees with ccepolicy_free.
 */
int ccepolicy_from_text(const char *text, size_t n, struct ccepolicy *out,
                        struct err *e) MUST_CHECK;
/* The same for a file (at most CCEPOLICY_MAX_FILE bytes); messages name path. */
int ccepolicy_from_file(const char *path, struct ccepolicy *out, struct err *e) MUST_CHECK;
void ccepolicy_free(struct ccepolicy *p);
/* "ARM template/parameters JSON", "base64 policy", "raw Rego text" */
const char *ccepolicy_form_name(enum ccepolicy_form f);

#endif
