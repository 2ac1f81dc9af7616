#!/usr/bin/env bash
# The programs dropped into web servers other than the demo's own lighttpd, configured with the
# files of contrib/ exactly as README shows them (README: Drop into your own server):
#   apache-cgi      Apache 2.4 + mod_cgid               contrib/apache/attestation-demo-cgi.conf
#   apache-fcgi     Apache 2.4 + mod_proxy_fcgi         contrib/apache/attestation-demo-fcgi.conf,
#                   programs under supervisord          contrib/fastcgi/supervisord.conf
#   nginx-fastcgi   nginx + FastCGI, spawn-fcgi         contrib/nginx/attestation-demo-fastcgi.conf,
#                                                       contrib/fastcgi/spawn-fcgi.sh start
#   nginx-fcgiwrap  nginx + fcgiwrap (CGI)              contrib/nginx/attestation-demo-fcgiwrap.conf,
#                                                       contrib/fastcgi/spawn-fcgi.sh start-fcgiwrap
#   lighttpd-cgi    lighttpd + mod_cgi                  contrib/lighttpd/attestation-demo-cgi.conf
# The FastCGI variants take their environment from contrib/fastcgi/attestation-demo.env.
# Each variant runs the endpoint suite against the stand-ins of a local stack (scripts/run-local.sh
# on TEST_DEMO_PORT, default 18000) as the Contoso instance's user with Contoso's configuration
# (its identity endpoint gives tokens to that user only), checks key custody (a 0600 key file of
# that user in a directory nobody else can enter, one release at the vault for many requests),
# and that a missing or bad variable is a 500 naming it.  Servers listen on 127.0.0.1 from
# TEST_DROPIN_PORT (default TEST_DEMO_PORT + 40) to 14 ports above it, with their own
# configuration, pid and log files in one temporary directory, and are stopped after.
# Run as root (as make test in CI is), the programs run as demo-contoso and the servers that do not
# run them as www-data.  Prints "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD:-$repo/build}
# shellcheck source=tests/lib.sh
. "$repo/tests/lib.sh"
shopt -u patsub_replacement 2>/dev/null || true
P=${TEST_DEMO_PORT:-18000}
B=${TEST_DROPIN_PORT:-$((P + 40))}
tmp=$(mktemp -d /tmp/dropin-test.XXXXXX)
chmod 755 "$tmp"
S=$tmp/stack
stack=""
servers=()    # pids of the servers this suite started (foreground processes)
spawned=()    # rendered spawn-fcgi.sh scripts whose programs must be stopped

