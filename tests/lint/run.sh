#!/usr/bin/env bash
# Static checks, as STYLE.md asks: no banned C functions, cppcheck and clang-tidy clean, a clang
# -Werror build as clean as the gcc one, shellcheck on every shell script.  Prints "N passed, N
# failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$repo/tests/lib.sh"
cd "$repo" || exit 1
sources=(lib/*.c lib/*.h fcgi-bin/*.c emulator/*.c emulator/lib/*.[ch] tools/*.c)

# Functions that invite overflows or silent misparses; use snprintf/xasprintf, buf_*, parse_ulong.
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|atoi|atol|atoll|gets|strtok|tmpnam|mktemp)[[:space:]]*\('
hits=$(grep -nE "$banned" "${sources[@]}" | grep -vE '^[^:]+:[0-9]+:\s*(\*|//|/\*)' || true)
check "no banned C functions (sprintf, strcpy, strcat, atoi, strtok, gets ...)" "$([ -z "$hits" ]; echo $?)" "$hits"

if command -v cppcheck >/dev/null; then
	out=$(cppcheck --quiet --enable=warning,portability,performance --std=c11 -Ilib -Iemulator/lib \
		--error-exitcode=1 --suppress=missingIncludeSystem --inline-suppr lib fcgi-bin emulator tools 2>&1)
	check "cppcheck: no warnings" $? "$out"
else
	check "cppcheck is installed (scripts/deps.sh installs it)" 1 "cppcheck not found"
fi

# clang-tidy with the root .clang-tidy (its comment says which checks and why), one file per
# process on every core: about half a minute on two.
if command -v clang-tidy >/dev/null; then
	out=$(printf '%s\n' lib/*.c | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} \
		clang-tidy --quiet {} -- -std=c11 -D_GNU_SOURCE -Ilib -Iemulator/lib 2>&1)
	rc=$?
	check "clang-tidy: lib/ clean" "$rc" "$(echo "$out" | grep -iE 'warning:|error' | head -20)"
else
	check "clang-tidy is installed (scripts/deps.sh installs it)" 1 "clang-tidy not found"
fi

if command -v clang >/dev/null; then
	tmp=$(mktemp -d /tmp/lint-clang.XXXXXX)
	out=$(make --no-print-directory CC=clang BUILD="$tmp" all 2>&1)
	check "clang -Wall -Wextra -Werror build" $? "$(echo "$out" | grep -E 'error|warning' | head -20)"
	rm -rf "$tmp"
else
	check "clang is installed (scripts/deps.sh installs it)" 1 "clang not found"
fi

# One .clang-format for every C file (STYLE.md).
out=$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>&1 | grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning)' | cut -d: -f1 | sort -u)
check "clang-format: every C file as .clang-format says" "$([ -z "$out" ]; echo $?)" "$out"

# Handlers stay thin: validate, call the library, write JSON (DESIGN.md).
out=$(awk -v max=30 -f tests/lint/funclen.awk fcgi-bin/*.c)
check "no function in fcgi-bin/ is longer than 30 lines" "$([ -z "$out" ]; echo $?)" "$out"

# Configuration is read once, in one place; failures are classified by type, never by text.
out=$(grep -n '\bgetenv[[:space:]]*(' lib/*.c fcgi-bin/*.c tools/*.c emulator/*.c emulator/lib/*.c | grep -v '^lib/config.c:')
check "no getenv outside lib/config.c" "$([ -z "$out" ]; echo $?)" "$out"
out=$(grep -nE '(strstr|strcmp|strncmp)[[:space:]]*\([^)]*(->|\.)msg\b|(strstr|strcmp)[[:space:]]*\([^)]*stage' lib/*.c fcgi-bin/*.c)
check "no strstr/strcmp over error messages or stage names" "$([ -z "$out" ]; echo $?)" "$out"

mapfile -t scripts < <(git ls-files '*.sh' .ci/run 2>/dev/null; find tests/deploy/bin -type f 2>/dev/null)
out=$(shellcheck -x "${scripts[@]}" 2>&1)
check "shellcheck: ${#scripts[@]} scripts clean" $? "$out"

summary
