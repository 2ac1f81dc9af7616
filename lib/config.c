#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config cfg;
static struct err load_error;
static int load_failed;

const char *config_env(const char *name)
{
	return getenv(name);
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = config_env(name);
	return v ? v : def;
}

static int is_loopback_host(const char *host, size_t len)
{
	if (len == 9 && !strncmp(host, "localhost", 9))
		return 1;
	if (len == 5 && !strncmp(host, "[::1]", 5))
		return 1;
	if (len >= 4 && !strncmp(host, "127.", 4)) {
		for (size_t i = 4; i < len; i++)
			if (!isdigit((unsigned char)host[i]) && host[i] != '.')
				return 0;
		return 1;
	}
	return 0;
}

void endpoint_free(struct endpoint *ep)
{
	free(ep->url);
	free(ep->host);
	memset(ep, 0, sizeof(*ep));
}

int config_parse_endpoint(const char *name, const char *value, struct endpoint *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!value || !*value)
		return 0;
	const char *scheme = "https";
	const char *h = value;
	if (!strncmp(h, "https://", 8)) {
		h += 8;
	} else if (!strncmp(h, "http://", 7)) {
		h += 7;
		scheme = "http";
	} else if (strstr(h, "://")) {
		return err_config(e, name, "unsupported scheme in '%.100s': use https://", value);
	}
	size_t len = strlen(h);
	while (len && h[len - 1] == '/')
		len--;
	if (!len || len > 253)
		return err_config(e, name, "no host in '%.100s'", value);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
			return err_config(e, name,
			                  "'%.100s' is not a host[:port] (only letters, digits, "
			                  "'.', '-', ':' allowed; no path)",
			                  value);
	}
	const char *colon = memchr(h, ':', len);
	if (h[0] == '[')
		colon = memchr(h, ']', len) ? strchr(memchr(h, ']', len), ':') : NULL;
	if (colon && (size_t)(colon - h) < len) {
		char port[8];
		size_t plen = len - (size_t)(colon - h) - 1;
		unsigned long p;
		if (plen == 0 || plen >= sizeof(port))
			return err_config(e, name, "bad port in '%.100s'", value);
		memcpy(port, colon + 1, plen);
		port[plen] = '\0';
		if (parse_ulong(port, 1, 65535, &p) < 0)
			return err_config(e, name, "bad port in '%.100s'", value);
	}
	size_t hostlen = colon ? (size_t)(colon - h) : len;
	out->loopback = is_loopback_host(h, hostlen);
	/* The one non-loopback plain-http peer is IMDS, link-local by design. */
	int imds = hostlen == 15 && !strncmp(h, "169.254.169.254", 15);
	if (!strcmp(scheme, "http") && !out->loopback && !imds)
		return err_config(e, name,
		                  "plain http is allowed only for loopback stand-ins; use "
		                  "https:// for '%.100s'",
		                  value);
	out->set = 1;
	out->host = xstrndup(h, len);
	out->url = xasprintf("%s://%s", scheme, out->host);
	return 0;
}

static int parse_choice(const char *name, const char *v, const char *const *choices, int n,
                        int *out, struct err *e)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v, choices[i])) {
			*out = i;
			return 0;
		}
	struct buf list;
	buf_init(&list);
	for (int i = 0; i < n; i++)
		buf_appendf(&list, "%s%s", i ? "|" : "", choices[i]);
	err_config(e, name, "'%.60s' is not one of %s", v, (char *)list.p);
	buf_free(&list);
	return -1;
}

static int parse_num(const char *name, unsigned long min, unsigned long max, const char *def,
                     unsigned long *out, struct err *e)
{
	const char *v = env_or(name, def);
	if (parse_ulong(v, min, max, out) < 0)
		return err_config(e, name, "'%.40s' is not a whole number in %lu..%lu", v, min,
		                  max);
	return 0;
}

static int parse_name(const char *name, const char *def, size_t max, char **out, struct err *e)
{
	const char *v = env_or(name, def);
	size_t len = strlen(v);
	if (len > max)
		return err_config(e, name, "longer than %zu characters", max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
			return err_config(
			    e, name, "'%.60s' may hold only letters, digits, '-', '_' and '.'", v);
	}
	*out = xstrdup(v);
	return 0;
}

static char *derive_company(const char *key_name)
{
	/* The original's rule, kept as the fallback when COMPANY_NAME is unset. */
	if (strstr(key_name, "contoso"))
		return xstrdup("contoso");
	if (strstr(key_name, "fabrikam"))
		return xstrdup("fabrikam");
	char *c = xstrdup(key_name);
	size_t n = strlen(c);
	if (n > 11 && !strcmp(c + n - 11, "-secret-key"))
		c[n - 11] = '\0';
	else if (n > 4 && !strcmp(c + n - 4, "-key"))
		c[n - 4] = '\0';
	return c;
}