cleanup() {
	for s in "${spawned[@]}"; do sh "$s" stop 2>/dev/null; done
	for p in "${servers[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${servers[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "$stack" ]; then
		kill -TERM "$stack" 2>/dev/null
		wait "$stack" 2>/dev/null
	fi
	if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- the files README shows
# README shows every file of contrib/ word for word: the fenced block right after the line
# `contrib/<path>`: (a blank line between them is allowed).
readme_block() { # path
	awk -v cap="\`$1\`:" '
		$0 == cap { n++; want = 1; next }
		want == 1 && /^```/ { want = 2; next }
		want == 1 && NF { want = 0 }
		want == 2 && /^```$/ { want = 0; next }
		want == 2 { print }
		END { if (n != 1) exit 1 }
	' "$repo/README.md"
}
mapfile -t contrib < <(cd "$repo" && find contrib -type f | sort)
check "contrib/ holds the drop-in files" "$([ ${#contrib[@]} -ge 8 ]; echo $?)" "${contrib[*]}"
for f in "${contrib[@]}"; do
	out=$(diff <(readme_block "$f") "$repo/$f" 2>&1) && [ -s "$repo/$f" ]
	check "README shows $f word for word" $? "$out"
done
missing=""
# shellcheck disable=SC2016 # backquotes of Markdown, not of the shell
while read -r f; do [ -f "$repo/$f" ] || missing="$missing $f"; done < <(grep -oE '^`contrib/[^`]+`:$' "$repo/README.md" | tr -d '`:')
check "every contrib file README names exists" "$([ -z "$missing" ]; echo $?)" "$missing"
missing=""
while read -r w; do
	grep -qF "| \`$w\` |" "$repo/README.md" || missing="$missing $w"
done < <(cat "${contrib[@]/#/$repo/}" | grep -oE '@[A-Z][A-Z_]*@' | sort -u)
check "README's placeholder table names every placeholder of contrib/" "$([ -z "$missing" ]; echo $?)" "$missing"

# ---------------------------------------------------------------- install, users, stack
dest=$tmp/inst
out=$(make -C "$repo" -s --no-print-directory BUILD="$bin" install DESTDIR="$dest" PREFIX=/app 2>&1)
check "make install DESTDIR" $? "$out"
prefix=$dest/app
out=$(diff -r "$repo/contrib" "$prefix/contrib" 2>&1 && test -x "$prefix/contrib/fastcgi/spawn-fcgi.sh")
check "make install puts contrib/ under PREFIX/contrib (spawn-fcgi.sh executable)" $? "$out"

if [ "$(id -u)" -eq 0 ]; then
	# As run-local.sh does as root: the programs run as Contoso's instance user, the servers
	# (where they are not that user) as www-data.
	puser=demo-contoso suser=www-data sgroup=www-data
else
	puser=$(id -un) suser=$(id -un) sgroup=$(id -gn)
fi
DEMO_PORT=$P DEMO_STATE_DIR=$S BUILD="$bin" "$repo/scripts/run-local.sh" >"$tmp/stack.log" 2>&1 &
stack=$!
for _ in $(seq 1 300); do
	grep -q "is running" "$tmp/stack.log" 2>/dev/null && break
	kill -0 "$stack" 2>/dev/null || break
	sleep 0.2
done
up=$(grep -q "is running" "$tmp/stack.log"; echo $?)
check "the local stack (stand-ins) starts on port $P" "$up" "$(tail -20 "$tmp/stack.log")"
[ "$up" -eq 0 ] || exit 1
vault_log=$S/azure/log/azure.log
releases() { grep -c 'release key=contoso-secret-key .*outcome=200 released' "$vault_log"; }

# A storage secret that must never show: in no response, no log line, no error message.
conn="DefaultEndpointsProtocol=https;AccountName=dropintest;AccountKey=$(head -c 48 /dev/urandom | base64 -w0);EndpointSuffix=core.windows.net"
secret=${conn#*AccountKey=}
secret=${secret%%;*}

# ---------------------------------------------------------------- rendering the files
declare -A V
values() { # variant port: the placeholders' values for this variant
	local d=$tmp/$1
	V=([PREFIX]=$prefix [LISTEN]=127.0.0.1:$2 [SOCKET_DIR]=$d/run [USER]=$puser
		[SERVER_GROUP]=$sgroup [ENV_FILE]=$d/attestation-demo.env
		[SKR_MAA_ENDPOINT]=http://127.0.0.1:$((P + 10)) [SKR_AKV_ENDPOINT]=http://127.0.0.1:$((P + 21))
		[SKR_KEY_NAME]=contoso-secret-key [STATE_DIR]=$d/state [RESOURCE_GROUP_NAME]=dropin-$1
		[BLOB_BACKEND]=dir [BLOB_DIR]=$d/blobs [LOG_DIR]=$d/log
		[AZURE_STORAGE_CONNECTION_STRING]=$conn [IMDS_ENDPOINT]=http://127.0.0.1:$((P + 11))
		[AKV_TRUST_CERT]=$S/public/kv-trust.pem [SNP_VIRTUAL_SOCKET]=$S/contoso/run/sev-guest.sock
		[SNP_EXTRA_ROOTS]=$S/public/virtual-ark.pem)
}
render() { # contrib-file destination: replace every placeholder; fail if one is left
	local text k left
	text=$(<"$prefix/$1")
	for k in "${!V[@]}"; do text=${text//"@$k@"/"${V[$k]}"}; done
	printf '%s\n' "$text" >"$2"
	left=$(grep -oE '@[A-Z][A-Z_]*@' "$2" | sort -u | tr '\n' ' ')
	[ -z "$left" ] || { echo "placeholders left in $1: $left"; return 1; }
}
# The directories README asks for: STATE_DIR private to the programs' user, LOG_DIR theirs.
dirs() { # variant
	local d=$tmp/$1
	rm -rf "$d"
	mkdir -p "$d/server/log"
	chmod 755 "$d" "$d/server"
	install -d -m 0700 -o "$puser" "$d/state" "$d/blobs"
	install -d -m 0750 -o "$puser" -g "$sgroup" "$d/log"
}
envfile() { # variant: the programs' environment file, root:<user> 0640
	render contrib/fastcgi/attestation-demo.env "$tmp/$1/attestation-demo.env" || return 1
	if [ "$(id -u)" -eq 0 ]; then chown "root:$(id -gn "$puser")" "$tmp/$1/attestation-demo.env"; fi
	chmod 0640 "$tmp/$1/attestation-demo.env"
}

# ---------------------------------------------------------------- the servers
wait_http() { # url pid
	for _ in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1")" != 000 ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
start_apache() { # variant site-file [server user]: Apache in the foreground with the site
	local d=$tmp/$1/server m=/usr/lib/apache2/modules
	render "$2" "$d/site.conf" || return 1
	cat >"$d/httpd.conf" <<EOT
ServerRoot "$d"
ServerName 127.0.0.1
PidFile "$d/httpd.pid"
DefaultRuntimeDir "$d"
ScriptSock "$d/cgid.sock"
Mutex file:$d default
ErrorLog "$d/log/error.log"
LogLevel warn
LogFormat "%h \"%r\" %>s %b" short
CustomLog "$d/log/access.log" short
$([ "$(id -u)" -eq 0 ] && printf 'User %s\nGroup %s\n' "${3:-$suser}" "$(id -gn "${3:-$suser}")")
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule mime_module $m/mod_mime.so
LoadModule dir_module $m/mod_dir.so
LoadModule alias_module $m/mod_alias.so
LoadModule env_module $m/mod_env.so
LoadModule headers_module $m/mod_headers.so
LoadModule cgid_module $m/mod_cgid.so
LoadModule proxy_module $m/mod_proxy.so
LoadModule proxy_fcgi_module $m/mod_proxy_fcgi.so
TypesConfig /etc/mime.types
DirectoryIndex index.html
<Directory />
	Require all denied
	AllowOverride None
</Directory>
Include "$d/site.conf"
EOT
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C AZURE_STORAGE_CONNECTION_STRING="$conn" \
		apache2 -f "$d/httpd.conf" -DFOREGROUND >"$d/log/stdout.log" 2>&1 &
	servers+=($!)
	wait_http "http://${V[LISTEN]}/" $!
}
start_nginx() { # variant site-file
	local d=$tmp/$1/server
	render "$2" "$d/site.conf" || return 1
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<EOT
$([ "$(id -u)" -eq 0 ] && echo "user $suser $sgroup;")
worker_processes 1;
pid $d/nginx.pid;
error_log $d/log/error.log info;
events { worker_connections 64; }
http {
	access_log $d/log/access.log;
	client_body_temp_path $d/tmp/body;
	fastcgi_temp_path $d/tmp/fastcgi;
	proxy_temp_path $d/tmp/proxy;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	include $d/site.conf;
}
EOT
	nginx -e "$d/log/error.log" -p "$d" -c "$d/nginx.conf" -g 'daemon off;' >"$d/log/stdout.log" 2>&1 &
	servers+=($!)
	wait_http "http://${V[LISTEN]}/" $!
}
start_lighttpd() { # variant site-file: as Debian's lighttpd.conf does, plus the snippet
	local d=$tmp/$1/server
	render "$2" "$d/site.conf" || return 1
	mkdir -p "$d/empty"
	# lighttpd opens its error log after it has become server.username.
	chown "$puser" "$d/log"
	cat >"$d/lighttpd.conf" <<EOT
server.modules = ("mod_indexfile", "mod_access", "mod_alias", "mod_redirect")
server.document-root = "$d/empty"
server.errorlog = "$d/log/error.log"
server.pid-file = "$d/lighttpd.pid"
$([ "$(id -u)" -eq 0 ] && printf 'server.username = "%s"\nserver.groupname = "%s"\n' "$puser" "$(id -gn "$puser")")
server.bind = "127.0.0.1"
server.port = ${V[LISTEN]##*:}
mimetype.assign = (".html" => "text/html; charset=utf-8", ".js" => "text/javascript; charset=utf-8",
	".css" => "text/css; charset=utf-8", ".svg" => "image/svg+xml", ".json" => "application/json")
include "$d/site.conf"
server.modules += ("mod_staticfile")
EOT
	lighttpd -D -f "$d/lighttpd.conf" >"$d/log/stdout.log" 2>&1 &
	servers+=($!)
	wait_http "http://${V[LISTEN]}/" $!
}
start_supervisord() { # variant: the programs as FastCGI servers under supervisord
	local d=$tmp/$1/server n
	install -d -m 0750 -g "$sgroup" "$tmp/$1/run"
	envfile "$1" && render contrib/fastcgi/supervisord.conf "$d/programs.conf" || return 1
	cat >"$d/supervisord.conf" <<EOT
[supervisord]
nodaemon=true
logfile=$d/log/supervisord.log
pidfile=$d/supervisord.pid
childlogdir=$d/log
$([ "$(id -u)" -eq 0 ] && echo "user=root")
[include]
files=$d/programs.conf
EOT
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C supervisord -n -c "$d/supervisord.conf" \
		>"$d/log/supervisord.out" 2>&1 &
	servers+=($!)
	# supervisord makes the sockets, closes them, and makes them again as it spawns the programs.
	for _ in $(seq 1 100); do
		n=$(grep -c "spawned: '" "$d/log/supervisord.log" 2>/dev/null)
		[ "${n:-0}" -ge 8 ] && return 0
		sleep 0.1
	done
	return 1
}
start_spawn() { # variant start|start-fcgiwrap
	envfile "$1" && render contrib/fastcgi/spawn-fcgi.sh "$tmp/$1/spawn-fcgi.sh" || return 1
	spawned+=("$tmp/$1/spawn-fcgi.sh")
	sh "$tmp/$1/spawn-fcgi.sh" "$2"
}
stop_servers() {
	for s in "${spawned[@]}"; do sh "$s" stop; done
	for p in "${servers[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${servers[@]}"; do wait "$p" 2>/dev/null; done
	servers=()
	spawned=()
}

# ---------------------------------------------------------------- the endpoint suite
mkdir -p "$tmp/bodies"
nbody=0
code="" body="" headers=""
req() { # base method path [json body]: sets code, body, headers; keeps the body for the scans
	local args=(-s -m 30 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' -X "$2")
	[ $# -ge 4 ] && args+=(-H 'content-type: application/json' --data-binary "$4")
	code=$(curl "${args[@]}" "$1$3")
	body=$(cat "$tmp/b" 2>/dev/null)
	headers=$(tr -d '\r' <"$tmp/h" 2>/dev/null)
	nbody=$((nbody + 1))
	cp "$tmp/b" "$tmp/bodies/$nbody" 2>/dev/null
}
is() { jq -e "$1" <<<"$body" >/dev/null 2>&1; }
refuses() { # user path: 0 when user can neither read path nor list it
	! runuser -u "$1" -- cat "$2" >/dev/null 2>&1 && ! runuser -u "$1" -- ls "$(dirname "$2")" >/dev/null 2>&1
}

suite() { # variant
	local v=$1 u=http://${V[LISTEN]} st=$tmp/$1/state before thumb ct pt
	req "$u" GET /health
	check "$v: GET /health is 200 healthy" "$([ "$code" = 200 ] && is '.status == "healthy"'; echo $?)" "$code $body"
	req "$u" GET /
	check "$v: GET / serves the page with its security headers" \
		"$([ "$code" = 200 ] && grep -qi '^content-type: text/html' <<<"$headers" &&
			grep -qi "^content-security-policy: default-src 'self'" <<<"$headers" && grep -q '<html' <<<"$body"; echo $?)" "$code $headers"
	req "$u" GET /skr/config
	check "$v: the server's environment reaches the programs (/skr/config shows it)" \
		"$(is ".maa_endpoint == \"127.0.0.1:$((P + 10))\" and .key_name == \"contoso-secret-key\" and .akv_endpoint == \"127.0.0.1:$((P + 21))\""; echo $?)" "$body"
	req "$u" POST /attest/maa '{}'
	check "$v: POST /attest/maa gives a verified token from the local attestation service" \
		"$([ "$code" = 200 ] && is '.token_verified == true and .runtime_data_bound == true and (.attestation_token | length) > 100'; echo $?)" "$code $(head -c 600 <<<"$body")"
	req "$u" POST /attest/raw '{"runtime_data":"aGVsbG8="}'
	check "$v: POST /attest/raw gives a report from the virtual SEV-SNP host that verifies" \
		"$([ "$code" = 200 ] && is '.verification.verified == true and (.attestation_report | length) == 2368'; echo $?)" "$code $(head -c 600 <<<"$body")"

	before=$(releases)
	req "$u" POST /skr/release ''
	check "$v: POST /skr/release gets Contoso's key released" \
		"$([ "$code" = 200 ] && is '.status == "success" and .key.name == "contoso-secret-key"'; echo $?)" "$code $(head -c 800 <<<"$body")"
	thumb=$(jq -r '.key.thumbprint // empty' <<<"$body" 2>/dev/null)
	check "$v: custody: the key file is 0600, the program user's ($puser), in a 0700 directory of theirs" \
		"$([ "$(stat -c '%a %U' "$st/released-key" 2>&1)" = "600 $puser" ] &&
			[ "$(stat -c '%a %U' "$st" 2>&1)" = "700 $puser" ]; echo $?)" \
		"$(ls -la "$st" 2>&1)"
	if [ "$(id -u)" -eq 0 ]; then
		check "$v: custody: neither $suser nor nobody can read the key or list its directory" \
			"$(refuses nobody "$st/released-key" && refuses "$suser" "$st/released-key"; echo $?)" "$(ls -la "$st" 2>&1)"
	else
		echo "skip $v: custody against other users (needs root: everything runs as $(id -un))"
	fi
	req "$u" GET /skr/key-status
	check "$v: a later request finds the held key (/skr/key-status, same thumbprint)" \
		"$([ -n "$thumb" ] && is ".released == true and .thumbprint == \"$thumb\""; echo $?)" "$body"
	pt="drop-in $v: $(date +%s%N)"
	req "$u" POST /encrypt "{\"plaintext\":\"$pt\"}"
	ct=$(jq -r '.ciphertext // empty' <<<"$body" 2>/dev/null)
	check "$v: POST /encrypt with the held key" "$([ "$code" = 200 ] && [ -n "$ct" ]; echo $?)" "$code $body"
	req "$u" POST /decrypt "{\"ciphertext\":\"$ct\"}"
	check "$v: POST /decrypt gives the plaintext back" "$([ "$code" = 200 ] && is ".plaintext == \"$pt\""; echo $?)" "$code $body"
	req "$u" POST /company/save "{\"name\":\"Dropin $v\",\"phone\":\"555-0100\"}"
	check "$v: POST /company/save" "$([ "$code" = 200 ] && is '.status == "success" and .record_count == 1'; echo $?)" "$code $body"
	req "$u" GET /company/list
	check "$v: GET /company/list shows the record, encrypted" \
		"$([ "$code" = 200 ] && is ".record_count == 1 and .blob_name == \"consolidated-records-dropin-$v.json\"" && ! grep -q "Dropin $v" <<<"$body"; echo $?)" "$code $(head -c 600 <<<"$body")"
	ct=$(jq -r '[.records[] | select(.company == "contoso")][0].name_encrypted // empty' <<<"$body" 2>/dev/null)
	req "$u" POST /decrypt "{\"ciphertext\":\"$ct\"}"
	check "$v: the listed record decrypts to what was saved" "$(is ".plaintext == \"Dropin $v\""; echo $?)" "$code $body"
	req "$u" GET /storage/list
	check "$v: GET /storage/list lists the record blob" \
		"$([ "$code" = 200 ] && grep -q "consolidated-records-dropin-$v.json" <<<"$body"; echo $?)" "$code $(head -c 600 <<<"$body")"
	check "$v: the vault saw one release for all these requests, not one per request" \
		"$([ "$(releases)" -eq $((before + 1)) ]; echo $?)" "before $before, after $(releases)"
	# A chunked request body reaches the program with its length, or is refused: never read as empty.
	code=$(curl -s -m 30 -o "$tmp/b" -w '%{http_code}' -H 'content-type: application/json' \
		-H 'Transfer-Encoding: chunked' --data-binary "{\"plaintext\":\"$pt\"}" "$u/encrypt")
	body=$(cat "$tmp/b")
	echo "     (chunked POST /encrypt: $code)"
	check "$v: a chunked POST /encrypt is encrypted or refused with 411, never taken as empty" \
		"$({ [ "$code" = 200 ] && is '.ciphertext | length > 0'; } || { [ "$code" = 411 ] && is '.status == "error"'; }; echo $?)" "$code $body"
}

