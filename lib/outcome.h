/*
 * outcome: the one place that decides what a failure means to the caller.
 *
 * Every way a request can fail is a row of one table, keyed by the error's
 * code, its stage (which step failed) and the attestation path in use
 * (device, virtual SEV-SNP host, SKR sidecar).  A row gives the HTTP status,
 * the failure_reason (one plain sentence: what happened, what it means) and
 * the diagnosis {likely_cause, solution, command, explanation}; the most
 * specific row wins (exact path, then any path; exact stage, then any stage;
 * then the code's default).  Handlers never choose a status or write a
 * diagnosis: they hand a struct err to http_send_err(), which asks this
 * module.  README.md's error section is this table (a unit test compares).
 *
 * The error envelope, added to {"status":"error","message":...}:
 *   error_code, stage, failure_reason, diagnosis{likely_cause, solution,
 *   command, explanation, detail}, upstream{status, code, request_id} when a
 *   remote service answered; for failures on the attestation and key release
 *   path also note, maa_endpoint, attestation_backend, logs (the service log
 *   tails and the SEV device status, as the original page shows them), and
 *   sidecar_status_code/sidecar_response when the SKR sidecar answered.
 * Upstream bodies are never pasted: only their summary.
 */
#ifndef OUTCOME_H
#define OUTCOME_H

#include <json-c/json.h>

#include "err.h"

enum outcome_path {
	PATH_ANY = 0,
	PATH_DEVICE,  /* native attestation with /dev/sev-guest or /dev/sev (or none found) */
	PATH_VIRTUAL, /* native attestation with the local virtual SEV-SNP host */
	PATH_SIDECAR, /* Microsoft's SKR sidecar */
};

struct outcome_rule {
	enum err_code code;     /* ERR_NONE: any code (a stage's catch-all) */
	enum err_stage stage;   /* STAGE_NONE: any stage (the code's default) */
	enum outcome_path path; /* PATH_ANY: any path */
	int status;             /* HTTP status */
	int chain;              /* 1: a step of attestation or key release: add logs and context */
	const char *failure_reason;
	const char *likely_cause;
	const char *solution;
	const char *command;     /* may be NULL; {maa} {akv} {key} {log_dir} are filled in */
	const char *explanation; /* why it matters; may be NULL */
};

/* The rule that decides e (never NULL: every code has a default). */
const struct outcome_rule *outcome_rule(const struct err *e);
/* The HTTP status for e. */
int outcome_status(const struct err *e);
/* The envelope members above for e, as a new object (caller owns). */
struct json_object *outcome_envelope(const struct err *e);
/* The path attestation takes in this configuration right now. */
enum outcome_path outcome_path_now(void);

/* Every row of the table (n of them), in the order README.md lists them. */
const struct outcome_rule *outcome_rules(size_t *n);
/* The table as a Markdown table, for README.md (caller frees). */
char *outcome_markdown(void);

#endif
