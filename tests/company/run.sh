#!/usr/bin/env bash
# fcgi-bin/company run as plain CGI, without the stack: a key placed in custody by a small helper
# (keytool.c, built here against libdemo.a), records in a temporary blob directory, and an Azure
# blob store that is down.  Prints "N passed, N failed"; exits non-zero on a failure.
set -uo pipefail
export LC_ALL=C # ${#body} must count bytes
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD:-$repo/build}
C=$bin/fcgi-bin/company
tmp=$(mktemp -d /tmp/company-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$repo/tests/lib.sh"
for f in "$C" "$bin/libdemo.a"; do
	[ -e "$f" ] || { echo "missing $f: run make first"; echo "0 passed, 1 failed"; exit 1; }
done
command -v jq >/dev/null || { echo "jq is required"; echo "0 passed, 1 failed"; exit 1; }

cc -std=c11 -D_GNU_SOURCE -I"$repo/lib" -o "$tmp/keytool" "$repo/tests/company/keytool.c" \
	"$bin/libdemo.a" -lfcgi -lcurl -ljson-c -lssl -lcrypto -lpthread ||
	{ echo "cannot build keytool"; echo "0 passed, 1 failed"; exit 1; }

mkdir -p "$tmp/log" "$tmp/state" "$tmp/blobs" "$tmp/data" "$tmp/nodata"
chmod 700 "$tmp/state"
cp "$repo/data/contoso-data.csv" "$tmp/data/"
BASE_ENV=(LOG_DIR="$tmp/log" LOG_FILE="$tmp/log/app.log" STATE_DIR="$tmp/state"
	DATA_DIR="$tmp/data" RESOURCE_GROUP_NAME=t SKR_MAA_ENDPOINT=http://127.0.0.1:1
	SKR_SIDECAR_URL=http://127.0.0.1:1 IMDS_ENDPOINT=http://127.0.0.1:1 SNP_EVIDENCE=none)
EXTRA_ENV=(COMPANY_NAME=contoso SKR_KEY_NAME=contoso-secret-key BLOB_BACKEND=dir BLOB_DIR="$tmp/blobs")
blob=$tmp/blobs/consolidated-records-t.json

# cgi METHOD URI [BODY]: the whole response (headers + body).
cgi() { cgi_request "$C" "$@"; }
keytool() { env -i PATH="$PATH" "${BASE_ENV[@]}" "$tmp/keytool" "$@"; }
# expect NAME STATUS JQ-FILTER RESPONSE: status matches and the body satisfies the filter.
expect() {
	local st
	st=$(status_of <<<"$4")
	check "$1" "$([ "$st" = "$2" ] && body_of <<<"$4" | jq -e "$3" >/dev/null 2>&1; echo $?)" "$4"
}
is_error='.status == "error" and (.message | type == "string" and length > 0)'

# ---- before any key is released ----
r=$(cgi GET /company/info)
expect "info names the configured company, no key yet" 200 \
	'.company == "contoso" and .key_name == "contoso-secret-key" and .key_released == false and .data_file == "contoso-data.json"' "$r"
r=$(cgi POST /company/save '{"name":"Alice","phone":"123"}')
expect "save without a released key is 400" 400 "$is_error"' and (.message | test("No key released"))' "$r"
r=$(cgi POST /company/populate '')
expect "populate without a released key is 400" 400 "$is_error"' and (.message | test("No key released"))' "$r"
r=$(cgi GET /company/list)
expect "list with no record file is 200 and empty" 200 \
	'.status == "success" and .record_count == 0 and .records == [] and (.message | length > 0)' "$r"
check "nothing written before a key is released" "$([ ! -e "$blob" ]; echo $?)" "$(ls -la "$tmp/blobs")"

keytool store >/dev/null || { echo "keytool store failed"; echo "$passed passed, $((failed + 1)) failed"; exit 1; }

# ---- saving and listing ----
r=$(cgi GET /company/info)
expect "info: key_released after custody holds a key" 200 '.key_released == true' "$r"
r=$(cgi POST /company/save '{"name":"Alice Example","phone":"+1 555-0100"}')
expect "save is 200 with the original's fields" 200 \
	'.status == "success" and .company == "contoso" and .blob_name == "consolidated-records-t.json" and .record_count == 1 and (.message | test("Data saved to consolidated-records-t.json")) and (.note | length > 0)' "$r"
check "the record file holds no plaintext" \
	"$(! grep -q -e 'Alice' -e '555-0100' "$blob"; echo $?)" "$(cat "$blob" 2>&1)"
check "the record file has the original's shape" \
	"$(jq -e 'length == 1 and (.[0] | keys == ["company","name_encrypted","phone_encrypted","seq","timestamp"]) and .[0].seq == 1 and .[0].company == "contoso" and (.[0].timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and (.[0].name_encrypted | test("^[A-Za-z0-9+/]{342}==$"))' "$blob" >/dev/null; echo $?)" "$(cat "$blob")"
check "the record file is indented like json.dumps(indent=2)" \
	"$(head -c 7 "$blob" | od -c | grep -q '\[  \\n   *{' || [ "$(sed -n 2p "$blob")" = "  {" ]; echo $?)" "$(head -3 "$blob")"
got=$(keytool decrypt "$(jq -r '.[0].name_encrypted' "$blob")")
check "the stored name decrypts with the released key" "$([ "$got" = "Alice Example" ]; echo $?)" "$got"
got=$(keytool decrypt "$(jq -r '.[0].phone_encrypted' "$blob")")
check "the stored phone decrypts with the released key" "$([ "$got" = "+1 555-0100" ]; echo $?)" "$got"
r=$(cgi POST /company/save '{"name":"Only Name"}')
expect "save with only a name is 200; phone stored as null" 200 '.record_count == 2' "$r"
check "an empty phone is JSON null" "$(jq -e '.[1].phone_encrypted == null' "$blob" >/dev/null; echo $?)" "$(cat "$blob")"
long=$(printf 'é%.0s' $(seq 1 128)) # 256 bytes: above the one-block limit, so the envelope format
r=$(cgi POST /company/save "{\"name\":\"$long\",\"phone\":\"1\"}")
expect "a 256-byte UTF-8 name is accepted" 200 '.record_count == 3' "$r"
got=$(keytool decrypt "$(jq -r '.[2].name_encrypted' "$blob")")
check "the 256-byte name round-trips (envelope format)" \
	"$([ "$got" = "$long" ] && jq -e '.[2].name_encrypted | startswith("env1:")' "$blob" >/dev/null; echo $?)" "$got"

# ---- bad input: 400 JSON, nothing written ----
sum=$(sha256sum "$blob")
bad() { # name body
	local r
	r=$(cgi POST /company/save "$2")
	expect "save rejects $1 with 400" 400 "$is_error" "$r"
}
bad "malformed JSON" '{"name":'
bad "a JSON array body" '["name"]'
bad "a 10 KB name" "{\"name\":\"$(head -c 10240 /dev/zero | tr '\0' a)\",\"phone\":\"1\"}"
bad "a 257-byte name" "{\"name\":\"$(head -c 257 /dev/zero | tr '\0' a)\"}"
bad "both fields empty" '{"name":"","phone":""}'
bad "no fields" '{}'
bad "a non-string name" '{"name":42,"phone":"1"}'
bad "a non-string phone" '{"name":"x","phone":["1"]}'
bad "a control character" '{"name":"a\u0001b"}'
bad "a newline" '{"name":"a\nb"}'
bad "a C1 control character" '{"name":"a\u0085b"}'
bad "an escaped NUL" '{"name":"a\u0000b"}'
bad "a lone high surrogate" '{"name":"a\ud800b"}'
bad "a lone low surrogate" '{"name":"a\udc00b"}'
bad "a high surrogate before a non-surrogate" '{"name":"a\ud800\u0041"}'
bad "invalid UTF-8 bytes" "$(printf '{"name":"a\xff\xfeb"}')"
bad "an overlong UTF-8 form" "$(printf '{"name":"a\xc0\xafb"}')"
check "rejected input wrote nothing" "$([ "$(sha256sum "$blob")" = "$sum" ]; echo $?)" ""
r=$(cgi GET /company/save)
expect "GET /company/save is 405" 405 "$is_error" "$r"

# ---- populate ----
r=$(cgi POST /company/populate '')
expect "populate is 200 with the original's fields" 200 \
	'.status == "success" and .company == "contoso" and .records_added == 9 and .total_records == 12 and .message == "Populated 9 records from contoso-data.csv" and .source_file == "contoso-data.csv" and .destination == "consolidated-records-t.json" and (.destination_url | length > 0) and (.note | length > 0)' "$r"
check "populate wrote no plaintext" \
	"$(! grep -q -e 'Emma' -e 'Richardson' -e '415-782' "$blob"; echo $?)" ""
ok=0
for i in $(seq 0 8); do
	want_name=$(jq -Rr 'split(",")[0]' <<<"$(sed -n "$((i + 2))p" "$tmp/data/contoso-data.csv")")
	got=$(keytool decrypt "$(jq -r ".[$((i + 3))].name_encrypted" "$blob")")
	[ "$got" = "$want_name" ] || { ok=1; echo "  row $i: '$got' != '$want_name'"; }
done
check "every populated name decrypts to the CSV's name, in order" "$ok" ""
want=$(tail -n +2 "$tmp/data/contoso-data.csv" | tr -d '\r' | cut -d, -f2- | sed 's/^"//; s/"$//')
got=$(for i in $(seq 3 11); do keytool decrypt "$(jq -r ".[$i].phone_encrypted" "$blob")"; done)
check "every populated phone decrypts to the CSV's phone" "$([ "$got" = "$want" ]; echo $?)" "$got"
r=$(cgi GET /company/list)
expect "list shows this company's records with 1-based line numbers" 200 \
	'.record_count == 12 and .total_records_in_file == 12 and ([.records[].line_number] == [range(1;13)]) and (.records[0] | has("name_encrypted") and has("timestamp")) and .key_released == true and (.full_blob_url | test("sig=") | not) and .blob_name == "consolidated-records-t.json" and .limit == 100 and .next == null' "$r"
expect "imported rows name their CSV file and line, nothing else" 200 \
	'[.records[] | select(.source) | .source] == [range(2;11) | "contoso-data.csv:\(.)"] and ([.records[] | keys[]] | unique) - ["company","line_number","name_encrypted","phone_encrypted","source","timestamp"] == []' "$r"
r=$(cgi POST /company/populate '')
expect "importing the same CSV again adds nothing" 200 \
	'.records_added == 0 and .already_imported == 9 and .import_complete == true and .total_records == 12 and (.message | test("Nothing new"))' "$r"
check "the second import wrote no record" "$(jq -e 'length == 12' "$blob" >/dev/null; echo $?)" ""
r=$(cgi GET '/company/list?limit=5')
next=$(body_of <<<"$r" | jq -r .next)
expect "a page of 5 with a cursor" 200 '([.records[].line_number] == [1,2,3,4,5]) and .limit == 5 and (.next | type == "string") and .total_records_in_file == 12' "$r"
r=$(cgi GET "/company/list?limit=5&after=$next")
next=$(body_of <<<"$r" | jq -r .next)
expect "the next page continues after the cursor" 200 '[.records[].line_number] == [6,7,8,9,10]' "$r"
r=$(cgi GET "/company/list?after=$next")
expect "the last page ends with next null" 200 '[.records[].line_number] == [11,12] and .next == null' "$r"
r=$(cgi GET '/company/list?decrypt=own&limit=4')
expect "decrypt=own answers own rows in plaintext" 200 \
	'(.records | length) == 4 and .records[0].decrypted == true and .records[0].name == "Alice Example" and .records[0].phone == "+1 555-0100" and .records[1].name == "Only Name" and .records[1].phone == null' "$r"
for q in limit=0 limit=501 limit=x 'limit=1&limit=2' after=bogus after=r0 decrypt=yes; do
	r=$(cgi GET "/company/list?$q")
	expect "list?$q is 400 JSON" 400 "$is_error" "$r"
done

# Another company's records are counted in the file but not listed.
EXTRA_ENV=(COMPANY_NAME=fabrikam BLOB_BACKEND=dir BLOB_DIR="$tmp/blobs")
r=$(cgi GET /company/list)
expect "another company sees none of these records, but the file total" 200 \
	'.company == "fabrikam" and .record_count == 0 and .total_records_in_file == 12' "$r"
r=$(cgi GET '/company/list?decrypt=own')
expect "decrypt=own elsewhere: every row not_ours, no plaintext" 200 \
	'[.records[] | select(.decrypted == false and .reason == "not_ours" and (has("name") | not))] | length == 12' "$r"
r=$(cgi POST /company/clear '')
expect "clear by another company removes nothing of contoso's" 200 '.status == "success" and .company == "fabrikam" and .records_removed == 0 and .total_records == 12' "$r"
EXTRA_ENV=(SKR_KEY_NAME=fabrikam-secret-key BLOB_BACKEND=dir BLOB_DIR="$tmp/blobs")
r=$(cgi GET /company/info)
expect "without COMPANY_NAME the key-name rule decides" 200 '.company == "fabrikam"' "$r"
EXTRA_ENV=(BLOB_BACKEND=dir BLOB_DIR="$tmp/blobs")
r=$(cgi POST /company/save '{"name":"x"}')
expect "no company configured: save is 500 (a server misconfiguration) naming COMPANY_NAME" 500 "$is_error"' and (.message | test("COMPANY_NAME"))' "$r"
r=$(cgi GET /company/list)
expect "no company configured: list is 500" 500 "$is_error" "$r"
r=$(cgi POST /company/populate '')
expect "no company configured: populate is 500" 500 "$is_error" "$r"

# ---- CSV problems ----
EXTRA_ENV=(COMPANY_NAME=contoso BLOB_BACKEND=dir BLOB_DIR="$tmp/blobs")
sum=$(sha256sum "$blob")
BASE_ENV+=(DATA_DIR="$tmp/nodata")
r=$(cgi POST /company/populate '')
expect "populate with no CSV is 404" 404 "$is_error"' and (.message | test("contoso-data.csv"))' "$r"
printf 'name,phone\nGood Row,1\nBad "Row,2\nNext,3\n' >"$tmp/nodata/contoso-data.csv"
r=$(cgi POST /company/populate '')
expect "a bad CSV row is reported with its line number" 422 "$is_error"' and (.message | test("line 3"))' "$r"
printf 'name,phone\nGood Row,1\nToo,many,fields\n' >"$tmp/nodata/contoso-data.csv"
r=$(cgi POST /company/populate '')
expect "a row with too many fields is reported with its line number" 422 "$is_error"' and (.message | test("line 3"))' "$r"
printf 'name,phone\nGood Row,1\n"Multi\nLine",2\n' >"$tmp/nodata/contoso-data.csv"
r=$(cgi POST /company/populate '')
expect "a control character in a CSV cell is reported with its line" 422 "$is_error"' and (.message | test("line 3"))' "$r"
printf 'name,phone\n' >"$tmp/nodata/contoso-data.csv"
r=$(cgi POST /company/populate '')
expect "an empty CSV is 400" 400 "$is_error" "$r"
check "no bad CSV wrote anything" "$([ "$(sha256sum "$blob")" = "$sum" ]; echo $?)" ""
BASE_ENV+=(DATA_DIR="$tmp/data")
r=$(cgi POST /company/save '{"name":"back\\ud800slash \ud83d\ude00","phone":"1"}')
expect "an escaped backslash before 'u' and a surrogate pair are fine" 200 '.status == "success"' "$r"
got=$(keytool decrypt "$(jq -r '.[-1].name_encrypted' "$blob")")
check "and round-trip" "$([ "$got" = "$(printf 'back\\ud800slash \xf0\x9f\x98\x80')" ]; echo $?)" "$got"

# ---- clear ----
printf '[\n  {\n    "timestamp": "2026-01-01T00:00:00Z",\n    "company": "fabrikam",\n    "name_encrypted": "QQ==",\n    "phone_encrypted": null\n  }\n]' >"$tmp/other.json"
jq --slurpfile o "$tmp/other.json" '. + $o[0]' "$blob" >"$tmp/mixed.json" && cat "$tmp/mixed.json" >"$blob"
r=$(cgi POST /company/clear '')
expect "clear removes exactly this company's rows" 200 '.status == "success" and .company == "contoso" and .records_removed == 13 and .total_records == 1' "$r"
check "what is left is the other company's row" "$(jq -e 'length == 1 and .[0].company == "fabrikam" and .[0].name_encrypted == "QQ=="' "$blob" >/dev/null; echo $?)" "$(cat "$blob")"
r=$(cgi POST /company/populate '')
expect "after a clear the CSV imports again" 200 '.records_added == 9 and .total_records == 10' "$r"
r=$(cgi GET /company/clear)
expect "GET /company/clear is 405" 405 "$is_error" "$r"

# ---- a corrupt record file is never overwritten ----
for corrupt in '[{"company":"contoso",' '42' '[1,2]' ''; do
	printf '%s' "$corrupt" >"$blob"
	cp "$blob" "$tmp/before"
	r=$(cgi POST /company/save '{"name":"Must Not Land","phone":"1"}')
	st=$(status_of <<<"$r")
	check "save on a corrupt record file ('$corrupt') fails" \
		"$([ "$st" -ge 400 ] 2>/dev/null && body_of <<<"$r" | jq -e "$is_error" >/dev/null; echo $?)" "$r"
	r=$(cgi POST /company/populate '')
	st2=$(status_of <<<"$r")
	r2=$(cgi GET /company/list)
	st3=$(status_of <<<"$r2")
	st4=$(status_of <<<"$(cgi POST /company/clear '')")
	check "populate, list and clear on it fail too ($st2, $st3, $st4)" \
		"$([ "$st2" -ge 400 ] && [ "$st3" -ge 400 ] && [ "$st4" -ge 400 ]; echo $?)" "$r $r2"
	check "the corrupt file is byte-for-byte unchanged" "$(cmp -s "$blob" "$tmp/before"; echo $?)" \
		"$(od -c "$blob" | head -5)"
done

# ---- the blob store is down: 503, nothing written ----
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
EXTRA_ENV=(COMPANY_NAME=contoso BLOB_BACKEND=azure
	AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;")
before=$(find "$tmp" -path "$tmp/log" -prune -o -type f -newer "$tmp/before" -print | sort)
r=$(cgi POST /company/save '{"name":"Down Test","phone":"1"}')
expect "save with the blob store down is 503 with a clear message" 503 \
	"$is_error"' and (.message | test("unavailable|connect|reach|down"; "i")) and (.message | test("nothing written"; "i"))' "$r"
r=$(cgi POST /company/populate '')
expect "populate with the blob store down is 503" 503 \
	"$is_error"' and (.message | test("unavailable|connect|reach|down"; "i"))' "$r"
r=$(cgi GET /company/list)
expect "list with the blob store down is 503" 503 "$is_error" "$r"
r=$(cgi POST /company/clear '')
expect "clear with the blob store down is 503" 503 "$is_error" "$r"
check "the 503 does not leak the account key" "$(! grep -q "$key" <<<"$r"; echo $?)" "$r"
after=$(find "$tmp" -path "$tmp/log" -prune -o -type f -newer "$tmp/before" -print | sort)
check "nothing was written while the store was down" "$([ "$before" = "$after" ]; echo $?)" "$after"

# ---- secrets and plaintext stay out of the log ----
check "the log holds no plaintext name or phone" \
	"$(! grep -q -e 'Alice' -e '555-0100' -e 'Emma' -e 'Must Not Land' "$tmp/log/app.log"; echo $?)" \
	"$(grep -e 'Alice' -e 'Emma' "$tmp/log/app.log" | head -3)"

summary