# The same files rendered with a missing or a bad variable: a 500 JSON error naming it, the secret
# never shown; FastCGI programs log it once each and keep serving (no crash loop).
misconfigured() { # variant missing|bad fastcgi(0|1)
	local u=http://${V[LISTEN]} log=$tmp/$1-$2/log/app.log n
	if [ "$2" = missing ]; then
		req "$u" POST /skr/release ''
		check "$1: without SKR_KEY_NAME, /skr/release is a 500 JSON error naming it" \
			"$([ "$code" = 500 ] && is '.status == "error" and (.message | contains("SKR_KEY_NAME")) and .missing == ["SKR_KEY_NAME"]'; echo $?)" "$code $body"
		req "$u" GET /health
		check "$1: without SKR_KEY_NAME, /health still works" "$([ "$code" = 200 ]; echo $?)" "$code $body"
	else
		local ok=0
		for path in /health /skr/config /storage/list /company/list; do
			req "$u" GET "$path"
			if ! { [ "$code" = 500 ] && ! grep -qF "$secret" <<<"$body" &&
				is '.status == "error" and .variable == "SKR_MAA_ENDPOINT" and (.message | contains("https://")) and (.fix | length) > 0'; }; then
				ok=1
				break
			fi
		done
		check "$1: a bad SKR_MAA_ENDPOINT: every program answers 500 JSON naming it and the fix, no secret" "$ok" "$path: $code $body"
		n=$(grep -c 'ERROR configuration error: SKR_MAA_ENDPOINT' "$log" 2>/dev/null)
		if [ "$3" = 1 ]; then
			check "$1: each FastCGI process logs the bad configuration once and keeps serving" \
				"$([ "${n:-0}" -eq 8 ] && [ "$(grep -c ' -> 500 ' "$log")" -ge 4 ] && alive "$1-$2"; echo $?)" "$n lines; $(tail -n 12 "$log" 2>&1)"
		else
			check "$1: each CGI request logs the bad configuration once" "$([ "${n:-0}" -eq 4 ]; echo $?)" "$n lines; $(tail -n 12 "$log" 2>&1)"
		fi
	fi
}
# The FastCGI programs of a variant are the processes they started with (none exited).
alive() { # variant
	local f p
	if [ -f "$tmp/$1/server/log/supervisord.log" ]; then
		! grep -q 'exited: ' "$tmp/$1/server/log/supervisord.log"
		return
	fi
	for f in "$tmp/$1"/run/*.pid; do
		while read -r p || [ -n "$p" ]; do kill -0 "$p" || return 1; done <"$f"
	done
}

port=$B
run_variant() { # variant start-command...
	local v=$1
	shift
	echo "== $v"
	values "$v" $((port))
	dirs "$v"
	if "$@"; then
		check "$v: the server starts with the rendered contrib files" 0 ""
		suite "$v"
	else
		check "$v: the server starts with the rendered contrib files" 1 \
			"$(tail -n 20 "$tmp/$v"/server/log/*.log "$tmp/$v"/log/* 2>/dev/null)"
	fi
	stop_servers
	port=$((port + 1))
}
# The same variant again with one variable changed: missing (SKR_KEY_NAME empty) or bad.
run_misconfigured() { # variant missing|bad fastcgi(0|1) start-command
	local v=$1 what=$2 fastcgi=$3 name
	shift 3
	name=$v-$what
	values "$name" $((port))
	if [ "$what" = missing ]; then V[SKR_KEY_NAME]=""; else V[SKR_MAA_ENDPOINT]=http://attacker.example.com; fi
	dirs "$name"
	if "$@" "$name"; then misconfigured "$v" "$what" "$fastcgi"; else
		check "$v: the server starts with a $what variable" 1 "$(tail -n 20 "$tmp/$name"/server/log/*.log 2>/dev/null)"
	fi
	stop_servers
	port=$((port + 1))
}

apache_cgi() { start_apache "$1" contrib/apache/attestation-demo-cgi.conf "$puser"; }
apache_fcgi() { start_supervisord "$1" && start_apache "$1" contrib/apache/attestation-demo-fcgi.conf; }
nginx_fastcgi() { start_spawn "$1" start && start_nginx "$1" contrib/nginx/attestation-demo-fastcgi.conf; }
nginx_fcgiwrap() { start_spawn "$1" start-fcgiwrap && start_nginx "$1" contrib/nginx/attestation-demo-fcgiwrap.conf; }
lighttpd_cgi() { start_lighttpd "$1" contrib/lighttpd/attestation-demo-cgi.conf; }

for v in apache-cgi:0 apache-fcgi:1 nginx-fastcgi:1 nginx-fcgiwrap:0 lighttpd-cgi:0; do
	name=${v%:*}
	run_variant "$name" "${name//-/_}" "$name"
	for what in missing bad; do run_misconfigured "$name" "$what" "${v#*:}" "${name//-/_}"; done
done

# No key material and no secret in any server's or program's log, or in any response.
mapfile -t keys < <(ls "$tmp"/*/state/released-key 2>/dev/null)
mapfile -t logs < <(find "$tmp"/*/server/log "$tmp"/*/log -type f 2>/dev/null; find "$tmp/bodies" -type f)
check "every variant left its released key to scan for (${#keys[@]} of 5)" "$([ ${#keys[@]} -eq 5 ]; echo $?)" "${keys[*]}"
out=$(node "$repo/tests/dropin/scan-keys.mjs" "${keys[@]}" -- "${logs[@]}" 2>&1)
check "no private key material in the servers' logs, the programs' logs or any response (${#logs[@]} files)" $? "$out"
out=$(grep -lF "$secret" "${logs[@]}" 2>&1)
check "the storage secret is in no log and no response" "$([ -z "$out" ]; echo $?)" "$out"

# Nothing the suite started outlives it: stop the stack, then look for any process of $tmp.
kill -TERM "$stack" 2>/dev/null
wait "$stack" 2>/dev/null
stack=""
out=$(pgrep -af "$tmp/")
check "no server, program or stand-in of the suite is left running" "$([ -z "$out" ]; echo $?)" "$out"
for p in $(pgrep -f "$tmp/"); do kill -KILL "$p" 2>/dev/null; done

summary
