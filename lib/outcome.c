#include "outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "config.h"
#include "evidence.h"
#include "jsonx.h"

#define SKU_CMD "az container show -g <rg> -n <name> --query sku"

/*
 * Defaults per code first, then the stage rows.  Order does not matter: the
 * lookup scores every row by how specifically it matches.
 */
static const struct outcome_rule rules[] = {
    /* ---- the code's default, whatever the stage ---- */
    {ERR_BAD_REQUEST, STAGE_NONE, PATH_ANY, 400, 0, "The request is not valid",
     "A field or the body of the request is malformed.",
     "Read the message: it names the field and what is wrong with it.", NULL, NULL},
    {ERR_UNAUTHORIZED, STAGE_NONE, PATH_ANY, 401, 0, "A credential was not accepted",
     "A token or credential was refused.", "Read the message: it names what refused it.", NULL,
     NULL},
    {ERR_FORBIDDEN, STAGE_NONE, PATH_ANY, 403, 0, "The request was refused by policy",
     "A policy does not allow this.", "Read the message: it names the policy.", NULL, NULL},
    {ERR_NOT_FOUND, STAGE_NONE, PATH_ANY, 404, 0, "No such endpoint or object",
     "The path or the named object does not exist.", "Check the path and the name.", NULL, NULL},
    {ERR_METHOD, STAGE_NONE, PATH_ANY, 405, 0, "This method is not allowed here",
     "The endpoint exists but takes another HTTP method.",
     "Use the method named in the Allow header.", NULL, NULL},
    {ERR_CONFLICT, STAGE_NONE, PATH_ANY, 409, 0, "The data changed while the request ran",
     "Another writer changed the same data at the same moment.", "Retry the request.", NULL, NULL},
    {ERR_PRECONDITION, STAGE_NONE, PATH_ANY, 412, 0, "A conditional write lost a race",
     "The object changed since it was read.", "Read it again and retry.", NULL, NULL},
    {ERR_TOO_LARGE, STAGE_NONE, PATH_ANY, 413, 0, "The request is too large",
     "A body or value is over its limit; the message states the limit.",
     "Send less (MAX_BODY_BYTES sets the body limit).", NULL, NULL},
    {ERR_UNSUPPORTED, STAGE_NONE, PATH_ANY, 415, 0, "This type of data is not supported",
     "The data has a type or format this program does not handle.",
     "Read the message: it names the type.", NULL, NULL},
    {ERR_UNPROCESSABLE, STAGE_NONE, PATH_ANY, 422, 0, "The data is well-formed but fails a check",
     "A value passed the syntax checks but not a semantic one.",
     "Read the message: it names the check.", NULL, NULL},
    {ERR_VERIFY, STAGE_NONE, PATH_ANY, 422, 0, "Verification failed",
     "A signature, certificate chain or binding did not verify.",
     "Read the message: it names the check that failed.", NULL, NULL},
    {ERR_INTERNAL, STAGE_NONE, PATH_ANY, 500, 0, "Internal error in this instance",
     "A bug or broken local state (files, permissions) in this instance.",
     "See the service logs; the message names the file or step.", "tail -n 100 {log_dir}/app.log",
     NULL},
    {ERR_CONFIG, STAGE_NONE, PATH_ANY, 500, 0, "This instance is not configured for this request",
     "A setting this endpoint needs is missing or wrong; the message names the variable.",
     "Set the variable in the container's environment (ARM template or server configuration) "
     "and restart the programs.",
     "env | grep -E 'SKR_|COMPANY_|OTHER_|BLOB_|AZURE_|STORAGE_|STATE_DIR'", NULL},
    {ERR_UPSTREAM, STAGE_NONE, PATH_ANY, 502, 0, "A service answered something unusable",
     "A remote service sent an answer this program cannot use.",
     "Read the message and the upstream summary; retry later.", NULL, NULL},
    {ERR_UNAVAILABLE, STAGE_NONE, PATH_ANY, 503, 0, "A required service is not reachable",
     "A service or device this request needs is not there.",
     "Read the message: it names the service; check that it runs and is reachable.", NULL, NULL},
    {ERR_TIMEOUT, STAGE_NONE, PATH_ANY, 504, 0, "A required service did not answer in time",
     "A service this request needs did not answer within HTTP_TIMEOUT_SECONDS.",
     "Check the service named in the message and retry.", NULL, NULL},

    /* ---- the request ---- */
    {ERR_CONFLICT, STAGE_CUSTODY, PATH_ANY, 409, 0, "The released key is being replaced",
     "Another request stored a new key at this moment.", "Retry the request.", NULL, NULL},
    {ERR_NOT_FOUND, STAGE_CUSTODY, PATH_ANY, 400, 0, "No key has been released to this instance",
     "Encryption needs the company key, and this instance holds none yet.",
     "Press \"Test Secure Key Release\" (POST /skr/release); the key is released only to an "
     "instance whose attestation satisfies the key's release policy.",
     "curl -s -X POST -d '' http://<instance>/skr/release", NULL},
    {ERR_INTERNAL, STAGE_CUSTODY, PATH_ANY, 500, 0, "The held key's files are unsafe or unreadable",
     "STATE_DIR or a key file there has the wrong owner, mode or type.",
     "STATE_DIR must be a private directory (0700) of the programs' user; the message names "
     "the file.",
     "ls -la $STATE_DIR", NULL},

    /* ---- TEE evidence ---- */
    {ERR_UNAVAILABLE, STAGE_EVIDENCE, PATH_ANY, 503, 1,
     "No AMD SEV-SNP hardware: this container is not running in a TEE",
     "No SEV-SNP device (/dev/sev-guest, /dev/sev) and no SKR sidecar: this container runs on "
     "standard hardware.",
     "Deploy with the Confidential SKU (sku: Confidential); on standard hardware attestation "
     "cannot succeed, which is what a standard instance demonstrates.",
     SKU_CMD,
     "A key is released, and data decrypted, only inside a container that proves with AMD "
     "SEV-SNP attestation that it runs in a TEE."},
    {ERR_UNAVAILABLE, STAGE_EVIDENCE, PATH_VIRTUAL, 503, 1,
     "The virtual SEV-SNP host is not running",
     "This instance is set up for the local virtual SEV-SNP host, but its socket does not answer.",
     "make run starts emulator/vsnp-host for each company; restart the demo or see its log.",
     "pgrep -a vsnp-host", NULL},
    {ERR_TIMEOUT, STAGE_EVIDENCE, PATH_ANY, 504, 1, "The TEE did not produce a report in time",
     "The SEV-SNP firmware or the virtual host did not answer.",
     "Retry; if it persists, restart "
     "the container.",
     NULL, NULL},
    {ERR_UPSTREAM, STAGE_EVIDENCE, PATH_ANY, 502, 1,
     "The SEV-SNP firmware refused or garbled the report request",
     "The report ioctl or the PSP failed; the message has the firmware status.",
     "Retry; if it persists, the guest kernel's SEV-SNP driver or the firmware is at fault.",
     "dmesg | grep -i sev", NULL},

    /* ---- the VCEK chain ---- */
    {ERR_NONE, STAGE_CERTS, PATH_ANY, 503, 1,
     "The VCEK certificate chain for this chip could not be obtained",
     "Neither UVM_HOST_AMD_CERTIFICATE, a /security-context-* directory nor THIM at "
     "IMDS_ENDPOINT gave the certificates.",
     "On Azure the platform provides them; check IMDS_ENDPOINT and the security context.",
     "curl -s -H Metadata:true http://169.254.169.254/metadata/THIM/amd/certification", NULL},

    /* ---- the SKR sidecar ---- */
    {ERR_UNAVAILABLE, STAGE_SIDECAR, PATH_ANY, 503, 1, "The SKR sidecar is not reachable",
     "ATTESTATION_BACKEND selects the SKR sidecar, but nothing listens at SKR_SIDECAR_URL.",
     "In the container supervisord starts /usr/local/bin/skr; check skr_error.log, or use "
     "ATTESTATION_BACKEND=native.",
     "tail -n 50 {log_dir}/skr_error.log", NULL},
    {ERR_TIMEOUT, STAGE_SIDECAR, PATH_ANY, 504, 1, "The SKR sidecar did not answer in time",
     "The sidecar accepted the request but did not answer within HTTP_TIMEOUT_SECONDS.",
     "Check skr.log; the sidecar may be waiting for the attestation service or the vault.",
     "tail -n 50 {log_dir}/skr.log", NULL},
    {ERR_FORBIDDEN, STAGE_SIDECAR, PATH_ANY, 403, 1, "The SKR sidecar's attestation failed",
     "The sidecar could not get a token (no SEV-SNP hardware, or the attestation service "
     "rejected the evidence) or the vault refused the release; its message says which.",
     "Read sidecar_response; run snp-verify on a raw report to see which check fails.",
     "snp-verify report.hex thim.json", NULL},
    {ERR_NONE, STAGE_SIDECAR, PATH_ANY, 502, 1, "The SKR sidecar answered something unusable",
     "The sidecar's answer did not have the documented shape.",
     "Check the sidecar version (the image pins mcr.microsoft.com/aci/skr) and skr_error.log.",
     "tail -n 50 {log_dir}/skr_error.log", NULL},

    /* ---- the attestation service ---- */
    {ERR_UNAVAILABLE, STAGE_ATTESTATION, PATH_ANY, 503, 1,
     "The attestation service is not reachable",
     "The attestation service named by SKR_MAA_ENDPOINT ({maa}) did not accept a connection.",
     "Check SKR_MAA_ENDPOINT and network egress to it; locally, make run starts the stand-in.",
     "curl -s {maa}/.well-known/openid-configuration", NULL},
    {ERR_TIMEOUT, STAGE_ATTESTATION, PATH_ANY, 504, 1,
     "The attestation service did not answer in time",
     "The attestation service at SKR_MAA_ENDPOINT ({maa}) did not answer within "
     "HTTP_TIMEOUT_SECONDS.",
     "Retry; check the service's health and network egress to it.",
     "curl -s -m 10 {maa}/.well-known/openid-configuration", NULL},
    {ERR_VERIFY, STAGE_ATTESTATION, PATH_ANY, 403, 1,
     "The attestation service rejected the evidence",
     "The report's signature, its certificate chain, its TCB or the report_data binding did not "
     "verify at the attestation service.",
     "Check that the VCEK chain (THIM) matches the report's TCB; run snp-verify on the raw "
     "report to see which check fails.",
     "snp-verify report.hex thim.json", NULL},
    {ERR_FORBIDDEN, STAGE_ATTESTATION, PATH_ANY, 403, 1,
     "The attestation service refused the request",
     "The attestation service at SKR_MAA_ENDPOINT refused the call (HTTP 401/403).",
     "Check that SKR_MAA_ENDPOINT names an attestation provider that accepts anonymous "
     "SEV-SNP attestation.",
     "curl -s {maa}/.well-known/openid-configuration", NULL},
    {ERR_UPSTREAM, STAGE_ATTESTATION, PATH_ANY, 502, 1,
     "The attestation service answered something unusable",
     "The attestation service answered with an error status or a body without a token.",
     "Read the upstream summary (status, code, request id); retry later.",
     "curl -s {maa}/.well-known/openid-configuration", NULL},

    /* ---- verifying the token ---- */
    {ERR_NONE, STAGE_TOKEN, PATH_ANY, 502, 1, "The attestation token could not be verified",
     "The token's signature, issuer or dates did not check against the keys of SKR_MAA_ENDPOINT, "
     "or those keys could not be fetched.",
     "Read the message; the keys come only from {maa}/certs, never from the token.",
     "curl -s {maa}/certs", NULL},

    {ERR_TIMEOUT, STAGE_TOKEN, PATH_ANY, 504, 1,
     "The attestation service's signing keys did not arrive in time",
     "Fetching {maa}/certs to verify the token took longer than HTTP_TIMEOUT_SECONDS.",
     "Retry; check the service's health and network egress to it.", "curl -s -m 10 {maa}/certs",
     NULL},

    /* ---- the managed identity ---- */
    {ERR_NONE, STAGE_IDENTITY, PATH_ANY, 503, 1, "The managed identity token could not be obtained",
     "The identity endpoint (IMDS) was not reachable or gave no token.",
     "Check IMDS_ENDPOINT; on Azure the container group needs a managed identity.",
     "az container show -g <rg> -n <name> --query identity",
     "Key Vault needs an access token of an identity holding the `release` key permission, in "
     "addition to the attestation token."},
    {ERR_UNAUTHORIZED, STAGE_IDENTITY, PATH_ANY, 401, 1,
     "This instance has no usable managed identity",
     "The identity endpoint (IMDS) refused: no identity is assigned, or AZURE_CLIENT_ID names "
     "another one.",
     "Assign the user-assigned identity to the container group (identityResourceId) and set "
     "AZURE_CLIENT_ID if there is more than one.",
     "az container show -g <rg> -n <name> --query identity",
     "Key Vault needs an access token of an identity holding the `release` key permission, in "
     "addition to the attestation token."},

    {ERR_TIMEOUT, STAGE_IDENTITY, PATH_ANY, 504, 1,
     "The managed identity endpoint did not answer in time",
     "The identity endpoint (IMDS_ENDPOINT) did not answer within HTTP_TIMEOUT_SECONDS.",
     "Retry; on Azure IMDS answers within a second, so check the container group's network.",
     "curl -s -m 10 -H Metadata:true "
     "'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
     "&resource=https://vault.azure.net'",
     NULL},

    /* ---- the key vault ---- */
    {ERR_FORBIDDEN, STAGE_VAULT, PATH_ANY, 403, 1,
     "The key vault refused the release: its access policy or the key's release policy is not "
     "satisfied",
     "The vault refused the release; its message names the unmet condition.",
     "If the message names a policy claim, this container's TEE measurement differs from what "
     "the policy pins (expected for another company or a non-confidential container); if it "
     "names permissions, grant `get release` to the identity.",
     "az keyvault key show --vault-name <vault> --name {key} --query release_policy",
     "A release needs both: the caller's identity holds `release` on the key (access policy), "
     "and the attestation token satisfies every condition of the key's release policy "
     "(authority, attestation type, host data, debuggability...)."},
    {ERR_UNAUTHORIZED, STAGE_VAULT, PATH_ANY, 401, 1,
     "The key vault did not accept the identity or attestation token",
     "The vault rejected the bearer token or the attestation token (signature, issuer or "
     "validity).",
     "Check the identity, and that SKR_MAA_ENDPOINT is the authority the release policy names.",
     "az keyvault show --name <vault> --query properties.accessPolicies",
     "The identity token must be for the vault's resource and the attestation token must come "
     "from an authority the vault trusts."},
    {ERR_NOT_FOUND, STAGE_VAULT, PATH_ANY, 404, 1, "The key does not exist in the key vault",
     "The key named by SKR_KEY_NAME ({key}) does not exist in SKR_AKV_ENDPOINT ({akv}).",
     "Create the key, or correct SKR_KEY_NAME / SKR_AKV_ENDPOINT.",
     "az keyvault key list --vault-name <vault>",
     "Keys are created exportable with a release policy at deployment."},
    {ERR_UNAVAILABLE, STAGE_VAULT, PATH_ANY, 503, 1, "The key vault is not reachable",
     "The vault named by SKR_AKV_ENDPOINT ({akv}) did not accept a connection or is busy.",
     "Check SKR_AKV_ENDPOINT and network egress to the vault, and retry.",
     "curl -s -o /dev/null -w '%{http_code}' {akv}/", NULL},
    {ERR_TIMEOUT, STAGE_VAULT, PATH_ANY, 504, 1, "The key vault did not answer in time",
     "The vault named by SKR_AKV_ENDPOINT ({akv}) did not answer within HTTP_TIMEOUT_SECONDS.",
     "Retry; check network egress to the vault.", "curl -s -o /dev/null -w '%{http_code}' {akv}/",
     NULL},
    {ERR_UPSTREAM, STAGE_VAULT, PATH_ANY, 502, 1, "The key vault answered something unusable",
     "The vault's answer had an unexpected status or shape.",
     "Read the upstream summary (status, code, request id); make sure SKR_AKV_ENDPOINT is a "
     "Key Vault or Managed HSM.",
     "curl -s -o /dev/null -w '%{http_code}' {akv}/", NULL},
    {ERR_NONE, STAGE_RELEASE_PROOF, PATH_ANY, 502, 1,
     "The key vault's signed release answer failed verification",
     "The release answer was not signed by the vault's certificate, or names another vault's key.",
     "Make sure SKR_AKV_ENDPOINT points at the real vault (locally, AKV_TRUST_CERT names the "
     "stand-in's certificate).",
     "curl -sv {akv}/healthstatus",
     "The answer must be signed by the vault's certificate (Azure roots and the vault's host "
     "name) and unwrap with this release's ephemeral key."},
    {ERR_NONE, STAGE_UNWRAP, PATH_ANY, 502, 1, "The released key could not be unwrapped",
     "The wrapped key in the vault's answer did not unwrap with this release's ephemeral key, "
     "or is not an RSA key.",
     "Make sure the key is an exportable RSA-HSM key; retry the release.",
     "az keyvault key show --vault-name <vault> --name {key} --query key.kty", NULL},

    /* ---- using the key ---- */
    {ERR_BAD_REQUEST, STAGE_CRYPTO, PATH_ANY, 400, 0,
     "The ciphertext was not produced with this key or was modified",
     "Only the company whose key encrypted a value can decrypt it; any changed byte fails too.",
     "Decrypt with the instance of the company that wrote the record.", NULL,
     "That another company's records stay unreadable here is the point of the demo."},
    {ERR_TOO_LARGE, STAGE_CRYPTO, PATH_ANY, 400, 0,
     "The plaintext is longer than this key can encrypt",
     "The message states the limit for this key.", "Send a shorter plaintext.", NULL, NULL},
    {ERR_UNPROCESSABLE, STAGE_CRYPTO, PATH_ANY, 422, 0, "The decrypted data is not UTF-8 text",
     "The ciphertext decrypts, but not to text.", "Decrypt only values written as text.", NULL,
     NULL},

    /* ---- the record store ---- */
    {ERR_UNAVAILABLE, STAGE_STORE, PATH_ANY, 503, 0, "The record store is not reachable",
     "The blob store (BLOB_BACKEND) could not be reached; nothing was written.",
     "Check that the store is running and reachable, and its credentials.",
     "curl -s -o /dev/null -w '%{http_code}' <account URL>", NULL},
    {ERR_FORBIDDEN, STAGE_STORE, PATH_ANY, 403, 0, "The record store refused this instance",
     "The store's credentials lack a permission (read, write or list) on the container.",
     "Grant the identity Storage Blob Data Contributor (companies) or Reader (snooper).", NULL,
     NULL},
    {ERR_NOT_FOUND, STAGE_STORE, PATH_ANY, 404, 0, "No such blob",
     "The named blob does not exist in the container.", "List the blobs (GET /storage/list).", NULL,
     NULL},
    {ERR_TIMEOUT, STAGE_STORE, PATH_ANY, 504, 0, "The record store did not answer in time",
     "The blob store did not answer within HTTP_TIMEOUT_SECONDS; nothing was written.", "Retry.",
     NULL, NULL},
    {ERR_UPSTREAM, STAGE_STORE, PATH_ANY, 502, 0, "The record store answered something unusable",
     "The blob store's answer had an unexpected status or shape.",
     "Read the upstream summary (status, code, request id).", NULL, NULL},
    {ERR_UPSTREAM, STAGE_RECORDS, PATH_ANY, 502, 0,
     "The shared record file is not a record file; nothing was written",
     "The file's content is not a JSON array of records, so it is not overwritten.",
     "Repair or remove the file in the store.", NULL, NULL},
    {ERR_CONFLICT, STAGE_RECORDS, PATH_ANY, 409, 0, "The shared record file kept changing",
     "Concurrent writers won every conditional write of this request; nothing was written.",
     "Retry the request.", NULL, NULL},

    /* ---- the company's CSV ---- */
    {ERR_NOT_FOUND, STAGE_DATA, PATH_ANY, 404, 0, "The company's CSV file is missing",
     "DATA_DIR has no <company>-data.csv.", "Put the CSV in DATA_DIR (the image ships /app).",
     "ls $DATA_DIR", NULL},
    {ERR_UNPROCESSABLE, STAGE_DATA, PATH_ANY, 422, 0, "The company's CSV file has a bad row",
     "The message names the line and what is wrong with it; nothing was imported.",
     "Fix that line of the CSV.", NULL, NULL},
};

