/* attest: /attest/maa /attest/raw /sidecar/status /info /health /container/info */
#include "http.h"
#include "jsonx.h"

static void health(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct json_object *o = json_object_new_object();
	jsonx_add_str(o, "status", "healthy");
	jsonx_add_str(o, "service", "confidential-aci-attestation-demo");
	http_send_json(rs, 200, o);
}

static const struct http_route routes[] = {
	{"GET", "/health", 0, health},
};

int main(void)
{
	return http_main("attest", routes, NELEM(routes));
}
