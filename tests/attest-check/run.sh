#!/usr/bin/env bash
# attest-check, the relying party's verifier, against a local stack of its own and a hostile
# instance stub (stub.mjs): genuine instances pass only with the right policy and --allow-emulated;
# replayed, forged, unsigned, tampered and foreign tokens fail naming the check; usage errors exit 2,
# network and service errors 3; the page's "Verify This Instance Yourself" command works as shown.
# The stack runs on TEST_ATTEST_CHECK_PORT (default TEST_DEMO_PORT + 60, i.e. 18060, inside the
# port block a test run owns; the stub listens at +35).  Prints "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$repo/tests/lib.sh"
bin=${BUILD:-$repo/build}
AC=$bin/tools/attest-check
port=${TEST_ATTEST_CHECK_PORT:-$((${TEST_DEMO_PORT:-18000} + 60))}
stub_port=$((port + 35))
dead_port=$((port + 36))
state=$(mktemp -d /tmp/attest-check.XXXXXX)
chmod 755 "$state"
stack=
stub=
cleanup() {
	if [ -n "$stub" ]; then kill -TERM "$stub" 2>/dev/null; wait "$stub" 2>/dev/null; fi
	if [ -n "$stack" ]; then kill -TERM "$stack" 2>/dev/null; wait "$stack" 2>/dev/null; fi
	rm -rf "$state"
}
trap cleanup EXIT

[ -x "$AC" ] || { check "attest-check is built ($AC)" 1 "run make first"; summary; exit 1; }
for p in $stub_port $dead_port; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		check "port $p is free for the stub" 1 "something listens on 127.0.0.1:$p"
		summary
		exit 1
	fi
done

DEMO_PORT=$port DEMO_STATE_DIR=$state "$repo/scripts/run-local.sh" >"$state/stack.log" 2>&1 &
stack=$!
for _ in $(seq 1 300); do
	grep -q "is running" "$state/stack.log" 2>/dev/null && break
	kill -0 "$stack" 2>/dev/null || break
	sleep 0.2
done
up=$(grep -q "is running" "$state/stack.log"; echo $?)
check "the local stack starts on port $port" "$up" "$(tail -20 "$state/stack.log")"
[ "$up" -eq 0 ] || { summary; exit 1; }

C=http://127.0.0.1:$((port + 1))
F=http://127.0.0.1:$((port + 2))
S=http://127.0.0.1:$((port + 3))
MAA=http://127.0.0.1:$((port + 10))
ST=http://127.0.0.1:$stub_port
contoso_policy=$repo/emulator/policies/contoso.rego
contoso_hd=$(sha256sum "$contoso_policy" | cut -c1-64)
root=$state/public/virtual-ark.pem

out=
code=
# ac ARGS...: run attest-check from the repo root; output (stdout+stderr) in $out, status in $code.
ac() {
	out=$(cd "$repo" && "$AC" "$@" 2>&1)
	code=$?
}
# acj ARGS...: the same with --json; $out is the JSON document.
acj() {
	out=$(cd "$repo" && "$AC" --json "$@" 2>/dev/null)
	code=$?
}
is() { [ "$code" -eq "$1" ]; }
jqe() { jq -e "$1" <<<"$out" >/dev/null 2>&1; }
# failed_exactly a,b: the JSON's failed_checks are exactly these ids.
failed_exactly() { [ "$(jq -r '.failed_checks | join(",")' <<<"$out" 2>/dev/null)" = "$1" ]; }
detail() { echo "exit $code: $out"; }

# ---- genuine instances ----
ac --allow-emulated --policy emulator/policies/contoso.rego "$C"
check "Contoso, its policy, --allow-emulated: exit 0" "$(is 0; echo $?)" "$(detail)"
check "... the verdict says VERIFIED (EMULATED) and which policy form was read" \
	"$(grep -q '^VERIFIED (EMULATED): ' <<<"$out" && grep -q 'raw Rego text' <<<"$out" &&
		grep -q "$contoso_hd" <<<"$out"; echo $?)" "$out"
