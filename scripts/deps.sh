#!/usr/bin/env bash
# Install what `make run` and `make test` need on Debian 12, and nothing else.
# Idempotent and quiet when everything is present.  `deps.sh test` also checks the test tools.
set -eu

APT_PACKAGES="build-essential clang clang-tidy pkg-config lighttpd supervisor libfcgi-dev libssl-dev
libcurl4-openssl-dev libjson-c-dev libexpat1-dev curl openssl nodejs npm chromium shellcheck jq
wrk cppcheck python3-azure apache2 nginx fcgiwrap spawn-fcgi"
# Web servers the drop-in suite (tests/dropin) runs the programs under.  It starts its own, on
# 127.0.0.1 with its own configuration, and stops them: the packages' own services must not start.
SERVER_PACKAGES="apache2 nginx fcgiwrap"

missing=""
for p in $APT_PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# Another nodejs (for example from NodeSource) satisfies the need for node and npm.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo "$missing" | xargs)
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages: $missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	new_servers=""
	for p in $SERVER_PACKAGES; do
		case " $missing " in *" $p "*) new_servers="$new_servers $p" ;; esac
	done
	# Without a policy-rc.d (Docker images have one), installing apache2 or nginx starts it on
	# port 80 of every address: forbid that for this install only.
	guard=""
	if [ -n "$new_servers" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs\nexit 101\n' |
			$SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		guard=1
		trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
	if [ -n "$guard" ]; then
		$SUDO rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	fi
	# Nor at the next boot.
	if [ -n "$new_servers" ] && [ -d /run/systemd/system ]; then
		for p in $new_servers; do
			case $p in
			fcgiwrap) $SUDO systemctl disable --now fcgiwrap.socket fcgiwrap.service >/dev/null 2>&1 || true ;;
			*) $SUDO systemctl disable --now "$p" >/dev/null 2>&1 || true ;;
			esac
		done
	fi
fi

# The browser tests' playwright-core needs Node 20 or newer (Debian 12's own nodejs is 18);
# `make run` does not run them.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "${1:-}" = test ] && [ "$node_major" -lt 20 ]; then
	echo "deps: Node.js $(node --version 2>/dev/null || echo '(none)') found; the tests need Node.js 20 or newer" >&2
	echo "deps: install Node.js 20 or newer and rerun" >&2
	exit 1
fi

# npm packages for the tests (playwright-core drives Debian's chromium; it never downloads a browser).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/package.json" ]; then
	if [ ! -d "$here/tests/node_modules" ] || [ "$here/tests/package-lock.json" -nt "$here/tests/node_modules/.package-lock.json" ]; then
		echo "deps: installing npm packages for tests"
		(cd "$here/tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	fi
fi
