#!/usr/bin/env bash
# Chaos suite: a stack of its own (scripts/run-local.sh on TEST_CHAOS_PORT, default
# TEST_DEMO_PORT + 100 = 18100, ports +0..+22, loopback only) with HTTP_TIMEOUT_SECONDS=2, and
# tests/chaos/chaos.mjs's fault campaign against it: kill -9 of every kind of process under a
# light load, SIGSTOP of every upstream, the bad inputs, the record file, and kill -9 of
# supervisord last.  Bounded: the stack gets 60 s to start, the campaign 150 s; about 60 s in all.
# Prints "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
P=${TEST_CHAOS_PORT:-$((${TEST_DEMO_PORT:-18000} + 100))}
state=$(mktemp -d /tmp/chaos-stack.XXXXXX)
chmod 755 "$state"
log=$state.log
stack=""
# shellcheck disable=SC2317 # reached through the trap below
cleanup() {
	if [ -n "$stack" ] && kill -0 "$stack" 2>/dev/null; then
		kill -TERM "$stack" 2>/dev/null
		wait "$stack" 2>/dev/null
	fi
	rm -rf "$state" "$log"
}
trap cleanup EXIT

t0=$SECONDS
HTTP_TIMEOUT_SECONDS=2 REQUEST_TIMEOUT_SECONDS=8 DEMO_PORT=$P DEMO_STATE_DIR=$state \
	BUILD=${BUILD:-$repo/build} "$repo/scripts/run-local.sh" >"$log" 2>&1 &
stack=$!
up=0
for _ in $(seq 1 300); do
	if grep -q "is running" "$log" 2>/dev/null; then up=1; break; fi
	kill -0 "$stack" 2>/dev/null || break
	sleep 0.2
done
if [ $up -eq 0 ]; then
	echo "FAIL the chaos stack did not start on port $P:"
	tail -n 30 "$log"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "# stack up in $((SECONDS - t0)) s"
CHAOS_PORT=$P CHAOS_STATE=$state HTTP_TIMEOUT_SECONDS=2 timeout 150 node "$repo/tests/chaos/chaos.mjs"
rc=$?
# The campaign ends by killing supervisord: run-local.sh must then have ended by itself.
for _ in $(seq 1 50); do kill -0 "$stack" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$stack" 2>/dev/null; then
	echo "FAIL run-local.sh still runs after its supervisord was killed"
	rc=1
fi
echo "# chaos suite took $((SECONDS - t0)) s"
[ $rc -eq 124 ] && echo "FAIL the campaign did not finish within 150 s" && echo "0 passed, 1 failed"
if [ $rc -ne 0 ]; then
	echo "# stack log:"
	tail -n 20 "$log"
	echo "# supervisord log:"
	tail -n 20 "$state/supervisord.log" 2>/dev/null
fi
exit $rc