static const char *const backends[] = {"auto", "sidecar", "native"};
static const char *const blob_kinds[] = {"dir", "azure"};

const char *config_backend_name(enum attest_backend b)
{
	return (unsigned)b < NELEM(backends) ? backends[b] : "auto";
}

const char *config_blob_kind_name(enum blob_kind k)
{
	return (unsigned)k < NELEM(blob_kinds) ? blob_kinds[k] : "dir";
}

int config_load(struct config *c, struct err *e)
{
	static const char *const evidences[] = {"auto", "sev-guest", "sev", "virtual", "none"};
	int choice;
	memset(c, 0, sizeof(*c));
	if (config_parse_endpoint("SKR_MAA_ENDPOINT",
	                          env_or("SKR_MAA_ENDPOINT", "sharedeus.eus.attest.azure.net"),
	                          &c->maa, e) < 0 ||
	    config_parse_endpoint("SKR_AKV_ENDPOINT", env_or("SKR_AKV_ENDPOINT", ""), &c->akv, e) <
	        0 ||
	    config_parse_endpoint("OTHER_AKV_ENDPOINT", env_or("OTHER_AKV_ENDPOINT", ""),
	                          &c->other_akv, e) < 0 ||
	    config_parse_endpoint("SKR_SIDECAR_URL",
	                          env_or("SKR_SIDECAR_URL", "http://127.0.0.1:8080"), &c->sidecar,
	                          e) < 0 ||
	    config_parse_endpoint("IMDS_ENDPOINT",
	                          env_or("IMDS_ENDPOINT", "http://169.254.169.254"), &c->imds,
	                          e) < 0)
		goto fail;
	if (parse_name("SKR_KEY_NAME", "", 127, &c->key_name, e) < 0 ||
	    parse_name("COMPANY_NAME", "", 63, &c->company, e) < 0 ||
	    parse_name("OTHER_COMPANY_NAME", "", 63, &c->other_company, e) < 0 ||
	    parse_name("OTHER_KEY_NAME", "", 127, &c->other_key_name, e) < 0 ||
	    parse_name("RESOURCE_GROUP_NAME", "", 90, &c->resource_group, e) < 0 ||
	    parse_name("AZURE_CLIENT_ID", "", 64, &c->client_id, e) < 0)
		goto fail;
	if (!*c->company && *c->key_name) {
		free(c->company);
		c->company = derive_company(c->key_name);
	}
	for (char *p = c->company; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *conn = env_or(CONNSTR_VAR, "");
	if (*conn && connstr_parse(conn, &c->storage, e) < 0)
		goto fail;
	c->storage_account_url = xstrdup(env_or("AZURE_STORAGE_ACCOUNT_URL", ""));
	c->container_image = xstrdup(env_or("CONTAINER_IMAGE", ""));
	c->virtual_socket = xstrdup(env_or("SNP_VIRTUAL_SOCKET", ""));
	c->extra_roots = xstrdup(env_or("SNP_EXTRA_ROOTS", ""));
	c->akv_trust_cert = xstrdup(env_or("AKV_TRUST_CERT", ""));
	c->uvm_host_amd_cert = xstrdup(env_or("UVM_HOST_AMD_CERTIFICATE", ""));
	c->uvm_security_context = xstrdup(env_or("UVM_SECURITY_CONTEXT_DIR", ""));
	c->uvm_reference_info = xstrdup(env_or("UVM_REFERENCE_INFO", ""));
	c->state_dir = xstrdup(env_or("STATE_DIR", "/var/lib/attestation-demo"));
	c->log_dir = xstrdup(env_or("LOG_DIR", "/var/log/supervisor"));
	c->log_file = xstrdup(env_or("LOG_FILE", ""));
	c->data_dir = xstrdup(env_or("DATA_DIR", "/app"));
	c->blob_dir = xstrdup(env_or("BLOB_DIR", ""));
	if (parse_name("STORAGE_CONTAINER", "privateappdata", 63, &c->storage_container, e) < 0)
		goto fail;
	if (!*c->storage_container) {
		free(c->storage_container);
		c->storage_container = xstrdup("privateappdata");
	}
	{
		static const char *const levels[] = {"debug", "info", "warn", "error"};
		if (parse_choice("LOG_LEVEL", env_or("LOG_LEVEL", "info"), levels, 4, &choice, e) <
		    0)
			goto fail;
		c->log_level = (enum log_level)choice;
		static const char *const onoff[] = {"0", "1"};
		if (parse_choice("BLOB_CREATE_CONTAINER", env_or("BLOB_CREATE_CONTAINER", "0"),
		                 onoff, 2, &choice, e) < 0)
			goto fail;
		c->blob_create_container = choice;
	}
	if (parse_choice("ATTESTATION_BACKEND", env_or("ATTESTATION_BACKEND", "auto"), backends, 3,
	                 &choice, e) < 0)
		goto fail;
	c->backend = (enum attest_backend)choice;
	if (parse_choice("SNP_EVIDENCE", env_or("SNP_EVIDENCE", "auto"), evidences, 5, &choice, e) <
	    0)
		goto fail;
	c->evidence = (enum evidence_kind)choice;
	if (c->evidence == EVIDENCE_VIRTUAL && !*c->virtual_socket) {
		err_config(
		    e, "SNP_VIRTUAL_SOCKET",
		    "empty, but SNP_EVIDENCE=virtual needs the virtual SEV-SNP host's socket path");
		goto fail;
	}
	{
		const char *def = c->storage.endpoint || *c->storage_account_url ? "azure" : "dir";
		if (parse_choice("BLOB_BACKEND", env_or("BLOB_BACKEND", def), blob_kinds, 2,
		                 &choice, e) < 0)
			goto fail;
		c->blob_kind = (enum blob_kind)choice;
	}
	if (parse_num("MAX_BODY_BYTES", 1024, 16UL << 20, "65536", &c->max_body, e) < 0 ||
	    parse_num("HTTP_TIMEOUT_SECONDS", 1, 600, "30", &c->http_timeout, e) < 0 ||
	    parse_num("REQUEST_TIMEOUT_SECONDS", 1, 600, "45", &c->request_timeout, e) < 0 ||
	    parse_num("FCGI_SPAWNER_PID", 0, 0x7fffffffUL, "0", &c->spawner_pid, e) < 0 ||
	    parse_num("KEY_SIZE_BITS", 2048, 4096, "2048", &c->key_bits, e) < 0)
		goto fail;
	if (c->key_bits % 1024) {
		err_config(e, "KEY_SIZE_BITS", "%lu is not 2048, 3072 or 4096", c->key_bits);
		goto fail;
	}
	return 0;
fail:
	config_free(c);
	e->code = ERR_CONFIG;
	return err_in(e, STAGE_CONFIG);
}

void config_free(struct config *c)
{
	endpoint_free(&c->maa);
	endpoint_free(&c->akv);
	endpoint_free(&c->other_akv);
	endpoint_free(&c->sidecar);
	endpoint_free(&c->imds);
	free(c->key_name);
	free(c->company);
	free(c->other_company);
	free(c->other_key_name);
	free(c->resource_group);
	connstr_free(&c->storage);
	free(c->storage_account_url);
	free(c->storage_container);
	free(c->blob_dir);
	free(c->akv_trust_cert);
	free(c->uvm_host_amd_cert);
	free(c->uvm_security_context);
	free(c->uvm_reference_info);
	free(c->log_file);
	free(c->container_image);
	free(c->virtual_socket);
	free(c->extra_roots);
	free(c->state_dir);
	free(c->log_dir);
	free(c->data_dir);
	free(c->client_id);
	memset(c, 0, sizeof(*c));
}

void config_init(void)
{
	err_clear(&load_error);
	load_failed = config_load(&cfg, &load_error) < 0;
	/* cfg stays empty: the programs answer every request with the reason (http_main). */
	if (load_failed) {
		/* Enough to log the error where this instance's logs go and to read requests. */
		cfg.max_body = 65536;
		cfg.log_file = xstrdup(env_or("LOG_FILE", ""));
		cfg.log_dir = xstrdup(env_or("LOG_DIR", "/var/log/supervisor"));
		cfg.log_level = LOG_INFO;
		/* A program that cannot work still dies with its server (http_main). */
		if (parse_ulong(env_or("FCGI_SPAWNER_PID", "0"), 0, 0x7fffffffUL,
		                &cfg.spawner_pid) < 0)
			cfg.spawner_pid = 0;
	}
}

const struct err *config_error(void)
{
	return load_failed ? &load_error : NULL;
}

int config_differs(const struct endpoint *configured, const char *value)
{
	if (!value || !*value)
		return 0;
	struct endpoint ep;
	struct err ignore;
	if (config_parse_endpoint("value", value, &ep, &ignore) < 0)
		return 1;
	int same = ep.set && configured->set && !strcmp(ep.url, configured->url);
	endpoint_free(&ep);
	return !same;
}

const char *config_maa_url(void)
{
	return cfg.maa.set ? cfg.maa.url : "(not configured)";
}

const char *config_akv_url(void)
{
	return cfg.akv.set ? cfg.akv.url : "(not configured)";
}

const char *config_key_name(void)
{
	return cfg.key_name && *cfg.key_name ? cfg.key_name : "(not configured)";
}

const char *config_log_dir(void)
{
	return cfg.log_dir && *cfg.log_dir ? cfg.log_dir : "/var/log/supervisor";
}

void config_die(const char *prog, const char *var, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (var)
		fprintf(stderr, "%s: %s: ", prog, var);
	else
		fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}
