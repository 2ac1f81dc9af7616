/*
 * policy: the Key Vault secure-key-release policy grammar (PROTOCOLS.md §5.4),
 * parsed strictly and evaluated against the claims of a verified attestation token.
 *
 * Grammar (every object rejects members it does not name, so a typo such as
 * "allof" or "eq" is an error, never a silently ignored condition):
 *   policy    = {"version":"1.0.0"|"1.0", ("anyOf"|"allOf"):[authority, ...]}
 *   authority = {"authority":"<URL>", ("anyOf"|"allOf"):[node, ...]}
 *   node      = {"claim":"<name>", <op>:<value>}      exactly one operator
 *             | {("anyOf"|"allOf"):[node, ...]}
 *   op        = equals notEquals less lessOrEquals greater greaterOrEquals exists
 *   value     = string | number | true | false        (exists: true|false or "true"|"false")
 * Arrays must be non-empty (an empty allOf would hold vacuously); anyOf/allOf
 * nest at most POLICY_MAX_DEPTH levels counting the top-level array.
 *
 * Evaluation semantics (Microsoft leaves them unspecified; these are ours):
 *   - Authority: the token issuer must equal the authority after normalising both
 *     (scheme and host lowercased, default port and trailing slashes dropped, a
 *     bare host taken as https://).  Conditions under a non-matching authority are
 *     still evaluated for the report, but that authority is unsatisfied.
 *   - Claim names: the exact top-level member first; failing that, a '.'-separated
 *     path into nested objects ("x-ms-isolation-tee.x-ms-attestation-type").
 *   - equals / notEquals: two numbers compare numerically; otherwise both sides are
 *     written as JSON scalars (true -> "true", 0 -> "0", strings as they are) and
 *     compared as byte strings, case-sensitively.  A claim that is an object, an
 *     array or null is a type mismatch (unsatisfied, also for notEquals).
 *   - less, lessOrEquals, greater, greaterOrEquals: both sides must be numbers or
 *     strict decimal strings ("-12", "3.5", "1e3"); anything else is unsatisfied
 *     with reason "type mismatch".
 *   - A missing claim fails every operator, notEquals included: a condition on a
 *     claim the token does not carry is never satisfied by its absence.  Only
 *     {"exists":false} is satisfied by absence; {"exists":true} requires presence.
 *
 * Ownership: the caller owns every json_object and string these functions return.
 */
#ifndef POLICY_H
#define POLICY_H

#include <json-c/json.h>

#include "err.h"

#define POLICY_MAX_DEPTH 8
#define POLICY_MAX_BYTES (64 * 1024)

/* Parse and validate a policy document.  Malformed: ERR_BAD_REQUEST whose
 * message starts with the JSON path ("anyOf[0].allOf[2]: unknown operator 'eq'"). */
int policy_parse(const char *text, size_t len, struct json_object **policy,
                 struct err *e) MUST_CHECK;

/* Validate an already parsed policy (same checks and messages as policy_parse). */
int policy_validate(struct json_object *policy, struct err *e) MUST_CHECK;

/*
 * Evaluate policy for a token from issuer with claims.  Returns 1 satisfied, 0 not
 * satisfied, -1 malformed policy (e set).  On 0 and 1, *report (if report != NULL)
 * mirrors the policy tree with each node's result; on 0, *first_failure (if not
 * NULL) is one sentence naming the first unmet condition; on 1 it is NULL.
 */
int policy_evaluate(struct json_object *policy, const char *issuer, struct json_object *claims,
                    struct json_object **report, char **first_failure, struct err *e) MUST_CHECK;

/* Append the name of every "claim" of the policy tree to names (a JSON array of strings),
 * skipping names already there. */
void policy_claim_names(struct json_object *policy, struct json_object *names);

/* Normalised form of an authority or issuer URL (see above); caller frees. */
char *policy_normalise_authority(const char *url);

#endif
