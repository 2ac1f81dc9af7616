#!/usr/bin/env bash
# The FastCGI programs run as plain CGI: invoked directly with a CGI environment, and dropped into
# another server (lighttpd's mod_cgi).  Prints "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD:-$repo/build}
tmp=$(mktemp -d /tmp/cgi-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$repo/tests/lib.sh"
BASE_ENV=(LOG_DIR="$tmp/log" LOG_FILE="$tmp/log/app.log" STATE_DIR="$tmp/state"
	SKR_MAA_ENDPOINT="http://127.0.0.1:1" SKR_SIDECAR_URL="http://127.0.0.1:1"
	IMDS_ENDPOINT="http://127.0.0.1:1")
mkdir -p "$tmp/log" "$tmp/state"
EXTRA_ENV=(SNP_EVIDENCE=none)
A=$bin/fcgi-bin/attest

r=$(cgi_request "$A" GET /health)
check "CGI GET /health is 200" "$([ "$(status_of <<<"$r")" = 200 ]; echo $?)" "$r"
check "CGI /health body" "$(body_of <<<"$r" | jq -e '.status == "healthy"' >/dev/null; echo $?)" "$r"
check "CGI response has Content-Type and Content-Length" \
	"$(grep -q '^Content-Type: application/json' <<<"$r" && grep -q '^Content-Length: ' <<<"$r"; echo $?)" "$r"

r=$(cgi_request "$A" POST /attest/maa '{"runtime_data":')
check "CGI malformed JSON is 400 JSON" "$([ "$(status_of <<<"$r")" = 400 ] && body_of <<<"$r" | jq -e '.status=="error"' >/dev/null; echo $?)" "$r"
r=$(cgi_request "$A" DELETE /attest/raw)
check "CGI wrong method is 405 with Allow" "$([ "$(status_of <<<"$r")" = 405 ] && grep -q '^Allow: POST' <<<"$r"; echo $?)" "$r"
r=$(cgi_request "$A" POST /attest/maa "$(head -c 70000 /dev/zero | tr '\0' x)")
check "CGI oversize body is 413" "$([ "$(status_of <<<"$r")" = 413 ]; echo $?)" "$r"
r=$(cgi_request "$A" POST /attest/raw '{"runtime_data":"aGVsbG8="}')
check "CGI /attest/raw without a TEE is 503 with a diagnosis" \
	"$([ "$(status_of <<<"$r")" = 503 ] && body_of <<<"$r" | jq -e '.diagnosis.likely_cause' >/dev/null; echo $?)" "$r"
r=$(cgi_request "$A" GET /info)
check "CGI /info without a TEE: attestation_works false" \
	"$(body_of <<<"$r" | jq -e '.status.attestation_works == false' >/dev/null; echo $?)" "$r"
EXTRA_ENV=(SKR_MAA_ENDPOINT=http://evil.example.com)
r=$(cgi_request "$A" GET /health)
check "bad configuration: every request is a 500 JSON error naming the variable" \
	"$([ "$(status_of <<<"$r")" = 500 ] && body_of <<<"$r" | jq -e '.status == "error" and (.message | contains("SKR_MAA_ENDPOINT"))' >/dev/null; echo $?)" "$r"

# With a virtual SEV-SNP host, a CGI request gets a signed report.
"$bin/emulator/vsnp-ca" init "$tmp/ca" >/dev/null 2>&1
chip=$(printf 'cgi-chip' | openssl dgst -sha512 -r | cut -c1-128)
"$bin/emulator/vsnp-ca" vcek "$tmp/ca" "$tmp/vcek" --chip-id "$chip" --tcb 7308000000000003 >/dev/null 2>&1
"$bin/emulator/vsnp-host" --socket "$tmp/sev.sock" --vcek-key "$tmp/vcek/vcek.key" \
	--host-data-file "$repo/emulator/policies/contoso.rego" --chip-id "$chip" \
	--tcb 7308000000000003 --measurement "$(printf m | openssl dgst -sha384 -r | cut -c1-96)" \
	>"$tmp/log/vsnp.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [ -S "$tmp/sev.sock" ] && break; sleep 0.1; done
EXTRA_ENV=(SNP_EVIDENCE=virtual SNP_VIRTUAL_SOCKET="$tmp/sev.sock" UVM_HOST_AMD_CERTIFICATE="$(base64 -w0 "$tmp/vcek/thim.json")" SNP_EXTRA_ROOTS="$tmp/ca/ark.pem")
r=$(cgi_request "$A" POST /attest/raw '{"runtime_data":"aGVsbG8="}')
check "CGI /attest/raw with the virtual host is 200 and verifies" \
	"$([ "$(status_of <<<"$r")" = 200 ] && body_of <<<"$r" | jq -e '.verification.verified == true and .report_data_bound == true and (.attestation_report|length) == 2368' >/dev/null; echo $?)" "$(echo "$r" | head -c 600)"

# Dropped into another server: lighttpd with mod_cgi.
port=$((20000 + RANDOM % 20000))
mkdir -p "$tmp/www/cgi-bin"
cp "$A" "$tmp/www/cgi-bin/attest"
cat >"$tmp/lighttpd.conf" <<EOT
server.modules = ("mod_cgi", "mod_alias")
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$tmp/www"
server.errorlog = "$tmp/log/lighttpd.log"
alias.url = ("/cgi-bin/" => "$tmp/www/cgi-bin/")
\$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ("" => "") }
EOT
LOG_DIR="$tmp/log" SNP_EVIDENCE=none SKR_SIDECAR_URL=http://127.0.0.1:1 lighttpd -D -f "$tmp/lighttpd.conf" &
pids+=($!)
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/cgi-bin/attest/health" && break; sleep 0.1; done
r=$(curl -s -i "http://127.0.0.1:$port/cgi-bin/attest/health")
check "mod_cgi: GET /health is 200 healthy" "$(grep -q '"healthy"' <<<"$r" && grep -q '^HTTP/1.1 200' <<<"$r"; echo $?)" "$r"
r=$(curl -s -i -X POST -H 'content-type: application/json' -d '{bad' "http://127.0.0.1:$port/cgi-bin/attest/attest/maa")
check "mod_cgi: malformed JSON is 400" "$(grep -q '^HTTP/1.1 400' <<<"$r"; echo $?)" "$r"
r=$(curl -s -i "http://127.0.0.1:$port/cgi-bin/attest/sidecar/status")
check "mod_cgi: /sidecar/status without sidecar is 503 JSON" "$(grep -q '^HTTP/1.1 503' <<<"$r" && grep -q '"unavailable"' <<<"$r"; echo $?)" "$r"

summary