const struct outcome_rule *outcome_rules(size_t *n)
{
	*n = NELEM(rules);
	return rules;
}

enum outcome_path outcome_path_now(void)
{
	if (attest_backend_now() == ATTEST_SIDECAR)
		return PATH_SIDECAR;
	const struct evidence_provider *p = evidence_provider();
	if (p)
		return p->emulated ? PATH_VIRTUAL : PATH_DEVICE;
	return evidence_virtual_configured() ? PATH_VIRTUAL : PATH_DEVICE;
}

/* Higher is more specific; -1 when the row does not apply. */
static int score(const struct outcome_rule *r, const struct err *e, enum outcome_path path)
{
	if (r->code != ERR_NONE && r->code != e->code)
		return -1;
	if (r->stage != STAGE_NONE && r->stage != e->stage)
		return -1;
	if (r->path != PATH_ANY && r->path != path)
		return -1;
	return (r->stage != STAGE_NONE) * 4 + (r->code != ERR_NONE) * 2 + (r->path != PATH_ANY);
}

static const struct outcome_rule internal_rule = {ERR_INTERNAL,
                                                  STAGE_NONE,
                                                  PATH_ANY,
                                                  500,
                                                  0,
                                                  "Internal error in this instance",
                                                  "An error this program does not classify.",
                                                  "See the service logs.",
                                                  NULL,
                                                  NULL};

