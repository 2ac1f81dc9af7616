/*
 * policycheck: a dry run of secure key release.  It gets a fresh attestation
 * token, reads the key's release policy from the vault (GET key, which needs
 * the `get` permission), verifies the token against cfg.maa and evaluates the
 * policy, without releasing anything.
 *
 * The verdict says what happened in one word (the outcome) and carries the
 * evidence: the policy, each condition's result, the first unmet condition,
 * the token's public claims.  A vault that refuses to show the policy (403)
 * is its own outcome: an identity without `get` on another company's key is
 * exactly the isolation the demo shows, not an error.
 */
#ifndef POLICYCHECK_H
#define POLICYCHECK_H

#include <json-c/json.h>

#include "config.h"
#include "err.h"

enum policycheck_outcome {
	PC_WOULD_RELEASE,    /* the token satisfies every condition */
	PC_WOULD_REFUSE,     /* a condition is not met: first_failure names it */
	PC_POLICY_HIDDEN,    /* the vault refused to show the policy to this identity */
	PC_NO_POLICY,        /* the key has no readable release policy */
	PC_TOKEN_UNVERIFIED, /* this instance's own token did not verify: nothing to evaluate */
	PC_VAULT_ERROR,      /* the vault (or the identity token) could not be had */
};

struct policycheck_result {
	enum policycheck_outcome outcome;
	struct json_object *policy; /* the release policy, when read */
	struct json_object
	    *evaluation;            /* the policy tree with each node's result, when evaluated */
	char *first_failure;        /* the first unmet condition, or the reason (one sentence) */
	struct json_object *claims; /* the token's public claims */
	int vault_status;           /* the vault's HTTP status when it refused, else 0 */
	const char *evidence_source;
	char detail[600]; /* the vault's or the verifier's own words, when any */
};

/* Fails only when no token can be had (e at the failing stage). */
int policycheck_run(const struct endpoint *akv, const char *key_name, struct policycheck_result *r,
                    struct err *e) MUST_CHECK;
void policycheck_free(struct policycheck_result *r);
/* "would_release", "would_refuse", "policy_hidden", "no_policy", "token_unverified",
 * "vault_error". */
const char *policycheck_outcome_name(enum policycheck_outcome o);
/* One plain sentence saying what the outcome means. */
const char *policycheck_explanation(enum policycheck_outcome o);

#endif
