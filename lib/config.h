/*
 * config: every setting comes from the environment, read and validated once
 * at program start.  A bad value stops the program with a message naming the
 * variable (config_init, for tools) or fails with that message (config_load:
 * http_main then answers every request with it as a 500, tests check it).
 * Every message starts with the variable's name ("VAR: ...") and never holds
 * the value of a secret.
 *
 * Endpoints are written as the original demo wrote them ("host[:port]",
 * scheme https implied) or as a full URL.  Plain http is accepted only for
 * loopback hosts, which is how the local stand-ins are reached; so a
 * configuration can never silently downgrade a real Azure endpoint.
 *
 * After config_init() / config_load(&cfg) the global `cfg` is read-only for the process's life.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include "err.h"

struct endpoint {
	int set;        /* 0 when the variable was empty */
	char *url;      /* normalised base URL without trailing slash: "https://h[:p]" */
	char *host;     /* "h[:p]" as the sidecar wants it (no scheme) */
	int loopback;   /* host is 127.0.0.0/8, ::1 or localhost */
};

enum attest_backend { BACKEND_AUTO, BACKEND_SIDECAR, BACKEND_NATIVE };
enum evidence_kind { EVIDENCE_AUTO, EVIDENCE_SEV_GUEST, EVIDENCE_SEV, EVIDENCE_VIRTUAL, EVIDENCE_NONE };

struct config {
	struct endpoint maa;        /* SKR_MAA_ENDPOINT */
	struct endpoint akv;        /* SKR_AKV_ENDPOINT */
	char *key_name;             /* SKR_KEY_NAME ("" = not configured) */
	char *company;              /* COMPANY_NAME, else derived from the key name */
	char *other_company;        /* OTHER_COMPANY_NAME */
	char *other_key_name;       /* OTHER_KEY_NAME */
	struct endpoint other_akv;  /* OTHER_AKV_ENDPOINT */
	char *resource_group;       /* RESOURCE_GROUP_NAME */
	char *storage_conn;         /* AZURE_STORAGE_CONNECTION_STRING (secret) */
	char *blob_backend;         /* BLOB_BACKEND: "azure" or "dir" */
	char *blob_dir;             /* BLOB_DIR for the directory backend */
	char *container_image;      /* CONTAINER_IMAGE */
	enum attest_backend backend;/* ATTESTATION_BACKEND auto|sidecar|native */
	enum evidence_kind evidence;/* SNP_EVIDENCE auto|sev-guest|sev|virtual|none */
	char *virtual_socket;       /* SNP_VIRTUAL_SOCKET */
	struct endpoint sidecar;    /* SKR_SIDECAR_URL, default http://127.0.0.1:8080 */
	struct endpoint imds;       /* IMDS_ENDPOINT, default http://169.254.169.254 */
	char *client_id;            /* AZURE_CLIENT_ID (user-assigned identity), may be "" */
	char *extra_roots;          /* SNP_EXTRA_ROOTS: PEM file of extra trusted ARKs, may be "" */
	char *state_dir;            /* STATE_DIR: per-instance private state */
	char *log_dir;              /* LOG_DIR: service logs shown in diagnoses */
	char *data_dir;             /* DATA_DIR: company CSVs */
	unsigned long max_body;     /* MAX_BODY_BYTES */
	unsigned long http_timeout; /* HTTP_TIMEOUT_SECONDS for outbound calls */
	unsigned long key_bits;     /* KEY_SIZE_BITS for keys the emulators create */
};

extern struct config cfg;

/* Load from the environment; on a bad value exit(2) naming the variable. */
void config_init(void);
/* Same, but report the problem instead of exiting. */
int config_load(struct config *c, struct err *e) MUST_CHECK;
/* Stop a program over its configuration: "prog: var: message" on stderr (just
 * "prog: message" when var is NULL, for a message that already names it), exit(2). */
_Noreturn void config_die(const char *prog, const char *var, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
void config_free(struct config *c);

/* Parse an endpoint value; name is used in the message. */
int config_parse_endpoint(const char *name, const char *value, struct endpoint *out,
			  struct err *e) MUST_CHECK;
void endpoint_free(struct endpoint *ep);

#endif
