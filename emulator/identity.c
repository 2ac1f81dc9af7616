/*
 * identity: local stand-in for the managed-identity token endpoint of IMDS
 * (PROTOCOLS.md §5.1), routed by URL inside each instance's IMDS socket block.
 *
 *   GET /metadata/identity/oauth2/token?api-version=..&resource=..[&client_id=..]
 *       with "Metadata: true" -> {"access_token","client_id","expires_in",...}
 *   identity init DIR      (from a shell) create the local AAD signing key
 *
 * Each instance's IMDS runs its own copy configured with that instance's identity
 * and issues tokens for it alone: a client_id naming another identity gets IMDS's
 * 400 "Identity not found".  That is how "only the instance that owns the identity
 * gets its tokens" holds locally.  Tokens are RS256 JWTs signed with the local AAD
 * key (kid = its RFC 7638 thumbprint), issuer aad_issuer(), lifetime one hour, and
 * carry "x-demo-emulated": true.  Errors use IMDS's {"error","error_description"}.
 *
 * Environment: IDENTITY_NAME (e.g. id-contoso), IDENTITY_CLIENT_ID, IDENTITY_OID,
 * IDENTITY_RESOURCE_ID (optional; default a user-assigned identity id in
 * RESOURCE_GROUP_NAME), AAD_KEY_DIR (holds aad.key), AAD_ISSUER (optional).
 */
#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aad.h"
#include "config.h"
#include "http.h"
#include "jsonx.h"
#include "jwt.h"
#include "log.h"
#include "pki.h"

#define TOKEN_PATH "/metadata/identity/oauth2/token"
#define LIFETIME   3600

static const char *const resources[] = {
    "https://vault.azure.net", "https://managedhsm.azure.net", "https://storage.azure.com",
    "https://attest.azure.net", /* the attestation SDKs ask for it; MAA ignores it */
};

static struct {
	const char *name, *client_id, *oid, *issuer;
	char *mirid, *kid;
	EVP_PKEY *key;
	int check_caller; /* IDENTITY_CALLER_USER set: only that user's processes get tokens */
	uid_t caller_uid;
} id;

#define die(...) config_die("identity", __VA_ARGS__)

static const char *need(const char *var, const char *hint)
{
	const char *v = config_env(var);
	if (!v || !*v)
		die(var, "not set: %s", hint);
	return v;
}

