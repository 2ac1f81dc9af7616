#!/usr/bin/env bash
# Run every test: C unit tests (ASan+UBSan), standalone suites (tests/*/run.sh), then start the
# local stack once and run the HTTP, browser and drop-in compatibility suites against it.  Prints
# one summary line "N passed, N failed" at the end and exits non-zero if anything failed.
#   scripts/test-all.sh [--only unit|suites|stack] UNIT_BINARIES...
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
only=""
if [ "${1:-}" = "--only" ]; then
	only=$2
	shift 2
fi
passed=0
failed=0
failures=()

# Count a suite's own "N passed, N failed" line when it prints one, else its exit status.
record() { # name logfile status
	local line p f
	line=$(grep -E '^(# )?[a-z]*:? ?[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	# node --test prints "# pass N" / "# fail N"
	if [ -z "$line" ] && grep -qE '^# pass [0-9]+' "$2"; then
		p=$(grep -E '^# pass [0-9]+' "$2" | tail -n 1 | awk '{print $3}')
		f=$(grep -E '^# fail [0-9]+' "$2" | tail -n 1 | awk '{print $3}')
	elif [ -n "$line" ]; then
		p=$(echo "$line" | grep -oE '[0-9]+ passed' | awk '{print $1}')
		f=$(echo "$line" | grep -oE '[0-9]+ failed' | awk '{print $1}')
	else
		p=$(( $3 == 0 ? 1 : 0 ))
		f=$(( $3 == 0 ? 0 : 1 ))
	fi
	if [ "$3" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$3" -ne 0 ]; then
		failures+=("$1")
		echo "FAIL $1 (exit $3); output:"
		sed 's/^/    /' "$2" | tail -n 60
	else
		echo "ok   $1 (${p:-0} passed)"
	fi
}

logdir=$(mktemp -d /tmp/demo-test.XXXXXX)
run_suite() { # name command...
	local name=$1 log
	shift
	log="$logdir/$(echo "$name" | tr '/ ' '__').log"
	"$@" >"$log" 2>&1
	record "$name" "$log" $?
}

if [ -z "$only" ] || [ "$only" = unit ]; then
	echo "== unit tests (ASan+UBSan)"
	for t in "$@"; do
		run_suite "unit/$(basename "$t")" env TEST_DATA_DIR="$repo/tests/unit/data" "$t"
	done
fi

if [ -z "$only" ] || [ "$only" = suites ]; then
	echo "== standalone suites"
	for s in "$repo"/tests/*/run.sh; do
		[ -x "$s" ] || continue
		run_suite "$(basename "$(dirname "$s")")" "$s"
	done
fi

if [ -z "$only" ] || [ "$only" = stack ]; then
	echo "== local stack (HTTP, browser and compatibility suites)"
	port=${TEST_DEMO_PORT:-18000}
	state=$(mktemp -d /tmp/demo-stack.XXXXXX)
	DEMO_PORT=$port DEMO_STATE_DIR=$state "$repo/scripts/run-local.sh" >"$logdir/stack.log" 2>&1 &
	stack=$!
	up=0
	for _ in $(seq 1 300); do
		if grep -q "is running" "$logdir/stack.log" 2>/dev/null; then up=1; break; fi
		kill -0 "$stack" 2>/dev/null || break
		sleep 0.2
	done
	if [ $up -eq 0 ]; then
		record "stack-start" "$logdir/stack.log" 1
	else
		# One file at a time (they share the stack), each in its own `node --test`: that works
		# on every Node with a test runner, Debian 12's Node 18 included.
		for suite in http browser compat; do
			for f in $(find "$repo/tests/$suite" -maxdepth 1 -name '*.test.mjs' 2>/dev/null | sort); do
				run_suite "$suite/$(basename "$f" .test.mjs)" env DEMO_PORT="$port" \
					DEMO_STATE_DIR="$state" ARTIFACTS_DIR="$repo/test-artifacts" node --test "$f"
			done
		done
	fi
	kill -TERM "$stack" 2>/dev/null
	wait "$stack" 2>/dev/null
	# No process of the stack may outlive it.
	if pgrep -f "$state" >/dev/null; then
		echo "orphan processes left by the stack:"
		pgrep -af "$state"
		pkill -KILL -f "$state"
		record "stack-stop-no-orphans" /dev/null 1
	else
		passed=$((passed + 1))
		echo "ok   stack-stop-no-orphans"
	fi
	if [ ${#failures[@]} -eq 0 ]; then rm -rf "$state"; fi
fi

echo
[ ${#failures[@]} -eq 0 ] || echo "failed suites: ${failures[*]} (logs in $logdir)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
