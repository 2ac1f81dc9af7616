/*
 * platform: facts about the container this program runs in, for /info and
 * /container/info: its id (from the cgroup), host name, OS release, the
 * installed files' digests, the SKR sidecar binary, and the attestation
 * backend as the original page shows it (skr_status).  Reading them is the
 * library's work; the handlers only put them into JSON.
 *
 * Every function returns a new object or string the caller owns.
 */
#ifndef PLATFORM_H
#define PLATFORM_H

#include <json-c/json.h>

#include "attest.h"

/* The 64-hex container id from /proc/self/cgroup, or NULL outside a container. */
char *platform_container_id(void);
/* {name, version, pretty_name} from /etc/os-release (members missing when unknown). */
struct json_object *platform_os_release(void);
/* {"fcgi-bin/<file>": {md5, sha256, size_bytes}, "www/<file>": ...} for the installed
 * programs and page (hashed once per process: an upgrade restarts the programs). */
struct json_object *platform_app_checksums(void);
/*
 * The SKR sidecar binary as the original page's "SKR Binary" table reads it:
 * {path, md5, sha256, size_bytes, executable}, or {error} when there is no
 * readable file (hashed once per process).  No "version": the original ran the
 * binary for it, and this program executes nothing.
 */
struct json_object *platform_skr_binary(void);
/* The same facts for the file at path (uncached; for tests). */
struct json_object *platform_skr_binary_at(const char *path);
/*
 * How this instance attests, in the original's skr_status shape {running, reason,
 * explanation, solution, technical_detail} plus mode ("native" or "sidecar"):
 * running is true when the selected backend can attest (a native evidence
 * provider is present, or the sidecar answers /status 200).
 */
struct json_object *platform_skr_status(void);
/* {configured, selected, evidence_source, emulated, maa_endpoint}. */
struct json_object *platform_attestation_backend(void);

/* What /info reports: the sidecar and a real, verified attestation right now. */
struct platform_probe {
	int sidecar_up;     /* the sidecar answered /status 200 */
	char *sidecar_body; /* its /status body, printable, or NULL */
	char sidecar_error[512];
	int works; /* a token was issued for fresh runtime data and verified */
	int emulated;
	const char *source; /* the evidence provider, or NULL */
	enum attest_via via;
	char error[768]; /* why attestation does not work */
	struct err
	    failure; /* the same, classified (code ERR_NONE when it works): lib/outcome reads it */
};
void platform_probe(struct platform_probe *p);
void platform_probe_free(struct platform_probe *p);

#endif