static void load_config(void)
{
	id.name = need("IDENTITY_NAME", "set it to the identity's name, e.g. id-contoso");
	id.client_id = need("IDENTITY_CLIENT_ID", "set it to the identity's client id (a GUID)");
	id.oid = need("IDENTITY_OID", "set it to the identity's object id (a GUID)");
	const char *who = config_env("IDENTITY_CALLER_USER");
	if (who && *who) {
		const struct passwd *pw = getpwnam(who);
		if (pw) {
			id.check_caller = 1;
			id.caller_uid = pw->pw_uid;
		} else {
			die("IDENTITY_CALLER_USER", "no such user '%s'", who);
		}
	}
	const char *dir = need("AAD_KEY_DIR", "set it to a directory made by `identity init DIR`");
	for (const char *p = id.name; *p; p++)
		if (!(p[0] == '-' || p[0] == '_' || (p[0] >= '0' && p[0] <= '9') ||
		      (p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
			die("IDENTITY_NAME", "'%s' may hold only letters, digits, '-' and '_'",
			    id.name);
	const char *mirid = config_env("IDENTITY_RESOURCE_ID");
	if (mirid && *mirid) {
		id.mirid = xstrdup(mirid);
	} else {
		const char *rg = config_env("RESOURCE_GROUP_NAME");
		id.mirid = xasprintf("/subscriptions/00000000-0000-0000-0000-000000000000/"
		                     "resourcegroups/%s/providers/Microsoft.ManagedIdentity/"
		                     "userAssignedIdentities/%s",
		                     rg && *rg ? rg : "local-demo", id.name);
	}
	struct err e;
	err_clear(&e);
	char *kpath = xasprintf("%s/%s", dir, AAD_KEY_FILE);
	if (!(id.key = pki_load_private_key(kpath, &e)))
		die("AAD_KEY_DIR", "%s: run `identity init %s`", e.msg, dir);
	if (!EVP_PKEY_is_a(id.key, "RSA") || EVP_PKEY_get_bits(id.key) < 2048)
		die("AAD_KEY_DIR", "%s must be an RSA key of at least 2048 bits", kpath);
	free(kpath);
	id.kid = jwk_thumbprint(id.key);
	id.issuer = aad_issuer();
}

static void imds_error(struct http_resp *rs, int status, const char *error, const char *desc)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "error", error);
	jsonx_add_str(o, "error_description", desc);
	http_send_json(rs, status, o);
}

/* The canonical resource for a requested one (trailing slash optional), or NULL. */
static const char *known_resource(const char *r)
{
	size_t n = strlen(r);
	if (n && r[n - 1] == '/')
		n--;
	for (size_t i = 0; i < NELEM(resources); i++)
		if (strlen(resources[i]) == n && !strncasecmp(r, resources[i], n))
			return resources[i];
	return NULL;
}

/*
 * The user that owns the caller's end of this loopback TCP connection, from
 * /proc/net/tcp: the line whose local address is the client's (REMOTE_ADDR:
 * REMOTE_PORT) and whose remote address is ours (SERVER_ADDR:SERVER_PORT).
 * This is how "only the instance that owns the identity" is enforced locally,
 * where every instance runs as its own user; on Azure, IMDS answers each
 * container group only for its own identities.  -1 if it cannot be told.
 */
static long caller_uid(const struct http_req *rq)
{
	const char *ra = http_env(rq, "REMOTE_ADDR"), *rp = http_env(rq, "REMOTE_PORT");
	const char *sa = http_env(rq, "SERVER_ADDR"), *sp = http_env(rq, "SERVER_PORT");
	struct in_addr cli, srv;
	unsigned long cport, sport;
	if (!ra || !rp || !sa || !sp || inet_pton(AF_INET, ra, &cli) != 1 ||
	    inet_pton(AF_INET, sa, &srv) != 1 || parse_ulong(rp, 1, 65535, &cport) < 0 ||
	    parse_ulong(sp, 1, 65535, &sport) < 0)
		return -1;
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return -1;
	char line[512];
	long uid = -1;
	/* Addresses are printed as the in-memory u32 in hex, ports in host order. */
	while (fgets(line, sizeof(line), f)) {
		unsigned int la, lp, ra2, rp2;
		unsigned long u;
		if (sscanf(line, " %*u: %8X:%4X %8X:%4X %*X %*X:%*X %*X:%*X %*X %lu", &la, &lp,
		           &ra2, &rp2, &u) != 5)
			continue;
		if (la == cli.s_addr && lp == cport && ra2 == srv.s_addr && rp2 == sport) {
			uid = (long)u;
			break;
		}
	}
	fclose(f);
	return uid;
}

static void token(struct http_req *rq, struct http_resp *rs)
{
	if (id.check_caller) {
		long uid = caller_uid(rq);
		if (uid != (long)id.caller_uid) {
			log_info("token refused: caller uid %ld is not the instance that owns %s",
			         uid, id.name);
			imds_error(
			    rs, 403, "forbidden",
			    "This identity belongs to another instance: only its own container "
			    "gets tokens for it");
			return;
		}
	}
	const char *md = http_env(rq, "HTTP_METADATA");
	if (!md || strcasecmp(md, "true")) {
		imds_error(rs, 400, "bad_request", "Required metadata header not specified");
		return;
	}
	char *api = NULL, *resource = NULL, *client = NULL;
	int ra = aad_query_get(rq->query, "api-version", &api);
	int rr = aad_query_get(rq->query, "resource", &resource);
	int rc = aad_query_get(rq->query, "client_id", &client);
	const char *canon = rr == 1 ? known_resource(resource) : NULL;
	if (ra < 0 || rr < 0 || rc < 0) {
		imds_error(rs, 400, "invalid_request", "Malformed query string");
	} else if (ra == 0 || !*api) {
		imds_error(rs, 400, "bad_request",
		           "Required query variable 'api-version' is missing");
	} else if (rr == 0 || !*resource) {
		imds_error(rs, 400, "invalid_request",
		           "Required query variable 'resource' is missing");
	} else if (!canon) {
		char msg[300];
		snprintf(msg, sizeof(msg),
		         "AADSTS500011: The resource principal named %.120s was not found. This "
		         "stand-in issues tokens for https://vault.azure.net, "
		         "https://managedhsm.azure.net, https://storage.azure.com/ and "
		         "https://attest.azure.net only.",
		         resource);
		imds_error(rs, 400, "invalid_resource", msg);
	} else if (rc == 1 && strcasecmp(client, id.client_id)) {
		log_info("token refused: client_id %.64s is not this instance's identity %s",
		         client, id.name);
		imds_error(rs, 400, "invalid_request", "Identity not found");
	} else {
		long long now = now_unix();
		/* IMDS echoes the resource as asked; the audience is that same string. */
		struct json_object *p = json_object_new_object();
		jsonx_add_str(p, "aud", resource);
		jsonx_add_str(p, "iss", id.issuer);
		jsonx_add_int(p, "iat", now);
		jsonx_add_int(p, "nbf", now);
		jsonx_add_int(p, "exp", now + LIFETIME);
		jsonx_add_str(p, "oid", id.oid);
		jsonx_add_str(p, "sub", id.oid);
		jsonx_add_str(p, "appid", id.client_id);
		jsonx_add_str(p, "idtyp", "app");
		jsonx_add_str(p, "xms_mirid", id.mirid);
		jsonx_add_bool(p, "x-demo-emulated", 1);
		char *jwt = jwt_sign_rs256(id.key, id.kid, NULL, p);
		json_object_put(p);
		if (!jwt) {
			imds_error(rs, 500, "internal_error", "could not sign the token");
		} else {
			char exp_on[32], nbf[32];
			snprintf(exp_on, sizeof(exp_on), "%lld", now + LIFETIME);
			snprintf(nbf, sizeof(nbf), "%lld", now);
			struct json_object *o = json_object_new_object();
			jsonx_add_str(o, "client_id", id.client_id);
			jsonx_add_str(o, "expires_in", "3599");
			jsonx_add_str(o, "expires_on", exp_on);
			jsonx_add_str(o, "ext_expires_in", "3599");
			jsonx_add_str(o, "not_before", nbf);
			jsonx_add_str(o, "resource", resource);
			jsonx_add_str(o, "token_type", "Bearer");
			log_info("token issued: identity %s oid %s resource %s", id.name, id.oid,
			         canon);
			/*
			 * The token is a bearer secret: it is spliced into the text here rather
			 * than held by json-c, whose copies are freed unwiped.  A JWT is
			 * base64url and dots, so it needs no JSON escaping.
			 */
			char *rest = jsonx_dump(o);
			json_object_put(o);
			struct buf b;
			buf_init(&b);
			static const char head[] = "{\"access_token\":\"";
			buf_append(&b, head, sizeof(head) - 1);
			buf_append(&b, jwt, strlen(jwt));
			buf_append(&b, "\",", 2);
			buf_append(&b, rest + 1, strlen(rest + 1));
			buf_append(&b, "\n", 1);
			http_send_raw(rs, 200, "application/json", b.p, b.len);
			buf_free(&b);
			free(rest);
			free_secret_str(jwt);
		}
	}
	free(api);
	free(resource);
	free(client);
}

/* Everything else under this program: header first, as IMDS checks it first. */
static void other(struct http_req *rq, struct http_resp *rs)
{
	const char *md = http_env(rq, "HTTP_METADATA");
	if (!md || strcasecmp(md, "true")) {
		imds_error(rs, 400, "bad_request", "Required metadata header not specified");
		return;
	}
	if (!strcmp(rq->path, TOKEN_PATH)) {
		http_add_header(rs, "Allow", "GET");
		imds_error(rs, 405, "method_not_allowed", "Only GET is allowed on this path");
		return;
	}
	imds_error(rs, 404, "not_found", "No such metadata path on this identity stand-in");
}

static const struct http_route routes[] = {
    {"GET", TOKEN_PATH, 0, token},
    {NULL, "/", 1, other},
};

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "init")) {
		struct err e;
		err_clear(&e);
		if (aad_init_dir(argv[2], &e) < 0) {
			fprintf(stderr, "identity init: %s\n", e.msg);
			return 1;
		}
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr,
		        "usage: identity init DIR   create the local AAD signing key in DIR\n"
		        "       identity            serve (FastCGI or CGI; IDENTITY_NAME, "
		        "IDENTITY_CLIENT_ID, IDENTITY_OID, AAD_KEY_DIR)\n");
		return 2;
	}
	load_config();
	return http_main("identity", routes, NELEM(routes));
}
