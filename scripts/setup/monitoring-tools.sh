#!/usr/bin/env bash
# Installs the real Prometheus tools the monitoring tests run against, at the versions the stacks deploy, from
# the same builds as the images the local cluster runs (scripts/images; one build serves both):
#   - promtool: built together with prometheus (`scripts/images bin prometheus`), with exactly the service
#     discovery the generated prometheus.yml uses (-tags remove_all_sd,enable_kubernetes_sd). Debian's
#     `prometheus` package cannot be used: its build leaves out Kubernetes service discovery, so its
#     `promtool check config` rejects every `kubernetes_sd_configs` block;
#   - amtool and the alertmanager binary: built together (`scripts/images bin alertmanager`) at the deployed
#     Alertmanager version (Debian 12's package is 0.25, eight releases older than what the stacks deploy); the
#     tests run the binary themselves on 127.0.0.1.
# Each is linked into ${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}/bin, where the tests look first.
# Idempotent, and quick when everything is already there (the builds are cached by content).
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE="${PAVEMASTER_CACHE:-$HOME/.cache/pavemaster}"
command -v go >/dev/null 2>&1 || { echo "monitoring-tools: Go is needed to build promtool and amtool" >&2; exit 1; }

link() { # link BUILD_DIR NAME...
  local dir="$1" name
  shift
  mkdir -p "$CACHE/bin"
  for name in "$@"; do
    [[ -x "$dir/$name" ]] || { echo "monitoring-tools: $dir/$name was not built" >&2; exit 1; }
    ln -sfn "$dir/$name" "$CACHE/bin/$name"
  done
}

prometheus=$(scripts/images bin prometheus)
link "$prometheus" promtool
alertmanager=$(scripts/images bin alertmanager)
link "$alertmanager" amtool alertmanager

"$CACHE/bin/promtool" --version 2>&1 | head -n 1
"$CACHE/bin/amtool" --version 2>&1 | head -n 1
