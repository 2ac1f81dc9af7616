#include "connstr.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

/* Azurite's published development account key (not a secret). */
#define DEVSTORE_KEY                                                                               \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

enum { K_PROTO, K_NAME, K_KEY, K_SAS, K_EP, K_SUFFIX, K_DEV, K_COUNT };
static const char *const keys[K_COUNT] = {
    "DefaultEndpointsProtocol", "AccountName",  "AccountKey",
    "SharedAccessSignature",    "BlobEndpoint", "EndpointSuffix",
    "UseDevelopmentStorage"};

/* Every refusal names the variable and never its value (it holds secrets). */
#define bad(e, ...) err_config(e, CONNSTR_VAR, __VA_ARGS__)

int connstr_account_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

static int sas_ok(const char *s)
{
	if (!*s || strlen(s) > 2048)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("%&=._~+/:-,", *p))
			return 0;
	return !strncmp(s, "sig=", 4) || strstr(s, "&sig=") != NULL;
}

/* Split text into val[] by key; 0, or -1 with e set. */
static int split(const char *text, char *val[K_COUNT], struct err *e)
{
	int seg = 0;
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, ";");
		const char *eq = memchr(p, '=', len), *k = p;
		seg++;
		while (k < p + len && (*k == ' ' || *k == '\t'))
			k++;
		if (k < p + len && !eq)
			return bad(e, "part %d is not key=value", seg);
		if (k < p + len) {
			size_t kl = (size_t)(eq - k);
			while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
				kl--;
			for (size_t i = 0; i < K_COUNT; i++) {
				if (strlen(keys[i]) != kl || strncasecmp(keys[i], k, kl))
					continue;
				if (val[i])
					return bad(e, "%s is given twice", keys[i]);
				val[i] = xstrndup(eq + 1, (size_t)(p + len - eq - 1));
			}
		}
		p += len;
		if (*p == ';')
			p++;
	}
	return 0;
}

static int endpoint_of(char *val[K_COUNT], struct connstr *c, struct err *e)
{
	if (val[K_EP]) {
		c->endpoint = xstrdup(val[K_EP]);
		return 0;
	}
	if (!val[K_NAME])
		return bad(e, "needs BlobEndpoint or AccountName");
	const char *proto = val[K_PROTO] ? val[K_PROTO] : "https";
	if (strcasecmp(proto, "https") && strcasecmp(proto, "http"))
		return bad(e, "DefaultEndpointsProtocol must be https");
	c->endpoint = xasprintf("%s://%s.blob.%s", proto, val[K_NAME],
	                        val[K_SUFFIX] ? val[K_SUFFIX] : "core.windows.net");
	return 0;
}

static int credential_of(char *val[K_COUNT], struct connstr *c, struct err *e)
{
	if (val[K_SAS]) {
		const char *s = val[K_SAS][0] == '?' ? val[K_SAS] + 1 : val[K_SAS];
		if (!sas_ok(s))
			return bad(
			    e, "SharedAccessSignature is not a SAS query string (sv=..&sig=..)");
		c->sas = xstrdup(s);
		c->auth = CONNSTR_SAS;
		return 0;
	}
	if (!val[K_KEY])
		return bad(e, "has neither SharedAccessSignature nor AccountKey; anonymous access "
		              "cannot write records");
	if (b64_decode(val[K_KEY], strlen(val[K_KEY]), B64_STD, B64_PAD_ANY, &c->key, &c->keylen) <
	        0 ||
	    !c->keylen)
		return bad(e, "AccountKey is not base64");
	c->auth = CONNSTR_KEY;
	return 0;
}

int connstr_parse(const char *text, struct connstr *out, struct err *e)
{
	char *val[K_COUNT] = {NULL};
	memset(out, 0, sizeof(*out));
	int rc = -1;
	if (!text || !*text) {
		bad(e, "is empty");
		goto out;
	}
	if (split(text, val, e) < 0)
		goto out;
	if (val[K_DEV] && !strcasecmp(val[K_DEV], "true")) {
		if (!val[K_NAME])
			val[K_NAME] = xstrdup("devstoreaccount1");
		if (!val[K_KEY] && !val[K_SAS])
			val[K_KEY] = xstrdup(DEVSTORE_KEY);
		if (!val[K_EP])
			val[K_EP] = xstrdup("http://127.0.0.1:10000/devstoreaccount1");
	}
	if (val[K_NAME] && !connstr_account_ok(val[K_NAME])) {
		bad(e, "AccountName must be 1-64 letters and digits");
		goto out;
	}
	if (endpoint_of(val, out, e) < 0 || credential_of(val, out, e) < 0)
		goto out;
	out->account = val[K_NAME] ? xstrdup(val[K_NAME]) : NULL;
	rc = 0;
out:
	for (size_t i = 0; i < K_COUNT; i++)
		free_secret_str(val[i]);
	if (rc < 0)
		connstr_free(out);
	return rc;
}

void connstr_free(struct connstr *c)
{
	free(c->account);
	free(c->endpoint);
	free_secret_str(c->sas);
	if (c->key) {
		wipe(c->key, c->keylen);
		free(c->key);
	}
	memset(c, 0, sizeof(*c));
}
