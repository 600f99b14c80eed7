#!/usr/bin/env bash
# Installs the real Prometheus tools the monitoring tests run against:
#   - promtool, built from the Go module proxy at the version of the Prometheus image the stack deploys.
#     Debian's `prometheus` package cannot be used: its build leaves out Kubernetes service discovery, so its
#     `promtool check config` rejects every `kubernetes_sd_configs` block.
#   - amtool and the alertmanager binary, from Debian's `prometheus-alertmanager` package (its daemon is never
#     started: the tests run the binary themselves on 127.0.0.1).
# Idempotent, and quick when everything is already there.
set -euo pipefail

CACHE="${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}"
# Prometheus v3.13.1 is published as the Go module version v0.313.1.
PROMETHEUS_VERSION=3.13.1
PROMETHEUS_MODULE=github.com/prometheus/prometheus
PROMETHEUS_MODULE_VERSION=v0.313.1
PROMTOOL="$CACHE/bin/promtool"

have() { command -v "$1" >/dev/null 2>&1; }

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

# --- amtool and alertmanager (Debian) ---
if ! have amtool || ! { have alertmanager || have prometheus-alertmanager; }; then
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101 keeps the package's post-install script from starting the daemon.
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
  $SUDO apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
fi

# --- promtool (Go module proxy) ---
if [ -x "$PROMTOOL" ] && "$PROMTOOL" --version 2>&1 | grep -q "version $PROMETHEUS_VERSION"; then
  exit 0
fi
have go || { echo "monitoring-tools: Go is needed to build promtool" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# The Prometheus module carries `replace` directives, which `go install pkg@version` refuses: build it from a
# small module that requires it and repeats its replace directives.
gomod="$(go mod download -json "$PROMETHEUS_MODULE@$PROMETHEUS_MODULE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
goversion="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
{
  echo "module pavemaster.local/promtool"
  echo
  echo "go $goversion"
  echo
  echo "require $PROMETHEUS_MODULE $PROMETHEUS_MODULE_VERSION"
  echo
  grep '^replace ' "$gomod" || true
} >go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/promtool"\n' "$PROMETHEUS_MODULE" >tools.go
go mod tidy >/dev/null 2>&1
mkdir -p "$CACHE/bin"
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
  -o "$PROMTOOL.tmp" "$PROMETHEUS_MODULE/cmd/promtool"
mv "$PROMTOOL.tmp" "$PROMTOOL"

"$PROMTOOL" --version 2>&1 | head -n 1
amtool --version 2>&1 | head -n 1
