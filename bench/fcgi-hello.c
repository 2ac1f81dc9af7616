/*
 * fcgi-hello: the benchmark's reference point, a bare libfcgi responder.
 *
 * It answers every request with the same bytes our GET /health sends (status line,
 * headers and body), doing nothing else, so `make bench` can run it under the same
 * lighttpd settings as an instance and report our /health as a ratio of it.  Built by
 * the bench target only; never installed.
 */
#include <fcgiapp.h>
#include <string.h>

static const char reply[] = "Status: 200 OK\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: 76\r\n"
                            "Cache-Control: no-store\r\n"
                            "X-Content-Type-Options: nosniff\r\n"
                            "\r\n"
                            "{\n"
                            "  \"status\": \"healthy\",\n"
                            "  \"service\": \"confidential-aci-attestation-demo\"\n"
                            "}\n";

int main(void)
{
	FCGX_Request rq;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&rq, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&rq) >= 0) {
		FCGX_PutStr(reply, (int)strlen(reply), rq.out);
		FCGX_Finish_r(&rq);
	}
	return 0;
}