acj --allow-emulated --policy "$contoso_policy" "$C"
check "... --json: verdict, emulated, every check passed or accepted, verified claims" \
	"$(is 0 && jqe '.verdict == "VERIFIED (EMULATED)" and .verified and .emulated and .failed_checks == []
		and ([.checks[].status] | all(. == "pass" or . == "warn"))
		and (.checks[] | select(.id == "not_emulated") | .status == "warn")
		and .claims["x-ms-sevsnpvm-hostdata"] == "'"$contoso_hd"'"
		and (.claims["x-ms-runtime"].nonce == .nonce) and .policy.form == "raw Rego text"'; echo $?)" "$(detail)"

ac --policy emulator/policies/contoso.rego "$C"
check "Contoso without --allow-emulated: exit 1, EMULATED named, fix given" \
	"$(is 1 && grep -q '^NOT VERIFIED (EMULATED)' <<<"$out" && grep -q 'add --allow-emulated' <<<"$out"; echo $?)" "$(detail)"
acj --policy "$contoso_policy" "$C"
check "... --json names attestation_service and not_emulated" \
	"$(is 1 && failed_exactly attestation_service,not_emulated; echo $?)" "$(detail)"

acj --allow-emulated --expect-hostdata "$(printf '%064d' 0 | tr 0 a)" "$C"
check "wrong --expect-hostdata: exit 1, only hostdata fails" "$(is 1 && failed_exactly hostdata; echo $?)" "$(detail)"
ac --allow-emulated --expect-hostdata "$(printf '%064d' 0 | tr 0 a)" "$C"
check "... the table marks it and the verdict names it" \
	"$(grep -qE '✗  policy \(host_data\)' <<<"$out" && grep -q '1 check failed: hostdata' <<<"$out"; echo $?)" "$out"
acj --allow-emulated --expect-hostdata "$(tr a-f A-F <<<"$contoso_hd")" "$C"
check "the right --expect-hostdata (upper case): exit 0" "$(is 0; echo $?)" "$(detail)"

acj --allow-emulated --policy "$contoso_policy" "$F"
check "Fabrikam checked against Contoso's policy: exit 1, hostdata" "$(is 1 && failed_exactly hostdata; echo $?)" "$(detail)"
acj --allow-emulated --policy emulator/policies/fabrikam.rego "$F"
check "Fabrikam against its own policy: exit 0" "$(is 0; echo $?)" "$(detail)"

ac --allow-emulated --policy "$contoso_policy" "$S"
check "the snooper: exit 1 with its diagnosis (no TEE)" \
	"$(is 1 && grep -q 'No AMD SEV-SNP hardware' <<<"$out" && grep -q 'says (unverified)' <<<"$out"; echo $?)" "$(detail)"
acj --allow-emulated --policy "$contoso_policy" "$S"
check "... --json: token failed, the instance's error kept apart" \
	"$(is 1 && failed_exactly token && jqe '.instance_error.http_status == 503 and .claims == null'; echo $?)" "$(detail)"

ac --allow-emulated "$C"
check "no policy pinned: exit 1, says so plainly" \
	"$(is 1 && grep -q 'NOT pinned' <<<"$out" && grep -q 'not a full verification' <<<"$out" &&
		grep -q "$contoso_hd" <<<"$out"; echo $?)" "$(detail)"

# ---- the raw report ----
ac --raw --allow-emulated --emulated-root "$root" --policy "$contoso_policy" "$C"
check "--raw Contoso with the virtual root from the state dir: exit 0" \
	"$(is 0 && tr -s '\n ' ' ' <<<"$out" | grep -q 'raw report checks against the emulated root'; echo $?)" "$(detail)"
acj --raw --allow-emulated --emulated-root "$root" --policy "$contoso_policy" "$C"
check "... raw checks: report signature (emulated root), report_data bound, same launch" \
	"$(is 0 && jqe '((.checks | map({(.id): .status}) | add) | .raw_report == "warn"
		and .raw_report_data == "pass" and .same_launch == "pass")
		and .report_verification.verified and .report_verification.emulated_root'; echo $?)" "$(detail)"
acj --raw --allow-emulated --policy "$contoso_policy" "$C"
check "--raw without --emulated-root: the instance's own root is not trusted (raw_report)" \
	"$(is 1 && failed_exactly raw_report && jqe '.checks[] | select(.id == "raw_report") | .detail | test("--emulated-root")'; echo $?)" "$(detail)"
