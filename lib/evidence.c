#include "evidence.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "jsonx.h"

/* In the order auto mode tries them. */
static const struct evidence_provider *const providers[] = {
    &evidence_sev_guest,
    &evidence_sev,
    &evidence_virtual,
};

static const struct evidence_provider *find_provider(void)
{
	if (cfg.evidence == EVIDENCE_NONE)
		return NULL;
	for (size_t i = 0; i < NELEM(providers); i++) {
		const struct evidence_provider *p = providers[i];
		if ((cfg.evidence == EVIDENCE_AUTO || cfg.evidence == p->kind) && p->present())
			return p;
	}
	return NULL;
}

/* Looked for once per request (an attestation asks three times), afresh in the next. */
const struct evidence_provider *evidence_provider(void)
{
	static __thread unsigned long asked_in;
	static __thread const struct evidence_provider *found;
	unsigned long rq = request_current();
	if (!rq || rq != asked_in) {
		found = find_provider();
		asked_in = rq;
	}
	return found;
}

const struct evidence_provider *evidence_provider_named(const char *name)
{
	for (size_t i = 0; name && i < NELEM(providers); i++)
		if (!strcmp(name, providers[i]->name))
			return providers[i];
	return NULL;
}

const char *evidence_source(void)
{
	const struct evidence_provider *p = evidence_provider();
	return p ? p->name : NULL;
}

int evidence_virtual_configured(void)
{
	return cfg.virtual_socket && *cfg.virtual_socket &&
	       (cfg.evidence == EVIDENCE_AUTO || cfg.evidence == EVIDENCE_VIRTUAL);
}

static int no_provider(struct err *e)
{
	const char *vs = cfg.virtual_socket && *cfg.virtual_socket ? cfg.virtual_socket : NULL;
	switch (cfg.evidence) {
	case EVIDENCE_NONE:
		return err_set(
		    e, ERR_UNAVAILABLE,
		    "SNP_EVIDENCE=none: collecting SEV-SNP evidence is switched off in this "
		    "instance's configuration");
	case EVIDENCE_SEV_GUEST:
		return err_set(
		    e, ERR_UNAVAILABLE,
		    "SNP_EVIDENCE=sev-guest, but /dev/sev-guest is not a character device "
		    "here: this container is not running on confidential hardware");
	case EVIDENCE_SEV:
		return err_set(e, ERR_UNAVAILABLE,
		               "SNP_EVIDENCE=sev, but /dev/sev is not a character device here: "
		               "this container is not running on confidential hardware");
	case EVIDENCE_VIRTUAL:
		return err_set(
		    e, ERR_UNAVAILABLE,
		    "SNP_EVIDENCE=virtual, but the virtual SEV-SNP host socket %.200s does "
		    "not exist: start the virtual SEV-SNP host (emulator/vsnp-host)",
		    vs ? vs : "(unset)");
	case EVIDENCE_AUTO:
		break;
	}
	if (vs)
		return err_set(
		    e, ERR_UNAVAILABLE,
		    "no SEV-SNP device: this container is not running on confidential hardware "
		    "(checked /dev/sev-guest, /dev/sev; SNP_VIRTUAL_SOCKET=%.200s is not "
		    "a socket: is the virtual SEV-SNP host running?)",
		    vs);
	return err_set(e, ERR_UNAVAILABLE,
	               "no SEV-SNP device: this container is not running on confidential hardware "
	               "(checked /dev/sev-guest, /dev/sev; SNP_VIRTUAL_SOCKET not set)");
}

int evidence_report(const uint8_t report_data[64], uint8_t out[SNP_REPORT_SIZE],
                    const char **source, struct err *e)
{
	const struct evidence_provider *p = evidence_provider();
	if (source)
		*source = p ? p->name : NULL;
	if ((p ? p->report(report_data, out, e) : no_provider(e)) < 0)
		return err_in(e, STAGE_EVIDENCE);
	return 0;
}

static struct json_object *dev_listing(void)
{
	struct json_object *a = json_object_new_array();
	DIR *d = opendir("/dev");
	if (!d)
		return a;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcasestr(de->d_name, "sev") || strcasestr(de->d_name, "tpm") ||
		    strcasestr(de->d_name, "sgx"))
			json_object_array_add(a, json_object_new_string(de->d_name));
	closedir(d);
	return a;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(json_object_get_string(*(struct json_object *const *)a),
	              json_object_get_string(*(struct json_object *const *)b));
}

static struct json_object *device_info(const struct stat *st, const char *path)
{
	struct json_object *o = json_object_new_object();
	char mode[24];
	/* Python's oct() format, as the original printed it. */
	snprintf(mode, sizeof(mode), "0o%o", (unsigned)st->st_mode);
	jsonx_add_str(o, "mode", mode);
	jsonx_add_str(o, "type",
	              S_ISCHR(st->st_mode)    ? "character device"
	              : S_ISSOCK(st->st_mode) ? "socket"
	                                      : "other");
	/* Both directions: the ioctl and the socket protocol need read and write. */
	jsonx_add_bool(o, "accessible", access(path, R_OK | W_OK) == 0);
	return o;
}

struct json_object *evidence_device_status(void)
{
	static const char *const devs[] = {"/dev/sev-guest", "/dev/sev", "/dev/sev0"};
	struct json_object *o = json_object_new_object();
	const struct evidence_provider *p = evidence_provider();
	const char *prov = p ? p->name : NULL;
	const char *vs = cfg.virtual_socket;
	const char *found = NULL;
	struct stat st;
	char *expl = NULL;

	if (p && p->emulated && stat(vs, &st) == 0) {
		found = vs;
		expl = xasprintf("No AMD SEV-SNP hardware is used: reports come from the virtual "
		                 "SEV-SNP host at %s, signed by a local test key chain. The "
		                 "attestation flow runs end to end, but everything it produces is "
		                 "marked emulated and a production verifier never trusts it.",
		                 vs);
	} else {
		for (size_t i = 0; i < NELEM(devs); i++)
			if (stat(devs[i], &st) == 0) {
				found = devs[i];
				break;
			}
		if (found)
			expl = xasprintf("AMD SEV-SNP device found at %s. Hardware attestation "
			                 "should be available.%s",
			                 found,
			                 prov ? ""
			                      : " (SNP_EVIDENCE does not select it, so this "
			                        "instance will not use it.)");
		else
			expl = xasprintf(
			    "No AMD SEV-SNP device found (/dev/sev-guest, /dev/sev, "
			    "/dev/sev0). "
			    "This means the container is NOT running inside a Trusted "
			    "Execution "
			    "Environment (TEE). Hardware-based attestation is not possible. To "
			    "enable attestation, deploy with the Confidential SKU on AMD "
			    "SEV-SNP "
			    "capable hardware%s.",
			    vs ? ", or start the virtual SEV-SNP host for a local run" : "");
	}
	jsonx_add_bool(o, "available", found != NULL);
	jsonx_add_str(o, "device_path", found);
	jsonx_add(o, "device_info", found ? device_info(&st, found) : NULL);
	jsonx_add_str(o, "explanation", expl);
	free(expl);
	struct json_object *list = dev_listing();
	json_object_array_sort(list, cmp_str);
	jsonx_add(o, "dev_listing", list);
	jsonx_add_bool(o, "emulated", p && p->emulated);
	jsonx_add_str(o, "provider", prov);
	return o;
}