const struct outcome_rule *outcome_rule(const struct err *e)
{
	enum outcome_path path = outcome_path_now();
	const struct outcome_rule *best = &internal_rule;
	int best_score = -1;
	for (size_t i = 0; i < NELEM(rules); i++) {
		int s = score(&rules[i], e, path);
		if (s > best_score) {
			best = &rules[i];
			best_score = s;
		}
	}
	return best;
}

int outcome_status(const struct err *e)
{
	return outcome_rule(e)->status;
}

/* text with {maa} {akv} {key} {log_dir} filled in from the configuration; caller frees. */
static char *fill(const char *text)
{
	static const struct {
		const char *name;
		const char *(*value)(void);
	} vars[] = {
	    {"{maa}", config_maa_url},
	    {"{akv}", config_akv_url},
	    {"{key}", config_key_name},
	    {"{log_dir}", config_log_dir},
	};
	struct buf b;
	buf_init(&b);
	for (const char *p = text; *p;) {
		size_t i;
		for (i = 0; i < NELEM(vars); i++)
			if (!strncmp(p, vars[i].name, strlen(vars[i].name)))
				break;
		if (i < NELEM(vars)) {
			buf_appendf(&b, "%s", vars[i].value());
			p += strlen(vars[i].name);
		} else {
			buf_append(&b, p++, 1);
		}
	}
	return buf_steal(&b, NULL);
}