r=$(curl -s -X POST -d '{}' "$C/attest/raw")
check "/attest/raw answers vcek_chain_pem (VCEK, ASK, ARK)" \
	"$(jq -r .vcek_chain_pem <<<"$r" | grep -c 'BEGIN CERTIFICATE' | grep -qx 3; echo $?)" "$(head -c 400 <<<"$r")"

# ---- policy file forms ----
b64=$(base64 -w0 "$contoso_policy")
jq --arg p "$b64" '.resources[0].properties.confidentialComputeProperties.ccePolicy = $p' \
	"$repo/arm/aci-confidential.json" >"$state/template-contoso.json"
acj --allow-emulated --policy "$state/template-contoso.json" "$C"
check "--policy ARM template (ccePolicy filled in): exit 0, form and path named" \
	"$(is 0 && jqe '.policy.form == "ARM template/parameters JSON" and (.policy.where | test("confidentialComputeProperties.ccePolicy$"))'; echo $?)" "$(detail)"
jq -n --arg p "$b64" '{"$schema": "x", parameters: {ccePolicy: {value: $p}}}' >"$state/params.json"
acj --allow-emulated --policy "$state/params.json" "$C"
check "--policy ARM parameters file: exit 0" "$(is 0 && jqe '.policy.where == "parameters.ccePolicy.value"'; echo $?)" "$(detail)"
printf '%s\n' "$b64" >"$state/policy.b64"
acj --allow-emulated --policy "$state/policy.b64" "$C"
check "--policy base64 file: exit 0" "$(is 0 && jqe '.policy.form == "base64 policy"'; echo $?)" "$(detail)"
ac --allow-emulated --policy arm/aci-confidential.json "$C"
check "--policy a template acipolicygen has not filled: exit 2, says run acipolicygen" \
	"$(is 2 && grep -q 'is empty: run az confcom acipolicygen' <<<"$out"; echo $?)" "$(detail)"
jq '.resources[0].properties.confidentialComputeProperties.ccePolicy = "[parameters('"'"'ccePolicy'"'"')]"' \
	"$repo/arm/aci-confidential.json" >"$state/expr.json"
ac --allow-emulated --policy "$state/expr.json" "$C"
check "--policy with an ARM expression: exit 2, asks for the parameters file" \
	"$(is 2 && grep -q 'pass the parameters file' <<<"$out"; echo $?)" "$(detail)"
ac --allow-emulated --policy README.md "$C"
check "--policy a file that is no policy: exit 2" "$(is 2 && grep -q 'neither' <<<"$out"; echo $?)" "$(detail)"

# ---- a hostile instance ----
rt=$(printf '{"nonce":"%s","purpose":"captured"}' "$(openssl rand -hex 32)" | base64 -w0)
curl -s -X POST -d "{\"runtime_data\":\"$rt\"}" "$C/attest/maa" | jq -r .attestation_token >"$state/captured.jwt"
check "a real Contoso token is captured for an old nonce" "$(grep -qE '^ey[^.]+\.[^.]+\.[^.]+$' "$state/captured.jwt"; echo $?)" "$(head -c 200 "$state/captured.jwt")"
DEAD_PORT=$dead_port node "$repo/tests/attest-check/stub.mjs" "$stub_port" "$state/captured.jwt" "$C" "$F" >"$state/stub.log" 2>&1 &
stub=$!
for _ in $(seq 1 100); do
	curl -fs -o /dev/null "$ST/stats" 2>/dev/null && break
	sleep 0.1
done
check "the hostile stub starts" "$(curl -fs -o /dev/null "$ST/stats"; echo $?)" "$(cat "$state/stub.log")"

acj --allow-emulated --policy "$contoso_policy" "$ST/replay"
check "a replayed token (old nonce): exit 1, nonce and report_data" "$(is 1 && failed_exactly nonce,report_data; echo $?)" "$(detail)"
ac --allow-emulated --policy "$contoso_policy" "$ST/replay"
check "... says it is a replay" "$(grep -q 'replay' <<<"$out"; echo $?)" "$out"
acj --allow-emulated --policy "$contoso_policy" --maa "$MAA" "$ST/other-issuer"
check "a token from another issuer (--maa the real one): exit 1, issuer and signature" \
	"$(is 1 && failed_exactly signature,issuer; echo $?)" "$(detail)"
