/*
 * imds: local stand-in for the Azure Instance Metadata Service
 * (169.254.169.254), served by lighttpd on one loopback port per instance.
 *
 *   GET /metadata/THIM/amd/certification   the THIM JSON in IMDS_THIM_FILE
 *                                          (404 when unset or absent, as on a
 *                                          host that is not confidential)
 *
 * Like real IMDS, every /metadata/ request must carry "Metadata: true", and
 * errors are {"error","error_description"} rather than this project's
 * {"status":"error"} envelope, because clients written for Azure parse them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "http.h"
#include "jsonx.h"

#define THIM_PATH      "/metadata/THIM/amd/certification"
#define THIM_MAX_BYTES (1u << 20)

static void imds_error(struct http_resp *rs, int status, const char *error, const char *desc)
{
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "error", error);
	jsonx_add_str(o, "error_description", desc);
	http_send_json(rs, status, o);
}

/* 1 if the request may proceed; otherwise the IMDS 400 has been sent. */
static int metadata_header_ok(struct http_req *rq, struct http_resp *rs)
{
	const char *v = http_env(rq, "HTTP_METADATA");
	if (v && !strcasecmp(v, "true"))
		return 1;
	imds_error(rs, 400, "bad_request", "Required metadata header not specified");
	return 0;
}

static void thim_cert(struct http_req *rq, struct http_resp *rs)
{
	if (!metadata_header_ok(rq, rs))
		return;
	const char *path = config_env("IMDS_THIM_FILE");
	if (!path || !*path) {
		imds_error(rs, 404, "not_found",
		           "AMD certificates are not available: this host is not a confidential "
		           "container host (IMDS_THIM_FILE unset)");
		return;
	}
	struct buf b;
	buf_init(&b);
	if (read_file(path, THIM_MAX_BYTES, &b) < 0) {
		int en = errno;
		buf_free(&b);
		if (en == ENOENT) {
			imds_error(rs, 404, "not_found",
			           "AMD certificates are not available: this host is not a "
			           "confidential container host");
			return;
		}
		char msg[300];
		snprintf(msg, sizeof(msg), "cannot read IMDS_THIM_FILE %.200s: %s", path,
		         strerror(en));
		imds_error(rs, 500, "internal_error", msg);
		return;
	}
	struct json_object *o;
	struct err e;
	err_clear(&e);
	if (jsonx_parse((const char *)b.p, b.len, &o, &e) < 0 ||
	    !json_object_is_type(o, json_type_object) || !jsonx_str(o, "vcekCert")) {
		if (e.code == ERR_NONE)
			json_object_put(o);
		char msg[300];
		snprintf(msg, sizeof(msg), "IMDS_THIM_FILE %.200s is not THIM JSON with a vcekCert",
		         path);
		imds_error(rs, 500, "internal_error", msg);
		buf_free(&b);
		return;
	}
	json_object_put(o);
	/* The file's bytes as they are: the stand-in serves, it does not re-encode. */
	http_send_raw(rs, 200, "application/json; charset=utf-8", b.p, b.len);
	buf_free(&b);
}

/* Any other /metadata/ path: header first (as IMDS checks it first), then 404 or 405. */
static void metadata_other(struct http_req *rq, struct http_resp *rs)
{
	if (!metadata_header_ok(rq, rs))
		return;
	if (!strcmp(rq->path, THIM_PATH)) {
		http_add_header(rs, "Allow", "GET");
		imds_error(rs, 405, "method_not_allowed", "Only GET is allowed on this path");
		return;
	}
	imds_error(rs, 404, "not_found", "No such metadata path on this IMDS stand-in");
}

static const struct http_route routes[] = {
    {"GET", THIM_PATH, 0, thim_cert},
    /* Managed-identity tokens (GET /metadata/identity/oauth2/token) belong here. */
    /* Catch-all last: first match wins, and it only sends IMDS-shaped errors. */
    {NULL, "/metadata/", 1, metadata_other},
};

int main(void)
{
	return http_main("imds", routes, NELEM(routes));
}