static void add_filled(struct json_object *o, const char *key, const char *text)
{
	if (!text)
		return;
	char *t = fill(text);
	jsonx_add_str(o, key, t);
	free(t);
}

/* Last `lines` lines of a file, at most 16 KiB, or a note saying why not. */
static char *tail_file(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return xasprintf("(file not found: %s)", path);
	enum { MAXB = 16384 };
	char *buf = xmalloc(MAXB + 1);
	long size = 0;
	if (fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	/* A stream that cannot seek is read from where it is. */
	(void)fseek(f, size > MAXB ? size - MAXB : 0, SEEK_SET);
	size_t n = fread(buf, 1, MAXB, f);
	fclose(f);
	buf[n] = '\0';
	if (n == 0) {
		free(buf);
		return xstrdup("(empty)");
	}
	char *p = buf + n;
	int seen = 0;
	while (p > buf) {
		p--;
		if (*p == '\n' && p != buf + n - 1 && ++seen == lines) {
			p++;
			break;
		}
	}
	char *out = xstrdup(p);
	free(buf);
	return out;
}

/* The service logs and the SEV device status, in the original's "logs" shape. */
static struct json_object *logs(void)
{
	/* flask and flask_error are the original's names for the app and server logs: both sent. */
	static const struct {
		const char *key, *file;
	} files[] = {
	    {"skr", "skr.log"},
	    {"skr_error", "skr_error.log"},
	    {"app", "app.log"},
	    {"flask", "app.log"},
	    {"lighttpd_error", "lighttpd_error.log"},
	    {"flask_error", "lighttpd_error.log"},
	    {"supervisord", "supervisord.log"},
	};
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < NELEM(files); i++) {
		char *path = xasprintf("%s/%s", cfg.log_dir, files[i].file);
		char *t = tail_file(path, 100);
		jsonx_add_str(o, files[i].key, t);
		free(t);
		free(path);
	}
	jsonx_add(o, "sev_device", evidence_device_status());
	return o;
}

