#!/usr/bin/env bash
# Microsoft's Azure SDKs for Python (Debian's python3-azure, run with Debian's /usr/bin/python3) as
# real clients of the local stand-ins: azure-identity against the identity endpoint, azure-keyvault-keys
# against the key vault, azure-security-attestation against the attestation service.  Starts only
# those stand-ins (one lighttpd, a virtual SEV-SNP host) plus a loopback TLS relay with a throwaway
# certificate in front of the vault and the attestation service, and stops all of it at the end.
# Prints "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD:-$repo/build}
emu=$bin/emulator
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/sdk-test.XXXXXX)
chmod 755 "$tmp"
pids=()
# shellcheck disable=SC2317 # reached through the trap below
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! "$py" -c 'import azure.identity, azure.keyvault.keys, azure.security.attestation' 2>/dev/null; then
	echo "FAIL the Azure SDKs are missing: run scripts/deps.sh (Debian's python3-azure)"
	echo "0 passed, 1 failed"
	exit 1
fi
for b in maa identity keyvault vsnp-ca vsnp-host; do
	[ -x "$emu/$b" ] || { echo "FAIL missing $emu/$b: run make"; echo "0 passed, 1 failed"; exit 1; }
done

# Five free loopback ports: the stand-ins (plain http) and the relay's https in front of two of them.
free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
	base=$((20000 + RANDOM % 20000))
	ok=1
	for i in 0 1 2 3 4; do free $((base + i)) || ok=0; done
	[ $ok -eq 1 ] && break
done
p_maa=$base p_imds=$((base + 1)) p_kv=$((base + 2)) t_maa=$((base + 3)) t_kv=$((base + 4))
maa_issuer=http://127.0.0.1:$p_maa
kv_url=https://127.0.0.1:$t_kv
key=sdk-secret-key
client_id=6f0d2b3a-1c4e-4d5f-8a9b-0c1d2e3f4a5b
oid=9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d
mkdir -p "$tmp/log" "$tmp/run" "$tmp/www" "$tmp/tls"

