/*
 * config: every setting comes from the environment, read and validated once
 * at program start into typed values (enums, parsed endpoints, numbers).
 * This is the only module that reads the environment: config_env() is the
 * one door, for the stand-ins' own settings too.
 *
 * Endpoints are written as the original demo wrote them ("host[:port]",
 * scheme https implied) or as a full URL.  Plain http is accepted only for
 * loopback hosts, which is how the local stand-ins are reached; so a
 * configuration can never silently downgrade a real Azure endpoint.
 *
 * A bad value is an ERR_CONFIG error whose message names the variable and
 * the fix and never quotes a secret's value.  After config_init() the global
 * `cfg` is read-only for the process's life.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include "connstr.h"
#include "err.h"
#include "log.h"

struct endpoint {
	int set;      /* 0 when the variable was empty */
	char *url;    /* normalised base URL without trailing slash: "https://h[:p]" */
	char *host;   /* "h[:p]" as the sidecar wants it (no scheme) */
	int loopback; /* host is 127.0.0.0/8, ::1 or localhost */
};

enum attest_backend { BACKEND_AUTO, BACKEND_SIDECAR, BACKEND_NATIVE };
enum evidence_kind {
	EVIDENCE_AUTO,
	EVIDENCE_SEV_GUEST,
	EVIDENCE_SEV,
	EVIDENCE_VIRTUAL,
	EVIDENCE_NONE
};
enum blob_kind { BLOB_KIND_DIR, BLOB_KIND_AZURE };

struct config {
	struct endpoint maa;         /* SKR_MAA_ENDPOINT */
	struct endpoint akv;         /* SKR_AKV_ENDPOINT */
	char *key_name;              /* SKR_KEY_NAME ("" = not configured) */
	char *company;               /* COMPANY_NAME, else derived from the key name; lowercase */
	char *other_company;         /* OTHER_COMPANY_NAME */
	char *other_key_name;        /* OTHER_KEY_NAME */
	struct endpoint other_akv;   /* OTHER_AKV_ENDPOINT */
	char *resource_group;        /* RESOURCE_GROUP_NAME */
	enum blob_kind blob_kind;    /* BLOB_BACKEND: dir | azure */
	char *blob_dir;              /* BLOB_DIR (dir store; "" = STATE_DIR/blobs) */
	struct connstr storage;      /* AZURE_STORAGE_CONNECTION_STRING, parsed (secrets inside) */
	char *storage_account_url;   /* AZURE_STORAGE_ACCOUNT_URL (managed identity) */
	char *storage_container;     /* STORAGE_CONTAINER, default privateappdata */
	int blob_create_container;   /* BLOB_CREATE_CONTAINER=1 */
	char *container_image;       /* CONTAINER_IMAGE */
	enum attest_backend backend; /* ATTESTATION_BACKEND auto|sidecar|native */
	enum evidence_kind evidence; /* SNP_EVIDENCE auto|sev-guest|sev|virtual|none */
	char *virtual_socket;        /* SNP_VIRTUAL_SOCKET */
	struct endpoint sidecar;     /* SKR_SIDECAR_URL, default http://127.0.0.1:8080 */
	struct endpoint imds;        /* IMDS_ENDPOINT, default http://169.254.169.254 */
	char *client_id;             /* AZURE_CLIENT_ID (user-assigned identity), may be "" */
	char *extra_roots;    /* SNP_EXTRA_ROOTS: PEM file of extra trusted ARKs, may be "" */
	char *akv_trust_cert; /* AKV_TRUST_CERT: PEM certificates of loopback vaults, may be "" */
	char *uvm_host_amd_cert;    /* UVM_HOST_AMD_CERTIFICATE (b64 THIM JSON), may be "" */
	char *uvm_security_context; /* UVM_SECURITY_CONTEXT_DIR, may be "" */
	char *uvm_reference_info;   /* UVM_REFERENCE_INFO (b64 COSE_Sign1), may be "" */
	char *state_dir;            /* STATE_DIR: per-instance private state */
	char *log_dir;              /* LOG_DIR: service logs shown in diagnoses */
	char *log_file;             /* LOG_FILE, "" = stderr */
	enum log_level log_level;   /* LOG_LEVEL debug|info|warn|error */
	char *data_dir;             /* DATA_DIR: company CSVs */
	unsigned long max_body;     /* MAX_BODY_BYTES */
	unsigned long http_timeout; /* HTTP_TIMEOUT_SECONDS: the limit of one outbound call */
	unsigned long
	    request_timeout; /* REQUEST_TIMEOUT_SECONDS: all outbound calls of one request */
	unsigned long
	    spawner_pid; /* FCGI_SPAWNER_PID: the server that spawned this program, 0 = none */
	unsigned long key_bits; /* KEY_SIZE_BITS for keys the emulators create */
};

extern struct config cfg;

/*
 * Load cfg from the environment.  On a bad value cfg keeps every default and
 * the error is kept: config_error() returns it (NULL when all is well), so a
 * program can answer each request with it instead of dying unseen.
 */
void config_init(void);
const struct err *config_error(void);
/* Load into c; ERR_CONFIG naming the variable on a bad value (c is then empty). */
int config_load(struct config *c, struct err *e) MUST_CHECK;
/* Stop a program over its configuration: "prog: var: message" on stderr (just
 * "prog: message" when var is NULL, for a message that already names it), exit(2). */
_Noreturn void config_die(const char *prog, const char *var, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
void config_free(struct config *c);

/* The one place the environment is read: a variable's value, or NULL. */
const char *config_env(const char *name);

/* Parse an endpoint value; name is used in the message (ERR_CONFIG). */
int config_parse_endpoint(const char *name, const char *value, struct endpoint *out,
                          struct err *e) MUST_CHECK;
void endpoint_free(struct endpoint *ep);

/*
 * Where a request names an endpoint, key or vault, the configuration decides
 * (DESIGN.md invariant 2): a request value is never followed.  1 if value
 * (an endpoint in any accepted spelling; NULL or "" = not named) names
 * something other than configured, 0 if it names the same or nothing.
 */
int config_differs(const struct endpoint *configured, const char *value);

/* Names of the enums as the variables spell them. */
const char *config_backend_name(enum attest_backend b);
const char *config_blob_kind_name(enum blob_kind k);

/* Values for messages: never NULL ("(not configured)" when unset). */
const char *config_maa_url(void);
const char *config_akv_url(void);
const char *config_key_name(void);
const char *config_log_dir(void);

#endif
