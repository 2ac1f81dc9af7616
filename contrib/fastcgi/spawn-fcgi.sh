#!/bin/sh
# Start or stop the programs for nginx or Apache mod_proxy_fcgi, with spawn-fcgi, as root:
#   spawn-fcgi.sh start            the four programs as FastCGI servers, two processes each
#   spawn-fcgi.sh start-fcgiwrap   one fcgiwrap that runs only the four programs, as CGI
#   spawn-fcgi.sh stop             stop what start or start-fcgiwrap started
# They run as @USER@, with exactly the environment of @ENV_FILE@; their sockets in
# @SOCKET_DIR@ are for @USER@ and the web server's group @SERVER_GROUP@ only.  They do not
# stop with the web server: stop them with `spawn-fcgi.sh stop`.  README: Drop into your own server.
# Placeholders are upper-case words between at signs, like @PREFIX@: replace each one
# (grep -n '@[A-Z_]*@' lists what is left).  README lists them.
set -eu
prefix="@PREFIX@"
sockets="@SOCKET_DIR@"
env_file="@ENV_FILE@"
user="@USER@"
group="@SERVER_GROUP@"

spawn() { # name program [arguments]: one socket, its processes, a pid file
	name=$1
	shift
	rm -f "$sockets/$name.sock"
	# shellcheck disable=SC2016 # "$0" and "$@" are the inner shell's
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c 'set -a; . "$0"; exec "$@"' "$env_file" \
		spawn-fcgi -s "$sockets/$name.sock" -M 0660 -U "$user" -G "$group" -u "$user" \
		-d / -P "$sockets/$name.pid" "$@" >/dev/null
}

case ${1:-} in
start)
	install -d -m 0750 -g "$group" "$sockets"
	for p in attest skr storage company; do
		spawn "$p" -F 2 -- "$prefix/fcgi-bin/$p"
	done
	;;
start-fcgiwrap)
	install -d -m 0750 -g "$group" "$sockets"
	spawn fcgiwrap -- /usr/sbin/fcgiwrap -c 2 -p "$prefix/fcgi-bin/attest" \
		-p "$prefix/fcgi-bin/skr" -p "$prefix/fcgi-bin/storage" -p "$prefix/fcgi-bin/company"
	;;
stop)
	for f in "$sockets"/*.pid; do
		[ -f "$f" ] || continue
		# Each pid leads its own process group (spawn-fcgi made it a session): stop the group,
		# so fcgiwrap's workers and a CGI program in flight stop too.
		while read -r pid || [ -n "$pid" ]; do
			kill -s TERM -- "-$pid" 2>/dev/null || kill -s TERM "$pid" 2>/dev/null || true
		done <"$f"
		rm -f "$f" "${f%.pid}.sock"
	done
	;;
*)
	echo "usage: $0 start | start-fcgiwrap | stop" >&2
	exit 2
	;;
esac
