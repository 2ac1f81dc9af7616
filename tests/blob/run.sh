#!/usr/bin/env bash
# Blob-store contract suite: one C program (tests/blob/contract.c), the same checks run
# against the directory backend and against Azurite (Azure Blob REST, SharedKey and SAS).
# Only loopback traffic.  Prints "N passed, N failed" and exits non-zero on failure.
#   BUILD=dir (default build/) selects where libdemo.a and the test binary go.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
build=${BUILD:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
work=$(mktemp -d /tmp/blob-contract.XXXXXX)
azurite_pid=""
cleanup() {
	if [ -n "$azurite_pid" ]; then
		kill -TERM "$azurite_pid" 2>/dev/null
		wait "$azurite_pid" 2>/dev/null
	fi
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
tally() { # name log status
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	p=$(echo "$line" | awk '{print $1}')
	f=$(echo "$line" | awk '{print $3}')
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$3" -ne 0 ]; then
		echo "FAIL $1"
		sed 's/^/    /' "$2"
	else
		echo "ok   $1 ($p passed)"
	fi
}

# Build the library with the Makefile, then the contract program against it.
if ! make -s BUILD="$build" "$build/libdemo.a" >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi
bin=$build/tests/blob_contract
mkdir -p "$(dirname "$bin")"
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Ilib -Itests/unit \
	-o "$bin" tests/blob/contract.c "$build/libdemo.a" \
	-lfcgi -lcurl -ljson-c -lexpat -lssl -lcrypto -lpthread >"$work/cc.log" 2>&1; then
	cat "$work/cc.log"
	echo "0 passed, 1 failed"
	exit 1
fi

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# An account SAS for devstoreaccount1 (blob service; container and object; read, write,
# list, create) valid for 30 days, signed as Azure does for sv >= 2020-12-06.
make_sas() { # key
	SAS_KEY=$1 node -e '
const c = require("crypto");
const st = new Date(Date.now() - 300e3).toISOString().replace(/\.\d+Z$/, "Z");
const se = new Date(Date.now() + 30 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z");
const f = { sv: "2021-08-06", ss: "b", srt: "sco", sp: "rwdlac", st, se, spr: "https,http" };
const sts = ["devstoreaccount1", f.sp, f.ss, f.srt, f.st, f.se, "", f.spr, f.sv, "", ""].join("\n");
const sig = c.createHmac("sha256", Buffer.from(process.env.SAS_KEY, "base64")).update(sts).digest("base64");
const q = Object.entries(f).map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
console.log(q + "&sig=" + encodeURIComponent(sig));'
}

# Settings the programs would otherwise take from a developer's environment.
unset AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_ACCOUNT_URL STORAGE_CONTAINER BLOB_DIR
export LOG_FILE=$work/log STATE_DIR=$work/state

# 1. directory backend
# The 2x16-writer record load runs for LOAD_SECONDS on the directory store and on Azurite (SharedKey).
load=${LOAD_SECONDS:-10}
BLOB_BACKEND=dir BLOB_DIR=$work/blobs CONTRACT_PREFIX=dir CONTRACT_LOAD_SECONDS=$load timeout 120 "$bin" >"$work/dir.log" 2>&1
tally "contract/dir" "$work/dir.log" $?

# 2. Azurite, SharedKey and then SAS
azurite=$repo/tests/node_modules/.bin/azurite-blob
if [ ! -x "$azurite" ]; then
	echo "FAIL contract/azurite: $azurite missing (run scripts/deps.sh)"
	failed=$((failed + 1))
else
	port=$(free_port)
	down_port=$(free_port)
	# From the scratch directory, so nothing it may write lands in the tree.
	(cd "$work" && exec "$azurite" --silent --inMemoryPersistence --skipApiVersionCheck \
		--disableProductStyleUrl --disableTelemetry \
		--blobHost 127.0.0.1 --blobPort "$port") >"$work/azurite.log" 2>&1 &
	azurite_pid=$!
	up=0
	for _ in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
		kill -0 "$azurite_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ $up -eq 0 ]; then
		echo "FAIL contract/azurite: Azurite did not start"
		cat "$work/azurite.log"
		failed=$((failed + 1))
	else
		key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
		conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
		down="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$down_port/devstoreaccount1;"
		BLOB_BACKEND=azure AZURE_STORAGE_CONNECTION_STRING=$conn STORAGE_CONTAINER=privateappdata \
			CONTRACT_PREFIX=sharedkey CONTRACT_DOWN_CONN=$down CONTRACT_LOAD_SECONDS=$load timeout 120 "$bin" \
			>"$work/azurite.log.1" 2>&1
		tally "contract/azurite-sharedkey" "$work/azurite.log.1" $?
		# A SAS connection string (the original's form), with a trailing part after the SAS.
		sas=$(make_sas "$key" 2>"$work/sas.err")
		if [ -z "$sas" ]; then
			echo "FAIL contract/azurite-sas: cannot make a SAS"
			cat "$work/sas.err"
			failed=$((failed + 1))
		else
			sconn="BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;SharedAccessSignature=$sas;AccountName=devstoreaccount1"
			BLOB_BACKEND=azure AZURE_STORAGE_CONNECTION_STRING=$sconn \
				STORAGE_CONTAINER=privateappdata CONTRACT_PREFIX=sas \
				CONTRACT_DOWN_CONN=$down timeout 60 "$bin" >"$work/azurite.log.2" 2>&1
			tally "contract/azurite-sas" "$work/azurite.log.2" $?
		fi
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