acj --allow-emulated --policy "$contoso_policy" "$ST/alg-none"
check "an alg none token: exit 1, algorithm" "$(is 1 && failed_exactly algorithm; echo $?)" "$(detail)"
acj --allow-emulated --policy "$contoso_policy" "$ST/tampered"
check "a tampered token (fresh claims, old signature): exit 1, signature" "$(is 1 && failed_exactly signature; echo $?)" "$(detail)"
before=$(curl -s "$ST/stats" | jq .certs)
acj --allow-emulated --policy "$contoso_policy" "$ST/jku-trap"
after=$(curl -s "$ST/stats" | jq .certs)
check "a token signed by another key with a jku to it: exit 1, signature; the jku is never fetched" \
	"$(is 1 && failed_exactly signature && [ "$before" = "$after" ]; echo $?)" "$(detail); certs fetched $before -> $after"
for mode in foreign lookalike with-port plain-http; do
	acj --allow-emulated --policy "$contoso_policy" "$ST/$mode"
	check "issuer outside the allowed hosts without --maa ($mode): exit 1, attestation_service" \
		"$(is 1 && failed_exactly attestation_service; echo $?)" "$(detail)"
done
ac --allow-emulated --policy "$contoso_policy" "$ST/escape"
check "control characters in an issuer never reach the terminal" \
	"$(is 1 && ! LC_ALL=C grep -q $'[\x1b\x07]' <<<"$out" && ! grep -q $'\xc2\x9b' <<<"$out"; echo $?)" "$(detail | od -c | head -5)"

