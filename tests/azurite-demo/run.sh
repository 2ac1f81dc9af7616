#!/usr/bin/env bash
# `make run BLOB_BACKEND=azurite`: the local demo with its record store in Azurite, reached through the
# same Azure Blob REST client the containers use on Azure.  Starts its own stack on TEST_AZURITE_PORT
# (default 18900), releases Contoso's key, imports its CSV, and reads the blob as the snooper.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$repo/tests/lib.sh"
port=${TEST_AZURITE_PORT:-18900}
state=$(mktemp -d /tmp/azurite-demo.XXXXXX)
BLOB_BACKEND=azurite DEMO_PORT=$port DEMO_STATE_DIR=$state "$repo/scripts/run-local.sh" >"$state/stack.log" 2>&1 &
stack=$!
cleanup() {
	kill -TERM "$stack" 2>/dev/null
	wait "$stack" 2>/dev/null
	rm -rf "$state"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
	grep -q "is running" "$state/stack.log" 2>/dev/null && break
	kill -0 "$stack" 2>/dev/null || break
	sleep 0.2
done
up=$(grep -q "is running" "$state/stack.log"; echo $?)
check "the demo starts with BLOB_BACKEND=azurite" "$up" "$(tail -20 "$state/stack.log")"
[ "$up" -eq 0 ] || { summary; exit 1; }
check "the banner names Azurite as the record store" "$(grep -q 'record store.*Azurite' "$state/stack.log"; echo $?)" ""

c=http://127.0.0.1:$((port + 1))
s=http://127.0.0.1:$((port + 3))
r=$(curl -s -X POST -d '' "$c/skr/release")
check "contoso releases its key" "$(jq -e '.status == "success"' <<<"$r" >/dev/null; echo $?)" "$r"
r=$(curl -s -X POST -d '' "$c/company/populate")
check "contoso imports 9 records into Azurite" "$(jq -e '.records_added == 9 and .destination == .blob_name and (.destination_url | contains(":'$((port + 30))'/devstoreaccount1/"))' <<<"$r" >/dev/null; echo $?)" "$r"
r=$(curl -s "$s/storage/config")
check "storage config names Azurite's account and shows no key" \
	"$(jq -e '.storage_account == "devstoreaccount1"' <<<"$r" >/dev/null && ! grep -q 'Eby8vdM02' <<<"$r"; echo $?)" "$r"
r=$(curl -s "$s/storage/download/consolidated-records-local-demo.json")
check "the snooper reads the blob from Azurite: 9 records, ciphertext only" \
	"$(jq -e '(.content | fromjson | length) == 9' <<<"$r" >/dev/null && ! grep -q 'Emma Richardson' <<<"$r"; echo $?)" "$(head -c 600 <<<"$r")"
r=$(curl -s "$c/company/list")
check "contoso lists its 9 records from Azurite" "$(jq -e '.record_count == 9' <<<"$r" >/dev/null; echo $?)" "$(head -c 600 <<<"$r")"
summary