# --- the emulated platform: a virtual SEV-SNP host, attestation service, local AAD, one vault ---
chip=$(printf 'sdk-chip' | openssl dgst -sha512 -r | cut -c1-128)
tcb=7308000000000003
policy_file=$repo/emulator/policies/contoso.rego
hostdata=$(openssl dgst -sha256 -r "$policy_file" | cut -c1-64)
setup() {
	"$emu/vsnp-ca" init "$tmp/ca" &&
		"$emu/vsnp-ca" vcek "$tmp/ca" "$tmp/vcek" --chip-id "$chip" --tcb "$tcb" &&
		"$emu/maa" init "$tmp/maa" &&
		"$emu/identity" init "$tmp/aad" || return 1
	cat >"$tmp/release-policy.json" <<EOT
{"version": "1.0.0",
 "anyOf": [{"authority": "$maa_issuer",
            "allOf": [{"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
                      {"claim": "x-ms-sevsnpvm-hostdata", "equals": "$hostdata"},
                      {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": false}]}]}
EOT
	KV_URL=$kv_url "$emu/keyvault" init "$tmp/kv" --key "$key" --policy "$tmp/release-policy.json" \
		--grant "$oid:get,release" --host 127.0.0.1
}
if ! out=$(setup 2>&1); then
	echo "FAIL setup: $out"
	echo "0 passed, 1 failed"
	exit 1
fi

"$emu/vsnp-host" --socket "$tmp/run/sev-guest.sock" --vcek-key "$tmp/vcek/vcek.key" \
	--host-data-file "$policy_file" --chip-id "$chip" --tcb "$tcb" \
	--measurement "$(printf 'sdk-uvm' | openssl dgst -sha384 -r | cut -c1-96)" >"$tmp/log/vsnp.log" 2>&1 &
pids+=($!)

cat >"$tmp/lighttpd.conf" <<EOT
server.modules = ("mod_fastcgi")
server.bind = "127.0.0.1"
server.port = $p_maa
server.document-root = "$tmp/www"
server.errorlog = "$tmp/log/lighttpd.log"
\$SERVER["socket"] == "127.0.0.1:$p_maa" {
	fastcgi.server = ("/" => (("socket" => "$tmp/run/maa.sock", "bin-path" => "$emu/maa",
		"max-procs" => 1, "check-local" => "disable",
		"bin-environment" => ("MAA_ISSUER" => "$maa_issuer", "MAA_KEY_DIR" => "$tmp/maa",
		                      "MAA_TRUSTED_ROOTS" => "$tmp/ca/ark.pem"))))
}
\$SERVER["socket"] == "127.0.0.1:$p_imds" {
	fastcgi.server = ("/" => (("socket" => "$tmp/run/identity.sock", "bin-path" => "$emu/identity",
		"max-procs" => 1, "check-local" => "disable",
		"bin-environment" => ("IDENTITY_NAME" => "id-sdk", "IDENTITY_CLIENT_ID" => "$client_id",
		                      "IDENTITY_OID" => "$oid", "AAD_KEY_DIR" => "$tmp/aad"))))
}
\$SERVER["socket"] == "127.0.0.1:$p_kv" {
	fastcgi.server = ("/" => (("socket" => "$tmp/run/kv.sock", "bin-path" => "$emu/keyvault",
		"max-procs" => 1, "check-local" => "disable",
		"bin-environment" => ("KV_DIR" => "$tmp/kv", "KV_NAME" => "kv-sdk", "KV_URL" => "$kv_url",
		                      "AAD_PUBLIC_KEY" => "$tmp/aad/aad.pem"))))
}
EOT
env -i PATH=/usr/sbin:/usr/bin:/bin LOG_FILE="$tmp/log/standins.log" \
	/usr/sbin/lighttpd -D -f "$tmp/lighttpd.conf" >"$tmp/log/lighttpd.out" 2>&1 &
pids+=($!)

# A throwaway certificate for 127.0.0.1, trusted by the SDKs through connection_verify.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$tmp/tls/key.pem" -out "$tmp/tls/cert.pem" >/dev/null 2>&1
"$py" "$repo/tests/sdk/tls-relay.py" "$tmp/tls/cert.pem" "$tmp/tls/key.pem" \
	"$t_maa:$p_maa" "$t_kv:$p_kv" >"$tmp/log/relay.log" 2>&1 &
pids+=($!)

up=0
for _ in $(seq 1 100); do
	if [ -S "$tmp/run/sev-guest.sock" ] && grep -q ready "$tmp/log/relay.log" &&
		curl -fsS -o /dev/null --max-time 2 --cacert "$tmp/tls/cert.pem" "https://127.0.0.1:$t_maa/certs" &&
		curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$p_imds/" &&
		curl -sS -o /dev/null --max-time 2 --cacert "$tmp/tls/cert.pem" "$kv_url/keys/$key"; then
		up=1
		break
	fi
	sleep 0.1
done
if [ $up -eq 0 ]; then
	echo "FAIL the stand-ins did not start"
	tail -n 20 "$tmp"/log/*
	echo "0 passed, 1 failed"
	exit 1
fi

# Debian's python with a clean environment: no proxy, no CA bundle override, no other python path.
timeout 90 env -i PATH=/usr/bin:/bin HOME="$tmp" LANG=C.UTF-8 \
	AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:$p_imds" \
	SDK_CA="$tmp/tls/cert.pem" SDK_KV="$kv_url" SDK_KEY="$key" SDK_MAA="https://127.0.0.1:$t_maa" \
	SDK_MAA_ISSUER="$maa_issuer" SDK_CLIENT_ID="$client_id" SDK_OID="$oid" \
	SDK_VAULT_CERT="$tmp/kv/signing.pem" SDK_SNP_SOCKET="$tmp/run/sev-guest.sock" \
	SDK_THIM="$tmp/vcek/thim.json" \
	"$py" "$repo/tests/sdk/test_sdk.py"
rc=$?
if [ $rc -ne 0 ]; then
	[ $rc -eq 124 ] && echo "FAIL the SDK tests did not finish within 90 s"
	echo "--- stand-in log"
	tail -n 30 "$tmp/log/standins.log" 2>/dev/null
	# The SDK run printed its own summary unless it was killed.
	[ $rc -eq 124 ] && echo "0 passed, 1 failed"
fi
exit $rc
