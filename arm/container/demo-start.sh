#!/bin/sh
# Container entry point (installed as /usr/local/bin/demo-start by the Dockerfile).
#
#   demo-start        as root: prepare the private state and log directories, give the
#                     unprivileged user access to the SEV-SNP device when the native backend
#                     may use it, then exec supervisord (which runs lighttpd as that user)
#   demo-start skr    run by supervisord: start Microsoft's SKR sidecar when the attestation
#                     backend wants it, else stay idle and say why in skr.log
#
# Environment (set by the Dockerfile, overridable by the ARM template):
#   ATTESTATION_BACKEND  auto | sidecar | native
#   STATE_DIR LOG_DIR APP_ROOT DEMO_USER AZURE_CLIENT_ID
#   DEMO_SKR_BIN         sidecar binary (default /usr/local/bin/skr)
#   DEMO_SKR_PORT        sidecar port (default 8080; it listens on localhost only)
set -eu

backend=${ATTESTATION_BACKEND:-auto}
user=${DEMO_USER:-demo}
skr_bin=${DEMO_SKR_BIN:-/usr/local/bin/skr}
skr_port=${DEMO_SKR_PORT:-8080}

sev_device() {
	for d in /dev/sev-guest /dev/sev; do
		if [ -c "$d" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

idle() {
	echo "skr: $1"
	# Stay up so supervisord does not restart a sidecar that is not wanted.
	exec sleep infinity
}

case $backend in
auto | sidecar | native) ;;
*)
	echo "demo-start: ATTESTATION_BACKEND must be auto, sidecar or native, got '$backend'" >&2
	exit 2
	;;
esac

if [ "${1:-}" = skr ]; then
	if [ "$backend" = native ]; then
		idle "not started: ATTESTATION_BACKEND=native (the programs read the SEV-SNP device directly)"
	fi
	dev=$(sev_device) || dev=""
	if [ -z "$dev" ] && [ "$backend" = auto ]; then
		# On Standard SKU the sidecar would fetch THIM certificates, fail and crash-loop.
		idle "not started: no /dev/sev-guest or /dev/sev (not a confidential container group); attestation will report no TEE"
	fi
	if [ ! -x "$skr_bin" ]; then
		idle "not started: $skr_bin is missing from the image"
	fi
	# Default log level (warning): skr.log is shown on the public page.
	set -- -port "$skr_port"
	if [ -n "${AZURE_CLIENT_ID:-}" ]; then
		# The sidecar asks IMDS for tokens with this user-assigned identity.
		info=$(printf '{"identity":{"client_id":"%s"}}' "$AZURE_CLIENT_ID" | base64 | tr -d '\n')
		set -- "$@" -base64 "$info"
	fi
	echo "skr: starting $skr_bin on localhost:$skr_port (backend $backend, device ${dev:-none})"
	exec "$skr_bin" "$@"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "demo-start: run as root (supervisord drops to '$user' for lighttpd)" >&2
	exit 2
fi
state=${STATE_DIR:-/run/demo}
logs=${LOG_DIR:-/var/log/supervisor}
# The state directory holds FastCGI sockets and the released key: only the runtime user may enter.
install -d -o "$user" -g "$user" -m 0700 "$state"
# Logs: root (supervisord, sidecar) and the runtime user (lighttpd, programs) both write here;
# sticky so neither can remove the other's files.
install -d -o root -g "$user" -m 1775 "$logs"
if [ "$backend" != sidecar ] && dev=$(sev_device); then
	# The native backend runs as the runtime user and needs the report ioctl. This changes
	# only the container's own device node.
	chgrp "$user" "$dev" && chmod g+rw "$dev" || echo "demo-start: cannot open $dev to $user" >&2
fi
exec /usr/bin/supervisord -n -c "${APP_ROOT:-/app}/supervisord.conf"
