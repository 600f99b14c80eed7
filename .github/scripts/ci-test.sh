#!/usr/bin/env bash
# The pull request's test step: `npm test` (lint, type check, unit and integration tests), as root like .ci/run
# (see ci-prepare.sh for why, and how the job's environment is kept under sudo).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env env "PATH=$PATH" "$0" "$@"
fi
cd "$(dirname "$0")/../.."
npm test
