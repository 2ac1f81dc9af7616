#!/usr/bin/env bash
# Throughput and latency of the endpoints that exist, on loopback, bounded in time.
# Starts its own local stack (DEMO_PORT default 19000), runs wrk against each endpoint for
# BENCH_SECONDS (default 5) with BENCH_CONNECTIONS (default 8), prints req/s, p50 and p99,
# and the resident memory of the FastCGI programs afterwards.  Not part of `make test`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
port=${DEMO_PORT:-19000}
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNECTIONS:-8}
state=$(mktemp -d /tmp/demo-bench.XXXXXX)
command -v wrk >/dev/null || { echo "wrk is not installed: run scripts/deps.sh" >&2; exit 1; }

DEMO_PORT=$port DEMO_STATE_DIR=$state "$repo/scripts/run-local.sh" >"$state/stack.log" 2>&1 &
stack=$!
trap 'kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 1 300); do grep -q "is running" "$state/stack.log" && break; sleep 0.2; done
grep -q "is running" "$state/stack.log" || { cat "$state/stack.log"; exit 1; }

contoso="http://127.0.0.1:$((port + 1))"
lua=$(mktemp /tmp/bench.XXXXXX.lua)
cat >"$lua" <<'LUA'
local method, body = os.getenv("BENCH_METHOD"), os.getenv("BENCH_BODY")
wrk.method = method
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.2f %.2f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
LUA
printf '%-32s %10s %10s %10s %8s\n' endpoint req/s p50_ms p99_ms non2xx
bench() { # method path body
	local out
	out=$(BENCH_METHOD=$1 BENCH_BODY=${3:-} wrk -t2 -c"$conns" -d"${secs}s" -s "$lua" "$contoso$2" 2>&1 | grep '^RESULT' || true)
	read -r _ rps p50 p99 errs <<<"$out"
	printf '%-32s %10s %10s %10s %8s\n' "$1 $2" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${errs:-?}"
}
# A released key and some records, so the key and storage endpoints do real work.
curl -fsS -o /dev/null -X POST -d '' "$contoso/skr/release"
curl -fsS -o /dev/null -X POST -d '' "$contoso/company/populate"
ct=$(curl -fsS -X POST -H 'content-type: application/json' -d '{"plaintext":"Emma Richardson"}' \
	"$contoso/encrypt" | sed -n 's/.*"ciphertext": *"\([^"]*\)".*/\1/p')

bench GET /health
bench GET /skr/config
bench GET /skr/key-status
bench POST /attest/raw '{"runtime_data":"YmVuY2g="}'
bench POST /attest/maa '{"runtime_data":"YmVuY2g="}'
bench GET /info
bench GET /container/info
bench POST /encrypt '{"plaintext":"Emma Richardson +1 415-782-3491"}'
bench POST /decrypt "{\"ciphertext\":\"$ct\"}"
bench GET /storage/list
bench GET /company/list
bench POST /company/save '{"name":"Bench Mark","phone":"+1 555 0100"}'
bench POST /skr/release '{}'
rm -f "$lua"
echo
echo "resident memory (RSS, KiB) of the FastCGI programs after the run:"
pgrep -af "$state/app/fcgi-bin" >/dev/null 2>&1 || true
for p in $(pgrep -f "fcgi-bin/(attest|skr|storage|company)" || true); do
	if grep -q "$state" "/proc/$p/environ" 2>/dev/null; then
		printf '  %-10s pid %-7s %s\n' "$(basename "$(readlink "/proc/$p/exe")")" "$p" "$(awk '/VmRSS/ {print $2}' "/proc/$p/status")"
	fi
done
