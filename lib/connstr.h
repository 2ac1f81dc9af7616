/*
 * connstr: an Azure Storage connection string (AZURE_STORAGE_CONNECTION_STRING),
 * parsed once, at start, into what the blob client needs.
 *
 * Grammar: ';'-separated key=value parts (keys case-insensitive, empty parts
 * allowed, a key given twice refused): DefaultEndpointsProtocol, AccountName,
 * AccountKey, SharedAccessSignature, BlobEndpoint, EndpointSuffix,
 * UseDevelopmentStorage.  The blob endpoint is BlobEndpoint, else
 * <protocol>://<AccountName>.blob.<EndpointSuffix, default core.windows.net>;
 * UseDevelopmentStorage=true means Azurite's published account on
 * 127.0.0.1:10000.  A SAS wins over an account key; one of them is required.
 * Unlike the original, the SAS ends at the next ';'.
 *
 * The SAS and the account key are secrets: no message ever quotes a value,
 * and connstr_free wipes them.
 */
#ifndef CONNSTR_H
#define CONNSTR_H

#include <stddef.h>

#include "err.h"

#define CONNSTR_VAR "AZURE_STORAGE_CONNECTION_STRING"

enum connstr_auth { CONNSTR_SAS, CONNSTR_KEY };

struct connstr {
	char *account;  /* AccountName (letters and digits), or NULL: the endpoint names it */
	char *endpoint; /* the blob endpoint URL as written or composed */
	enum connstr_auth auth;
	char *sas;          /* CONNSTR_SAS: the query string without '?' (secret) */
	unsigned char *key; /* CONNSTR_KEY: the decoded account key (secret) */
	size_t keylen;
};

/* Parse text into out; ERR_CONFIG naming CONNSTR_VAR on a bad value (out is then empty). */
int connstr_parse(const char *text, struct connstr *out, struct err *e) MUST_CHECK;
/* Wipe the secrets and free; the struct is empty afterwards. */
void connstr_free(struct connstr *c);
/* 1 if s is an account name Azure accepts (1-64 letters and digits). */
int connstr_account_ok(const char *s);

#endif
