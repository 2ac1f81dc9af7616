#include "policycheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "keyrelease.h"
#include "kvclient.h"
#include "policy.h"
#include "token.h"

const char *policycheck_outcome_name(enum policycheck_outcome o)
{
	static const char *const names[] = {
	    [PC_WOULD_RELEASE] = "would_release",       [PC_WOULD_REFUSE] = "would_refuse",
	    [PC_POLICY_HIDDEN] = "policy_hidden",       [PC_NO_POLICY] = "no_policy",
	    [PC_TOKEN_UNVERIFIED] = "token_unverified", [PC_VAULT_ERROR] = "vault_error",
	};
	return (unsigned)o < NELEM(names) ? names[o] : "vault_error";
}

const char *policycheck_explanation(enum policycheck_outcome o)
{
	switch (o) {
	case PC_WOULD_RELEASE:
		return "This instance's attestation token satisfies every condition of the key's "
		       "release policy: the vault would release the key to it.";
	case PC_WOULD_REFUSE:
		return "This instance's attestation token does not satisfy the key's release "
		       "policy: "
		       "the vault would refuse the release (first_failure names the condition).";
	case PC_POLICY_HIDDEN:
		return "The vault refuses to show this key's release policy to this instance's "
		       "identity, which holds no `get` permission on it. That is the isolation "
		       "between companies working: the key is not this company's to read, let "
		       "alone release.";
	case PC_NO_POLICY:
		return "The key has no release policy that can be read or evaluated.";
	case PC_TOKEN_UNVERIFIED:
		return "This instance's own attestation token did not verify, so the policy was "
		       "not "
		       "evaluated.";
	case PC_VAULT_ERROR:
		break;
	}
	return "The vault (or the identity endpoint) could not be asked for the key's release "
	       "policy; detail says why.";
}

/* The key's release policy, or the outcome that says why there is none. */
static struct json_object *read_policy(const struct endpoint *akv, const char *key_name,
                                       struct policycheck_result *r)
{
	char *auth = NULL;
	double ms;
	struct json_object *bundle = NULL, *policy = NULL;
	struct err ge;
	err_clear(&ge);
	if (kv_bearer(akv, &auth, &ms, &ge) == 0 &&
	    kv_get_key(akv, key_name, auth, &bundle, &ge) == 0)
		policy = kv_bundle_policy(bundle);
	free_secret_str(auth);
	json_object_put(bundle);
	if (policy)
		return policy;
	r->vault_status = ge.upstream_status;
	r->outcome = ge.code == ERR_NONE                                    ? PC_NO_POLICY
	             : ge.stage == STAGE_VAULT && ge.upstream_status == 403 ? PC_POLICY_HIDDEN
	                                                                    : PC_VAULT_ERROR;
	snprintf(r->detail, sizeof(r->detail), "%s",
	         ge.code == ERR_NONE ? "the key has no readable release policy" : ge.msg);
	return NULL;
}

int policycheck_run(const struct endpoint *akv, const char *key_name, struct policycheck_result *r,
                    struct err *e)
{
	memset(r, 0, sizeof(*r));
	if (!akv || !akv->set || !key_name || !*key_name) {
		err_set(e, ERR_CONFIG, "no key vault or key name is configured");
		return err_in(e, STAGE_CONFIG);
	}
	EVP_PKEY *wrap = NULL;
	char *jwt = NULL;
	double ms = 0;
	if (keyrelease_fresh_token(&wrap, &jwt, &r->evidence_source, &ms, e) < 0)
		return err_wrap(e, "attestation for the policy check");
	EVP_PKEY_free(wrap);
	struct json_object *claims = NULL;
	struct err ve;
	err_clear(&ve);
	int verified = token_verify(jwt, &cfg.maa, &claims, &ve) == 0;
	r->policy = read_policy(akv, key_name, r);
	r->claims = keyrelease_token_claims(jwt, r->policy);
	if (r->policy && !verified) {
		r->outcome = PC_TOKEN_UNVERIFIED;
		snprintf(r->detail, sizeof(r->detail), "%s", ve.msg);
	} else if (r->policy) {
		struct err pe;
		err_clear(&pe);
		int ev = policy_validate(r->policy, &pe) < 0
		             ? -1
		             : policy_evaluate(r->policy, jsonx_str(claims, "iss"), claims,
		                               &r->evaluation, &r->first_failure, &pe);
		r->outcome = ev == 1 ? PC_WOULD_RELEASE : ev == 0 ? PC_WOULD_REFUSE : PC_NO_POLICY;
		if (ev < 0)
			snprintf(r->detail, sizeof(r->detail), "%s", pe.msg);
	}
	if (!r->first_failure && r->outcome != PC_WOULD_RELEASE)
		r->first_failure = xstrdup(r->detail);
	json_object_put(claims);
	free(jwt);
	return 0;
}

void policycheck_free(struct policycheck_result *r)
{
	json_object_put(r->policy);
	json_object_put(r->evaluation);
	json_object_put(r->claims);
	free(r->first_failure);
	memset(r, 0, sizeof(*r));
}
