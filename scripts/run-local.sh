#!/usr/bin/env bash
# Start the local multi-party demo: Contoso, Fabrikam and the snooper, each a lighttpd plus the
# FastCGI programs configured from the repo's lighttpd.conf, and the local Azure stand-ins
# (virtual SEV-SNP hosts, attestation service, IMDS), all under supervisord in the foreground.
# Ctrl-C or SIGTERM stops all of it.  Everything binds 127.0.0.1.
#
#   DEMO_PORT       landing page (default 8000); Contoso +1, Fabrikam +2, snooper +3,
#                   attestation service +10, IMDS +11..+13, key vaults +21/+22
#   DEMO_STATE_DIR  state, keys and logs (default ./var)
#   BLOB_BACKEND    dir (default: a shared directory) or azurite (Azurite on port +30, through the
#                   same Azure Blob REST client the containers use on Azure)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
P=${DEMO_PORT:-8000}
S=${DEMO_STATE_DIR:-$repo/var}
mkdir -p "$S"
S=$(cd "$S" && pwd)
BUILD=${BUILD:-$repo/build}

case $P in
'' | *[!0-9]*) echo "DEMO_PORT must be a number, got '$P'" >&2; exit 2 ;;
esac
if [ "$P" -lt 1024 ] || [ "$P" -gt 65500 ]; then
	echo "DEMO_PORT must be between 1024 and 65500, got $P" >&2
	exit 2
fi

port_landing=$P
port_contoso=$((P + 1))
port_fabrikam=$((P + 2))
port_snooper=$((P + 3))
port_sidecar=$((P + 9)) # nothing listens here: locally no SKR sidecar runs
port_maa=$((P + 10))
port_imds_contoso=$((P + 11))
port_imds_fabrikam=$((P + 12))
port_imds_snooper=$((P + 13))
port_kv_contoso=$((P + 21))
port_kv_fabrikam=$((P + 22))
port_azurite=$((P + 30))
blob_backend=${BLOB_BACKEND:-dir}
case $blob_backend in
dir | azurite) ;;
*) echo "BLOB_BACKEND must be dir or azurite for the local demo, got '$blob_backend'" >&2; exit 2 ;;
esac
azurite_bin=$repo/tests/node_modules/.bin/azurite-blob
if [ "$blob_backend" = azurite ] && [ ! -x "$azurite_bin" ]; then
	echo "BLOB_BACKEND=azurite needs Azurite: run scripts/deps.sh (make run does)" >&2
	exit 1
fi
# Azurite's published development account key (not a secret).
azurite_conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$port_azurite/devstoreaccount1;"

for port in $port_landing $port_contoso $port_fabrikam $port_snooper $port_maa \
	$port_imds_contoso $port_imds_fabrikam $port_imds_snooper $port_kv_contoso $port_kv_fabrikam \
	$([ "$blob_backend" = azurite ] && echo "$port_azurite"); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "port $port on 127.0.0.1 is already in use: stop what uses it or set DEMO_PORT" >&2
		exit 1
	fi
done

emu=$BUILD/emulator
for bin in "$emu/vsnp-host" "$emu/vsnp-ca" "$emu/maa" "$emu/imds" "$emu/identity" "$emu/keyvault" "$emu/with-parent" \
	"$BUILD/fcgi-bin/attest" "$BUILD/fcgi-bin/skr" "$BUILD/fcgi-bin/storage" "$BUILD/fcgi-bin/company"; do
	[ -x "$bin" ] || { echo "missing $bin: run make first" >&2; exit 1; }
done

# --- users: each instance is its own container, so (as root) each runs as its own user ---
# Then an instance cannot read another's released key, and none can read the virtual hosts'
# VCEK keys or the stand-ins' signing keys (root-only under $S/azure).  Not root: one user for all.
separate=0
if [ "$(id -u)" -eq 0 ] && [ -z "${DEMO_SINGLE_USER:-}" ]; then
	separate=1
	getent group demo-blob >/dev/null || groupadd --system demo-blob
	for inst in contoso fabrikam snooper; do
		id "demo-$inst" >/dev/null 2>&1 ||
			useradd --system --no-create-home --shell /usr/sbin/nologin -G demo-blob "demo-$inst"
	done
