#!/usr/bin/env bash
# Installs the real Prometheus tools the monitoring tests run against: promtool (Debian's `prometheus` package)
# and amtool plus the alertmanager binary (Debian's `prometheus-alertmanager`). Idempotent and quick when they
# are already there. The packages' services are never started: the tests run the binaries themselves.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have promtool && have amtool && { have alertmanager || have prometheus-alertmanager; }; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 keeps the packages' post-install scripts from starting the daemons.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null

promtool --version 2>&1 | head -n 1
amtool --version 2>&1 | head -n 1
