#!/usr/bin/env bash
# Installs nginx from Debian's packages for the reverse-proxy tests and for a
# host that runs the layout of docs/operations.md ("Slow clients and the
# reverse proxy"). Does nothing when nginx is already installed. Never leaves
# the package's own nginx serving port 80: the tests start nginx themselves,
# with the repository's configuration, on a port of their own.
set -euo pipefail

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }

if have_nginx; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "nginx is not installed; run this script as root (it uses apt-get)." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# The package's post-install script starts nginx through invoke-rc.d, which
# asks /usr/sbin/policy-rc.d first; exit code 101 means "do not start". Put
# one in place for the install when the machine has none of its own.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  added_policy=yes
fi
cleanup() { if [ -n "$added_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# Wait for another apt run to finish rather than fail on its lock.
apt_get() { apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef \
  -o Dpkg::Options::=--force-confold "$@"; }

apt_get update -qq
# nginx-light is enough (proxy, map, upstream); older and newer releases may
# only have the plain package.
if ! apt_get install -y -qq --no-install-recommends nginx-light; then
  apt_get install -y -qq --no-install-recommends nginx
fi

# If a service manager started it anyway, stop it and keep it from starting at
# boot: a system nginx on port 80 is not part of what the tests expect.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable nginx >/dev/null 2>&1 || true  # works without a running systemd
  if [ -d /run/systemd/system ]; then systemctl stop nginx >/dev/null 2>&1 || true; fi
fi
if command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d nginx disable >/dev/null 2>&1 || true
fi
if [ -s /run/nginx.pid ]; then
  # The package's own master process (its pid file), and no other nginx.
  pid="$(cat /run/nginx.pid)"
  if kill -0 "$pid" 2>/dev/null; then
    kill -QUIT "$pid" || true
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
  fi
fi

if ! have_nginx; then
  echo "nginx is still not installed after apt-get." >&2
  exit 1
fi
nginx -v 2>&1 || /usr/sbin/nginx -v
