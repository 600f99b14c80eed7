#!/usr/bin/env bash
# Installs what `npm test` needs on a fresh runner: the package lists, then scripts/prepare-test (Debian
# packages, test tools, npm packages, the toolchain; quick when the caches were restored).
#
# The suite runs as root, as .ci/run does (the real node's containerd, network namespaces and netfilter rules
# need it). GitHub's hosted runners run jobs as an unprivileged user with password-less sudo: there this script
# runs itself again through sudo, keeping the job's environment (HOME, so the caches restored by actions/cache
# are the ones used) and PATH (sudo's secure_path would drop setup-node's and setup-go's).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env env "PATH=$PATH" "$0" "$@"
fi
cd "$(dirname "$0")/../.."
apt-get update -qq
start=$(date +%s)
bash scripts/prepare-test
echo "ci-prepare: scripts/prepare-test took $(($(date +%s) - start)) s"
