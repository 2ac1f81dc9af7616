#!/usr/bin/env bash
# `make run` leaves nothing behind however it ends: the demo started the way README says
# (make run, on TEST_MAKERUN_PORT, default TEST_DEMO_PORT + 130, its own state directory),
# then make itself killed with SIGKILL, which no trap can see; within 5 s no process of the
# demo may remain and its landing port must be free.  Then the same with SIGTERM to make.
# Prints "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$repo/tests/lib.sh"
P=${TEST_MAKERUN_PORT:-$((${TEST_DEMO_PORT:-18000} + 130))}

one() { # signal
	local state log
	state=$(mktemp -d /tmp/makerun.XXXXXX)
	chmod 755 "$state"
	log=$state.log
	make -C "$repo" --no-print-directory run DEMO_PORT="$P" DEMO_STATE_DIR="$state" >"$log" 2>&1 &
	local mk=$! up=0
	for _ in $(seq 1 300); do
		if grep -q "is running" "$log" 2>/dev/null; then up=1; break; fi
		kill -0 "$mk" 2>/dev/null || break
		sleep 0.2
	done
	check "make run starts the demo on port $P" "$([ $up -eq 1 ]; echo $?)" "$(tail -n 20 "$log")"
	kill "-$1" "$mk" 2>/dev/null
	local left=1
	for _ in $(seq 1 50); do
		if ! pgrep -f "$state/" >/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null; then
			left=0
			break
		fi
		sleep 0.1
	done
	check "after SIG$1 to make, nothing of the demo runs and port $P is free within 5 s" "$left" \
		"$(pgrep -af "$state/" | cut -c1-120)"
	pkill -KILL -f "$state/" 2>/dev/null
	rm -rf "$state" "$log"
}

one KILL
one TERM
summary