static struct json_object *upstream(const struct err *e)
{
	struct json_object *u = json_object_new_object();
	jsonx_add_int(u, "status", e->upstream_status);
	jsonx_add_str(u, "code", *e->upstream_code ? e->upstream_code : NULL);
	jsonx_add_str(u, "request_id", *e->request_id ? e->request_id : NULL);
	return u;
}

/* A configuration error names its variables ("variable", the first; "missing", all) and the fix. */
static void add_config(struct json_object *o, const struct err *e, const struct outcome_rule *r)
{
	struct json_object *names = json_object_new_array();
	for (const char *p = e->variable; *p;) {
		size_t n = strcspn(p, " ");
		if (n)
			json_object_array_add(names, json_object_new_string_len(p, (int)n));
		p += n + (p[n] == ' ');
	}
	struct json_object *first = json_object_array_get_idx(names, 0);
	jsonx_add_str(o, "variable", first ? json_object_get_string(first) : NULL);
	jsonx_add(o, "missing", names);
	add_filled(o, "fix", r->solution);
}

struct json_object *outcome_envelope(const struct err *e)
{
	const struct outcome_rule *r = outcome_rule(e);
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "error_code", err_code_name(e->code));
	jsonx_add_str(o, "stage", err_stage_name(e->stage));
	jsonx_add_str(o, "failure_reason", r->failure_reason);
	struct json_object *d = json_object_new_object();
	add_filled(d, "likely_cause", r->likely_cause);
	add_filled(d, "solution", r->solution);
	add_filled(d, "command", r->command);
	add_filled(d, "explanation", r->explanation);
	jsonx_add_str(d, "detail", e->msg);
	jsonx_add(o, "diagnosis", d);
	if (e->upstream_status)
		jsonx_add(o, "upstream", upstream(e));
	if (e->code == ERR_CONFIG)
		add_config(o, e, r);
	if (!r->chain)
		return o;
	enum attest_via via = attest_backend_now();
	jsonx_add_str(d, "attestation_backend", attest_via_name(via));
	jsonx_add_str(o, "attestation_backend", attest_via_name(via));
	jsonx_add_str(o, "maa_endpoint", cfg.maa.host);
	if (e->stage == STAGE_SIDECAR && e->upstream_status) {
		jsonx_add_int(o, "sidecar_status_code", e->upstream_status);
		jsonx_add_str(o, "sidecar_response", e->msg);
	}
	jsonx_add_str(o, "note",
	              "Attestation and secure key release succeed only inside an AMD SEV-SNP TEE "
	              "(Confidential SKU) or the local virtual SEV-SNP host, and a key only for a "
	              "container whose attestation satisfies its release policy.");
	jsonx_add(o, "logs", logs());
	return o;
}

static void md_cell(struct buf *b, const char *text)
{
	buf_append(b, " ", 1);
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == '|')
			buf_append(b, "\\|", 2);
		else
			buf_append(b, p, 1);
	}
	buf_append(b, " |", 2);
}

static const char *path_name(enum outcome_path p)
{
	switch (p) {
	case PATH_DEVICE:
		return "device";
	case PATH_VIRTUAL:
		return "virtual host";
	case PATH_SIDECAR:
		return "sidecar";
	case PATH_ANY:
		break;
	}
	return "any";
}

char *outcome_markdown(void)
{
	struct buf b;
	buf_init(&b);
	buf_appendf(&b, "| status | error_code | stage | path | failure_reason |\n"
	                "|---|---|---|---|---|\n");
	for (size_t i = 0; i < NELEM(rules); i++) {
		const struct outcome_rule *r = &rules[i];
		buf_appendf(&b, "| %d | %s | %s | %s |", r->status,
		            r->code == ERR_NONE ? "any" : err_code_name(r->code),
		            r->stage == STAGE_NONE ? "any" : err_stage_name(r->stage),
		            path_name(r->path));
		md_cell(&b, r->failure_reason);
		buf_append(&b, "\n", 1);
	}
	return buf_steal(&b, NULL);
}
