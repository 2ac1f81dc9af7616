#!/usr/bin/env bash
# Fuzz the parsers that take untrusted input (PROTOCOLS.md inputs: reports, chains, JSON, tokens,
# policies, CSV, record files, THIM, sidecar errors, Blob Storage XML).
#
#   tests/fuzz/run.sh                 build every tests/fuzz/fuzz_*.c with driver.c under
#                                     ASan+UBSan (the Makefile's san objects) and run each over
#                                     corpus/<target>/ plus FUZZ_RUNS (2000) deterministic
#                                     mutations; prints "N passed, N failed".  ~10-30 s.
#   tests/fuzz/run.sh --libfuzzer [SECONDS] [TARGET...]
#                                     coverage-guided runs with clang's libFuzzer, SECONDS (60)
#                                     per target; new inputs go to a scratch corpus, crashes to
#                                     $BUILD/fuzz-clang/artifacts/; <target>.dict here, if there
#                                     is one, is its dictionary.  Needs clang's fuzzer runtime
#                                     (Debian: libclang-rt-14-dev, which provides
#                                     libclang_rt.fuzzer-x86_64.a; check with
#                                       echo 'int LLVMFuzzerTestOneInput(const char*d,long n)
#                                       {return 0;}' | clang -x c -fsanitize=fuzzer - -o /tmp/f).
#
# Env: BUILD (default build/), FUZZ_RUNS, FUZZ_SEED, FUZZ_JOBS (libFuzzer targets in parallel).
#
# A `make fuzz` rule for the Makefile (not added: `make test` must not need clang or
# libclang-rt-14-dev):
#   fuzz:
#   	tests/fuzz/run.sh --libfuzzer $(or $(FUZZ_SECONDS),60)
# To reproduce a crash: $BUILD/fuzz-clang/fuzz_x <crash-file>, or with the gcc build:
#   $BUILD/san/tests/fuzz/fuzz_x -n 0 <crash-file>
# A fixed crash gets its input copied into corpus/<target>/ as a regression seed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(realpath -m "${BUILD:-$repo/build}")
here=$repo/tests/fuzz
cd "$repo" || exit 2

targets=()
for f in "$here"/fuzz_*.c; do
	t=$(basename "$f" .c)
	targets+=("${t#fuzz_}")
done

COMMON=(-std=c11 -D_GNU_SOURCE -g -Wall -Wextra -Werror -Wshadow -Ilib -I"$here")
LIBS=(-lfcgi -lcurl -ljson-c -lexpat -lssl -lcrypto -lpthread)

libfuzzer() {
	local secs=${1:-60}
	shift || true
	local sel=("$@")
	[ ${#sel[@]} -gt 0 ] || sel=("${targets[@]}")
	local out=$bin/fuzz-clang
	mkdir -p "$out/lib" "$out/artifacts"
	local flags=("${COMMON[@]}" -O1 -fno-omit-frame-pointer)
	local objs=()
	for src in lib/*.c; do
		local o
		o=$out/lib/$(basename "$src" .c).o
		if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find lib -name '*.h' -newer "$o")" ]; then
			clang "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined \
				-fno-sanitize-recover=all -c -o "$o" "$src" || return 2
		fi
		objs+=("$o")
	done
	local pass=0 fail=0 pids=() names=()
	local jobs=${FUZZ_JOBS:-$(nproc)}
	for t in "${sel[@]}"; do
		clang "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			-o "$out/fuzz_$t" "$here/fuzz_$t.c" "${objs[@]}" "${LIBS[@]}" || return 2
	done
	run1() {
		local t=$1
		local dict=()
		[ ! -f "$here/$t.dict" ] || dict=(-dict="$here/$t.dict")
		mkdir -p "$out/corpus/$t"
		"$out/fuzz_$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 \
			"$out/corpus/$t" "$here/corpus/$t" >"$out/$t.log" 2>&1
	}
	for t in "${sel[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
		run1 "$t" &
		pids+=($!)
		names+=("$t")
	done
	for i in "${!pids[@]}"; do
		local t=${names[$i]}
		if wait "${pids[$i]}"; then
			pass=$((pass + 1))
			echo "ok   libFuzzer $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
				"$out/$t.log" | grep -o '[0-9]*$') execs, cov $(grep -o 'cov: [0-9]*' \
				"$out/$t.log" | tail -1)"
		else
			fail=$((fail + 1))
			echo "FAIL libFuzzer $t (log $out/$t.log):"
			grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$out/$t.log" | head -5
		fi
	done
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

if [ "${1:-}" = --libfuzzer ]; then
	shift
	libfuzzer "$@"
	exit $?
fi

# gcc (or $CC) + ASan/UBSan with the Makefile's san objects of lib/.
san_objs=()
for src in lib/*.c; do san_objs+=("$bin/san/${src%.c}.o"); done
if ! make --no-print-directory BUILD="$bin" "${san_objs[@]}" >/dev/null; then
	echo "fuzz: building the sanitizer objects of lib/ failed"
	echo "0 passed, 1 failed"
	exit 1
fi
CCX=${CC:-cc}
SAN=("-fsanitize=address,undefined" -fno-sanitize-recover=all -fno-omit-frame-pointer)
out=$bin/san/tests/fuzz
mkdir -p "$out"
pass=0 fail=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
if ! "$CCX" "${COMMON[@]}" -O1 "${SAN[@]}" -c -o "$out/driver.o" "$here/driver.c"; then
	echo "fuzz: driver.c does not compile"
	echo "0 passed, 1 failed"
	exit 1
fi
for t in "${targets[@]}"; do
	exe=$out/fuzz_$t
	if ! "$CCX" "${COMMON[@]}" -O1 "${SAN[@]}" -o "$exe" "$here/fuzz_$t.c" "$out/driver.o" \
		"${san_objs[@]}" "${LIBS[@]}"; then
		fail=$((fail + 1))
		echo "FAIL fuzz $t: does not build"
		continue
	fi
	crash=$out/$t.crash
	start=$(date +%s%N)
	if FUZZ_CRASH_FILE=$crash "$exe" -n "${FUZZ_RUNS:-2000}" -s "${FUZZ_SEED:-1}" \
		"$here/corpus/$t" >"$out/$t.log" 2>&1; then
		pass=$((pass + 1))
		printf 'ok   fuzz %-12s %d ms\n' "$t" $((($(date +%s%N) - start) / 1000000))
	else
		fail=$((fail + 1))
		echo "FAIL fuzz $t: input saved in $crash; log $out/$t.log"
		grep -E 'ERROR|runtime error|SUMMARY' "$out/$t.log" | head -5
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
