#!/usr/bin/env bash
# Writes the kubeconfig given in $KUBECONFIG_DATA (a repository or environment secret) to a private file under
# $RUNNER_TEMP and points later steps at it through $GITHUB_ENV. Never prints the contents.
set -euo pipefail

if [ -z "${KUBECONFIG_DATA:-}" ]; then
  echo "write-kubeconfig: the kubeconfig secret is empty or not set for this environment" >&2
  exit 1
fi
dir="${RUNNER_TEMP:?RUNNER_TEMP is not set}/kube"
umask 077
mkdir -p "$dir"
printf '%s\n' "$KUBECONFIG_DATA" >"$dir/config"
echo "KUBECONFIG=$dir/config" >>"${GITHUB_ENV:?GITHUB_ENV is not set}"
echo "write-kubeconfig: wrote $dir/config"