# Tokens that verify (the stub is the trusted service with --maa), one claim wrong each.
acj --allow-emulated --maa "$ST" --policy "$contoso_policy" "$ST/valid"
check "control: a good token from the service named by --maa passes" "$(is 0; echo $?)" "$(detail)"
for pair in debug:debuggable no-debug-claim:debuggable cvm:compliance sgx:attestation_type \
	expired:validity old-evidence:report_data; do
	acj --allow-emulated --maa "$ST" --policy "$contoso_policy" "$ST/${pair%%:*}"
	check "a signed token with ${pair%%:*}: exit 1, ${pair#*:} only" "$(is 1 && failed_exactly "${pair#*:}"; echo $?)" "$(detail)"
done
acj --allow-emulated --policy "$contoso_policy" "$ST/no-token"
check "an answer without attestation_token: exit 1, token" "$(is 1 && failed_exactly token; echo $?)" "$(detail)"
acj --allow-emulated --policy "$contoso_policy" "$ST/garbage"
check "an attestation_token that is no JWT: exit 1, token" "$(is 1 && failed_exactly token; echo $?)" "$(detail)"
acj --raw --allow-emulated --emulated-root "$root" --policy "$contoso_policy" "$ST/mixed"
check "--raw: Contoso's token with Fabrikam's report: exit 1, same_launch" "$(is 1 && failed_exactly same_launch; echo $?)" "$(detail)"
acj --raw --allow-emulated --emulated-root "$root" --policy "$contoso_policy" "$ST/no-chain"
check "--raw: no vcek_chain_pem: exit 1, raw_report" "$(is 1 && failed_exactly raw_report; echo $?)" "$(detail)"

# ---- network and service errors: exit 3 ----
ac --allow-emulated --policy "$contoso_policy" "http://127.0.0.1:$dead_port"
check "an unreachable URL: exit 3, says check the URL" \
	"$(is 3 && grep -q '^COULD NOT VERIFY' <<<"$out" && grep -q 'check the URL' <<<"$out"; echo $?)" "$(detail)"
acj --allow-emulated --policy "$contoso_policy" "$ST/gateway"
check "the instance's attestation service timed out (504): exit 3" "$(is 3 && jqe '.verdict == "COULD NOT VERIFY"'; echo $?)" "$(detail)"
acj --allow-emulated --policy "$contoso_policy" "$ST/dead-maa"
check "the token's attestation service does not answer: exit 3" \
	"$(is 3 && jqe '.checks[] | select(.id == "attestation_service") | .status == "error"'; echo $?)" "$(detail)"

# ---- usage errors: exit 2 ----
usage_case() { # name expected-message args...
	local name=$1 msg=$2
	shift 2
	ac "$@"
	check "usage: $name: exit 2" "$(is 2 && grep -q -- "$msg" <<<"$out"; echo $?)" "$(detail)"
}
usage_case "no URL" "no URL"
usage_case "two URLs" "only one URL" "$C" "$F"
usage_case "--policy and --expect-hostdata" "not both" --policy "$contoso_policy" --expect-hostdata "$contoso_hd" "$C"
usage_case "bad hex" "not 64 hex digits" --expect-hostdata abc "$C"
usage_case "unknown option" "unknown option" --frobnicate "$C"
usage_case "option without its value" "needs a value" "$C" --policy
usage_case "missing policy file" "cannot read policy file" --policy /nonexistent/policy.json "$C"
usage_case "not an http URL" "must start with http" "ftp://example.com"
usage_case "--emulated-root without --allow-emulated" "needs --allow-emulated" --raw --emulated-root "$root" "$C"
usage_case "--emulated-root without --raw" "add --raw" --allow-emulated --emulated-root "$root" "$C"
usage_case "--maa over plain http to a remote host" "plain http" --maa http://maa.example.com "$C"
usage_case "--maa on loopback without --allow-emulated" "add --allow-emulated" --maa "$MAA" "$C"
usage_case "--timeout out of range" "between 1 and 300" --timeout 0 "$C"
ac --help
check "--help: exit 0 and explains the exit codes" "$(is 0 && grep -q '3 network or service error' <<<"$out"; echo $?)" "$(detail)"

# ---- the page's "Verify This Instance Yourself" box ----
cmds=$(cd "$repo/tests" && node --input-type=module -e "
import {verifyCommands} from '../www/verify.js';
for (const c of verifyCommands({url: '$C/', hostdata: '$contoso_hd', company: 'contoso', emulated: true}))
	console.log(c.command);")
check "verify.js builds the policy-file and the hash command for the local demo" \
	"$([ "$(wc -l <<<"$cmds")" -eq 2 ] && grep -qx "attest-check --allow-emulated --policy emulator/policies/contoso.rego $C" <<<"$cmds" &&
		grep -qx "attest-check --allow-emulated --expect-hostdata $contoso_hd $C" <<<"$cmds"; echo $?)" "$cmds"
azure=$(cd "$repo/tests" && node --input-type=module -e "
import {verifyCommands} from '../www/verify.js';
console.log(verifyCommands({url: 'http://demo1-contoso-1201.eastus.azurecontainer.io', hostdata: null, company: 'contoso', emulated: false})[0].command);")
check "verify.js: on Azure, the deployment's template and no --allow-emulated" \
	"$([ "$azure" = "attest-check --policy .deploy/<prefix>/template-contoso.json http://demo1-contoso-1201.eastus.azurecontainer.io" ]; echo $?)" "$azure"
if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
	shots=$repo/test-artifacts/attest-check
	page=$(cd "$repo/tests" && node attest-check/page.mjs "$C/" "$shots/verify-box-contoso.png" 2>&1)
	check "Contoso's page shows the box with its URL and policy hash, without page errors" \
		"$(jq -e --arg c "$C" --arg h "$contoso_hd" '.errors == [] and (.commands | length) == 2
			and (.commands[1] | contains($h) and endswith($c))' <<<"$page" >/dev/null; echo $?)" "$page"
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		read -r -a words <<<"$cmd"
		ac "${words[@]:1}"
		check "the page's command runs as shown: ${cmd:0:70}…" "$(is 0; echo $?)" "$(detail)"
	done < <(jq -r '.commands[]' <<<"$page" 2>/dev/null)
	page=$(cd "$repo/tests" && node attest-check/page.mjs "$S/" "$shots/verify-box-snooper.png" 2>&1)
	check "the snooper's page says it cannot attest and still shows the command" \
		"$(jq -e '.errors == [] and (.commands | length) == 1 and (.text | test("could not attest"))' <<<"$page" >/dev/null; echo $?)" "$page"
else
	check "chromium is installed (scripts/deps.sh installs it)" 1 "no ${CHROMIUM_PATH:-/usr/bin/chromium}"
fi

summary
