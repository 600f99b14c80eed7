#!/usr/bin/env bash
# Installs what `npm test` needs on a fresh runner: the package lists, then scripts/prepare-test (Debian
# packages, test tools, npm packages, the toolchain; quick when the caches were restored).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
$SUDO apt-get update -qq
start=$(date +%s)
bash scripts/prepare-test
echo "ci-prepare: scripts/prepare-test took $(($(date +%s) - start)) s"