fi
user_of() { if [ $separate -eq 1 ]; then echo "demo-$1"; fi; }

# --- one-time setup of the emulated platform (cached in the state dir) ---
mkdir -p "$S/app" "$S/azure/run" "$S/azure/log" "$S/azure/maa" "$S/blobs" "$S/public"
chmod 700 "$S/azure"
chmod 755 "$S" "$S/app" "$S/public"

# Each instance's user must reach what its lighttpd serves and runs: the state directory, the
# page, the programs, the data and lighttpd.conf.  A directory above them that only root may
# enter (any `mktemp -d` is 0700) would make every instance crash-loop with the reason only
# in a log file: say it here, with the fix, before anything starts.
if [ $separate -eq 1 ]; then
	# shellcheck disable=SC2016 # expanded by the inner shell
	blocked=$(runuser -u demo-contoso -- sh -c '
		set -f
		for p in "$@"; do
			d=""
			IFS=/
			for part in $p; do
				[ -n "$part" ] || continue
				d="$d/$part"
				if [ -d "$d" ] && ! [ -x "$d" ]; then echo "$d|$p"; exit 0; fi
			done
			unset IFS
			if ! [ -r "$p" ]; then echo "$p|$p"; exit 0; fi
		done' sh "$S" "$repo/lighttpd.conf" "$repo/www/index.html" "$repo/data" \
		"$BUILD/fcgi-bin/attest") || true
	if [ -n "$blocked" ]; then
		dir=${blocked%%|*}
		need=${blocked#*|}
		echo "make run: the instances run as their own users (demo-contoso, demo-fabrikam, demo-snooper)," >&2
		echo "  but they cannot reach $need: $dir is $(stat -c '%A %U:%G' "$dir" 2>/dev/null || echo 'not readable')." >&2
		echo "  Fix: chmod o+x every directory above it that is not (chmod o+x '$dir'), or set" >&2
		echo "  DEMO_STATE_DIR (and the checkout) to a place every user can reach, e.g. DEMO_STATE_DIR=/var/tmp/demo," >&2
		echo "  or run everything as one user with DEMO_SINGLE_USER=1 (no separation between the instances)." >&2
		exit 2
	fi
fi

ln -sfn "$repo/www" "$S/app/www"
ln -sfn "$BUILD/fcgi-bin" "$S/app/fcgi-bin"
ln -sfn "$repo/data" "$S/app/data"

"$emu/vsnp-ca" init "$S/azure/vsnp-ca" >/dev/null
"$emu/maa" init "$S/azure/maa" >/dev/null

# Managed identities: one per instance, deterministic ids so reruns keep the vaults' grants valid.
guid() { printf '%s' "$1" | openssl dgst -sha256 -r | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/'; }
"$emu/identity" init "$S/azure/aad" >/dev/null
key_bits=${KEY_SIZE_BITS:-2048}
for c in contoso fabrikam; do
	hostdata=$(openssl dgst -sha256 -r "$repo/emulator/policies/$c.rego" | cut -c1-64)
	# Tighter than the original (which checked only the attestation type): the authority, this
	# company's container policy (host_data), no debug, and a container compliance status.
	cat >"$S/azure/release-policy-$c.json" <<EOT
{"version": "1.0.0",
 "anyOf": [{"authority": "http://127.0.0.1:$port_maa",
            "allOf": [{"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
                      {"claim": "x-ms-sevsnpvm-hostdata", "equals": "$hostdata"},
                      {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": false},
                      {"claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm"}]}]}
EOT
	"$emu/keyvault" init "$S/azure/kv-$c" --key "$c-secret-key" --size "$key_bits" \
		--policy "$S/azure/release-policy-$c.json" --grant "$(guid "oid-$c"):get,release" \
		--host 127.0.0.1 >/dev/null
done
cat "$S/azure/kv-contoso/signing.pem" "$S/azure/kv-fabrikam/signing.pem" >"$S/public/kv-trust.pem"

measurement=$(printf 'virtual-uvm-1.0' | openssl dgst -sha384 -r | cut -c1-96)
tcb=7308000000000003
# Public parts the instances may read: the virtual root they are told to trust.
cp "$S/azure/vsnp-ca/ark.pem" "$S/public/virtual-ark.pem"
for inst in contoso fabrikam snooper; do
	# A fresh run is a fresh instance: nothing released survives it.
	rm -rf "$S/$inst/run"
	mkdir -p "$S/$inst/run" "$S/$inst/log"
	chmod 700 "$S/$inst/run"
	chmod 750 "$S/$inst/log"
	if [ $separate -eq 1 ]; then chown -R "demo-$inst:demo-$inst" "$S/$inst"; fi
done
if [ $separate -eq 1 ]; then
	chgrp demo-blob "$S/blobs"
	chmod 2770 "$S/blobs"
else
	chmod 700 "$S/blobs"
fi
for inst in contoso fabrikam; do
	chip=$(printf 'virtual-chip-%s' "$inst" | openssl dgst -sha512 -r | cut -c1-128)
	mkdir -p "$S/azure/vsnp-$inst"
	"$emu/vsnp-ca" vcek "$S/azure/vsnp-ca" "$S/azure/vsnp-$inst" --chip-id "$chip" --tcb "$tcb" >/dev/null
done

# --- supervisord configuration for this run ---
conf=$S/supervisord.conf
common_env() { # instance port imds_port
	printf 'HTTP_BIND="127.0.0.1",HTTP_PORT="%s",APP_ROOT="%s",STATE_DIR="%s",LOG_DIR="%s",' \
		"$2" "$S/app" "$S/$1/run" "$S/$1/log"
	printf 'LOG_FILE="%s",DATA_DIR="%s",RESOURCE_GROUP_NAME="local-demo",' "$S/$1/log/app.log" "$repo/data"
	if [ "$blob_backend" = azurite ]; then
		printf 'BLOB_BACKEND="azure",AZURE_STORAGE_CONNECTION_STRING="%s",BLOB_CREATE_CONTAINER="1",' "$azurite_conn"
	else
		printf 'BLOB_BACKEND="dir",BLOB_DIR="%s",' "$S/blobs"
	fi
	printf 'SKR_MAA_ENDPOINT="http://127.0.0.1:%s",IMDS_ENDPOINT="http://127.0.0.1:%s",' "$port_maa" "$3"
	printf 'SKR_SIDECAR_URL="http://127.0.0.1:%s",SNP_EXTRA_ROOTS="%s",' "$port_sidecar" "$S/public/virtual-ark.pem"
	printf 'AKV_TRUST_CERT="%s",' "$S/public/kv-trust.pem"
	printf 'CONTAINER_IMAGE="local build (make run)",ATTESTATION_BACKEND="auto"'
	# The outbound-call limits, when the caller sets them (the chaos suite makes them short).
	printf '%s' "${HTTP_TIMEOUT_SECONDS:+,HTTP_TIMEOUT_SECONDS=\"$HTTP_TIMEOUT_SECONDS\"}"
	printf '%s' "${REQUEST_TIMEOUT_SECONDS:+,REQUEST_TIMEOUT_SECONDS=\"$REQUEST_TIMEOUT_SECONDS\"}"
}
company_env() { # company key akv_port other other_key other_akv_port
	printf ',COMPANY_NAME="%s",SKR_KEY_NAME="%s",SKR_AKV_ENDPOINT="http://127.0.0.1:%s"' "$1" "$2" "$3"
	printf ',OTHER_COMPANY_NAME="%s",OTHER_KEY_NAME="%s",OTHER_AKV_ENDPOINT="http://127.0.0.1:%s"' "$4" "$5" "$6"
}
# Every program starts through with-parent: it dies with supervisord however supervisord
# ends (SIGTERM from the kernel), and removes its predecessor's stale sockets (glob in $6).
program() { # name command environment logfile [user] [stale-glob]
	cat <<EOT

[program:$1]
command=$emu/with-parent %(ENV_DEMO_SUPERVISORD_PID)s${6:+ --unlink $6} -- $2
environment=$3
stdout_logfile=$4${5:+
user=$5
umask=007}
redirect_stderr=true
autorestart=true
startsecs=1
stopasgroup=true
killasgroup=true
stopwaitsecs=5
EOT
}
{
	cat <<EOT
; generated by scripts/run-local.sh for this run; edit that script, not this file
[supervisord]
nodaemon=true
logfile=$S/supervisord.log
pidfile=$S/supervisord.pid
childlogdir=$S/azure/log
EOT
	if [ "$(id -u)" -eq 0 ]; then echo "user=root"; fi
	for inst in contoso fabrikam; do
		program "vsnp-$inst" \
			"$emu/vsnp-host --socket $S/$inst/run/sev-guest.sock --vcek-key $S/azure/vsnp-$inst/vcek.key --host-data-file $repo/emulator/policies/$inst.rego --measurement $measurement --chip-id $(printf 'virtual-chip-%s' "$inst" | openssl dgst -sha512 -r | cut -c1-128) --tcb $tcb" \
			"LOG_FILE=\"$S/azure/log/vsnp-$inst.log\"" "$S/azure/log/vsnp-$inst.out"
	done
	if [ "$blob_backend" = azurite ]; then
		mkdir -p "$S/azurite"
		program azurite "$azurite_bin --silent --disableTelemetry --skipApiVersionCheck --location $S/azurite --blobHost 127.0.0.1 --blobPort $port_azurite" \
			"HOME=\"$S/azurite\"" "$S/azure/log/azurite.out"
	fi
	program azure "/usr/sbin/lighttpd -D -f $repo/emulator/lighttpd-local.conf" \
		"LANDING_PORT=\"$port_landing\",WWW_ROOT=\"$repo/www\",EMU_BIN=\"$emu\",EMU_STATE=\"$S/azure/run\",EMU_LOG=\"$S/azure/log\",MAA_PORT=\"$port_maa\",IMDS_PORT_CONTOSO=\"$port_imds_contoso\",IMDS_PORT_FABRIKAM=\"$port_imds_fabrikam\",IMDS_PORT_SNOOPER=\"$port_imds_snooper\",THIM_CONTOSO=\"$S/azure/vsnp-contoso/thim.json\",THIM_FABRIKAM=\"$S/azure/vsnp-fabrikam/thim.json\",MAA_ISSUER=\"http://127.0.0.1:$port_maa\",MAA_KEY_DIR=\"$S/azure/maa\",MAA_TRUSTED_ROOTS=\"$S/azure/vsnp-ca/ark.pem\",LOG_FILE=\"$S/azure/log/azure.log\",AAD_KEY_DIR=\"$S/azure/aad\",ID_CLIENT_CONTOSO=\"$(guid client-contoso)\",ID_OID_CONTOSO=\"$(guid oid-contoso)\",ID_CLIENT_FABRIKAM=\"$(guid client-fabrikam)\",ID_OID_FABRIKAM=\"$(guid oid-fabrikam)\",ID_CLIENT_SNOOPER=\"$(guid client-snooper)\",ID_OID_SNOOPER=\"$(guid oid-snooper)\",KV_PORT_CONTOSO=\"$port_kv_contoso\",KV_PORT_FABRIKAM=\"$port_kv_fabrikam\",KV_DIR_CONTOSO=\"$S/azure/kv-contoso\",KV_DIR_FABRIKAM=\"$S/azure/kv-fabrikam\",ID_USER_CONTOSO=\"$(user_of contoso)\",ID_USER_FABRIKAM=\"$(user_of fabrikam)\",ID_USER_SNOOPER=\"$(user_of snooper)\"" \
		"$S/azure/log/lighttpd.out" "" "$S/azure/run/*.sock-*"
	program contoso "/usr/sbin/lighttpd -D -f $repo/lighttpd.conf" \
		"$(common_env contoso "$port_contoso" "$port_imds_contoso")$(company_env contoso contoso-secret-key "$port_kv_contoso" fabrikam fabrikam-secret-key "$port_kv_fabrikam"),SNP_VIRTUAL_SOCKET=\"$S/contoso/run/sev-guest.sock\"" \
		"$S/contoso/log/lighttpd.out" "$(user_of contoso)" "$S/contoso/run/fcgi-*.sock-*"
	program fabrikam "/usr/sbin/lighttpd -D -f $repo/lighttpd.conf" \
		"$(common_env fabrikam "$port_fabrikam" "$port_imds_fabrikam")$(company_env fabrikam fabrikam-secret-key "$port_kv_fabrikam" contoso contoso-secret-key "$port_kv_contoso"),SNP_VIRTUAL_SOCKET=\"$S/fabrikam/run/sev-guest.sock\"" \
		"$S/fabrikam/log/lighttpd.out" "$(user_of fabrikam)" "$S/fabrikam/run/fcgi-*.sock-*"
	# The snooper: standard hardware (no TEE device), configured with Contoso's settings as in the original.
	program snooper "/usr/sbin/lighttpd -D -f $repo/lighttpd.conf" \
		"$(common_env snooper "$port_snooper" "$port_imds_snooper")$(company_env contoso contoso-secret-key "$port_kv_contoso" fabrikam fabrikam-secret-key "$port_kv_fabrikam")" \
		"$S/snooper/log/lighttpd.out" "$(user_of snooper)" "$S/snooper/run/fcgi-*.sock-*"
} >"$conf"

# A clean environment: every program gets exactly what the configuration above gives it, not
# whatever the calling shell happens to export (BLOB_BACKEND, SKR_* ...).
# supervisord dies with this script (with-parent) and tells its programs its pid, which
# is this subshell's: exec keeps it.
(exec "$emu/with-parent" $$ -- env -i PATH="/usr/sbin:/usr/bin:/sbin:/bin" HOME="$S" LANG=C.UTF-8 \
	DEMO_SUPERVISORD_PID="$BASHPID" supervisord -n -c "$conf") &
sup=$!
stop() {
	trap - INT TERM EXIT
	# supervisord stops its programs; each lighttpd takes its FastCGI programs with it, and
	# anything whose parent dies on the way gets the kernel's parent-death signal.
	if kill -0 "$sup" 2>/dev/null; then
		kill -TERM "$sup" 2>/dev/null || true
		wait "$sup" 2>/dev/null || true
	fi
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

ready() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
deadline=$((SECONDS + ${DEMO_START_TIMEOUT:-60}))
# Azurite answers an anonymous request with an error status: any answer means it is up.
answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" != 000 ]; }
if [ "$blob_backend" = azurite ]; then
	until answers "http://127.0.0.1:$port_azurite/devstoreaccount1?comp=list"; do
		if ! kill -0 "$sup" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			echo "demo failed to start: Azurite did not answer; see $S/azure/log/azurite.out" >&2
			exit 1
		fi
		sleep 0.2
	done
fi
for url in "http://127.0.0.1:$port_maa/.well-known/openid-configuration" \
	"http://127.0.0.1:$port_contoso/health" "http://127.0.0.1:$port_fabrikam/health" \
	"http://127.0.0.1:$port_snooper/health" "http://127.0.0.1:$port_landing/"; do
	until ready "$url"; do
		if ! kill -0 "$sup" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			echo "demo failed to start: $url did not answer; see $S/*/log and $S/supervisord.log" >&2
			exit 1
		fi
		sleep 0.2
	done
done
cat <<EOT

  Confidential ACI demo (local, emulated TEE) is running:
    multi-party view   http://127.0.0.1:$port_landing/
    Contoso            http://127.0.0.1:$port_contoso/   (virtual SEV-SNP)
    Fabrikam           http://127.0.0.1:$port_fabrikam/   (virtual SEV-SNP)
    snooper            http://127.0.0.1:$port_snooper/   (standard hardware: no TEE)
    attestation svc    http://127.0.0.1:$port_maa/   (local stand-in for MAA)
    record store       $([ "$blob_backend" = azurite ] && echo "Azurite http://127.0.0.1:$port_azurite/devstoreaccount1/privateappdata" || echo "$S/blobs")
  State and logs: $S
  Press Ctrl-C to stop.

EOT
wait "$sup"
