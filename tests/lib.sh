# shellcheck shell=bash
# Shared by the shell suites that run a program as plain CGI (tests/cgi, tests/company):
# source it, then call check ... and end with summary.  Not a suite itself (no run.sh).

passed=0
failed=0
# check NAME CONDITION-RESULT(0/1) DETAIL: count and print one result (DETAIL only on failure).
check() {
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $1"
	else
		failed=$((failed + 1))
		echo "FAIL $1: $(head -c 1500 <<<"$3")"
	fi
}
# The last line of every suite: "N passed, N failed", and the exit status.
summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# cgi_request PROGRAM METHOD URI [BODY]: run PROGRAM as one CGI request and print the whole
# response (headers + body).  Its environment is only the CGI variables, PATH, and the
# arrays BASE_ENV and EXTRA_ENV (either may be empty).
cgi_request() {
	local body=${4-} script=${3%%\?*} query=
	[ "$script" != "$3" ] && query=${3#*\?}
	env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD="$2" REQUEST_URI="$3" \
		SCRIPT_NAME="$script" QUERY_STRING="$query" CONTENT_TYPE=application/json \
		CONTENT_LENGTH=${#body} SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR=127.0.0.1 \
		"${BASE_ENV[@]}" "${EXTRA_ENV[@]}" "$1" <<<"$body"
}
status_of() { head -n 1 | sed -n 's/^Status: \([0-9]*\).*/\1/p'; }
body_of() { sed '1,/^\r\{0,1\}$/d'; }
